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
    /// Also write a bootstrap node (`bootstrap.toml`, on 127.0.<subnet>.1: overlay only, no
    /// chain) that every node joins through, instead of node 1.
    pub bootstrap: bool,
    /// Full nodes per validator that stand in front of it (the seed's deployment): numbered after
    /// the `nodes` nodes, each validator links to its own only, is never published, and keeps its
    /// JSON-RPC closed.
    pub sentries: usize,
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
    let total = spec.nodes + spec.validators * spec.sentries;
    if total > 200 {
        return Err(format!(
            "--nodes {} with --sentries {} per validator makes {total} nodes: at most 200",
            spec.nodes, spec.sentries
        ));
    }
    // The validator a sentry (node k, after the `nodes` ones) stands in front of.
    let sentry_of = |k: usize| (k > spec.nodes).then(|| (k - spec.nodes - 1) / spec.sentries + 1);
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
    for k in 1..=total {
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
        let node_id = overlay_key(&out.join(format!("node{k}")))?;
        candidates.push(platon_config::GenesisCandidate {
            node_id: format!("{node_id:032x}"),
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
    // The entry point: the bootstrap node when there is one, else node 1 (Node-IDs written now).
    let bootstrap = if spec.bootstrap {
        let id = overlay_key(&out.join("bootstrap"))?;
        let mut c = NodeConfig {
            datadir: Some(out.join("bootstrap")),
            chain: chain.clone(),
            ..NodeConfig::default()
        };
        c.node.role = platon_config::NodeRole::Bootstrap;
        c.admin.enabled = Some(true);
        c.admin.addr = node_ip(spec, 0);
        c.admin.port = spec.admin_port;
        c.admin.token = Some(token.clone());
        c.producer.enabled = false;
        c.overlay.enabled = true;
        c.overlay.listen = SocketAddr::new(node_ip(spec, 0), spec.overlay_port);
        c.overlay.refresh_secs = 10;
        c.redir.lifetime_secs = 60;
        c.redir.services = Vec::new();
        c.validate().map_err(|e| format!("bootstrap: {e}"))?;
        let text = toml::to_string_pretty(&c).map_err(|e| format!("bootstrap: {e}"))?;
        let path = out.join("bootstrap.toml");
        std::fs::write(
            &path,
            format!("# the bootstrap node of a local network written by `platon localnet init`: overlay only, no chain\n# start it with: platon run --config {}\n\n{text}", path.display()),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Some((path, id, c.overlay.listen))
    } else {
        None
    };
    // Sentries' overlay keys now, so validators can name them (and they their validator).
    let mut sentry_ids = std::collections::BTreeMap::new();
    for k in spec.nodes + 1..=total {
        sentry_ids.insert(k, overlay_key(&out.join(format!("node{k}")))?);
    }
    let overlay_addr = |k: usize| SocketAddr::new(node_ip(spec, k), spec.overlay_port);
    let entry = match (&bootstrap, candidates.first()) {
        (Some((_, id, addr)), _) => Some((*id, *addr)),
        // Behind sentries, validators take no links from strangers: the first sentry is the way in.
        (None, _) if !sentry_ids.is_empty() => sentry_ids
            .iter()
            .next()
            .map(|(k, id)| (*id, overlay_addr(*k))),
        (None, Some(first)) => u128::from_str_radix(&first.node_id, 16)
            .ok()
            .map(|id| (id, SocketAddr::new(node_ip(spec, 1), spec.overlay_port))),
        (None, None) => None,
    };
    let mut listed = Vec::new();
    for k in 1..=total {
        let ip = node_ip(spec, k);
        let guarded = k <= spec.validators && spec.sentries > 0;
        let mut c = NodeConfig {
            datadir: Some(out.join(format!("node{k}"))),
            chain: chain.clone(),
            ..NodeConfig::default()
        };
        c.node.role = if k <= spec.validators {
            platon_config::NodeRole::Validator
        } else {
            platon_config::NodeRole::Full
        };
        // Open on every node of a local network, validators too, so that tests and tools reach
        // each one; behind sentries a validator keeps the role's default: closed.
        if !guarded {
            c.http.enabled = Some(true);
        }
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
        // Every node joins through the entry point, checking its Node-ID (written at init).
        c.overlay.bootstrap = match entry {
            Some((_, addr)) if addr == c.overlay.listen => vec![],
            Some((id, addr)) => vec![platon_config::BootstrapNode { id: Some(id), addr }],
            None => vec![],
        };
        c.overlay.refresh_secs = 10;
        c.redir.lifetime_secs = 60;
        c.redir.services = if k <= spec.validators {
            vec!["validator".into(), "full-node".into()]
        } else {
            vec!["full-node".into()]
        };
        let own_sentries: Vec<(u128, SocketAddr)> = sentry_ids
            .iter()
            .filter(|(s, _)| sentry_of(**s) == Some(k))
            .map(|(s, id)| (*id, overlay_addr(*s)))
            .collect();
        if guarded {
            // Linked to its own sentries only, joined through them, registered nowhere.
            c.overlay.allow_peers = own_sentries
                .iter()
                .map(|(id, _)| format!("{id:032x}"))
                .collect();
            c.overlay.bootstrap = own_sentries
                .iter()
                .map(|(id, addr)| platon_config::BootstrapNode {
                    id: Some(*id),
                    addr: *addr,
                })
                .collect();
            c.redir.services = Vec::new();
        }
        if let Some(v) = sentry_of(k) {
            c.overlay.private_peers = candidates
                .get(v - 1)
                .map(|cand| vec![cand.node_id.clone()])
                .unwrap_or_default();
        }
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
            "role": c.node.role.name(),
            "sentryOf": sentry_of(k),
            "nodeId": sentry_ids.get(&k).map(|id| format!("{id:032x}")).or_else(|| candidates.get(k - 1).map(|c| c.node_id.clone())),
            "rpcOpen": c.rpc_enabled(),
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
        "bootstrap": bootstrap.map(|(config, id, addr)| json!({
            "config": config,
            "id": format!("{id:032x}"),
            "overlay": addr.to_string(),
            "admin": format!("http://{}:{}", node_ip(spec, 0), spec.admin_port),
        })),
    });
    let path = out.join("localnet.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Makes a node's overlay key in `datadir/overlay/node.key` (where the node reads it) and returns
/// its Node-ID, so configs written now can name the node.
fn overlay_key(datadir: &Path) -> Result<u128, String> {
    let key = platon_crypto::node_key::NodeKey::generate().map_err(|e| e.to_string())?;
    let file = datadir.join("overlay").join("node.key");
    crate::write_secret(&file, key.pkcs8()).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(u128::from_be_bytes(key.node_id()))
}

/// Reads a `localnet.json`.
pub fn read(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
