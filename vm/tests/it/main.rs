//! EVM conformance: every Shanghai case of the VMTests (state-test form, read in place) runs through the
//! node's block executor ([`platon_vm::execute_block`]) on a committed [`StateDb`], on each engine;
//! the post-state root and the logs hash must match.

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use platon_messages::actors::BlockEnv;
use platon_messages::block::{logs_hash, EMPTY_OMMERS_HASH, EMPTY_ROOT};
use platon_messages::transaction::TxRules;
use platon_messages::{Header, SignedTransaction};
use platon_storage::trie::MemoryNodes;
use platon_storage::{Account, StateDb};
use platon_vm::{execute_block, BlockHashes, Runtime};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

mod differential;
mod fuzz_corpus;
mod ppos;
mod precompiles;
mod sdk;
mod staking;
mod system;
mod vc;
mod wasm;
mod wasm_fuzz;
mod wasm_spec;

use platon_crypto::conformance::conformance;

fn hex_bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string").trim_start_matches("0x")).expect("hex")
}

fn u256(v: &Value) -> U256 {
    let s = v.as_str().expect("quantity");
    U256::from_str_radix(s.trim_start_matches("0x"), 16).expect("quantity")
}

fn u64_of(v: &Value) -> u64 {
    u64::try_from(u256(v)).expect("fits u64")
}

/// The state tests' BLOCKHASH: keccak256 of the decimal block number.
struct TestHashes;
impl BlockHashes for TestHashes {
    fn block_hash(&self, number: u64) -> platon_storage::Result<Option<B256>> {
        Ok(Some(keccak256(number.to_string().as_bytes())))
    }
}

/// Builds the `pre` state, commits it into an in-memory node store and reopens it from its root, so
/// execution reads committed tries as the node does.
fn pre_state(pre: &Value) -> StateDb {
    let nodes = Arc::new(MemoryNodes::default());
    let mut state = StateDb::at_root(EMPTY_ROOT, nodes.clone());
    for (addr, acct) in pre.as_object().expect("pre") {
        let address: Address = addr.parse().expect("address");
        state.set_account(
            address,
            Account {
                nonce: u64_of(&acct["nonce"]),
                balance: u256(&acct["balance"]),
                ..Default::default()
            },
        );
        let code = hex_bytes(&acct["code"]);
        if !code.is_empty() {
            state.set_code(address, code).expect("code");
        }
        for (k, v) in acct["storage"].as_object().expect("storage") {
            state.set_storage(
                address,
                B256::from(u256(&Value::String(k.clone()))),
                u256(v),
            );
        }
    }
    let (root, trie_nodes) = state.commit().expect("commit pre");
    nodes.insert(trie_nodes, state.take_codes());
    StateDb::at_root(root, nodes)
}

fn run_file(path: &Path, engine: &dyn Runtime) -> usize {
    let text = std::fs::read_to_string(path).expect("read");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let mut cases = 0;
    for (name, test) in doc.as_object().expect("object") {
        let Some(posts) = test["post"].get("Shanghai").and_then(Value::as_array) else {
            continue;
        };
        let env = &test["env"];
        for post in posts {
            let block_env = BlockEnv {
                number: u64_of(&env["currentNumber"]),
                timestamp: u64_of(&env["currentTimestamp"]),
                beneficiary: env["currentCoinbase"]
                    .as_str()
                    .expect("coinbase")
                    .parse()
                    .expect("coinbase"),
                gas_limit: u64_of(&env["currentGasLimit"]),
                base_fee: u64_of(&env["currentBaseFee"]),
                prev_randao: B256::from(u256(&env["currentRandom"])),
                chain_id: 1,
            };
            let parent = Header {
                parent_hash: B256::ZERO,
                ommers_hash: EMPTY_OMMERS_HASH,
                beneficiary: Address::ZERO,
                state_root: EMPTY_ROOT,
                transactions_root: EMPTY_ROOT,
                receipts_root: EMPTY_ROOT,
                logs_bloom: Default::default(),
                difficulty: U256::ZERO,
                number: block_env.number - 1,
                gas_limit: block_env.gas_limit,
                gas_used: 0,
                timestamp: 0,
                extra_data: Bytes::new(),
                mix_hash: B256::ZERO,
                nonce: [0; 8],
                base_fee_per_gas: block_env.base_fee,
            };
            let rules = TxRules {
                chain_id: 1,
                shanghai: true,
            };
            let tx = SignedTransaction::decode(&hex_bytes(&post["txbytes"]), &rules)
                .unwrap_or_else(|e| panic!("{name}: txbytes: {e}"));
            let expect_exception = post.get("expectException").is_some();
            let out = execute_block(
                engine,
                &TestHashes,
                pre_state(&test["pre"]),
                &parent,
                &block_env,
                vec![tx],
                Bytes::new(),
            )
            .expect("execute");
            let want_root: B256 = post["hash"].as_str().expect("hash").parse().expect("hash");
            let want_logs: B256 = post["logs"].as_str().expect("logs").parse().expect("logs");
            let idx = &post["indexes"];
            let label = format!("{} {name} {idx} on {}", path.display(), engine.name());
            if expect_exception {
                assert_eq!(
                    out.block.transactions.len(),
                    0,
                    "{label}: should be rejected"
                );
            } else {
                assert!(
                    out.rejected.is_empty(),
                    "{label}: rejected {:?}",
                    out.rejected
                );
            }
            let logs: Vec<_> = out.receipts.iter().flat_map(|r| r.logs.clone()).collect();
            assert_eq!(
                out.block.header.state_root, want_root,
                "{label}: state root"
            );
            assert_eq!(logs_hash(&logs), want_logs, "{label}: logs hash");
            cases += 1;
        }
    }
    cases
}

fn run_all(engine: &dyn Runtime) {
    let Some(dir) = conformance("VMTests-v12.4") else {
        return;
    };
    let mut files = Vec::new();
    for group in std::fs::read_dir(&dir).expect("dir") {
        let group = group.expect("entry").path();
        if group.is_dir() {
            for f in std::fs::read_dir(&group).expect("dir") {
                let f = f.expect("entry").path();
                if f.extension().is_some_and(|e| e == "json") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    // PLATON_VMTESTS_FILTER=loopExp runs only the files whose path contains it (for debugging).
    if let Ok(filter) = std::env::var("PLATON_VMTESTS_FILTER") {
        files.retain(|f| f.to_string_lossy().contains(&filter));
    }
    let mut cases = 0;
    for f in &files {
        cases += run_file(f, engine);
    }
    eprintln!(
        "{}: {cases} Shanghai cases from {} files",
        engine.name(),
        files.len()
    );
    if std::env::var("PLATON_VMTESTS_FILTER").is_err() {
        assert!(files.len() >= 60, "expected the whole VMTests suite");
        assert!(
            cases >= 500,
            "expected hundreds of Shanghai cases, ran {cases}"
        );
    }
}

#[test]
fn vmtests_shanghai_on_revm() {
    run_all(&platon_vm::Revm);
}

#[test]
fn vmtests_shanghai_on_rust_evm() {
    run_all(&platon_vm::RustEvm);
}
