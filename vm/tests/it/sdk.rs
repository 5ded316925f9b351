//! The SDK's example contracts (`vm/contracts`), built for wasm32 by this test with cargo, deployed
//! and called through the runtime on both engines: a token, a key-value registry with events, and a
//! contract that calls EVM contracts.

use super::wasm::{on_both, EVM_REVERT, EVM_STORE_CALLER, OTHER, SENDER};
use alloy_primitives::{keccak256, Address, U256};
use platon_messages::TxKind;
use platon_vm::wasm::abi::{encode_call, encode_deploy};
use platon_vm::Status;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Builds the example contracts once per process (`scripts/build-wasm-contracts.sh`) and returns the
/// folder holding the `.wasm` files.
fn contracts() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
            .join("../scripts/build-wasm-contracts.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("run scripts/build-wasm-contracts.sh");
        assert!(
            out.status.success(),
            "building vm/contracts for wasm32 failed (is the target installed? rustup target add wasm32-unknown-unknown):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

pub(crate) fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(contracts().join(format!("{name}.wasm"))).expect("contract built")
}

pub(crate) fn rlp<T: alloy_rlp::Encodable>(v: T) -> Vec<u8> {
    alloy_rlp::encode(v)
}

pub(crate) fn rlp_bytes(b: &[u8]) -> Vec<u8> {
    alloy_rlp::encode(b)
}

fn padded(a: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a.as_slice());
    w
}

#[test]
fn token_deploys_transfers_and_refuses_overdrafts() {
    let (_, outs) = on_both(|w| {
        let init = encode_call("init", &[rlp(1_000_000u128)]);
        let d = w.deploy(encode_deploy(&wasm("token"), &init), 0);
        let t = d.contract_address.expect("deployed");
        vec![
            d,
            w.call(
                t,
                encode_call("transfer", &[rlp_bytes(OTHER.as_slice()), rlp(250u128)]),
            ),
            w.call(t, encode_call("balance_of", &[rlp_bytes(OTHER.as_slice())])),
            w.call(
                t,
                encode_call("balance_of", &[rlp_bytes(SENDER.as_slice())]),
            ),
            w.call(t, encode_call("total_supply", &[])),
            w.send_from(
                OTHER,
                TxKind::Call(t),
                encode_call("transfer", &[rlp_bytes(SENDER.as_slice()), rlp(251u128)]),
                0,
                5_000_000,
            ),
            w.call(t, encode_call("no_such_method", &[])),
        ]
    });
    assert!(outs[..5].iter().all(|o| o.success()), "{outs:?}");
    assert_eq!(outs[1].output.to_vec(), rlp(true));
    assert_eq!(outs[2].output.to_vec(), rlp(250u128));
    assert_eq!(outs[3].output.to_vec(), rlp(999_750u128));
    assert_eq!(outs[4].output.to_vec(), rlp(1_000_000u128));
    // The Transfer event has the EVM's layout: a contract's log, three topics, the amount as a word.
    let log = &outs[1].logs[0];
    assert_eq!(
        log.topics[0],
        keccak256("Transfer(address,address,uint256)")
    );
    assert_eq!(log.topics[1].0, padded(SENDER));
    assert_eq!(log.topics[2].0, padded(OTHER));
    assert_eq!(U256::from_be_slice(&log.data), U256::from(250));
    assert_eq!(outs[5].status, Status::Revert);
    assert_eq!(&outs[5].output[..], b"insufficient balance");
    assert_eq!(outs[6].status, Status::Revert);
    assert_eq!(&outs[6].output[..], b"unknown method");
}

#[test]
fn registry_keeps_owners_and_emits_events() {
    let (_, outs) = on_both(|w| {
        let r = w
            .deploy(wasm("registry"), 0)
            .contract_address
            .expect("deployed");
        vec![
            w.call(
                r,
                encode_call("set", &[rlp_bytes(b"name"), rlp_bytes(b"platon")]),
            ),
            w.call(r, encode_call("get", &[rlp_bytes(b"name")])),
            w.call(r, encode_call("owner_of", &[rlp_bytes(b"name")])),
            w.send_from(
                OTHER,
                TxKind::Call(r),
                encode_call("set", &[rlp_bytes(b"name"), rlp_bytes(b"evil")]),
                0,
                5_000_000,
            ),
            w.call(r, encode_call("get", &[rlp_bytes(b"name")])),
        ]
    });
    assert!(
        outs[0].success() && outs[1].success() && outs[2].success(),
        "{outs:?}"
    );
    assert_eq!(outs[1].output.to_vec(), rlp_bytes(b"platon"));
    assert_eq!(outs[2].output.to_vec(), rlp_bytes(SENDER.as_slice()));
    let log = &outs[0].logs[0];
    assert_eq!(log.topics[0], keccak256("Set(string)"));
    assert_eq!(log.topics[1], keccak256("name"));
    assert_eq!(log.topics[2].0, padded(SENDER));
    assert_eq!(&log.data[..], b"platon");
    assert_eq!(outs[3].status, Status::Revert);
    assert_eq!(&outs[3].output[..], b"not the owner");
    assert_eq!(
        outs[4].output.to_vec(),
        rlp_bytes(b"platon"),
        "a refused set changes nothing"
    );
}

#[test]
fn a_wasm_contract_calls_evm_contracts() {
    let store = Address::repeat_byte(0xe1);
    let reverter = Address::repeat_byte(0xe2);
    let (w, outs) = on_both(|w| {
        w.state
            .set_code(store, EVM_STORE_CALLER.to_vec())
            .expect("code");
        w.state
            .set_code(reverter, EVM_REVERT.to_vec())
            .expect("code");
        let c = w
            .deploy(wasm("evm_caller"), 100)
            .contract_address
            .expect("deployed");
        let word = U256::from(77).to_be_bytes::<32>().to_vec();
        vec![
            w.call(
                c,
                encode_call(
                    "call_evm",
                    &[rlp_bytes(store.as_slice()), rlp_bytes(&word), rlp(3u128)],
                ),
            ),
            w.call(
                c,
                encode_call(
                    "call_evm",
                    &[rlp_bytes(reverter.as_slice()), rlp_bytes(&[]), rlp(0u128)],
                ),
            ),
            // A static call into code that writes storage fails, and the WASM contract reverts.
            w.call(
                c,
                encode_call("read_evm", &[rlp_bytes(store.as_slice()), rlp_bytes(&word)]),
            ),
            w.call(c, encode_call("deposit", &[])),
        ]
    });
    assert!(outs[0].success(), "{:?}", outs[0]);
    let c = Address::from_slice(&outs[0].output[outs[0].output.len() - 20..]);
    assert_eq!(
        w.state.storage(&store, Default::default()).expect("s"),
        U256::from(77)
    );
    assert_eq!(w.state.account(&store).expect("a").balance, U256::from(3));
    assert_eq!(outs[1].status, Status::Revert);
    assert_eq!(&outs[1].output[..], &[0xaa]);
    assert_eq!(outs[2].status, Status::Revert);
    assert!(outs[3].success());
    assert_eq!(outs[3].output.to_vec(), rlp(97u128));
    assert_eq!(w.state.account(&c).expect("a").balance, U256::from(97));
}
