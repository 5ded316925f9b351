//! The composition root: builds the node's supervision tree from configuration and starts it.
//!
//! ```text
//! node (one_for_one, budget 0: a failing subtree stops the node cleanly)
//! ├── storage     (rest_for_one)  snapshot, chain
//! ├── execution   (one_for_one)   txpool, executor
//! ├── network     (one_for_one)   overlay (its links are actors under it), redir  [overlay.enabled]
//! ├── consensus   (rest_for_one)  producer (the dev chain's single proposer; CBFT replaces it)
//! └── api         (one_for_one)   rpc, admin
//! ```
//!
//! The role (`node.role`) trims it: a bootstrap node runs only `network` and `api` (admin); a light
//! node runs `light` (the light client with its own JSON-RPC) and `api` (admin); validators and
//! bootstrap nodes leave `rpc` out unless `http.enabled` opens it.
//!
//! The live tree, generated from the registry rather than drawn, is what `platon admin actors` prints;
//! a test checks it against this picture.

pub mod load;
pub mod localnet;
pub mod staking_cli;
pub mod vc_cli;

use platon_actors::admin::AdminService;
use platon_actors::cbft::service::CbftService;
use platon_actors::chain::ChainService;
use platon_actors::executor::ExecutorService;
use platon_actors::overlay::core::Params;
use platon_actors::overlay::service::{FloodHandler, OverlayService, OverlaySettings};
use platon_actors::producer::ProducerService;
use platon_actors::redir::service::RedirService;
use platon_actors::redir::walk::TreeParams;
use platon_actors::rpc::RpcService;
use platon_actors::snapshot::SnapshotService;
use platon_actors::txpool::TxPoolService;
use platon_actors::{names, NodeContext};
use platon_config::{DbBackend, NodeConfig, StateModeConfig};
use platon_crypto::bls::{BlsPublicKey, BlsSecretKey};
use platon_crypto::node_key::NodeKey;
use platon_messages::reload::{FloodTopic, NodeId};
use platon_storage::chain::{GenesisSpec, StateMode};
use platon_storage::{ChainStore, KeyValueStore, ParityStore, RocksStore};
use platon_supervision::{
    start_tree, Budget, CallError, ChildSpec, Registry, Restart, Strategy, SupervisorSpec,
    TreeHandle,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Errors that stop the node from starting.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] platon_config::ConfigError),
    /// Storage problem.
    #[error(transparent)]
    Storage(#[from] platon_storage::StorageError),
    /// The data directory could not be prepared.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A subsystem failed to start.
    #[error("a subsystem failed to start: {0}")]
    Start(String),
}

/// A running node.
pub struct RunningNode {
    /// The supervision tree.
    pub tree: TreeHandle,
    /// Shared context (registry, store, config, dev keys).
    pub ctx: NodeContext,
    /// The data directory in use.
    pub datadir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl RunningNode {
    /// Stops every actor (children before parents) and releases the data directory.
    pub async fn shutdown(self) {
        // Neighbors drop a node that says Leave at once, instead of timing it out.
        let overlay = platon_actors::handles::OverlayHandle::of_node(self.ctx.registry.clone());
        if overlay.leave().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.tree.shutdown(Duration::from_secs(10)).await;
        let RunningNode { ctx, _tmp, .. } = self;
        drop(ctx);
        // A temporary data directory goes now. A storage thread that is still closing may write a
        // file while it is being removed; then the removal is retried briefly.
        if let Some(tmp) = _tmp {
            let path = tmp.path().to_path_buf();
            if tmp.close().is_err() {
                for _ in 0..40 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
                        break;
                    }
                }
            }
        }
    }
}

/// Data directory layout: `chaindata/` (RocksDB or ParityDB: blocks, receipts, state trie, txpool journal,
/// snapshotdb base) and `snapshot/` (the snapshotdb WAL).
pub fn chaindata_dir(datadir: &Path) -> PathBuf {
    datadir.join("chaindata")
}

/// Opens the chain in `datadir` for tools (db check) without starting actors.
/// The state mode is `state.mode` when set, else what the directory records, else the role's
/// default ([`NodeConfig::default_state_mode`]).
pub fn open_store(config: &NodeConfig, datadir: &Path) -> Result<ChainStore, NodeError> {
    let to_mode = |m: StateModeConfig| match m {
        StateModeConfig::Archive => StateMode::Archive,
        StateModeConfig::Full => StateMode::Full {
            retain: config.state.retain,
        },
    };
    let fallback = to_mode(config.default_state_mode());
    match config.state.mode {
        Some(m) => open_store_with(config, datadir, Some(to_mode(m)), fallback),
        None => open_store_with(config, datadir, None, fallback),
    }
}

/// Opens the chain for tools (`db check`, `db stats`) with the backend and state mode the data
/// directory records, whatever the configuration says. Without a configuration, with the genesis
/// and chain id it records too; with one, the directory's genesis must be the configuration's.
pub fn open_store_for_tools(
    config: Option<&NodeConfig>,
    datadir: &Path,
) -> Result<ChainStore, NodeError> {
    let mut c = config.cloned().unwrap_or_default();
    if let Some(db) = recorded_backend(datadir) {
        c.db = db;
    }
    match config {
        Some(_) => open_store_with(&c, datadir, None, StateMode::Archive),
        None => {
            check_backend(&c, datadir)?;
            Ok(ChainStore::open_existing(open_kv(c.db, datadir)?)?)
        }
    }
}

/// The data directory's key-value store on `db`.
fn open_kv(db: DbBackend, datadir: &Path) -> Result<Arc<dyn KeyValueStore>, NodeError> {
    Ok(match db {
        DbBackend::Rocksdb => Arc::new(RocksStore::open(&chaindata_dir(datadir))?),
        DbBackend::Paritydb => Arc::new(ParityStore::open(&chaindata_dir(datadir))?),
    })
}

fn open_store_with(
    config: &NodeConfig,
    datadir: &Path,
    mode: Option<StateMode>,
    fallback: StateMode,
) -> Result<ChainStore, NodeError> {
    std::fs::create_dir_all(datadir).map_err(|e| NodeError::DataDir {
        path: datadir.into(),
        message: e.to_string(),
    })?;
    check_backend(config, datadir)?;
    let kv = open_kv(config.db, datadir)?;
    let genesis = genesis_spec(config)?;
    let mode = match mode {
        Some(m) => m,
        None => StateMode::recorded(kv.as_ref())?.unwrap_or(fallback),
    };
    Ok(ChainStore::open_with_mode(kv, &genesis, mode)?)
}

/// The genesis the configuration makes: `chain.alloc` (or the dev accounts), the staking
/// contract's candidates and the reward pool.
fn genesis_spec(config: &NodeConfig) -> Result<GenesisSpec, NodeError> {
    let mut alloc = config.genesis_alloc()?;
    let (staked, storage, snapshot) = genesis_staking(config)?;
    if !staked.is_zero() {
        alloc.push((platon_vm::system::STAKING, staked));
    }
    if config.ppos.reward_pool_lat > 0 {
        alloc.push((
            platon_vm::system::REWARD_POOL,
            platon_vm::ppos::election::lat(config.ppos.reward_pool_lat),
        ));
    }
    Ok(GenesisSpec {
        chain_id: config.chain.chain_id,
        alloc,
        gas_limit: config.chain.gas_limit,
        base_fee: config.chain.initial_base_fee,
        timestamp: config.chain.genesis_timestamp,
        extra_data: Default::default(),
        storage,
        snapshot,
    })
}

/// One genesis storage entry: contract, slot, value.
pub type GenesisSlot = (
    alloy_primitives::Address,
    alloy_primitives::B256,
    alloy_primitives::U256,
);

/// snapshotdb's genesis data: (key, value) pairs written into its base.
pub type GenesisSnapshot = Vec<(Vec<u8>, Vec<u8>)>;

/// The staking contract's genesis state from `ppos.genesis_candidates`: the total staked (the
/// contract's balance), its storage (the running hash of the genesis records) and the records,
/// which live in snapshotdb. The first round's validators are the candidates whose
/// BLS key is in `cbft.validators`, in that order.
pub fn genesis_staking(
    config: &NodeConfig,
) -> Result<(alloy_primitives::U256, Vec<GenesisSlot>, GenesisSnapshot), NodeError> {
    use alloy_primitives::U256;
    use platon_vm::ppos::staking::{Candidate, Ledger, Status};
    let cands = &config.ppos.genesis_candidates;
    if cands.is_empty() {
        return Ok((U256::ZERO, Vec::new(), Vec::new()));
    }
    let bad = |e: String| NodeError::Config(platon_config::ConfigError::Invalid(e));
    let fixed = |what: &str, h: &str, n: usize| -> Result<Vec<u8>, NodeError> {
        let b = hex::decode(h.trim_start_matches("0x"))
            .map_err(|e| bad(format!("ppos.genesis_candidates: {what}: {e}")))?;
        if b.len() != n {
            return Err(bad(format!("ppos.genesis_candidates: {what} is {n} bytes")));
        }
        Ok(b)
    };
    let mut list = Vec::new();
    let mut total = U256::ZERO;
    for c in cands {
        let id = u128::from_be_bytes(
            fixed("node_id", &c.node_id, 16)?
                .try_into()
                .map_err(|_| bad("node_id".into()))?,
        );
        let stake = platon_vm::ppos::election::lat(c.stake_lat);
        total = total.saturating_add(stake);
        list.push(Candidate {
            node_id: id,
            staking_address: c.staking_address,
            benefit_address: c.benefit_address,
            bls_key: fixed("bls_key", &c.bls_key, 48)?
                .try_into()
                .map_err(|_| bad("bls_key".into()))?,
            vrf_key: fixed("vrf_key", &c.vrf_key, 32)?
                .try_into()
                .map_err(|_| bad("vrf_key".into()))?,
            reward_per: c.reward_per.min(10_000),
            name: c.name.clone(),
            stake,
            stake_pending: U256::ZERO,
            delegated: U256::ZERO,
            delegated_pending: U256::ZERO,
            staking_block: 0,
            staking_seq: 0,
            status: Status::Active,
        });
    }
    let validators: Vec<u128> = validator_keys(config)?
        .iter()
        .filter_map(|pk| list.iter().find(|c| c.bls_key == pk.to_bytes()))
        .map(|c| c.node_id)
        .collect();
    let mut state = platon_storage::StateDb::at_root(
        platon_messages::block::EMPTY_ROOT,
        Arc::new(platon_storage::trie::NoNodes),
    )
    .with_snapshot(Arc::new(platon_storage::snapshotdb::view::EmptySnapshot));
    Ledger {
        state: &mut state,
        contract: platon_vm::system::STAKING,
    }
    .genesis(&list, &validators, config.ppos.max_verifiers)
    .map_err(|e| bad(format!("ppos.genesis_candidates: {e}")))?;
    let writes = platon_vm::ppos::staking::seal_snapshot(&mut state)
        .map_err(|e| bad(format!("ppos.genesis_candidates: {e}")))?;
    let snapshot = writes
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    Ok((total, state.dirty_storage(), snapshot))
}

/// The PPoS calendar and economics from `[ppos]` (None without rounds: `cbft.validators`
/// validate for good).
pub fn schedule(config: &NodeConfig) -> Option<platon_vm::system::Schedule> {
    let p = &config.ppos;
    if p.round_blocks == 0 {
        return None;
    }
    Some(platon_vm::system::Schedule {
        round_blocks: p.round_blocks,
        epoch_rounds: p.epoch_rounds,
        seats: if p.seats == 0 {
            config.cbft.validators.len()
        } else {
            p.seats
        },
        max_verifiers: p.max_verifiers,
        block_reward: platon_vm::ppos::election::lat(p.block_reward_lat),
        staking_reward: platon_vm::ppos::election::lat(p.staking_reward_lat),
        idle_penalty: platon_vm::ppos::election::lat(p.idle_penalty_lat),
        election_distance: p.election_distance,
    })
}

/// Name of the file that records which key-value backend a data directory was created with.
pub const BACKEND_FILE: &str = "DB_BACKEND";

/// The backend a data directory records, if it records one it knows.
pub fn recorded_backend(datadir: &Path) -> Option<DbBackend> {
    match std::fs::read_to_string(datadir.join(BACKEND_FILE))
        .ok()?
        .trim()
    {
        "rocksdb" => Some(DbBackend::Rocksdb),
        "paritydb" => Some(DbBackend::Paritydb),
        _ => None,
    }
}

/// Refuses a data directory created with another backend (opening it with the wrong engine would look
/// like corruption); records the backend in a new one.
fn check_backend(config: &NodeConfig, datadir: &Path) -> Result<(), NodeError> {
    let file = datadir.join(BACKEND_FILE);
    let want = config.db.name();
    let err = |message: String| NodeError::DataDir {
        path: datadir.into(),
        message,
    };
    match std::fs::read_to_string(&file) {
        Ok(have) if have.trim() == want => Ok(()),
        Ok(have) => Err(err(format!(
            "it was created with the {} backend, but this node is configured for {want}: run with --db {} \
             (or use another --datadir)",
            have.trim(),
            have.trim()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if chaindata_dir(datadir).exists() {
                // Made before the backend was recorded: only RocksDB existed then.
                if want != "rocksdb" {
                    return Err(err(format!("it holds a RocksDB chain (no {BACKEND_FILE} record): run with --db rocksdb")));
                }
            }
            platon_storage::durable::write_file(&file, format!("{want}\n").as_bytes(), None).map_err(|e| err(format!("cannot record the backend in {}: {e}", file.display())))
        }
        Err(e) => Err(err(format!("cannot read {}: {e}", file.display()))),
    }
}

/// Loads the overlay key from `file`, or makes one there (readable by the owner only).
pub fn load_or_create_node_key(file: &Path) -> Result<NodeKey, NodeError> {
    let err = |message: String| NodeError::DataDir {
        path: file.into(),
        message,
    };
    match std::fs::read(file) {
        Ok(bytes) => NodeKey::from_pkcs8(&bytes).map_err(|e| err(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = NodeKey::generate().map_err(|e| err(e.to_string()))?;
            // Durable before it is used: the Node-ID must survive a crash.
            write_secret(file, key.pkcs8()).map_err(err)?;
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// The overlay key file of a node: `overlay.key_file`, or `<datadir>/overlay/node.key`.
pub fn node_key_file(config: &NodeConfig, datadir: &Path) -> PathBuf {
    config
        .overlay
        .key_file
        .clone()
        .unwrap_or_else(|| datadir.join("overlay").join("node.key"))
}

/// The overlay's 32-bit id: the first four bytes of SHA-256 of its name.
pub fn overlay_id(name: &str) -> u32 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(name.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

fn network_group(ctx: &NodeContext, key: Arc<NodeKey>, cap: u64) -> Vec<ChildSpec> {
    let o = &ctx.config.overlay;
    for b in o.bootstrap.iter().filter(|b| b.id.is_none()) {
        tracing::warn!(
            addr = %b.addr,
            "overlay.bootstrap entry without a Node-ID: whichever node answers there is trusted; \
             write it as \"<node-id>@{}\" (platon admin nodeInfo shows the id)",
            b.addr
        );
    }
    let settings = OverlaySettings {
        params: Params {
            overlay: overlay_id(&o.name),
            k: o.k,
            alpha: o.alpha,
            replicas: o.replicas,
            request_timeout: o.request_timeout_ms,
            refresh_interval: o.refresh_secs.saturating_mul(1000),
            republish_interval: o.republish_secs.saturating_mul(1000),
            flood_fanout: o.flood_fanout,
            ..Params::default()
        },
        listen: o.listen,
        advertise: None,
        bootstrap: o
            .bootstrap
            .iter()
            .map(|b| (b.id.map(NodeId), b.addr))
            .collect(),
        max_links: o.max_links,
        max_frame_bytes: o.max_frame_bytes,
        max_messages_per_sec: o.max_messages_per_sec,
        write_timeout_ms: o.write_timeout_ms,
        link_queue: o.link_queue,
        peers_file: Some(ctx.datadir.join("overlay").join("peers")),
        privacy: {
            // validate(), which start() runs first, refuses an entry that does not parse.
            let (allow, hidden) = o.peer_ids().unwrap_or_default();
            platon_actors::overlay::core::Privacy {
                allow: (!allow.is_empty()).then(|| allow.into_iter().map(NodeId).collect()),
                hidden: hidden.into_iter().map(NodeId).collect(),
            }
        },
    };
    // Transactions flooded by other nodes go to our pool (which does not flood them again: the
    // overlay forwards the flood itself).
    let registry = ctx.registry.clone();
    let rules = ctx.store.tx_rules();
    let senders = ctx.senders.clone();
    let on_flood: FloodHandler = Arc::new(move |topic, payload| {
        if topic == FloodTopic::Vote {
            // Consensus messages go to the cbft actor (malformed ones are dropped here).
            if let Some(m) = platon_actors::cbft::service::unwrap(&payload) {
                // A full mailbox is counted and logged by the registry; a restarting actor
                // misses the message and catches up by sync; a node without consensus (an
                // observer) has nobody to give it to.
                match platon_actors::handles::CbftHandle(registry.clone()).deliver(m) {
                    Ok(()) | Err(CallError::Unknown(_)) => {}
                    Err(e) => tracing::debug!(%e, "cbft: a consensus message was not delivered"),
                }
            }
            return;
        }
        if topic == FloodTopic::Transactions {
            // A batch: decoded (signatures recovered) off the overlay's thread, then admitted in
            // order (a sender's nonces follow each other).
            let Ok(items) = platon_actors::txpool::tx_flood_items(&payload) else {
                tracing::debug!("overlay: a flooded transaction batch does not decode; dropped");
                return;
            };
            let pool = platon_actors::handles::TxPoolHandle(registry.clone());
            let (rules, senders) = (rules, senders.clone());
            tokio::spawn(async move {
                let txs = tokio::task::spawn_blocking(move || {
                    items
                        .iter()
                        .filter_map(|raw| {
                            platon_messages::SignedTransaction::decode_with(raw, &rules, |h| {
                                senders.get(h)
                            })
                            .ok()
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                // All at once, so that they share the pool's journal fsync; each submission is
                // queued at the pool when first polled, in order.
                let results =
                    futures::future::join_all(txs.into_iter().map(|tx| pool.submit(tx))).await;
                for r in results {
                    if let Ok(Err(e)) = r {
                        tracing::debug!(error = %e, "flooded transaction refused by the pool");
                    }
                }
            });
            return;
        }
        if topic != FloodTopic::Transaction {
            return;
        }
        // A transaction this node already admitted (it came by another path) is not recovered
        // again.
        let known = |h: &alloy_primitives::B256| senders.get(h);
        let Ok(tx) = platon_messages::SignedTransaction::decode_with(&payload, &rules, known)
        else {
            tracing::debug!("overlay: flooded transaction does not decode; dropped");
            return;
        };
        let pool = platon_actors::handles::TxPoolHandle(registry.clone());
        tokio::spawn(async move {
            if let Ok(Err(e)) = pool.submit(tx).await {
                tracing::debug!(error = %e, "flooded transaction refused by the pool");
            }
        });
    });
    let node_id = NodeId::from_bytes(key.node_id());
    let r = &ctx.config.redir;
    vec![
        ChildSpec::worker(
            names::OVERLAY,
            Restart::Permanent,
            cap.max(4096),
            // A bootstrap node relays floods without taking them in.
            OverlayService::new(settings, key, ctx.config.has_chain().then_some(on_flood)),
        ),
        ChildSpec::worker(
            names::REDIR,
            Restart::Permanent,
            cap,
            RedirService {
                tree: TreeParams {
                    branching: r.branching,
                    start_level: r.start_level,
                    lifetime: r.lifetime_secs,
                },
                // A bootstrap node provides no service: it only stores others' registrations.
                services: if ctx.config.has_chain() {
                    r.services.clone()
                } else {
                    Vec::new()
                },
                node_id,
                overlay: names::OVERLAY.into(),
            },
        ),
    ]
}

/// The bytes of a hex secret file; when it does not exist and `generate` is given, fresh bytes
/// from it, written there first (durable before use).
pub(crate) fn load_or_create_hex_secret(
    file: &Path,
    generate: Option<&dyn Fn() -> Result<Vec<u8>, String>>,
) -> Result<Vec<u8>, NodeError> {
    let err = |message: String| NodeError::DataDir {
        path: file.to_path_buf(),
        message,
    };
    match (std::fs::read_to_string(file), generate) {
        (Ok(text), _) => hex::decode(text.trim().trim_start_matches("0x"))
            .map_err(|e| err(format!("not hex: {e}"))),
        (Err(e), Some(generate)) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = generate().map_err(err)?;
            write_secret(file, hex::encode(&bytes).as_bytes()).map_err(err)?;
            Ok(bytes)
        }
        (Err(e), _) => Err(err(e.to_string())),
    }
}

/// The validator's BLS key from `cbft.key_file` (hex), or `<datadir>/consensus/bls.key`, made there
/// at first start (a node whose key is not among `cbft.validators` follows as an observer).
pub fn load_or_create_bls_key(
    config: &NodeConfig,
    datadir: &Path,
) -> Result<BlsSecretKey, NodeError> {
    let file = config
        .cbft
        .key_file
        .clone()
        .unwrap_or_else(|| datadir.join("consensus").join("bls.key"));
    let generate = || {
        BlsSecretKey::random()
            .map(|k| k.to_bytes().to_vec())
            .map_err(|e| e.to_string())
    };
    let bytes = load_or_create_hex_secret(&file, Some(&generate))?;
    BlsSecretKey::from_bytes(&bytes).map_err(|e| NodeError::DataDir {
        path: file,
        message: e.to_string(),
    })
}

/// The validator's VRF key from `cbft.vrf_key_file` (a 32-byte seed in hex), or
/// `<datadir>/consensus/vrf.key`, made there at first start.
pub fn load_or_create_vrf_key(
    config: &NodeConfig,
    datadir: &Path,
) -> Result<platon_crypto::vrf::VrfSecretKey, NodeError> {
    let file = config
        .cbft
        .vrf_key_file
        .clone()
        .unwrap_or_else(|| datadir.join("consensus").join("vrf.key"));
    let generate = || {
        platon_crypto::vrf::random_seed()
            .map(|s| s.to_vec())
            .map_err(|e| e.to_string())
    };
    let bytes = load_or_create_hex_secret(&file, Some(&generate))?;
    let err = |message: String| NodeError::DataDir {
        path: file.clone(),
        message,
    };
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| err("a VRF seed is 32 bytes".into()))?;
    platon_crypto::vrf::VrfSecretKey::from_seed(&seed).map_err(|e| err(e.to_string()))
}

/// Writes a secret file readable by the owner only, fsynced, atomically.
pub fn write_secret(file: &Path, bytes: &[u8]) -> Result<(), String> {
    platon_storage::durable::write_file(file, bytes, Some(0o600)).map_err(|e| e.to_string())
}

/// The validators' BLS public keys from `cbft.validators`.
pub fn validator_keys(config: &NodeConfig) -> Result<Vec<BlsPublicKey>, NodeError> {
    parse_hex_keys("cbft.validators", &config.cbft.validators, |b| {
        BlsPublicKey::from_bytes(b).map_err(|e| e.to_string())
    })
}

/// Parses a configured list of hex public keys; `what` names the setting in the error.
fn parse_hex_keys<T>(
    what: &str,
    list: &[String],
    parse: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<Vec<T>, NodeError> {
    list.iter()
        .map(|v| {
            hex::decode(v.trim_start_matches("0x"))
                .map_err(|e| e.to_string())
                .and_then(|b| parse(&b))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NodeError::Config(platon_config::ConfigError::Invalid(format!("{what}: {e}"))))
}

/// The cbft service of a node configured for consensus.
pub fn cbft_service(ctx: &NodeContext) -> Result<CbftService, NodeError> {
    let validators = ctx.system.validators.to_vec();
    let key = load_or_create_bls_key(&ctx.config, &ctx.datadir)?;
    let reporter = match &ctx.config.cbft.report_key_file {
        None => None,
        Some(file) => Some(
            platon_crypto::SecretKey::from_bytes(&load_or_create_hex_secret(file, None)?).map_err(
                |e| NodeError::DataDir {
                    path: file.clone(),
                    message: format!("not a secp256k1 secret key: {e}"),
                },
            )?,
        ),
    };
    let vrf_keys = parse_hex_keys("cbft.vrf_keys", &ctx.config.cbft.vrf_keys, |b| {
        platon_crypto::vrf::VrfPublicKey::from_bytes(b).map_err(|e| e.to_string())
    })?;
    let vrf = if vrf_keys.is_empty() && ctx.system.schedule.is_none() {
        None
    } else {
        Some(load_or_create_vrf_key(&ctx.config, &ctx.datadir)?)
    };
    Ok(CbftService {
        node: ctx.clone(),
        key: Some(key),
        validators,
        reporter,
        vrf,
        vrf_keys,
    })
}

/// The computing group: the accelerator, then (on a computing node) the `vc_pool` that uses it;
/// rest_for_one restarts the pool after the accelerator.
fn computing_group(ctx: &NodeContext, cap: u64) -> Vec<ChildSpec> {
    let mut children = vec![ChildSpec::worker(
        names::ACCELERATOR,
        Restart::Permanent,
        cap,
        platon_actors::accelerator::AcceleratorService {
            backend: ctx.config.vc.backend,
            counters: ctx.accelerator.clone(),
        },
    )];
    if ctx.config.vc.enabled {
        children.push(ChildSpec::worker(
            names::VC_POOL,
            Restart::Permanent,
            cap,
            platon_actors::vc_pool::VcPoolService { node: ctx.clone() },
        ));
    }
    children
}

/// The node's supervision tree (`key`: the overlay identity, when the node is in an overlay;
/// `cbft`: the consensus service, when the node runs CBFT).
pub fn tree_spec(
    ctx: &NodeContext,
    key: Option<Arc<NodeKey>>,
    cbft: Option<CbftService>,
) -> SupervisorSpec {
    let sup = &ctx.config.supervision;
    let budget = Budget::new(sup.max_restarts, Duration::from_secs(sup.window_secs));
    let cap = sup.mailbox_capacity;
    let group = |name: &str, strategy, children| SupervisorSpec {
        name: name.into(),
        strategy,
        budget,
        children,
    };
    let mut api = Vec::new();
    if ctx.config.rpc_enabled() {
        api.push(ChildSpec::worker(
            names::RPC,
            Restart::Permanent,
            cap,
            RpcService { node: ctx.clone() },
        ));
    }
    if ctx.config.admin_enabled() {
        api.push(ChildSpec::worker(
            names::ADMIN,
            Restart::Permanent,
            cap,
            AdminService { node: ctx.clone() },
        ));
    }
    let mut spec = SupervisorSpec {
        name: "node".into(),
        strategy: Strategy::OneForOne,
        budget: Budget::new(0, Duration::from_secs(1)),
        children: vec![
            ChildSpec::supervisor(
                group(
                    "storage",
                    Strategy::RestForOne,
                    vec![
                        ChildSpec::worker(
                            names::SNAPSHOT,
                            Restart::Permanent,
                            cap,
                            SnapshotService { node: ctx.clone() },
                        ),
                        ChildSpec::worker(
                            names::CHAIN,
                            Restart::Permanent,
                            cap,
                            ChainService { node: ctx.clone() },
                        ),
                    ],
                ),
                Restart::Permanent,
            ),
            ChildSpec::supervisor(
                group(
                    "execution",
                    Strategy::OneForOne,
                    vec![
                        ChildSpec::worker(
                            names::TXPOOL,
                            Restart::Permanent,
                            cap,
                            TxPoolService { node: ctx.clone() },
                        ),
                        ChildSpec::worker(
                            names::EXECUTOR,
                            Restart::Permanent,
                            cap,
                            ExecutorService { node: ctx.clone() },
                        ),
                    ],
                ),
                Restart::Permanent,
            ),
            ChildSpec::supervisor(
                group("computing", Strategy::RestForOne, computing_group(ctx, cap)),
                Restart::Permanent,
            ),
        ],
    };
    if !ctx.config.has_chain() {
        // A bootstrap node: the overlay and the admin listener, nothing that keeps a chain.
        spec.children.clear();
    }
    if ctx.config.node.role == platon_config::NodeRole::Light {
        // Headers and proofs from full nodes; its own JSON-RPC methods instead of the gateway's.
        spec.children = vec![ChildSpec::supervisor(
            group(
                "light",
                Strategy::OneForOne,
                vec![ChildSpec::worker(
                    names::LIGHT,
                    Restart::Permanent,
                    cap,
                    platon_actors::light::LightService { node: ctx.clone() },
                )],
            ),
            Restart::Permanent,
        )];
        api.retain(|c| c.name != names::RPC);
    }
    if let Some(key) = key {
        spec.children.push(ChildSpec::supervisor(
            group("network", Strategy::OneForOne, network_group(ctx, key, cap)),
            Restart::Permanent,
        ));
    }
    if let Some(service) = cbft {
        spec.children.push(ChildSpec::supervisor(
            group(
                "consensus",
                Strategy::RestForOne,
                // The elector first: rest_for_one restarts consensus after it.
                vec![
                    ChildSpec::worker(
                        names::PPOS,
                        Restart::Permanent,
                        cap,
                        platon_actors::ppos::PposService { node: ctx.clone() },
                    ),
                    ChildSpec::worker(names::CBFT, Restart::Permanent, cap.max(16_384), service),
                ],
            ),
            Restart::Permanent,
        ));
    } else if ctx.config.producer.enabled && ctx.config.has_chain() {
        spec.children.push(ChildSpec::supervisor(
            group(
                "consensus",
                Strategy::RestForOne,
                vec![ChildSpec::worker(
                    names::PRODUCER,
                    Restart::Permanent,
                    cap,
                    ProducerService { node: ctx.clone() },
                )],
            ),
            Restart::Permanent,
        ));
    }
    if !api.is_empty() {
        spec.children.push(ChildSpec::supervisor(
            group("api", Strategy::OneForOne, api),
            Restart::Permanent,
        ));
    }
    spec
}

/// Starts a node from `config`.
pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    config.validate()?;
    let (datadir, tmp) = match &config.datadir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("platon-dev-")
                .tempdir()
                .map_err(|e| NodeError::DataDir {
                    path: std::env::temp_dir(),
                    message: e.to_string(),
                })?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let store = if config.has_chain() {
        open_store(&config, &datadir)?
    } else {
        // A bootstrap or light node keeps no chain: the configured genesis in memory, for its hash
        // (a light node checks the headers it is sent against it).
        ChainStore::open_with_mode(
            Arc::new(platon_storage::MemoryStore::new()),
            &genesis_spec(&config)?,
            StateMode::Archive,
        )?
    };
    let registry = Registry::new(
        config.admin.faults,
        Duration::from_millis(config.supervision.call_timeout_ms),
    );
    let dev_keys = Arc::new(config.dev_keys()?);
    let system = platon_vm::SystemContext {
        validators: Arc::new(validator_keys(&config)?),
        epoch: 1,
        staking: platon_vm::ppos::staking::StakingParams {
            min_stake: platon_vm::ppos::election::lat(config.ppos.min_stake_lat),
            min_delegation: platon_vm::ppos::election::lat(config.ppos.min_delegation_lat),
        },
        schedule: schedule(&config),
    };
    let ctx = NodeContext {
        registry: registry.clone(),
        store,
        config: Arc::new(config),
        dev_keys,
        datadir: datadir.clone(),
        system,
        metrics: Arc::new(platon_actors::metrics::NodeMetrics::new(registry.clone())),
        bad_blocks: Default::default(),
        pending_txs: tokio::sync::broadcast::channel(platon_actors::PENDING_TXS_CAPACITY).0,
        senders: Arc::new(platon_messages::SenderCache::new(
            platon_actors::SENDER_CACHE_CAPACITY,
        )),
        accelerator: Arc::default(),
        sync: Arc::default(),
    };
    let key = if ctx.config.overlay.enabled {
        Some(Arc::new(load_or_create_node_key(&node_key_file(
            &ctx.config,
            &datadir,
        ))?))
    } else {
        None
    };
    let cbft = if ctx.config.cbft.enabled {
        Some(cbft_service(&ctx)?)
    } else {
        None
    };
    let tree = start_tree(tree_spec(&ctx, key, cbft), registry)
        .await
        .map_err(NodeError::Start)?;
    Ok(RunningNode {
        tree,
        ctx,
        datadir,
        _tmp: tmp,
    })
}
