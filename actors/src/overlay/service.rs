//! The `overlay` actor: the [`Core`] state machine over real TLS links.
//!
//! Each link is its own ractor actor, linked to a per-incarnation link supervisor: a link that
//! fails (write error, panic) stops alone, the supervisor reports it and the overlay forgets the
//! peer; every other link goes on. Links open on demand when the core sends to a contact that has
//! none: TCP, TLS 1.3 with both certificates checked against the Node-IDs, then an Attach exchange
//! that tells each side where the other listens.

use super::core::{Core, Effect, Event, Params, Privacy};
use super::tls::{cert_node_id, configs, Ed25519Signer};
use crate::handles::OverlayHandle;
use crate::now_ms;
use platon_crypto::node_key::NodeKey;
use platon_messages::reload::{
    Attach, Body, Contact, Destination, FloodTopic, ForwardingHeader, Frame, IceCandidate,
    KindData, Message, NodeId, SecurityBlock, Signature,
};
use platon_supervision::{BoxError, CallError, Ctx, Registry, Service};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsStream;

/// How often the core's timers run.
const TICK: Duration = Duration::from_millis(250);
/// Deadline of TCP connect, TLS handshake and Attach together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the routing table is written to the peers file (when it changed).
const SAVE_PEERS_MS: u64 = 10_000;
/// Back-off of join attempts while the routing table is empty.
const REJOIN_MIN_MS: u64 = 2_000;
const REJOIN_MAX_MS: u64 = 60_000;
/// Messages waiting for a link that is being opened, per peer.
const MAX_WAITING: usize = 256;
/// Inbound handshakes in progress at most.
const MAX_HANDSHAKES: usize = 64;

/// Settings of one overlay peer.
#[derive(Clone)]
pub struct OverlaySettings {
    /// Protocol parameters.
    pub params: Params,
    /// Where to listen (port 0: any).
    pub listen: SocketAddr,
    /// Where other nodes reach us (defaults to the bound listen address).
    pub advertise: Option<SocketAddr>,
    /// Nodes to join through, with the Node-ID each must prove when it is known.
    pub bootstrap: Vec<(Option<NodeId>, SocketAddr)>,
    /// At most this many open links.
    pub max_links: usize,
    /// Messages queued per link at most; more are dropped and counted.
    pub link_queue: usize,
    /// Largest frame a link reads; a longer one closes the link before anything is allocated.
    pub max_frame_bytes: usize,
    /// Messages a link takes from its peer per second (a token bucket); more are dropped and
    /// counted, so one flooding peer cannot fill the overlay's mailbox.
    pub max_messages_per_sec: u32,
    /// A write to a peer that does not finish in this long (a peer that stopped reading) closes
    /// the link (ms).
    pub write_timeout_ms: u64,
    /// Where the routing table's contacts are kept across restarts, so a node whose bootstrap
    /// nodes are gone (or that is itself the bootstrap node) finds its way back (None: not kept).
    pub peers_file: Option<std::path::PathBuf>,
    /// Whom this node talks to and whom it keeps unnamed (a validator behind sentries, a sentry).
    pub privacy: Privacy,
}

impl Default for OverlaySettings {
    fn default() -> Self {
        Self {
            params: Params::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise: None,
            bootstrap: Vec::new(),
            max_links: 256,
            link_queue: 1024,
            max_frame_bytes: 8 * 1024 * 1024,
            max_messages_per_sec: 20_000,
            write_timeout_ms: 10_000,
            peers_file: None,
            privacy: Privacy::default(),
        }
    }
}

/// What the application does with a flood that arrives (submit a transaction, hand a vote on).
pub type FloodHandler = Arc<dyn Fn(FloodTopic, Vec<u8>) + Send + Sync>;

/// Bytes through the links, shared by the overlay's incarnations and its link actors.
#[derive(Debug, Default)]
struct ByteCounters {
    sent: std::sync::atomic::AtomicU64,
    received: std::sync::atomic::AtomicU64,
    rate_limited: std::sync::atomic::AtomicU64,
    slow_peers: std::sync::atomic::AtomicU64,
    malformed: std::sync::atomic::AtomicU64,
}

/// The overlay service: settings and identity, shared by every incarnation.
pub struct OverlayService {
    settings: OverlaySettings,
    key: Arc<NodeKey>,
    on_flood: Option<FloodHandler>,
    /// The address actually bound (known after the first start).
    bound: Arc<parking_lot::Mutex<Option<SocketAddr>>>,
    /// Link bytes, kept across restarts so the metrics' counters do not reset.
    bytes: Arc<ByteCounters>,
}

impl OverlayService {
    /// A service with `key` as identity.
    pub fn new(
        settings: OverlaySettings,
        key: Arc<NodeKey>,
        on_flood: Option<FloodHandler>,
    ) -> Self {
        Self {
            settings,
            key,
            on_flood,
            bound: Arc::new(parking_lot::Mutex::new(None)),
            bytes: Arc::default(),
        }
    }
    /// This node's Node-ID.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_bytes(self.key.node_id())
    }
    /// The listening address, once bound.
    pub fn bound(&self) -> Arc<parking_lot::Mutex<Option<SocketAddr>>> {
        self.bound.clone()
    }
}

/// An open link as the overlay sees it.
pub struct Link {
    actor: ActorRef<LinkMsg>,
    id: u64,
    queued: Arc<AtomicUsize>,
    peer: Contact,
    inbound: bool,
    opened: std::time::Instant,
}

pub use platon_messages::actors::{LinkMsg, LinkStats, NodeInfo, OverlayStats, PeerInfo};

/// Messages of the overlay actor, over TLS links.
pub type OverlayMsg = platon_messages::actors::OverlayMsg<TlsStream<TcpStream>>;

enum Waiter {
    Lookup(RpcReplyPort<Result<(Vec<Contact>, u32), String>>),
    Store(RpcReplyPort<Result<Vec<NodeId>, String>>),
    Fetch(RpcReplyPort<Result<Vec<KindData>, String>>),
}

/// One incarnation's state.
pub struct OverlayState {
    core: Core,
    me: Contact,
    signer: Arc<Ed25519Signer>,
    client: tokio_rustls::TlsConnector,
    links: HashMap<NodeId, Link>,
    dialing: HashMap<NodeId, Vec<Vec<u8>>>,
    waiters: HashMap<u64, Waiter>,
    link_sup: ActorRef<()>,
    /// Link id -> peer of this incarnation's links, for the link supervisor's reports.
    link_peers: LinkPeers,
    accept_task: tokio::task::JoinHandle<()>,
    stats: LinkStats,
    joined: bool,
    /// Contacts known before the last restart (joined through like bootstrap nodes).
    saved: Vec<Contact>,
    /// When the last join attempt started, and how long to wait before the next one while alone.
    last_join: u64,
    join_backoff: u64,
    /// The contacts last written to the peers file.
    written: Vec<Contact>,
    last_save: u64,
    peers_file: Option<std::path::PathBuf>,
}

impl OverlayState {
    /// Writes the routing table's contacts to the peers file when they changed (atomically: a
    /// temporary file renamed over the old one, so a crash leaves the old or the new list).
    fn save_peers(&mut self) {
        let Some(path) = &self.peers_file else {
            return;
        };
        let mut contacts: Vec<Contact> = self.core.table().contacts().collect();
        contacts.sort_by_key(|c| c.id);
        if contacts.is_empty() || contacts == self.written {
            return;
        }
        let text: String = contacts
            .iter()
            .map(|c| format!("{} {}\n", c.id, c.addr))
            .collect();
        match crate::blocking(|| platon_storage::durable::write_file(path, text.as_bytes(), None)) {
            Ok(()) => self.written = contacts,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "overlay: cannot save peers")
            }
        }
    }
}

/// Reads a peers file written by [`OverlayState::save_peers`]; unreadable lines are skipped.
pub fn load_peers(path: &std::path::Path) -> Vec<Contact> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (id, addr) = line.trim().split_once(' ')?;
            Some(Contact {
                id: NodeId::from_hex(id)?,
                addr: addr.trim().parse().ok()?,
            })
        })
        .collect()
}

impl Drop for OverlayState {
    fn drop(&mut self) {
        self.save_peers();
        self.accept_task.abort();
        self.link_sup.stop_children(None);
        self.link_sup.stop(None);
    }
}

static LINK_IDS: AtomicU64 = AtomicU64::new(1);

impl Service for OverlayService {
    type Msg = OverlayMsg;
    type State = OverlayState;

    async fn init(&self, ctx: &Ctx<OverlayMsg>) -> Result<OverlayState, BoxError> {
        let (client, server) = configs(&self.key)?;
        let listener = TcpListener::bind(self.settings.listen)
            .await
            .map_err(|e| format!("overlay: cannot listen on {}: {e}", self.settings.listen))?;
        let bound = listener.local_addr()?;
        *self.bound.lock() = Some(bound);
        let me = Contact {
            id: self.node_id(),
            addr: self.settings.advertise.unwrap_or(bound),
        };
        let signer = Arc::new(Ed25519Signer::new(self.key.clone()));
        let mut core = Core::new(me, self.settings.params.clone(), signer.clone(), now_ms());
        // Transaction ids no peer can predict (answers are matched by them).
        core.seed_ids(rand::random());
        core.set_privacy(self.settings.privacy.clone());
        let link_peers = LinkPeers::default();
        let (link_sup, _) = Actor::spawn(
            None,
            LinkSupervisor {
                registry: ctx.registry.clone(),
                overlay: ctx.name.clone(),
                peers: link_peers.clone(),
            },
            (),
        )
        .await?;
        let accept_task = tokio::spawn(accept_loop(
            listener,
            tokio_rustls::TlsAcceptor::from(server),
            signer.clone(),
            me,
            self.settings.params.overlay,
            ctx.registry.clone(),
            ctx.name.clone(),
        ));
        ctx.send_after(TICK, OverlayMsg::Tick);
        let saved: Vec<Contact> = self
            .settings
            .peers_file
            .as_deref()
            .map(load_peers)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.id != me.id)
            .collect();
        if !self.settings.bootstrap.is_empty() || !saved.is_empty() {
            ctx.send_after(Duration::from_millis(10), OverlayMsg::Join);
        }
        tracing::info!(node_id = %me.id, listen = %bound, "overlay listening");
        Ok(OverlayState {
            core,
            me,
            signer,
            client: tokio_rustls::TlsConnector::from(client),
            links: HashMap::new(),
            dialing: HashMap::new(),
            waiters: HashMap::new(),
            link_sup,
            link_peers,
            accept_task,
            stats: LinkStats::default(),
            joined: false,
            written: saved.clone(),
            saved,
            last_join: now_ms(),
            join_backoff: REJOIN_MIN_MS,
            last_save: now_ms(),
            peers_file: self.settings.peers_file.clone(),
        })
    }

    async fn handle(
        &self,
        ctx: &Ctx<OverlayMsg>,
        msg: OverlayMsg,
        st: &mut OverlayState,
    ) -> Result<(), BoxError> {
        let now = now_ms();
        match msg {
            OverlayMsg::Inbound { from, msg } => {
                // Only messages from a peer with an open link count.
                if st.links.contains_key(&from.id) {
                    st.core.on_message(from, *msg, now);
                }
            }
            OverlayMsg::Connected {
                contact,
                stream,
                inbound,
                bootstrap,
            } => {
                if !st.core.privacy().allows(contact.id) {
                    // A node behind sentries links to its sentries only.
                    tracing::info!(peer = %contact.id, addr = %contact.addr, "overlay: refused a link from a peer outside overlay.allow_peers");
                    st.stats.refused += 1;
                    drop(stream);
                    return Ok(());
                }
                // Both sides may dial each other at once: both keep the connection dialed by the
                // smaller Node-ID, so they agree on one and close the other.
                let me = st.me.id;
                let dialer = |inbound: bool| if inbound { contact.id } else { me };
                let replace = st
                    .links
                    .get(&contact.id)
                    .map(|l| dialer(inbound) < dialer(l.inbound))
                    .unwrap_or(false);
                if replace {
                    if let Some(old) = st.links.remove(&contact.id) {
                        old.actor.stop(Some("duplicate link".into()));
                    }
                }
                if st.links.contains_key(&contact.id) || st.links.len() >= self.settings.max_links {
                    // Keep the link we have, or stay within the bound.
                    drop(stream);
                } else {
                    let id = LINK_IDS.fetch_add(1, Ordering::Relaxed);
                    let queued = Arc::new(AtomicUsize::new(0));
                    let (actor, _) = Actor::spawn_linked(
                        Some(format!("{}/link-{id}", ctx.name)),
                        LinkActor,
                        LinkArgs {
                            stream: *stream,
                            peer: contact,
                            id,
                            queued: queued.clone(),
                            registry: ctx.registry.clone(),
                            overlay: ctx.name.clone(),
                            bytes: self.bytes.clone(),
                            max_frame: self.settings.max_frame_bytes,
                            rate: self.settings.max_messages_per_sec,
                            write_timeout: Duration::from_millis(self.settings.write_timeout_ms),
                            peers: st.link_peers.clone(),
                        },
                        st.link_sup.get_cell(),
                    )
                    .await?;
                    st.stats.links_opened += 1;
                    st.links.insert(
                        contact.id,
                        Link {
                            actor,
                            id,
                            queued,
                            peer: contact,
                            inbound,
                            opened: std::time::Instant::now(),
                        },
                    );
                    for bytes in st.dialing.remove(&contact.id).unwrap_or_default() {
                        self.write(st, contact.id, bytes);
                    }
                }
                // A node behind sentries joins through each of them, so it knows them all.
                if bootstrap && (!st.joined || st.core.privacy().allow.is_some()) {
                    st.joined = true;
                    st.core.join(contact, now);
                }
            }
            OverlayMsg::LinkDown { peer, link } => {
                if st.links.get(&peer).map(|l| l.id) == Some(link) {
                    st.links.remove(&peer);
                    st.stats.links_closed += 1;
                    st.core.peer_down(peer, now);
                }
            }
            OverlayMsg::DialFailed { peer, reason } => {
                tracing::debug!(?peer, %reason, "overlay: dial failed");
                if let Some(peer) = peer {
                    let lost = st.dialing.remove(&peer).map(|q| q.len()).unwrap_or(0);
                    st.stats.dropped += lost as u64;
                    if !st.links.contains_key(&peer) {
                        st.core.peer_down(peer, now);
                    }
                }
                if reason.contains("Node-ID") {
                    st.stats.refused += 1;
                }
            }
            OverlayMsg::Refused(reason) => {
                tracing::debug!(%reason, "overlay: refused a connection");
                st.stats.refused += 1;
            }
            OverlayMsg::Tick => {
                st.core.tick(now);
                ctx.send_after(TICK, OverlayMsg::Tick);
                // The first contacts are saved at once, later changes every SAVE_PEERS_MS.
                if st.written.is_empty() || now.saturating_sub(st.last_save) >= SAVE_PEERS_MS {
                    st.last_save = now;
                    st.save_peers();
                }
                // Alone (every peer gone, or the nodes we joined through were down): try again,
                // backing off, through the bootstrap nodes and the contacts known before.
                if st.core.table().is_empty() && st.links.is_empty() {
                    if now.saturating_sub(st.last_join) >= st.join_backoff {
                        st.join_backoff = (st.join_backoff * 2).min(REJOIN_MAX_MS);
                        ctx.send_after(Duration::ZERO, OverlayMsg::Join);
                    }
                } else {
                    st.join_backoff = REJOIN_MIN_MS;
                }
            }
            OverlayMsg::Join => {
                st.joined = false;
                st.last_join = now;
                for (id, addr) in &self.settings.bootstrap {
                    if *addr == st.me.addr || *id == Some(st.me.id) {
                        continue;
                    }
                    self.dial(ctx, st, *id, *addr, true);
                }
                for c in st.saved.clone() {
                    if !st.links.contains_key(&c.id)
                        && !self.settings.bootstrap.iter().any(|(_, a)| *a == c.addr)
                    {
                        self.dial(ctx, st, Some(c.id), c.addr, true);
                    }
                }
            }
            OverlayMsg::Lookup { target, reply } => {
                let op = st.core.lookup(target, now);
                st.waiters.insert(op, Waiter::Lookup(reply));
            }
            OverlayMsg::Store {
                resource,
                kind,
                values,
                lifetime,
                reply,
            } => {
                let op = st.core.store_values(resource, kind, values, lifetime, now);
                st.waiters.insert(op, Waiter::Store(reply));
            }
            OverlayMsg::Fetch {
                resource,
                specifiers,
                reply,
            } => {
                let op = st.core.fetch(resource, specifiers, now);
                st.waiters.insert(op, Waiter::Fetch(reply));
            }
            OverlayMsg::Flood { topic, payload } => st.core.flood(topic, payload),
            OverlayMsg::Info(reply) => {
                let _ = reply.send(NodeInfo {
                    id: st.me.id.to_string(),
                    listen: st.me.addr.to_string(),
                    routing_table_size: st.core.table().len(),
                    links: st.links.len(),
                    stored_values: st.core.store().len(),
                });
            }
            OverlayMsg::Peers(reply) => {
                let mut peers: Vec<PeerInfo> = st
                    .links
                    .values()
                    .map(|l| PeerInfo {
                        id: l.peer.id.to_string(),
                        addr: l.peer.addr.to_string(),
                        inbound: l.inbound,
                        connected_secs: l.opened.elapsed().as_secs(),
                        queued: l.queued.load(Ordering::Relaxed),
                    })
                    .collect();
                peers.sort_by(|a, b| a.id.cmp(&b.id));
                let _ = reply.send(peers);
            }
            OverlayMsg::Stats(reply) => {
                let mut links = st.stats.clone();
                links.bytes_sent = self.bytes.sent.load(Ordering::Relaxed);
                links.bytes_received = self.bytes.received.load(Ordering::Relaxed);
                links.rate_limited = self.bytes.rate_limited.load(Ordering::Relaxed);
                links.slow_peers = self.bytes.slow_peers.load(Ordering::Relaxed);
                links.malformed = self.bytes.malformed.load(Ordering::Relaxed);
                let _ = reply.send(OverlayStats {
                    protocol: st.core.stats().clone(),
                    links,
                });
            }
            OverlayMsg::Dial(contact) => {
                if !st.links.contains_key(&contact.id) && !st.dialing.contains_key(&contact.id) {
                    st.dialing.insert(contact.id, Vec::new());
                    self.dial(ctx, st, Some(contact.id), contact.addr, false);
                }
            }
            OverlayMsg::Leave(reply) => {
                st.core.leave(now);
                self.run_effects(ctx, st);
                let _ = reply.send(());
            }
            OverlayMsg::FailLink(peer) => {
                if let Some(l) = st.links.get(&peer) {
                    let _ = l.actor.cast(LinkMsg::Panic);
                }
            }
        }
        self.run_effects(ctx, st);
        Ok(())
    }
}

impl OverlayService {
    fn run_effects(&self, ctx: &Ctx<OverlayMsg>, st: &mut OverlayState) {
        for effect in st.core.drain() {
            match effect {
                Effect::Send { to, msg } => {
                    let bytes = match msg.encode() {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::warn!(error = %e, "overlay: unencodable message dropped");
                            continue;
                        }
                    };
                    if st.links.contains_key(&to.id) {
                        self.write(st, to.id, bytes);
                    } else if let Some(q) = st.dialing.get_mut(&to.id) {
                        if q.len() < MAX_WAITING {
                            q.push(bytes);
                        } else {
                            st.stats.dropped += 1;
                        }
                    } else {
                        st.dialing.insert(to.id, vec![bytes]);
                        self.dial(ctx, st, Some(to.id), to.addr, false);
                    }
                }
                Effect::Event(ev) => self.event(st, ev),
            }
        }
    }

    fn write(&self, st: &mut OverlayState, peer: NodeId, bytes: Vec<u8>) {
        let Some(l) = st.links.get(&peer) else {
            st.stats.dropped += 1;
            return;
        };
        if l.queued.load(Ordering::Relaxed) >= self.settings.link_queue {
            st.stats.dropped += 1;
            return;
        }
        l.queued.fetch_add(1, Ordering::Relaxed);
        if l.actor.cast(LinkMsg::Send(bytes)).is_err() {
            st.stats.dropped += 1;
        }
    }

    fn event(&self, st: &mut OverlayState, ev: Event) {
        match ev {
            Event::Flood { topic, payload, .. } => {
                if let Some(h) = &self.on_flood {
                    h(topic, payload);
                }
            }
            Event::Lookup { op, closest, hops } => {
                if let Some(Waiter::Lookup(r)) = st.waiters.remove(&op) {
                    let _ = r.send(Ok((closest, hops)));
                }
            }
            Event::Stored { op, result } => {
                if let Some(Waiter::Store(r)) = st.waiters.remove(&op) {
                    let _ = r.send(result);
                }
            }
            Event::Fetched { op, result } => {
                if let Some(Waiter::Fetch(r)) = st.waiters.remove(&op) {
                    let _ = r.send(result);
                }
            }
            Event::Routed { .. } => {}
        }
    }

    fn dial(
        &self,
        ctx: &Ctx<OverlayMsg>,
        st: &OverlayState,
        peer: Option<NodeId>,
        addr: SocketAddr,
        bootstrap: bool,
    ) {
        let connector = st.client.clone();
        let signer = st.signer.clone();
        let me = st.me;
        let overlay = self.settings.params.overlay;
        let registry = ctx.registry.clone();
        let name = ctx.name.clone();
        tokio::spawn(async move {
            let res = tokio::time::timeout(
                CONNECT_TIMEOUT,
                dial(connector, signer, me, overlay, peer, addr),
            )
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
            report(&registry, &name, res, false, bootstrap, |reason| {
                OverlayMsg::DialFailed {
                    peer,
                    reason: format!("{addr}: {reason}"),
                }
            });
        });
    }
}

// ---- connection setup ----------------------------------------------------------------------

/// Tells the overlay actor how a dial or an accepted connection ended.
fn report(
    registry: &Arc<Registry>,
    name: &str,
    res: Result<(Contact, TlsStream<TcpStream>), String>,
    inbound: bool,
    bootstrap: bool,
    failed: impl FnOnce(String) -> OverlayMsg,
) {
    let _ = OverlayHandle::new(registry.clone(), name).send(match res {
        Ok((contact, stream)) => OverlayMsg::Connected {
            contact,
            stream: Box::new(stream),
            inbound,
            bootstrap,
        },
        Err(e) => failed(e),
    });
}

fn attach_message(
    signer: &Ed25519Signer,
    me: Contact,
    overlay: u32,
    peer: NodeId,
    txid: u64,
    answer: bool,
) -> Result<Vec<u8>, String> {
    use super::core::Signer as _;
    let a = Attach {
        ufrag: Vec::new(),
        password: Vec::new(),
        role: if answer {
            b"passive".to_vec()
        } else {
            b"active".to_vec()
        },
        candidates: vec![IceCandidate {
            addr: me.addr,
            overlay_link: 4,
            foundation: b"0".to_vec(),
            priority: 1,
        }],
        send_update_or_application: 0,
    };
    let body = if answer {
        Body::AttachAns(a)
    } else {
        Body::AttachReq(a)
    };
    let mut msg = Message {
        header: ForwardingHeader::new(overlay, txid, 1, vec![Destination::Node(peer)]),
        code: body.code(),
        body: body.encode().map_err(|e| e.to_string())?,
        extensions: Vec::new(),
        security: SecurityBlock {
            certificates: Vec::new(),
            signature: Signature::none(),
        },
    };
    signer.sign_message(&mut msg).map_err(|e| e.to_string())?;
    let bytes = msg.encode().map_err(|e| e.to_string())?;
    Frame::Data {
        sequence: 0,
        message: bytes,
    }
    .encode()
    .map_err(|e| e.to_string())
}

/// Largest frame of the handshake (an Attach with its certificate), read before the peer is
/// authenticated.
pub const HANDSHAKE_FRAME_MAX: usize = 64 * 1024;

/// Reads one handshake frame (at most [`HANDSHAKE_FRAME_MAX`] bytes).
async fn read_frame<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Result<Frame, String> {
    read_frame_sized(s, HANDSHAKE_FRAME_MAX)
        .await
        .map(|(f, _)| f)
        .map_err(|e| e.to_string())
}

/// Why a link's next frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The connection failed or closed.
    Io(String),
    /// The bytes are not a frame (unknown type, a length over the bound, a bad encoding): the peer
    /// is broken or hostile, and the stream cannot be resynchronized.
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) | FrameError::Malformed(e) => f.write_str(e),
        }
    }
}

/// Reads one frame of at most `max` bytes and says how many bytes it took on the wire. The
/// length field is checked against `max` before the body is allocated.
pub async fn read_frame_sized<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
) -> Result<(Frame, usize), FrameError> {
    let io = |e: std::io::Error| FrameError::Io(e.to_string());
    let bad = |e: String| FrameError::Malformed(e);
    let mut head = [0u8; 8];
    s.read_exact(&mut head[..1]).await.map_err(io)?;
    let rest = match head[0] {
        128 => 7,
        129 => 8,
        t => return Err(bad(format!("unknown frame type {t}"))),
    };
    let mut buf = vec![head[0]];
    let mut more = vec![0u8; rest];
    s.read_exact(&mut more).await.map_err(io)?;
    buf.extend_from_slice(&more);
    if let Some(total) = Frame::needed(&buf).map_err(|e| bad(e.to_string()))? {
        if total > max {
            return Err(bad(format!(
                "a frame of {total} bytes exceeds the {max}-byte bound (overlay.max_frame_bytes)"
            )));
        }
        if total > buf.len() {
            let mut body = vec![0u8; total - buf.len()];
            s.read_exact(&mut body).await.map_err(io)?;
            buf.extend_from_slice(&body);
        }
    }
    Frame::decode(&buf)
        .map(|f| (f, buf.len()))
        .map_err(|e| bad(e.to_string()))
}

/// Checks an Attach from `peer`: signed by it, with its listening address.
fn read_attach(
    signer: &Ed25519Signer,
    frame: Frame,
    peer: NodeId,
    want_answer: bool,
) -> Result<(SocketAddr, u64), String> {
    use super::core::Signer as _;
    let Frame::Data { message, .. } = frame else {
        return Err("expected an Attach".into());
    };
    let msg = Message::decode(&message).map_err(|e| e.to_string())?;
    if signer.verify_message(&msg)? != Some(peer) {
        return Err("Attach not signed by the link's certificate".into());
    }
    let a = match Body::decode(msg.code, &msg.body).map_err(|e| e.to_string())? {
        Body::AttachReq(a) if !want_answer => a,
        Body::AttachAns(a) if want_answer => a,
        _ => return Err("expected an Attach".into()),
    };
    let addr = a
        .candidates
        .first()
        .map(|c| c.addr)
        .ok_or("Attach without a candidate")?;
    Ok((addr, msg.header.transaction_id))
}

fn peer_id_of(stream: &TlsStream<TcpStream>) -> Result<NodeId, String> {
    let (_, conn) = stream.get_ref();
    let certs = conn.peer_certificates().ok_or("peer sent no certificate")?;
    let first = certs.first().ok_or("peer sent no certificate")?;
    cert_node_id(first.as_ref())
}

/// Opens an authenticated link to the overlay peer at `addr` the way a node does (TLS 1.3 with
/// `key`'s certificate, then the Attach exchange) and hands back the raw stream: for test
/// harnesses and tools that speak frames themselves, such as a hostile peer.
pub async fn open_raw_link(
    key: Arc<NodeKey>,
    listen: SocketAddr,
    overlay: u32,
    addr: SocketAddr,
) -> Result<(Contact, TlsStream<TcpStream>), String> {
    let (client, _) = configs(&key).map_err(|e| e.to_string())?;
    let me = Contact {
        id: NodeId::from_bytes(key.node_id()),
        addr: listen,
    };
    let signer = Arc::new(Ed25519Signer::new(key));
    dial(
        tokio_rustls::TlsConnector::from(client),
        signer,
        me,
        overlay,
        None,
        addr,
    )
    .await
}

async fn dial(
    connector: tokio_rustls::TlsConnector,
    signer: Arc<Ed25519Signer>,
    me: Contact,
    overlay: u32,
    expect: Option<NodeId>,
    addr: SocketAddr,
) -> Result<(Contact, TlsStream<TcpStream>), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from("platon-node").map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let mut stream = TlsStream::Client(tls);
    let peer = peer_id_of(&stream)?;
    if let Some(want) = expect {
        if want != peer {
            return Err(format!(
                "peer's certificate gives Node-ID {peer}, expected {want}"
            ));
        }
    }
    let txid = u64::from_be_bytes(me.id.to_bytes()[..8].try_into().unwrap_or([0; 8])) ^ now_ms();
    let req = attach_message(&signer, me, overlay, peer, txid, false)?;
    stream.write_all(&req).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let frame = read_frame(&mut stream).await?;
    let (listen, _) = read_attach(&signer, frame, peer, true)?;
    Ok((
        Contact {
            id: peer,
            addr: if expect.is_some() { addr } else { listen },
        },
        stream,
    ))
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    signer: Arc<Ed25519Signer>,
    me: Contact,
    overlay: u32,
    registry: Arc<Registry>,
    name: String,
) {
    // Handshakes in progress are bounded: a flood of idle connections cannot exhaust the node.
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok((tcp, remote)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            drop(tcp);
            let _ = OverlayHandle::new(registry.clone(), &name).send(OverlayMsg::Refused(format!(
                "{remote}: {MAX_HANDSHAKES} handshakes already in progress"
            )));
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let signer = signer.clone();
        let registry = registry.clone();
        let name = name.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let res = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let tls = acceptor
                    .accept(tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                let mut stream = TlsStream::Server(tls);
                let peer = peer_id_of(&stream)?;
                let frame = read_frame(&mut stream).await?;
                let (listen, txid) = read_attach(&signer, frame, peer, false)?;
                let ans = attach_message(&signer, me, overlay, peer, txid, true)?;
                stream.write_all(&ans).await.map_err(|e| e.to_string())?;
                stream.flush().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((
                    Contact {
                        id: peer,
                        addr: listen,
                    },
                    stream,
                ))
            })
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
            report(&registry, &name, res, true, false, |e| {
                OverlayMsg::Refused(format!("{remote}: {e}"))
            });
        });
    }
}

// ---- link actors ----------------------------------------------------------------------------

/// Link id -> peer of one overlay incarnation's links.
type LinkPeers = Arc<parking_lot::Mutex<std::collections::BTreeMap<u64, NodeId>>>;

/// Supervises one overlay incarnation's links; reports each link that stops.
struct LinkSupervisor {
    registry: Arc<Registry>,
    overlay: String,
    peers: LinkPeers,
}

impl Actor for LinkSupervisor {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        evt: SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, Some(err.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            _ => return Ok(()),
        };
        // Link actors are named "<overlay>/link-<id>"; the peer travels in the link's own report.
        if let Some(f) = &failure {
            tracing::warn!(link = ?cell.get_name(), failure = %f, "overlay link failed");
        }
        if let Some(name) = cell.get_name() {
            if let Some(id) = name
                .rsplit("link-")
                .next()
                .and_then(|s| s.parse::<u64>().ok())
            {
                if let Some(peer) = self.peers.lock().remove(&id) {
                    let _ = OverlayHandle::new(self.registry.clone(), &self.overlay)
                        .send(OverlayMsg::LinkDown { peer, link: id });
                }
            }
        }
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

struct LinkActor;

struct LinkArgs {
    stream: TlsStream<TcpStream>,
    peer: Contact,
    id: u64,
    queued: Arc<AtomicUsize>,
    registry: Arc<Registry>,
    overlay: String,
    bytes: Arc<ByteCounters>,
    max_frame: usize,
    rate: u32,
    write_timeout: Duration,
    peers: LinkPeers,
}

struct LinkState {
    writer: tokio::io::WriteHalf<TlsStream<TcpStream>>,
    reader: tokio::task::JoinHandle<()>,
    queued: Arc<AtomicUsize>,
    sequence: u32,
    bytes: Arc<ByteCounters>,
    write_timeout: Duration,
    peer: NodeId,
}

impl Actor for LinkActor {
    type Msg = LinkMsg;
    type State = LinkState;
    type Arguments = LinkArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<LinkMsg>,
        args: LinkArgs,
    ) -> Result<LinkState, ActorProcessingErr> {
        args.peers.lock().insert(args.id, args.peer.id);
        let (mut rd, writer) = tokio::io::split(args.stream);
        let peer = args.peer;
        let to_overlay = OverlayHandle::new(args.registry, &args.overlay);
        let me = myself.clone();
        let bytes = args.bytes.clone();
        let max_frame = args.max_frame;
        // The per-link inbound limit (the gateway's per-connection bucket).
        let mut bucket = crate::rpc::limits::Bucket::new(args.rate.max(1));
        let mut last_warned: Option<std::time::Instant> = None;
        let mut last_malformed: Option<std::time::Instant> = None;
        let reader = tokio::spawn(async move {
            loop {
                let frame = match read_frame_sized(&mut rd, max_frame).await {
                    Ok((f, len)) => {
                        bytes.received.fetch_add(len as u64, Ordering::Relaxed);
                        f
                    }
                    Err(FrameError::Io(e)) => {
                        tracing::debug!(peer = %peer.id, error = %e, "overlay: link closed");
                        break;
                    }
                    Err(FrameError::Malformed(e)) => {
                        bytes.malformed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            peer = %peer.id,
                            error = %e,
                            "overlay: malformed frame; closing the link (counted as malformed)"
                        );
                        break;
                    }
                };
                let Frame::Data { message, .. } = frame else {
                    continue;
                };
                if !bucket.take(1, std::time::Instant::now()) {
                    bytes.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        last_warned = Some(std::time::Instant::now());
                        tracing::warn!(
                            peer = %peer.id,
                            "overlay: peer over overlay.max_messages_per_sec; dropping its messages"
                        );
                    }
                    continue;
                }
                match Message::decode(&message) {
                    Ok(msg) => {
                        let inbound = OverlayMsg::Inbound {
                            from: peer,
                            msg: Box::new(msg),
                        };
                        // No overlay actor to hand it to (stopped or restarting): the link ends,
                        // as the restarted overlay makes new ones.
                        if let Err(CallError::Unknown(_) | CallError::NotRunning(_)) =
                            to_overlay.send(inbound)
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        bytes.malformed.fetch_add(1, Ordering::Relaxed);
                        if last_malformed.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                            last_malformed = Some(std::time::Instant::now());
                            tracing::warn!(
                                peer = %peer.id,
                                error = %e,
                                "overlay: malformed message dropped (counted as malformed)"
                            );
                        }
                    }
                }
            }
            me.stop(Some("link closed".into()));
        });
        Ok(LinkState {
            writer,
            reader,
            queued: args.queued,
            sequence: 0,
            bytes: args.bytes,
            write_timeout: args.write_timeout,
            peer: peer.id,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<LinkMsg>,
        msg: LinkMsg,
        st: &mut LinkState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            LinkMsg::Send(bytes) => {
                st.queued.fetch_sub(1, Ordering::Relaxed);
                st.sequence = st.sequence.wrapping_add(1);
                let frame = Frame::Data {
                    sequence: st.sequence,
                    message: bytes,
                }
                .encode()?;
                let write = async {
                    st.writer.write_all(&frame).await?;
                    st.writer.flush().await
                };
                match tokio::time::timeout(st.write_timeout, write).await {
                    Ok(r) => r?,
                    Err(_) => {
                        st.bytes.slow_peers.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(peer = %st.peer, "overlay: peer stopped reading; link closed");
                        return Err("peer stopped reading".into());
                    }
                }
                st.bytes
                    .sent
                    .fetch_add(frame.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            LinkMsg::Panic => panic!("injected link failure"),
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<LinkMsg>,
        st: &mut LinkState,
    ) -> Result<(), ActorProcessingErr> {
        let _ = st.writer.shutdown().await;
        Ok(())
    }
}

impl Drop for LinkState {
    fn drop(&mut self) {
        // However the link ends (stop, error, panic), its reader goes with it.
        self.reader.abort();
    }
}
