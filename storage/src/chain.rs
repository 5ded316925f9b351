//! The chain store: blocks, receipts, the transaction index, state trie nodes, the head pointer and
//! the txpool journal, all in one [`KeyValueStore`].
//!
//! Writers: [`ChainStore::commit_block`] (the `chain` actor) and the journal methods (the `txpool` actor).
//! Every commit is one atomic batch written with [`Durability::Sync`], so a block is either wholly
//! present after a crash or wholly absent, and a receipt handed to a client is never lost.

use crate::kv::{Durability, KeyValueStore, WriteBatch};
use crate::state::{Account, StateDb};
use crate::trie::{ordered_root, NodeReader};
use crate::{Result, StorageError};
use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
use platon_messages::block::{decode_receipts, encode_receipts, EMPTY_OMMERS_HASH, EMPTY_ROOT};
use platon_messages::{Block, ExecutedBlock, Header, Receipt, TxRules};
use std::sync::Arc;

/// One-byte key prefixes of every table.
pub mod keys {
    /// `n` ++ hash → trie node RLP.
    pub const NODE: u8 = b'n';
    /// `b` ++ block hash → block storage encoding.
    pub const BLOCK: u8 = b'b';
    /// `h` ++ number (8 bytes BE) → canonical block hash.
    pub const CANONICAL: u8 = b'h';
    /// `r` ++ block hash → receipts storage encoding.
    pub const RECEIPTS: u8 = b'r';
    /// `t` ++ tx hash → block hash ++ index (4 bytes BE).
    pub const TX_INDEX: u8 = b't';
    /// `p` ++ tx hash → raw transaction awaiting inclusion (txpool journal).
    pub const POOL: u8 = b'p';
    /// `H` → head block hash.
    pub const HEAD: &[u8] = b"H";
    /// `M` ++ name → metadata (chain id, genesis hash, backend).
    pub const META: u8 = b'M';
    /// `k` ++ code hash → contract code (kept in every mode).
    pub const CODE: u8 = b'k';
    /// `c` ++ node hash → reference count (4 bytes BE), full mode only.
    pub const REFCOUNT: u8 = b'c';
    /// `q` ++ block hash → the block's quorum certificate (CBFT encoding).
    pub const QC: u8 = b'q';
    /// `f` ++ block hash → the senders of its transactions, 20 bytes each in block order (read
    /// back instead of recovering every signature again).
    pub const SENDERS: u8 = b'f';
    /// `v` ++ key → the `vc_pool` task queue's compacted snapshotdb base (node-private, not state).
    pub const VC_POOL: u8 = b'v';
}

/// Metadata name of the consensus engine's uncommitted chain.
const UNCOMMITTED_CHAIN: &[u8] = b"cbft-uncommitted";

fn key(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.len());
    k.push(prefix);
    k.extend_from_slice(rest);
    k
}

/// Size of one table of the chain store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// Table name.
    pub table: &'static str,
    /// Number of entries.
    pub entries: u64,
    /// Bytes of keys.
    pub key_bytes: u64,
    /// Bytes of values.
    pub value_bytes: u64,
}

/// The name of the table with this key prefix.
pub fn table_name(prefix: u8) -> &'static str {
    match prefix {
        keys::NODE => "state trie nodes",
        keys::BLOCK => "blocks",
        keys::CANONICAL => "canonical index",
        keys::RECEIPTS => "receipts",
        keys::TX_INDEX => "transaction index",
        keys::POOL => "txpool journal",
        b'H' => "head",
        keys::META => "metadata",
        keys::CODE => "contract code",
        keys::REFCOUNT => "trie node refcounts",
        keys::QC => "quorum certificates",
        keys::SENDERS => "transaction senders",
        b'S' => "snapshotdb base",
        keys::VC_POOL => "vc_pool task queue",
        _ => "unknown",
    }
}

/// Where a transaction sits in the canonical chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// Block hash.
    pub block_hash: B256,
    /// Index within the block.
    pub index: u32,
}

/// What the chain starts from.
#[derive(Debug, Clone)]
pub struct GenesisSpec {
    /// Chain id.
    pub chain_id: u64,
    /// Funded accounts.
    pub alloc: Vec<(Address, U256)>,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Initial base fee.
    pub base_fee: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Extra data.
    pub extra_data: Bytes,
    /// Contract storage set at genesis (the staking contract's genesis candidates); an account
    /// with storage gets nonce 1, so no state-clearing rule removes it.
    pub storage: Vec<(Address, B256, U256)>,
    /// snapshotdb's genesis data (the staking contract's genesis records), written into its base.
    pub snapshot: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The chain store, shared between actors.
#[derive(Clone)]
pub struct ChainStore {
    kv: Arc<dyn KeyValueStore>,
    chain_id: u64,
    mode: StateMode,
    nodes: Arc<NodeCache>,
    snapshot: crate::snapshotdb::SharedSnapshot,
}

/// How much state history the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateMode {
    /// Every block's state stays readable.
    Archive,
    /// Only the last `retain` blocks' states stay readable; older trie nodes are deleted as blocks
    /// commit (reference counts kept in the same atomic batch as the block).
    Full {
        /// Number of most recent block states kept (at least 1).
        retain: u64,
    },
}

impl StateMode {
    /// The mode a store records, if it has one.
    pub fn recorded(kv: &dyn KeyValueStore) -> Result<Option<StateMode>> {
        let Some(raw) = kv.get(&key(keys::META, b"state_mode"))? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&raw).to_string();
        let mode = match text.as_str() {
            "archive" => StateMode::Archive,
            t => match t.strip_prefix("full:").and_then(|n| n.parse().ok()) {
                Some(retain) => StateMode::Full { retain },
                None => {
                    return Err(StorageError::Corrupt {
                        what: "state mode record".into(),
                        detail: text,
                    })
                }
            },
        };
        Ok(Some(mode))
    }

    fn record(&self) -> Vec<u8> {
        match self {
            StateMode::Archive => b"archive".to_vec(),
            StateMode::Full { retain } => format!("full:{retain}").into_bytes(),
        }
    }
}

/// Reference counts of trie nodes with the batch's own changes layered over the store.
struct RefCounts<'a> {
    kv: &'a dyn KeyValueStore,
    counts: std::collections::HashMap<B256, u32>,
    new_nodes: std::collections::HashMap<B256, Vec<u8>>,
    deleted: std::collections::HashSet<B256>,
}

impl<'a> RefCounts<'a> {
    fn new(kv: &'a dyn KeyValueStore) -> Self {
        RefCounts {
            kv,
            counts: Default::default(),
            new_nodes: Default::default(),
            deleted: Default::default(),
        }
    }

    fn count(&mut self, h: &B256) -> Result<u32> {
        if let Some(c) = self.counts.get(h) {
            return Ok(*c);
        }
        let c = match self.kv.get(&key(keys::REFCOUNT, h.as_slice()))? {
            Some(b) => {
                u32::from_be_bytes(b.as_slice().try_into().map_err(|_| StorageError::Corrupt {
                    what: format!("reference count of {h}"),
                    detail: "not 4 bytes".into(),
                })?)
            }
            None => 0,
        };
        self.counts.insert(*h, c);
        Ok(c)
    }

    fn node(&self, h: &B256) -> Result<Option<Vec<u8>>> {
        if self.deleted.contains(h) {
            return Ok(None);
        }
        if let Some(n) = self.new_nodes.get(h) {
            return Ok(Some(n.clone()));
        }
        self.kv.get(&key(keys::NODE, h.as_slice()))
    }

    /// Stores a node written by a commit: a node not yet stored counts one reference to each child.
    fn add_node(&mut self, h: B256, enc: &[u8]) -> Result<()> {
        if self.node(&h)?.is_some() {
            return Ok(());
        }
        self.deleted.remove(&h);
        for child in crate::state::state_child_hashes(enc)? {
            let c = self.count(&child)?;
            self.counts.insert(child, c.saturating_add(1));
        }
        self.new_nodes.insert(h, enc.to_vec());
        Ok(())
    }

    fn retain_root(&mut self, root: B256) -> Result<()> {
        let c = self.count(&root)?;
        self.counts.insert(root, c.saturating_add(1));
        Ok(())
    }

    /// Drops one reference; a node left with none is deleted and releases its children.
    fn release(&mut self, root: B256) -> Result<()> {
        let mut stack = vec![root];
        while let Some(h) = stack.pop() {
            let c = self.count(&h)?;
            if c > 1 {
                self.counts.insert(h, c - 1);
                continue;
            }
            self.counts.insert(h, 0);
            if let Some(enc) = self.node(&h)? {
                stack.extend(crate::state::state_child_hashes(&enc)?);
            }
            self.new_nodes.remove(&h);
            self.deleted.insert(h);
        }
        Ok(())
    }

    /// Adds the changes to `batch`; returns the hashes of deleted nodes (for cache eviction).
    fn into_batch(self, batch: &mut WriteBatch) -> Vec<B256> {
        for (h, enc) in self.new_nodes {
            batch.put(key(keys::NODE, h.as_slice()), enc);
        }
        for h in &self.deleted {
            batch.delete(key(keys::NODE, h.as_slice()));
        }
        for (h, c) in self.counts {
            if c == 0 {
                batch.delete(key(keys::REFCOUNT, h.as_slice()));
            } else {
                batch.put(key(keys::REFCOUNT, h.as_slice()), c.to_be_bytes().to_vec());
            }
        }
        self.deleted.into_iter().collect()
    }
}

impl std::fmt::Debug for ChainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainStore")
            .field("backend", &self.kv.backend())
            .field("chain_id", &self.chain_id)
            .finish()
    }
}

/// Trie nodes read through a bounded cache. Nodes are content-addressed, so a cached node is never
/// stale; pruned nodes are evicted when their deletion commits.
pub struct NodeCache {
    kv: Arc<dyn KeyValueStore>,
    inner: parking_lot::Mutex<CacheInner>,
    capacity: usize,
}

#[derive(Default)]
struct CacheInner {
    map: std::collections::HashMap<B256, Arc<Vec<u8>>>,
    /// Bytes of the cached nodes.
    bytes: usize,
    order: std::collections::VecDeque<B256>,
    hits: u64,
    misses: u64,
}

/// Trie nodes read straight from the store, bypassing the cache (for verification).
struct DiskNodes(Arc<dyn KeyValueStore>);
impl NodeReader for DiskNodes {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        self.0.get(&key(keys::NODE, hash.as_slice()))
    }
}

/// Nodes kept by default (about 64 MiB of typical nodes).
pub const NODE_CACHE_CAPACITY: usize = 128 * 1024;

impl NodeCache {
    fn new(kv: Arc<dyn KeyValueStore>, capacity: usize) -> Self {
        NodeCache {
            kv,
            inner: parking_lot::Mutex::new(CacheInner::default()),
            capacity,
        }
    }

    fn evict(&self, hashes: &[B256]) {
        let mut c = self.inner.lock();
        for h in hashes {
            if let Some(n) = c.map.remove(h) {
                c.bytes = c.bytes.saturating_sub(n.len());
            }
        }
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        let c = self.inner.lock();
        (c.hits, c.misses)
    }

    /// Bytes of node data held now.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

impl NodeReader for NodeCache {
    fn code(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        self.kv.get(&key(keys::CODE, hash.as_slice()))
    }
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        {
            let mut c = self.inner.lock();
            if let Some(n) = c.map.get(hash).cloned() {
                c.hits += 1;
                return Ok(Some(n.to_vec()));
            }
            c.misses += 1;
        }
        let found = self.kv.get(&key(keys::NODE, hash.as_slice()))?;
        if let Some(n) = &found {
            let mut c = self.inner.lock();
            if c.map.insert(*hash, Arc::new(n.clone())).is_none() {
                c.order.push_back(*hash);
                c.bytes = c.bytes.saturating_add(n.len());
            }
            // FIFO eviction keeps the cache bounded; entries already evicted are skipped.
            while c.map.len() > self.capacity {
                match c.order.pop_front() {
                    Some(old) => {
                        if let Some(n) = c.map.remove(&old) {
                            c.bytes = c.bytes.saturating_sub(n.len());
                        }
                    }
                    None => break,
                }
            }
            if c.order.len() > self.capacity.saturating_mul(2) {
                let live: std::collections::VecDeque<B256> = c
                    .order
                    .iter()
                    .filter(|h| c.map.contains_key(*h))
                    .copied()
                    .collect();
                c.order = live;
            }
        }
        Ok(found)
    }
}

impl ChainStore {
    /// Opens the chain in `kv`, writing the genesis block if the store is empty. A store that holds
    /// another chain (different genesis) is refused.
    pub fn open(kv: Arc<dyn KeyValueStore>, genesis: &GenesisSpec) -> Result<Self> {
        Self::open_with_mode(kv, genesis, StateMode::Archive)
    }

    /// [`ChainStore::open`] with a state history mode. The mode is recorded when the store is created;
    /// opening it with another mode is refused (a full store has no old states, an archive store no
    /// reference counts).
    pub fn open_with_mode(
        kv: Arc<dyn KeyValueStore>,
        genesis: &GenesisSpec,
        mode: StateMode,
    ) -> Result<Self> {
        if let StateMode::Full { retain: 0 } = mode {
            return Err(StorageError::Mismatch(
                "full state mode needs retain >= 1".into(),
            ));
        }
        let store = Self::over(kv, genesis.chain_id, mode);
        if let Some(recorded) = store.kv.get(&key(keys::META, b"state_mode"))? {
            if recorded != mode.record() {
                return Err(StorageError::Mismatch(format!(
                    "the data directory keeps state in mode {:?} but the node is configured for {:?}; \
                     use the recorded mode (--state.mode/--state.retain) or another --datadir",
                    String::from_utf8_lossy(&recorded),
                    String::from_utf8_lossy(&mode.record())
                )));
            }
        }
        let (genesis_block, nodes) = store.build_genesis(genesis)?;
        let genesis_hash = genesis_block.hash();
        match store.kv.get(&key(keys::META, b"genesis"))? {
            Some(existing) if existing.as_slice() == genesis_hash.as_slice() => {}
            Some(existing) => {
                return Err(StorageError::Mismatch(format!(
                    "the data directory holds a chain with genesis 0x{} but this configuration's genesis is {genesis_hash}; \
                     use another --datadir or the same genesis/chain id",
                    hex::encode(existing)
                )))
            }
            None => {
                let executed = ExecutedBlock { block: genesis_block, receipts: vec![], state_nodes: nodes, codes: vec![], rejected: vec![], snapshot: Default::default() };
                let (mut batch, _) = store.block_batch(&executed)?;
                batch.put(key(keys::META, b"genesis"), genesis_hash.as_slice().to_vec());
                for (k, v) in &genesis.snapshot {
                    batch.put(crate::snapshotdb::base_key(k), v.clone());
                }
                batch.put(key(keys::META, b"state_mode"), mode.record());
                batch.put(key(keys::META, b"chain_id"), genesis.chain_id.to_be_bytes().to_vec());
                store.kv.write(batch, Durability::Sync)?;
            }
        }
        Ok(store)
    }

    /// Opens the chain a store already holds, whatever genesis and chain id made it, with its
    /// recorded state mode: for offline tools (`platon db check`, `db stats`), which need no
    /// configuration because the data directory knows its own chain.
    pub fn open_existing(kv: Arc<dyn KeyValueStore>) -> Result<Self> {
        let no_chain = || {
            StorageError::Mismatch(
                "the data directory holds no chain (no genesis recorded): start a node on it first"
                    .into(),
            )
        };
        if kv.get(&key(keys::META, b"genesis"))?.is_none() {
            return Err(no_chain());
        }
        let raw = kv
            .get(&key(keys::META, b"chain_id"))?
            .ok_or_else(no_chain)?;
        let chain_id = <[u8; 8]>::try_from(raw.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| StorageError::Corrupt {
                what: "chain id record".into(),
                detail: hex::encode(&raw),
            })?;
        let mode = StateMode::recorded(kv.as_ref())?.unwrap_or(StateMode::Archive);
        Ok(Self::over(kv, chain_id, mode))
    }

    /// The store over `kv`, with its trie node cache.
    fn over(kv: Arc<dyn KeyValueStore>, chain_id: u64, mode: StateMode) -> Self {
        let nodes = Arc::new(NodeCache::new(kv.clone(), NODE_CACHE_CAPACITY));
        ChainStore {
            kv,
            chain_id,
            mode,
            nodes,
            snapshot: Default::default(),
        }
    }

    /// The node's snapshotdb (opened and written by the `snapshot` actor).
    pub fn snapshot(&self) -> &crate::snapshotdb::SharedSnapshot {
        &self.snapshot
    }

    /// The state after block `header`, with snapshotdb's data at that block attached: what reads of
    /// the staking contract at a block (RPC, the elector) and execution on top of it use.
    pub fn state_of(&self, header: &Header) -> StateDb {
        self.state_at(header.state_root)
            .with_snapshot(self.snapshot.at(header.hash()))
    }

    fn build_genesis(&self, g: &GenesisSpec) -> Result<(Block, crate::trie::TrieNodes)> {
        let mut state = StateDb::at_root(EMPTY_ROOT, self.node_reader());
        for (addr, balance) in &g.alloc {
            state.set_account(
                *addr,
                Account {
                    balance: *balance,
                    ..Default::default()
                },
            );
        }
        for (addr, slot, value) in &g.storage {
            let mut acct = state.account(addr)?;
            acct.nonce = acct.nonce.max(1);
            state.set_account(*addr, acct);
            state.set_storage(*addr, *slot, *value);
        }
        let (state_root, nodes) = state.commit()?;
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: Address::ZERO,
            state_root,
            transactions_root: EMPTY_ROOT,
            receipts_root: EMPTY_ROOT,
            logs_bloom: Bloom::ZERO,
            difficulty: U256::ZERO,
            number: 0,
            gas_limit: g.gas_limit,
            gas_used: 0,
            timestamp: g.timestamp,
            extra_data: g.extra_data.clone(),
            mix_hash: B256::ZERO,
            nonce: [0; 8],
            base_fee_per_gas: g.base_fee,
        };
        Ok((
            Block {
                header,
                transactions: vec![],
            },
            nodes,
        ))
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The rules stored transactions were admitted under.
    pub fn tx_rules(&self) -> TxRules {
        TxRules {
            chain_id: self.chain_id,
            shanghai: true,
        }
    }

    /// The underlying store.
    pub fn kv(&self) -> &Arc<dyn KeyValueStore> {
        &self.kv
    }

    /// A node reader over this store's trie nodes.
    pub fn node_reader(&self) -> Arc<dyn NodeReader> {
        self.nodes.clone()
    }

    /// The state at `root`.
    pub fn state_at(&self, root: B256) -> StateDb {
        StateDb::at_root(root, self.node_reader())
    }

    /// The block's batch and the trie nodes it deletes (full mode).
    fn block_batch(&self, executed: &ExecutedBlock) -> Result<(WriteBatch, Vec<B256>)> {
        let block = &executed.block;
        let hash = block.hash();
        let mut batch = WriteBatch::new();
        let mut deleted = Vec::new();
        match self.mode {
            StateMode::Archive => {
                for (h, node) in &executed.state_nodes {
                    batch.put(key(keys::NODE, h.as_slice()), node.clone());
                }
            }
            StateMode::Full { retain } => {
                let mut refs = RefCounts::new(self.kv.as_ref());
                for (h, node) in &executed.state_nodes {
                    refs.add_node(*h, node)?;
                }
                refs.retain_root(block.header.state_root)?;
                // The block `retain` below this one leaves the window: release its state root.
                if let Some(old) = block.header.number.checked_sub(retain) {
                    if let Some(old_header) = self.header_by_number(old)? {
                        refs.release(old_header.state_root)?;
                    }
                }
                deleted = refs.into_batch(&mut batch);
            }
        }
        for (h, code) in &executed.codes {
            batch.put(key(keys::CODE, h.as_slice()), code.clone());
        }
        batch.put(key(keys::BLOCK, hash.as_slice()), block.encode());
        let senders: Vec<u8> = block
            .transactions
            .iter()
            .flat_map(|t| t.sender.into_array())
            .collect();
        batch.put(key(keys::SENDERS, hash.as_slice()), senders);
        batch.put(
            key(keys::RECEIPTS, hash.as_slice()),
            encode_receipts(&executed.receipts),
        );
        batch.put(
            key(keys::CANONICAL, &block.header.number.to_be_bytes()),
            hash.as_slice().to_vec(),
        );
        for (i, tx) in block.transactions.iter().enumerate() {
            let mut loc = hash.as_slice().to_vec();
            loc.extend_from_slice(&(i as u32).to_be_bytes());
            batch.put(key(keys::TX_INDEX, tx.hash.as_slice()), loc);
            batch.delete(key(keys::POOL, tx.hash.as_slice()));
        }
        batch.put(keys::HEAD.to_vec(), hash.as_slice().to_vec());
        Ok((batch, deleted))
    }

    /// The state history mode.
    pub fn mode(&self) -> StateMode {
        self.mode
    }

    /// The trie node cache (for its hit and miss counters).
    pub fn node_cache(&self) -> &NodeCache {
        &self.nodes
    }

    /// What the store holds in memory, by part, in bytes: the trie node cache's node data and
    /// what the backend reports (RocksDB's memtables, block cache and table readers).
    pub fn memory(&self) -> Vec<(&'static str, u64)> {
        let mut parts = vec![("trie_node_cache", self.nodes.bytes() as u64)];
        parts.extend(self.kv.memory());
        parts
    }

    /// Validates and persists an executed block as the new head, atomically and fsynced: when this
    /// returns `Ok` the block, its receipts and state survive a crash or power loss.
    pub fn commit_block(&self, executed: &ExecutedBlock) -> Result<()> {
        let head = self.head_header()?;
        let h = &executed.block.header;
        if h.parent_hash != head.hash() || Some(h.number) != head.number.checked_add(1) {
            return Err(StorageError::Mismatch(format!(
                "block {} (parent {}) does not extend head {} ({})",
                h.number,
                h.parent_hash,
                head.number,
                head.hash()
            )));
        }
        let tx_root = ordered_root(
            &executed
                .block
                .transactions
                .iter()
                .map(|t| t.encoded.to_vec())
                .collect::<Vec<_>>(),
        );
        let receipts_root = ordered_root(
            &executed
                .receipts
                .iter()
                .map(Receipt::consensus_encode)
                .collect::<Vec<_>>(),
        );
        if tx_root != h.transactions_root || receipts_root != h.receipts_root {
            return Err(StorageError::Mismatch(
                "block roots do not match its transactions or receipts".into(),
            ));
        }
        let (batch, deleted) = self.block_batch(executed)?;
        self.kv.write(batch, Durability::Sync)?;
        self.nodes.evict(&deleted);
        Ok(())
    }

    /// The head block.
    pub fn head(&self) -> Result<Block> {
        let hash = self.head_hash()?;
        self.block_by_hash(&hash)?
            .ok_or_else(|| StorageError::Corrupt {
                what: format!("head block {hash}"),
                detail: "missing".into(),
            })
    }

    fn head_hash(&self) -> Result<B256> {
        let hash = self
            .kv
            .get(keys::HEAD)?
            .ok_or_else(|| StorageError::Corrupt {
                what: "head pointer".into(),
                detail: "missing".into(),
            })?;
        B256::try_from(hash.as_slice()).map_err(|_| StorageError::Corrupt {
            what: "head pointer".into(),
            detail: "not 32 bytes".into(),
        })
    }

    /// The head block's header, without decoding (and re-verifying) its transactions: for the hot
    /// paths that need only the head's number, roots and base fee.
    pub fn head_header(&self) -> Result<Header> {
        let hash = self.head_hash()?;
        self.header_by_hash(&hash)?
            .ok_or_else(|| StorageError::Corrupt {
                what: format!("head block {hash}"),
                detail: "missing".into(),
            })
    }

    /// A block's header by hash, without decoding its transactions.
    pub fn header_by_hash(&self, hash: &B256) -> Result<Option<Header>> {
        let Some(bytes) = self.kv.get(&key(keys::BLOCK, hash.as_slice()))? else {
            return Ok(None);
        };
        let corrupt = |e: platon_messages::rlp::RlpError| StorageError::Corrupt {
            what: format!("block {hash}"),
            detail: e.to_string(),
        };
        let mut outer = platon_messages::rlp::Reader::new(&bytes);
        let mut list = outer.list().map_err(corrupt)?;
        Header::decode(list.raw().map_err(corrupt)?)
            .map(Some)
            .map_err(corrupt)
    }

    /// The canonical header at a height, without decoding transactions.
    pub fn header_by_number(&self, number: u64) -> Result<Option<Header>> {
        match self.hash_by_number(number)? {
            None => Ok(None),
            Some(h) => self.header_by_hash(&h),
        }
    }

    /// A block by hash.
    pub fn block_by_hash(&self, hash: &B256) -> Result<Option<Block>> {
        match self.kv.get(&key(keys::BLOCK, hash.as_slice()))? {
            None => Ok(None),
            Some(bytes) => {
                // Senders stored with the block (a store written before they were recovers them).
                let senders = self
                    .kv
                    .get(&key(keys::SENDERS, hash.as_slice()))?
                    .unwrap_or_default();
                let known =
                    |i: usize, _: &B256| senders.get(i * 20..i * 20 + 20).map(Address::from_slice);
                Block::decode_with(&bytes, &self.tx_rules(), &known)
            }
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                what: format!("block {hash}"),
                detail: e.to_string(),
            }),
        }
    }

    /// Stores a committed block's quorum certificate (fsynced).
    pub fn put_qc(&self, block: &B256, qc: Vec<u8>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key(keys::QC, block.as_slice()), qc);
        self.kv.write(batch, Durability::Sync)
    }

    /// Replaces the consensus engine's record of the uncommitted chain it is locked on (the blocks
    /// and QCs above the committed head, CBFT encoding), fsynced: a restarted validator builds on its
    /// lock even when no other node holds those blocks.
    pub fn put_uncommitted_chain(&self, chain: Vec<u8>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key(keys::META, UNCOMMITTED_CHAIN), chain);
        self.kv.write(batch, Durability::Sync)
    }

    /// The record written by [`ChainStore::put_uncommitted_chain`], if any.
    pub fn uncommitted_chain(&self) -> Result<Option<Vec<u8>>> {
        self.kv.get(&key(keys::META, UNCOMMITTED_CHAIN))
    }

    /// A committed block's quorum certificate, if stored.
    pub fn qc(&self, block: &B256) -> Result<Option<Vec<u8>>> {
        self.kv.get(&key(keys::QC, block.as_slice()))
    }

    /// The canonical hash at a height.
    pub fn hash_by_number(&self, number: u64) -> Result<Option<B256>> {
        Ok(self
            .kv
            .get(&key(keys::CANONICAL, &number.to_be_bytes()))?
            .and_then(|h| B256::try_from(h.as_slice()).ok()))
    }

    /// The canonical block at a height.
    pub fn block_by_number(&self, number: u64) -> Result<Option<Block>> {
        match self.hash_by_number(number)? {
            None => Ok(None),
            Some(h) => self.block_by_hash(&h),
        }
    }

    /// A block's receipts.
    pub fn receipts(&self, block_hash: &B256) -> Result<Option<Vec<Receipt>>> {
        match self.kv.get(&key(keys::RECEIPTS, block_hash.as_slice()))? {
            None => Ok(None),
            Some(b) => decode_receipts(&b)
                .map(Some)
                .map_err(|e| StorageError::Corrupt {
                    what: format!("receipts of {block_hash}"),
                    detail: e.to_string(),
                }),
        }
    }

    /// Where a transaction was included.
    pub fn tx_location(&self, tx_hash: &B256) -> Result<Option<TxLocation>> {
        Ok(self
            .kv
            .get(&key(keys::TX_INDEX, tx_hash.as_slice()))?
            .and_then(|v| {
                let block_hash = B256::try_from(v.get(..32)?).ok()?;
                let index = u32::from_be_bytes(v.get(32..36)?.try_into().ok()?);
                Some(TxLocation { block_hash, index })
            }))
    }

    /// Journals a transaction the txpool accepted, without waiting for the disk: durable only
    /// after the next [`ChainStore::journal_sync`] (the pool's group commit).
    pub fn journal_put_buffered(&self, tx_hash: &B256, raw: &[u8]) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key(keys::POOL, tx_hash.as_slice()), raw.to_vec());
        self.kv.write(b, Durability::Buffered)
    }

    /// Makes every journal write so far durable (one fsync of the store's log).
    pub fn journal_sync(&self) -> Result<()> {
        self.kv.sync()
    }

    /// Removes journaled transactions (replaced or dropped).
    pub fn journal_remove(&self, hashes: &[B256]) -> Result<()> {
        let mut b = WriteBatch::new();
        for h in hashes {
            b.delete(key(keys::POOL, h.as_slice()));
        }
        self.kv.write(b, Durability::Buffered)
    }

    /// Every journaled transaction, at most `limit`.
    pub fn journal(&self, limit: usize) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .kv
            .scan_prefix(&[keys::POOL], limit)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Entries and bytes per table (one-byte key prefix), by a full walk of the store.
    pub fn stats(&self) -> Result<Vec<TableStats>> {
        let mut by_prefix: std::collections::BTreeMap<u8, TableStats> =
            std::collections::BTreeMap::new();
        self.kv.for_each_prefix(&[], &mut |k, v| {
            let prefix = k.first().copied().unwrap_or(0);
            let e = by_prefix.entry(prefix).or_insert_with(|| TableStats {
                table: table_name(prefix),
                entries: 0,
                key_bytes: 0,
                value_bytes: 0,
            });
            e.entries += 1;
            e.key_bytes += k.len() as u64;
            e.value_bytes += v.len() as u64;
            true
        })?;
        Ok(by_prefix.into_values().collect())
    }

    /// Verifies the whole canonical chain: linkage, receipt roots, and every node reachable from every
    /// block's state root (each distinct node once). Returns (blocks checked, distinct state nodes checked).
    pub fn check(&self) -> Result<(u64, usize)> {
        let head = self.head()?;
        let mut parent: Option<Block> = None;
        let mut verified = std::collections::HashSet::new();
        let mut nodes = 0;
        for n in 0..=head.header.number {
            let block = self
                .block_by_number(n)?
                .ok_or_else(|| StorageError::Corrupt {
                    what: format!("canonical block {n}"),
                    detail: "missing".into(),
                })?;
            if let Some(p) = &parent {
                if block.header.parent_hash != p.hash() {
                    return Err(StorageError::Corrupt {
                        what: format!("block {n}"),
                        detail: "parent hash does not link".into(),
                    });
                }
            }
            let receipts = self.receipts(&block.hash())?.unwrap_or_default();
            let rr = ordered_root(
                &receipts
                    .iter()
                    .map(Receipt::consensus_encode)
                    .collect::<Vec<_>>(),
            );
            if rr != block.header.receipts_root {
                return Err(StorageError::Corrupt {
                    what: format!("receipts of block {n}"),
                    detail: "root mismatch".into(),
                });
            }
            // Check every retained state root (all of them in archive mode), each shared node once.
            let retained = match self.mode {
                StateMode::Archive => true,
                StateMode::Full { retain } => n.saturating_add(retain) > head.header.number,
            };
            if !retained {
                parent = Some(block);
                continue;
            }
            // Straight from disk: a cached node must not hide one missing from the store.
            nodes += StateDb::at_root(
                block.header.state_root,
                Arc::new(DiskNodes(self.kv.clone())),
            )
            .verify_skipping(&mut verified)
            .map_err(|e| StorageError::Corrupt {
                what: format!("state of block {n}"),
                detail: e.to_string(),
            })?;
            parent = Some(block);
        }
        Ok((head.header.number + 1, nodes))
    }
}
