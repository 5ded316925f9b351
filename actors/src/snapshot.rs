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

/// Committed blocks kept above snapshotdb's base: reads at a block (execution on a recent parent,
/// RPC at a recent height) reach this far back. Compaction runs once twice as many piled up.
pub const KEEP_BLOCKS: usize = 256;

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
        self.db.write(|db| db.sync())?;
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
        // The chain store commits a block only after snapshotdb made it durable, so snapshotdb is
        // never behind the chain, except on a chain that never wrote staking data (its running hash
        // is unset), made before snapshotdb held any: its base moves to the chain's head.
        let head = self.node.store.head_header()?;
        let highest = db.current().highest;
        if highest.number < head.number {
            let untouched = platon_vm::ppos::staking::snapshot_hash(
                &self.node.store.state_at(head.state_root),
            )?
            .is_zero();
            if !untouched || report.replay.records > 0 {
                return Err(format!(
                    "snapshotdb ends at block {} but the chain is at block {}: committed staking data is \
                     missing. Run `platon db check`, and restore the data directory from a backup",
                    highest.number, head.number
                )
                .into());
            }
            let at = BlockRef {
                number: head.number,
                hash: head.hash(),
            };
            crate::blocking(|| db.rebase(at))?;
            tracing::info!(number = head.number, "snapshotdb starts at the chain's head");
        }
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
        crate::blocking(|| Self::apply(ctx, msg, st))
    }
}

impl SnapshotService {
    /// Carries out one message on the open database.
    fn apply(
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
                st.defer(ctx, Box::new(move || drop(reply.send(result))))?;
                let piled = db.read(|d| Ok(d.core().committed().len()))?;
                if piled >= 2 * KEEP_BLOCKS {
                    st.flush()?;
                    let folded = db.write(|d| d.compact(KEEP_BLOCKS))?;
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
