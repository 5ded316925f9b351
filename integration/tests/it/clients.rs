//! Real clients with contracts: Solidity compiled by solc-js, deployed and used through ethers.js and
//! web3.py, and one scripted sequence run against this node and against anvil and compared.

use crate::common::*;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn js_dir() -> PathBuf {
    manifest_dir().join("tests/js")
}

/// The npm packages must be installed (`npm ci --prefix integration/tests/js`; `.ci/run` does).
fn require_npm() {
    let modules = js_dir().join("node_modules");
    for pkg in ["ethers", "solc", "@foundry-rs/anvil"] {
        assert!(
            modules.join(pkg).is_dir(),
            "npm package {pkg} is missing: run `npm ci --prefix integration/tests/js` (.ci/run does)"
        );
    }
}

fn run_checked(cmd: &mut Command, what: &str, node: &NodeProc) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{stderr}\nnode log:\n{}",
        node.log_text()
    );
    stdout
}

#[test]
fn ethers_js_deploys_and_uses_solidity_contracts() {
    require_npm();
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let url = format!("127.0.0.1:{}", node.http);
    let out = run_checked(
        Command::new("node")
            .arg(js_dir().join("clients.mjs"))
            .arg(format!("http://{url}"))
            .arg(format!("ws://{url}")),
        "ethers.js client",
        &node,
    );
    assert!(out.contains("ALL CHECKS PASSED"), "{out}");
}

#[test]
fn web3py_deploys_and_uses_solidity_contracts() {
    require_npm();
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let url = format!("127.0.0.1:{}", node.http);
    let script = manifest_dir().join("tests/web3_contracts.py");
    let out = run_checked(
        Command::new("python3")
            .arg(script)
            .arg(format!("http://{url}"))
            .arg(format!("ws://{url}")),
        "web3.py contracts client",
        &node,
    );
    assert!(out.contains("ALL CHECKS PASSED"), "{out}");
}

/// anvil on a free port, killed on drop. `node_modules/.bin/anvil` is npm's launcher, which starts
/// the real binary as its child: anvil runs in a process group of its own, and the whole group is
/// killed (killing the launcher alone left the real anvil running after the tests).
struct Anvil(std::process::Child, u16);

impl Drop for Anvil {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_anvil() -> Anvil {
    let port = free_port();
    let child = Command::new(js_dir().join("node_modules/.bin/anvil"))
        .args([
            "--hardfork",
            "shanghai",
            "--steps-tracing",
            "--silent",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn anvil");
    let anvil = Anvil(child, port);
    let start = Instant::now();
    while rpc_full(port, "eth_chainId", serde_json::json!([])).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "anvil did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    anvil
}

#[test]
fn one_sequence_gives_identical_gas_logs_and_errors_on_this_node_and_anvil() {
    require_npm();
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let anvil = start_anvil();
    let out = run_checked(
        Command::new("node")
            .arg(js_dir().join("differential.mjs"))
            .arg(format!("http://127.0.0.1:{}", node.http))
            .arg(format!("http://127.0.0.1:{}", anvil.1)),
        "differential run against anvil",
        &node,
    );
    assert!(out.contains("STEPS IDENTICAL"), "{out}");
    println!("{out}");
}

#[test]
fn revm_and_rust_evm_engines_agree_on_the_client_sequence() {
    require_npm();
    let tmp = tempfile::tempdir().expect("tmp");
    let revm = NodeProc::start_dev(&[], tmp.path());
    let evm = NodeProc::start_dev(&["--evm.engine", "evm"], tmp.path());
    let out = run_checked(
        Command::new("node")
            .arg(js_dir().join("differential.mjs"))
            .arg(format!("http://127.0.0.1:{}", revm.http))
            .arg(format!("http://127.0.0.1:{}", evm.http))
            .arg("--state-roots"),
        "differential run between the two engines",
        &evm,
    );
    assert!(out.contains("STEPS IDENTICAL"), "{out}");
    assert!(
        out.contains("same - state root after the sequence"),
        "{out}"
    );
}

#[test]
fn viem_public_and_wallet_actions_work_against_the_node() {
    require_npm();
    assert!(
        js_dir().join("node_modules/viem").is_dir(),
        "npm package viem is missing: run `npm ci --prefix integration/tests/js` (.ci/run does)"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let url = format!("127.0.0.1:{}", node.http);
    let out = run_checked(
        Command::new("node")
            .arg(js_dir().join("viem.mjs"))
            .arg(format!("http://{url}"))
            .arg(format!("ws://{url}")),
        "viem client",
        &node,
    );
    assert!(out.contains("ALL CHECKS PASSED"), "{out}");
}
