//! Prometheus metrics of one node, served in the OpenMetrics text format on the admin listener's
//! `/metrics`.
//!
//! Histograms (block execution and commit time, RPC latency per method) are recorded where the work
//! happens. Everything else is read when Prometheus scrapes: the supervision registry's per-actor
//! counters, the chain head, the consensus status (finality lag, view changes), the txpool's size and
//! the overlay's links and bytes. A scrape never blocks the node: each actor it asks answers within
//! the registry's call timeout, and a subsystem that does not run (or does not answer) is left out of
//! that scrape. A node without consensus or overlay reports zero view changes, peers and bytes.

use crate::handles::{CbftHandle, OverlayHandle, TxPoolHandle};
use crate::NodeContext;
use platon_supervision::{ActorStatus, Registry};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use std::sync::Arc;
use std::time::Instant;

/// The metric name prefix.
pub const PREFIX: &str = "platon";

/// The label set of per-method RPC latency.
type MethodLabel = [(&'static str, String); 1];

fn latency_histogram() -> Histogram {
    // 16 buckets: 50 µs, then factors of 2.5 up to about 47 s.
    Histogram::new(exponential_buckets(0.000_05, 2.5, 16))
}

/// The node's metrics: the recorded histograms and the registry they are encoded from.
pub struct NodeMetrics {
    registry: prometheus_client::registry::Registry,
    block_execution: Histogram,
    block_commit: Histogram,
    rpc: Family<MethodLabel, Histogram, fn() -> Histogram>,
    rpc_methods: parking_lot::RwLock<std::collections::HashSet<String>>,
    actors: Arc<Registry>,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMetrics").finish_non_exhaustive()
    }
}

/// RPC methods are labelled by name only when the gateway registered them: any other name a client
/// sends is counted as `other`, so clients cannot grow the label set.
pub const OTHER_METHOD: &str = "other";

/// What the last scrape read from the subsystems.
#[derive(Debug, Default, Clone)]
struct Scraped {
    head: Option<u64>,
    finalized: Option<u64>,
    highest_qc: Option<u64>,
    view: Option<u64>,
    view_changes: Option<u64>,
    pool: Option<(u64, u64)>,
    overlay: Option<OverlayFigures>,
    /// What the store holds in memory, by part (bytes).
    memory: Vec<(&'static str, u64)>,
    /// The process's resident set (bytes), where the OS tells it.
    rss: Option<u64>,
    /// The allocator's own figures, by part (bytes), when the binary registered them.
    allocator: Vec<(&'static str, u64)>,
    /// The accelerator's counters by kind of job.
    accelerator: Vec<crate::accelerator::KindFigures>,
}

#[derive(Debug, Default, Clone, Copy)]
struct OverlayFigures {
    peers: u64,
    routing_table: u64,
    bytes_sent: u64,
    bytes_received: u64,
    messages_sent: u64,
    messages_received: u64,
}

/// Encodes one scrape's figures and the supervision registry's actors.
struct NodeCollector {
    actors: Arc<Registry>,
    scraped: Scraped,
}

impl std::fmt::Debug for NodeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCollector").finish_non_exhaustive()
    }
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads the allocator's figures: (part, bytes).
pub type AllocatorStats = fn() -> Vec<(&'static str, u64)>;

/// What the process's allocator reports, by part (bytes): set once by the binary that chose it.
static ALLOCATOR_STATS: std::sync::OnceLock<AllocatorStats> = std::sync::OnceLock::new();

/// Registers the allocator's figures (for example jemalloc's `allocated` and `resident`), served as
/// `platon_memory_allocator_<part>_bytes`. The first registration wins.
pub fn set_allocator_stats(stats: AllocatorStats) {
    let _ = ALLOCATOR_STATS.set(stats);
}

/// The resident set size from `/proc/self/status` (None off Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

impl Collector for NodeCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.scraped;
        if let Some(rss) = s.rss {
            gauge(
                &mut enc,
                "process_resident_memory_bytes",
                "Resident memory of the node process.",
                clamp(rss),
            )?;
        }
        for (part, bytes) in &s.memory {
            gauge(
                &mut enc,
                &format!("memory_{part}_bytes"),
                "Memory the store holds in this part (trie node cache, RocksDB memtables, block cache, table readers).",
                clamp(*bytes),
            )?;
        }
        for (part, bytes) in &s.allocator {
            gauge(
                &mut enc,
                &format!("memory_allocator_{part}_bytes"),
                "What the allocator reports: allocated (live heap), resident (its pages in RAM), retained (unmapped, kept for reuse).",
                clamp(*bytes),
            )?;
        }
        if let Some(h) = s.head {
            gauge(
                &mut enc,
                "chain_height",
                "Number of the chain head.",
                clamp(h),
            )?;
        }
        if let Some(f) = s.finalized {
            gauge(
                &mut enc,
                "chain_finalized_height",
                "Number of the highest final block.",
                clamp(f),
            )?;
        }
        if let (Some(q), Some(f)) = (s.highest_qc.or(s.head), s.finalized) {
            gauge(
                &mut enc,
                "chain_finality_lag_blocks",
                "Blocks between the highest certified (or produced) block and the highest final one.",
                clamp(q.saturating_sub(f)),
            )?;
        }
        if let Some(v) = s.view {
            gauge(&mut enc, "cbft_view", "The current CBFT view.", clamp(v))?;
        }
        if let Some(v) = s.view_changes {
            counter(
                &mut enc,
                "cbft_view_changes",
                "View changes this node entered since its consensus actor started.",
                v,
            )?;
        }
        if let Some((pending, queued)) = s.pool {
            gauge(
                &mut enc,
                "txpool_pending",
                "Transactions executable now.",
                clamp(pending),
            )?;
            gauge(
                &mut enc,
                "txpool_queued",
                "Transactions waiting for a nonce gap to fill.",
                clamp(queued),
            )?;
        }
        if let Some(o) = s.overlay {
            gauge(
                &mut enc,
                "overlay_peers",
                "Open overlay links.",
                clamp(o.peers),
            )?;
            gauge(
                &mut enc,
                "overlay_routing_table_size",
                "Contacts in the overlay routing table.",
                clamp(o.routing_table),
            )?;
            counter(
                &mut enc,
                "overlay_sent_bytes",
                "Bytes written to overlay links.",
                o.bytes_sent,
            )?;
            counter(
                &mut enc,
                "overlay_received_bytes",
                "Bytes read from overlay links.",
                o.bytes_received,
            )?;
            counter(
                &mut enc,
                "overlay_sent_messages",
                "Overlay messages sent.",
                o.messages_sent,
            )?;
            counter(
                &mut enc,
                "overlay_received_messages",
                "Overlay messages received.",
                o.messages_received,
            )?;
        }
        self.encode_accelerator(&mut enc)?;
        self.encode_actors(&mut enc)
    }
}

impl NodeCollector {
    fn encode_accelerator(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        type Pick = fn(&crate::accelerator::KindFigures) -> u64;
        let series: [(&str, &str, Pick); 3] = [
            ("accelerator_jobs", "Accelerator jobs done, by kind.", |k| {
                k.jobs
            }),
            (
                "accelerator_failed_jobs",
                "Accelerator jobs that failed, by kind.",
                |k| k.failed,
            ),
            (
                "accelerator_busy_milliseconds",
                "Time the accelerator's backend spent on jobs, by kind.",
                |k| k.busy_ms,
            ),
        ];
        for (name, help, pick) in series {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for k in &self.scraped.accelerator {
                let labels = [("kind", k.kind.name().to_string())];
                ConstCounter::new(pick(k)).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn encode_actors(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType::{Counter, Gauge};
        let actors = self.actors.snapshot();
        type Pick = fn(&platon_supervision::ActorInfo) -> u64;
        let series: [(&str, &str, MetricType, Pick); 8] = [
            (
                "actor_messages_handled",
                "Messages the actor handled, all incarnations.",
                Counter,
                |a| a.messages_handled,
            ),
            (
                "actor_messages_rejected",
                "Messages refused because the actor's mailbox was full.",
                Counter,
                |a| a.messages_rejected,
            ),
            (
                "actor_messages_dropped",
                "Messages dropped by fault injection.",
                Counter,
                |a| a.messages_dropped,
            ),
            ("actor_restarts", "Restarts of the actor.", Counter, |a| {
                a.restarts
            }),
            (
                "actor_mailbox_depth",
                "Messages accepted and not yet handled.",
                Gauge,
                |a| a.messages_waiting,
            ),
            (
                "actor_mailbox_capacity",
                "The actor's mailbox bound.",
                Gauge,
                |a| a.mailbox_capacity,
            ),
            (
                "actor_up",
                "1 while the actor runs, 0 while it starts, restarts or is stopped.",
                Gauge,
                |a| u64::from(a.status == ActorStatus::Running),
            ),
            (
                "actor_uptime_seconds",
                "Seconds since the actor's current incarnation started.",
                Gauge,
                |a| a.uptime_ms / 1000,
            ),
        ];
        for (name, help, kind, pick) in series {
            let mut m = enc.encode_descriptor(name, help, None, kind)?;
            for a in &actors {
                let labels = [("actor", a.name.clone())];
                let family = m.encode_family(&labels)?;
                match kind {
                    Counter => ConstCounter::new(pick(a)).encode(family)?,
                    _ => ConstGauge::new(clamp(pick(a))).encode(family)?,
                }
            }
        }
        Ok(())
    }
}

impl NodeMetrics {
    /// The metrics of a node whose actors `actors` registers.
    pub fn new(actors: Arc<Registry>) -> Self {
        let mut registry = prometheus_client::registry::Registry::with_prefix(PREFIX);
        let block_execution = latency_histogram();
        registry.register(
            "block_execution_seconds",
            "Time to execute a block's transactions (built, validated or produced)",
            block_execution.clone(),
        );
        let block_commit = latency_histogram();
        registry.register(
            "block_commit_seconds",
            "Time to write a block, its receipts and its state to the chain store",
            block_commit.clone(),
        );
        let rpc: Family<MethodLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "rpc_request_duration_seconds",
            "JSON-RPC call latency on the gateway, by method",
            rpc.clone(),
        );
        Self {
            registry,
            block_execution,
            block_commit,
            rpc,
            rpc_methods: Default::default(),
            actors,
        }
    }

    /// Records one block execution that started at `since`.
    pub fn block_executed(&self, since: Instant) {
        self.block_execution.observe(since.elapsed().as_secs_f64());
    }

    /// Records one block commit that started at `since`.
    pub fn block_committed(&self, since: Instant) {
        self.block_commit.observe(since.elapsed().as_secs_f64());
    }

    /// Names the gateway's methods: only these get their own latency label.
    pub fn set_rpc_methods<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut m = self.rpc_methods.write();
        m.clear();
        m.extend(names.into_iter().map(str::to_string));
        m.insert(BATCH_METHOD.to_string());
    }

    /// The latency label of `method`: its name if the gateway registered it, else `other`.
    fn method_label(&self, method: &str) -> String {
        if self.rpc_methods.read().contains(method) {
            method.to_string()
        } else {
            OTHER_METHOD.to_string()
        }
    }

    fn observe_rpc(&self, label: String, secs: f64) {
        self.rpc.get_or_create(&[("method", label)]).observe(secs);
    }

    /// Records one RPC call of `method` that took `secs`.
    pub fn rpc_call(&self, method: &str, secs: f64) {
        self.observe_rpc(self.method_label(method), secs);
    }

    /// Reads the subsystems' figures and encodes every metric (OpenMetrics text).
    pub async fn render(&self, node: &NodeContext) -> String {
        self.encode(scrape(node).await)
    }

    /// Encodes the recorded metrics and one scrape's figures.
    fn encode(&self, scraped: Scraped) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut figures = prometheus_client::registry::Registry::with_prefix(PREFIX);
        figures.register_collector(Box::new(NodeCollector {
            actors: self.actors.clone(),
            scraped,
        }));
        let mut out = String::new();
        let res = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &figures))
            .and_then(|()| encode_eof(&mut out));
        if res.is_err() {
            tracing::warn!("metrics: encoding failed");
        }
        out
    }
}

/// The gateway's RPC middleware: times each call and records it under its method.
#[derive(Clone)]
pub struct RpcTimer<S> {
    service: S,
    metrics: Arc<NodeMetrics>,
}

impl<S> RpcTimer<S> {
    /// Wraps `service`, recording into `metrics`.
    pub fn new(service: S, metrics: Arc<NodeMetrics>) -> Self {
        Self { service, metrics }
    }
}

/// The label batches are recorded under (one observation per batch).
pub const BATCH_METHOD: &str = "batch";

impl<S> jsonrpsee::server::middleware::rpc::RpcServiceT for RpcTimer<S>
where
    S: jsonrpsee::server::middleware::rpc::RpcServiceT + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: jsonrpsee::types::Request<'a>,
    ) -> impl std::future::Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        let label = metrics.method_label(request.method_name());
        async move {
            let started = Instant::now();
            let rp = service.call(request).await;
            metrics.observe_rpc(label, started.elapsed().as_secs_f64());
            rp
        }
    }

    fn batch<'a>(
        &self,
        requests: jsonrpsee::core::middleware::Batch<'a>,
    ) -> impl std::future::Future<Output = Self::BatchResponse> + Send + 'a {
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        async move {
            let started = Instant::now();
            let rp = service.batch(requests).await;
            metrics.observe_rpc(BATCH_METHOD.to_string(), started.elapsed().as_secs_f64());
            rp
        }
    }

    fn notification<'a>(
        &self,
        n: jsonrpsee::core::middleware::Notification<'a>,
    ) -> impl std::future::Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}

async fn scrape(node: &NodeContext) -> Scraped {
    let (head, memory) = crate::blocking(|| {
        let head = node.store.head_header().ok().map(|h| h.number);
        (head, node.store.memory())
    });
    let mut s = Scraped {
        head,
        memory,
        rss: resident_bytes(),
        allocator: ALLOCATOR_STATS.get().map(|f| f()).unwrap_or_default(),
        accelerator: node.accelerator.figures(),
        ..Scraped::default()
    };
    let reg = &node.registry;
    if let Ok(p) = TxPoolHandle(reg.clone()).status().await {
        s.pool = Some((p.pending as u64, p.queued as u64));
    }
    let cbft = CbftHandle(reg.clone());
    if cbft.exists() {
        if let Ok(st) = cbft.status().await {
            s.finalized = st["committed"].as_u64();
            s.highest_qc = st["highestQc"]["number"].as_u64();
            s.view = st["view"].as_u64();
            s.view_changes = st["viewChanges"].as_u64();
        }
    } else {
        // The dev chain's blocks are final when they are committed, and it changes no views.
        s.finalized = s.head;
        s.view_changes = Some(0);
    }
    let overlay = OverlayHandle::of_node(reg.clone());
    s.overlay = match overlay.exists() {
        // A node outside an overlay has no peers and moves no bytes: zeros, so dashboards show them.
        false => Some(OverlayFigures::default()),
        true => {
            let info = overlay.info().await;
            let stats = overlay.stats().await;
            match (info, stats) {
                (Ok(info), Ok(stats)) => Some(OverlayFigures {
                    peers: info.links as u64,
                    routing_table: info.routing_table_size as u64,
                    bytes_sent: stats.links.bytes_sent,
                    bytes_received: stats.links.bytes_received,
                    messages_sent: stats.protocol.sent.values().sum(),
                    messages_received: stats.protocol.received.values().sum(),
                }),
                _ => None,
            }
        }
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_and_histograms_are_encoded() {
        let reg = Registry::new(false, std::time::Duration::from_secs(1));
        let m = NodeMetrics::new(reg);
        m.set_rpc_methods(["eth_blockNumber"]);
        m.rpc_call("eth_blockNumber", 0.001);
        m.rpc_call("made_up_method", 0.001);
        m.block_executed(Instant::now());
        let out = m.encode(Scraped {
            head: Some(10),
            finalized: Some(7),
            highest_qc: Some(9),
            memory: vec![("trie_node_cache", 1234)],
            rss: Some(5678),
            allocator: vec![("allocated", 4321)],
            ..Scraped::default()
        });
        assert!(out.contains("platon_memory_trie_node_cache_bytes 1234"));
        assert!(out.contains("platon_memory_allocator_allocated_bytes 4321"));
        assert!(out.contains("platon_process_resident_memory_bytes 5678"));
        assert!(
            out.contains("platon_rpc_request_duration_seconds_count{method=\"eth_blockNumber\"} 1")
        );
        assert!(out.contains("platon_rpc_request_duration_seconds_count{method=\"other\"} 1"));
        assert!(!out.contains("made_up_method"));
        assert!(out.contains("platon_block_execution_seconds_count 1"));
        assert!(out.contains("platon_chain_height 10"));
        assert!(out.contains("platon_chain_finality_lag_blocks 2"));
        assert!(out.ends_with("# EOF\n"));
    }
}
