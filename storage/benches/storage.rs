//! Storage benchmarks, each beside a baseline in the same run (not part of the test suite):
//!
//! ```sh
//! scripts/bench.sh                 # 100,000 leaves, 10,000 accounts (dev profile, opt-level 3)
//! scripts/bench.sh 20000 2000      # or: cargo bench -p platon-storage --bench storage (release)
//! ```
//!
//! 1. Merkle Patricia root of N keccak-keyed leaves: our [`Trie`] (insert in any order, then hash)
//!    beside `alloy-trie`'s `HashBuilder` (which needs the keys sorted; the sort is counted), same
//!    keys, same run; both must produce the same root.
//! 2. A block that touches M accounts, committed with an fsync to RocksDB and to ParityDB: first
//!    creating them, then updating all of them on the persisted trie (nodes read back from disk), in
//!    milliseconds; beside the same work on the in-memory store, so the ratio isolates the disk.

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_trie::{HashBuilder, Nibbles};
use platon_messages::block::EMPTY_ROOT;
use platon_storage::trie::{NoNodes, NodeReader, Trie};
use platon_storage::{
    Account, Durability, KeyValueStore, MemoryStore, ParityStore, RocksStore, StateDb, WriteBatch,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Nodes(Arc<dyn KeyValueStore>);
impl NodeReader for Nodes {
    fn node(&self, hash: &B256) -> platon_storage::Result<Option<Vec<u8>>> {
        self.0.get(hash.as_slice())
    }
}

fn trie_root(n: usize) {
    let mut pairs: Vec<(B256, Vec<u8>)> = (0..n as u64)
        .map(|i| {
            (
                keccak256(i.to_be_bytes()),
                Account {
                    nonce: i,
                    balance: U256::from(i) * U256::from(1_000_000_007u64),
                    ..Default::default()
                }
                .encode(),
            )
        })
        .collect();
    let start = Instant::now();
    let mut t = Trie::new(Arc::new(NoNodes));
    for (k, v) in &pairs {
        t.insert(k.as_slice(), v.clone()).expect("in-memory insert");
    }
    let inserted = start.elapsed();
    let (ours, _nodes) = t.commit();
    let ours_time = start.elapsed();

    let start = Instant::now();
    pairs.sort_unstable_by_key(|a| a.0);
    let mut hb = HashBuilder::default();
    for (k, v) in &pairs {
        hb.add_leaf(Nibbles::unpack(k), v);
    }
    let theirs = hb.root();
    let base_time = start.elapsed();
    assert_eq!(ours, theirs, "both compute the Ethereum root");
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("trie root, {n} leaves:");
    println!(
        "  platon Trie          {:>12.0} leaves/s  ({:?}: insert {:?}, hash {:?})",
        rate(ours_time),
        ours_time,
        inserted,
        ours_time - inserted
    );
    println!(
        "  alloy-trie HashBuilder {:>10.0} leaves/s  ({:?})",
        rate(base_time),
        base_time
    );
    println!(
        "  ratio (ours / baseline): {:.2}",
        rate(ours_time) / rate(base_time)
    );
}

/// Creates `m` accounts in one block and commits it, then updates all of them in a second block.
/// Returns (create, update) durations including the fsynced write.
fn block_commit(kv: Arc<dyn KeyValueStore>, m: usize) -> (Duration, Duration) {
    let reader: Arc<dyn NodeReader> = Arc::new(Nodes(kv.clone()));
    let addrs: Vec<Address> = (0..m as u64)
        .map(|i| Address::from_slice(&keccak256(i.to_be_bytes())[12..]))
        .collect();
    let commit = |state: &mut StateDb| -> B256 {
        let (root, nodes) = state.commit().expect("commit");
        let mut batch = WriteBatch::new();
        for (h, n) in nodes {
            batch.put(h.to_vec(), n);
        }
        kv.write(batch, Durability::Sync).expect("write");
        root
    };
    let start = Instant::now();
    let mut state = StateDb::at_root(EMPTY_ROOT, reader.clone());
    for (i, a) in addrs.iter().enumerate() {
        state.set_account(
            *a,
            Account {
                nonce: 1,
                balance: U256::from(i as u64 + 1),
                ..Default::default()
            },
        );
    }
    let root = commit(&mut state);
    let create = start.elapsed();

    let start = Instant::now();
    let mut state = StateDb::at_root(root, reader);
    for a in &addrs {
        let mut acct = state.account(a).expect("read");
        acct.nonce += 1;
        acct.balance += U256::from(1);
        state.set_account(*a, acct);
    }
    commit(&mut state);
    (create, start.elapsed())
}

/// Durable snapshotdb block commits per second: each block is built (`keys` puts), sealed and committed
/// in one write (one fsync), with compaction into the base every 64 blocks.
fn snapshot_commits(kv: Arc<dyn KeyValueStore>, blocks: u64, keys: u64) -> f64 {
    use platon_storage::snapshotdb::{BlockRef, Record, SnapshotDb};
    let dir = tempfile::tempdir().expect("tmp");
    let (mut db, _) = SnapshotDb::open(dir.path(), kv, BlockRef::default()).expect("open");
    let start = Instant::now();
    let mut parent = B256::ZERO;
    for n in 1..=blocks {
        let hash = keccak256(n.to_be_bytes());
        let mut records = vec![Record::NewBlock { number: n, parent }];
        for k in 0..keys {
            records.push(Record::Put {
                key: format!("stake/{k:06}").into_bytes(),
                value: n.to_be_bytes().to_vec(),
            });
        }
        records.push(Record::Seal { hash });
        records.push(Record::Commit { hash });
        db.write(records).expect("durable block");
        if n % 64 == 0 {
            db.compact(16).expect("compact");
        }
        parent = hash;
    }
    blocks as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let leaves = args.first().copied().unwrap_or(100_000);
    let accounts = args.get(1).copied().unwrap_or(10_000);
    trie_root(leaves);
    let dir = tempfile::tempdir().expect("tmp");
    let rocks: Arc<dyn KeyValueStore> = Arc::new(RocksStore::open(dir.path()).expect("rocksdb"));
    let pdir = tempfile::tempdir().expect("tmp");
    let parity: Arc<dyn KeyValueStore> =
        Arc::new(ParityStore::open(pdir.path()).expect("paritydb"));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (mc, mu) = block_commit(Arc::new(MemoryStore::new()), accounts);
    println!("block touching {accounts} accounts (state trie commit + one atomic write):");
    println!(
        "  memory           create {:>8.1} ms   update {:>8.1} ms",
        ms(mc),
        ms(mu)
    );
    for (name, kv) in [("rocksdb (fsync)", rocks), ("paritydb (fsync)", parity)] {
        let (c, u) = block_commit(kv, accounts);
        println!(
            "  {name:<16} create {:>8.1} ms   update {:>8.1} ms   (x{:.2} / x{:.2} memory)",
            ms(c),
            ms(u),
            ms(c) / ms(mc),
            ms(u) / ms(mu)
        );
    }
    println!("snapshotdb durable block commits (100 keys each, compaction every 64 blocks):");
    let sdir = tempfile::tempdir().expect("tmp");
    let pdir2 = tempfile::tempdir().expect("tmp");
    for (name, kv) in [
        (
            "memory base",
            Arc::new(MemoryStore::new()) as Arc<dyn KeyValueStore>,
        ),
        (
            "rocksdb base",
            Arc::new(RocksStore::open(sdir.path()).expect("rocksdb")) as Arc<dyn KeyValueStore>,
        ),
        (
            "paritydb base",
            Arc::new(ParityStore::open(pdir2.path()).expect("paritydb")) as Arc<dyn KeyValueStore>,
        ),
    ] {
        println!(
            "  {name:<16} {:>8.0} blocks/s",
            snapshot_commits(kv, 512, 100)
        );
    }
}
