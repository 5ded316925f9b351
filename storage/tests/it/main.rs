//! Conformance of the Merkle Patricia trie against the Ethereum TrieTests (read in place), persisted
//! through RocksDB and through ParityDB and reread from the root; and chain store checks.

use alloy_primitives::{keccak256, B256};
use platon_storage::trie::{NodeReader, Trie};
use platon_storage::{Durability, KeyValueStore, RocksStore, WriteBatch};
use serde_json::Value;
use std::sync::Arc;

use platon_crypto::conformance::conformance;

fn bytes(v: &Value, hex_keys: bool) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::String(s) if s.starts_with("0x") || hex_keys => {
            Some(hex::decode(s.trim_start_matches("0x")).expect("hex"))
        }
        Value::String(s) => Some(s.as_bytes().to_vec()),
        other => panic!("unexpected {other}"),
    }
}

/// A node reader over an on-disk store, so every case also round-trips through the disk.
struct Disk(Box<dyn KeyValueStore>);
impl NodeReader for Disk {
    fn node(&self, hash: &B256) -> platon_storage::Result<Option<Vec<u8>>> {
        self.0.get(hash.as_slice())
    }
}

/// Runs a TrieTests file through RocksDB and through ParityDB; returns the cases per backend.
fn run_file(file: &str, secure: bool, hex_everything: bool) -> usize {
    let rocks = run_file_on(file, secure, hex_everything, |p| {
        Box::new(RocksStore::open(p).expect("rocksdb"))
    });
    let parity = run_file_on(file, secure, hex_everything, |p| {
        Box::new(platon_storage::ParityStore::open(p).expect("paritydb"))
    });
    assert_eq!(rocks, parity);
    rocks
}

fn run_file_on(
    file: &str,
    secure: bool,
    hex_everything: bool,
    open: impl Fn(&std::path::Path) -> Box<dyn KeyValueStore>,
) -> usize {
    let Some(dir) = conformance("TrieTests") else {
        return 0;
    };
    let text = std::fs::read_to_string(dir.join(file)).expect("read");
    let v: Value = serde_json::from_str(&text).expect("json");
    let tmp = tempfile::tempdir().expect("tmp");
    let disk = Arc::new(Disk(open(tmp.path())));
    let mut n = 0;
    for (name, case) in v.as_object().expect("object") {
        let pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = match &case["in"] {
            Value::Array(a) => a
                .iter()
                .map(|p| (bytes(&p[0], false).unwrap_or_default(), bytes(&p[1], false)))
                .collect(),
            Value::Object(o) => o
                .iter()
                .map(|(k, v)| {
                    (
                        bytes(&Value::String(k.clone()), hex_everything).unwrap_or_default(),
                        bytes(v, hex_everything),
                    )
                })
                .collect(),
            other => panic!("{name}: unexpected input {other}"),
        };
        let mut t = Trie::new(disk.clone());
        for (k, val) in &pairs {
            let key = if secure {
                keccak256(k).to_vec()
            } else {
                k.clone()
            };
            match val {
                Some(val) => t.insert(&key, val.clone()).expect("insert"),
                None => t.remove(&key).expect("remove"),
            }
        }
        let (root, nodes) = t.commit();
        let want = case["root"].as_str().expect("root");
        assert_eq!(format!("{root:#x}"), want, "{file} {name}");
        // Persist, reopen from the root alone, and read every live key back.
        let mut b = WriteBatch::new();
        for (h, enc) in nodes {
            b.put(h.to_vec(), enc);
        }
        disk.0.write(b, Durability::Buffered).expect("write");
        let reopened = Trie::at_root(root, disk.clone());
        let mut live = std::collections::BTreeMap::new();
        for (k, val) in &pairs {
            let key = if secure {
                keccak256(k).to_vec()
            } else {
                k.clone()
            };
            match val {
                Some(v) if !v.is_empty() => live.insert(key, v.clone()),
                _ => live.remove(&key),
            };
        }
        for (k, v) in &live {
            assert_eq!(
                reopened.get(k).expect("get").as_ref(),
                Some(v),
                "{file} {name}: reread"
            );
        }
        assert_eq!(
            reopened.entries().expect("entries").len(),
            live.len(),
            "{file} {name}: entries"
        );
        n += 1;
    }
    n
}

#[test]
fn trietest() {
    assert!(run_file("trietest.json", false, false) > 0 || conformance("TrieTests").is_none());
}

#[test]
fn trieanyorder() {
    assert!(run_file("trieanyorder.json", false, false) > 0 || conformance("TrieTests").is_none());
}

#[test]
fn trietest_secure() {
    assert!(
        run_file("trietest_secureTrie.json", true, false) > 0 || conformance("TrieTests").is_none()
    );
}

#[test]
fn trieanyorder_secure() {
    assert!(
        run_file("trieanyorder_secureTrie.json", true, false) > 0
            || conformance("TrieTests").is_none()
    );
}

#[test]
fn hex_encoded_secure() {
    assert!(
        run_file("hex_encoded_securetrie_test.json", true, true) > 0
            || conformance("TrieTests").is_none()
    );
}

#[test]
fn next_and_previous_keys_follow_trie_order() {
    let Some(dir) = conformance("TrieTests") else {
        return;
    };
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("trietestnextprev.json")).expect("read"),
    )
    .expect("json");
    for (name, case) in v.as_object().expect("object") {
        let mut t = Trie::new(Arc::new(platon_storage::trie::NoNodes));
        for k in case["in"].as_array().expect("in") {
            let k = k.as_str().expect("key");
            t.insert(k.as_bytes(), k.as_bytes().to_vec())
                .expect("insert");
        }
        let keys: Vec<Vec<u8>> = t
            .entries()
            .expect("entries")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for test in case["tests"].as_array().expect("tests") {
            let probe = test[0].as_str().expect("probe").as_bytes();
            let prev = keys
                .iter()
                .rev()
                .find(|k| k.as_slice() < probe)
                .cloned()
                .unwrap_or_default();
            let next = keys
                .iter()
                .find(|k| k.as_slice() > probe)
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                prev,
                test[1].as_str().expect("prev").as_bytes(),
                "{name}: prev of {:?}",
                test[0]
            );
            assert_eq!(
                next,
                test[2].as_str().expect("next").as_bytes(),
                "{name}: next of {:?}",
                test[0]
            );
        }
    }
}

/// Commits an empty block with state `root` (and its new `nodes`) on top of `parent`.
fn commit_child(
    store: &platon_storage::ChainStore,
    parent: &platon_messages::Block,
    root: B256,
    nodes: platon_storage::trie::TrieNodes,
) -> platon_storage::Result<()> {
    let mut header = parent.header.clone();
    header.parent_hash = parent.hash();
    header.number = parent.header.number + 1;
    header.state_root = root;
    let block = platon_messages::Block {
        header,
        transactions: vec![],
    };
    store.commit_block(&platon_messages::ExecutedBlock {
        block,
        receipts: vec![],
        state_nodes: nodes,
        codes: vec![],
        rejected: vec![],
        snapshot: Default::default(),
    })
}

#[test]
fn chain_check_verifies_every_retained_state_root() {
    use alloy_primitives::{Address, U256};
    use platon_storage::chain::GenesisSpec;
    use platon_storage::{Account, ChainStore, MemoryStore};
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let who = Address::repeat_byte(7);
    let genesis = GenesisSpec {
        chain_id: 1,
        alloc: vec![
            (who, U256::from(100)),
            (Address::repeat_byte(8), U256::from(5)),
        ],
        gas_limit: 30_000_000,
        base_fee: 7,
        timestamp: 0,
        extra_data: Default::default(),
        storage: vec![],
        snapshot: vec![],
    };
    let store = ChainStore::open(kv.clone(), &genesis).expect("open");
    let g = store.head().expect("head");
    let mut state = store.state_at(g.header.state_root);
    state.set_account(
        who,
        Account {
            balance: U256::from(1),
            ..Default::default()
        },
    );
    let (root, nodes) = state.commit().expect("commit");
    commit_child(&store, &g, root, nodes).expect("block 1");
    let (blocks, checked) = store.check().expect("clean");
    assert_eq!(blocks, 2);
    assert!(checked >= 2, "both roots' nodes were checked");
    // Remove the genesis state root node: only block 0's state needs it, and check finds it.
    let mut key = vec![b'n'];
    key.extend_from_slice(g.header.state_root.as_slice());
    let mut b = WriteBatch::new();
    b.delete(key);
    kv.write(b, Durability::Sync).expect("delete");
    let err = store.check().expect_err("missing node in an old root");
    assert!(err.to_string().contains("state of block 0"), "{err}");
}

#[test]
fn full_mode_keeps_exactly_the_nodes_of_retained_states() {
    let tmp = tempfile::tempdir().expect("tmp");
    full_mode_on(Arc::new(platon_storage::MemoryStore::new()));
    full_mode_on(Arc::new(
        RocksStore::open(&tmp.path().join("rocks")).expect("rocksdb"),
    ));
    full_mode_on(Arc::new(
        platon_storage::ParityStore::open(&tmp.path().join("parity")).expect("paritydb"),
    ));
}

fn full_mode_on(kv: Arc<dyn KeyValueStore>) {
    use alloy_primitives::{Address, U256};
    use platon_storage::chain::{GenesisSpec, StateMode};
    use platon_storage::{ChainStore, StorageError};
    let accounts: Vec<Address> = (1..=40u8).map(Address::repeat_byte).collect();
    let genesis = GenesisSpec {
        chain_id: 1,
        alloc: accounts.iter().map(|a| (*a, U256::from(1_000))).collect(),
        gas_limit: 30_000_000,
        base_fee: 7,
        timestamp: 0,
        extra_data: Default::default(),
        storage: vec![],
        snapshot: vec![],
    };
    let retain = 3;
    let store =
        ChainStore::open_with_mode(kv.clone(), &genesis, StateMode::Full { retain }).expect("open");
    let mut roots = vec![store.head().expect("head").header.state_root];
    for n in 1..=12u64 {
        let head = store.head().expect("head");
        let mut state = store.state_at(head.header.state_root);
        // Contract storage too: slots written, rewritten and cleared across blocks.
        let contract = accounts[(n % 3) as usize];
        state.set_storage(contract, B256::from(U256::from(n % 5)), U256::from(n));
        if n % 6 == 0 {
            state.set_storage(contract, B256::from(U256::from(1u64)), U256::ZERO);
        }
        // Touch a few accounts per block; every fourth block changes no account fields.
        if n % 4 != 0 {
            for a in accounts.iter().skip((n as usize * 3) % 40).take(5) {
                let mut acct = state.account(a).expect("read");
                acct.balance += U256::from(n);
                acct.nonce += 1;
                state.set_account(*a, acct);
            }
        }
        let (root, nodes) = state.commit().expect("commit");
        commit_child(&store, &head, root, nodes).expect("commit block");
        roots.push(root);
    }
    // The stored nodes are exactly those reachable from the last `retain` state roots, storage tries
    // included (verify follows the storage roots in account leaves).
    assert_ne!(
        store
            .state_at(roots[12])
            .account(&accounts[0])
            .expect("a")
            .storage_root,
        platon_messages::block::EMPTY_ROOT
    );
    let mut reachable = std::collections::HashSet::new();
    for root in &roots[roots.len() - retain as usize..] {
        store
            .state_at(*root)
            .verify_skipping(&mut reachable)
            .expect("retained state is complete");
    }
    let mut stored = std::collections::HashSet::new();
    kv.for_each_prefix(b"n", &mut |k, _| {
        stored.insert(B256::from_slice(&k[1..]));
        true
    })
    .expect("walk");
    assert_eq!(
        stored, reachable,
        "pruning deleted exactly the unreachable nodes"
    );
    let mut counted = 0;
    kv.for_each_prefix(b"c", &mut |k, _| {
        assert!(
            stored.contains(&B256::from_slice(&k[1..])),
            "a reference count without its node"
        );
        counted += 1;
        true
    })
    .expect("walk");
    assert_eq!(counted, stored.len());
    let (hits, misses) = store.node_cache().stats();
    assert!(
        hits > 0 && misses > 0,
        "reads go through the node cache ({hits} hits, {misses} misses)"
    );
    // An old state is gone, with a clear error (its cached nodes were evicted); the recent ones read.
    let old = store.state_at(roots[2]).account(&accounts[9]);
    assert!(matches!(old, Err(StorageError::MissingNode(_))), "{old:?}");
    assert!(store.state_at(roots[12]).account(&accounts[9]).is_ok());
    store.check().expect("db check covers the retained window");
    // The mode is part of the store.
    let err = ChainStore::open(kv, &genesis).expect_err("archive on a full store");
    assert!(err.to_string().contains("full:3"), "{err}");
}

#[test]
fn an_abandoned_fork_leaves_the_retained_parent_state_to_build_on() {
    use alloy_primitives::{Address, U256};
    use platon_storage::chain::{GenesisSpec, StateMode};
    use platon_storage::{ChainStore, MemoryStore};
    for mode in [StateMode::Archive, StateMode::Full { retain: 2 }] {
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let who = Address::repeat_byte(3);
        let genesis = GenesisSpec {
            chain_id: 1,
            alloc: vec![(who, U256::from(50))],
            gas_limit: 30_000_000,
            base_fee: 7,
            timestamp: 0,
            extra_data: Default::default(),
            storage: vec![],
            snapshot: vec![],
        };
        let store = ChainStore::open_with_mode(kv, &genesis, mode).expect("open");
        let parent = store.head().expect("head");
        // Two competing children of the same parent, executed in memory; only A is committed.
        let child = |balance: u64| {
            let mut s = store.state_at(parent.header.state_root);
            let mut a = s.account(&who).expect("read");
            a.balance = U256::from(balance);
            s.set_account(who, a);
            s.commit().expect("commit")
        };
        let (root_a, nodes_a) = child(10);
        let (root_b, _nodes_b) = child(20);
        assert_ne!(root_a, root_b);
        commit_child(&store, &parent, root_a, nodes_a).expect("commit A");
        // B's state was never written; the parent's state is still there to build on again.
        assert!(
            store.state_at(root_b).account(&who).is_err(),
            "{mode:?}: the abandoned block left nothing behind"
        );
        let reverted = store.state_at(parent.header.state_root);
        assert_eq!(
            reverted.account(&who).expect("parent state").balance,
            U256::from(50),
            "{mode:?}"
        );
        assert_eq!(
            store
                .state_at(root_a)
                .account(&who)
                .expect("head state")
                .balance,
            U256::from(10)
        );
    }
}

/// A committed block's senders are stored beside it and read back with it: `block_by_hash` does
/// not recover the signatures again (a marker written over the stored senders comes back as the
/// sender), and a store without them (written before they were kept) still recovers each one.
#[test]
fn committed_blocks_keep_their_senders() {
    use alloy_primitives::{Address, Bytes, U256};
    use platon_messages::{TxBody, TxKind};
    use platon_storage::chain::GenesisSpec;
    use platon_storage::{ChainStore, MemoryStore};
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
    let genesis = GenesisSpec {
        chain_id: 1,
        alloc: vec![],
        gas_limit: 30_000_000,
        base_fee: 7,
        timestamp: 0,
        extra_data: Default::default(),
        storage: vec![],
        snapshot: vec![],
    };
    let store = ChainStore::open(kv.clone(), &genesis).expect("open");
    let g = store.head().expect("head");
    let key = platon_crypto::SecretKey::from_bytes(&[9u8; 32]).expect("key");
    let txs: Vec<_> = (0..3u64)
        .map(|n| {
            TxBody::DynamicFee {
                chain_id: 1,
                nonce: n,
                max_priority_fee_per_gas: U256::from(1),
                max_fee_per_gas: U256::from(100),
                gas_limit: 21_000,
                to: TxKind::Call(Address::repeat_byte(1)),
                value: U256::from(1),
                input: Bytes::new(),
                access_list: vec![],
            }
            .sign(&key)
        })
        .collect();
    let mut header = g.header.clone();
    header.parent_hash = g.hash();
    header.number = 1;
    header.transactions_root = platon_storage::trie::ordered_root(
        &txs.iter().map(|t| t.encoded.to_vec()).collect::<Vec<_>>(),
    );
    header.receipts_root = platon_storage::trie::ordered_root(&[]);
    let block = platon_messages::Block {
        header,
        transactions: txs.clone(),
    };
    let hash = block.hash();
    store
        .commit_block(&platon_messages::ExecutedBlock {
            block: block.clone(),
            receipts: vec![],
            state_nodes: Default::default(),
            codes: vec![],
            rejected: vec![],
            snapshot: Default::default(),
        })
        .expect("commit");
    assert_eq!(
        store.block_by_hash(&hash).expect("read"),
        Some(block.clone())
    );
    let mut senders_key = vec![platon_storage::chain::keys::SENDERS];
    senders_key.extend_from_slice(hash.as_slice());
    assert_eq!(
        kv.get(&senders_key).expect("get"),
        Some(
            txs.iter()
                .flat_map(|t| t.sender.into_array())
                .collect::<Vec<u8>>()
        )
    );
    let marker = Address::repeat_byte(0xee);
    let mut b = WriteBatch::new();
    b.put(senders_key.clone(), [marker.as_slice(); 3].concat());
    kv.write(b, Durability::Sync).expect("marker");
    let read = store.block_by_hash(&hash).expect("read").expect("block");
    assert!(read.transactions.iter().all(|t| t.sender == marker));
    let mut b = WriteBatch::new();
    b.delete(senders_key);
    kv.write(b, Durability::Sync).expect("delete");
    assert_eq!(store.block_by_hash(&hash).expect("read"), Some(block));
}
