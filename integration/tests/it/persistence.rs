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
use std::path::Path;
use std::time::{Duration, Instant};

/// An integer from the environment variable `name`, if set.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// `platon db check` on a data directory: Err with its output unless it reports OK.
pub fn db_check(dd: &str) -> Result<(), String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--dev", "--datadir", dd])
        .output()
        .map_err(|e| format!("db check: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.starts_with("OK") {
        Ok(())
    } else {
        Err(format!(
            "db check: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
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

/// A seed from `PLATON_CRASH_SEED`, or the clock.
pub fn crash_seed() -> u64 {
    env_u64("PLATON_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    })
}

/// A xorshift stream from `seed` (nonzero).
pub fn xorshift(mut rng: u64) -> impl FnMut() -> u64 {
    move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    }
}

fn crash_cycles(backend: &str, extra: &[&str]) {
    let cycles = env_u64("PLATON_CRASH_CYCLES").unwrap_or(30);
    let seed = crash_seed();
    eprintln!("crash test on {backend}: {cycles} cycles, PLATON_CRASH_SEED={seed}");
    let tmp = tempfile::tempdir().expect("tmp");
    let dd = tmp.path().join("data");
    let seen = transfer_cycles(Cycles {
        backend,
        extra,
        cycles,
        seed,
        dir: tmp.path(),
        datadir: &dd,
        env: &[],
        after_kill: &mut || {},
        after_check: &mut || {},
    })
    .unwrap_or_else(|e| panic!("{e} (seed {seed})"));
    assert!(seen > 0, "no receipts observed (seed {seed})");
    let dd = dd.to_str().expect("utf8").to_string();
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

/// One run of [`transfer_cycles`].
pub struct Cycles<'a> {
    /// `--db` backend.
    pub backend: &'a str,
    /// Extra `platon run` arguments.
    pub extra: &'a [&'a str],
    /// Kills (and restarts).
    pub cycles: u64,
    /// Seed of the kill times.
    pub seed: u64,
    /// Where the node's logs go.
    pub dir: &'a Path,
    /// The data directory.
    pub datadir: &'a Path,
    /// Environment of the node process.
    pub env: &'a [(String, String)],
    /// What happens to the disk after each SIGKILL (a power cut, or nothing).
    pub after_kill: &'a mut dyn FnMut(),
    /// What happens to the disk after `db check` (which may write), before the next start.
    pub after_check: &'a mut dyn FnMut(),
}

fn call(p: u16, method: &str, params: Value) -> Result<Value, String> {
    let r = rpc_full(p, method, params.clone()).map_err(|e| format!("{method}: {e}"))?;
    match r.get("error") {
        Some(e) => Err(format!("{method}({params}) failed: {e}")),
        None => Ok(r["result"].clone()),
    }
}

fn quantity(v: &Value) -> Result<u128, String> {
    v.as_str()
        .and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| format!("not a quantity: {v}"))
}

/// Transfers from three senders flow into the dev node while it is SIGKILLed at random moments and
/// restarted on the same data directory. After every restart: every receipt a client saw is still
/// there in the same block, every accepted transfer lands (the recipient's balance is exactly their
/// sum), archive state of the newest receipted block reads, and `platon db check` is clean. Returns
/// the receipts seen, or the first loss.
pub fn transfer_cycles(c: Cycles<'_>) -> Result<usize, String> {
    let mut next = xorshift(c.seed);
    let dd = c.datadir.to_str().ok_or("datadir is not utf-8")?;
    // Three senders' transfers interleave, so blocks carry several transactions.
    let senders: Vec<_> = dev_keys()[7..10].to_vec();
    let to = Address::repeat_byte(0x44);
    let to_hex = format!("{to:#x}");
    // hash -> (block hash, block number) for every receipt a client saw.
    let mut seen: HashMap<String, (Value, u128)> = HashMap::new();
    let mut accepted_value: u128 = 0;
    for cycle in 0..=c.cycles {
        let mut args = vec!["--datadir", dd, "--db", c.backend];
        args.extend_from_slice(c.extra);
        let mut args_dev = vec!["--dev"];
        args_dev.extend_from_slice(&args);
        let mut node = NodeProc::try_start(&args_dev, c.dir, c.env)
            .map_err(|log| format!("cycle {cycle}: the node does not start again: {log}"))?;
        let p = node.http;
        for (h, (bh, bn)) in &seen {
            let r = call(p, "eth_getTransactionReceipt", json!([h]))?;
            if &r["blockHash"] != bh || quantity(&r["blockNumber"]).ok() != Some(*bn) {
                return Err(format!(
                    "cycle {cycle}: receipt of {h} in block {bn} moved or vanished: {r}\n{}",
                    node.log_text()
                ));
            }
        }
        // In archive mode every receipted block still has its state: its account proof reads.
        if c.extra.is_empty() {
            if let Some(max) = seen.values().map(|(_, n)| *n).max() {
                let proof = call(p, "eth_getProof", json!([to_hex, [], format!("{max:#x}")]))?;
                if proof["accountProof"]
                    .as_array()
                    .is_none_or(|a| a.is_empty())
                {
                    return Err(format!("cycle {cycle}: state of block {max} is gone"));
                }
            }
        }
        // Every accepted transfer was journaled before its hash was returned: all land, and the
        // recipient's balance is exactly their sum.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let bal = quantity(&call(p, "eth_getBalance", json!([to_hex, "latest"]))?)?;
            if bal == accepted_value {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "cycle {cycle}: accepted transfers lost: the recipient holds {bal}, \
                     accepted {accepted_value}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if cycle == c.cycles {
            break;
        }
        let mut nonces = Vec::new();
        for k in &senders {
            let n = call(
                p,
                "eth_getTransactionCount",
                json!([format!("{:#x}", k.address()), "pending"]),
            )?;
            nonces.push(quantity(&n)? as u64);
        }
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
                let r = call(p, "eth_getTransactionReceipt", json!([h]))?;
                if !r.is_null() {
                    seen.entry(h.clone())
                        .or_insert((r["blockHash"].clone(), quantity(&r["blockNumber"])?));
                }
            }
        }
        node.kill9();
        (c.after_kill)();
        db_check(dd).map_err(|e| format!("cycle {cycle}: {e}"))?;
        (c.after_check)();
    }
    Ok(seen.len())
}
