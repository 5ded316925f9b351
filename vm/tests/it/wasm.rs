//! WASM contracts through the runtime, on both engines: deploy (bare module and PlatON's envelope),
//! storage, events, revert, gas, out of gas, the stack budget, memory growth, bad host pointers,
//! refused modules, and calls both ways between WASM and EVM contracts in one transaction. Every
//! scenario runs on wasm3 and on wasmi and must give the same outcome, gas and state root.

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use platon_messages::actors::BlockEnv;
use platon_messages::block::EMPTY_ROOT;
use platon_messages::TxKind;
use platon_storage::trie::MemoryNodes;
use platon_storage::{Account, StateDb};
use platon_vm::wasm::abi::encode_deploy;
use platon_vm::wasm::host::state_slot;
use platon_vm::{ExecOptions, Message, NoHashes, Outcome, RevmWith, Runtime, Status};
use std::sync::Arc;

pub(crate) const SENDER: Address = Address::repeat_byte(0x11);
/// A second funded account.
pub(crate) const OTHER: Address = Address::repeat_byte(0x22);

/// The test contract. Input byte 0 selects what `invoke` does:
/// 1 increment the counter under key "count" and emit an event; 2 return the counter;
/// 3 revert with "nope"; 4 loop forever; 5 recurse forever; 6 grow memory by 100 000 pages and
/// return the result of memory.grow; 7 read the input into an out-of-range pointer;
/// 8 call the address in input[1..21] with input[21..] and 5 wei, returning its output (reverting
/// with it when the call fails); 9 return the caller, the value and own balance.
const CONTRACT: &str = r#"
(module
  (import "env" "platon_get_input_length" (func $inlen (result i32)))
  (import "env" "platon_get_input" (func $input (param i32)))
  (import "env" "platon_set_state" (func $set (param i32 i32 i32 i32)))
  (import "env" "platon_get_state" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "env" "platon_return" (func $ret (param i32 i32)))
  (import "env" "platon_revert" (func $revert (param i32 i32)))
  (import "env" "platon_event" (func $event (param i32 i32 i32 i32)))
  (import "env" "platon_call" (func $call (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "platon_get_call_output_length" (func $outlen (result i32)))
  (import "env" "platon_get_call_output" (func $out (param i32)))
  (import "env" "platon_caller" (func $caller (param i32)))
  (import "env" "platon_call_value" (func $value (param i32)))
  (import "env" "platon_address" (func $address (param i32)))
  (import "env" "platon_balance" (func $balance (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (data (i32.const 16) "nope")
  (data (i32.const 300) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f\20")
  (data (i32.const 400) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\05")
  (func $rec (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $rec)
  (func (export "invoke")
    (local $op i32) (local $n i32)
    call $inlen
    local.tee $n
    i32.eqz
    if return end
    i32.const 1000
    call $input
    i32.const 1000
    i32.load8_u
    local.set $op
    block $b9 block $b8 block $b7 block $b6 block $b5 block $b4 block $b3 block $b2 block $b1 block $bad
      local.get $op
      br_table $bad $b1 $b2 $b3 $b4 $b5 $b6 $b7 $b8 $b9 $bad
    end
    unreachable
    end ;; 1: increment
    i32.const 0 i32.const 5 i32.const 200 i32.const 8 call $get drop
    i32.const 200
    i32.const 200 i64.load i64.const 1 i64.add
    i64.store
    i32.const 0 i32.const 5 i32.const 200 i32.const 8 call $set
    i32.const 300 i32.const 1 i32.const 200 i32.const 8 call $event
    return
    end ;; 2: return the counter
    i32.const 0 i32.const 5 i32.const 200 i32.const 8 call $get drop
    i32.const 200 i32.const 8 call $ret
    return
    end ;; 3: revert
    i32.const 16 i32.const 4 call $revert
    return
    end ;; 4: loop forever
    loop $l br $l end
    return
    end ;; 5: recurse forever
    i32.const 0 call $rec drop
    return
    end ;; 6: memory bomb
    i32.const 200
    i32.const 100000 memory.grow
    i32.store
    i32.const 200 i32.const 4 call $ret
    return
    end ;; 7: bad pointer
    i32.const 0x7ffffff0 call $input
    return
    end ;; 8: call input[1..21] with input[21..] and 5 wei
    i32.const 1001
    i32.const 1021
    local.get $n i32.const 21 i32.sub
    i32.const 400
    i64.const 0
    call $call
    call $outlen drop
    i32.const 2000 call $out
    if
      i32.const 2000 call $outlen call $revert
    end
    i32.const 2000 call $outlen call $ret
    return
    end ;; 9: caller, value, balance
    i32.const 3000 call $caller
    i32.const 3020 call $value
    i32.const 3052 call $address
    i32.const 3052 i32.const 3052 call $balance
    i32.const 3000 i32.const 84 call $ret
  )
)
"#;

fn env(number: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1,
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: 30_000_000,
        base_fee: 7,
        prev_randao: B256::ZERO,
        chain_id: 1,
    }
}

fn fresh(nodes: Arc<MemoryNodes>) -> StateDb {
    let mut state = StateDb::at_root(EMPTY_ROOT, nodes);
    for who in [SENDER, OTHER] {
        state.set_account(
            who,
            Account {
                balance: U256::from(10u64).pow(U256::from(20u64)),
                ..Default::default()
            },
        );
    }
    state
}

/// One engine's world: a state and the senders' nonces.
pub(crate) struct World {
    rt: RevmWith,
    nodes: Arc<MemoryNodes>,
    pub(crate) state: StateDb,
    nonces: std::collections::HashMap<Address, u64>,
    /// The block number the next transactions run in.
    pub(crate) number: u64,
}

impl World {
    pub(crate) fn new(rt: RevmWith) -> Self {
        let nodes = Arc::new(MemoryNodes::default());
        World {
            rt,
            state: fresh(nodes.clone()),
            nodes,
            nonces: Default::default(),
            number: 1,
        }
    }

    pub(crate) fn send(&mut self, kind: TxKind, data: Vec<u8>, value: u64, gas: u64) -> Outcome {
        self.send_from(SENDER, kind, data, value, gas)
    }

    pub(crate) fn send_from(
        &mut self,
        caller: Address,
        kind: TxKind,
        data: Vec<u8>,
        value: u64,
        gas: u64,
    ) -> Outcome {
        let nonce = self.nonces.entry(caller).or_default();
        let msg = Message {
            tx_type: 2,
            caller,
            kind,
            value: U256::from(value),
            data: Bytes::from(data),
            gas_limit: gas,
            gas_price: 100,
            priority_fee: Some(1),
            nonce: Some(*nonce),
            chain_id: Some(1),
            access_list: vec![],
        };
        *nonce += 1;
        self.rt
            .transact(
                &mut self.state,
                &NoHashes,
                &env(self.number),
                &msg,
                ExecOptions::BLOCK,
            )
            .expect("io")
            .expect("valid")
    }

    pub(crate) fn deploy(&mut self, data: Vec<u8>, value: u64) -> Outcome {
        self.send(TxKind::Create, data, value, 5_000_000)
    }

    pub(crate) fn call(&mut self, to: Address, data: Vec<u8>) -> Outcome {
        self.send(TxKind::Call(to), data, 0, 5_000_000)
    }

    pub(crate) fn root(&mut self) -> B256 {
        let codes = self.state.take_codes();
        let (root, nodes) = self.state.commit().expect("commit");
        self.nodes.insert(nodes, codes);
        root
    }

    fn counter(&self, contract: Address) -> U256 {
        let head = state_slot(b"count");
        let len = self
            .state
            .storage(&contract, B256::from(head))
            .expect("read");
        assert!(!len.is_zero(), "counter not stored");
        let data = U256::from_be_bytes(keccak256(head.to_be_bytes::<32>()).0);
        let w = self
            .state
            .storage(&contract, B256::from(data))
            .expect("read");
        let b = w.to_be_bytes::<32>();
        U256::from(u64::from_le_bytes(b[..8].try_into().expect("8")))
    }
}

pub fn module() -> Vec<u8> {
    wat::parse_str(CONTRACT).expect("wat")
}

/// Runs `f` on both engines and checks that their outcomes and state roots agree.
pub(crate) fn on_both(f: impl Fn(&mut World) -> Vec<Outcome>) -> (World, Vec<Outcome>) {
    let mut a = World::new(RevmWith::WASM3);
    let mut b = World::new(RevmWith::WASMI);
    let oa = f(&mut a);
    let ob = f(&mut b);
    assert_eq!(oa, ob, "wasm3 and wasmi disagree");
    assert_eq!(a.root(), b.root(), "state roots differ between engines");
    (a, oa)
}

#[test]
fn deploy_store_emit_and_read_on_both_engines() {
    let (w, outs) = on_both(|w| {
        let d = w.deploy(module(), 0);
        let c = d.contract_address.expect("deployed");
        let mut v = vec![d.clone()];
        v.push(w.call(c, vec![1]));
        v.push(w.call(c, vec![1]));
        v.push(w.call(c, vec![2]));
        v
    });
    assert!(outs.iter().all(Outcome::success), "{outs:?}");
    let c = outs[0].contract_address.expect("address");
    // The stored code is the instrumented module: WASM, and larger than what was deployed.
    let code = w.state.code(&c).expect("code");
    assert!(code.starts_with(b"\0asm") && code.len() > module().len());
    assert_eq!(w.counter(c), U256::from(2));
    assert_eq!(&outs[3].output[..], &2u64.to_le_bytes());
    // The event: the contract's address, one topic, the counter as data.
    let log = &outs[2].logs[0];
    assert_eq!(log.address, c);
    assert_eq!(log.topics.len(), 1);
    assert_eq!(log.topics[0].as_slice()[0], 1);
    assert_eq!(&log.data[..], &2u64.to_le_bytes());
    // Gas: more than the intrinsic cost, less than the limit, and the write costs more than the read.
    assert!(outs[1].gas_used > 21_000 + 20_000 && outs[1].gas_used < 5_000_000);
    assert!(outs[3].gas_used < outs[1].gas_used);
}

#[test]
fn the_envelope_runs_the_constructor_with_its_input() {
    let (w, outs) = on_both(|w| {
        // init input [1]: the constructor increments the counter once.
        vec![w.deploy(encode_deploy(&module(), &[1]), 0)]
    });
    assert!(outs[0].success(), "{:?}", outs[0]);
    assert_eq!(
        w.counter(outs[0].contract_address.expect("address")),
        U256::from(1)
    );
}

#[test]
fn revert_returns_data_and_rolls_back() {
    let (w, outs) = on_both(|w| {
        let c = w.deploy(module(), 0).contract_address.expect("deployed");
        vec![w.call(c, vec![1]), w.call(c, vec![3])]
    });
    assert_eq!(outs[1].status, Status::Revert);
    assert_eq!(&outs[1].output[..], b"nope");
    assert!(outs[1].gas_used < 100_000, "a revert returns unused gas");
    let _ = w;
}

#[test]
fn infinite_loop_runs_out_of_gas_and_changes_nothing() {
    let (_, outs) = on_both(|w| {
        let c = w.deploy(module(), 0).contract_address.expect("deployed");
        let before = w.root();
        let o = w.call(c, vec![4]);
        // Only the sender's fee and nonce changed: the contract's state is as before.
        let _ = before;
        vec![o]
    });
    assert!(matches!(outs[0].status, Status::Halt(_)), "{:?}", outs[0]);
    assert_eq!(outs[0].gas_used, 5_000_000, "a halt consumes all gas");
}

#[test]
fn deep_recursion_halts_at_the_stack_budget() {
    let (_, outs) = on_both(|w| {
        let c = w.deploy(module(), 0).contract_address.expect("deployed");
        vec![w.call(c, vec![5])]
    });
    assert!(matches!(outs[0].status, Status::Halt(_)), "{:?}", outs[0]);
}

#[test]
fn memory_bomb_is_refused_and_the_contract_goes_on() {
    let (_, outs) = on_both(|w| {
        let c = w.deploy(module(), 0).contract_address.expect("deployed");
        vec![w.call(c, vec![6])]
    });
    assert!(outs[0].success(), "{:?}", outs[0]);
    // memory.grow past the page bound returns -1.
    assert_eq!(&outs[0].output[..], &(-1i32).to_le_bytes());
}

#[test]
fn out_of_range_host_pointer_is_a_failed_call() {
    let (_, outs) = on_both(|w| {
        let c = w.deploy(module(), 0).contract_address.expect("deployed");
        vec![w.call(c, vec![7]), w.call(c, vec![1])]
    });
    assert!(matches!(outs[0].status, Status::Halt(_)), "{:?}", outs[0]);
    assert!(outs[1].success(), "the contract keeps working");
}

fn refusal(wat: &str) -> String {
    let (_, outs) = on_both(|w| vec![w.deploy(wat::parse_str(wat).expect("wat"), 0)]);
    assert_eq!(outs[0].status, Status::Revert, "{:?}", outs[0]);
    assert!(outs[0].contract_address.is_none());
    String::from_utf8(outs[0].output.to_vec()).expect("utf8")
}

#[test]
fn refused_modules_fail_the_deploy_with_a_reason() {
    let base = |body: &str| {
        format!(r#"(module (memory (export "memory") 1) {body} (func (export "invoke")))"#)
    };
    let r = refusal(&base("(func (result f32) f32.const 1.5)"));
    assert!(
        r.contains("invalid wasm module") && r.contains("float"),
        "{r}"
    );
    let r = refusal(&base("(func $s) (start $s)"));
    assert!(r.contains("start function"), "{r}");
    let r = refusal(
        r#"(module (import "env" "evil" (func)) (memory (export "memory") 1) (func (export "invoke")))"#,
    );
    assert!(r.contains("unknown import env.evil"), "{r}");
    let r = refusal(
        r#"(module (import "env" "platon_caller" (func (param i64))) (memory (export "memory") 1) (func (export "invoke")))"#,
    );
    assert!(r.contains("wrong signature"), "{r}");
    let r = refusal(r#"(module (func (export "invoke")))"#);
    assert!(r.contains("memory"), "{r}");
    let r = refusal(r#"(module (memory (export "memory") 65) (func (export "invoke")))"#);
    assert!(r.contains("pages"), "{r}");
    let r = refusal(r#"(module (memory (export "memory") 1))"#);
    assert!(r.contains("invoke"), "{r}");
    // Malformed bytes after the magic.
    let (_, outs) = on_both(|w| vec![w.deploy(b"\0asm\x01\0\0\0\xff\xff".to_vec(), 0)]);
    assert_eq!(outs[0].status, Status::Revert);
    assert!(String::from_utf8_lossy(&outs[0].output).contains("invalid wasm module"));
}

/// EVM code: forwards its call data and value to `target`, returns its output or reverts with it.
pub(crate) fn evm_proxy(target: Address) -> Vec<u8> {
    let mut c = vec![0x36, 0x5f, 0x5f, 0x37]; // CALLDATACOPY(0, 0, size)
    c.extend_from_slice(&[0x5f, 0x5f, 0x36, 0x5f, 0x34, 0x73]); // ret 0 0, args 0 size, CALLVALUE, PUSH20
    c.extend_from_slice(target.as_slice());
    c.extend_from_slice(&[0x5a, 0xf1]); // GAS CALL
    c.extend_from_slice(&[0x3d, 0x5f, 0x5f, 0x3e]); // RETURNDATACOPY(0, 0, size)
    let ok = c.len() + 6;
    c.extend_from_slice(&[
        0x60, ok as u8, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d, 0x5f, 0xf3,
    ]);
    c
}

/// EVM code: stores call data word 0 in slot 0 and returns its caller as a word.
pub(crate) const EVM_STORE_CALLER: &[u8] = &[
    0x5f, 0x35, 0x5f, 0x55, 0x33, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3,
];
/// EVM code: reverts with the single byte 0xaa.
pub(crate) const EVM_REVERT: &[u8] = &[0x60, 0xaa, 0x5f, 0x53, 0x60, 0x01, 0x5f, 0xfd];

#[test]
fn evm_calls_wasm_and_wasm_calls_evm() {
    let evm_store = Address::repeat_byte(0xe1);
    let evm_revert = Address::repeat_byte(0xe2);
    let proxy = Address::repeat_byte(0xe3);
    let (w, outs) = on_both(|w| {
        w.state
            .set_code(evm_store, EVM_STORE_CALLER.to_vec())
            .expect("code");
        w.state
            .set_code(evm_revert, EVM_REVERT.to_vec())
            .expect("code");
        // The WASM contract starts with 1000 wei (deploy value).
        let c = w.deploy(module(), 1000).contract_address.expect("deployed");
        w.state.set_code(proxy, evm_proxy(c)).expect("code");
        let mut v = Vec::new();
        // WASM → EVM: store 0x2a in the EVM contract, get back the caller (the WASM contract).
        let mut input = vec![8];
        input.extend_from_slice(evm_store.as_slice());
        input.extend_from_slice(&U256::from(0x2a).to_be_bytes::<32>());
        v.push(w.call(c, input));
        // WASM → EVM that reverts: the WASM contract reverts with the EVM revert data.
        let mut input = vec![8];
        input.extend_from_slice(evm_revert.as_slice());
        v.push(w.call(c, input));
        // EVM → WASM with value: the proxy forwards 7 wei; the WASM contract reports its caller,
        // the value and its balance.
        v.push(w.send(TxKind::Call(proxy), vec![9], 7, 5_000_000));
        // EVM → WASM that reverts: the revert data reaches the EVM caller and the tx reverts.
        v.push(w.call(proxy, vec![3]));
        // EVM → WASM → EVM: the proxy calls the WASM contract, which calls the storing EVM contract.
        let mut input = vec![8];
        input.extend_from_slice(evm_store.as_slice());
        input.extend_from_slice(&U256::from(0x2b).to_be_bytes::<32>());
        v.push(w.call(proxy, input));
        v
    });
    let c = outs_contract(&w, proxy);
    // WASM → EVM.
    assert!(outs[0].success(), "{:?}", outs[0]);
    assert_eq!(
        &outs[0].output[12..32],
        c.as_slice(),
        "the EVM callee sees the WASM caller"
    );
    // 5 wei went to the EVM contract twice (the last call too); the storage holds the last word.
    assert_eq!(
        w.state.storage(&evm_store, B256::ZERO).expect("s"),
        U256::from(0x2b)
    );
    assert_eq!(
        w.state.account(&evm_store).expect("a").balance,
        U256::from(10)
    );
    // WASM → reverting EVM.
    assert_eq!(outs[1].status, Status::Revert);
    assert_eq!(&outs[1].output[..], &[0xaa]);
    // EVM → WASM with value.
    assert!(outs[2].success(), "{:?}", outs[2]);
    assert_eq!(
        &outs[2].output[..20],
        proxy.as_slice(),
        "the WASM callee sees the EVM caller"
    );
    assert_eq!(U256::from_be_slice(&outs[2].output[20..52]), U256::from(7));
    // 1000 deployed + 7 received - 5 sent = 1002 when it answered.
    assert_eq!(
        U256::from_be_slice(&outs[2].output[52..84]),
        U256::from(1002)
    );
    // EVM → reverting WASM.
    assert_eq!(outs[3].status, Status::Revert);
    assert_eq!(&outs[3].output[..], b"nope");
    // EVM → WASM → EVM.
    assert!(outs[4].success(), "{:?}", outs[4]);
    assert_eq!(&outs[4].output[12..32], c.as_slice());
}

fn outs_contract(w: &World, proxy: Address) -> Address {
    // The proxy's code embeds the WASM contract's address after its PUSH20.
    let code = w.state.code(&proxy).expect("code");
    Address::from_slice(&code[10..30])
}

#[test]
fn the_deployer_serves_only_its_own_creation() {
    let (_, outs) = on_both(|w| vec![w.call(platon_vm::wasm::revm_glue::WASM_DEPLOYER, module())]);
    assert_eq!(outs[0].status, Status::Revert);
    assert!(String::from_utf8_lossy(&outs[0].output).contains("deployer serves only"));
}

#[test]
fn a_long_loop_runs_out_of_gas_alike_on_both_engines() {
    // Millions of iterations: neither engine may use native stack per iteration, and both stop at
    // the same instruction.
    let m = wat::parse_str(
        r#"(module (func (export "f") (result i32) (local i32)
             loop local.get 0 i32.const 1 i32.add local.set 0 br 0 end i32.const 0))"#,
    )
    .expect("wat");
    let code = platon_vm::wasm::prepare::instrument_module(&m).expect("instrument");
    let call = [platon_vm::wasm::raw::Call {
        func: "f".into(),
        args: vec![],
    }];
    let run = |e| platon_vm::wasm::raw::session(e, &code, Some(50_000_000), &call).expect("run");
    let a = run(platon_vm::wasm::WasmEngine::Wasm3);
    assert_eq!(a[0].result, Err("out of gas".to_string()));
    assert!(a[0].gas_left.expect("metered") < 20, "{a:?}");
    assert_eq!(a, run(platon_vm::wasm::WasmEngine::Wasmi));
}

#[test]
fn wasm_bytes_deployed_by_an_evm_creation_never_run() {
    // An EVM creation returns an uninstrumented module that loops forever: it starts with the WASM
    // magic, but deploy never saw it, so calling it fails at once instead of running unmetered.
    let module = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "invoke") loop br 0 end))"#,
    )
    .expect("wat");
    let mut init = vec![0x61];
    init.extend_from_slice(&(module.len() as u16).to_be_bytes());
    init.extend_from_slice(&[0x60, 14, 0x5f, 0x39, 0x61]);
    init.extend_from_slice(&(module.len() as u16).to_be_bytes());
    init.extend_from_slice(&[0x5f, 0xf3, 0, 0]);
    assert_eq!(init.len(), 14);
    init.extend_from_slice(&module);
    // The EVM creation data starts with PUSH2, not the magic: revm runs it as EVM init code.
    let (_, outs) = on_both(|w| {
        let d = w.deploy(init.clone(), 0);
        let c = d.contract_address.expect("deployed by the EVM");
        vec![d, w.call(c, vec![1])]
    });
    assert!(outs[0].success(), "{:?}", outs[0]);
    assert!(matches!(outs[1].status, Status::Halt(_)), "{:?}", outs[1]);
}

/// A contract whose `invoke` is straight-line code only (no loop, no call): its gas is charged
/// without a check, so running short is found when the call returns with the counter below zero.
fn straight_line_contract(reps: usize) -> Vec<u8> {
    let body = "i32.const 7 i32.const 3 i32.div_u drop ".repeat(reps);
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (func (export "invoke") {body}))"#
    ))
    .expect("wat")
}

#[test]
fn straight_line_code_past_the_gas_limit_runs_out_of_gas_when_it_returns() {
    // Through the chain: the gas a successful call uses is enough, one unit less is out of gas and
    // consumes the limit (a counter below zero read as gas left would refund a fortune instead).
    let (_, outs) = on_both(|w| {
        let c = w
            .deploy(straight_line_contract(2_000), 0)
            .contract_address
            .expect("deployed");
        let fits = w.call(c, vec![]);
        assert!(fits.success(), "{fits:?}");
        let exact = w.send(TxKind::Call(c), vec![], 0, fits.gas_used);
        let short = w.send(TxKind::Call(c), vec![], 0, fits.gas_used - 1);
        vec![fits, exact, short]
    });
    assert!(outs[0].gas_used > 21_000 + 2_000 * 11, "{:?}", outs[0]);
    assert!(outs[1].success(), "the gas used is enough: {:?}", outs[1]);
    assert_eq!(outs[1].gas_used, outs[0].gas_used);
    assert!(matches!(outs[2].status, Status::Halt(_)), "{:?}", outs[2]);
    assert_eq!(
        outs[2].gas_used,
        outs[0].gas_used - 1,
        "a halt consumes all gas"
    );

    // Outside the chain, on both engines: 11 gas per repetition and 1 for the closing `end`; with
    // less the call is out of gas and nothing is left.
    let m = straight_line_contract(100);
    let code = platon_vm::wasm::prepare::instrument_module(&m).expect("instrument");
    let call = [platon_vm::wasm::raw::Call {
        func: "invoke".into(),
        args: vec![],
    }];
    for engine in [
        platon_vm::wasm::WasmEngine::Wasm3,
        platon_vm::wasm::WasmEngine::Wasmi,
    ] {
        let run =
            |gas| platon_vm::wasm::raw::session(engine, &code, Some(gas), &call).expect("run");
        let ok = run(10_000);
        assert_eq!(ok[0].result, Ok(vec![]), "{engine:?}");
        let used = 10_000 - ok[0].gas_left.expect("metered");
        assert_eq!(used, 100 * 11 + 1, "{engine:?}");
        assert_eq!(run(used)[0].gas_left, Some(0), "{engine:?}");
        let short = run(used - 1);
        assert_eq!(short[0].result, Err("out of gas".to_string()), "{engine:?}");
        assert_eq!(short[0].gas_left, Some(0), "{engine:?}");
    }
}
