//! The `redir` actor: registers this node under its services in ReDiR (refreshing before the
//! records expire) and answers `platon_findService` lookups, running the walks of [`super::walk`]
//! through the `overlay` actor.

use super::walk::{Action, Input, Lookup, Provider, Registration, TreeParams};
use super::{all_records, records, Walk};
use crate::overlay::service::OverlayMsg;
use platon_messages::reload::{kind, NodeId};
use platon_supervision::{BoxError, Ctx, Registry, Service};
use ractor::RpcReplyPort;
use std::sync::Arc;
use std::time::Duration;

/// Runs a walk through the overlay actor named `overlay`.
pub async fn drive(
    registry: &Arc<Registry>,
    overlay: &str,
    walk: &mut dyn Walk,
    lifetime: u32,
) -> Result<Option<Provider>, String> {
    let mut action = walk.step(Input::Start);
    loop {
        let addr = registry
            .lookup::<OverlayMsg>(overlay)
            .map_err(|e| e.to_string())?;
        action = match action {
            Action::Done(p) => return Ok(p),
            Action::Store { resource, record } => {
                let value = super::walk::to_value(&record).map_err(|e| e.to_string())?;
                addr.call(|reply| OverlayMsg::Store {
                    resource,
                    kind: kind::REDIR,
                    values: vec![value],
                    lifetime,
                    reply,
                })
                .await
                .map_err(|e| e.to_string())??;
                walk.step(Input::Stored)
            }
            Action::Fetch { resource, .. } => {
                let kinds = addr
                    .call(|reply| OverlayMsg::Fetch {
                        resource,
                        specifiers: all_records(),
                        reply,
                    })
                    .await
                    .map_err(|e| e.to_string())??;
                walk.step(Input::Fetched(records(&kinds)))
            }
        };
    }
}

/// Messages of the `redir` actor.
#[derive(Debug)]
pub enum RedirMsg {
    /// Register (or refresh) every service of this node.
    Refresh,
    /// A registration finished.
    Registered {
        /// Service.
        service: String,
        /// Outcome.
        result: Result<(), String>,
    },
    /// The provider of `service` that ReDiR returns for `key`.
    Find {
        /// Service namespace.
        service: String,
        /// Key.
        key: NodeId,
        /// The provider, or none registered.
        reply: RpcReplyPort<Result<Option<Provider>, String>>,
    },
    /// When each service was last registered.
    Status(RpcReplyPort<Vec<(String, Option<String>)>>),
}

/// The redir service.
pub struct RedirService {
    /// Tree shape.
    pub tree: TreeParams,
    /// Services to register under.
    pub services: Vec<String>,
    /// This node.
    pub node_id: NodeId,
    /// The overlay actor's name.
    pub overlay: String,
}

/// Registration results by service.
pub struct RedirState {
    last: std::collections::BTreeMap<String, Option<String>>,
}

impl Service for RedirService {
    type Msg = RedirMsg;
    type State = RedirState;

    async fn init(&self, ctx: &Ctx<RedirMsg>) -> Result<RedirState, BoxError> {
        // Give the overlay a moment to join before the first registration.
        ctx.send_after(Duration::from_secs(2), RedirMsg::Refresh);
        Ok(RedirState {
            last: self.services.iter().map(|s| (s.clone(), None)).collect(),
        })
    }

    async fn handle(
        &self,
        ctx: &Ctx<RedirMsg>,
        msg: RedirMsg,
        st: &mut RedirState,
    ) -> Result<(), BoxError> {
        match msg {
            RedirMsg::Refresh => {
                for service in &self.services {
                    let registry = ctx.registry.clone();
                    let overlay = self.overlay.clone();
                    let mut walk = Registration::new(self.tree, service, self.node_id);
                    let lifetime = self.tree.lifetime;
                    let service = service.clone();
                    let me = ctx.name.clone();
                    tokio::spawn(async move {
                        let result = drive(&registry, &overlay, &mut walk, lifetime)
                            .await
                            .map(|_| ());
                        if let Ok(a) = registry.lookup::<RedirMsg>(&me) {
                            let _ = a.send(RedirMsg::Registered { service, result });
                        }
                    });
                }
                let half = u64::from(self.tree.lifetime.max(2)) / 2;
                ctx.send_after(Duration::from_secs(half), RedirMsg::Refresh);
            }
            RedirMsg::Registered { service, result } => {
                let text = match result {
                    Ok(()) => "registered".to_string(),
                    Err(e) => {
                        tracing::warn!(%service, error = %e, "redir: registration failed; retrying");
                        ctx.send_after(Duration::from_secs(5), RedirMsg::Refresh);
                        format!("failed: {e}")
                    }
                };
                st.last.insert(service, Some(text));
            }
            RedirMsg::Find {
                service,
                key,
                reply,
            } => {
                let registry = ctx.registry.clone();
                let overlay = self.overlay.clone();
                let tree = self.tree;
                tokio::spawn(async move {
                    let mut walk = Lookup::new(tree, &service, key.0);
                    let _ = reply.send(drive(&registry, &overlay, &mut walk, tree.lifetime).await);
                });
            }
            RedirMsg::Status(reply) => {
                let _ = reply.send(st.last.clone().into_iter().collect());
            }
        }
        Ok(())
    }
}
