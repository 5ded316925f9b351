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
        let genesis = self
            .node
            .store
            .block_by_number(0)?
            .ok_or("the chain store has no genesis block")?;
        let genesis = BlockRef {
            number: 0,
            hash: genesis.hash(),
        };
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
        use platon_vm::ppos::staking::snapshot_hash;
        // Every committed block's data still in the log must hash to what its state root holds.
        let checked = check_against_chain(store, db.core())?;
        tracing::info!(
            verified = checked.verified,
            unreadable = checked.unreadable,
            "snapshotdb: committed staking data matches the state roots"
        );
        let head = store.head_header()?;
        let highest = db.current().highest;
        let at = |h: &platon_messages::Header| BlockRef {
            number: h.number,
            hash: h.hash(),
        };
        if highest.number > head.number {
            let undone = crate::blocking(|| db.rollback(at(&head)))?;
            tracing::info!(
                undone,
                head = head.number,
                "snapshotdb: commits the chain store did not record were undone"
            );
            return Ok(());
        }
        if highest.number == head.number {
            return Ok(());
        }
        let missing = |why: &str| -> BoxError {
            format!(
                "snapshotdb ends at block {} but the chain is at block {}, and {why}: committed \
                 staking data is missing. Run `platon db check`, and restore the data directory from a \
                 backup",
                highest.number, head.number
            )
            .into()
        };
        let at_head = snapshot_hash(&store.state_at(head.state_root))?;
        let at_highest = store
            .header_by_hash(&highest.hash)?
            .map(|h| snapshot_hash(&store.state_at(h.state_root)));
        match at_highest {
            Some(Ok(h)) if h == at_head => {
                let empty = Default::default();
                for n in highest.number.saturating_add(1)..=head.number {
                    let h = store
                        .header_by_number(n)?
                        .ok_or_else(|| missing("the chain store lacks a block in between"))?;
                    db.commit_block(n, h.parent_hash, h.hash(), &empty)?;
                }
                db.sync()?;
                tracing::info!(
                    from = highest.number,
                    to = head.number,
                    "snapshotdb: blocks without staking writes committed again"
                );
                Ok(())
            }
            // A chain that never wrote staking data, made before snapshotdb held any.
            _ if at_head.is_zero() && replayed == 0 => {
                crate::blocking(|| db.rebase(at(&head)))?;
                tracing::info!(
                    number = head.number,
                    "snapshotdb starts at the chain's head"
                );
                Ok(())
            }
            Some(Ok(_)) => Err(missing("the staking data changed in between")),
            Some(Err(e)) => Err(missing(&format!(
                "the state at its head is unreadable ({e})"
            ))),
            None => Err(missing("the chain store does not hold its head block")),
        }
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
            SnapshotMsg::Insert {
                number,
                parent,
                hash,
                writes,
                reply,
            } => {
                let result = db
                    .write(|d| d.insert_block(number, parent, hash, &writes))
                    .map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
            SnapshotMsg::CommitBlock {
                number,
                parent,
                hash,
                writes,
                reply,
            } => {
                let result = db
                    .write(|d| d.commit_block(number, parent, hash, &writes))
                    .map_err(|e| e.to_string());
                if writes.is_empty() && result.is_ok() {
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
                let piled = db.read(|d| Ok(d.core().committed().len()))?;
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
    let hash_at = |h: &platon_messages::Header| snapshot_hash(&store.state_at(h.state_root));
    let head = store.head_header().map_err(e)?;
    let mut out = ChainCheck::default();
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
        let parent = store
            .header_by_hash(&header.parent_hash)
            .map_err(e)?
            .ok_or_else(|| format!("the chain store has no parent of block {}", b.number))?;
        match (hash_at(&parent), hash_at(&header)) {
            (Ok(prev), Ok(expected)) => {
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
        match (hash_at(&at_top), hash_at(&head)) {
            (Ok(a), Ok(b)) if a != b => {
                return Err(format!(
                "snapshotdb ends at block {} but the chain's staking data changed up to block {}: \
                     committed staking data is missing",
                top.number, head.number
            ))
            }
            _ => {}
        }
    }
    Ok(out)
}
