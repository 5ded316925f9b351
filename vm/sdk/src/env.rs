//! The chain as a contract sees it: safe wrappers over the host functions, storage cells and maps,
//! events, calls, the heap and the panic handler (`wasm32` only).

use crate::abi::{self, Address, Decode, Encode};
use alloc::vec::Vec;
use core::marker::PhantomData;

#[link(wasm_import_module = "env")]
extern "C" {
    fn platon_gas() -> i64;
    fn platon_block_number() -> i64;
    fn platon_timestamp() -> i64;
    fn platon_caller(dst: *mut u8);
    fn platon_origin(dst: *mut u8);
    fn platon_address(dst: *mut u8);
    fn platon_call_value(dst: *mut u8);
    fn platon_balance(addr: *const u8, dst: *mut u8);
    fn platon_sha3(src: *const u8, len: u32, dst: *mut u8);
    fn platon_transfer(to: *const u8, value: *const u8) -> i32;
    fn platon_set_state(key: *const u8, klen: u32, val: *const u8, vlen: u32);
    fn platon_get_state_length(key: *const u8, klen: u32) -> u32;
    fn platon_get_state(key: *const u8, klen: u32, dst: *mut u8, dlen: u32) -> i32;
    fn platon_get_input_length() -> u32;
    fn platon_get_input(dst: *mut u8);
    fn platon_get_call_output_length() -> u32;
    fn platon_get_call_output(dst: *mut u8);
    fn platon_return(src: *const u8, len: u32);
    fn platon_revert(src: *const u8, len: u32);
    fn platon_panic();
    fn platon_debug(src: *const u8, len: u32);
    fn platon_call(to: *const u8, args: *const u8, alen: u32, value: *const u8, gas: i64) -> i32;
    fn platon_static_call(to: *const u8, args: *const u8, alen: u32, gas: i64) -> i32;
    fn platon_event(topics: *const u8, n: u32, data: *const u8, dlen: u32);
    fn platon_tx_nonce() -> i64;
    fn platon_groth16_verify(
        vk: *const u8,
        vklen: u32,
        proof: *const u8,
        inputs: *const u8,
        n: u32,
    ) -> i32;
}

/// A bump allocator over linear memory: a contract call is short, so nothing is freed.
struct Bump;

static mut HEAP_NEXT: usize = 0;

unsafe impl core::alloc::GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        let have = core::arch::wasm32::memory_size(0) * 65536;
        let next = if HEAP_NEXT == 0 { have } else { HEAP_NEXT };
        let start = (next + layout.align() - 1) & !(layout.align() - 1);
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if end > have {
            let pages = (end - have).div_ceil(65536);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
        }
        HEAP_NEXT = end;
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: core::alloc::Layout) {}
}

#[global_allocator]
static HEAP: Bump = Bump;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe { platon_panic() };
    core::arch::wasm32::unreachable()
}

/// The call data.
pub fn input() -> Vec<u8> {
    unsafe {
        let n = platon_get_input_length() as usize;
        let mut v = alloc::vec![0u8; n];
        platon_get_input(v.as_mut_ptr());
        v
    }
}

/// Sets the call's return data (the last call wins).
pub fn return_value(data: &[u8]) {
    unsafe { platon_return(data.as_ptr(), data.len() as u32) }
}

/// Reverts with `data`: state changes are rolled back, unused gas is returned.
pub fn revert(data: &[u8]) -> ! {
    unsafe { platon_revert(data.as_ptr(), data.len() as u32) };
    core::arch::wasm32::unreachable()
}

/// A debug print, shown by `--dev` nodes only.
pub fn debug(msg: &str) {
    unsafe { platon_debug(msg.as_ptr(), msg.len() as u32) }
}

/// Gas left.
pub fn gas_left() -> u64 {
    unsafe { platon_gas() as u64 }
}

/// The block number.
pub fn block_number() -> u64 {
    unsafe { platon_block_number() as u64 }
}

/// The transaction's nonce.
pub fn tx_nonce() -> u64 {
    unsafe { platon_tx_nonce() as u64 }
}

/// Why [`groth16_verify`] could not check a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedProof;

/// Verifies a BN254 Groth16 proof (256 bytes: A, B, C in the EIP-197 layout) against a verifying
/// key and public inputs (32-byte big-endian scalars). `Err` when the key, the proof or an input
/// does not decode, or the number of inputs is not the key's. Gas: 181,000 + 6,150 per input, plus
/// the words read.
pub fn groth16_verify(
    vk: &[u8],
    proof: &[u8; 256],
    inputs: &[[u8; 32]],
) -> Result<bool, MalformedProof> {
    match unsafe {
        platon_groth16_verify(
            vk.as_ptr(),
            vk.len() as u32,
            proof.as_ptr(),
            inputs.as_flattened().as_ptr(),
            inputs.len() as u32,
        )
    } {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(MalformedProof),
    }
}

/// The block time (seconds).
pub fn timestamp() -> u64 {
    unsafe { platon_timestamp() as u64 }
}

fn addr_of(f: unsafe extern "C" fn(*mut u8)) -> Address {
    let mut a = [0u8; 20];
    unsafe { f(a.as_mut_ptr()) };
    Address(a)
}

/// The caller.
pub fn caller() -> Address {
    addr_of(platon_caller)
}

/// The transaction's sender.
pub fn origin() -> Address {
    addr_of(platon_origin)
}

/// This contract's address.
pub fn address() -> Address {
    addr_of(platon_address)
}

fn u128_of(w: [u8; 32]) -> u128 {
    if w[..16].iter().any(|b| *b != 0) {
        revert(b"value exceeds u128");
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&w[16..]);
    u128::from_be_bytes(b)
}

/// The value the call carries.
pub fn value() -> u128 {
    let mut w = [0u8; 32];
    unsafe { platon_call_value(w.as_mut_ptr()) };
    u128_of(w)
}

/// An account's balance.
pub fn balance(of: Address) -> u128 {
    let mut w = [0u8; 32];
    unsafe { platon_balance(of.0.as_ptr(), w.as_mut_ptr()) };
    u128_of(w)
}

/// Keccak-256.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    unsafe { platon_sha3(data.as_ptr(), data.len() as u32, h.as_mut_ptr()) };
    h
}

/// Sends `amount` to `to`; false when this contract's balance is short.
pub fn transfer(to: Address, amount: u128) -> bool {
    let w = crate::abi::u128_word(amount);
    unsafe { platon_transfer(to.0.as_ptr(), w.as_ptr()) == 0 }
}

/// Emits an event with up to four topics.
pub fn emit(topics: &[[u8; 32]], data: &[u8]) {
    unsafe {
        platon_event(
            topics.as_flattened().as_ptr(),
            topics.len() as u32,
            data.as_ptr(),
            data.len() as u32,
        )
    }
}

/// The topic of an event name (keccak-256 of it).
pub fn topic(name: &str) -> [u8; 32] {
    keccak256(name.as_bytes())
}

fn call_output() -> Vec<u8> {
    unsafe {
        let n = platon_get_call_output_length() as usize;
        let mut v = alloc::vec![0u8; n];
        platon_get_call_output(v.as_mut_ptr());
        v
    }
}

/// Calls `to` (EVM or WASM) with `data` and `value`, forwarding `gas` (0: all it may). `Ok` holds
/// the return data, `Err` the revert data (empty for a failure).
pub fn call(to: Address, data: &[u8], value: u128, gas: u64) -> Result<Vec<u8>, Vec<u8>> {
    let w = crate::abi::u128_word(value);
    let code = unsafe {
        platon_call(
            to.0.as_ptr(),
            data.as_ptr(),
            data.len() as u32,
            w.as_ptr(),
            gas as i64,
        )
    };
    let out = call_output();
    if code == 0 {
        Ok(out)
    } else {
        Err(out)
    }
}

/// A call that may not change state.
pub fn static_call(to: Address, data: &[u8], gas: u64) -> Result<Vec<u8>, Vec<u8>> {
    let code =
        unsafe { platon_static_call(to.0.as_ptr(), data.as_ptr(), data.len() as u32, gas as i64) };
    let out = call_output();
    if code == 0 {
        Ok(out)
    } else {
        Err(out)
    }
}

/// Reads a raw storage entry.
pub fn get_state(key: &[u8]) -> Option<Vec<u8>> {
    unsafe {
        let n = platon_get_state_length(key.as_ptr(), key.len() as u32) as usize;
        if n == 0 {
            return None;
        }
        let mut v = alloc::vec![0u8; n];
        platon_get_state(key.as_ptr(), key.len() as u32, v.as_mut_ptr(), n as u32);
        Some(v)
    }
}

/// Writes a raw storage entry (empty deletes it).
pub fn set_state(key: &[u8], value: &[u8]) {
    unsafe {
        platon_set_state(
            key.as_ptr(),
            key.len() as u32,
            value.as_ptr(),
            value.len() as u32,
        )
    }
}

fn decode_one<T: Decode>(bytes: &[u8]) -> Option<T> {
    let (item, rest) = abi::split(bytes)?;
    if !rest.is_empty() {
        return None;
    }
    T::decode(item)
}

/// One storage value under a fixed key.
pub struct Cell<T> {
    key: &'static [u8],
    _t: PhantomData<T>,
}

impl<T: Encode + Decode> Cell<T> {
    /// The cell under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Cell {
            key,
            _t: PhantomData,
        }
    }

    /// The stored value, if any.
    pub fn get(&self) -> Option<T> {
        get_state(self.key).and_then(|b| decode_one(&b))
    }

    /// Stores `v`.
    pub fn set(&self, v: &T) {
        set_state(self.key, &abi::encode(v))
    }
}

/// A storage map: each entry under `prefix ‖ RLP(key)`.
pub struct Map<K, V> {
    prefix: &'static [u8],
    _t: PhantomData<(K, V)>,
}

impl<K: Encode, V: Encode + Decode> Map<K, V> {
    /// The map under `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Map {
            prefix,
            _t: PhantomData,
        }
    }

    fn key(&self, k: &K) -> Vec<u8> {
        let mut key = self.prefix.to_vec();
        k.encode(&mut key);
        key
    }

    /// The value under `k`, if any.
    pub fn get(&self, k: &K) -> Option<V> {
        get_state(&self.key(k)).and_then(|b| decode_one(&b))
    }

    /// Stores `v` under `k`.
    pub fn set(&self, k: &K, v: &V) {
        set_state(&self.key(k), &abi::encode(v))
    }

    /// Deletes the entry under `k`.
    pub fn remove(&self, k: &K) {
        set_state(&self.key(k), &[])
    }
}
