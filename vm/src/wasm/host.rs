//! PlatON's WASM host interface: the functions a contract may import from `env`, their signatures,
//! their gas, and one engine-independent implementation of each. An engine adapter only moves
//! arguments and linear memory in and out; everything a host function does to the chain goes through
//! the [`Chain`] trait, which the revm glue implements over revm's journal.
//!
//! Pointers and lengths are `i32` offsets into the contract's memory; addresses are 20 bytes, hashes
//! and 256-bit values 32 bytes big-endian; block numbers, times and gas are `i64`.

use super::cost::*;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};

/// A WASM value type of the host interface (floats are never used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

/// One host function: its import name (module `env`), parameters and result.
#[derive(Debug, Clone, Copy)]
pub struct HostSig {
    /// Import name.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [Ty],
    /// Result type, if any.
    pub result: Option<Ty>,
}

use Ty::{I32, I64};

const fn sig(name: &'static str, params: &'static [Ty], result: Option<Ty>) -> HostSig {
    HostSig {
        name,
        params,
        result,
    }
}

/// Every host function a contract may import, by index. The README's host table lists them.
pub const HOST_FUNCTIONS: &[HostSig] = &[
    sig("platon_gas_price", &[I32], None),
    sig("platon_block_hash", &[I64, I32], None),
    sig("platon_block_number", &[], Some(I64)),
    sig("platon_gas_limit", &[], Some(I64)),
    sig("platon_gas", &[], Some(I64)),
    sig("platon_timestamp", &[], Some(I64)),
    sig("platon_coinbase", &[I32], None),
    sig("platon_balance", &[I32, I32], None),
    sig("platon_origin", &[I32], None),
    sig("platon_caller", &[I32], None),
    sig("platon_call_value", &[I32], None),
    sig("platon_address", &[I32], None),
    sig("platon_sha3", &[I32, I32, I32], None),
    sig("platon_sha256", &[I32, I32, I32], None),
    sig("platon_ripemd160", &[I32, I32, I32], None),
    sig("platon_ecrecover", &[I32, I32, I32], Some(I32)),
    sig("platon_transfer", &[I32, I32], Some(I32)),
    sig("platon_set_state", &[I32, I32, I32, I32], None),
    sig("platon_get_state_length", &[I32, I32], Some(I32)),
    sig("platon_get_state", &[I32, I32, I32, I32], Some(I32)),
    sig("platon_get_input_length", &[], Some(I32)),
    sig("platon_get_input", &[I32], None),
    sig("platon_get_call_output_length", &[], Some(I32)),
    sig("platon_get_call_output", &[I32], None),
    sig("platon_return", &[I32, I32], None),
    sig("platon_revert", &[I32, I32], None),
    sig("platon_panic", &[], None),
    sig("platon_debug", &[I32, I32], None),
    sig("platon_call", &[I32, I32, I32, I32, I64], Some(I32)),
    sig("platon_delegate_call", &[I32, I32, I32, I64], Some(I32)),
    sig("platon_static_call", &[I32, I32, I32, I64], Some(I32)),
    sig(
        "platon_deploy",
        &[I32, I32, I32, I32, I32, I64, I32],
        Some(I32),
    ),
    sig("platon_event", &[I32, I32, I32, I32], None),
    sig("platon_chain_id", &[], Some(I64)),
    sig("platon_tx_nonce", &[], Some(I64)),
    sig(
        "platon_groth16_verify",
        &[I32, I32, I32, I32, I32],
        Some(I32),
    ),
];

/// Imports the instrumentation adds (never allowed in a deployed module): the gas counter's
/// hand-over to the host around each host call, and halts raised by the injected checks.
pub const INJECTED_IMPORTS: &[HostSig] = &[
    sig("__platon_gas_in", &[I64], None),
    sig("__platon_gas_out", &[], Some(I64)),
    sig("__platon_halt", &[I32], None),
];

/// Index of `__platon_gas_in` in the combined table ([`HOST_FUNCTIONS`] then [`INJECTED_IMPORTS`]).
pub const GAS_IN: usize = HOST_FUNCTIONS.len();
/// Index of `__platon_gas_out`.
pub const GAS_OUT: usize = HOST_FUNCTIONS.len() + 1;
/// Index of `__platon_halt`.
pub const HALT: usize = HOST_FUNCTIONS.len() + 2;

/// `__platon_halt` code: out of gas.
pub const HALT_OUT_OF_GAS: i32 = 1;
/// `__platon_halt` code: the stack budget is exhausted.
pub const HALT_STACK: i32 = 2;

/// The signature of import `index` of the combined table.
pub fn import_sig(index: usize) -> Option<&'static HostSig> {
    HOST_FUNCTIONS.get(index).or_else(|| {
        index
            .checked_sub(HOST_FUNCTIONS.len())
            .and_then(|i| INJECTED_IMPORTS.get(i))
    })
}

/// The index of the host function an import names.
pub fn host_index(name: &str) -> Option<usize> {
    HOST_FUNCTIONS.iter().position(|s| s.name == name)
}

/// Why a frame stopped before its entry point returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// `platon_revert`: state rolled back, unused gas returned, the data is the revert data.
    Revert,
    /// Gas ran out: all gas consumed.
    OutOfGas,
    /// The stack budget ran out: all gas consumed.
    StackLimit,
    /// Any other trap (a WASM trap, `platon_panic`, a bad pointer, a state change in a static call):
    /// all gas consumed.
    Trap(String),
    /// The state could not be read: the block is aborted, not the transaction.
    Fatal(String),
}

impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Halt::Revert => write!(f, "reverted"),
            Halt::OutOfGas => write!(f, "out of gas"),
            Halt::StackLimit => write!(f, "stack limit exceeded"),
            Halt::Trap(t) => write!(f, "trap: {t}"),
            Halt::Fatal(t) => write!(f, "state error: {t}"),
        }
    }
}

/// A contract's linear memory as an engine adapter exposes it to host functions.
pub trait Memory {
    /// Copies `len` bytes at `ptr`; out of range is a trap.
    fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>, Halt>;
    /// Writes `data` at `ptr`; out of range is a trap.
    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Halt>;
}

/// Linear memory as a byte slice (both engines hand the host one).
pub struct SliceMemory<'m>(pub &'m mut [u8]);

impl Memory for SliceMemory<'_> {
    fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>, Halt> {
        let start = ptr as usize;
        self.0
            .get(start..start.saturating_add(len as usize))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Halt::Trap(format!("host read out of bounds: {len} bytes at {ptr}")))
    }

    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Halt> {
        let start = ptr as usize;
        let len = data.len();
        self.0
            .get_mut(start..start.saturating_add(len))
            .ok_or_else(|| Halt::Trap(format!("host write out of bounds: {len} bytes at {ptr}")))?
            .copy_from_slice(data);
        Ok(())
    }
}

/// What a frame knows of the block and transaction.
#[derive(Debug, Clone, Default)]
pub struct BlockInfo {
    /// Block number.
    pub number: u64,
    /// Block time (seconds).
    pub timestamp: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Beneficiary.
    pub coinbase: Address,
    /// Chain id.
    pub chain_id: u64,
    /// The transaction's effective gas price.
    pub gas_price: U256,
    /// The transaction's sender.
    pub origin: Address,
    /// The transaction's nonce (what a VC contract keys a task by).
    pub nonce: u64,
}

/// How a call from a contract runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// An ordinary call (may carry value).
    Call,
    /// The callee's code in the caller's context.
    Delegate,
    /// A call that may not change state.
    Static,
}

/// What a call or creation from a contract returned.
#[derive(Debug, Clone)]
pub struct SubResult {
    /// 0: success, 1: revert, 2: failure (halt, out of gas, refused).
    pub code: i32,
    /// Return or revert data.
    pub output: Bytes,
    /// Gas not used by the callee, returned to the caller.
    pub gas_left: u64,
    /// The created contract (creations that succeeded).
    pub address: Option<Address>,
}

/// The chain as host functions see it: revm's journal in the node, so a frame's effects are
/// checkpointed and rolled back with the EVM's.
pub trait Chain {
    /// Block and transaction data.
    fn info(&self) -> BlockInfo;
    /// The hash of block `number` (zero outside the last 256).
    fn block_hash(&mut self, number: u64) -> Result<B256, Halt>;
    /// An account's balance.
    fn balance(&mut self, address: Address) -> Result<U256, Halt>;
    /// A storage word.
    fn sload(&mut self, address: Address, slot: U256) -> Result<U256, Halt>;
    /// Writes a storage word.
    fn sstore(&mut self, address: Address, slot: U256, value: U256) -> Result<(), Halt>;
    /// Moves value; false when the sender's balance is short.
    fn transfer(&mut self, from: Address, to: Address, value: U256) -> Result<bool, Halt>;
    /// Whether an account exists (non-empty).
    fn exists(&mut self, address: Address) -> Result<bool, Halt>;
    /// Emits a log.
    fn log(&mut self, address: Address, topics: Vec<B256>, data: Bytes);
    /// Runs a call from `frame` to `to` with `gas` (already taken from the caller).
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        kind: CallKind,
        frame: &FrameEnv,
        to: Address,
        input: Bytes,
        value: U256,
        gas: u64,
    ) -> Result<SubResult, Halt>;
    /// Deploys a WASM module from `frame` with its constructor input, `value` and `gas`.
    fn create(
        &mut self,
        frame: &FrameEnv,
        module: &[u8],
        init: Bytes,
        value: U256,
        gas: u64,
    ) -> Result<SubResult, Halt>;
    /// A debug print from a contract (shown on `--dev` chains only).
    fn debug(&mut self, address: Address, message: &str);
}

/// The frame a WASM contract runs in.
#[derive(Debug, Clone)]
pub struct FrameEnv {
    /// The executing contract (storage and balance owner).
    pub address: Address,
    /// Where the code came from (differs under delegate call).
    pub code_address: Address,
    /// The caller.
    pub caller: Address,
    /// Value the call carries.
    pub value: U256,
    /// Call data.
    pub input: Bytes,
    /// No state changes allowed.
    pub is_static: bool,
    /// Call depth (revm's journal depth).
    pub depth: usize,
}

/// One execution of a contract's entry point: the frame, the gas counter as of the last hand-over,
/// and what the contract returned.
pub struct Exec<'a> {
    /// The frame.
    pub frame: FrameEnv,
    /// Gas left, as of the last `__platon_gas_in` (or the start).
    pub gas_left: u64,
    /// What `platon_return` or `platon_revert` last set.
    pub output: Vec<u8>,
    /// The last call's output (`platon_get_call_output`).
    pub call_output: Bytes,
    /// Why the frame halted, set by the host before it traps.
    pub halt: Option<Halt>,
    /// The chain.
    pub chain: &'a mut dyn Chain,
}

impl<'a> Exec<'a> {
    /// A fresh execution of `frame` with `gas`.
    pub fn new(frame: FrameEnv, gas: u64, chain: &'a mut dyn Chain) -> Self {
        Exec {
            frame,
            gas_left: gas,
            output: Vec::new(),
            call_output: Bytes::new(),
            halt: None,
            chain,
        }
    }

    /// Takes `gas`; out of gas is a halt.
    pub fn charge(&mut self, gas: u64) -> Result<(), Halt> {
        match self.gas_left.checked_sub(gas) {
            Some(left) => {
                self.gas_left = left;
                Ok(())
            }
            None => {
                self.gas_left = 0;
                Err(Halt::OutOfGas)
            }
        }
    }

    fn no_static(&self, what: &str) -> Result<(), Halt> {
        if self.frame.is_static {
            Err(Halt::Trap(format!("{what} in a static call")))
        } else {
            Ok(())
        }
    }
}

fn words(len: usize) -> u64 {
    (len as u64).div_ceil(32)
}

fn ptr(v: i64) -> u32 {
    v as u32
}

fn read_addr(mem: &dyn Memory, p: i64) -> Result<Address, Halt> {
    Ok(Address::from_slice(&mem.read(ptr(p), 20)?))
}

fn read_u256(mem: &dyn Memory, p: i64) -> Result<U256, Halt> {
    Ok(U256::from_be_slice(&mem.read(ptr(p), 32)?))
}

/// The storage slot of a key: `keccak256(key)` holds the value's length plus one (0: absent), and
/// the value's 32-byte words follow at `keccak256(slot) + i`.
pub fn state_slot(key: &[u8]) -> U256 {
    U256::from_be_bytes(keccak256(key).0)
}

/// Where a value's words start: `keccak256(head)`; word `i` is at that slot plus `i`.
fn data_base(head: U256) -> U256 {
    U256::from_be_bytes(keccak256(head.to_be_bytes::<32>()).0)
}

/// The length of the value whose head slot is `head` (0 when absent).
fn state_len(chain: &mut dyn Chain, address: Address, head: U256) -> Result<usize, Halt> {
    let len = chain.sload(address, head)?;
    usize::try_from(len.saturating_sub(U256::from(1u8)))
        .map_err(|_| Halt::Trap("corrupt storage length".into()))
}

/// The `len` bytes of the value whose head slot is `head`.
fn read_value(
    chain: &mut dyn Chain,
    address: Address,
    head: U256,
    len: usize,
) -> Result<Vec<u8>, Halt> {
    let base = data_base(head);
    let mut out = Vec::with_capacity(len);
    for i in 0..words(len) {
        let w = chain.sload(address, base.wrapping_add(U256::from(i)))?;
        out.extend_from_slice(&w.to_be_bytes::<32>());
    }
    out.truncate(len);
    Ok(out)
}

/// Writes a storage entry (an empty value deletes it), charging for each word.
fn set_state(exec: &mut Exec<'_>, key: &[u8], value: &[u8]) -> Result<(), Halt> {
    let address = exec.frame.address;
    let head = state_slot(key);
    let old_len = state_len(exec.chain, address, head)?;
    let old_words = words(old_len);
    let new_words = words(value.len());
    // The head word, then each data word: new words cost more than overwritten or cleared ones.
    let head_cost = if old_len == 0 && !value.is_empty() {
        STORAGE_SET_NEW_WORD_GAS
    } else {
        STORAGE_SET_WORD_GAS
    };
    let fresh = new_words.saturating_sub(old_words);
    let reused = new_words.min(old_words);
    let cleared = old_words.saturating_sub(new_words);
    let cost = head_cost
        .saturating_add(fresh.saturating_mul(STORAGE_SET_NEW_WORD_GAS))
        .saturating_add(
            reused
                .saturating_add(cleared)
                .saturating_mul(STORAGE_SET_WORD_GAS),
        );
    exec.charge(cost)?;
    let stored_len = if value.is_empty() {
        U256::ZERO
    } else {
        U256::from(value.len()).saturating_add(U256::from(1u8))
    };
    exec.chain.sstore(address, head, stored_len)?;
    let base = data_base(head);
    for (i, chunk) in value.chunks(32).enumerate() {
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        exec.chain.sstore(
            address,
            base.wrapping_add(U256::from(i)),
            U256::from_be_bytes(w),
        )?;
    }
    for i in new_words..old_words {
        exec.chain
            .sstore(address, base.wrapping_add(U256::from(i)), U256::ZERO)?;
    }
    Ok(())
}

/// Gas a callee may get: what was asked, capped at all but one 64th of what is left (EIP-150).
fn forwardable(exec: &Exec<'_>, asked: i64) -> u64 {
    let cap = exec.gas_left - exec.gas_left / 64;
    let asked = asked as u64;
    if asked == 0 {
        cap
    } else {
        asked.min(cap)
    }
}

/// The gas left that the instrumented counter holds: a counter below zero has run out (see
/// [`super::prepare`]: not every segment checks it).
pub fn counter(value: i64) -> Result<u64, Halt> {
    u64::try_from(value).map_err(|_| Halt::OutOfGas)
}

/// Runs host function `index` (of the combined table) with `args` (each `i32` zero-extended).
/// Returns its result, or the halt that stops the frame.
pub fn call_host(
    exec: &mut Exec<'_>,
    mem: &mut dyn Memory,
    index: usize,
    args: &[i64],
) -> Result<Option<i64>, Halt> {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    match index {
        GAS_IN => {
            exec.gas_left = counter(a(0))?;
            return Ok(None);
        }
        GAS_OUT => return Ok(Some(exec.gas_left as i64)),
        HALT => {
            return Err(match a(0) as i32 {
                HALT_OUT_OF_GAS => Halt::OutOfGas,
                HALT_STACK => Halt::StackLimit,
                c => Halt::Trap(format!("halt code {c}")),
            })
        }
        _ => {}
    }
    exec.charge(HOST_CALL_GAS)?;
    match HOST_FUNCTIONS.get(index).map(|s| s.name) {
        Some("platon_gas_price") => {
            let p = exec.chain.info().gas_price;
            mem.write(ptr(a(0)), &p.to_be_bytes::<32>())?;
        }
        Some("platon_block_hash") => {
            exec.charge(BLOCKHASH_GAS)?;
            let h = exec.chain.block_hash(a(0) as u64)?;
            mem.write(ptr(a(1)), h.as_slice())?;
        }
        Some("platon_block_number") => return Ok(Some(exec.chain.info().number as i64)),
        Some("platon_gas_limit") => return Ok(Some(exec.chain.info().gas_limit as i64)),
        Some("platon_gas") => return Ok(Some(exec.gas_left as i64)),
        Some("platon_timestamp") => return Ok(Some(exec.chain.info().timestamp as i64)),
        Some("platon_chain_id") => return Ok(Some(exec.chain.info().chain_id as i64)),
        Some("platon_tx_nonce") => return Ok(Some(exec.chain.info().nonce as i64)),
        Some("platon_groth16_verify") => {
            // (vk, vk_len, proof, inputs, n): 1 verifies, 0 does not, -1 malformed. Past the input
            // count's bound, the price is paid before anything is decoded, so malformed bytes cost
            // as much as a real check.
            let n = ptr(a(4));
            if n > GROTH16_MAX_INPUTS {
                return Ok(Some(-1));
            }
            exec.charge(groth16_verify_gas(n))?;
            let vk_len = ptr(a(1));
            if platon_crypto::vc::vk_inputs(vk_len as usize) != Some(n as usize) {
                return Ok(Some(-1));
            }
            let read = (vk_len as usize)
                .saturating_add(platon_crypto::vc::PROOF_BYTES)
                .saturating_add(n as usize * 32);
            exec.charge(words(read).saturating_mul(HOST_WORD_GAS))?;
            let vk = mem.read(ptr(a(0)), vk_len)?;
            let proof = mem.read(ptr(a(2)), platon_crypto::vc::PROOF_BYTES as u32)?;
            let inputs: Vec<[u8; 32]> = mem
                .read(ptr(a(3)), n.saturating_mul(32))?
                .chunks_exact(32)
                .map(|w| w.try_into().unwrap_or_default())
                .collect();
            return Ok(Some(
                match platon_crypto::vc::verify(&vk, &proof, &inputs) {
                    Ok(true) => 1,
                    Ok(false) => 0,
                    Err(_) => -1,
                },
            ));
        }
        Some("platon_coinbase") => {
            let c = exec.chain.info().coinbase;
            mem.write(ptr(a(0)), c.as_slice())?;
        }
        Some("platon_balance") => {
            exec.charge(BALANCE_GAS)?;
            let who = read_addr(mem, a(0))?;
            let b = exec.chain.balance(who)?;
            mem.write(ptr(a(1)), &b.to_be_bytes::<32>())?;
        }
        Some("platon_origin") => {
            let o = exec.chain.info().origin;
            mem.write(ptr(a(0)), o.as_slice())?;
        }
        Some("platon_caller") => mem.write(ptr(a(0)), exec.frame.caller.as_slice())?,
        Some("platon_call_value") => mem.write(ptr(a(0)), &exec.frame.value.to_be_bytes::<32>())?,
        Some("platon_address") => mem.write(ptr(a(0)), exec.frame.address.as_slice())?,
        Some(name @ ("platon_sha3" | "platon_sha256" | "platon_ripemd160")) => {
            let len = ptr(a(1));
            let w = words(len as usize);
            let (base, per_word) = match name {
                "platon_sha3" => (KECCAK_GAS, KECCAK_WORD_GAS),
                "platon_sha256" => (SHA256_GAS, SHA256_WORD_GAS),
                _ => (RIPEMD160_GAS, RIPEMD160_WORD_GAS),
            };
            exec.charge(base.saturating_add(w.saturating_mul(per_word)))?;
            let data = mem.read(ptr(a(0)), len)?;
            match name {
                "platon_sha3" => mem.write(ptr(a(2)), keccak256(&data).as_slice())?,
                "platon_sha256" => {
                    use sha2::Digest;
                    mem.write(ptr(a(2)), &sha2::Sha256::digest(&data))?
                }
                _ => {
                    let out = revm::precompile::hash::ripemd160_run(&data, u64::MAX)
                        .map_err(|e| Halt::Trap(format!("ripemd160: {e}")))?;
                    let bytes = out.bytes;
                    mem.write(ptr(a(2)), bytes.get(12..32).unwrap_or(&[0u8; 20]))?
                }
            }
        }
        Some("platon_ecrecover") => {
            exec.charge(ECRECOVER_GAS)?;
            let hash = mem.read(ptr(a(0)), 32)?;
            let sig = mem.read(ptr(a(1)), 65)?;
            // The precompile's input: hash, v (27/28) as a word, r, s.
            let mut input = [0u8; 128];
            input[..32].copy_from_slice(&hash);
            let v = sig.get(64).copied().unwrap_or(0);
            input[63] = if v < 27 { v.saturating_add(27) } else { v };
            input[64..128].copy_from_slice(sig.get(..64).unwrap_or(&[0u8; 64]));
            let out = revm::precompile::secp256k1::ec_recover_run(&input, u64::MAX)
                .map_err(|e| Halt::Trap(format!("ecrecover: {e}")))?;
            match out.bytes.get(12..32) {
                Some(a20) if out.bytes.len() == 32 => {
                    mem.write(ptr(a(2)), a20)?;
                    return Ok(Some(1));
                }
                _ => return Ok(Some(0)),
            }
        }
        Some("platon_transfer") => {
            exec.no_static("platon_transfer")?;
            let to = read_addr(mem, a(0))?;
            let value = read_u256(mem, a(1))?;
            if !value.is_zero() {
                exec.charge(CALL_VALUE_GAS)?;
                if !exec.chain.exists(to)? {
                    exec.charge(NEW_ACCOUNT_GAS)?;
                }
            }
            let ok = exec.chain.transfer(exec.frame.address, to, value)?;
            return Ok(Some(i64::from(!ok)));
        }
        Some("platon_set_state") => {
            exec.no_static("platon_set_state")?;
            let key = mem.read(ptr(a(0)), ptr(a(1)))?;
            let value = mem.read(ptr(a(2)), ptr(a(3)))?;
            exec.charge(
                words(key.len())
                    .saturating_add(words(value.len()))
                    .saturating_mul(HOST_WORD_GAS),
            )?;
            set_state(exec, &key, &value)?;
        }
        Some("platon_get_state_length") => {
            exec.charge(STORAGE_GET_GAS)?;
            let key = mem.read(ptr(a(0)), ptr(a(1)))?;
            let n = state_len(exec.chain, exec.frame.address, state_slot(&key))?;
            return Ok(Some(n as i64));
        }
        Some("platon_get_state") => {
            let key = mem.read(ptr(a(0)), ptr(a(1)))?;
            exec.charge(STORAGE_GET_GAS)?;
            let (address, head) = (exec.frame.address, state_slot(&key));
            let len = state_len(exec.chain, address, head)?;
            exec.charge(words(len).saturating_mul(STORAGE_GET_GAS))?;
            let value = read_value(exec.chain, address, head, len)?;
            let n = value.len().min(ptr(a(3)) as usize);
            mem.write(ptr(a(2)), value.get(..n).unwrap_or_default())?;
            return Ok(Some(n as i64));
        }
        Some("platon_get_input_length") => return Ok(Some(exec.frame.input.len() as i64)),
        Some("platon_get_input") => {
            exec.charge(words(exec.frame.input.len()).saturating_mul(HOST_WORD_GAS))?;
            let input = exec.frame.input.clone();
            mem.write(ptr(a(0)), &input)?;
        }
        Some("platon_get_call_output_length") => return Ok(Some(exec.call_output.len() as i64)),
        Some("platon_get_call_output") => {
            exec.charge(words(exec.call_output.len()).saturating_mul(HOST_WORD_GAS))?;
            let out = exec.call_output.clone();
            mem.write(ptr(a(0)), &out)?;
        }
        Some(name @ ("platon_return" | "platon_revert")) => {
            let len = ptr(a(1));
            exec.charge(words(len as usize).saturating_mul(HOST_WORD_GAS))?;
            exec.output = mem.read(ptr(a(0)), len)?;
            if name == "platon_revert" {
                return Err(Halt::Revert);
            }
        }
        Some("platon_panic") => return Err(Halt::Trap("platon_panic".into())),
        Some("platon_debug") => {
            let len = ptr(a(1)).min(4096);
            let msg = mem.read(ptr(a(0)), len)?;
            let address = exec.frame.address;
            exec.chain.debug(address, &String::from_utf8_lossy(&msg));
        }
        Some(name @ ("platon_call" | "platon_delegate_call" | "platon_static_call")) => {
            let to = read_addr(mem, a(0))?;
            let input = Bytes::from(mem.read(ptr(a(1)), ptr(a(2)))?);
            let (kind, value, gas_arg) = match name {
                "platon_call" => (CallKind::Call, read_u256(mem, a(3))?, a(4)),
                "platon_delegate_call" => (CallKind::Delegate, exec.frame.value, a(3)),
                _ => (CallKind::Static, U256::ZERO, a(3)),
            };
            exec.charge(CALL_GAS.saturating_add(words(input.len()).saturating_mul(HOST_WORD_GAS)))?;
            if kind == CallKind::Call && !value.is_zero() {
                exec.no_static("a call with value")?;
                exec.charge(CALL_VALUE_GAS)?;
                if !exec.chain.exists(to)? {
                    exec.charge(NEW_ACCOUNT_GAS)?;
                }
            }
            let gas = forwardable(exec, gas_arg);
            exec.charge(gas)?;
            let r = exec.chain.call(kind, &exec.frame, to, input, value, gas)?;
            exec.gas_left = exec.gas_left.saturating_add(r.gas_left);
            exec.call_output = r.output;
            return Ok(Some(i64::from(r.code)));
        }
        Some("platon_deploy") => {
            exec.no_static("platon_deploy")?;
            let module = mem.read(ptr(a(0)), ptr(a(1)))?;
            let init = Bytes::from(mem.read(ptr(a(2)), ptr(a(3)))?);
            let value = read_u256(mem, a(4))?;
            exec.charge(
                CREATE_GAS.saturating_add(
                    words(module.len())
                        .saturating_add(words(init.len()))
                        .saturating_mul(HOST_WORD_GAS),
                ),
            )?;
            let gas = forwardable(exec, a(5));
            exec.charge(gas)?;
            let r = exec.chain.create(&exec.frame, &module, init, value, gas)?;
            exec.gas_left = exec.gas_left.saturating_add(r.gas_left);
            exec.call_output = r.output;
            if let Some(addr) = r.address {
                mem.write(ptr(a(6)), addr.as_slice())?;
            }
            return Ok(Some(i64::from(r.code)));
        }
        Some("platon_event") => {
            exec.no_static("platon_event")?;
            let n = ptr(a(1));
            if n > 4 {
                return Err(Halt::Trap(format!(
                    "an event has at most 4 topics, not {n}"
                )));
            }
            let topics_raw = mem.read(ptr(a(0)), n.saturating_mul(32))?;
            let data = mem.read(ptr(a(2)), ptr(a(3)))?;
            exec.charge(
                EVENT_GAS
                    .saturating_add(u64::from(n).saturating_mul(EVENT_TOPIC_GAS))
                    .saturating_add((data.len() as u64).saturating_mul(EVENT_BYTE_GAS)),
            )?;
            let topics = topics_raw.chunks(32).map(B256::from_slice).collect();
            let address = exec.frame.address;
            exec.chain.log(address, topics, Bytes::from(data));
        }
        _ => return Err(Halt::Trap(format!("unknown host function {index}"))),
    }
    Ok(None)
}
