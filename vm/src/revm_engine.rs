//! The default EVM engine: `revm`, over the node's [`StateDb`] through a `Database` adapter.
//! `transact` writes one message's effects back into the state; `transact_block` runs a whole block in
//! one revm instance over a block-wide cache and writes back once. Analysed contract code is cached per
//! thread by code hash (code never changes under a hash).

use crate::runtime::{
    block_loop, BlockHashes, ExecError, ExecOptions, Message, Outcome, Runtime, Status, TxReject,
};
use crate::wasm::revm_glue::{deploy_stub, WasmPrecompiles};
use crate::wasm::{is_wasm, WasmEngine};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use platon_messages::actors::BlockEnv;
use platon_messages::{Log, TxKind};
use platon_storage::{StateDb, StorageError};
use revm::bytecode::Bytecode;
use revm::context::result::{EVMError, ExecutionResult, InvalidTransaction, Output};
use revm::context::{BlockEnv as RevmBlock, CfgEnv, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::database::CacheDB;
use revm::database_interface::{DBErrorMarker, Database, DatabaseCommit, DatabaseRef};
use revm::primitives::hardfork::SpecId;
use revm::state::{AccountInfo, EvmState};
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

/// The EVM version every engine runs: Shanghai (PUSH0, warm coinbase, no blobs).
pub const SPEC: SpecId = SpecId::SHANGHAI;

/// EVM memory limit of one message (256 MiB). Gas bounds memory far below this (50 M gas buys about
/// 5 MiB); the limit is a second guard for calls run with a large gas cap.
const MEMORY_LIMIT: u64 = 1 << 28;

/// The `revm` engine with WASM contracts on wasm3: the default runtime (see [`RevmWith`] for the
/// other choices).
#[allow(non_upper_case_globals)]
pub const Revm: RevmWith = RevmWith::WASM3;

/// The `revm` engine with WASM contracts on a chosen engine; `debug` shows contracts'
/// `platon_debug` prints (dev chains).
#[derive(Debug, Clone, Copy, Default)]
pub struct RevmWith {
    /// The engine that runs WASM contracts.
    pub wasm: WasmEngine,
    /// Whether `platon_debug` prints are logged.
    pub debug: bool,
}

impl RevmWith {
    /// revm with WASM on wasm3.
    pub const WASM3: RevmWith = RevmWith {
        wasm: WasmEngine::Wasm3,
        debug: false,
    };
    /// revm with WASM on wasmi.
    pub const WASMI: RevmWith = RevmWith {
        wasm: WasmEngine::Wasmi,
        debug: false,
    };

    /// The runtime with WASM on `wasm` and debug prints on or off, for as long as the process runs.
    pub fn get(wasm: WasmEngine, debug: bool) -> &'static RevmWith {
        match (wasm, debug) {
            (WasmEngine::Wasm3, false) => &RevmWith::WASM3,
            (WasmEngine::Wasmi, false) => &RevmWith::WASMI,
            (WasmEngine::Wasm3, true) => &RevmWith {
                wasm: WasmEngine::Wasm3,
                debug: true,
            },
            (WasmEngine::Wasmi, true) => &RevmWith {
                wasm: WasmEngine::Wasmi,
                debug: true,
            },
        }
    }
}

/// A storage error seen through revm's `Database`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl DBErrorMarker for DbError {}

impl From<StorageError> for DbError {
    fn from(e: StorageError) -> Self {
        DbError(e.to_string())
    }
}

/// [`StateDb`] as a revm database (reads only; effects come back as an `EvmState`).
pub struct StateView<'a> {
    /// The state read.
    pub state: &'a StateDb,
    /// Block hashes for BLOCKHASH.
    pub hashes: &'a dyn BlockHashes,
}

/// Most analysed contracts kept per thread (code is immutable, so entries never go stale).
const CODE_CACHE_ENTRIES: usize = 1_024;

thread_local! {
    /// Analysed bytecode by code hash: the jump-destination analysis of a contract is done once per
    /// thread, not once per transaction that calls it.
    static CODE_CACHE: std::cell::RefCell<std::collections::HashMap<B256, Bytecode>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

impl StateView<'_> {
    fn bytecode(&self, address: &Address, hash: B256) -> Result<Bytecode, DbError> {
        if let Some(b) = CODE_CACHE.with(|c| c.borrow().get(&hash).cloned()) {
            return Ok(b);
        }
        let code = self.state.code(address)?;
        if keccak256(&code) != hash {
            return Err(DbError(format!(
                "code of {address} does not hash to {hash}"
            )));
        }
        let analysed = Bytecode::new_legacy(Bytes::from(code));
        CODE_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CODE_CACHE_ENTRIES {
                c.clear();
            }
            c.insert(hash, analysed.clone());
        });
        Ok(analysed)
    }
}

impl Database for StateView<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        self.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        self.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        self.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        self.block_hash_ref(number)
    }
}

impl DatabaseRef for StateView<'_> {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        let a = self.state.account(&address)?;
        if a.is_empty() && a.storage_root == platon_messages::block::EMPTY_ROOT {
            return Ok(None);
        }
        let code = if a.has_code() {
            Some(self.bytecode(&address, a.code_hash)?)
        } else {
            None
        };
        Ok(Some(AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        // Code always arrives with `basic`; this is only asked for a hash it did not load.
        match self.state.code_by_hash(&code_hash)? {
            Some(c) => Ok(Bytecode::new_legacy(Bytes::from(c))),
            None => Ok(Bytecode::default()),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        Ok(self.state.storage(&address, B256::from(index))?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        Ok(self.hashes.block_hash(number)?.unwrap_or_default())
    }
}

/// The revm block environment for `env`.
pub fn block_env(env: &BlockEnv) -> RevmBlock {
    RevmBlock {
        number: U256::from(env.number),
        beneficiary: env.beneficiary,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(env.prev_randao),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(0, 1)),
        ..Default::default()
    }
}

/// The revm transaction for `msg`. A creation with WASM deploy data runs as the deploy stub followed
/// by the data (see [`crate::wasm::revm_glue`]).
pub fn tx_env(msg: &Message) -> TxEnv {
    let data = match msg.kind {
        TxKind::Create if is_wasm(&msg.data) => {
            let mut d = deploy_stub();
            d.extend_from_slice(&msg.data);
            Bytes::from(d)
        }
        _ => msg.data.clone(),
    };
    TxEnv {
        tx_type: msg.tx_type,
        caller: msg.caller,
        gas_limit: msg.gas_limit,
        gas_price: msg.gas_price,
        kind: match msg.kind {
            TxKind::Create => revm::primitives::TxKind::Create,
            TxKind::Call(a) => revm::primitives::TxKind::Call(a),
        },
        value: msg.value,
        data,
        nonce: msg.nonce.unwrap_or_default(),
        chain_id: msg.chain_id,
        access_list: AccessList(
            msg.access_list
                .iter()
                .map(|(address, keys)| AccessListItem {
                    address: *address,
                    storage_keys: keys.clone(),
                })
                .collect(),
        ),
        gas_priority_fee: msg.priority_fee,
        ..Default::default()
    }
}

/// The code-size limit of a transaction: EIP-170's, except for a creation that deploys a WASM
/// module, whose instrumented code may reach [`crate::wasm::cost::MAX_CODE_BYTES`]. (An EVM
/// creation nested in such a deployment's constructor gets the same bound.)
pub fn code_limit(msg: &Message) -> Option<usize> {
    (matches!(msg.kind, TxKind::Create) && crate::wasm::is_wasm(&msg.data))
        .then_some(crate::wasm::cost::MAX_CODE_BYTES)
}

/// The revm configuration of one transaction: [`cfg_env`] with its [`code_limit`].
pub fn cfg_for(chain_id: u64, opts: ExecOptions, msg: &Message) -> CfgEnv {
    let mut cfg = cfg_env(chain_id, opts);
    cfg.limit_contract_code_size = code_limit(msg);
    cfg
}

/// The revm configuration for `chain_id` and `opts`.
pub fn cfg_env(chain_id: u64, opts: ExecOptions) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(SPEC);
    cfg.chain_id = chain_id;
    cfg.disable_nonce_check = !opts.check_nonce;
    cfg.disable_eip3607 = !opts.check_nonce;
    cfg.disable_base_fee = !opts.check_base_fee;
    cfg.disable_balance_check = !opts.check_balance;
    cfg.memory_limit = MEMORY_LIMIT;
    cfg
}

/// Maps revm's validation errors to ours.
pub fn reject(e: InvalidTransaction) -> TxReject {
    match e {
        InvalidTransaction::NonceTooHigh { tx, state }
        | InvalidTransaction::NonceTooLow { tx, state } => TxReject::Nonce { account: state, tx },
        InvalidTransaction::GasPriceLessThanBasefee => TxReject::FeeCapBelowBaseFee,
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => TxReject::InsufficientFunds {
            balance: *balance,
            cost: *fee,
        },
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => TxReject::IntrinsicGas {
            gas_limit,
            intrinsic: initial_gas,
        },
        InvalidTransaction::RejectCallerWithCode => TxReject::SenderHasCode,
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => {
            TxReject::Invalid("max priority fee per gas higher than max fee per gas".into())
        }
        InvalidTransaction::CreateInitCodeSizeLimit => {
            TxReject::Invalid("max initcode size exceeded".into())
        }
        other => TxReject::Invalid(other.to_string()),
    }
}

fn engine_err(detail: impl std::fmt::Display) -> ExecError {
    ExecError::Engine {
        engine: "revm",
        detail: detail.to_string(),
    }
}

/// Converts revm logs to ours.
pub fn logs(logs: Vec<revm::primitives::Log>) -> Vec<Log> {
    logs.into_iter()
        .map(|l| Log {
            address: l.address,
            topics: l.data.topics().to_vec(),
            data: l.data.data,
        })
        .collect()
}

/// Converts a revm result to our outcome.
pub fn outcome(result: ExecutionResult) -> Outcome {
    match result {
        ExecutionResult::Success {
            gas,
            logs: l,
            output,
            ..
        } => {
            let (output, contract_address) = match output {
                Output::Call(b) => (b, None),
                Output::Create(b, a) => (b, a),
            };
            Outcome {
                status: Status::Success,
                gas_used: gas.tx_gas_used(),
                gas_refunded: gas.final_refunded(),
                output,
                logs: logs(l),
                contract_address,
            }
        }
        ExecutionResult::Revert { gas, output, .. } => Outcome {
            status: Status::Revert,
            gas_used: gas.tx_gas_used(),
            gas_refunded: 0,
            output,
            logs: vec![],
            contract_address: None,
        },
        ExecutionResult::Halt { reason, gas, .. } => Outcome {
            status: Status::Halt(format!("{reason:?}")),
            gas_used: gas.tx_gas_used(),
            gas_refunded: 0,
            output: Bytes::new(),
            logs: vec![],
            contract_address: None,
        },
    }
}

/// Writes revm's post-message account changes into `state`.
pub fn apply_changes(state: &mut StateDb, changes: EvmState) -> Result<(), StorageError> {
    for (address, account) in changes {
        if !account.is_touched() {
            continue;
        }
        if account.is_selfdestructed() {
            state.delete_account(address);
            continue;
        }
        if account.is_created() {
            state.wipe_storage(address);
        }
        let mut current = state.account(&address)?;
        current.balance = account.info.balance;
        current.nonce = account.info.nonce;
        if current.code_hash != account.info.code_hash {
            let code = account
                .info
                .code
                .as_ref()
                .map(|c| c.original_bytes().to_vec())
                .unwrap_or_default();
            if keccak256(&code) == account.info.code_hash {
                state.set_account(address, current.clone());
                state.set_code(address, code)?;
                current = state.account(&address)?;
            } else {
                current.code_hash = account.info.code_hash;
            }
        }
        state.set_account(address, current);
        for (slot, value) in account.changed_storage_slots() {
            state.set_storage(address, B256::from(*slot), value.present_value());
        }
    }
    Ok(())
}

/// What one transaction's run on revm came to: its changes applied to `state` and its outcome, or
/// why it was refused, or the engine's failure.
pub(crate) fn finish<E: std::fmt::Display>(
    state: &mut StateDb,
    result: Result<revm::context::result::ResultAndState, EVMError<E, InvalidTransaction>>,
) -> Result<Result<Outcome, TxReject>, ExecError> {
    match result {
        Ok(r) => {
            apply_changes(state, r.state)?;
            Ok(Ok(outcome(r.result)))
        }
        Err(EVMError::Transaction(e)) => Ok(Err(reject(e))),
        Err(EVMError::Database(e)) => Err(engine_err(format!("state read failed: {e}"))),
        Err(e) => Err(engine_err(e)),
    }
}

/// Stops an execution once its deadline has passed: checked every [`DEADLINE_CHECK_STEPS`]
/// instructions; once expired, every frame halts at its next instruction.
#[derive(Debug)]
struct Deadline {
    at: std::time::Instant,
    steps: u32,
    expired: bool,
}

/// Instructions between two clock readings of [`Deadline`].
const DEADLINE_CHECK_STEPS: u32 = 4_096;

impl<CTX: revm::context_interface::ContextTr> revm::Inspector<CTX> for Deadline {
    fn step(&mut self, interp: &mut revm::interpreter::Interpreter, _: &mut CTX) {
        if !self.expired {
            self.steps = self.steps.wrapping_add(1);
            if self.steps % DEADLINE_CHECK_STEPS != 0 || std::time::Instant::now() < self.at {
                return;
            }
            self.expired = true;
        }
        interp.halt(revm::interpreter::InstructionResult::OutOfGas);
    }
}

impl RevmWith {
    /// [`Runtime::transact`] abandoned at `deadline` (RPC calls).
    fn transact_until(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msg: &Message,
        opts: ExecOptions,
        deadline: std::time::Instant,
    ) -> Result<Result<Outcome, TxReject>, ExecError> {
        use revm::InspectEvm;
        let started = std::time::Instant::now();
        let view = StateView {
            state: &*state,
            hashes,
        };
        let mut evm = Context::mainnet()
            .with_db(view)
            .with_block(block_env(env))
            .with_cfg(cfg_for(env.chain_id, opts, msg))
            .build_mainnet_with_inspector(Deadline {
                at: deadline,
                steps: 0,
                expired: false,
            })
            .with_precompiles(WasmPrecompiles::new(SPEC, self.wasm, self.debug));
        let result = evm.inspect_tx(tx_env(msg));
        let expired = evm.inspector.expired;
        drop(evm);
        if expired {
            return Err(ExecError::Deadline(started.elapsed()));
        }
        finish(state, result)
    }
}

impl Runtime for RevmWith {
    fn name(&self) -> &'static str {
        "revm"
    }

    fn transact(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msg: &Message,
        opts: ExecOptions,
    ) -> Result<Result<Outcome, TxReject>, ExecError> {
        if let Some(deadline) = opts.deadline {
            return self.transact_until(state, hashes, env, msg, opts, deadline);
        }
        let view = StateView {
            state: &*state,
            hashes,
        };
        let mut evm = Context::mainnet()
            .with_db(view)
            .with_block(block_env(env))
            .with_cfg(cfg_for(env.chain_id, opts, msg))
            .build_mainnet()
            .with_precompiles(WasmPrecompiles::new(SPEC, self.wasm, self.debug));
        let result = evm.transact(tx_env(msg));
        drop(evm);
        finish(state, result)
    }

    /// One revm instance for the whole block over a block-wide cache: each transaction sees the
    /// effects of those before through the cache, and the changes are written into the state once,
    /// in order, at the end.
    fn transact_block(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msgs: &[Result<Message, TxReject>],
    ) -> Result<Vec<Result<Outcome, TxReject>>, ExecError> {
        let view = StateView {
            state: &*state,
            hashes,
        };
        let mut cache = CacheDB::new(view);
        let mut changes = Vec::with_capacity(msgs.len());
        let out = {
            let mut evm = Context::mainnet()
                .with_db(&mut cache)
                .with_block(block_env(env))
                .with_cfg(cfg_env(env.chain_id, ExecOptions::BLOCK))
                .build_mainnet()
                .with_precompiles(WasmPrecompiles::new(SPEC, self.wasm, self.debug));
            block_loop(env, msgs, |msg| {
                evm.ctx.cfg.limit_contract_code_size = code_limit(msg);
                let result = evm.transact(tx_env(msg));
                match result {
                    Ok(r) => {
                        evm.ctx.journaled_state.database.commit(r.state.clone());
                        changes.push(r.state);
                        Ok(Ok(outcome(r.result)))
                    }
                    Err(EVMError::Transaction(e)) => Ok(Err(reject(e))),
                    Err(EVMError::Database(e)) => {
                        Err(engine_err(format!("state read failed: {e}")))
                    }
                    Err(e) => Err(engine_err(e)),
                }
            })?
        };
        drop(cache);
        for c in changes {
            apply_changes(state, c)?;
        }
        Ok(out)
    }
}
