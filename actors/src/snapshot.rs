//! The `snapshot` actor: the single writer of snapshotdb, which holds the staking data. It logs every
//! write to the snapshotdb WAL and acknowledges writes in groups: requests that arrive together share
//! one fsync (group commit). Executed blocks' data is recognized as soon as it is applied (a pending
//! block is executed again after a crash); a commit is acknowledged once durable, before the chain
//! store commits the block. A read through the actor first makes pending writes durable. Block
//! execution reads the shared database directly, at its parent block. Restarted, it replays the WAL.

use crate::NodeContext;
use platon_messages::actors::{SnapshotMsg, SnapshotStatus};
use platon_messages::snapshot::BlockRef;
use platon_storage::snapshotdb::{SharedSnapshot, SnapshotDb};
use platon_supervision::{BoxError, Ctx, Service};

/// Folder of the snapshotdb WAL under the data directory.
pub const SNAPSHOT_DIR: &str = "snapshot";

/// The `snapshot` actor.
#[derive(Debug)]
pub struct SnapshotService {
    /// Shared node context.
    pub node: NodeContext,
}

/// An acknowledgement waiting for the next fsync.
type PendingReply = Box<dyn FnOnce() + Send>;

/// The writes waiting for the next fsync (the database itself is shared: [`NodeContext`]'s store
/// holds it, so execution reads it without a message).
pub struct SnapshotState {
    db: SharedSnapshot,
    pending: Vec<PendingReply>,
}

impl SnapshotState {
    /// Syncs and acknowledges every pending write. A failed fsync fails the actor (it restarts and
    /// replays the WAL); the waiting callers see their reply ports close.
    fn flush(&mut self) -> Result<(), BoxError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // The fsync runs outside the database's lock: block execution reads on meanwhile.
        if let Some(fsync) = self.db.write(|db| db.detach_sync())? {
            fsync.complete();
        }
        for reply in self.pending.drain(..) {
            reply();
        }
        Ok(())
    }

    /// Queues `reply` for the next fsync, which a message to self schedules (everything already
    /// queued behind it joins the same fsync); without a mailbox, syncs now.
    fn defer(&mut self, ctx: &Ctx<SnapshotMsg>, reply: PendingReply) -> Result<(), BoxError> {
        let first = self.pending.is_empty();
        self.pending.push(reply);
        if first
            && ctx
                .myself()
                .and_then(|me| me.send(SnapshotMsg::Flush))
                .is_err()
        {
            return self.flush();
        }
        Ok(())
    }
}

impl Service for SnapshotService {
    type Msg = SnapshotMsg;
    type State = SnapshotState;

    async fn init(&self, _ctx: &Ctx<SnapshotMsg>) -> Result<SnapshotState, BoxError> {
        let dir = self.node.datadir.join(SNAPSHOT_DIR);
        let genesis = self.node.genesis_ref()?;
        let kv = self.node.store.kv().clone();
        let shared = self.node.store.snapshot().clone();
        // A restart drops the old instance (closing its log) before replaying the log again.
        shared.install(None);
        let (mut db, report) = crate::blocking(|| SnapshotDb::open(&dir, kv, genesis))?;
        Self::reconcile(&self.node.store, &mut db, report.replay.records)?;
        shared.install(Some(db));
        tracing::info!(
            records = report.replay.records,
            torn_bytes_cut = report.replay.torn_bytes_cut,
            highest = report.current.highest.number,
            base = report.current.base.number,
            "snapshotdb opened"
        );
        Ok(SnapshotState {
            db: shared,
            pending: Vec::new(),
        })
    }

    async fn handle(
        &self,
        ctx: &Ctx<SnapshotMsg>,
        msg: SnapshotMsg,
        st: &mut SnapshotState,
    ) -> Result<(), BoxError> {
        // WAL appends, fsyncs and reads: storage work, off the runtime's workers.
        crate::blocking(|| self.apply(ctx, msg, st))
    }
}

impl SnapshotService {
    /// Brings snapshotdb to the chain store's head after a restart. A block with staking writes is
    /// committed in snapshotdb durably before the chain store records it, so snapshotdb is behind only
    /// by blocks without writes (their commits are not waited for): the running hash in the state
    /// root is then the same at both heads, and those blocks are committed again, empty. It is ahead
    /// when a crash fell between the two commits: the chain is the record, and the extra commits are
    /// undone. Anything else is committed staking data missing, and the node refuses to start.
    fn reconcile(
        store: &platon_storage::ChainStore,
        db: &mut SnapshotDb,
        replayed: u64,
    ) -> Result<(), BoxError> {
        // Every committed block's data still in the log must hash to what its state root holds.
        let checked = check_against_chain(store, db.core())?;
        tracing::info!(
            verified = checked.verified,
            unreadable = checked.unreadable,
            "snapshotdb: committed staking data matches the state roots"
        );
        let head = store.head_header()?;
        let highest = db.current().highest;
        let at_head = BlockRef {
            number: head.number,
            hash: head.hash(),
        };
        match checked.behind {
            Behind::No if highest.number > head.number => {
                let undone = crate::blocking(|| db.rollback(at_head))?;
                tracing::info!(
                    undone,
                    head = head.number,
                    "snapshotdb: commits the chain store did not record were undone"
                );
            }
            Behind::No => {}
            Behind::Unchanged => {
                let empty = Default::default();
                for n in highest.number.saturating_add(1)..=head.number {
                    let h = store.header_by_number(n)?.ok_or_else(|| {
                        format!("the chain store lacks block {n}, below its head {}", head.number)
                    })?;
                    db.commit_block(n, h.parent_hash, h.hash(), &empty)?;
                }
                db.sync()?;
                tracing::info!(
                    from = highest.number,
                    to = head.number,
                    "snapshotdb: blocks without staking writes committed again"
                );
            }
            // A chain that never wrote staking data, made before snapshotdb held any.
            Behind::Unknown
                if replayed == 0
                    && platon_vm::ppos::staking::snapshot_hash(&store.state_at(head.state_root))?
                        .is_zero() =>
            {
                crate::blocking(|| db.rebase(at_head))?;
                tracing::info!(
                    number = head.number,
                    "snapshotdb starts at the chain's head"
                );
            }
            Behind::Unknown => {
                return Err(format!(
                    "snapshotdb ends at block {} but the chain is at block {}, and a state in between \
                     is unreadable, so the blocks between cannot be shown to leave the staking data \
                     unchanged: committed staking data may be missing. Run `platon db check`, and \
                     restore the data directory from a backup",
                    highest.number, head.number
                )
                .into())
            }
        }
        Ok(())
    }

    /// Carries out one message on the open database.
    fn apply(
        &self,
        ctx: &Ctx<SnapshotMsg>,
        msg: SnapshotMsg,
        st: &mut SnapshotState,
    ) -> Result<(), BoxError> {
        let db = st.db.clone();
        match msg {
            SnapshotMsg::Write { records, reply } => {
                let result = db.write(|d| d.append(records)).map_err(|e| e.to_string());
                st.defer(ctx, Box::new(move || drop(reply.send(result))))?;
            }
            SnapshotMsg::Insert { block: b, reply } => {
                let result = db
                    .write(|d| d.insert_block(b.number, b.parent, b.hash, &b.writes))
                    .map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
            SnapshotMsg::CommitBlock { block: b, reply } => {
                let mut piled = 0;
                let result = db
                    .write(|d| {
                        let changed = d.commit_block(b.number, b.parent, b.hash, &b.writes)?;
                        piled = d.core().committed().len();
                        Ok(changed)
                    })
                    .map_err(|e| e.to_string());
                if b.writes.is_empty() && result.is_ok() {
                    // Nothing to lose: after a crash the restart commits such blocks again (see
                    // `reconcile`). Made durable with the next fsync, not waited for.
                    let _ = reply.send(result);
                    st.defer(ctx, Box::new(|| {}))?;
                } else {
                    st.defer(ctx, Box::new(move || drop(reply.send(result))))?;
                }
                // Committed blocks kept above the base (`state.snapshot_keep`): compacted once twice
                // as many piled up.
                let keep =
                    usize::try_from(self.node.config.state.snapshot_keep).unwrap_or(usize::MAX);
                if piled >= keep.saturating_mul(2) {
                    st.flush()?;
                    let folded = db.write(|d| d.compact(keep))?;
                    tracing::debug!(folded, "snapshotdb compacted");
                }
            }
            SnapshotMsg::Flush => st.flush()?,
            SnapshotMsg::Get { at, key, reply } => {
                st.flush()?;
                let _ = reply.send(db.read(|d| d.get(at, &key)).map_err(|e| e.to_string()));
            }
            SnapshotMsg::IterPrefix {
                at,
                prefix,
                limit,
                reply,
            } => {
                st.flush()?;
                let _ = reply.send(
                    db.read(|d| d.iter_prefix(at, &prefix, limit))
                        .map_err(|e| e.to_string()),
                );
            }
            SnapshotMsg::Compact { keep, reply } => {
                st.flush()?;
                let _ = reply.send(db.write(|d| d.compact(keep)).map_err(|e| e.to_string()));
            }
            SnapshotMsg::Status(reply) => {
                st.flush()?;
                let (c, syncs) = db.read(|d| Ok((d.current(), d.syncs())))?;
                let _ = reply.send(SnapshotStatus {
                    highest: c.highest,
                    base: c.base,
                    syncs,
                });
            }
        }
        Ok(())
    }
}

/// What [`check_against_chain`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainCheck {
    /// Committed blocks whose data's running hash matched their state roots.
    pub verified: u64,
    /// Committed blocks whose state (or parent's state) is pruned, so could not be checked.
    pub unreadable: u64,
    /// Committed blocks above the chain store's head (undone at the next start).
    pub ahead: u64,
    /// How snapshotdb's head stands below the chain's.
    pub behind: Behind,
}

/// Whether snapshotdb's head is below the chain store's, and what the blocks in between did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behind {
    /// It is not below.
    #[default]
    No,
    /// It is, by blocks that left the staking data unchanged (the same running hash at both heads).
    Unchanged,
    /// It is, and a state at one of the heads is unreadable (pruned), so nothing can be said.
    Unknown,
}

/// Checks snapshotdb's committed blocks (as `core`, rebuilt from the log, holds them) against the
/// chain: each is the chain's block at its height, and the running hash over its parent's state root
/// and its data is the one its own state root holds. Above snapshotdb's head the chain may hold only
/// blocks without staking writes (the same running hash at both heads).
pub fn check_against_chain(
    store: &platon_storage::ChainStore,
    core: &platon_storage::snapshotdb::Core,
) -> Result<ChainCheck, String> {
    use platon_vm::ppos::staking::snapshot_hash;
    let e = |e: platon_storage::StorageError| e.to_string();
    let hash_at = |h: &platon_messages::Header| snapshot_hash(&store.state_at(h.state_root)).ok();
    let head = store.head_header().map_err(e)?;
    let mut out = ChainCheck::default();
    // The running hash after the previous committed block: the next one's starting point.
    let mut last: Option<(alloy_primitives::B256, Option<alloy_primitives::B256>)> = None;
    for b in core.committed() {
        if b.number > head.number {
            out.ahead += 1;
            continue;
        }
        let header = store
            .header_by_number(b.number)
            .map_err(e)?
            .ok_or_else(|| format!("the chain store has no block {}", b.number))?;
        if header.hash() != b.hash {
            return Err(format!(
                "snapshotdb committed block {} {} but the chain's block {} is {}",
                b.number,
                b.hash,
                b.number,
                header.hash()
            ));
        }
        let prev = match last {
            Some((hash, running)) if hash == header.parent_hash => running,
            _ => store
                .header_by_hash(&header.parent_hash)
                .map_err(e)?
                .ok_or_else(|| format!("the chain store has no parent of block {}", b.number))
                .map(|p| hash_at(&p))?,
        };
        let expected = hash_at(&header);
        last = Some((b.hash, expected));
        match (prev, expected) {
            (Some(prev), Some(expected)) => {
                let got = platon_storage::snapshotdb::chain_hash(prev, &b.data);
                if got != expected {
                    return Err(format!(
                        "block {}'s staking data in snapshotdb hashes to {got}, but its state root \
                         commits to {expected}: snapshotdb diverged from the chain",
                        b.number
                    ));
                }
                out.verified += 1;
            }
            _ => out.unreadable += 1,
        }
    }
    let top = core.head();
    if top.number < head.number {
        let at_top = store
            .header_by_hash(&top.hash)
            .map_err(e)?
            .ok_or_else(|| format!("the chain store has no block {}", top.hash))?;
        out.behind = match (hash_at(&at_top), hash_at(&head)) {
            (Some(a), Some(b)) if a == b => Behind::Unchanged,
            (Some(_), Some(_)) => {
                return Err(format!(
                "snapshotdb ends at block {} but the chain's staking data changed up to block {}: \
                     committed staking data is missing",
                top.number, head.number
            ))
            }
            _ => Behind::Unknown,
        };
    }
    Ok(out)
}
