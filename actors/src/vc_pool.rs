//! The `vc_pool` actor: a computing node's queue of verifiable-computation tasks. It reads every
//! VC contract's `VcCompute`, `VcResult` and `VcReclaimed` events from executed blocks, keeps the
//! open tasks in a node-private snapshotdb (a block's tasks are recognized while it is not yet
//! final and committed, or dropped with its fork, exactly as the staking data is), proves each open
//! task of a committed block through the `accelerator`, and submits `set_result` as a signed
//! transaction from the node's VC account. The first valid result wins on chain; a task someone
//! else answered leaves the queue when their `VcResult` commits.
//!
//! Durability: the queue is the snapshotdb's WAL under `<datadir>/vc_pool` (compacted into the
//! node's database under the `v` prefix), fsynced once per batch of committed blocks before the
//! work they open starts. A restarted `vc_pool` replays it, catches up with the chain from its last
//! committed block, and proves every task still open: proofs in flight when it stopped are made
//! again. Pending blocks' tasks need no fsync of their own: after a crash consensus executes those
//! blocks again.
//!
//! Bounds: at most `vc.max_tasks` open tasks (a `VcCompute` beyond that is not taken, counted in
//! `dropped`); one proof at a time; the last [`RECENT`] finished tasks are kept for `platon_vcTasks`.

use crate::accelerator::ProveJob;
use crate::handles::AcceleratorHandle;
use crate::rpc::json::hex0x;
use crate::NodeContext;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use platon_crypto::vc::{self, Model, ProvingKey254};
use platon_crypto::SecretKey;
use platon_messages::snapshot::{At, BlockRef};
use platon_messages::{Log, Receipt, TxKind};
use platon_storage::kv::PrefixedStore;
use platon_storage::snapshotdb::{SnapshotDb, Writes};
use platon_supervision::{BoxError, Ctx, Service};
use platon_vm::Runtime as _;
use ractor::RpcReplyPort;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Folder of the task queue's WAL under the data directory.
pub const VC_POOL_DIR: &str = "vc_pool";
/// Finished tasks kept for listing.
pub const RECENT: usize = 256;
/// Committed blocks read per catch-up step (the actor answers other messages between steps).
pub const CATCH_UP_STEP: u64 = 256;
/// Committed blocks kept above the compacted base.
const KEEP_COMMITTED: usize = 16;
/// Contracts whose model is remembered.
const CONTRACTS_CACHED: usize = 64;
/// How a task skipped for want of its proving key is marked (it is tried again at each commit).
const NO_KEY: &str = "no proving key";
/// Key prefix of a task in the queue: `t` ‖ contract (20) ‖ task id (32).
const TASK_PREFIX: &[u8] = b"t";

/// The event signatures a VC contract emits.
pub const COMPUTE_EVENT: &str = "VcCompute(bytes32,address,uint256)";
/// `set_result` accepted a result.
pub const RESULT_EVENT: &str = "VcResult(bytes32,address)";
/// The requester took an unanswered fee back.
pub const RECLAIMED_EVENT: &str = "VcReclaimed(bytes32)";

fn topics() -> &'static [B256; 3] {
    static T: OnceLock<[B256; 3]> = OnceLock::new();
    T.get_or_init(|| {
        [
            keccak256(COMPUTE_EVENT),
            keccak256(RESULT_EVENT),
            keccak256(RECLAIMED_EVENT),
        ]
    })
}

/// Whether `log` is one of the VC events (the cheap filter applied before anything is kept).
pub fn is_vc_log(log: &Log) -> bool {
    log.topics.first().is_some_and(|t| topics().contains(t))
}

/// An open task, as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTask {
    /// The VC contract.
    pub contract: Address,
    /// The task id.
    pub id: B256,
    /// Who asked (and may reclaim).
    pub requester: Address,
    /// The escrowed fee (wei).
    pub fee: U256,
    /// The block after which the requester may reclaim.
    pub due: u64,
    /// The block whose `compute` opened it.
    pub block: u64,
    /// The task's input.
    pub input: Vec<u8>,
}

impl OpenTask {
    /// A task known only by its contract and id (one that left the queue; listed as finished).
    fn bare(contract: Address, id: B256) -> OpenTask {
        OpenTask {
            contract,
            id,
            requester: Address::ZERO,
            fee: U256::ZERO,
            due: 0,
            block: 0,
            input: Vec::new(),
        }
    }

    /// The queue key.
    pub fn key(&self) -> Vec<u8> {
        task_key(&self.contract, &self.id)
    }

    /// contract (20) ‖ id (32) ‖ requester (20) ‖ fee (32) ‖ due (8) ‖ block (8) ‖ input.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(120 + self.input.len());
        b.extend_from_slice(self.contract.as_slice());
        b.extend_from_slice(self.id.as_slice());
        b.extend_from_slice(self.requester.as_slice());
        b.extend_from_slice(&self.fee.to_be_bytes::<32>());
        b.extend_from_slice(&self.due.to_be_bytes());
        b.extend_from_slice(&self.block.to_be_bytes());
        b.extend_from_slice(&self.input);
        b
    }

    /// The inverse of [`OpenTask::encode`]; None for bytes too short.
    pub fn decode(b: &[u8]) -> Option<OpenTask> {
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        Some(OpenTask {
            contract: Address::from_slice(b.get(0..20)?),
            id: B256::from_slice(b.get(20..52)?),
            requester: Address::from_slice(b.get(52..72)?),
            fee: U256::from_be_slice(b.get(72..104)?),
            due: u64_at(104)?,
            block: u64_at(112)?,
            input: b.get(120..)?.to_vec(),
        })
    }
}

/// The queue key of a task.
pub fn task_key(contract: &Address, id: &B256) -> Vec<u8> {
    let mut k = Vec::with_capacity(53);
    k.extend_from_slice(TASK_PREFIX);
    k.extend_from_slice(contract.as_slice());
    k.extend_from_slice(id.as_slice());
    k
}

/// What a block says about VC tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VcEvent {
    /// `compute` opened a task.
    Opened(OpenTask),
    /// `set_result` accepted `solver`'s result.
    Answered {
        /// The contract.
        contract: Address,
        /// The task.
        id: B256,
        /// Who answered.
        solver: Address,
        /// The result.
        result: Vec<u8>,
    },
    /// The requester reclaimed the fee.
    Reclaimed {
        /// The contract.
        contract: Address,
        /// The task.
        id: B256,
    },
}

impl VcEvent {
    fn key(&self) -> Vec<u8> {
        match self {
            VcEvent::Opened(t) => t.key(),
            VcEvent::Answered { contract, id, .. } | VcEvent::Reclaimed { contract, id } => {
                task_key(contract, id)
            }
        }
    }
}

fn word_address(w: &B256) -> Address {
    Address::from_slice(&w[12..])
}

/// The VC events of block `number`'s logs, in order; a log that claims a VC topic but is malformed
/// (any contract may emit any topic) is skipped.
pub fn block_events<'a>(number: u64, logs: impl IntoIterator<Item = &'a Log>) -> Vec<VcEvent> {
    let [compute, result, reclaimed] = topics();
    let mut out = Vec::new();
    for log in logs {
        let t = &log.topics;
        match t.first() {
            Some(s) if s == compute && t.len() == 3 && log.data.len() >= 64 => {
                let due = U256::from_be_slice(&log.data[32..64]);
                let Ok(due) = u64::try_from(due) else {
                    continue;
                };
                out.push(VcEvent::Opened(OpenTask {
                    contract: log.address,
                    id: t[1],
                    requester: word_address(&t[2]),
                    fee: U256::from_be_slice(&log.data[..32]),
                    due,
                    block: number,
                    input: log.data[64..].to_vec(),
                }));
            }
            Some(s) if s == result && t.len() == 3 => out.push(VcEvent::Answered {
                contract: log.address,
                id: t[1],
                solver: word_address(&t[2]),
                result: log.data.to_vec(),
            }),
            Some(s) if s == reclaimed && t.len() == 2 => out.push(VcEvent::Reclaimed {
                contract: log.address,
                id: t[1],
            }),
            _ => {}
        }
    }
    out
}

/// A block's VC events from its receipts.
pub fn receipt_events(number: u64, receipts: &[Receipt]) -> Vec<VcEvent> {
    block_events(
        number,
        receipts
            .iter()
            .filter(|r| r.success)
            .flat_map(|r| r.logs.iter()),
    )
}

/// The queue writes of a block whose parent's queue holds `open` (the keys of its open tasks):
/// opened tasks are added while fewer than `max` are open, answered and reclaimed ones removed.
/// Returns the writes, the events taken (in order) and how many tasks were refused for the bound.
/// A pure function of the parent's queue and the block, so recognizing a block and committing it
/// give the same writes.
pub fn queue_writes(
    open: &std::collections::BTreeSet<Vec<u8>>,
    events: Vec<VcEvent>,
    max: usize,
) -> (Writes, Vec<VcEvent>, u64) {
    let mut writes = Writes::new();
    let mut live = open.len();
    let mut taken = Vec::new();
    let mut dropped = 0u64;
    for e in events {
        let key = e.key();
        let present = match writes.get(&key) {
            Some(v) => v.is_some(),
            None => open.contains(&key),
        };
        match &e {
            VcEvent::Opened(t) => {
                if present {
                    continue;
                }
                if live >= max {
                    dropped = dropped.saturating_add(1);
                    continue;
                }
                writes.insert(key, Some(t.encode()));
                live = live.saturating_add(1);
            }
            VcEvent::Answered { .. } | VcEvent::Reclaimed { .. } => {
                if present {
                    writes.insert(key, None);
                    live = live.saturating_sub(1);
                }
            }
        }
        taken.push(e);
    }
    (writes, taken, dropped)
}

/// Where a task stands on this node.
#[derive(Debug, Clone)]
enum Stage {
    /// Waiting for the prover.
    Queued,
    /// The accelerator is proving it.
    Proving,
    /// Our `set_result` is in the pool.
    Submitted {
        tx: B256,
        result: Vec<u8>,
        proof: Vec<u8>,
    },
    /// This node cannot answer it (no proving key, an input the model refuses, ...); it stays
    /// open for other computing nodes and is tried again after a restart (for want of a key: also
    /// once a key is added to `vc.keys_dir`).
    Skipped(String),
}

impl Stage {
    fn name(&self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Proving => "proving",
            Stage::Submitted { .. } => "submitted",
            Stage::Skipped(_) => "skipped",
        }
    }
}

/// A task that left the queue.
#[derive(Debug, Clone)]
struct Finished {
    task: OpenTask,
    state: &'static str,
    solver: Option<Address>,
    result: Vec<u8>,
    proof: Vec<u8>,
    tx: Option<B256>,
    at_block: u64,
}

/// What a contract's getters say.
struct ContractModel {
    model: Arc<dyn Model>,
    pk_hash: [u8; 32],
}

/// Messages of the `vc_pool` actor.
pub enum VcPoolMsg {
    /// An executed block that is not yet final: its VC logs (from consensus).
    Recognized {
        /// Height.
        number: u64,
        /// Parent hash.
        parent: B256,
        /// Hash.
        hash: B256,
        /// The block's VC logs, in order.
        logs: Vec<Log>,
    },
    /// The chain committed up to this height: read the blocks from the store.
    Committed(u64),
    /// A proof came back from the accelerator (task key, result bytes, proof or why not).
    Proved(Vec<u8>, Vec<u8>, Box<Result<[u8; vc::PROOF_BYTES], String>>),
    /// `platon_vcTasks`: every task this node knows, pending, open and recently finished.
    Tasks(RpcReplyPort<Value>),
}

/// The `vc_pool` actor.
#[derive(Debug)]
pub struct VcPoolService {
    /// Shared node context.
    pub node: NodeContext,
}

/// The actor's state: the queue and this node's progress on it.
pub struct VcPoolState {
    db: SnapshotDb,
    key: SecretKey,
    me: Address,
    keys_dir: PathBuf,
    /// When `keys_dir` last changed, as last seen.
    keys_mtime: Option<std::time::SystemTime>,
    work: BTreeMap<Vec<u8>, Stage>,
    contracts: HashMap<Address, Result<Arc<ContractModel>, String>>,
    pk: Option<(B256, Arc<ProvingKey254>)>,
    proving: bool,
    recent: VecDeque<Finished>,
    dropped: u64,
}

fn read_secret(path: &std::path::Path) -> Result<SecretKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("vc.key_file {}: {e}", path.display()))?;
    let text = text.trim();
    let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(text))
        .map_err(|e| format!("vc.key_file {}: not hex: {e}", path.display()))?;
    SecretKey::from_bytes(&bytes).map_err(|e| {
        format!(
            "vc.key_file {}: not a secp256k1 secret key: {e}",
            path.display()
        )
    })
}

impl VcPoolService {
    fn head_ref(&self) -> Result<BlockRef, BoxError> {
        let h = self.node.store.head_header()?;
        Ok(BlockRef {
            number: h.number,
            hash: h.hash(),
        })
    }

    /// The open task keys of the queue at `at`.
    fn open_at(
        st: &VcPoolState,
        at: At,
        max: usize,
    ) -> Result<std::collections::BTreeSet<Vec<u8>>, BoxError> {
        Ok(st
            .db
            .iter_prefix(at, TASK_PREFIX, max.saturating_add(1))?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    fn at_of(st: &VcPoolState, parent: B256) -> At {
        if parent == st.db.current().highest.hash {
            At::Head
        } else {
            At::Block(parent)
        }
    }

    /// Records a not-yet-final block's tasks (not fsynced: see the module doc).
    fn recognize(
        &self,
        st: &mut VcPoolState,
        number: u64,
        parent: B256,
        hash: B256,
        logs: Vec<Log>,
    ) -> Result<(), BoxError> {
        if st.db.knows(&hash) || !st.db.knows(&parent) {
            return Ok(()); // known, or off the blocks this queue follows: the commit reads it
        }
        let max = self.node.config.vc.max_tasks;
        let open = Self::open_at(st, Self::at_of(st, parent), max)?;
        let (writes, _, _) = queue_writes(&open, block_events(number, &logs), max);
        crate::blocking(|| st.db.insert_block(number, parent, hash, &writes))?;
        Ok(())
    }

    /// Commits the chain's blocks above the queue's head, up to `to` (at most [`CATCH_UP_STEP`]
    /// of them), durably; then updates the work. Returns whether blocks remain.
    fn advance(&self, st: &mut VcPoolState, to: u64) -> Result<bool, BoxError> {
        let max = self.node.config.vc.max_tasks;
        let start = st.db.current().highest.number.saturating_add(1);
        let end = to.min(start.saturating_add(CATCH_UP_STEP - 1));
        let mut changes = Vec::new();
        let mut dropped = 0u64;
        // The queue at the head, carried from block to block.
        let mut open = Self::open_at(st, At::Head, max)?;
        for n in start..=end {
            let store = &self.node.store;
            let Some(hash) = store.hash_by_number(n)? else {
                break;
            };
            let header = store
                .header_by_hash(&hash)?
                .ok_or_else(|| format!("vc_pool: block {n} has no header"))?;
            let receipts = store.receipts(&hash)?.unwrap_or_default();
            let (writes, taken, d) = queue_writes(&open, receipt_events(n, &receipts), max);
            dropped = dropped.saturating_add(d);
            crate::blocking(|| st.db.commit_block(n, header.parent_hash, hash, &writes))?;
            for (k, v) in writes {
                match v {
                    Some(_) => open.insert(k),
                    None => open.remove(&k),
                };
            }
            changes.push((n, taken));
        }
        if changes.is_empty() {
            return Ok(false);
        }
        // Durable before any work it opens starts. Blocks without VC events need no fsync of their
        // own: after a crash the queue reads them from the chain again. Compaction once twice
        // [`KEEP_COMMITTED`] blocks piled up (it is a checkpoint: fsynced, the WAL rewritten).
        let events = changes.iter().any(|(_, e)| !e.is_empty());
        crate::blocking(|| -> Result<(), BoxError> {
            if events {
                st.db.sync()?;
            }
            if st.db.core().committed().len() >= 2 * KEEP_COMMITTED {
                st.db.compact(KEEP_COMMITTED)?;
            }
            Ok(())
        })?;
        if dropped > 0 {
            st.dropped = st.dropped.saturating_add(dropped);
            tracing::warn!(
                dropped,
                max_tasks = max,
                "vc_pool: tasks beyond vc.max_tasks not taken"
            );
        }
        for (n, events) in changes {
            for e in events {
                self.apply(st, n, e);
            }
        }
        self.check_submitted(st)?;
        Ok(st.db.current().highest.number < to)
    }

    /// A submitted `set_result` that made it into a block but failed (another answer came first in
    /// the same block, or the state changed since the simulation) leaves the task skipped, with
    /// the reason, instead of waiting for an event that will not come.
    fn check_submitted(&self, st: &mut VcPoolState) -> Result<(), BoxError> {
        let store = &self.node.store;
        for stage in st.work.values_mut() {
            let Stage::Submitted { tx, .. } = stage else {
                continue;
            };
            let Some(at) = store.tx_location(tx)? else {
                continue;
            };
            let receipt = store
                .receipts(&at.block_hash)?
                .and_then(|r| r.into_iter().nth(at.index as usize));
            if receipt.is_some_and(|r| !r.success) {
                *stage = Stage::Skipped(format!("our set_result {tx} failed on chain"));
            }
        }
        Ok(())
    }

    fn apply(&self, st: &mut VcPoolState, number: u64, e: VcEvent) {
        let key = e.key();
        match e {
            VcEvent::Opened(t) => {
                tracing::info!(contract = %t.contract, task = %t.id, fee = %t.fee, block = number, "vc_pool: task opened");
                st.work.insert(key, Stage::Queued);
            }
            VcEvent::Answered {
                contract,
                id,
                solver,
                result,
            } => {
                let stage = st.work.remove(&key);
                let (proof, tx) = match stage {
                    Some(Stage::Submitted { tx, proof, .. }) if solver == st.me => {
                        (proof, Some(tx))
                    }
                    _ => (Vec::new(), None),
                };
                let state = if solver == st.me {
                    "answered"
                } else {
                    "answered by another node"
                };
                tracing::info!(%contract, task = %id, %solver, block = number, "vc_pool: task {state}");
                let task = OpenTask::bare(contract, id);
                Self::finish(
                    st,
                    Finished {
                        task,
                        state,
                        solver: Some(solver),
                        result,
                        proof,
                        tx,
                        at_block: number,
                    },
                );
            }
            VcEvent::Reclaimed { contract, id } => {
                st.work.remove(&key);
                Self::finish(
                    st,
                    Finished {
                        task: OpenTask::bare(contract, id),
                        state: "reclaimed",
                        solver: None,
                        result: Vec::new(),
                        proof: Vec::new(),
                        tx: None,
                        at_block: number,
                    },
                );
            }
        }
    }

    /// Keeps a finished task for listing (the last [`RECENT`]).
    fn finish(st: &mut VcPoolState, f: Finished) {
        if st.recent.len() >= RECENT {
            st.recent.pop_front();
        }
        st.recent.push_back(f);
    }

    /// A contract's model and proving-key hash, from its getters at the head.
    fn contract_model(
        &self,
        st: &mut VcPoolState,
        contract: Address,
    ) -> Result<Arc<ContractModel>, String> {
        if let Some(c) = st.contracts.get(&contract) {
            return c.clone();
        }
        let me = st.me;
        let res = (|| -> Result<Arc<ContractModel>, String> {
            let get = |m: &str| self.static_call(me, contract, encode_call(m, &[]));
            let name: Bytes = decode(&get("model")?, "model")?;
            let name =
                String::from_utf8(name.to_vec()).map_err(|_| "the model name is not UTF-8")?;
            let pk_hash: Bytes = decode(&get("pk_hash")?, "pk_hash")?;
            let pk_hash: [u8; 32] = pk_hash
                .as_ref()
                .try_into()
                .map_err(|_| "pk_hash is not 32 bytes")?;
            let words: u32 = decode(&get("input_words")?, "input_words")?;
            let model: Arc<dyn Model> =
                Arc::from(vc::models::by_name(&name).map_err(|e| e.to_string())?);
            if usize::try_from(words).ok() != Some(model.input_words()) {
                return Err(format!(
                    "the contract takes {words} public input words, model {name} {}",
                    model.input_words()
                ));
            }
            Ok(Arc::new(ContractModel { model, pk_hash }))
        })();
        if st.contracts.len() >= CONTRACTS_CACHED {
            st.contracts.clear();
        }
        st.contracts.insert(contract, res.clone());
        res
    }

    /// The proving key with hash `hash`, from `keys_dir` (one cached).
    fn proving_key(st: &mut VcPoolState, hash: &[u8; 32]) -> Result<Arc<ProvingKey254>, String> {
        let h = B256::from(*hash);
        if let Some((k, pk)) = &st.pk {
            if *k == h {
                return Ok(pk.clone());
            }
        }
        let path = st.keys_dir.join(format!("{}.pk", hex::encode(hash)));
        let bytes =
            std::fs::read(&path).map_err(|e| format!("{NO_KEY} {} ({e})", path.display()))?;
        let pk = Arc::new(vc::pk_from_bytes(&bytes, hash).map_err(|e| e.to_string())?);
        st.pk = Some((h, pk.clone()));
        Ok(pk)
    }

    /// A read-only call at the head, as `eth_call` makes it.
    fn static_call(&self, from: Address, to: Address, data: Vec<u8>) -> Result<Bytes, String> {
        let out = self.simulate(from, to, data, 30_000_000)?;
        if out.success() {
            Ok(out.output)
        } else {
            Err(format!(
                "{to} refused the call: {}",
                String::from_utf8_lossy(&out.output)
            ))
        }
    }

    fn simulate(
        &self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        gas: u64,
    ) -> Result<platon_vm::Outcome, String> {
        let store = &self.node.store;
        let head = store.head_header().map_err(|e| e.to_string())?;
        let mut state = store.state_of(&head);
        let env = platon_messages::actors::BlockEnv {
            number: head.number,
            timestamp: head.timestamp,
            beneficiary: head.beneficiary,
            gas_limit: head.gas_limit.max(gas),
            base_fee: head.base_fee_per_gas,
            prev_randao: head.mix_hash,
            chain_id: store.chain_id(),
        };
        let msg = platon_vm::Message {
            tx_type: 2,
            caller: from,
            kind: TxKind::Call(to),
            value: U256::ZERO,
            data: Bytes::from(data),
            gas_limit: gas,
            gas_price: 0,
            priority_fee: None,
            nonce: None,
            chain_id: Some(store.chain_id()),
            access_list: Vec::new(),
        };
        let opts = platon_vm::ExecOptions {
            check_nonce: false,
            check_base_fee: false,
            check_balance: false,
            deadline: None,
        };
        self.node
            .runtime()
            .transact(&mut state, store, &env, &msg, opts)
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Starts the proof of the queued task that pays most (the oldest first among equal fees).
    fn work(&self, ctx: &Ctx<VcPoolMsg>, st: &mut VcPoolState) -> Result<(), BoxError> {
        while !st.proving {
            let queued: Vec<Vec<u8>> = st
                .work
                .iter()
                .filter(|(_, s)| matches!(s, Stage::Queued))
                .map(|(k, _)| k.clone())
                .collect();
            let mut best: Option<(Vec<u8>, OpenTask)> = None;
            for key in queued {
                match st
                    .db
                    .get(At::Head, &key)?
                    .and_then(|b| OpenTask::decode(&b))
                {
                    None => {
                        st.work.remove(&key);
                    }
                    Some(t) => {
                        let better = best.as_ref().is_none_or(|(_, b)| {
                            (t.fee, std::cmp::Reverse(t.block))
                                > (b.fee, std::cmp::Reverse(b.block))
                        });
                        if better {
                            best = Some((key, t));
                        }
                    }
                }
            }
            let Some((key, task)) = best else {
                return Ok(());
            };
            match crate::blocking(|| self.prepare(st, &task)) {
                Ok(job) => {
                    let result = job.assignment.result_bytes(job.model.as_ref());
                    st.work.insert(key.clone(), Stage::Proving);
                    st.proving = true;
                    tracing::info!(contract = %task.contract, task = %task.id, "vc_pool: proving");
                    let accel = AcceleratorHandle(self.node.registry.clone());
                    let me = ctx.myself();
                    tokio::spawn(async move {
                        let proof = match accel.prove(job).await {
                            Ok(r) => r,
                            Err(e) => Err(format!("the accelerator is unavailable: {e}")),
                        };
                        if let Ok(me) = me {
                            let _ = me.send(VcPoolMsg::Proved(key, result, Box::new(proof)));
                        }
                    });
                }
                Err(why) => {
                    tracing::warn!(contract = %task.contract, task = %task.id, %why, "vc_pool: task skipped");
                    st.work.insert(key, Stage::Skipped(why));
                }
            }
        }
        Ok(())
    }

    fn prepare(&self, st: &mut VcPoolState, task: &OpenTask) -> Result<ProveJob, String> {
        let c = self.contract_model(st, task.contract)?;
        let pk = Self::proving_key(st, &c.pk_hash)?;
        let assignment = c.model.compute(&task.input).map_err(|e| e.to_string())?;
        let id = vc::scalar_from_be(&task.id.0).ok_or("the task id is not a BN254 scalar")?;
        Ok(ProveJob {
            pk,
            model: c.model.clone(),
            task: id,
            assignment,
            rng_seed: rand::random(),
        })
    }

    /// Signs and submits `set_result` for a proved task, unless it would fail now.
    async fn submit(
        &self,
        st: &mut VcPoolState,
        key: Vec<u8>,
        result: Vec<u8>,
        proof: [u8; vc::PROOF_BYTES],
    ) -> Result<Stage, String> {
        let task = st
            .db
            .get(At::Head, &key)
            .map_err(|e| e.to_string())?
            .and_then(|b| OpenTask::decode(&b))
            .ok_or("the task left the queue")?;
        let data = encode_call(
            "set_result",
            &[
                rlp_bytes(task.id.as_slice()),
                rlp_bytes(&result),
                rlp_bytes(&proof),
            ],
        );
        let me = st.me;
        let out = crate::blocking(|| self.simulate(me, task.contract, data.clone(), 10_000_000))?;
        if !out.success() {
            return Err(format!(
                "set_result would fail: {}",
                String::from_utf8_lossy(&out.output)
            ));
        }
        let gas = out
            .gas_used
            .saturating_add(out.gas_used / 4)
            .saturating_add(20_000);
        let hash = self
            .node
            .submit_call(
                &st.key,
                task.contract,
                data,
                gas,
                self.node.config.vc.tip_wei,
            )
            .await?;
        tracing::info!(contract = %task.contract, task = %task.id, tx = %hash, "vc_pool: set_result submitted");
        Ok(Stage::Submitted {
            tx: hash,
            result,
            proof: proof.to_vec(),
        })
    }

    fn list(&self, st: &VcPoolState) -> Result<Value, BoxError> {
        let mut tasks = Vec::new();
        let max = self.node.config.vc.max_tasks;
        let mut open = std::collections::BTreeSet::new();
        for (k, v) in st
            .db
            .iter_prefix(At::Head, TASK_PREFIX, max.saturating_add(1))?
        {
            open.insert(k.clone());
            let Some(t) = OpenTask::decode(&v) else {
                continue;
            };
            let stage = st.work.get(&k).cloned().unwrap_or(Stage::Queued);
            let mut j = task_json(&t, stage.name());
            match stage {
                Stage::Submitted { tx, result, proof } => {
                    j["tx"] = json!(tx);
                    j["result"] = hex0x(&result);
                    j["proof"] = hex0x(&proof);
                }
                Stage::Skipped(why) => j["reason"] = json!(why),
                _ => {}
            }
            tasks.push(j);
        }
        let mut pending = std::collections::BTreeSet::new();
        for b in st.db.core().recognized() {
            for (k, v) in
                st.db
                    .iter_prefix(At::Block(b.hash), TASK_PREFIX, max.saturating_add(1))?
            {
                if !open.contains(&k) && pending.insert(k) {
                    if let Some(t) = OpenTask::decode(&v) {
                        tasks.push(task_json(&t, "pending"));
                    }
                }
            }
        }
        for f in st.recent.iter().rev() {
            let mut j = task_json(&f.task, f.state);
            j["finishedAt"] = json!(f.at_block);
            if let Some(s) = f.solver {
                j["solver"] = json!(s);
            }
            if !f.result.is_empty() {
                j["result"] = hex0x(&f.result);
            }
            if !f.proof.is_empty() {
                j["proof"] = hex0x(&f.proof);
            }
            if let Some(tx) = f.tx {
                j["tx"] = json!(tx);
            }
            tasks.push(j);
        }
        Ok(json!({
            "account": st.me,
            "committed": st.db.current().highest.number,
            "dropped": st.dropped,
            "tasks": tasks,
        }))
    }
}

fn task_json(t: &OpenTask, state: &str) -> Value {
    let mut j = json!({
        "contract": t.contract,
        "task": t.id,
        "state": state,
    });
    if t.block > 0 {
        j["requester"] = json!(t.requester);
        j["fee"] = json!(t.fee);
        j["due"] = json!(t.due);
        j["block"] = json!(t.block);
        j["input"] = hex0x(&t.input);
    }
    j
}

fn encode_call(method: &str, args: &[Vec<u8>]) -> Vec<u8> {
    platon_vm::wasm::abi::encode_call(method, args)
}

fn rlp_bytes(b: &[u8]) -> Vec<u8> {
    alloy_rlp::encode(b)
}

fn decode<T: alloy_rlp::Decodable>(b: &[u8], what: &str) -> Result<T, String> {
    alloy_rlp::decode_exact(b)
        .map_err(|e| format!("the contract's {what}() answer does not decode: {e}"))
}

impl Service for VcPoolService {
    type Msg = VcPoolMsg;
    type State = VcPoolState;

    async fn init(&self, ctx: &Ctx<VcPoolMsg>) -> Result<VcPoolState, BoxError> {
        let cfg = &self.node.config.vc;
        let key = match &cfg.key_file {
            Some(p) => read_secret(p)?,
            None => self
                .node
                .dev_keys
                .last()
                .cloned()
                .ok_or("vc_pool needs vc.key_file (the account that submits results)")?,
        };
        let me = key.address();
        let keys_dir = cfg
            .keys_dir
            .clone()
            .unwrap_or_else(|| self.node.datadir.join("vc").join("keys"));
        let genesis = self.node.genesis_ref()?;
        let dir = self.node.datadir.join(VC_POOL_DIR);
        let kv = Arc::new(PrefixedStore::new(
            self.node.store.kv().clone(),
            platon_storage::chain::keys::VC_POOL,
        ));
        let (mut db, report) = crate::blocking(|| SnapshotDb::open(&dir, kv, genesis))?;
        let head = self.head_ref()?;
        if db.current().highest.number > head.number {
            // The chain is the record: a queue ahead of it (after a chain rollback) follows it back.
            crate::blocking(|| db.rollback(head))?;
        }
        let mut st = VcPoolState {
            db,
            key,
            me,
            keys_dir,
            keys_mtime: None,
            work: BTreeMap::new(),
            contracts: HashMap::new(),
            pk: None,
            proving: false,
            recent: VecDeque::new(),
            dropped: 0,
        };
        // Every task still open resumes (a proof in flight when the node stopped is made again).
        for (k, _) in st
            .db
            .iter_prefix(At::Head, TASK_PREFIX, cfg.max_tasks.saturating_add(1))?
        {
            st.work.insert(k, Stage::Queued);
        }
        tracing::info!(
            account = %me,
            committed = st.db.current().highest.number,
            open = st.work.len(),
            wal_records = report.replay.records,
            "vc_pool ready"
        );
        // Catch up with the chain first thing (the actor is not registered until init returns).
        ctx.send_after(std::time::Duration::ZERO, VcPoolMsg::Committed(head.number));
        Ok(st)
    }

    async fn handle(
        &self,
        ctx: &Ctx<VcPoolMsg>,
        msg: VcPoolMsg,
        st: &mut VcPoolState,
    ) -> Result<(), BoxError> {
        match msg {
            VcPoolMsg::Recognized {
                number,
                parent,
                hash,
                logs,
            } => self.recognize(st, number, parent, hash, logs)?,
            VcPoolMsg::Committed(to) => {
                // A proving key an operator added since (the folder changed) takes effect without
                // a restart.
                let mtime = std::fs::metadata(&st.keys_dir)
                    .and_then(|m| m.modified())
                    .ok();
                if mtime != st.keys_mtime {
                    st.keys_mtime = mtime;
                    for stage in st.work.values_mut() {
                        if matches!(stage, Stage::Skipped(why) if why.starts_with(NO_KEY)) {
                            *stage = Stage::Queued;
                        }
                    }
                }
                if self.advance(st, to)? {
                    // More to read: in steps, so listing and proofs are answered meanwhile.
                    let _ = ctx.myself()?.send(VcPoolMsg::Committed(to));
                }
                self.work(ctx, st)?;
            }
            VcPoolMsg::Proved(key, result, proof) => {
                st.proving = false;
                if matches!(st.work.get(&key), Some(Stage::Proving)) {
                    let stage = match *proof {
                        Ok(p) => match self.submit(st, key.clone(), result, p).await {
                            Ok(s) => s,
                            Err(why) => Stage::Skipped(why),
                        },
                        Err(why) => Stage::Skipped(format!("proving failed: {why}")),
                    };
                    if let Stage::Skipped(why) = &stage {
                        tracing::warn!(%why, "vc_pool: task not answered");
                    }
                    st.work.insert(key, stage);
                }
                self.work(ctx, st)?;
            }
            VcPoolMsg::Tasks(reply) => {
                let _ = reply.send(self.list(st)?);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn log(address: Address, topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log {
            address,
            topics,
            data: Bytes::from(data),
        }
    }

    fn word(x: u64) -> [u8; 32] {
        U256::from(x).to_be_bytes::<32>()
    }

    fn compute_log(c: Address, id: u8, fee: u64, due: u64, input: &[u8]) -> Log {
        let mut data = word(fee).to_vec();
        data.extend_from_slice(&word(due));
        data.extend_from_slice(input);
        let mut requester = [0u8; 32];
        requester[12..].copy_from_slice(&[7; 20]);
        log(
            c,
            vec![topics()[0], B256::repeat_byte(id), B256::from(requester)],
            data,
        )
    }

    #[test]
    fn events_decode_and_malformed_ones_are_skipped() {
        let c = Address::repeat_byte(1);
        let mut solver = [0u8; 32];
        solver[12..].copy_from_slice(&[9; 20]);
        let logs = vec![
            compute_log(c, 1, 5, 100, b"input"),
            // Claims the topic without the data.
            log(
                c,
                vec![topics()[0], B256::repeat_byte(2), B256::ZERO],
                vec![0; 10],
            ),
            // A deadline that does not fit u64.
            log(
                c,
                vec![topics()[0], B256::repeat_byte(3), B256::ZERO],
                vec![0xff; 64],
            ),
            log(
                c,
                vec![topics()[1], B256::repeat_byte(1), B256::from(solver)],
                b"result".to_vec(),
            ),
            log(c, vec![topics()[2], B256::repeat_byte(4)], vec![]),
            log(c, vec![topics()[2]], vec![]),
            log(c, vec![B256::repeat_byte(5)], vec![]),
        ];
        let ev = block_events(12, &logs);
        assert_eq!(ev.len(), 3, "{ev:?}");
        let VcEvent::Opened(t) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (t.fee, t.due, t.block, t.requester, t.input.as_slice()),
            (
                U256::from(5),
                100,
                12,
                Address::repeat_byte(7),
                &b"input"[..]
            )
        );
        assert_eq!(OpenTask::decode(&t.encode()).as_ref(), Some(t));
        assert_eq!(OpenTask::decode(&t.encode()[..100]), None);
        assert!(
            matches!(&ev[1], VcEvent::Answered { solver, result, .. } if *solver == Address::repeat_byte(9) && result == b"result")
        );
        assert!(matches!(&ev[2], VcEvent::Reclaimed { id, .. } if *id == B256::repeat_byte(4)));
    }

    #[test]
    fn the_queue_is_bounded_and_answers_remove_tasks() {
        let c = Address::repeat_byte(1);
        let ev = block_events(
            3,
            &[
                compute_log(c, 1, 1, 9, b""),
                compute_log(c, 2, 1, 9, b""),
                compute_log(c, 3, 1, 9, b""),
            ],
        );
        let (w, taken, dropped) = queue_writes(&BTreeSet::new(), ev, 2);
        assert_eq!((w.len(), taken.len(), dropped), (2, 2, 1));
        let open: BTreeSet<Vec<u8>> = w.keys().cloned().collect();
        // An answer frees a seat, which a task opened later in the same block takes.
        let mut solver = [0u8; 32];
        solver[12..].copy_from_slice(&[9; 20]);
        let ev = block_events(
            4,
            &[
                compute_log(c, 4, 1, 9, b""),
                log(
                    c,
                    vec![topics()[1], B256::repeat_byte(1), B256::from(solver)],
                    vec![],
                ),
                compute_log(c, 5, 1, 9, b""),
                // An answer to a task the queue never held changes nothing.
                log(
                    c,
                    vec![topics()[1], B256::repeat_byte(8), B256::from(solver)],
                    vec![],
                ),
            ],
        );
        let (w, taken, dropped) = queue_writes(&open, ev, 2);
        assert_eq!(dropped, 1);
        assert_eq!(w.get(&task_key(&c, &B256::repeat_byte(1))), Some(&None));
        assert!(w
            .get(&task_key(&c, &B256::repeat_byte(5)))
            .is_some_and(|v| v.is_some()));
        assert!(!w.contains_key(&task_key(&c, &B256::repeat_byte(4))));
        assert!(!w.contains_key(&task_key(&c, &B256::repeat_byte(8))));
        assert_eq!(taken.len(), 3);
    }

    #[test]
    fn a_forked_blocks_tasks_go_with_it_and_the_queue_reopens_from_its_wal() {
        use platon_storage::kv::{KeyValueStore, MemoryStore};
        let dir = tempfile::tempdir().expect("tmp");
        let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryStore::new());
        let genesis = BlockRef {
            number: 0,
            hash: B256::repeat_byte(0xee),
        };
        let open_db = || {
            let store = Arc::new(PrefixedStore::new(kv.clone(), b'v'));
            SnapshotDb::open(dir.path(), store, genesis)
                .expect("open")
                .0
        };
        let c = Address::repeat_byte(1);
        let keys = |db: &SnapshotDb, at: At| -> Vec<Vec<u8>> {
            db.iter_prefix(at, TASK_PREFIX, 100)
                .expect("iter")
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        let (a, b) = (B256::repeat_byte(0xa1), B256::repeat_byte(0xb1));
        {
            let mut db = open_db();
            // Two competing blocks at height 1, each opening its own task (not final yet).
            for (hash, id) in [(a, 1u8), (b, 2u8)] {
                let (w, _, _) = queue_writes(
                    &BTreeSet::new(),
                    block_events(1, &[compute_log(c, id, 1, 9, b"x")]),
                    8,
                );
                assert!(db.insert_block(1, genesis.hash, hash, &w).expect("insert"));
            }
            assert_eq!(
                keys(&db, At::Block(a)),
                vec![task_key(&c, &B256::repeat_byte(1))]
            );
            assert_eq!(
                keys(&db, At::Block(b)),
                vec![task_key(&c, &B256::repeat_byte(2))]
            );
            assert!(
                keys(&db, At::Head).is_empty(),
                "nothing is open before a block is final"
            );
            // Block a becomes final: its task is open, b's is gone with b.
            db.commit_block(1, genesis.hash, a, &Writes::new())
                .expect("commit");
            db.sync().expect("sync");
            assert_eq!(
                keys(&db, At::Head),
                vec![task_key(&c, &B256::repeat_byte(1))]
            );
            assert!(!db.knows(&b));
        }
        // Reopened from its WAL (a restart), the queue is where it was.
        let db = open_db();
        assert_eq!(db.current().highest.hash, a);
        let t = db
            .get(At::Head, &task_key(&c, &B256::repeat_byte(1)))
            .expect("get")
            .and_then(|v| OpenTask::decode(&v))
            .expect("task");
        assert_eq!((t.block, t.input.as_slice()), (1, &b"x"[..]));
    }
}
