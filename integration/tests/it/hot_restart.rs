//! Hot restart of every actor of the dev pipeline while transactions flow, and a restart budget
//! that, exceeded, stops the node cleanly.

use crate::common::*;
use crate::{dev_keys, hex0x, transfer};
use alloy_primitives::{Address, B256};
use platon_config::NodeConfig;
use platon_supervision::{ActorStatus, Fault};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn dev_config(max_restarts: u32) -> NodeConfig {
    let mut c = NodeConfig::default();
    c.dev.enabled = true;
    c.admin.faults = true;
    (c.http.port, c.admin.port) = free_port_pair();
    c.supervision.max_restarts = max_restarts;
    c.supervision.window_secs = 60;
    c.supervision.call_timeout_ms = 3_000;
    c
}

/// Sends transfers from one account until told to stop; returns the hashes the node accepted.
fn sender(
    port: u16,
    key: platon_crypto::SecretKey,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<B256>>>,
) {
    let mut nonce = 0;
    let mut pending = None;
    while !stop.load(Ordering::Relaxed) {
        let tx = pending
            .take()
            .unwrap_or_else(|| transfer(&key, nonce, Address::repeat_byte(0xee), 1 + nonce));
        match rpc_full(port, "eth_sendRawTransaction", json!([hex0x(&tx.encoded)])) {
            Ok(r) if r.get("result").is_some() => {
                accepted.lock().expect("lock").push(tx.hash);
                nonce += 1;
            }
            Ok(r) => {
                let msg = r["error"]["message"].as_str().unwrap_or("").to_string();
                if msg == "already known" || msg.starts_with("nonce too low") {
                    // It was accepted on an attempt whose reply we lost: it must still land.
                    accepted.lock().expect("lock").push(tx.hash);
                    nonce += 1;
                } else {
                    // Retryable (an actor restarting): send the same transaction again.
                    pending = Some(tx);
                }
            }
            Err(_) => pending = Some(tx),
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

#[test]
fn every_pipeline_actor_restarts_under_load_without_losing_a_transaction() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = dev_config(3);
    let (http, admin) = (cfg.http.port, cfg.admin.port);
    let node = rt.block_on(platon_node::start(cfg)).expect("node starts");
    let reg = node.tree.registry.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = dev_keys()[3..7]
        .iter()
        .map(|k| {
            let (k, stop, acc) = (*k, stop.clone(), accepted.clone());
            std::thread::spawn(move || sender(http, k, stop, acc))
        })
        .collect();
    wait_for("first blocks", Duration::from_secs(30), || {
        (q(&rpc(http, "eth_blockNumber", json!([]))) >= 2).then_some(())
    });
    let victims = ["txpool", "producer", "executor", "rpc", "chain"];
    for name in victims {
        std::thread::sleep(Duration::from_millis(400));
        let before = reg.info(name).expect("known actor").restarts;
        reg.inject_fault(name, Fault::Panic).expect("inject");
        wait_for(
            &format!("{name} restarted"),
            Duration::from_secs(30),
            || {
                let i = reg.info(name)?;
                (i.restarts == before + 1 && i.status == ActorStatus::Running).then_some(())
            },
        );
        let height = q(&rpc_with_retry(http, "eth_blockNumber"));
        let accepted_before = accepted.lock().expect("lock").len();
        // The chain keeps growing and new transactions keep being accepted after the restart.
        wait_for(
            &format!("progress after restarting {name}"),
            Duration::from_secs(30),
            || {
                let h = q(&rpc_with_retry(http, "eth_blockNumber"));
                (h > height && accepted.lock().expect("lock").len() > accepted_before).then_some(())
            },
        );
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().expect("sender");
    }
    let hashes = accepted.lock().expect("lock").clone();
    assert!(
        hashes.len() > 20,
        "only {} transactions went through",
        hashes.len()
    );
    for h in &hashes {
        wait_for(&format!("receipt of {h}"), Duration::from_secs(30), || {
            let r = rpc(http, "eth_getTransactionReceipt", json!([h]));
            (r["status"] == json!("0x1")).then_some(())
        });
    }
    // The admin API shows each restart.
    let (_, body) = http_post(
        admin,
        json!({"jsonrpc":"2.0","id":1,"method":"admin_actors","params":[]})
            .to_string()
            .as_bytes(),
        &[],
    )
    .expect("admin");
    let actors: Value = serde_json::from_slice(&body).expect("json");
    for name in victims {
        let a = actors["result"]
            .as_array()
            .expect("list")
            .iter()
            .find(|a| a["name"] == json!(name))
            .expect("listed");
        assert_eq!(a["restarts"], json!(1), "{name}: {a}");
        assert_eq!(a["status"], json!("running"));
        assert!(
            a["last_failure"]
                .as_str()
                .unwrap_or("")
                .contains("injected fault"),
            "{a}"
        );
    }
    let tree: Vec<&str> = actors["result"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        tree,
        vec![
            "node",
            "storage",
            "snapshot",
            "chain",
            "execution",
            "txpool",
            "executor",
            "computing",
            "accelerator",
            "consensus",
            "producer",
            "api",
            "rpc",
            "admin"
        ],
        "the tree of DESIGN.md, generated from the registry"
    );
    rt.block_on(node.shutdown());
}

fn rpc_with_retry(port: u16, method: &str) -> Value {
    wait_for(method, Duration::from_secs(20), || {
        rpc_full(port, method, json!([]))
            .ok()
            .and_then(|r| r.get("result").cloned())
    })
}

#[test]
fn exceeding_a_restart_budget_stops_the_node_with_a_clear_message() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg_path = tmp.path().join("node.toml");
    std::fs::write(
        &cfg_path,
        "[supervision]\nmax_restarts = 1\nwindow_secs = 60\n",
    )
    .expect("config");
    let mut node = NodeProc::start_dev(
        &[
            "--admin.faults",
            "--config",
            cfg_path.to_str().expect("utf8"),
        ],
        tmp.path(),
    );
    let fault = |n: u32| {
        json!({"jsonrpc":"2.0","id":n,"method":"admin_injectFault","params":["executor","panic"]})
            .to_string()
    };
    let (_, b) = http_post(node.admin, fault(1).as_bytes(), &[]).expect("admin");
    assert!(
        String::from_utf8_lossy(&b).contains("\"result\":true"),
        "{}",
        String::from_utf8_lossy(&b)
    );
    // Wait for the restart, then fail it again: the second restart within the window exceeds the budget of 1.
    wait_for("executor back", Duration::from_secs(20), || {
        let (_, b) = http_post(
            node.admin,
            json!({"jsonrpc":"2.0","id":1,"method":"admin_actors","params":[]})
                .to_string()
                .as_bytes(),
            &[],
        )
        .ok()?;
        let v: Value = serde_json::from_slice(&b).ok()?;
        let e = v["result"]
            .as_array()?
            .iter()
            .find(|a| a["name"] == json!("executor"))?
            .clone();
        (e["restarts"] == json!(1) && e["status"] == json!("running")).then_some(())
    });
    let _ = http_post(node.admin, fault(2).as_bytes(), &[]);
    let status = wait_for("node exit", Duration::from_secs(30), || {
        node.child.try_wait().ok().flatten()
    });
    assert_eq!(status.code(), Some(1), "exit code");
    let log = node.log_text();
    assert!(
        log.contains("node stopped") && log.contains("restart budget exceeded"),
        "{log}"
    );
    assert!(log.contains("execution"), "names the failed subtree: {log}");
}

/// A panic in `txpool` or `executor` heals without a client noticing: the gateway waits for the
/// restarted pool, so four senders that count every error see none, and every transaction lands.
#[test]
fn pool_and_executor_restarts_are_invisible_to_clients() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = dev_config(20);
    let http = cfg.http.port;
    let node = rt.block_on(platon_node::start(cfg)).expect("node starts");
    let reg = node.tree.registry.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let accepted = Arc::new(Mutex::new(Vec::<B256>::new()));
    let senders: Vec<_> = dev_keys()[3..7]
        .iter()
        .map(|k| {
            let (k, stop, acc, fail) = (*k, stop.clone(), accepted.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut nonce = 0;
                while !stop.load(Ordering::Relaxed) {
                    let tx = transfer(&k, nonce, Address::repeat_byte(0xef), 1 + nonce);
                    match rpc_full(http, "eth_sendRawTransaction", json!([hex0x(&tx.encoded)])) {
                        Ok(r) if r.get("result").is_some() => {
                            acc.lock().expect("lock").push(tx.hash)
                        }
                        Ok(r) => fail.lock().expect("lock").push(r["error"].to_string()),
                        Err(e) => fail.lock().expect("lock").push(e.to_string()),
                    }
                    // Reads that reach the pool too.
                    let addr = format!("{}", k.address());
                    if let Ok(r) =
                        rpc_full(http, "eth_getTransactionCount", json!([addr, "pending"]))
                    {
                        if let Some(e) = r.get("error") {
                            fail.lock().expect("lock").push(e.to_string());
                        }
                    }
                    nonce += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    wait_for("first blocks", Duration::from_secs(30), || {
        (q(&rpc(http, "eth_blockNumber", json!([]))) >= 2).then_some(())
    });
    let mut injected = 0;
    for round in 0..8 {
        let name = if round % 2 == 0 { "txpool" } else { "executor" };
        let before = reg.info(name).expect("known actor").restarts;
        reg.inject_fault(name, Fault::Panic).expect("inject");
        injected += 1;
        wait_for(
            &format!("{name} restarted"),
            Duration::from_secs(30),
            || {
                let i = reg.info(name)?;
                (i.restarts > before && i.status == ActorStatus::Running).then_some(())
            },
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().expect("sender");
    }
    let failures = failures.lock().expect("lock").clone();
    let hashes = accepted.lock().expect("lock").clone();
    assert!(
        failures.is_empty(),
        "{} calls failed through {injected} restarts: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(hashes.len() > 40, "only {} transactions sent", hashes.len());
    for h in &hashes {
        wait_for(&format!("receipt of {h}"), Duration::from_secs(30), || {
            let r = rpc(http, "eth_getTransactionReceipt", json!([h]));
            (r["status"] == json!("0x1")).then_some(())
        });
    }
    rt.block_on(node.shutdown());
}
