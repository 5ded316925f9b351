//! Crash safety of the dev node: SIGKILL while transfers flow, restart on the same data directory,
//! and every block that a receipt was returned for is still there.

use crate::common::*;
use crate::{dev_keys, hex0x, transfer};
use alloy_primitives::Address;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[test]
fn sigkill_during_transfers_loses_no_receipted_block() {
    let tmp = tempfile::tempdir().expect("tmp");
    let datadir = tmp.path().join("data");
    let dd = datadir.to_str().expect("utf8").to_string();
    let keys = dev_keys();
    let key = keys[8];
    let to = Address::repeat_byte(0x44);
    // hash -> (block hash, block number) for every receipt a client saw.
    let mut seen: HashMap<String, (Value, u128)> = HashMap::new();
    let mut total_value: u128 = 0;
    for cycle in 0..3 {
        let mut node = NodeProc::start_dev(&["--datadir", &dd], tmp.path());
        let p = node.http;
        // Everything seen before the crash is still there, in the same block.
        for (h, (bh, bn)) in &seen {
            let r = rpc(p, "eth_getTransactionReceipt", json!([h]));
            assert_eq!(
                &r["blockHash"], bh,
                "cycle {cycle}: receipt of {h} moved or vanished"
            );
            assert_eq!(q(&r["blockNumber"]), *bn);
        }
        let mut nonce = q(&rpc(
            p,
            "eth_getTransactionCount",
            json!([format!("{:#x}", key.address()), "pending"]),
        )) as u64;
        let mut sent = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(1500 + 500 * cycle);
        let give_up = Instant::now() + Duration::from_secs(30);
        let seen_before = seen.len();
        // Send for a while, and at least until this cycle has seen a receipt (bounded by `give_up`).
        while Instant::now() < deadline || (seen.len() == seen_before && Instant::now() < give_up) {
            let tx = transfer(&key, nonce, to, 1000 + nonce);
            if rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&tx.encoded)]))
                .ok()
                .and_then(|r| r.get("result").cloned())
                .is_some()
            {
                sent.push((format!("{:#x}", tx.hash), 1000 + nonce));
                nonce += 1;
            }
            for (h, _) in sent.iter().rev().take(3) {
                let r = rpc(p, "eth_getTransactionReceipt", json!([h]));
                if !r.is_null() {
                    seen.entry(h.clone())
                        .or_insert((r["blockHash"].clone(), q(&r["blockNumber"])));
                }
            }
        }
        // SIGKILL with transfers in flight.
        node.kill9();
        total_value += sent.iter().map(|(_, v)| u128::from(*v)).sum::<u128>();
        assert!(
            seen.len() > seen_before,
            "cycle {cycle}: no receipts observed"
        );
    }
    // Final restart: every accepted transfer (journaled before its hash was returned) lands, and the
    // recipient holds exactly their sum.
    let node = NodeProc::start_dev(&["--datadir", &dd], tmp.path());
    wait_for(
        "journaled transfers to land",
        Duration::from_secs(30),
        || {
            let bal = q(&rpc(
                node.http,
                "eth_getBalance",
                json!([format!("{to:#x}"), "latest"]),
            ));
            (bal == total_value).then_some(())
        },
    );
    drop(node);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--dev", "--datadir", &dd])
        .output()
        .expect("db check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        entries as usize > seen.len() / 10 && entries >= 2,
        "{stdout}"
    );
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
