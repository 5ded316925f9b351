//! A real client: web3.py and eth-account (pip) drive the `platon` binary.

use crate::common::*;
use std::process::Command;

#[test]
fn web3py_transfers_fees_nonces_blocks_and_bad_input() {
    let probe = Command::new("python3")
        .args(["-c", "import web3, eth_account, trie"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "web3.py, eth-account or py-trie is missing: run `pip install web3 eth-account trie` (.ci/run does)"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let script = manifest_dir().join("tests/web3_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("http://127.0.0.1:{}", node.http))
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "web3.py client failed:\n{stdout}\n{stderr}\nnode log:\n{}",
        node.log_text()
    );
    assert!(stdout.contains("ALL CHECKS PASSED"), "{stdout}");
}
