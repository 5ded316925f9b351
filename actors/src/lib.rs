//! The subsystem actors of the node and the typed handles other code uses to reach them.
//!
//! Each module holds one subsystem: a pure core where there is protocol logic (the txpool's [`txpool::Pool`]),
//! and a [`platon_supervision::Service`] that turns messages into calls on it. The dev pipeline is:
//!
//! ```text
//! rpc gateway ──Submit──▶ txpool ──TxsAvailable──▶ producer ──Execute──▶ executor
//!                                                      │
//!                                                      └──Commit──▶ chain ──NewHead──▶ rpc (newHeads)
//! ```
//!
//! Reads (blocks, receipts, balances) go straight to the shared [`platon_storage::ChainStore`], which is
//! safe for concurrent readers; only the `chain` actor writes blocks and state, and only the `txpool`
//! writes its journal.

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it): the time the
/// consensus and overlay cores are driven by.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs storage or CPU work that borrows an actor's state (a WAL append and its fsync, the pool's
/// journal) without holding up the runtime: on the multi-threaded runtime the worker hands its
/// other tasks to another thread while `f` runs (`block_in_place`). Work on owned data uses
/// `spawn_blocking` instead. On a current-thread runtime (some tests) `f` runs inline.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

pub mod accelerator;
pub mod admin;
pub mod cbft;
pub mod chain;
pub mod console;
pub mod executor;
pub mod handles;
pub mod light;
pub mod metrics;
pub mod overlay;
pub mod ppos;
pub mod producer;
pub mod redir;
pub mod rpc;
pub mod snapshot;
pub mod sync;
pub mod txpool;
pub mod vc_pool;

use platon_config::NodeConfig;
use platon_crypto::SecretKey;
use platon_storage::ChainStore;
use platon_supervision::Registry;
use std::sync::Arc;

/// Actor names, as the registry, the admin API and the logs show them.
pub mod names {
    /// The txpool.
    pub const TXPOOL: &str = "txpool";
    /// The dev chain's block producer.
    pub const PRODUCER: &str = "producer";
    /// The block executor.
    pub const EXECUTOR: &str = "executor";
    /// The chain store writer.
    pub const CHAIN: &str = "chain";
    /// The JSON-RPC gateway.
    pub const RPC: &str = "rpc";
    /// The admin console listener.
    pub const ADMIN: &str = "admin";
    /// The snapshotdb writer.
    pub const SNAPSHOT: &str = "snapshot";
    /// The RELOAD overlay peer.
    pub const OVERLAY: &str = "overlay";
    /// ReDiR service discovery.
    pub const REDIR: &str = "redir";
    /// The CBFT view actor.
    pub const CBFT: &str = "cbft";
    /// The PPoS elector.
    pub const PPOS: &str = "ppos";
    /// The heavy-kernel accelerator (Groth16 proving, MSM, FFT, batch signature checks).
    pub const ACCELERATOR: &str = "accelerator";
    /// The verifiable-computation task pool of a computing node.
    pub const VC_POOL: &str = "vc_pool";
    /// The light client (headers and proofs from full nodes).
    pub const LIGHT: &str = "light";
}

/// What every actor of one node shares: the registry, the store, the configuration and dev keys.
#[derive(Clone, Debug)]
pub struct NodeContext {
    /// The actor registry.
    pub registry: Arc<Registry>,
    /// The chain store (read by all, written by `chain` and the txpool journal).
    pub store: ChainStore,
    /// The configuration.
    pub config: Arc<NodeConfig>,
    /// Keys of the funded dev accounts (empty outside --dev).
    pub dev_keys: Arc<Vec<SecretKey>>,
    /// The data directory.
    pub datadir: std::path::PathBuf,
    /// What the system contracts know of the chain (the validators' BLS keys).
    pub system: platon_vm::SystemContext,
    /// The Prometheus metrics the admin listener serves on `/metrics`.
    pub metrics: Arc<metrics::NodeMetrics>,
    /// The last blocks that failed validation here (`debug_getBadBlocks`).
    pub bad_blocks: Arc<BadBlocks>,
    /// Hashes of transactions as the pool admits them (pending-transaction filters and
    /// subscriptions); bounded, a reader that falls [`PENDING_TXS_CAPACITY`] behind skips.
    pub pending_txs: tokio::sync::broadcast::Sender<alloy_primitives::B256>,
    /// Senders the pool recovered, by transaction hash: block validation reads them instead of
    /// recovering each signature again ([`SENDER_CACHE_CAPACITY`] at least).
    pub senders: Arc<platon_messages::SenderCache>,
    /// The accelerator's job counters (`/metrics`, `platon_accelerator`).
    pub accelerator: Arc<accelerator::Counters>,
    /// Whether the node is catching up with the network (`eth_syncing`), kept by `cbft`.
    pub sync: Arc<sync::SyncStatus>,
}

/// How many recovered senders [`NodeContext::senders`] keeps at least (twice as many at most:
/// about 6 MiB), more than a full pool holds.
pub const SENDER_CACHE_CAPACITY: usize = 65_536;

/// Capacity of [`NodeContext::pending_txs`].
pub const PENDING_TXS_CAPACITY: usize = 4_096;

/// How many bad blocks are kept (geth keeps 10).
pub const BAD_BLOCKS_KEPT: usize = 10;

/// The most recent proposed blocks that did not validate, newest last, at most
/// [`BAD_BLOCKS_KEPT`] of them.
#[derive(Debug, Default)]
pub struct BadBlocks(parking_lot::Mutex<std::collections::VecDeque<platon_messages::Block>>);

impl BadBlocks {
    /// Records a block that failed validation (once per hash), dropping the oldest beyond the bound.
    pub fn record(&self, block: platon_messages::Block) {
        let mut q = self.0.lock();
        let hash = block.hash();
        if q.iter().any(|b| b.hash() == hash) {
            return;
        }
        if q.len() >= BAD_BLOCKS_KEPT {
            q.pop_front();
        }
        q.push_back(block);
    }

    /// The kept blocks, oldest first.
    pub fn list(&self) -> Vec<platon_messages::Block> {
        self.0.lock().iter().cloned().collect()
    }
}

impl NodeContext {
    /// The genesis block's height and hash (where a fresh snapshotdb starts).
    pub fn genesis_ref(
        &self,
    ) -> Result<platon_messages::snapshot::BlockRef, platon_supervision::BoxError> {
        let genesis = self
            .store
            .block_by_number(0)?
            .ok_or("the chain store has no genesis block")?;
        Ok(platon_messages::snapshot::BlockRef {
            number: 0,
            hash: genesis.hash(),
        })
    }

    /// Signs a call from `key`'s account (its next nonce, counting what the pool holds; priority
    /// fee `tip`, fee cap twice the next base fee plus the tip) and submits it to the pool, which
    /// floods it: what the node's own accounts send (double-sign reports, VC results). Returns the
    /// transaction's hash once the pool holds it durably.
    pub async fn submit_call(
        &self,
        key: &SecretKey,
        to: alloy_primitives::Address,
        input: Vec<u8>,
        gas: u64,
        tip: u64,
    ) -> Result<alloy_primitives::B256, String> {
        let head = self.store.head_header().map_err(|e| e.to_string())?;
        let me = key.address();
        let pool = handles::TxPoolHandle(self.registry.clone());
        let nonce = match pool.next_nonce(me).await.map_err(|e| e.to_string())? {
            Some(n) => n,
            None => {
                self.store
                    .state_of(&head)
                    .account(&me)
                    .map_err(|e| e.to_string())?
                    .nonce
            }
        };
        let cap = platon_vm::next_base_fee(&head)
            .saturating_mul(2)
            .saturating_add(tip);
        let tx = platon_messages::TxBody::DynamicFee {
            chain_id: self.config.chain.chain_id,
            nonce,
            max_priority_fee_per_gas: alloy_primitives::U256::from(tip),
            max_fee_per_gas: alloy_primitives::U256::from(cap),
            gas_limit: gas,
            to: platon_messages::TxKind::Call(to),
            value: alloy_primitives::U256::ZERO,
            input: alloy_primitives::Bytes::from(input),
            access_list: vec![],
        }
        .sign(key);
        pool.submit_and_flood(tx)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Executes a block on `state` with the configured runtime and records its time. Blocking
    /// (CPU and trie reads): callers run it on a blocking thread.
    pub fn execute_block(
        &self,
        state: platon_storage::StateDb,
        parent: &platon_messages::Header,
        env: &platon_messages::actors::BlockEnv,
        txs: Vec<platon_messages::SignedTransaction>,
        extra: alloy_primitives::Bytes,
    ) -> Result<platon_messages::ExecutedBlock, platon_vm::ExecError> {
        let started = std::time::Instant::now();
        let res =
            platon_vm::execute_block(&self.runtime(), &self.store, state, parent, env, txs, extra);
        self.metrics.block_executed(started);
        res
    }

    /// The contract runtime the configuration selects (`evm.engine`), behind the system
    /// contracts.
    pub fn runtime(&self) -> platon_vm::SystemRuntime {
        let wasm = match self.config.evm.wasm_engine {
            platon_config::WasmEngine::Wasm3 => platon_vm::wasm::WasmEngine::Wasm3,
            platon_config::WasmEngine::Wasmi => platon_vm::wasm::WasmEngine::Wasmi,
        };
        let engine: &'static dyn platon_vm::Runtime = match self.config.evm.engine {
            // WASM contracts' debug prints are shown on dev chains only.
            platon_config::EvmEngine::Revm => {
                platon_vm::RevmWith::get(wasm, self.config.dev.enabled)
            }
            platon_config::EvmEngine::Evm => &platon_vm::RustEvm,
        };
        platon_vm::SystemRuntime::new(engine, self.system.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, B256, U256};
    use platon_messages::{Block, Header};

    fn block(n: u64) -> Block {
        Block {
            header: Header {
                parent_hash: B256::ZERO,
                ommers_hash: B256::ZERO,
                beneficiary: Default::default(),
                state_root: B256::ZERO,
                transactions_root: B256::ZERO,
                receipts_root: B256::ZERO,
                logs_bloom: Default::default(),
                difficulty: U256::ZERO,
                number: n,
                gas_limit: 1,
                gas_used: 0,
                timestamp: n,
                extra_data: Bytes::new(),
                mix_hash: B256::ZERO,
                nonce: [0; 8],
                base_fee_per_gas: 0,
            },
            transactions: vec![],
        }
    }

    #[test]
    fn bad_blocks_are_bounded_and_kept_once() {
        let bad = BadBlocks::default();
        for n in 0..25 {
            bad.record(block(n));
            bad.record(block(n));
        }
        let kept: Vec<u64> = bad.list().iter().map(|b| b.header.number).collect();
        assert_eq!(
            kept,
            (15..25).collect::<Vec<_>>(),
            "the newest {BAD_BLOCKS_KEPT}, once each"
        );
    }
}
