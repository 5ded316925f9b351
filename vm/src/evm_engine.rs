//! The second EVM engine: rust-ethereum's `evm` (with `evm-precompile`), an implementation independent
//! of revm, selectable with `--evm.engine evm`. Tests run the VMTests and the client sequences through
//! both engines and require identical roots, gas, logs and return data.
//!
//! The crate's standard invoker charges fees and runs the message, but leaves transaction validity to
//! its caller: [`validate`] applies the same rules revm applies (nonce, fee cap, balance, intrinsic gas,
//! init-code size, EIP-3607) before the message runs.

use crate::runtime::{
    BlockHashes, ExecError, ExecOptions, Message, Outcome, Runtime, Status, TxReject,
};
use alloy_primitives::{Address, Bytes, B256, U256};
use evm::backend::{OverlayedBackend, OverlayedChangeSet};
use evm::interpreter::etable::{Chained, Etable};
use evm::interpreter::runtime::{RuntimeBaseBackend, RuntimeEnvironment};
use evm::interpreter::{Capture, ExitError, ExitFatal, Interpreter};
use evm::interpreter::{Control, ExitException, Machine};
use evm::standard::{
    Config, EtableResolver, ExecutionEtable, GasometerEtable, InvokerState, TransactArgs,
    TransactArgsCallCreate, TransactGasPrice, TransactValueCallCreate,
};
use evm::uint::{H160, H256, U256 as PU256};
use evm::{Invoker, InvokerControl, InvokerExit};
use evm_precompile::StandardPrecompileSet;
use platon_messages::actors::BlockEnv;
use platon_messages::{Log, TxKind};
use platon_storage::{StateDb, StorageError};
use std::cell::RefCell;

/// The Shanghai configuration both engines run.
static CONFIG: Config = Config::shanghai();

/// Shanghai for calls run without the base-fee rule (`eth_call` without a price): the plain price is
/// charged, BASEFEE still reads the block's base fee (as on revm).
static UNCHECKED_CONFIG: Config = unchecked_config();

const fn unchecked_config() -> Config {
    let mut c = Config::shanghai();
    c.eip1559_fee_market = false;
    c
}

/// Call frames kept on the native stack before the engine switches to its heap stack.
const HEAP_DEPTH: usize = 64;

/// The rust-ethereum `evm` engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustEvm;

fn h160(a: Address) -> H160 {
    H160::from_slice(a.as_slice())
}

fn addr(a: H160) -> Address {
    Address::from_slice(a.as_bytes())
}

fn h256(b: B256) -> H256 {
    H256::from_slice(b.as_slice())
}

fn b256(h: H256) -> B256 {
    B256::from_slice(h.as_bytes())
}

fn pu256(v: U256) -> PU256 {
    PU256::from_big_endian(&v.to_be_bytes::<32>())
}

fn u256(v: PU256) -> U256 {
    let mut out = [0u8; 32];
    v.to_big_endian(&mut out);
    U256::from_be_bytes(out)
}

/// The node's state and block environment as the engine's base backend. Reads cannot fail in the
/// engine's interface, so the first storage error is kept and the message's result discarded.
struct Base<'a> {
    state: &'a StateDb,
    hashes: &'a dyn BlockHashes,
    env: &'a BlockEnv,
    error: RefCell<Option<StorageError>>,
}

impl Base<'_> {
    fn keep<T: Default>(&self, r: Result<T, StorageError>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                T::default()
            }
        }
    }

    fn account(&self, a: H160) -> platon_storage::Account {
        self.keep(self.state.account(&addr(a)))
    }
}

impl RuntimeEnvironment for Base<'_> {
    fn block_hash(&self, number: PU256) -> H256 {
        let current = PU256::from(self.env.number);
        // Only the 256 most recent ancestors are visible.
        if number >= current || current - number > PU256::from(256u64) {
            return H256::zero();
        }
        let n = number.low_u64();
        h256(self.keep(self.hashes.block_hash(n)).unwrap_or_default())
    }
    fn block_number(&self) -> PU256 {
        PU256::from(self.env.number)
    }
    fn block_coinbase(&self) -> H160 {
        h160(self.env.beneficiary)
    }
    fn block_timestamp(&self) -> PU256 {
        PU256::from(self.env.timestamp)
    }
    fn block_difficulty(&self) -> PU256 {
        PU256::zero()
    }
    fn block_randomness(&self) -> Option<H256> {
        Some(h256(self.env.prev_randao))
    }
    fn block_gas_limit(&self) -> PU256 {
        PU256::from(self.env.gas_limit)
    }
    fn block_base_fee_per_gas(&self) -> PU256 {
        PU256::from(self.env.base_fee)
    }
    fn blob_versioned_hash(&self, _: PU256) -> H256 {
        H256::zero()
    }
    fn blob_base_fee_per_gas(&self) -> PU256 {
        PU256::zero()
    }
    fn chain_id(&self) -> PU256 {
        PU256::from(self.env.chain_id)
    }
}

impl RuntimeBaseBackend for Base<'_> {
    fn balance(&self, address: H160) -> PU256 {
        pu256(self.account(address).balance)
    }
    fn code_hash(&self, address: H160) -> H256 {
        let a = self.account(address);
        if a.is_empty() {
            H256::zero()
        } else {
            h256(a.code_hash)
        }
    }
    fn code(&self, address: H160) -> Vec<u8> {
        self.keep(self.state.code(&addr(address)))
    }
    fn storage(&self, address: H160, index: H256) -> H256 {
        let v = self.keep(self.state.storage(&addr(address), b256(index)));
        h256(B256::from(v))
    }
    fn transient_storage(&self, _: H160, _: H256) -> H256 {
        // No EIP-1153 before Cancun.
        H256::zero()
    }
    fn exists(&self, address: H160) -> bool {
        !self.account(address).is_empty()
    }
    fn can_create(&self, address: H160) -> bool {
        let a = self.account(address);
        a.nonce == 0 && !a.has_code() && a.storage_root == platon_messages::block::EMPTY_ROOT
    }
    fn nonce(&self, address: H160) -> PU256 {
        PU256::from(self.account(address).nonce)
    }
}

/// Two corrections to the interpreter, applied at each opcode:
/// - it reports an offset or size beyond the machine's address space as a fatal "not supported"
///   error, which would abort the whole transaction. In Ethereum such an operation can never be paid
///   for: it is an out-of-gas halt of the frame that tried it, and nothing more;
/// - for a memory range of size zero it still moves the memory size (MSIZE) to the offset (found by
///   the engine differential fuzzer: CREATE2 of nothing at offset 2^192). In Ethereum a zero-size
///   range touches no memory and its offset is ignored, so the offset is set to zero before the
///   opcode runs.
struct OogOnUnsupported<E>(E);

/// Stack positions (from the top) of the (memory offset, size) pairs an opcode reads.
fn memory_ranges(op: u8) -> &'static [(usize, usize)] {
    match op {
        0x20 | 0xa0..=0xa4 | 0xf3 | 0xfd => &[(0, 1)],
        0x37 | 0x39 | 0x3e => &[(0, 2)],
        0x3c => &[(1, 3)],
        0xf0 | 0xf5 => &[(1, 2)],
        0xf1 | 0xf2 => &[(3, 4), (5, 6)],
        0xf4 | 0xfa => &[(2, 3), (4, 5)],
        _ => &[],
    }
}

impl<H, E: Etable<H>> Etable<H> for OogOnUnsupported<E> {
    type State = E::State;
    type Trap = E::Trap;

    fn eval(
        &self,
        machine: &mut Machine<Self::State>,
        handle: &mut H,
        position: usize,
    ) -> Control<Self::Trap> {
        if let Some(op) = machine.code().get(position).copied() {
            for &(offset, size) in memory_ranges(op) {
                if let (Ok(len), Ok(off)) = (machine.stack.peek(size), machine.stack.peek(offset)) {
                    if len == PU256::zero() && off != PU256::zero() {
                        // The positions were just read, so setting them cannot fail.
                        let _ = machine.stack.set(offset, PU256::zero());
                    }
                }
            }
        }
        match self.0.eval(machine, handle, position) {
            Control::Exit(Err(ExitError::Fatal(ExitFatal::NotSupported))) => {
                Control::Exit(Err(ExitException::OutOfGas.into()))
            }
            other => other,
        }
    }
}

/// What the standard invoker does not return for a failed message: its return data and the gas it
/// left. This wrapper records both on the way through `finalize_transact`.
struct Recording<I> {
    inner: I,
    retval: RefCell<Vec<u8>>,
    remaining: RefCell<Option<PU256>>,
}

impl<H, I> Invoker<H> for Recording<I>
where
    I: Invoker<H>,
    I::State: InvokerState,
{
    type State = I::State;
    type Interpreter = I::Interpreter;
    type Interrupt = I::Interrupt;
    type TransactArgs = I::TransactArgs;
    type TransactInvoke = I::TransactInvoke;
    type TransactValue = I::TransactValue;
    type SubstackInvoke = I::SubstackInvoke;

    #[allow(clippy::type_complexity)]
    fn new_transact(
        &self,
        args: Self::TransactArgs,
        handler: &mut H,
    ) -> Result<
        (
            Self::TransactInvoke,
            InvokerControl<Self::Interpreter, Self::State>,
        ),
        ExitError,
    > {
        self.inner.new_transact(args, handler)
    }

    fn finalize_transact(
        &self,
        invoke: &Self::TransactInvoke,
        exit: InvokerExit<Self::State>,
        handler: &mut H,
    ) -> Result<Self::TransactValue, ExitError> {
        *self.retval.borrow_mut() = exit.retval.clone();
        *self.remaining.borrow_mut() = exit.substate.as_ref().map(|s| s.effective_gas(false));
        self.inner.finalize_transact(invoke, exit, handler)
    }

    #[allow(clippy::type_complexity)]
    fn enter_substack(
        &self,
        trap: <Self::Interpreter as Interpreter<H>>::Trap,
        machine: &mut Self::Interpreter,
        handler: &mut H,
        depth: usize,
    ) -> Capture<
        Result<
            (
                Self::SubstackInvoke,
                InvokerControl<Self::Interpreter, Self::State>,
            ),
            ExitError,
        >,
        Self::Interrupt,
    > {
        self.inner.enter_substack(trap, machine, handler, depth)
    }

    fn exit_substack(
        &self,
        trap_data: Self::SubstackInvoke,
        exit: InvokerExit<Self::State>,
        parent: &mut Self::Interpreter,
        handler: &mut H,
    ) -> Result<(), ExitError> {
        self.inner.exit_substack(trap_data, exit, parent, handler)
    }
}

/// Intrinsic gas of a message under Shanghai (EIP-2028 calldata, EIP-2930 access lists, EIP-3860
/// init-code words).
pub fn intrinsic_gas(msg: &Message) -> u64 {
    let len = u64::try_from(msg.data.len()).unwrap_or(u64::MAX);
    let zeros = u64::try_from(msg.data.iter().filter(|b| **b == 0).count()).unwrap_or(u64::MAX);
    let nonzeros = len.saturating_sub(zeros);
    let mut gas = 21_000u64
        .saturating_add(zeros.saturating_mul(4))
        .saturating_add(nonzeros.saturating_mul(16));
    if msg.kind == TxKind::Create {
        gas = gas
            .saturating_add(32_000)
            .saturating_add(len.div_ceil(32).saturating_mul(2));
    }
    for (_, keys) in &msg.access_list {
        let keys = u64::try_from(keys.len()).unwrap_or(u64::MAX);
        gas = gas
            .saturating_add(2_400)
            .saturating_add(keys.saturating_mul(1_900));
    }
    gas
}

/// The validity rules of a message against the sender's account (what revm checks before running).
pub fn validate(
    state: &StateDb,
    env: &BlockEnv,
    msg: &Message,
    opts: ExecOptions,
) -> Result<Result<(), TxReject>, StorageError> {
    let sender = state.account(&msg.caller)?;
    if let Some(tip) = msg.priority_fee {
        if tip > msg.gas_price {
            return Ok(Err(TxReject::Invalid(
                "max priority fee per gas higher than max fee per gas".into(),
            )));
        }
    }
    if opts.check_base_fee && msg.gas_price < u128::from(env.base_fee) {
        return Ok(Err(TxReject::FeeCapBelowBaseFee));
    }
    let intrinsic = intrinsic_gas(msg);
    if msg.gas_limit < intrinsic {
        return Ok(Err(TxReject::IntrinsicGas {
            gas_limit: msg.gas_limit,
            intrinsic,
        }));
    }
    if msg.kind == TxKind::Create && msg.data.len() > crate::MAX_INITCODE_SIZE {
        return Ok(Err(TxReject::Invalid("max initcode size exceeded".into())));
    }
    if opts.check_nonce && sender.has_code() {
        return Ok(Err(TxReject::SenderHasCode));
    }
    if opts.check_nonce {
        if let Some(n) = msg.nonce {
            if n != sender.nonce {
                return Ok(Err(TxReject::Nonce {
                    account: sender.nonce,
                    tx: n,
                }));
            }
        }
    }
    if sender.nonce == u64::MAX {
        return Ok(Err(TxReject::Invalid("nonce has max value".into())));
    }
    let cost = U256::from(msg.gas_limit)
        .checked_mul(U256::from(msg.gas_price))
        .and_then(|c| c.checked_add(msg.value));
    let Some(cost) = cost else {
        return Ok(Err(TxReject::Invalid(
            "overflow in the upfront cost".into(),
        )));
    };
    if opts.check_balance && sender.balance < cost {
        return Ok(Err(TxReject::InsufficientFunds {
            balance: sender.balance,
            cost,
        }));
    }
    Ok(Ok(()))
}

/// The price the engine charges.
fn gas_price(msg: &Message, opts: ExecOptions) -> TransactGasPrice {
    match msg.priority_fee {
        Some(tip) if opts.check_base_fee => TransactGasPrice::FeeMarket {
            max_priority: PU256::from(tip),
            max: PU256::from(msg.gas_price),
        },
        _ => TransactGasPrice::Legacy(PU256::from(msg.gas_price)),
    }
}

/// Writes the engine's change set into `state`.
fn apply(state: &mut StateDb, changes: OverlayedChangeSet) -> Result<(), StorageError> {
    for a in &changes.storage_resets {
        state.wipe_storage(addr(*a));
    }
    for (a, balance) in &changes.balances {
        let mut acct = state.account(&addr(*a))?;
        acct.balance = u256(*balance);
        state.set_account(addr(*a), acct);
    }
    for (a, nonce) in &changes.nonces {
        let mut acct = state.account(&addr(*a))?;
        acct.nonce = nonce.low_u64();
        state.set_account(addr(*a), acct);
    }
    for (a, code) in changes.codes {
        state.set_code(addr(a), code)?;
    }
    for ((a, k), v) in changes.storages {
        state.set_storage(addr(a), b256(k), U256::from_be_bytes(v.0));
    }
    for a in &changes.deletes {
        state.delete_account(addr(*a));
    }
    Ok(())
}

fn logs(changes: &OverlayedChangeSet) -> Vec<Log> {
    changes
        .logs
        .iter()
        .map(|l| Log {
            address: addr(l.address),
            topics: l.topics.iter().map(|t| b256(*t)).collect(),
            data: Bytes::from(l.data.clone()),
        })
        .collect()
}

fn halt_name(e: &ExitError) -> String {
    match e {
        ExitError::Exception(x) => format!("{x:?}"),
        ExitError::Reverted => "Reverted".into(),
        ExitError::Fatal(f) => format!("{f:?}"),
    }
}

impl Runtime for RustEvm {
    fn name(&self) -> &'static str {
        "evm"
    }

    fn transact(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msg: &Message,
        opts: ExecOptions,
    ) -> Result<Result<Outcome, TxReject>, ExecError> {
        if let Err(e) = validate(state, env, msg, opts)? {
            return Ok(Err(e));
        }
        // WASM contracts run inside revm's call stack only: refuse them here rather than run a
        // module's bytes as EVM code.
        let wasm = match msg.kind {
            TxKind::Create => crate::wasm::is_wasm(&msg.data),
            TxKind::Call(to) => crate::wasm::is_wasm(&state.code(&to)?),
        };
        if wasm {
            return Ok(Err(TxReject::Invalid(
                "WASM contracts need the revm engine (evm.engine = \"revm\")".into(),
            )));
        }
        let config = if opts.check_base_fee {
            &CONFIG
        } else {
            &UNCHECKED_CONFIG
        };
        let base = Base {
            state: &*state,
            hashes,
            env,
            error: RefCell::new(None),
        };
        let mut backend = OverlayedBackend::new(base, &config.runtime);
        let etable = OogOnUnsupported(Chained(GasometerEtable::new(), ExecutionEtable::new()));
        let precompiles = StandardPrecompileSet;
        let resolver = EtableResolver::new(&precompiles, &etable);
        let invoker = Recording {
            inner: evm::standard::Invoker::new(&resolver),
            retval: RefCell::new(Vec::new()),
            remaining: RefCell::new(None),
        };
        let args = TransactArgs {
            call_create: match msg.kind {
                TxKind::Call(to) => TransactArgsCallCreate::Call {
                    address: h160(to),
                    data: msg.data.to_vec(),
                },
                TxKind::Create => TransactArgsCallCreate::Create {
                    init_code: msg.data.to_vec(),
                    salt: None,
                },
            },
            caller: h160(msg.caller),
            value: pu256(msg.value),
            gas_limit: PU256::from(msg.gas_limit),
            gas_price: gas_price(msg, opts),
            access_list: msg
                .access_list
                .iter()
                .map(|(a, keys)| (h160(*a), keys.iter().map(|k| h256(*k)).collect()))
                .collect(),
            config,
        };
        let result = evm::transact(args, Some(HEAP_DEPTH), &mut backend, &invoker);
        let (base, changes) = backend.deconstruct();
        if let Some(e) = base.error.into_inner() {
            return Err(e.into());
        }
        let gas_limit = msg.gas_limit;
        let retval = invoker.retval.into_inner();
        let outcome = match result {
            Ok(v) => {
                let used = v.used_gas.low_u64();
                let (output, contract_address) = match v.call_create {
                    TransactValueCallCreate::Call { retval, .. } => (Bytes::from(retval), None),
                    TransactValueCallCreate::Create { address, .. } => (
                        Bytes::from(changes.codes.get(&address).cloned().unwrap_or_default()),
                        Some(addr(address)),
                    ),
                };
                // The engine reports gas after the refund; the refund itself is not exposed.
                Outcome {
                    status: Status::Success,
                    gas_used: used,
                    gas_refunded: 0,
                    output,
                    logs: logs(&changes),
                    contract_address,
                }
            }
            Err(ExitError::Reverted) => {
                let remaining = invoker
                    .remaining
                    .into_inner()
                    .map(|g| g.low_u64())
                    .unwrap_or_default();
                Outcome {
                    status: Status::Revert,
                    gas_used: gas_limit.saturating_sub(remaining),
                    gas_refunded: 0,
                    output: Bytes::from(retval),
                    logs: vec![],
                    contract_address: None,
                }
            }
            Err(ExitError::Fatal(ExitFatal::Other(e))) => {
                return Err(ExecError::Engine {
                    engine: "evm",
                    detail: e.to_string(),
                })
            }
            Err(e @ ExitError::Fatal(_)) => {
                return Err(ExecError::Engine {
                    engine: "evm",
                    detail: halt_name(&e),
                })
            }
            Err(e) => Outcome {
                status: Status::Halt(halt_name(&e)),
                gas_used: gas_limit,
                gas_refunded: 0,
                output: Bytes::new(),
                logs: vec![],
                contract_address: None,
            },
        };
        apply(state, changes)?;
        Ok(Ok(outcome))
    }
}
