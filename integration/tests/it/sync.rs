//! A full node that joins a running network late: four validators behind two sentries each (the
//! seed's deployment). The late node replays the blocks it missed (showing its progress on the
//! terminal and through `eth_syncing`), survives SIGKILL and resumes where it stopped, and then
//! serves the same blocks, balances and proofs as the sentries.

use crate::common::wait_for;
use crate::localnet::{call, number, scopeguard_keep, spawn_config as spawn, Procs};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `block=N` of the last line of `log` with `what`.
fn logged_block(log: &str, what: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.contains(what))?;
    let i = line.find("block=")? + "block=".len();
    line[i..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_late_full_node_catches_up_resumes_after_sigkill_and_serves_the_same_state() {
    let tmp = scopeguard_keep(tempfile::tempdir().expect("tmp"));
    let out = tmp.path().join("net");
    let subnet = 100 + ((std::process::id() + 53) % 150) as u8;
    let net = crate::common::localnet_init(
        &out,
        subnet,
        &[
            "--nodes",
            "5",
            "--validators",
            "4",
            "--sentries",
            "2",
            "--responsive-ms",
            "20",
        ],
    );
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let config = |i: usize| nodes[i]["config"].as_str().expect("config").to_string();
    // Validators (0..4) and their sentries (5..13) first; the late node (4) afterwards.
    assert_eq!(nodes.len(), 13);
    let mut procs = Procs(
        (0..13)
            .map(|i| {
                if i == 4 {
                    // A placeholder until the late node starts.
                    Command::new("true").spawn().expect("true")
                } else {
                    spawn(&config(i), &tmp.path().join(format!("node{}.log", i + 1)))
                }
            })
            .collect(),
    );
    // The validators' RPC is closed: their sentries answer.
    let (s1, s2) = (5, 8);
    // A transfer early in the chain, so the late node's replayed state has something to match.
    let keys = crate::dev_keys();
    let tx = crate::transfer(&keys[1], 0, keys[3].address(), 123_456);
    wait_for("the sentries' RPC", Duration::from_secs(60), || {
        number(&rpc(s1))
    });
    call(
        &rpc(s1),
        "eth_sendRawTransaction",
        json!([crate::hex0x(&tx.encoded)]),
        None,
    )
    .expect("sent");
    // `scripts/bench-sync.sh` asks for a longer chain.
    let target: u64 = std::env::var("PLATON_SYNC_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let produced_from = Instant::now();
    let produce = Duration::from_secs(240.max(target / 4));
    wait_for("the network to run ahead", produce, || {
        (number(&rpc(s1))? >= target).then_some(())
    });

    let network_rate = target as f64 / produced_from.elapsed().as_secs_f64();
    // The late node starts from genesis, behind by hundreds of blocks.
    let log5 = tmp.path().join("node5.log");
    let _ = procs.0[4].wait();
    procs.0[4] = spawn(&config(4), &log5);
    let mut seen_syncing: Option<Value> = None;
    let start = Instant::now();
    // SIGKILL as soon as it has committed something (mid-sync when it is still behind).
    let killed_at = loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the late node never started syncing"
        );
        if let Some(s) = call(&rpc(4), "eth_syncing", json!([]), None) {
            if s.is_object() && seen_syncing.is_none() {
                seen_syncing = Some(s);
            }
        }
        if let Some(n) = number(&rpc(4)) {
            if n > 0 {
                break n;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = procs.0[4].kill();
    let _ = procs.0[4].wait();
    let first = std::fs::read_to_string(&log5).expect("log");
    assert!(
        first.contains("sync: behind the network, catching up"),
        "the terminal shows the sync starting:\n{first}"
    );
    assert_eq!(logged_block(&first, "sync: behind the network"), Some(0));

    // Restarted, it resumes from what it had committed, not from genesis.
    procs.0[4] = spawn(&config(4), &log5);
    let caught_up = wait_for(
        "the late node to catch up",
        Duration::from_secs(180),
        || {
            let s = call(&rpc(4), "eth_syncing", json!([]), None)?;
            if s.is_object() && seen_syncing.is_none() {
                seen_syncing = Some(s.clone());
            }
            let mine = number(&rpc(4))?;
            let theirs = number(&rpc(s1))?;
            (s == json!(false) && mine + 30 >= theirs && mine >= target).then_some(mine)
        },
    );
    let log = std::fs::read_to_string(&log5).expect("log");
    let second = &log[first.len()..];
    let resumed = logged_block(second, "sync: behind the network").unwrap_or(u64::MAX);
    assert!(
        resumed >= killed_at && resumed < caught_up,
        "after the restart it resumed at block {resumed} (it had {killed_at} when killed):\n{second}"
    );
    assert!(second.contains("sync: caught up"), "{second}");
    if let Some(line) = second.lines().find(|l| l.contains("sync: caught up")) {
        let field = |k: &str| -> Option<f64> {
            let i = line.find(k)? + k.len();
            line[i..]
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .next()?
                .parse()
                .ok()
        };
        if let (Some(blocks), Some(secs)) = (field("blocks="), field("secs=")) {
            let rate = blocks / secs.max(0.001);
            eprintln!(
                "sync figures: {blocks} blocks in {secs} s ({rate:.0} blocks/s); the network made {target} blocks at {network_rate:.1} blocks/s: catch-up {:.1}x real time",
                rate / network_rate.max(0.001)
            );
        }
    }
    // eth_syncing answered geth's object while it was behind.
    let s = seen_syncing.expect("eth_syncing answered an object while the node was behind");
    for field in ["startingBlock", "currentBlock", "highestBlock"] {
        assert!(
            s[field].as_str().is_some_and(|v| v.starts_with("0x")),
            "{field}: {s}"
        );
    }

    // The same blocks, balances and proofs as a validator.
    let b = caught_up - 1;
    let at = format!("{b:#x}");
    let hash = |i: usize| {
        call(&rpc(i), "eth_getBlockByNumber", json!([at, false]), None).map(|h| h["hash"].clone())
    };
    assert_eq!(hash(4), hash(s1), "block {b}");
    let who = format!("{:#x}", keys[3].address());
    let balance = |i: usize| call(&rpc(i), "eth_getBalance", json!([who, at]), None);
    assert_eq!(balance(4), balance(s2));
    assert!(balance(4).is_some());
    let proof = |i: usize| call(&rpc(i), "eth_getProof", json!([who, [], at]), None);
    let p4 = proof(4).expect("the late node's proof");
    assert_eq!(Some(p4.clone()), proof(s2), "eth_getProof at block {b}");
    assert!(!p4["accountProof"].as_array().expect("proof").is_empty());
}
