//! Typed handles: the only way code outside an actor talks to it. Each call looks the actor up by
//! name in the registry, so a restarted actor is reached at its new incarnation.

use crate::names;
use crate::overlay::service::OverlayMsg;
use crate::ppos::PposMsg;
use alloy_primitives::{Address, B256};
use platon_messages::actors::{
    BlockEnv, CbftActorMsg, ChainMsg, Entries, ExecutorMsg, NodeInfo, OverlayStats, PeerInfo,
    PoolError, PoolStatus, ProducerMsg, RedirMsg, RoundKeys, RpcMsg, SnapshotMsg, SnapshotStatus,
    TxPoolMsg,
};
use platon_messages::cbft::{CbftMsg, VoteData};
use platon_messages::reload::{
    Contact, FloodTopic, KindData, NodeId, RedirServiceProvider, ResourceId, Specifier,
    StoredDataValue,
};
use platon_messages::snapshot::{At, BlockWrites, Record};
use platon_messages::{Block, ExecutedBlock, Header, SignedTransaction};
use platon_storage::trie::MemoryNodes;
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
        self.submit_with(tx, false).await
    }

    async fn submit_with(
        &self,
        tx: SignedTransaction,
        flood: bool,
    ) -> Result<Result<B256, PoolError>, CallError> {
        let hash = tx.hash;
        let (res, repeated) = self
            .call(|reply| TxPoolMsg::Submit {
                tx: Box::new(tx.clone()),
                flood,
                reply,
            })
            .await;
        match res {
            // The lost attempt had admitted it (and journaled it, so the restarted pool has it).
            // A lost reply means the attempt was admitted (refusals are answered at once, only
            // admissions wait for the journal's group fsync): the restarted pool had it from the
            // journal, and a block may have included it since.
            Ok(Err(PoolError::AlreadyKnown | PoolError::NonceTooLow { .. })) if repeated => {
                if flood {
                    // Its group's flood was lost with the pool: flooded alone.
                    let _ = OverlayHandle::of_node(self.0.clone())
                        .flood(FloodTopic::Transaction, tx.encoded.to_vec());
                }
                Ok(Ok(hash))
            }
            r => r,
        }
    }
    /// Submits a transaction and, once the pool accepts it, floods it to every node's pool (when
    /// this node is in an overlay).
    pub async fn submit_and_flood(
        &self,
        tx: SignedTransaction,
    ) -> Result<Result<B256, PoolError>, CallError> {
        // The pool floods it with the rest of its group, after the group's fsync.
        self.submit_with(tx, true).await
    }
    /// The next batch for a block on the committed head.
    pub async fn batch(
        &self,
        max_txs: usize,
        max_gas: u64,
        base_fee: u64,
    ) -> Result<Vec<SignedTransaction>, CallError> {
        self.batch_after(max_txs, max_gas, base_fee, Vec::new())
            .await
    }
    /// The next batch for a block whose uncommitted ancestors use these nonces (sender, next
    /// nonce after them).
    pub async fn batch_after(
        &self,
        max_txs: usize,
        max_gas: u64,
        base_fee: u64,
        after: Vec<(Address, u64)>,
    ) -> Result<Vec<SignedTransaction>, CallError> {
        self.0
            .lookup::<TxPoolMsg>(names::TXPOOL)?
            .call(|reply| TxPoolMsg::Batch {
                max_txs,
                max_gas,
                base_fee,
                after,
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
    /// Recognizes a block's data; returns once it is readable (not yet durable), with whether it
    /// was new.
    pub async fn insert(&self, block: &ExecutedBlock) -> Result<Result<bool, String>, CallError> {
        let block = BlockWrites::of(block);
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(|reply| SnapshotMsg::Insert { block, reply })
            .await
    }
    /// Commits a block's data; returns once durable, with whether anything changed.
    pub async fn commit_block(
        &self,
        block: &ExecutedBlock,
    ) -> Result<Result<bool, String>, CallError> {
        let block = BlockWrites::of(block);
        self.0
            .lookup::<SnapshotMsg>(names::SNAPSHOT)?
            .call(|reply| SnapshotMsg::CommitBlock { block, reply })
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

/// Handle to an `overlay` actor, by name (a node's is [`names::OVERLAY`]; tests run several in one
/// process). A node outside an overlay has none: every call answers [`CallError::Unknown`].
#[derive(Clone, Debug)]
pub struct OverlayHandle {
    registry: Arc<Registry>,
    name: String,
}

impl OverlayHandle {
    /// The overlay actor registered as `name`.
    pub fn new(registry: Arc<Registry>, name: &str) -> Self {
        Self {
            registry,
            name: name.to_string(),
        }
    }
    /// The node's overlay actor.
    pub fn of_node(registry: Arc<Registry>) -> Self {
        Self::new(registry, names::OVERLAY)
    }
    /// Whether the actor is registered (false on a node outside an overlay).
    pub fn exists(&self) -> bool {
        self.addr().is_ok()
    }
    fn addr(&self) -> Result<platon_supervision::Addr<OverlayMsg>, CallError> {
        self.registry.lookup::<OverlayMsg>(&self.name)
    }
    /// Hands the actor an event from its own listener, dialers and links.
    pub fn send(&self, msg: OverlayMsg) -> Result<(), CallError> {
        self.addr()?.send(msg)
    }
    /// A request built from its reply port (the methods below name the common ones).
    pub async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(ractor::RpcReplyPort<T>) -> OverlayMsg,
    ) -> Result<T, CallError> {
        self.addr()?.call(build).await
    }
    /// Floods a payload to every node.
    pub fn flood(&self, topic: FloodTopic, payload: Vec<u8>) -> Result<(), CallError> {
        self.send(OverlayMsg::Flood { topic, payload })
    }
    /// `admin_nodeInfo`.
    pub async fn info(&self) -> Result<NodeInfo, CallError> {
        self.addr()?.call(OverlayMsg::Info).await
    }
    /// `admin_peers`.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, CallError> {
        self.addr()?.call(OverlayMsg::Peers).await
    }
    /// `admin_overlayStats`.
    pub async fn stats(&self) -> Result<OverlayStats, CallError> {
        self.addr()?.call(OverlayMsg::Stats).await
    }
    /// Tells every neighbor this node leaves; returns once sent.
    pub async fn leave(&self) -> Result<(), CallError> {
        self.addr()?.call(OverlayMsg::Leave).await
    }
    /// The closest live nodes to `target`, and the hop count.
    pub async fn lookup(
        &self,
        target: NodeId,
    ) -> Result<Result<(Vec<Contact>, u32), String>, CallError> {
        self.addr()?
            .call(|reply| OverlayMsg::Lookup { target, reply })
            .await
    }
    /// Stores signed values on the r closest nodes; the replicas that took them.
    pub async fn store(
        &self,
        resource: ResourceId,
        kind: u32,
        values: Vec<StoredDataValue>,
        lifetime: u32,
    ) -> Result<Result<Vec<NodeId>, String>, CallError> {
        self.addr()?
            .call(|reply| OverlayMsg::Store {
                resource,
                kind,
                values,
                lifetime,
                reply,
            })
            .await
    }
    /// Fetches and merges values from the r closest nodes.
    pub async fn fetch(
        &self,
        resource: ResourceId,
        specifiers: Vec<Specifier>,
    ) -> Result<Result<Vec<KindData>, String>, CallError> {
        self.addr()?
            .call(|reply| OverlayMsg::Fetch {
                resource,
                specifiers,
                reply,
            })
            .await
    }
    /// Opens a link to a contact (refusing a peer whose certificate gives another Node-ID).
    pub fn dial(&self, contact: Contact) -> Result<(), CallError> {
        self.send(OverlayMsg::Dial(contact))
    }
    /// Test hook: makes the link to `peer` panic.
    pub fn fail_link(&self, peer: NodeId) -> Result<(), CallError> {
        self.send(OverlayMsg::FailLink(peer))
    }
}

/// Handle to the `cbft` actor. A node without consensus has none: calls answer
/// [`CallError::Unknown`].
#[derive(Clone, Debug)]
pub struct CbftHandle(pub Arc<Registry>);

impl CbftHandle {
    fn addr(&self) -> Result<platon_supervision::Addr<CbftActorMsg>, CallError> {
        self.0.lookup::<CbftActorMsg>(names::CBFT)
    }
    /// Whether the node runs consensus.
    pub fn exists(&self) -> bool {
        self.addr().is_ok()
    }
    /// Hands consensus a message from the overlay (a full mailbox is counted and logged).
    pub fn deliver(&self, msg: CbftMsg) -> Result<(), CallError> {
        self.addr()?.send(CbftActorMsg::Net(Box::new(msg)))
    }
    /// `platon_consensusStatus`.
    pub async fn status(&self) -> Result<serde_json::Value, CallError> {
        self.addr()?.call(CbftActorMsg::Status).await
    }
    /// `platon_evidences`.
    pub async fn evidences(&self) -> Result<serde_json::Value, CallError> {
        self.addr()?.call(CbftActorMsg::Evidences).await
    }
    /// Fault injection: sign a second vote for this validator's last slot (`admin_equivocate`).
    pub async fn equivocate(&self) -> Result<Result<VoteData, String>, CallError> {
        self.addr()?.call(CbftActorMsg::Equivocate).await
    }
}

/// Handle to the `ppos` elector.
#[derive(Clone, Debug)]
pub struct ElectorHandle(pub Arc<Registry>);

impl ElectorHandle {
    /// Round `round`'s validators as the state after `header` records them (`layers`: pending
    /// state above the store, newest first).
    pub async fn round_set(
        &self,
        round: u64,
        header: Header,
        layers: Vec<Arc<MemoryNodes>>,
    ) -> Result<Result<RoundKeys, String>, CallError> {
        self.0
            .lookup::<PposMsg>(names::PPOS)?
            .call(|reply| PposMsg::RoundSet {
                round,
                header: Box::new(header),
                layers,
                reply,
            })
            .await
    }
}

/// Handle to a `redir` actor, by name (a node's is [`names::REDIR`]).
#[derive(Clone, Debug)]
pub struct RedirHandle {
    registry: Arc<Registry>,
    name: String,
}

impl RedirHandle {
    /// The redir actor registered as `name`.
    pub fn new(registry: Arc<Registry>, name: &str) -> Self {
        Self {
            registry,
            name: name.to_string(),
        }
    }
    /// The node's redir actor.
    pub fn of_node(registry: Arc<Registry>) -> Self {
        Self::new(registry, names::REDIR)
    }
    fn addr(&self) -> Result<platon_supervision::Addr<RedirMsg>, CallError> {
        self.registry.lookup::<RedirMsg>(&self.name)
    }
    /// Hands the actor an event (a finished registration, a refresh).
    pub fn send(&self, msg: RedirMsg) -> Result<(), CallError> {
        self.addr()?.send(msg)
    }
    /// The provider of `service` that ReDiR returns for `key` (None: nobody registered).
    pub async fn find(
        &self,
        service: String,
        key: NodeId,
    ) -> Result<Result<Option<RedirServiceProvider>, String>, CallError> {
        self.addr()?
            .call(|reply| RedirMsg::Find {
                service,
                key,
                reply,
            })
            .await
    }
    /// When each service was last registered.
    pub async fn status(&self) -> Result<Vec<(String, Option<String>)>, CallError> {
        self.addr()?.call(RedirMsg::Status).await
    }
}

/// Handle to the `accelerator` actor. Each job waits in its bounded mailbox (a full one refuses
/// it at once: `Overloaded`) and is answered when done, however long that takes.
#[derive(Clone, Debug)]
pub struct AcceleratorHandle(pub Arc<Registry>);

impl AcceleratorHandle {
    async fn job<T: Send + 'static>(
        &self,
        build: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> crate::accelerator::AcceleratorMsg,
    ) -> Result<T, CallError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0
            .lookup::<crate::accelerator::AcceleratorMsg>(names::ACCELERATOR)?
            .send(build(tx))?;
        rx.await
            .map_err(|_| CallError::Dropped(names::ACCELERATOR.to_string()))
    }
    /// A Groth16 proof (the encoded 256 bytes) or why not.
    pub async fn prove(
        &self,
        job: crate::accelerator::ProveJob,
    ) -> Result<Result<[u8; platon_crypto::vc::PROOF_BYTES], String>, CallError> {
        self.job(|r| crate::accelerator::AcceleratorMsg::Prove(Box::new(job), r))
            .await
    }
    /// The signer of each (prehash, signature), in order.
    pub async fn recover_senders(
        &self,
        items: Vec<(B256, platon_crypto::RecoverableSig)>,
    ) -> Result<Vec<Result<Address, String>>, CallError> {
        self.job(|r| crate::accelerator::AcceleratorMsg::RecoverSenders(items, r))
            .await
    }
    /// Whether each BLS aggregate verifies, in order.
    pub async fn bls_verify(
        &self,
        items: Vec<platon_crypto::vc::backend::BlsAggregate>,
    ) -> Result<Vec<bool>, CallError> {
        self.job(|r| crate::accelerator::AcceleratorMsg::BlsVerify(items, r))
            .await
    }
    /// Σ scalarsᵢ · basesᵢ over G1.
    pub async fn msm(
        &self,
        bases: Arc<Vec<platon_crypto::vc::G1Point>>,
        scalars: Vec<platon_crypto::vc::Scalar>,
    ) -> Result<Result<platon_crypto::vc::G1Sum, String>, CallError> {
        self.job(|r| crate::accelerator::AcceleratorMsg::Msm(bases, scalars, r))
            .await
    }
    /// A polynomial's evaluations over its radix-2 domain.
    pub async fn fft(
        &self,
        coeffs: Vec<platon_crypto::vc::Scalar>,
    ) -> Result<Result<Vec<platon_crypto::vc::Scalar>, String>, CallError> {
        self.job(|r| crate::accelerator::AcceleratorMsg::Fft(coeffs, r))
            .await
    }
}

/// Handle to a computing node's `vc_pool` actor.
#[derive(Clone, Debug)]
pub struct VcPoolHandle(pub Arc<Registry>);

impl VcPoolHandle {
    fn addr(&self) -> Result<platon_supervision::Addr<crate::vc_pool::VcPoolMsg>, CallError> {
        self.0.lookup(names::VC_POOL)
    }
    /// Hands the pool an executed block that is not final yet (its VC logs only); a node without
    /// a pool, or a full mailbox, drops it (the commit reads the block from the store).
    pub fn recognized(&self, block: &ExecutedBlock) {
        let Ok(addr) = self.addr() else { return };
        let logs: Vec<platon_messages::Log> = block
            .receipts
            .iter()
            .filter(|r| r.success)
            .flat_map(|r| r.logs.iter())
            .filter(|l| crate::vc_pool::is_vc_log(l))
            .cloned()
            .collect();
        let h = &block.block.header;
        let _ = addr.send(crate::vc_pool::VcPoolMsg::Recognized {
            number: h.number,
            parent: h.parent_hash,
            hash: h.hash(),
            logs,
        });
    }
    /// Tells the pool the chain committed up to `number`.
    pub fn committed(&self, number: u64) {
        if let Ok(addr) = self.addr() {
            let _ = addr.send(crate::vc_pool::VcPoolMsg::Committed(number));
        }
    }
    /// `platon_vcTasks`.
    pub async fn tasks(&self) -> Result<serde_json::Value, CallError> {
        self.addr()?.call(crate::vc_pool::VcPoolMsg::Tasks).await
    }
}
