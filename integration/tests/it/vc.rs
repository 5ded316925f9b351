//! Verifiable computation end to end. On a 4-validator localnet where two validators are also
//! computing nodes (`--vc`), web3.py deploys the VC contract with keys from `platon vc setup`,
//! calls `compute` with a fee, and one computing node's `set_result` lands while the other drops
//! the task; forged, wrong, replayed and second answers are refused with no payout; the pool's proof
//! verifies in snarkjs and in a Solidity verifier on the node's EVM (`tests/web3_vc.py`,
//! `tests/js/vc.mjs`). On a dev chain, a computing node killed with SIGKILL while it proves
//! resumes the task from its queue after the restart.

use crate::common::{cli, manifest_dir, rpc_full, wait_for, NodeProc};
use crate::localnet::{call, scopeguard_keep, Procs};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn setup(model: &str, seed: &str, out: &Path) -> Value {
    let (ok, text) = cli(&[
        "vc",
        "setup",
        "--model",
        model,
        "--seed",
        seed,
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(ok, "platon vc setup: {text}");
    serde_json::from_str(&text).expect("setup json")
}

fn python(case: &Value, dir: &Path) -> String {
    let path = dir.join(format!(
        "case-{}.json",
        case["mode"].as_str().expect("mode")
    ));
    std::fs::write(&path, case.to_string()).expect("case");
    let out = Command::new("python3")
        .arg(manifest_dir().join("tests/web3_vc.py"))
        .arg(&path)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "web3_vc.py {} failed:\n{stdout}\n{}",
        case["mode"],
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn computing_nodes_answer_vc_tasks_on_a_localnet_and_bad_answers_pay_nothing() {
    let contracts = crate::wasm::contracts_dir();
    let tmp = scopeguard_keep(tempfile::tempdir().expect("tmp"));
    let out = tmp.path().join("net");
    let subnet = 100 + ((std::process::id() + 37) % 150) as u8;
    let net = crate::common::localnet_init(
        &out,
        subnet,
        &[
            "--nodes",
            "4",
            "--validators",
            "4",
            "--responsive-ms",
            "200",
        ],
    );
    let nodes = net["nodes"].as_array().expect("nodes").clone();
    let keys = tmp.path().join("keys");
    let setup_json = setup("mimc5-chain:128", "localnet vc test", &keys);
    // A second model whose proving key no computing node has: only the client answers it.
    let offline = setup("mimc5-chain:40", "offline key", &tmp.path().join("offline"));
    let computing = [2usize, 3];
    let procs = Procs(
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let name = n["name"].as_str().expect("name");
                let log =
                    std::fs::File::create(tmp.path().join(format!("{name}.log"))).expect("log");
                let mut c = Command::new(env!("CARGO_BIN_EXE_platon"));
                c.args(["run", "--config", n["config"].as_str().expect("config")]);
                if computing.contains(&i) {
                    let key = out.join(name).join("account.key");
                    c.args(["--vc", "--vc.key-file"])
                        .arg(key)
                        .arg("--vc.keys-dir")
                        .arg(&keys);
                }
                c.stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .spawn()
                    .expect("spawn")
            })
            .collect(),
    );
    let url = |i: usize| nodes[i]["rpc"].as_str().expect("rpc").to_string();
    wait_for(
        "the localnet to produce blocks",
        Duration::from_secs(90),
        || {
            (0..4)
                .all(|i| {
                    call(&url(i), "eth_blockNumber", json!([]), None)
                        .is_some_and(|v| crate::common::q(&v) >= 2)
                })
                .then_some(())
        },
    );
    // A node that is not a computing node says so.
    let r = crate::common::rpc_url(&url(0), "platon_vcTasks", json!([]), None).expect("answer");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a computing node")),
        "{r}"
    );
    let case = json!({
        "mode": "full",
        "rpc": url(0),
        "pools": computing.iter().map(|i| url(*i)).collect::<Vec<_>>(),
        "contracts": contracts,
        "platon": env!("CARGO_BIN_EXE_platon"),
        "work": tmp.path(),
        "setup": setup_json,
        "offline": offline,
        "keys": keys,
    });
    let stdout = python(&case, tmp.path());
    assert!(stdout.contains("ALL CHECKS PASSED"), "{stdout}");
    // `platon vc tasks` shows the same list the RPC method does.
    let (ok, text) = cli(&["vc", "tasks", "--rpc", &url(computing[0])]);
    assert!(ok, "{text}");
    let listed: Value = serde_json::from_str(&text).expect("json");
    let states: Vec<&str> = listed["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["state"].as_str())
        .collect();
    // Four tasks, all answered by now (one by the client, the others by a pool); none left open.
    assert_eq!(states.len(), 4, "{listed}");
    assert!(
        states
            .iter()
            .all(|s| *s == "answered" || *s == "answered by another node"),
        "{listed}"
    );
    // Both computing nodes proved the first task (one was first on chain).
    for i in computing {
        let acc = call(&url(i), "platon_accelerator", json!([]), None).expect("acc");
        assert_eq!(acc["backend"], json!("cpu-multi"), "{acc}");
        assert!(acc["jobs"]["prove"]["jobs"].as_u64() >= Some(1), "{acc}");
        assert_eq!(acc["jobs"]["prove"]["failed"], json!(0), "{acc}");
    }
    drop(procs);
}

#[test]
fn a_computing_node_killed_while_proving_resumes_the_task_after_restart() {
    let contracts = crate::wasm::contracts_dir();
    let tmp = tempfile::tempdir().expect("tmp");
    let keys = tmp.path().join("keys");
    // Big enough that the proof takes a moment to kill it in.
    let setup_json = setup("mimc5-chain:12000", "restart test", &keys);
    let datadir = tmp.path().join("data");
    let args = [
        "--dev",
        "--vc",
        "--vc.keys-dir",
        keys.to_str().expect("utf8"),
        "--datadir",
        datadir.to_str().expect("utf8"),
    ];
    let mut node = NodeProc::start(&args, tmp.path());
    let case = |mode: &str, port: u16, extra: &Value| {
        let mut c = json!({
            "mode": mode,
            "rpc": format!("http://127.0.0.1:{port}"),
            "contracts": contracts,
            "platon": env!("CARGO_BIN_EXE_platon"),
            "work": tmp.path(),
            "setup": setup_json,
        });
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        c
    };
    let opened = python(&case("open", node.http, &json!({})), tmp.path());
    let opened: Value = serde_json::from_str(opened.lines().last().expect("line")).expect("json");
    let task = opened["task"].as_str().expect("task").to_string();
    let state = |port: u16| -> Option<String> {
        let r = rpc_full(port, "platon_vcTasks", json!([])).ok()?;
        r["result"]["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["task"] == json!(task))
            .and_then(|t| t["state"].as_str().map(str::to_string))
    };
    wait_for("the pool to start proving", Duration::from_secs(60), || {
        (state(node.http).as_deref() == Some("proving")).then_some(())
    });
    node.kill9();
    let node = NodeProc::start(&args, tmp.path());
    // After the restart the queue holds the task again, from its WAL (no block came since).
    let again = wait_for("the restarted pool", Duration::from_secs(30), || {
        state(node.http)
    });
    assert!(
        matches!(
            again.as_str(),
            "queued" | "proving" | "submitted" | "answered"
        ),
        "after the restart: {again}\n{}",
        node.log_text()
    );
    let done = python(&case("answered", node.http, &opened), tmp.path());
    assert!(done.contains("ALL CHECKS PASSED"), "{done}");
    wait_for(
        "the pool to list it answered",
        Duration::from_secs(30),
        || (state(node.http).as_deref() == Some("answered")).then_some(()),
    );
    // The proof made after the restart is counted on /metrics.
    let (status, _, body) =
        crate::console::http_get_at(&format!("127.0.0.1:{}", node.admin), "/metrics", &[]);
    assert_eq!(status, 200);
    assert!(
        body.contains("platon_accelerator_jobs_total{kind=\"prove\"} 1"),
        "{body}"
    );
    // The admin console lists the pool's tasks.
    let console = crate::common::rpc_url(
        &format!("http://127.0.0.1:{}", node.admin),
        "admin_console",
        json!([]),
        None,
    )
    .expect("admin_console");
    let listed = console["result"]["vc"]["tasks"]
        .as_array()
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t["task"] == json!(task) && t["state"] == "answered")
        });
    assert!(
        listed,
        "the console shows the answered task: {}",
        console["result"]["vc"]
    );
    // A contract that only imitates the events gets its task skipped, with the reason.
    let hostile = python(&case("hostile", node.http, &json!({})), tmp.path());
    assert!(hostile.contains("ALL CHECKS PASSED"), "{hostile}");
}
