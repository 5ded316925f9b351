//! Execution: applies a block's transactions to the state through a contract [`Runtime`] (the EVM
//! engines: [`Revm`] by default, [`RustEvm`] as an independent second implementation) with Ethereum's gas and fee rules, and
//! seals the block. WASM contracts ([`wasm`]) run inside revm's call stack beside EVM contracts
//! ([`RevmWith`] picks their engine).
//!
//! [`execute_block`] is pure over a [`StateDb`]: it reads the parent state, returns the sealed block,
//! its receipts and the new trie nodes, and writes nothing. The `executor` actor calls it; the `chain`
//! actor persists the result.

pub mod evm_engine;
pub mod fuzz;
pub mod ppos;
pub mod revm_engine;
pub mod runtime;
pub mod system;
pub mod tracing;
pub mod wasm;

pub use evm_engine::RustEvm;
pub use revm_engine::{Revm, RevmWith};
pub use runtime::{
    BlockHashes, ExecError, ExecOptions, Message, NoHashes, Outcome, Runtime, Status, TxReject,
};
pub use system::{SystemContext, SystemRuntime};

use alloy_primitives::{Bloom, U256};
use platon_messages::actors::BlockEnv;
use platon_messages::block::EMPTY_OMMERS_HASH;
use platon_messages::{Block, ExecutedBlock, Header, Receipt, SignedTransaction};
use platon_storage::trie::ordered_root;
use platon_storage::StateDb;

/// Largest init code a creation may carry (EIP-3860: twice the 24 576-byte code limit).
pub const MAX_INITCODE_SIZE: usize = 49_152;

/// EIP-1559 base fee change denominator.
pub const BASE_FEE_CHANGE_DENOMINATOR: u64 = 8;
/// EIP-1559 elasticity multiplier.
pub const ELASTICITY_MULTIPLIER: u64 = 2;

/// The base fee of the block after `parent` (EIP-1559).
pub fn next_base_fee(parent: &Header) -> u64 {
    let target = parent.gas_limit / ELASTICITY_MULTIPLIER;
    let base = u128::from(parent.base_fee_per_gas);
    if target == 0 || parent.gas_used == target {
        return parent.base_fee_per_gas;
    }
    let (used, target) = (u128::from(parent.gas_used), u128::from(target));
    let denom = u128::from(BASE_FEE_CHANGE_DENOMINATOR);
    if used > target {
        let delta = (base * (used - target) / target / denom).max(1);
        u64::try_from(base + delta).unwrap_or(u64::MAX)
    } else {
        let delta = base * (target - used) / target / denom;
        u64::try_from(base - delta).unwrap_or(0)
    }
}

/// Runs one transaction of a block on `state` through `runtime`; returns its receipt (without the
/// cumulative gas filled in). A rejected transaction changes nothing.
pub fn apply_transaction(
    runtime: &dyn Runtime,
    state: &mut StateDb,
    hashes: &dyn BlockHashes,
    tx: &SignedTransaction,
    env: &BlockEnv,
    gas_remaining: u64,
) -> Result<Result<(Receipt, Outcome), TxReject>, ExecError> {
    let body = &tx.body;
    if body.gas_limit() > gas_remaining {
        return Ok(Err(TxReject::BlockGasExhausted {
            gas: body.gas_limit(),
            remaining: gas_remaining,
        }));
    }
    let msg = match Message::from_tx(tx) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let outcome = match runtime.transact(state, hashes, env, &msg, ExecOptions::BLOCK)? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok((receipt_for(tx, env, outcome.clone()), outcome)))
}

/// The receipt of an executed transaction (cumulative gas left at zero for the caller to fill).
pub fn receipt_for(tx: &SignedTransaction, env: &BlockEnv, outcome: Outcome) -> Receipt {
    let body = &tx.body;
    let price = body.effective_gas_price(U256::from(env.base_fee));
    Receipt {
        tx_type: body.tx_type(),
        success: outcome.success(),
        cumulative_gas_used: 0,
        logs_bloom: Receipt::bloom_of(&outcome.logs),
        logs: outcome.logs,
        gas_used: outcome.gas_used,
        effective_gas_price: u128::try_from(price).unwrap_or(u128::MAX),
        contract_address: outcome.contract_address,
    }
}

/// The header of the block `env` describes on `parent`, holding `txs` with their `receipts`
/// (cumulative gas filled) and reaching `state_root`.
pub fn seal(
    parent: &Header,
    env: &BlockEnv,
    state_root: alloy_primitives::B256,
    txs: &[SignedTransaction],
    receipts: &[Receipt],
    extra_data: alloy_primitives::Bytes,
) -> Header {
    let mut logs_bloom = Bloom::ZERO;
    for r in receipts {
        logs_bloom.accrue_bloom(&r.logs_bloom);
    }
    Header {
        parent_hash: parent.hash(),
        ommers_hash: EMPTY_OMMERS_HASH,
        beneficiary: env.beneficiary,
        state_root,
        transactions_root: ordered_root(
            &txs.iter().map(|t| t.encoded.to_vec()).collect::<Vec<_>>(),
        ),
        receipts_root: ordered_root(
            &receipts
                .iter()
                .map(Receipt::consensus_encode)
                .collect::<Vec<_>>(),
        ),
        logs_bloom,
        difficulty: U256::ZERO,
        number: env.number,
        gas_limit: env.gas_limit,
        gas_used: receipts.last().map_or(0, |r| r.cumulative_gas_used),
        timestamp: env.timestamp,
        extra_data,
        mix_hash: env.prev_randao,
        nonce: [0; 8],
        base_fee_per_gas: env.base_fee,
    }
}

/// Executes `txs` in order on `state` (the parent's post-state) and seals the block.
/// Transactions that cannot be included are skipped and listed in `rejected`.
pub fn execute_block(
    runtime: &dyn Runtime,
    hashes: &dyn BlockHashes,
    mut state: StateDb,
    parent: &Header,
    env: &BlockEnv,
    txs: Vec<SignedTransaction>,
    extra_data: alloy_primitives::Bytes,
) -> Result<ExecutedBlock, ExecError> {
    let msgs: Vec<Result<Message, TxReject>> = txs.iter().map(Message::from_tx).collect();
    let results = runtime.transact_block(&mut state, hashes, env, &msgs)?;
    runtime.end_block(&mut state, env)?;
    let snapshot = ppos::staking::seal_snapshot(&mut state)?;
    let mut included = Vec::new();
    let mut receipts = Vec::new();
    let mut rejected = Vec::new();
    let mut gas_used: u64 = 0;
    for (tx, result) in txs.into_iter().zip(results) {
        match result {
            Ok(outcome) => {
                gas_used = gas_used.saturating_add(outcome.gas_used);
                let mut receipt = receipt_for(&tx, env, outcome);
                receipt.cumulative_gas_used = gas_used;
                receipts.push(receipt);
                included.push(tx);
            }
            Err(reason) => rejected.push((tx.hash, reason.to_string())),
        }
    }
    let (state_root, state_nodes) = state.commit()?;
    let codes = state.take_codes();
    let header = seal(parent, env, state_root, &included, &receipts, extra_data);
    Ok(ExecutedBlock {
        block: Block {
            header,
            transactions: included,
        },
        receipts,
        state_nodes,
        codes,
        rejected,
        snapshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, Bytes, B256};
    use platon_crypto::SecretKey;
    use platon_messages::block::EMPTY_ROOT;
    use platon_messages::{TxBody, TxKind};
    use platon_storage::trie::NoNodes;
    use platon_storage::Account;
    use std::sync::Arc;

    const GWEI: u64 = 1_000_000_000;

    fn setup() -> (StateDb, SecretKey, BlockEnv) {
        let key = SecretKey::from_bytes(&[5u8; 32]).expect("key");
        let mut state = StateDb::at_root(EMPTY_ROOT, Arc::new(NoNodes));
        state.set_account(
            key.address(),
            Account {
                balance: U256::from(10u64 * GWEI * GWEI),
                ..Default::default()
            },
        );
        let env = BlockEnv {
            number: 1,
            timestamp: 1,
            beneficiary: Address::repeat_byte(0xcb),
            gas_limit: 30_000_000,
            base_fee: 7 * GWEI,
            prev_randao: B256::ZERO,
            chain_id: 1,
        };
        (state, key, env)
    }

    fn transfer(key: &SecretKey, nonce: u64, tip: u64, cap: u64, value: u64) -> SignedTransaction {
        TxBody::DynamicFee {
            chain_id: 1,
            nonce,
            max_priority_fee_per_gas: U256::from(tip),
            max_fee_per_gas: U256::from(cap),
            gas_limit: 50_000,
            to: TxKind::Call(Address::repeat_byte(0x22)),
            value: U256::from(value),
            input: Bytes::new(),
            access_list: vec![],
        }
        .sign(key)
    }

    fn parent_header(base_fee_per_gas: u64) -> Header {
        Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: Address::ZERO,
            state_root: EMPTY_ROOT,
            transactions_root: EMPTY_ROOT,
            receipts_root: EMPTY_ROOT,
            logs_bloom: Bloom::ZERO,
            difficulty: U256::ZERO,
            number: 0,
            gas_limit: 30_000_000,
            gas_used: 0,
            timestamp: 0,
            extra_data: Bytes::new(),
            mix_hash: B256::ZERO,
            nonce: [0; 8],
            base_fee_per_gas,
        }
    }

    /// A block executes on its parent's state while the parent is executed but not committed (the
    /// parent's new nodes in a layer over the store), with the same result as after the commit.
    #[test]
    fn a_block_executes_on_an_uncommitted_parent_as_on_a_committed_one() {
        use platon_storage::trie::{LayeredNodes, MemoryNodes};
        let (mut genesis_state, key, env) = setup();
        let (root, nodes) = genesis_state.commit().expect("genesis");
        let store = Arc::new(MemoryNodes::default());
        store.insert(nodes, vec![]);
        let mut g = parent_header(7 * GWEI);
        g.state_root = root;
        let env1 = BlockEnv {
            base_fee: next_base_fee(&g),
            ..env.clone()
        };
        let b1 = execute_block(
            &Revm,
            &NoHashes,
            StateDb::at_root(root, store.clone()),
            &g,
            &env1,
            vec![transfer(&key, 0, GWEI, 100 * GWEI, 5)],
            Bytes::new(),
        )
        .expect("block 1");
        let h1 = b1.block.header.clone();
        let env2 = BlockEnv {
            number: 2,
            timestamp: 2,
            base_fee: next_base_fee(&h1),
            ..env.clone()
        };
        let txs2 = vec![transfer(&key, 1, GWEI, 100 * GWEI, 6)];
        // Block 1 pending: its nodes in a layer.
        let layer = Arc::new(MemoryNodes::default());
        layer.insert(b1.state_nodes.clone(), b1.codes.clone());
        let reader = Arc::new(LayeredNodes::new(vec![layer], store.clone()));
        let pending = execute_block(
            &Revm,
            &NoHashes,
            StateDb::at_root(h1.state_root, reader),
            &h1,
            &env2,
            txs2.clone(),
            Bytes::new(),
        )
        .expect("block 2 on the pending parent");
        // Without the layer the parent's state is not there.
        assert!(execute_block(
            &Revm,
            &NoHashes,
            StateDb::at_root(h1.state_root, store.clone()),
            &h1,
            &env2,
            txs2.clone(),
            Bytes::new(),
        )
        .map(|b| b.block.header.state_root != pending.block.header.state_root)
        .unwrap_or(true));
        // Block 1 committed: the same block 2.
        store.insert(b1.state_nodes.clone(), b1.codes.clone());
        let committed = execute_block(
            &Revm,
            &NoHashes,
            StateDb::at_root(h1.state_root, store),
            &h1,
            &env2,
            txs2,
            Bytes::new(),
        )
        .expect("block 2 on the committed parent");
        assert_eq!(pending.block.hash(), committed.block.hash());
        assert_eq!(pending.block.header.gas_used, 21_000);
    }

    #[test]
    fn transfer_charges_exactly_like_ethereum() {
        let (mut state, key, env) = setup();
        let before = state.account(&key.address()).expect("acct").balance;
        // tip 2 gwei, cap 100 gwei: effective price = base 7 + tip 2 = 9 gwei.
        let tx = transfer(&key, 0, 2 * GWEI, 100 * GWEI, 12345);
        let (r, _) = apply_transaction(&Revm, &mut state, &NoHashes, &tx, &env, env.gas_limit)
            .expect("io")
            .expect("included");
        assert_eq!(r.gas_used, 21_000);
        assert_eq!(r.effective_gas_price, u128::from(9 * GWEI));
        let sender = state.account(&key.address()).expect("acct");
        assert_eq!(sender.nonce, 1);
        assert_eq!(
            sender.balance,
            before - U256::from(21_000u64 * 9 * GWEI) - U256::from(12345u64)
        );
        assert_eq!(
            state
                .account(&Address::repeat_byte(0x22))
                .expect("acct")
                .balance,
            U256::from(12345u64)
        );
        assert_eq!(
            state.account(&env.beneficiary).expect("acct").balance,
            U256::from(21_000u64 * 2 * GWEI)
        );
    }

    #[test]
    fn capped_tip_and_rejections_change_nothing() {
        let (mut state, key, env) = setup();
        // cap 8 gwei: effective price = min(8, 7 + 5) = 8; tip actually paid 1 gwei.
        let tx = transfer(&key, 0, 5 * GWEI, 8 * GWEI, 1);
        let (r, _) = apply_transaction(&Revm, &mut state, &NoHashes, &tx, &env, env.gas_limit)
            .expect("io")
            .expect("included");
        assert_eq!(r.effective_gas_price, u128::from(8 * GWEI));
        assert_eq!(
            state.account(&env.beneficiary).expect("acct").balance,
            U256::from(21_000 * GWEI)
        );
        let snapshot = state.clone().commit().expect("root").0;
        for bad in [
            transfer(&key, 0, GWEI, 100 * GWEI, 1),        // nonce reused
            transfer(&key, 1, GWEI, 6 * GWEI, 1),          // cap below base fee
            transfer(&key, 1, GWEI, 100 * GWEI, u64::MAX), // more than the balance
        ] {
            assert!(
                apply_transaction(&Revm, &mut state, &NoHashes, &bad, &env, env.gas_limit)
                    .expect("io")
                    .is_err()
            );
        }
        assert!(apply_transaction(
            &Revm,
            &mut state,
            &NoHashes,
            &transfer(&key, 1, 0, 9 * GWEI, 1),
            &env,
            20_000
        )
        .expect("io")
        .is_err());
        assert_eq!(state.clone().commit().expect("root").0, snapshot);
    }

    #[test]
    fn block_seals_with_roots_and_skips_bad_transactions() {
        let (state, key, env) = setup();
        let parent = parent_header(7 * GWEI);
        let txs = vec![
            transfer(&key, 0, GWEI, 100 * GWEI, 1),
            transfer(&key, 5, GWEI, 100 * GWEI, 1),
            transfer(&key, 1, GWEI, 100 * GWEI, 1),
        ];
        let out =
            execute_block(&Revm, &NoHashes, state, &parent, &env, txs, Bytes::new()).expect("exec");
        assert_eq!(out.block.transactions.len(), 2);
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(out.block.header.gas_used, 42_000);
        assert_eq!(out.receipts[1].cumulative_gas_used, 42_000);
        assert_ne!(out.block.header.transactions_root, EMPTY_ROOT);
        assert!(!out.state_nodes.is_empty());
    }

    #[test]
    fn base_fee_follows_eip1559() {
        let mut h = parent_header(1_000_000_000);
        h.gas_used = 15_000_000;
        assert_eq!(next_base_fee(&h), 1_000_000_000);
        h.gas_used = 30_000_000;
        assert_eq!(next_base_fee(&h), 1_125_000_000);
        h.gas_used = 0;
        assert_eq!(next_base_fee(&h), 875_000_000);
    }
}
