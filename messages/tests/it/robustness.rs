//! Decoders of outside bytes never panic: random inputs and mutations of valid encodings (bit flips,
//! truncations, extensions) must give a value or an error. Deterministic (a fixed seed), so a failure
//! replays exactly; the long fuzz runs come with the cargo-fuzz targets.

use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
use platon_crypto::SecretKey;
use platon_messages::block::{decode_receipts, encode_receipts};
use platon_messages::rlp::decode_item;
use platon_messages::{Block, Header, Receipt, SignedTransaction, TxBody, TxKind, TxRules};

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn decode_all(bytes: &[u8]) {
    let rules = TxRules {
        chain_id: 1337,
        shanghai: true,
    };
    let _ = SignedTransaction::decode(bytes, &rules);
    let _ = Header::decode(bytes);
    let _ = Block::decode(bytes, &rules);
    let _ = decode_receipts(bytes);
    let _ = decode_item(bytes);
}

fn seeds() -> Vec<Vec<u8>> {
    let key = SecretKey::from_bytes(&[7u8; 32]).expect("key");
    let tx = TxBody::DynamicFee {
        chain_id: 1337,
        nonce: 3,
        max_priority_fee_per_gas: U256::from(1),
        max_fee_per_gas: U256::from(2),
        gas_limit: 30_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::from(9),
        input: Bytes::from_static(&[1, 2, 3]),
        access_list: vec![platon_messages::AccessListItem {
            address: Address::repeat_byte(2),
            storage_keys: vec![B256::repeat_byte(3)],
        }],
    }
    .sign(&key);
    let legacy = TxBody::Legacy {
        chain_id: Some(1337),
        nonce: 0,
        gas_price: U256::from(5),
        gas_limit: 21_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: Bytes::new(),
    }
    .sign(&key);
    let header = Header {
        parent_hash: B256::repeat_byte(1),
        ommers_hash: B256::repeat_byte(2),
        beneficiary: Address::ZERO,
        state_root: B256::ZERO,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Bloom::ZERO,
        difficulty: U256::ZERO,
        number: 5,
        gas_limit: 30_000_000,
        gas_used: 21_000,
        timestamp: 9,
        extra_data: Bytes::new(),
        mix_hash: B256::ZERO,
        nonce: [0; 8],
        base_fee_per_gas: 7,
    };
    let block = Block {
        header: header.clone(),
        transactions: vec![tx.clone(), legacy.clone()],
    };
    let receipts = vec![Receipt {
        tx_type: 2,
        success: true,
        cumulative_gas_used: 1,
        logs_bloom: Bloom::ZERO,
        logs: vec![],
        gas_used: 1,
        effective_gas_price: 1,
        contract_address: None,
    }];
    vec![
        tx.encoded.to_vec(),
        legacy.encoded.to_vec(),
        header.encode(),
        block.encode(),
        encode_receipts(&receipts),
    ]
}

#[test]
fn decoders_survive_random_and_mutated_input() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds = seeds();
    for s in &seeds {
        decode_all(s);
    }
    for _ in 0..20_000 {
        let mut v = seeds[rng.below(seeds.len())].clone();
        match rng.below(4) {
            0 => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(rng.below(v.len())),
            2 => {
                let extra = rng.below(8);
                for _ in 0..extra {
                    v.push(rng.next() as u8);
                }
            }
            _ => {
                let len = rng.below(64);
                v = (0..len).map(|_| rng.next() as u8).collect();
            }
        }
        decode_all(&v);
    }
}
