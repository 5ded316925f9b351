//! A verifiable-computation contract: `compute(input)` escrows the call's value as a fee and opens
//! a task keyed by the transaction (`keccak256(origin ‖ nonce)`, top three bits cleared so the id
//! is a BN254 scalar); a computing node answers with `set_result(task, result, proof)`, which pays
//! the fee to it only if the Groth16 proof verifies for (task, the input's public words, result);
//! one answer per task; after the deadline the requester may `reclaim` an unanswered task's fee.
//!
//! The model's name, the verifying key, the proving key's hash, the number of public input words
//! and the deadline are fixed by `init` at deploy; no method changes them.
//!
//! Events (topics, then data):
//! - `VcCompute(bytes32,address,uint256)`: task, requester; data: fee ‖ deadline block ‖ input;
//! - `VcResult(bytes32,address)`: task, solver; data: the result;
//! - `VcReclaimed(bytes32)`: task.
#![no_std]

extern crate alloc;

use alloc::{string::String, vec::Vec};
use platon_wasm_sdk::{self as sdk, dispatch, Address, Cell, Map};

const OPEN: u8 = 1;
const ANSWERED: u8 = 2;
const RECLAIMED: u8 = 3;

static MODEL: Cell<String> = Cell::new(b"model");
static VK: Cell<Vec<u8>> = Cell::new(b"vk");
static PK_HASH: Cell<Vec<u8>> = Cell::new(b"pk_hash");
static INPUT_WORDS: Cell<u32> = Cell::new(b"input_words");
static DEADLINE: Cell<u64> = Cell::new(b"deadline");
static TASKS: Cell<u64> = Cell::new(b"tasks");

/// Each task's record: status (1) ‖ requester (20) ‖ solver (20) ‖ fee (16) ‖ deadline block (8)
/// ‖ input length (4) ‖ input ‖ result, all big-endian.
static TASK: Map<Vec<u8>, Vec<u8>> = Map::new(b"task:");

const HEAD: usize = 69;

/// A task's record, decoded.
struct Task {
    status: u8,
    requester: [u8; 20],
    solver: [u8; 20],
    fee: u128,
    due: u64,
    input: Vec<u8>,
    result: Vec<u8>,
}

fn take<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (d, s) in out.iter_mut().zip(b.iter().skip(at)) {
        *d = *s;
    }
    out
}

impl Task {
    fn load(id: &Vec<u8>) -> Option<Task> {
        let b = TASK.get(id)?;
        let input_len = u32::from_be_bytes(take(&b, 65)) as usize;
        let input = b.get(HEAD..HEAD + input_len)?.to_vec();
        let result = b.get(HEAD + input_len..)?.to_vec();
        Some(Task {
            status: b[0],
            requester: take(&b, 1),
            solver: take(&b, 21),
            fee: u128::from_be_bytes(take(&b, 41)),
            due: u64::from_be_bytes(take(&b, 57)),
            input,
            result,
        })
    }

    fn store(&self, id: &Vec<u8>) {
        let mut b = Vec::with_capacity(HEAD + self.input.len() + self.result.len());
        b.push(self.status);
        b.extend_from_slice(&self.requester);
        b.extend_from_slice(&self.solver);
        b.extend_from_slice(&self.fee.to_be_bytes());
        b.extend_from_slice(&self.due.to_be_bytes());
        b.extend_from_slice(&(self.input.len() as u32).to_be_bytes());
        b.extend_from_slice(&self.input);
        b.extend_from_slice(&self.result);
        TASK.set(id, &b);
    }
}

fn task_word(task: &[u8]) -> [u8; 32] {
    match <[u8; 32]>::try_from(task) {
        Ok(w) => w,
        Err(_) => sdk::revert(b"a task id and each word is 32 bytes"),
    }
}

fn init(model: String, vk: Vec<u8>, pk_hash: Vec<u8>, input_words: u32, deadline_blocks: u64) {
    if MODEL.get().is_some() {
        sdk::revert(b"already initialised");
    }
    if pk_hash.len() != 32 || deadline_blocks == 0 || vk.len() < 448 + 64 {
        sdk::revert(b"init: a 32-byte proving key hash, a deadline of at least one block and a verifying key");
    }
    MODEL.set(&model);
    VK.set(&vk);
    PK_HASH.set(&pk_hash);
    INPUT_WORDS.set(&input_words);
    DEADLINE.set(&deadline_blocks);
}

fn compute(input: Vec<u8>) -> Vec<u8> {
    let fee = sdk::value();
    if fee == 0 {
        sdk::revert(b"compute needs a fee (the call's value)");
    }
    let words = INPUT_WORDS.get().unwrap_or(0) as usize;
    if input.len() < words * 32 {
        sdk::revert(b"the input is shorter than the model's public words");
    }
    let mut seed = Vec::with_capacity(28);
    seed.extend_from_slice(&sdk::origin().0);
    seed.extend_from_slice(&sdk::tx_nonce().to_be_bytes());
    let mut id = sdk::keccak256(&seed);
    id[0] &= 0x1f;
    let task = id.to_vec();
    if TASK.get(&task).is_some() {
        sdk::revert(b"one task per transaction");
    }
    let requester = sdk::caller();
    let due = sdk::block_number().saturating_add(DEADLINE.get().unwrap_or(1));
    Task {
        status: OPEN,
        requester: requester.0,
        solver: [0; 20],
        fee,
        due,
        input: input.clone(),
        result: Vec::new(),
    }
    .store(&task);
    TASKS.set(&TASKS.get().unwrap_or(0).saturating_add(1));
    let mut data = Vec::with_capacity(64 + input.len());
    data.extend_from_slice(&sdk::u128_word(fee));
    data.extend_from_slice(&sdk::u128_word(u128::from(due)));
    data.extend_from_slice(&input);
    sdk::emit(
        &[sdk::topic("VcCompute(bytes32,address,uint256)"), id, requester.to_word()],
        &data,
    );
    task
}

fn set_result(task: Vec<u8>, result: Vec<u8>, proof: Vec<u8>) -> bool {
    let id = task_word(&task);
    let Some(mut t) = Task::load(&task) else {
        sdk::revert(b"no such task");
    };
    match t.status {
        OPEN => {}
        ANSWERED => sdk::revert(b"the task is already answered"),
        _ => sdk::revert(b"the task was reclaimed"),
    }
    let proof: [u8; 256] = match proof.as_slice().try_into() {
        Ok(p) => p,
        Err(_) => sdk::revert(b"a proof is 256 bytes"),
    };
    if result.is_empty() || !result.len().is_multiple_of(32) {
        sdk::revert(b"a result is one or more 32-byte words");
    }
    let words = INPUT_WORDS.get().unwrap_or(0) as usize;
    let Some(public_input) = t.input.get(..words * 32) else {
        sdk::revert(b"the stored input is short");
    };
    let mut public: Vec<[u8; 32]> = Vec::with_capacity(1 + words + result.len() / 32);
    public.push(id);
    for chunk in public_input.chunks_exact(32).chain(result.chunks_exact(32)) {
        public.push(task_word(chunk));
    }
    let vk = VK.get().unwrap_or_default();
    match sdk::groth16_verify(&vk, &proof, &public) {
        Ok(true) => {}
        Ok(false) => sdk::revert(b"the proof does not verify"),
        Err(_) => sdk::revert(b"malformed proof, result or inputs"),
    }
    let solver = sdk::caller();
    t.status = ANSWERED;
    t.solver = solver.0;
    t.result = result.clone();
    t.store(&task);
    if !sdk::transfer(solver, t.fee) {
        sdk::revert(b"the escrow is short");
    }
    sdk::emit(&[sdk::topic("VcResult(bytes32,address)"), id, solver.to_word()], &result);
    true
}

fn reclaim(task: Vec<u8>) -> bool {
    let id = task_word(&task);
    let Some(mut t) = Task::load(&task).filter(|t| t.status == OPEN) else {
        sdk::revert(b"only an open task can be reclaimed");
    };
    let requester = Address(t.requester);
    if sdk::caller() != requester {
        sdk::revert(b"only the requester may reclaim");
    }
    if sdk::block_number() <= t.due {
        sdk::revert(b"the deadline has not passed");
    }
    t.status = RECLAIMED;
    t.store(&task);
    if !sdk::transfer(requester, t.fee) {
        sdk::revert(b"the escrow is short");
    }
    sdk::emit(&[sdk::topic("VcReclaimed(bytes32)"), id], &[]);
    true
}

fn model() -> String {
    MODEL.get().unwrap_or_default()
}
fn vk() -> Vec<u8> {
    VK.get().unwrap_or_default()
}
fn pk_hash() -> Vec<u8> {
    PK_HASH.get().unwrap_or_default()
}
fn input_words() -> u32 {
    INPUT_WORDS.get().unwrap_or(0)
}
fn deadline_blocks() -> u64 {
    DEADLINE.get().unwrap_or(0)
}
fn tasks() -> u64 {
    TASKS.get().unwrap_or(0)
}
/// A task's record in the layout `TASK` stores (empty for an unknown task): status (0 unknown,
/// 1 open, 2 answered, 3 reclaimed) ‖ requester ‖ solver ‖ fee ‖ deadline ‖ input length ‖ input ‖
/// result.
fn task(id: Vec<u8>) -> Vec<u8> {
    TASK.get(&id).unwrap_or_default()
}

dispatch! {
    init(model: String, vk: Vec<u8>, pk_hash: Vec<u8>, input_words: u32, deadline_blocks: u64);
    compute(input: Vec<u8>) -> Vec<u8>;
    set_result(task: Vec<u8>, result: Vec<u8>, proof: Vec<u8>) -> bool;
    reclaim(task: Vec<u8>) -> bool;
    model() -> String;
    vk() -> Vec<u8>;
    pk_hash() -> Vec<u8>;
    input_words() -> u32;
    deadline_blocks() -> u64;
    tasks() -> u64;
    task(id: Vec<u8>) -> Vec<u8>;
}
