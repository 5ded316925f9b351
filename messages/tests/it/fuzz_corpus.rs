//! The fuzz targets of this crate (`fuzz/`: transaction, rlp, reload, cbft) over their kept
//! corpus and a bounded number of seeded mutations of it: a regression run of every input the
//! coverage-guided fuzzer kept. `PLATON_FUZZ_WRITE_SEEDS=1` rewrites the hand-made seeds.

use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
use platon_crypto::{derive_dev_keys, DEV_MNEMONIC};
use platon_messages::fuzz;
use platon_messages::reload::Frame;
use platon_messages::{Block, Header, TxBody, TxKind};
use std::path::PathBuf;

fn corpus() -> PathBuf {
    platon_messages::fuzz::corpus_dir()
}

fn seeds(target: &str, seeds: &[Vec<u8>]) -> &'static [Vec<u8>] {
    if std::env::var_os("PLATON_FUZZ_WRITE_SEEDS").is_some() {
        fuzz::write_seeds(&corpus(), target, seeds);
    }
    Box::leak(seeds.to_vec().into_boxed_slice())
}

fn transactions() -> Vec<platon_messages::SignedTransaction> {
    let key = &derive_dev_keys(DEV_MNEMONIC, 1).expect("keys")[0];
    let to = TxKind::Call(Address::repeat_byte(7));
    vec![
        TxBody::Legacy {
            chain_id: Some(1337),
            nonce: 1,
            gas_price: U256::from(1_000_000_000u64),
            gas_limit: 21_000,
            to,
            value: U256::from(5),
            input: Bytes::new(),
        }
        .sign(key),
        TxBody::AccessList {
            chain_id: 1337,
            nonce: 2,
            gas_price: U256::from(1_000_000_000u64),
            gas_limit: 50_000,
            to: TxKind::Create,
            value: U256::ZERO,
            input: Bytes::from(vec![0x60, 0x00, 0x60, 0x00, 0xf3]),
            access_list: vec![],
        }
        .sign(key),
        TxBody::DynamicFee {
            chain_id: 1337,
            nonce: 3,
            max_priority_fee_per_gas: U256::from(1u64),
            max_fee_per_gas: U256::from(10_000_000_000u64),
            gas_limit: 21_000,
            to,
            value: U256::from(1),
            input: Bytes::from(vec![1, 2, 3]),
            access_list: vec![],
        }
        .sign(key),
    ]
}

#[test]
fn transaction_corpus() {
    let s: Vec<Vec<u8>> = transactions().iter().map(|t| t.encoded.to_vec()).collect();
    let n = fuzz::replay(
        &corpus(),
        "transaction",
        fuzz::transaction,
        seeds("transaction", &s),
        20_000,
    );
    assert!(n > 20_000);
}

#[test]
fn rlp_corpus() {
    let header = Header {
        parent_hash: B256::repeat_byte(1),
        ommers_hash: B256::repeat_byte(2),
        beneficiary: Address::repeat_byte(3),
        state_root: B256::repeat_byte(4),
        transactions_root: B256::repeat_byte(5),
        receipts_root: B256::repeat_byte(6),
        logs_bloom: Bloom::default(),
        difficulty: U256::ZERO,
        number: 7,
        gas_limit: 30_000_000,
        gas_used: 21_000,
        timestamp: 1_700_000_000,
        extra_data: Bytes::from(vec![9; 32]),
        mix_hash: B256::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: 1_000_000_000,
    };
    let block = Block {
        header: header.clone(),
        transactions: transactions(),
    };
    let s = vec![header.encode(), block.encode()];
    let n = fuzz::replay(&corpus(), "rlp", fuzz::rlp, seeds("rlp", &s), 20_000);
    assert!(n > 20_000);
}

#[test]
fn reload_corpus() {
    let key = crate::reload::key();
    let mut s = Vec::new();
    for (i, body) in crate::reload::sample_bodies(&key).iter().enumerate() {
        let m = crate::reload::signed_message(&key, body, i as u64);
        let mut coded = m.code.to_be_bytes().to_vec();
        coded.extend_from_slice(&m.body);
        s.push(coded);
        let wire = m.encode().expect("encode");
        s.push(
            Frame::Data {
                sequence: i as u32,
                message: wire.clone(),
            }
            .encode()
            .expect("frame"),
        );
        s.push(wire);
    }
    let n = fuzz::replay(
        &corpus(),
        "reload",
        fuzz::reload,
        seeds("reload", &s),
        20_000,
    );
    assert!(n > 20_000);
}

#[test]
fn cbft_corpus() {
    let mut s: Vec<Vec<u8>> = crate::cbft::samples().iter().map(|m| m.encode()).collect();
    s.extend(crate::cbft::evidence_samples().iter().map(|e| e.encode()));
    let n = fuzz::replay(&corpus(), "cbft", fuzz::cbft, seeds("cbft", &s), 20_000);
    assert!(n > 20_000);
}
