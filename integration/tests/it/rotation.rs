//! PPoS rotation across real processes: `platon localnet init --nodes 7 --candidates 7
//! --validators 4` writes a network whose seven nodes are all staked candidates with four seats
//! per round. Each round's validators are elected on chain; CBFT switches to them at the round's
//! end. The test watches the seats change hands within about a minute, checks that every node
//! recorded the same election, that blocks of later rounds carry VRF proofs by their round's
//! proposer and QCs signed by their round's validators, and that a validator killed and restarted
//! rebuilds its round from the chain and follows again.

use crate::common::{q, wait_for};
use crate::localnet::{call, scopeguard_keep, Procs};
use platon_crypto::bls::{BlsPublicKey, BlsSignature};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

fn hex_bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex").trim_start_matches("0x")).expect("hex")
}

#[test]
fn seven_candidates_rotate_through_four_seats_across_processes() {
    let tmp = scopeguard_keep(tempfile::tempdir().expect("tmp"));
    let out = tmp.path().join("net");
    let subnet = 10 + (std::process::id() % 80) as u8;
    let net = crate::common::localnet_init(
        &out,
        subnet,
        &[
            "--nodes",
            "7",
            "--candidates",
            "7",
            "--validators",
            "4",
            "--amount",
            "5",
            "--period-ms",
            "2500",
        ],
    );
    // Rounds of amount × validators blocks: each seat gets its view.
    assert_eq!(net["roundBlocks"], json!(20));
    let round_blocks = 20u64;
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    let spawn = |i: usize, suffix: &str| {
        let n = &nodes[i];
        let name = n["name"].as_str().expect("name");
        let log =
            std::fs::File::create(tmp.path().join(format!("{name}{suffix}.log"))).expect("log");
        Command::new(env!("CARGO_BIN_EXE_platon"))
            .args(["run", "--config", n["config"].as_str().expect("config")])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn")
    };
    let mut procs = Procs((0..7).map(|i| spawn(i, "")).collect());
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let status = |i: usize| call(&rpc(i), "platon_consensusStatus", json!([]), None);
    let round_set = |i: usize, r: u64| -> Option<Vec<Value>> {
        call(&rpc(i), "platon_getRoundValidators", json!([r]), None)?
            .as_array()
            .cloned()
    };

    // Rounds go by, and the seats change hands.
    let target = 5u64;
    wait_for("five rounds", Duration::from_secs(240), || {
        (0..7)
            .all(|i| status(i).is_some_and(|s| s["round"].as_u64().unwrap_or(0) >= target))
            .then_some(())
    });
    let mut sets = Vec::new();
    for r in 1..=target {
        let set: Vec<String> = round_set(0, r)
            .expect("round set")
            .iter()
            .map(|s| s["nodeId"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(set.len(), 4, "round {r}: {set:?}");
        // Every node recorded the same election.
        for i in 1..7 {
            let other: Vec<String> = round_set(i, r)
                .expect("round set")
                .iter()
                .map(|s| s["nodeId"].as_str().expect("id").to_string())
                .collect();
            assert_eq!(other, set, "node {} disagrees on round {r}", i + 1);
        }
        sets.push(set);
    }
    let seated: BTreeSet<&String> = sets.iter().flatten().collect();
    let distinct: BTreeSet<BTreeSet<&String>> = sets.iter().map(|s| s.iter().collect()).collect();
    eprintln!("rounds 1..={target}: {sets:?}");
    assert!(
        distinct.len() >= 2 && seated.len() >= 5,
        "the seats rotate: {sets:?}"
    );
    // At most (4 − 1) / 3 = 1 seat changes hands per round (unless someone must leave).
    for w in sets.windows(2) {
        let entered = w[1].iter().filter(|v| !w[0].contains(v)).count();
        assert!(entered <= 1, "{:?} -> {:?}", w[0], w[1]);
    }

    // Blocks of round 3 on: the proposer its extraData names proves the seed with its round's VRF
    // key, and the QC verifies against its round's BLS keys.
    let block = |i: usize, n: u64| {
        call(
            &rpc(i),
            "eth_getBlockByNumber",
            json!([format!("{n:#x}"), false]),
            None,
        )
        .filter(|b| !b.is_null())
    };
    for n in [2 * round_blocks + 1, 3 * round_blocks, 4 * round_blocks - 3] {
        let round = (n - 1) / round_blocks + 1;
        let set = round_set(6, round).expect("set");
        let b = block(6, n).expect("block");
        let parent = block(6, n - 1).expect("parent");
        let extra = hex_bytes(&b["extraData"]);
        assert_eq!(extra.len(), 100, "block {n}: index and VRF proof");
        let proposer = u32::from_be_bytes([extra[0], extra[1], extra[2], extra[3]]) as usize;
        let vrf =
            platon_crypto::vrf::VrfPublicKey::from_bytes(&hex_bytes(&set[proposer]["vrfPubKey"]))
                .expect("vrf key");
        let seed = vrf
            .verify(&hex_bytes(&parent["mixHash"]), &extra[4..])
            .expect("the VRF proof verifies with the round's key");
        assert_eq!(
            format!("{seed:#x}"),
            b["mixHash"].as_str().expect("mix"),
            "block {n}"
        );
        let qc = call(
            &rpc(6),
            "platon_getBlockQuorumCertByHash",
            json!([b["hash"].clone()]),
            None,
        )
        .filter(|q| !q.is_null());
        if let Some(qc) = qc {
            assert_eq!(
                qc["epoch"].as_u64(),
                Some(round),
                "block {n}'s QC names its round"
            );
            let signers: Vec<usize> = qc["signers"]
                .as_str()
                .expect("bits")
                .chars()
                .enumerate()
                .filter(|(_, c)| *c == '1')
                .map(|(i, _)| i)
                .collect();
            assert!(signers.len() >= 3, "{qc}");
            let pks: Vec<BlsPublicKey> = signers
                .iter()
                .map(|i| BlsPublicKey::from_bytes(&hex_bytes(&set[*i]["blsPubKey"])).expect("pk"))
                .collect();
            let data = platon_messages::cbft::VoteData {
                epoch: round,
                view: qc["viewNumber"].as_u64().expect("view"),
                index: qc["blockIndex"].as_u64().expect("index") as u32,
                number: n,
                hash: serde_json::from_value(b["hash"].clone()).expect("hash"),
            };
            let sig = BlsSignature::from_bytes(&hex_bytes(&qc["signature"])).expect("sig");
            assert!(
                sig.fast_aggregate_verify(data.signing_hash().as_slice(), &pks),
                "block {n}: the QC verifies against round {round}'s validators"
            );
        }
    }

    // A sitting validator is killed: the other three carry the chain through a round switch; the
    // restarted node rebuilds its round from the chain and follows again.
    let victim = (0..7)
        .find(|i| status(*i).is_some_and(|s| !s["validator"].is_null()))
        .expect("a validator");
    let height = |i: usize| call(&rpc(i), "eth_blockNumber", json!([]), None).map(|v| q(&v) as u64);
    let before = height(victim).expect("height");
    let _ = procs.0[victim].kill();
    let _ = procs.0[victim].wait();
    let other = (victim + 1) % 7;
    wait_for(
        "the chain through a round switch",
        Duration::from_secs(180),
        || (height(other)? >= before + round_blocks + 5).then_some(()),
    );
    procs.0[victim] = spawn(victim, "-restarted");
    let mark = height(other).expect("height");
    wait_for(
        "the restarted node to catch up",
        Duration::from_secs(180),
        || (height(victim)? >= mark).then_some(()),
    );
    assert_eq!(
        block(victim, mark).map(|b| b["hash"].clone()),
        block(other, mark).map(|b| b["hash"].clone()),
        "the restarted node holds the same chain"
    );
    let round_of = |i: usize| status(i).and_then(|s| s["round"].as_u64());
    wait_for(
        "the restarted node in the current round",
        Duration::from_secs(120),
        || {
            let r = round_of(other)?;
            (round_of(victim)? == r && r > (before - 1) / round_blocks + 1).then_some(())
        },
    );
    drop(procs);
}
