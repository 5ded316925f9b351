//! Node roles on real processes: a bootstrap node (overlay only, no chain) through which eight full
//! nodes find each other, and the role defaults (a validator's RPC closed unless opened; the role in
//! `admin_nodeInfo` and `platon admin nodeInfo`).

use crate::common::{rpc_url, wait_for};
use crate::localnet::{call, scopeguard_keep, spawn_config as spawn, successor, Procs};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// The seed's validator deployment on real processes: four validators, each behind two sentries
/// (`localnet init --sentries 2`), plus one plain full node. Validators link to their own sentries
/// only, no other node links to them or finds them in ReDiR, their JSON-RPC is closed, a stranger's
/// link to one is refused, and consensus goes on through the sentries, also after a sentry dies.
#[test]
fn validators_behind_sentries_are_reached_only_through_them() {
    let tmp = scopeguard_keep(tempfile::tempdir().expect("tmp"));
    let out = tmp.path().join("net");
    let subnet = 100 + ((std::process::id() + 31) % 150) as u8;
    let net = crate::common::localnet_init(
        &out,
        subnet,
        &["--nodes", "5", "--validators", "4", "--sentries", "2"],
    );
    let token = net["adminToken"].as_str().expect("token").to_string();
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    assert_eq!(
        nodes.len(),
        13,
        "5 nodes and 2 sentries for each of 4 validators"
    );
    let id = |i: usize| nodes[i]["nodeId"].as_str().expect("nodeId").to_string();
    let rpc = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    let admin = |i: usize| nodes[i]["admin"].as_str().expect("admin").to_string();
    // Node indices (0-based): validators 0..4, the full node 4, sentries 5..13 (two per validator).
    let sentries_of = |v: usize| -> Vec<usize> {
        (5..13)
            .filter(|&s| nodes[s]["sentryOf"].as_u64() == Some(v as u64 + 1))
            .collect()
    };
    for (v, n) in nodes.iter().enumerate().take(4) {
        assert_eq!(sentries_of(v).len(), 2);
        assert_eq!(n["rpcOpen"], false, "a guarded validator's RPC is closed");
    }
    let mut procs = Procs(
        nodes
            .iter()
            .map(|n| {
                let name = n["name"].as_str().expect("name");
                spawn(
                    n["config"].as_str().expect("config"),
                    &tmp.path().join(format!("{name}.log")),
                )
            })
            .collect(),
    );

    // Consensus runs through the sentries: the full node sees blocks become final.
    wait_for("blocks", Duration::from_secs(120), || {
        let n = call(&rpc(4), "eth_blockNumber", json!([]), None)?;
        (u64::from_str_radix(n.as_str()?.trim_start_matches("0x"), 16).ok()? >= 5).then_some(())
    });
    let peers_of = |i: usize| -> Vec<String> {
        call(&admin(i), "admin_peers", json!([]), Some(&token))
            .and_then(|p| {
                p.as_array().map(|a| {
                    a.iter()
                        .filter_map(|x| x["id"].as_str().map(String::from))
                        .collect()
                })
            })
            .unwrap_or_default()
    };
    let validator_ids: Vec<String> = (0..4).map(id).collect();
    for v in 0..4 {
        let own: Vec<String> = sentries_of(v).into_iter().map(id).collect();
        let peers = peers_of(v);
        assert!(!peers.is_empty(), "validator {} has links", v + 1);
        for p in &peers {
            assert!(
                own.contains(p),
                "validator {} links to {p}, not one of its sentries {own:?}",
                v + 1
            );
        }
        assert!(
            rpc_url(&rpc(v), "eth_blockNumber", json!([]), None).is_err(),
            "validator {}'s JSON-RPC is closed",
            v + 1
        );
    }
    for (i, n) in nodes.iter().enumerate().skip(4) {
        let mine = n["sentryOf"].as_u64().map(|v| id(v as usize - 1));
        for p in peers_of(i) {
            if validator_ids.contains(&p) {
                assert_eq!(
                    Some(&p),
                    mine.as_ref(),
                    "node {} links to another's validator",
                    i + 1
                );
            }
        }
    }
    // ReDiR names no validator: they register nowhere.
    for key in [0u128, u128::MAX / 2] {
        let r = call(
            &rpc(4),
            "platon_findService",
            json!(["validator", format!("0x{key:032x}")]),
            None,
        );
        assert!(
            r.as_ref().is_none_or(|r| r.is_null()),
            "ReDiR names a validator: {r:?}"
        );
    }

    // A stranger that dials validator 1 directly is refused.
    let mut doc: toml::Table = std::fs::read_to_string(nodes[4]["config"].as_str().expect("c"))
        .expect("config")
        .parse()
        .expect("toml");
    let stranger_dir = tmp.path().join("stranger");
    doc.insert(
        "datadir".into(),
        toml::Value::String(stranger_dir.display().to_string()),
    );
    let (sh, sa) = crate::common::free_port_pair();
    let sip = format!("127.0.{subnet}.250");
    doc["http"]["port"] = toml::Value::Integer(i64::from(sh));
    doc["http"]["addr"] = toml::Value::String(sip.clone());
    doc["admin"]["port"] = toml::Value::Integer(i64::from(sa));
    doc["admin"]["addr"] = toml::Value::String(sip.clone());
    doc["overlay"]["listen"] = toml::Value::String(format!("{sip}:16789"));
    doc["overlay"]["bootstrap"] = toml::Value::Array(vec![toml::Value::String(format!(
        "{}@{}",
        id(0),
        nodes[0]["overlay"].as_str().expect("overlay")
    ))]);
    let stranger_cfg = tmp.path().join("stranger.toml");
    std::fs::write(&stranger_cfg, doc.to_string()).expect("write");
    procs.0.push(spawn(
        stranger_cfg.to_str().expect("utf8"),
        &tmp.path().join("stranger.log"),
    ));
    let v1_log = tmp.path().join("node1.log");
    wait_for("the refusal", Duration::from_secs(60), || {
        let log = std::fs::read_to_string(&v1_log).ok()?;
        log.contains("refused a link from a peer outside overlay.allow_peers")
            .then_some(())
    });
    let stranger = wait_for("the stranger", Duration::from_secs(60), || {
        call(
            &format!("http://{sip}:{sa}"),
            "admin_nodeInfo",
            json!([]),
            Some(&token),
        )
    });
    let stranger_id = stranger["id"].as_str().expect("id").to_string();
    assert!(
        !peers_of(0).contains(&stranger_id),
        "the stranger got a link to validator 1"
    );

    // A sentry of validator 1 dies: validator 1 still follows the chain and its blocks still get
    // out through the other one.
    let killed = sentries_of(0)[1];
    let _ = procs.0[killed].kill();
    let _ = procs.0[killed].wait();
    let height = |url: &str| -> Option<u64> {
        let c = call(url, "admin_console", json!([]), Some(&token))?;
        c["head"]["number"].as_u64()
    };
    let at_kill = height(&admin(0)).expect("validator 1's head");
    let miner = nodes[0]["account"]
        .as_str()
        .expect("account")
        .to_lowercase();
    wait_for(
        "a block from validator 1 after its sentry died",
        Duration::from_secs(150),
        || {
            let head = height(&admin(0))?;
            (head > at_kill + 2).then_some(())?;
            let tip = call(&rpc(4), "eth_blockNumber", json!([]), None)?;
            let tip = u64::from_str_radix(tip.as_str()?.trim_start_matches("0x"), 16).ok()?;
            (at_kill + 1..=tip).find(|n| {
                call(
                    &rpc(4),
                    "eth_getBlockByNumber",
                    json!([format!("{n:#x}"), false]),
                    None,
                )
                .and_then(|b| b["miner"].as_str().map(|m| m.to_lowercase() == miner))
                .unwrap_or(false)
            })
        },
    );
    // A transfer sent to the full node becomes final.
    let keys = crate::dev_keys();
    let tx = crate::transfer(&keys[1], 0, keys[2].address(), 1_000);
    call(
        &rpc(4),
        "eth_sendRawTransaction",
        json!([crate::hex0x(&tx.encoded)]),
        None,
    )
    .expect("sent");
    wait_for("the receipt", Duration::from_secs(90), || {
        let r = call(
            &rpc(sentries_of(3)[0]),
            "eth_getTransactionReceipt",
            json!([format!("{:#x}", tx.hash)]),
            None,
        )?;
        (!r.is_null()).then_some(())
    });
}
