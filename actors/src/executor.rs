//! The `executor` actor: runs a block's transactions on its parent's state and seals it. It keeps no
//! state of its own, so a restart loses nothing.

use crate::NodeContext;
use platon_messages::actors::ExecutorMsg;
use platon_supervision::{BoxError, Ctx, Service};

/// The `executor` actor.
#[derive(Debug)]
pub struct ExecutorService {
    /// Shared node context.
    pub node: NodeContext,
}

impl Service for ExecutorService {
    type Msg = ExecutorMsg;
    type State = ();

    async fn init(&self, _ctx: &Ctx<ExecutorMsg>) -> Result<(), BoxError> {
        Ok(())
    }

    async fn handle(
        &self,
        _ctx: &Ctx<ExecutorMsg>,
        msg: ExecutorMsg,
        _: &mut (),
    ) -> Result<(), BoxError> {
        match msg {
            ExecutorMsg::Execute {
                parent,
                txs,
                env,
                reply,
            } => {
                // CPU and trie reads: on a blocking thread, never on a runtime worker.
                let node = self.node.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let state = node.store.state_of(&parent);
                    let extra = alloy_primitives::Bytes::from_static(b"platon-rs");
                    node.execute_block(state, &parent, &env, txs, extra)
                        .map(Box::new)
                        .map_err(|e| e.to_string())
                })
                .await?;
                for (hash, why) in res
                    .as_ref()
                    .map(|b| b.rejected.as_slice())
                    .unwrap_or_default()
                {
                    tracing::debug!(%hash, "transaction not included: {why}");
                }
                let _ = reply.send(res);
            }
        }
        Ok(())
    }
}
