//! Crash safety of the dev node: SIGKILL at random moments while transfers flow, restart on the same
//! data directory, and after every restart: every receipt a client saw is still there in the same
//! block, every accepted transfer lands, the state is exact, and `platon db check` is clean.
//!
//! `PLATON_CRASH_CYCLES` sets the number of kills (default 30); `PLATON_CRASH_SEED` replays a run
//! (the seed is printed).

use crate::common::*;
use crate::{dev_keys, hex0x, transfer};
use alloy_primitives::Address;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn db_check(dd: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--dev", "--datadir", dd])
        .output()
        .expect("db check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigkill_during_transfers_loses_no_receipted_block_on_rocksdb() {
    crash_cycles("rocksdb", &[]);
}

#[test]
fn sigkill_during_transfers_loses_no_receipted_block_on_paritydb_in_full_mode() {
    // Full state mode prunes trie nodes in the same batch as each block: a crash must not tear that.
    crash_cycles("paritydb", &["--state.mode", "full", "--state.retain", "4"]);
}

fn crash_cycles(backend: &str, extra: &[&str]) {
    let cycles = env_u64("PLATON_CRASH_CYCLES").unwrap_or(30);
    let seed = env_u64("PLATON_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    });
    eprintln!("crash test on {backend}: {cycles} cycles, PLATON_CRASH_SEED={seed}");
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let dd = tmp.path().join("data").to_str().expect("utf8").to_string();
    // Three senders' transfers interleave, so blocks carry several transactions.
    let senders: Vec<_> = dev_keys()[7..10].to_vec();
    let to = Address::repeat_byte(0x44);
    let to_hex = format!("{to:#x}");
    // hash -> (block hash, block number) for every receipt a client saw.
    let mut seen: HashMap<String, (Value, u128)> = HashMap::new();
    let mut accepted_value: u128 = 0;
    for cycle in 0..=cycles {
        let mut args = vec!["--datadir", dd.as_str(), "--db", backend];
        args.extend_from_slice(extra);
        let mut node = NodeProc::start_dev(&args, tmp.path());
        let p = node.http;
        for (h, (bh, bn)) in &seen {
            let r = rpc(p, "eth_getTransactionReceipt", json!([h]));
            assert_eq!(
                &r["blockHash"], bh,
                "cycle {cycle}: receipt of {h} moved or vanished (seed {seed})"
            );
            assert_eq!(q(&r["blockNumber"]), *bn);
        }
        // In archive mode every receipted block still has its state: its account proof reads.
        if extra.is_empty() {
            if let Some(max) = seen.values().map(|(_, n)| *n).max() {
                let proof = rpc(p, "eth_getProof", json!([to_hex, [], format!("{max:#x}")]));
                assert!(
                    proof["accountProof"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty()),
                    "state of block {max} (seed {seed})"
                );
            }
        }
        // Every accepted transfer was journaled before its hash was returned: all land, and the
        // recipient's balance is exactly their sum.
        wait_for(
            "accepted transfers to land",
            Duration::from_secs(30),
            || {
                let bal = q(&rpc(p, "eth_getBalance", json!([to_hex, "latest"])));
                (bal == accepted_value).then_some(())
            },
        );
        if cycle == cycles {
            break;
        }
        let mut nonces: Vec<u64> = senders
            .iter()
            .map(|k| {
                q(&rpc(
                    p,
                    "eth_getTransactionCount",
                    json!([format!("{:#x}", k.address()), "pending"]),
                )) as u64
            })
            .collect();
        let mut sent: Vec<String> = Vec::new();
        let kill_at = Instant::now() + Duration::from_millis(50 + next() % 1450);
        while Instant::now() < kill_at {
            for (i, key) in senders.iter().enumerate() {
                let value = 1000 + nonces[i];
                let tx = transfer(key, nonces[i], to, value);
                let reply = rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&tx.encoded)])).ok();
                if reply.and_then(|r| r.get("result").cloned()).is_some() {
                    sent.push(format!("{:#x}", tx.hash));
                    accepted_value += u128::from(value);
                    nonces[i] += 1;
                }
            }
            if let Some(h) = sent.last() {
                let r = rpc(p, "eth_getTransactionReceipt", json!([h]));
                if !r.is_null() {
                    seen.entry(h.clone())
                        .or_insert((r["blockHash"].clone(), q(&r["blockNumber"])));
                }
            }
        }
        node.kill9();
        db_check(&dd);
    }
    assert!(!seen.is_empty(), "no receipts observed (seed {seed})");
    // `db stats` walks the store and reports every table.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "stats", "--dev", "--datadir", &dd])
        .output()
        .expect("db stats");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let blocks_row = stdout
        .lines()
        .find(|l| l.starts_with("blocks "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let entries: u64 = blocks_row
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(entries >= 2, "{stdout}");
    for table in [
        "state trie nodes",
        "receipts",
        "transaction index",
        "canonical index",
        "snapshotdb WAL",
    ] {
        assert!(stdout.contains(table), "{table} missing:\n{stdout}");
    }
}
