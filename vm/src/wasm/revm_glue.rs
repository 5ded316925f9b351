//! WASM inside revm: one journal, one call stack for both runtimes.
//!
//! [`WasmPrecompiles`] is revm's precompile provider with one more rule: a call whose code is a WASM
//! module runs on the WASM engine instead of the interpreter. revm has already made the call's
//! checkpoint and moved its value, and rolls the checkpoint back if the WASM frame fails, exactly as
//! for an EVM frame. Host functions work on revm's journal ([`RevmChain`]); a call from WASM to any
//! contract runs a nested revm over the same context, so EVM → WASM → EVM → … nests to the usual
//! depth limit with one state.
//!
//! A creation transaction whose data is a WASM deploy is run by revm as a creation whose init code
//! is a short EVM stub ([`deploy_stub`]) followed by the deploy data: the stub hands the data to the
//! deployer address ([`WASM_DEPLOYER`]), which validates and instruments the module, runs its
//! constructor as the new contract, and returns the instrumented module, which the stub returns as
//! the contract's code. Nonce, address, value, init-code and code-deposit rules are thus revm's own.
//! A refused module reverts with the reason as revert data.

use super::host::{BlockInfo, CallKind, Chain, Exec, FrameEnv, Halt, SubResult};
use super::{cost, execute, is_wasm, prepare, split_deploy, WasmEngine};
use alloy_primitives::{address, Address, Bytes, B256, U256};
use revm::bytecode::Bytecode;
use revm::context::{Cfg, ContextTr, Evm, JournalTr, LocalContext, Transaction};
use revm::context_interface::journaled_state::account::JournaledAccountTr;
use revm::database_interface::Database;
use revm::handler::instructions::EthInstructions;
use revm::handler::{
    EthPrecompiles, EvmTr, FrameResult, ItemOrResult, MainnetContext, PrecompileProvider,
};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_action::FrameInit;
use revm::interpreter::{
    CallInput, CallInputs, CallScheme, CallValue, FrameInput, Gas, InstructionResult,
    InterpreterResult, SharedMemory,
};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{AddressSet, Log, LogData, TxKind};
use std::cell::RefCell;
use std::rc::Rc;

/// The address creation transactions' stub calls to deploy a WASM module. It acts only for the
/// init code of the transaction's own creation; any other caller gets a revert.
pub const WASM_DEPLOYER: Address = address!("1000000000000000000000000000000000000010");

/// The registry key of a module: keccak-256 of the stored (instrumented) code.
fn code_key(code: &[u8]) -> U256 {
    U256::from_be_bytes(alloy_primitives::keccak256(code).0)
}

/// Records that `code` was produced by deploy (validated and instrumented), in the storage of the
/// deployer account, which gets nonce 1 so that it is never an empty account.
fn register<DB: Database>(ctx: &mut MainnetContext<DB>, code: &[u8]) -> Result<(), String> {
    let j = ctx.journal_mut();
    {
        let mut acc = j.load_account_mut(WASM_DEPLOYER).map_err(db)?.data;
        if acc.nonce() == 0 {
            acc.bump_nonce();
        }
    }
    j.sstore(WASM_DEPLOYER, code_key(code), U256::from(1u8))
        .map_err(db)?;
    Ok(())
}

/// Whether `code` was produced by deploy. Code that merely starts with the WASM magic (an EVM
/// creation can return any bytes) is never run: it carries no metering.
fn registered<DB: Database>(ctx: &mut MainnetContext<DB>, code: &[u8]) -> Result<bool, String> {
    let j = ctx.journal_mut();
    j.load_account(WASM_DEPLOYER).map_err(db)?;
    Ok(!j
        .sload(WASM_DEPLOYER, code_key(code))
        .map_err(db)?
        .data
        .is_zero())
}

/// Runs `code`'s entry point in `frame` with `gas` on `wasm`'s engine, over `ctx`: the outcome,
/// the gas left and the output.
fn run_frame<DB: Database>(
    ctx: &mut MainnetContext<DB>,
    wasm: &WasmPrecompiles,
    code: &[u8],
    frame: FrameEnv,
    gas: u64,
) -> (Result<(), Halt>, u64, Vec<u8>) {
    let mut chain = RevmChain {
        ctx,
        wasm: wasm.nested(),
    };
    let mut exec = Exec::new(frame, gas, &mut chain);
    let r = execute(wasm.engine, code, &mut exec);
    (r, exec.gas_left, std::mem::take(&mut exec.output))
}

/// The EVM init code that deploys the WASM deploy data appended to it (see the module docs).
pub fn deploy_stub() -> Vec<u8> {
    // Offsets are fixed: the stub is 52 bytes, the jump target at 48.
    const LEN: u8 = 52;
    const OK: u8 = 48;
    let mut c = vec![
        0x38, // CODESIZE
        0x60, LEN,  // PUSH1 len
        0x90, // SWAP1
        0x03, // SUB: n = codesize - len
        0x80, // DUP1
        0x60, LEN,  // PUSH1 len
        0x5f, // PUSH0
        0x39, // CODECOPY mem[0..n] = code[len..]
        0x5f, // PUSH0 retSize
        0x5f, // PUSH0 retOffset
        0x82, // DUP3 argsSize = n
        0x5f, // PUSH0 argsOffset
        0x5f, // PUSH0 value
        0x73, // PUSH20 deployer
    ];
    c.extend_from_slice(WASM_DEPLOYER.as_slice());
    c.extend_from_slice(&[
        0x5a, // GAS
        0xf1, // CALL
        0x3d, // RETURNDATASIZE
        0x5f, // PUSH0
        0x5f, // PUSH0
        0x3e, // RETURNDATACOPY mem[0..rds] = returndata
        0x60, OK,   // PUSH1 ok
        0x57, // JUMPI
        0x3d, // RETURNDATASIZE
        0x5f, // PUSH0
        0xfd, // REVERT
        0x5b, // JUMPDEST
        0x3d, // RETURNDATASIZE
        0x5f, // PUSH0
        0xf3, // RETURN
    ]);
    debug_assert_eq!(c.len(), LEN as usize);
    debug_assert_eq!(c[OK as usize], 0x5b);
    c
}

/// revm's precompiles plus WASM frames and the deployer.
#[derive(Debug)]
pub struct WasmPrecompiles {
    eth: EthPrecompiles,
    engine: WasmEngine,
    debug: bool,
    moved: Option<std::sync::Arc<MovedPrecompiles>>,
}

/// Precompiles moved to other addresses (`eth_simulateV1`'s `movePrecompileToAddress`): a call to a
/// destination runs the precompile that was moved there; a moved precompile's own address runs
/// whatever code the account has.
#[derive(Debug)]
pub struct MovedPrecompiles {
    /// (precompile, its new address).
    pairs: Vec<(Address, Address)>,
    /// The precompile addresses after the moves (warm from the start of a transaction).
    warm: AddressSet,
}

impl MovedPrecompiles {
    /// The moves `pairs` over the precompiles of `spec`; every source must be one of them.
    pub fn new(spec: SpecId, pairs: Vec<(Address, Address)>) -> Result<Self, Address> {
        let eth = EthPrecompiles::new(spec);
        let mut warm = eth.warm_addresses().clone();
        for (from, _) in &pairs {
            if !eth.contains(from) {
                return Err(*from);
            }
            warm.remove(from);
        }
        for (_, to) in &pairs {
            warm.insert(*to);
        }
        Ok(MovedPrecompiles { pairs, warm })
    }

    fn source_of(&self, address: &Address) -> Option<Address> {
        self.pairs
            .iter()
            .rev()
            .find(|(_, to)| to == address)
            .map(|(from, _)| *from)
    }

    fn moved_away(&self, address: &Address) -> bool {
        self.pairs.iter().any(|(from, _)| from == address)
    }
}

impl WasmPrecompiles {
    /// Precompiles of `spec` with WASM frames on `engine`; `debug` shows `platon_debug` output.
    pub fn new(spec: SpecId, engine: WasmEngine, debug: bool) -> Self {
        WasmPrecompiles {
            eth: EthPrecompiles::new(spec),
            engine,
            debug,
            moved: None,
        }
    }

    /// The same precompiles with some of them moved.
    pub fn with_moves(mut self, moved: Option<std::sync::Arc<MovedPrecompiles>>) -> Self {
        self.moved = moved;
        self
    }

    fn nested(&self) -> Self {
        WasmPrecompiles {
            eth: EthPrecompiles::new(self.eth.spec),
            engine: self.engine,
            debug: self.debug,
            moved: self.moved.clone(),
        }
    }

    fn warm(&self) -> &AddressSet {
        match &self.moved {
            Some(m) => &m.warm,
            None => self.eth.warm_addresses(),
        }
    }

    fn run_any<DB: Database>(
        &mut self,
        ctx: &mut MainnetContext<DB>,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if let Some(from) = self
            .moved
            .as_ref()
            .and_then(|m| m.source_of(&inputs.bytecode_address))
        {
            let mut moved = inputs.clone();
            moved.bytecode_address = from;
            return <EthPrecompiles as PrecompileProvider<MainnetContext<DB>>>::run(
                &mut self.eth,
                ctx,
                &moved,
            );
        }
        let moved_away = self
            .moved
            .as_ref()
            .is_some_and(|m| m.moved_away(&inputs.bytecode_address));
        if !moved_away && self.eth.contains(&inputs.bytecode_address) {
            return <EthPrecompiles as PrecompileProvider<MainnetContext<DB>>>::run(
                &mut self.eth,
                ctx,
                inputs,
            );
        }
        if inputs.bytecode_address == WASM_DEPLOYER {
            return self.deploy(ctx, inputs).map(Some);
        }
        let code = inputs.known_bytecode.1.original_bytes();
        if !is_wasm(&code) {
            return Ok(None);
        }
        if !registered(ctx, &code)? {
            let why = Halt::Trap("code with the WASM magic that deploy did not produce".into());
            return result(Err(why), 0, Vec::new(), inputs.gas_limit).map(Some);
        }
        let frame = FrameEnv {
            address: inputs.target_address,
            code_address: inputs.bytecode_address,
            caller: inputs.caller,
            value: inputs.value.get(),
            input: inputs.input.bytes(ctx),
            is_static: inputs.is_static,
            depth: ctx.journal().depth(),
        };
        let (r, gas_left, output) = run_frame(ctx, self, &code, frame, inputs.gas_limit);
        result(r, gas_left, output, inputs.gas_limit).map(Some)
    }

    /// The deployer: only the creation transaction's own init code may call it.
    fn deploy<DB: Database>(
        &mut self,
        ctx: &mut MainnetContext<DB>,
        inputs: &CallInputs,
    ) -> Result<InterpreterResult, String> {
        let revert = |msg: String| {
            Ok(InterpreterResult::new(
                InstructionResult::Revert,
                Bytes::from(msg.into_bytes()),
                Gas::new(inputs.gas_limit),
            ))
        };
        // The contract under construction is the transaction's own creation: revm bumped the
        // sender's nonce when it made the creation frame (calls without a nonce check, such as
        // eth_estimateGas, use the account's nonce, not the message's), and the creation frame is
        // the first, so this call is at depth 2.
        let sender = ctx.tx.caller();
        let is_create = ctx.tx.kind() == TxKind::Create;
        let nonce = ctx
            .journal_mut()
            .load_account(sender)
            .map_err(db)?
            .data
            .info
            .nonce;
        let creating = is_create
            && nonce.checked_sub(1).map(|n| sender.create(n)) == Some(inputs.caller)
            && ctx.journal().depth() == 2;
        if !creating {
            return revert(
                "the WASM deployer serves only a creation transaction's own init code".into(),
            );
        }
        let data = inputs.input.bytes(ctx);
        let (module, init) = match split_deploy(&data) {
            Ok(x) => x,
            Err(e) => return revert(e.to_string()),
        };
        let code = match prepare(&module) {
            Ok(c) => c,
            Err(e) => return revert(e.to_string()),
        };
        let frame = FrameEnv {
            address: inputs.caller,
            code_address: inputs.caller,
            caller: sender,
            value: ctx.tx.value(),
            input: init,
            is_static: false,
            depth: ctx.journal().depth(),
        };
        let (r, gas_left, output) = run_frame(ctx, self, &code, frame, inputs.gas_limit);
        match r {
            // The stub returns the instrumented module as the contract's code.
            Ok(()) => {
                register(ctx, &code)?;
                result(Ok(()), gas_left, code, inputs.gas_limit)
            }
            Err(h) => result(Err(h), gas_left, output, inputs.gas_limit),
        }
    }
}

/// The interpreter result of a WASM frame.
fn result(
    r: Result<(), Halt>,
    gas_left: u64,
    output: Vec<u8>,
    gas_limit: u64,
) -> Result<InterpreterResult, String> {
    let mut gas = Gas::new(gas_limit);
    let spent = gas_limit.saturating_sub(gas_left);
    let (status, output) = match r {
        Ok(()) => (InstructionResult::Return, output),
        Err(Halt::Revert) => (InstructionResult::Revert, output),
        Err(Halt::OutOfGas) => (InstructionResult::OutOfGas, Vec::new()),
        Err(Halt::StackLimit) => (InstructionResult::CallTooDeep, Vec::new()),
        Err(Halt::Trap(_)) => (InstructionResult::PrecompileError, Vec::new()),
        Err(Halt::Fatal(e)) => return Err(e),
    };
    if status.is_ok() || status == InstructionResult::Revert {
        let _ = gas.record_regular_cost(spent);
    } else {
        gas.spend_all();
    }
    Ok(InterpreterResult::new(status, Bytes::from(output), gas))
}

/// The provider for the top-level context and for the nested revm's `&mut` of it ([`run_nested`]):
/// one implementation, so WASM → EVM → WASM nests without a new context type at each level.
macro_rules! wasm_precompiles_for {
    ($ctx:ty) => {
        impl<DB: Database> PrecompileProvider<$ctx> for WasmPrecompiles {
            type Output = InterpreterResult;

            fn set_spec(&mut self, spec: SpecId) -> bool {
                <EthPrecompiles as PrecompileProvider<MainnetContext<DB>>>::set_spec(
                    &mut self.eth,
                    spec,
                )
            }

            fn run(
                &mut self,
                context: &mut $ctx,
                inputs: &CallInputs,
            ) -> Result<Option<InterpreterResult>, String> {
                self.run_any(context, inputs)
            }

            fn warm_addresses(&self) -> &AddressSet {
                self.warm()
            }

            fn contains(&self, address: &Address) -> bool {
                self.warm().contains(address)
            }
        }
    };
}

wasm_precompiles_for!(MainnetContext<DB>);
wasm_precompiles_for!(&mut MainnetContext<DB>);

/// Runs one frame (and everything it calls) in a nested revm over `ctx`'s journal.
fn run_nested<DB: Database>(
    ctx: &mut MainnetContext<DB>,
    wasm: WasmPrecompiles,
    input: FrameInput,
) -> Result<FrameResult, String> {
    let spec = ctx.cfg.spec;
    let depth = ctx.journal().depth();
    // The nested frames get their own memory buffer, so the caller's EVM memory (in the shared
    // buffer) is left as it was.
    let saved = std::mem::replace(
        &mut ctx.local,
        LocalContext {
            shared_memory_buffer: Rc::new(RefCell::new(Vec::with_capacity(4096))),
            precompile_error_message: None,
        },
    );
    let limit = ctx.cfg.memory_limit();
    let r = {
        let mut evm = Evm::new(
            &mut *ctx,
            EthInstructions::<EthInterpreter, &mut MainnetContext<DB>>::new_mainnet_with_spec(spec),
            wasm,
        );
        let mut memory = SharedMemory::new_with_buffer(evm.ctx.local.shared_memory_buffer.clone());
        memory.set_memory_limit(limit);
        let init = FrameInit {
            depth,
            memory,
            frame_input: input,
        };
        drive(&mut evm, init)
    };
    ctx.local = saved;
    r
}

fn drive<E>(evm: &mut E, init: FrameInit) -> Result<FrameResult, String>
where
    E: EvmTr<Frame = revm::handler::EthFrame<EthInterpreter>>,
    <<E as EvmTr>::Context as ContextTr>::Db: Database,
{
    match evm.frame_init(init).map_err(db)? {
        ItemOrResult::Result(r) => return Ok(r),
        ItemOrResult::Item(_) => {}
    }
    loop {
        let result = match evm.frame_run().map_err(db)? {
            ItemOrResult::Item(init) => match evm.frame_init(init).map_err(db)? {
                ItemOrResult::Item(_) => continue,
                ItemOrResult::Result(r) => r,
            },
            ItemOrResult::Result(r) => r,
        };
        if let Some(r) = evm.frame_return_result(result).map_err(db)? {
            return Ok(r);
        }
    }
}

/// Host functions over revm's context.
pub struct RevmChain<'c, DB: Database> {
    ctx: &'c mut MainnetContext<DB>,
    wasm: WasmPrecompiles,
}

fn fatal(e: impl std::fmt::Display) -> Halt {
    Halt::Fatal(e.to_string())
}

/// A state read that failed, as the text revm carries for a provider error.
fn db(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

impl<DB: Database> Chain for RevmChain<'_, DB> {
    fn info(&self) -> BlockInfo {
        let basefee = self.ctx.block.basefee;
        BlockInfo {
            number: self.ctx.block.number.saturating_to(),
            timestamp: self.ctx.block.timestamp.saturating_to(),
            gas_limit: self.ctx.block.gas_limit,
            coinbase: self.ctx.block.beneficiary,
            chain_id: self.ctx.cfg.chain_id,
            gas_price: U256::from(self.ctx.tx.effective_gas_price(u128::from(basefee))),
            origin: self.ctx.tx.caller(),
            nonce: self.ctx.tx.nonce(),
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Halt> {
        let current: u64 = self.ctx.block.number.saturating_to();
        if number >= current || current - number > 256 {
            return Ok(B256::ZERO);
        }
        self.ctx
            .journal_mut()
            .db_mut()
            .block_hash(number)
            .map_err(fatal)
    }

    fn balance(&mut self, address: Address) -> Result<U256, Halt> {
        let a = self
            .ctx
            .journal_mut()
            .load_account(address)
            .map_err(fatal)?;
        Ok(a.data.info.balance)
    }

    fn sload(&mut self, address: Address, slot: U256) -> Result<U256, Halt> {
        let j = self.ctx.journal_mut();
        j.load_account(address).map_err(fatal)?;
        Ok(j.sload(address, slot).map_err(fatal)?.data)
    }

    fn sstore(&mut self, address: Address, slot: U256, value: U256) -> Result<(), Halt> {
        let j = self.ctx.journal_mut();
        j.load_account(address).map_err(fatal)?;
        j.sstore(address, slot, value).map_err(fatal)?;
        Ok(())
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> Result<bool, Halt> {
        let r = self
            .ctx
            .journal_mut()
            .transfer(from, to, value)
            .map_err(fatal)?;
        Ok(r.is_none())
    }

    fn exists(&mut self, address: Address) -> Result<bool, Halt> {
        let a = self
            .ctx
            .journal_mut()
            .load_account(address)
            .map_err(fatal)?;
        Ok(!a.data.is_empty())
    }

    fn log(&mut self, address: Address, topics: Vec<B256>, data: Bytes) {
        self.ctx.journal_mut().log(Log {
            address,
            data: LogData::new_unchecked(topics, data),
        });
    }

    fn call(
        &mut self,
        kind: CallKind,
        frame: &FrameEnv,
        to: Address,
        input: Bytes,
        value: U256,
        gas: u64,
    ) -> Result<SubResult, Halt> {
        let failed = |gas_left| SubResult {
            code: 2,
            output: Bytes::new(),
            gas_left,
            address: None,
        };
        if frame.depth > revm::primitives::constants::CALL_STACK_LIMIT as usize {
            return Ok(failed(gas));
        }
        let (hash, code) = {
            let a = self
                .ctx
                .journal_mut()
                .load_account_with_code(to)
                .map_err(fatal)?;
            let code = a.data.info.code.clone().unwrap_or_default();
            (a.data.info.code_hash, code)
        };
        let (target, caller, value, scheme) = match kind {
            CallKind::Call => (
                to,
                frame.address,
                CallValue::Transfer(value),
                CallScheme::Call,
            ),
            CallKind::Static => (
                to,
                frame.address,
                CallValue::Transfer(U256::ZERO),
                CallScheme::StaticCall,
            ),
            CallKind::Delegate => (
                frame.address,
                frame.caller,
                CallValue::Apparent(frame.value),
                CallScheme::DelegateCall,
            ),
        };
        let inputs = CallInputs {
            input: CallInput::Bytes(input),
            return_memory_offset: 0..0,
            gas_limit: gas,
            reservoir: 0,
            bytecode_address: to,
            known_bytecode: (hash, code),
            target_address: target,
            caller,
            value,
            scheme,
            is_static: frame.is_static || kind == CallKind::Static,
            charged_new_account_state_gas: false,
        };
        let r = run_nested(
            self.ctx,
            self.wasm.nested(),
            FrameInput::Call(Box::new(inputs)),
        )
        .map_err(Halt::Fatal)?;
        let res = match r {
            FrameResult::Call(c) => c.result,
            FrameResult::Create(c) => c.result,
        };
        Ok(SubResult {
            code: if res.result.is_ok() {
                0
            } else if res.result.is_revert() {
                1
            } else {
                2
            },
            output: res.output,
            gas_left: res.gas.remaining(),
            address: None,
        })
    }

    fn create(
        &mut self,
        frame: &FrameEnv,
        module: &[u8],
        init: Bytes,
        value: U256,
        gas: u64,
    ) -> Result<SubResult, Halt> {
        let sub = |code, output: Vec<u8>, gas_left, address| SubResult {
            code,
            output: Bytes::from(output),
            gas_left,
            address,
        };
        if frame.depth > revm::primitives::constants::CALL_STACK_LIMIT as usize {
            return Ok(sub(2, Vec::new(), gas, None));
        }
        let creator = frame.address;
        let spec = self.ctx.cfg.spec;
        let old_nonce = {
            let j = self.ctx.journal_mut();
            let mut acc = j.load_account_mut(creator).map_err(fatal)?.data;
            if *acc.balance() < value {
                return Ok(sub(2, Vec::new(), gas, None));
            }
            let n = acc.nonce();
            if !acc.bump_nonce() {
                return Ok(sub(2, Vec::new(), gas, None));
            }
            n
        };
        let created = creator.create(old_nonce);
        self.ctx
            .journal_mut()
            .load_account(created)
            .map_err(fatal)?;
        let checkpoint = match self
            .ctx
            .journal_mut()
            .create_account_checkpoint(creator, created, value, spec)
        {
            Ok(c) => c,
            Err(_) => return Ok(sub(2, Vec::new(), gas, None)),
        };
        let code = match prepare(module) {
            Ok(c) => c,
            Err(e) => {
                self.ctx.journal_mut().checkpoint_revert(checkpoint);
                return Ok(sub(1, e.to_string().into_bytes(), gas, None));
            }
        };
        let ctor = FrameEnv {
            address: created,
            code_address: created,
            caller: creator,
            value,
            input: init,
            is_static: false,
            depth: self.ctx.journal().depth(),
        };
        let (r, mut gas_left, output) = run_frame(self.ctx, &self.wasm, &code, ctor, gas);
        match r {
            Ok(()) => {
                let deposit = (code.len() as u64).saturating_mul(cost::CODE_DEPOSIT_BYTE_GAS);
                match gas_left.checked_sub(deposit) {
                    Some(g) => gas_left = g,
                    None => {
                        self.ctx.journal_mut().checkpoint_revert(checkpoint);
                        return Ok(sub(2, Vec::new(), 0, None));
                    }
                }
                register(self.ctx, &code).map_err(Halt::Fatal)?;
                self.ctx
                    .journal_mut()
                    .set_code(created, Bytecode::new_legacy(Bytes::from(code)));
                self.ctx.journal_mut().checkpoint_commit();
                Ok(sub(0, Vec::new(), gas_left, Some(created)))
            }
            Err(Halt::Revert) => {
                self.ctx.journal_mut().checkpoint_revert(checkpoint);
                Ok(sub(1, output, gas_left, None))
            }
            Err(Halt::Fatal(e)) => Err(Halt::Fatal(e)),
            Err(_) => {
                self.ctx.journal_mut().checkpoint_revert(checkpoint);
                Ok(sub(2, Vec::new(), 0, None))
            }
        }
    }

    fn debug(&mut self, address: Address, message: &str) {
        if self.wasm.debug {
            tracing::info!(target: "platon::wasm", contract = %address, "{message}");
        }
    }
}
