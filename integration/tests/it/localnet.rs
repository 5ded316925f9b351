//! `platon localnet init` and five `platon run` processes (four validators, one observer): they find
//! each other from one bootstrap address, transactions sent to any node become final on all with
//! identical block hashes, a block's QC verifies against the validator keys, and ReDiR finds the
//! providers of each service exactly as a brute-force search does. Validators 1 and 4 are killed with
//! SIGKILL in turn: the chain must go on, and after its restart each must catch up, sign QCs again, and
//! never sign twice.

use crate::common::{manifest_dir, rpc_url, wait_for};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Child processes killed when dropped.
pub(crate) struct Procs(pub(crate) Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Keeps the folder (logs, configs) when PLATON_KEEP_LOCALNET is set, for post-mortems.
pub(crate) fn scopeguard_keep(tmp: tempfile::TempDir) -> Kept {
    if std::env::var("PLATON_KEEP_LOCALNET").is_ok() {
        Kept::Path(tmp.keep())
    } else {
        Kept::Temp(tmp)
    }
}

/// A test folder, kept on request.
pub(crate) enum Kept {
    Temp(tempfile::TempDir),
    Path(std::path::PathBuf),
}

impl Kept {
    pub(crate) fn path(&self) -> &std::path::Path {
        match self {
            Kept::Temp(t) => t.path(),
            Kept::Path(p) => p,
        }
    }
}

/// `platon run --config CONFIG`, its stderr appended to `log` (a restart keeps the earlier lines).
pub(crate) fn spawn_config(config: &str, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["run", "--config", config])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn")
}

/// The node's `eth_blockNumber`, if it answers.
pub(crate) fn number(url: &str) -> Option<u64> {
    let n = call(url, "eth_blockNumber", json!([]), None)?;
    u64::from_str_radix(n.as_str()?.trim_start_matches("0x"), 16).ok()
}

pub(crate) fn call(url: &str, method: &str, params: Value, token: Option<&str>) -> Option<Value> {
    let r = rpc_url(url, method, params, token).ok()?;
    r.get("result").cloned()
}

/// The smallest id at or after `key`, wrapping around (what ReDiR must return).
/// Like `wait_for`, but answers None at the timeout instead of failing (the caller has cleanup to
/// do first).
fn wait_ok<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub(crate) fn successor(ids: &[u128], key: u128) -> u128 {
    ids.iter()
        .copied()
        .filter(|i| *i >= key)
        .min()
        .or_else(|| ids.iter().copied().min())
        .expect("ids")
}

#[test]
fn localnet_processes_reach_consensus_and_discover_services() {
    let tmp = tempfile::tempdir().expect("tmp");
    if std::env::var("PLATON_KEEP_LOCALNET").is_ok() {
        eprintln!("localnet files kept in {}", tmp.path().display());
    }
    let tmp = scopeguard_keep(tmp);
    let out = tmp.path().join("net");
    // Each run gets its own 127.0.<subnet>.x addresses, so concurrent runs do not collide.
    let subnet = 100 + (std::process::id() % 150) as u8;
    let net = crate::common::localnet_init(&out, subnet, &["--nodes", "5", "--validators", "4"]);
    let token = net["adminToken"].as_str().expect("token").to_string();
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), 5);
    assert!(out.join("genesis.toml").exists());

    let spawn = |n: &Value, suffix: &str| {
        let name = n["name"].as_str().expect("name");
        let log =
            std::fs::File::create(tmp.path().join(format!("{name}{suffix}.log"))).expect("log");
        Command::new(env!("CARGO_BIN_EXE_platon"))
            .args([
                "run",
                "--admin.faults",
                "--config",
                n["config"].as_str().expect("config"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn")
    };
    let mut procs = Procs(nodes.iter().map(|n| spawn(n, "")).collect());
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let admin = |i: usize| nodes[i]["admin"].as_str().expect("admin").to_string();

    // Every node finds the other four from the one bootstrap address.
    let mut ids = Vec::new();
    for i in 0..5 {
        let info = wait_for("routing tables", Duration::from_secs(90), || {
            let info = call(&admin(i), "admin_nodeInfo", json!([]), Some(&token))?;
            (info["routingTableSize"] == 4).then_some(info)
        });
        ids.push(u128::from_str_radix(info["id"].as_str().expect("id"), 16).expect("hex"));
        let peers = call(&admin(i), "admin_peers", json!([]), Some(&token)).expect("peers");
        assert!(!peers.as_array().expect("peers").is_empty());
    }
    // The genesis staked the four validators as candidates (their Node-IDs known at init); the
    // staking contract lists them, and they are the first round's validators in index order.
    let listed = |method: &str| -> Vec<u128> {
        call(&rpc(4), method, json!([]), None)
            .expect(method)
            .as_array()
            .expect("list")
            .iter()
            .map(|c| {
                u128::from_str_radix(
                    c["nodeId"].as_str().expect("id").trim_start_matches("0x"),
                    16,
                )
                .expect("hex")
            })
            .collect()
    };
    assert_eq!(listed("platon_getValidatorList"), ids[..4].to_vec());
    assert_eq!(listed("platon_getCandidateList"), ids[..4].to_vec());
    let staked = call(
        &rpc(0),
        "eth_getBalance",
        json!([format!("{:#x}", platon_vm::system::STAKING), "latest"]),
        None,
    )
    .expect("balance");
    assert_eq!(
        crate::common::q(&staked),
        400_000 * 1_000_000_000_000_000_000u128
    );

    // Without the token the admin listener refuses.
    let refused = rpc_url(&admin(0), "admin_nodeInfo", json!([]), None).expect("answer");
    assert!(refused.get("error").is_some());

    // Blocks are produced by consensus and are the same on every node.
    let height = |i: usize| {
        call(&rpc(i), "eth_blockNumber", json!([]), None).map(|v| crate::common::q(&v) as u64)
    };
    wait_for("the chain to grow", Duration::from_secs(60), || {
        (0..5).all(|i| height(i).unwrap_or(0) >= 3).then_some(())
    });
    let hash_at = |i: usize, n: u64| {
        call(
            &rpc(i),
            "eth_getBlockByNumber",
            json!([format!("{n:#x}"), false]),
            None,
        )
        .map(|b| b["hash"].clone())
    };
    for i in 1..5 {
        assert_eq!(
            hash_at(i, 2),
            hash_at(0, 2),
            "node {} agrees at height 2",
            i + 1
        );
    }

    // Transfers sent to a validator and to the observer become final on all nodes, in the same block.
    let keys = crate::dev_keys();
    assert_eq!(net["chainId"], json!(crate::CHAIN_ID));
    let mut sent = Vec::new();
    for (nonce, via) in [(0u64, 2usize), (1, 4), (2, 0)] {
        let tx = crate::transfer(&keys[1], nonce, keys[2].address(), 1_000 + nonce);
        let hash = call(
            &rpc(via),
            "eth_sendRawTransaction",
            json!([crate::hex0x(&tx.encoded)]),
            None,
        )
        .expect("sent");
        assert_eq!(hash, json!(format!("{:#x}", tx.hash)));
        sent.push(hash);
    }
    let mut final_block = json!(null);
    for hash in &sent {
        let blocks: Vec<Value> = (0..5)
            .map(|i| {
                wait_for("a receipt on every node", Duration::from_secs(60), || {
                    let r = call(
                        &rpc(i),
                        "eth_getTransactionReceipt",
                        json!([hash.clone()]),
                        None,
                    )?;
                    (!r.is_null()).then(|| r["blockHash"].clone())
                })
            })
            .collect();
        assert!(
            blocks.iter().all(|b| *b == blocks[0]),
            "one block on all nodes: {blocks:?}"
        );
        final_block = blocks[0].clone();
    }
    for i in [0usize, 1, 3] {
        let s = call(&admin(i), "admin_overlayStats", json!([]), Some(&token)).expect("stats");
        assert!(
            s["floodsDelivered"].as_u64().expect("n") >= 1,
            "node {i} received floods: {s}"
        );
    }
    // The console's view of a validator: the round's four validators with their QC participation
    // (each QC carries at least 3 of 4 signatures), its links and the bytes they carried.
    let console = call(&admin(0), "admin_console", json!([]), Some(&token)).expect("console");
    let part = console["cbft"]["participation"]
        .as_array()
        .expect("participation")
        .clone();
    assert_eq!(part.len(), 4, "{console}");
    let of = part[0]["of"].as_u64().expect("window");
    assert!(of >= 1, "{console}");
    let signed: u64 = part.iter().filter_map(|p| p["signed"].as_u64()).sum();
    assert!(signed >= 3 * of, "QC participation {part:?}");
    assert!(
        console["overlay"]["info"]["links"].as_u64() >= Some(1),
        "{console}"
    );
    assert!(
        console["overlay"]["stats"]["links"]["bytesSent"].as_u64() > Some(0),
        "{console}"
    );
    // The same on /metrics: peers, bytes, the view and the finality lag of a CBFT node.
    let bearer = format!("Bearer {token}");
    let (status, _, metrics) =
        crate::console::http_get_at(&admin(0), "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(status, 200, "{metrics}");
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"))
    };
    assert!(sample("platon_overlay_peers") >= 1.0);
    assert!(sample("platon_overlay_sent_bytes_total") > 0.0);
    assert!(sample("platon_overlay_received_bytes_total") > 0.0);
    assert!(sample("platon_cbft_view") >= 0.0);
    assert!(sample("platon_chain_finality_lag_blocks") >= 0.0);
    assert!(sample("platon_chain_finalized_height") >= 1.0);

    // The block's QC: at least 3 of 4 validators signed the slot; the aggregate verifies against
    // their public keys.
    let qc = call(
        &rpc(4),
        "platon_getBlockQuorumCertByHash",
        json!([final_block.clone()]),
        None,
    )
    .expect("qc");
    assert_eq!(qc["blockHash"], final_block);
    let signers: Vec<usize> = qc["signers"]
        .as_str()
        .expect("bits")
        .chars()
        .enumerate()
        .filter(|(_, c)| *c == '1')
        .map(|(i, _)| i)
        .collect();
    assert!(signers.len() >= 3, "{qc}");
    let pks: Vec<platon_crypto::bls::BlsPublicKey> = net["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .map(|v| {
            platon_crypto::bls::BlsPublicKey::from_bytes(
                &hex::decode(v.as_str().expect("hex")).expect("hex"),
            )
            .expect("pk")
        })
        .collect();
    let data = platon_messages::cbft::VoteData {
        epoch: qc["epoch"].as_u64().expect("epoch"),
        view: qc["viewNumber"].as_u64().expect("view"),
        index: qc["blockIndex"].as_u64().expect("index") as u32,
        number: qc["blockNumber"].as_u64().expect("number"),
        hash: serde_json::from_value(final_block.clone()).expect("hash"),
    };
    let sig = platon_crypto::bls::BlsSignature::from_bytes(
        &hex::decode(
            qc["signature"]
                .as_str()
                .expect("sig")
                .trim_start_matches("0x"),
        )
        .expect("hex"),
    )
    .expect("sig");
    let signer_pks: Vec<_> = signers.iter().map(|i| pks[*i].clone()).collect();
    assert!(
        sig.fast_aggregate_verify(data.signing_hash().as_slice(), &signer_pks),
        "the QC verifies"
    );
    assert!(
        !sig.fast_aggregate_verify(data.signing_hash().as_slice(), &pks[..1]),
        "and not for a single key"
    );

    // Every block carries its proposer's VRF proof over the parent's seed: the block of the QC above
    // names its proposer (the view's, view mod 4) in extraData, the proof after it verifies over the
    // parent's mixHash with that validator's key from localnet.json, and the output is the block's
    // mixHash.
    let vrf_keys: Vec<platon_crypto::vrf::VrfPublicKey> = net["vrfKeys"]
        .as_array()
        .expect("vrfKeys")
        .iter()
        .map(|k| {
            platon_crypto::vrf::VrfPublicKey::from_bytes(
                &hex::decode(k.as_str().expect("hex")).expect("hex"),
            )
            .expect("vrf key")
        })
        .collect();
    let block = call(
        &rpc(4),
        "eth_getBlockByHash",
        json!([final_block.clone(), false]),
        None,
    )
    .expect("block");
    let parent = call(
        &rpc(4),
        "eth_getBlockByHash",
        json!([block["parentHash"].clone(), false]),
        None,
    )
    .expect("parent");
    let bytes =
        |v: &Value| hex::decode(v.as_str().expect("hex").trim_start_matches("0x")).expect("hex");
    let extra = bytes(&block["extraData"]);
    assert_eq!(extra.len(), 100, "proposer index and proof");
    let proposer = u32::from_be_bytes([extra[0], extra[1], extra[2], extra[3]]) as usize;
    assert_eq!(
        proposer as u64,
        qc["viewNumber"].as_u64().expect("view") % 4,
        "the view's proposer"
    );
    let out = vrf_keys[proposer]
        .verify(&bytes(&parent["mixHash"]), &extra[4..])
        .expect("the block's VRF proof verifies");
    assert_eq!(format!("{out:#x}"), block["mixHash"].as_str().expect("mix"));
    assert!(
        vrf_keys[(proposer + 1) % 4]
            .verify(&bytes(&parent["mixHash"]), &extra[4..])
            .is_err(),
        "and not with another validator's key"
    );

    // SIGKILL validator 1 (the bootstrap node: restarted, it must find the others through the peers
    // it saved), then validator 4: each time the chain goes on without it; restarted, it catches up,
    // signs QCs again, and nobody signed twice.
    for victim in [0usize, 3] {
        let witness = if victim == 0 { 1 } else { 0 };
        let _ = procs.0[victim].kill();
        let _ = procs.0[victim].wait();
        let before = height(witness).expect("height");
        wait_for(
            "the chain to go on without the killed validator",
            Duration::from_secs(120),
            || (height(witness).unwrap_or(0) >= before + 5).then_some(()),
        );
        // The dead validator's view (within four views) ends in a view change, which the witness's
        // console and metrics show.
        let console = wait_for(
            "a view change past the killed validator's view",
            Duration::from_secs(120),
            || {
                let c = call(&admin(witness), "admin_console", json!([]), Some(&token))?;
                (c["cbft"]["viewChanges"].as_u64() >= Some(1)).then_some(c)
            },
        );
        assert!(
            console["cbft"]["recentViewChanges"]
                .as_array()
                .is_some_and(|v| !v.is_empty()),
            "{}",
            console["cbft"]
        );
        let bearer = format!("Bearer {token}");
        let (_, _, metrics) =
            crate::console::http_get_at(&admin(witness), "/metrics", &[("Authorization", &bearer)]);
        let changes: f64 = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("platon_cbft_view_changes_total ")?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no view change counter:\n{metrics}"));
        assert!(changes >= 1.0, "{metrics}");
        procs.0[victim] = spawn(&nodes[victim], "-restarted");
        wait_for(
            "the restarted validator to catch up",
            Duration::from_secs(120),
            || {
                let h = height(witness)?;
                (height(victim)? + 2 >= h && height(victim)? > before + 5).then_some(())
            },
        );
        let n = height(victim).expect("h") - 1;
        assert_eq!(
            hash_at(victim, n),
            hash_at(witness, n),
            "the restarted validator has the same chain"
        );
        // It votes again: with validator 3 paused (SIGSTOP), only three validators are up, so the
        // chain grows only if the restarted one votes; and a QC made meanwhile names it.
        let paused = procs.0[2].id().to_string();
        let signal = |sig: &str| {
            let st = Command::new("kill")
                .args([sig, &paused])
                .status()
                .expect("kill");
            assert!(st.success());
        };
        signal("-STOP");
        let h = height(witness).expect("height");
        // Every QC of the paused window needs the restarted validator (3 of the 3 running). The
        // head lags the highest QC by two blocks and a vote may be in flight at the pause, so the
        // blocks up to h + 3 may carry QCs made before it: look past them.
        let named = wait_ok(Duration::from_secs(120), || {
            let n = height(witness)?;
            if n < h + 6 {
                return None;
            }
            let hash = hash_at(witness, n)?;
            let qc = call(
                &rpc(witness),
                "platon_getBlockQuorumCertByHash",
                json!([hash]),
                None,
            )?;
            qc["signers"]
                .as_str()
                .map(|b| b.chars().nth(victim) == Some('1'))
        });
        signal("-CONT");
        assert_eq!(
            named,
            Some(true),
            "with validator 3 paused the chain grew, and its QCs name the restarted validator"
        );
    }
    for i in 0..5 {
        if i == 4 {
            continue;
        }
        let ev = call(&rpc(i), "platon_evidences", json!([]), None);
        assert_eq!(
            ev,
            Some(json!([])),
            "node {} holds no evidence: no double sign",
            i + 1
        );
    }

    // ReDiR: validators are nodes 1 to 4, every node is a full node.
    let validators = vec![ids[0], ids[1], ids[2], ids[3]];
    let keys_probe: Vec<u128> = vec![
        0,
        1,
        ids[0],
        ids[1].wrapping_add(1),
        u128::MAX,
        0x8000_0000_0000_0000_0000_0000_0000_0000,
    ];
    for (service, providers) in [("validator", &validators), ("full-node", &ids)] {
        for &key in &keys_probe {
            let want = successor(providers, key);
            for i in 0..5 {
                wait_for("ReDiR answers", Duration::from_secs(150), || {
                    let r = call(
                        &rpc(i),
                        "platon_findService",
                        json!([service, format!("0x{key:032x}")]),
                        None,
                    )?;
                    let got =
                        u128::from_str_radix(r["nodeId"].as_str()?.trim_start_matches("0x"), 16)
                            .ok()?;
                    (got == want).then_some(())
                });
            }
        }
    }
    // A double sign: validator 3 signs a second vote for its last slot (fault injection). Every node
    // sees the conflict, keeps the evidence and reports it from its account to the slashing
    // contract; the first report is recorded (the later ones revert), so every node's state answers
    // that the double sign was reported, and the chain goes on.
    let slot = call(&admin(2), "admin_equivocate", json!([]), Some(&token)).expect("equivocate");
    let (epoch, view, index) = (
        slot["epoch"].as_u64().expect("epoch"),
        slot["view"].as_u64().expect("view"),
        slot["index"].as_u64().expect("index") as u32,
    );
    let mut reports = Vec::new();
    for i in [0usize, 1, 3, 4] {
        // (A node that learns of it after a report is final does not send its own.)
        let report = wait_for("the evidence", Duration::from_secs(60), || {
            let ev = call(&rpc(i), "platon_evidences", json!([]), None)?;
            ev.as_array()?
                .iter()
                .find(|e| {
                    e["type"] == "duplicateVote"
                        && e["validator"] == 2
                        && e["view"] == view
                        && e["index"] == index
                })
                .map(|e| e["reportTx"].as_str().map(str::to_string))
        });
        reports.extend(report);
    }
    let check = platon_vm::system::check_call(2, 2, epoch, view, index);
    let recorded_at = |i: usize| -> Option<u64> {
        let out = call(
            &rpc(i),
            "eth_call",
            json!([{"to": format!("{:#x}", platon_vm::system::SLASHING), "data": crate::hex0x(&check)}, "latest"]),
            None,
        )?;
        let bytes = hex::decode(out.as_str()?.trim_start_matches("0x")).ok()?;
        platon_messages::rlp::Reader::new(&bytes).u64("at").ok()
    };
    for i in 0..5 {
        wait_for("the report on chain", Duration::from_secs(60), || {
            (recorded_at(i)? > 0).then_some(())
        });
    }
    let at = recorded_at(0).expect("at");
    let mut recorded = 0;
    for hash in &reports {
        let r = wait_for("a report receipt", Duration::from_secs(60), || {
            let r = call(&rpc(0), "eth_getTransactionReceipt", json!([hash]), None)?;
            (!r.is_null()).then_some(r)
        });
        if r["status"] == "0x1" {
            recorded += 1;
            assert_eq!(crate::common::q(&r["blockNumber"]) as u64, at);
            assert_eq!(
                r["logs"][0]["topics"][0],
                json!(format!("{:#x}", platon_vm::system::duplicate_sign_topic()))
            );
        }
    }
    assert_eq!(recorded, 1, "one report recorded, the others refused");
    let h = height(0).expect("height");
    wait_for(
        "the chain to go on after the double sign",
        Duration::from_secs(60),
        || (height(0)? >= h + 3).then_some(()),
    );

    let bad = rpc_url(
        &rpc(0),
        "platon_findService",
        json!(["miner", "0x01"]),
        None,
    )
    .expect("answer");
    assert_eq!(bad["error"]["code"], json!(-32602));

    // WASM contracts on the validators' chain: web3.py deploys and calls the SDK's examples through
    // the observer with raw transactions; the four validators execute them in consensus. Every node
    // then holds the token's code and the same state root at the script's last block.
    let contracts = crate::wasm::contracts_dir();
    let out = Command::new("python3")
        .arg(manifest_dir().join("tests/web3_wasm.py"))
        .arg(rpc(4))
        .arg(&contracts)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL CHECKS PASSED"),
        "web3.py WASM client on the localnet:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("summary");
    let last = summary
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("last");
    let number = last["number"].as_u64().expect("number");
    for i in 0..4 {
        let root = wait_for(
            "a validator to reach the script's last block",
            Duration::from_secs(60),
            || {
                let b = call(
                    &rpc(i),
                    "eth_getBlockByNumber",
                    json!([format!("{number:#x}"), false]),
                    None,
                )?;
                (!b.is_null()).then(|| b["stateRoot"].clone())
            },
        );
        assert_eq!(
            root.as_str()
                .map(|r| r.trim_start_matches("0x").to_string()),
            last["stateRoot"]
                .as_str()
                .map(|r| r.trim_start_matches("0x").to_string()),
            "validator {} has the observer's state root after the WASM transactions",
            i + 1
        );
    }
}
