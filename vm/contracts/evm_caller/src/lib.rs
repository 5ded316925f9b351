//! Calls EVM contracts: forwards call data (with value) to an EVM contract and returns its answer,
//! reverting with the callee's revert data when it fails.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use platon_wasm_sdk::{self as sdk, dispatch, Address};

fn call_evm(target: Address, data: Vec<u8>, value: u128) -> Vec<u8> {
    match sdk::call(target, &data, value, 0) {
        Ok(out) => out,
        Err(revert) => sdk::revert(&revert),
    }
}

fn read_evm(target: Address, data: Vec<u8>) -> Vec<u8> {
    match sdk::static_call(target, &data, 0) {
        Ok(out) => out,
        Err(revert) => sdk::revert(&revert),
    }
}

fn deposit() -> u128 {
    sdk::balance(sdk::address())
}

dispatch! {
    call_evm(target: Address, data: Vec<u8>, value: u128) -> Vec<u8>;
    read_evm(target: Address, data: Vec<u8>) -> Vec<u8>;
    deposit() -> u128;
}
