//! The `platon` command: run a node, talk to a running node's admin API, check a data directory.

use clap::{Args, Parser, Subcommand};

/// `println!` that ignores a closed standard output (`platon … | head -1` must not panic).
macro_rules! out {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
use platon_config::NodeConfig;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "platon",
    version,
    about = "A PlatON-architecture blockchain node built as supervised actors"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a node.
    Run(Box<RunArgs>),
    /// Talk to a running node's admin API.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
        /// Admin API URL.
        #[arg(long, global = true, default_value = "http://127.0.0.1:6790")]
        url: String,
        /// Admin token (if the node requires one).
        #[arg(long, global = true, env = "PLATON_ADMIN_TOKEN")]
        token: Option<String>,
    },
    /// Inspect a data directory.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
    /// Local multi-node networks.
    Localnet {
        #[command(subcommand)]
        cmd: LocalnetCmd,
    },
    /// The staking contract: become a candidate, delegate, withdraw, list candidates.
    Staking {
        #[command(subcommand)]
        cmd: StakingCmd,
        /// JSON-RPC URL of a node.
        #[arg(long, global = true, default_value = "http://127.0.0.1:6789")]
        rpc: String,
        /// File with the sending account's secret key (hex), for writes.
        #[arg(long, global = true, env = "PLATON_ACCOUNT_KEY")]
        key: Option<PathBuf>,
    },
    /// Verifiable computation: keys for a VC contract, a task's result and proof, snarkjs JSON,
    /// a computing node's tasks.
    Vc {
        #[command(subcommand)]
        cmd: VcCmd,
    },
    /// Benchmarks run from outside a node.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
}

/// `platon vc` subcommands.
#[derive(Subcommand)]
enum VcCmd {
    /// Generate a model's Groth16 keys from a seed: the proving key goes to OUT/<hash>.pk, the
    /// verifying key and the hash (the contract's `init` arguments) are printed. Whoever knows the
    /// seed can forge proofs: see the README on trust.
    Setup {
        /// Model name: mimc5-chain:N or merkle-mimc:D.
        #[arg(long)]
        model: String,
        /// Seed of the key generation (secret in production).
        #[arg(long)]
        seed: String,
        /// Folder for the proving key (a computing node's vc.keys_dir).
        #[arg(long)]
        out: PathBuf,
    },
    /// Compute a task off chain and prove it (the seed's real_compute): prints the result, the
    /// proof and the public words.
    Prove {
        /// Model name.
        #[arg(long)]
        model: String,
        /// The proving key file.
        #[arg(long)]
        pk: PathBuf,
        /// The task id (32 bytes, hex).
        #[arg(long)]
        task: String,
        /// The task's input (hex).
        #[arg(long)]
        input: String,
    },
    /// Convert a verifying key (and a proof with its public words) to snarkjs JSON.
    Snarkjs {
        /// The verifying key (hex, as the contract stores it).
        #[arg(long)]
        vk: String,
        /// A proof (256 bytes, hex).
        #[arg(long)]
        proof: Option<String>,
        /// The public words (32 bytes each, hex), comma-separated.
        #[arg(long, value_delimiter = ',')]
        public: Vec<String>,
    },
    /// A computing node's tasks and their state (platon_vcTasks).
    Tasks {
        /// JSON-RPC URL of the computing node.
        #[arg(long, default_value = "http://127.0.0.1:6789")]
        rpc: String,
    },
}

/// `platon bench` subcommands.
#[derive(Subcommand)]
enum BenchCmd {
    /// Offer pre-signed transfers open-loop at a target rate to one or more Ethereum JSON-RPC
    /// nodes (this node, anvil, geth) and print accepted and committed rates and finality latency
    /// as JSON.
    Load(LoadArgs),
}

#[derive(Args)]
struct LoadArgs {
    /// JSON-RPC HTTP URLs, comma-separated; batches go to them round-robin.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:6789")]
    rpc: Vec<String>,
    /// WebSocket URL whose newHeads time the commits (default: the first --rpc URL as ws://).
    #[arg(long)]
    ws: Option<String>,
    /// Transactions offered per second.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of offering.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Fresh senders the load is spread over.
    #[arg(long, default_value_t = 500)]
    senders: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// transfer (21,000 gas to a fresh address) or erc20 (Token.sol's transfer to a fresh holder).
    #[arg(long, value_enum, default_value = "transfer")]
    kind: platon_node::load::LoadKind,
    /// Token.sol's creation code for --kind erc20: a hex file, or the JSON that
    /// integration/tests/js/compile.mjs prints.
    #[arg(long)]
    token: Option<PathBuf>,
    /// File with the funding account's secret key (hex); default: the first account of the
    /// test mnemonic, which --dev, localnet and anvil fund.
    #[arg(long)]
    funder_key: Option<PathBuf>,
    /// Seconds to wait for the last commits once offering stops.
    #[arg(long, default_value_t = 60)]
    drain_seconds: u64,
    /// Most batches in flight at once (a batch that finds none free leaves late, and is counted).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Seed of the senders' keys (default: the clock, so every run has fresh senders).
    #[arg(long)]
    seed: Option<u64>,
    /// Funding transactions in flight at once (the pool's per-sender nonce gap).
    #[arg(long, default_value_t = 64)]
    fund_chunk: usize,
}

async fn bench_load(a: LoadArgs) -> Result<serde_json::Value, String> {
    let funder = match &a.funder_key {
        Some(p) => platon_node::staking_cli::read_account_key(p)?,
        None => platon_crypto::derive_dev_keys(platon_crypto::DEV_MNEMONIC, 1)
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("no dev key")?,
    };
    let token_code = a
        .token
        .as_deref()
        .map(platon_node::load::read_token_code)
        .transpose()?;
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    platon_node::load::run(platon_node::load::LoadSettings {
        rpc: a.rpc,
        ws: a.ws,
        rate: a.rate,
        seconds: a.seconds,
        senders: a.senders,
        batch: a.batch,
        kind: a.kind,
        token_code,
        funder,
        drain_seconds: a.drain_seconds,
        max_in_flight: a.max_in_flight,
        seed,
        fund_chunk: a.fund_chunk,
    })
    .await
}

/// `platon staking` subcommands. Amounts are in LAT; Node-IDs are 32 hex digits.
#[derive(Subcommand, Debug)]
enum StakingCmd {
    /// Stake as a candidate, registering the node's BLS key (with its proof of possession) and a
    /// VRF key.
    Create {
        #[arg(long)]
        node_id: String,
        #[arg(long)]
        amount: String,
        /// Delegators' share of the node's rewards, in basis points.
        #[arg(long, default_value_t = 5000)]
        reward_per: u16,
        #[arg(long, default_value = "")]
        name: String,
        /// Reward address (default: the sending account).
        #[arg(long)]
        benefit: Option<alloy_primitives::Address>,
        /// The node's BLS secret key file (hex), e.g. nodeK/consensus/bls.key.
        #[arg(long)]
        bls_key: PathBuf,
        /// The VRF key file (a 32-byte seed in hex).
        #[arg(long)]
        vrf_key: PathBuf,
    },
    /// Change the reward address, the delegators' share or the name.
    Edit {
        #[arg(long)]
        node_id: String,
        #[arg(long)]
        benefit: alloy_primitives::Address,
        #[arg(long)]
        reward_per: u16,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Add own stake.
    Increase {
        #[arg(long)]
        node_id: String,
        #[arg(long)]
        amount: String,
    },
    /// Stop being a candidate (stake counting this epoch returns when it settles).
    Withdraw {
        #[arg(long)]
        node_id: String,
    },
    /// Delegate to a candidate.
    Delegate {
        #[arg(long)]
        node_id: String,
        #[arg(long)]
        amount: String,
    },
    /// Take (part of) a delegation back.
    Undelegate {
        #[arg(long)]
        node_id: String,
        #[arg(long)]
        amount: String,
    },
    /// Every candidate.
    Candidates,
    /// This epoch's verifiers.
    Verifiers,
    /// This round's validators.
    Validators,
    /// One candidate.
    Candidate { node_id: String },
    /// One delegation.
    Delegation {
        delegator: alloy_primitives::Address,
        node_id: String,
    },
}

#[derive(Subcommand)]
enum LocalnetCmd {
    /// Write a genesis, one config per node (on 127.0.<subnet>.2, .3, ...) and localnet.json.
    Init {
        /// Number of nodes.
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// How many of them register as validators (the first ones).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// How many of them are staked candidates at genesis (the first ones; default: the
        /// validators).
        #[arg(long)]
        candidates: Option<usize>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// JSON-RPC port of every node.
        #[arg(long = "http-port", default_value_t = 6789)]
        http_port: u16,
        /// Admin port of every node.
        #[arg(long = "admin-port", default_value_t = 6790)]
        admin_port: u16,
        /// Overlay (TLS) port of every node.
        #[arg(long = "overlay-port", default_value_t = 16789)]
        overlay_port: u16,
        /// Third octet of the nodes' loopback addresses.
        #[arg(long, default_value_t = 0)]
        subnet: u8,
        /// CBFT blocks per proposer view.
        #[arg(long, default_value_t = 10)]
        amount: u32,
        /// CBFT view window in milliseconds (a block every period / amount).
        #[arg(long = "period-ms", default_value_t = 5_000)]
        period_ms: u64,
        /// Responsive CBFT pacing: a proposer builds its next block as soon as the previous one
        /// has a QC, at least this many ms after it (default: a block every period / amount).
        #[arg(long = "responsive-ms")]
        responsive_ms: Option<u64>,
        /// Blocks per PPoS round: each round's validators are elected on chain from the
        /// candidates (default: amount × validators when there are more candidates than
        /// validators; 0: the first validators validate for good).
        #[arg(long = "round-blocks")]
        round_blocks: Option<u64>,
        /// Also write a bootstrap node (bootstrap.toml: overlay only, no chain, on
        /// 127.0.<subnet>.1) that every node joins through.
        #[arg(long)]
        bootstrap: bool,
        /// Full nodes in front of each validator (the seed's deployment): a validator links to
        /// its own sentries only, is never published, and keeps its JSON-RPC closed.
        #[arg(long, default_value_t = 0)]
        sentries: usize,
    },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Print the supervision tree with each actor's status and counters.
    Actors {
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the node's role, overlay identity and what it runs (`admin_nodeInfo`).
    #[command(name = "nodeInfo", alias = "node-info")]
    NodeInfo,
    /// Print the node's overlay links (`admin_peers`).
    Peers,
    /// Restart an actor through its supervisor.
    Restart {
        /// Actor name (txpool, producer, executor, chain, rpc, ...).
        name: String,
    },
    /// Inject a fault (needs a node started with --admin.faults).
    Fault {
        /// Actor name.
        name: String,
        /// panic, stall or drop.
        kind: String,
        /// Stall milliseconds or number of messages to drop.
        arg: Option<u64>,
    },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Verify the chain store (block links, receipt roots, every node of the head state trie) and the
    /// snapshotdb WAL.
    Check(DbArgs),
    /// Entries and bytes per table, and the snapshotdb WAL size.
    Stats(DbArgs),
}

/// Which data directory a `db` command reads.
#[derive(Args)]
struct DbArgs {
    /// Data directory.
    #[arg(long)]
    datadir: PathBuf,
    /// Config file the node runs with: the directory's genesis must then be this config's.
    /// Without it (and without --dev) the directory is read with the chain it holds.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The directory's genesis must be the --dev chain's.
    #[arg(long)]
    dev: bool,
    /// Print the details behind the verdict.
    #[arg(long, short)]
    verbose: bool,
}

impl DbArgs {
    /// Opens the chain store of an existing data directory, or says why not.
    fn open(&self) -> Result<platon_storage::ChainStore, ExitCode> {
        // Without --config or --dev the directory is read with the chain it holds; with them, its
        // genesis must be theirs.
        let config = match (&self.config, self.dev) {
            (None, false) => None,
            (path, dev) => {
                let mut c = match path {
                    Some(p) => NodeConfig::from_file(p).map_err(|e| {
                        eprintln!("error: {e}");
                        ExitCode::from(2)
                    })?,
                    None => NodeConfig::default(),
                };
                c.dev.enabled |= dev;
                Some(c)
            }
        };
        let chaindata = platon_node::chaindata_dir(&self.datadir);
        if !chaindata.is_dir() {
            out!(
                "FAILED: no chain data under {} (expected {})",
                self.datadir.display(),
                chaindata.display()
            );
            return Err(ExitCode::from(1));
        }
        // Tools open a directory with whatever backend and state mode it was made with.
        platon_node::open_store_for_tools(config.as_ref(), &self.datadir).map_err(|e| {
            out!("FAILED: {e}");
            ExitCode::from(1)
        })
    }
}

#[derive(Args)]
struct RunArgs {
    /// Config file (TOML); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The node's role (`node.role`): validator, full (default), archive, bootstrap or light.
    #[arg(long, value_parser = ["validator", "full", "archive", "bootstrap", "light"])]
    role: Option<String>,
    /// One-validator instant chain with the ten test-mnemonic accounts funded.
    #[arg(long)]
    dev: bool,
    /// With --dev, also produce a block every N seconds.
    #[arg(long = "dev.period")]
    dev_period: Option<u64>,
    /// Data directory (default with --dev: a temporary folder removed at exit).
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Key-value backend of the data directory (recorded in it at creation; a mismatch is refused).
    #[arg(long, value_parser = ["rocksdb", "paritydb"])]
    db: Option<String>,
    /// State history: archive (every block's state) or full (the last --state.retain blocks').
    #[arg(long = "state.mode", value_parser = ["archive", "full"])]
    state_mode: Option<String>,
    /// In full mode, how many recent block states stay readable.
    #[arg(long = "state.retain")]
    state_retain: Option<u64>,
    /// EVM engine: revm (default) or evm (rust-ethereum, an independent second implementation).
    #[arg(long = "evm.engine", value_parser = ["revm", "evm"])]
    evm_engine: Option<String>,
    /// WASM engine: wasm3 (default) or wasmi (the cross-check; same code, same gas).
    #[arg(long = "wasm.engine", value_parser = ["wasm3", "wasmi"])]
    wasm_engine: Option<String>,
    /// Chain id.
    #[arg(long = "chain-id")]
    chain_id: Option<u64>,
    /// A light node's full nodes: JSON-RPC URLs, comma-separated, in order of preference
    /// (`light.servers`).
    #[arg(long = "light.servers", value_delimiter = ',')]
    light_servers: Vec<String>,
    /// Turn the JSON-RPC gateway on or off (default: off on validators and bootstrap nodes, on
    /// otherwise).
    #[arg(long = "http.enabled")]
    http_enabled: Option<bool>,
    /// JSON-RPC listen address.
    #[arg(long = "http.addr")]
    http_addr: Option<IpAddr>,
    /// JSON-RPC listen port.
    #[arg(long = "http.port")]
    http_port: Option<u16>,
    /// Admin listen address.
    #[arg(long = "admin.addr")]
    admin_addr: Option<IpAddr>,
    /// Admin listen port.
    #[arg(long = "admin.port")]
    admin_port: Option<u16>,
    /// Admin bearer token.
    #[arg(long = "admin.token", env = "PLATON_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Turn the admin listener on or off (default: on only with --dev).
    #[arg(long = "admin.enabled")]
    admin_enabled: Option<bool>,
    /// Allow admin_injectFault.
    #[arg(long = "admin.faults")]
    admin_faults: bool,
    /// Least own stake of a candidate in LAT (PlatON: 100000).
    #[arg(long = "ppos.min-stake")]
    ppos_min_stake: Option<u64>,
    /// Run as a computing node: prove VC tasks and submit their results (`vc.enabled`).
    #[arg(long)]
    vc: bool,
    /// Secret key file (hex) of the account that submits VC results and is paid.
    #[arg(long = "vc.key-file")]
    vc_key_file: Option<PathBuf>,
    /// Folder of proving keys (`<hash>.pk`, as `platon vc setup` writes them).
    #[arg(long = "vc.keys-dir")]
    vc_keys_dir: Option<PathBuf>,
    /// Accelerator backend: cpu-multi (default), cpu-single or gpu (falls back to cpu-multi
    /// when the build or the machine has none).
    #[arg(long = "vc.backend", value_parser = ["cpu-multi", "cpu-single", "gpu"])]
    vc_backend: Option<String>,
    /// Log filter (tracing EnvFilter syntax), e.g. info or platon_actors=debug.
    #[arg(long, default_value = "info", env = "PLATON_LOG")]
    log: String,
    /// Log format on stderr: text (for terminals and journald) or json (one object per line, with
    /// the current span, e.g. a block's from proposal to commit, for log shippers).
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "text",
        env = "PLATON_LOG_FORMAT"
    )]
    log_format: LogFormat,
}

/// How the node writes its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl RunArgs {
    fn config(&self) -> Result<NodeConfig, String> {
        let mut c = match &self.config {
            Some(p) => NodeConfig::from_file(p).map_err(|e| e.to_string())?,
            None => NodeConfig::default(),
        };
        if let Some(r) = &self.role {
            c.node.role = platon_config::NodeRole::parse(r).ok_or_else(|| {
                format!("--role {r}: use validator, full, archive, bootstrap or light")
            })?;
        }
        c.dev.enabled |= self.dev;
        if let Some(p) = self.dev_period {
            c.dev.period_secs = p;
        }
        if self.datadir.is_some() {
            c.datadir = self.datadir.clone();
        }
        match self.db.as_deref() {
            None => {}
            Some("rocksdb") => c.db = platon_config::DbBackend::Rocksdb,
            Some("paritydb") => c.db = platon_config::DbBackend::Paritydb,
            Some(other) => {
                return Err(format!("--db {other}: unknown backend (rocksdb, paritydb)"))
            }
        }
        match self.state_mode.as_deref() {
            None => {}
            Some("archive") => c.state.mode = Some(platon_config::StateModeConfig::Archive),
            Some("full") => c.state.mode = Some(platon_config::StateModeConfig::Full),
            Some(other) => return Err(format!("--state.mode {other}: use archive or full")),
        }
        if let Some(v) = self.state_retain {
            c.state.retain = v;
        }
        match self.evm_engine.as_deref() {
            None => {}
            Some("revm") => c.evm.engine = platon_config::EvmEngine::Revm,
            Some("evm") => c.evm.engine = platon_config::EvmEngine::Evm,
            Some(other) => return Err(format!("--evm.engine {other}: use revm or evm")),
        }
        match self.wasm_engine.as_deref() {
            None => {}
            Some("wasm3") => c.evm.wasm_engine = platon_config::WasmEngine::Wasm3,
            Some("wasmi") => c.evm.wasm_engine = platon_config::WasmEngine::Wasmi,
            Some(other) => return Err(format!("--wasm.engine {other}: use wasm3 or wasmi")),
        }
        if let Some(v) = self.chain_id {
            c.chain.chain_id = v;
        }
        if !self.light_servers.is_empty() {
            c.light.servers = self.light_servers.clone();
        }
        if self.http_enabled.is_some() {
            c.http.enabled = self.http_enabled;
        }
        if let Some(v) = self.http_addr {
            c.http.addr = v;
        }
        if let Some(v) = self.http_port {
            c.http.port = v;
        }
        if let Some(v) = self.admin_addr {
            c.admin.addr = v;
        }
        if let Some(v) = self.admin_port {
            c.admin.port = v;
        }
        if self.admin_token.is_some() {
            c.admin.token = self.admin_token.clone();
        }
        if self.admin_enabled.is_some() {
            c.admin.enabled = self.admin_enabled;
        }
        c.admin.faults |= self.admin_faults;
        if let Some(v) = self.ppos_min_stake {
            c.ppos.min_stake_lat = v;
        }
        c.vc.enabled |= self.vc;
        if self.vc_key_file.is_some() {
            c.vc.key_file = self.vc_key_file.clone();
        }
        if self.vc_keys_dir.is_some() {
            c.vc.keys_dir = self.vc_keys_dir.clone();
        }
        match self.vc_backend.as_deref() {
            None => {}
            Some("cpu-multi") => c.vc.backend = platon_config::AcceleratorBackend::CpuMulti,
            Some("cpu-single") => c.vc.backend = platon_config::AcceleratorBackend::CpuSingle,
            Some("gpu") => c.vc.backend = platon_config::AcceleratorBackend::Gpu,
            Some(other) => {
                return Err(format!(
                    "--vc.backend {other}: use cpu-multi, cpu-single or gpu"
                ))
            }
        }
        Ok(c)
    }
}

async fn vc(cmd: VcCmd) -> Result<serde_json::Value, String> {
    use platon_node::vc_cli;
    match cmd {
        VcCmd::Setup { model, seed, out } => vc_cli::setup(&model, &seed, &out),
        VcCmd::Prove {
            model,
            pk,
            task,
            input,
        } => vc_cli::prove(&model, &pk, &task, &input),
        VcCmd::Snarkjs { vk, proof, public } => vc_cli::snarkjs(&vk, proof.as_deref(), &public),
        VcCmd::Tasks { rpc } => {
            let c = platon_node::staking_cli::client(&rpc)?;
            platon_node::staking_cli::read(&c, "platon_vcTasks", vec![]).await
        }
    }
}

async fn staking(
    cmd: StakingCmd,
    rpc: &str,
    key: Option<PathBuf>,
) -> Result<serde_json::Value, String> {
    use platon_node::staking_cli::{self as s, Write};
    use serde_json::json;
    let c = s::client(rpc)?;
    let id = |n: &str| s::parse_node_id(n);
    let write = match cmd {
        StakingCmd::Candidates => return s::read(&c, "platon_getCandidateList", vec![]).await,
        StakingCmd::Verifiers => return s::read(&c, "platon_getVerifierList", vec![]).await,
        StakingCmd::Validators => return s::read(&c, "platon_getValidatorList", vec![]).await,
        StakingCmd::Candidate { node_id } => {
            id(&node_id)?;
            return s::read(&c, "platon_getCandidateInfo", vec![json!(node_id)]).await;
        }
        StakingCmd::Delegation { delegator, node_id } => {
            id(&node_id)?;
            return s::read(
                &c,
                "platon_getDelegateInfo",
                vec![json!(delegator), json!(node_id)],
            )
            .await;
        }
        StakingCmd::Create {
            node_id,
            amount,
            reward_per,
            name,
            benefit,
            bls_key,
            vrf_key,
        } => Write::Create {
            node_id: id(&node_id)?,
            amount: s::parse_lat(&amount)?,
            reward_per,
            name,
            benefit,
            bls: Box::new(s::read_bls_key(&bls_key)?),
            vrf: Box::new(s::read_vrf_key(&vrf_key)?),
        },
        StakingCmd::Edit {
            node_id,
            benefit,
            reward_per,
            name,
        } => Write::Edit {
            node_id: id(&node_id)?,
            benefit,
            reward_per,
            name,
        },
        StakingCmd::Increase { node_id, amount } => Write::Increase {
            node_id: id(&node_id)?,
            amount: s::parse_lat(&amount)?,
        },
        StakingCmd::Withdraw { node_id } => Write::Withdraw {
            node_id: id(&node_id)?,
        },
        StakingCmd::Delegate { node_id, amount } => Write::Delegate {
            node_id: id(&node_id)?,
            amount: s::parse_lat(&amount)?,
        },
        StakingCmd::Undelegate { node_id, amount } => Write::Undelegate {
            node_id: id(&node_id)?,
            amount: s::parse_lat(&amount)?,
        },
    };
    let key = key.ok_or("writes need --key FILE (or PLATON_ACCOUNT_KEY): the sending account")?;
    let key = s::read_account_key(&key)?;
    s::send(&c, &key, &write).await
}

fn localnet(cmd: LocalnetCmd) -> ExitCode {
    match cmd {
        LocalnetCmd::Init {
            nodes,
            validators,
            candidates,
            out,
            http_port,
            admin_port,
            overlay_port,
            subnet,
            amount,
            period_ms,
            responsive_ms,
            round_blocks,
            bootstrap,
            sentries,
        } => {
            let spec = platon_node::localnet::LocalnetSpec {
                amount,
                period_ms,
                responsive_ms,
                nodes,
                validators,
                candidates: candidates.unwrap_or(validators),
                round_blocks,
                bootstrap,
                sentries,
                out,
                http_port,
                admin_port,
                overlay_port,
                subnet,
            };
            match platon_node::localnet::init(&spec) {
                Ok(path) => {
                    out!("wrote {}", path.display());
                    if spec.bootstrap {
                        out!(
                            "  platon run --config {}",
                            spec.out.join("bootstrap.toml").display()
                        );
                    }
                    for k in 1..=nodes + validators * sentries {
                        out!(
                            "  platon run --config {}",
                            spec.out.join(format!("node{k}.toml")).display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn print_dev_accounts(node: &platon_node::RunningNode) {
    let keys = &node.ctx.dev_keys;
    if keys.is_empty() {
        return;
    }
    let each = node.ctx.config.dev.balance_ether;
    out!("\nAvailable Accounts\n==================");
    for (i, k) in keys.iter().enumerate() {
        out!("({i}) {} ({each} ETH)", k.address().to_checksum(None));
    }
    out!("\nPrivate Keys\n==================");
    for (i, k) in keys.iter().enumerate() {
        out!("({i}) 0x{}", hex::encode(k.to_bytes()));
    }
    out!(
        "\nWallet\n==================\nMnemonic:          {}\nDerivation path:   m/44'/60'/0'/0/\n",
        node.ctx.config.dev.mnemonic
    );
}

async fn run(args: RunArgs) -> ExitCode {
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let http = format!("http://{}:{}", config.http.addr, config.http.port);
    let node = match platon_node::start(config).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print_dev_accounts(&node);
    out!("Chain id:          {}", node.ctx.store.chain_id());
    out!(
        "Data directory:    {}{}",
        node.datadir.display(),
        if node.ctx.config.datadir.is_none() {
            " (temporary, removed at exit)"
        } else {
            ""
        }
    );
    out!("JSON-RPC:          {http} (HTTP and WebSocket)");
    if node.ctx.config.admin_enabled() {
        out!(
            "Admin API:         http://{}:{}",
            node.ctx.config.admin.addr,
            node.ctx.config.admin.port
        );
    }
    out!();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot install the SIGTERM handler: {e}");
            return ExitCode::from(1);
        }
    };
    let registry = node.tree.registry.clone();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = wait_root(&node) => {
            let why = registry.info("node").and_then(|i| i.last_failure).unwrap_or_else(|| "the supervision tree stopped".into());
            eprintln!("error: node stopped: {why}");
            node.shutdown().await;
            return ExitCode::from(1);
        }
    }
    tracing::info!("shutting down");
    node.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_root(node: &platon_node::RunningNode) {
    // The root supervisor's JoinHandle is owned by the tree handle; poll its liveness instead.
    loop {
        if node.tree.root.get_status() == ractor::ActorStatus::Stopped
            || node.tree.join.is_finished()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn admin(url: &str, token: Option<String>, cmd: AdminCmd) -> ExitCode {
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::http_client::HttpClientBuilder;
    let mut headers = http::HeaderMap::new();
    if let Some(t) = token {
        match http::HeaderValue::from_str(&format!("Bearer {t}")) {
            Ok(v) => {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            Err(_) => {
                eprintln!("error: the token contains characters not allowed in an HTTP header");
                return ExitCode::from(2);
            }
        }
    }
    let client = match HttpClientBuilder::default().set_headers(headers).build(url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: bad admin URL {url}: {e}");
            return ExitCode::from(2);
        }
    };
    let res: Result<serde_json::Value, _> = match &cmd {
        AdminCmd::Actors { .. } => {
            client
                .request("admin_actors", jsonrpsee::rpc_params![])
                .await
        }
        AdminCmd::NodeInfo => {
            client
                .request("admin_nodeInfo", jsonrpsee::rpc_params![])
                .await
        }
        AdminCmd::Peers => {
            client
                .request("admin_peers", jsonrpsee::rpc_params![])
                .await
        }
        AdminCmd::Restart { name } => {
            client
                .request("admin_restartActor", jsonrpsee::rpc_params![name])
                .await
        }
        AdminCmd::Fault { name, kind, arg } => match arg {
            Some(a) => {
                client
                    .request("admin_injectFault", jsonrpsee::rpc_params![name, kind, a])
                    .await
            }
            None => {
                client
                    .request("admin_injectFault", jsonrpsee::rpc_params![name, kind])
                    .await
            }
        },
    };
    let value = match res {
        Ok(v) => v,
        Err(jsonrpsee::core::ClientError::Call(obj)) => {
            eprintln!("error: {}", obj.message());
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("error: admin API at {url}: {e}");
            return ExitCode::from(1);
        }
    };
    match cmd {
        AdminCmd::Actors { json: true } => out!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        AdminCmd::Actors { json: false } => print!("{}", render_tree(&value)),
        AdminCmd::NodeInfo | AdminCmd::Peers => out!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        AdminCmd::Restart { name } => out!("restarted {name}"),
        AdminCmd::Fault { name, kind, .. } => out!("injected {kind} into {name}"),
    }
    ExitCode::SUCCESS
}

/// Renders `admin_actors` output as an indented tree with one line per actor.
fn render_tree(v: &serde_json::Value) -> String {
    let empty = vec![];
    let actors = v.as_array().unwrap_or(&empty);
    let by_name: std::collections::HashMap<&str, &serde_json::Value> = actors
        .iter()
        .filter_map(|a| Some((a.get("name")?.as_str()?, a)))
        .collect();
    let mut out = format!(
        "{:<28} {:<10} {:>10} {:>8} {:>9} {:>7} {:>8}  last failure\n",
        "actor", "status", "uptime_s", "restarts", "handled", "waiting", "rejected"
    );
    fn walk(
        name: &str,
        depth: usize,
        by: &std::collections::HashMap<&str, &serde_json::Value>,
        out: &mut String,
    ) {
        let Some(a) = by.get(name) else { return };
        let n = |k: &str| a.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        let label = format!("{}{}", "  ".repeat(depth), name);
        out.push_str(&format!(
            "{:<28} {:<10} {:>10} {:>8} {:>9} {:>7} {:>8}  {}\n",
            label,
            a.get("status").and_then(|s| s.as_str()).unwrap_or("?"),
            n("uptime_ms") / 1000,
            n("restarts"),
            n("messages_handled"),
            n("messages_waiting"),
            n("messages_rejected"),
            a.get("last_failure")
                .and_then(|s| s.as_str())
                .unwrap_or("-"),
        ));
        for c in a
            .get("children")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_str() {
                walk(c, depth + 1, by, out);
            }
        }
    }
    for a in actors {
        if a.get("parent").is_some_and(|p| p.is_null()) {
            if let Some(n) = a.get("name").and_then(|n| n.as_str()) {
                walk(n, 0, &by_name, &mut out);
            }
        }
    }
    out
}

fn db_check(args: &DbArgs) -> ExitCode {
    let store = match args.open() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let datadir = &args.datadir;
    let (blocks, nodes) = match store.check() {
        Ok(v) => v,
        Err(e) => {
            out!("FAILED: {e}");
            return ExitCode::from(1);
        }
    };
    let genesis = match store.block_by_number(0) {
        Ok(Some(b)) => platon_messages::snapshot::BlockRef {
            number: 0,
            hash: b.hash(),
        },
        _ => {
            out!("FAILED: the chain store has no genesis block");
            return ExitCode::from(1);
        }
    };
    let snap_dir = datadir.join(platon_actors::snapshot::SNAPSHOT_DIR);
    match platon_storage::snapshotdb::verify(&snap_dir, store.kv().as_ref(), genesis)
        .map_err(|e| e.to_string())
        .and_then(|(r, core)| {
            platon_actors::snapshot::check_against_chain(&store, &core).map(|c| (r, c))
        }) {
        Ok((r, c)) => {
            let torn = match r.replay.torn_bytes_cut {
                0 => String::new(),
                n => format!(" (a torn last record of {n} bytes will be cut at the next start)"),
            };
            out!(
                "OK: {blocks} blocks linked with matching receipt roots; every block's state trie complete ({nodes} distinct nodes verified); \
                 snapshotdb WAL chain intact ({} records, committed block {}, base block {}){torn}; \
                 staking data of {} committed blocks matches their state roots{}",
                r.replay.records,
                r.current.highest.number,
                r.current.base.number,
                c.verified,
                match (c.unreadable, c.ahead) {
                    (0, 0) => String::new(),
                    (u, a) => format!(" ({u} with pruned state not checked, {a} above the chain's head undone at the next start)"),
                }
            );
            if args.verbose {
                out!("  data directory:   {}", datadir.display());
                out!("  backend:          {}", store.kv().backend());
                out!("  state mode:       {:?}", store.mode());
                out!("  chain:            {blocks} canonical blocks, parent links and receipt roots verified");
                out!("  state tries:      {nodes} distinct trie nodes present and hashing to their keys");
                out!(
                    "  snapshotdb:       {} WAL records chained; committed block {} ({}); base block {} ({}); torn bytes {}",
                    r.replay.records,
                    r.current.highest.number,
                    r.current.highest.hash,
                    r.current.base.number,
                    r.current.base.hash,
                    r.replay.torn_bytes_cut
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            out!("FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

fn db_stats(args: &DbArgs) -> ExitCode {
    let store = match args.open() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let tables = match store.stats() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    out!(
        "{:<22} {:>12} {:>14} {:>14}",
        "table",
        "entries",
        "key bytes",
        "value bytes"
    );
    for t in &tables {
        out!(
            "{:<22} {:>12} {:>14} {:>14}",
            t.table,
            t.entries,
            t.key_bytes,
            t.value_bytes
        );
    }
    let wal = args
        .datadir
        .join(platon_actors::snapshot::SNAPSHOT_DIR)
        .join(platon_storage::snapshotdb::WAL_FILE);
    let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    out!(
        "{:<22} {:>12} {:>14} {:>14}",
        "snapshotdb WAL",
        "-",
        "-",
        wal_bytes
    );
    ExitCode::SUCCESS
}

/// Prints a command's JSON answer, or its error on standard error with exit status 1.
fn print_json(r: Result<serde_json::Value, String>) -> ExitCode {
    match r {
        Ok(v) => {
            out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The node's allocator. Unprefixed, so RocksDB's C++ allocations go through it as well.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's own figures for `/metrics`: the live heap, the pages it holds in RAM, and what it
/// keeps unmapped for reuse.
#[cfg(feature = "jemalloc")]
fn jemalloc_stats() -> Vec<(&'static str, u64)> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The statistics are a snapshot taken at the last epoch advance.
    if epoch::advance().is_err() {
        return Vec::new();
    }
    [
        ("allocated", stats::allocated::read()),
        ("resident", stats::resident::read()),
        ("retained", stats::retained::read()),
    ]
    .into_iter()
    .filter_map(|(part, v)| v.ok().map(|v| (part, v as u64)))
    .collect()
}

fn main() -> ExitCode {
    #[cfg(feature = "jemalloc")]
    platon_actors::metrics::set_allocator_stats(jemalloc_stats);
    let cli = Cli::parse();
    let (log, format) = match &cli.cmd {
        Cmd::Run(a) => (a.log.clone(), a.log_format),
        _ => ("warn".into(), LogFormat::Text),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&log) {
        // arkworks' constraint gadgets open a span per gadget (targets `gr1cs`, `r1cs`) and keep
        // one per constraint while proving: enabled, a proof of 10⁴ constraints takes gigabytes
        // and minutes. They stay off unless the filter names them.
        Ok(f) if !log.contains("r1cs") => ["gr1cs=off", "r1cs=off"]
            .iter()
            .filter_map(|d| d.parse().ok())
            .fold(f, |f, d| f.add_directive(d)),
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --log {log:?} is not a log filter ({e}); use e.g. info or platon_actors=debug");
            return ExitCode::from(2);
        }
    };
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        match cli.cmd {
            Cmd::Run(args) => run(*args).await,
            Cmd::Admin { cmd, url, token } => admin(&url, token, cmd).await,
            Cmd::Db {
                cmd: DbCmd::Check(args),
            } => db_check(&args),
            Cmd::Db {
                cmd: DbCmd::Stats(args),
            } => db_stats(&args),
            Cmd::Localnet { cmd } => localnet(cmd),
            Cmd::Bench {
                cmd: BenchCmd::Load(args),
            } => print_json(bench_load(args).await),
            Cmd::Staking { cmd, rpc, key } => print_json(staking(cmd, &rpc, key).await),
            Cmd::Vc { cmd } => print_json(vc(cmd).await),
        }
    })
}
