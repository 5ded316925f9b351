//! Typed handles: the only way code outside an actor talks to it. Each call looks the actor up by
//! name in the registry, so a restarted actor is reached at its new incarnation.

use crate::names;
use alloy_primitives::{Address, B256};
use platon_messages::actors::{
    BlockEnv, ChainMsg, Entries, ExecutorMsg, PoolError, PoolStatus, ProducerMsg, RpcMsg,
    SnapshotMsg, SnapshotStatus, TxPoolMsg,
};
use platon_messages::snapshot::{At, Record};
use platon_messages::{Block, ExecutedBlock, Header, SignedTransaction};
use platon_supervision::{CallError, Registry};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a caller of the pool waits for it through a restart before the error reaches the
/// client (a restart heals in milliseconds; one that replays a long journal in a few hundred).
pub const RESTART_WAIT: Duration = Duration::from_secs(3);

/// Runs `f` until it reaches a running actor: a call that finds the actor restarting is tried
/// again (backing off from 2 to 50 ms) for up to [`RESTART_WAIT`]; one whose reply a restart
/// dropped is repeated once (a second loss means the message itself kills the actor: repeating it
/// would only spend the restart budget). True in the second element when an attempt was repeated
/// after a lost reply.
async fn through_restart<T, F, Fut>(mut f: F) -> (Result<T, CallError>, bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let deadline = Instant::now() + RESTART_WAIT;
    let mut delay = Duration::from_millis(2);
    let mut repeated = false;
    loop {
        match f().await {
            Err(CallError::NotRunning(_)) if Instant::now() < deadline => {}
            Err(CallError::Dropped(_)) if !repeated && Instant::now() < deadline => {
                repeated = true;
            }
            r => return (r, repeated),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Handle to the `txpool` actor. Its calls wait through a restart of the pool ([`RESTART_WAIT`]),
/// so a client never sees one.
#[derive(Clone, Debug)]
pub struct TxPoolHandle(pub Arc<Registry>);

impl TxPoolHandle {
    /// Submits a transaction; the outer error is the actor being unreachable, the inner one the pool's verdict.
    pub async fn submit(
        &self,
        tx: SignedTransaction,
    ) -> Result<Result<B256, PoolError>, CallError> {
        let hash = tx.hash;
        let (res, repeated) = self
            .call(|reply| TxPoolMsg::Submit {
                tx: Box::new(tx.clone()),
                reply,
            })
            .await;
        match res {
            // The lost attempt had admitted it (and journaled it, so the restarted pool has it).
            Ok(Err(PoolError::AlreadyKnown)) if repeated => Ok(Ok(hash)),
            r => r,
        }
    }
    /// Submits a transaction and, once the pool accepts it, floods it to every node's pool (when
    /// this node is in an overlay).
    pub async fn submit_and_flood(
        &self,
        tx: SignedTransaction,
    ) -> Result<Result<B256, PoolError>, CallError> {
        let encoded = tx.encoded.clone();
        let res = self.submit(tx).await?;
        if res.is_ok() {
            if let Ok(o) = self
                .0
                .lookup::<crate::overlay::service::OverlayMsg>(names::OVERLAY)
            {
                let _ = o.send(crate::overlay::service::OverlayMsg::Flood {
                    topic: platon_messages::reload::FloodTopic::Transaction,
                    payload: encoded.to_vec(),
                });
            }
        }
        Ok(res)
    }
    /// The next batch for a block.
    pub async fn batch(
        &self,
        max_txs: usize,
        max_gas: u64,
        base_fee: u64,
    ) -> Result<Vec<SignedTransaction>, CallError> {
        self.0
            .lookup::<TxPoolMsg>(names::TXPOOL)?
            .call(|reply| TxPoolMsg::Batch {
                max_txs,
                max_gas,
                base_fee,
                reply,
            })
            .await
    }
    /// Tells the pool a block was committed.
    pub fn block_committed(&self, included: Vec<B256>) -> Result<(), CallError> {
        self.0
            .lookup::<TxPoolMsg>(names::TXPOOL)?
            .send(TxPoolMsg::BlockCommitted { included })
    }
    /// Drops transactions the executor could not include.
    pub fn discard(&self, hashes: Vec<B256>) -> Result<(), CallError> {
        self.0
            .lookup::<TxPoolMsg>(names::TXPOOL)?
            .send(TxPoolMsg::Discard { hashes })
    }
    /// Counters.
    pub async fn status(&self) -> Result<PoolStatus, CallError> {
        self.call(TxPoolMsg::Status).await.0
    }
    /// A pooled transaction.
    pub async fn get(&self, hash: B256) -> Result<Option<SignedTransaction>, CallError> {
        self.call(|r| TxPoolMsg::Get(hash, r)).await.0
    }
    /// The nonce after the sender's pooled, executable transactions (None if none pooled).
    pub async fn next_nonce(&self, sender: Address) -> Result<Option<u64>, CallError> {
        self.call(|r| TxPoolMsg::NextNonce(sender, r)).await.0
    }

    /// A call to the pool through its restarts ([`through_restart`]).
    async fn call<T: Send + 'static>(
        &self,
        build: impl Fn(ractor::RpcReplyPort<T>) -> TxPoolMsg,
    ) -> (Result<T, CallError>, bool) {
        through_restart(|| async {
            self.0
                .lookup::<TxPoolMsg>(names::TXPOOL)?
                .call(&build)
                .await
        })
        .await
    }
}

/// Handle to the block `producer`.
#[derive(Clone, Debug)]
pub struct ProducerHandle(pub Arc<Registry>);

impl ProducerHandle {
    /// Wakes the producer: transactions are waiting.
    pub fn txs_available(&self) -> Result<(), CallError> {
        self.0
            .lookup::<ProducerMsg>(names::PRODUCER)?
            .send(ProducerMsg::TxsAvailable)
    }
}

/// Handle to the `executor`.
#[derive(Clone, Debug)]
pub struct ExecutorHandle(pub Arc<Registry>);

impl ExecutorHandle {
    /// Executes and seals a block.
    pub async fn execute(
        &self,
        parent: Header,
        txs: Vec<SignedTransaction>,
        env: BlockEnv,
    ) -> Result<Result<Box<ExecutedBlock>, String>, CallError> {
        self.0
            .lookup::<ExecutorMsg>(names::EXECUTOR)?
            .call(|reply| ExecutorMsg::Execute {
                parent: Box::new(parent),
                txs,
                env,
                reply,
            })
            .await
    }
}

/// Handle to the `chain` actor.
#[derive(Clone, Debug)]
pub struct ChainHandle(pub Arc<Registry>);

impl ChainHandle {
    /// Commits a block durably; returns the new head header.
    pub async fn commit(
        &self,
        block: Box<ExecutedBlock>,
    ) -> Result<Result<Header, String>, CallError> {
        self.0
            .lookup::<ChainMsg>(names::CHAIN)?
            .call(|reply| ChainMsg::Commit { block, reply })
            .await
    }
    /// The head block.
    pub async fn head(&self) -> Result<Block, CallError> {
        self.0
            .lookup::<ChainMsg>(names::CHAIN)?
            .call(ChainMsg::Head)
            .await
    }
}

/// Handle to the `rpc` gateway.
#[derive(Clone, Debug)]
pub struct RpcHandle(pub Arc<Registry>);

impl RpcHandle {
    /// Announces a new head to `newHeads` subscribers.
    pub fn new_head(&self, header: Header) -> Result<(), CallError> {
        self.0
            .lookup::<RpcMsg>(names::RPC)?
            .send(RpcMsg::NewHead(Box::new(header)))
    }
}

/// Handle to the `snapshot` actor (snapshotdb). Writes return once durable.
#[derive(Clone, Debug)]
pub struct SnapshotHandle(pub Arc<Registry>);

impl SnapshotHandle {
    /// Logs and applies records; returns once they are durable. The inner error is a refused record.
    pub async fn write(&self, records: Vec<Record>) -> Result<Result<(), String>, CallError> {
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(|reply| SnapshotMsg::Write { records, reply })
            .await
    }
    /// Reads a key at a view.
    pub async fn get(
        &self,
        at: At,
        key: Vec<u8>,
    ) -> Result<Result<Option<Vec<u8>>, String>, CallError> {
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(|reply| SnapshotMsg::Get { at, key, reply })
            .await
    }
    /// Live entries under a prefix at a view, in key order.
    pub async fn iter_prefix(
        &self,
        at: At,
        prefix: Vec<u8>,
        limit: usize,
    ) -> Result<Result<Entries, String>, CallError> {
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(|reply| SnapshotMsg::IterPrefix {
                at,
                prefix,
                limit,
                reply,
            })
            .await
    }
    /// Folds old committed blocks into the base.
    pub async fn compact(&self, keep: usize) -> Result<Result<usize, String>, CallError> {
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(|reply| SnapshotMsg::Compact { keep, reply })
            .await
    }
    /// Highest committed block, base, fsyncs.
    pub async fn status(&self) -> Result<SnapshotStatus, CallError> {
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(SnapshotMsg::Status)
            .await
    }
}
