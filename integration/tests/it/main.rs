//! End-to-end tests of the `platon` node: the binary and the in-process tree, driven through
//! JSON-RPC the way clients drive it.

mod admin;
mod cli;
mod clients;
mod common;
mod conformance;
mod console;
mod hot_restart;
mod light;
mod localnet;
mod persistence;
mod powercut;
mod roles;
mod rotation;
mod rpc_errors;
mod snapshot;
mod staking;
mod sync;
mod vc;
mod vrf;
mod wasm;
mod web3py;

use alloy_primitives::{Address, Bytes, U256};
use platon_crypto::{derive_dev_keys, SecretKey, DEV_MNEMONIC};
use platon_messages::{SignedTransaction, TxBody, TxKind};

/// The dev chain's id.
pub const CHAIN_ID: u64 = platon_config::DEV_CHAIN_ID;

/// The ten funded dev keys.
pub fn dev_keys() -> Vec<SecretKey> {
    derive_dev_keys(DEV_MNEMONIC, 10).expect("dev keys")
}

/// A signed EIP-1559 transfer with generous fee caps.
pub fn transfer(key: &SecretKey, nonce: u64, to: Address, value: u64) -> SignedTransaction {
    TxBody::DynamicFee {
        chain_id: CHAIN_ID,
        nonce,
        max_priority_fee_per_gas: U256::from(1_000_000_000u64),
        max_fee_per_gas: U256::from(10_000_000_000u64),
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        input: Bytes::new(),
        access_list: vec![],
    }
    .sign(key)
}

/// 0x-hex of bytes.
pub fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}
