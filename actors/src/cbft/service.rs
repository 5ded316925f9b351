//! The `cbft` actor: runs the [`Core`] for this validator. It builds proposed blocks from the
//! txpool on the parent's state (committed, or executed and waiting for QCs: pipelining), executes
//! others' proposals before the core may vote, writes every record to the consensus WAL (fsynced)
//! before the message it records is flooded through the overlay, and hands committed blocks to
//! `chain`.

use super::core::{Core, Out, Params, WalRecord};
use super::crypto::BlsCrypto;
use super::evidence::{Added, EvidencePool};
use super::wal::ConsensusWal;
use crate::handles::{ChainHandle, OverlayHandle, TxPoolHandle};
use crate::now_ms;
use crate::NodeContext;
use alloy_primitives::{Address, B256};
use platon_crypto::bls::{BlsPublicKey, BlsSecretKey};
use platon_messages::actors::BlockEnv;
use platon_messages::cbft::{BlockInfo, CbftMsg, SyncBlock, VoteData};
use platon_messages::reload::FloodTopic;
use platon_messages::{Block, ExecutedBlock, Header};
use platon_storage::trie::{LayeredNodes, MemoryNodes};
use platon_supervision::{BoxError, Ctx, Service};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How often the core's timers run.
const TICK: Duration = Duration::from_millis(50);

/// How often sync progress is logged while a node catches up.
const SYNC_REPORT_MS: u64 = 5_000;

static FLOOD_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A consensus message as flooded: its encoding, then an 8-byte sequence number.
pub fn wrap(m: &CbftMsg) -> Vec<u8> {
    let mut out = m.encode();
    let seq =
        FLOOD_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) ^ now_ms().rotate_left(20);
    out.extend_from_slice(&seq.to_be_bytes());
    out
}

/// The consensus message in a flood payload (None when malformed).
pub fn unwrap(payload: &[u8]) -> Option<CbftMsg> {
    let body = payload.get(..payload.len().checked_sub(8)?)?;
    CbftMsg::decode(body).ok()
}

pub use platon_messages::actors::CbftActorMsg;

/// The service: node context and validator keys.
pub struct CbftService {
    /// Shared node context.
    pub node: NodeContext,
    /// This validator's key (None: observer).
    pub key: Option<BlsSecretKey>,
    /// Every validator's public key, by index (without rounds; with them, each round's come from
    /// the chain).
    pub validators: Vec<BlsPublicKey>,
    /// The account that reports evidence on chain (`cbft.report_key_file`; None: not reported).
    pub reporter: Option<platon_crypto::SecretKey>,
    /// This validator's VRF key (proves each block's seed).
    pub vrf: Option<platon_crypto::vrf::VrfSecretKey>,
    /// Every validator's VRF public key, by index (empty: blocks carry no VRF proof).
    pub vrf_keys: Vec<platon_crypto::vrf::VrfPublicKey>,
}

/// A parent header and the layers of pending state above the committed store.
type ParentState = (Header, Vec<Arc<MemoryNodes>>);

struct PendingBlock {
    executed: ExecutedBlock,
    layer: Arc<MemoryNodes>,
    /// The block's span: open from its proposal (built here, or received and executed) to its
    /// commit or its removal as a losing fork.
    span: tracing::Span,
    since: std::time::Instant,
}

/// One incarnation's state.
pub struct CbftState {
    core: Core,
    wal: ConsensusWal,
    pending: HashMap<B256, PendingBlock>,
    evidence: EvidencePool,
    /// The report transaction sent for each piece of evidence, by (validator, view, index, kind).
    reports: HashMap<(u32, u64, u32, u8), B256>,
    /// The current round's validators' BLS keys, by index.
    validators: Vec<BlsPublicKey>,
    /// The current round's VRF keys, by index (with rounds; blocks of other rounds read theirs).
    round_vrf: Vec<platon_crypto::vrf::VrfPublicKey>,
    /// How late the timer ticks ran.
    lateness: Lateness,
    /// Whether this node is catching up, and how fast (`eth_syncing`, the terminal).
    sync: crate::sync::Tracker,
}

/// The next timer tick, due one `TICK` from now.
fn tick() -> CbftActorMsg {
    CbftActorMsg::Tick {
        due_ms: now_ms().saturating_add(TICK.as_millis() as u64),
    }
}

/// Upper bounds (ms) of the lateness histogram's buckets; the last bucket is everything above.
const LATENESS_BOUNDS: [u64; 11] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000];

/// A histogram of how late the consensus timer ran (the tick's wake-up plus its wait in the
/// mailbox): a blocked runtime worker or a handler that holds the actor shows here.
#[derive(Debug, Default, Clone)]
pub struct Lateness {
    counts: [u64; LATENESS_BOUNDS.len() + 1],
    max: u64,
}

impl Lateness {
    /// Records one tick that ran `ms` late.
    pub fn record(&mut self, ms: u64) {
        let i = LATENESS_BOUNDS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENESS_BOUNDS.len());
        self.counts[i] = self.counts[i].saturating_add(1);
        self.max = self.max.max(ms);
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1); the maximum for the last one.
    pub fn quantile(&self, q: f64) -> u64 {
        let total: u64 = self.counts.iter().sum();
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return LATENESS_BOUNDS
                    .get(i)
                    .copied()
                    .unwrap_or(self.max)
                    .min(self.max);
            }
        }
        self.max
    }

    /// For `platon_consensusStatus`: the samples, p50, p99 and max (ms), and the bucket counts
    /// (`le` bounds; the last counts everything above) for a reader that diffs two snapshots.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "samples": self.counts.iter().sum::<u64>(),
            "p50Ms": self.quantile(0.5),
            "p99Ms": self.quantile(0.99),
            "maxMs": self.max,
            "bucketsLeMs": LATENESS_BOUNDS,
            "counts": self.counts,
        })
    }
}

/// The proposer index a block's extraData names (before its VRF proof), when it carries one.
pub fn vrf_proposer(extra: &[u8]) -> Option<u32> {
    if extra.len() != 4 + platon_crypto::vrf::PROOF_LEN {
        return None;
    }
    Some(u32::from_be_bytes([extra[0], extra[1], extra[2], extra[3]]))
}

impl CbftService {
    fn params(&self, epoch: u64, validators: usize) -> Params {
        let c = &self.node.config.cbft;
        Params {
            validators: validators as u32,
            amount: c.amount,
            period_ms: c.period_ms,
            responsive_ms: c.responsive.then_some(c.min_interval_ms),
            progress_timeout_ms: (c.responsive && c.progress_timeout_ms > 0)
                .then_some(c.progress_timeout_ms),
            epoch,
            round_blocks: self.round_blocks(),
        }
    }

    /// The chain's schedule when validators rotate by round (None: `validators` validate for
    /// good).
    fn rounds(&self) -> Option<&platon_vm::system::Schedule> {
        self.node
            .system
            .schedule
            .as_ref()
            .filter(|s| s.round_blocks > 0)
    }

    /// Blocks per round (0: no rotation).
    fn round_blocks(&self) -> u64 {
        self.rounds().map(|s| s.round_blocks).unwrap_or(0)
    }

    /// This node's index among `validators`.
    fn my_index(&self, validators: &[BlsPublicKey]) -> Option<u32> {
        let pk = self.key.as_ref()?.public_key();
        validators.iter().position(|v| *v == pk).map(|i| i as u32)
    }

    /// The next round's validators, which the elector reads from the state after the old round's
    /// last block (which the core has a QC for): executes that block's unexecuted ancestry first.
    /// Leaves the switch pending (the core asks again) when a block is still missing or the
    /// elector does not answer.
    async fn switch_round(
        &self,
        st: &mut CbftState,
        epoch: u64,
        last: VoteData,
    ) -> Result<(), BoxError> {
        self.execute_ancestors(st, last.hash).await?;
        let Some((header, layers)) = self.parent_of(st, &last.hash)? else {
            tracing::debug!(
                number = last.number,
                "cbft: round switch waits for its block"
            );
            return Ok(());
        };
        let elector = crate::ppos::ElectorHandle(self.node.registry.clone());
        let (bls, vrf) = match elector.round_set(epoch, header, layers).await {
            Ok(Ok(k)) => k,
            Ok(Err(why)) => {
                tracing::warn!(%why, epoch, "cbft: round switch waits");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, epoch, "cbft: round switch waits for the elector");
                return Ok(());
            }
        };
        let me = self.my_index(&bls);
        tracing::info!(round = epoch, validators = bls.len(), validator = ?me, after = last.number, "cbft: round switch");
        let crypto = Arc::new(BlsCrypto::new(self.key.clone(), bls.clone()));
        st.core
            .enter_round(epoch, bls.len() as u32, me, crypto, now_ms());
        if st.core.params().epoch == epoch {
            st.validators = bls;
            st.round_vrf = vrf;
        }
        Ok(())
    }

    /// The committed head as consensus' base.
    fn base(&self) -> Result<BlockInfo, BoxError> {
        let head = self.node.store.head_header()?;
        Ok(BlockInfo {
            data: VoteData {
                epoch: 1,
                view: 0,
                index: 0,
                number: head.number,
                hash: head.hash(),
            },
            parent: head.parent_hash,
            proposer: 0,
        })
    }

    /// The header of `hash` and the layers of pending state above the committed store.
    /// The nonces the uncommitted ancestors of a new block (from `parent` down to the committed
    /// head) use: each sender with the nonce after its last transaction there.
    fn ancestor_nonces(st: &CbftState, parent: B256) -> Vec<(Address, u64)> {
        let mut blocks = Vec::new();
        let mut cur = parent;
        while let Some(p) = st.pending.get(&cur) {
            blocks.push(&p.executed.block);
            cur = p.executed.block.header.parent_hash;
        }
        crate::txpool::next_nonces(blocks)
    }

    fn parent_of(&self, st: &CbftState, hash: &B256) -> Result<Option<ParentState>, BoxError> {
        let mut layers = Vec::new();
        let mut cur = *hash;
        let mut top: Option<Header> = None;
        // Walk pending ancestors down to a committed block.
        for _ in 0..10_000 {
            if let Some(p) = st.pending.get(&cur) {
                if top.is_none() {
                    top = Some(p.executed.block.header.clone());
                }
                layers.push(p.layer.clone());
                cur = p.executed.block.header.parent_hash;
                continue;
            }
            return match self.node.store.header_by_hash(&cur)? {
                Some(h) => Ok(Some((top.unwrap_or(h), layers))),
                None => Ok(None),
            };
        }
        Ok(None)
    }

    /// Executes the ancestors of `hash` that consensus knows but this node has not executed (blocks
    /// learned through sync, or that arrived while it was restarting), oldest first, so a block
    /// on top of them can be validated or built on. Stops at the first that does not execute.
    async fn execute_ancestors(&self, st: &mut CbftState, hash: B256) -> Result<(), BoxError> {
        let mut missing = Vec::new();
        let mut cur = hash;
        // Usually the parent is executed and waiting, or the committed head: no store read then.
        while !st.pending.contains_key(&cur)
            && cur != st.core.committed().data.hash
            && self.node.store.header_by_hash(&cur)?.is_none()
        {
            let Some((info, payload)) = st.core.block(&cur) else {
                return Ok(()); // unknown to consensus too: sync will bring it
            };
            if missing.len() >= 10_000 {
                return Ok(());
            }
            cur = info.parent;
            missing.push((info.clone(), payload.to_vec()));
        }
        for (info, payload) in missing.into_iter().rev() {
            if self.validate(st, &info, &payload).await? != Some(true) {
                tracing::warn!(hash = %info.data.hash, number = info.data.number, "cbft: a known ancestor does not execute");
                break;
            }
        }
        Ok(())
    }

    async fn execute(
        &self,
        parent: Header,
        layers: Vec<Arc<MemoryNodes>>,
        env: BlockEnv,
        txs: Vec<platon_messages::SignedTransaction>,
        extra: alloy_primitives::Bytes,
    ) -> Result<ExecutedBlock, BoxError> {
        let node = self.node.clone();
        let res = tokio::task::spawn_blocking(move || {
            let reader = Arc::new(LayeredNodes::new(layers, node.store.node_reader()));
            let state = platon_storage::StateDb::at_root(parent.state_root, reader)
                .with_snapshot(node.store.snapshot().at(parent.hash()));
            node.execute_block(state, &parent, &env, txs, extra)
        })
        .await?;
        Ok(res.map_err(|e| e.to_string())?)
    }

    /// Records an executed block's staking data in snapshotdb as recognized, so blocks built on it
    /// read it (before the block is kept, voted on or built on).
    async fn recognize(&self, executed: &ExecutedBlock) -> Result<(), String> {
        crate::handles::SnapshotHandle(self.node.registry.clone())
            .insert(executed)
            .await
            .map_err(|e| e.to_string())?
            .map(|_| ())?;
        // A computing node's task queue follows the same blocks.
        crate::handles::VcPoolHandle(self.node.registry.clone()).recognized(executed);
        Ok(())
    }

    fn keep(st: &mut CbftState, executed: ExecutedBlock, built: bool, view: u64, index: u32) {
        let layer = Arc::new(MemoryNodes::default());
        layer.insert(executed.state_nodes.clone(), executed.codes.clone());
        let hash = executed.block.hash();
        let span = tracing::info_span!(
            "block",
            number = executed.block.header.number,
            hash = %hash,
            view,
            index,
        );
        span.in_scope(|| {
            tracing::debug!(
                built,
                txs = executed.block.transactions.len(),
                gas_used = executed.block.header.gas_used,
                "cbft: block proposed and executed"
            )
        });
        st.pending.insert(
            hash,
            PendingBlock {
                executed,
                layer,
                span,
                since: std::time::Instant::now(),
            },
        );
    }

    async fn build(
        &self,
        st: &mut CbftState,
        parent_hash: B256,
        view: u64,
        index: u32,
    ) -> Result<(), BoxError> {
        let Some(me) = st.core.me() else {
            return Ok(());
        };
        self.execute_ancestors(st, parent_hash).await?;
        let Some((parent, layers)) = self.parent_of(st, &parent_hash)? else {
            tracing::warn!(%parent_hash, "cbft: cannot build on an unknown parent");
            return Ok(());
        };
        let cfg = &self.node.config;
        let base_fee = platon_vm::next_base_fee(&parent);
        let after = Self::ancestor_nonces(st, parent_hash);
        let txs = TxPoolHandle(self.node.registry.clone())
            .batch_after(
                cfg.txpool.max_block_txs,
                cfg.chain.gas_limit,
                base_fee,
                after,
            )
            .await
            .unwrap_or_default();
        // The seed: the VRF output over the parent's seed, with the proof in extraData.
        let proves = !self.vrf_keys.is_empty() || self.round_blocks() > 0;
        let (seed, extra) = match (&self.vrf, proves) {
            (Some(k), true) => {
                // extraData: the proposer's index (4 bytes) and its proof (96 bytes).
                let (out, proof) = k.prove(parent.mix_hash.as_slice());
                let mut extra = me.to_be_bytes().to_vec();
                extra.extend_from_slice(&proof);
                (out, alloy_primitives::Bytes::from(extra))
            }
            _ => (
                parent.hash(),
                alloy_primitives::Bytes::from_static(b"platon-rs cbft"),
            ),
        };
        let env = BlockEnv {
            number: parent.number.saturating_add(1),
            timestamp: (now_ms() / 1000).max(parent.timestamp),
            beneficiary: cfg.dev.coinbase,
            gas_limit: cfg.chain.gas_limit,
            base_fee,
            prev_randao: seed,
            chain_id: cfg.chain.chain_id,
        };
        let executed = self.execute(parent, layers, env, txs, extra).await?;
        if let Err(why) = self.recognize(&executed).await {
            tracing::warn!(%why, "cbft: snapshotdb did not take a built block's data; not proposing it");
            return Ok(());
        }
        let block = &executed.block;
        let info = BlockInfo {
            data: VoteData {
                epoch: st.core.params().epoch,
                view,
                index,
                number: block.header.number,
                hash: block.hash(),
            },
            parent: parent_hash,
            proposer: me,
        };
        let payload = block.encode();
        Self::keep(st, executed, true, view, index);
        st.core.proposed(info, payload, now_ms());
        Ok(())
    }

    /// Executes a proposed block on its parent and checks it reproduces the header.
    async fn validate(
        &self,
        st: &mut CbftState,
        info: &BlockInfo,
        payload: &[u8],
    ) -> Result<Option<bool>, BoxError> {
        // Senders this node's pool already recovered are taken from it; the rest are recovered
        // on every core, off the runtime's workers.
        let senders = &self.node.senders;
        let decoded = crate::blocking(|| {
            Block::decode_with(payload, &self.node.store.tx_rules(), &|_, h| senders.get(h))
        });
        let block = match decoded {
            Ok(b) => b,
            Err(_) => return Ok(Some(false)),
        };
        let h = &block.header;
        if block.hash() != info.data.hash
            || h.parent_hash != info.parent
            || h.number != info.data.number
        {
            return Ok(Some(false));
        }
        let Some((parent, layers)) = self.parent_of(st, &info.parent)? else {
            return Ok(None);
        };
        if h.base_fee_per_gas != platon_vm::next_base_fee(&parent)
            || h.gas_limit != self.node.config.chain.gas_limit
        {
            return Ok(Some(false));
        }
        // The seed must be the VRF output of the block's proposer (named in extraData, and the
        // signer of the proposal) over the parent's seed. With rounds, the proposer's key is its
        // round's, as the chain recorded it before the block.
        // (The current round's keys are at hand; an ancestor of an older round reads its own.)
        let other_round = match self.rounds().map(|s| s.round_of(h.number)) {
            Some(r) if r != st.core.params().epoch => {
                match crate::ppos::round_keys(&self.node, &parent, layers.clone(), r) {
                    Ok((_, vrf)) => Some(vrf),
                    Err(why) => {
                        tracing::warn!(%why, number = h.number, "cbft: no round keys for a block");
                        return Ok(Some(false));
                    }
                }
            }
            _ => None,
        };
        let vrf_keys = match (&other_round, self.rounds()) {
            (Some(keys), _) => keys,
            (None, Some(_)) => &st.round_vrf,
            (None, None) => &self.vrf_keys,
        };
        if !vrf_keys.is_empty() {
            let proposer = vrf_proposer(&h.extra_data);
            let ok = proposer == Some(info.proposer)
                && vrf_keys.get(info.proposer as usize).is_some_and(|pk| {
                    pk.verify(parent.mix_hash.as_slice(), &h.extra_data[4..])
                        .is_ok_and(|out| out == h.mix_hash)
                });
            if !ok {
                tracing::warn!(
                    number = h.number,
                    proposer,
                    "cbft: a block's VRF proof does not verify"
                );
                return Ok(Some(false));
            }
        }
        let env = BlockEnv {
            number: h.number,
            timestamp: h.timestamp,
            beneficiary: h.beneficiary,
            gas_limit: h.gas_limit,
            base_fee: h.base_fee_per_gas,
            prev_randao: h.mix_hash,
            chain_id: self.node.config.chain.chain_id,
        };
        let executed = match self
            .execute(
                parent,
                layers,
                env,
                block.transactions.clone(),
                h.extra_data.clone(),
            )
            .await
        {
            Ok(e) => e,
            // snapshotdb restarting is this node's trouble, not the block's: judge it later.
            Err(_) if !self.node.store.snapshot().is_open() => return Ok(None),
            Err(_) => return Ok(Some(false)),
        };
        let ok = executed.block.hash() == info.data.hash && executed.rejected.is_empty();
        if ok {
            if let Err(why) = self.recognize(&executed).await {
                tracing::warn!(number = h.number, %why, "cbft: snapshotdb did not take a block's data");
                return Ok(None);
            }
            Self::keep(st, executed, false, info.data.view, info.data.index);
        } else {
            tracing::warn!(
                number = h.number,
                hash = %info.data.hash,
                "cbft: a proposed block does not execute to its header; kept for debug_getBadBlocks"
            );
            self.node.bad_blocks.record(block);
        }
        Ok(Some(ok))
    }

    async fn commit(
        &self,
        st: &mut CbftState,
        info: BlockInfo,
        payload: Vec<u8>,
    ) -> Result<(), BoxError> {
        let pending = match st.pending.remove(&info.data.hash) {
            Some(p) => p,
            None => {
                // Learned through sync without executing: execute it now on the committed head.
                match self.validate(st, &info, &payload).await? {
                    Some(true) => match st.pending.remove(&info.data.hash) {
                        Some(p) => p,
                        None => return Err("cbft: a validated block vanished".into()),
                    },
                    _ => {
                        return Err(format!(
                            "cbft: committed block {} does not execute here",
                            info.data.hash
                        )
                        .into())
                    }
                }
            }
        };
        let PendingBlock {
            executed,
            span,
            since,
            ..
        } = pending;
        let included: Vec<B256> = executed.block.transactions.iter().map(|t| t.hash).collect();
        ChainHandle(self.node.registry.clone())
            .commit(Box::new(executed))
            .instrument(span.clone())
            .await
            .map_err(|e| e.to_string())??;
        span.in_scope(|| {
            tracing::info!(
                proposal_to_commit_ms = since.elapsed().as_millis() as u64,
                "cbft: block committed"
            )
        });
        let _ = TxPoolHandle(self.node.registry.clone()).block_committed(included);
        let floor = info.data.number;
        st.pending
            .retain(|_, p| p.executed.block.header.number > floor);
        Ok(())
    }

    /// Reports `e` on chain: a transaction from the reporter account to the slashing contract,
    /// unless the chain already holds a report of that double sign. Failures are logged: the
    /// evidence stays in the pool and `platon_evidences` either way.
    async fn report(&self, st: &mut CbftState, e: &platon_messages::cbft::Evidence) {
        use platon_vm::system;
        let Some(key) = &self.reporter else { return };
        let res: Result<B256, String> = async {
            let head = self.node.store.head_header().map_err(|e| e.to_string())?;
            let slot = system::report_slot(e.kind(), e.validator(), e.epoch(), e.view(), e.index());
            let state = self.node.store.state_at(head.state_root);
            if !state
                .storage(&system::SLASHING, slot)
                .map_err(|e| e.to_string())?
                .is_zero()
            {
                return Err("already reported on chain".into());
            }
            let input = system::report_call(e);
            let gas = 21_000u64
                .saturating_add(16u64.saturating_mul(input.len() as u64))
                .saturating_add(system::REPORT_GAS);
            self.node
                .submit_call(key, system::SLASHING, input, gas, 1_000_000_000)
                .await
        }
        .await;
        match res {
            Ok(hash) => {
                tracing::info!(%hash, validator = e.validator(), view = e.view(), "cbft: double sign reported on chain");
                st.reports
                    .insert((e.validator(), e.view(), e.index(), e.kind()), hash);
            }
            Err(why) => {
                tracing::warn!(%why, validator = e.validator(), "cbft: double sign not reported")
            }
        }
    }

    /// Floods a consensus message through the overlay. A sequence number follows the message, so a
    /// message sent again (a view change repeated after a timeout) is a new flood, not a duplicate
    /// the overlay would suppress.
    fn flood(&self, m: &CbftMsg) {
        tracing::debug!(msg = %m.summary(), "cbft: out");
        let overlay = OverlayHandle::of_node(self.node.registry.clone());
        // A lone validator has no overlay; a full mailbox is counted and logged by the registry.
        if overlay.exists() {
            let _ = overlay.flood(FloodTopic::Vote, wrap(m));
        }
    }

    /// Answers a lagging validator with committed blocks from the chain store (consensus adds the
    /// QC'd blocks above them); it commits them through the QCs of their descendants.
    fn serve_committed(&self, committed: u64, from: u32) -> Result<(), BoxError> {
        let head = self.node.store.head_header()?.number;
        let mut items = Vec::new();
        let mut n = committed.saturating_add(1);
        while n <= head && items.len() < 1024 {
            let Some(hash) = self.node.store.hash_by_number(n)? else {
                break;
            };
            let Some(block) = self.node.store.block_by_hash(&hash)? else {
                break;
            };
            // With its stored QC (a node rounds behind switches round by round through them).
            let qc = match self.node.store.qc(&hash)?.map(|b| CbftMsg::decode(&b)) {
                Some(Ok(CbftMsg::Qc(q))) if q.data.hash == hash => Some(*q),
                _ => None,
            };
            let data = qc.as_ref().map(|q| q.data).unwrap_or(VoteData {
                epoch: 1,
                view: 0,
                index: 0,
                number: n,
                hash,
            });
            items.push(SyncBlock {
                block: BlockInfo {
                    data,
                    parent: block.header.parent_hash,
                    proposer: vrf_proposer(&block.header.extra_data).unwrap_or(0),
                },
                payload: block.encode(),
                qc,
            });
            n += 1;
        }
        if !items.is_empty() {
            self.flood(&CbftMsg::SyncResponse(items));
            tracing::debug!(to = from, "cbft: served committed blocks");
        }
        Ok(())
    }

    /// Sync progress: on the terminal while the node catches up, and for `eth_syncing`.
    fn track_sync(&self, st: &mut CbftState, now: u64) {
        use crate::sync::Report;
        let current = st.core.committed().data.number;
        let highest = st.core.highest_seen();
        match st.sync.update(current, highest, now) {
            Report::Quiet => {}
            Report::Started { at, highest } => tracing::info!(
                block = at,
                highest,
                behind = highest.saturating_sub(at),
                "sync: behind the network, catching up"
            ),
            Report::Progress {
                current,
                highest,
                percent,
                rate,
                eta_secs,
            } => tracing::info!(
                block = current,
                highest,
                done = %format!("{percent:.1}%"),
                speed = %format!("{rate:.0} blocks/s"),
                eta = %eta_secs.map(|s| format!("{s}s")).unwrap_or_else(|| "unknown".into()),
                "sync: progress"
            ),
            Report::Done { blocks, ms } => tracing::info!(
                block = current,
                blocks,
                secs = %format!("{:.1}", ms as f64 / 1000.0),
                speed = %format!("{:.0} blocks/s", blocks as f64 * 1000.0 / ms.max(1) as f64),
                "sync: caught up"
            ),
        }
        st.sync.publish(&self.node.sync, highest);
    }

    async fn run(&self, st: &mut CbftState) -> Result<(), BoxError> {
        for _ in 0..10_000 {
            let outs = st.core.drain();
            if outs.is_empty() {
                return Ok(());
            }
            // Records are durable before anything after them (the messages they record) leaves
            // the node; consecutive ones share one fsync.
            let mut records = Vec::new();
            for out in outs {
                if !matches!(out, Out::Persist(_)) {
                    let batch = std::mem::take(&mut records);
                    crate::blocking(|| st.wal.write_all(&batch))?;
                }
                match out {
                    // A lock is recorded after the chain it locks on: a restarted validator
                    // builds on its lock, and no other node may hold those blocks.
                    Out::Persist(r) => {
                        if matches!(r, WalRecord::Locked(_)) {
                            let chain = CbftMsg::SyncResponse(st.core.uncommitted_chain());
                            crate::blocking(|| {
                                self.node.store.put_uncommitted_chain(chain.encode())
                            })?;
                        }
                        records.push(r);
                    }
                    Out::Broadcast(m) | Out::SendTo(_, m) => self.flood(&m),
                    Out::Build {
                        parent,
                        view,
                        index,
                        ..
                    } => self.build(st, parent, view, index).await?,
                    Out::Validate { block, payload } => {
                        self.execute_ancestors(st, block.parent).await?;
                        if let Some(ok) = self.validate(st, &block, &payload).await? {
                            st.core.validated(block.data.hash, ok, now_ms());
                        }
                    }
                    Out::Commit { block, payload, qc } => {
                        let hash = block.data.hash;
                        self.commit(st, block, payload).await?;
                        if let Some(qc) = qc {
                            let qc = CbftMsg::Qc(Box::new(qc)).encode();
                            crate::blocking(|| self.node.store.put_qc(&hash, qc))?;
                        }
                        // The block is durable in the chain store: views before it are decided.
                        if st.wal.len() >= super::wal::WAL_COMPACT_AT {
                            let view = st.core.committed().data.view;
                            crate::blocking(|| st.wal.compact(view))?;
                            tracing::debug!(view, records = st.wal.len(), "cbft: WAL compacted");
                        }
                    }
                    Out::SwitchRound { epoch, block } => {
                        self.switch_round(st, epoch, block).await?
                    }
                    Out::Evidence(e) => {
                        let crypto = BlsCrypto::new(None, st.validators.clone());
                        tracing::warn!(
                            validator = e.validator(),
                            view = e.view(),
                            kind = e.kind(),
                            "cbft: double sign detected"
                        );
                        if st.evidence.add(e.clone(), 1, &crypto) == Added::New {
                            self.report(st, &e).await;
                        }
                    }
                }
            }
            crate::blocking(|| st.wal.write_all(&records))?;
        }
        Ok(())
    }
}

impl Service for CbftService {
    type Msg = CbftActorMsg;
    type State = CbftState;

    async fn init(&self, ctx: &Ctx<CbftActorMsg>) -> Result<CbftState, BoxError> {
        // The round of the next block, and its validators: configured, or (with rounds) as the
        // chain recorded them in the committed state.
        let head = self.node.store.head_header()?;
        let (epoch, (validators, round_vrf)) = match self.rounds() {
            Some(s) => {
                let epoch = s.round_of(head.number.saturating_add(1));
                (
                    epoch,
                    crate::ppos::round_keys(&self.node, &head, Vec::new(), epoch)?,
                )
            }
            None => (1, (self.validators.clone(), Vec::new())),
        };
        let me = self.my_index(&validators);
        let (wal, records, report) =
            ConsensusWal::open(&self.node.datadir.join("consensus").join("wal"))?;
        if report.torn_bytes_cut > 0 {
            tracing::warn!(
                bytes = report.torn_bytes_cut,
                "consensus WAL: torn tail cut"
            );
        }
        let crypto = Arc::new(BlsCrypto::new(self.key.clone(), validators.clone()));
        let params = self.params(epoch, validators.len());
        let mut core = Core::new(params, me, crypto, self.base()?, &records, now_ms());
        // The chain its lock extends, as recorded with the lock (blocks at or below the committed
        // head are skipped; QCs are verified as any synced block's).
        if let Some(bytes) = self.node.store.uncommitted_chain()? {
            match CbftMsg::decode(&bytes) {
                Ok(m @ CbftMsg::SyncResponse(_)) => core.on_message(m, now_ms()),
                Ok(_) | Err(_) => {
                    tracing::warn!("cbft: the recorded uncommitted chain does not decode; ignored")
                }
            }
        }
        tracing::info!(validator = ?me, validators = validators.len(), round = epoch, "cbft started");
        ctx.send_after(TICK, tick());
        let mut st = CbftState {
            core,
            wal,
            pending: HashMap::new(),
            evidence: EvidencePool::new(10_000, platon_vm::system::EVIDENCE_EPOCHS),
            reports: HashMap::new(),
            validators,
            round_vrf,
            lateness: Lateness::default(),
            sync: crate::sync::Tracker::new(
                u64::from(self.node.config.cbft.amount)
                    .saturating_mul(2)
                    .max(8),
                SYNC_REPORT_MS,
            ),
        };
        self.run(&mut st).await?;
        Ok(st)
    }

    async fn handle(
        &self,
        ctx: &Ctx<CbftActorMsg>,
        msg: CbftActorMsg,
        st: &mut CbftState,
    ) -> Result<(), BoxError> {
        match msg {
            CbftActorMsg::Net(m) => {
                tracing::debug!(msg = %m.summary(), "cbft: in");
                if let CbftMsg::SyncRequest {
                    committed,
                    from,
                    to,
                    ..
                } = &*m
                {
                    if st.core.is_asked(*to) {
                        self.serve_committed(*committed, *from)?;
                    }
                }
                st.core.on_message(*m, now_ms());
            }
            CbftActorMsg::Tick { due_ms } => {
                let now = now_ms();
                st.lateness.record(now.saturating_sub(due_ms));
                st.core.tick(now);
                self.track_sync(st, now);
                ctx.send_after(TICK, tick());
            }
            CbftActorMsg::Status(reply) => {
                let q = st.core.highest_qc();
                let activity = st.core.activity();
                let window = activity.recent_qcs.len();
                let participation: Vec<serde_json::Value> = activity
                    .participation(st.validators.len())
                    .into_iter()
                    .enumerate()
                    .map(|(i, signed)| {
                        serde_json::json!({
                            "index": i,
                            "key": st.validators.get(i).map(|k| hex::encode(&k.to_bytes()[..8])),
                            "signed": signed,
                            "of": window,
                        })
                    })
                    .collect();
                let recent: Vec<serde_json::Value> = activity
                    .recent_view_changes
                    .iter()
                    .rev()
                    .take(16)
                    .map(|(view, at, signers)| {
                        serde_json::json!({"view": view, "atMs": at, "signers": signers})
                    })
                    .collect();
                let _ = reply.send(serde_json::json!({
                    "validator": st.core.me(),
                    "validators": st.validators.len(),
                    "round": st.core.params().epoch,
                    "view": st.core.view(),
                    "highestQc": {"number": q.number, "hash": q.hash, "view": q.view, "index": q.index},
                    "locked": st.core.locked().number,
                    "committed": st.core.committed().data.number,
                    "pendingBlocks": st.pending.len(),
                    "viewChanges": activity.view_changes,
                    "recentViewChanges": recent,
                    "participation": participation,
                    "retainedEntries": st.core.retained(),
                    "walRecords": st.wal.len(),
                    "timerLateness": st.lateness.json(),
                }));
            }
            CbftActorMsg::Evidences(reply) => {
                let list: Vec<serde_json::Value> = st
                    .evidence
                    .list()
                    .iter()
                    .map(|e| {
                        let kind = match e {
                            platon_messages::cbft::Evidence::DuplicateProposal(..) => {
                                "duplicatePrepare"
                            }
                            platon_messages::cbft::Evidence::DuplicateVote(..) => "duplicateVote",
                            platon_messages::cbft::Evidence::DuplicateViewChange(..) => {
                                "duplicateViewChange"
                            }
                        };
                        let report =
                            st.reports
                                .get(&(e.validator(), e.view(), e.index(), e.kind()));
                        serde_json::json!({
                            "type": kind,
                            "validator": e.validator(),
                            "epoch": e.epoch(),
                            "view": e.view(),
                            "index": e.index(),
                            "reportTx": report,
                        })
                    })
                    .collect();
                let _ = reply.send(serde_json::json!(list));
            }
            CbftActorMsg::Equivocate(reply) => {
                let res = match (&self.key, st.core.me(), st.core.last_vote()) {
                    (Some(key), Some(me), Some(mut d)) => {
                        // Deliberately past the WAL: this is what the WAL prevents.
                        d.hash = alloy_primitives::keccak256(d.hash);
                        let signature = key.sign(d.signing_hash().as_slice()).to_bytes().to_vec();
                        tracing::warn!(
                            view = d.view,
                            index = d.index,
                            "cbft: equivocating on request (fault injection)"
                        );
                        self.flood(&CbftMsg::Vote(platon_messages::cbft::Vote {
                            data: d,
                            validator: me,
                            signature,
                        }));
                        Ok(d)
                    }
                    (_, None, _) => Err("this node is not a validator".to_string()),
                    _ => Err("this validator has not voted yet".to_string()),
                };
                let _ = reply.send(res);
            }
        }
        self.run(st).await
    }
}

#[cfg(test)]
mod tests {
    use super::Lateness;

    #[test]
    fn lateness_quantiles_come_from_the_buckets() {
        let mut l = Lateness::default();
        assert_eq!(l.quantile(0.99), 0);
        for _ in 0..98 {
            l.record(0);
        }
        l.record(7);
        l.record(1_500);
        // 98 of 100 ran within 1 ms; the 99th ran in the (5, 10] bucket; the slowest took 1.5 s.
        assert_eq!(l.quantile(0.5), 1);
        assert_eq!(l.quantile(0.99), 10);
        assert_eq!(l.quantile(1.0), 1_500);
        let j = l.json();
        assert_eq!(j["samples"], 100);
        assert_eq!(j["maxMs"], 1_500);
    }
}
