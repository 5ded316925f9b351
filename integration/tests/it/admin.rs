//! The admin API outside --dev: off unless configured, then token-protected; the CLI wraps it.

use crate::common::*;
use serde_json::{json, Value};

fn admin_call(port: u16, method: &str, params: Value, token: Option<&str>) -> Value {
    let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let (_, b) = http_post(port, body.as_bytes(), &headers).expect("admin post");
    serde_json::from_slice(&b).expect("json")
}

#[test]
fn configured_admin_needs_its_token_and_the_cli_wraps_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(
        &cfg,
        "[chain]\nchain_id = 4242\n[[chain.alloc]]\naddress = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\nbalance = \"1000000000000000000000\"\n\
         [admin]\nenabled = true\ntoken = \"s3cret\"\n",
    )
    .expect("config");
    let node = NodeProc::start(&["--config", cfg.to_str().expect("utf8")], tmp.path());
    assert_eq!(q(&rpc(node.http, "eth_chainId", json!([]))), 4242);
    // Not a dev node: no unlocked accounts.
    assert_eq!(rpc(node.http, "eth_accounts", json!([])), json!([]));
    let r = admin_call(node.admin, "admin_actors", json!([]), None);
    assert_eq!(r["error"]["code"], json!(-32001), "{r}");
    let r = admin_call(node.admin, "admin_actors", json!([]), Some("wrong"));
    assert_eq!(r["error"]["code"], json!(-32001), "{r}");
    let r = admin_call(node.admin, "admin_actors", json!([]), Some("s3cret"));
    assert!(r["result"].as_array().is_some_and(|a| a.len() == 14), "{r}");
    // Faults are refused without --admin.faults.
    let r = admin_call(
        node.admin,
        "admin_injectFault",
        json!(["txpool", "panic"]),
        Some("s3cret"),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("--admin.faults"),
        "{r}"
    );

    let url = format!("http://127.0.0.1:{}", node.admin);
    let (ok, out) = cli(&["admin", "actors", "--url", &url]);
    assert!(!ok && out.contains("unauthorized"), "{out}");
    let (ok, out) = cli(&[
        "admin", "restart", "txpool", "--url", &url, "--token", "s3cret",
    ]);
    assert!(ok && out.contains("restarted txpool"), "{out}");
    let (ok, out) = cli(&["admin", "actors", "--url", &url, "--token", "s3cret"]);
    assert!(ok, "{out}");
    let txpool_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("txpool"))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = txpool_line.split_whitespace().collect();
    assert_eq!(cols[1], "running", "{txpool_line}");
    assert_eq!(cols[3], "1", "restart count column: {txpool_line}");
    assert!(
        out.lines().next().unwrap_or("").starts_with("actor"),
        "{out}"
    );
    assert!(
        out.contains("\n  execution") && out.contains("\n    executor"),
        "indented tree: {out}"
    );
    let (ok, out) = cli(&[
        "admin", "restart", "nosuch", "--url", &url, "--token", "s3cret",
    ]);
    assert!(!ok && out.contains("no actor named"), "{out}");
}

#[test]
fn admin_is_off_by_default_outside_dev_and_bad_configs_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(&cfg, "[[chain.alloc]]\naddress = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\nbalance = \"1\"\n").expect("config");
    let node = NodeProc::start(&["--config", cfg.to_str().expect("utf8")], tmp.path());
    assert!(
        http_post(node.admin, b"{}", &[]).is_err(),
        "admin listener must be off"
    );
    // Admin without a token outside --dev, and an unknown key, are start-up errors naming the fix.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[admin]\nenabled = true\n[[chain.alloc]]\naddress = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\nbalance = \"1\"\n").expect("config");
    let (ok, out) = cli(&["run", "--config", bad.to_str().expect("utf8")]);
    assert!(!ok && out.contains("admin.token"), "{out}");
    std::fs::write(&bad, "[htp]\nport = 1\n").expect("config");
    let (ok, out) = cli(&["run", "--config", bad.to_str().expect("utf8")]);
    assert!(!ok && out.contains("htp"), "{out}");
    // A data directory made with another backend is refused, naming the flag that opens it.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).expect("dir");
    std::fs::write(other.join("DB_BACKEND"), "paritydb\n").expect("record");
    let (http, admin) = free_port_pair();
    let (ok, out) = cli(&[
        "run",
        "--dev",
        "--datadir",
        other.to_str().expect("utf8"),
        "--http.port",
        &http.to_string(),
        "--admin.port",
        &admin.to_string(),
    ]);
    assert!(!ok && out.contains("--db paritydb"), "{out}");
    let (ok, out) = cli(&["run", "--dev", "--db", "leveldb"]);
    assert!(!ok && out.contains("rocksdb"), "{out}");
    // A port in use is a clear error.
    let (ok, out) = cli(&[
        "run",
        "--dev",
        "--http.port",
        &node.http.to_string(),
        "--admin.port",
        &free_port().to_string(),
    ]);
    assert!(!ok && out.contains("--http.port"), "{out}");
}
