//! The web admin console and `/metrics`, served by the admin listener beside its JSON-RPC.
//!
//! Routes (everything else goes on to the admin JSON-RPC, HTTP or WebSocket):
//! - `GET /console` (and `GET /`, redirected there): the console page (static HTML and JavaScript, no
//!   outside resources).
//! - `POST /console/login`: takes the admin token as `Authorization: Bearer <token>` and answers with a
//!   session cookie (`HttpOnly; SameSite=Strict`), so the page's WebSocket is authorized without the
//!   token in script-readable storage. `POST /console/logout` ends the session.
//! - `GET /metrics`: Prometheus metrics (OpenMetrics text); the token is required when one is set.
//!
//! The page subscribes to `admin_subscribeConsole` over WebSocket and redraws on each snapshot (one a
//! second): the supervision tree, peers and overlay statistics, consensus with the round's validators'
//! QC participation and recent view changes, recent blocks and transactions, the pool. It searches
//! with `admin_search` and restarts actors or injects faults through the admin methods, which need
//! the token (or a session) and are logged.

use crate::handles::{CbftHandle, OverlayHandle, TxPoolHandle};
use crate::NodeContext;
use alloy_primitives::{Address, B256};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The console page.
const PAGE: &str = include_str!("console.html");

/// The session cookie's name.
pub const COOKIE: &str = "platon_admin";

/// Sessions kept at most; the oldest is dropped past this.
pub const MAX_SESSIONS: usize = 64;

/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Blocks shown in the console's recent list.
pub const RECENT_BLOCKS: u64 = 12;

/// Transactions shown in the console's recent list.
pub const RECENT_TXS: usize = 20;

/// The console's login sessions: random ids with their expiry, bounded.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    /// A new session id, valid for [`SESSION_TTL`].
    pub fn open(&self) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut m = self.map.lock();
        m.retain(|_, exp| *exp > now);
        while m.len() >= MAX_SESSIONS {
            let Some(oldest) = m.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) else {
                break;
            };
            m.remove(&oldest);
        }
        m.insert(id.clone(), now + SESSION_TTL);
        id
    }

    /// Whether `id` is a live session.
    pub fn valid(&self, id: &str) -> bool {
        let m = self.map.lock();
        // Compared in constant time against each: ids are secrets.
        m.iter().any(|(k, exp)| {
            crate::admin::constant_time_eq(k.as_bytes(), id.as_bytes()) && *exp > Instant::now()
        })
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        self.map.lock().remove(id);
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session id in a request's `Cookie` header.
pub fn session_cookie(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether a browser request comes from the console's own page: no `Origin` (not a browser's
/// cross-origin request) or an `Origin` whose host is the request's `Host`.
pub fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(http::header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o == host)
}

/// How the admin listener decides who may call it.
#[derive(Debug)]
pub struct Access {
    /// `Bearer <token>`, when a token is set.
    pub bearer: Option<String>,
    /// Console sessions.
    pub sessions: Sessions,
}

impl Access {
    /// Whether `headers` carry the token (always, when none is set).
    pub fn has_token(&self, headers: &http::HeaderMap) -> bool {
        self.bearer.as_ref().is_none_or(|bearer| {
            headers
                .get(http::header::AUTHORIZATION)
                .is_some_and(|v| crate::admin::constant_time_eq(v.as_bytes(), bearer.as_bytes()))
        })
    }

    /// Whether `headers` carry the token, or a live session cookie from the console's own origin.
    pub fn allows(&self, headers: &http::HeaderMap) -> bool {
        self.has_token(headers)
            || (same_origin(headers)
                && session_cookie(headers).is_some_and(|id| self.sessions.valid(&id)))
    }
}

fn response(status: http::StatusCode, content_type: &str, body: impl Into<String>) -> HttpResponse {
    let mut r = HttpResponse::new(HttpBody::from(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    r
}

fn json_response(status: http::StatusCode, v: Value) -> HttpResponse {
    response(status, "application/json", v.to_string())
}

/// `r` with the session cookie set to `id` for `max_age` seconds (0 with an empty id: cleared).
fn with_session_cookie(mut r: HttpResponse, id: &str, max_age: u64) -> HttpResponse {
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}");
    if let Ok(v) = http::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    r
}

/// The admin listener's HTTP layer: serves the console and `/metrics`, and marks every JSON-RPC
/// request with whether it is authorized.
#[derive(Clone)]
pub struct AdminHttp<S> {
    inner: S,
    node: NodeContext,
    access: Arc<Access>,
}

impl<S> AdminHttp<S> {
    /// Wraps the JSON-RPC service `inner`.
    pub fn new(inner: S, node: NodeContext, access: Arc<Access>) -> Self {
        Self {
            inner,
            node,
            access,
        }
    }
}

/// The tower layer of [`AdminHttp`].
#[derive(Clone, Debug)]
pub struct AdminHttpLayer {
    /// The node.
    pub node: NodeContext,
    /// Who may call.
    pub access: Arc<Access>,
}

impl<S> tower::Layer<S> for AdminHttpLayer {
    type Service = AdminHttp<S>;
    fn layer(&self, inner: S) -> AdminHttp<S> {
        AdminHttp::new(inner, self.node.clone(), self.access.clone())
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> tower::Service<HttpRequest> for AdminHttp<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = jsonrpsee::core::BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = jsonrpsee::core::BoxError;
    type Future = BoxFuture<Result<HttpResponse, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        use http::{Method, StatusCode};
        let path = req.uri().path().to_string();
        let allowed = self.access.allows(req.headers());
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "/console") => {
                Box::pin(
                    async move { Ok(response(StatusCode::OK, "text/html; charset=utf-8", PAGE)) },
                )
            }
            // A browser opening the listener's address lands on the console; WebSocket upgrades on
            // `/` go on to the JSON-RPC server.
            (Method::GET, "/") if !upgrade => Box::pin(async move {
                let mut r = response(StatusCode::FOUND, "text/plain", "see /console\n");
                r.headers_mut().insert(
                    http::header::LOCATION,
                    http::HeaderValue::from_static("/console"),
                );
                Ok(r)
            }),
            (Method::GET, "/favicon.ico") => {
                Box::pin(async move { Ok(response(StatusCode::NO_CONTENT, "image/x-icon", "")) })
            }
            (Method::GET, "/metrics") => {
                let node = self.node.clone();
                Box::pin(async move {
                    if !allowed {
                        return Ok(response(
                            StatusCode::UNAUTHORIZED,
                            "text/plain",
                            "unauthorized: send the admin token as 'Authorization: Bearer <token>'\n",
                        ));
                    }
                    let body = node.metrics.render(&node).await;
                    Ok(response(
                        StatusCode::OK,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        body,
                    ))
                })
            }
            (Method::POST, "/console/login") => {
                let access = self.access.clone();
                let token_ok = access.has_token(req.headers());
                let same = same_origin(req.headers());
                Box::pin(async move {
                    if !same {
                        return Ok(json_response(
                            StatusCode::FORBIDDEN,
                            json!({"error": "the login must come from the console's own page"}),
                        ));
                    }
                    if !token_ok {
                        tracing::warn!("admin console: a login with a wrong token was refused");
                        return Ok(json_response(
                            StatusCode::UNAUTHORIZED,
                            json!({"error": "wrong admin token"}),
                        ));
                    }
                    let id = access.sessions.open();
                    tracing::info!(sessions = access.sessions.len(), "admin console: logged in");
                    let r = json_response(
                        StatusCode::OK,
                        json!({"ok": true, "tokenRequired": access.bearer.is_some()}),
                    );
                    Ok(with_session_cookie(r, &id, SESSION_TTL.as_secs()))
                })
            }
            (Method::POST, "/console/logout") => {
                if let Some(id) = session_cookie(req.headers()) {
                    self.access.sessions.close(&id);
                }
                Box::pin(async move {
                    let r = json_response(StatusCode::OK, json!({"ok": true}));
                    Ok(with_session_cookie(r, "", 0))
                })
            }
            _ => {
                req.extensions_mut()
                    .insert(crate::admin::Authorized(allowed));
                let fut = self.inner.call(req);
                Box::pin(fut)
            }
        }
    }
}

fn block_row(b: &platon_messages::Block) -> Value {
    let h = &b.header;
    json!({
        "number": h.number,
        "hash": b.hash(),
        "txs": b.transactions.len(),
        "gasUsed": h.gas_used,
        "timestamp": h.timestamp,
        "beneficiary": h.beneficiary,
    })
}

fn tx_row(t: &platon_messages::SignedTransaction, block: Option<u64>) -> Value {
    json!({
        "hash": t.hash,
        "from": t.sender,
        "to": t.body.kind().to(),
        "value": t.body.value().to_string(),
        "nonce": t.body.nonce(),
        "block": block,
    })
}

/// One console snapshot: everything the page shows.
pub async fn snapshot(node: &NodeContext) -> Value {
    let reg = &node.registry;
    let actors = reg.snapshot();
    // The recent blocks are storage reads: off the runtime's workers.
    let (head, blocks, txs) = crate::blocking(|| {
        let head = node.store.head_header().ok();
        let mut blocks = Vec::new();
        let mut txs = Vec::new();
        if let Some(h) = &head {
            let low = h.number.saturating_sub(RECENT_BLOCKS - 1);
            for n in (low..=h.number).rev() {
                if let Ok(Some(b)) = node.store.block_by_number(n) {
                    for t in &b.transactions {
                        if txs.len() < RECENT_TXS {
                            txs.push(tx_row(t, Some(n)));
                        }
                    }
                    blocks.push(block_row(&b));
                }
            }
        }
        (head, blocks, txs)
    });
    let pool = TxPoolHandle(reg.clone())
        .status()
        .await
        .ok()
        .map(|p| json!({"pending": p.pending, "queued": p.queued}));
    let cbft = CbftHandle(reg.clone());
    let cbft = if cbft.exists() {
        cbft.status()
            .await
            .unwrap_or_else(|e| json!({"error": e.to_string()}))
    } else {
        Value::Null
    };
    let vc = match crate::handles::VcPoolHandle(reg.clone()).tasks().await {
        Ok(t) => t,
        Err(platon_supervision::CallError::Unknown(_)) => Value::Null,
        Err(e) => json!({"error": e.to_string()}),
    };
    let overlay = OverlayHandle::of_node(reg.clone());
    let overlay = if overlay.exists() {
        let info = overlay.info().await.ok();
        let peers = overlay.peers().await.ok();
        let stats = overlay.stats().await.ok();
        json!({"info": info, "peers": peers, "stats": stats})
    } else {
        Value::Null
    };
    json!({
        "node": {
            "role": node.config.node.role.name(),
            "chainId": node.config.chain.chain_id,
            "dev": node.config.dev.enabled,
            "faults": reg.faults_enabled(),
            "datadir": node.datadir.display().to_string(),
            "version": env!("CARGO_PKG_VERSION"),
        },
        "actors": actors,
        "head": head.as_ref().map(|h| json!({"number": h.number, "hash": h.hash()})),
        "blocks": blocks,
        "txs": txs,
        "pool": pool,
        "cbft": cbft,
        "overlay": overlay,
        // A computing node's VC tasks (MPC is not built yet).
        "vc": vc,
        "mpc": Value::Null,
    })
}

/// What `admin_search(q)` finds: a block by number or hash, a transaction by hash, or an account.
pub fn search(node: &NodeContext, q: &str) -> Result<Value, String> {
    let q = q.trim();
    let store = &node.store;
    let err = |e: platon_storage::StorageError| e.to_string();
    if let Ok(n) = q.parse::<u64>() {
        return match store.block_by_number(n).map_err(err)? {
            Some(b) => Ok(json!({"kind": "block", "block": block_detail(&b)})),
            None => Ok(json!({"kind": "none", "query": q})),
        };
    }
    let hex = q.strip_prefix("0x").unwrap_or(q);
    if hex.len() == 64 {
        let hash: B256 = q.parse().map_err(|_| format!("{q:?} is not a hex hash"))?;
        if let Some(b) = store.block_by_hash(&hash).map_err(err)? {
            return Ok(json!({"kind": "block", "block": block_detail(&b)}));
        }
        if let Some(loc) = store.tx_location(&hash).map_err(err)? {
            let block = store.block_by_hash(&loc.block_hash).map_err(err)?;
            let tx = block
                .as_ref()
                .and_then(|b| b.transactions.get(loc.index as usize).map(|t| (b, t)));
            if let Some((b, t)) = tx {
                let receipt = store
                    .receipts(&loc.block_hash)
                    .map_err(err)?
                    .and_then(|r| r.get(loc.index as usize).cloned());
                return Ok(json!({
                    "kind": "transaction",
                    "transaction": tx_row(t, Some(b.header.number)),
                    "blockHash": loc.block_hash,
                    "status": receipt.as_ref().map(|r| r.success),
                    "gasUsed": receipt.as_ref().map(|r| r.cumulative_gas_used),
                }));
            }
        }
        return Ok(json!({"kind": "none", "query": q}));
    }
    if hex.len() == 40 {
        let addr: Address = q
            .parse()
            .map_err(|_| format!("{q:?} is not a hex address"))?;
        let head = store.head_header().map_err(err)?;
        let state = store.state_at(head.state_root);
        let acct = state.account(&addr).map_err(err)?;
        let code = state.code(&addr).map_err(err)?;
        return Ok(json!({
            "kind": "account",
            "address": addr,
            "balance": acct.balance.to_string(),
            "nonce": acct.nonce,
            "codeBytes": code.len(),
            "atBlock": head.number,
        }));
    }
    Err(format!(
        "search by block number, block or transaction hash (0x and 64 hex digits) or address (0x and 40); got {q:?}"
    ))
}

fn block_detail(b: &platon_messages::Block) -> Value {
    let mut v = block_row(b);
    v["parentHash"] = json!(b.header.parent_hash);
    v["stateRoot"] = json!(b.header.state_root);
    v["transactions"] = json!(b
        .transactions
        .iter()
        .map(|t| tx_row(t, Some(b.header.number)))
        .collect::<Vec<_>>());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                http::HeaderValue::from_str(v).expect("header value"),
            );
        }
        h
    }

    #[test]
    fn sessions_are_bounded_and_checked() {
        let s = Sessions::default();
        let first = s.open();
        assert!(s.valid(&first));
        assert!(!s.valid("nope"));
        for _ in 0..MAX_SESSIONS {
            s.open();
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(!s.valid(&first), "the oldest session is dropped");
        let id = s.open();
        s.close(&id);
        assert!(!s.valid(&id));
    }

    #[test]
    fn cookie_and_origin_rules() {
        let access = Access {
            bearer: Some("Bearer t0k".into()),
            sessions: Sessions::default(),
        };
        let id = access.sessions.open();
        let cookie = format!("a=b; {COOKIE}={id}");
        assert!(access.allows(&headers(&[("authorization", "Bearer t0k")])));
        assert!(!access.allows(&headers(&[("authorization", "Bearer t0x")])));
        assert!(access.allows(&headers(&[("cookie", &cookie), ("host", "127.0.0.1:6790")])));
        assert!(access.allows(&headers(&[
            ("cookie", &cookie),
            ("host", "127.0.0.1:6790"),
            ("origin", "http://127.0.0.1:6790"),
        ])));
        // A page elsewhere cannot ride the session.
        assert!(!access.allows(&headers(&[
            ("cookie", &cookie),
            ("host", "127.0.0.1:6790"),
            ("origin", "http://evil.example"),
        ])));
        assert!(!access.allows(&headers(&[("cookie", &format!("{COOKIE}=forged"))])));
        let open = Access {
            bearer: None,
            sessions: Sessions::default(),
        };
        assert!(open.allows(&headers(&[])));
    }
}
