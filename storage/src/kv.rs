//! The [`KeyValueStore`] contract and its RocksDB and in-memory implementations.

use crate::{Result, StorageError};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::Path;

/// Key-value pairs in key order, as prefix scans return them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// How durable a write must be when [`KeyValueStore::write`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The batch is in the write-ahead log and the log is fsynced: it survives power loss.
    Sync,
    /// The batch is in the write-ahead log (OS page cache): it survives a process crash, not power loss.
    Buffered,
}

/// An ordered set of puts and deletes applied atomically: all or none.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), Some(value.into())));
    }
    /// Adds a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), None));
    }
    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A byte-keyed, byte-valued store with ordered keys.
///
/// Contract: reads see every write that returned `Ok`; a [`WriteBatch`] is atomic (after a crash either
/// all of it or none of it is visible); `Durability::Sync` writes survive power loss once `write` returns.
/// Implementations are shared between threads (`Send + Sync`).
pub trait KeyValueStore: Send + Sync {
    /// Point read.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Applies a batch atomically with the given durability.
    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<()>;
    /// Every entry whose key starts with `prefix`, in key order, at most `limit` of them.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries> {
        let mut out = Vec::new();
        self.for_each_prefix(prefix, &mut |k, v| {
            if out.len() >= limit {
                return false;
            }
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }
    /// Visits every entry whose key starts with `prefix`, in key order, without loading them all;
    /// `visit` returns false to stop early.
    fn for_each_prefix(
        &self,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;
    /// Makes every write that has returned durable (survives power loss), whatever durability it was
    /// written with. Returns once that is so.
    fn sync(&self) -> Result<()>;
    /// Name of the backend, as recorded in the data directory.
    fn backend(&self) -> &'static str;
    /// What the backend holds in memory, by part, in bytes (empty when it cannot say).
    fn memory(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// One keyspace of another store: every key is stored behind `prefix`, so a second user of a
/// database (the `vc_pool`'s snapshotdb) cannot collide with the first.
pub struct PrefixedStore {
    inner: std::sync::Arc<dyn KeyValueStore>,
    prefix: u8,
}

impl std::fmt::Debug for PrefixedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixedStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl PrefixedStore {
    /// The keyspace `prefix` of `inner`.
    pub fn new(inner: std::sync::Arc<dyn KeyValueStore>, prefix: u8) -> Self {
        PrefixedStore { inner, prefix }
    }

    fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(self.prefix);
        k.extend_from_slice(key);
        k
    }
}

impl KeyValueStore for PrefixedStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(&self.key(key))
    }
    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<()> {
        let ops = batch
            .ops
            .into_iter()
            .map(|(k, v)| (self.key(&k), v))
            .collect();
        self.inner.write(WriteBatch { ops }, durability)
    }
    fn for_each_prefix(
        &self,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.inner
            .for_each_prefix(&self.key(prefix), &mut |k, v| visit(&k[1..], v))
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

/// In-memory backend for tests and tools; nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyValueStore for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().get(key).cloned())
    }
    fn write(&self, batch: WriteBatch, _durability: Durability) -> Result<()> {
        let mut map = self.map.write();
        for (k, v) in batch.ops {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }
    fn for_each_prefix(
        &self,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let map = self.map.read();
        for (k, v) in map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            if !visit(k, v) {
                break;
            }
        }
        Ok(())
    }
    fn sync(&self) -> Result<()> {
        // Nothing in memory survives the process; there is nothing to make durable.
        Ok(())
    }
    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// RocksDB backend (the default on disk).
pub struct RocksStore {
    db: rocksdb::DB,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.db.path())
            .finish()
    }
}

fn backend_err(e: rocksdb::Error) -> StorageError {
    StorageError::Backend(e.into_string())
}

/// RocksDB's block cache (bytes). It also holds the index and filter blocks, so what the table
/// readers keep in memory does not grow with the database.
pub const ROCKSDB_BLOCK_CACHE_BYTES: usize = 64 << 20;
/// One RocksDB memtable (bytes); at most [`ROCKSDB_MEMTABLES`] of them are held at once.
pub const ROCKSDB_MEMTABLE_BYTES: usize = 32 << 20;
/// The most memtables (the active one and those waiting for their flush).
pub const ROCKSDB_MEMTABLES: i32 = 2;

impl RocksStore {
    /// Opens (creating if needed) a database at `path`. Fails with a clear error if another process holds it.
    ///
    /// Its memory is bounded: a [`ROCKSDB_BLOCK_CACHE_BYTES`] block cache that also holds the index
    /// and filter blocks, and at most [`ROCKSDB_MEMTABLES`] memtables of [`ROCKSDB_MEMTABLE_BYTES`].
    /// Tables carry Bloom filters (10 bits a key), so a lookup of a missing trie node or key reads
    /// no data block.
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.set_max_background_jobs(2);
        opts.set_write_buffer_size(ROCKSDB_MEMTABLE_BYTES);
        opts.set_max_write_buffer_number(ROCKSDB_MEMTABLES);
        let cache = rocksdb::Cache::new_lru_cache(ROCKSDB_BLOCK_CACHE_BYTES);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        opts.set_block_based_table_factory(&table);
        let db = rocksdb::DB::open(&opts, path).map_err(|e| {
            let msg = e.into_string();
            if msg.contains("lock") {
                StorageError::Backend(format!(
                    "database {} is locked: another platon process is using this --datadir ({msg})",
                    path.display()
                ))
            } else {
                StorageError::Backend(format!("cannot open database {}: {msg}", path.display()))
            }
        })?;
        Ok(RocksStore { db })
    }
}

impl KeyValueStore for RocksStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(key).map_err(backend_err)
    }
    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        for (k, v) in batch.ops {
            match v {
                Some(v) => wb.put(k, v),
                None => wb.delete(k),
            }
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        match self.db.write_opt(wb, &wo) {
            Err(e) if durability == Durability::Sync => {
                crate::durable::fatal("RocksDB synced write", &e.into_string())
            }
            r => r.map_err(backend_err),
        }
    }
    fn for_each_prefix(
        &self,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let iter = self.db.iterator(rocksdb::IteratorMode::From(
            prefix,
            rocksdb::Direction::Forward,
        ));
        for item in iter {
            let (k, v) = item.map_err(backend_err)?;
            if !k.starts_with(prefix) || !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }
    fn sync(&self) -> Result<()> {
        self.db
            .flush_wal(true)
            .map_err(|e| crate::durable::fatal("RocksDB WAL sync", &e.into_string()))
    }
    fn backend(&self) -> &'static str {
        "rocksdb"
    }
    fn memory(&self) -> Vec<(&'static str, u64)> {
        [
            ("rocksdb_memtables", "rocksdb.cur-size-all-mem-tables"),
            ("rocksdb_block_cache", "rocksdb.block-cache-usage"),
            (
                "rocksdb_table_readers",
                "rocksdb.estimate-table-readers-mem",
            ),
        ]
        .into_iter()
        .filter_map(|(part, property)| {
            self.db
                .property_int_value(property)
                .ok()
                .flatten()
                .map(|v| (part, v))
        })
        .collect()
    }
}

/// ParityDB backend (`--db paritydb`).
///
/// Durability: ParityDB's own `commit` only queues a change for background threads, with no call that
/// waits for it to reach the disk. This backend runs ParityDB without its background threads and drives
/// each commit through its pipeline itself, under one lock: queue, write the log record, fsync it, apply
/// it to the tables, and clean the log (fsyncing the tables). When `write` returns, the batch is on disk
/// and survives power loss, whatever the requested [`Durability`]. ParityDB's log replay makes the batch
/// atomic across a crash.
pub struct ParityStore {
    db: parity_db::Db,
    write_lock: parking_lot::Mutex<()>,
}

impl std::fmt::Debug for ParityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParityStore").finish_non_exhaustive()
    }
}

/// Fsyncs every regular file directly in `dir`, then `dir` itself.
fn sync_dir_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

fn parity_err(e: parity_db::Error) -> StorageError {
    StorageError::Backend(format!("paritydb: {e}"))
}

impl ParityStore {
    /// Opens (creating if needed) a database at `path`, one ordered (b-tree indexed) column.
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = parity_db::Options::with_columns(path, 1);
        opts.columns[0].btree_index = true;
        opts.sync_wal = true;
        opts.sync_data = true;
        opts.with_background_thread = false;
        opts.always_flush = true;
        let created = !path.join("metadata").exists();
        // ParityDB panics on some damaged files (a torn `metadata`): report that as an error.
        let opened = std::panic::catch_unwind(|| parity_db::Db::open_or_create(&opts))
            .map_err(|_| {
                StorageError::Backend(format!(
                    "cannot open database {}: its files are damaged (ParityDB panicked reading them); \
                     restore the data directory from a backup",
                    path.display()
                ))
            })?;
        let db = opened.map_err(|e| {
            let msg = e.to_string();
            if msg.to_lowercase().contains("lock") {
                StorageError::Backend(format!(
                    "database {} is locked: another platon process is using this --datadir ({msg})",
                    path.display()
                ))
            } else {
                StorageError::Backend(format!("cannot open database {}: {msg}", path.display()))
            }
        })?;
        // ParityDB writes its `metadata` file without an fsync when it creates a database: make
        // the files it made durable before anything is acknowledged on top of them.
        if created {
            sync_dir_files(path).unwrap_or_else(|e| {
                crate::durable::fatal(&format!("fsync of {}", path.display()), &e)
            });
        }
        Ok(ParityStore {
            db,
            write_lock: parking_lot::Mutex::new(()),
        })
    }
}

impl KeyValueStore for ParityStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(0, key).map_err(parity_err)
    }
    fn write(&self, batch: WriteBatch, _durability: Durability) -> Result<()> {
        let _guard = self.write_lock.lock();
        self.db
            .commit(batch.ops.into_iter().map(|(k, v)| (0u8, k, v)))
            .map_err(parity_err)?;
        // From here the batch is queued: a failure to get it onto the disk stops the node.
        let durable = || -> parity_db::Result<()> {
            self.db.process_commits()?;
            self.db.flush_logs()?;
            self.db.enact_logs()?;
            self.db.clean_logs()?;
            Ok(())
        };
        durable().map_err(|e| crate::durable::fatal("ParityDB synced write", &e))
    }
    fn for_each_prefix(
        &self,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let mut iter = self.db.iter(0).map_err(parity_err)?;
        iter.seek(prefix).map_err(parity_err)?;
        while let Some((k, v)) = iter.next().map_err(parity_err)? {
            if !k.starts_with(prefix) || !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }
    fn sync(&self) -> Result<()> {
        // Every write already returned only once its log record was fsynced and applied.
        Ok(())
    }
    fn backend(&self) -> &'static str {
        "paritydb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefixed_store_sees_only_its_own_keyspace() {
        let inner: std::sync::Arc<dyn KeyValueStore> = std::sync::Arc::new(MemoryStore::new());
        let mut b = WriteBatch::new();
        b.put(b"Sa".to_vec(), b"outer".to_vec());
        inner.write(b, Durability::Sync).expect("write");
        let p = PrefixedStore::new(inner.clone(), b'v');
        let mut b = WriteBatch::new();
        b.put(b"Sa".to_vec(), b"inner".to_vec());
        b.put(b"Sb".to_vec(), b"inner b".to_vec());
        p.write(b, Durability::Sync).expect("write");
        assert_eq!(p.get(b"Sa").expect("get"), Some(b"inner".to_vec()));
        assert_eq!(inner.get(b"Sa").expect("get"), Some(b"outer".to_vec()));
        assert_eq!(inner.get(b"vSb").expect("get"), Some(b"inner b".to_vec()));
        let keys: Vec<Vec<u8>> = p
            .scan_prefix(b"S", 10)
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec![b"Sa".to_vec(), b"Sb".to_vec()]);
        let mut b = WriteBatch::new();
        b.delete(b"Sa".to_vec());
        p.write(b, Durability::Sync).expect("delete");
        assert_eq!(p.get(b"Sa").expect("get"), None);
        assert_eq!(inner.get(b"Sa").expect("get"), Some(b"outer".to_vec()));
    }

    fn conformance(store: &dyn KeyValueStore) {
        assert_eq!(store.get(b"a").expect("get"), None);
        let mut b = WriteBatch::new();
        b.put(b"p1".to_vec(), b"one".to_vec());
        b.put(b"p2".to_vec(), b"two".to_vec());
        b.put(b"q1".to_vec(), b"three".to_vec());
        store.write(b, Durability::Sync).expect("write");
        assert_eq!(store.get(b"p2").expect("get"), Some(b"two".to_vec()));
        let scan = store.scan_prefix(b"p", 10).expect("scan");
        assert_eq!(scan.len(), 2);
        assert_eq!(scan[0].0, b"p1");
        assert_eq!(store.scan_prefix(b"p", 1).expect("scan").len(), 1);
        let mut b = WriteBatch::new();
        b.delete(b"p1".to_vec());
        b.put(b"p3".to_vec(), b"x".to_vec());
        store.write(b, Durability::Buffered).expect("write");
        store.sync().expect("buffered writes made durable");
        assert_eq!(store.get(b"p1").expect("get"), None);
        assert_eq!(store.scan_prefix(b"p", 10).expect("scan").len(), 2);
        let mut seen = Vec::new();
        store
            .for_each_prefix(b"p", &mut |k, _| {
                seen.push(k.to_vec());
                true
            })
            .expect("visit");
        assert_eq!(seen, vec![b"p2".to_vec(), b"p3".to_vec()]);
        let mut first = 0;
        store
            .for_each_prefix(b"", &mut |_, _| {
                first += 1;
                false
            })
            .expect("visit");
        assert_eq!(first, 1, "the visitor stops the walk");
    }

    #[test]
    fn memory_backend_meets_the_contract() {
        conformance(&MemoryStore::new());
    }

    #[test]
    fn rocksdb_backend_meets_the_contract_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = RocksStore::open(dir.path()).expect("open");
            conformance(&db);
            // A second open of the same directory is refused while the first holds it.
            let err = RocksStore::open(dir.path()).expect_err("locked");
            assert!(err.to_string().contains("locked"), "{err}");
        }
        let db = RocksStore::open(dir.path()).expect("reopen");
        assert_eq!(db.get(b"p3").expect("get"), Some(b"x".to_vec()));
    }

    #[test]
    fn paritydb_backend_meets_the_contract_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = ParityStore::open(dir.path()).expect("open");
            conformance(&db);
            assert!(
                ParityStore::open(dir.path()).is_err(),
                "a second open is refused"
            );
        }
        let db = ParityStore::open(dir.path()).expect("reopen");
        assert_eq!(db.get(b"p3").expect("get"), Some(b"x".to_vec()));
        assert_eq!(db.get(b"p1").expect("get"), None);
    }
}
