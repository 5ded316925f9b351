//! Message codes and the bodies of RELOAD's base messages (RFC 6940 §6.4, §6.5, §7), and the node's
//! application messages.

use super::{NodeId, ResourceId, Signature, WireError};
use crate::reload::wire::{Reader, Writer};
use std::net::{IpAddr, SocketAddr};

/// RELOAD message codes (requests odd, answers even).
pub mod code {
    /// Probe request / answer.
    pub const PROBE_REQ: u16 = 1;
    #[allow(missing_docs)]
    pub const PROBE_ANS: u16 = 2;
    /// Attach request / answer.
    pub const ATTACH_REQ: u16 = 3;
    #[allow(missing_docs)]
    pub const ATTACH_ANS: u16 = 4;
    /// Store request / answer.
    pub const STORE_REQ: u16 = 7;
    #[allow(missing_docs)]
    pub const STORE_ANS: u16 = 8;
    /// Fetch request / answer.
    pub const FETCH_REQ: u16 = 9;
    #[allow(missing_docs)]
    pub const FETCH_ANS: u16 = 10;
    /// Find request / answer.
    pub const FIND_REQ: u16 = 13;
    #[allow(missing_docs)]
    pub const FIND_ANS: u16 = 14;
    /// Join request / answer.
    pub const JOIN_REQ: u16 = 15;
    #[allow(missing_docs)]
    pub const JOIN_ANS: u16 = 16;
    /// Leave request / answer.
    pub const LEAVE_REQ: u16 = 17;
    #[allow(missing_docs)]
    pub const LEAVE_ANS: u16 = 18;
    /// Update request / answer.
    pub const UPDATE_REQ: u16 = 19;
    #[allow(missing_docs)]
    pub const UPDATE_ANS: u16 = 20;
    /// RouteQuery request / answer (our Kademlia FIND_NODE).
    pub const ROUTE_QUERY_REQ: u16 = 21;
    #[allow(missing_docs)]
    pub const ROUTE_QUERY_ANS: u16 = 22;
    /// Ping request / answer.
    pub const PING_REQ: u16 = 23;
    #[allow(missing_docs)]
    pub const PING_ANS: u16 = 24;
    /// Stat request / answer.
    pub const STAT_REQ: u16 = 25;
    #[allow(missing_docs)]
    pub const STAT_ANS: u16 = 26;
    /// AppAttach request / answer.
    pub const APP_ATTACH_REQ: u16 = 29;
    #[allow(missing_docs)]
    pub const APP_ATTACH_ANS: u16 = 30;
    /// ConfigUpdate request / answer.
    pub const CONFIG_UPDATE_REQ: u16 = 33;
    #[allow(missing_docs)]
    pub const CONFIG_UPDATE_ANS: u16 = 34;
    /// The node's flood message (transactions, blocks, votes), in the unassigned range.
    pub const FLOOD_REQ: u16 = 0x0201;
    /// Error.
    pub const ERROR: u16 = 0xffff;

    /// A short name for logs and statistics.
    pub fn name(code: u16) -> &'static str {
        match code {
            PROBE_REQ => "probe_req",
            PROBE_ANS => "probe_ans",
            ATTACH_REQ => "attach_req",
            ATTACH_ANS => "attach_ans",
            STORE_REQ => "store_req",
            STORE_ANS => "store_ans",
            FETCH_REQ => "fetch_req",
            FETCH_ANS => "fetch_ans",
            FIND_REQ => "find_req",
            FIND_ANS => "find_ans",
            JOIN_REQ => "join_req",
            JOIN_ANS => "join_ans",
            LEAVE_REQ => "leave_req",
            LEAVE_ANS => "leave_ans",
            UPDATE_REQ => "update_req",
            UPDATE_ANS => "update_ans",
            ROUTE_QUERY_REQ => "route_query_req",
            ROUTE_QUERY_ANS => "route_query_ans",
            PING_REQ => "ping_req",
            PING_ANS => "ping_ans",
            STAT_REQ => "stat_req",
            STAT_ANS => "stat_ans",
            APP_ATTACH_REQ => "app_attach_req",
            APP_ATTACH_ANS => "app_attach_ans",
            CONFIG_UPDATE_REQ => "config_update_req",
            CONFIG_UPDATE_ANS => "config_update_ans",
            FLOOD_REQ => "flood",
            ERROR => "error",
            _ => "unknown",
        }
    }
}

/// RELOAD error codes (RFC 6940 §6.3.3.1) that this node sends.
pub mod error_code {
    /// The request is not allowed.
    pub const FORBIDDEN: u16 = 2;
    /// Nothing stored / no such node.
    pub const NOT_FOUND: u16 = 3;
    /// A store's generation counter is too low.
    pub const GENERATION_COUNTER_TOO_LOW: u16 = 5;
    /// The TTL ran out.
    pub const TTL_EXCEEDED: u16 = 10;
    /// The message is too large.
    pub const MESSAGE_TOO_LARGE: u16 = 11;
    /// An unknown Kind.
    pub const UNKNOWN_KIND: u16 = 12;
    /// A malformed message.
    pub const INVALID_MESSAGE: u16 = 20;
}

/// Kind-IDs and their data models.
pub mod kind {
    use super::DataModel;
    /// ReDiR tree nodes (RFC 7374's IANA Kind), dictionary keyed by Node-ID.
    pub const REDIR: u32 = 104;
    /// Application single values.
    pub const APP_VALUE: u32 = 0xf000_0001;
    /// Application arrays.
    pub const APP_ARRAY: u32 = 0xf000_0002;
    /// Application dictionaries.
    pub const APP_DICTIONARY: u32 = 0xf000_0003;

    /// The data model of a Kind this node knows.
    pub fn model(kind: u32) -> Option<DataModel> {
        match kind {
            REDIR | APP_DICTIONARY => Some(DataModel::Dictionary),
            APP_VALUE => Some(DataModel::Single),
            APP_ARRAY => Some(DataModel::Array),
            _ => None,
        }
    }
}

/// A Kind's data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataModel {
    /// One value.
    Single,
    /// Values at 32-bit indices.
    Array,
    /// Values under byte-string keys.
    Dictionary,
}

/// An IP address and port (RFC 6940 `IpAddressPort`).
pub fn write_addr(w: &mut Writer, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            w.u8(1);
            w.u8(6);
            w.u32(u32::from(ip));
        }
        IpAddr::V6(ip) => {
            w.u8(2);
            w.u8(18);
            w.u128(u128::from(ip));
        }
    }
    w.u16(addr.port());
}

/// Reads an `IpAddressPort`.
pub fn read_addr(r: &mut Reader) -> Result<SocketAddr, WireError> {
    let t = r.u8("address type")?;
    let mut inner = r.nested(1, "address")?;
    let ip: IpAddr = match t {
        1 => std::net::Ipv4Addr::from(inner.u32("ipv4 address")?).into(),
        2 => std::net::Ipv6Addr::from(inner.u128("ipv6 address")?).into(),
        t => return Err(WireError::invalid("address type", format!("{t}"))),
    };
    let port = inner.u16("port")?;
    inner.finish("address")?;
    Ok(SocketAddr::new(ip, port))
}

/// A peer a node tells others about: its Node-ID and where it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Contact {
    /// Node-ID.
    pub id: NodeId,
    /// Listening address.
    pub addr: SocketAddr,
}

/// Encodes a contact list (the Kademlia plug-in's overlay-specific data).
pub fn encode_contacts(contacts: &[Contact]) -> Result<Vec<u8>, WireError> {
    let mut w = Writer::new();
    w.nested(2, "contacts", |w| {
        for c in contacts {
            w.u128(c.id.0);
            write_addr(w, &c.addr);
        }
        Ok(())
    })?;
    Ok(w.buf)
}

/// Decodes a contact list.
pub fn decode_contacts(bytes: &[u8]) -> Result<Vec<Contact>, WireError> {
    let mut r = Reader::new(bytes);
    let out = r.vec(2, "contacts", |r| {
        Ok(Contact {
            id: NodeId(r.u128("contact id")?),
            addr: read_addr(r)?,
        })
    })?;
    r.finish("contacts")?;
    Ok(out)
}

/// A ReDiR registration record (RFC 7374 `RedirServiceProvider`), stored in a tree node's
/// dictionary under the provider's Node-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirServiceProvider {
    /// The provider.
    pub node_id: NodeId,
    /// The service namespace.
    pub namespace: String,
    /// Tree level of the record.
    pub level: u16,
    /// Interval index of the record within its level.
    pub node: u16,
}

impl RedirServiceProvider {
    /// Encoded form (the dictionary value): a 16-bit length, then `RedirServiceProviderData`.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.nested(2, "redir service provider", |w| {
            w.u128(self.node_id.0);
            w.opaque(2, self.namespace.as_bytes(), "namespace")?;
            w.u16(self.level);
            w.u16(self.node);
            Ok(())
        })?;
        Ok(w.buf)
    }

    /// Decodes a record.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut outer = Reader::new(bytes);
        let mut r = outer.nested(2, "redir service provider")?;
        outer.finish("redir service provider")?;
        let node_id = NodeId(r.u128("node_id")?);
        let namespace = String::from_utf8(r.opaque(2, "namespace")?.to_vec())
            .map_err(|_| WireError::invalid("namespace", "not UTF-8"))?;
        let out = Self {
            node_id,
            namespace,
            level: r.u16("level")?,
            node: r.u16("node")?,
        };
        r.finish("redir service provider")?;
        Ok(out)
    }
}

/// `DataValue`: whether the value exists, and the value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataValue {
    /// False marks a deletion.
    pub exists: bool,
    /// The value.
    pub value: Vec<u8>,
}

/// A stored value in its data model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoredDataValue {
    /// Single value.
    Single(DataValue),
    /// Array entry.
    Array {
        /// Index (0xffffffff appends).
        index: u32,
        /// Value.
        value: DataValue,
    },
    /// Dictionary entry.
    Dictionary {
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: DataValue,
    },
}

impl StoredDataValue {
    /// The value part.
    pub fn value(&self) -> &DataValue {
        match self {
            StoredDataValue::Single(v)
            | StoredDataValue::Array { value: v, .. }
            | StoredDataValue::Dictionary { value: v, .. } => v,
        }
    }
    /// The model it belongs to.
    pub fn model(&self) -> DataModel {
        match self {
            StoredDataValue::Single(_) => DataModel::Single,
            StoredDataValue::Array { .. } => DataModel::Array,
            StoredDataValue::Dictionary { .. } => DataModel::Dictionary,
        }
    }
    /// Encoded form (part of what a stored value's signature covers).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        let dv = |w: &mut Writer, v: &DataValue| {
            w.boolean(v.exists);
            w.opaque(4, &v.value, "data value")
        };
        match self {
            StoredDataValue::Single(v) => dv(&mut w, v)?,
            StoredDataValue::Array { index, value } => {
                w.u32(*index);
                dv(&mut w, value)?;
            }
            StoredDataValue::Dictionary { key, value } => {
                w.opaque(2, key, "dictionary key")?;
                dv(&mut w, value)?;
            }
        }
        Ok(w.buf)
    }
    fn read(r: &mut Reader, model: DataModel) -> Result<Self, WireError> {
        let dv = |r: &mut Reader| -> Result<DataValue, WireError> {
            Ok(DataValue {
                exists: r.boolean("exists")?,
                value: r.opaque(4, "data value")?.to_vec(),
            })
        };
        Ok(match model {
            DataModel::Single => StoredDataValue::Single(dv(r)?),
            DataModel::Array => StoredDataValue::Array {
                index: r.u32("array index")?,
                value: dv(r)?,
            },
            DataModel::Dictionary => StoredDataValue::Dictionary {
                key: r.opaque(2, "dictionary key")?.to_vec(),
                value: dv(r)?,
            },
        })
    }
}

/// `StoredData`: a value with its storage time, lifetime and the storer's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredData {
    /// When it was stored (ms since the epoch, the storer's clock).
    pub storage_time: u64,
    /// Seconds it lives after `storage_time`.
    pub lifetime: u32,
    /// The value.
    pub value: StoredDataValue,
    /// The storer's signature over resource, kind, storage time, value and identity.
    pub signature: Signature,
}

impl StoredData {
    /// The bytes the signature covers.
    pub fn signing_input(
        resource: &ResourceId,
        kind: u32,
        storage_time: u64,
        value: &StoredDataValue,
        identity: &super::SignerIdentity,
    ) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.raw(&resource.0);
        w.u32(kind);
        w.u64(storage_time);
        w.raw(&value.encode()?);
        w.raw(&identity.encode()?);
        Ok(w.buf)
    }
    fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.nested(4, "stored data", |w| {
            w.u64(self.storage_time);
            w.u32(self.lifetime);
            w.raw(&self.value.encode()?);
            self.signature.write(w)
        })
    }
    fn read(r: &mut Reader, model: DataModel) -> Result<Self, WireError> {
        let mut inner = r.nested(4, "stored data")?;
        let out = StoredData {
            storage_time: inner.u64("storage_time")?,
            lifetime: inner.u32("lifetime")?,
            value: StoredDataValue::read(&mut inner, model)?,
            signature: Signature::read(&mut inner)?,
        };
        inner.finish("stored data")?;
        Ok(out)
    }
}

/// The values of one Kind in a Store request or Fetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindData {
    /// Kind-ID.
    pub kind: u32,
    /// Generation counter.
    pub generation: u64,
    /// Values.
    pub values: Vec<StoredData>,
}

fn write_kind_data(w: &mut Writer, k: &KindData) -> Result<(), WireError> {
    w.u32(k.kind);
    w.u64(k.generation);
    w.nested(4, "values", |w| {
        for v in &k.values {
            v.write(w)?;
        }
        Ok(())
    })
}

fn read_kind_data(r: &mut Reader) -> Result<KindData, WireError> {
    let kind = r.u32("kind")?;
    let model = kind::model(kind)
        .ok_or_else(|| WireError::invalid("kind", format!("unknown kind {kind}")))?;
    Ok(KindData {
        kind,
        generation: r.u64("generation_counter")?,
        values: r.vec(4, "values", |r| StoredData::read(r, model))?,
    })
}

/// Which values of a Kind a Fetch or Stat asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The single value.
    Single,
    /// Index ranges (inclusive).
    Array(Vec<(u32, u32)>),
    /// Keys (empty: all).
    Dictionary(Vec<Vec<u8>>),
}

/// `StoredDataSpecifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifier {
    /// Kind-ID.
    pub kind: u32,
    /// Generation the fetcher has (0: none).
    pub generation: u64,
    /// Selection.
    pub selector: Selector,
}

fn write_specifier(w: &mut Writer, s: &Specifier) -> Result<(), WireError> {
    w.u32(s.kind);
    w.u64(s.generation);
    w.nested(2, "specifier", |w| match &s.selector {
        Selector::Single => Ok(()),
        Selector::Array(ranges) => w.nested(2, "indices", |w| {
            for (a, b) in ranges {
                w.u32(*a);
                w.u32(*b);
            }
            Ok(())
        }),
        Selector::Dictionary(keys) => w.nested(2, "keys", |w| {
            for k in keys {
                w.opaque(2, k, "dictionary key")?;
            }
            Ok(())
        }),
    })
}

fn read_specifier(r: &mut Reader) -> Result<Specifier, WireError> {
    let kind = r.u32("kind")?;
    let model = kind::model(kind)
        .ok_or_else(|| WireError::invalid("kind", format!("unknown kind {kind}")))?;
    let generation = r.u64("generation")?;
    let mut inner = r.nested(2, "specifier")?;
    let selector = match model {
        DataModel::Single => Selector::Single,
        DataModel::Array => {
            Selector::Array(inner.vec(2, "indices", |r| Ok((r.u32("first")?, r.u32("last")?)))?)
        }
        DataModel::Dictionary => Selector::Dictionary(
            inner.vec(2, "keys", |r| Ok(r.opaque(2, "dictionary key")?.to_vec()))?,
        ),
    };
    inner.finish("specifier")?;
    Ok(Specifier {
        kind,
        generation,
        selector,
    })
}

/// Metadata of a stored value (Stat answers): existence, length and hash instead of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMeta {
    /// Storage time.
    pub storage_time: u64,
    /// Lifetime.
    pub lifetime: u32,
    /// Array index or dictionary key, if the model has one.
    pub position: Option<Vec<u8>>,
    /// Whether the value exists.
    pub exists: bool,
    /// Value length.
    pub value_length: u32,
    /// SHA-256 of the value.
    pub hash: Vec<u8>,
}

/// ICE candidate (RFC 6940 `IceCandidate`), host candidates only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// Address.
    pub addr: SocketAddr,
    /// Overlay link type (4: TLS-TCP-FH-NO-ICE).
    pub overlay_link: u8,
    /// Foundation.
    pub foundation: Vec<u8>,
    /// Priority.
    pub priority: u32,
}

/// Attach / AppAttach contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    /// ICE username fragment.
    pub ufrag: Vec<u8>,
    /// ICE password.
    pub password: Vec<u8>,
    /// ICE role ("active" / "passive").
    pub role: Vec<u8>,
    /// Candidates.
    pub candidates: Vec<IceCandidate>,
    /// Attach: ask for an Update after connecting. AppAttach: the application port (`application`).
    pub send_update_or_application: u16,
}

fn write_candidates(w: &mut Writer, c: &[IceCandidate]) -> Result<(), WireError> {
    w.nested(2, "candidates", |w| {
        for c in c {
            write_addr(w, &c.addr);
            w.u8(c.overlay_link);
            w.opaque(1, &c.foundation, "foundation")?;
            w.u32(c.priority);
            w.u8(1); // host
            w.u16(0); // no extensions
        }
        Ok(())
    })
}

fn read_candidates(r: &mut Reader) -> Result<Vec<IceCandidate>, WireError> {
    r.vec(2, "candidates", |r| {
        let addr = read_addr(r)?;
        let overlay_link = r.u8("overlay_link")?;
        let foundation = r.opaque(1, "foundation")?.to_vec();
        let priority = r.u32("priority")?;
        match r.u8("candidate type")? {
            1 => {}
            2..=4 => {
                read_addr(r)?;
            }
            t => return Err(WireError::invalid("candidate type", format!("{t}"))),
        }
        r.vec(2, "ice extensions", |r| {
            r.opaque(2, "name")?;
            r.opaque(2, "value")?;
            Ok(())
        })?;
        Ok(IceCandidate {
            addr,
            overlay_link,
            foundation,
            priority,
        })
    })
}

/// What a flood carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FloodTopic {
    /// A signed transaction (RLP).
    Transaction,
    /// A block.
    Block,
    /// A consensus message.
    Vote,
    /// Anything else (tests, service announcements).
    Other,
    /// Signed transactions, several in one flood: an RLP list of their encodings.
    Transactions,
}

impl FloodTopic {
    fn to_u8(self) -> u8 {
        match self {
            FloodTopic::Transaction => 1,
            FloodTopic::Block => 2,
            FloodTopic::Vote => 3,
            FloodTopic::Other => 4,
            FloodTopic::Transactions => 5,
        }
    }
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => FloodTopic::Transaction,
            2 => FloodTopic::Block,
            3 => FloodTopic::Vote,
            4 => FloodTopic::Other,
            5 => FloodTopic::Transactions,
            t => return Err(WireError::invalid("flood topic", format!("{t}"))),
        })
    }
}

/// A typed message body. [`Body::decode`] takes the code from the message contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Ping request (padding).
    PingReq(Vec<u8>),
    /// Ping answer.
    PingAns {
        /// Response id.
        response_id: u64,
        /// Responder's time (ms).
        time: u64,
    },
    /// Probe request: the information types wanted (1 responsible_set, 2 num_resources, 3 uptime).
    ProbeReq(Vec<u8>),
    /// Probe answer: (type, value) pairs.
    ProbeAns(Vec<(u8, u32)>),
    /// Attach request.
    AttachReq(Attach),
    /// Attach answer.
    AttachAns(Attach),
    /// AppAttach request.
    AppAttachReq(Attach),
    /// AppAttach answer.
    AppAttachAns(Attach),
    /// Store request.
    StoreReq {
        /// Resource.
        resource: ResourceId,
        /// Replica number (0: the responsible node).
        replica_number: u8,
        /// Values by Kind.
        kinds: Vec<KindData>,
    },
    /// Store answer: per Kind, the new generation and the replicas.
    StoreAns(Vec<(u32, u64, Vec<NodeId>)>),
    /// Fetch request.
    FetchReq {
        /// Resource.
        resource: ResourceId,
        /// What to fetch.
        specifiers: Vec<Specifier>,
    },
    /// Fetch answer.
    FetchAns(Vec<KindData>),
    /// Stat request.
    StatReq {
        /// Resource.
        resource: ResourceId,
        /// What to describe.
        specifiers: Vec<Specifier>,
    },
    /// Stat answer: per Kind, generation and metadata.
    StatAns(Vec<(u32, u64, Vec<StoredMeta>)>),
    /// Find request.
    FindReq {
        /// Resource.
        resource: ResourceId,
        /// Kinds.
        kinds: Vec<u32>,
    },
    /// Find answer: per Kind, the closest resource stored.
    FindAns(Vec<(u32, ResourceId)>),
    /// Join request.
    JoinReq {
        /// The joining peer.
        peer: NodeId,
        /// Topology plug-in data (our listening contact).
        data: Vec<u8>,
    },
    /// Join answer (contacts near the joining peer).
    JoinAns(Vec<u8>),
    /// Leave request.
    LeaveReq {
        /// The leaving peer.
        peer: NodeId,
        /// Topology plug-in data.
        data: Vec<u8>,
    },
    /// Leave answer.
    LeaveAns,
    /// Update request (Chord-shaped `peer_ready`: uptime only).
    UpdateReq {
        /// Seconds the sender has been up.
        uptime: u32,
    },
    /// Update answer.
    UpdateAns,
    /// RouteQuery request.
    RouteQueryReq {
        /// Send an Update afterwards.
        send_update: bool,
        /// The destination asked about.
        destination: super::Destination,
        /// Topology plug-in data.
        data: Vec<u8>,
    },
    /// RouteQuery answer: the next hop and the plug-in's data (the k closest contacts).
    RouteQueryAns {
        /// Next hop.
        next_peer: NodeId,
        /// Contacts.
        data: Vec<u8>,
    },
    /// ConfigUpdate request: (1 config | 2 kinds, data).
    ConfigUpdateReq {
        /// 1: configuration document, 2: kind descriptions.
        kind: u8,
        /// The document(s).
        data: Vec<u8>,
    },
    /// ConfigUpdate answer.
    ConfigUpdateAns,
    /// Flood (the node's own message).
    Flood {
        /// What it carries.
        topic: FloodTopic,
        /// Kadcast height: the receiver forwards to buckets below it.
        height: u8,
        /// Payload.
        payload: Vec<u8>,
    },
    /// Error.
    Error {
        /// Error code.
        code: u16,
        /// Explanation.
        info: Vec<u8>,
    },
}

impl Body {
    /// The message code of this body.
    pub fn code(&self) -> u16 {
        use code::*;
        match self {
            Body::PingReq(_) => PING_REQ,
            Body::PingAns { .. } => PING_ANS,
            Body::ProbeReq(_) => PROBE_REQ,
            Body::ProbeAns(_) => PROBE_ANS,
            Body::AttachReq(_) => ATTACH_REQ,
            Body::AttachAns(_) => ATTACH_ANS,
            Body::AppAttachReq(_) => APP_ATTACH_REQ,
            Body::AppAttachAns(_) => APP_ATTACH_ANS,
            Body::StoreReq { .. } => STORE_REQ,
            Body::StoreAns(_) => STORE_ANS,
            Body::FetchReq { .. } => FETCH_REQ,
            Body::FetchAns(_) => FETCH_ANS,
            Body::StatReq { .. } => STAT_REQ,
            Body::StatAns(_) => STAT_ANS,
            Body::FindReq { .. } => FIND_REQ,
            Body::FindAns(_) => FIND_ANS,
            Body::JoinReq { .. } => JOIN_REQ,
            Body::JoinAns(_) => JOIN_ANS,
            Body::LeaveReq { .. } => LEAVE_REQ,
            Body::LeaveAns => LEAVE_ANS,
            Body::UpdateReq { .. } => UPDATE_REQ,
            Body::UpdateAns => UPDATE_ANS,
            Body::RouteQueryReq { .. } => ROUTE_QUERY_REQ,
            Body::RouteQueryAns { .. } => ROUTE_QUERY_ANS,
            Body::ConfigUpdateReq { .. } => CONFIG_UPDATE_REQ,
            Body::ConfigUpdateAns => CONFIG_UPDATE_ANS,
            Body::Flood { .. } => FLOOD_REQ,
            Body::Error { .. } => ERROR,
        }
    }

    /// Encodes the body.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        match self {
            Body::PingReq(p) => w.opaque(2, p, "padding")?,
            Body::PingAns { response_id, time } => {
                w.u64(*response_id);
                w.u64(*time);
            }
            Body::ProbeReq(types) => w.opaque(1, types, "requested_info")?,
            Body::ProbeAns(info) => w.nested(2, "probe_info", |w| {
                for (t, v) in info {
                    w.u8(*t);
                    w.u8(4);
                    w.u32(*v);
                }
                Ok(())
            })?,
            Body::AttachReq(a) | Body::AttachAns(a) => {
                w.opaque(1, &a.ufrag, "ufrag")?;
                w.opaque(1, &a.password, "password")?;
                w.opaque(1, &a.role, "role")?;
                write_candidates(&mut w, &a.candidates)?;
                w.boolean(a.send_update_or_application != 0);
            }
            Body::AppAttachReq(a) | Body::AppAttachAns(a) => {
                w.opaque(1, &a.ufrag, "ufrag")?;
                w.opaque(1, &a.password, "password")?;
                w.u16(a.send_update_or_application);
                w.opaque(1, &a.role, "role")?;
                write_candidates(&mut w, &a.candidates)?;
            }
            Body::StoreReq {
                resource,
                replica_number,
                kinds,
            } => {
                resource.write(&mut w)?;
                w.u8(*replica_number);
                w.nested(4, "kind_data", |w| {
                    for k in kinds {
                        write_kind_data(w, k)?;
                    }
                    Ok(())
                })?;
            }
            Body::StoreAns(responses) => w.nested(2, "kind_responses", |w| {
                for (kind, generation, replicas) in responses {
                    w.u32(*kind);
                    w.u64(*generation);
                    w.nested(2, "replicas", |w| {
                        for r in replicas {
                            r.write(w);
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?,
            Body::FetchReq {
                resource,
                specifiers,
            }
            | Body::StatReq {
                resource,
                specifiers,
            } => {
                resource.write(&mut w)?;
                w.nested(2, "specifiers", |w| {
                    for s in specifiers {
                        write_specifier(w, s)?;
                    }
                    Ok(())
                })?;
            }
            Body::FetchAns(kinds) => w.nested(4, "kind_responses", |w| {
                for k in kinds {
                    write_kind_data(w, k)?;
                }
                Ok(())
            })?,
            Body::StatAns(kinds) => w.nested(4, "kind_responses", |w| {
                for (kind, generation, metas) in kinds {
                    let model = kind::model(*kind).ok_or_else(|| {
                        WireError::invalid("kind", format!("unknown kind {kind}"))
                    })?;
                    w.u32(*kind);
                    w.u64(*generation);
                    w.nested(4, "values", |w| {
                        for m in metas {
                            w.nested(4, "stored metadata", |w| {
                                w.u64(m.storage_time);
                                w.u32(m.lifetime);
                                match (model, &m.position) {
                                    (DataModel::Array, Some(p)) if p.len() == 4 => w.raw(p),
                                    (DataModel::Dictionary, Some(p)) => {
                                        w.opaque(2, p, "dictionary key")?
                                    }
                                    (DataModel::Single, None) => {}
                                    _ => {
                                        return Err(WireError::invalid(
                                            "metadata",
                                            "position does not fit the data model",
                                        ))
                                    }
                                }
                                w.boolean(m.exists);
                                w.u32(m.value_length);
                                w.u8(4);
                                w.opaque(1, &m.hash, "hash_value")
                            })?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?,
            Body::FindReq { resource, kinds } => {
                resource.write(&mut w)?;
                w.nested(1, "kinds", |w| {
                    for k in kinds {
                        w.u32(*k);
                    }
                    Ok(())
                })?;
            }
            Body::FindAns(results) => w.nested(2, "results", |w| {
                for (k, r) in results {
                    w.u32(*k);
                    r.write(w)?;
                }
                Ok(())
            })?,
            Body::JoinReq { peer, data } | Body::LeaveReq { peer, data } => {
                peer.write(&mut w);
                w.opaque(2, data, "overlay_specific_data")?;
            }
            Body::JoinAns(data) => w.opaque(2, data, "overlay_specific_data")?,
            Body::LeaveAns | Body::UpdateAns | Body::ConfigUpdateAns => {}
            Body::UpdateReq { uptime } => {
                w.u32(*uptime);
                w.u8(1); // peer_ready
            }
            Body::RouteQueryReq {
                send_update,
                destination,
                data,
            } => {
                w.boolean(*send_update);
                destination.write(&mut w)?;
                w.opaque(2, data, "overlay_specific_data")?;
            }
            Body::RouteQueryAns { next_peer, data } => {
                next_peer.write(&mut w);
                w.opaque(2, data, "overlay_specific_data")?;
            }
            Body::ConfigUpdateReq { kind, data } => {
                w.u8(*kind);
                w.nested(4, "config_update", |w| w.opaque(3, data, "config_data"))?;
            }
            Body::Flood {
                topic,
                height,
                payload,
            } => {
                w.u8(topic.to_u8());
                w.u8(*height);
                w.opaque(4, payload, "payload")?;
            }
            Body::Error { code, info } => {
                w.u16(*code);
                w.opaque(2, info, "error_info")?;
            }
        }
        Ok(w.buf)
    }

    /// Decodes the body of a message with `code`. Unknown codes and Kinds are errors.
    pub fn decode(code: u16, bytes: &[u8]) -> Result<Self, WireError> {
        use code::*;
        let mut r = Reader::new(bytes);
        let attach = |r: &mut Reader, app: bool| -> Result<Attach, WireError> {
            let ufrag = r.opaque(1, "ufrag")?.to_vec();
            let password = r.opaque(1, "password")?.to_vec();
            if app {
                let application = r.u16("application")?;
                let role = r.opaque(1, "role")?.to_vec();
                let candidates = read_candidates(r)?;
                Ok(Attach {
                    ufrag,
                    password,
                    role,
                    candidates,
                    send_update_or_application: application,
                })
            } else {
                let role = r.opaque(1, "role")?.to_vec();
                let candidates = read_candidates(r)?;
                let send_update = r.boolean("send_update")?;
                Ok(Attach {
                    ufrag,
                    password,
                    role,
                    candidates,
                    send_update_or_application: send_update as u16,
                })
            }
        };
        let body = match code {
            PING_REQ => Body::PingReq(r.opaque(2, "padding")?.to_vec()),
            PING_ANS => Body::PingAns {
                response_id: r.u64("response_id")?,
                time: r.u64("time")?,
            },
            PROBE_REQ => Body::ProbeReq(r.opaque(1, "requested_info")?.to_vec()),
            PROBE_ANS => Body::ProbeAns(r.vec(2, "probe_info", |r| {
                let t = r.u8("probe type")?;
                let mut inner = r.nested(1, "probe information")?;
                let v = inner.u32("probe value")?;
                inner.finish("probe information")?;
                Ok((t, v))
            })?),
            ATTACH_REQ => Body::AttachReq(attach(&mut r, false)?),
            ATTACH_ANS => Body::AttachAns(attach(&mut r, false)?),
            APP_ATTACH_REQ => Body::AppAttachReq(attach(&mut r, true)?),
            APP_ATTACH_ANS => Body::AppAttachAns(attach(&mut r, true)?),
            STORE_REQ => Body::StoreReq {
                resource: ResourceId::read(&mut r)?,
                replica_number: r.u8("replica_number")?,
                kinds: r.vec(4, "kind_data", read_kind_data)?,
            },
            STORE_ANS => Body::StoreAns(r.vec(2, "kind_responses", |r| {
                Ok((
                    r.u32("kind")?,
                    r.u64("generation_counter")?,
                    r.vec(2, "replicas", NodeId::read)?,
                ))
            })?),
            FETCH_REQ | STAT_REQ => {
                let resource = ResourceId::read(&mut r)?;
                let specifiers = r.vec(2, "specifiers", read_specifier)?;
                if code == FETCH_REQ {
                    Body::FetchReq {
                        resource,
                        specifiers,
                    }
                } else {
                    Body::StatReq {
                        resource,
                        specifiers,
                    }
                }
            }
            FETCH_ANS => Body::FetchAns(r.vec(4, "kind_responses", read_kind_data)?),
            STAT_ANS => Body::StatAns(r.vec(4, "kind_responses", |r| {
                let kind = r.u32("kind")?;
                let model = kind::model(kind)
                    .ok_or_else(|| WireError::invalid("kind", format!("unknown kind {kind}")))?;
                let generation = r.u64("generation_counter")?;
                let metas = r.vec(4, "values", |r| {
                    let mut r = r.nested(4, "stored metadata")?;
                    let r = &mut r;
                    let storage_time = r.u64("storage_time")?;
                    let lifetime = r.u32("lifetime")?;
                    let position = match model {
                        DataModel::Single => None,
                        DataModel::Array => Some(r.take(4, "index")?.to_vec()),
                        DataModel::Dictionary => Some(r.opaque(2, "dictionary key")?.to_vec()),
                    };
                    let exists = r.boolean("exists")?;
                    let value_length = r.u32("value_length")?;
                    let _alg = r.u8("hash_algorithm")?;
                    let hash = r.opaque(1, "hash_value")?.to_vec();
                    r.finish("stored metadata")?;
                    Ok(StoredMeta {
                        storage_time,
                        lifetime,
                        position,
                        exists,
                        value_length,
                        hash,
                    })
                })?;
                Ok((kind, generation, metas))
            })?),
            FIND_REQ => Body::FindReq {
                resource: ResourceId::read(&mut r)?,
                kinds: r.vec(1, "kinds", |r| r.u32("kind"))?,
            },
            FIND_ANS => {
                Body::FindAns(r.vec(2, "results", |r| Ok((r.u32("kind")?, ResourceId::read(r)?)))?)
            }
            JOIN_REQ => Body::JoinReq {
                peer: NodeId::read(&mut r)?,
                data: r.opaque(2, "overlay_specific_data")?.to_vec(),
            },
            JOIN_ANS => Body::JoinAns(r.opaque(2, "overlay_specific_data")?.to_vec()),
            LEAVE_REQ => Body::LeaveReq {
                peer: NodeId::read(&mut r)?,
                data: r.opaque(2, "overlay_specific_data")?.to_vec(),
            },
            LEAVE_ANS => Body::LeaveAns,
            UPDATE_REQ => {
                let uptime = r.u32("uptime")?;
                match r.u8("update type")? {
                    1 => Body::UpdateReq { uptime },
                    t => return Err(WireError::invalid("update type", format!("{t}"))),
                }
            }
            UPDATE_ANS => Body::UpdateAns,
            ROUTE_QUERY_REQ => Body::RouteQueryReq {
                send_update: r.boolean("send_update")?,
                destination: super::Destination::read(&mut r)?,
                data: r.opaque(2, "overlay_specific_data")?.to_vec(),
            },
            ROUTE_QUERY_ANS => Body::RouteQueryAns {
                next_peer: NodeId::read(&mut r)?,
                data: r.opaque(2, "overlay_specific_data")?.to_vec(),
            },
            CONFIG_UPDATE_REQ => {
                let kind = r.u8("config update type")?;
                let mut inner = r.nested(4, "config_update")?;
                let data = inner.opaque(3, "config_data")?.to_vec();
                inner.finish("config_update")?;
                Body::ConfigUpdateReq { kind, data }
            }
            CONFIG_UPDATE_ANS => Body::ConfigUpdateAns,
            FLOOD_REQ => Body::Flood {
                topic: FloodTopic::from_u8(r.u8("flood topic")?)?,
                height: r.u8("flood height")?,
                payload: r.opaque(4, "payload")?.to_vec(),
            },
            ERROR => Body::Error {
                code: r.u16("error_code")?,
                info: r.opaque(2, "error_info")?.to_vec(),
            },
            c => {
                return Err(WireError::invalid(
                    "message_code",
                    format!("unknown code {c}"),
                ))
            }
        };
        r.finish(code::name(code))?;
        Ok(body)
    }
}
