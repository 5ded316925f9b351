//! `platon staking` against a running dev node, the way an operator stakes: a candidate registers
//! with its BLS key (proof of possession) and VRF key, another account delegates, the reads show
//! both, the staked value has left the account, a web3.py script (`scripts/staking-example.py`)
//! delegates too, and a refused write prints the contract's reason and sends nothing.

use crate::common::{rpc, wait_for, NodeProc};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

fn platon(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(args)
        .output()
        .expect("platon");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn balance(port: u16, who: &str) -> u128 {
    crate::common::q(&rpc(port, "eth_getBalance", json!([who, "latest"])))
}

#[test]
fn an_operator_stakes_and_a_holder_delegates_from_the_cli() {
    let tmp = tempfile::tempdir().expect("tmp");
    // The dev chain's accounts hold 10,000 each: a lower minimum stake (PlatON's is 100,000 LAT).
    let node = NodeProc::start_dev(&["--ppos.min-stake", "1000"], tmp.path());
    wait_for("rpc", Duration::from_secs(30), || {
        crate::common::rpc_full(node.http, "eth_chainId", json!([])).ok()
    });
    let url = format!("http://127.0.0.1:{}", node.http);
    let keys = crate::dev_keys();
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, hex::encode(bytes)).expect("write");
        p.to_string_lossy().to_string()
    };
    let staker = write("staker.key", &keys[3].to_bytes());
    let holder = write("holder.key", &keys[4].to_bytes());
    let bls = platon_crypto::bls::BlsSecretKey::random().expect("bls");
    let bls_file = write("bls.key", &bls.to_bytes());
    let vrf_file = write("vrf.key", &[7u8; 32]);
    let node_id = "0x000000000000000000000000000000aa";
    let staker_addr = format!("{:#x}", keys[3].address());
    let before = balance(node.http, &staker_addr);

    let (ok, out, err) = platon(&[
        "staking",
        "create",
        "--rpc",
        &url,
        "--key",
        &staker,
        "--node-id",
        node_id,
        "--amount",
        "1500",
        "--name",
        "node-a",
        "--reward-per",
        "4000",
        "--bls-key",
        &bls_file,
        "--vrf-key",
        &vrf_file,
    ]);
    assert!(ok, "{out}{err}");
    let receipt: Value = serde_json::from_str(&out).expect("receipt json");
    assert_eq!(receipt["status"], "0x1");

    let (ok, out, err) = platon(&["staking", "candidate", "--rpc", &url, node_id]);
    assert!(ok, "{err}");
    let c: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(c["nodeName"], "node-a");
    assert_eq!(c["rewardPer"], 4000);
    assert_eq!(c["status"], "active");
    assert_eq!(c["stakingAddress"], json!(staker_addr));
    assert_eq!(
        c["blsPubKey"],
        json!(format!("0x{}", hex::encode(bls.public_key().to_bytes())))
    );
    let lat = 1_000_000_000_000_000_000u128;
    assert_eq!(crate::common::q(&c["releasedHes"]), 1_500 * lat);
    let spent = before - balance(node.http, &staker_addr);
    assert!(
        spent >= 1_500 * lat && spent < 1_500 * lat + lat / 100,
        "{spent}"
    );

    // A delegation from another account, then part of it back.
    for (cmd, amount) in [("delegate", "250.5"), ("undelegate", "50.5")] {
        let (ok, out, err) = platon(&[
            "staking",
            cmd,
            "--rpc",
            &url,
            "--key",
            &holder,
            "--node-id",
            node_id,
            "--amount",
            amount,
        ]);
        assert!(ok, "{cmd}: {out}{err}");
    }
    let holder_addr = format!("{:#x}", keys[4].address());
    let (ok, out, _) = platon(&[
        "staking",
        "delegation",
        "--rpc",
        &url,
        &holder_addr,
        node_id,
    ]);
    assert!(ok);
    let d: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(crate::common::q(&d["releasedHes"]), 200 * lat);
    let (ok, out, _) = platon(&["staking", "candidates", "--rpc", &url]);
    assert!(ok);
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(|l| l.len()), Some(1));
    assert_eq!(crate::common::q(&list[0]["delegateTotalHes"]), 200 * lat);

    // The same from a script (web3.py, README's example): delegate 20 LAT, read it back.
    let script = crate::common::manifest_dir().join("../scripts/staking-example.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            "--rpc",
            &url,
            "--node-id",
            node_id,
            "--amount",
            "20",
            "--key",
        ])
        .arg(format!("0x{}", hex::encode(keys[5].to_bytes())))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(crate::common::q(&d["releasedHes"]), 20 * lat);

    // Refused: the same node id again. The reason is printed, no transaction is sent.
    let nonce = rpc(
        node.http,
        "eth_getTransactionCount",
        json!([staker_addr, "latest"]),
    );
    let (ok, _, err) = platon(&[
        "staking",
        "create",
        "--rpc",
        &url,
        "--key",
        &staker,
        "--node-id",
        node_id,
        "--amount",
        "1500",
        "--bls-key",
        &bls_file,
        "--vrf-key",
        &vrf_file,
    ]);
    assert!(!ok);
    assert!(err.contains("already a candidate"), "{err}");
    assert_eq!(
        rpc(
            node.http,
            "eth_getTransactionCount",
            json!([staker_addr, "latest"])
        ),
        nonce
    );
    // Bad input: a clear error before anything is sent.
    let (ok, _, err) = platon(&[
        "staking",
        "increase",
        "--rpc",
        &url,
        "--key",
        &staker,
        "--node-id",
        "xyz",
        "--amount",
        "1",
    ]);
    assert!(!ok && err.contains("Node-ID"), "{err}");
    let (ok, _, err) = platon(&[
        "staking",
        "increase",
        "--rpc",
        &url,
        "--node-id",
        node_id,
        "--amount",
        "1",
    ]);
    assert!(!ok && err.contains("--key"), "{err}");
}
