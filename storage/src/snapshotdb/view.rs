//! How block execution sees snapshotdb: a read-only view at one block ([`SnapshotRead`]), the block's
//! own writes above it ([`Overlay`]), the handle the node's actors share ([`SharedSnapshot`]), and the
//! running hash of a chain's writes that the state root commits to ([`chain_hash`]).

use super::{At, SnapshotDb, SnapshotError};
use alloy_primitives::{keccak256, B256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One block's writes: key to new value, `None` for a deletion, in key order.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Reads of snapshotdb's data as one block sees it (its own data over its ancestors' over the base).
pub trait SnapshotRead: Send + Sync + std::fmt::Debug {
    /// The value of `key`, or `None` when unset.
    fn get(&self, key: &[u8]) -> crate::Result<Option<Vec<u8>>>;
}

/// A snapshot with no data (a fresh chain's genesis, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptySnapshot;

impl SnapshotRead for EmptySnapshot {
    fn get(&self, _key: &[u8]) -> crate::Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// The block being executed: its writes over a view of its parent.
#[derive(Debug, Clone)]
pub struct Overlay {
    base: Arc<dyn SnapshotRead>,
    writes: Writes,
}

impl Overlay {
    /// No writes yet over `base`.
    pub fn new(base: Arc<dyn SnapshotRead>) -> Self {
        Overlay {
            base,
            writes: Writes::new(),
        }
    }

    /// The value of `key`: this block's write, else the parent's value.
    pub fn get(&self, key: &[u8]) -> crate::Result<Option<Vec<u8>>> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    /// Sets `key` to `value` in this block.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
    }

    /// Deletes `key` in this block.
    pub fn delete(&mut self, key: &[u8]) {
        self.writes.insert(key.to_vec(), None);
    }

    /// This block's writes so far.
    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    /// Takes this block's writes, leaving none.
    pub fn take_writes(&mut self) -> Writes {
        std::mem::take(&mut self.writes)
    }
}

/// The running hash after a block's `writes`, chained from `prev` (the hash after its parent): for
/// each write in key order `h = keccak256(len(k) ‖ k ‖ tag ‖ len(v) ‖ v ‖ h)`, lengths as 4-byte
/// big-endian, tag 1 for a value and 0 (with no length or value) for a deletion. The design's
/// `H(key ‖ value ‖ previous hash)` with unambiguous field boundaries; a block with no writes keeps
/// `prev`.
pub fn chain_hash(prev: B256, writes: &Writes) -> B256 {
    let mut h = prev;
    let mut buf = Vec::new();
    for (k, v) in writes {
        buf.clear();
        buf.extend_from_slice(&(k.len() as u32).to_be_bytes());
        buf.extend_from_slice(k);
        match v {
            Some(v) => {
                buf.push(1);
                buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
                buf.extend_from_slice(v);
            }
            None => buf.push(0),
        }
        buf.extend_from_slice(h.as_slice());
        h = keccak256(&buf);
    }
    h
}

/// The node's open snapshotdb, shared: the `snapshot` actor is its only writer (and reopens it when it
/// restarts); block execution, RPC and the elector read it at a block through [`SharedSnapshot::at`].
/// Empty until the actor has opened it; reads then fail with a clear error.
#[derive(Clone, Default)]
pub struct SharedSnapshot(Arc<parking_lot::RwLock<Option<SnapshotDb>>>);

impl std::fmt::Debug for SharedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedSnapshot")
            .field(&self.0.read().as_ref().map(|d| d.current()))
            .finish()
    }
}

fn not_open() -> SnapshotError {
    SnapshotError::Invalid(
        "snapshotdb is not open (its actor is starting or restarting); retry".into(),
    )
}

impl SharedSnapshot {
    /// Puts `db` in place (or empties the slot with `None`), returning what was there.
    pub fn install(&self, db: Option<SnapshotDb>) -> Option<SnapshotDb> {
        std::mem::replace(&mut *self.0.write(), db)
    }

    /// Whether a database is open.
    pub fn is_open(&self) -> bool {
        self.0.read().is_some()
    }

    /// Runs `f` on the open database, exclusively (the writer's access).
    pub fn write<R>(
        &self,
        f: impl FnOnce(&mut SnapshotDb) -> Result<R, SnapshotError>,
    ) -> Result<R, SnapshotError> {
        f(self.0.write().as_mut().ok_or_else(not_open)?)
    }

    /// Runs `f` on the open database, shared with other readers.
    pub fn read<R>(
        &self,
        f: impl FnOnce(&SnapshotDb) -> Result<R, SnapshotError>,
    ) -> Result<R, SnapshotError> {
        f(self.0.read().as_ref().ok_or_else(not_open)?)
    }

    /// A view of the data block `hash` sees (recognized, committed or the base block).
    pub fn at(&self, hash: B256) -> Arc<dyn SnapshotRead> {
        Arc::new(BlockView {
            shared: self.clone(),
            block: hash,
        })
    }
}

/// [`SharedSnapshot::at`]'s view.
#[derive(Debug)]
struct BlockView {
    shared: SharedSnapshot,
    block: B256,
}

impl SnapshotRead for BlockView {
    fn get(&self, key: &[u8]) -> crate::Result<Option<Vec<u8>>> {
        self.shared
            .read(|db| db.get(At::Block(self.block), key))
            .map_err(|e| crate::StorageError::Backend(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed set of values.
    #[derive(Debug)]
    struct MapSnapshot(BTreeMap<Vec<u8>, Vec<u8>>);

    impl SnapshotRead for MapSnapshot {
        fn get(&self, key: &[u8]) -> crate::Result<Option<Vec<u8>>> {
            Ok(self.0.get(key).cloned())
        }
    }

    #[test]
    fn the_running_hash_covers_every_key_value_and_deletion_and_its_predecessor() {
        let mut w = Writes::new();
        w.insert(b"a".to_vec(), Some(b"1".to_vec()));
        w.insert(b"b".to_vec(), None);
        let h = chain_hash(B256::ZERO, &w);
        assert_ne!(h, B256::ZERO);
        assert_eq!(chain_hash(B256::ZERO, &Writes::new()), B256::ZERO);
        assert_ne!(chain_hash(B256::repeat_byte(1), &w), h, "chained");
        let mut other = w.clone();
        other.insert(b"a".to_vec(), Some(b"2".to_vec()));
        assert_ne!(chain_hash(B256::ZERO, &other), h, "value");
        let mut other = w.clone();
        other.insert(b"b".to_vec(), Some(Vec::new()));
        assert_ne!(
            chain_hash(B256::ZERO, &other),
            h,
            "a deletion is not an empty value"
        );
        // Field boundaries: ("ab", "c") differs from ("a", "bc").
        let one: Writes = [(b"ab".to_vec(), Some(b"c".to_vec()))].into();
        let two: Writes = [(b"a".to_vec(), Some(b"bc".to_vec()))].into();
        assert_ne!(chain_hash(B256::ZERO, &one), chain_hash(B256::ZERO, &two));
    }

    #[test]
    fn an_overlay_reads_its_own_writes_over_its_base() {
        let base = MapSnapshot([(b"k".to_vec(), b"base".to_vec())].into());
        let mut o = Overlay::new(Arc::new(base));
        assert_eq!(o.get(b"k").expect("get"), Some(b"base".to_vec()));
        o.put(b"k", b"new");
        assert_eq!(o.get(b"k").expect("get"), Some(b"new".to_vec()));
        o.delete(b"k");
        assert_eq!(o.get(b"k").expect("get"), None);
        assert_eq!(o.take_writes().len(), 1);
        assert_eq!(o.get(b"k").expect("get"), Some(b"base".to_vec()));
    }

    #[test]
    fn a_shared_snapshot_that_is_not_open_says_so() {
        let s = SharedSnapshot::default();
        let err = s.at(B256::ZERO).get(b"k").expect_err("not open");
        assert!(err.to_string().contains("not open"), "{err}");
    }
}
