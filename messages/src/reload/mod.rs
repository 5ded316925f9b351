//! RELOAD (RFC 6940) on the wire: the forwarding header, message contents, security block, the
//! framing used on TLS links, and the bodies of every base-protocol message, plus the node's own
//! application messages (flooded transactions, blocks and votes) carried as RELOAD messages.
//!
//! Every decoder reads untrusted bytes and returns a [`WireError`]; none panics (a fuzz test feeds
//! them random and mutated input). Frames we encode are checked by Wireshark's RELOAD dissector in
//! the integration tests.

pub mod body;
pub mod wire;

pub use body::*;
pub use wire::{Reader, WireError, Writer};

use std::fmt;

/// The first four bytes of every RELOAD message: "RELO" with the high bit set.
pub const RELO_TOKEN: u32 = 0xd245_4c4f;
/// Protocol version 1.0, times ten.
pub const VERSION: u8 = 0x0a;
/// Fragment field of an unfragmented message: the always-set bit and the last-fragment bit.
pub const UNFRAGMENTED: u32 = 0xc000_0000;
/// Largest message we accept or send (the framing's 24-bit length).
pub const MAX_MESSAGE: usize = 0xff_ffff;

/// A Node-ID: 128 bits, derived from the node's public key (RFC 6940's default length).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub u128);

impl NodeId {
    /// XOR distance (Kademlia's metric).
    pub fn distance(&self, other: &NodeId) -> u128 {
        self.0 ^ other.0
    }
    /// Big-endian bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
    /// From big-endian bytes.
    pub fn from_bytes(b: [u8; 16]) -> Self {
        NodeId(u128::from_be_bytes(b))
    }
    /// Parses 32 hex digits (with or without 0x).
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let b: [u8; 16] = hex::decode(s).ok()?.try_into().ok()?;
        Some(Self::from_bytes(b))
    }
    fn write(&self, w: &mut Writer) {
        w.u128(self.0);
    }
    fn read(r: &mut Reader) -> Result<Self, WireError> {
        Ok(NodeId(r.u128("node_id")?))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// A Resource-ID: `opaque<0..2^8-1>`; ours are 16 bytes, in the Node-ID space.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ResourceId(pub Vec<u8>);

impl ResourceId {
    /// A 16-byte resource id at `id` in the Node-ID space.
    pub fn from_u128(id: u128) -> Self {
        ResourceId(id.to_be_bytes().to_vec())
    }
    /// Where the resource sits in the Node-ID space: its first 16 bytes, zero-padded.
    pub fn position(&self) -> u128 {
        let mut b = [0u8; 16];
        let n = self.0.len().min(16);
        b[..n].copy_from_slice(&self.0[..n]);
        u128::from_be_bytes(b)
    }
    fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.opaque(1, &self.0, "resource_id")
    }
    fn read(r: &mut Reader) -> Result<Self, WireError> {
        Ok(ResourceId(r.opaque(1, "resource_id")?.to_vec()))
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", hex::encode(&self.0))
    }
}

/// An entry of a via or destination list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A node.
    Node(NodeId),
    /// A resource: route to the node responsible for it.
    Resource(ResourceId),
    /// An opaque id agreed with the neighbor.
    Opaque(Vec<u8>),
    /// The 16-bit compressed form (first bit set).
    Compressed(u16),
}

impl Destination {
    fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        match self {
            Destination::Node(id) => {
                w.u8(1);
                w.u8(16);
                id.write(w);
            }
            Destination::Resource(r) => {
                w.u8(2);
                w.nested(1, "destination", |w| r.write(w))?;
            }
            Destination::Opaque(o) => {
                w.u8(3);
                w.nested(1, "destination", |w| w.opaque(1, o, "opaque_id"))?;
            }
            Destination::Compressed(c) => {
                if c & 0x8000 == 0 {
                    return Err(WireError::invalid(
                        "destination",
                        "compressed id without its first bit",
                    ));
                }
                w.u16(*c);
            }
        }
        Ok(())
    }

    fn read(r: &mut Reader) -> Result<Self, WireError> {
        let first = r.u8("destination type")?;
        if first & 0x80 != 0 {
            let second = r.u8("compressed destination")?;
            return Ok(Destination::Compressed(u16::from_be_bytes([first, second])));
        }
        let mut inner = r.nested(1, "destination")?;
        let d = match first {
            1 => Destination::Node(NodeId::read(&mut inner)?),
            2 => Destination::Resource(ResourceId::read(&mut inner)?),
            3 => Destination::Opaque(inner.opaque(1, "opaque_id")?.to_vec()),
            t => {
                return Err(WireError::invalid(
                    "destination type",
                    format!("unknown type {t}"),
                ))
            }
        };
        inner.finish("destination")?;
        Ok(d)
    }
}

/// A forwarding option (type, flags, opaque value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingOption {
    /// Option type.
    pub kind: u8,
    /// Flags (0x01 response copy, 0x02 destination critical, 0x04 forward critical).
    pub flags: u8,
    /// The option's value.
    pub value: Vec<u8>,
}

/// The forwarding header every RELOAD message starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingHeader {
    /// The overlay: the low 32 bits of the hash of the overlay name.
    pub overlay: u32,
    /// Configuration sequence number (0: unknown).
    pub configuration_sequence: u16,
    /// Hops left before the message is dropped.
    pub ttl: u8,
    /// Fragment field ([`UNFRAGMENTED`] for whole messages).
    pub fragment: u32,
    /// Transaction id: matches answers to requests.
    pub transaction_id: u64,
    /// Largest answer the sender accepts (0: no limit).
    pub max_response_length: u32,
    /// Nodes the message passed through (each hop appends the previous one).
    pub via_list: Vec<Destination>,
    /// Where the message goes, first entry next.
    pub destination_list: Vec<Destination>,
    /// Forwarding options.
    pub options: Vec<ForwardingOption>,
}

impl ForwardingHeader {
    /// A header for a new request to `destinations`.
    pub fn new(overlay: u32, transaction_id: u64, ttl: u8, destinations: Vec<Destination>) -> Self {
        Self {
            overlay,
            configuration_sequence: 0,
            ttl,
            fragment: UNFRAGMENTED,
            transaction_id,
            max_response_length: 0,
            via_list: Vec::new(),
            destination_list: destinations,
            options: Vec::new(),
        }
    }
}

/// A message extension (type, critical flag, opaque contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension type.
    pub kind: u16,
    /// Whether a receiver that does not know it must refuse the message.
    pub critical: bool,
    /// Contents.
    pub contents: Vec<u8>,
}

/// Signature and hash algorithm (TLS registry values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureAlgorithm {
    /// Hash algorithm (8: intrinsic).
    pub hash: u8,
    /// Signature algorithm (7: Ed25519).
    pub signature: u8,
}

impl SignatureAlgorithm {
    /// Ed25519, which hashes internally: the algorithm our nodes sign with.
    pub const ED25519: Self = Self {
        hash: 8,
        signature: 7,
    };
}

/// Who signed: the hash of the signer's certificate (RFC 6940 `cert_hash`), or nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerIdentity {
    /// `cert_hash`: hash algorithm and the certificate's hash.
    CertHash {
        /// Hash algorithm (4: SHA-256).
        hash_alg: u8,
        /// The hash.
        hash: Vec<u8>,
    },
    /// `cert_hash_node_id`: hash algorithm and the hash of certificate and Node-ID.
    CertHashNodeId {
        /// Hash algorithm.
        hash_alg: u8,
        /// The hash.
        hash: Vec<u8>,
    },
    /// `none`: unsigned.
    None,
}

impl SignerIdentity {
    /// Encoded form (it is part of what is signed).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        match self {
            SignerIdentity::CertHash { hash_alg, hash }
            | SignerIdentity::CertHashNodeId { hash_alg, hash } => {
                w.u8(if matches!(self, SignerIdentity::CertHash { .. }) {
                    1
                } else {
                    2
                });
                w.nested(2, "signer identity", |w| {
                    w.u8(*hash_alg);
                    w.opaque(1, hash, "certificate hash")
                })?;
            }
            SignerIdentity::None => {
                w.u8(3);
                w.u16(0);
            }
        }
        Ok(w.buf)
    }

    fn read(r: &mut Reader) -> Result<Self, WireError> {
        let t = r.u8("identity_type")?;
        let mut inner = r.nested(2, "signer identity")?;
        let id = match t {
            1 | 2 => {
                let hash_alg = inner.u8("hash_alg")?;
                let hash = inner.opaque(1, "certificate hash")?.to_vec();
                if t == 1 {
                    SignerIdentity::CertHash { hash_alg, hash }
                } else {
                    SignerIdentity::CertHashNodeId { hash_alg, hash }
                }
            }
            3 => SignerIdentity::None,
            t => {
                return Err(WireError::invalid(
                    "identity_type",
                    format!("unknown type {t}"),
                ))
            }
        };
        inner.finish("signer identity")?;
        Ok(id)
    }
}

/// A RELOAD signature: algorithm, signer, value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The signer.
    pub identity: SignerIdentity,
    /// The signature bytes.
    pub value: Vec<u8>,
}

impl Signature {
    /// The empty signature of unsigned data.
    pub fn none() -> Self {
        Self {
            algorithm: SignatureAlgorithm {
                hash: 0,
                signature: 0,
            },
            identity: SignerIdentity::None,
            value: Vec::new(),
        }
    }
    /// Encodes the signature.
    pub fn write(&self, w: &mut Writer) -> Result<(), WireError> {
        w.u8(self.algorithm.hash);
        w.u8(self.algorithm.signature);
        w.raw(&self.identity.encode()?);
        w.opaque(2, &self.value, "signature_value")
    }
    /// Decodes a signature.
    pub fn read(r: &mut Reader) -> Result<Self, WireError> {
        let hash = r.u8("hash algorithm")?;
        let signature = r.u8("signature algorithm")?;
        let identity = SignerIdentity::read(r)?;
        let value = r.opaque(2, "signature_value")?.to_vec();
        Ok(Self {
            algorithm: SignatureAlgorithm { hash, signature },
            identity,
            value,
        })
    }
}

/// The certificates and the signature closing every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityBlock {
    /// (type, DER) pairs; type 0 is X.509.
    pub certificates: Vec<(u8, Vec<u8>)>,
    /// The signature over overlay, transaction id, contents and signer identity.
    pub signature: Signature,
}

/// A whole RELOAD message: header, contents (code, body, extensions) and security block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The forwarding header.
    pub header: ForwardingHeader,
    /// The message code (odd: request, even: answer, 0xffff: error).
    pub code: u16,
    /// The body, encoded; [`Body::decode`] reads it.
    pub body: Vec<u8>,
    /// Extensions.
    pub extensions: Vec<Extension>,
    /// Certificates and signature.
    pub security: SecurityBlock,
}

impl Message {
    /// The encoded message contents (code, body, extensions): what the signature covers.
    pub fn contents(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.u16(self.code);
        w.opaque(4, &self.body, "message_body")?;
        w.nested(4, "extensions", |w| {
            for e in &self.extensions {
                w.u16(e.kind);
                w.boolean(e.critical);
                w.opaque(4, &e.contents, "extension_contents")?;
            }
            Ok(())
        })?;
        Ok(w.buf)
    }

    /// The bytes a message signature covers: overlay, transaction id, contents, signer identity.
    pub fn signing_input(
        overlay: u32,
        transaction_id: u64,
        contents: &[u8],
        identity: &SignerIdentity,
    ) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.u32(overlay);
        w.u64(transaction_id);
        w.raw(contents);
        w.raw(&identity.encode()?);
        Ok(w.buf)
    }

    /// Encodes the message; the header's length field is computed.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let h = &self.header;
        let mut lists = Writer::new();
        let mut via = Writer::new();
        for d in &h.via_list {
            d.write(&mut via)?;
        }
        let mut dest = Writer::new();
        for d in &h.destination_list {
            d.write(&mut dest)?;
        }
        let mut opts = Writer::new();
        for o in &h.options {
            opts.u8(o.kind);
            opts.u8(o.flags);
            opts.opaque(2, &o.value, "forwarding option")?;
        }
        let list_len = |b: &Vec<u8>, what| {
            u16::try_from(b.len()).map_err(|_| WireError::TooLong {
                field: what,
                len: b.len(),
                max: 0xffff,
            })
        };
        let (vl, dl, ol) = (
            list_len(&via.buf, "via_list")?,
            list_len(&dest.buf, "destination_list")?,
            list_len(&opts.buf, "options")?,
        );
        lists.raw(&via.buf);
        lists.raw(&dest.buf);
        lists.raw(&opts.buf);

        let contents = self.contents()?;
        let mut sec = Writer::new();
        sec.nested(2, "certificates", |w| {
            for (t, c) in &self.security.certificates {
                w.u8(*t);
                w.opaque(2, c, "certificate")?;
            }
            Ok(())
        })?;
        self.security.signature.write(&mut sec)?;

        // token(4) overlay(4) seq(2) version(1) ttl(1) fragment(4) length(4) txid(8) maxresp(4) 3×u16
        let fixed = 38usize;
        let total = fixed + lists.buf.len() + contents.len() + sec.buf.len();
        if total > MAX_MESSAGE {
            return Err(WireError::TooLong {
                field: "message",
                len: total,
                max: MAX_MESSAGE,
            });
        }
        let mut w = Writer::new();
        w.u32(RELO_TOKEN);
        w.u32(h.overlay);
        w.u16(h.configuration_sequence);
        w.u8(VERSION);
        w.u8(h.ttl);
        w.u32(h.fragment);
        w.u32(total as u32);
        w.u64(h.transaction_id);
        w.u32(h.max_response_length);
        w.u16(vl);
        w.u16(dl);
        w.u16(ol);
        w.raw(&lists.buf);
        w.raw(&contents);
        w.raw(&sec.buf);
        Ok(w.buf)
    }

    /// Decodes a whole message; refuses a wrong token or version, a length that does not match,
    /// fragments (we never fragment) and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        if r.u32("relo_token")? != RELO_TOKEN {
            return Err(WireError::invalid("relo_token", "not a RELOAD message"));
        }
        let overlay = r.u32("overlay")?;
        let configuration_sequence = r.u16("configuration_sequence")?;
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(WireError::invalid(
                "version",
                format!("0x{version:02x}, want 0x0a"),
            ));
        }
        let ttl = r.u8("ttl")?;
        let fragment = r.u32("fragment")?;
        if fragment != UNFRAGMENTED {
            return Err(WireError::invalid(
                "fragment",
                "fragmented messages are not supported",
            ));
        }
        let length = r.u32("length")? as usize;
        if length != bytes.len() {
            return Err(WireError::invalid(
                "length",
                format!("header says {length}, message has {}", bytes.len()),
            ));
        }
        let transaction_id = r.u64("transaction_id")?;
        let max_response_length = r.u32("max_response_length")?;
        let vl = r.u16("via_list_length")? as usize;
        let dl = r.u16("destination_list_length")? as usize;
        let ol = r.u16("options_length")? as usize;
        let list = |bytes: &[u8]| -> Result<Vec<Destination>, WireError> {
            let mut r = Reader::new(bytes);
            let mut out = Vec::new();
            while !r.is_empty() {
                out.push(Destination::read(&mut r)?);
            }
            Ok(out)
        };
        let via_list = list(r.take(vl, "via_list")?)?;
        let destination_list = list(r.take(dl, "destination_list")?)?;
        let mut or = Reader::new(r.take(ol, "options")?);
        let mut options = Vec::new();
        while !or.is_empty() {
            options.push(ForwardingOption {
                kind: or.u8("option type")?,
                flags: or.u8("option flags")?,
                value: or.opaque(2, "forwarding option")?.to_vec(),
            });
        }
        let code = r.u16("message_code")?;
        let body = r.opaque(4, "message_body")?.to_vec();
        let extensions = r.vec(4, "extensions", |r| {
            Ok(Extension {
                kind: r.u16("extension type")?,
                critical: r.boolean("critical")?,
                contents: r.opaque(4, "extension_contents")?.to_vec(),
            })
        })?;
        let certificates = r.vec(2, "certificates", |r| {
            Ok((
                r.u8("certificate type")?,
                r.opaque(2, "certificate")?.to_vec(),
            ))
        })?;
        let signature = Signature::read(&mut r)?;
        r.finish("message")?;
        Ok(Message {
            header: ForwardingHeader {
                overlay,
                configuration_sequence,
                ttl,
                fragment,
                transaction_id,
                max_response_length,
                via_list,
                destination_list,
                options,
            },
            code,
            body,
            extensions,
            security: SecurityBlock {
                certificates,
                signature,
            },
        })
    }
}

/// A frame on a link (RFC 6940 §5.6.3.1): data with a sequence number, or an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A message.
    Data {
        /// Sequence number on this link.
        sequence: u32,
        /// The encoded [`Message`].
        message: Vec<u8>,
    },
    /// Acknowledges a data frame.
    Ack {
        /// The sequence acknowledged.
        ack_sequence: u32,
        /// Bitmask of the last 32 frames received.
        received: u32,
    },
}

impl Frame {
    /// Encodes the frame.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        match self {
            Frame::Data { sequence, message } => {
                w.u8(128);
                w.u32(*sequence);
                w.opaque(3, message, "framed message")?;
            }
            Frame::Ack {
                ack_sequence,
                received,
            } => {
                w.u8(129);
                w.u32(*ack_sequence);
                w.u32(*received);
            }
        }
        Ok(w.buf)
    }

    /// How many bytes the frame at the start of `buf` needs in all, once its header is readable
    /// (`None`: not enough bytes yet to tell). Errors on an unknown frame type.
    pub fn needed(buf: &[u8]) -> Result<Option<usize>, WireError> {
        match buf.first() {
            None => Ok(None),
            Some(128) if buf.len() < 8 => Ok(None),
            Some(128) => Ok(Some(
                8 + u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize,
            )),
            Some(129) => Ok(Some(9)),
            Some(t) => Err(WireError::invalid("frame type", format!("{t}"))),
        }
    }

    /// Decodes one frame that fills `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let f = match r.u8("frame type")? {
            128 => Frame::Data {
                sequence: r.u32("sequence")?,
                message: r.opaque(3, "framed message")?.to_vec(),
            },
            129 => Frame::Ack {
                ack_sequence: r.u32("ack_sequence")?,
                received: r.u32("received")?,
            },
            t => return Err(WireError::invalid("frame type", format!("{t}"))),
        };
        r.finish("frame")?;
        Ok(f)
    }
}
