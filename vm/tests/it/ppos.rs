//! The election lottery draws what its weights say: over 20,000 seeds, the frequency of each set of
//! three validators drawn from six weighted candidates matches the exact probability of that set
//! (computed by enumerating every draw sequence), by a chi-square test at significance 0.001; and a
//! simulated rotation over many rounds keeps the replacement cap and visits every candidate.

use alloy_primitives::{keccak256, B256};
use platon_vm::ppos::election::{lottery_order, next_validators};
use std::collections::BTreeMap;

/// The probability of each 3-set under sequential weighted draws without replacement.
fn exact_set_probabilities(weights: &[u128]) -> BTreeMap<Vec<usize>, f64> {
    let n = weights.len();
    let total: u128 = weights.iter().sum();
    let mut out = BTreeMap::new();
    for a in 0..n {
        for b in 0..n {
            for c in 0..n {
                if a == b || b == c || a == c {
                    continue;
                }
                let (wa, wb, wc) = (weights[a] as f64, weights[b] as f64, weights[c] as f64);
                let t = total as f64;
                let p = wa / t * wb / (t - wa) * wc / (t - wa - wb);
                let mut set = vec![a, b, c];
                set.sort();
                *out.entry(set).or_insert(0.0) += p;
            }
        }
    }
    out
}

#[test]
fn lottery_sets_follow_the_weights_chi_square() {
    let weights: Vec<u128> = vec![1, 2, 3, 5, 8, 13];
    let entries: Vec<(usize, u128)> = weights.iter().copied().enumerate().collect();
    let expected = exact_set_probabilities(&weights);
    assert_eq!(expected.len(), 20);
    let trials = 20_000u64;
    let mut counts: BTreeMap<Vec<usize>, u64> = BTreeMap::new();
    for t in 0..trials {
        let seed = keccak256(t.to_be_bytes());
        let mut set: Vec<usize> = lottery_order(seed, &entries).into_iter().take(3).collect();
        set.sort();
        *counts.entry(set).or_insert(0) += 1;
    }
    let chi2: f64 = expected
        .iter()
        .map(|(set, p)| {
            let e = p * trials as f64;
            let o = *counts.get(set).unwrap_or(&0) as f64;
            (o - e) * (o - e) / e
        })
        .sum();
    // 19 degrees of freedom: the 0.001 critical value is 43.82.
    println!("chi-square {chi2:.2} over 20 sets (19 df; critical value at 0.001: 43.82)");
    assert!(chi2 < 43.82, "chi-square {chi2}");
    // The heaviest candidate is drawn first about 13/32 of the time.
    let first = (0..trials)
        .filter(|t| lottery_order(keccak256(t.to_be_bytes()), &entries)[0] == 5)
        .count() as f64
        / trials as f64;
    assert!((first - 13.0 / 32.0).abs() < 0.02, "{first}");
}

#[test]
fn rotation_over_many_rounds_keeps_the_cap_and_visits_every_candidate() {
    // 10 candidates, 4 seats, equal weights: every round at most one seat changes hands.
    let verifiers: Vec<(u32, u128)> = (0..10).map(|i| (i, 100)).collect();
    let mut current = vec![0u32, 1, 2, 3];
    let mut seen = std::collections::BTreeSet::new();
    let mut changes = 0;
    let mut seed = B256::ZERO;
    for _ in 0..300 {
        seed = keccak256(seed);
        let next = next_validators(&current, &verifiers, 4, seed);
        assert_eq!(next.len(), 4);
        let replaced = next.iter().filter(|v| !current.contains(v)).count();
        assert!(replaced <= 1);
        changes += replaced;
        seen.extend(next.iter().copied());
        current = next;
    }
    assert_eq!(seen.len(), 10, "every candidate served");
    assert!(
        changes > 100,
        "the set rotates: {changes} changes in 300 rounds"
    );
}

fn lat(n: u64) -> alloy_primitives::U256 {
    alloy_primitives::U256::from(n) * alloy_primitives::U256::from(platon_vm::ppos::election::LAT)
}

/// Candidate `i`'s benefit address.
fn benefit(i: u128) -> alloy_primitives::Address {
    alloy_primitives::Address::left_padding_from(&[0xbe, i as u8])
}

/// Genesis candidate `i` (keys from `i`) with own stake `stake`.
fn candidate(i: u128, stake: alloy_primitives::U256) -> platon_vm::ppos::staking::Candidate {
    use alloy_primitives::{Address, U256};
    use platon_crypto::bls::BlsSecretKey;
    use platon_crypto::vrf::VrfSecretKey;
    platon_vm::ppos::staking::Candidate {
        node_id: i,
        staking_address: Address::left_padding_from(&[0x5a, i as u8]),
        benefit_address: benefit(i),
        bls_key: BlsSecretKey::from_ikm(&[i as u8; 32])
            .expect("bls")
            .public_key()
            .to_bytes(),
        vrf_key: VrfSecretKey::from_seed(&[i as u8; 32])
            .expect("vrf")
            .public_key()
            .to_bytes(),
        reward_per: 0,
        name: format!("c{i}"),
        stake,
        stake_pending: U256::ZERO,
        delegated: U256::ZERO,
        delegated_pending: U256::ZERO,
        staking_block: 0,
        staking_seq: 0,
        status: platon_vm::ppos::staking::Status::Active,
    }
}

/// The genesis header over state `root`, which the test blocks build on.
fn genesis_header(root: B256) -> platon_messages::Header {
    use platon_messages::block::{EMPTY_OMMERS_HASH, EMPTY_ROOT};
    platon_messages::Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary: alloy_primitives::Address::ZERO,
        state_root: root,
        transactions_root: EMPTY_ROOT,
        receipts_root: EMPTY_ROOT,
        logs_bloom: Default::default(),
        difficulty: alloy_primitives::U256::ZERO,
        number: 0,
        gas_limit: 30_000_000,
        gas_used: 0,
        timestamp: 0,
        extra_data: alloy_primitives::Bytes::new(),
        mix_hash: B256::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: 1_000_000_000,
    }
}

/// Writes the genesis records into a snapshotdb base (as the chain store's genesis batch does).
fn write_base(
    kv: &dyn platon_storage::KeyValueStore,
    genesis: &platon_storage::snapshotdb::Writes,
) {
    let mut batch = platon_storage::WriteBatch::new();
    for (k, v) in genesis {
        batch.put(
            platon_storage::snapshotdb::base_key(k),
            v.clone().expect("genesis values"),
        );
    }
    kv.write(batch, platon_storage::Durability::Sync)
        .expect("base");
}

/// Blocks through `execute_block` with the PPoS schedule: rounds of 4 blocks, epochs of 3 rounds,
/// 4 seats among 10 genesis candidates. Each block's beneficiary is the validator whose turn it is
/// (one validator never produces); the seed is a stand-in for the VRF output. The validator set
/// rotates within the cap, the idle validator is penalized and removed, epochs pay rewards, the
/// total of all balances never changes, and a second node executing the same blocks gets the same
/// state roots and validator lists (the election is recomputed from the chain alone). The staking
/// data lives in snapshotdb (compacted as it goes, reopened halfway), and a run with the earlier
/// design (the data in the staking contract's storage slots) gives the same elections, balances
/// and candidate records block by block.
#[test]
fn blocks_settle_epochs_and_rotate_validators_deterministically() {
    use alloy_primitives::{Address, Bytes, U256};

    use platon_messages::actors::BlockEnv;
    use platon_messages::block::EMPTY_ROOT;
    use platon_messages::Header;
    use platon_storage::snapshotdb::view::EmptySnapshot;
    use platon_storage::snapshotdb::{BlockRef, SharedSnapshot, SnapshotDb};
    use platon_storage::trie::MemoryNodes;
    use platon_storage::{Account, KeyValueStore, MemoryStore, StateDb};

    use platon_vm::ppos::staking::{seal_snapshot, Candidate, Ledger, Status};
    use platon_vm::system::{Schedule, REWARD, REWARD_POOL, STAKING};
    use platon_vm::{execute_block, NoHashes, SystemContext, SystemRuntime};
    use std::sync::Arc;

    let candidates: Vec<Candidate> = (1..=10u128)
        .map(|i| candidate(i, lat(100_000 + 1_000 * i as u64)))
        .collect();
    let staked = candidates.iter().fold(U256::ZERO, |a, c| a + c.stake);
    let mut watch: Vec<Address> = (1..=10u128).map(benefit).collect();
    watch.extend((1..=10u128).map(|i| Address::left_padding_from(&[0x5a, i as u8])));
    watch.extend([STAKING, REWARD_POOL, REWARD]);
    let total = |s: &StateDb| {
        watch
            .iter()
            .fold(U256::ZERO, |a, w| a + s.account(w).expect("acct").balance)
    };

    /// What one block leaves: its state root, the working validators, the epoch, the next
    /// block's round set, the block number, every watched balance and every candidate record.
    type Step = (
        alloy_primitives::B256,
        Vec<u128>,
        u64,
        Vec<u128>,
        u64,
        Vec<U256>,
        Vec<Option<Candidate>>,
    );

    // One node's run, with the staking data in snapshotdb (as the node keeps it) or in the staking
    // contract's storage slots (the earlier design).
    let run = |rt: &SystemRuntime, in_snapshot: bool| -> Vec<Step> {
        let store = Arc::new(MemoryNodes::default());
        let mut g = StateDb::at_root(EMPTY_ROOT, store.clone());
        if in_snapshot {
            g = g.with_snapshot(Arc::new(EmptySnapshot));
        }
        g.set_account(
            STAKING,
            Account {
                balance: staked,
                ..Default::default()
            },
        );
        g.set_account(
            REWARD_POOL,
            Account {
                balance: lat(10_000_000),
                ..Default::default()
            },
        );
        Ledger {
            state: &mut g,
            contract: STAKING,
        }
        .genesis(&candidates, &[1, 2, 3, 4], 10)
        .expect("genesis");
        let genesis_data = seal_snapshot(&mut g).expect("seal");
        assert_eq!(genesis_data.is_empty(), !in_snapshot);
        let (root, nodes) = g.commit().expect("commit");
        store.insert(nodes, vec![]);
        let mut parent = genesis_header(root);
        // snapshotdb on disk (its WAL) over a key-value base holding the genesis data.
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        write_base(kv.as_ref(), &genesis_data);
        let genesis = BlockRef {
            number: 0,
            hash: parent.hash(),
        };
        let shared = SharedSnapshot::default();
        let open = || {
            SnapshotDb::open(dir.path(), kv.clone(), genesis)
                .expect("snapshotdb")
                .0
        };
        shared.install(Some(open()));
        let state_of = |h: &Header| {
            let s = StateDb::at_root(h.state_root, store.clone());
            if in_snapshot {
                s.with_snapshot(shared.at(h.hash()))
            } else {
                s
            }
        };
        let supply = total(&state_of(&parent));
        let mut history = Vec::new();
        for n in 1..=72u64 {
            let state = state_of(&parent);
            let mut probe = state.clone();
            let validators = Ledger {
                state: &mut probe,
                contract: STAKING,
            }
            .validators()
            .expect("v");
            // Validator 7 never produces: its turns pass to the next validator.
            let mut turn = validators[((n - 1) as usize) % validators.len()];
            if turn == 7 {
                turn = validators[(n as usize) % validators.len()];
            }
            let env = BlockEnv {
                number: n,
                timestamp: n,
                beneficiary: benefit(turn),
                gas_limit: 30_000_000,
                base_fee: platon_vm::next_base_fee(&parent),
                prev_randao: keccak256(n.to_be_bytes()),
                chain_id: 1,
            };
            let b = execute_block(rt, &NoHashes, state, &parent, &env, vec![], Bytes::new())
                .expect("block");
            assert_eq!(b.snapshot.is_empty(), !in_snapshot, "block {n}");
            store.insert(b.state_nodes.clone(), vec![]);
            if in_snapshot {
                let h = &b.block.header;
                shared
                    .write(|d| {
                        d.insert_block(n, h.parent_hash, b.block.hash(), &b.snapshot)?;
                        d.commit_block(n, h.parent_hash, b.block.hash(), &b.snapshot)?;
                        d.sync()?;
                        // Compaction keeps 4 committed blocks above the base.
                        if d.core().committed().len() > 8 {
                            d.compact(4)?;
                        }
                        Ok(())
                    })
                    .expect("snapshotdb");
                if n == 36 {
                    // A restart: the log replays to the same data.
                    shared.install(None);
                    shared.install(Some(open()));
                }
            }
            parent = b.block.header.clone();
            let mut s = state_of(&parent);
            let l = Ledger {
                state: &mut s,
                contract: STAKING,
            };
            // The consensus set of the next block's round: recorded by its election, never
            // changed after it, and the working list never holds anyone outside it.
            let seats: Vec<u128> = l
                .round_set((n + 1 - 1) / 4 + 1)
                .expect("round set")
                .iter()
                .map(|s| s.node_id)
                .collect();
            assert_eq!(seats.len(), 4, "block {n}: round set {seats:?}");
            let working = l.validators().expect("v");
            assert!(
                working.iter().all(|v| seats.contains(v)) || n % 4 != 0,
                "block {n}: {working:?} outside {seats:?}"
            );
            if let Some((_, _, _, prev, prev_n, _, _)) = history.last() {
                if (prev_n + 1 - 1) / 4 == (n + 1 - 1) / 4 {
                    assert_eq!(prev, &seats, "block {n}: a round's set changed");
                }
            }
            let records = (1..=10u128).map(|i| l.candidate(i).expect("c")).collect();
            let epoch = l.epoch().expect("e");
            let balances = watch
                .iter()
                .map(|w| s.account(w).expect("acct").balance)
                .collect();
            history.push((
                parent.state_root,
                working,
                epoch,
                seats,
                n,
                balances,
                records,
            ));
            assert_eq!(total(&state_of(&parent)), supply, "block {n}");
        }
        history
    };
    // Elected at the round's last block, and (as CBFT needs) two blocks before it.
    for distance in [0u64, 2] {
        let rt = SystemRuntime::new(
            &platon_vm::Revm,
            SystemContext {
                schedule: Some(Schedule {
                    round_blocks: 4,
                    epoch_rounds: 3,
                    seats: 4,
                    max_verifiers: 10,
                    block_reward: lat(2),
                    staking_reward: lat(100),
                    idle_penalty: lat(50),
                    election_distance: distance,
                }),
                ..Default::default()
            },
        );
        let a = run(&rt, true);
        let b = run(&rt, true);
        assert_eq!(
            a, b,
            "a second node computes the same chain state and elections"
        );
        // The earlier design, side by side: the same elections, rewards and penalties, block by
        // block (only the state roots differ, as the data lives elsewhere).
        let trie = run(&rt, false);
        let strip = |h: &[Step]| -> Vec<Step> {
            h.iter()
                .map(|s| {
                    let mut s = s.clone();
                    s.0 = Default::default();
                    s
                })
                .collect()
        };
        assert_eq!(
            strip(&a),
            strip(&trie),
            "snapshotdb and the trie design elect, pay and penalize alike"
        );
        assert_ne!(a.last().expect("last").0, trie.last().expect("last").0);
        // Epochs settle every 12 blocks.
        assert_eq!(a.last().expect("last").2, 6);
        // Rounds rotate within the cap (one seat, or more only when someone must leave).
        let mut changes = 0;
        let mut seen = std::collections::BTreeSet::new();
        for w in a.windows(2) {
            let entered = w[1].1.iter().filter(|v| !w[0].1.contains(v)).count();
            let forced = w[0]
                .1
                .iter()
                .filter(|v| !w[1].1.contains(v) && **v == 7)
                .count();
            // (A seat the idle validator already left counts as forced too.)
            let empty = 4usize.saturating_sub(w[0].1.len());
            assert!(
                entered <= 1 + forced + empty,
                "{:?} -> {:?}",
                w[0].1,
                w[1].1
            );
            changes += entered;
            seen.extend(w[1].1.iter().copied());
        }
        assert!(changes >= 8, "the set rotates: {changes}");
        assert!(seen.len() >= 7, "many candidates served: {seen:?}");
        assert!(
            a.iter().any(|h| h.1.contains(&7)),
            "the idle candidate was elected at some point"
        );
        // The idle validator was penalized once it had a round without a block, and left.
        let last = a.last().expect("last");
        if let Some(c7) = &last.6[6] {
            assert_eq!(c7.status, Status::LowRatio);
        }
        assert!(!last.1.contains(&7));
        // Producers were paid.
        let paid: U256 = last.5[..10].iter().fold(U256::ZERO, |x, y| x + y);
        assert!(paid > lat(500), "rewards paid: {paid}");
    }
}

/// Two nodes execute the same blocks, each with its staking data in its own on-disk snapshotdb
/// (RocksDB base, WAL). Corrupting one node's snapshotdb (a block count in its base, not a byte of
/// its trie) makes the next block that writes that count execute to another state root there: the
/// header hash differs, which is how CBFT's validation refuses the proposal.
#[test]
fn a_node_whose_snapshotdb_diverged_computes_another_state_root() {
    use alloy_primitives::Bytes;

    use platon_messages::actors::BlockEnv;
    use platon_messages::block::EMPTY_ROOT;
    use platon_messages::Header;
    use platon_storage::snapshotdb::view::EmptySnapshot;
    use platon_storage::snapshotdb::{base_key, BlockRef, SharedSnapshot, SnapshotDb};
    use platon_storage::trie::MemoryNodes;
    use platon_storage::{Account, Durability, KeyValueStore, RocksStore, StateDb, WriteBatch};

    use platon_vm::ppos::staking::{seal_snapshot, Candidate, Ledger, SNAPSHOT_PREFIX};
    use platon_vm::system::{Schedule, STAKING};
    use platon_vm::{execute_block, NoHashes, SystemContext, SystemRuntime};
    use std::sync::Arc;

    let candidates: Vec<Candidate> = (1..=4u128).map(|i| candidate(i, lat(100_000))).collect();
    let store = Arc::new(MemoryNodes::default());
    let mut g = StateDb::at_root(EMPTY_ROOT, store.clone()).with_snapshot(Arc::new(EmptySnapshot));
    g.set_account(
        STAKING,
        Account {
            balance: lat(400_000),
            ..Default::default()
        },
    );
    Ledger {
        state: &mut g,
        contract: STAKING,
    }
    .genesis(&candidates, &[1, 2, 3, 4], 4)
    .expect("genesis");
    let genesis_data = seal_snapshot(&mut g).expect("seal");
    let (root, nodes) = g.commit().expect("commit");
    store.insert(nodes, vec![]);
    let genesis = genesis_header(root);
    let rt = SystemRuntime::new(
        &platon_vm::Revm,
        SystemContext {
            schedule: Some(Schedule {
                round_blocks: 8,
                epoch_rounds: 3,
                seats: 4,
                max_verifiers: 4,
                block_reward: lat(2),
                staking_reward: lat(100),
                idle_penalty: lat(50),
                election_distance: 2,
            }),
            ..Default::default()
        },
    );
    // Each node: a RocksDB base holding the genesis data and a WAL in its own folder.
    struct Node {
        _dir: tempfile::TempDir,
        kv: Arc<dyn KeyValueStore>,
        db: SharedSnapshot,
    }
    let node = || {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> =
            Arc::new(RocksStore::open(&dir.path().join("kv")).expect("rocksdb"));
        write_base(kv.as_ref(), &genesis_data);
        let (db, _) = SnapshotDb::open(
            &dir.path().join("snapshot"),
            kv.clone(),
            BlockRef {
                number: 0,
                hash: genesis.hash(),
            },
        )
        .expect("open");
        let shared = SharedSnapshot::default();
        shared.install(Some(db));
        Node {
            _dir: dir,
            kv,
            db: shared,
        }
    };
    let (a, b) = (node(), node());
    let exec = |n: &Node, parent: &Header, number: u64| {
        let state = StateDb::at_root(parent.state_root, store.clone())
            .with_snapshot(n.db.at(parent.hash()));
        let env = BlockEnv {
            number,
            timestamp: number,
            beneficiary: benefit(1 + (number as u128 - 1) % 4),
            gas_limit: 30_000_000,
            base_fee: platon_vm::next_base_fee(parent),
            prev_randao: keccak256(number.to_be_bytes()),
            chain_id: 1,
        };
        let done = execute_block(&rt, &NoHashes, state, parent, &env, vec![], Bytes::new())
            .expect("block");
        let h = &done.block.header;
        n.db.write(|d| {
            d.commit_block(number, h.parent_hash, done.block.hash(), &done.snapshot)?;
            d.sync()?;
            d.compact(0)
        })
        .expect("commit");
        done
    };
    let mut parent = genesis.clone();
    for number in 1..=4u64 {
        let (x, y) = (exec(&a, &parent, number), exec(&b, &parent, number));
        assert!(!x.snapshot.is_empty(), "block {number} counts its producer");
        assert_eq!(
            x.block.hash(),
            y.block.hash(),
            "block {number}: the nodes agree"
        );
        store.insert(x.state_nodes.clone(), vec![]);
        parent = x.block.header;
    }
    // Block 5 is candidate 1's; corrupt its block count in node b's base (everything is compacted).
    let key = [SNAPSHOT_PREFIX, b"produced:", &1u128.to_be_bytes()].concat();
    let base = base_key(&key);
    let counted =
        b.kv.get(&base)
            .expect("read")
            .expect("candidate 1 produced block 1");
    assert_eq!(counted, 1u64.to_be_bytes().to_vec());
    let mut batch = WriteBatch::new();
    batch.put(base, 1000u64.to_be_bytes().to_vec());
    b.kv.write(batch, Durability::Sync).expect("corrupt");
    let (x, y) = (exec(&a, &parent, 5), exec(&b, &parent, 5));
    assert_eq!(
        x.snapshot.get(&key),
        Some(&Some(2u64.to_be_bytes().to_vec()))
    );
    assert_eq!(
        y.snapshot.get(&key),
        Some(&Some(1001u64.to_be_bytes().to_vec()))
    );
    assert_ne!(
        x.block.header.state_root, y.block.header.state_root,
        "the diverged snapshotdb gives another state root"
    );
    assert_ne!(x.block.hash(), y.block.hash(), "so b refuses a's block 5");
}
