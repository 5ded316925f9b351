//! `platon localnet init` and four `platon run` processes: they find each other from one bootstrap
//! address, a transaction sent to one reaches every pool, and ReDiR finds the providers of each
//! service exactly as a brute-force search over the registered nodes does.

use crate::common::{rpc_url, wait_for};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn call(url: &str, method: &str, params: Value, token: Option<&str>) -> Option<Value> {
    let r = rpc_url(url, method, params, token).ok()?;
    r.get("result").cloned()
}

/// The smallest id at or after `key`, wrapping around (what ReDiR must return).
fn successor(ids: &[u128], key: u128) -> u128 {
    ids.iter()
        .copied()
        .filter(|i| *i >= key)
        .min()
        .or_else(|| ids.iter().copied().min())
        .expect("ids")
}

#[test]
fn four_localnet_processes_find_each_other_share_transactions_and_discover_services() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("net");
    // Each run gets its own 127.0.<subnet>.x addresses, so concurrent runs do not collide.
    let subnet = 100 + (std::process::id() % 150) as u8;
    let st = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args([
            "localnet",
            "init",
            "--nodes",
            "4",
            "--validators",
            "2",
            "--subnet",
            &subnet.to_string(),
            "--out",
        ])
        .arg(&out)
        .status()
        .expect("localnet init");
    assert!(st.success());
    let net: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("localnet.json")).expect("json"))
            .expect("parse");
    let token = net["adminToken"].as_str().expect("token").to_string();
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), 4);
    assert!(out.join("genesis.toml").exists());

    let mut procs = Procs(Vec::new());
    for n in &nodes {
        let log = std::fs::File::create(
            tmp.path()
                .join(format!("{}.log", n["name"].as_str().expect("name"))),
        )
        .expect("log");
        procs.0.push(
            Command::new(env!("CARGO_BIN_EXE_platon"))
                .args(["run", "--config", n["config"].as_str().expect("config")])
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn"),
        );
    }
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let admin = |i: usize| nodes[i]["admin"].as_str().expect("admin").to_string();

    // Every node finds the other three from the one bootstrap address.
    let mut ids = Vec::new();
    for i in 0..4 {
        let info = wait_for("routing tables", Duration::from_secs(90), || {
            let info = call(&admin(i), "admin_nodeInfo", json!([]), Some(&token))?;
            (info["routingTableSize"] == 3).then_some(info)
        });
        ids.push(u128::from_str_radix(info["id"].as_str().expect("id"), 16).expect("hex"));
        let peers = call(&admin(i), "admin_peers", json!([]), Some(&token)).expect("peers");
        assert!(!peers.as_array().expect("peers").is_empty());
    }
    // Without the token the admin listener refuses.
    let refused = rpc_url(&admin(0), "admin_nodeInfo", json!([]), None).expect("answer");
    assert!(refused.get("error").is_some());

    // A transaction sent to node 3 reaches every node's pool.
    let keys = crate::dev_keys();
    let mut tx = crate::transfer(&keys[1], 0, keys[2].address(), 12345);
    // The local network runs the dev chain id.
    assert_eq!(net["chainId"], json!(crate::CHAIN_ID));
    let hash = call(
        &rpc(2),
        "eth_sendRawTransaction",
        json!([crate::hex0x(&tx.encoded)]),
        None,
    )
    .expect("sent");
    assert_eq!(hash, json!(format!("{:#x}", tx.hash)));
    for i in 0..4 {
        wait_for(
            "the transaction in every pool",
            Duration::from_secs(30),
            || {
                let t = call(
                    &rpc(i),
                    "eth_getTransactionByHash",
                    json!([hash.clone()]),
                    None,
                )?;
                (!t.is_null()).then_some(())
            },
        );
    }
    // A second one through node 1, and node 4 holds both.
    tx = crate::transfer(&keys[1], 1, keys[3].address(), 1);
    call(
        &rpc(0),
        "eth_sendRawTransaction",
        json!([crate::hex0x(&tx.encoded)]),
        None,
    )
    .expect("sent");
    wait_for("two pending on node 4", Duration::from_secs(30), || {
        let s = call(&rpc(3), "txpool_status", json!([]), None)?;
        (s["pending"] == json!("0x2")).then_some(())
    });
    for i in [0usize, 1, 3] {
        let s = call(&admin(i), "admin_overlayStats", json!([]), Some(&token)).expect("stats");
        assert!(
            s["floodsDelivered"].as_u64().expect("n") >= 1,
            "node {i} received floods: {s}"
        );
    }

    // ReDiR: validators are nodes 1 and 2, every node is a full node.
    let validators = vec![ids[0], ids[1]];
    let keys_probe: Vec<u128> = vec![
        0,
        1,
        ids[0],
        ids[1].wrapping_add(1),
        u128::MAX,
        0x8000_0000_0000_0000_0000_0000_0000_0000,
    ];
    for (service, providers) in [("validator", &validators), ("full-node", &ids)] {
        for &key in &keys_probe {
            let want = successor(providers, key);
            for i in 0..4 {
                wait_for("ReDiR answers", Duration::from_secs(60), || {
                    let r = call(
                        &rpc(i),
                        "platon_findService",
                        json!([service, format!("0x{key:032x}")]),
                        None,
                    )?;
                    let got =
                        u128::from_str_radix(r["nodeId"].as_str()?.trim_start_matches("0x"), 16)
                            .ok()?;
                    (got == want).then_some(())
                });
            }
        }
    }
    let bad = rpc_url(
        &rpc(0),
        "platon_findService",
        json!(["miner", "0x01"]),
        None,
    )
    .expect("answer");
    assert_eq!(bad["error"]["code"], json!(-32602));
}
