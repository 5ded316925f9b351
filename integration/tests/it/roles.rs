//! Node roles on real processes: a bootstrap node (overlay only, no chain) through which eight full
//! nodes find each other, and the role defaults (a validator's RPC closed unless opened; the role in
//! `admin_nodeInfo` and `platon admin nodeInfo`).

use crate::common::{rpc_url, wait_for};
use crate::localnet::{call, scopeguard_keep, Procs};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

fn spawn(config: &str, log: &std::path::Path) -> std::process::Child {
    let log = std::fs::File::create(log).expect("log");
    Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["run", "--config", config])
        .env("PLATON_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn")
}

/// The provider ReDiR must name for `key`: the smallest id at or after it, wrapping around.
fn successor(ids: &[u128], key: u128) -> u128 {
    ids.iter()
        .copied()
        .filter(|i| *i >= key)
        .min()
        .or_else(|| ids.iter().copied().min())
        .expect("ids")
}

#[test]
fn a_bootstrap_node_without_a_chain_lets_eight_nodes_find_each_other() {
    let tmp = scopeguard_keep(tempfile::tempdir().expect("tmp"));
    let out = tmp.path().join("net");
    let subnet = 100 + ((std::process::id() + 77) % 150) as u8;
    let net = crate::common::localnet_init(
        &out,
        subnet,
        &["--nodes", "8", "--validators", "0", "--bootstrap"],
    );
    let token = net["adminToken"].as_str().expect("token").to_string();
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    let boot = net["bootstrap"].clone();
    let boot_admin = boot["admin"].as_str().expect("bootstrap admin").to_string();
    let boot_id = u128::from_str_radix(boot["id"].as_str().expect("id"), 16).expect("hex");

    let mut procs = Procs(vec![spawn(
        boot["config"].as_str().expect("config"),
        &tmp.path().join("bootstrap.log"),
    )]);
    // The bootstrap node runs the overlay and the admin listener, and nothing that keeps a chain.
    let info = wait_for("the bootstrap node", Duration::from_secs(60), || {
        call(&boot_admin, "admin_nodeInfo", json!([]), Some(&token))
    });
    assert_eq!(info["role"], "bootstrap");
    assert_eq!(info["chain"], false);
    assert_eq!(info["rpc"], false);
    assert_eq!(
        u128::from_str_radix(info["id"].as_str().expect("id"), 16).expect("hex"),
        boot_id
    );
    let actors = call(&boot_admin, "admin_actors", json!([]), Some(&token)).expect("actors");
    let names: Vec<&str> = actors
        .as_array()
        .expect("actors")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"overlay") && names.contains(&"redir"),
        "{names:?}"
    );
    for absent in [
        "chain", "snapshot", "txpool", "executor", "rpc", "cbft", "producer",
    ] {
        assert!(
            !names.contains(&absent),
            "a bootstrap node runs no {absent}: {names:?}"
        );
    }
    assert!(
        !out.join("bootstrap").join("chaindata").exists(),
        "a bootstrap node writes no chain"
    );

    for (i, n) in nodes.iter().enumerate() {
        procs.0.push(spawn(
            n["config"].as_str().expect("config"),
            &tmp.path().join(format!("node{}.log", i + 1)),
        ));
    }
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let admin = |i: usize| nodes[i]["admin"].as_str().expect("admin").to_string();

    // Each node knows only the bootstrap address, yet learns all seven others.
    let mut ids = Vec::new();
    for i in 0..8 {
        let info = wait_for("routing tables", Duration::from_secs(120), || {
            let info = call(&admin(i), "admin_nodeInfo", json!([]), Some(&token))?;
            (info["routingTableSize"].as_u64()? >= 8).then_some(info)
        });
        assert_eq!(info["role"], "full");
        assert_eq!(info["chain"], true);
        ids.push(u128::from_str_radix(info["id"].as_str().expect("id"), 16).expect("hex"));
    }
    // ReDiR, stored in the overlay, names each full node as a brute-force search does.
    for key in [0u128, ids[3].wrapping_add(1), ids[6], u128::MAX / 3] {
        let want = successor(&ids, key);
        for i in 0..8 {
            let mut tries = 0u32;
            wait_for("ReDiR answers", Duration::from_secs(150), || {
                let r = rpc_url(
                    &rpc(i),
                    "platon_findService",
                    json!(["full-node", format!("0x{key:032x}")]),
                    None,
                )
                .ok()?;
                tries += 1;
                if tries % 100 == 1 {
                    eprintln!(
                        "node {} asked for {key:032x} (want {want:032x}): {r}",
                        i + 1
                    );
                }
                let r = r.get("result")?;
                let got = u128::from_str_radix(r["nodeId"].as_str()?.trim_start_matches("0x"), 16)
                    .ok()?;
                (got == want).then_some(())
            });
        }
    }

    // With the bootstrap node gone the eight still reach each other: a transaction sent to node 1
    // is flooded into node 8's pool.
    let _ = procs.0[0].kill();
    let _ = procs.0[0].wait();
    let keys = crate::dev_keys();
    let tx = crate::transfer(&keys[1], 0, keys[2].address(), 1_000);
    let hash = call(
        &rpc(0),
        "eth_sendRawTransaction",
        json!([crate::hex0x(&tx.encoded)]),
        None,
    )
    .expect("sent");
    assert_eq!(hash, json!(format!("{:#x}", tx.hash)));
    wait_for("the flooded transaction", Duration::from_secs(60), || {
        let t = call(&rpc(7), "eth_getTransactionByHash", json!([hash]), None)?;
        (!t.is_null()).then_some(())
    });
}

#[test]
fn a_validator_closes_its_rpc_unless_the_config_opens_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (config, _) = crate::common::one_validator_net(tmp.path(), &[]);
    let net = platon_node::localnet::read(&tmp.path().join("net").join("localnet.json"))
        .expect("localnet.json");
    let token = net["adminToken"].as_str().expect("token").to_string();
    // localnet init opens every node's RPC explicitly; without that line a validator serves none.
    let mut doc: toml::Table = std::fs::read_to_string(&config)
        .expect("config")
        .parse()
        .expect("toml");
    assert_eq!(doc["node"]["role"].as_str(), Some("validator"));
    let http = doc["http"].as_table_mut().expect("[http]");
    assert_eq!(http.remove("enabled").and_then(|v| v.as_bool()), Some(true));
    let closed = tmp.path().join("closed.toml");
    std::fs::write(&closed, doc.to_string()).expect("write");

    let (http, admin) = crate::common::free_port_pair();
    let log = std::fs::File::create(tmp.path().join("validator.log")).expect("log");
    let mut procs = Procs(vec![Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["run", "--config"])
        .arg(&closed)
        .args(["--http.addr", "127.0.0.1", "--admin.addr", "127.0.0.1"])
        .args([
            "--http.port",
            &http.to_string(),
            "--admin.port",
            &admin.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn")]);
    let admin_url = format!("http://127.0.0.1:{admin}");
    let info = wait_for("the admin listener", Duration::from_secs(60), || {
        call(&admin_url, "admin_nodeInfo", json!([]), Some(&token))
    });
    assert_eq!(info["role"], "validator");
    assert_eq!(info["rpc"], false);
    assert_eq!(
        info["stateMode"], "full",
        "a validator keeps recent states only"
    );
    // The chain runs (the one validator commits blocks) while its RPC port stays closed.
    wait_for("blocks", Duration::from_secs(60), || {
        let c = call(&admin_url, "admin_console", json!([]), Some(&token))?;
        (c["head"]["number"].as_u64()? >= 2).then_some(())
    });
    assert!(
        rpc_url(
            &format!("http://127.0.0.1:{http}"),
            "eth_blockNumber",
            json!([]),
            None
        )
        .is_err(),
        "a validator's JSON-RPC port is closed by default"
    );
    let (ok, text) =
        crate::common::cli(&["admin", "--url", &admin_url, "--token", &token, "nodeInfo"]);
    assert!(ok, "{text}");
    let v: Value = serde_json::from_str(text.trim()).expect("json");
    assert_eq!(v["role"], "validator");
    let _ = procs.0[0].kill();
}
