//! Block execution throughput in Mgas/s, our executor beside raw `revm` in the same run (not part of
//! the test suite):
//!
//! ```sh
//! scripts/bench-evm.sh            # 1,000 ERC-20 transfers; 20 compute-heavy calls
//! scripts/bench-evm.sh 5000 50    # other sizes
//! ```
//!
//! The contracts are the client tests' Solidity (`integration/tests/contracts`), compiled by solc-js
//! (`node integration/tests/js/compile.mjs`, so `npm ci --prefix integration/tests/js` first).
//!
//! For each workload the same signed transactions run on the same pre-state three ways:
//! 1. `execute_block` on revm: the node's executor, sealing the block (state root, receipts root).
//! 2. The executor's execution alone (`Runtime::transact_block` on a `StateDb`, no roots, no sealing).
//! 3. Raw `revm` over its own in-memory `CacheDB`, `transact_commit` per transaction, no trie at all.
//! 4. `execute_block` on the second engine (rust-ethereum `evm`).
//!
//! Gas used must agree across all four, and the two engines' state and receipts roots; the ratios show
//! the executor's own overhead and the second engine's speed.

use alloy_primitives::{Address, Bytes, B256, U256};
use platon_crypto::SecretKey;
use platon_messages::actors::BlockEnv;
use platon_messages::block::{EMPTY_OMMERS_HASH, EMPTY_ROOT};
use platon_messages::{Header, SignedTransaction, TxBody, TxKind};
use platon_storage::trie::MemoryNodes;
use platon_storage::{Account, StateDb};
use platon_vm::revm_engine::{block_env, cfg_env, tx_env};
use platon_vm::{execute_block, ExecOptions, Message, NoHashes, Revm, Runtime, RustEvm};
use revm::database::{CacheDB, EmptyDB};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

const GWEI: u64 = 1_000_000_000;
const CHAIN: u64 = 1337;

fn compiled() -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../integration/tests/js/compile.mjs"
    );
    let out = std::process::Command::new("node")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("node {script}: {e} (install Node.js and run `npm ci --prefix integration/tests/js`)"));
    assert!(
        out.status.success(),
        "compile.mjs failed (run `npm ci --prefix integration/tests/js`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("compiled JSON")
}

fn hex_bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex").trim_start_matches("0x")).expect("hex")
}

fn word(x: U256) -> [u8; 32] {
    x.to_be_bytes()
}

fn addr_word(a: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a.as_slice());
    w
}

fn selector(sig: &str) -> [u8; 4] {
    let h = alloy_primitives::keccak256(sig.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

fn tx(key: &SecretKey, nonce: u64, to: TxKind, input: Vec<u8>, gas: u64) -> SignedTransaction {
    TxBody::DynamicFee {
        chain_id: CHAIN,
        nonce,
        max_priority_fee_per_gas: U256::from(GWEI),
        max_fee_per_gas: U256::from(100 * GWEI),
        gas_limit: gas,
        to,
        value: U256::ZERO,
        input: Bytes::from(input),
        access_list: vec![],
    }
    .sign(key)
}

fn env(number: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: number,
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: 2_000_000_000,
        base_fee: 7,
        prev_randao: B256::ZERO,
        chain_id: CHAIN,
    }
}

fn parent(number: u64) -> Header {
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary: Address::ZERO,
        state_root: EMPTY_ROOT,
        transactions_root: EMPTY_ROOT,
        receipts_root: EMPTY_ROOT,
        logs_bloom: Default::default(),
        difficulty: U256::ZERO,
        number,
        gas_limit: 2_000_000_000,
        gas_used: 0,
        timestamp: number,
        extra_data: Bytes::new(),
        mix_hash: B256::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: 7,
    }
}

/// The pre-state: `key` funded, its setup transactions (deployments) executed and committed.
fn pre_state(key: &SecretKey, setup: &[SignedTransaction]) -> (StateDb, Vec<Address>) {
    let nodes = Arc::new(MemoryNodes::default());
    let mut state = StateDb::at_root(EMPTY_ROOT, nodes.clone());
    state.set_account(
        key.address(),
        Account {
            balance: U256::from(10u64).pow(U256::from(24u64)),
            ..Default::default()
        },
    );
    let (root, n) = state.commit().expect("commit");
    nodes.insert(n, vec![]);
    let out = execute_block(
        &Revm,
        &NoHashes,
        StateDb::at_root(root, nodes.clone()),
        &parent(0),
        &env(1),
        setup.to_vec(),
        Bytes::new(),
    )
    .expect("setup block");
    assert!(
        out.rejected.is_empty(),
        "setup rejected: {:?}",
        out.rejected
    );
    let created = out
        .receipts
        .iter()
        .map(|r| {
            assert!(r.success, "setup transaction failed");
            r.contract_address.unwrap_or_default()
        })
        .collect();
    nodes.insert(out.state_nodes, out.codes);
    (
        StateDb::at_root(out.block.header.state_root, nodes),
        created,
    )
}

fn mgas(gas: u64, secs: f64) -> f64 {
    gas as f64 / secs / 1e6
}

/// Runs `f` three times and keeps the fastest (the first run also warms caches).
fn best_of_3<T>(mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best: Option<(T, f64)> = None;
    for _ in 0..3 {
        let t = Instant::now();
        let v = f();
        let secs = t.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(_, b)| secs < *b) {
            best = Some((v, secs));
        }
    }
    best.expect("three runs")
}

fn measure(
    name: &str,
    key: &SecretKey,
    setup: Vec<SignedTransaction>,
    work: Vec<SignedTransaction>,
) {
    let (state, _) = pre_state(key, &setup);

    // 1. The executor, sealing the block.
    let (sealed, sealed_secs) = best_of_3(|| {
        execute_block(
            &Revm,
            &NoHashes,
            state.clone(),
            &parent(1),
            &env(2),
            work.clone(),
            Bytes::new(),
        )
        .expect("execute")
    });
    assert!(sealed.rejected.is_empty(), "{:?}", sealed.rejected);
    assert!(
        sealed.receipts.iter().all(|r| r.success),
        "a workload transaction failed"
    );
    let gas = sealed.block.header.gas_used;

    // 2. The per-transaction path alone.
    let msgs: Vec<Message> = work
        .iter()
        .map(|t| Message::from_tx(t).expect("message"))
        .collect();
    let e = env(2);
    let block_msgs: Vec<_> = msgs.iter().cloned().map(Ok).collect();
    let (path_gas, path_secs) = best_of_3(|| {
        let mut s = state.clone();
        Revm.transact_block(&mut s, &NoHashes, &e, &block_msgs)
            .expect("io")
            .into_iter()
            .map(|r| r.expect("valid").gas_used)
            .sum::<u64>()
    });
    assert_eq!(path_gas, gas);

    // 3. Raw revm on its own in-memory database with the same pre-state.
    let mut db = CacheDB::new(EmptyDB::new());
    db.insert_account_info(
        key.address(),
        revm::state::AccountInfo {
            balance: U256::from(10u64).pow(U256::from(24u64)),
            ..Default::default()
        },
    );
    let mut raw_setup = Context::mainnet()
        .with_db(&mut db)
        .with_block(block_env(&env(1)))
        .with_cfg(cfg_env(CHAIN, ExecOptions::BLOCK))
        .build_mainnet();
    for t in &setup {
        let r = raw_setup
            .transact_commit(tx_env(&Message::from_tx(t).expect("message")))
            .expect("raw setup");
        assert!(r.is_success());
    }
    drop(raw_setup);
    let (raw_gas, raw_secs) = best_of_3(|| {
        // Each run starts from the same pre-state.
        let mut run_db = db.clone();
        let mut raw = Context::mainnet()
            .with_db(&mut run_db)
            .with_block(block_env(&env(2)))
            .with_cfg(cfg_env(CHAIN, ExecOptions::BLOCK))
            .build_mainnet();
        let txs: Vec<_> = msgs.iter().map(tx_env).collect();
        let mut raw_gas = 0;
        for tx in txs {
            let r = raw.transact_commit(tx).expect("raw");
            raw_gas += r.gas().tx_gas_used();
        }
        raw_gas
    });
    assert_eq!(raw_gas, gas, "raw revm and the executor disagree on gas");

    // 4. The executor on the second engine: same block, same roots required.
    let (other, other_secs) = best_of_3(|| {
        execute_block(
            &RustEvm,
            &NoHashes,
            state.clone(),
            &parent(1),
            &env(2),
            work.clone(),
            Bytes::new(),
        )
        .expect("execute on evm")
    });
    assert_eq!(
        other.block.header.gas_used, gas,
        "the engines disagree on gas"
    );
    assert_eq!(
        other.block.header.state_root, sealed.block.header.state_root,
        "the engines disagree on the state root"
    );
    assert_eq!(
        other.block.header.receipts_root,
        sealed.block.header.receipts_root
    );

    let raw_rate = mgas(gas, raw_secs);
    println!("{name}: {} transactions, {gas} gas", work.len());
    println!(
        "  raw revm (CacheDB, no trie)          {:>9.1} Mgas/s  {:>8.2} ms",
        raw_rate,
        raw_secs * 1e3
    );
    println!(
        "  executor, execution only (revm)      {:>9.1} Mgas/s  {:>8.2} ms  ratio {:.2}",
        mgas(gas, path_secs),
        path_secs * 1e3,
        mgas(gas, path_secs) / raw_rate
    );
    println!(
        "  execute_block (+ state root, seal)   {:>9.1} Mgas/s  {:>8.2} ms  ratio {:.2}",
        mgas(gas, sealed_secs),
        sealed_secs * 1e3,
        mgas(gas, sealed_secs) / raw_rate
    );
    println!(
        "  execute_block on rust-ethereum evm   {:>9.1} Mgas/s  {:>8.2} ms  ratio {:.2}",
        mgas(gas, other_secs),
        other_secs * 1e3,
        mgas(gas, other_secs) / raw_rate
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let transfers = args.first().copied().unwrap_or(1_000);
    let heavy = args.get(1).copied().unwrap_or(20);
    let c = compiled();
    let key = SecretKey::from_bytes(&[7u8; 32]).expect("key");

    // ERC-20: deploy, then `transfers` transfers to distinct recipients.
    let mut init = hex_bytes(&c["Token"]["bytecode"]);
    let args = {
        // constructor(string name, string symbol, uint256 supply)
        let mut a = Vec::new();
        a.extend(word(U256::from(96)));
        a.extend(word(U256::from(160)));
        a.extend(word(U256::from(10u64).pow(U256::from(24u64))));
        for s in ["Bench", "BEN"] {
            a.extend(word(U256::from(s.len())));
            let mut w = [0u8; 32];
            w[..s.len()].copy_from_slice(s.as_bytes());
            a.extend(w);
        }
        a
    };
    init.extend(args);
    let deploy = tx(&key, 0, TxKind::Create, init, 3_000_000);
    let token = key.address().create(0);
    let sel = selector("transfer(address,uint256)");
    let work: Vec<_> = (0..transfers as u64)
        .map(|i| {
            let mut input = sel.to_vec();
            input.extend(addr_word(Address::with_last_byte(0).create(i + 1)));
            input.extend(word(U256::from(1000 + i)));
            tx(&key, i + 1, TxKind::Call(token), input, 100_000)
        })
        .collect();
    measure("ERC-20 transfers", &key, vec![deploy], work);

    // Compute-heavy: Registry.work(20000) (20,000 keccak rounds each).
    let deploy = tx(
        &key,
        0,
        TxKind::Create,
        hex_bytes(&c["Registry"]["bytecode"]),
        3_000_000,
    );
    let registry = key.address().create(0);
    let mut input = selector("work(uint256)").to_vec();
    input.extend(word(U256::from(20_000)));
    let work: Vec<_> = (0..heavy as u64)
        .map(|i| {
            tx(
                &key,
                i + 1,
                TxKind::Call(registry),
                input.clone(),
                30_000_000,
            )
        })
        .collect();
    measure(
        "compute (20,000 keccak rounds per call)",
        &key,
        vec![deploy],
        work,
    );
}
