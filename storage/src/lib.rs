//! Storage: the [`KeyValueStore`] trait with RocksDB, ParityDB and in-memory backends, the Ethereum Merkle
//! Patricia [`trie`], accounts in the [`state`] trie, the [`chain`] store of blocks and receipts, and
//! [`snapshotdb`] (per-block data with a hash-chained WAL).
//!
//! Everything lives in one key-value store under the data directory, namespaced by a one-byte key
//! prefix (see [`chain::keys`]). Only the `chain` actor writes blocks, receipts and state nodes,
//! always in one atomic, fsynced batch per block; other actors read through a shared [`chain::ChainStore`].

pub mod chain;
pub mod durable;
pub mod kv;
pub mod snapshotdb;
pub mod state;
pub mod trie;

pub use chain::ChainStore;
pub use kv::{Durability, KeyValueStore, MemoryStore, ParityStore, RocksStore, WriteBatch};
pub use state::{Account, StateDb};
pub use trie::Trie;

/// Errors from any storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend failed (I/O, corruption, lock held by another process).
    #[error("database error: {0}")]
    Backend(String),
    /// A trie node referenced by hash is missing from the database.
    #[error(
        "missing trie node {0}: the database is incomplete or was pruned; run `platon db check`"
    )]
    MissingNode(alloy_primitives::B256),
    /// Stored bytes do not decode.
    #[error("corrupt record {what}: {detail}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// The decoding error.
        detail: String,
    },
    /// The data directory belongs to another chain or backend.
    #[error("{0}")]
    Mismatch(String),
}

/// Result alias for storage operations.
pub type Result<T> = std::result::Result<T, StorageError>;
