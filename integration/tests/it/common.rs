//! Helpers shared by the end-to-end tests: free ports, a raw HTTP JSON-RPC client, a `platon`
//! process wrapper, the CLI, and one-validator networks from `localnet init`.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// This package's folder, read when the test runs (cargo and nextest set it), so a build cache
/// made from a checkout elsewhere still finds this checkout's files.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Two distinct free ports (JSON-RPC and admin): both are held while the second is chosen, so
/// they cannot be the same, as two calls of [`free_port`] can be.
pub fn free_port_pair() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = |l: &TcpListener| l.local_addr().expect("addr").port();
    (port(&a), port(&b))
}

/// Posts `body` to `http://127.0.0.1:port/` and returns (status, body). Errors are connection errors.
pub fn http_post(
    port: u16,
    body: &[u8],
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, Vec<u8>)> {
    http_post_to(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        body,
        headers,
    )
}

/// One JSON-RPC call to `url` (`http://ip:port`), with an optional bearer token; the whole response.
pub fn rpc_url(
    url: &str,
    method: &str,
    params: Value,
    token: Option<&str>,
) -> std::io::Result<Value> {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(std::io::Error::other)?;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (_, resp) = http_post_to(addr, body.as_bytes(), &headers)?;
    serde_json::from_slice(&resp).map_err(std::io::Error::other)
}

/// Posts `body` to `http://addr/` and returns (status, body).
pub fn http_post_to(
    addr: std::net::SocketAddr,
    body: &[u8],
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, Vec<u8>)> {
    let port = addr.port();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        addr.ip(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut payload = buf[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = payload.as_slice();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        payload = out;
    }
    Ok((status, payload))
}

/// One JSON-RPC call; returns the whole response object.
pub fn rpc_full(port: u16, method: &str, params: Value) -> std::io::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (_, resp) = http_post(port, body.as_bytes(), &[])?;
    serde_json::from_slice(&resp).map_err(std::io::Error::other)
}

/// One JSON-RPC call that must succeed; returns its result.
pub fn rpc(port: u16, method: &str, params: Value) -> Value {
    let r = rpc_full(port, method, params.clone()).unwrap_or_else(|e| panic!("{method}: {e}"));
    if let Some(e) = r.get("error") {
        panic!("{method}({params}) failed: {e}");
    }
    r["result"].clone()
}

/// Parses a hex quantity.
pub fn q(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().expect("quantity").trim_start_matches("0x"), 16).expect("hex")
}

/// Waits until `f` returns Some, or panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `platon run` process.
pub struct NodeProc {
    /// The process.
    pub child: Child,
    /// JSON-RPC port.
    pub http: u16,
    /// Admin port.
    pub admin: u16,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl NodeProc {
    /// Starts `platon run --dev` with extra args and waits until JSON-RPC answers.
    pub fn start_dev(extra: &[&str], log_dir: &Path) -> NodeProc {
        let mut args = vec!["--dev"];
        args.extend_from_slice(extra);
        Self::start(&args, log_dir)
    }

    /// Starts `platon run` with the given args (ports are chosen here) and waits until JSON-RPC answers.
    /// If another test grabbed a chosen port first, it tries again with new ports.
    pub fn start(extra: &[&str], log_dir: &Path) -> NodeProc {
        Self::try_start(extra, log_dir, &[])
            .unwrap_or_else(|log| panic!("platon did not start:\n{log}"))
    }

    /// Like [`NodeProc::start`] with extra environment variables; a node that exits or never serves
    /// gives its log as the error.
    pub fn try_start(
        extra: &[&str],
        log_dir: &Path,
        env: &[(String, String)],
    ) -> Result<NodeProc, String> {
        for attempt in 0.. {
            let (http, admin) = free_port_pair();
            let log = log_dir.join(format!("node-{http}.log"));
            let err = std::fs::File::create(&log).expect("log file");
            let mut args = vec![
                "run".to_string(),
                "--http.port".into(),
                http.to_string(),
                "--admin.port".into(),
                admin.to_string(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(env!("CARGO_BIN_EXE_platon"))
                .args(&args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::from(err))
                .spawn()
                .expect("spawn platon");
            let mut node = NodeProc {
                child,
                http,
                admin,
                log,
            };
            match node.wait_ready() {
                Ok(()) => return Ok(node),
                Err(log) if attempt < 3 && log.contains("cannot listen") => continue,
                Err(log) => return Err(log),
            }
        }
        unreachable!("the loop returns or panics")
    }

    /// Waits until eth_chainId answers; on exit or timeout returns the node's log.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log_text()));
            }
            if rpc_full(self.http, "eth_chainId", json!([])).is_ok() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!("never served: {}", self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node's stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `platon ARGS`: whether it succeeded, and its stdout and stderr together.
pub fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(args)
        .output()
        .expect("platon");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The node's block number, if it answers.
pub fn block_number(p: u16) -> Option<u64> {
    let r = rpc_full(p, "eth_blockNumber", json!([])).ok()?;
    r["result"]
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
}

/// `platon localnet init --nodes 1 --validators 1 EXTRA` into `dir/net`: the node's config file and
/// data directory.
pub fn one_validator_net(dir: &Path, extra: &[&str]) -> (PathBuf, PathBuf) {
    let out = dir.join("net");
    let subnet = 100 + (std::process::id() % 150) as u8;
    let mut args = vec!["--nodes", "1", "--validators", "1"];
    args.extend_from_slice(extra);
    localnet_init(&out, subnet, &args);
    (out.join("node1.toml"), out.join("node1"))
}

/// `platon localnet init ARGS --subnet SUBNET --out OUT`: the network's `localnet.json`.
pub fn localnet_init(out: &Path, subnet: u8, args: &[&str]) -> serde_json::Value {
    let st = Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["localnet", "init"])
        .args(args)
        .args(["--subnet", &subnet.to_string(), "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("localnet init");
    assert!(st.success(), "localnet init");
    platon_node::localnet::read(&out.join("localnet.json")).expect("localnet.json")
}

/// `platon run --config` on loopback ports chosen here.
pub fn run_config(config: &Path, dir: &Path, env: &[(String, String)]) -> Result<NodeProc, String> {
    let config = config.to_str().expect("utf8");
    NodeProc::try_start(
        &[
            "--config",
            config,
            "--http.addr",
            "127.0.0.1",
            "--admin.addr",
            "127.0.0.1",
        ],
        dir,
        env,
    )
}
