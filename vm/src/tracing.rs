//! Execution tracers in geth's shapes, on the revm engine: the default struct-log tracer (one entry per
//! executed opcode), `callTracer` (the tree of calls and creations) and `prestateTracer` (the
//! accounts a transaction touched, before and optionally after it), and the access-list tracer
//! behind `eth_createAccessList`. They serve the `debug_trace*` methods.

use crate::revm_engine::{block_env, tx_env, StateView};
use crate::runtime::{BlockHashes, ExecError, ExecOptions, Message, Outcome, Status, TxReject};
pub use crate::wasm::revm_glue::MovedPrecompiles;
use alloy_primitives::{hex, Address, Bytes, B256, U256};
use platon_messages::actors::BlockEnv;
use platon_storage::StateDb;
use revm::bytecode::OpCode;
use revm::context_interface::{ContextTr, CreateScheme, JournalTr};
use revm::interpreter::interpreter_types::{Jumps, LoopControl, MemoryTr, ReturnData};
use revm::interpreter::{
    CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome, InstructionResult,
    Interpreter,
};
use revm::{Context, InspectEvm, Inspector, MainBuilder, MainContext};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Which tracer to run, with geth's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TracerKind {
    /// The default struct logger.
    StructLogs {
        /// Leave out the stack.
        disable_stack: bool,
        /// Include memory (geth's `enableMemory`).
        enable_memory: bool,
        /// Leave out storage.
        disable_storage: bool,
        /// Include the return data of the last call (geth's `enableReturnData`).
        enable_return_data: bool,
        /// Most entries recorded (0: unlimited); later ones are dropped.
        limit: usize,
    },
    /// `callTracer`.
    Call {
        /// Only the top call (`onlyTopCall`).
        only_top_call: bool,
        /// Include logs in the frames (`withLog`).
        with_log: bool,
    },
    /// `prestateTracer`.
    Prestate {
        /// Pre- and post-state of what changed (`diffMode`) instead of the pre-state of all touched.
        diff_mode: bool,
    },
}

/// geth's `execution reverted` reason: the string of an `Error(string)` revert, if it is one.
pub fn revert_reason(data: &[u8]) -> Option<String> {
    // Error(string) selector, then offset, length and the UTF-8 bytes.
    if data.len() < 68 || data[..4] != [0x08, 0xc3, 0x79, 0xa0] {
        return None;
    }
    let len = U256::from_be_slice(&data[36..68]);
    let len = usize::try_from(len).ok()?;
    let end = 68usize.checked_add(len)?;
    let bytes = data.get(68..end)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// geth's error string for an instruction result that ended a frame unsuccessfully.
pub fn frame_error(r: InstructionResult) -> Option<String> {
    use InstructionResult as I;
    Some(match r {
        I::Stop | I::Return | I::SelfDestruct => return None,
        I::Revert => "execution reverted".into(),
        I::OutOfGas
        | I::MemoryOOG
        | I::MemoryLimitOOG
        | I::PrecompileOOG
        | I::InvalidOperandOOG => "out of gas".into(),
        I::OpcodeNotFound | I::InvalidFEOpcode => "invalid opcode".into(),
        I::InvalidJump => "invalid jump destination".into(),
        I::StackUnderflow => "stack underflow".into(),
        I::StackOverflow => "stack limit reached 1024 (1023)".into(),
        I::CallTooDeep => "max call depth exceeded".into(),
        I::OutOfFunds => "insufficient balance for transfer".into(),
        I::CreateCollision => "contract address collision".into(),
        I::CreateContractSizeLimit => "max code size exceeded".into(),
        I::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        I::StateChangeDuringStaticCall => "write protection".into(),
        I::OutOfOffset => "return data out of bounds".into(),
        I::NonceOverflow => "nonce uint64 overflow".into(),
        other => format!("{other:?}"),
    })
}

fn word_hex(v: &U256) -> String {
    format!("{v:#x}")
}

/// The struct logger.
#[derive(Debug, Default)]
struct StructLogger {
    disable_stack: bool,
    enable_memory: bool,
    disable_storage: bool,
    enable_return_data: bool,
    limit: usize,
    logs: Vec<Value>,
    // Per-depth storage seen so far (geth shows the slots the current contract touched).
    storage: BTreeMap<usize, BTreeMap<B256, B256>>,
    pending: Option<(usize, u64, Option<B256>)>, // (log index, gas before, SLOAD key)
}

impl<CTX: ContextTr> Inspector<CTX> for StructLogger {
    fn initialize_interp(&mut self, _: &mut Interpreter, context: &mut CTX) {
        let depth = context.journal_mut().depth();
        self.storage.insert(depth, BTreeMap::new());
    }

    fn step(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        if self.limit != 0 && self.logs.len() >= self.limit {
            self.pending = None;
            return;
        }
        let op = interp.bytecode.opcode();
        let depth = context.journal_mut().depth();
        let stack = interp.stack.data();
        let mut entry = Map::new();
        entry.insert("pc".into(), json!(interp.bytecode.pc()));
        entry.insert(
            "op".into(),
            json!(OpCode::new(op)
                .map(|o| o.as_str().to_string())
                .unwrap_or_else(|| format!("opcode {op:#x} not defined"))),
        );
        entry.insert("gas".into(), json!(interp.gas.remaining()));
        entry.insert("gasCost".into(), json!(0));
        entry.insert("depth".into(), json!(depth));
        if !self.disable_stack {
            entry.insert(
                "stack".into(),
                Value::Array(stack.iter().map(|w| json!(word_hex(w))).collect()),
            );
        }
        if self.enable_memory {
            let size = interp.memory.size();
            let mem = interp.memory.slice(0..size);
            entry.insert(
                "memory".into(),
                Value::Array(mem.chunks(32).map(|c| json!(hex::encode(c))).collect()),
            );
        }
        if self.enable_return_data {
            let data = interp.return_data.buffer();
            if !data.is_empty() {
                entry.insert(
                    "returnData".into(),
                    json!(format!("0x{}", hex::encode(data))),
                );
            }
        }
        let mut sload_key = None;
        if !self.disable_storage {
            let slots = self.storage.entry(depth).or_default();
            let top = |i: usize| stack.len().checked_sub(i + 1).and_then(|j| stack.get(j));
            if op == revm::bytecode::opcode::SSTORE {
                if let (Some(k), Some(v)) = (top(0), top(1)) {
                    slots.insert(B256::from(*k), B256::from(*v));
                }
            }
            if op == revm::bytecode::opcode::SLOAD {
                sload_key = top(0).map(|k| B256::from(*k));
            }
            if op == revm::bytecode::opcode::SSTORE || op == revm::bytecode::opcode::SLOAD {
                entry.insert("storage".into(), storage_json(slots));
            }
        }
        self.pending = Some((self.logs.len(), interp.gas.remaining(), sload_key));
        self.logs.push(Value::Object(entry));
    }

    fn step_end(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        let Some((i, before, sload_key)) = self.pending.take() else {
            return;
        };
        let cost = before.saturating_sub(interp.gas.remaining());
        if let Some(entry) = self.logs.get_mut(i) {
            entry["gasCost"] = json!(cost);
            if let Some(key) = sload_key {
                let depth = context.journal_mut().depth();
                if let Some(v) = interp.stack.data().last() {
                    let slots = self.storage.entry(depth).or_default();
                    slots.insert(key, B256::from(*v));
                    entry["storage"] = storage_json(slots);
                }
            }
            let result = interp
                .bytecode
                .action()
                .as_ref()
                .and_then(|a| a.instruction_result());
            if let Some(err) = result
                .filter(|r| *r != InstructionResult::Revert)
                .and_then(frame_error)
            {
                entry["error"] = json!(err);
            }
        }
    }
}

fn storage_json(slots: &BTreeMap<B256, B256>) -> Value {
    Value::Object(
        slots
            .iter()
            .map(|(k, v)| (format!("{k:#x}"), json!(format!("{v:#x}"))))
            .collect(),
    )
}

/// One frame of the call tracer.
#[derive(Debug, Default)]
struct Frame {
    kind: &'static str,
    from: Address,
    to: Option<Address>,
    value: Option<U256>,
    gas: u64,
    gas_used: u64,
    input: Bytes,
    output: Bytes,
    error: Option<String>,
    revert_reason: Option<String>,
    calls: Vec<Frame>,
    logs: Vec<Value>,
}

impl Frame {
    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), json!(self.kind));
        o.insert("from".into(), json!(self.from));
        if let Some(to) = self.to {
            o.insert("to".into(), json!(to));
        }
        if let Some(v) = self.value {
            o.insert("value".into(), json!(word_hex(&v)));
        }
        o.insert("gas".into(), json!(format!("{:#x}", self.gas)));
        o.insert("gasUsed".into(), json!(format!("{:#x}", self.gas_used)));
        o.insert("input".into(), json!(self.input));
        if !self.output.is_empty() {
            o.insert("output".into(), json!(self.output));
        }
        if let Some(e) = &self.error {
            o.insert("error".into(), json!(e));
        }
        if let Some(r) = &self.revert_reason {
            o.insert("revertReason".into(), json!(r));
        }
        if !self.logs.is_empty() {
            o.insert("logs".into(), Value::Array(self.logs.clone()));
        }
        if !self.calls.is_empty() {
            o.insert(
                "calls".into(),
                Value::Array(self.calls.iter().map(Frame::to_json).collect()),
            );
        }
        Value::Object(o)
    }
}

/// The call tracer.
#[derive(Debug, Default)]
struct CallTracer {
    only_top_call: bool,
    with_log: bool,
    stack: Vec<Frame>,
    root: Option<Frame>,
}

impl CallTracer {
    fn open(&mut self, frame: Frame) {
        self.stack.push(frame);
    }

    fn close(
        &mut self,
        result: InstructionResult,
        output: Bytes,
        gas_spent: u64,
        to: Option<Address>,
    ) {
        let Some(mut f) = self.stack.pop() else {
            return;
        };
        f.gas_used = gas_spent;
        if to.is_some() {
            f.to = to;
        }
        f.error = frame_error(result);
        if result == InstructionResult::Revert {
            f.revert_reason = revert_reason(&output);
        }
        if f.error.is_some() {
            // geth drops the logs of frames that failed.
            f.logs.clear();
        }
        f.output = output;
        match self.stack.last_mut() {
            Some(parent) => {
                if !self.only_top_call {
                    parent.calls.push(f);
                }
            }
            None => self.root = Some(f),
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for CallTracer {
    fn log(&mut self, _: &mut CTX, log: revm::primitives::Log) {
        if !self.with_log {
            return;
        }
        if let Some(f) = self.stack.last_mut() {
            f.logs.push(json!({
                "address": log.address,
                "topics": log.data.topics(),
                "data": log.data.data,
            }));
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let kind = match inputs.scheme {
            CallScheme::Call => "CALL",
            CallScheme::CallCode => "CALLCODE",
            CallScheme::DelegateCall => "DELEGATECALL",
            CallScheme::StaticCall => "STATICCALL",
        };
        let value = match inputs.scheme {
            CallScheme::Call | CallScheme::CallCode => Some(inputs.call_value()),
            _ => None,
        };
        self.open(Frame {
            kind,
            from: inputs.caller,
            to: Some(inputs.target_address),
            value,
            gas: inputs.gas_limit,
            input: inputs.input.bytes(context),
            ..Default::default()
        });
        None
    }

    fn call_end(&mut self, _: &mut CTX, _: &CallInputs, outcome: &mut CallOutcome) {
        let r = &outcome.result;
        self.close(r.result, r.output.clone(), r.gas.total_gas_spent(), None);
    }

    fn create(&mut self, _: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let kind = match inputs.scheme() {
            CreateScheme::Create2 { .. } => "CREATE2",
            _ => "CREATE",
        };
        self.open(Frame {
            kind,
            from: inputs.caller(),
            value: Some(inputs.value()),
            gas: inputs.gas_limit(),
            input: inputs.init_code().clone(),
            ..Default::default()
        });
        None
    }

    fn create_end(&mut self, _: &mut CTX, _: &CreateInputs, outcome: &mut CreateOutcome) {
        let r = &outcome.result;
        self.close(
            r.result,
            r.output.clone(),
            r.gas.total_gas_spent(),
            outcome.address,
        );
    }
}

/// Runs `msg` on revm under `inspector`, with the precompiles `moved` (if any); the state gets
/// its effects.
fn run<I>(
    state: &mut StateDb,
    hashes: &dyn BlockHashes,
    env: &BlockEnv,
    msg: &Message,
    opts: ExecOptions,
    inspector: I,
    moved: Option<std::sync::Arc<MovedPrecompiles>>,
) -> Result<Result<(Outcome, I), TxReject>, ExecError>
where
    I: Default
        + for<'a> Inspector<
            Context<
                revm::context::BlockEnv,
                revm::context::TxEnv,
                revm::context::CfgEnv,
                StateView<'a>,
            >,
        >,
{
    let view = StateView {
        state: &*state,
        hashes,
    };
    let mut evm = Context::mainnet()
        .with_db(view)
        .with_block(block_env(env))
        .with_cfg(crate::revm_engine::cfg_for(env.chain_id, opts, msg))
        .build_mainnet_with_inspector(inspector)
        // WASM frames run as they do in blocks; the tracer sees the EVM frames around them.
        .with_precompiles(
            crate::wasm::revm_glue::WasmPrecompiles::new(
                crate::revm_engine::SPEC,
                crate::wasm::WasmEngine::Wasm3,
                false,
            )
            .with_moves(moved),
        );
    let result = evm.inspect_tx(tx_env(msg));
    let inspector = std::mem::take(&mut evm.inspector);
    drop(evm);
    Ok(crate::revm_engine::finish(state, result)?.map(|out| (out, inspector)))
}

/// Runs `msg` like [`crate::Runtime::transact`] on revm with a tracer and returns the outcome and the
/// trace in geth's shape. The state receives the message's effects, so tracing the n-th transaction
/// of a block is: replay the first n−1 with `transact`, then trace.
pub fn trace(
    state: &mut StateDb,
    hashes: &dyn BlockHashes,
    env: &BlockEnv,
    msg: &Message,
    opts: ExecOptions,
    kind: &TracerKind,
) -> Result<Result<(Outcome, Value), TxReject>, ExecError> {
    match kind {
        TracerKind::StructLogs {
            disable_stack,
            enable_memory,
            disable_storage,
            enable_return_data,
            limit,
        } => {
            let logger = StructLogger {
                disable_stack: *disable_stack,
                enable_memory: *enable_memory,
                disable_storage: *disable_storage,
                enable_return_data: *enable_return_data,
                limit: *limit,
                ..Default::default()
            };
            let (out, logger) = match run(state, hashes, env, msg, opts, logger, None)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            // geth ≥ 1.14.9 writes returnValue as 0x-prefixed hex.
            let return_value = format!("0x{}", hex::encode(&out.output));
            let failed = !out.success();
            let value = json!({
                "gas": out.gas_used,
                "failed": failed,
                "returnValue": return_value,
                "structLogs": logger.logs,
            });
            Ok(Ok((out, value)))
        }
        TracerKind::Call {
            only_top_call,
            with_log,
        } => {
            let tracer = CallTracer {
                only_top_call: *only_top_call,
                with_log: *with_log,
                ..Default::default()
            };
            let (out, tracer) = match run(state, hashes, env, msg, opts, tracer, None)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let mut root = tracer.root.unwrap_or_default();
            // As geth: the top frame's gas is what the call received (the limit less intrinsic gas),
            // its gasUsed the transaction's, refunds included.
            root.gas_used = out.gas_used;
            if let Status::Halt(_) = out.status {
                root.output = Bytes::new();
            }
            Ok(Ok((out, root.to_json())))
        }
        TracerKind::Prestate { diff_mode } => {
            let before = state.clone();
            let (out, mut touched) =
                match run(state, hashes, env, msg, opts, Touched::default(), None)? {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)),
                };
            touched.accounts.insert(msg.caller);
            touched.accounts.insert(env.beneficiary);
            if let platon_messages::TxKind::Call(to) = msg.kind {
                touched.accounts.insert(to);
            }
            let value = prestate_json(&before, state, &touched, *diff_mode)?;
            Ok(Ok((out, value)))
        }
    }
}

/// What a transaction touched: accounts, and the storage slots of each.
#[derive(Debug, Default)]
pub struct Touched {
    /// Accounts read or written.
    pub accounts: BTreeSet<Address>,
    /// Storage slots read or written, per account.
    pub slots: BTreeMap<Address, BTreeSet<B256>>,
    /// Accounts only named by address-reading opcodes and calls (for access lists).
    pub named: BTreeSet<Address>,
}

impl<CTX: ContextTr> Inspector<CTX> for Touched {
    fn step(&mut self, interp: &mut Interpreter, _: &mut CTX) {
        use revm::bytecode::opcode as op;
        use revm::interpreter::interpreter_types::InputsTr;
        let code = interp.bytecode.opcode();
        let stack = interp.stack.data();
        let top = |i: usize| stack.len().checked_sub(i + 1).and_then(|j| stack.get(j));
        let as_addr = |w: &U256| Address::from_word(B256::from(*w));
        match code {
            op::SLOAD | op::SSTORE => {
                if let Some(k) = top(0) {
                    let me = interp.input.target_address();
                    self.accounts.insert(me);
                    self.slots.entry(me).or_default().insert(B256::from(*k));
                }
            }
            op::BALANCE
            | op::EXTCODESIZE
            | op::EXTCODECOPY
            | op::EXTCODEHASH
            | op::SELFDESTRUCT => {
                if let Some(a) = top(0) {
                    self.accounts.insert(as_addr(a));
                    self.named.insert(as_addr(a));
                }
            }
            op::CALL | op::CALLCODE | op::DELEGATECALL | op::STATICCALL => {
                if let Some(a) = top(1) {
                    self.accounts.insert(as_addr(a));
                    self.named.insert(as_addr(a));
                }
            }
            _ => {}
        }
    }

    fn create_end(&mut self, _: &mut CTX, _: &CreateInputs, outcome: &mut CreateOutcome) {
        if let Some(a) = outcome.address {
            self.accounts.insert(a);
        }
    }
}

fn account_json(
    state: &StateDb,
    addr: &Address,
    slots: Option<&BTreeSet<B256>>,
) -> Result<Value, ExecError> {
    let acc = state.account(addr)?;
    let code = state.code(addr)?;
    let mut o = Map::new();
    o.insert("balance".into(), json!(format!("{:#x}", acc.balance)));
    if acc.nonce != 0 {
        o.insert("nonce".into(), json!(acc.nonce));
    }
    if !code.is_empty() {
        o.insert("code".into(), json!(format!("0x{}", hex::encode(&code))));
        o.insert(
            "codeHash".into(),
            json!(format!("{:#x}", alloy_primitives::keccak256(&code))),
        );
    }
    if let Some(slots) = slots {
        let mut st = Map::new();
        for k in slots {
            let v = state.storage(addr, *k)?;
            if !v.is_zero() {
                st.insert(format!("{k:#x}"), json!(format!("{:#x}", B256::from(v))));
            }
        }
        if !st.is_empty() {
            o.insert("storage".into(), Value::Object(st));
        }
    }
    Ok(Value::Object(o))
}

fn exists(state: &StateDb, addr: &Address) -> Result<bool, ExecError> {
    let acc = state.account(addr)?;
    let code = state.code(addr)?;
    Ok(acc.nonce != 0 || !acc.balance.is_zero() || !code.is_empty())
}

/// geth's `prestateTracer` output: every touched account as it was before the transaction, or in
/// diff mode `{pre, post}` with only what changed (`post` leaves out unchanged fields).
fn prestate_json(
    before: &StateDb,
    after: &StateDb,
    touched: &Touched,
    diff_mode: bool,
) -> Result<Value, ExecError> {
    let mut pre = Map::new();
    let mut post = Map::new();
    for addr in &touched.accounts {
        let slots = touched.slots.get(addr);
        if !diff_mode {
            if exists(before, addr)? || slots.is_some() {
                pre.insert(format!("{addr:#x}"), account_json(before, addr, slots)?);
            }
            continue;
        }
        let a = account_json(before, addr, slots)?;
        let b = account_json(after, addr, slots)?;
        if a == b {
            continue;
        }
        if exists(before, addr)? {
            pre.insert(format!("{addr:#x}"), a.clone());
        }
        let (Value::Object(a), Value::Object(b)) = (a, b) else {
            continue;
        };
        let mut changed = Map::new();
        for (k, v) in &b {
            if k == "storage" {
                let old = a.get("storage").and_then(Value::as_object);
                let diff: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(slot, val)| old.and_then(|o| o.get(*slot)) != Some(*val))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !diff.is_empty() {
                    changed.insert(k.clone(), Value::Object(diff));
                }
            } else if a.get(k) != Some(v) {
                changed.insert(k.clone(), v.clone());
            }
        }
        if exists(after, addr)? {
            post.insert(format!("{addr:#x}"), Value::Object(changed));
        }
    }
    Ok(if diff_mode {
        json!({ "pre": pre, "post": post })
    } else {
        Value::Object(pre)
    })
}

/// Runs `msg` (effects applied to `state`) and returns its outcome with what it touched: the
/// access-list tracer of `eth_createAccessList`.
pub fn touched(
    state: &mut StateDb,
    hashes: &dyn BlockHashes,
    env: &BlockEnv,
    msg: &Message,
    opts: ExecOptions,
) -> Result<Result<(Outcome, Touched), TxReject>, ExecError> {
    run(state, hashes, env, msg, opts, Touched::default(), None)
}

/// The address geth gives the logs of traced ETH transfers (`eth_simulateV1`'s `traceTransfers`).
pub const TRANSFER_LOG_ADDRESS: Address = Address::repeat_byte(0xee);

/// `Transfer(address,address,uint256)`, the topic of a traced ETH transfer.
const TRANSFER_TOPIC: B256 =
    alloy_primitives::b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Logs in execution order with ETH transfers among them, per frame: a failed frame's are dropped.
#[derive(Debug, Default)]
struct TransferTracer {
    frames: Vec<Vec<platon_messages::Log>>,
    done: Vec<platon_messages::Log>,
}

fn transfer_log(from: Address, to: Address, value: U256) -> platon_messages::Log {
    platon_messages::Log {
        address: TRANSFER_LOG_ADDRESS,
        topics: vec![TRANSFER_TOPIC, from.into_word(), to.into_word()],
        data: Bytes::from(value.to_be_bytes::<32>().to_vec()),
    }
}

impl TransferTracer {
    fn close(&mut self, ok: bool) {
        let frame = self.frames.pop().unwrap_or_default();
        if !ok {
            return;
        }
        match self.frames.last_mut() {
            Some(parent) => parent.extend(frame),
            None => self.done.extend(frame),
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for TransferTracer {
    fn log(&mut self, _: &mut CTX, log: revm::primitives::Log) {
        if let Some(f) = self.frames.last_mut() {
            f.push(platon_messages::Log {
                address: log.address,
                topics: log.data.topics().to_vec(),
                data: log.data.data.clone(),
            });
        }
    }

    fn call(&mut self, _: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let mut frame = Vec::new();
        let value = inputs.call_value();
        if inputs.scheme == CallScheme::Call && !value.is_zero() {
            frame.push(transfer_log(inputs.caller, inputs.target_address, value));
        }
        self.frames.push(frame);
        None
    }

    fn call_end(&mut self, _: &mut CTX, _: &CallInputs, outcome: &mut CallOutcome) {
        self.close(outcome.result.result.is_ok());
    }

    fn create(&mut self, _: &mut CTX, _: &mut CreateInputs) -> Option<CreateOutcome> {
        self.frames.push(Vec::new());
        None
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        if let (false, Some(f)) = (value.is_zero(), self.frames.last_mut()) {
            f.push(transfer_log(contract, target, value));
        }
    }

    fn create_end(&mut self, _: &mut CTX, inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        let value = inputs.value();
        if let (Some(to), Some(frame)) = (outcome.address, self.frames.last_mut()) {
            if !value.is_zero() {
                frame.insert(0, transfer_log(inputs.caller(), to, value));
            }
        }
        self.close(outcome.result.result.is_ok());
    }
}

/// Runs `msg` (effects applied to `state`) on revm with the precompiles `moved` (if any); with
/// `transfers`, the outcome's logs have the ETH transfers among them as logs of
/// [`TRANSFER_LOG_ADDRESS`] (`eth_simulateV1` with `traceTransfers`).
pub fn simulate_call(
    state: &mut StateDb,
    hashes: &dyn BlockHashes,
    env: &BlockEnv,
    msg: &Message,
    opts: ExecOptions,
    moved: Option<std::sync::Arc<MovedPrecompiles>>,
    transfers: bool,
) -> Result<Result<Outcome, TxReject>, ExecError> {
    let run = run(
        state,
        hashes,
        env,
        msg,
        opts,
        TransferTracer::default(),
        moved,
    )?;
    Ok(run.map(|(mut out, t)| {
        // A failed call has no logs, traced or not.
        if transfers && out.success() {
            out.logs = t.done;
        }
        out
    }))
}

/// Whether `address` is a precompile of this chain's rules.
pub fn is_precompile(address: &Address) -> bool {
    revm::handler::EthPrecompiles::new(crate::revm_engine::SPEC).contains(address)
}

/// Moves precompiles of this chain's rules (`eth_simulateV1`'s `movePrecompileToAddress`);
/// `Err(address)` names a source that is not a precompile.
pub fn move_precompiles(
    pairs: Vec<(Address, Address)>,
) -> Result<std::sync::Arc<MovedPrecompiles>, Address> {
    MovedPrecompiles::new(crate::revm_engine::SPEC, pairs).map(std::sync::Arc::new)
}
