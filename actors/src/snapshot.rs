//! The `snapshot` actor: the single writer of snapshotdb. It logs every write to the snapshotdb WAL
//! and acknowledges writes in groups: requests that arrive together share one fsync (group commit). A
//! read first makes pending writes durable, so nothing unsynced is ever visible. Restarted, it replays
//! the WAL.

use crate::NodeContext;
use platon_messages::actors::{SnapshotMsg, SnapshotStatus};
use platon_messages::snapshot::BlockRef;
use platon_storage::snapshotdb::SnapshotDb;
use platon_supervision::{BoxError, Ctx, Service};
use ractor::RpcReplyPort;

/// Folder of the snapshotdb WAL under the data directory.
pub const SNAPSHOT_DIR: &str = "snapshot";

/// The `snapshot` actor.
#[derive(Debug)]
pub struct SnapshotService {
    /// Shared node context.
    pub node: NodeContext,
}

/// A write waiting for the next fsync: its reply port and its result.
type PendingWrite = (RpcReplyPort<Result<(), String>>, Result<(), String>);

/// The open database and the writes waiting for the next fsync.
pub struct SnapshotState {
    db: SnapshotDb,
    pending: Vec<PendingWrite>,
}

impl SnapshotState {
    /// Syncs and acknowledges every pending write. A failed fsync fails the actor (it restarts and
    /// replays the WAL); the waiting callers see their reply ports close.
    fn flush(&mut self) -> Result<(), BoxError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.db.sync()?;
        for (reply, result) in self.pending.drain(..) {
            let _ = reply.send(result);
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
        let (db, report) = crate::blocking(|| SnapshotDb::open(&dir, kv, genesis))?;
        tracing::info!(
            records = report.replay.records,
            torn_bytes_cut = report.replay.torn_bytes_cut,
            highest = report.current.highest.number,
            base = report.current.base.number,
            "snapshotdb opened"
        );
        Ok(SnapshotState {
            db,
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
        match msg {
            SnapshotMsg::Write { records, reply } => {
                let result = st.db.append(records).map_err(|e| e.to_string());
                if st.pending.is_empty() {
                    // Everything already queued behind this message joins the same fsync.
                    if ctx
                        .myself()
                        .and_then(|me| me.send(SnapshotMsg::Flush))
                        .is_err()
                    {
                        st.pending.push((reply, result));
                        return st.flush();
                    }
                }
                st.pending.push((reply, result));
            }
            SnapshotMsg::Flush => st.flush()?,
            SnapshotMsg::Get { at, key, reply } => {
                st.flush()?;
                let _ = reply.send(st.db.get(at, &key).map_err(|e| e.to_string()));
            }
            SnapshotMsg::IterPrefix {
                at,
                prefix,
                limit,
                reply,
            } => {
                st.flush()?;
                let _ = reply.send(
                    st.db
                        .iter_prefix(at, &prefix, limit)
                        .map_err(|e| e.to_string()),
                );
            }
            SnapshotMsg::Compact { keep, reply } => {
                st.flush()?;
                let _ = reply.send(st.db.compact(keep).map_err(|e| e.to_string()));
            }
            SnapshotMsg::Status(reply) => {
                st.flush()?;
                let c = st.db.current();
                let _ = reply.send(SnapshotStatus {
                    highest: c.highest,
                    base: c.base,
                    syncs: st.db.syncs(),
                });
            }
        }
        Ok(())
    }
}
