//! CBFT as a pure, deterministic state machine: no IO and no clock of its own. The caller feeds
//! messages and the time, and carries out the returned [`Out`]puts in order: a
//! [`Out::Persist`] must be durable before any later output is acted on, which is what makes the
//! consensus WAL hold everything this validator signed before it leaves the node.
//!
//! Rules (DESIGN.md §6): view `v` belongs to validator `v mod n`, who proposes up to `amount`
//! blocks; a validator votes for block N only once N−1 has a QC, at most once per view slot, and
//! only for a block that extends its lock (or whose parent's QC is from a later view than the
//! lock); a QC on block h locks h−1 and commits h−2 when the three are consecutive slots of one
//! view. A QC on the last slot of a view moves everyone to the next view; a timeout
//! (period × 1.5^k, k capped at 2) sends a ViewChange carrying the highest QC, and a quorum of them
//! moves everyone to the next view, whose proposer builds on the highest QC among them.

use alloy_primitives::B256;
use platon_messages::cbft::{
    BlockInfo, CbftMsg, Evidence, Proposal, Qc, SyncBlock, ViewChange, ViewChangeQc, Vote, VoteData,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Signatures as consensus needs them (BLS in the node; a cheap stand-in in large simulations).
pub trait Crypto: Send + Sync {
    /// Signs `msg` as this validator.
    fn sign(&self, msg: &B256) -> Vec<u8>;
    /// Checks one validator's signature.
    fn verify(&self, validator: u32, msg: &B256, sig: &[u8]) -> bool;
    /// Aggregates signatures given in ascending signer order.
    fn aggregate(&self, sigs: &[&[u8]]) -> Option<Vec<u8>>;
    /// Checks an aggregate of `signers` (ascending) on one message.
    fn verify_aggregate(&self, signers: &[u32], msg: &B256, sig: &[u8]) -> bool;
}

/// Consensus parameters of one epoch.
#[derive(Debug, Clone)]
pub struct Params {
    /// Number of validators.
    pub validators: u32,
    /// Blocks per view.
    pub amount: u32,
    /// View window (ms); a block every period / amount, and the view timeout.
    pub period_ms: u64,
    /// Responsive pacing: the next block of a view is built as soon as its parent has a QC, at
    /// least this many ms after the previous build (None: PlatON's pacing, a block every
    /// period / amount without waiting for QCs).
    pub responsive_ms: Option<u64>,
    /// With responsive pacing: a view also times out when no new QC has come in it for this long
    /// (ms, backed off like the view timeout), so a silent proposer costs this, not the period.
    pub progress_timeout_ms: Option<u64>,
    /// Epoch: the consensus round (validator set) the node is in.
    pub epoch: u64,
    /// Blocks per round: round r holds blocks (r−1)·R+1 ..= r·R, and a QC on its last block
    /// switches to round r+1's validators (0: one round forever, no switch).
    pub round_blocks: u64,
}

impl Params {
    /// QC threshold: n − (n−1)/3.
    pub fn threshold(&self) -> usize {
        let n = self.validators as usize;
        n - n.saturating_sub(1) / 3
    }
    /// Validators that may be faulty: (n−1)/3.
    pub fn faulty(&self) -> usize {
        (self.validators as usize).saturating_sub(1) / 3
    }
    /// Proposer of `view`.
    pub fn proposer(&self, view: u64) -> u32 {
        (view % u64::from(self.validators.max(1))) as u32
    }
    /// The last block of round `epoch` (None without rounds).
    pub fn round_end(&self, epoch: u64) -> Option<u64> {
        (self.round_blocks > 0).then(|| epoch.saturating_mul(self.round_blocks))
    }
    /// The round block `number` belongs to (1 without rounds).
    pub fn round_of(&self, number: u64) -> u64 {
        platon_vm::system::round_of(self.round_blocks, number)
    }
    /// Whether block `number` belongs to round `epoch`.
    pub fn in_round(&self, epoch: u64, number: u64) -> bool {
        self.round_blocks == 0 || (number > 0 && self.round_of(number) == epoch)
    }
    /// View timeout after `k` consecutive timeouts: period × 1.5^min(k, 2).
    pub fn timeout(&self, k: u32) -> u64 {
        backoff(self.period_ms, k)
    }
    /// Progress timeout after `k` consecutive timeouts (responsive pacing only): the longest wait
    /// for the view's next QC, × 1.5^min(k, 2).
    pub fn progress_timeout(&self, k: u32) -> Option<u64> {
        self.responsive_ms?;
        self.progress_timeout_ms.map(|t| backoff(t, k))
    }
}

/// `base` × 1.5^min(k, 2).
fn backoff(base: u64, k: u32) -> u64 {
    match k.min(2) {
        0 => base,
        1 => base.saturating_mul(3) / 2,
        _ => base.saturating_mul(9) / 4,
    }
}

/// What the WAL keeps: everything this validator signed, and its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalRecord {
    /// A proposal for a slot.
    Proposed(VoteData),
    /// A vote for a slot.
    Voted(VoteData),
    /// A view change for a view (the record of older versions: the message itself was not kept).
    ViewChanged(u64),
    /// The view change this validator signed, whole: after a restart it can say it again, so a
    /// network that restarted together still gathers a view-change quorum.
    SentViewChange(Box<ViewChange>),
    /// A proposal this validator is about to vote for, whole (block body and parent QC): after a
    /// restart it still has every block it voted for, although no other node may hold it.
    Accepted(Box<Proposal>),
    /// The lock moved here.
    Locked(VoteData),
}

/// What the caller must do, in order.
#[derive(Debug, Clone)]
pub enum Out {
    /// Make durable before acting on any later output.
    Persist(WalRecord),
    /// Send to every validator.
    Broadcast(CbftMsg),
    /// Send to one validator.
    SendTo(u32, CbftMsg),
    /// Build a block on `parent` for this slot, then call [`Core::proposed`].
    Build {
        /// Parent hash.
        parent: B256,
        /// The new block's number.
        number: u64,
        /// View.
        view: u64,
        /// Index in the view.
        index: u32,
    },
    /// A block became final (in chain order).
    Commit {
        /// The block.
        block: BlockInfo,
        /// Its encoded body.
        payload: Vec<u8>,
        /// Its QC.
        qc: Option<Qc>,
    },
    /// A validator signed two conflicting things.
    Evidence(Evidence),
    /// Execute this proposed block on its parent's state and check it, then call
    /// [`Core::validated`]; no vote is cast for a block before that.
    Validate {
        /// The block.
        block: BlockInfo,
        /// Its encoded body.
        payload: Vec<u8>,
    },
    /// A QC closed round `epoch − 1` on `block` (its last block): find round `epoch`'s
    /// validators from the chain up to that block, then call [`Core::enter_round`]. Asked again
    /// at each sync interval until answered (the block may still be on its way).
    SwitchRound {
        /// The new round.
        epoch: u64,
        /// The QC'd last block of the old round.
        block: VoteData,
    },
}

/// Messages of the next round, kept until the switch (at most this many).
const FUTURE_MAX: usize = 512;

/// The consensus state of one node.
pub struct Core {
    p: Params,
    me: Option<u32>,
    crypto: Arc<dyn Crypto>,
    view: u64,
    view_started: u64,
    /// When the current view last made progress: it started, or a QC in it came in.
    last_progress: u64,
    timeouts_in_row: u32,
    blocks: HashMap<B256, (BlockInfo, Vec<u8>)>,
    qcs: HashMap<B256, Qc>,
    highest_qc: VoteData,
    locked: VoteData,
    committed: BlockInfo,
    voted: BTreeMap<(u64, u32), VoteData>,
    proposed: BTreeMap<(u64, u32), VoteData>,
    vc_sent: BTreeMap<u64, Option<Box<ViewChange>>>,
    votes: HashMap<VoteData, BTreeMap<u32, Vote>>,
    seen_votes: HashMap<(u32, u64, u32), Vote>,
    seen_props: HashMap<(u64, u32), Proposal>,
    seen_vcs: HashMap<(u32, u64), ViewChange>,
    view_changes: BTreeMap<u64, BTreeMap<u32, ViewChange>>,
    entered_by: Option<ViewChangeQc>,
    pending: Vec<Proposal>,
    next_index: u32,
    last_build: u64,
    building: bool,
    last_sync: u64,
    /// The highest block number a QC that verified here certifies (sync progress).
    highest_seen: u64,
    helped: HashMap<u32, u64>,
    need_sync: bool,
    /// Blocks checked by the executor: valid or not.
    checked: HashMap<B256, bool>,
    validating: std::collections::HashSet<B256>,
    /// The QC on the old round's last block, while the next round's validators are looked up.
    switching: Option<Qc>,
    /// The QC that opened the current round (answers validators still in the old round).
    opened_by: Option<Qc>,
    last_switch_ask: u64,
    /// The previous round: its epoch, size and keys (checks its QCs that arrive late).
    prev: Option<(u64, u32, Arc<dyn Crypto>)>,
    prev_me: Option<u32>,
    /// When the opening QC was last sent to validators still in the old round.
    old_round_helped: u64,
    /// Messages of the next round that arrived before the switch.
    future: Vec<CbftMsg>,
    out: Vec<Out>,
    activity: Activity,
}

/// How many recent QCs and view changes [`Activity`] keeps.
pub const ACTIVITY_WINDOW: usize = 64;

/// A bounded record of recent consensus activity, for the console and the metrics.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    /// View changes this node entered since it started.
    pub view_changes: u64,
    /// The most recent view changes (view left, when entered in ms, how many validators signed),
    /// oldest first, at most [`ACTIVITY_WINDOW`].
    pub recent_view_changes: std::collections::VecDeque<(u64, u64, usize)>,
    /// Signer bits of the most recent QCs of this round (number, view, signers), oldest first, at
    /// most [`ACTIVITY_WINDOW`].
    pub recent_qcs: std::collections::VecDeque<(u64, u64, Vec<bool>)>,
}

impl Activity {
    fn push_qc(&mut self, qc: &Qc) {
        if self.recent_qcs.len() >= ACTIVITY_WINDOW {
            self.recent_qcs.pop_front();
        }
        self.recent_qcs
            .push_back((qc.data.number, qc.data.view, qc.signers.clone()));
    }

    fn push_view_change(&mut self, view: u64, now: u64, signers: usize) {
        self.view_changes = self.view_changes.saturating_add(1);
        if self.recent_view_changes.len() >= ACTIVITY_WINDOW {
            self.recent_view_changes.pop_front();
        }
        self.recent_view_changes.push_back((view, now, signers));
    }

    /// Per validator index (of `n`), how many of the recent QCs it signed.
    pub fn participation(&self, n: usize) -> Vec<usize> {
        let mut out = vec![0usize; n];
        for (_, _, signers) in &self.recent_qcs {
            for (i, s) in signers.iter().enumerate() {
                if *s {
                    if let Some(c) = out.get_mut(i) {
                        *c = c.saturating_add(1);
                    }
                }
            }
        }
        out
    }
}

/// Views below the committed view whose first votes, proposals and view changes are kept for
/// double-sign detection; older ones are pruned at each commit.
pub const EVIDENCE_VIEWS: u64 = 64;

/// Sync requests go out at most this often.
const SYNC_INTERVAL_MS: u64 = 300;

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("me", &self.me)
            .field("view", &self.view)
            .field("committed", &self.committed.data.number)
            .finish()
    }
}

fn info_ref(b: &BlockInfo) -> VoteData {
    b.data
}

impl Core {
    /// A node whose last committed block is `base` (the genesis, or the chain head after a
    /// restart), recovering what it signed from `wal`. `me` is its validator index (None: observer).
    pub fn new(
        p: Params,
        me: Option<u32>,
        crypto: Arc<dyn Crypto>,
        base: BlockInfo,
        wal: &[WalRecord],
        now: u64,
    ) -> Self {
        let mut c = Self {
            view: base.data.view,
            view_started: now,
            last_progress: now,
            timeouts_in_row: 0,
            blocks: HashMap::new(),
            qcs: HashMap::new(),
            highest_qc: info_ref(&base),
            locked: info_ref(&base),
            committed: base.clone(),
            voted: BTreeMap::new(),
            proposed: BTreeMap::new(),
            vc_sent: BTreeMap::new(),
            votes: HashMap::new(),
            seen_votes: HashMap::new(),
            seen_props: HashMap::new(),
            seen_vcs: HashMap::new(),
            view_changes: BTreeMap::new(),
            entered_by: None,
            pending: Vec::new(),
            next_index: 0,
            last_build: 0,
            building: false,
            last_sync: 0,
            highest_seen: 0,
            helped: HashMap::new(),
            need_sync: false,
            checked: HashMap::new(),
            validating: std::collections::HashSet::new(),
            switching: None,
            opened_by: None,
            last_switch_ask: 0,
            prev: None,
            prev_me: None,
            old_round_helped: 0,
            future: Vec::new(),
            out: Vec::new(),
            activity: Activity::default(),
            p,
            me,
            crypto,
        };
        c.blocks.insert(base.data.hash, (base, Vec::new()));
        let mut view = c.view;
        let mut accepted = Vec::new();
        for r in wal {
            match r {
                WalRecord::Proposed(d) => {
                    c.proposed.insert((d.view, d.index), *d);
                    view = view.max(d.view);
                }
                WalRecord::Voted(d) => {
                    c.voted.insert((d.view, d.index), *d);
                    view = view.max(d.view);
                }
                WalRecord::ViewChanged(v) => {
                    c.vc_sent.entry(*v).or_insert(None);
                    view = view.max(*v);
                }
                WalRecord::SentViewChange(vc) => {
                    c.vc_sent.insert(vc.view, Some(vc.clone()));
                    view = view.max(vc.view);
                }
                WalRecord::Accepted(p) => accepted.push(p),
                WalRecord::Locked(d) => {
                    if d.after(&c.locked) {
                        c.locked = *d;
                    }
                }
            }
        }
        c.view = view;
        // A restarted proposer never builds again in a view it already proposed in.
        c.next_index = c
            .proposed
            .range((view, 0)..(view, u32::MAX))
            .map(|((_, i), _)| i.saturating_add(1))
            .max()
            .unwrap_or(0);
        c.start_view(view, now, None);
        // The blocks it voted for, and the QCs of their parents.
        for p in accepted {
            if p.block.data.number > c.committed.data.number {
                c.blocks
                    .entry(p.block.data.hash)
                    .or_insert_with(|| (p.block.clone(), p.payload.clone()));
            }
            if let Some(qc) = p.parent_qc.clone() {
                c.on_message(CbftMsg::Qc(Box::new(qc)), now);
            }
        }
        c
    }

    /// Current view.
    pub fn view(&self) -> u64 {
        self.view
    }
    /// Entries the core holds now, all its tables together (every one stays bounded in a long
    /// run): uncommitted blocks and their QCs, gathering votes and view changes, first messages
    /// seen (double-sign detection), its own votes, proposals and view changes, proposals waiting
    /// and future-round messages.
    pub fn retained(&self) -> usize {
        self.blocks.len()
            + self.qcs.len()
            + self.votes.values().map(BTreeMap::len).sum::<usize>()
            + self.seen_votes.len()
            + self.seen_props.len()
            + self.seen_vcs.len()
            + self.voted.len()
            + self.proposed.len()
            + self.vc_sent.len()
            + self.view_changes.values().map(BTreeMap::len).sum::<usize>()
            + self.pending.len()
            + self.future.len()
    }

    /// Last committed block.
    pub fn committed(&self) -> &BlockInfo {
        &self.committed
    }
    /// Recent QCs and view changes (bounded).
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// The highest QC'd slot known.
    pub fn highest_qc(&self) -> VoteData {
        self.highest_qc
    }
    /// The highest block number certified by a QC that verified here (the network's height as
    /// far as this node can tell; a node rounds behind learns later rounds' as it reaches them).
    pub fn highest_seen(&self) -> u64 {
        self.highest_seen.max(self.committed.data.number)
    }
    /// The lock.
    pub fn locked(&self) -> VoteData {
        self.locked
    }
    /// The QC of a block, if known.
    pub fn qc(&self, hash: &B256) -> Option<&Qc> {
        self.qcs.get(hash)
    }
    /// The slot this validator voted for last.
    pub fn last_vote(&self) -> Option<VoteData> {
        self.voted.values().next_back().copied()
    }
    /// A block consensus knows (proposed, or learned through sync) with its encoded body.
    pub fn block(&self, hash: &B256) -> Option<(&BlockInfo, &[u8])> {
        self.blocks.get(hash).map(|(b, p)| (b, p.as_slice()))
    }
    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.p
    }
    /// This node's validator index in the current round (None: not a validator in it).
    pub fn me(&self) -> Option<u32> {
        self.me
    }
    /// Whether a sync request to validator `to` is for this node: its index in this round, or in
    /// the previous one (the asker may not have switched yet).
    pub fn is_asked(&self, to: u32) -> bool {
        Some(to) == self.me || (self.prev_me.is_some() && Some(to) == self.prev_me)
    }
    /// The round switch waiting for the next validators, if any.
    pub fn switching(&self) -> Option<(u64, VoteData)> {
        self.switching
            .as_ref()
            .map(|q| (self.p.epoch.saturating_add(1), q.data))
    }

    /// Round `epoch`'s validators, asked for by [`Out::SwitchRound`]: `validators` of them, this
    /// node's index among them (`me`), and their keys (`crypto`). The round's first view follows
    /// the view of the QC that closed the old round; messages of the new round that came early
    /// are handled now. Ignored unless that switch is pending.
    pub fn enter_round(
        &mut self,
        epoch: u64,
        validators: u32,
        me: Option<u32>,
        crypto: Arc<dyn Crypto>,
        now: u64,
    ) {
        if self.p.epoch.checked_add(1) != Some(epoch) || validators == 0 {
            return;
        }
        let Some(qc) = self.switching.take() else {
            return;
        };
        let old = std::mem::replace(&mut self.crypto, crypto);
        self.prev = Some((self.p.epoch, self.p.validators, old));
        self.p.epoch = epoch;
        self.p.validators = validators;
        self.prev_me = std::mem::replace(&mut self.me, me);
        self.votes.clear();
        self.view_changes.clear();
        // Signer bits index the old round's validators.
        self.activity.recent_qcs.clear();
        self.helped.clear();
        self.old_round_helped = 0;
        // Double signs are judged within a round (views may repeat across a switch); this also
        // bounds what is kept.
        self.seen_votes.clear();
        self.seen_props.clear();
        self.seen_vcs.clear();
        self.timeouts_in_row = 0;
        let view = self.view.max(qc.data.view.saturating_add(1));
        self.opened_by = Some(qc);
        self.start_view(view, now, None);
        for m in std::mem::take(&mut self.future) {
            self.on_message(m, now);
        }
        self.retry_pending(now);
    }

    /// Takes the outputs produced so far.
    pub fn drain(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    fn is_proposer(&self, view: u64) -> bool {
        self.me == Some(self.p.proposer(view))
    }

    fn start_view(&mut self, view: u64, now: u64, by: Option<ViewChangeQc>) {
        if view != self.view {
            self.next_index = 0;
        }
        self.view = view;
        self.view_started = now;
        self.last_progress = now;
        self.entered_by = by;
        self.building = false;
        self.last_build = 0;
        self.maybe_build(now);
        // Proposals that waited for this view.
        self.retry_pending(now);
    }

    fn maybe_build(&mut self, now: u64) {
        if !self.is_proposer(self.view)
            || self.building
            || self.next_index >= self.p.amount
            || self.vc_sent.contains_key(&self.view)
        {
            return;
        }
        let interval = match self.p.responsive_ms {
            Some(min) => min,
            None => self.p.period_ms / u64::from(self.p.amount.max(1)),
        };
        if self.next_index > 0 && now < self.last_build.saturating_add(interval) {
            return;
        }
        let parent = if self.next_index == 0 {
            self.highest_qc
        } else {
            match self.proposed.get(&(self.view, self.next_index - 1)) {
                Some(d) => *d,
                None => return,
            }
        };
        if self.p.responsive_ms.is_some()
            && self.next_index > 0
            && !self.qcs.contains_key(&parent.hash)
        {
            return; // responsive: the parent's QC first (a view's first parent has one)
        }
        if self.switching.is_some()
            || !self
                .p
                .in_round(self.p.epoch, parent.number.saturating_add(1))
        {
            return; // the round is over: the next one's validators build on
        }
        self.building = true;
        self.last_build = now;
        self.out.push(Out::Build {
            parent: parent.hash,
            number: parent.number.saturating_add(1),
            view: self.view,
            index: self.next_index,
        });
    }

    /// The block asked for by [`Out::Build`] is ready: sign and send it (after the WAL).
    pub fn proposed(&mut self, block: BlockInfo, payload: Vec<u8>, now: u64) {
        self.building = false;
        let d = block.data;
        if self.me != Some(block.proposer)
            || d.view != self.view
            || d.index != self.next_index
            || self.proposed.contains_key(&(d.view, d.index))
            || self.vc_sent.contains_key(&d.view)
        {
            return;
        }
        let parent_qc = self.qcs.get(&block.parent).cloned();
        if d.index == 0 && parent_qc.is_none() && block.parent != self.committed.data.hash {
            return;
        }
        self.proposed.insert((d.view, d.index), d);
        self.checked.insert(d.hash, true);
        self.out.push(Out::Persist(WalRecord::Proposed(d)));
        let signature = self.crypto.sign(&d.signing_hash());
        let prop = Proposal {
            block,
            payload,
            parent_qc,
            view_change_qc: if d.index == 0 {
                self.entered_by.clone()
            } else {
                None
            },
            signature,
        };
        self.next_index = self.next_index.saturating_add(1);
        self.out
            .push(Out::Broadcast(CbftMsg::Prepare(Box::new(prop.clone()))));
        self.on_proposal(prop, now);
    }

    /// The executor's verdict on a block [`Out::Validate`] asked about: votes wait for it, and an
    /// invalid block never gets one.
    pub fn validated(&mut self, hash: B256, valid: bool, now: u64) {
        if self.validating.remove(&hash) {
            self.checked.insert(hash, valid);
            self.retry_pending(now);
        }
    }

    /// Time passes: proposer pacing, view timeouts, and sync of missing ancestry (asking each
    /// validator in turn).
    pub fn tick(&mut self, now: u64) {
        self.maybe_build(now);
        if self.need_sync {
            let me = u64::from(self.me.unwrap_or(0));
            let n = u64::from(self.p.validators.max(2));
            let turn = (now / SYNC_INTERVAL_MS) % (n - 1);
            let peer = ((me + 1 + turn) % n) as u32; // n ≤ 2^32: no overflow
            self.request_sync(peer, now);
        }
        if let Some(qc) = &self.switching {
            // No view timeouts while the next round's validators are looked up.
            if now >= self.last_switch_ask.saturating_add(SYNC_INTERVAL_MS) {
                self.last_switch_ask = now;
                // The lookup may lack blocks of that branch: fetch them meanwhile.
                self.need_sync = true;
                self.out.push(Out::SwitchRound {
                    epoch: self.p.epoch.saturating_add(1),
                    block: qc.data,
                });
            }
            return;
        }
        let k = self.timeouts_in_row;
        let mut deadline = self.view_started.saturating_add(self.p.timeout(k));
        if let Some(t) = self.p.progress_timeout(k) {
            deadline = deadline.min(self.last_progress.saturating_add(t));
        }
        if now >= deadline && self.me.is_some() {
            self.timeouts_in_row = self.timeouts_in_row.saturating_add(1);
            self.view_started = now;
            self.last_progress = now;
            self.send_view_change(now);
        }
    }

    fn send_view_change(&mut self, now: u64) {
        let Some(me) = self.me else { return };
        let view = self.view;
        if let Some(sent) = self.vc_sent.get(&view) {
            // Already given up on this view: say it again (messages may have been lost, or this
            // node restarted and nobody holds it), the same signed message.
            let again = sent
                .clone()
                .or_else(|| self.seen_vcs.get(&(me, view)).cloned().map(Box::new));
            if let Some(vc) = again {
                self.out
                    .push(Out::Broadcast(CbftMsg::ViewChange(vc.clone())));
                self.on_view_change(*vc, now);
            }
            return;
        }
        let qc = self.qcs.get(&self.highest_qc.hash).cloned();
        let msg = ViewChange::signing_hash(self.p.epoch, view, qc.as_ref().map(|q| &q.data));
        let vc = ViewChange {
            epoch: self.p.epoch,
            view,
            highest_qc: qc,
            validator: me,
            signature: self.crypto.sign(&msg),
        };
        self.vc_sent.insert(view, Some(Box::new(vc.clone())));
        self.out
            .push(Out::Persist(WalRecord::SentViewChange(Box::new(
                vc.clone(),
            ))));
        self.out
            .push(Out::Broadcast(CbftMsg::ViewChange(Box::new(vc.clone()))));
        self.on_view_change(vc, now);
    }

    /// A message from the network (or a sync answer).
    pub fn on_message(&mut self, msg: CbftMsg, now: u64) {
        let epoch = match &msg {
            CbftMsg::Prepare(p) => Some(p.block.data.epoch),
            CbftMsg::Vote(v) => Some(v.data.epoch),
            CbftMsg::ViewChange(vc) => Some(vc.epoch),
            CbftMsg::Qc(q) => Some(q.data.epoch),
            _ => None,
        };
        if let Some(epoch) = epoch {
            if epoch != self.p.epoch {
                self.other_round(msg, epoch, now);
                return;
            }
        }
        match msg {
            CbftMsg::Prepare(p) => self.on_proposal(*p, now),
            CbftMsg::Vote(v) => self.on_vote(v, now),
            CbftMsg::ViewChange(vc) => self.on_view_change(*vc, now),
            CbftMsg::Qc(qc) => {
                self.on_qc(*qc, now);
            }
            CbftMsg::SyncRequest {
                committed,
                from,
                to,
                ..
            } => {
                if self.is_asked(to) {
                    self.on_sync_request(committed, from);
                }
            }
            CbftMsg::SyncResponse(items) => {
                for item in items {
                    if item.block.data.number <= self.committed.data.number {
                        continue;
                    }
                    // A QC vouches for the slot and hash the block claims (the actor checks that
                    // the hash commits to the parent and body before this point); a block without
                    // one is ancestry only, committed solely through a QC'd descendant.
                    if matches!(&item.qc, Some(qc) if qc.data != item.block.data) {
                        continue;
                    }
                    self.blocks
                        .entry(item.block.data.hash)
                        .or_insert((item.block, item.payload));
                    if let Some(qc) = item.qc {
                        self.on_message(CbftMsg::Qc(Box::new(qc)), now);
                    }
                }
                self.retry_pending(now);
            }
        }
    }

    /// A message of another round: the next round's wait for the switch (a proposal's parent QC
    /// may be the one that closes this round); a validator still in an older round gets the QC
    /// that opened this one; a node rounds behind catches up through sync.
    fn other_round(&mut self, msg: CbftMsg, epoch: u64, now: u64) {
        if epoch == self.p.epoch.saturating_add(1) {
            if let CbftMsg::Prepare(p) = &msg {
                if let Some(qc) = &p.parent_qc {
                    if qc.data.epoch == self.p.epoch {
                        self.on_qc(qc.clone(), now);
                    }
                }
            }
            if self.future.len() < FUTURE_MAX {
                self.future.push(msg);
            }
            if self.switching.is_none() {
                // The QC closing this round has not arrived: fetch the chain.
                self.need_sync = true;
            }
        } else if epoch > self.p.epoch {
            self.need_sync = true;
        } else if let (CbftMsg::ViewChange(_), Some(qc)) = (&msg, &self.opened_by) {
            let last = self.old_round_helped;
            if last == 0 || now >= last.saturating_add(SYNC_INTERVAL_MS) {
                self.old_round_helped = now.max(1);
                self.out
                    .push(Out::Broadcast(CbftMsg::Qc(Box::new(qc.clone()))));
            }
        }
    }

    fn valid_qc(&self, qc: &Qc) -> bool {
        if qc.data.epoch != self.p.epoch {
            // The old round's last QC (carried by view changes of the new round's first views)
            // is known: it opened this round, or its block is committed here.
            return self.opened_by.as_ref().is_some_and(|o| o.data == qc.data)
                || qc.data.hash == self.committed.data.hash
                || self.prev.as_ref().is_some_and(|(epoch, n, crypto)| {
                    qc.data.epoch == *epoch && Self::check_qc(qc, *n, crypto.as_ref())
                });
        }
        Self::check_qc(qc, self.p.validators, self.crypto.as_ref())
    }

    /// Whether `qc` carries one signer bit per validator, a quorum of signers and an aggregate
    /// signature that verifies (also the light client's check of a header's QC).
    pub(crate) fn check_qc(qc: &Qc, validators: u32, crypto: &dyn Crypto) -> bool {
        if qc.signers.len() != validators as usize {
            return false;
        }
        let n = validators as usize;
        let threshold = n - n.saturating_sub(1) / 3;
        let signers = qc.signer_indices();
        signers.len() >= threshold
            && crypto.verify_aggregate(&signers, &qc.data.signing_hash(), &qc.signature)
    }

    fn valid_vc(&self, vc: &ViewChange) -> bool {
        vc.epoch == self.p.epoch
            && vc.validator < self.p.validators
            && vc
                .highest_qc
                .as_ref()
                .map(|q| self.valid_qc(q))
                .unwrap_or(true)
            && self.crypto.verify(
                vc.validator,
                &ViewChange::signing_hash(
                    vc.epoch,
                    vc.view,
                    vc.highest_qc.as_ref().map(|q| &q.data),
                ),
                &vc.signature,
            )
    }

    fn store_block(&mut self, p: &Proposal) {
        self.blocks
            .entry(p.block.data.hash)
            .or_insert_with(|| (p.block.clone(), p.payload.clone()));
    }

    fn on_proposal(&mut self, p: Proposal, now: u64) {
        let d = p.block.data;
        if d.epoch != self.p.epoch
            || !self.p.in_round(d.epoch, d.number)
            || p.block.proposer != self.p.proposer(d.view)
            || d.index >= self.p.amount
            || !self
                .crypto
                .verify(p.block.proposer, &d.signing_hash(), &p.signature)
        {
            return;
        }
        // Evidence: a second, different proposal for a slot.
        match self.seen_props.get(&(d.view, d.index)) {
            Some(first) if first.block.data.hash != d.hash => {
                self.out.push(Out::Evidence(Evidence::DuplicateProposal(
                    Box::new(first.clone()),
                    Box::new(p.clone()),
                )));
                return;
            }
            Some(_) => {}
            None => {
                self.seen_props.insert((d.view, d.index), p.clone());
            }
        }
        if d.number <= self.committed.data.number {
            return;
        }
        self.store_block(&p);
        if let Some(qc) = p.parent_qc.clone() {
            self.on_qc(qc, now);
        }
        if let Some(vcqc) = p.view_change_qc.clone() {
            self.on_vc_qc(vcqc, now);
        }
        if !self.blocks.contains_key(&p.block.parent) {
            // A gap: ask the proposer for what we miss.
            self.request_sync(p.block.proposer, now);
        }
        self.pending.push(p);
        self.retry_pending(now);
    }

    fn request_sync(&mut self, peer: u32, now: u64) {
        // Observers ask too (answers are flooded to everyone); they have no index of their own.
        let me = self.me.unwrap_or(u32::MAX);
        if peer == me || now < self.last_sync.saturating_add(SYNC_INTERVAL_MS) {
            return;
        }
        self.last_sync = now;
        self.out.push(Out::SendTo(
            peer,
            CbftMsg::SyncRequest {
                committed: self.committed.data.number,
                from: me,
                to: peer,
                at: now,
            },
        ));
    }

    fn retry_pending(&mut self, now: u64) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let d = p.block.data;
            if d.view < self.view || d.number <= self.committed.data.number {
                continue;
            }
            if d.view > self.view || !self.try_vote(&p, now) {
                // Keep a bounded number waiting.
                if self.pending.len() < 4 * self.p.amount as usize {
                    self.pending.push(p);
                }
            }
        }
    }

    /// Whether `block` descends from (or is) `anc`.
    fn extends(&self, mut hash: B256, anc: &VoteData) -> bool {
        for _ in 0..100_000 {
            if hash == anc.hash {
                return true;
            }
            match self.blocks.get(&hash) {
                Some((b, _)) if b.data.number > anc.number => hash = b.parent,
                _ => return false,
            }
        }
        false
    }

    /// Votes for `p` if the rules allow; false when it must wait (for a QC or a parent).
    fn try_vote(&mut self, p: &Proposal, now: u64) -> bool {
        let Some(me) = self.me else { return true };
        let d = p.block.data;
        if self.voted.contains_key(&(d.view, d.index)) || self.vc_sent.contains_key(&d.view) {
            return true;
        }
        let Some((parent, _)) = self.blocks.get(&p.block.parent).cloned() else {
            return false;
        };
        if parent.data.number.checked_add(1) != Some(d.number) {
            return true;
        }
        // The parent must have a QC (the committed base counts as one).
        let parent_qc = if parent.data.hash == self.committed.data.hash {
            self.committed.data
        } else {
            match self.qcs.get(&parent.data.hash) {
                Some(q) => q.data,
                None => return false,
            }
        };
        if d.index > 0 {
            // Inside a view: the previous slot's block of this proposer.
            if parent.data.view != d.view || parent.data.index.checked_add(1) != Some(d.index) {
                return true;
            }
        } else if parent.data.view >= d.view && parent.data.hash != self.committed.data.hash {
            // The first block of a view builds on a QC from an earlier view (or on the committed
            // base, such as the genesis).
            return true;
        }
        let safe = self.extends(parent.data.hash, &self.locked) || parent_qc.after(&self.locked);
        if !safe {
            return true;
        }
        // Executed and found valid before any vote.
        match self.checked.get(&d.hash) {
            Some(true) => {}
            Some(false) if self.validating.contains(&d.hash) => return false,
            Some(false) => return true,
            None => {
                if self.validating.len() < 4 * self.p.amount as usize {
                    self.checked.insert(d.hash, false);
                    self.validating.insert(d.hash);
                    self.out.push(Out::Validate {
                        block: p.block.clone(),
                        payload: p.payload.clone(),
                    });
                }
                return false;
            }
        }
        self.voted.insert((d.view, d.index), d);
        self.out
            .push(Out::Persist(WalRecord::Accepted(Box::new(p.clone()))));
        self.out.push(Out::Persist(WalRecord::Voted(d)));
        let vote = Vote {
            data: d,
            validator: me,
            signature: self.crypto.sign(&d.signing_hash()),
        };
        self.out.push(Out::Broadcast(CbftMsg::Vote(vote.clone())));
        self.on_vote(vote, now);
        true
    }

    fn on_vote(&mut self, v: Vote, now: u64) {
        let d = v.data;
        if d.epoch != self.p.epoch
            || v.validator >= self.p.validators
            || !self
                .crypto
                .verify(v.validator, &d.signing_hash(), &v.signature)
        {
            return;
        }
        match self.seen_votes.get(&(v.validator, d.view, d.index)) {
            Some(first) if first.data.hash != d.hash => {
                self.out.push(Out::Evidence(Evidence::DuplicateVote(
                    first.clone(),
                    v.clone(),
                )));
                return;
            }
            Some(_) => return,
            None => {
                self.seen_votes
                    .insert((v.validator, d.view, d.index), v.clone());
            }
        }
        if self.qcs.contains_key(&d.hash) || d.number <= self.committed.data.number {
            return;
        }
        let entry = self.votes.entry(d).or_default();
        entry.insert(v.validator, v);
        if entry.len() >= self.p.threshold() {
            let signers: Vec<u32> = entry.keys().copied().collect();
            let sigs: Vec<&[u8]> = entry.values().map(|v| v.signature.as_slice()).collect();
            let Some(signature) = self.crypto.aggregate(&sigs) else {
                return;
            };
            let mut bits = vec![false; self.p.validators as usize];
            for s in &signers {
                bits[*s as usize] = true;
            }
            let qc = Qc {
                data: d,
                signers: bits,
                signature,
            };
            self.votes.remove(&d);
            self.out
                .push(Out::Broadcast(CbftMsg::Qc(Box::new(qc.clone()))));
            self.on_qc(qc, now);
        }
    }

    fn on_qc(&mut self, qc: Qc, now: u64) {
        let d = qc.data;
        if self.qcs.contains_key(&d.hash) || d.number <= self.committed.data.number {
            return;
        }
        if !self.valid_qc(&qc) {
            return;
        }
        self.highest_seen = self.highest_seen.max(d.number);
        if !self.blocks.contains_key(&d.hash)
            && d.number > self.committed.data.number.saturating_add(1)
        {
            self.request_sync(self.p.proposer(d.view), now);
        }
        self.activity.push_qc(&qc);
        self.qcs.insert(d.hash, qc);
        if d.after(&self.highest_qc) {
            self.highest_qc = d;
        }
        if d.view == self.view {
            self.last_progress = self.last_progress.max(now);
        }
        self.update_lock_and_commit(d.hash);
        if self.p.round_end(self.p.epoch) == Some(d.number) && self.switching.is_none() {
            // The round's last block has its QC: the next round's validators take over.
            self.switching = self.qcs.get(&d.hash).cloned();
            self.last_switch_ask = now;
            self.out.push(Out::SwitchRound {
                epoch: self.p.epoch.saturating_add(1),
                block: d,
            });
            return;
        }
        // A QC in a later view means a quorum is there: follow.
        if d.view > self.view {
            self.timeouts_in_row = 0;
            self.start_view(d.view, now, None);
        }
        if d.view == self.view && d.index.checked_add(1) == Some(self.p.amount) {
            self.timeouts_in_row = 0;
            self.start_view(self.view.saturating_add(1), now, None);
        }
        self.retry_pending(now);
        self.maybe_build(now);
    }

    fn update_lock_and_commit(&mut self, h: B256) {
        let Some((hb, _)) = self.blocks.get(&h).cloned() else {
            return;
        };
        let Some((pb, _)) = self.blocks.get(&hb.parent).cloned() else {
            return;
        };
        if pb.data.after(&self.locked) && pb.data.number > self.committed.data.number {
            self.locked = pb.data;
            self.out.push(Out::Persist(WalRecord::Locked(pb.data)));
        }
        let Some((gb, _)) = self.blocks.get(&pb.parent).cloned() else {
            return;
        };
        let consecutive = hb.data.view == pb.data.view
            && pb.data.view == gb.data.view
            && gb.data.index.checked_add(1) == Some(pb.data.index)
            && pb.data.index.checked_add(1) == Some(hb.data.index);
        if consecutive && gb.data.number > self.committed.data.number {
            self.commit(gb);
        }
    }

    fn commit(&mut self, g: BlockInfo) {
        // Walk back to the committed block; commit oldest first.
        let mut chain = vec![g.clone()];
        let mut hash = g.parent;
        while hash != self.committed.data.hash {
            match self.blocks.get(&hash) {
                Some((b, _)) if b.data.number > self.committed.data.number => {
                    chain.push(b.clone());
                    hash = b.parent;
                }
                _ => {
                    // Missing ancestry: fetch it (see `tick`), then commit.
                    self.need_sync = true;
                    return;
                }
            }
        }
        self.need_sync = false;
        for b in chain.into_iter().rev() {
            let payload = self
                .blocks
                .get(&b.data.hash)
                .map(|(_, p)| p.clone())
                .unwrap_or_default();
            let qc = self.qcs.get(&b.data.hash).cloned();
            self.committed = b.clone();
            self.out.push(Out::Commit {
                block: b,
                payload,
                qc,
            });
        }
        let floor = self.committed.data.number;
        self.blocks
            .retain(|h, (b, _)| b.data.number >= floor || *h == self.committed.data.hash);
        self.qcs.retain(|_, q| q.data.number >= floor);
        self.votes.retain(|d, _| d.number > floor);
        let blocks = &self.blocks;
        self.checked.retain(|h, _| {
            blocks
                .get(h)
                .map(|(b, _)| b.data.number > floor)
                .unwrap_or(false)
        });
        self.validating.retain(|h| blocks.contains_key(h));
        // This node votes, proposes and changes view only in its current view, which never falls
        // below the committed block's: its own records of earlier views are spent. Others' first
        // messages are kept for a window of views, long enough to catch a double sign.
        let decided = self.committed.data.view;
        self.voted.retain(|(view, _), _| *view >= decided);
        self.proposed.retain(|(view, _), _| *view >= decided);
        self.vc_sent.retain(|view, _| *view >= decided);
        let keep = decided.saturating_sub(EVIDENCE_VIEWS);
        self.seen_votes.retain(|(_, view, _), _| *view >= keep);
        self.seen_props.retain(|(view, _), _| *view >= keep);
        self.seen_vcs.retain(|(_, view), _| *view >= keep);
    }

    fn on_view_change(&mut self, vc: ViewChange, now: u64) {
        // An exact repeat (a lagger saying it again, or a relay) costs no signature check.
        let repeat = self
            .seen_vcs
            .get(&(vc.validator, vc.view))
            .is_some_and(|first| first.signature == vc.signature);
        if repeat {
            if vc.view < self.view {
                self.help_lagger(vc.validator, vc.view, now);
            }
            return;
        }
        if !self.valid_vc(&vc) {
            return;
        }
        // (An exact repeat returned above: a second one here is signed differently.)
        if let Some(first) = self.seen_vcs.get(&(vc.validator, vc.view)) {
            let differs = first.highest_qc.as_ref().map(|q| q.data.hash)
                != vc.highest_qc.as_ref().map(|q| q.data.hash);
            if differs {
                self.out.push(Out::Evidence(Evidence::DuplicateViewChange(
                    Box::new(first.clone()),
                    Box::new(vc.clone()),
                )));
            }
            return;
        }
        self.seen_vcs.insert((vc.validator, vc.view), vc.clone());
        if let Some(qc) = vc.highest_qc.clone() {
            self.on_qc(qc, now);
        }
        if vc.view < self.view {
            self.help_lagger(vc.validator, vc.view, now);
            return;
        }
        let view = vc.view;
        let set = self.view_changes.entry(view).or_default();
        set.insert(vc.validator, vc);
        let count = set.len();
        // f+1 validators gave up on this view, so at least one honest one did: join them (from an
        // older view too, so that a validator that fell behind cannot stall the others).
        if count > self.p.faulty() && !self.vc_sent.contains_key(&view) {
            if view > self.view {
                self.start_view(view, now, None);
            }
            self.send_view_change(now);
        }
        let set = self.view_changes.get(&view).cloned().unwrap_or_default();
        if set.len() >= self.p.threshold() && view >= self.view {
            let qc = ViewChangeQc {
                view,
                changes: set.into_values().collect(),
            };
            self.enter_after_view_change(qc, now);
        }
    }

    /// A validator still in an older view: hand it the view changes that moved us on (at most
    /// once per interval per validator, so up-to-date validators never echo each other).
    ///
    /// Only validators help, and at most once per view window per lagger: relays of the help
    /// look like laggers too, and answering each of them at once makes helpers echo one another
    /// into a storm.
    fn help_lagger(&mut self, validator: u32, view: u64, now: u64) {
        let Some(by) = &self.entered_by else { return };
        if by.view < view || Some(validator) == self.me || self.me.is_none() {
            return;
        }
        let last = self.helped.get(&validator).copied().unwrap_or(0);
        let interval = SYNC_INTERVAL_MS.max(self.p.period_ms);
        if last != 0 && now < last.saturating_add(interval) {
            return;
        }
        self.helped.insert(validator, now.max(1));
        for c in by.changes.clone() {
            self.out
                .push(Out::SendTo(validator, CbftMsg::ViewChange(Box::new(c))));
        }
    }

    fn on_vc_qc(&mut self, qc: ViewChangeQc, now: u64) {
        if qc.view < self.view {
            return;
        }
        let mut validators: Vec<u32> = Vec::new();
        for c in &qc.changes {
            if c.view != qc.view || validators.contains(&c.validator) || !self.valid_vc(c) {
                return;
            }
            validators.push(c.validator);
        }
        if validators.len() < self.p.threshold() {
            return;
        }
        self.enter_after_view_change(qc, now);
    }

    fn enter_after_view_change(&mut self, qc: ViewChangeQc, now: u64) {
        if qc.view < self.view {
            return;
        }
        if let Some(h) = qc.highest().cloned() {
            if h.data.after(&self.highest_qc) {
                self.on_qc(h, now);
            }
        }
        self.view_changes.retain(|v, _| *v > qc.view);
        self.activity
            .push_view_change(qc.view, now, qc.changes.len());
        self.start_view(qc.view.saturating_add(1), now, Some(qc));
    }

    fn on_sync_request(&mut self, committed: u64, from: u32) {
        // The committed ones below our own committed block come from the chain store, which the
        // actor adds.
        let items = self.chain_above(committed);
        if !items.is_empty() {
            self.out
                .push(Out::SendTo(from, CbftMsg::SyncResponse(items)));
        }
    }

    /// The uncommitted chain to the highest QC (what the lock extends), oldest first, with bodies
    /// and QCs: the node keeps it durable with each lock, so that after a restart it can build on
    /// its lock although no other node may hold those blocks.
    pub fn uncommitted_chain(&self) -> Vec<SyncBlock> {
        self.chain_above(self.committed.data.number)
    }

    /// The blocks above `committed` (and above our own committed block) on the chain to our
    /// highest QC, oldest first, at most 256.
    fn chain_above(&self, committed: u64) -> Vec<SyncBlock> {
        let mut items = Vec::new();
        let mut hash = self.highest_qc.hash;
        while let Some((b, payload)) = self.blocks.get(&hash) {
            if b.data.number <= committed.max(self.committed.data.number) {
                break;
            }
            items.push(SyncBlock {
                block: b.clone(),
                payload: payload.clone(),
                qc: self.qcs.get(&hash).cloned(),
            });
            hash = b.parent;
            if items.len() >= 256 {
                break;
            }
        }
        items.reverse();
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbft::crypto::HashCrypto;
    use crate::cbft::sim::genesis;

    fn builds(c: &mut Core) -> Vec<(u64, u32)> {
        c.drain()
            .into_iter()
            .filter_map(|o| match o {
                Out::Build { view, index, .. } => Some((view, index)),
                _ => None,
            })
            .collect()
    }

    /// Four validators, views of 10 blocks in 10 s, with the given pacing and progress timeout.
    fn params(responsive_ms: Option<u64>, progress_timeout_ms: Option<u64>) -> Params {
        Params {
            validators: 4,
            amount: 10,
            period_ms: 10_000,
            responsive_ms,
            progress_timeout_ms,
            epoch: 1,
            round_blocks: 0,
        }
    }

    fn block(parent: B256, number: u64, index: u32) -> BlockInfo {
        BlockInfo {
            data: VoteData {
                epoch: 1,
                view: 0,
                index,
                number,
                hash: alloy_primitives::keccak256(number.to_be_bytes()),
            },
            parent,
            proposer: 0,
        }
    }

    /// Responsive pacing: the proposer of view 0 builds its second block only once the first has
    /// a QC, and then at once (the minimum interval having passed); period pacing builds it after
    /// period / amount whether or not a QC came.
    #[test]
    fn responsive_pacing_waits_for_the_parent_qc_and_no_longer() {
        for responsive in [Some(20), None] {
            let p = params(responsive, None);
            let g = genesis(1);
            let mut c = Core::new(p, Some(0), Arc::new(HashCrypto::new(0)), g.clone(), &[], 0);
            assert_eq!(builds(&mut c), vec![(0, 0)]);
            let b1 = block(g.data.hash, 1, 0);
            c.proposed(b1.clone(), Vec::new(), 0);
            c.tick(5_000);
            let early = builds(&mut c);
            match responsive {
                Some(_) => assert!(early.is_empty(), "no QC yet: {early:?}"),
                None => assert_eq!(early, vec![(0, 1)], "period / amount has passed"),
            }
            if responsive.is_none() {
                continue;
            }
            for v in 1..3u32 {
                let vote = Vote {
                    data: b1.data,
                    validator: v,
                    signature: HashCrypto::new(v).sign(&b1.data.signing_hash()),
                };
                c.on_message(CbftMsg::Vote(vote), 5_001);
            }
            assert!(c.qc(&b1.data.hash).is_some(), "three of four voted");
            assert_eq!(builds(&mut c), vec![(0, 1)], "built as the QC formed");
        }
    }

    fn view_changes(c: &mut Core) -> Vec<u64> {
        c.drain()
            .into_iter()
            .filter_map(|o| match o {
                Out::Broadcast(CbftMsg::ViewChange(vc)) => Some(vc.view),
                _ => None,
            })
            .collect()
    }

    /// The progress timeout: with responsive pacing a view whose QCs stop ends that long after its
    /// last QC (each QC pushes the deadline back), not a whole period after it started; without
    /// it, or without responsive pacing, only the period ends the view.
    #[test]
    fn a_view_whose_qcs_stop_ends_at_the_progress_timeout() {
        for (responsive, progress) in [(Some(20), Some(500)), (Some(20), None), (None, Some(500))] {
            let p = params(responsive, progress);
            let g = genesis(1);
            let mut c = Core::new(p, Some(0), Arc::new(HashCrypto::new(0)), g.clone(), &[], 0);
            let b1 = block(g.data.hash, 1, 0);
            c.proposed(b1.clone(), Vec::new(), 0);
            c.tick(450);
            assert!(view_changes(&mut c).is_empty(), "450 ms: still in time");
            // A QC at 450 ms: progress, the deadline moves to 950 ms.
            for v in 1..3u32 {
                let vote = Vote {
                    data: b1.data,
                    validator: v,
                    signature: HashCrypto::new(v).sign(&b1.data.signing_hash()),
                };
                c.on_message(CbftMsg::Vote(vote), 450);
            }
            assert!(c.qc(&b1.data.hash).is_some());
            c.drain();
            c.tick(900);
            assert!(view_changes(&mut c).is_empty(), "900 ms: 450 after the QC");
            c.tick(950);
            let at_progress = view_changes(&mut c);
            if responsive.is_some() && progress.is_some() {
                assert_eq!(
                    at_progress,
                    vec![0],
                    "no QC for 500 ms: the view is given up"
                );
                // Backed off: the next one comes 750 ms later.
                c.tick(1_650);
                assert!(view_changes(&mut c).is_empty());
                c.tick(1_700);
                assert_eq!(
                    view_changes(&mut c),
                    vec![0],
                    "said again after 1.5 × 500 ms"
                );
                continue;
            }
            assert!(
                at_progress.is_empty(),
                "{responsive:?} {progress:?}: only the period"
            );
            c.tick(9_999);
            assert!(view_changes(&mut c).is_empty());
            c.tick(10_000);
            assert_eq!(view_changes(&mut c), vec![0], "the period has passed");
        }
    }
}
