//! The VC contract (`vm/contracts/vc`) on both engines: `compute` escrows a fee, `set_result` pays
//! it out only for a proof that verifies for that task's input and the posted result (through
//! `platon_groth16_verify`), one answer per task, and `reclaim` returns an unanswered fee after the
//! deadline. Real Groth16 keys and proofs (`platon_crypto::vc`).

use super::sdk::{rlp, rlp_bytes, wasm};
use super::wasm::{on_both, World, OTHER, SENDER};
use alloy_primitives::{keccak256, Address, Bytes, U256};
use platon_crypto::vc::{self, MimcChain, Model};
use platon_messages::TxKind;
use platon_vm::wasm::abi::{encode_call, encode_deploy};
use platon_vm::wasm::cost::groth16_verify_gas;
use platon_vm::{Outcome, Status};
use std::sync::OnceLock;

const ROUNDS: usize = 16;
const FEE: u64 = 1_000_000_000;
/// The effective gas price of `World`'s transactions: base fee 7 plus a tip of 1.
const GAS_PRICE: u64 = 8;

fn model() -> MimcChain {
    MimcChain::new(ROUNDS)
}

fn keys() -> &'static vc::Keys {
    static KEYS: OnceLock<vc::Keys> = OnceLock::new();
    KEYS.get_or_init(|| vc::setup(&model(), b"vm vc test").expect("setup"))
}

fn deploy(w: &mut World, deadline: u64) -> Address {
    let pk_hash = keccak256(vc::pk_to_bytes(&keys().pk).expect("pk"));
    let init = encode_call(
        "init",
        &[
            rlp_bytes(model().name().as_bytes()),
            rlp_bytes(&keys().vk),
            rlp_bytes(pk_hash.as_slice()),
            rlp(1u32),
            rlp(deadline),
        ],
    );
    let d = w.send(
        TxKind::Create,
        encode_deploy(&wasm("vc"), &init),
        0,
        10_000_000,
    );
    assert!(d.success(), "deploy: {d:?}");
    d.contract_address.expect("address")
}

fn input(x: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&x.to_be_bytes());
    w
}

fn compute(w: &mut World, c: Address, from: Address, x: u64) -> (Outcome, [u8; 32]) {
    let o = w.send_from(
        from,
        TxKind::Call(c),
        encode_call("compute", &[rlp_bytes(&input(x))]),
        FEE,
        5_000_000,
    );
    let id: Bytes = alloy_rlp::decode_exact(&o.output[..]).unwrap_or_default();
    let mut task = [0u8; 32];
    if id.len() == 32 {
        task.copy_from_slice(&id);
    }
    (o, task)
}

/// A proof for `task` over `x`'s true result, and that result.
fn answer(task: &[u8; 32], x: u64) -> (Vec<u8>, [u8; 256]) {
    let a = model().compute(&input(x)).expect("compute");
    let t = vc::scalar_from_be(task).expect("a task id is a scalar");
    let proof = vc::prove(&keys().pk, &model(), t, &a, [9; 32]).expect("prove");
    (a.result_bytes(&model()), proof)
}

fn set_result(
    w: &mut World,
    c: Address,
    from: Address,
    task: &[u8; 32],
    result: &[u8],
    proof: &[u8],
) -> Outcome {
    w.send_from(
        from,
        TxKind::Call(c),
        encode_call(
            "set_result",
            &[rlp_bytes(task), rlp_bytes(result), rlp_bytes(proof)],
        ),
        0,
        5_000_000,
    )
}

/// A task's record (`task(id)`): status, solver and result.
fn record(w: &mut World, c: Address, task: &[u8; 32]) -> (u8, Address, Vec<u8>) {
    let o = w.call(c, encode_call("task", &[rlp_bytes(task)]));
    assert!(o.success(), "task: {o:?}");
    let rec: Bytes = alloy_rlp::decode_exact(&o.output[..]).expect("bytes");
    let input_len = u32::from_be_bytes(rec[65..69].try_into().expect("4")) as usize;
    (
        rec[0],
        Address::from_slice(&rec[21..41]),
        rec[69 + input_len..].to_vec(),
    )
}

fn balance(w: &World, who: Address) -> U256 {
    w.state.account(&who).expect("read").balance
}

#[test]
fn a_valid_proof_is_paid_and_every_bad_answer_is_refused_without_payout() {
    let (_, outs) = on_both(|w| {
        let c = deploy(w, 100);
        let mut outs = Vec::new();
        let (o, task) = compute(w, c, SENDER, 7);
        assert!(o.success(), "compute: {o:?}");
        // The task id is keccak(origin ‖ nonce), top three bits cleared.
        let mut seed = SENDER.to_vec();
        seed.extend_from_slice(&1u64.to_be_bytes());
        let mut want = keccak256(&seed).0;
        want[0] &= 0x1f;
        assert_eq!(task, want);
        let ev = &o.logs[0];
        assert_eq!(
            ev.topics[0],
            keccak256("VcCompute(bytes32,address,uint256)")
        );
        assert_eq!(ev.topics[1].0, task);
        assert_eq!(&ev.data[64..], &input(7));
        assert_eq!(balance(w, c), U256::from(FEE));
        outs.push(o);

        let (result, proof) = answer(&task, 7);
        let before = balance(w, OTHER);

        // A forged proof: random bytes, and a real proof with one coordinate moved off the curve.
        let junk: Vec<u8> = (0..256u32).map(|i| (i * 91 % 256) as u8).collect();
        let forged = set_result(w, c, OTHER, &task, &result, &junk);
        assert_eq!(forged.status, Status::Revert);
        let mut off = proof;
        off[63] ^= 1;
        let off_curve = set_result(w, c, OTHER, &task, &result, &off);
        assert_eq!(&off_curve.output[..], b"malformed proof, result or inputs");
        // A wrong result with a proof that is valid for the right one.
        let mut wrong = result.clone();
        wrong[31] ^= 1;
        let wrong_result = set_result(w, c, OTHER, &task, &wrong, &proof);
        assert_eq!(&wrong_result.output[..], b"the proof does not verify");
        // The same input in another task: the first task's proof does not answer it.
        let (o2, task2) = compute(w, c, SENDER, 7);
        assert!(o2.success());
        assert_ne!(task, task2);
        let replay = set_result(w, c, OTHER, &task2, &result, &proof);
        assert_eq!(&replay.output[..], b"the proof does not verify");
        for o in [&forged, &off_curve, &wrong_result, &replay] {
            assert_eq!(o.status, Status::Revert, "{o:?}");
        }
        let gas_of_failures: u64 = [&forged, &off_curve, &wrong_result, &replay]
            .iter()
            .map(|o| o.gas_used)
            .sum();
        assert_eq!(balance(w, c), U256::from(2 * FEE), "nothing was paid out");

        // The right answer is paid; the verification's price is part of its gas.
        let good = set_result(w, c, OTHER, &task, &result, &proof);
        assert!(good.success(), "set_result: {good:?}");
        assert!(good.gas_used > groth16_verify_gas(3));
        let paid =
            U256::from(FEE) - U256::from(gas_of_failures + good.gas_used) * U256::from(GAS_PRICE);
        assert_eq!(balance(w, OTHER), before + paid);
        assert_eq!(balance(w, c), U256::from(FEE));
        let ev = &good.logs[0];
        assert_eq!(ev.topics[0], keccak256("VcResult(bytes32,address)"));
        assert_eq!(&ev.data[..], &result[..]);

        // A second answer, even the same valid one, is refused.
        let second = set_result(w, c, SENDER, &task, &result, &proof);
        assert_eq!(&second.output[..], b"the task is already answered");

        assert_eq!(record(w, c, &task), (2, OTHER, result.clone()));
        assert_eq!(record(w, c, &task2).0, 1);
        outs.extend([forged, off_curve, wrong_result, replay, good, second]);
        outs
    });
    assert_eq!(outs.len(), 7);
}

#[test]
fn the_requester_reclaims_an_unanswered_fee_after_the_deadline_only() {
    on_both(|w| {
        let c = deploy(w, 5);
        let (o, task) = compute(w, c, SENDER, 3);
        assert!(o.success());
        let early = w.call(c, encode_call("reclaim", &[rlp_bytes(&task)]));
        assert_eq!(&early.output[..], b"the deadline has not passed");
        w.number = 7;
        let stranger = w.send_from(
            OTHER,
            TxKind::Call(c),
            encode_call("reclaim", &[rlp_bytes(&task)]),
            0,
            5_000_000,
        );
        assert_eq!(&stranger.output[..], b"only the requester may reclaim");
        let before = balance(w, SENDER);
        let back = w.call(c, encode_call("reclaim", &[rlp_bytes(&task)]));
        assert!(back.success(), "{back:?}");
        assert_eq!(
            balance(w, SENDER),
            before + U256::from(FEE) - U256::from(back.gas_used) * U256::from(GAS_PRICE)
        );
        assert_eq!(balance(w, c), U256::ZERO);
        // A reclaimed task takes no answer.
        let (result, proof) = answer(&task, 3);
        let late = set_result(w, c, OTHER, &task, &result, &proof);
        assert_eq!(&late.output[..], b"the task was reclaimed");
        assert_eq!(record(w, c, &task).0, 3);
        vec![early, stranger, back, late]
    });
}

#[test]
fn keys_are_fixed_at_deploy_and_compute_needs_a_fee() {
    on_both(|w| {
        let c = deploy(w, 5);
        let again = w.call(
            c,
            encode_call(
                "init",
                &[
                    rlp_bytes(b"x"),
                    rlp_bytes(&[0u8; 512]),
                    rlp_bytes(&[0u8; 32]),
                    rlp(1u32),
                    rlp(1u64),
                ],
            ),
        );
        assert_eq!(&again.output[..], b"already initialised");
        let vk = w.call(c, encode_call("vk", &[]));
        assert_eq!(vk.output.to_vec(), rlp_bytes(&keys().vk));
        let free = w.call(c, encode_call("compute", &[rlp_bytes(&input(1))]));
        assert_eq!(&free.output[..], b"compute needs a fee (the call's value)");
        vec![again, vk, free]
    });
}

#[test]
fn verification_gas_grows_with_the_public_inputs() {
    assert_eq!(groth16_verify_gas(0), 181_000);
    assert_eq!(groth16_verify_gas(3) - groth16_verify_gas(2), 6_150);
}

#[test]
fn a_wasm_deploy_may_store_more_than_eip_170_allows() {
    // The instrumented VC contract is larger than 24,576 bytes: deploys of WASM run under the WASM
    // code limit, which `prepare` enforces.
    let raw = wasm("vc");
    let code = platon_vm::wasm::prepare(&raw).expect("prepare");
    assert!(code.len() > 24_576, "{} bytes", code.len());
    assert!(code.len() <= platon_vm::wasm::cost::MAX_CODE_BYTES);
}
