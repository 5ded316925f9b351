//! A fungible token: the deployer gets the supply, holders transfer, each transfer emits
//! `Transfer(address,address,uint256)` with the EVM's topic layout.
#![no_std]

use platon_wasm_sdk::{self as sdk, dispatch, Address, Cell, Map};

static SUPPLY: Cell<u128> = Cell::new(b"supply");
static BALANCES: Map<Address, u128> = Map::new(b"balance:");

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
    sdk::emit(
        &[
            sdk::topic("Transfer(address,address,uint256)"),
            from.to_word(),
            to.to_word(),
        ],
        &sdk::u128_word(amount),
    );
    true
}

dispatch! {
    init(supply: u128);
    total_supply() -> u128;
    balance_of(who: Address) -> u128;
    transfer(to: Address, amount: u128) -> bool;
}
