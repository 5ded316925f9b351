//! The admin console listener: `admin_actors` (the supervision tree with each actor's introspection),
//! `admin_restartActor(name)`, the overlay's `admin_nodeInfo`, `admin_peers` and
//! `admin_overlayStats`, and, only with `--admin.faults`, `admin_injectFault(name, kind[, arg])` and
//! `admin_equivocate()` (this validator signs a conflicting vote: a double sign for tests).
//!
//! It listens on its own address (default 127.0.0.1:6790), separate from the public gateway, and also
//! serves the web console and `/metrics` there ([`crate::console`]). When a token is configured every
//! request must carry `Authorization: Bearer <token>`, or the console's session cookie.

use crate::handles::{CbftHandle, OverlayHandle};
use crate::rpc::bind_with_retry;
use crate::rpc::json::{invalid_params, rpc_err, SERVER_ERROR};
use crate::NodeContext;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, RpcModule};
use platon_messages::actors::AdminMsg;
use platon_supervision::{BoxError, CallError, Ctx, Fault, Registry, Service};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Default stall of `admin_injectFault(name, "stall")` when no duration is given.
pub const DEFAULT_STALL_MS: u64 = 10_000;

/// Whether the request carried the right bearer token or a console session (inserted by the HTTP
/// layer).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Authorized(pub(crate) bool);

/// How often `admin_subscribeConsole` sends a snapshot.
pub const CONSOLE_INTERVAL: Duration = Duration::from_secs(1);

/// The `admin` actor.
#[derive(Debug)]
pub struct AdminService {
    /// Shared node context.
    pub node: NodeContext,
}

/// The running admin server; dropping it stops the server.
pub struct AdminState {
    handle: ServerHandle,
    /// The bound address.
    pub addr: SocketAddr,
}

impl Drop for AdminState {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

fn check(ext: &Extensions) -> Result<(), ErrorObjectOwned> {
    match ext.get::<Authorized>() {
        Some(Authorized(true)) => Ok(()),
        _ => Err(rpc_err(
            -32001,
            "unauthorized: send the admin token as 'Authorization: Bearer <token>'",
        )),
    }
}

fn call_err(e: CallError) -> ErrorObjectOwned {
    rpc_err(SERVER_ERROR, e.to_string())
}

/// Compares secrets without an early exit, so response timing does not leak a matching prefix.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses a fault kind and its optional argument (stall milliseconds, drop count).
pub fn parse_fault(kind: &str, arg: Option<u64>) -> Result<Fault, String> {
    match kind {
        "panic" => Ok(Fault::Panic),
        "stall" => Ok(Fault::Stall(Duration::from_millis(
            arg.unwrap_or(DEFAULT_STALL_MS),
        ))),
        "drop" => Ok(Fault::Drop(
            u32::try_from(arg.unwrap_or(1)).map_err(|_| "drop count too large".to_string())?,
        )),
        other => Err(format!(
            "unknown fault kind {other:?}: use panic, stall or drop"
        )),
    }
}

fn overlay(reg: &Arc<Registry>) -> Result<OverlayHandle, ErrorObjectOwned> {
    let o = OverlayHandle::of_node(reg.clone());
    if !o.exists() {
        return Err(ErrorObjectOwned::owned(
            -32000,
            "this node is not in an overlay (overlay.enabled is false)",
            None::<()>,
        ));
    }
    Ok(o)
}

fn module(
    node: NodeContext,
) -> Result<RpcModule<NodeContext>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(node);
    m.register_method(
        "admin_actors",
        |_, node, ext| -> Result<Value, ErrorObjectOwned> {
            check(ext)?;
            Ok(json!(node.registry.snapshot()))
        },
    )?;
    m.register_async_method("admin_console", |_, node, ext| async move {
        check(&ext)?;
        Ok::<_, ErrorObjectOwned>(crate::console::snapshot(&node).await)
    })?;
    m.register_method(
        "admin_search",
        |p, node, ext| -> Result<Value, ErrorObjectOwned> {
            check(ext)?;
            let (q,): (String,) = p.parse()?;
            crate::blocking(|| crate::console::search(node, &q)).map_err(invalid_params)
        },
    )?;
    m.register_subscription(
        "admin_subscribeConsole",
        "admin_console",
        "admin_unsubscribeConsole",
        |_, pending, node, ext| async move {
            if let Err(e) = check(&ext) {
                pending.reject(e).await;
                return Ok(());
            }
            let Ok(sink) = pending.accept().await else {
                return Ok(());
            };
            loop {
                let snap = crate::console::snapshot(&node).await;
                let Ok(raw) = serde_json::value::to_raw_value(&snap) else {
                    return Ok(());
                };
                if sink
                    .send(jsonrpsee::SubscriptionMessage::from(raw))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    _ = tokio::time::sleep(CONSOLE_INTERVAL) => {}
                }
            }
        },
    )?;
    m.register_async_method("admin_nodeInfo", |_, node, ext| async move {
        check(&ext)?;
        // The overlay's identity and counters (when the node is in one), with the role and what
        // the role runs.
        let o = OverlayHandle::of_node(node.registry.clone());
        let mut info = if o.exists() {
            json!(o.info().await.map_err(call_err)?)
        } else {
            json!({ "id": null, "listen": null })
        };
        let c = &node.config;
        info["role"] = json!(c.node.role.name());
        info["rpc"] = json!(c.rpc_enabled());
        info["chain"] = json!(c.has_chain());
        info["chainId"] = json!(c.chain.chain_id);
        info["stateMode"] = match node.store.mode() {
            _ if !c.has_chain() => Value::Null,
            platon_storage::chain::StateMode::Archive => json!("archive"),
            platon_storage::chain::StateMode::Full { .. } => json!("full"),
        };
        Ok::<_, ErrorObjectOwned>(info)
    })?;
    m.register_async_method("admin_peers", |_, node, ext| async move {
        check(&ext)?;
        let o = overlay(&node.registry)?;
        let peers = o.peers().await.map_err(call_err)?;
        Ok::<_, ErrorObjectOwned>(json!(peers))
    })?;
    m.register_async_method("admin_overlayStats", |_, node, ext| async move {
        check(&ext)?;
        let o = overlay(&node.registry)?;
        let s = o.stats().await.map_err(call_err)?;
        let p = &s.protocol;
        let mean = if p.lookups == 0 {
            0.0
        } else {
            p.lookup_hops_total as f64 / p.lookups as f64
        };
        Ok::<_, ErrorObjectOwned>(json!({
            "messagesReceived": p.received,
            "messagesSent": p.sent,
            "floodCopies": p.flood_copies,
            "floodsDelivered": p.floods_delivered,
            "lookups": p.lookups,
            "lookupHopsMean": mean,
            "lookupHopsMax": p.lookup_hops_max,
            "routedDelivered": p.routed_delivered,
            "routedHopsMax": p.routed_hops_max,
            "timeouts": p.timeouts,
            "refusedMessages": p.refused,
            "links": s.links,
        }))
    })?;
    m.register_async_method("admin_restartActor", |p, node, ext| async move {
        check(&ext)?;
        let (name,): (String,) = p.parse()?;
        tracing::warn!(actor = %name, "admin: restart requested");
        node.registry.restart(&name).await.map_err(|e| {
            tracing::warn!(actor = %name, error = %e, "admin: restart failed");
            call_err(e)
        })?;
        tracing::info!(actor = %name, "admin: actor restarted");
        Ok::<_, ErrorObjectOwned>(json!(true))
    })?;
    m.register_async_method("admin_equivocate", |_, node, ext| async move {
        check(&ext)?;
        let reg = &node.registry;
        if !reg.faults_enabled() {
            return Err(rpc_err(
                SERVER_ERROR,
                "fault injection is off: start the node with --admin.faults",
            ));
        }
        let d = match CbftHandle(reg.clone()).equivocate().await {
            Err(CallError::Unknown(_)) => {
                return Err(rpc_err(SERVER_ERROR, "this node does not run consensus"))
            }
            r => r.map_err(call_err)?,
        }
        .map_err(|e| rpc_err(SERVER_ERROR, e))?;
        Ok::<_, ErrorObjectOwned>(json!({
            "epoch": d.epoch,
            "view": d.view,
            "index": d.index,
            "number": d.number,
            "hash": d.hash,
        }))
    })?;
    m.register_method(
        "admin_injectFault",
        |p, node, ext| -> Result<Value, ErrorObjectOwned> {
            check(ext)?;
            let mut seq = p.sequence();
            let name: String = seq.next()?;
            let kind: String = seq.next()?;
            let arg: Option<u64> = seq.optional_next()?;
            let fault = parse_fault(&kind, arg).map_err(invalid_params)?;
            tracing::warn!(actor = %name, fault = ?fault, "admin: fault injection requested");
            node.registry.inject_fault(&name, fault).map_err(call_err)?;
            Ok(json!(true))
        },
    )?;
    Ok(m)
}

impl Service for AdminService {
    type Msg = AdminMsg;
    type State = AdminState;

    async fn init(&self, _ctx: &Ctx<AdminMsg>) -> Result<AdminState, BoxError> {
        let cfg = &self.node.config.admin;
        let addr = SocketAddr::new(cfg.addr, cfg.port);
        let access = Arc::new(crate::console::Access {
            bearer: cfg.token.clone().map(|t| format!("Bearer {t}")),
            sessions: Default::default(),
        });
        let server_cfg = ServerConfig::builder()
            .max_request_body_size(64 * 1024)
            .max_connections(16)
            .max_subscriptions_per_connection(4)
            .build();
        let build = || {
            let middleware = tower::ServiceBuilder::new().layer(crate::console::AdminHttpLayer {
                node: self.node.clone(),
                access: access.clone(),
            });
            Server::builder()
                .set_config(server_cfg.clone())
                .set_http_middleware(middleware)
                .build(addr)
        };
        let server = bind_with_retry(addr, "--admin.addr/--admin.port", build).await?;
        let bound = server.local_addr()?;
        let handle = server.start(module(self.node.clone())?);
        tracing::info!(
            faults = self.node.registry.faults_enabled(),
            "admin API, console (http://{bound}/console) and metrics (http://{bound}/metrics) listening on http://{bound}"
        );
        Ok(AdminState {
            handle,
            addr: bound,
        })
    }

    async fn handle(
        &self,
        _ctx: &Ctx<AdminMsg>,
        msg: AdminMsg,
        _state: &mut AdminState,
    ) -> Result<(), BoxError> {
        match msg {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"Bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abd", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer abc"));
    }

    #[test]
    fn fault_kinds_parse() {
        assert_eq!(parse_fault("panic", None), Ok(Fault::Panic));
        assert_eq!(
            parse_fault("stall", Some(5)),
            Ok(Fault::Stall(Duration::from_millis(5)))
        );
        assert_eq!(parse_fault("drop", None), Ok(Fault::Drop(1)));
        assert!(parse_fault("explode", None).is_err());
    }
}
