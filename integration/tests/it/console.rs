//! The operator surface: `/metrics` scraped by a real Prometheus server and read back through its
//! query API, the shipped Grafana dashboard checked against what the node exports, and the web console
//! driven in headless Chromium (log in, see the tree, restart an actor, the chain keeps growing).

use crate::common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    manifest_dir()
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Where the console test writes its screenshots (the README names it).
fn screenshot_dir() -> PathBuf {
    std::env::var_os("PLATON_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("integration/tests/js/screenshots"))
}

/// `GET path` on 127.0.0.1:port with extra headers; (status, headers, body).
fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    http_get_at(&format!("127.0.0.1:{port}"), path, headers)
}

/// `GET path` on `addr` (`ip:port`, or a `http://ip:port` URL) with extra headers; (status,
/// headers, body).
pub(crate) fn http_get_at(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let addr = addr.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, more)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || more.len() < n {
                break;
            }
            out.push_str(&more[..n]);
            rest = more[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every `platon_…` metric name a text mentions.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("platon_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The series names a scrape exported (the first word of each sample line).
fn exported(body: &str) -> std::collections::BTreeSet<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

fn admin(node: &NodeProc, method: &str, params: Value, token: &str) -> Value {
    let r = rpc_url(
        &format!("http://127.0.0.1:{}", node.admin),
        method,
        params,
        Some(token),
    )
    .expect("admin call");
    assert!(r.get("error").is_none(), "{method}: {r}");
    r["result"].clone()
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_the_node_and_the_dashboard_matches_its_metrics() {
    let prom = Path::new("/usr/bin/prometheus");
    assert!(
        prom.exists(),
        "Debian's prometheus is missing: run scripts/prereqs.sh test (or apt-get install prometheus)"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let token = "m3trics-t0ken";
    let node = NodeProc::start_dev(&["--dev.period", "1", "--admin.token", token], tmp.path());

    // Some work for the histograms: calls of two methods, one transfer, one restart.
    for _ in 0..3 {
        rpc(node.http, "eth_blockNumber", json!([]));
    }
    let accounts = rpc(node.http, "eth_accounts", json!([]));
    rpc(
        node.http,
        "eth_sendTransaction",
        json!([{"from": accounts[0], "to": accounts[1], "value": "0x1"}]),
    );
    admin(&node, "admin_restartActor", json!(["txpool"]), token);
    wait_for("a block", Duration::from_secs(30), || {
        (q(&rpc(node.http, "eth_blockNumber", json!([]))) >= 2).then_some(())
    });

    // /metrics needs the token.
    let (status, _, _) = http_get(node.admin, "/metrics", &[]);
    assert_eq!(status, 401);
    let bearer = format!("Bearer {token}");
    let (status, head, body) = http_get(node.admin, "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_lowercase().contains("application/openmetrics-text"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let names = exported(&body);
    for want in [
        "platon_actor_messages_handled_total",
        "platon_actor_mailbox_depth",
        "platon_actor_restarts_total",
        "platon_chain_height",
        "platon_chain_finality_lag_blocks",
        "platon_txpool_pending",
        "platon_block_execution_seconds_bucket",
        "platon_block_commit_seconds_count",
        "platon_rpc_request_duration_seconds_count",
        // The node runs on jemalloc, which reports its live heap.
        "platon_memory_allocator_allocated_bytes",
        "platon_memory_allocator_resident_bytes",
    ] {
        assert!(
            names.contains(want),
            "{want} missing from /metrics:\n{body}"
        );
    }
    assert!(
        body.contains("platon_actor_restarts_total{actor=\"txpool\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("platon_rpc_request_duration_seconds_count{method=\"eth_blockNumber\"}"),
        "{body}"
    );

    // The dashboard only charts series the node exports (histograms through their _bucket, _sum
    // and _count series).
    let dash_path = repo().join("docs/grafana/platon-node.json");
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(&dash_path).expect("dashboard"))
            .expect("dashboard is JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "a dashboard of {} panels", panels.len());
    let mut charted = std::collections::BTreeSet::new();
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            charted.extend(metric_names(t["expr"].as_str().unwrap_or_default()));
        }
    }
    for name in &charted {
        assert!(
            names.contains(name),
            "the dashboard charts {name}, which the node does not export"
        );
    }
    for family in [
        "platon_chain_height",
        "platon_chain_finality_lag_blocks",
        "platon_actor_restarts_total",
        "platon_actor_mailbox_depth",
        "platon_cbft_view_changes_total",
        "platon_overlay_peers",
        "platon_overlay_sent_bytes_total",
        "platon_rpc_request_duration_seconds_bucket",
        "platon_block_execution_seconds_bucket",
        "platon_block_commit_seconds_bucket",
        "platon_txpool_pending",
    ] {
        let dash_text = dash.to_string();
        assert!(
            dash_text.contains(family),
            "the dashboard has no panel for {family}"
        );
    }

    // A real Prometheus server scrapes the node (with the token) and answers queries on it.
    let prom_port = free_port();
    let dir = tmp.path().join("prometheus");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: platon\n    authorization:\n      type: Bearer\n      credentials: {token}\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            node.admin
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let _prom = Prometheus(
        Command::new(prom)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start prometheus"),
    );
    let query = |expr: &str| -> Option<Vec<Value>> {
        let (status, _, body) = http_get(
            prom_port,
            &format!("/api/v1/query?query={}", urlencode(expr)),
            &[],
        );
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        let r = v["data"]["result"].as_array()?.clone();
        (!r.is_empty()).then_some(r)
    };
    let value = |sample: &Value| -> f64 {
        sample["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let prom_log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    let up = wait_for(
        "Prometheus to scrape the node",
        Duration::from_secs(60),
        || {
            std::net::TcpStream::connect(("127.0.0.1", prom_port)).ok()?;
            query("up{job=\"platon\"} == 1")
        },
    );
    assert_eq!(value(&up[0]), 1.0, "{}", prom_log());
    let height = wait_for(
        "the chain height in Prometheus",
        Duration::from_secs(30),
        || query("platon_chain_height"),
    );
    assert!(value(&height[0]) >= 2.0, "{height:?}");
    // The height Prometheus saw rises as the dev chain seals a block a second.
    let first = value(&height[0]);
    wait_for(
        "a higher height in Prometheus",
        Duration::from_secs(30),
        || {
            query("platon_chain_height")
                .filter(|r| value(&r[0]) > first)
                .map(|_| ())
        },
    );
    let restarts = query("platon_actor_restarts_total{actor=\"txpool\"}").expect("restarts");
    assert_eq!(value(&restarts[0]), 1.0, "{restarts:?}");
    let calls = query("platon_rpc_request_duration_seconds_count{method=\"eth_blockNumber\"}")
        .expect("rpc latency");
    assert!(value(&calls[0]) >= 3.0, "{calls:?}");
    let commits = query("platon_block_commit_seconds_count").expect("commit histogram");
    assert!(value(&commits[0]) >= 2.0, "{commits:?}");
    let exec = query("histogram_quantile(0.5, platon_block_execution_seconds_bucket)")
        .expect("execution quantile");
    assert!(value(&exec[0]).is_finite(), "{exec:?}");
    let actors = query("platon_actor_up").expect("actor gauges");
    assert!(actors.len() >= 10, "one series per actor: {actors:?}");
}

#[test]
fn console_in_chromium_logs_in_restarts_an_actor_and_the_chain_grows() {
    let js = repo().join("integration/tests/js");
    assert!(
        js.join("node_modules/puppeteer-core").is_dir(),
        "puppeteer-core is missing: run `npm ci --prefix integration/tests/js` (scripts/prereqs.sh test does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is missing: run scripts/prereqs.sh test (or apt-get install chromium)"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let token = "c0nsole-t0ken";
    let node = NodeProc::start_dev(
        &[
            "--dev.period",
            "1",
            "--admin.token",
            token,
            "--admin.faults",
        ],
        tmp.path(),
    );
    // Without the token or a session the page's WebSocket is refused.
    let r = rpc_url(
        &format!("http://127.0.0.1:{}", node.admin),
        "admin_console",
        json!([]),
        None,
    )
    .expect("call");
    assert_eq!(r["error"]["code"], json!(-32001), "{r}");
    let shots = screenshot_dir();
    let out = Command::new("node")
        .arg(js.join("console.mjs"))
        .arg(format!("http://127.0.0.1:{}", node.admin))
        .arg(token)
        .arg(&shots)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "console.mjs failed:\n{stdout}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.log_text()
    );
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("summary");
    assert_eq!(
        seen["restartsAfter"].as_u64(),
        seen["restartsBefore"].as_u64().map(|n| n + 1),
        "{seen}"
    );
    assert!(
        seen["headAfter"].as_u64() > seen["headBefore"].as_u64(),
        "{seen}"
    );
    assert_eq!(
        seen["executorRestarts"],
        json!(1),
        "the injected panic: {seen}"
    );
    // The node agrees: the txpool restarted once, and the restart and the fault were logged.
    let actors = admin(&node, "admin_actors", json!([]), token);
    let txpool = actors
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "txpool"))
        .expect("txpool")
        .clone();
    assert_eq!(txpool["restarts"], json!(1), "{txpool}");
    let log = node.log_text();
    assert!(log.contains("admin: restart requested"), "{log}");
    assert!(log.contains("admin: fault injection requested"), "{log}");
    assert!(log.contains("admin console: logged in"), "{log}");
    assert!(
        log.contains("login with a wrong token was refused"),
        "{log}"
    );
    for shot in ["console.png", "console-login.png"] {
        let png = std::fs::read(shots.join(shot)).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
}

#[test]
fn json_logs_carry_each_blocks_span() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(
        &[
            "--dev.period",
            "1",
            "--log.format",
            "json",
            "--log",
            "info,platon_actors=debug",
        ],
        tmp.path(),
    );
    wait_for("two blocks", Duration::from_secs(30), || {
        (q(&rpc(node.http, "eth_blockNumber", json!([]))) >= 2).then_some(())
    });
    let text = wait_for("a sealed block in the log", Duration::from_secs(10), || {
        let t = node.log_text();
        t.contains("dev block sealed").then_some(t)
    });
    let mut sealed = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{v}");
        if v["fields"]["message"] == "dev block sealed and committed" {
            assert_eq!(v["span"]["name"], "block", "{v}");
            assert!(v["span"]["number"].as_u64().is_some(), "{v}");
            sealed += 1;
        }
    }
    assert!(sealed >= 1, "{text}");
    // A bad filter is refused, not silently replaced.
    let out = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["run", "--dev", "--log", "info,==bad"])
        .output()
        .expect("platon");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a log filter"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
