//! The message enum of every actor, the types their replies carry, and the errors that cross actor
//! lines.
//!
//! Queries carry a [`RpcReplyPort`]; callers never build these by hand but go through the typed
//! handles in `platon-actors`.

use crate::cbft::{CbftMsg, VoteData};
use crate::reload::{
    Contact, FloodTopic, KindData, Message, NodeId, RedirServiceProvider, ResourceId, Specifier,
    StoredDataValue,
};
use crate::snapshot::{At, BlockRef, BlockWrites, Record};
use crate::{Block, ExecutedBlock, Header, SignedTransaction};
use alloy_primitives::{Address, B256, U256};
use platon_crypto::bls::BlsPublicKey;
use platon_crypto::vrf::VrfPublicKey;
use ractor::RpcReplyPort;
use std::collections::BTreeMap;

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
        /// Flood it to every node's pool once admitted (with the rest of its journal group, in
        /// one overlay message); false for a transaction that came by flood.
        flood: bool,
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
        /// Nonces the block's uncommitted ancestors already use: (sender, the next nonce after
        /// them). The batch starts there instead of at the committed state's nonce, so a
        /// pipelined block does not carry its parents' transactions again.
        after: Vec<(Address, u64)>,
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
    /// Sync the journal and answer the admissions waiting for it: the pool sends this to itself
    /// after the first admission of a group, so every submission already queued behind it shares
    /// one fsync (group commit).
    Flush,
    /// Flood the admitted transactions collected since the last flood, in one overlay message
    /// (the pool sends this to itself a few milliseconds after the first of them is durable).
    FloodAdmitted,
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

/// Messages of the `light` client actor.
#[derive(Debug)]
pub enum LightMsg {
    /// Fetch and check the next headers.
    Poll,
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
    /// Recognize a block's data (its writes over its parent's) unless it is known; the reply
    /// (whether it was added) comes once it is applied and readable, before its fsync: a pending
    /// block is executed again after a crash, so its data needs no durability of its own (the next
    /// durable write covers it).
    Insert {
        /// The block and its writes.
        block: BlockWrites,
        /// Reply once applied.
        reply: RpcReplyPort<Result<bool, String>>,
    },
    /// Commit a block (recognizing it from its writes first when needed), dropping its competitors;
    /// the reply (whether anything changed) comes once durable, or at once for a block without writes
    /// (after a crash the restart commits such blocks again). Compacts when enough committed blocks
    /// piled up.
    CommitBlock {
        /// The block and its writes.
        block: BlockWrites,
        /// Reply once durable.
        reply: RpcReplyPort<Result<bool, String>>,
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

// ---- consensus, election, overlay and ReDiR ---------------------------------------------------

/// Messages of the `cbft` actor.
#[derive(Debug)]
pub enum CbftActorMsg {
    /// A consensus message from the overlay.
    Net(Box<CbftMsg>),
    /// Timers: due at this wall-clock millisecond (how late it runs is measured).
    Tick {
        /// When the tick was due.
        due_ms: u64,
    },
    /// State for `platon_consensusStatus`.
    Status(RpcReplyPort<serde_json::Value>),
    /// Evidence held, for `platon_evidences`.
    Evidences(RpcReplyPort<serde_json::Value>),
    /// Fault injection (`admin_equivocate`, only with `--admin.faults`): sign a second, different
    /// vote for the slot of this validator's last vote and send it, as a Byzantine validator would.
    /// Answers the slot.
    Equivocate(RpcReplyPort<Result<VoteData, String>>),
}

/// A round's validators as consensus uses them: BLS and VRF public keys, by validator index.
pub type RoundKeys = (Vec<BlsPublicKey>, Vec<VrfPublicKey>);

/// Messages of the `ppos` actor. `L` is a layer of pending state above the committed store (the
/// storage crate's in-memory trie nodes in the node), a parameter so this crate needs no storage.
#[derive(Debug)]
pub enum PposMsg<L> {
    /// Round `round`'s validators as the state after `header` records them (`layers`: pending
    /// state above the store, newest first).
    RoundSet {
        /// The round.
        round: u64,
        /// The block whose state is read.
        header: Box<Header>,
        /// Pending state layers above the committed store.
        layers: Vec<L>,
        /// The keys, or why there are none.
        reply: RpcReplyPort<Result<RoundKeys, String>>,
    },
}

/// Messages of the `redir` actor.
#[derive(Debug)]
pub enum RedirMsg {
    /// Register (or refresh) every service of this node.
    Refresh,
    /// A registration finished.
    Registered {
        /// Service.
        service: String,
        /// Outcome.
        result: Result<(), String>,
    },
    /// The provider of `service` that ReDiR returns for `key`.
    Find {
        /// Service namespace.
        service: String,
        /// Key.
        key: NodeId,
        /// The provider, or none registered.
        reply: RpcReplyPort<Result<Option<RedirServiceProvider>, String>>,
    },
    /// When each service was last registered.
    Status(RpcReplyPort<Vec<(String, Option<String>)>>),
}

/// The overlay core's counters for `admin_overlayStats`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OverlayProtocolStats {
    /// Messages received by code name.
    pub received: BTreeMap<&'static str, u64>,
    /// Messages sent by code name.
    pub sent: BTreeMap<&'static str, u64>,
    /// Flood messages received, duplicates included.
    pub flood_copies: u64,
    /// Distinct floods received.
    pub floods_delivered: u64,
    /// Lookups finished.
    pub lookups: u64,
    /// Sum of lookup hop counts.
    pub lookup_hops_total: u64,
    /// Largest lookup hop count.
    pub lookup_hops_max: u32,
    /// Routed requests delivered here, and the sum and max of their hop counts.
    pub routed_delivered: u64,
    /// Sum of routed hop counts.
    pub routed_hops_total: u64,
    /// Largest routed hop count.
    pub routed_hops_max: u32,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Messages refused (bad signature, malformed body, TTL).
    pub refused: u64,
    /// Answers dropped because they came from a peer other than the one asked (or answered
    /// nothing pending).
    pub forged_answers: u64,
}

/// One row of `admin_peers`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// Node-ID.
    pub id: String,
    /// Listening address.
    pub addr: String,
    /// Who opened the link.
    pub inbound: bool,
    /// Seconds open.
    pub connected_secs: u64,
    /// Messages waiting to be written.
    pub queued: usize,
}

/// `admin_nodeInfo`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Node-ID (hex).
    pub id: String,
    /// Listening address.
    pub listen: String,
    /// Contacts in the routing table.
    pub routing_table_size: usize,
    /// Open links.
    pub links: usize,
    /// Values stored for others.
    pub stored_values: usize,
}

/// Link-layer counters, beside the core's.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStats {
    /// Links opened (both directions).
    pub links_opened: u64,
    /// Links that closed or failed.
    pub links_closed: u64,
    /// Connections refused (bad certificate, Node-ID mismatch, bad Attach).
    pub refused: u64,
    /// Messages dropped because a link's queue was full or no link could be opened.
    pub dropped: u64,
    /// Frames that did not decode.
    pub malformed: u64,
    /// Bytes written to links (frames, all incarnations of this overlay actor).
    pub bytes_sent: u64,
    /// Bytes read from links (frames, all incarnations of this overlay actor).
    pub bytes_received: u64,
    /// Messages dropped because their link was over `overlay.max_messages_per_sec`.
    pub rate_limited: u64,
    /// Links closed because the peer stopped reading (a write took over `write_timeout_ms`).
    pub slow_peers: u64,
}

/// Everything `admin_overlayStats` shows.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlayStats {
    /// Protocol counters.
    pub protocol: OverlayProtocolStats,
    /// Link counters.
    pub links: LinkStats,
}

/// Messages of the overlay actor. `S` is the link stream a finished handshake hands over (a TLS
/// stream in the node), a parameter so this crate needs no TLS stack.
pub enum OverlayMsg<S> {
    /// A message arrived on a link.
    Inbound {
        /// The authenticated neighbor.
        from: Contact,
        /// The message.
        msg: Box<Message>,
    },
    /// A connection finished its handshake and Attach.
    Connected {
        /// The peer.
        contact: Contact,
        /// The stream.
        stream: Box<S>,
        /// Whether the peer dialed us.
        inbound: bool,
        /// Whether this link was opened to join through the peer.
        bootstrap: bool,
    },
    /// A link actor stopped.
    LinkDown {
        /// The peer.
        peer: NodeId,
        /// The link.
        link: u64,
    },
    /// A dial failed.
    DialFailed {
        /// The peer, when known.
        peer: Option<NodeId>,
        /// Why.
        reason: String,
    },
    /// An inbound connection was refused.
    Refused(String),
    /// Timers.
    Tick,
    /// (Re)join through the bootstrap addresses.
    Join,
    /// Iterative lookup.
    Lookup {
        /// Target.
        target: NodeId,
        /// The closest live nodes and the hop count.
        reply: RpcReplyPort<Result<(Vec<Contact>, u32), String>>,
    },
    /// Store signed values on the r closest nodes.
    Store {
        /// Resource.
        resource: ResourceId,
        /// Kind.
        kind: u32,
        /// Values.
        values: Vec<StoredDataValue>,
        /// Lifetime (s).
        lifetime: u32,
        /// The replicas.
        reply: RpcReplyPort<Result<Vec<NodeId>, String>>,
    },
    /// Fetch and merge from the r closest nodes.
    Fetch {
        /// Resource.
        resource: ResourceId,
        /// What.
        specifiers: Vec<Specifier>,
        /// The values.
        reply: RpcReplyPort<Result<Vec<KindData>, String>>,
    },
    /// Flood a payload to every node.
    Flood {
        /// Topic.
        topic: FloodTopic,
        /// Payload.
        payload: Vec<u8>,
    },
    /// `admin_nodeInfo`.
    Info(RpcReplyPort<NodeInfo>),
    /// `admin_peers`.
    Peers(RpcReplyPort<Vec<PeerInfo>>),
    /// `admin_overlayStats`.
    Stats(RpcReplyPort<OverlayStats>),
    /// Open a link to a contact, refusing a peer whose certificate gives another Node-ID.
    Dial(Contact),
    /// Tell every neighbor this node leaves (before a clean shutdown); replies once sent.
    Leave(RpcReplyPort<()>),
    /// Test hook: make the link to this peer panic (proves link isolation).
    FailLink(NodeId),
}

impl<S> std::fmt::Debug for OverlayMsg<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            OverlayMsg::Inbound { .. } => "Inbound",
            OverlayMsg::Connected { .. } => "Connected",
            OverlayMsg::LinkDown { .. } => "LinkDown",
            OverlayMsg::DialFailed { .. } => "DialFailed",
            OverlayMsg::Refused(_) => "Refused",
            OverlayMsg::Tick => "Tick",
            OverlayMsg::Join => "Join",
            OverlayMsg::Lookup { .. } => "Lookup",
            OverlayMsg::Store { .. } => "Store",
            OverlayMsg::Fetch { .. } => "Fetch",
            OverlayMsg::Flood { .. } => "Flood",
            OverlayMsg::Info(_) => "Info",
            OverlayMsg::Peers(_) => "Peers",
            OverlayMsg::Stats(_) => "Stats",
            OverlayMsg::Dial(_) => "Dial",
            OverlayMsg::Leave(_) => "Leave",
            OverlayMsg::FailLink(_) => "FailLink",
        };
        f.write_str(name)
    }
}

/// Messages of a link actor.
#[derive(Debug)]
pub enum LinkMsg {
    /// Write a message.
    Send(Vec<u8>),
    /// Fail (fault injection in tests).
    Panic,
}
