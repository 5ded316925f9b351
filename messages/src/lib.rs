//! The node's typed vocabulary: primitives, RLP, Ethereum transactions (types 0, 1 and 2), headers,
//! blocks, receipts with logs and bloom, and the message enum of every actor.
//!
//! Data flows through these types only: the rpc gateway decodes bytes into a
//! [`SignedTransaction`], the txpool hands batches of them to the block producer, the executor
//! returns an [`ExecutedBlock`], and the chain actor stores it. Every decoder here reads untrusted
//! bytes and returns an error instead of panicking.

pub mod actors;
pub mod block;
pub mod cbft;
pub mod fuzz;
pub mod reload;
pub mod rlp;
pub mod senders;
pub mod snapshot;
pub mod transaction;

pub use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
pub use block::{Block, ExecutedBlock, Header, Log, Receipt};
pub use senders::SenderCache;
pub use transaction::{
    intrinsic_gas, AccessListItem, SignedTransaction, TxBody, TxError, TxKind, TxRules,
};

/// The cores this process may use, asked of the OS once: `available_parallelism` reads the cgroup
/// files on Linux at every call, which hot paths (block decoding, trie commits) must not repeat.
pub fn parallelism() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
