//! A fungible token: the deployer gets the supply, holders transfer, each transfer emits
//! `Transfer(address,address,uint256)` with the EVM's topic layout.
#![no_std]

use platon_wasm_sdk::{self as sdk, dispatch, Address, Cell, Map};

static SUPPLY: Cell<u128> = Cell::new(b"supply");
static BALANCES: Map<Address, u128> = Map::new(b"balance:");

fn padded(a: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&a.0);
    w
}

fn init(supply: u128) {
    SUPPLY.set(&supply);
    BALANCES.set(&sdk::caller(), &supply);
}

fn total_supply() -> u128 {
    SUPPLY.get().unwrap_or(0)
}

fn balance_of(who: Address) -> u128 {
    BALANCES.get(&who).unwrap_or(0)
}

fn transfer(to: Address, amount: u128) -> bool {
    let from = sdk::caller();
    let have = balance_of(from);
    let Some(left) = have.checked_sub(amount) else {
        sdk::revert(b"insufficient balance");
    };
    BALANCES.set(&from, &left);
    let credited = balance_of(to).saturating_add(amount);
    BALANCES.set(&to, &credited);
    let mut data = [0u8; 32];
    data[16..].copy_from_slice(&amount.to_be_bytes());
    sdk::emit(
        &[
            sdk::topic("Transfer(address,address,uint256)"),
            padded(from),
            padded(to),
        ],
        &data,
    );
    true
}

dispatch! {
    init(supply: u128);
    total_supply() -> u128;
    balance_of(who: Address) -> u128;
    transfer(to: Address, amount: u128) -> bool;
}
