//! The `platon run --dev` experience: what it prints, where its data lives, and a clean SIGTERM.

use crate::common::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn dev_node_prints_its_keys_uses_a_temporary_datadir_and_stops_cleanly() {
    let (http, admin) = free_port_pair();
    let mut child = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args([
            "run",
            "--dev",
            "--http.port",
            &http.to_string(),
            "--admin.port",
            &admin.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let datadir = loop {
        let line = lines
            .next()
            .expect("the node printed its banner")
            .expect("utf8");
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("Data directory:") {
            break rest
                .trim()
                .trim_end_matches(" (temporary, removed at exit)")
                .to_string();
        }
    };
    let banner = printed.join("\n");
    assert!(
        banner.contains("(0) 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (10000 ETH)"),
        "{banner}"
    );
    assert!(
        banner.contains("(9) 0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"),
        "{banner}"
    );
    assert!(
        banner.contains("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
        "{banner}"
    );
    let dir = std::path::PathBuf::from(&datadir);
    assert!(dir.join("chaindata").is_dir(), "{datadir} holds the chain");
    wait_for("rpc", Duration::from_secs(30), || {
        rpc_full(http, "eth_chainId", json!([])).ok()
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = wait_for("exit", Duration::from_secs(30), || {
        child.try_wait().ok().flatten()
    });
    assert_eq!(exit.code(), Some(0), "SIGTERM is a clean shutdown");
    assert!(
        !dir.exists(),
        "the temporary data directory {datadir} was removed"
    );
}

#[test]
fn db_check_reads_the_chain_a_dev_directory_holds_and_gives_details() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dd = tmp.path().join("d");
    let node = NodeProc::start_dev(
        &["--datadir", dd.to_str().expect("utf8"), "--db", "paritydb"],
        tmp.path(),
    );
    drop(node);
    let out = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--verbose", "--datadir"])
        .arg(&dd)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .next()
            .unwrap_or("")
            .starts_with("OK: 1 blocks"),
        "{stdout}"
    );
    for detail in [
        "backend:          paritydb",
        "state mode:       Archive",
        "snapshotdb:",
    ] {
        assert!(stdout.contains(detail), "{detail} missing:\n{stdout}");
    }
}

#[test]
fn db_check_with_another_genesis_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dd = tmp.path().join("d");
    drop(NodeProc::start_dev(
        &["--datadir", dd.to_str().expect("utf8")],
        tmp.path(),
    ));
    let cfg = tmp.path().join("other.toml");
    std::fs::write(&cfg, "[chain]\nchain_id = 4242\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--config"])
        .arg(&cfg)
        .arg("--datadir")
        .arg(&dd)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("genesis"), "{stdout}");
}

#[test]
fn db_check_refuses_a_folder_without_a_chain() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--dev", "--datadir"])
        .arg(tmp.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED: no chain data"));
}

#[test]
fn full_state_mode_answers_for_recent_blocks_and_says_when_a_state_was_pruned() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&["--state.mode", "full", "--state.retain", "2"], tmp.path());
    let keys = crate::dev_keys();
    for nonce in 0..4 {
        let tx = crate::transfer(
            &keys[6],
            nonce,
            alloy_primitives::Address::repeat_byte(0x66),
            1,
        );
        let h = rpc(
            node.http,
            "eth_sendRawTransaction",
            json!([crate::hex0x(&tx.encoded)]),
        );
        wait_for("receipt", Duration::from_secs(20), || {
            (!rpc(node.http, "eth_getTransactionReceipt", json!([h])).is_null()).then_some(())
        });
    }
    let who = "0x6666666666666666666666666666666666666666";
    assert_eq!(
        q(&rpc(node.http, "eth_getBalance", json!([who, "latest"]))),
        4
    );
    assert_eq!(
        q(&rpc(node.http, "eth_getBalance", json!([who, "0x3"]))),
        3,
        "the previous block's state is kept"
    );
    let old = rpc_full(node.http, "eth_getBalance", json!([who, "0x1"])).expect("call");
    assert_eq!(old["error"]["code"], json!(-32000), "{old}");
    assert!(
        old["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("pruned"),
        "{old}"
    );
    let (ok, out) = {
        let o = Command::new(env!("CARGO_BIN_EXE_platon"))
            .args([
                "run",
                "--dev",
                "--state.mode",
                "full",
                "--state.retain",
                "1",
            ])
            .output()
            .expect("run");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    assert!(!ok && out.contains("--state.retain"), "{out}");
}
