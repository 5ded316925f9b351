//! Consensus-only benchmark: validators running the node's CBFT [`Core`] with real BLS votes and
//! QCs and the real consensus WAL (fsynced before a signed message leaves), linked by loopback
//! TCP, order opaque payloads (512 bytes by default) with no transaction signatures and no
//! execution. It is the counterpart of HotStuff's benchmark (asonnino/hotstuff: 4 nodes, 512-byte
//! transactions, clients sending to every node), so the figures can stand beside each other.
//!
//! A client thread offers payloads open-loop at `--rate` per second to every validator (as a
//! transaction reaches every pool through the flood); each payload carries its id and creation
//! time. The proposer fills a block with up to `--block` of the oldest payloads it holds; each
//! validator drops from its pool what a block it saw carries. Latency runs from a payload's
//! creation to its commit at validator 0. Both pacings run, one after the other in the same run:
//! responsive (the next block as soon as its parent has a QC) and PlatON's period / amount.
//!
//! ```text
//! cargo bench -p platon-actors --bench consensus -- [--rate 50000] [--seconds 10] [--size 512]
//!     [--block 5000] [--min-interval-ms 10] [--amount 10] [--period-ms 2000] [--no-wal]
//!     [--only responsive|period]
//! ```
//!
//! Prints one JSON line per pacing, then a table.

use alloy_primitives::{keccak256, B256};
use platon_actors::cbft::core::{Core, Out, Params, WalRecord};
use platon_actors::cbft::crypto::BlsCrypto;
use platon_actors::cbft::sim::genesis;
use platon_actors::cbft::wal::{ConsensusWal, WAL_COMPACT_AT};
use platon_crypto::bls::{BlsPublicKey, BlsSecretKey};
use platon_messages::cbft::{BlockInfo, CbftMsg, VoteData};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one run measures.
#[derive(Clone)]
struct Args {
    nodes: u32,
    rate: u64,
    seconds: u64,
    warmup: u64,
    size: usize,
    block: usize,
    min_interval_ms: u64,
    amount: u32,
    period_ms: u64,
    wal: bool,
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        nodes: 4,
        rate: 50_000,
        seconds: 10,
        warmup: 2,
        size: 512,
        block: 5_000,
        min_interval_ms: 10,
        amount: 10,
        period_ms: 2_000,
        wal: true,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut num = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match k.as_str() {
            "--rate" => a.rate = num("--rate"),
            "--seconds" => a.seconds = num("--seconds"),
            "--warmup" => a.warmup = num("--warmup"),
            "--size" => a.size = (num("--size") as usize).max(16),
            "--block" => a.block = (num("--block") as usize).max(1),
            "--min-interval-ms" => a.min_interval_ms = num("--min-interval-ms"),
            "--amount" => a.amount = num("--amount").max(1) as u32,
            "--period-ms" => a.period_ms = num("--period-ms").max(1),
            "--nodes" => a.nodes = num("--nodes").clamp(1, 32) as u32,
            "--no-wal" => a.wal = false,
            "--only" => a.only = it.next(),
            "--bench" => {} // cargo bench passes it
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Frames queued for one link to a peer.
type Link = SyncSender<Arc<Vec<u8>>>;

/// What reaches a validator's loop.
enum Event {
    Net(CbftMsg),
}

/// What a run saw at validator 0.
#[derive(Default)]
struct Stats {
    latencies_us: Vec<u64>,
    committed: u64,
    blocks: u64,
    bytes: u64,
    view_changes: u64,
    duplicates: u64,
}

fn now_us(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

fn block_hash(parent: &B256, number: u64, view: u64, index: u32, payload: &[u8]) -> B256 {
    let mut buf = Vec::with_capacity(32 + 8 + 8 + 4 + 32);
    buf.extend_from_slice(parent.as_slice());
    buf.extend_from_slice(&number.to_be_bytes());
    buf.extend_from_slice(&view.to_be_bytes());
    buf.extend_from_slice(&index.to_be_bytes());
    buf.extend_from_slice(keccak256(payload).as_slice());
    keccak256(&buf)
}

fn ids(payload: &[u8], size: usize) -> impl Iterator<Item = (u64, u64)> + '_ {
    payload.chunks_exact(size).map(|c| {
        let id = u64::from_be_bytes(c[0..8].try_into().unwrap_or_default());
        let t = u64::from_be_bytes(c[8..16].try_into().unwrap_or_default());
        (id, t)
    })
}

/// Frames a message: u32 length, then its encoding.
fn frame(m: &CbftMsg) -> Arc<Vec<u8>> {
    let body = m.encode();
    let mut f = Vec::with_capacity(4 + body.len());
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(&body);
    Arc::new(f)
}

struct Node {
    me: u32,
    core: Core,
    wal: Option<ConsensusWal>,
    links: Vec<Option<SyncSender<Arc<Vec<u8>>>>>,
    pool: BTreeMap<u64, Arc<Vec<u8>>>,
    included: HashSet<u64>,
    size: usize,
    block: usize,
    epoch: u64,
    t0: Instant,
    measure_from_us: u64,
    measure_to_us: u64,
    stats: Stats,
    committed_ids: HashSet<u64>,
}

impl Node {
    fn now(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn send(&self, to: Option<u32>, m: &CbftMsg) {
        let f = frame(m);
        for (j, l) in self.links.iter().enumerate() {
            if let Some(l) = l {
                if to.is_none() || to == Some(j as u32) {
                    let _ = l.send(f.clone());
                }
            }
        }
    }

    fn forget(&mut self, payload: &[u8]) {
        for (id, _) in ids(payload, self.size) {
            self.pool.remove(&id);
            self.included.insert(id);
        }
    }

    fn run_outputs(&mut self) {
        for _ in 0..10_000 {
            let outs = self.core.drain();
            if outs.is_empty() {
                return;
            }
            let mut records: Vec<WalRecord> = Vec::new();
            for out in outs {
                if !matches!(out, Out::Persist(_)) && !records.is_empty() {
                    if let Some(w) = self.wal.as_mut() {
                        w.write_all(&records).expect("consensus WAL");
                    }
                    records.clear();
                }
                match out {
                    Out::Persist(r) => records.push(r),
                    Out::Broadcast(m) => self.send(None, &m),
                    Out::SendTo(j, m) => self.send(Some(j), &m),
                    Out::Build {
                        parent,
                        number,
                        view,
                        index,
                    } => {
                        let take: Vec<u64> = self.pool.keys().take(self.block).copied().collect();
                        let mut payload = Vec::with_capacity(take.len() * self.size);
                        for id in take {
                            if let Some(p) = self.pool.remove(&id) {
                                payload.extend_from_slice(&p);
                                self.included.insert(id);
                            }
                        }
                        let hash = block_hash(&parent, number, view, index, &payload);
                        let block = BlockInfo {
                            data: VoteData {
                                epoch: self.epoch,
                                view,
                                index,
                                number,
                                hash,
                            },
                            parent,
                            proposer: self.me,
                        };
                        let now = self.now();
                        self.core.proposed(block, payload, now);
                    }
                    Out::Validate { block, payload } => {
                        let d = block.data;
                        let ok = payload.len() % self.size == 0
                            && block_hash(&block.parent, d.number, d.view, d.index, &payload)
                                == d.hash;
                        if ok {
                            self.forget(&payload);
                        }
                        let now = self.now();
                        self.core.validated(d.hash, ok, now);
                    }
                    Out::Commit { payload, .. } => {
                        self.forget(&payload);
                        if self.me == 0 {
                            let t = now_us(self.t0);
                            let measuring = t >= self.measure_from_us && t < self.measure_to_us;
                            if measuring {
                                self.stats.blocks += 1;
                                self.stats.bytes += payload.len() as u64;
                            }
                            for (id, created) in ids(&payload, self.size) {
                                if !self.committed_ids.insert(id) {
                                    self.stats.duplicates += 1;
                                    continue;
                                }
                                if measuring && created >= self.measure_from_us {
                                    self.stats.committed += 1;
                                    self.stats.latencies_us.push(t.saturating_sub(created));
                                }
                            }
                        }
                        if let Some(w) = self.wal.as_mut() {
                            if w.len() >= WAL_COMPACT_AT {
                                let view = self.core.committed().data.view;
                                w.compact(view).expect("WAL compaction");
                            }
                        }
                        if self.included.len() > 4_000_000 {
                            self.included.clear(); // bounded; old ids never come back
                        }
                    }
                    Out::Evidence(_) | Out::SwitchRound { .. } => {}
                }
            }
            if !records.is_empty() {
                if let Some(w) = self.wal.as_mut() {
                    w.write_all(&records).expect("consensus WAL");
                }
            }
        }
    }
}

/// One measurement: `responsive` picks the pacing.
fn measure(a: &Args, responsive: bool, port_base: u16) -> serde_json::Value {
    let n = a.nodes;
    let keys: Vec<BlsSecretKey> = (0..n)
        .map(|i| BlsSecretKey::from_ikm(&keccak256(i.to_be_bytes()).0).expect("key"))
        .collect();
    let pks: Vec<BlsPublicKey> = keys.iter().map(|k| k.public_key()).collect();
    let params = Params {
        validators: n,
        amount: a.amount,
        period_ms: a.period_ms,
        responsive_ms: responsive.then_some(a.min_interval_ms),
        // No faults here: only the view timeout.
        progress_timeout_ms: None,
        epoch: 1,
        round_blocks: 0,
    };
    // The WAL on the target folder's disk (a tmpfs would make its fsyncs free).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let measure_from_us = a.warmup * 1_000_000;
    let measure_to_us = (a.warmup + a.seconds) * 1_000_000;

    // Listeners first, then one outgoing link per ordered pair.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|i| TcpListener::bind(("127.0.0.1", port_base + i as u16)).expect("bind"))
        .collect();
    let mut inboxes: Vec<(SyncSender<Event>, Receiver<Event>)> =
        (0..n).map(|_| sync_channel(16_384)).collect();
    for (i, l) in listeners.into_iter().enumerate() {
        let tx = inboxes[i].0.clone();
        let expect = n as usize - 1;
        std::thread::spawn(move || {
            for _ in 0..expect {
                let Ok((s, _)) = l.accept() else { return };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::with_capacity(1 << 20, s);
                    loop {
                        let mut len = [0u8; 4];
                        if r.read_exact(&mut len).is_err() {
                            return;
                        }
                        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                        if r.read_exact(&mut body).is_err() {
                            return;
                        }
                        match CbftMsg::decode(&body) {
                            Ok(m) => {
                                if tx.send(Event::Net(m)).is_err() {
                                    return;
                                }
                            }
                            Err(e) => panic!("undecodable frame: {e:?}"),
                        }
                    }
                });
            }
        });
    }
    let mut links: Vec<Vec<Option<Link>>> = Vec::new();
    for i in 0..n {
        let mut row = Vec::new();
        for j in 0..n {
            if i == j {
                row.push(None);
                continue;
            }
            let s = TcpStream::connect(("127.0.0.1", port_base + j as u16)).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(4_096);
            std::thread::spawn(move || {
                let mut w = BufWriter::with_capacity(1 << 20, s);
                while let Ok(f) = rx.recv() {
                    if w.write_all(&f).is_err() {
                        return;
                    }
                    // Coalesce what is already queued into one write.
                    while let Ok(f) = rx.try_recv() {
                        if w.write_all(&f).is_err() {
                            return;
                        }
                    }
                    if w.flush().is_err() {
                        return;
                    }
                }
            });
            row.push(Some(tx));
        }
        links.push(row);
    }

    // Payload queues: the client offers each payload to every validator.
    let pays: Vec<(Link, Receiver<Arc<Vec<u8>>>)> = (0..n).map(|_| sync_channel(200_000)).collect();
    let offered = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let client = {
        let txs: Vec<SyncSender<Arc<Vec<u8>>>> = pays.iter().map(|p| p.0.clone()).collect();
        let (stop, offered, refused) = (stop.clone(), offered.clone(), refused.clone());
        let (rate, size) = (a.rate, a.size);
        std::thread::spawn(move || {
            let mut id = 0u64;
            let tick = Duration::from_millis(5);
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                next += tick;
                let due = (t0.elapsed().as_micros() as u64).saturating_mul(rate) / 1_000_000;
                while id < due {
                    let mut p = vec![0u8; size];
                    p[0..8].copy_from_slice(&id.to_be_bytes());
                    p[8..16].copy_from_slice(&now_us(t0).to_be_bytes());
                    let p = Arc::new(p);
                    for tx in &txs {
                        match tx.try_send(p.clone()) {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(TrySendError::Disconnected(_)) => return,
                        }
                    }
                    offered.fetch_add(1, Ordering::Relaxed);
                    id += 1;
                }
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        })
    };

    let results = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for (i, ((_, inbox), (_, pay_rx))) in inboxes.drain(..).zip(pays).enumerate() {
        let crypto = Arc::new(BlsCrypto::new(Some(keys[i].clone()), pks.clone()));
        let (wal, records) = if a.wal {
            let (w, r, _) =
                ConsensusWal::open(&dir.path().join(format!("wal{i}"))).expect("open WAL");
            (Some(w), r)
        } else {
            (None, Vec::new())
        };
        let core = Core::new(
            params.clone(),
            Some(i as u32),
            crypto,
            genesis(1),
            &records,
            0,
        );
        let mut node = Node {
            me: i as u32,
            core,
            wal,
            links: links[i].clone(),
            pool: BTreeMap::new(),
            included: HashSet::new(),
            size: a.size,
            block: a.block,
            epoch: 1,
            t0,
            measure_from_us,
            measure_to_us,
            stats: Stats::default(),
            committed_ids: HashSet::new(),
        };
        let (stop, results) = (stop.clone(), results.clone());
        threads.push(std::thread::spawn(move || {
            let mut last_tick = 0;
            while !stop.load(Ordering::Relaxed) {
                while let Ok(p) = pay_rx.try_recv() {
                    let id = u64::from_be_bytes(p[0..8].try_into().unwrap_or_default());
                    if !node.included.contains(&id) && node.pool.len() < 1_000_000 {
                        node.pool.insert(id, p);
                    }
                }
                match inbox.recv_timeout(Duration::from_millis(1)) {
                    Ok(Event::Net(m)) => {
                        let now = node.now();
                        node.core.on_message(m, now);
                        node.run_outputs();
                        // Whatever else is queued, before the timer.
                        for _ in 0..256 {
                            match inbox.try_recv() {
                                Ok(Event::Net(m)) => {
                                    let now = node.now();
                                    node.core.on_message(m, now);
                                    node.run_outputs();
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                let now = node.now();
                if now != last_tick {
                    last_tick = now;
                    node.core.tick(now);
                    node.run_outputs();
                }
            }
            node.stats.view_changes = node.core.activity().view_changes;
            if node.me == 0 {
                results
                    .lock()
                    .expect("results")
                    .push((node.stats, node.core.committed().data.number));
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(a.warmup + a.seconds));
    let offered_total = offered.load(Ordering::Relaxed);
    // Payloads created in the window still commit a little after it: wait for them.
    std::thread::sleep(Duration::from_millis(1_000));
    stop.store(true, Ordering::Relaxed);
    let _ = client.join();
    for t in threads {
        let _ = t.join();
    }
    let (mut s, height) = results.lock().expect("results").pop().expect("validator 0");
    s.latencies_us.sort_unstable();
    let pct = |q: f64| -> f64 {
        if s.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((s.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        s.latencies_us[i] as f64 / 1_000.0
    };
    let secs = a.seconds as f64;
    serde_json::json!({
        "pacing": if responsive { "responsive" } else { "period" },
        "validators": n,
        "payload_bytes": a.size,
        "offered_per_sec": a.rate,
        "offered_total": offered_total,
        "refused_by_full_pools": refused.load(Ordering::Relaxed),
        "committed_per_sec": (s.committed as f64 / secs).round(),
        "blocks_per_sec": (s.blocks as f64 / secs * 10.0).round() / 10.0,
        "mb_per_sec": (s.bytes as f64 / secs / 1e6 * 10.0).round() / 10.0,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "view_changes": s.view_changes,
        "duplicates": s.duplicates,
        "height": height,
        "wal": a.wal,
        "min_interval_ms": if responsive { Some(a.min_interval_ms) } else { None },
        "amount": a.amount,
        "period_ms": a.period_ms,
    })
}

fn main() {
    let a = args();
    let mut rows = Vec::new();
    let mut port = 27_000 + (std::process::id() % 1_000) as u16 * 16;
    for (name, responsive) in [("responsive", true), ("period", false)] {
        if a.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let r = measure(&a, responsive, port);
        port += 8;
        println!("{r}");
        rows.push(r);
    }
    println!(
        "\n{:<11} {:>9} {:>11} {:>9} {:>8} {:>8} {:>8} {:>6}",
        "pacing", "offered/s", "committed/s", "blocks/s", "p50 ms", "p99 ms", "max ms", "VCs"
    );
    for r in &rows {
        println!(
            "{:<11} {:>9} {:>11} {:>9} {:>8.1} {:>8.1} {:>8.1} {:>6}",
            r["pacing"].as_str().unwrap_or(""),
            r["offered_per_sec"],
            r["committed_per_sec"],
            r["blocks_per_sec"],
            r["p50_ms"].as_f64().unwrap_or(f64::NAN),
            r["p99_ms"].as_f64().unwrap_or(f64::NAN),
            r["max_ms"].as_f64().unwrap_or(f64::NAN),
            r["view_changes"],
        );
    }
}
