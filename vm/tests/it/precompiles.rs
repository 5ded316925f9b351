//! The standard precompiles (ecrecover, sha256, ripemd160, identity, modexp, bn254 add/mul/pairing,
//! blake2f) called by a transaction on each engine: known answers, and identical gas on both engines.

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use platon_crypto::SecretKey;
use platon_messages::actors::BlockEnv;
use platon_messages::block::EMPTY_ROOT;
use platon_messages::TxKind;
use platon_storage::trie::NoNodes;
use platon_storage::{Account, StateDb};
use platon_vm::{ExecOptions, Message, NoHashes, Outcome, Revm, Runtime, RustEvm};
use std::sync::Arc;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

fn word(v: u64) -> [u8; 32] {
    U256::from(v).to_be_bytes()
}

fn call(engine: &dyn Runtime, to: u8, input: Vec<u8>) -> Outcome {
    let sender = Address::repeat_byte(0x11);
    let mut state = StateDb::at_root(EMPTY_ROOT, Arc::new(NoNodes));
    state.set_account(
        sender,
        Account {
            balance: U256::from(10u64).pow(U256::from(20u64)),
            ..Default::default()
        },
    );
    let env = BlockEnv {
        number: 1,
        timestamp: 1,
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: 30_000_000,
        base_fee: 7,
        prev_randao: B256::ZERO,
        chain_id: 1,
    };
    let msg = Message {
        tx_type: 2,
        caller: sender,
        kind: TxKind::Call(Address::with_last_byte(to)),
        value: U256::ZERO,
        data: Bytes::from(input),
        gas_limit: 1_000_000,
        gas_price: 100,
        priority_fee: Some(1),
        nonce: Some(0),
        chain_id: Some(1),
        access_list: vec![],
    };
    engine
        .transact(&mut state, &NoHashes, &env, &msg, ExecOptions::BLOCK)
        .expect("io")
        .expect("valid")
}

fn both(to: u8, input: Vec<u8>) -> Bytes {
    let a = call(&Revm, to, input.clone());
    let b = call(&RustEvm, to, input);
    assert!(a.success(), "precompile {to} failed on revm: {a:?}");
    assert_eq!(
        a.gas_used, b.gas_used,
        "precompile {to}: gas differs between engines"
    );
    assert_eq!(
        a.output, b.output,
        "precompile {to}: output differs between engines"
    );
    a.output
}

#[test]
fn standard_precompiles_answer_alike_on_both_engines() {
    // ecrecover: a signature made here recovers its signer.
    let key = SecretKey::from_bytes(&[9u8; 32]).expect("key");
    let digest = keccak256(b"platon precompile");
    let sig = platon_crypto::sign_prehash(&digest, &key);
    let mut input = digest.to_vec();
    input.extend(word(27 + u64::from(sig.y_parity)));
    input.extend(sig.r.to_be_bytes::<32>());
    input.extend(sig.s.to_be_bytes::<32>());
    let out = both(1, input);
    assert_eq!(&out[12..], key.address().as_slice());

    assert_eq!(
        both(2, b"abc".to_vec()).to_vec(),
        h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let ripemd = both(3, b"abc".to_vec());
    assert_eq!(
        &ripemd[12..],
        h("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc").as_slice()
    );
    assert_eq!(both(4, b"echo".to_vec()).to_vec(), b"echo".to_vec());

    // modexp: 3^2 mod 5 = 4.
    let mut input = Vec::new();
    for _ in 0..3 {
        input.extend(word(1));
    }
    input.extend([3, 2, 5]);
    assert_eq!(both(5, input).to_vec(), vec![4]);

    // bn254: G + G and 2·G give the same point.
    let g = [word(1), word(2)].concat();
    let doubled = h("030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd315ed738c0e0a7c92e7845f96b2ae9c0a68a6a449e3538fc7ff3ebf7a5a18a2c4");
    assert_eq!(both(6, [g.clone(), g.clone()].concat()).to_vec(), doubled);
    assert_eq!(both(7, [g, word(2).to_vec()].concat()).to_vec(), doubled);
    // The empty pairing product is 1.
    assert_eq!(both(8, vec![]).to_vec(), word(1).to_vec());

    // blake2f: EIP-152 test vector 5 (12 rounds of "abc").
    let mut input = 12u32.to_be_bytes().to_vec();
    input.extend(h("48c9bdf267e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d182e6ad7f520e511f6c3e2b8c68059b6bbd41fbabd9831f79217e1319cde05b"));
    let mut m = [0u8; 128];
    m[..3].copy_from_slice(b"abc");
    input.extend(m);
    input.extend(3u64.to_le_bytes());
    input.extend(0u64.to_le_bytes());
    input.push(1);
    assert_eq!(input.len(), 213);
    assert_eq!(
        both(9, input).to_vec(),
        h("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    );
    // Malformed input to blake2f (wrong length) fails on both engines, consuming all gas.
    let a = call(&Revm, 9, vec![1, 2, 3]);
    let b = call(&RustEvm, 9, vec![1, 2, 3]);
    assert!(!a.success() && !b.success(), "{a:?} {b:?}");
    assert_eq!(a.gas_used, b.gas_used);
    assert_eq!(a.gas_used, 1_000_000);
}
