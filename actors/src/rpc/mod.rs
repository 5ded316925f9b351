//! The JSON-RPC gateway: Ethereum-compatible `eth_*`, `net_*`, `web3_*` and `txpool_*` methods over
//! HTTP and WebSocket on one port (jsonrpsee), with geth's error codes and messages.
//!
//! The `rpc` actor owns the server: its `init` binds the port and starts serving, its state's `Drop`
//! stops the server, so a restart rebinds cleanly. Writes go to the txpool through its handle; reads go
//! to the shared chain store.

mod debug;
mod evm;
pub mod fuzz;
pub mod json;
pub mod limits;
mod methods;
mod simulate;

use crate::{names, NodeContext};
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::RpcModule;
use platon_messages::actors::RpcMsg;
use platon_messages::Header;
use platon_supervision::{BoxError, Ctx, Service};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::broadcast;

pub use methods::RpcCtx;

/// Capacity of the new-heads broadcast; a subscriber that falls further behind skips heads.
const HEADS_CAPACITY: usize = 256;

/// The `rpc` gateway actor.
#[derive(Debug)]
pub struct RpcService {
    /// Shared node context.
    pub node: NodeContext,
}

/// The running server; dropping it stops the server.
pub struct RpcState {
    handle: ServerHandle,
    heads: broadcast::Sender<Header>,
    /// The bound address.
    pub addr: SocketAddr,
}

impl Drop for RpcState {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

/// Binds `addr`, retrying briefly when a previous incarnation's socket is still closing.
pub(crate) async fn bind_with_retry<F, Fut, T>(
    addr: SocketAddr,
    flag: &str,
    mut bind: F,
) -> Result<T, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<T>>,
{
    let mut last = None;
    for _ in 0..25 {
        match bind().await {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("cannot listen on {addr}: {e}; change {flag}").into()),
        }
    }
    Err(format!(
        "cannot listen on {addr}: {}; another process holds the port: stop it or choose another with {flag}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
    .into())
}

/// Subscription ids as geth makes them: `0x` and 32 hex digits (web3.py checks the shape).
#[derive(Debug, Clone, Copy)]
pub struct GethSubscriptionIds;

impl jsonrpsee::core::traits::IdProvider for GethSubscriptionIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let bytes: [u8; 16] = rand::random();
        jsonrpsee::types::SubscriptionId::Str(format!("0x{}", hex::encode(bytes)).into())
    }
}

impl Service for RpcService {
    type Msg = RpcMsg;
    type State = RpcState;

    async fn init(&self, _ctx: &Ctx<RpcMsg>) -> Result<RpcState, BoxError> {
        let cfg = &self.node.config.http;
        let (heads, _) = broadcast::channel(HEADS_CAPACITY);
        let mut module = RpcModule::new(RpcCtx {
            node: self.node.clone(),
            heads: heads.clone(),
            filters: Default::default(),
        });
        methods::register(&mut module)?;
        let addr = SocketAddr::new(cfg.addr, cfg.port);
        let server_cfg = ServerConfig::builder()
            .max_request_body_size(cfg.max_request_bytes)
            .max_response_body_size(cfg.max_request_bytes.saturating_mul(4))
            .max_connections(cfg.max_connections)
            .set_batch_request_config(BatchRequestConfig::Limit(cfg.max_batch_len))
            .set_id_provider(GethSubscriptionIds)
            .build();
        self.node.metrics.set_rpc_methods(module.method_names());
        let metrics = self.node.metrics.clone();
        let per_conn = cfg.max_requests_per_sec;
        let server = bind_with_retry(addr, "--http.addr/--http.port", || {
            let metrics = metrics.clone();
            // Built once per connection: each gets its own bucket.
            let rpc_middleware = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
                .layer_fn(move |s| limits::ConnLimit::new(s, per_conn))
                .layer_fn(move |s| crate::metrics::RpcTimer::new(s, metrics.clone()));
            Server::builder()
                .set_config(server_cfg.clone())
                .set_rpc_middleware(rpc_middleware)
                .build(addr)
        })
        .await?;
        let bound = server.local_addr()?;
        let handle = server.start(module);
        tracing::info!("JSON-RPC (HTTP and WebSocket) listening on http://{bound}");
        Ok(RpcState {
            handle,
            heads,
            addr: bound,
        })
    }

    async fn handle(
        &self,
        _ctx: &Ctx<RpcMsg>,
        msg: RpcMsg,
        state: &mut RpcState,
    ) -> Result<(), BoxError> {
        match msg {
            RpcMsg::NewHead(h) => {
                // No subscribers is fine.
                let _ = state.heads.send(*h);
            }
        }
        Ok(())
    }
}

/// The actor name, for callers that count requests.
pub const NAME: &str = names::RPC;
