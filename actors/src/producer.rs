//! The `producer` actor: the dev chain's single proposer. When transactions wait (or the
//! `--dev.period` timer fires) it asks the txpool for a batch, has the executor build the block on the
//! head, and has the chain commit it. It holds no state a restart could lose: the head is read from
//! the store and the transactions stay in the (journaled) txpool until a block including them commits.

use crate::handles::{ChainHandle, ExecutorHandle, TxPoolHandle};
use crate::NodeContext;
use platon_messages::actors::{BlockEnv, ProducerMsg};
use platon_supervision::{BoxError, Ctx, Service};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// Delay before retrying after a subsystem was unreachable.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// The `producer` actor.
#[derive(Debug)]
pub struct ProducerService {
    /// Shared node context.
    pub node: NodeContext,
}

/// Producer state.
#[derive(Debug, Default)]
pub struct ProducerState {
    retry_pending: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ProducerService {
    /// Produces one block; returns how many transactions it included, or None when there was nothing
    /// to do (no transactions and `force` unset).
    async fn produce_one(&self, force: bool) -> Result<Option<usize>, String> {
        let reg = self.node.registry.clone();
        let parent =
            crate::blocking(|| self.node.store.head_header()).map_err(|e| e.to_string())?;
        let base_fee = platon_vm::next_base_fee(&parent);
        let cfg = &self.node.config;
        let gas_limit = cfg.chain.gas_limit;
        let txs = TxPoolHandle(reg.clone())
            .batch(cfg.txpool.max_block_txs, gas_limit, base_fee)
            .await
            .map_err(|e| e.to_string())?;
        if txs.is_empty() && !force {
            return Ok(None);
        }
        let number = parent
            .number
            .checked_add(1)
            .ok_or("block number overflow")?;
        let env = BlockEnv {
            number,
            timestamp: now_secs().max(parent.timestamp.saturating_add(1)),
            beneficiary: cfg.dev.coinbase,
            gas_limit,
            base_fee,
            // No beacon randomness on this chain: PREVRANDAO is the parent's hash, as predictable
            // as anvil's and never to be used as a source of randomness.
            prev_randao: parent.hash(),
            chain_id: cfg.chain.chain_id,
        };
        // The block's span, from its proposal (the batch taken) to its commit.
        let span = tracing::info_span!("block", number);
        self.seal(parent, txs, env, force).instrument(span).await
    }

    /// Executes `txs` on `parent` in `env` and commits the block.
    async fn seal(
        &self,
        parent: platon_messages::Header,
        txs: Vec<platon_messages::SignedTransaction>,
        env: BlockEnv,
        force: bool,
    ) -> Result<Option<usize>, String> {
        let reg = self.node.registry.clone();
        let executed = ExecutorHandle(reg.clone())
            .execute(parent, txs, env)
            .await
            .map_err(|e| e.to_string())??;
        let included: Vec<_> = executed.block.transactions.iter().map(|t| t.hash).collect();
        let rejected: Vec<_> = executed.rejected.iter().map(|(h, _)| *h).collect();
        if !rejected.is_empty() {
            // Unincludable on this state (e.g. the sender ran out of funds mid-block): drop them.
            let _ = TxPoolHandle(reg.clone()).discard(rejected);
        }
        if included.is_empty() && !force {
            return Ok(None);
        }
        ChainHandle(reg.clone())
            .commit(executed)
            .await
            .map_err(|e| e.to_string())??;
        let n = included.len();
        tracing::debug!(txs = n, "dev block sealed and committed");
        let _ = TxPoolHandle(reg).block_committed(included);
        Ok(Some(n))
    }
}

impl Service for ProducerService {
    type Msg = ProducerMsg;
    type State = ProducerState;

    async fn init(&self, ctx: &Ctx<ProducerMsg>) -> Result<ProducerState, BoxError> {
        let period = self.node.config.dev.period_secs;
        if period > 0 {
            ctx.send_after(Duration::from_secs(period), ProducerMsg::Tick);
        }
        // Pick up whatever waited while we were down.
        ctx.send_after(Duration::ZERO, ProducerMsg::TxsAvailable);
        Ok(ProducerState::default())
    }

    async fn handle(
        &self,
        ctx: &Ctx<ProducerMsg>,
        msg: ProducerMsg,
        state: &mut ProducerState,
    ) -> Result<(), BoxError> {
        let period = self.node.config.dev.period_secs;
        let force = match msg {
            ProducerMsg::Tick => {
                ctx.send_after(Duration::from_secs(period.max(1)), ProducerMsg::Tick);
                true
            }
            ProducerMsg::Retry => {
                state.retry_pending = false;
                false
            }
            ProducerMsg::TxsAvailable => false,
        };
        let mut force = force;
        // Keep building while transactions wait (bounded, so the mailbox is served in between).
        for _ in 0..64 {
            match self.produce_one(force).await {
                Ok(Some(n)) if n > 0 => force = false,
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::warn!("block production attempt failed, retrying: {e}");
                    if !state.retry_pending {
                        state.retry_pending = true;
                        ctx.send_after(RETRY_DELAY, ProducerMsg::Retry);
                    }
                    return Ok(());
                }
            }
        }
        ctx.send_after(Duration::ZERO, ProducerMsg::TxsAvailable);
        Ok(())
    }
}
