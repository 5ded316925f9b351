//! Write PlatON WASM contracts in Rust.
//!
//! A contract is a `cdylib` built for `wasm32-unknown-unknown` with
//! `-C target-cpu=mvp -C target-feature=+sign-ext,+mutable-globals` (the features the chain accepts;
//! `vm/contracts/.cargo/config.toml` sets them). It uses:
//! - [`dispatch!`] to export `invoke` and route PlatON ABI calls (`RLP([fnv1a64(method), args…])`)
//!   to plain Rust functions, encoding their return values;
//! - [`Cell`] and [`Map`] for storage, [`emit`] for events, [`call`] and friends for other contracts
//!   (EVM or WASM), and the block and message accessors ([`caller`], [`value`], …).
//!
//! The ABI codec ([`abi`]) is plain Rust and works on any target; everything that talks to the chain
//! exists only on `wasm32`.

#![no_std]

extern crate alloc;

pub mod abi;
#[cfg(target_arch = "wasm32")]
mod env;
#[cfg(target_arch = "wasm32")]
pub use env::*;

pub use abi::{fnv1a_64, u128_word, Address, Decode, Decoder, Encode};

/// Routes PlatON ABI calls to functions and exports `invoke`.
///
/// ```ignore
/// platon_wasm_sdk::dispatch! {
///     init(supply: u128);
///     transfer(to: Address, amount: u128) -> bool;
///     balance_of(who: Address) -> u128;
/// }
/// ```
/// Each line names a function of the crate with its argument types and optional return type. An
/// empty input (a deploy without an envelope) calls `init` with no arguments if `init` takes none,
/// and does nothing otherwise. Unknown methods and undecodable arguments revert.
#[macro_export]
macro_rules! dispatch {
    ($( $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ; )*) => {
        #[no_mangle]
        pub extern "C" fn invoke() {
            let input = $crate::input();
            if input.is_empty() {
                $crate::dispatch!(@empty $( $name ( $($arg : $ty),* ) ; )*);
                return;
            }
            let mut d = match $crate::Decoder::list(&input) {
                Some(d) => d,
                None => $crate::revert(b"input is not an RLP list"),
            };
            let method: u64 = match d.next() {
                Some(m) => m,
                None => $crate::revert(b"missing method"),
            };
            $(
                if method == const { $crate::fnv1a_64(stringify!($name)) } {
                    $(
                        let $arg: $ty = match d.next() {
                            Some(v) => v,
                            None => $crate::revert(concat!("bad argument ", stringify!($arg)).as_bytes()),
                        };
                    )*
                    #[allow(unused_variables)]
                    let r = $name($($arg),*);
                    $( let r: $ret = r; $crate::return_value(&$crate::abi::encode(&r)); )?
                    return;
                }
            )*
            $crate::revert(b"unknown method");
        }
    };
    (@empty init ( ) ; $($rest:tt)*) => { init(); };
    (@empty $name:ident ( $($arg:ident : $ty:ty),* ) ; $($rest:tt)*) => {
        $crate::dispatch!(@empty $($rest)*);
    };
    (@empty) => {};
}
