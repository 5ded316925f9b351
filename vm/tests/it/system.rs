//! The slashing system contract: double-sign evidence signed with real BLS keys is recorded once,
//! with PlatON's call encoding, fees and nonce as for any transaction; forged, mismatched, repeated or
//! malformed reports revert and record nothing; a block mixing transfers and reports executes
//! through [`platon_vm::SystemRuntime`] on both engines.

use alloy_primitives::{Address, Bytes, B256, U256};
use platon_crypto::bls::{BlsPublicKey, BlsSecretKey};
use platon_crypto::SecretKey;
use platon_messages::actors::BlockEnv;
use platon_messages::block::{EMPTY_OMMERS_HASH, EMPTY_ROOT};
use platon_messages::cbft::{Evidence, Vote, VoteData};
use platon_messages::{Header, TxBody, TxKind};
use platon_storage::trie::NoNodes;
use platon_storage::{Account, StateDb};
use platon_vm::system::{self, SLASHING};
use platon_vm::{
    execute_block, ExecOptions, Message, NoHashes, Runtime, Status, SystemContext, SystemRuntime,
};
use std::sync::Arc;

const GWEI: u64 = 1_000_000_000;

fn keys() -> (Vec<BlsSecretKey>, Vec<BlsPublicKey>) {
    let sks: Vec<BlsSecretKey> = (0..4u8)
        .map(|i| BlsSecretKey::from_ikm(&[i + 1; 32]).expect("bls"))
        .collect();
    let pks = sks.iter().map(|k| k.public_key()).collect();
    (sks, pks)
}

fn vote(sk: &BlsSecretKey, validator: u32, view: u64, hash: u8) -> Vote {
    let data = VoteData {
        epoch: 1,
        view,
        index: 2,
        number: 12,
        hash: B256::repeat_byte(hash),
    };
    Vote {
        data,
        validator,
        signature: sk.sign(data.signing_hash().as_slice()).to_bytes().to_vec(),
    }
}

fn setup() -> (StateDb, SecretKey, BlockEnv, SystemRuntime) {
    let key = SecretKey::from_bytes(&[7u8; 32]).expect("key");
    let mut state = StateDb::at_root(EMPTY_ROOT, Arc::new(NoNodes));
    state.set_account(
        key.address(),
        Account {
            balance: U256::from(10u64 * GWEI * GWEI),
            ..Default::default()
        },
    );
    let env = BlockEnv {
        number: 40,
        timestamp: 1,
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: 30_000_000,
        base_fee: 7 * GWEI,
        prev_randao: B256::ZERO,
        chain_id: 1,
    };
    let rt = SystemRuntime::new(
        &platon_vm::Revm,
        SystemContext {
            validators: Arc::new(keys().1),
            epoch: 1,
            ..Default::default()
        },
    );
    (state, key, env, rt)
}

fn msg(caller: Address, nonce: u64, data: Vec<u8>, gas_limit: u64, value: u64) -> Message {
    Message {
        tx_type: 2,
        caller,
        kind: TxKind::Call(SLASHING),
        value: U256::from(value),
        data: Bytes::from(data),
        gas_limit,
        gas_price: u128::from(10 * GWEI),
        priority_fee: Some(u128::from(GWEI)),
        nonce: Some(nonce),
        chain_id: Some(1),
        access_list: vec![],
    }
}

fn reported_at(rt: &SystemRuntime, state: &StateDb, env: &BlockEnv, v: &Vote) -> u64 {
    let data = system::check_call(2, v.validator, v.data.epoch, v.data.view, v.data.index);
    let mut scratch = state.clone();
    let out = rt
        .transact(
            &mut scratch,
            &NoHashes,
            env,
            &Message {
                nonce: None,
                gas_price: 0,
                priority_fee: None,
                ..msg(Address::ZERO, 0, data, 100_000, 0)
            },
            ExecOptions {
                check_nonce: false,
                check_base_fee: false,
                check_balance: false,
                deadline: None,
            },
        )
        .expect("exec")
        .expect("included");
    assert!(
        out.success(),
        "{out:?} {:?}",
        platon_vm::tracing::revert_reason(&out.output)
    );
    let mut r = platon_messages::rlp::Reader::new(&out.output);
    r.u64("at").expect("u64")
}

#[test]
fn double_sign_evidence_is_recorded_once_and_fees_are_paid() {
    let (mut state, key, env, rt) = setup();
    let (sks, _) = keys();
    let (a, b) = (vote(&sks[3], 3, 5, 1), vote(&sks[3], 3, 5, 2));
    let e = Evidence::DuplicateVote(a.clone(), b);
    assert_eq!(reported_at(&rt, &state, &env, &a), 0);
    let before = state.account(&key.address()).expect("acct").balance;
    let m = msg(key.address(), 0, system::report_call(&e), 200_000, 0);
    let out = rt
        .transact(&mut state, &NoHashes, &env, &m, ExecOptions::BLOCK)
        .expect("exec")
        .expect("included");
    assert_eq!(out.status, Status::Success, "{out:?}");
    assert!(out.gas_used > system::REPORT_GAS && out.gas_used < 200_000);
    // One log naming the validator, with the slot and the reporter.
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].address, SLASHING);
    assert_eq!(out.logs[0].topics[0], system::duplicate_sign_topic());
    assert_eq!(out.logs[0].topics[1], B256::left_padding_from(&[3]));
    assert_eq!(reported_at(&rt, &state, &env, &a), 40);
    // The sender paid gas at the effective price (base fee + tip), the coinbase got the tip.
    let sender = state.account(&key.address()).expect("acct");
    assert_eq!(sender.nonce, 1);
    let price = U256::from(8 * GWEI);
    assert_eq!(before - sender.balance, U256::from(out.gas_used) * price);
    let coinbase = state.account(&env.beneficiary).expect("cb").balance;
    assert_eq!(coinbase, U256::from(out.gas_used) * U256::from(GWEI));

    // The same double sign again (even with the votes swapped) reverts and records nothing new.
    let again = Evidence::DuplicateVote(vote(&sks[3], 3, 5, 2), a.clone());
    let m = msg(key.address(), 1, system::report_call(&again), 200_000, 0);
    let out = rt
        .transact(&mut state, &NoHashes, &env, &m, ExecOptions::BLOCK)
        .expect("exec")
        .expect("included");
    assert_eq!(out.status, Status::Revert);
    assert_eq!(
        platon_vm::tracing::revert_reason(&out.output).as_deref(),
        Some("this double sign was already reported")
    );
    assert!(out.logs.is_empty());
    assert_eq!(state.account(&key.address()).expect("acct").nonce, 2);
}

#[test]
fn bad_reports_revert_and_record_nothing() {
    let (state, key, env, rt) = setup();
    let (sks, _) = keys();
    let a = vote(&sks[1], 1, 5, 1);
    let mut forged = vote(&sks[1], 1, 5, 2);
    forged.signature = sks[2]
        .sign(forged.data.signing_hash().as_slice())
        .to_bytes()
        .to_vec();
    let unknown = Evidence::DuplicateVote(vote(&sks[1], 9, 5, 1), vote(&sks[1], 9, 5, 2));
    let good = Evidence::DuplicateVote(a.clone(), vote(&sks[1], 1, 5, 2));
    let wrong_kind = system::encode_call(
        system::REPORT_DUPLICATE_SIGN,
        &[
            alloy_rlp::encode(1u8),
            alloy_rlp::encode(good.encode().as_slice()),
        ],
    );
    let cases: Vec<(&str, Vec<u8>, u64, &str)> = vec![
        (
            "forged",
            system::report_call(&Evidence::DuplicateVote(a.clone(), forged)),
            0,
            "a vote signature does not verify",
        ),
        (
            "same vote twice",
            system::report_call(&Evidence::DuplicateVote(a.clone(), a.clone())),
            0,
            "the votes do not conflict",
        ),
        (
            "unknown validator",
            system::report_call(&unknown),
            0,
            "a vote signature does not verify",
        ),
        ("wrong type", wrong_kind, 0, "reported as type 1"),
        ("value", system::report_call(&good), 5, "take no value"),
        (
            "not rlp",
            vec![0xff, 0x00],
            0,
            "malformed system-contract call",
        ),
        (
            "unknown function",
            system::encode_call(1234, &[]),
            0,
            "function 1234 is not offered",
        ),
        (
            "garbage evidence",
            system::encode_call(
                system::REPORT_DUPLICATE_SIGN,
                &[
                    alloy_rlp::encode(2u8),
                    alloy_rlp::encode([0xc1u8, 0x05].as_slice()),
                ],
            ),
            0,
            "malformed evidence",
        ),
    ];
    for (name, data, value, why) in cases {
        let mut s = state.clone();
        let out = rt
            .transact(
                &mut s,
                &NoHashes,
                &env,
                &msg(key.address(), 0, data, 200_000, value),
                ExecOptions::BLOCK,
            )
            .expect("exec")
            .expect("included");
        assert_eq!(out.status, Status::Revert, "{name}");
        let reason = platon_vm::tracing::revert_reason(&out.output).unwrap_or_default();
        assert!(reason.contains(why), "{name}: {reason}");
        assert_eq!(reported_at(&rt, &s, &env, &a), 0, "{name}");
        assert_eq!(s.account(&key.address()).expect("a").nonce, 1, "{name}");
    }
    // Too little gas: out of gas, all of it used, nothing recorded.
    let mut s = state.clone();
    let out = rt
        .transact(
            &mut s,
            &NoHashes,
            &env,
            &msg(key.address(), 0, system::report_call(&good), 30_000, 0),
            ExecOptions::BLOCK,
        )
        .expect("exec")
        .expect("included");
    assert!(matches!(out.status, Status::Halt(_)));
    assert_eq!(out.gas_used, 30_000);
    assert_eq!(reported_at(&rt, &s, &env, &a), 0);
    // A wrong nonce is rejected before anything runs.
    let mut s = state.clone();
    let r = rt
        .transact(
            &mut s,
            &NoHashes,
            &env,
            &msg(key.address(), 3, system::report_call(&good), 200_000, 0),
            ExecOptions::BLOCK,
        )
        .expect("exec");
    assert!(r.is_err());
}

#[test]
fn a_block_with_transfers_and_a_report_executes_on_both_engines() {
    let (sks, pks) = keys();
    let e = Evidence::DuplicateVote(vote(&sks[0], 0, 9, 1), vote(&sks[0], 0, 9, 2));
    let mut roots = Vec::new();
    for engine in [
        &platon_vm::Revm as &'static dyn Runtime,
        &platon_vm::RustEvm,
    ] {
        let (state, key, env, _) = setup();
        let rt = SystemRuntime::new(
            engine,
            SystemContext {
                validators: Arc::new(pks.clone()),
                epoch: 1,
                ..Default::default()
            },
        );
        let tx = |nonce: u64, to: Address, input: Vec<u8>, gas: u64| {
            TxBody::DynamicFee {
                chain_id: 1,
                nonce,
                max_priority_fee_per_gas: U256::from(GWEI),
                max_fee_per_gas: U256::from(10 * GWEI),
                gas_limit: gas,
                to: TxKind::Call(to),
                value: U256::ZERO,
                input: Bytes::from(input),
                access_list: vec![],
            }
            .sign(&key)
        };
        let txs = vec![
            tx(0, Address::repeat_byte(0x22), vec![], 21_000),
            tx(1, SLASHING, system::report_call(&e), 200_000),
            tx(2, Address::repeat_byte(0x22), vec![], 21_000),
        ];
        let parent = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: Address::ZERO,
            state_root: EMPTY_ROOT,
            transactions_root: EMPTY_ROOT,
            receipts_root: EMPTY_ROOT,
            logs_bloom: Default::default(),
            difficulty: U256::ZERO,
            number: 39,
            gas_limit: 30_000_000,
            gas_used: 0,
            timestamp: 0,
            extra_data: Bytes::new(),
            mix_hash: B256::ZERO,
            nonce: [0; 8],
            base_fee_per_gas: 7 * GWEI,
        };
        let b =
            execute_block(&rt, &NoHashes, state, &parent, &env, txs, Bytes::new()).expect("block");
        assert!(b.rejected.is_empty(), "{:?}", b.rejected);
        assert_eq!(b.receipts.len(), 3);
        assert!(b.receipts.iter().all(|r| r.success), "{:?}", b.receipts);
        assert_eq!(b.receipts[1].logs.len(), 1);
        roots.push(b.block.header.state_root);
    }
    assert_eq!(roots[0], roots[1], "both engines agree on the state");
}
