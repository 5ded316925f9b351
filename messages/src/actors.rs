//! The message enum of every actor in the dev pipeline, and the errors that cross actor lines.
//!
//! Queries carry a [`RpcReplyPort`]; callers never build these by hand but go through the typed
//! handles in `platon-actors`.

use crate::snapshot::{At, BlockRef, Record};
use crate::{Block, ExecutedBlock, Header, SignedTransaction};
use alloy_primitives::{Address, B256, U256};
use ractor::RpcReplyPort;

/// Why the txpool refused a transaction. Display strings are geth's, because clients match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The same transaction is already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// The nonce is below the sender's account nonce.
    #[error("nonce too low: next nonce {state}, tx nonce {tx}")]
    NonceTooLow {
        /// The account's nonce.
        state: u64,
        /// The transaction's nonce.
        tx: u64,
    },
    /// The nonce is too far ahead of the account nonce to be queued.
    #[error(
        "nonce too high: next nonce {state}, tx nonce {tx}, at most {max_gap} ahead are queued"
    )]
    NonceTooHigh {
        /// The account's nonce.
        state: u64,
        /// The transaction's nonce.
        tx: u64,
        /// How far ahead the pool queues.
        max_gap: u64,
    },
    /// The sender cannot pay gas × fee cap + value.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds {
        /// Sender balance.
        balance: U256,
        /// Upfront cost.
        cost: U256,
    },
    /// Fee cap below the pool's minimum or the current base fee.
    #[error("transaction underpriced: fee cap {fee_cap} below minimum {minimum}")]
    Underpriced {
        /// The transaction's fee cap.
        fee_cap: U256,
        /// The minimum accepted.
        minimum: U256,
    },
    /// A replacement for a pooled nonce that does not raise the fees by the required bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit,
    /// The pool is at capacity.
    #[error("txpool is full")]
    PoolFull,
    /// A rule of the chain forbids it (sender with code, init code too large), in geth's words.
    #[error("{0}")]
    Invalid(String),
    /// The pool could not persist the transaction, so it did not accept it.
    #[error("txpool journal write failed: {0}")]
    Journal(String),
}

/// The txpool's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    /// Transactions executable now.
    pub pending: usize,
    /// Transactions waiting for a nonce gap to fill.
    pub queued: usize,
}

/// Messages of the `txpool` actor.
#[derive(Debug)]
pub enum TxPoolMsg {
    /// Admit a transaction; replies with its hash once it is journaled.
    Submit {
        /// The decoded, signature-checked transaction.
        tx: Box<SignedTransaction>,
        /// Reply.
        reply: RpcReplyPort<Result<B256, PoolError>>,
    },
    /// The next batch for a block on top of the current head, best fee first within nonce order.
    Batch {
        /// At most this many transactions.
        max_txs: usize,
        /// At most this much total gas limit.
        max_gas: u64,
        /// Only transactions paying at least this base fee.
        base_fee: u64,
        /// Reply.
        reply: RpcReplyPort<Vec<SignedTransaction>>,
    },
    /// A block was committed: drop what it included and what its state made stale.
    BlockCommitted {
        /// Hashes of the included transactions.
        included: Vec<B256>,
    },
    /// Counters.
    Status(RpcReplyPort<PoolStatus>),
    /// A pooled transaction by hash.
    Get(B256, RpcReplyPort<Option<SignedTransaction>>),
    /// The nonce after the sender's pooled, executable transactions (None when none are pooled).
    NextNonce(Address, RpcReplyPort<Option<u64>>),
    /// The executor could not include these (e.g. the sender ran out of funds mid-block): drop them
    /// from the pool and its journal.
    Discard {
        /// Hashes to drop.
        hashes: Vec<B256>,
    },
}

/// Messages of the block `producer` actor (the dev chain's single proposer).
#[derive(Debug)]
pub enum ProducerMsg {
    /// The txpool has executable transactions.
    TxsAvailable,
    /// The `--dev.period` timer fired: produce a block even if empty.
    Tick,
    /// Retry after a subsystem was unreachable.
    Retry,
}

/// The environment a block executes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEnv {
    /// Height.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Fee recipient.
    pub beneficiary: Address,
    /// Gas limit.
    pub gas_limit: u64,
    /// Base fee per gas.
    pub base_fee: u64,
    /// PREVRANDAO (the header's mix hash).
    pub prev_randao: B256,
    /// Chain id (CHAINID, and the id signed transactions must carry).
    pub chain_id: u64,
}

/// Messages of the `executor` actor.
#[derive(Debug)]
pub enum ExecutorMsg {
    /// Run transactions on the parent's state and seal the resulting block.
    Execute {
        /// Header of the parent block.
        parent: Box<Header>,
        /// Candidate transactions (some may be rejected).
        txs: Vec<SignedTransaction>,
        /// Block environment.
        env: BlockEnv,
        /// Reply.
        reply: RpcReplyPort<Result<Box<ExecutedBlock>, String>>,
    },
}

/// Messages of the `chain` actor, the only writer of blocks and state.
#[derive(Debug)]
pub enum ChainMsg {
    /// Persist an executed block atomically and make it the head; replies once it is durable.
    Commit {
        /// The block with receipts and state nodes.
        block: Box<ExecutedBlock>,
        /// Reply with the new head.
        reply: RpcReplyPort<Result<Header, String>>,
    },
    /// The current head block.
    Head(RpcReplyPort<Block>),
}

/// Messages of the `rpc` gateway actor.
#[derive(Debug)]
pub enum RpcMsg {
    /// A new head was committed: notify `newHeads` subscribers.
    NewHead(Box<Header>),
}

/// Messages of the `admin` actor. It serves the admin listener and has no mailbox traffic of its own
/// yet; the enum is empty until an admin command needs to reach it.
#[derive(Debug)]
pub enum AdminMsg {}

/// Key-value pairs in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Messages of the `snapshot` actor, the single writer of snapshotdb.
#[derive(Debug)]
pub enum SnapshotMsg {
    /// Log and apply records; the reply comes once they are durable (group commit).
    Write {
        /// Records, applied in order; the first refused one ends the batch.
        records: Vec<Record>,
        /// Reply once durable.
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Make pending writes durable and acknowledge them (sent by the actor to itself).
    Flush,
    /// Read a key at a view.
    Get {
        /// The view.
        at: At,
        /// The key.
        key: Vec<u8>,
        /// Reply.
        reply: RpcReplyPort<Result<Option<Vec<u8>>, String>>,
    },
    /// Every live entry under a prefix at a view, in key order.
    IterPrefix {
        /// The view.
        at: At,
        /// The prefix.
        prefix: Vec<u8>,
        /// At most this many base entries are read.
        limit: usize,
        /// Reply.
        reply: RpcReplyPort<Result<Entries, String>>,
    },
    /// Fold the oldest committed blocks into the base, keeping `keep` above it.
    Compact {
        /// Committed blocks to keep above the base.
        keep: usize,
        /// Reply: how many blocks were folded.
        reply: RpcReplyPort<Result<usize, String>>,
    },
    /// Highest committed block, base block, and WAL fsyncs so far.
    Status(RpcReplyPort<SnapshotStatus>),
}

/// The snapshot actor's state summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// Highest committed block.
    pub highest: BlockRef,
    /// Last block folded into the base.
    pub base: BlockRef,
    /// WAL fsyncs by this incarnation.
    pub syncs: u64,
}
