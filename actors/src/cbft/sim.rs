//! A deterministic simulation of CBFT: validators on a simulated network and clock, driven by a
//! seed. Message loss, delay, reorder and duplication; partitions that heal; crashes at any point
//! (including between a WAL write and its sync, which loses the unsynced record) and restarts from
//! the WAL and the committed chain; one Byzantine validator that equivocates. After every step it
//! checks: no two honest nodes commit different blocks at a height, no honest validator signs two
//! different things for one slot, committed blocks never disappear, and, once the network heals,
//! the chain grows again within a bound. A failing seed replays exactly.
//!
//! With rotation on (`candidates` > `validators`, `round_blocks` > 0), every candidate runs a node;
//! each round's validators are elected from the chain alone (the election's own code, seeded by
//! the block `election_distance` before the round's end), and the run also checks that every node
//! elects the same validators for every round.

use super::core::{Core, Crypto, Out, Params, WalRecord};
use super::crypto::{BlsCrypto, HashCrypto};
use super::evidence::{Added, EvidencePool};
use alloy_primitives::{keccak256, B256};
use platon_crypto::bls::BlsSecretKey;
use platon_messages::cbft::{BlockInfo, CbftMsg, Proposal, Qc, SyncBlock, Vote, VoteData};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

/// What a run simulates.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Validators.
    pub validators: u32,
    /// Blocks per view.
    pub amount: u32,
    /// View window (ms).
    pub period_ms: u64,
    /// Responsive pacing with this minimum interval (ms); None: period / amount pacing.
    pub responsive_ms: Option<u64>,
    /// With responsive pacing: the progress timeout (ms); None: only the view timeout.
    pub progress_timeout_ms: Option<u64>,
    /// Faults (loss, duplication, long delays, partitions, crashes) until this time (ms).
    pub faults_until: u64,
    /// Then a healed network for this long (ms); the chain must grow in it.
    pub heal_ms: u64,
    /// Whether validator 0 equivocates.
    pub byzantine: bool,
    /// Real BLS signatures instead of the keyed-hash stand-in (slower).
    pub bls: bool,
    /// Restart validators with an empty WAL: a broken node, to prove the checks catch double signs.
    pub forget_wal: bool,
    /// A validator that is down for the whole run (a crash fault that never recovers).
    pub dead: Option<usize>,
    /// Candidates, each running a node (0: just the validators, one fixed set).
    pub candidates: u32,
    /// Blocks per round (0: one round forever).
    pub round_blocks: u64,
    /// The next round's validators are elected at this many blocks before the round's end.
    pub election_distance: u64,
    /// Power cuts: now and then every honest node loses power at once; what its disk had not
    /// synced is lost (a crash alone keeps it, as SIGKILL keeps the page cache).
    pub power_cuts: bool,
    /// A broken node that does not sync its WAL before it sends what a record covers (records
    /// become durable only at its next commit): to prove that power cuts catch a missing fsync.
    pub unsynced_wal: bool,
    /// Each node's clock runs at its own rate (up to ±5%) from its own offset (up to 1 s).
    pub clock_skew: bool,
    /// A broken node that restarts without the blocks it voted for and the uncommitted chain
    /// recorded with its lock: to prove that power cuts of the whole network catch a lock on
    /// blocks nobody holds any more.
    pub forget_uncommitted: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            validators: 4,
            amount: 5,
            period_ms: 1_000,
            responsive_ms: None,
            progress_timeout_ms: None,
            faults_until: 20_000,
            heal_ms: 15_000,
            byzantine: true,
            bls: false,
            forget_wal: false,
            dead: None,
            candidates: 0,
            round_blocks: 0,
            election_distance: 2,
            power_cuts: false,
            unsynced_wal: false,
            clock_skew: false,
            forget_uncommitted: false,
        }
    }
}

/// What a run saw.
#[derive(Debug, Clone, Default)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Safety or liveness violations (empty: the run passed).
    pub violations: Vec<String>,
    /// Committed height of each node at the end.
    pub heights: Vec<u64>,
    /// Committed height growth of the slowest honest node during the healed window.
    pub growth_after_heal: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped (loss and partitions).
    pub dropped: u64,
    /// Messages duplicated.
    pub duplicated: u64,
    /// Crashes (and restarts).
    pub crashes: u64,
    /// Crashes that fell between a WAL write and its sync.
    pub torn_writes: u64,
    /// Partitions.
    pub partitions: u64,
    /// Power cuts (all honest nodes at once).
    pub power_cuts: u64,
    /// WAL records lost to power cuts (only a node that does not sync loses any).
    pub records_lost: u64,
    /// Evidence reported by honest nodes.
    pub evidence: u64,
    /// Distinct pieces of evidence the honest nodes' pools kept.
    pub evidence_kept: u64,
    /// Invalid blocks honest nodes refused to vote for.
    pub invalid_refused: u64,
    /// The highest round every honest node reached (1 without rotation).
    pub rounds: u64,
    /// Distinct candidates that held a validator seat.
    pub seated: usize,
    /// Round switches carried out while the network was partitioned.
    pub switches_in_partition: u64,
    /// The most records any node's WAL held (compacted at commits from [`SIM_WAL_COMPACT_AT`]).
    pub max_wal: usize,
    /// The most entries any honest node's consensus core held at a commit.
    pub max_retained: usize,
    /// WAL compactions.
    pub compactions: u64,
}

/// The simulated nodes compact their WAL at a commit once it holds this many records: far more
/// often than the node's [`super::wal::WAL_COMPACT_AT`], so crashes after compaction are common.
pub const SIM_WAL_COMPACT_AT: usize = 24;

struct Node {
    core: Option<Core>,
    wal: Vec<WalRecord>,
    /// Records written and not yet synced (only with `unsynced_wal`).
    unsynced: Vec<WalRecord>,
    /// The uncommitted chain recorded with the last lock, as the node keeps it in its chain store.
    uncommitted: Vec<SyncBlock>,
    /// Local clock: `now * (1000 + rate) / 1000 + offset` (ms).
    clock: (u64, u64),
    chain: Vec<BlockInfo>,
    qcs: Vec<Option<Qc>>,
    evidence: EvidencePool,
    down_until: u64,
    byzantine: bool,
    /// Each round's validators (node indices), as this node elected them: durable, like the
    /// staking state of a real node.
    rounds: BTreeMap<u64, Vec<u32>>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending(std::cmp::Reverse<(u64, u64)>, usize);

/// The genesis block consensus starts from.
pub fn genesis(epoch: u64) -> BlockInfo {
    BlockInfo {
        data: VoteData {
            epoch,
            view: 0,
            index: 0,
            number: 0,
            hash: keccak256(b"genesis"),
        },
        parent: B256::ZERO,
        proposer: 0,
    }
}

/// Runs one seed.
pub fn run(seed: u64, cfg: &SimConfig) -> SimReport {
    Sim::new(seed, cfg).run()
}

/// Node `i`'s signer in a round with these validators (node indices).
fn crypto_for(bls: &[BlsSecretKey], i: u32, members: &[u32]) -> Arc<dyn Crypto> {
    if bls.is_empty() {
        Arc::new(HashCrypto::with_members(i, members.to_vec()))
    } else {
        Arc::new(BlsCrypto::new(
            bls.get(i as usize).cloned(),
            members
                .iter()
                .filter_map(|m| bls.get(*m as usize).map(|k| k.public_key()))
                .collect(),
        ))
    }
}

/// Candidate `i`'s stake weight in the simulated election (uneven on purpose).
fn sim_weight(i: u32) -> u128 {
    u128::from(i % 4 + 1) * 1_000
}

struct Sim {
    cfg: SimConfig,
    bls: Vec<BlsSecretKey>,
    params: Params,
    rng: rand::rngs::StdRng,
    nodes: Vec<Node>,
    queue: BinaryHeap<Pending>,
    msgs: HashMap<u64, (usize, usize, CbftMsg)>,
    seq: u64,
    now: u64,
    partition: Option<(Vec<bool>, u64)>,
    committed: BTreeMap<u64, B256>,
    /// The validators the first node to switch elected for each round (all must agree).
    elected: BTreeMap<u64, Vec<u32>>,
    signed: HashMap<(u32, u8, u64, u64, u32), B256>,
    report: SimReport,
}

impl Sim {
    fn new(seed: u64, cfg: &SimConfig) -> Self {
        let params = Params {
            validators: cfg.validators,
            amount: cfg.amount,
            period_ms: cfg.period_ms,
            responsive_ms: cfg.responsive_ms,
            progress_timeout_ms: cfg.progress_timeout_ms,
            epoch: 1,
            round_blocks: cfg.round_blocks,
        };
        let mut nodes = Vec::new();
        let count = cfg.candidates.max(cfg.validators);
        let first: Vec<u32> = (0..cfg.validators).collect();
        let bls_keys: Vec<BlsSecretKey> = if cfg.bls {
            (0..count)
                .filter_map(|i| BlsSecretKey::from_ikm(&keccak256(i.to_be_bytes()).0).ok())
                .collect()
        } else {
            Vec::new()
        };
        for i in 0..count {
            let me = first.iter().position(|m| *m == i).map(|p| p as u32);
            let core = Core::new(
                params.clone(),
                me,
                crypto_for(&bls_keys, i, &first),
                genesis(1),
                &[],
                0,
            );
            nodes.push(Node {
                core: Some(core),
                wal: Vec::new(),
                unsynced: Vec::new(),
                uncommitted: Vec::new(),
                clock: (1000, 0),
                chain: Vec::new(),
                qcs: Vec::new(),
                evidence: EvidencePool::new(10_000, 27),
                down_until: 0,
                byzantine: cfg.byzantine && i == 0,
                rounds: BTreeMap::from([(1, first.clone())]),
            });
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        if cfg.clock_skew {
            for n in &mut nodes {
                n.clock = (rng.gen_range(950..=1050), rng.gen_range(0..1_000));
            }
        }
        Self {
            cfg: cfg.clone(),
            bls: bls_keys,
            params,
            rng,
            nodes,
            queue: BinaryHeap::new(),
            msgs: HashMap::new(),
            seq: 0,
            now: 0,
            partition: None,
            committed: BTreeMap::new(),
            elected: BTreeMap::from([(1, first.clone())]),
            signed: HashMap::new(),
            report: SimReport {
                seed,
                ..Default::default()
            },
        }
    }

    fn faulty_now(&self) -> bool {
        self.now < self.cfg.faults_until
    }

    fn send(&mut self, from: usize, to: usize, msg: CbftMsg) {
        if from == to {
            return;
        }
        // Every message crosses the wire format, as between processes.
        let msg = match CbftMsg::decode(&msg.encode()) {
            Ok(m) if m == msg => m,
            other => {
                let why = format!("message does not survive its encoding: {other:?}");
                self.violation(why);
                return;
            }
        };
        if let Some((side, _)) = &self.partition {
            if side[from] != side[to] {
                self.report.dropped += 1;
                return;
            }
        }
        let faulty = self.faulty_now();
        if faulty && self.rng.gen_bool(0.05) {
            self.report.dropped += 1;
            return;
        }
        let copies = if faulty && self.rng.gen_bool(0.05) {
            self.report.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = if faulty && self.rng.gen_bool(0.1) {
                self.rng.gen_range(100..800)
            } else {
                self.rng.gen_range(5..60)
            };
            self.seq += 1;
            self.msgs.insert(self.seq, (from, to, msg.clone()));
            self.queue
                .push(Pending(std::cmp::Reverse((self.now + delay, self.seq)), to));
        }
    }

    fn violation(&mut self, v: String) {
        if self.report.violations.len() < 20 {
            self.report.violations.push(v);
        }
    }

    /// Checks that an honest validator never signs two different things for one slot.
    fn record_signed(&mut self, i: usize, msg: &CbftMsg) {
        if self.nodes[i].byzantine {
            return;
        }
        let key_hash = match msg {
            CbftMsg::Prepare(p) => Some((
                (
                    i as u32,
                    0u8,
                    p.block.data.epoch,
                    p.block.data.view,
                    p.block.data.index,
                ),
                p.block.data.hash,
            )),
            CbftMsg::Vote(v) => Some((
                (i as u32, 1u8, v.data.epoch, v.data.view, v.data.index),
                v.data.hash,
            )),
            CbftMsg::ViewChange(vc) => Some((
                (i as u32, 2u8, vc.epoch, vc.view, 0),
                vc.highest_qc
                    .as_ref()
                    .map(|q| q.data.hash)
                    .unwrap_or(B256::ZERO),
            )),
            _ => None,
        };
        if let Some((key, hash)) = key_hash {
            match self.signed.get(&key) {
                Some(h) if *h != hash => self.violation(format!(
                    "validator {i} signed two different messages for {:?} at {} ms",
                    key, self.now
                )),
                Some(_) => {}
                None => {
                    self.signed.insert(key, hash);
                }
            }
        }
    }

    fn block_for(
        &self,
        i: usize,
        parent: B256,
        number: u64,
        view: u64,
        index: u32,
        salt: &[u8],
    ) -> BlockInfo {
        let mut buf = Vec::new();
        buf.extend_from_slice(parent.as_slice());
        buf.extend_from_slice(&number.to_be_bytes());
        buf.extend_from_slice(&view.to_be_bytes());
        buf.extend_from_slice(&index.to_be_bytes());
        buf.extend_from_slice(&(i as u32).to_be_bytes());
        buf.extend_from_slice(&self.report.seed.to_be_bytes());
        buf.extend_from_slice(salt);
        let core = self.nodes[i].core.as_ref();
        let epoch = core.map(|c| c.params().epoch).unwrap_or(1);
        // The proposer's index in its round (the byzantine node names itself in its twins).
        let proposer = core.and_then(|c| c.me()).unwrap_or(i as u32);
        BlockInfo {
            data: VoteData {
                epoch,
                view,
                index,
                number,
                hash: keccak256(&buf),
            },
            parent,
            proposer,
        }
    }

    /// Carries out node `i`'s outputs in order; may crash it between a WAL write and its sync.
    fn process(&mut self, i: usize) {
        loop {
            let Some(core) = self.nodes[i].core.as_mut() else {
                return;
            };
            let outs = core.drain();
            if outs.is_empty() {
                return;
            }
            for out in outs {
                match out {
                    Out::Persist(r) => {
                        if self.faulty_now() && !self.nodes[i].byzantine && self.rng.gen_bool(0.002)
                        {
                            // Written but not synced: lost with the crash; nothing after it leaves.
                            self.report.torn_writes += 1;
                            self.crash(i);
                            return;
                        }
                        let node = &mut self.nodes[i];
                        if let (WalRecord::Locked(_), Some(core)) = (&r, node.core.as_ref()) {
                            node.uncommitted = core.uncommitted_chain();
                        }
                        if self.cfg.unsynced_wal {
                            node.unsynced.push(r);
                        } else {
                            node.wal.push(r);
                        }
                    }
                    Out::Broadcast(msg) => {
                        self.record_signed(i, &msg);
                        let n = self.nodes.len();
                        if self.nodes[i].byzantine {
                            self.equivocate(i, msg);
                        } else {
                            for j in 0..n {
                                self.send(i, j, msg.clone());
                            }
                        }
                    }
                    Out::SendTo(_, msg @ CbftMsg::SyncResponse(_)) if self.cfg.round_blocks > 0 => {
                        // Answers are flooded, as the node does: the asker's index may be of
                        // another round (or none: an observer).
                        for j in 0..self.nodes.len() {
                            self.send(i, j, msg.clone());
                        }
                    }
                    Out::SendTo(j, msg) => {
                        // A validator index of this node's round, to the node holding it.
                        let epoch = self.nodes[i].core.as_ref().map(|c| c.params().epoch);
                        let to = epoch
                            .and_then(|e| self.nodes[i].rounds.get(&e))
                            .and_then(|m| m.get(j as usize).copied());
                        if let Some(to) = to {
                            self.send(i, to as usize, msg);
                        }
                    }
                    Out::SwitchRound { epoch, block } => self.switch_round(i, epoch, block),
                    Out::Build {
                        parent,
                        number,
                        view,
                        index,
                    } => {
                        let b = self.block_for(i, parent, number, view, index, b"");
                        let now = self.local(i);
                        if let Some(core) = self.nodes[i].core.as_mut() {
                            core.proposed(b.clone(), b.data.hash.to_vec(), now);
                        }
                    }
                    Out::Commit { block, qc, .. } => self.on_commit(i, block, qc),
                    Out::Validate { block, payload } => {
                        // The executor's verdict: the stand-in body is the block hash; the
                        // equivocator sometimes sends a body that does not execute.
                        let valid = payload == block.data.hash.to_vec();
                        if !valid {
                            self.report.invalid_refused += 1;
                        }
                        let now = self.local(i);
                        if let Some(core) = self.nodes[i].core.as_mut() {
                            core.validated(block.data.hash, valid, now);
                        }
                    }
                    Out::Evidence(e) => {
                        if !self.nodes[i].byzantine {
                            self.report.evidence += 1;
                            let members = self.elected.get(&e.epoch()).cloned().unwrap_or_default();
                            let crypto = crypto_for(&self.bls, i as u32, &members);
                            if let Added::Invalid(why) =
                                self.nodes[i].evidence.add(e.clone(), 1, crypto.as_ref())
                            {
                                self.violation(format!(
                                    "node {i} reported unprovable evidence: {why}"
                                ));
                            }
                            if members.get(e.validator() as usize) != Some(&0)
                                || !self.cfg.byzantine
                            {
                                self.violation(format!(
                                    "honest validator {} convicted by {i}: {e:?}",
                                    e.validator()
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The Byzantine validator sends one version to half the validators and a conflicting one to
    /// the other half.
    fn equivocate(&mut self, i: usize, msg: CbftMsg) {
        let n = self.nodes.len();
        let twin: Option<CbftMsg> = match &msg {
            CbftMsg::Prepare(p) => {
                let d = p.block.data;
                let b = self.block_for(i, p.block.parent, d.number, d.view, d.index, b"twin");
                let crypto = crypto_for(&self.bls, i as u32, &[]);
                let payload = if self.rng.gen_bool(0.5) {
                    b"does not execute".to_vec()
                } else {
                    b.data.hash.to_vec()
                };
                Some(CbftMsg::Prepare(Box::new(Proposal {
                    signature: crypto.sign(&b.data.signing_hash()),
                    payload,
                    block: b,
                    ..(**p).clone()
                })))
            }
            CbftMsg::Vote(v) => {
                let data = VoteData {
                    hash: keccak256(v.data.hash),
                    ..v.data
                };
                let crypto = crypto_for(&self.bls, i as u32, &[]);
                Some(CbftMsg::Vote(Vote {
                    data,
                    validator: v.validator,
                    signature: crypto.sign(&data.signing_hash()),
                }))
            }
            _ => None,
        };
        for j in 0..n {
            match (&twin, j % 2) {
                (Some(t), 1) => {
                    self.send(i, j, t.clone());
                    // Some get both, so the equivocation can be proven.
                    if self.rng.gen_bool(0.5) {
                        self.send(i, j, msg.clone());
                    }
                }
                _ => self.send(i, j, msg.clone()),
            }
        }
    }

    fn on_commit(&mut self, i: usize, block: BlockInfo, qc: Option<Qc>) {
        let node = &mut self.nodes[i];
        let tip = node
            .chain
            .last()
            .map(|b| b.data.hash)
            .unwrap_or(genesis(1).data.hash);
        if block.parent != tip || block.data.number != node.chain.len() as u64 + 1 {
            let msg = format!(
                "node {i} committed block {} (number {}) not on its chain tip {} at {} ms",
                block.data.hash, block.data.number, tip, self.now
            );
            self.violation(msg);
            return;
        }
        node.chain.push(block.clone());
        // The commit syncs the disk: a node that skipped its WAL's fsync has its records now.
        let written = std::mem::take(&mut node.unsynced);
        node.wal.extend(written);
        node.qcs.push(qc);
        // As the node does: once the block is durable, views before it are decided.
        if node.wal.len() >= SIM_WAL_COMPACT_AT {
            node.wal = super::wal::compacted(&node.wal, block.data.view);
            self.report.compactions += 1;
        }
        self.report.max_wal = self.report.max_wal.max(node.wal.len());
        if node.byzantine {
            return;
        }
        if let Some(core) = node.core.as_ref() {
            self.report.max_retained = self.report.max_retained.max(core.retained());
        }
        match self.committed.get(&block.data.number) {
            Some(h) if *h != block.data.hash => {
                let msg = format!(
                    "two blocks committed at height {}: {} and {} (node {i}, {} ms)",
                    block.data.number, h, block.data.hash, self.now
                );
                self.violation(msg);
            }
            Some(_) => {}
            None => {
                self.committed.insert(block.data.number, block.data.hash);
            }
        }
    }

    /// Node `i`'s clock now.
    fn local(&self, i: usize) -> u64 {
        let (rate, offset) = self.nodes[i].clock;
        (self.now * rate / 1000).saturating_add(offset)
    }

    /// A process crash: what was written survives in the page cache, synced or not.
    fn crash(&mut self, i: usize) {
        self.report.crashes += 1;
        let down = self.rng.gen_range(200..3_000);
        let node = &mut self.nodes[i];
        let written = std::mem::take(&mut node.unsynced);
        node.wal.extend(written);
        node.core = None;
        node.down_until = self.now + down;
    }

    /// A power cut: what the disk had not synced is lost.
    fn power_cut(&mut self, i: usize) {
        let lost = std::mem::take(&mut self.nodes[i].unsynced);
        self.report.records_lost += lost.len() as u64;
        self.crash(i);
    }

    fn restart(&mut self, i: usize) {
        if self.cfg.forget_wal {
            self.nodes[i].wal.clear();
        }
        let node = &mut self.nodes[i];
        let base = node.chain.last().cloned().unwrap_or_else(|| genesis(1));
        // The round of the next block, and its validators from this node's durable election
        // record (a node always switches before it commits a block of the new round).
        let mut params = self.params.clone();
        params.epoch = params.round_of(base.data.number.saturating_add(1));
        let Some(members) = node.rounds.get(&params.epoch).cloned() else {
            let msg = format!(
                "node {i} restarts at #{} without the validators of round {}",
                base.data.number, params.epoch
            );
            self.violation(msg);
            return;
        };
        params.validators = members.len() as u32;
        let me = members
            .iter()
            .position(|m| *m == i as u32)
            .map(|p| p as u32);
        let now = (self.now * node.clock.0 / 1000).saturating_add(node.clock.1);
        // A broken node may restart without the blocks it voted for.
        let wal: Vec<WalRecord> = if self.cfg.forget_uncommitted {
            node.wal
                .iter()
                .filter(|r| !matches!(r, WalRecord::Accepted(_)))
                .cloned()
                .collect()
        } else {
            node.wal.clone()
        };
        let mut core = Core::new(
            params,
            me,
            crypto_for(&self.bls, i as u32, &members),
            base,
            &wal,
            now,
        );
        // The chain its lock extends, as the node reads it back from its chain store.
        if !node.uncommitted.is_empty() && !self.cfg.forget_uncommitted {
            core.on_message(CbftMsg::SyncResponse(node.uncommitted.clone()), now);
        }
        node.core = Some(core);
        node.down_until = 0;
        // Catch up from anyone.
        let peer = (i + 1) % self.nodes.len();
        let committed = self.nodes[i].chain.len() as u64;
        self.send(
            i,
            peer,
            CbftMsg::SyncRequest {
                committed,
                from: i as u32,
                to: peer as u32,
                at: self.local(i),
            },
        );
    }

    /// Node `i` needs round `epoch`'s validators: it elects them from its own view of the chain
    /// (the previous round's validators, and the block `election_distance` below the old round's
    /// last block on that block's branch, whose hash seeds the lottery), or waits when it lacks
    /// a block of that branch.
    fn switch_round(&mut self, i: usize, epoch: u64, last: VoteData) {
        let node = &self.nodes[i];
        let Some(core) = node.core.as_ref() else {
            return;
        };
        let Some(prev) = node.rounds.get(&epoch.saturating_sub(1)).cloned() else {
            self.violation(format!(
                "node {i} lacks the validators of round {}",
                epoch - 1
            ));
            return;
        };
        let at = last.number.saturating_sub(self.cfg.election_distance);
        let mut hash = last.hash;
        let mut number = last.number;
        while number > at {
            let parent = match core.block(&hash) {
                Some((b, _)) => b.parent,
                None => match node.chain.get(number.saturating_sub(1) as usize) {
                    Some(b) if b.data.hash == hash => b.parent,
                    _ => {
                        if std::env::var("PLATON_CBFT_TRACE").is_ok() {
                            eprintln!(
                                "node {i} at {}: switch to {epoch} lacks #{number} {hash}",
                                self.now
                            );
                        }
                        return; // not here yet: the core asks again
                    }
                },
            };
            hash = parent;
            number -= 1;
        }
        let weighted: Vec<(u32, u128)> = (0..self.nodes.len() as u32)
            .map(|c| (c, sim_weight(c)))
            .collect();
        let seed = keccak256([hash.as_slice(), b"seed"].concat());
        let members = platon_vm::ppos::election::next_validators(
            &prev,
            &weighted,
            self.cfg.validators as usize,
            seed,
        );
        match self.elected.get(&epoch) {
            Some(m) if *m != members => {
                let msg = format!(
                    "node {i} elected {members:?} for round {epoch}, another node {m:?} (at {} ms)",
                    self.now
                );
                self.violation(msg);
            }
            Some(_) => {}
            None => {
                self.elected.insert(epoch, members.clone());
            }
        }
        if self.partition.is_some() {
            self.report.switches_in_partition += 1;
        }
        let me = members
            .iter()
            .position(|m| *m == i as u32)
            .map(|p| p as u32);
        let crypto = crypto_for(&self.bls, i as u32, &members);
        let n = members.len() as u32;
        self.nodes[i].rounds.insert(epoch, members);
        let now = self.local(i);
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.enter_round(epoch, n, me, crypto, now);
        }
    }

    fn check_durable(&mut self) {
        for i in 0..self.nodes.len() {
            if let Some(core) = &self.nodes[i].core {
                let have = core.committed().data.number;
                let durable = self.nodes[i].chain.len() as u64;
                if have != durable {
                    let msg = format!(
                        "node {i}: consensus says {have} committed, the chain holds {durable}"
                    );
                    self.violation(msg);
                }
            }
        }
    }

    fn run(mut self) -> SimReport {
        let end = self.cfg.faults_until + self.cfg.heal_ms;
        let tick = 50u64;
        let mut next_tick = 0u64;
        let mut heights_at_heal: Option<Vec<u64>> = None;
        if let Some(d) = self.cfg.dead {
            self.nodes[d].core = None;
            self.nodes[d].down_until = u64::MAX;
        }
        let dead = self.cfg.dead;
        let honest: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !self.nodes[*i].byzantine && Some(*i) != dead)
            .collect();
        while self.now < end {
            let next_msg = self.queue.peek().map(|p| (p.0).0 .0);
            match next_msg {
                Some(t) if t < next_tick => {
                    self.now = t;
                    let Some(Pending(std::cmp::Reverse((_, seq)), to)) = self.queue.pop() else {
                        continue;
                    };
                    let Some((sender, _, msg)) = self.msgs.remove(&seq) else {
                        continue;
                    };
                    let now = self.local(to);
                    if self.nodes[to].core.is_some() {
                        // The chain store answers for committed blocks; consensus for the rest.
                        if let CbftMsg::SyncRequest { committed, .. } = &msg {
                            let node = &self.nodes[to];
                            let start = (*committed as usize).min(node.chain.len());
                            let items: Vec<SyncBlock> = node.chain[start..]
                                .iter()
                                .zip(&node.qcs[start..])
                                .take(512)
                                .map(|(b, q)| SyncBlock {
                                    block: b.clone(),
                                    payload: b.data.hash.to_vec(),
                                    qc: q.clone(),
                                })
                                .collect();
                            if !items.is_empty() {
                                self.send(to, sender, CbftMsg::SyncResponse(items));
                            }
                        }
                        self.report.delivered += 1;
                        if let Some(core) = self.nodes[to].core.as_mut() {
                            core.on_message(msg, now);
                        }
                        self.process(to);
                    } else {
                        self.report.dropped += 1;
                    }
                }
                _ => {
                    self.now = next_tick;
                    next_tick += tick;
                    if std::env::var("PLATON_CBFT_TRACE").is_ok() && self.now % 1000 == 0 {
                        eprintln!(
                            "t={} queue={} delivered={} views={:?}",
                            self.now,
                            self.queue.len(),
                            self.report.delivered,
                            self.nodes
                                .iter()
                                .map(|n| n.core.as_ref().map(|c| (
                                    c.view(),
                                    c.params().epoch,
                                    c.me(),
                                    c.switching().is_some(),
                                    c.highest_qc().number
                                )))
                                .collect::<Vec<_>>()
                        );
                    }
                    self.faults();
                    if heights_at_heal.is_none() && self.now >= self.cfg.faults_until {
                        heights_at_heal =
                            Some(self.nodes.iter().map(|n| n.chain.len() as u64).collect());
                    }
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].core.is_none() && self.now >= self.nodes[i].down_until {
                            self.restart(i);
                            self.process(i);
                        }
                        let now = self.local(i);
                        if let Some(core) = self.nodes[i].core.as_mut() {
                            core.tick(now);
                            self.process(i);
                        }
                    }
                }
            }
            self.check_durable();
        }
        self.report.heights = self.nodes.iter().map(|n| n.chain.len() as u64).collect();
        self.report.rounds = honest
            .iter()
            .filter_map(|i| self.nodes[*i].rounds.keys().next_back().copied())
            .min()
            .unwrap_or(1);
        let seated: std::collections::BTreeSet<u32> =
            self.elected.values().flatten().copied().collect();
        self.report.seated = seated.len();
        self.report.evidence_kept = self
            .nodes
            .iter()
            .filter(|n| !n.byzantine)
            .map(|n| n.evidence.len() as u64)
            .sum();
        if let Some(at) = heights_at_heal {
            let growth = honest
                .iter()
                .map(|i| self.report.heights[*i].saturating_sub(at[*i]))
                .min()
                .unwrap_or(0);
            self.report.growth_after_heal = growth;
            if growth == 0 {
                let states: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| match &n.core {
                        Some(c) => format!(
                            "view {} highest QC (v{} i{} #{}) lock (v{} i{} #{}) committed #{}",
                            c.view(),
                            c.highest_qc().view,
                            c.highest_qc().index,
                            c.highest_qc().number,
                            c.locked().view,
                            c.locked().index,
                            c.locked().number,
                            c.committed().data.number
                        ),
                        None => "down".into(),
                    })
                    .collect();
                let msg = format!(
                    "liveness: some honest node's chain did not grow in the {} ms after healing (heights {:?} -> {:?}); nodes: {}",
                    self.cfg.heal_ms, at, self.report.heights, states.join(" | ")
                );
                self.violation(msg);
            }
        }
        self.report
    }

    fn faults(&mut self) {
        if !self.faulty_now() {
            // Heal: no partition, everyone up.
            self.partition = None;
            return;
        }
        if let Some((_, until)) = &self.partition {
            if self.now >= *until {
                self.partition = None;
            }
        } else if self.rng.gen_bool(0.002) {
            let n = self.nodes.len();
            let side: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.5)).collect();
            let until = self.now + self.rng.gen_range(500..4_000);
            self.partition = Some((side, until));
            self.report.partitions += 1;
        }
        // Crash an honest node now and then (never more than one down at once).
        let down = self.nodes.iter().filter(|n| n.core.is_none()).count();
        if self.cfg.power_cuts && down == 0 && self.rng.gen_bool(0.002) {
            self.report.power_cuts += 1;
            for i in 0..self.nodes.len() {
                if !self.nodes[i].byzantine && self.nodes[i].core.is_some() {
                    self.power_cut(i);
                }
            }
            return;
        }
        if down == 0 && self.rng.gen_bool(0.003) {
            let i = self.rng.gen_range(0..self.nodes.len());
            if !self.nodes[i].byzantine {
                self.crash(i);
            }
        }
    }
}
