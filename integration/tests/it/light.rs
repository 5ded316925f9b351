//! The light client on real processes: a `node.role = "light"` node keeps headers only, checks each
//! one's QC against the validators' keys, and answers state reads from full nodes' proofs. Three
//! full nodes that lie (a wrong proof, a wrong header, an old QC) are refused and named in its log;
//! the honest one's answers match the chain; with liars only, it answers nothing.

use crate::common::{free_port, manifest_dir, rpc_url, wait_for};
use crate::localnet::{call, number, scopeguard_keep, spawn_config, Procs};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A light node's config from a localnet full node's: its genesis and validators, its own folder,
/// port and full nodes.
fn light_config(from: &str, dir: &std::path::Path, port: u16, servers: &[String]) -> String {
    let mut doc: toml::Table = std::fs::read_to_string(from)
        .expect("config")
        .parse()
        .expect("toml");
    doc.insert(
        "datadir".into(),
        toml::Value::String(dir.display().to_string()),
    );
    doc["node"]["role"] = toml::Value::String("light".into());
    doc["cbft"]["enabled"] = toml::Value::Boolean(false);
    doc["overlay"]["enabled"] = toml::Value::Boolean(false);
    doc["admin"]["enabled"] = toml::Value::Boolean(false);
    doc["http"]["addr"] = toml::Value::String("127.0.0.1".into());
    doc["http"]["port"] = toml::Value::Integer(i64::from(port));
    let mut light = toml::Table::new();
    light.insert(
        "servers".into(),
        toml::Value::Array(
            servers
                .iter()
                .map(|s| toml::Value::String(s.clone()))
                .collect(),
        ),
    );
    doc.insert("light".into(), toml::Value::Table(light));
    let path = dir.with_extension("toml");
    std::fs::write(&path, doc.to_string()).expect("write");
    path.display().to_string()
}

#[test]
fn a_light_node_checks_headers_and_proofs_and_refuses_full_nodes_that_lie() {
    let tmp = scopeguard_keep(tempfile::tempdir().expect("tmp"));
    let out = tmp.path().join("net");
    let subnet = 100 + ((std::process::id() + 97) % 150) as u8;
    let net = crate::common::localnet_init(
        &out,
        subnet,
        &["--nodes", "5", "--validators", "4", "--responsive-ms", "50"],
    );
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let config = |i: usize| nodes[i]["config"].as_str().expect("config").to_string();
    let mut procs = Procs(
        (0..5)
            .map(|i| spawn_config(&config(i), &tmp.path().join(format!("node{}.log", i + 1))))
            .collect(),
    );
    // Three liars in front of the full node (node 5).
    let mut liars = Vec::new();
    for mode in ["header", "oldqc", "proof"] {
        let port = free_port();
        procs.0.push(
            Command::new("python3")
                .arg(manifest_dir().join("tests").join("lying_node.py"))
                .args([mode, &rpc(4), &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3"),
        );
        liars.push(format!("http://127.0.0.1:{port}"));
    }
    wait_for("the full node", Duration::from_secs(60), || {
        (number(&rpc(4))? >= 3).then_some(())
    });
    for l in &liars {
        wait_for("a liar", Duration::from_secs(30), || number(l));
    }

    // A transfer to a fresh account.
    let keys = crate::dev_keys();
    let to = alloy_primitives::Address::repeat_byte(0x5a);
    let tx = crate::transfer(&keys[1], 0, to, 777_000);
    call(
        &rpc(0),
        "eth_sendRawTransaction",
        json!([crate::hex0x(&tx.encoded)]),
        None,
    )
    .expect("sent");
    let receipt = wait_for("the receipt", Duration::from_secs(60), || {
        let r = call(
            &rpc(4),
            "eth_getTransactionReceipt",
            json!([format!("{:#x}", tx.hash)]),
            None,
        )?;
        (!r.is_null()).then_some(r)
    });
    let mined = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .expect("n")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");

    // The light node asks the liars first and the honest node last.
    let port = free_port();
    let mut servers = liars.clone();
    servers.push(rpc(4));
    let cfg = light_config(&config(4), &tmp.path().join("light"), port, &servers);
    let light_log = tmp.path().join("light.log");
    procs.0.push(spawn_config(&cfg, &light_log));
    let light = format!("http://127.0.0.1:{port}");
    let head = wait_for("the light node's headers", Duration::from_secs(120), || {
        number(&light).filter(|n| *n >= mined)
    });
    let at = format!("{head:#x}");
    let ask = |url: &str, method: &str, params: Value| call(url, method, params, None);
    let who = format!("{to:#x}");
    assert_eq!(
        ask(&light, "eth_getBalance", json!([who, "latest"])),
        Some(json!(format!("{:#x}", 777_000u64))),
        "the proven balance of the transfer's recipient"
    );
    let sender = format!("{:#x}", keys[1].address());
    assert_eq!(
        ask(&light, "eth_getTransactionCount", json!([sender, at])),
        ask(&rpc(4), "eth_getTransactionCount", json!([sender, at])),
    );
    assert_eq!(
        ask(&light, "eth_getBalance", json!([sender, at])),
        ask(&rpc(4), "eth_getBalance", json!([sender, at])),
    );
    assert_eq!(
        ask(&light, "eth_getCode", json!([who, at])),
        Some(json!("0x"))
    );
    assert_eq!(
        ask(&light, "eth_getStorageAt", json!([who, "0x0", at])),
        Some(json!(format!("0x{}", "0".repeat(64))))
    );
    // The staking contract has code: it matches its proven hash.
    let staking = "0x1000000000000000000000000000000000000002";
    assert_eq!(
        ask(&light, "eth_getCode", json!([staking, at])),
        ask(&rpc(4), "eth_getCode", json!([staking, at]))
    );
    // Each liar was caught, for what it did.
    let log = std::fs::read_to_string(&light_log).expect("log");
    let caught = |url: &str, what: &str| {
        log.lines()
            .any(|l| l.contains("does not verify") && l.contains(url) && l.contains(what))
    };
    assert!(caught(&liars[0], "wrong header"), "the header liar:\n{log}");
    assert!(
        caught(&liars[1], "certifies block 1 "),
        "the old-QC liar:\n{log}"
    );
    assert!(caught(&liars[2], "wrong proof"), "the proof liar:\n{log}");

    // With liars only, it answers nothing it cannot check.
    let port2 = free_port();
    let cfg2 = light_config(&config(4), &tmp.path().join("light2"), port2, &liars[2..]);
    procs
        .0
        .push(spawn_config(&cfg2, &tmp.path().join("light2.log")));
    let light2 = format!("http://127.0.0.1:{port2}");
    // (The proof liar passes headers through untouched: its headers are checked and kept.)
    wait_for(
        "the second light node's headers",
        Duration::from_secs(120),
        || number(&light2).filter(|n| *n >= mined),
    );
    let r = rpc_url(&light2, "eth_getBalance", json!([who, "latest"]), None).expect("answer");
    assert!(
        r.get("result").is_none(),
        "a liar's balance was answered: {r}"
    );
    let msg = r["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("verifies"), "{msg}");
    // And eth_call says plainly that a light node does not serve it.
    let r = rpc_url(&light, "eth_call", json!([{"to": who}, "latest"]), None).expect("answer");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("light node")),
        "{r}"
    );
}
