//! Where the staking data lives, measured: per-block end-of-block work and commit time with the
//! staking data in snapshotdb (the node) beside the earlier design (the data in the staking contract's
//! storage slots in the state trie), in the same run, on PlatON's testnet shape: 101 candidates, 25
//! validator seats, rounds of 250 blocks (10 × 25), the next round elected 20 blocks before its end,
//! epochs of 2 rounds. Not part of the test suite:
//!
//! ```sh
//! scripts/bench-ppos.sh          # 500 blocks (two rounds, one epoch settlement)
//! scripts/bench-ppos.sh 1000     # more
//! ```
//!
//! Each block has no transactions, so what is timed is the end-of-block work (block counts, the
//! round's penalties, the epoch's rewards and settlement, the election) with the state root, and then
//! the durable commit: the chain store's fsynced batch on RocksDB, after (for snapshotdb) the
//! snapshotdb WAL's fsynced commit of the block's writes. Both designs must elect the same validators.

use alloy_primitives::{keccak256, Address, Bytes, U256};
use platon_crypto::bls::BlsSecretKey;
use platon_crypto::vrf::VrfSecretKey;
use platon_messages::actors::BlockEnv;
use platon_messages::snapshot::BlockRef;
use platon_storage::chain::{GenesisSpec, StateMode};
use platon_storage::snapshotdb::view::EmptySnapshot;
use platon_storage::snapshotdb::SnapshotDb;
use platon_storage::trie::NoNodes;
use platon_storage::{ChainStore, KeyValueStore, RocksStore, StateDb};
use platon_vm::ppos::election::LAT;
use platon_vm::ppos::staking::{seal_snapshot, Candidate, Ledger, Status};
use platon_vm::system::{Schedule, REWARD_POOL, STAKING};
use platon_vm::{execute_block, NoHashes, SystemContext, SystemRuntime};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CANDIDATES: u128 = 101;
const SEATS: usize = 25;

fn lat(n: u64) -> U256 {
    U256::from(n) * U256::from(LAT)
}

fn benefit(i: u128) -> Address {
    let mut b = [0u8; 20];
    b[0] = 0xbe;
    b[4..20].copy_from_slice(&i.to_be_bytes());
    Address::from(b)
}

fn candidates() -> Vec<Candidate> {
    (1..=CANDIDATES)
        .map(|i| {
            let seed = keccak256(i.to_be_bytes()).0;
            Candidate {
                node_id: i,
                staking_address: Address::from_slice(&keccak256(seed).0[..20]),
                benefit_address: benefit(i),
                bls_key: BlsSecretKey::from_ikm(&seed)
                    .expect("bls")
                    .public_key()
                    .to_bytes(),
                vrf_key: VrfSecretKey::from_seed(&seed)
                    .expect("vrf")
                    .public_key()
                    .to_bytes(),
                reward_per: 5000,
                name: format!("candidate-{i}"),
                stake: lat(100_000 + 1_000 * i as u64),
                stake_pending: U256::ZERO,
                delegated: U256::ZERO,
                delegated_pending: U256::ZERO,
                staking_block: 0,
                staking_seq: 0,
                status: Status::Active,
            }
        })
        .collect()
}

/// What one design's run measured.
struct Run {
    end_block: Vec<Duration>,
    commit: Vec<Duration>,
    trie_nodes: usize,
    snapshot_writes: usize,
    elected: Vec<Vec<u128>>,
}

fn run(in_snapshot: bool, blocks: u64) -> Run {
    let cands = candidates();
    let validators: Vec<u128> = (1..=SEATS as u128).collect();
    let staked = cands.iter().fold(U256::ZERO, |a, c| a + c.stake);
    // The genesis records, as `genesis_staking` writes them.
    let mut g = StateDb::at_root(platon_messages::block::EMPTY_ROOT, Arc::new(NoNodes));
    if in_snapshot {
        g = g.with_snapshot(Arc::new(EmptySnapshot));
    }
    Ledger {
        state: &mut g,
        contract: STAKING,
    }
    .genesis(&cands, &validators, CANDIDATES as usize)
    .expect("genesis");
    let snapshot = seal_snapshot(&mut g)
        .expect("seal")
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let dir = tempfile::tempdir().expect("tmp");
    let kv: Arc<dyn KeyValueStore> =
        Arc::new(RocksStore::open(&dir.path().join("chaindata")).expect("rocksdb"));
    let spec = GenesisSpec {
        chain_id: 1,
        alloc: vec![(STAKING, staked), (REWARD_POOL, lat(100_000_000))],
        gas_limit: 30_000_000,
        base_fee: 1_000_000_000,
        timestamp: 0,
        extra_data: Bytes::new(),
        storage: g.dirty_storage(),
        snapshot,
    };
    let store = ChainStore::open_with_mode(kv.clone(), &spec, StateMode::Archive).expect("store");
    let mut parent = store.head_header().expect("genesis");
    if in_snapshot {
        let (db, _) = SnapshotDb::open(
            &dir.path().join("snapshot"),
            kv,
            BlockRef {
                number: 0,
                hash: parent.hash(),
            },
        )
        .expect("snapshotdb");
        store.snapshot().install(Some(db));
    }
    let rt = SystemRuntime::new(
        &platon_vm::Revm,
        SystemContext {
            schedule: Some(Schedule {
                round_blocks: 10 * SEATS as u64,
                epoch_rounds: 2,
                seats: SEATS,
                max_verifiers: CANDIDATES as usize,
                block_reward: lat(2),
                staking_reward: lat(1_000),
                idle_penalty: lat(50),
                election_distance: 20,
            }),
            ..Default::default()
        },
    );
    let mut out = Run {
        end_block: Vec::new(),
        commit: Vec::new(),
        trie_nodes: 0,
        snapshot_writes: 0,
        elected: Vec::new(),
    };
    let mut working = validators.clone();
    for n in 1..=blocks {
        let state = if in_snapshot {
            store.state_of(&parent)
        } else {
            store.state_at(parent.state_root)
        };
        let env = BlockEnv {
            number: n,
            timestamp: n,
            // Each validator's 10-block view in turn; the last one never produces (a penalty).
            beneficiary: benefit(working[((n - 1) / 10) as usize % (working.len() - 1)]),
            gas_limit: 30_000_000,
            base_fee: platon_vm::next_base_fee(&parent),
            prev_randao: keccak256(n.to_be_bytes()),
            chain_id: 1,
        };
        let started = Instant::now();
        let executed = execute_block(&rt, &NoHashes, state, &parent, &env, vec![], Bytes::new())
            .expect("block");
        out.end_block.push(started.elapsed());
        out.trie_nodes += executed.state_nodes.len();
        out.snapshot_writes += executed.snapshot.len();
        let started = Instant::now();
        if in_snapshot {
            let h = &executed.block.header;
            store
                .snapshot()
                .write(|d| {
                    d.commit_block(n, h.parent_hash, executed.block.hash(), &executed.snapshot)?;
                    d.sync()?;
                    if d.core().committed().len() >= 512 {
                        d.compact(256)?;
                    }
                    Ok(())
                })
                .expect("snapshotdb commit");
        }
        store.commit_block(&executed).expect("commit");
        out.commit.push(started.elapsed());
        parent = executed.block.header.clone();
        let mut s = if in_snapshot {
            store.state_of(&parent)
        } else {
            store.state_at(parent.state_root)
        };
        let now = Ledger {
            state: &mut s,
            contract: STAKING,
        }
        .validators()
        .expect("validators");
        if now != working {
            out.elected.push(now.clone());
            working = now;
        }
    }
    out
}

fn stats(d: &[Duration]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    (mean, p99, *v.last().unwrap_or(&0.0))
}

fn main() {
    let blocks: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    println!(
        "ppos storage: {CANDIDATES} candidates, {SEATS} seats, rounds of {} blocks, {blocks} blocks",
        10 * SEATS
    );
    let trie = run(false, blocks);
    let snap = run(true, blocks);
    assert_eq!(
        trie.elected, snap.elected,
        "both designs elect the same validators"
    );
    assert!(!snap.elected.is_empty(), "the validators rotated");
    for (what, a, b) in [
        ("end-of-block work", &trie.end_block, &snap.end_block),
        ("commit (durable)", &trie.commit, &snap.commit),
    ] {
        let (am, ap, ax) = stats(a);
        let (bm, bp, bx) = stats(b);
        println!(
            "{what:>18}: trie mean {am:.3} ms p99 {ap:.3} max {ax:.3} | snapshotdb mean {bm:.3} ms p99 {bp:.3} max {bx:.3} | trie/snapshotdb {:.2}x",
            am / bm
        );
    }
    let total = |r: &Run| -> f64 {
        r.end_block
            .iter()
            .chain(&r.commit)
            .map(|d| d.as_secs_f64())
            .sum::<f64>()
    };
    println!(
        "{:>18}: trie {:.1} ms/block | snapshotdb {:.1} ms/block | trie/snapshotdb {:.2}x",
        "both",
        total(&trie) * 1e3 / blocks as f64,
        total(&snap) * 1e3 / blocks as f64,
        total(&trie) / total(&snap)
    );
    println!(
        "{:>18}: trie {:.1} new trie nodes/block | snapshotdb {:.1} new trie nodes/block and {:.1} snapshotdb writes/block",
        "written",
        trie.trie_nodes as f64 / blocks as f64,
        snap.trie_nodes as f64 / blocks as f64,
        snap.snapshot_writes as f64 / blocks as f64
    );
    println!(
        "elections: {} validator-set changes, identical in both designs",
        snap.elected.len()
    );
}
