//! `platon localnet init`: a local network of N nodes on 127.0.0.x, one config per node, a shared
//! genesis and `localnet.json` listing each node's config, JSON-RPC URL and admin URL.

use platon_config::{AllocEntry, NodeConfig};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// What `localnet init` is asked for.
#[derive(Debug, Clone)]
pub struct LocalnetSpec {
    /// Number of nodes.
    pub nodes: usize,
    /// How many of them are validators (the first ones).
    pub validators: usize,
    /// How many of them are staked candidates at genesis (the first ones, at least the validators).
    pub candidates: usize,
    /// Output folder.
    pub out: PathBuf,
    /// JSON-RPC port of every node (each node has its own 127.0.0.x address).
    pub http_port: u16,
    /// Admin port.
    pub admin_port: u16,
    /// Overlay port.
    pub overlay_port: u16,
    /// Third octet of the nodes' addresses: node k listens on 127.0.<octet>.<k+1>.
    pub subnet: u8,
    /// CBFT blocks per view.
    pub amount: u32,
    /// CBFT view window (ms).
    pub period_ms: u64,
    /// Responsive CBFT pacing with this minimum block interval (ms); None: period / amount.
    pub responsive_ms: Option<u64>,
    /// Blocks per PPoS round (None: `amount` × validators when there are more candidates than
    /// validators, so that seats rotate; else 0, the validators validate for good).
    pub round_blocks: Option<u64>,
}

impl LocalnetSpec {
    /// Blocks per round the network is written with (0: no rotation).
    pub fn rounds(&self) -> u64 {
        self.round_blocks
            .unwrap_or(if self.candidates > self.validators {
                u64::from(self.amount).saturating_mul(self.validators as u64)
            } else {
                0
            })
    }
}

/// The address of node `k` (1-based).
pub fn node_ip(spec: &LocalnetSpec, k: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, spec.subnet, (k + 1) as u8))
}

/// Writes the network; returns the path of `localnet.json`.
pub fn init(spec: &LocalnetSpec) -> Result<PathBuf, String> {
    if spec.nodes == 0 || spec.nodes > 200 {
        return Err(format!("--nodes {}: between 1 and 200", spec.nodes));
    }
    if spec.validators > spec.nodes {
        return Err(format!(
            "--validators {} is more than --nodes {}",
            spec.validators, spec.nodes
        ));
    }
    if spec.candidates > spec.nodes || spec.candidates < spec.validators {
        return Err(format!(
            "--candidates {}: between --validators {} and --nodes {}",
            spec.candidates, spec.validators, spec.nodes
        ));
    }
    if spec.out.join("localnet.json").exists() {
        return Err(format!(
            "{} already holds a local network (localnet.json); choose another --out or remove it",
            spec.out.display()
        ));
    }
    std::fs::create_dir_all(&spec.out)
        .map_err(|e| format!("cannot create {}: {e}", spec.out.display()))?;
    let out = spec
        .out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", spec.out.display()))?;

    // The genesis funds the ten test-mnemonic accounts, as --dev does.
    let mut dev = NodeConfig::default();
    dev.dev.enabled = true;
    let mut alloc: Vec<AllocEntry> = dev
        .genesis_alloc()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(address, balance)| AllocEntry { address, balance })
        .collect();
    // Each node has an account of its own (`nodeK/account.key`), funded with 1,000,000 LAT: it pays
    // for the double-sign reports the node sends.
    let mut accounts = Vec::new();
    for k in 1..=spec.nodes {
        let key = platon_crypto::SecretKey::random().map_err(|e| e.to_string())?;
        let file = out.join(format!("node{k}")).join("account.key");
        crate::write_secret(&file, hex::encode(key.to_bytes()).as_bytes())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        alloc.push(AllocEntry {
            address: key.address(),
            balance: alloy_primitives::U256::from(10u64).pow(alloy_primitives::U256::from(24)),
        });
        accounts.push((key.address(), file));
    }
    let mut chain = NodeConfig::default().chain;
    chain.alloc = alloc;
    chain.genesis_timestamp = 0;
    let genesis =
        toml::to_string_pretty(&json!({ "chain": chain })).map_err(|e| format!("genesis: {e}"))?;
    std::fs::write(out.join("genesis.toml"), &genesis).map_err(|e| e.to_string())?;

    let token = hex::encode(
        platon_crypto::node_key::NodeKey::generate()
            .map_err(|e| e.to_string())?
            .node_id(),
    );
    // One BLS key per validator, each in its node's folder; every config lists the public keys.
    let mut bls_files = Vec::new();
    let mut validators = Vec::new();
    let mut vrf_files = Vec::new();
    let mut vrf_keys = Vec::new();
    let mut candidates = Vec::new();
    for k in 1..=spec.candidates {
        // And a VRF key: each block carries its proposer's VRF proof of the new seed.
        let seed = platon_crypto::vrf::random_seed().map_err(|e| e.to_string())?;
        let vrf = platon_crypto::vrf::VrfSecretKey::from_seed(&seed).map_err(|e| e.to_string())?;
        let vrf_file = out
            .join(format!("node{k}"))
            .join("consensus")
            .join("vrf.key");
        crate::write_secret(&vrf_file, hex::encode(seed).as_bytes())
            .map_err(|e| format!("{}: {e}", vrf_file.display()))?;
        if k <= spec.validators {
            vrf_keys.push(hex::encode(vrf.public_key().to_bytes()));
        }
        vrf_files.push(vrf_file);
        let key = platon_crypto::bls::BlsSecretKey::random().map_err(|e| e.to_string())?;
        let file = out
            .join(format!("node{k}"))
            .join("consensus")
            .join("bls.key");
        crate::write_secret(&file, hex::encode(key.to_bytes()).as_bytes())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        // The node's overlay key now, so its Node-ID can be staked in the genesis.
        let node_key = platon_crypto::node_key::NodeKey::generate().map_err(|e| e.to_string())?;
        let key_file = out
            .join(format!("node{k}"))
            .join("overlay")
            .join("node.key");
        crate::write_secret(&key_file, node_key.pkcs8())
            .map_err(|e| format!("{}: {e}", key_file.display()))?;
        candidates.push(platon_config::GenesisCandidate {
            node_id: hex::encode(node_key.node_id()),
            staking_address: accounts[k - 1].0,
            benefit_address: accounts[k - 1].0,
            bls_key: hex::encode(key.public_key().to_bytes()),
            vrf_key: hex::encode(vrf.public_key().to_bytes()),
            stake_lat: 100_000,
            reward_per: 5000,
            name: format!("node{k}"),
        });
        if k <= spec.validators {
            validators.push(hex::encode(key.public_key().to_bytes()));
        }
        bls_files.push(file);
    }
    let first_overlay = SocketAddr::new(node_ip(spec, 1), spec.overlay_port);
    let mut listed = Vec::new();
    for k in 1..=spec.nodes {
        let ip = node_ip(spec, k);
        let mut c = NodeConfig {
            datadir: Some(out.join(format!("node{k}"))),
            chain: chain.clone(),
            ..NodeConfig::default()
        };
        c.http.addr = ip;
        c.http.port = spec.http_port;
        c.admin.enabled = Some(true);
        c.admin.addr = ip;
        c.admin.port = spec.admin_port;
        c.admin.token = Some(token.clone());
        // Blocks come from CBFT among the validators (none: the network only relays).
        c.producer.enabled = false;
        c.cbft.enabled = spec.validators > 0;
        c.cbft.validators = validators.clone();
        c.cbft.amount = spec.amount;
        c.cbft.period_ms = spec.period_ms;
        if let Some(ms) = spec.responsive_ms {
            c.cbft.responsive = true;
            c.cbft.min_interval_ms = ms;
        }
        c.cbft.key_file = bls_files.get(k - 1).cloned();
        c.cbft.vrf_keys = vrf_keys.clone();
        c.cbft.vrf_key_file = vrf_files.get(k - 1).cloned();
        c.cbft.report_key_file = Some(accounts[k - 1].1.clone());
        c.ppos.genesis_candidates = candidates.clone();
        // Rotation: every candidate may be elected, so each signs and proves with its own keys
        // and is paid as the beneficiary of the blocks it builds.
        let rounds = spec.rounds();
        if rounds > 0 {
            c.ppos.round_blocks = rounds;
            c.ppos.epoch_rounds = 5;
            c.ppos.election_distance = 4.min(rounds.saturating_sub(1)).max(2);
            c.ppos.reward_pool_lat = 10_000_000;
            c.ppos.max_verifiers = spec.candidates;
        }
        c.dev.coinbase = accounts[k - 1].0;
        c.overlay.enabled = true;
        c.overlay.listen = SocketAddr::new(ip, spec.overlay_port);
        // Every node joins through node 1, checking its Node-ID (written at init).
        c.overlay.bootstrap = match (k, candidates.first()) {
            (1, _) | (_, None) => vec![],
            (_, Some(first)) => vec![platon_config::BootstrapNode {
                id: u128::from_str_radix(&first.node_id, 16).ok(),
                addr: first_overlay,
            }],
        };
        c.overlay.refresh_secs = 10;
        c.redir.lifetime_secs = 60;
        c.redir.services = if k <= spec.validators {
            vec!["validator".into(), "full-node".into()]
        } else {
            vec!["full-node".into()]
        };
        c.validate().map_err(|e| format!("node{k}: {e}"))?;
        let text = toml::to_string_pretty(&c).map_err(|e| format!("node{k}: {e}"))?;
        let path = out.join(format!("node{k}.toml"));
        std::fs::write(
            &path,
            format!("# node{k} of a local network written by `platon localnet init`\n# start it with: platon run --config {}\n\n{text}", path.display()),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        listed.push(json!({
            "name": format!("node{k}"),
            "config": path,
            "rpc": format!("http://{ip}:{}", spec.http_port),
            "admin": format!("http://{ip}:{}", spec.admin_port),
            "overlay": SocketAddr::new(ip, spec.overlay_port).to_string(),
            "validator": k <= spec.validators,
            "account": accounts[k - 1].0,
        }));
    }
    let summary = json!({
        "chainId": chain.chain_id,
        "genesis": out.join("genesis.toml"),
        "adminToken": token,
        "validators": validators,
        "vrfKeys": vrf_keys,
        "candidates": candidates.iter().map(|c| c.node_id.clone()).collect::<Vec<_>>(),
        "roundBlocks": spec.rounds(),
        "nodes": listed,
    });
    let path = out.join("localnet.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Reads a `localnet.json`.
pub fn read(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
