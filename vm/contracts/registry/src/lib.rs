//! A key-value registry: the first to set a key owns it; only the owner may change it. Each change
//! emits `Set(string)` with the key's hash and the owner as topics.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use platon_wasm_sdk::{self as sdk, dispatch, Address, Map};

static VALUES: Map<String, Vec<u8>> = Map::new(b"value:");
static OWNERS: Map<String, Address> = Map::new(b"owner:");

fn set(key: String, value: Vec<u8>) {
    let me = sdk::caller();
    match OWNERS.get(&key) {
        Some(owner) if owner != me => sdk::revert(b"not the owner"),
        Some(_) => {}
        None => OWNERS.set(&key, &me),
    }
    VALUES.set(&key, &value);
    let mut owner = [0u8; 32];
    owner[12..].copy_from_slice(&me.0);
    sdk::emit(
        &[
            sdk::topic("Set(string)"),
            sdk::keccak256(key.as_bytes()),
            owner,
        ],
        &value,
    );
    sdk::debug("registry: key set");
}

fn get(key: String) -> Vec<u8> {
    VALUES.get(&key).unwrap_or_default()
}

fn owner_of(key: String) -> Address {
    OWNERS.get(&key).unwrap_or_default()
}

dispatch! {
    set(key: String, value: Vec<u8>);
    get(key: String) -> Vec<u8>;
    owner_of(key: String) -> Address;
}
