//! The `redir` actor: registers this node under its services in ReDiR (refreshing before the
//! records expire) and answers `platon_findService` lookups, running the walks of [`super::walk`]
//! through the `overlay` actor.

use super::walk::{Action, Input, Lookup, Provider, Registration, TreeParams};
use super::{all_records, records, Walk};
use crate::handles::{OverlayHandle, RedirHandle};
use platon_messages::reload::{kind, NodeId};
use platon_supervision::{BoxError, Ctx, Registry, Service};
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
    let overlay = OverlayHandle::new(registry.clone(), overlay);
    loop {
        action = match action {
            Action::Done(p) => return Ok(p),
            Action::Store { resource, record } => {
                let value = super::walk::to_value(&record).map_err(|e| e.to_string())?;
                overlay
                    .store(resource, kind::REDIR, vec![value], lifetime)
                    .await
                    .map_err(|e| e.to_string())??;
                walk.step(Input::Stored)
            }
            Action::Fetch { resource, .. } => {
                let kinds = overlay
                    .fetch(resource, all_records())
                    .await
                    .map_err(|e| e.to_string())??;
                walk.step(Input::Fetched(records(&kinds)))
            }
        };
    }
}

pub use platon_messages::actors::RedirMsg;

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
                        let _ = RedirHandle::new(registry, &me)
                            .send(RedirMsg::Registered { service, result });
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
