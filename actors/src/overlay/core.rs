//! The overlay peer as a pure state machine: RELOAD message handling, the Kademlia topology plug-in
//! (iterative lookups by RouteQuery, Join, Leave, Update, liveness by Ping, bucket refresh),
//! hop-by-hop routing with the via list, replicated storage and the Kadcast-style regional flood.
//!
//! No IO and no clock: the caller passes the time to every call and carries out the returned
//! [`Effect`]s (send a message to a contact, report an [`Event`]). The TLS shell and the simulated
//! network drive the same code.

use super::store::{merge, DataStore};
use super::table::{bucket_index, Inserted, RoutingTable};
use platon_messages::reload::{
    code, decode_contacts, encode_contacts, error_code, Body, Contact, Destination, FloodTopic,
    ForwardingHeader, KindData, Message, NodeId, ResourceId, SecurityBlock, Signature, Specifier,
    StoredData, StoredDataValue, WireError,
};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Parameters of the overlay (from `[overlay]` in the configuration).
#[derive(Debug, Clone)]
pub struct Params {
    /// The overlay's 32-bit id (hash of its name).
    pub overlay: u32,
    /// Bucket size k.
    pub k: usize,
    /// Lookup parallelism α.
    pub alpha: usize,
    /// Replicas r of each stored resource.
    pub replicas: usize,
    /// Initial TTL of routed messages.
    pub ttl: u8,
    /// A request without an answer after this long fails (ms).
    pub request_timeout: u64,
    /// Buckets not looked up for this long are refreshed, and entries not heard from for this long
    /// are pinged (ms).
    pub refresh_interval: u64,
    /// Stored data is republished to the closest nodes this often (ms).
    pub republish_interval: u64,
    /// Contacts per bucket a flood is sent to.
    pub flood_fanout: usize,
    /// Flood ids remembered for duplicate suppression.
    pub flood_memory: usize,
    /// Values this node stores for others, at most.
    pub max_stored: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            overlay: 0x706c_6174,
            k: 16,
            alpha: 3,
            replicas: 3,
            ttl: 100,
            request_timeout: 2_000,
            refresh_interval: 60_000,
            republish_interval: 600_000,
            flood_fanout: 2,
            flood_memory: 65_536,
            max_stored: 1_000_000,
        }
    }
}

/// Who a node behind sentries talks to, and which peers a sentry keeps out of its routing table
/// (the seed's validator deployment: a validator is reached only through its own full nodes, and its
/// address is never named to anyone).
#[derive(Debug, Clone, Default)]
pub struct Privacy {
    /// When set, the only peers this node sends to or learns (a validator behind its sentries);
    /// the service refuses links from anyone else.
    pub allow: Option<HashSet<NodeId>>,
    /// Peers this node links to but never enters into its routing table, so never names in an
    /// answer (a sentry's validators). Every flood this node takes in is passed on to them, and
    /// their floods go out as this node's own.
    pub hidden: HashSet<NodeId>,
}

impl Privacy {
    /// Whether this node may talk to `id`.
    pub fn allows(&self, id: NodeId) -> bool {
        self.allow.as_ref().is_none_or(|a| a.contains(&id))
    }
}

/// Signs what this node originates and checks what others signed.
pub trait Signer: Send + Sync {
    /// This node's certificate (DER), if it signs.
    fn certificate(&self) -> Option<Vec<u8>>;
    /// Fills the security block of a message this node originates.
    fn sign_message(&self, msg: &mut Message) -> Result<(), WireError>;
    /// Checks a message's signature; returns the signer's Node-ID (`None` when this network runs
    /// unsigned, as simulations may).
    fn verify_message(&self, msg: &Message) -> Result<Option<NodeId>, String>;
    /// The signature of a value this node stores.
    fn sign_data(
        &self,
        resource: &ResourceId,
        kind: u32,
        storage_time: u64,
        value: &StoredDataValue,
    ) -> Result<Signature, WireError>;
    /// Checks a stored value's signature against the certificates of the message carrying it;
    /// returns the signer's Node-ID (`None` when unsigned).
    fn verify_data(
        &self,
        resource: &ResourceId,
        kind: u32,
        data: &StoredData,
        certificates: &[(u8, Vec<u8>)],
    ) -> Result<Option<NodeId>, String>;
}

/// A signer for simulations: signs nothing, accepts everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unsigned;

impl Signer for Unsigned {
    fn certificate(&self) -> Option<Vec<u8>> {
        None
    }
    fn sign_message(&self, _msg: &mut Message) -> Result<(), WireError> {
        Ok(())
    }
    fn verify_message(&self, _msg: &Message) -> Result<Option<NodeId>, String> {
        Ok(None)
    }
    fn sign_data(
        &self,
        _r: &ResourceId,
        _k: u32,
        _t: u64,
        _v: &StoredDataValue,
    ) -> Result<Signature, WireError> {
        Ok(Signature::none())
    }
    fn verify_data(
        &self,
        _r: &ResourceId,
        _k: u32,
        _d: &StoredData,
        _c: &[(u8, Vec<u8>)],
    ) -> Result<Option<NodeId>, String> {
        Ok(None)
    }
}

/// What the caller must do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Send `msg` to `to` (connecting to its address if no link is open).
    Send {
        /// The neighbor.
        to: Contact,
        /// The message (signed if this node originated it).
        msg: Box<Message>,
    },
    /// Something for the node above the overlay.
    Event(Event),
}

/// Outcomes of operations and arrivals the application sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A flood arrived for the first time.
    Flood {
        /// Topic.
        topic: FloodTopic,
        /// Payload.
        payload: Vec<u8>,
        /// The neighbor it came from.
        from: NodeId,
    },
    /// A lookup finished: the closest live nodes found, and the hops it took.
    Lookup {
        /// Operation id.
        op: u64,
        /// Closest first.
        closest: Vec<Contact>,
        /// Hops to the closest.
        hops: u32,
    },
    /// A store finished: the replicas that hold the data, or why none does.
    Stored {
        /// Operation id.
        op: u64,
        /// Replicas or the error.
        result: Result<Vec<NodeId>, String>,
    },
    /// A fetch finished: the merged values of the replicas that answered.
    Fetched {
        /// Operation id.
        op: u64,
        /// Values or the error.
        result: Result<Vec<KindData>, String>,
    },
    /// A routed request came back with its answer.
    Routed {
        /// Operation id.
        op: u64,
        /// The answer, or the error.
        result: Result<(NodeId, Body), String>,
        /// Hops the request took.
        hops: u32,
    },
}

/// Counters for `admin_overlayStats`.
pub use platon_messages::actors::OverlayProtocolStats as Stats;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CandState {
    Fresh,
    Asked,
    Answered,
    Failed,
}

#[derive(Debug, Clone)]
struct Cand {
    contact: Contact,
    state: CandState,
    depth: u32,
}

#[derive(Debug, Clone)]
enum Purpose {
    User,
    Refresh,
    Join,
    Store {
        resource: ResourceId,
        kinds: Vec<KindData>,
        op: u64,
    },
    Fetch {
        resource: ResourceId,
        specifiers: Vec<Specifier>,
        op: u64,
    },
    Republish {
        resource: ResourceId,
    },
}

#[derive(Debug, Clone)]
struct Lookup {
    target: NodeId,
    cands: BTreeMap<u128, Cand>,
    purpose: Purpose,
    op: u64,
}

#[derive(Debug, Clone)]
enum Waiting {
    Lookup { lookup: u64, peer: NodeId },
    Ping { peer: NodeId },
    Join,
    Store { op: u64, peer: NodeId },
    Fetch { op: u64, peer: NodeId },
    Routed { op: u64 },
    Other,
}

#[derive(Debug, Clone)]
struct Pending {
    sent_at: u64,
    waiting: Waiting,
    /// The peer the request went to (for a routed one, its first hop).
    asked: NodeId,
    /// The node that must answer, when the request names one (a direct request, or one routed
    /// to a node): its answer is signed by it, so no hop can forge it. None for a request
    /// routed to a resource, whose answer must come back through `asked`.
    expect: Option<NodeId>,
}

#[derive(Debug, Clone, Default)]
struct Gather {
    outstanding: usize,
    replicas: Vec<NodeId>,
    answers: Vec<Vec<KindData>>,
    errors: Vec<String>,
    fetch: bool,
}

/// The overlay peer.
pub struct Core {
    me: Contact,
    params: Params,
    signer: std::sync::Arc<dyn Signer>,
    table: RoutingTable,
    store: DataStore,
    pending: HashMap<u64, Pending>,
    lookups: HashMap<u64, Lookup>,
    gathers: HashMap<u64, Gather>,
    pinging: HashSet<NodeId>,
    flood_seen: HashSet<[u8; 32]>,
    flood_order: VecDeque<[u8; 32]>,
    /// Transaction ids: unpredictable once seeded from the OS ([`Core::seed_ids`]); the
    /// simulation keeps the deterministic default seed.
    ids: rand::rngs::StdRng,
    started: u64,
    last_refresh: u64,
    last_republish: u64,
    stats: Stats,
    out: Vec<Effect>,
    privacy: Privacy,
    /// The contacts of linked hidden peers (at most one per entry of `privacy.hidden`).
    hidden_contacts: HashMap<NodeId, Contact>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("me", &self.me)
            .field("table", &self.table.len())
            .finish()
    }
}

/// The point of bucket `i`'s region (seen from `me`) where a flood enters it: the region's prefix
/// (`me`'s bits above `i`, bit `i` flipped) and low bits drawn from the flood id and the region,
/// so every node that shares the region picks the same point.
fn flood_region_target(id: &[u8; 32], me: NodeId, i: usize) -> NodeId {
    let low_mask = (1u128 << i) - 1;
    let prefix = (me.0 ^ (1u128 << i)) & !low_mask;
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&id[..16]);
    // splitmix64 over the flood id's first half and the region prefix.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = u128::from_be_bytes(seed) ^ prefix ^ i as u128;
    let hi = mix(((a >> 64) as u64).wrapping_add(0x9e37_79b9_7f4a_7c15));
    let lo = mix((a as u64) ^ hi);
    NodeId(prefix | ((u128::from(hi) << 64 | u128::from(lo)) & low_mask))
}

/// The flood id of a payload: keccak256 of topic and payload.
pub fn flood_id(topic: FloodTopic, payload: &[u8]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(payload.len() + 1);
    buf.push(topic as u8);
    buf.extend_from_slice(payload);
    platon_crypto::keccak256(&buf).0
}

impl Core {
    /// A peer at `me` that has not joined yet.
    pub fn new(me: Contact, params: Params, signer: std::sync::Arc<dyn Signer>, now: u64) -> Self {
        Self {
            table: RoutingTable::new(me.id, params.k),
            store: DataStore::new(params.max_stored),
            me,
            params,
            signer,
            pending: HashMap::new(),
            lookups: HashMap::new(),
            gathers: HashMap::new(),
            pinging: HashSet::new(),
            flood_seen: HashSet::new(),
            flood_order: VecDeque::new(),
            ids: {
                use rand::SeedableRng;
                let mut seed = [0u8; 32];
                seed[..16].copy_from_slice(&me.id.0.to_be_bytes());
                rand::rngs::StdRng::from_seed(seed)
            },
            started: now,
            last_refresh: now,
            last_republish: now,
            stats: Stats::default(),
            out: Vec::new(),
            privacy: Privacy::default(),
            hidden_contacts: HashMap::new(),
        }
    }

    /// Sets who this node talks to and whom it keeps unnamed ([`Privacy`]), before it joins: what
    /// it learns from then on is filtered.
    pub fn set_privacy(&mut self, privacy: Privacy) {
        self.privacy = privacy;
    }

    /// Who this node talks to and whom it keeps unnamed.
    pub fn privacy(&self) -> &Privacy {
        &self.privacy
    }

    /// The hidden peers linked now.
    pub fn hidden_peers(&self) -> Vec<Contact> {
        self.hidden_contacts.values().copied().collect()
    }

    /// This node.
    pub fn me(&self) -> Contact {
        self.me
    }
    /// The routing table.
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }
    /// The data held for others.
    pub fn store(&self) -> &DataStore {
        &self.store
    }
    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    fn next_id(&mut self) -> u64 {
        use rand::Rng;
        self.ids.gen()
    }

    /// Seeds the transaction ids (the node seeds them from the OS, so no peer can predict one).
    pub fn seed_ids(&mut self, seed: [u8; 32]) {
        use rand::SeedableRng;
        self.ids = rand::rngs::StdRng::from_seed(seed);
    }

    fn send(&mut self, to: Contact, mut msg: Message, sign: bool) {
        if !self.privacy.allows(to.id) {
            // A node behind sentries never dials anyone else (a request sent so times out).
            self.stats.refused += 1;
            return;
        }
        if sign {
            if let Err(e) = self.signer.sign_message(&mut msg) {
                tracing::warn!(error = %e, "overlay: could not sign a message; not sent");
                return;
            }
        }
        *self.stats.sent.entry(code::name(msg.code)).or_default() += 1;
        self.out.push(Effect::Send {
            to,
            msg: Box::new(msg),
        });
    }

    fn message(&self, txid: u64, dest: Vec<Destination>, body: &Body) -> Option<Message> {
        let encoded = match body.encode() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "overlay: could not encode a message");
                return None;
            }
        };
        Some(Message {
            header: ForwardingHeader::new(self.params.overlay, txid, self.params.ttl, dest),
            code: body.code(),
            body: encoded,
            extensions: Vec::new(),
            security: SecurityBlock {
                certificates: Vec::new(),
                signature: Signature::none(),
            },
        })
    }

    /// Sends a request straight to a neighbor and remembers what the answer is for.
    fn request(&mut self, to: Contact, body: Body, waiting: Waiting, now: u64) {
        self.request_with(to, body, Vec::new(), waiting, now)
    }

    /// [`Core::request`] carrying extra certificates (those of the storers of republished values).
    fn request_with(
        &mut self,
        to: Contact,
        body: Body,
        certificates: Vec<(u8, Vec<u8>)>,
        waiting: Waiting,
        now: u64,
    ) {
        let txid = self.next_id();
        let Some(mut msg) = self.message(txid, vec![Destination::Node(to.id)], &body) else {
            return;
        };
        msg.security.certificates = certificates;
        self.pending.insert(
            txid,
            Pending {
                sent_at: now,
                waiting,
                asked: to.id,
                expect: Some(to.id),
            },
        );
        self.send(to, msg, true);
    }

    fn answer(&mut self, to: Contact, req: &Message, body: Body) {
        // Symmetric routing: back along the via list, the neighbor it came from first.
        let mut dest: Vec<Destination> = vec![Destination::Node(to.id)];
        dest.extend(req.header.via_list.iter().rev().cloned());
        let Some(msg) = self.message(req.header.transaction_id, dest, &body) else {
            return;
        };
        self.send(to, msg, true);
    }

    fn error(&mut self, to: Contact, req: &Message, code: u16, info: &str) {
        self.answer(
            to,
            req,
            Body::Error {
                code,
                info: info.as_bytes().to_vec(),
            },
        );
    }

    /// Takes the effects produced so far.
    pub fn drain(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    fn learn(&mut self, c: Contact, now: u64) {
        if !self.privacy.allows(c.id) {
            return;
        }
        if self.privacy.hidden.contains(&c.id) {
            self.hidden_contacts.insert(c.id, c);
            return;
        }
        if let Inserted::Full { oldest } = self.table.insert(c, now) {
            if self.pinging.insert(oldest.id) {
                self.request(
                    oldest,
                    Body::PingReq(Vec::new()),
                    Waiting::Ping { peer: oldest.id },
                    now,
                );
            }
        }
    }

    // ---- operations ------------------------------------------------------------------------

    /// Joins through `bootstrap`: Join, then a lookup of our own id and a refresh of every bucket.
    pub fn join(&mut self, bootstrap: Contact, now: u64) {
        let data = encode_contacts(&[self.me]).unwrap_or_default();
        self.learn(bootstrap, now);
        self.request(
            bootstrap,
            Body::JoinReq {
                peer: self.me.id,
                data,
            },
            Waiting::Join,
            now,
        );
    }

    /// Says goodbye to every neighbor.
    pub fn leave(&mut self, now: u64) {
        let contacts: Vec<Contact> = self.table.contacts().collect();
        for c in contacts {
            self.request(
                c,
                Body::LeaveReq {
                    peer: self.me.id,
                    data: Vec::new(),
                },
                Waiting::Other,
                now,
            );
        }
    }

    /// Starts an iterative lookup of `target`; its [`Event::Lookup`] carries the returned id.
    pub fn lookup(&mut self, target: NodeId, now: u64) -> u64 {
        self.start_lookup(target, Purpose::User, now)
    }

    fn start_lookup(&mut self, target: NodeId, purpose: Purpose, now: u64) -> u64 {
        let op = match &purpose {
            Purpose::Store { op, .. } | Purpose::Fetch { op, .. } => *op,
            _ => self.next_id(),
        };
        let id = self.next_id();
        self.table.touch_bucket(target, now);
        let mut cands = BTreeMap::new();
        for c in self.table.closest(target, self.params.k) {
            cands.insert(
                c.id.distance(&target),
                Cand {
                    contact: c,
                    state: CandState::Fresh,
                    depth: 1,
                },
            );
        }
        self.lookups.insert(
            id,
            Lookup {
                target,
                cands,
                purpose,
                op,
            },
        );
        self.step_lookup(id, now);
        op
    }

    fn step_lookup(&mut self, id: u64, now: u64) {
        let Some(l) = self.lookups.get_mut(&id) else {
            return;
        };
        let k = self.params.k;
        let live: Vec<(u128, CandState)> = l
            .cands
            .iter()
            .filter(|(_, c)| c.state != CandState::Failed)
            .take(k)
            .map(|(d, c)| (*d, c.state))
            .collect();
        let in_flight = live.iter().filter(|(_, s)| *s == CandState::Asked).count();
        let fresh: Vec<u128> = live
            .iter()
            .filter(|(_, s)| *s == CandState::Fresh)
            .map(|(d, _)| *d)
            .take(self.params.alpha.saturating_sub(in_flight))
            .collect();
        if in_flight == 0 && fresh.is_empty() {
            let l = match self.lookups.remove(&id) {
                Some(l) => l,
                None => return,
            };
            self.finish_lookup(l, now);
            return;
        }
        let target = l.target;
        let mut to_ask = Vec::new();
        for d in fresh {
            if let Some(c) = l.cands.get_mut(&d) {
                c.state = CandState::Asked;
                to_ask.push(c.contact);
            }
        }
        let data = encode_contacts(&[self.me]).unwrap_or_default();
        for c in to_ask {
            self.request(
                c,
                Body::RouteQueryReq {
                    send_update: false,
                    destination: Destination::Node(target),
                    data: data.clone(),
                },
                Waiting::Lookup {
                    lookup: id,
                    peer: c.id,
                },
                now,
            );
        }
    }

    fn finish_lookup(&mut self, l: Lookup, now: u64) {
        let answered: Vec<&Cand> = l
            .cands
            .values()
            .filter(|c| c.state == CandState::Answered)
            .take(self.params.k)
            .collect();
        let hops = answered.first().map(|c| c.depth).unwrap_or(0);
        let closest: Vec<Contact> = answered.iter().map(|c| c.contact).collect();
        match l.purpose {
            Purpose::User => {
                self.stats.lookups += 1;
                self.stats.lookup_hops_total += u64::from(hops);
                self.stats.lookup_hops_max = self.stats.lookup_hops_max.max(hops);
                self.out.push(Effect::Event(Event::Lookup {
                    op: l.op,
                    closest,
                    hops,
                }));
            }
            Purpose::Refresh => {}
            Purpose::Join => {
                // Refresh every bucket farther than our closest neighbor.
                let targets = self
                    .table
                    .stale_buckets(u64::MAX, self.me.id.0.rotate_left(7));
                for t in targets {
                    self.start_lookup(t, Purpose::Refresh, now);
                }
                let near = self.table.closest(self.me.id, self.params.k);
                let uptime = (now.saturating_sub(self.started) / 1000) as u32;
                for c in near {
                    self.request(c, Body::UpdateReq { uptime }, Waiting::Other, now);
                }
            }
            Purpose::Store {
                resource,
                kinds,
                op,
            } => {
                let targets = self.replica_set(&resource, &closest);
                let mut g = Gather::default();
                for (i, c) in targets.iter().enumerate() {
                    if c.id == self.me.id {
                        if let Some(cert) = self.signer.certificate() {
                            self.store.keep_certificates(&[(0, cert)]);
                        }
                        match self.store.store(&resource, &kinds, now) {
                            Ok(_) => g.replicas.push(self.me.id),
                            Err(e) => g.errors.push(e.reason),
                        }
                    } else {
                        g.outstanding += 1;
                        self.request(
                            *c,
                            Body::StoreReq {
                                resource: resource.clone(),
                                replica_number: i as u8,
                                kinds: kinds.clone(),
                            },
                            Waiting::Store { op, peer: c.id },
                            now,
                        );
                    }
                }
                self.gathers.insert(op, g);
                self.maybe_finish_gather(op);
            }
            Purpose::Fetch {
                resource,
                specifiers,
                op,
            } => {
                let targets = self.replica_set(&resource, &closest);
                let mut g = Gather {
                    fetch: true,
                    ..Default::default()
                };
                for c in targets {
                    if c.id == self.me.id {
                        g.answers
                            .push(self.store.fetch(&resource, &specifiers, now));
                        g.replicas.push(self.me.id);
                    } else {
                        g.outstanding += 1;
                        self.request(
                            c,
                            Body::FetchReq {
                                resource: resource.clone(),
                                specifiers: specifiers.clone(),
                            },
                            Waiting::Fetch { op, peer: c.id },
                            now,
                        );
                    }
                }
                self.gathers.insert(op, g);
                self.maybe_finish_gather(op);
            }
            Purpose::Republish { resource } => {
                let targets = self.replica_set(&resource, &closest);
                let kinds: Vec<KindData> = self
                    .store
                    .all(now)
                    .into_iter()
                    .find(|(r, _)| *r == resource)
                    .map(|(_, k)| k)
                    .unwrap_or_default();
                if kinds.is_empty() {
                    return;
                }
                let keep = targets.iter().any(|c| c.id == self.me.id);
                let certs = self.store.certificates_for(&kinds);
                for (i, c) in targets.iter().enumerate() {
                    if c.id != self.me.id {
                        self.request_with(
                            *c,
                            Body::StoreReq {
                                resource: resource.clone(),
                                replica_number: i as u8,
                                kinds: kinds.clone(),
                            },
                            certs.clone(),
                            Waiting::Other,
                            now,
                        );
                    }
                }
                if !keep && !targets.is_empty() {
                    // The data moved to nodes closer to it.
                    self.store.remove(&resource);
                }
            }
        }
    }

    /// The r nodes closest to a resource among the lookup result and this node.
    fn replica_set(&self, resource: &ResourceId, closest: &[Contact]) -> Vec<Contact> {
        let pos = resource.position();
        let mut all: Vec<Contact> = closest.to_vec();
        all.push(self.me);
        all.sort_by_key(|c| c.id.0 ^ pos);
        all.dedup_by_key(|c| c.id);
        all.truncate(self.params.replicas.max(1));
        all
    }

    fn maybe_finish_gather(&mut self, op: u64) {
        let done = self
            .gathers
            .get(&op)
            .map(|g| g.outstanding == 0)
            .unwrap_or(false);
        if !done {
            return;
        }
        let Some(g) = self.gathers.remove(&op) else {
            return;
        };
        let event = if g.fetch {
            Event::Fetched {
                op,
                result: if g.replicas.is_empty() {
                    Err(format!("no replica answered: {}", g.errors.join("; ")))
                } else {
                    Ok(merge(g.answers))
                },
            }
        } else {
            Event::Stored {
                op,
                result: if g.replicas.is_empty() {
                    Err(format!("no replica stored it: {}", g.errors.join("; ")))
                } else {
                    Ok(g.replicas)
                },
            }
        };
        self.out.push(Effect::Event(event));
    }

    /// Stores values under a resource on the r nodes closest to it, signed by this node.
    pub fn store_values(
        &mut self,
        resource: ResourceId,
        kind: u32,
        values: Vec<StoredDataValue>,
        lifetime: u32,
        now: u64,
    ) -> u64 {
        let mut stored = Vec::with_capacity(values.len());
        for value in values {
            match self.signer.sign_data(&resource, kind, now, &value) {
                Ok(signature) => stored.push(StoredData {
                    storage_time: now,
                    lifetime,
                    value,
                    signature,
                }),
                Err(e) => tracing::warn!(error = %e, "overlay: could not sign a stored value"),
            }
        }
        let op = self.next_id();
        let target = NodeId(resource.position());
        self.start_lookup(
            target,
            Purpose::Store {
                resource,
                kinds: vec![KindData {
                    kind,
                    generation: 0,
                    values: stored,
                }],
                op,
            },
            now,
        )
    }

    /// Fetches values from the r nodes closest to a resource and merges their answers.
    pub fn fetch(&mut self, resource: ResourceId, specifiers: Vec<Specifier>, now: u64) -> u64 {
        let op = self.next_id();
        let target = NodeId(resource.position());
        self.start_lookup(
            target,
            Purpose::Fetch {
                resource,
                specifiers,
                op,
            },
            now,
        )
    }

    /// Sends a request routed hop by hop toward `dest` (a node or resource); the answer comes back
    /// along the via list as [`Event::Routed`].
    pub fn route(&mut self, dest: Destination, body: Body, now: u64) -> u64 {
        let op = self.next_id();
        let txid = self.next_id();
        let Some(mut msg) = self.message(txid, vec![dest.clone()], &body) else {
            return op;
        };
        if let Err(e) = self.signer.sign_message(&mut msg) {
            tracing::warn!(error = %e, "overlay: could not sign a routed message");
            return op;
        }
        let next = self.next_hop(&dest);
        self.pending.insert(
            txid,
            Pending {
                sent_at: now,
                waiting: Waiting::Routed { op },
                asked: next.map_or(self.me.id, |n| n.id),
                expect: match &dest {
                    Destination::Node(id) => Some(*id),
                    _ => None,
                },
            },
        );
        match next {
            Some(next) => {
                *self.stats.sent.entry(code::name(msg.code)).or_default() += 1;
                self.out.push(Effect::Send {
                    to: next,
                    msg: Box::new(msg),
                });
            }
            None => {
                // We are responsible ourselves.
                self.pending.remove(&txid);
                let me = self.me;
                let result = self
                    .handle_request(me, &msg, now)
                    .ok_or_else(|| "no answer".to_string());
                self.out.push(Effect::Event(Event::Routed {
                    op,
                    result: result.map(|b| (me.id, b)),
                    hops: 0,
                }));
                // handle_request may have queued an answer to ourselves; drop it.
                self.out
                    .retain(|e| !matches!(e, Effect::Send { to, .. } if to.id == me.id));
            }
        }
        op
    }

    /// Floods a payload to every live node (Kadcast: each bucket's region is handed to a few of
    /// its contacts, who cover it through their lower buckets).
    pub fn flood(&mut self, topic: FloodTopic, payload: Vec<u8>) {
        let id = flood_id(topic, &payload);
        self.remember_flood(id);
        self.forward_flood(&id, topic, &payload, 128, None);
    }

    /// Notes a flood id; true when it is new. The oldest ids are forgotten beyond `flood_memory`.
    fn remember_flood(&mut self, id: [u8; 32]) -> bool {
        if !self.flood_seen.insert(id) {
            return false;
        }
        self.flood_order.push_back(id);
        while self.flood_order.len() > self.params.flood_memory {
            if let Some(old) = self.flood_order.pop_front() {
                self.flood_seen.remove(&old);
            }
        }
        true
    }

    fn forward_flood(
        &mut self,
        id: &[u8; 32],
        topic: FloodTopic,
        payload: &[u8],
        height: u8,
        skip: Option<NodeId>,
    ) {
        let height = (height as usize).min(128);
        // The sender handed this region to `flood_fanout` nodes closest to its entry point; the
        // likeliest other one is the closest contact this node knows there. That contact covers
        // its own part of the region, so the bucket holding it gets one copy, not a full fanout.
        let co_entry_bucket = (height < 128)
            .then(|| {
                let entry =
                    flood_region_target(id, NodeId(self.me.id.0 ^ (1u128 << height)), height);
                (0..height)
                    .flat_map(|i| self.table.bucket(i))
                    .filter(|c| Some(c.id) != skip)
                    .min_by_key(|c| c.id.distance(&entry))
                    .and_then(|c| bucket_index(self.me.id, c.id))
            })
            .flatten();
        for i in 0..height {
            let mut bucket = self.table.bucket(i);
            bucket.retain(|c| Some(c.id) != skip);
            // The contacts closest to a point of the bucket's region that only the flood and the
            // region decide: two nodes that share a region (siblings handed the same flood) pick
            // the same entry points, so the region is entered by `flood_fanout` nodes, not by
            // `flood_fanout` per sibling.
            let target = flood_region_target(id, self.me.id, i);
            bucket.sort_by_key(|c| c.id.distance(&target));
            let fanout = if Some(i) == co_entry_bucket {
                1
            } else {
                self.params.flood_fanout.max(1)
            };
            bucket.truncate(fanout);
            for c in bucket {
                self.send_flood(c, topic, i as u8, payload);
            }
        }
        // Hidden peers get every flood, at height 0: they forward it to nobody.
        let mut hidden: Vec<Contact> = self
            .hidden_contacts
            .values()
            .filter(|c| Some(c.id) != skip)
            .copied()
            .collect();
        hidden.sort_by_key(|c| c.id);
        for c in hidden {
            self.send_flood(c, topic, 0, payload);
        }
    }

    /// One flood copy to `to`, which forwards it over the region below `height`.
    fn send_flood(&mut self, to: Contact, topic: FloodTopic, height: u8, payload: &[u8]) {
        let body = Body::Flood {
            topic,
            height,
            payload: payload.to_vec(),
        };
        let txid = self.next_id();
        if let Some(msg) = self.message(txid, vec![Destination::Node(to.id)], &body) {
            self.send(to, msg, true);
        }
    }

    // ---- time ------------------------------------------------------------------------------

    /// Timeouts, liveness pings, bucket refresh, republishing and expiry.
    pub fn tick(&mut self, now: u64) {
        let timeout = self.params.request_timeout;
        let mut expired: Vec<(u64, Pending)> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.sent_at) >= timeout)
            .map(|(t, p)| (*t, p.clone()))
            .collect();
        // In transaction order, not the map's (random per process): the same inputs always give
        // the same outputs, which the simulations rely on.
        expired.sort_by_key(|(t, _)| *t);
        for (txid, p) in expired {
            self.pending.remove(&txid);
            self.stats.timeouts += 1;
            self.on_failure(p.waiting, "timed out".into(), now);
        }
        if now.saturating_sub(self.last_refresh) >= self.params.refresh_interval {
            self.last_refresh = now;
            let stale_before = now.saturating_sub(self.params.refresh_interval);
            // Ping entries not heard from lately.
            let quiet: Vec<Contact> = self
                .table
                .entries()
                .filter(|e| e.last_seen < stale_before)
                .map(|e| e.contact)
                .collect();
            for c in quiet {
                if self.pinging.insert(c.id) {
                    self.request(
                        c,
                        Body::PingReq(Vec::new()),
                        Waiting::Ping { peer: c.id },
                        now,
                    );
                }
            }
            let salt = self.next_id() as u128 | ((self.next_id() as u128) << 64);
            for t in self.table.stale_buckets(stale_before, salt) {
                self.start_lookup(t, Purpose::Refresh, now);
            }
            // And our own neighbourhood: the buckets below the lowest known one are only found
            // by looking ourselves up (a neighbour dropped after a timeout comes back this way).
            let me = self.me.id;
            self.start_lookup(me, Purpose::Refresh, now);
            self.store.expire(now);
        }
        if now.saturating_sub(self.last_republish) >= self.params.republish_interval {
            self.last_republish = now;
            self.republish(now);
        }
    }

    /// Sends every held resource to the r nodes now closest to it (data moves when the closest
    /// set changes).
    pub fn republish(&mut self, now: u64) {
        self.store.expire(now);
        let resources: Vec<ResourceId> = self.store.all(now).into_iter().map(|(r, _)| r).collect();
        for resource in resources {
            let target = NodeId(resource.position());
            self.start_lookup(target, Purpose::Republish { resource }, now);
        }
    }

    /// A request failed because the peer did not answer: it leaves the table.
    fn on_failure(&mut self, waiting: Waiting, why: String, now: u64) {
        self.fail(waiting, why, now, true)
    }

    /// A request failed but the peer answered (so it stays in the table).
    fn on_failure_alive(&mut self, waiting: Waiting, why: String, now: u64) {
        self.fail(waiting, why, now, false)
    }

    fn fail(&mut self, waiting: Waiting, why: String, now: u64, peer_dead: bool) {
        match waiting {
            Waiting::Lookup { lookup, peer } => {
                if peer_dead {
                    self.table.remove(peer, now);
                }
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    let d = peer.distance(&l.target);
                    if let Some(c) = l.cands.get_mut(&d) {
                        c.state = CandState::Failed;
                    }
                }
                self.step_lookup(lookup, now);
            }
            Waiting::Ping { peer } => {
                self.pinging.remove(&peer);
                if peer_dead {
                    self.table.remove(peer, now);
                }
            }
            Waiting::Join => {
                tracing::warn!(reason = %why, "overlay: join failed");
            }
            Waiting::Store { op, peer } | Waiting::Fetch { op, peer } => {
                if peer_dead {
                    self.table.remove(peer, now);
                }
                if let Some(g) = self.gathers.get_mut(&op) {
                    g.outstanding = g.outstanding.saturating_sub(1);
                    g.errors.push(format!("{peer}: {why}"));
                }
                self.maybe_finish_gather(op);
            }
            Waiting::Routed { op } => {
                self.out.push(Effect::Event(Event::Routed {
                    op,
                    result: Err(why),
                    hops: 0,
                }));
            }
            Waiting::Other => {}
        }
    }

    /// A link to `peer` failed: forget it, and fail what waits on it.
    pub fn peer_down(&mut self, peer: NodeId, now: u64) {
        self.table.remove(peer, now);
        // A hidden peer is not dialed back: it links to its sentries itself.
        self.hidden_contacts.remove(&peer);
        let mut waiting: Vec<(u64, Pending)> = self
            .pending
            .iter()
            .filter(|(_, p)| match &p.waiting {
                Waiting::Lookup { peer: p, .. }
                | Waiting::Ping { peer: p }
                | Waiting::Store { peer: p, .. }
                | Waiting::Fetch { peer: p, .. } => *p == peer,
                _ => false,
            })
            .map(|(t, p)| (*t, p.clone()))
            .collect();
        waiting.sort_by_key(|(t, _)| *t);
        for (t, p) in waiting {
            self.pending.remove(&t);
            self.on_failure(p.waiting, "link down".into(), now);
        }
    }

    // ---- arrivals ----------------------------------------------------------------------------

    fn next_hop(&self, dest: &Destination) -> Option<Contact> {
        let target = match dest {
            Destination::Node(id) => id.0,
            Destination::Resource(r) => r.position(),
            _ => return None,
        };
        if let Destination::Node(id) = dest {
            if let Some(c) = self.table.get(*id) {
                return Some(c);
            }
        }
        let mine = self.me.id.0 ^ target;
        self.table
            .closest(NodeId(target), 1)
            .into_iter()
            .find(|c| c.id.0 ^ target < mine)
    }

    /// A message arrived from neighbor `from` over an authenticated link.
    pub fn on_message(&mut self, from: Contact, mut msg: Message, now: u64) {
        *self.stats.received.entry(code::name(msg.code)).or_default() += 1;
        if msg.header.overlay != self.params.overlay || !self.privacy.allows(from.id) {
            self.stats.refused += 1;
            return;
        }
        if self.privacy.hidden.contains(&from.id) {
            self.hidden_contacts.insert(from.id, from);
        }
        // Pop ourselves off the destination list.
        while let Some(first) = msg.header.destination_list.first() {
            match first {
                Destination::Node(id) if *id == self.me.id => {
                    msg.header.destination_list.remove(0);
                }
                _ => break,
            }
        }
        if let Some(dest) = msg.header.destination_list.first().cloned() {
            let responsible =
                matches!(dest, Destination::Resource(_)) && self.next_hop(&dest).is_none();
            if !responsible {
                self.forward(from, msg, dest, now);
                return;
            }
        }
        // Delivered here: check who signed it.
        match self.signer.verify_message(&msg) {
            Ok(Some(signer)) => {
                let origin = match msg.header.via_list.first() {
                    Some(Destination::Node(id)) => *id,
                    _ => from.id,
                };
                if signer != origin {
                    self.stats.refused += 1;
                    tracing::debug!(%signer, %origin, "overlay: message signed by someone else");
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.stats.refused += 1;
                tracing::debug!(error = %e, "overlay: bad message signature");
                return;
            }
        }
        if msg.header.via_list.is_empty() {
            self.learn(from, now);
        }
        if msg.code % 2 == 1 {
            if !msg.header.via_list.is_empty() {
                let hops = msg.header.via_list.len() as u32 + 1;
                self.stats.routed_delivered += 1;
                self.stats.routed_hops_total += u64::from(hops);
                self.stats.routed_hops_max = self.stats.routed_hops_max.max(hops);
            }
            if let Some(ans) = self.handle_request(from, &msg, now) {
                self.answer(from, &msg, ans);
            }
        } else {
            self.handle_answer(from, msg, now);
        }
    }

    fn forward(&mut self, from: Contact, mut msg: Message, dest: Destination, now: u64) {
        let _ = now;
        if msg.header.ttl == 0 {
            self.stats.refused += 1;
            if msg.code % 2 == 1 {
                self.error(from, &msg, error_code::TTL_EXCEEDED, "ttl exceeded");
            }
            return;
        }
        msg.header.ttl -= 1;
        msg.header.via_list.push(Destination::Node(from.id));
        match self.next_hop(&dest) {
            Some(next) if next.id != from.id => {
                *self.stats.sent.entry(code::name(msg.code)).or_default() += 1;
                self.out.push(Effect::Send {
                    to: next,
                    msg: Box::new(msg),
                });
            }
            _ => {
                msg.header.via_list.pop();
                if msg.code % 2 == 1 {
                    self.error(from, &msg, error_code::NOT_FOUND, "no route to destination");
                }
            }
        }
    }

    fn handle_request(&mut self, from: Contact, msg: &Message, now: u64) -> Option<Body> {
        let body = match Body::decode(msg.code, &msg.body) {
            Ok(b) => b,
            Err(e) => {
                self.stats.refused += 1;
                return Some(Body::Error {
                    code: error_code::INVALID_MESSAGE,
                    info: e.to_string().into_bytes(),
                });
            }
        };
        match body {
            Body::PingReq(_) => Some(Body::PingAns {
                response_id: self.next_id(),
                time: now,
            }),
            Body::JoinReq { peer, data } => {
                let joining = decode_contacts(&data)
                    .ok()
                    .and_then(|c| c.into_iter().find(|c| c.id == peer));
                if let Some(c) = joining {
                    self.learn(c, now);
                }
                let near = self.table.closest(peer, self.params.k);
                Some(Body::JoinAns(encode_contacts(&near).unwrap_or_default()))
            }
            Body::LeaveReq { peer, .. } => {
                if peer == from.id {
                    self.table.remove(peer, now);
                }
                Some(Body::LeaveAns)
            }
            Body::UpdateReq { .. } => Some(Body::UpdateAns),
            Body::RouteQueryReq {
                destination, data, ..
            } => {
                if let Ok(cs) = decode_contacts(&data) {
                    if let Some(c) = cs.into_iter().find(|c| c.id == from.id) {
                        self.learn(c, now);
                    }
                }
                let target = match &destination {
                    Destination::Node(id) => *id,
                    Destination::Resource(r) => NodeId(r.position()),
                    _ => {
                        return Some(Body::Error {
                            code: error_code::INVALID_MESSAGE,
                            info: b"route query needs a node or resource destination".to_vec(),
                        })
                    }
                };
                let mut near = self.table.closest(target, self.params.k);
                near.retain(|c| c.id != from.id);
                let next_peer = near.first().map(|c| c.id).unwrap_or(self.me.id);
                Some(Body::RouteQueryAns {
                    next_peer,
                    data: encode_contacts(&near).unwrap_or_default(),
                })
            }
            Body::StoreReq {
                resource, kinds, ..
            } => {
                for k in &kinds {
                    for v in &k.values {
                        match self.signer.verify_data(
                            &resource,
                            k.kind,
                            v,
                            &msg.security.certificates,
                        ) {
                            Ok(Some(signer)) => {
                                // ReDiR entries are keyed by the registering node (node-match).
                                if let (
                                    platon_messages::reload::kind::REDIR,
                                    StoredDataValue::Dictionary { key, .. },
                                ) = (k.kind, &v.value)
                                {
                                    if key.as_slice() != signer.to_bytes() {
                                        return Some(Body::Error {
                                            code: error_code::FORBIDDEN,
                                            info: b"a ReDiR entry must be keyed by its signer's Node-ID"
                                                .to_vec(),
                                        });
                                    }
                                }
                            }
                            Ok(None) => {}
                            Err(e) => {
                                return Some(Body::Error {
                                    code: error_code::FORBIDDEN,
                                    info: e.into_bytes(),
                                })
                            }
                        }
                    }
                }
                match self.store.store(&resource, &kinds, now) {
                    Ok(gens) => {
                        self.store.keep_certificates(&msg.security.certificates);
                        Some(Body::StoreAns(
                            gens.into_iter()
                                .map(|(k, g)| (k, g, vec![self.me.id]))
                                .collect(),
                        ))
                    }
                    Err(e) => Some(Body::Error {
                        code: e.code,
                        info: e.reason.into_bytes(),
                    }),
                }
            }
            Body::FetchReq {
                resource,
                specifiers,
            } => Some(Body::FetchAns(self.store.fetch(
                &resource,
                &specifiers,
                now,
            ))),
            Body::StatReq {
                resource,
                specifiers,
            } => Some(Body::StatAns(self.store.stat(&resource, &specifiers, now))),
            Body::FindReq { resource, kinds } => Some(Body::FindAns(
                kinds
                    .iter()
                    .filter_map(|k| {
                        self.store
                            .closest_of_kind(resource.position(), *k)
                            .map(|r| (*k, r))
                    })
                    .collect(),
            )),
            Body::ProbeReq(types) => {
                let uptime = (now.saturating_sub(self.started) / 1000) as u32;
                Some(Body::ProbeAns(
                    types
                        .iter()
                        .filter_map(|t| match t {
                            1 => Some((1, self.responsible_ppb())),
                            2 => Some((2, self.store.resources() as u32)),
                            3 => Some((3, uptime)),
                            _ => None,
                        })
                        .collect(),
                ))
            }
            Body::AttachReq(_) | Body::AppAttachReq(_) => {
                // Links are opened by the shell; an Attach through the overlay is answered with our
                // listening address.
                let a = platon_messages::reload::Attach {
                    ufrag: Vec::new(),
                    password: Vec::new(),
                    role: b"passive".to_vec(),
                    candidates: vec![platon_messages::reload::IceCandidate {
                        addr: self.me.addr,
                        overlay_link: 4,
                        foundation: b"0".to_vec(),
                        priority: 1,
                    }],
                    send_update_or_application: 0,
                };
                Some(if msg.code == code::ATTACH_REQ {
                    Body::AttachAns(a)
                } else {
                    Body::AppAttachAns(a)
                })
            }
            Body::ConfigUpdateReq { .. } => Some(Body::Error {
                code: error_code::FORBIDDEN,
                info: b"this node does not take configuration updates from the overlay".to_vec(),
            }),
            Body::Flood {
                topic,
                height,
                payload,
            } => {
                self.stats.flood_copies += 1;
                let id = flood_id(topic, &payload);
                // Only the first copy is forwarded, over the region its height hands this node.
                // A later copy with a larger height is not: the sender handed that region to
                // `flood_fanout` nodes picked the same way, and re-forwarding on such upgrades
                // cost about 0.5 copies per node in the 1,000-node simulation.
                if self.remember_flood(id) {
                    self.stats.floods_delivered += 1;
                    self.out.push(Effect::Event(Event::Flood {
                        topic,
                        payload: payload.clone(),
                        from: from.id,
                    }));
                    // A hidden peer's flood goes out as this node's own, over the whole id space.
                    let height = if self.privacy.hidden.contains(&from.id) {
                        128
                    } else {
                        height
                    };
                    self.forward_flood(&id, topic, &payload, height, Some(from.id));
                }
                None
            }
            _ => Some(Body::Error {
                code: error_code::INVALID_MESSAGE,
                info: b"not a request".to_vec(),
            }),
        }
    }

    /// Our share of the id space in parts per billion, estimated from the closest neighbors.
    fn responsible_ppb(&self) -> u32 {
        let near = self.table.closest(self.me.id, 1);
        match near.first() {
            Some(c) => {
                let d = c.id.distance(&self.me.id);
                ((d >> 64) as u64 / (u64::MAX / 1_000_000_000)) as u32
            }
            None => 1_000_000_000,
        }
    }

    fn handle_answer(&mut self, from: Contact, msg: Message, now: u64) {
        let txid = msg.header.transaction_id;
        // Who answered: the signer `on_message` checked (the first entry of the via list of a
        // relayed answer, or the peer it came from).
        let origin = match msg.header.via_list.first() {
            Some(Destination::Node(id)) => *id,
            _ => from.id,
        };
        let through =
            |n: NodeId| from.id == n || msg.header.via_list.contains(&Destination::Node(n));
        match self.pending.get(&txid) {
            // Signed by the node that had to answer, or (routed to a resource) back through the
            // first hop the request took.
            Some(p) if p.expect.map_or_else(|| through(p.asked), |e| e == origin) => {}
            other => {
                // Not ours to take: a guessed or replayed id, or a peer we never asked.
                self.stats.forged_answers += 1;
                tracing::debug!(
                    peer = %from.id,
                    known = other.is_some(),
                    "overlay: dropped an answer from a peer that was not asked"
                );
                return;
            }
        }
        let Some(p) = self.pending.remove(&txid) else {
            return;
        };
        let body = match Body::decode(msg.code, &msg.body) {
            Ok(b) => b,
            Err(e) => {
                self.stats.refused += 1;
                self.on_failure(p.waiting, format!("malformed answer: {e}"), now);
                return;
            }
        };
        if let Body::Error { code, info } = &body {
            let why = format!("error {code}: {}", String::from_utf8_lossy(info));
            if let Waiting::Routed { op } = p.waiting {
                self.out.push(Effect::Event(Event::Routed {
                    op,
                    result: Err(why),
                    hops: msg.header.via_list.len() as u32 + 1,
                }));
                return;
            }
            // The peer is alive; the request failed.
            self.on_failure_alive(p.waiting, why, now);
            return;
        }
        match (p.waiting, body) {
            (Waiting::Lookup { lookup, peer }, Body::RouteQueryAns { data, .. }) => {
                let contacts = decode_contacts(&data).unwrap_or_default();
                for c in &contacts {
                    if c.id != self.me.id {
                        self.learn_quietly(*c);
                    }
                }
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    let d = peer.distance(&l.target);
                    let depth = l.cands.get(&d).map(|c| c.depth).unwrap_or(1);
                    if let Some(c) = l.cands.get_mut(&d) {
                        c.state = CandState::Answered;
                    }
                    for c in contacts {
                        if c.id == self.me.id
                            || !self.privacy.allows(c.id)
                            || self.privacy.hidden.contains(&c.id)
                        {
                            continue;
                        }
                        l.cands.entry(c.id.distance(&l.target)).or_insert(Cand {
                            contact: c,
                            state: CandState::Fresh,
                            depth: depth + 1,
                        });
                    }
                }
                self.step_lookup(lookup, now);
            }
            (Waiting::Ping { peer }, Body::PingAns { .. }) => {
                self.pinging.remove(&peer);
            }
            (Waiting::Join, Body::JoinAns(data)) => {
                for c in decode_contacts(&data).unwrap_or_default() {
                    if c.id != self.me.id {
                        self.learn(c, now);
                    }
                }
                let me = self.me.id;
                self.start_lookup(me, Purpose::Join, now);
            }
            (Waiting::Store { op, peer }, Body::StoreAns(_)) => {
                if let Some(g) = self.gathers.get_mut(&op) {
                    g.outstanding = g.outstanding.saturating_sub(1);
                    g.replicas.push(peer);
                }
                self.maybe_finish_gather(op);
            }
            (Waiting::Fetch { op, peer }, Body::FetchAns(kinds)) => {
                if let Some(g) = self.gathers.get_mut(&op) {
                    g.outstanding = g.outstanding.saturating_sub(1);
                    g.replicas.push(peer);
                    g.answers.push(kinds);
                }
                self.maybe_finish_gather(op);
            }
            (Waiting::Routed { op }, body) => {
                let hops = msg.header.via_list.len() as u32 + 1;
                let responder = match msg.header.via_list.first() {
                    Some(Destination::Node(id)) => *id,
                    _ => from.id,
                };
                self.out.push(Effect::Event(Event::Routed {
                    op,
                    result: Ok((responder, body)),
                    hops,
                }));
            }
            (Waiting::Other, _) => {}
            (w, b) => {
                self.stats.refused += 1;
                self.on_failure_alive(
                    w,
                    format!("unexpected answer {}", code::name(b.code())),
                    now,
                );
            }
        }
    }

    /// Contacts learned second-hand are only used to fill buckets with room; a full bucket keeps
    /// its proven entries (Kademlia's preference for old contacts).
    fn learn_quietly(&mut self, c: Contact) {
        if !self.privacy.allows(c.id) || self.privacy.hidden.contains(&c.id) {
            return;
        }
        if let Some(i) = bucket_index(self.me.id, c.id) {
            if self.table.bucket(i).len() < self.params.k && !self.table.contains(c.id) {
                // Not yet heard from directly: last_seen 0 makes it the first to be pinged.
                self.table.insert(c, 0);
            }
        }
    }
}
