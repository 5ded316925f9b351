//! snapshotdb: per-block key-value data for state that keeps only its latest value (staking,
//! validator lists, block rates), as the seed document designs it.
//!
//! Levels, newest first: the block being built (unrecognized data), sealed blocks bound to their hash
//! and height (recognized data; several may exist at one height), blocks on the chosen chain (committed
//! data, waiting for compaction), and the compacted base in the node's [`KeyValueStore`]. A read at a
//! block sees its own data over its ancestors' over the base; [`SnapshotDb::iter_prefix`] merges every
//! level in key order.
//!
//! Durability: [`SnapshotDb::write`] appends each [`Record`] to the WAL ([`wal`]) before it touches the
//! in-memory state, and returns only after one fsync covering the whole batch (group commit). A caller
//! acknowledges nothing before `write` returns, so whatever was acknowledged survives a crash; if the
//! fsync fails the instance refuses all further work and must be reopened (its owner actor restarts and
//! replays the WAL). Compaction moves the oldest committed blocks into the base store in one fsynced
//! batch together with the `current` record (highest committed block, base block), then rewrites the WAL
//! atomically without them.
//!
//! The node keeps the staking contract's data here (candidates, delegations, verifier, validator and
//! round lists, block counts): [`view`] is how a block's execution reads its parent's data and collects
//! its own writes, whose running hash ([`view::chain_hash`]) the state root commits to.

pub mod core;
pub mod view;
pub mod wal;

pub use self::core::{decode_record, encode_record, At, BlockRef, Core, Record};
use crate::kv::{Durability, KeyValueStore, WriteBatch};
use alloy_primitives::B256;
use std::path::Path;
use std::sync::Arc;
pub use view::{chain_hash, Overlay, SharedSnapshot, SnapshotRead, Writes};
use wal::{ReplayReport, Wal};

/// File name of the WAL inside the snapshot directory.
pub const WAL_FILE: &str = "snapshot.wal";
/// Key prefix of compacted (base) data in the key-value store.
pub const BASE_PREFIX: u8 = b'S';
/// Key of the `current` record in the key-value store.
pub const CURRENT_KEY: &[u8] = b"Msnapshot_current";

/// snapshotdb errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A file could not be read or written.
    #[error("snapshotdb I/O: {0}")]
    Io(String),
    /// Stored data does not verify.
    #[error("snapshotdb corrupt: {0}")]
    Corrupt(String),
    /// The request does not fit the current state (nothing was changed).
    #[error("snapshotdb: {0}")]
    Invalid(String),
    /// A previous durable write failed; reopen the database.
    #[error("snapshotdb stopped after a failed write; it must be reopened (its actor restarts and replays the WAL)")]
    Poisoned,
}

impl From<crate::StorageError> for SnapshotError {
    fn from(e: crate::StorageError) -> Self {
        SnapshotError::Io(e.to_string())
    }
}

/// The `current` record: highest committed block and compacted base block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    /// Highest committed block at the last compaction.
    pub highest: BlockRef,
    /// Last block folded into the base.
    pub base: BlockRef,
}

impl Current {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80);
        for b in [self.highest, self.base] {
            out.extend_from_slice(&b.number.to_be_bytes());
            out.extend_from_slice(b.hash.as_slice());
        }
        out
    }

    fn decode(b: &[u8]) -> Result<Current, SnapshotError> {
        if b.len() != 80 {
            return Err(SnapshotError::Corrupt(format!(
                "current record has {} bytes, expected 80",
                b.len()
            )));
        }
        let one = |o: usize| {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[o..o + 8]);
            BlockRef {
                number: u64::from_be_bytes(n),
                hash: B256::from_slice(&b[o + 8..o + 40]),
            }
        };
        Ok(Current {
            highest: one(0),
            base: one(40),
        })
    }
}

/// What opening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// WAL replay details (records, torn bytes cut).
    pub replay: ReplayReport,
    /// The state after replay.
    pub current: Current,
}

/// An open snapshotdb.
pub struct SnapshotDb {
    core: Core,
    wal: Wal,
    kv: Arc<dyn KeyValueStore>,
    poisoned: bool,
    syncs: u64,
}

impl std::fmt::Debug for SnapshotDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotDb")
            .field("head", &self.core.head())
            .field("base", &self.core.base())
            .finish()
    }
}

/// Replays WAL payloads over the base recorded in `current` and checks they reach `current`'s head.
fn rebuild(path: &Path, payloads: &[Vec<u8>], current: Current) -> Result<Core, SnapshotError> {
    let mut core = Core::new(current.base);
    for (i, p) in payloads.iter().enumerate() {
        let record = decode_record(p)
            .map_err(|e| SnapshotError::Corrupt(format!("{}: record {i}: {e}", path.display())))?;
        core.replay(record).map_err(|e| {
            SnapshotError::Corrupt(format!(
                "{}: record {i} does not apply ({e}); restore the data directory from a backup",
                path.display()
            ))
        })?;
    }
    if core.head().number < current.highest.number {
        return Err(SnapshotError::Corrupt(format!(
            "{}: the log ends at committed block {} but `current` records block {} as committed; \
             committed data was lost. Restore the data directory from a backup",
            path.display(),
            core.head().number,
            current.highest.number
        )));
    }
    core.drop_unsealed();
    Ok(core)
}

fn read_current(kv: &dyn KeyValueStore, genesis: BlockRef) -> Result<Current, SnapshotError> {
    Ok(match kv.get(CURRENT_KEY)? {
        Some(b) => Current::decode(&b)?,
        None => Current {
            highest: genesis,
            base: genesis,
        },
    })
}

/// Verifies the snapshotdb in `dir` and `kv` without changing anything: the WAL's hash chain, that
/// every record applies, and that the log reaches the `current` record. Returns what opening would
/// find, and the levels the log rebuilds (to check them against the chain).
pub fn verify(
    dir: &Path,
    kv: &dyn KeyValueStore,
    genesis: BlockRef,
) -> Result<(OpenReport, Core), SnapshotError> {
    let path = dir.join(WAL_FILE);
    let current = read_current(kv, genesis)?;
    if !path.exists() {
        return Ok((
            OpenReport {
                replay: ReplayReport::default(),
                current,
            },
            Core::new(current.base),
        ));
    }
    let (payloads, replay) = wal::verify(&path)?;
    let core = rebuild(&path, &payloads, current)?;
    Ok((
        OpenReport {
            replay,
            current: Current {
                highest: core.head(),
                base: core.base(),
            },
        },
        core,
    ))
}

/// The key-value store key of `key`'s compacted (base) value.
pub fn base_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(BASE_PREFIX);
    k.extend_from_slice(key);
    k
}

impl SnapshotDb {
    /// Opens the snapshotdb whose WAL lives in `dir` and whose base lives in `kv`; a fresh one starts at
    /// `genesis`. Replays the WAL (cutting a torn tail) and checks it reaches the recorded `current`.
    pub fn open(
        dir: &Path,
        kv: Arc<dyn KeyValueStore>,
        genesis: BlockRef,
    ) -> Result<(SnapshotDb, OpenReport), SnapshotError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SnapshotError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let current = read_current(kv.as_ref(), genesis)?;
        let path = dir.join(WAL_FILE);
        let (wal, payloads, replay) = Wal::open(&path)?;
        let core = rebuild(&path, &payloads, current)?;
        let db = SnapshotDb {
            core,
            wal,
            kv,
            poisoned: false,
            syncs: 0,
        };
        let report = OpenReport {
            replay,
            current: db.current(),
        };
        Ok((db, report))
    }

    /// The highest committed block and the base block.
    pub fn current(&self) -> Current {
        Current {
            highest: self.core.head(),
            base: self.core.base(),
        }
    }

    /// The in-memory levels (for inspection).
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Applies `records` in order and makes them durable with one fsync. Stops at the first record
    /// that does not apply: the ones before it stay applied and durable; that one and the rest are not.
    pub fn write(&mut self, records: Vec<Record>) -> Result<(), SnapshotError> {
        let result = self.append(records);
        self.sync()?;
        result
    }

    /// Like [`SnapshotDb::write`] without the fsync: the records are logged and applied, and become
    /// durable at the next [`SnapshotDb::sync`]. For group commit: append several callers' batches,
    /// sync once, then acknowledge them all.
    pub fn append(&mut self, records: Vec<Record>) -> Result<(), SnapshotError> {
        if self.poisoned {
            return Err(SnapshotError::Poisoned);
        }
        for r in records {
            self.core.check(&r)?;
            if let Err(e) = self.wal.append(&encode_record(&r)) {
                self.poisoned = true;
                return Err(e);
            }
            self.core.apply(r)?;
        }
        Ok(())
    }

    /// Makes everything appended durable (one fsync). After a failure the instance is poisoned.
    pub fn sync(&mut self) -> Result<(), SnapshotError> {
        if let Some(fsync) = self.detach_sync()? {
            fsync.complete();
        }
        Ok(())
    }

    /// [`SnapshotDb::sync`] in two steps, so that the fsync runs without holding the database (readers
    /// go on meanwhile): this takes the fsync out; the appended records are durable once
    /// [`wal::PendingSync::complete`] returns (None: nothing to sync).
    pub fn detach_sync(&mut self) -> Result<Option<wal::PendingSync>, SnapshotError> {
        if self.poisoned {
            return Err(SnapshotError::Poisoned);
        }
        let pending = self.wal.detach_sync();
        if pending.is_err() {
            self.poisoned = true;
        }
        let pending = pending?;
        if pending.is_some() {
            self.syncs += 1;
        }
        Ok(pending)
    }

    /// Number of fsyncs of the WAL so far (group commit makes this smaller than the number of writes).
    pub fn syncs(&self) -> u64 {
        self.syncs
    }

    /// The value of `key` at `at`.
    pub fn get(&self, at: At, key: &[u8]) -> Result<Option<Vec<u8>>, SnapshotError> {
        match self.core.lookup(at, key)? {
            Some(v) => Ok(v),
            None => Ok(self.kv.get(&base_key(key))?),
        }
    }

    /// Every live (key, value) under `prefix` at `at`, in key order, merging all levels. `limit` bounds
    /// how many base entries are read.
    pub fn iter_prefix(
        &self,
        at: At,
        prefix: &[u8],
        limit: usize,
    ) -> Result<crate::kv::Entries, SnapshotError> {
        let base = self
            .kv
            .scan_prefix(&base_key(prefix), limit)?
            .into_iter()
            .map(|(k, v)| (k[1..].to_vec(), v))
            .collect();
        self.core.merge_prefix(at, prefix, base)
    }

    /// Moves an empty snapshotdb's base to `head` (durably): for a chain that ran without anything in
    /// snapshotdb, whose blocks up to `head` therefore have no data here. Refused when it holds data.
    pub fn rebase(&mut self, head: BlockRef) -> Result<(), SnapshotError> {
        if self.poisoned {
            return Err(SnapshotError::Poisoned);
        }
        let empty = self.core.committed().is_empty()
            && self.core.recognized().is_empty()
            && self.kv.scan_prefix(&[BASE_PREFIX], 1)?.is_empty();
        if !empty {
            return Err(SnapshotError::Invalid(
                "snapshotdb holds data; it cannot move its base".into(),
            ));
        }
        self.core = Core::new(head);
        self.checkpoint(WriteBatch::new())
    }

    /// Undoes the commits above `to` (the chain's head: the chain store did not record them before a
    /// crash), dropping those blocks and every recognized block; returns how many commits were undone.
    /// Durable on return: `current` is written first, then the WAL rewritten without them, so a crash
    /// in between leaves a log that opens and rolls back again.
    pub fn rollback(&mut self, to: BlockRef) -> Result<usize, SnapshotError> {
        if self.poisoned {
            return Err(SnapshotError::Poisoned);
        }
        let recognized = self.core.recognized().len();
        let dropped = self.core.rollback(to)?;
        if dropped == 0 && recognized == 0 {
            return Ok(0);
        }
        self.checkpoint(WriteBatch::new())?;
        Ok(dropped)
    }

    /// Whether block `hash` is the base, committed above it, or recognized.
    pub fn knows(&self, hash: &B256) -> bool {
        *hash == self.core.base().hash
            || self.core.is_committed(hash)
            || self.core.is_recognized(hash)
    }

    /// Logs and applies block `hash`'s data as recognized (not yet durable: see [`SnapshotDb::sync`]),
    /// unless the block is already known; returns whether it was added. Refuses a block whose parent
    /// is neither the committed head nor recognized, changing nothing.
    pub fn insert_block(
        &mut self,
        number: u64,
        parent: B256,
        hash: B256,
        writes: &view::Writes,
    ) -> Result<bool, SnapshotError> {
        if self.knows(&hash) {
            return Ok(false);
        }
        let mut records = Vec::with_capacity(writes.len() + 2);
        records.push(Record::NewBlock { number, parent });
        for (k, v) in writes {
            records.push(match v {
                Some(v) => Record::Put {
                    key: k.clone(),
                    value: v.clone(),
                },
                None => Record::Delete { key: k.clone() },
            });
        }
        records.push(Record::Seal { hash });
        // A refused `NewBlock` stops the batch before anything is logged.
        self.append(records)?;
        Ok(true)
    }

    /// Commits block `hash` (recognizing it first from `writes` when it is not yet), dropping the other
    /// recognized blocks at its height and their descendants; not yet durable (see
    /// [`SnapshotDb::sync`]). A block already committed, or at or below the base, is left as it is:
    /// returns whether anything changed.
    pub fn commit_block(
        &mut self,
        number: u64,
        parent: B256,
        hash: B256,
        writes: &view::Writes,
    ) -> Result<bool, SnapshotError> {
        if self.core.is_committed(&hash) || number <= self.core.base().number {
            return Ok(false);
        }
        self.insert_block(number, parent, hash, writes)?;
        self.append(vec![Record::Commit { hash }])?;
        Ok(true)
    }

    /// Folds the oldest committed blocks into the base so that at most `keep` stay above it; returns how
    /// many were folded. The base batch and `current` are written atomically and fsynced before the WAL is
    /// rewritten without them, so a crash in between replays to the same state.
    pub fn compact(&mut self, keep: usize) -> Result<usize, SnapshotError> {
        if self.poisoned {
            return Err(SnapshotError::Poisoned);
        }
        let blocks = self.core.take_compactable(keep);
        if blocks.is_empty() {
            return Ok(0);
        }
        let mut batch = WriteBatch::new();
        for b in &blocks {
            for (k, v) in &b.data {
                match v {
                    Some(v) => batch.put(base_key(k), v.clone()),
                    None => batch.delete(base_key(k)),
                }
            }
        }
        self.checkpoint(batch)?;
        Ok(blocks.len())
    }

    /// Makes the in-memory levels the durable state: `batch` (base changes, if any) goes to the
    /// key-value store with the `current` record in one fsynced write, then the WAL is rewritten to
    /// hold exactly the levels. A crash in between replays the old log over the new `current`, which
    /// reaches the same state. A failure poisons the instance.
    fn checkpoint(&mut self, mut batch: WriteBatch) -> Result<(), SnapshotError> {
        batch.put(CURRENT_KEY.to_vec(), self.current().encode());
        if let Err(e) = self.kv.write(batch, Durability::Sync) {
            self.poisoned = true;
            return Err(e.into());
        }
        let records: Vec<Vec<u8>> = self.core.to_records().iter().map(encode_record).collect();
        if let Err(e) = self.wal.rewrite(&records) {
            self.poisoned = true;
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, RocksStore};

    fn h(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    const GENESIS: BlockRef = BlockRef {
        number: 0,
        hash: B256::ZERO,
    };

    fn block(number: u64, parent: B256, hash: B256, kv: &[(&str, &str)]) -> Vec<Record> {
        let mut v = vec![Record::NewBlock { number, parent }];
        v.extend(kv.iter().map(|(k, val)| Record::Put {
            key: k.as_bytes().to_vec(),
            value: val.as_bytes().to_vec(),
        }));
        v.push(Record::Seal { hash });
        v
    }

    #[test]
    fn survives_reopen_with_recognized_and_committed_data() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> =
            Arc::new(RocksStore::open(&dir.path().join("kv")).expect("kv"));
        {
            let (mut db, report) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
            assert_eq!(report.replay.records, 0);
            db.write(block(1, B256::ZERO, h(1), &[("a", "1")]))
                .expect("b1");
            db.write(vec![Record::Commit { hash: h(1) }])
                .expect("commit");
            db.write(block(2, h(1), h(2), &[("a", "2")])).expect("b2");
            db.write(block(2, h(1), h(3), &[("a", "3")])).expect("b3");
        }
        let (db, report) = SnapshotDb::open(dir.path(), kv, GENESIS).expect("reopen");
        assert_eq!(report.replay.records, 10);
        assert_eq!(
            db.current().highest,
            BlockRef {
                number: 1,
                hash: h(1)
            }
        );
        assert_eq!(
            db.get(At::Block(h(2)), b"a").expect("get"),
            Some(b"2".to_vec())
        );
        assert_eq!(
            db.get(At::Block(h(3)), b"a").expect("get"),
            Some(b"3".to_vec())
        );
        assert_eq!(db.get(At::Head, b"a").expect("get"), Some(b"1".to_vec()));
    }

    #[test]
    fn a_refused_record_stops_the_batch_and_changes_nothing_after_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        let mut batch = block(1, B256::ZERO, h(1), &[("a", "1")]);
        batch.push(Record::Commit { hash: h(9) });
        batch.push(Record::Commit { hash: h(1) });
        assert!(db.write(batch).is_err());
        assert_eq!(
            db.current().highest,
            GENESIS,
            "the commit after the refused record did not happen"
        );
        drop(db);
        let (db, report) = SnapshotDb::open(dir.path(), kv, GENESIS).expect("reopen");
        assert_eq!(
            report.replay.records, 3,
            "only the applied records were logged"
        );
        assert_eq!(
            db.get(At::Block(h(1)), b"a").expect("get"),
            Some(b"1".to_vec())
        );
    }

    #[test]
    fn compaction_moves_data_to_the_base_and_keeps_reads_and_replay_identical() {
        compaction_on(|p| Arc::new(RocksStore::open(p).expect("rocksdb")));
        compaction_on(|p| Arc::new(crate::ParityStore::open(p).expect("paritydb")));
    }

    fn compaction_on(open: impl Fn(&Path) -> Arc<dyn KeyValueStore>) {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = open(&dir.path().join("kv"));
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        let mut parent = B256::ZERO;
        for n in 1..=6u8 {
            let key = format!("k{}", n % 3);
            let mut recs = block(
                u64::from(n),
                parent,
                h(n),
                &[(&key, &n.to_string()), ("stake/x", &n.to_string())],
            );
            if n == 4 {
                recs.insert(
                    1,
                    Record::Delete {
                        key: b"k2".to_vec(),
                    },
                );
            }
            db.write(recs).expect("block");
            db.write(vec![Record::Commit { hash: h(n) }])
                .expect("commit");
            parent = h(n);
        }
        db.write(block(7, h(6), h(7), &[("k0", "pending")]))
            .expect("recognized");
        let before: Vec<_> = ["k0", "k1", "k2", "stake/x"]
            .iter()
            .map(|k| db.get(At::Block(h(7)), k.as_bytes()).expect("get"))
            .collect();
        let prefix_before = db.iter_prefix(At::Head, b"k", 100).expect("iter");
        assert_eq!(db.compact(2).expect("compact"), 4);
        assert_eq!(
            db.current().base,
            BlockRef {
                number: 4,
                hash: h(4)
            }
        );
        let after: Vec<_> = ["k0", "k1", "k2", "stake/x"]
            .iter()
            .map(|k| db.get(At::Block(h(7)), k.as_bytes()).expect("get"))
            .collect();
        assert_eq!(before, after);
        assert_eq!(
            db.iter_prefix(At::Head, b"k", 100).expect("iter"),
            prefix_before
        );
        assert!(
            kv.get(&base_key(b"k1")).expect("kv").is_some(),
            "block 4's data is in the base"
        );
        drop(db);
        let (db, report) = SnapshotDb::open(dir.path(), kv, GENESIS).expect("reopen");
        assert_eq!(report.current.base.number, 4);
        assert_eq!(report.current.highest.number, 6);
        let reopened: Vec<_> = ["k0", "k1", "k2", "stake/x"]
            .iter()
            .map(|k| db.get(At::Block(h(7)), k.as_bytes()).expect("get"))
            .collect();
        assert_eq!(before, reopened);
    }

    #[test]
    fn a_crash_between_base_write_and_wal_rewrite_replays_to_the_same_state() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        let mut parent = B256::ZERO;
        for n in 1..=3u8 {
            db.write(block(u64::from(n), parent, h(n), &[("k", &n.to_string())]))
                .expect("block");
            db.write(vec![Record::Commit { hash: h(n) }])
                .expect("commit");
            parent = h(n);
        }
        // Keep the old log, compact, then put the old log back: as if the rewrite never happened.
        let old_wal = std::fs::read(dir.path().join(WAL_FILE)).expect("read");
        db.compact(1).expect("compact");
        drop(db);
        std::fs::write(dir.path().join(WAL_FILE), old_wal).expect("restore");
        let (db, report) = SnapshotDb::open(dir.path(), kv, GENESIS).expect("reopen");
        assert_eq!(report.current.base.number, 2);
        assert_eq!(report.current.highest.number, 3);
        assert_eq!(db.get(At::Head, b"k").expect("get"), Some(b"3".to_vec()));
    }

    #[test]
    fn verify_reports_without_changing_the_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        db.write(block(1, B256::ZERO, h(1), &[("a", "1")]))
            .expect("block");
        db.write(vec![Record::Commit { hash: h(1) }])
            .expect("commit");
        drop(db);
        let path = dir.path().join(WAL_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&path, &bytes).expect("write");
        let (report, _) = verify(dir.path(), kv.as_ref(), GENESIS).expect("verify");
        assert_eq!(report.replay.records, 4);
        assert_eq!(report.replay.torn_bytes_cut, 3);
        assert_eq!(
            report.current.highest,
            BlockRef {
                number: 1,
                hash: h(1)
            }
        );
        assert_eq!(
            std::fs::read(&path).expect("read"),
            bytes,
            "verify changed nothing"
        );
        bytes[20] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        assert!(verify(dir.path(), kv.as_ref(), GENESIS).is_err());
    }

    #[test]
    fn a_block_cut_short_by_a_crash_is_dropped_and_can_be_written_again() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        // A batch whose Seal never reached the log.
        let mut torn = block(1, B256::ZERO, h(1), &[("a", "torn")]);
        torn.pop();
        db.write(torn).expect("partial");
        drop(db);
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("reopen");
        let writes: Writes = [(b"a".to_vec(), Some(b"1".to_vec()))].into();
        assert!(db
            .insert_block(1, B256::ZERO, h(1), &writes)
            .expect("insert"));
        assert!(
            !db.insert_block(1, B256::ZERO, h(1), &writes)
                .expect("again"),
            "a known block is not written twice"
        );
        assert!(db
            .commit_block(1, B256::ZERO, h(1), &writes)
            .expect("commit"));
        assert!(!db
            .commit_block(1, B256::ZERO, h(1), &writes)
            .expect("again"));
        db.sync().expect("sync");
        drop(db);
        let (mut db, _) = SnapshotDb::open(dir.path(), kv, GENESIS).expect("reopen");
        assert_eq!(db.get(At::Head, b"a").expect("get"), Some(b"1".to_vec()));
        // Commits the chain did not record are undone, durably.
        assert_eq!(db.rollback(GENESIS).expect("rollback"), 1);
        assert_eq!(db.get(At::Head, b"a").expect("get"), None);
        assert!(db
            .insert_block(1, B256::ZERO, h(1), &writes)
            .expect("insert again"));
    }

    #[test]
    fn a_fork_keeps_both_blocks_until_one_commits_then_drops_the_other() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        let w = |v: &str| -> Writes { [(b"k".to_vec(), Some(v.as_bytes().to_vec()))].into() };
        db.insert_block(1, B256::ZERO, h(1), &w("a")).expect("a");
        db.insert_block(1, B256::ZERO, h(2), &w("b")).expect("b");
        // A child of each, as pipelining builds on uncommitted blocks.
        db.insert_block(2, h(1), h(3), &Writes::new())
            .expect("a's child");
        db.insert_block(2, h(2), h(4), &Writes::new())
            .expect("b's child");
        let read = |db: &SnapshotDb, at: B256| db.get(At::Block(at), b"k");
        assert_eq!(read(&db, h(3)).expect("get"), Some(b"a".to_vec()));
        assert_eq!(read(&db, h(4)).expect("get"), Some(b"b".to_vec()));
        db.commit_block(1, B256::ZERO, h(2), &w("b"))
            .expect("commit b");
        db.sync().expect("sync");
        assert!(read(&db, h(1)).is_err(), "the competitor is dropped");
        assert!(read(&db, h(3)).is_err(), "and what was built on it");
        assert_eq!(read(&db, h(4)).expect("get"), Some(b"b".to_vec()));
        drop(db);
        let (db, _) = SnapshotDb::open(dir.path(), kv, GENESIS).expect("reopen");
        assert!(!db.knows(&h(1)) && !db.knows(&h(3)), "also after replay");
        assert_eq!(read(&db, h(4)).expect("get"), Some(b"b".to_vec()));
    }

    #[test]
    fn a_log_that_lost_committed_blocks_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let (mut db, _) = SnapshotDb::open(dir.path(), kv.clone(), GENESIS).expect("open");
        db.write(block(1, B256::ZERO, h(1), &[])).expect("block");
        db.write(vec![Record::Commit { hash: h(1) }])
            .expect("commit");
        db.write(block(2, h(1), h(2), &[])).expect("block");
        db.write(vec![Record::Commit { hash: h(2) }])
            .expect("commit");
        db.compact(1).expect("compact");
        drop(db);
        // Replace the log with an empty one: block 2 was committed but is gone.
        std::fs::remove_file(dir.path().join(WAL_FILE)).expect("rm");
        let err = SnapshotDb::open(dir.path(), kv, GENESIS).expect_err("refused");
        assert!(err.to_string().contains("committed data was lost"), "{err}");
    }
}
