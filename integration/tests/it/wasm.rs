//! WASM contracts through the node: web3.py deploys and drives the SDK's example contracts with raw
//! signed transactions on a `--dev` chain, once on wasm3 and once on `--wasm.engine wasmi`; every
//! receipt's gas, every output and log, and the final state root must be the same on both.

use crate::common::*;
use std::process::Command;

/// Builds the example contracts (`scripts/build-wasm-contracts.sh`); the folder of the `.wasm` files.
pub(crate) fn contracts_dir() -> String {
    let script = manifest_dir().join("../scripts/build-wasm-contracts.sh");
    let out = Command::new("bash").arg(script).output().expect("bash");
    assert!(
        out.status.success(),
        "building the example contracts failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn run(engine: &str, contracts: &str) -> String {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&["--wasm.engine", engine], tmp.path());
    let script = manifest_dir().join("tests/web3_wasm.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("http://127.0.0.1:{}", node.http))
        .arg(contracts)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("ALL CHECKS PASSED"),
        "web3.py WASM client failed on {engine}:\n{stdout}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.log_text()
    );
    stdout.lines().last().unwrap_or_default().to_string()
}

#[test]
fn web3py_deploys_and_calls_wasm_contracts_on_both_engines() {
    let contracts = contracts_dir();
    let a = run("wasm3", &contracts);
    let b = run("wasmi", &contracts);
    assert!(a.contains("stateRoot"), "{a}");
    assert_eq!(a, b, "wasm3 and wasmi nodes disagree");
}
