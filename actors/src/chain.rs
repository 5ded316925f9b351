//! The `chain` actor: the single writer of blocks, receipts and state. A commit is one atomic,
//! fsynced batch; the reply is sent only after it is durable, then `newHeads` subscribers are told.

use crate::handles::RpcHandle;
use crate::NodeContext;
use platon_messages::actors::ChainMsg;
use platon_supervision::{BoxError, Ctx, Service};

/// The `chain` actor.
#[derive(Debug)]
pub struct ChainService {
    /// Shared node context.
    pub node: NodeContext,
}

impl Service for ChainService {
    type Msg = ChainMsg;
    type State = ();

    async fn init(&self, _ctx: &Ctx<ChainMsg>) -> Result<(), BoxError> {
        // The store is the state: check the head is readable before serving.
        let head = self.node.store.head()?;
        tracing::info!(number = head.header.number, hash = %head.hash(), "chain head");
        Ok(())
    }

    async fn handle(
        &self,
        _ctx: &Ctx<ChainMsg>,
        msg: ChainMsg,
        _: &mut (),
    ) -> Result<(), BoxError> {
        match msg {
            ChainMsg::Commit { block, reply } => {
                let header = block.block.header.clone();
                let txs = block.block.transactions.len();
                // snapshotdb first: its commit is durable before the chain records the block, so every
                // committed block's staking data survives a crash; a crash in between leaves snapshotdb
                // one block ahead, and its next start undoes that commit (the chain is the record).
                match crate::handles::SnapshotHandle(self.node.registry.clone())
                    .commit_block(&block)
                    .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        let _ = reply.send(Err(format!("snapshotdb refused the block: {e}")));
                        return Ok(());
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!("snapshotdb is unavailable: {e}")));
                        return Ok(());
                    }
                }
                // The batch write and its fsync: on a blocking thread, never on a runtime worker.
                let node = self.node.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let started = std::time::Instant::now();
                    let res = node.store.commit_block(&block);
                    node.metrics.block_committed(started);
                    res
                })
                .await?;
                match res {
                    Ok(()) => {
                        tracing::info!(
                            number = header.number,
                            hash = %header.hash(),
                            txs,
                            gas_used = header.gas_used,
                            "block committed"
                        );
                        let _ = reply.send(Ok(header.clone()));
                        crate::handles::VcPoolHandle(self.node.registry.clone())
                            .committed(header.number);
                        let _ = RpcHandle(self.node.registry.clone()).new_head(header);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            ChainMsg::Head(reply) => {
                let _ = reply.send(self.node.store.head()?);
            }
        }
        Ok(())
    }
}
