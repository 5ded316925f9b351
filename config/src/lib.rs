//! Node configuration: the TOML file, its defaults, validation, and the chain parameters and genesis
//! derived from it. CLI flags (parsed in the `platon` binary) override file values.
//!
//! Every tunable lives here, never inline in a subsystem. Unknown keys are an error, so a typo in
//! a config file is caught at start rather than silently ignored.

use alloy_primitives::{Address, U256};
use platon_crypto::{derive_dev_keys, SecretKey, DEV_MNEMONIC};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

/// Chain id of `--dev` chains.
pub const DEV_CHAIN_ID: u64 = 1337;
/// Wei per ether / LAT.
pub const WEI_PER_ETHER: u64 = 1_000_000_000_000_000_000;

/// Configuration errors, each naming the key or flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Which key-value backend holds the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DbBackend {
    /// RocksDB (default).
    #[default]
    Rocksdb,
    /// ParityDB.
    Paritydb,
}

impl DbBackend {
    /// The name used in config files, on the command line and in the data directory's `DB_BACKEND`.
    pub fn name(&self) -> &'static str {
        match self {
            DbBackend::Rocksdb => "rocksdb",
            DbBackend::Paritydb => "paritydb",
        }
    }
}

/// Chain parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Base fee of the genesis block (wei).
    pub initial_base_fee: u64,
    /// Genesis timestamp (seconds); 0 means the time of first start.
    pub genesis_timestamp: u64,
    /// Funded genesis accounts.
    pub alloc: Vec<AllocEntry>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            chain_id: DEV_CHAIN_ID,
            gas_limit: 30_000_000,
            initial_base_fee: 1_000_000_000,
            genesis_timestamp: 0,
            alloc: vec![],
        }
    }
}

/// One funded genesis account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocEntry {
    /// 0x address.
    pub address: Address,
    /// Balance in wei, decimal or 0x hex.
    pub balance: U256,
}

/// The JSON-RPC gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Whether the JSON-RPC gateway runs. Default: on for full, archive and light nodes, off on
    /// validators and bootstrap nodes (the seed's deployment: a validator talks only to its own
    /// full nodes, and serves nobody's RPC unless the config opens it here).
    pub enabled: Option<bool>,
    /// Listen address (HTTP and WebSocket on one port).
    pub addr: IpAddr,
    /// Listen port.
    pub port: u16,
    /// Largest request body accepted (bytes).
    pub max_request_bytes: u32,
    /// Largest batch accepted (calls).
    pub max_batch_len: u32,
    /// Most concurrent connections.
    pub max_connections: u32,
    /// Calls a second each connection may make (a token bucket; each call of a batch counts);
    /// beyond it calls are answered -32005 and do not run.
    pub max_requests_per_sec: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: None,
            addr: IpAddr::from([127, 0, 0, 1]),
            port: 6789,
            max_request_bytes: 5 * 1024 * 1024,
            max_batch_len: 100,
            max_connections: 200,
            max_requests_per_sec: 10_000,
        }
    }
}

/// The admin listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Whether the admin listener runs (default: only with --dev).
    pub enabled: Option<bool>,
    /// Listen address.
    pub addr: IpAddr,
    /// Listen port.
    pub port: u16,
    /// Bearer token required on every admin request (required unless the node runs --dev on loopback).
    pub token: Option<String>,
    /// Allow `admin_injectFault`.
    pub faults: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: None,
            addr: IpAddr::from([127, 0, 0, 1]),
            port: 6790,
            token: None,
            faults: false,
        }
    }
}

/// The dev chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevConfig {
    /// Run a one-validator instant chain with funded accounts.
    pub enabled: bool,
    /// Also produce a block every this many seconds (0: only when transactions wait).
    pub period_secs: u64,
    /// Mnemonic of the funded accounts.
    pub mnemonic: String,
    /// How many accounts to fund.
    pub accounts: u32,
    /// Balance of each, in ether.
    pub balance_ether: u64,
    /// Beneficiary of dev blocks (receives the priority fees). Default: the zero address, as anvil,
    /// so a funded account's balance moves only by what it sends and pays.
    pub coinbase: Address,
}

impl Default for DevConfig {
    fn default() -> Self {
        DevConfig {
            enabled: false,
            period_secs: 0,
            mnemonic: DEV_MNEMONIC.to_string(),
            accounts: 10,
            balance_ether: 10_000,
            coinbase: Address::ZERO,
        }
    }
}

/// The txpool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TxPoolConfig {
    /// Most transactions held.
    pub capacity: usize,
    /// How far ahead of the account nonce a transaction may be queued.
    pub max_nonce_gap: u64,
    /// Fee bump (percent) a replacement must pay.
    pub price_bump_percent: u64,
    /// Lowest fee cap accepted (wei).
    pub min_fee_cap: u64,
    /// Most transactions per block.
    pub max_block_txs: usize,
}

impl Default for TxPoolConfig {
    fn default() -> Self {
        TxPoolConfig {
            capacity: 10_000,
            max_nonce_gap: 64,
            price_bump_percent: 10,
            min_fee_cap: 1,
            max_block_txs: 2_000,
        }
    }
}

/// How much state history the node keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StateModeConfig {
    /// Every block's state stays readable (default).
    #[default]
    Archive,
    /// Only the last `state.retain` blocks' states; older trie nodes are pruned as blocks commit.
    Full,
}

/// State history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// archive or full. Default: what the data directory records; for a new one, archive on an
    /// archive node or with --dev, full otherwise.
    pub mode: Option<StateModeConfig>,
    /// In full mode, how many recent block states stay readable.
    pub retain: u64,
    /// Committed blocks snapshotdb (the staking data) keeps above its compacted base: staking reads
    /// at a block (execution on a parent, RPC at a height) reach this far back. It compacts once twice
    /// as many piled up. At least 8.
    pub snapshot_keep: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            mode: None,
            retain: 128,
            snapshot_keep: 256,
        }
    }
}

/// Which EVM engine executes contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EvmEngine {
    /// `revm` (default): the faster engine, with tracing.
    #[default]
    Revm,
    /// `evm` (rust-ethereum): an independent second implementation (tracers still run on revm).
    Evm,
}

/// Which engine executes WASM contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WasmEngine {
    /// `wasm3` (default): the faster interpreter.
    #[default]
    Wasm3,
    /// `wasmi`: the cross-check; the same instrumented code, the same gas.
    Wasmi,
}

/// Contract execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvmConfig {
    /// revm or evm.
    pub engine: EvmEngine,
    /// The engine of WASM contracts: wasm3 or wasmi (`[evm] wasm_engine`, `--wasm.engine`). WASM
    /// contracts run inside revm's call stack, so they need `engine = "revm"`.
    pub wasm_engine: WasmEngine,
    /// Gas cap of `eth_call`, `eth_estimateGas` and `debug_traceCall` (geth's RPCGasCap).
    pub rpc_gas_cap: u64,
    /// Most logs one `eth_getLogs` or `eth_getFilterLogs` answer may hold.
    pub max_logs: usize,
    /// Most blocks one `eth_getLogs` range may span.
    pub max_log_range: u64,
    /// Most installed filters (`eth_newFilter`, `eth_newBlockFilter`); idle ones expire after 5 minutes.
    pub max_filters: usize,
    /// Most struct-log entries one `debug_trace*` request may produce (all of a block's
    /// transactions together); a longer trace is refused with an error naming this bound.
    pub max_trace_steps: usize,
    /// Wall-clock bound of one `eth_call`, `eth_estimateGas`, `eth_createAccessList` or
    /// `eth_simulateV1` request, milliseconds (geth's RPCEVMTimeout, 5 s); enforced on revm.
    pub rpc_timeout_ms: u64,
}

impl Default for EvmConfig {
    fn default() -> Self {
        EvmConfig {
            engine: EvmEngine::Revm,
            wasm_engine: WasmEngine::Wasm3,
            rpc_gas_cap: 50_000_000,
            max_logs: 10_000,
            max_log_range: 10_000,
            max_filters: 1_024,
            max_trace_steps: 1_000_000,
            rpc_timeout_ms: 5_000,
        }
    }
}

/// Supervision limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionConfig {
    /// Restarts allowed per subsystem supervisor within the window.
    pub max_restarts: u32,
    /// The window, seconds.
    pub window_secs: u64,
    /// Mailbox bound of each actor.
    pub mailbox_capacity: u64,
    /// Deadline of every inter-actor call, milliseconds.
    pub call_timeout_ms: u64,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        SupervisionConfig {
            max_restarts: 5,
            window_secs: 10,
            mailbox_capacity: 1_024,
            call_timeout_ms: 10_000,
        }
    }
}

/// The single block producer (the dev chain's proposer until CBFT replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerConfig {
    /// Whether this node produces blocks on its own. Nodes of a `localnet` relay transactions
    /// without producing: consensus among several nodes is CBFT's job.
    pub enabled: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig { enabled: true }
    }
}

/// A node to join the overlay through: its overlay address and, when known, its Node-ID (32 hex
/// digits), written `"<node-id>@<host:port>"` or `"<host:port>"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BootstrapNode {
    /// The Node-ID its certificate must give (None: any).
    pub id: Option<u128>,
    /// Its overlay address.
    pub addr: std::net::SocketAddr,
}

impl TryFrom<String> for BootstrapNode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<BootstrapNode> for String {
    fn from(b: BootstrapNode) -> String {
        b.to_string()
    }
}

impl std::str::FromStr for BootstrapNode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, addr) = match s.split_once('@') {
            Some((id, addr)) => {
                let hex = id.strip_prefix("0x").unwrap_or(id);
                if hex.len() != 32 {
                    return Err(format!(
                        "bootstrap node {s:?}: a Node-ID is 32 hex digits, got {}",
                        hex.len()
                    ));
                }
                let id = u128::from_str_radix(hex, 16)
                    .map_err(|e| format!("bootstrap node {s:?}: bad Node-ID: {e}"))?;
                (Some(id), addr)
            }
            None => (None, s),
        };
        let addr = addr
            .parse()
            .map_err(|e| format!("bootstrap node {s:?}: bad address (host:port): {e}"))?;
        Ok(BootstrapNode { id, addr })
    }
}

impl std::fmt::Display for BootstrapNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.id {
            Some(id) => write!(f, "{id:032x}@{}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// The RELOAD overlay (peer-to-peer layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverlayConfig {
    /// Whether the node joins an overlay.
    pub enabled: bool,
    /// Listening address of the TLS links.
    pub listen: std::net::SocketAddr,
    /// Nodes to join through: `"<node-id>@<host:port>"` (the link is refused unless the peer's
    /// certificate gives that Node-ID), or `"<host:port>"` alone (trusted on first use; a warning
    /// at start says so).
    pub bootstrap: Vec<BootstrapNode>,
    /// Overlay name; nodes of different overlays ignore each other.
    pub name: String,
    /// The node key (PKCS#8 Ed25519); default `<datadir>/overlay/node.key`, made at first start.
    pub key_file: Option<PathBuf>,
    /// Kademlia bucket size k.
    pub k: usize,
    /// Lookup parallelism α.
    pub alpha: usize,
    /// Replicas r of each stored value.
    pub replicas: usize,
    /// Request timeout (ms).
    pub request_timeout_ms: u64,
    /// Bucket refresh and liveness pings (s).
    pub refresh_secs: u64,
    /// Republishing of stored values to the closest nodes (s).
    pub republish_secs: u64,
    /// Contacts per bucket a flood goes to.
    pub flood_fanout: usize,
    /// Open links at most.
    pub max_links: usize,
    /// Messages queued per link at most.
    pub link_queue: usize,
    /// Largest frame a link reads (bytes): a longer one is refused from its length field, before
    /// anything is allocated for it, and the link is closed.
    pub max_frame_bytes: usize,
    /// Messages a link takes from its peer per second; more are dropped and counted.
    pub max_messages_per_sec: u32,
    /// A write to a peer that does not finish in this long closes the link (ms).
    pub write_timeout_ms: u64,
    /// A validator behind sentries: the Node-IDs (32 hex digits) of its own full nodes, the only
    /// peers it links to, learns or answers; links from anyone else are refused. Empty: any peer.
    pub allow_peers: Vec<String>,
    /// A sentry: the Node-IDs of the validators behind it. They are linked but never entered into
    /// the routing table, so nobody learns their address from this node; every flood is passed on
    /// to them, and theirs go out as this node's own.
    pub private_peers: Vec<String>,
}

impl OverlayConfig {
    /// `allow_peers` and `private_peers` as Node-IDs (the message names a malformed entry).
    pub fn peer_ids(&self) -> Result<(Vec<u128>, Vec<u128>), ConfigError> {
        let parse = |what: &str, list: &[String]| {
            list.iter()
                .map(|v| {
                    let h = v.trim_start_matches("0x");
                    if h.len() != 32 {
                        return Err(ConfigError::Invalid(format!(
                            "overlay.{what}: {v:?} is not a Node-ID (32 hex digits; platon admin nodeInfo shows it)"
                        )));
                    }
                    u128::from_str_radix(h, 16).map_err(|e| {
                        ConfigError::Invalid(format!("overlay.{what}: {v:?}: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok((
            parse("allow_peers", &self.allow_peers)?,
            parse("private_peers", &self.private_peers)?,
        ))
    }
}

impl Default for OverlayConfig {
    fn default() -> Self {
        OverlayConfig {
            enabled: false,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 16789)),
            bootstrap: Vec::new(),
            allow_peers: Vec::new(),
            private_peers: Vec::new(),
            name: "platon".into(),
            key_file: None,
            k: 16,
            alpha: 3,
            replicas: 3,
            request_timeout_ms: 2_000,
            refresh_secs: 60,
            republish_secs: 600,
            flood_fanout: 2,
            max_links: 256,
            link_queue: 1_024,
            max_frame_bytes: 8 * 1024 * 1024,
            max_messages_per_sec: 20_000,
            write_timeout_ms: 10_000,
        }
    }
}

/// CBFT consensus among validators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CbftConfig {
    /// Whether this node runs consensus (it needs `overlay.enabled`); off means the single
    /// producer (`producer.enabled`) makes blocks.
    pub enabled: bool,
    /// The validators' BLS public keys (48-byte compressed G1, hex), in validator-index order.
    pub validators: Vec<String>,
    /// This validator's BLS secret key (hex); default `<datadir>/consensus/bls.key`. A node whose
    /// key is not in `validators` follows as an observer.
    pub key_file: Option<PathBuf>,
    /// The validators' sr25519 VRF public keys (32 bytes, hex), in validator-index order. When set,
    /// every block carries its proposer's VRF proof over the parent's seed (`extraData`) and the
    /// new seed (`mixHash`), and validators refuse a block whose proof does not verify.
    pub vrf_keys: Vec<String>,
    /// This validator's VRF key seed (hex, 32 bytes); default `<datadir>/consensus/vrf.key`.
    pub vrf_key_file: Option<PathBuf>,
    /// The secp256k1 secret key (hex) of the account that reports double signs it sees to the
    /// slashing contract, paying the gas; none: evidence is kept and served, not reported.
    pub report_key_file: Option<PathBuf>,
    /// Blocks per proposer view (PlatON: 10).
    pub amount: u32,
    /// View window in milliseconds (PlatON: 20,000); a block every period / amount, and the
    /// view timeout (×1.5 after each timeout in a row, at most ×2.25).
    pub period_ms: u64,
    /// Responsive pacing: a proposer builds its next block as soon as the previous one has a QC
    /// (at least `min_interval_ms` after it), instead of every period / amount.
    pub responsive: bool,
    /// The shortest interval between two blocks of one proposer in responsive pacing (ms).
    pub min_interval_ms: u64,
    /// Responsive pacing only: a view also times out when no new QC has come in it for this long
    /// (ms; ×1.5 after each timeout in a row, at most ×2.25), so a crashed or silent proposer costs
    /// this rather than the whole `period_ms`. At least 4 × `min_interval_ms`; 0: off.
    pub progress_timeout_ms: u64,
}

impl Default for CbftConfig {
    fn default() -> Self {
        CbftConfig {
            enabled: false,
            validators: Vec::new(),
            key_file: None,
            vrf_keys: Vec::new(),
            vrf_key_file: None,
            report_key_file: None,
            amount: 10,
            period_ms: 20_000,
            responsive: false,
            min_interval_ms: 100,
            progress_timeout_ms: 2_000,
        }
    }
}

/// ReDiR service discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedirConfig {
    /// Branching factor b of the ReDiR tree.
    pub branching: u32,
    /// Level where registrations and lookups start.
    pub start_level: u16,
    /// Lifetime of a registration (s); it is refreshed at half of it.
    pub lifetime_secs: u32,
    /// Services this node provides: validator, full-node, vc-compute, mpc-compute.
    pub services: Vec<String>,
}

impl Default for RedirConfig {
    fn default() -> Self {
        RedirConfig {
            branching: 10,
            start_level: 2,
            lifetime_secs: 300,
            services: vec!["full-node".into()],
        }
    }
}

/// What a node is for (`node.role`): which subsystems it runs and what it opens by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Signs blocks and votes; its JSON-RPC is closed unless `http.enabled` opens it.
    Validator,
    /// Verifies every block and its QC, executes it and serves JSON-RPC (the default); keeps the
    /// last `state.retain` states.
    #[default]
    Full,
    /// A full node that keeps every block's state.
    Archive,
    /// Overlay only, no chain: the entry point new nodes find their peers through. It stores
    /// others' ReDiR registrations and registers under no service itself.
    Bootstrap,
    /// Headers only, each checked against its QC; state answers come from full nodes' proofs.
    Light,
}

impl NodeRole {
    /// The name used in config files, logs and `admin_nodeInfo`.
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Validator => "validator",
            NodeRole::Full => "full",
            NodeRole::Archive => "archive",
            NodeRole::Bootstrap => "bootstrap",
            NodeRole::Light => "light",
        }
    }

    /// Parses a role name (`--role`).
    pub fn parse(name: &str) -> Option<Self> {
        [
            NodeRole::Validator,
            NodeRole::Full,
            NodeRole::Archive,
            NodeRole::Bootstrap,
            NodeRole::Light,
        ]
        .into_iter()
        .find(|r| r.name() == name)
    }
}

/// A light node's sources (`[light]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LightConfig {
    /// JSON-RPC URLs of the full nodes a light node asks for headers, QCs and proofs, in order of
    /// preference; one whose answer does not verify is left out for a minute.
    pub servers: Vec<String>,
}

/// The node's role (`[node]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// validator, full (default), archive, bootstrap or light.
    pub role: NodeRole,
}

/// Service names a node may register under.
pub const SERVICES: [&str; 4] = ["validator", "full-node", "vc-compute", "mpc-compute"];

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// The node's role.
    pub node: NodeSection,
    /// Data directory; None means a temporary folder removed at exit.
    pub datadir: Option<PathBuf>,
    /// Storage backend.
    pub db: DbBackend,
    /// Chain parameters and genesis.
    pub chain: ChainConfig,
    /// State history (archive or full).
    pub state: StateConfig,
    /// JSON-RPC gateway.
    pub http: HttpConfig,
    /// Admin listener.
    pub admin: AdminConfig,
    /// Dev chain.
    pub dev: DevConfig,
    /// Txpool.
    pub txpool: TxPoolConfig,
    /// Contract execution and its RPC limits.
    pub evm: EvmConfig,
    /// Supervision.
    pub supervision: SupervisionConfig,
    /// The single block producer.
    pub producer: ProducerConfig,
    /// The RELOAD overlay.
    pub overlay: OverlayConfig,
    /// ReDiR service discovery.
    pub redir: RedirConfig,
    /// CBFT consensus.
    pub cbft: CbftConfig,
    /// PPoS staking rules.
    pub ppos: PposConfig,
    /// Verifiable computation: the `vc_pool` computing node and the accelerator backend.
    pub vc: VcConfig,
    /// A light node's full nodes.
    pub light: LightConfig,
}

/// The accelerator backend of the heavy kernels (Groth16 proving, MSM, FFT, batch signature checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AcceleratorBackend {
    /// One thread (the baseline).
    CpuSingle,
    /// Every core (the default).
    #[default]
    CpuMulti,
    /// A GPU, when the binary was built with the `gpu` feature and a device is present; otherwise
    /// the node logs why and falls back to `cpu-multi`.
    Gpu,
}

/// Verifiable computation: whether this node is a computing node (`vc_pool`), whose account
/// answers tasks, where its proving keys are, and how many tasks it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VcConfig {
    /// Run `vc_pool`: watch VC contracts' `compute` events, prove tasks, submit `set_result`.
    pub enabled: bool,
    /// The secp256k1 secret key (hex) of the account that submits results and is paid the fees;
    /// default on `--dev`: the last dev account; elsewhere it is required.
    pub key_file: Option<PathBuf>,
    /// The folder of proving keys, one file `<keccak256 of the key, hex>.pk` each (as `platon vc
    /// setup` writes them); default `<datadir>/vc/keys`. A task whose contract names a key that is
    /// not here is listed and left to other computing nodes.
    pub keys_dir: Option<PathBuf>,
    /// The most open tasks kept; tasks beyond it are not taken (counted and logged).
    pub max_tasks: usize,
    /// The priority fee (wei per gas) of `set_result` transactions.
    pub tip_wei: u64,
    /// The accelerator backend.
    pub backend: AcceleratorBackend,
}

impl Default for VcConfig {
    fn default() -> Self {
        VcConfig {
            enabled: false,
            key_file: None,
            keys_dir: None,
            max_tasks: 1024,
            tip_wei: 1_000_000_000,
            backend: AcceleratorBackend::CpuMulti,
        }
    }
}

/// PPoS staking rules (PlatON's defaults; a dev chain may lower them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PposConfig {
    /// Least own stake of a candidate, in whole LAT (PlatON: 100,000).
    pub min_stake_lat: u64,
    /// Least delegation, in whole LAT (PlatON: 10).
    pub min_delegation_lat: u64,
    /// Verifiers per epoch at most (PlatON: 201; testnet 101).
    pub max_verifiers: usize,
    /// Candidates staked at genesis (identical in every node's configuration: they are part of
    /// the genesis state). Those whose BLS key is in `cbft.validators` form the first round.
    pub genesis_candidates: Vec<GenesisCandidate>,
    /// Blocks per consensus round (PlatON: 250). 0: no rotation, `cbft.validators` validate for
    /// good. Otherwise every round's validators are elected on chain and CBFT follows them.
    pub round_blocks: u64,
    /// Rounds per settlement epoch (PlatON: 25 × 250-block rounds ≈ 6 hours).
    pub epoch_rounds: u64,
    /// Validator seats per round (0: as many as `cbft.validators`; PlatON: 25).
    pub seats: usize,
    /// The next round is elected this many blocks before a round's end (at least 2, below
    /// `round_blocks`): every branch a QC can still pick at the round's end shares that block.
    pub election_distance: u64,
    /// Reward per produced block in whole LAT, paid at the end of the epoch from the reward pool.
    pub block_reward_lat: u64,
    /// Staking reward per epoch in whole LAT, shared equally by the verifiers.
    pub staking_reward_lat: u64,
    /// Taken from a validator that produced no block in its round, in whole LAT.
    pub idle_penalty_lat: u64,
    /// The reward pool's balance at genesis, in whole LAT.
    pub reward_pool_lat: u64,
}

impl Default for PposConfig {
    fn default() -> Self {
        PposConfig {
            min_stake_lat: 100_000,
            min_delegation_lat: 10,
            max_verifiers: 201,
            genesis_candidates: Vec::new(),
            round_blocks: 0,
            epoch_rounds: 25,
            seats: 0,
            election_distance: 4,
            block_reward_lat: 2,
            staking_reward_lat: 1_000,
            idle_penalty_lat: 100,
            reward_pool_lat: 0,
        }
    }
}

/// A candidate staked at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisCandidate {
    /// The node's overlay Node-ID (32 hex digits).
    pub node_id: String,
    /// Who staked.
    pub staking_address: Address,
    /// Where its rewards go.
    pub benefit_address: Address,
    /// BLS public key (48 bytes, hex).
    pub bls_key: String,
    /// VRF public key (32 bytes, hex).
    pub vrf_key: String,
    /// Own stake in whole LAT.
    pub stake_lat: u64,
    /// Delegators' share of rewards, in basis points.
    #[serde(default)]
    pub reward_per: u16,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

impl NodeConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.into(),
                message,
            },
            e => e,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })
    }

    /// Whether the admin listener runs.
    pub fn admin_enabled(&self) -> bool {
        self.admin.enabled.unwrap_or(self.dev.enabled)
    }

    /// Whether the JSON-RPC gateway runs: `http.enabled`, else whether the role serves RPC.
    pub fn rpc_enabled(&self) -> bool {
        self.http.enabled.unwrap_or(matches!(
            self.node.role,
            NodeRole::Full | NodeRole::Archive | NodeRole::Light
        ))
    }

    /// Whether the node keeps a chain (blocks, state): every role but bootstrap and light.
    pub fn has_chain(&self) -> bool {
        !matches!(self.node.role, NodeRole::Bootstrap | NodeRole::Light)
    }

    /// The state mode of a new data directory when `state.mode` does not name one: archive on an
    /// archive node and with --dev (as anvil), full otherwise.
    pub fn default_state_mode(&self) -> StateModeConfig {
        match self.state.mode {
            Some(m) => m,
            None if self.node.role == NodeRole::Archive || self.dev.enabled => {
                StateModeConfig::Archive
            }
            None => StateModeConfig::Full,
        }
    }

    /// Checks consistency; the message names the key or flag to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.chain.chain_id == 0 {
            return bad("chain.chain_id must be non-zero".into());
        }
        if self.chain.gas_limit < 21_000 {
            return bad(format!(
                "chain.gas_limit {} is below one transfer (21000)",
                self.chain.gas_limit
            ));
        }
        if self.admin_enabled() {
            if self.http.port == self.admin.port && self.http.addr == self.admin.addr {
                return bad(format!("--http.port and --admin.port are both {}; give the admin listener its own port", self.http.port));
            }
            let local = self.admin.addr.is_loopback();
            if !local && self.admin.token.is_none() {
                return bad(format!(
                    "the admin listener on non-loopback address {} needs a token: set admin.token (or --admin.token)",
                    self.admin.addr
                ));
            }
            if !self.dev.enabled && self.admin.token.is_none() {
                return bad("the admin listener outside --dev needs a token: set admin.token (or --admin.token)".into());
            }
        }
        if self.state.snapshot_keep < 8 {
            return bad("state.snapshot_keep must be at least 8, so that blocks in the consensus pipeline and recent RPC reads still see their staking data".into());
        }
        match self.node.role {
            NodeRole::Archive if self.state.mode == Some(StateModeConfig::Full) => {
                return bad("node.role = archive keeps every state: remove state.mode = full (or choose node.role = full)".into());
            }
            NodeRole::Validator if !self.cbft.enabled => {
                return bad("node.role = validator needs cbft.enabled (and its BLS key in cbft.key_file): a validator signs blocks through CBFT".into());
            }
            NodeRole::Bootstrap => {
                if !self.overlay.enabled {
                    return bad("node.role = bootstrap needs overlay.enabled: a bootstrap node is an overlay entry point".into());
                }
                if self.cbft.enabled || self.vc.enabled || self.dev.enabled {
                    return bad("node.role = bootstrap runs no chain: remove cbft.enabled, vc.enabled and --dev".into());
                }
                if self.http.enabled == Some(true) {
                    return bad("node.role = bootstrap has no chain to serve over JSON-RPC: remove http.enabled".into());
                }
            }
            NodeRole::Light => {
                if self.cbft.enabled || self.vc.enabled || self.dev.enabled {
                    return bad("node.role = light keeps headers only: remove cbft.enabled, vc.enabled and --dev".into());
                }
                if self.light.servers.is_empty() {
                    return bad("node.role = light needs light.servers: the JSON-RPC URLs of full nodes to ask for headers and proofs".into());
                }
                if self.cbft.validators.is_empty() {
                    return bad("node.role = light needs cbft.validators: the BLS keys every header's QC is checked against".into());
                }
                if self.ppos.round_blocks > 0 {
                    return bad("node.role = light follows a fixed validator set in this build: with ppos.round_blocks the round sets live in snapshotdb, which the state root does not prove".into());
                }
            }
            _ => {}
        }
        if self.default_state_mode() == StateModeConfig::Full && self.state.retain < 2 {
            return bad("state.retain (--state.retain) must be at least 2 in full mode, so that readers of the previous head are never cut off".into());
        }
        if self.http.max_requests_per_sec == 0 {
            return bad("http.max_requests_per_sec must be positive".into());
        }
        if self.evm.rpc_gas_cap < 21_000
            || self.evm.max_logs == 0
            || self.evm.max_log_range == 0
            || self.evm.max_filters == 0
            || self.evm.max_trace_steps == 0
            || self.evm.rpc_timeout_ms == 0
        {
            return bad("evm.rpc_gas_cap must be at least 21000 and evm.max_logs, evm.max_log_range, evm.max_filters, evm.max_trace_steps and evm.rpc_timeout_ms positive".into());
        }
        if self.vc.enabled && self.vc.max_tasks == 0 {
            return bad("vc.max_tasks must be positive when vc.enabled".into());
        }
        if self.vc.enabled && self.vc.key_file.is_none() && !self.dev.enabled {
            return bad("vc.enabled outside --dev needs vc.key_file: the account that submits results and is paid".into());
        }
        if self.txpool.capacity == 0 || self.supervision.mailbox_capacity == 0 {
            return bad("txpool.capacity and supervision.mailbox_capacity must be positive".into());
        }
        if self.overlay.enabled {
            let o = &self.overlay;
            if o.k == 0 || o.alpha == 0 || o.replicas == 0 || o.max_links == 0 || o.link_queue == 0
            {
                return bad("overlay.k, overlay.alpha, overlay.replicas, overlay.max_links and overlay.link_queue must be positive".into());
            }
            if o.max_messages_per_sec == 0 || o.write_timeout_ms == 0 {
                return bad(
                    "overlay.max_messages_per_sec and overlay.write_timeout_ms must be positive"
                        .into(),
                );
            }
            if o.request_timeout_ms == 0 || o.refresh_secs == 0 || o.republish_secs == 0 {
                return bad("overlay.request_timeout_ms, overlay.refresh_secs and overlay.republish_secs must be positive".into());
            }
            let (allow, _) = self.overlay.peer_ids()?;
            if !allow.is_empty() {
                if !self.redir.services.is_empty() {
                    return bad("overlay.allow_peers (a node behind sentries) is never published: set redir.services = [] (a ReDiR registration would name it)".into());
                }
                if self
                    .overlay
                    .bootstrap
                    .iter()
                    .any(|b| b.id.is_none_or(|id| !allow.contains(&id)))
                {
                    return bad("overlay.allow_peers: write each overlay.bootstrap entry as \"<node-id>@<host:port>\" with one of the allowed Node-IDs (a node behind sentries joins through them)".into());
                }
            }
            if self.redir.branching < 2 || self.redir.lifetime_secs < 2 {
                return bad(
                    "redir.branching must be at least 2 and redir.lifetime_secs at least 2".into(),
                );
            }
            if let Some(s) = self
                .redir
                .services
                .iter()
                .find(|s| !SERVICES.contains(&s.as_str()))
            {
                return bad(format!(
                    "redir.services: unknown service {s:?} (use {})",
                    SERVICES.join(", ")
                ));
            }
        }
        if self.cbft.enabled {
            if !self.overlay.enabled {
                return bad(
                    "cbft.enabled needs overlay.enabled: validators talk through the overlay"
                        .into(),
                );
            }
            if self.producer.enabled {
                return bad("cbft.enabled and producer.enabled exclude each other: set producer.enabled = false".into());
            }
            if self.cbft.validators.is_empty()
                || self.cbft.amount == 0
                || self.cbft.period_ms < self.cbft.amount as u64
            {
                return bad("cbft needs validators, a positive cbft.amount and cbft.period_ms of at least one ms per block".into());
            }
            if self.cbft.responsive
                && self
                    .cbft
                    .min_interval_ms
                    .saturating_mul(u64::from(self.cbft.amount))
                    >= self.cbft.period_ms
            {
                return bad(format!(
                    "cbft.responsive: cbft.min_interval_ms × cbft.amount ({} × {}) must stay below cbft.period_ms ({}), the view timeout",
                    self.cbft.min_interval_ms, self.cbft.amount, self.cbft.period_ms
                ));
            }
            if self.cbft.responsive
                && self.cbft.progress_timeout_ms != 0
                && self.cbft.progress_timeout_ms < self.cbft.min_interval_ms.saturating_mul(4)
            {
                return bad(format!(
                    "cbft.progress_timeout_ms ({}) must be 0 (off) or at least 4 × cbft.min_interval_ms ({}): a shorter one ends views that are still making progress",
                    self.cbft.progress_timeout_ms, self.cbft.min_interval_ms
                ));
            }
            if let Some(v) = self.cbft.validators.iter().find(|v| {
                hex::decode(v.trim_start_matches("0x"))
                    .map(|b| b.len() != 48)
                    .unwrap_or(true)
            }) {
                return bad(format!(
                    "cbft.validators: {v:?} is not a 48-byte BLS public key in hex"
                ));
            }
            if !self.cbft.vrf_keys.is_empty()
                && self.cbft.vrf_keys.len() != self.cbft.validators.len()
            {
                return bad("cbft.vrf_keys: one key per validator, or none".into());
            }
            if let Some(v) = self.cbft.vrf_keys.iter().find(|v| {
                hex::decode(v.trim_start_matches("0x"))
                    .map(|b| b.len() != 32)
                    .unwrap_or(true)
            }) {
                return bad(format!(
                    "cbft.vrf_keys: {v:?} is not a 32-byte VRF public key in hex"
                ));
            }
        }
        if self.ppos.round_blocks > 0 {
            let p = &self.ppos;
            if !self.cbft.enabled || p.genesis_candidates.is_empty() {
                return bad("ppos.round_blocks needs cbft.enabled and ppos.genesis_candidates: rounds elect among staked candidates".into());
            }
            if p.election_distance < 2 || p.election_distance >= p.round_blocks {
                return bad(format!(
                    "ppos.election_distance must be at least 2 and below ppos.round_blocks ({}), got {}",
                    p.round_blocks, p.election_distance
                ));
            }
            if p.epoch_rounds == 0 {
                return bad("ppos.epoch_rounds must be positive".into());
            }
        }
        if self.dev.enabled && self.dev.accounts > 100 {
            return bad("dev.accounts is at most 100".into());
        }
        if !self.dev.enabled && self.node.role != NodeRole::Bootstrap && self.chain.alloc.is_empty()
        {
            return bad(
                "without --dev the genesis needs chain.alloc entries (or run with --dev)".into(),
            );
        }
        Ok(())
    }

    /// The dev accounts' keys (empty unless --dev).
    pub fn dev_keys(&self) -> Result<Vec<SecretKey>, ConfigError> {
        if !self.dev.enabled {
            return Ok(vec![]);
        }
        derive_dev_keys(&self.dev.mnemonic, self.dev.accounts)
            .map_err(|e| ConfigError::Invalid(format!("dev.mnemonic: {e}")))
    }

    /// The genesis allocation: chain.alloc plus, with --dev, each dev account.
    pub fn genesis_alloc(&self) -> Result<Vec<(Address, U256)>, ConfigError> {
        let mut alloc: Vec<(Address, U256)> = self
            .chain
            .alloc
            .iter()
            .map(|a| (a.address, a.balance))
            .collect();
        let each = U256::from(self.dev.balance_ether)
            .checked_mul(U256::from(WEI_PER_ETHER))
            .ok_or_else(|| ConfigError::Invalid("dev.balance_ether overflows".into()))?;
        for k in self.dev_keys()? {
            alloc.push((k.address(), each));
        }
        Ok(alloc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_nodes_parse_with_and_without_a_node_id() {
        let c: NodeConfig = toml::from_str(
            "[overlay]\nbootstrap = [\"a7bc381bedf77fc65334c43405705924@127.0.0.2:16789\", \"10.0.0.1:1\"]\n",
        )
        .expect("parse");
        let b = &c.overlay.bootstrap;
        assert_eq!(b[0].id, Some(0xa7bc381bedf77fc65334c43405705924));
        assert_eq!(
            b[0].to_string(),
            "a7bc381bedf77fc65334c43405705924@127.0.0.2:16789"
        );
        assert_eq!(b[1].id, None);
        for bad in [
            "abc@127.0.0.1:1",
            "zz7c381bedf77fc65334c43405705924@127.0.0.1:1",
            "nohost",
        ] {
            let e = toml::from_str::<NodeConfig>(&format!("[overlay]\nbootstrap = [\"{bad}\"]\n"))
                .expect_err(bad)
                .to_string();
            assert!(e.contains("bootstrap node"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_computing_node_outside_dev_needs_its_account_and_the_backend_parses() {
        let c = NodeConfig::from_toml("[vc]\nenabled = true\n").expect("parse");
        let e = c.validate().expect_err("no key").to_string();
        assert!(e.contains("vc.key_file"), "{e}");
        let c =
            NodeConfig::from_toml("[dev]\nenabled = true\n[vc]\nenabled = true\n").expect("parse");
        assert!(
            c.validate().is_ok(),
            "on --dev the last dev account answers"
        );
        let c = NodeConfig::from_toml("[vc]\nenabled = true\nkey_file = \"k\"\nmax_tasks = 0\n")
            .expect("parse");
        assert!(c
            .validate()
            .expect_err("zero")
            .to_string()
            .contains("max_tasks"));
        let c = NodeConfig::from_toml("[vc]\nbackend = \"cpu-single\"\n").expect("parse");
        assert_eq!(c.vc.backend, AcceleratorBackend::CpuSingle);
        assert!(NodeConfig::from_toml("[vc]\nbackend = \"tpu\"\n").is_err());
    }

    #[test]
    fn defaults_match_the_documented_ports() {
        let c = NodeConfig::default();
        assert_eq!(c.http.port, 6789);
        assert_eq!(c.admin.port, 6790);
        assert!(c.http.addr.is_loopback());
        assert!(!c.admin_enabled());
    }

    #[test]
    fn roles_choose_what_runs_and_refuse_what_contradicts_them() {
        let c = NodeConfig::from_toml("").expect("empty");
        assert_eq!(c.node.role, NodeRole::Full);
        assert!(c.rpc_enabled() && c.has_chain());
        assert_eq!(c.default_state_mode(), StateModeConfig::Full);
        let mut v = NodeConfig::from_toml("[node]\nrole = \"validator\"\n").expect("validator");
        assert!(!v.rpc_enabled(), "a validator's RPC is closed by default");
        v.http.enabled = Some(true);
        assert!(v.rpc_enabled(), "the config may open it");
        let mut a = NodeConfig::from_toml("[node]\nrole = \"archive\"\n").expect("archive");
        assert_eq!(a.default_state_mode(), StateModeConfig::Archive);
        a.state.mode = Some(StateModeConfig::Full);
        a.chain.alloc = dev_alloc();
        let err = a.validate().expect_err("archive + full").to_string();
        assert!(err.contains("node.role = archive"), "{err}");
        let mut b = NodeConfig::from_toml("[node]\nrole = \"bootstrap\"\n").expect("bootstrap");
        assert!(!b.rpc_enabled() && !b.has_chain());
        let err = b.validate().expect_err("no overlay").to_string();
        assert!(err.contains("overlay.enabled"), "{err}");
        b.overlay.enabled = true;
        b.validate()
            .expect("a bootstrap node needs no genesis alloc");
        b.cbft.enabled = true;
        assert!(b.validate().is_err());
        let mut v = NodeConfig::from_toml("[node]\nrole = \"validator\"\n").expect("validator");
        v.chain.alloc = dev_alloc();
        let err = v
            .validate()
            .expect_err("validator without cbft")
            .to_string();
        assert!(err.contains("cbft.enabled"), "{err}");
        let err = NodeConfig::from_toml("[node]\nrole = \"miner\"\n").expect_err("unknown role");
        assert!(err.to_string().contains("role"), "{err}");
        let mut l = NodeConfig::from_toml("[node]\nrole = \"light\"\n").expect("light");
        l.chain.alloc = dev_alloc();
        let err = l.validate().expect_err("no servers").to_string();
        assert!(err.contains("light.servers"), "{err}");
        l.light.servers = vec!["http://127.0.0.1:6789".into()];
        let err = l.validate().expect_err("no validators").to_string();
        assert!(err.contains("cbft.validators"), "{err}");
        l.cbft.validators = vec!["aa".repeat(48)];
        l.validate().expect("a light node");
        assert!(l.rpc_enabled() && !l.has_chain());
        l.ppos.round_blocks = 10;
        let err = l.validate().expect_err("rotation").to_string();
        assert!(err.contains("fixed validator set"), "{err}");
        assert_eq!(NodeRole::parse("archive"), Some(NodeRole::Archive));
        assert_eq!(NodeRole::parse("Archive"), None);
    }

    fn dev_alloc() -> Vec<AllocEntry> {
        vec![AllocEntry {
            address: Address::ZERO,
            balance: U256::from(1u64),
        }]
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let err = NodeConfig::from_toml("[http]\nprot = 1\n").expect_err("typo");
        assert!(err.to_string().contains("prot"), "{err}");
        let err = NodeConfig::from_toml("[http]\nport = \"x\"\n").expect_err("type");
        assert!(err.to_string().contains("port"), "{err}");
        let mut c = NodeConfig::default();
        c.dev.enabled = true;
        c.admin.port = c.http.port;
        assert!(c
            .validate()
            .expect_err("clash")
            .to_string()
            .contains("--admin.port"));
        let mut c = NodeConfig::default();
        c.admin.enabled = Some(true);
        c.chain.alloc.push(AllocEntry {
            address: Address::ZERO,
            balance: U256::from(1),
        });
        assert!(c
            .validate()
            .expect_err("token")
            .to_string()
            .contains("token"));
    }

    #[test]
    fn responsive_pacing_must_fit_the_view_timeout() {
        let mut c = NodeConfig::default();
        c.overlay.enabled = true;
        c.producer.enabled = false;
        c.cbft.enabled = true;
        c.cbft.validators = vec!["00".into()];
        c.cbft.responsive = true;
        c.cbft.amount = 10;
        c.cbft.period_ms = 1_000;
        c.cbft.min_interval_ms = 100;
        let err = c
            .validate()
            .expect_err("10 × 100 ms fills the 1 s view")
            .to_string();
        assert!(err.contains("cbft.min_interval_ms"), "{err}");
        c.cbft.min_interval_ms = 99;
        // Now the check passes; the stand-in validator key is refused next.
        let err = c.validate().expect_err("bad key").to_string();
        assert!(!err.contains("cbft.min_interval_ms"), "{err}");
        // The progress timeout must leave room for a few blocks.
        c.cbft.progress_timeout_ms = 395;
        let err = c.validate().expect_err("too short").to_string();
        assert!(err.contains("cbft.progress_timeout_ms"), "{err}");
        for ok in [0, 396] {
            c.cbft.progress_timeout_ms = ok;
            let err = c.validate().expect_err("bad key").to_string();
            assert!(!err.contains("cbft.progress_timeout_ms"), "{ok}: {err}");
        }
    }

    #[test]
    fn dev_genesis_funds_the_ten_test_accounts() {
        let mut c = NodeConfig::default();
        c.dev.enabled = true;
        c.validate().expect("valid");
        let alloc = c.genesis_alloc().expect("alloc");
        assert_eq!(alloc.len(), 10);
        assert_eq!(
            alloc[0].0.to_checksum(None),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(
            alloc[9].1,
            U256::from(10_000u64) * U256::from(WEI_PER_ETHER)
        );
        let parsed = NodeConfig::from_toml(
            "[chain]\nchain_id = 5\n[[chain.alloc]]\naddress = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\nbalance = \"0x10\"\n",
        )
        .expect("parse");
        assert_eq!(parsed.chain.alloc[0].balance, U256::from(16));
    }
}
