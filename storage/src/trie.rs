//! The Ethereum Merkle Patricia trie (Yellow Paper appendix D), byte-exact with Ethereum's roots.
//!
//! Nodes live in memory once touched and are loaded lazily by hash from a [`NodeReader`] otherwise.
//! [`Trie::commit`] returns the root hash and every node whose encoding is 32 bytes or more (plus the
//! root), for the caller to persist in the same batch as whatever refers to them. The trie itself never
//! writes.

use crate::{Result, StorageError};
use alloy_primitives::{keccak256, B256};
use alloy_rlp::Encodable;
use platon_messages::block::EMPTY_ROOT;
use platon_messages::rlp::Reader;
use std::borrow::Cow;
use std::sync::Arc;

/// Trie nodes to persist: (keccak256 of the encoding, RLP encoding).
pub type TrieNodes = Vec<(B256, Vec<u8>)>;

/// Where trie nodes are read from by hash.
pub trait NodeReader: Send + Sync {
    /// The RLP encoding of the node with this hash, if present.
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>>;
    /// Contract code by its keccak256, if present (readers without code storage have none).
    fn code(&self, _hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// A reader with no nodes: for tries built from scratch (transactions and receipts roots).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNodes;
impl NodeReader for NoNodes {
    fn node(&self, _hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// Nodes and code held in memory: for tests, benchmarks and tools that build a state from scratch.
#[derive(Debug, Default)]
pub struct MemoryNodes {
    nodes: parking_lot::RwLock<std::collections::HashMap<B256, Vec<u8>>>,
    codes: parking_lot::RwLock<std::collections::HashMap<B256, Vec<u8>>>,
}

impl MemoryNodes {
    /// Adds committed nodes and code.
    pub fn insert(&self, nodes: TrieNodes, codes: Vec<(B256, Vec<u8>)>) {
        self.nodes.write().extend(nodes);
        self.codes.write().extend(codes);
    }
}

impl NodeReader for MemoryNodes {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(self.nodes.read().get(hash).cloned())
    }
    fn code(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(self.codes.read().get(hash).cloned())
    }
}

/// Trie nodes and code of executed but uncommitted blocks, over the committed store: what a
/// validator executes the next block on while the previous ones still wait for their QCs.
pub struct LayeredNodes {
    layers: Vec<Arc<MemoryNodes>>,
    base: Arc<dyn NodeReader>,
}

impl LayeredNodes {
    /// `layers` (newest first: a block's nodes before its parent's) over `base`.
    pub fn new(layers: Vec<Arc<MemoryNodes>>, base: Arc<dyn NodeReader>) -> Self {
        Self { layers, base }
    }
}

impl NodeReader for LayeredNodes {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        for l in &self.layers {
            if let Some(n) = l.node(hash)? {
                return Ok(Some(n));
            }
        }
        self.base.node(hash)
    }
    fn code(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        for l in &self.layers {
            if let Some(c) = l.code(hash)? {
                return Ok(Some(c));
            }
        }
        self.base.code(hash)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Empty,
    Leaf(Vec<u8>, Vec<u8>),
    Ext(Vec<u8>, Box<Node>),
    Branch(Box<[Node; 16]>, Option<Vec<u8>>),
    Hash(B256),
}

fn empty_children() -> Box<[Node; 16]> {
    Box::new(std::array::from_fn(|_| Node::Empty))
}

fn to_nibbles(key: &[u8]) -> Vec<u8> {
    key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

fn from_nibbles(n: &[u8]) -> Vec<u8> {
    n.chunks(2)
        .map(|c| (c[0] << 4) | c.get(1).copied().unwrap_or(0))
        .collect()
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn decode_hex_prefix(bytes: &[u8]) -> Result<(Vec<u8>, bool)> {
    let corrupt = |d: &str| StorageError::Corrupt {
        what: "trie node path".into(),
        detail: d.into(),
    };
    let first = *bytes.first().ok_or_else(|| corrupt("empty path"))?;
    let flag = first >> 4;
    if flag > 3 {
        return Err(corrupt("bad hex-prefix flag"));
    }
    let mut nibbles = Vec::with_capacity(bytes.len() * 2);
    if flag & 1 == 1 {
        nibbles.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return Err(corrupt("even path with a non-zero padding nibble"));
    }
    nibbles.extend(to_nibbles(&bytes[1..]));
    Ok((nibbles, flag & 2 == 2))
}

fn decode_node(bytes: &[u8]) -> Result<Node> {
    let corrupt = |d: String| StorageError::Corrupt {
        what: "trie node".into(),
        detail: d,
    };
    let mut outer = Reader::new(bytes);
    let mut list = outer.list().map_err(|e| corrupt(e.to_string()))?;
    outer.finish().map_err(|e| corrupt(e.to_string()))?;
    let mut items = Vec::new();
    while !list.is_empty() {
        items.push(list.raw().map_err(|e| corrupt(e.to_string()))?);
    }
    let as_bytes = |raw: &[u8]| -> Result<Vec<u8>> {
        Reader::new(raw)
            .bytes()
            .map(<[u8]>::to_vec)
            .map_err(|e| corrupt(e.to_string()))
    };
    match items.len() {
        2 => {
            let (path, leaf) = decode_hex_prefix(&as_bytes(items[0])?)?;
            if leaf {
                Ok(Node::Leaf(path, as_bytes(items[1])?))
            } else {
                Ok(Node::Ext(path, Box::new(decode_ref(items[1])?)))
            }
        }
        17 => {
            let mut children = empty_children();
            for (i, raw) in items[..16].iter().enumerate() {
                children[i] = decode_ref(raw)?;
            }
            let value = as_bytes(items[16])?;
            Ok(Node::Branch(
                children,
                if value.is_empty() { None } else { Some(value) },
            ))
        }
        n => Err(corrupt(format!("node list has {n} items"))),
    }
}

fn decode_ref(raw: &[u8]) -> Result<Node> {
    if raw.first().is_some_and(|b| *b >= 0xc0) {
        return decode_node(raw);
    }
    let b = Reader::new(raw)
        .bytes()
        .map_err(|e| StorageError::Corrupt {
            what: "trie child reference".into(),
            detail: e.to_string(),
        })?;
    match b.len() {
        0 => Ok(Node::Empty),
        32 => Ok(Node::Hash(B256::from_slice(b))),
        n => Err(StorageError::Corrupt {
            what: "trie child reference".into(),
            detail: format!("{n} bytes"),
        }),
    }
}

/// An Ethereum Merkle Patricia trie over a node reader.
#[derive(Clone)]
pub struct Trie {
    root: Node,
    reader: Arc<dyn NodeReader>,
}

impl std::fmt::Debug for Trie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trie").finish_non_exhaustive()
    }
}

impl Trie {
    /// An empty trie.
    pub fn new(reader: Arc<dyn NodeReader>) -> Self {
        Trie {
            root: Node::Empty,
            reader,
        }
    }

    /// The trie with root `root`, loading nodes lazily from `reader`.
    pub fn at_root(root: B256, reader: Arc<dyn NodeReader>) -> Self {
        let root = if root == EMPTY_ROOT {
            Node::Empty
        } else {
            Node::Hash(root)
        };
        Trie { root, reader }
    }

    fn load(&self, hash: &B256) -> Result<Node> {
        match self.reader.node(hash)? {
            Some(bytes) => decode_node(&bytes),
            None => Err(StorageError::MissingNode(*hash)),
        }
    }

    fn resolve<'n>(&self, node: &'n Node) -> Result<Cow<'n, Node>> {
        match node {
            Node::Hash(h) => Ok(Cow::Owned(self.load(h)?)),
            n => Ok(Cow::Borrowed(n)),
        }
    }

    /// The node reader this trie loads from.
    pub fn reader(&self) -> Arc<dyn NodeReader> {
        self.reader.clone()
    }

    /// The value at `key`. Walks the in-memory nodes by reference and loads only hashed ones.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_at(&self.root, &to_nibbles(key))
    }

    fn get_at(&self, node: &Node, path: &[u8]) -> Result<Option<Vec<u8>>> {
        match node {
            Node::Empty => Ok(None),
            Node::Hash(h) => {
                let loaded = self.load(h)?;
                self.get_at(&loaded, path)
            }
            Node::Leaf(k, v) => Ok((k.as_slice() == path).then(|| v.clone())),
            Node::Ext(k, child) => match path.strip_prefix(k.as_slice()) {
                Some(rest) => self.get_at(child, rest),
                None => Ok(None),
            },
            Node::Branch(children, value) => match path.split_first() {
                None => Ok(value.clone()),
                Some((i, rest)) => self.get_at(&children[usize::from(*i)], rest),
            },
        }
    }

    /// Sets `key` to `value`; an empty value deletes the key, as in Ethereum.
    pub fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<()> {
        if value.is_empty() {
            return self.remove(key);
        }
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = self.insert_at(root, &to_nibbles(key), value)?;
        Ok(())
    }

    fn insert_at(&self, node: Node, path: &[u8], value: Vec<u8>) -> Result<Node> {
        Ok(match node {
            Node::Empty => Node::Leaf(path.to_vec(), value),
            Node::Hash(h) => {
                let loaded = self.load(&h)?;
                self.insert_at(loaded, path, value)?
            }
            Node::Leaf(k, v) => {
                if k == path {
                    return Ok(Node::Leaf(k, value));
                }
                let p = common_prefix(&k, path);
                let mut children = empty_children();
                let mut branch_value = None;
                let mut k = k;
                match k.get(p).copied() {
                    None => branch_value = Some(v),
                    Some(i) => {
                        // The old leaf keeps its allocation for the rest of its path.
                        k.drain(..=p);
                        children[usize::from(i)] = Node::Leaf(k, v);
                    }
                }
                let branch = Node::Branch(children, branch_value);
                let branch = self.insert_at(branch, &path[p..], value)?;
                wrap_ext(&path[..p], branch)
            }
            Node::Ext(k, child) => {
                let p = common_prefix(&k, path);
                if p == k.len() {
                    let child = self.insert_at(*child, &path[p..], value)?;
                    return Ok(Node::Ext(k, Box::new(child)));
                }
                let mut children = empty_children();
                let i = usize::from(k[p]);
                let mut k = k;
                k.drain(..=p);
                children[i] = if k.is_empty() {
                    *child
                } else {
                    Node::Ext(k, child)
                };
                let branch = self.insert_at(Node::Branch(children, None), &path[p..], value)?;
                wrap_ext(&path[..p], branch)
            }
            Node::Branch(mut children, v) => match path.split_first() {
                None => Node::Branch(children, Some(value)),
                Some((i, tail)) => {
                    let i = usize::from(*i);
                    let child = std::mem::replace(&mut children[i], Node::Empty);
                    children[i] = self.insert_at(child, tail, value)?;
                    Node::Branch(children, v)
                }
            },
        })
    }

    /// Deletes `key` if present.
    pub fn remove(&mut self, key: &[u8]) -> Result<()> {
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = self.remove_at(root, &to_nibbles(key))?;
        Ok(())
    }

    fn remove_at(&self, node: Node, path: &[u8]) -> Result<Node> {
        Ok(match node {
            Node::Empty => Node::Empty,
            Node::Hash(h) => {
                let loaded = self.load(&h)?;
                self.remove_at(loaded, path)?
            }
            Node::Leaf(k, v) => {
                if k == path {
                    Node::Empty
                } else {
                    Node::Leaf(k, v)
                }
            }
            Node::Ext(k, child) => {
                if !path.starts_with(&k) {
                    return Ok(Node::Ext(k, child));
                }
                let child = self.remove_at(*child, &path[k.len()..])?;
                self.join(k, child)?
            }
            Node::Branch(mut children, mut value) => {
                match path.split_first() {
                    None => value = None,
                    Some((i, tail)) => {
                        let i = usize::from(*i);
                        let child = std::mem::replace(&mut children[i], Node::Empty);
                        children[i] = self.remove_at(child, tail)?;
                    }
                }
                self.normalise_branch(children, value)?
            }
        })
    }

    /// An extension with path `k` over `child`, merged with the child where the child allows it.
    fn join(&self, k: Vec<u8>, child: Node) -> Result<Node> {
        Ok(match child {
            Node::Empty => Node::Empty,
            Node::Leaf(k2, v) => Node::Leaf([k, k2].concat(), v),
            Node::Ext(k2, c) => Node::Ext([k, k2].concat(), c),
            other => Node::Ext(k, Box::new(other)),
        })
    }

    fn normalise_branch(
        &self,
        mut children: Box<[Node; 16]>,
        value: Option<Vec<u8>>,
    ) -> Result<Node> {
        let live: Vec<usize> = (0..16).filter(|i| children[*i] != Node::Empty).collect();
        match (live.as_slice(), value) {
            ([], None) => Ok(Node::Empty),
            ([], Some(v)) => Ok(Node::Leaf(Vec::new(), v)),
            ([only], None) => {
                let child = std::mem::replace(&mut children[*only], Node::Empty);
                let child = match child {
                    Node::Hash(h) => self.load(&h)?,
                    c => c,
                };
                let nibble = u8::try_from(*only).map_err(|_| StorageError::Corrupt {
                    what: "trie branch".into(),
                    detail: "child index".into(),
                })?;
                self.join(vec![nibble], child)
            }
            (_, value) => Ok(Node::Branch(children, value)),
        }
    }

    /// The RLP encoding of `node` (its children referred to as their parents hold them); hashed
    /// descendants are pushed to `out`.
    fn encode(node: &Node, out: &mut TrieNodes) -> Vec<u8> {
        let mut buf = Vec::with_capacity(544);
        encode_into(node, out, &mut buf);
        buf
    }

    /// The root hash and the nodes (hash, encoding) that must be persisted for it.
    pub fn commit(&self) -> (B256, TrieNodes) {
        match &self.root {
            Node::Empty => (EMPTY_ROOT, Vec::new()),
            Node::Hash(h) => (*h, Vec::new()),
            root => {
                let mut out = Vec::new();
                let enc = commit_encode(root, &mut out);
                // The root is stored by hash whatever its size, so the trie can be reopened from it.
                let h = keccak256(&enc);
                out.push((h, enc));
                (h, out)
            }
        }
    }

    /// The root hash.
    pub fn root_hash(&self) -> B256 {
        self.commit().0
    }

    /// A Merkle proof for `key` (EIP-1186 style): the RLP of every hashed node on the path from the root,
    /// root first. Nodes under 32 bytes are inside their parent's encoding and not listed. The path may
    /// end early (a proof of absence). The trie must be persisted: proofs are built from stored nodes.
    pub fn prove(&self, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut proof = Vec::new();
        let path = to_nibbles(key);
        let mut rest: &[u8] = &path;
        let mut node = match &self.root {
            Node::Empty => return Ok(proof),
            Node::Hash(h) => {
                let bytes = self.reader.node(h)?.ok_or(StorageError::MissingNode(*h))?;
                let n = decode_node(&bytes)?;
                proof.push(bytes);
                n
            }
            other => {
                let mut unused = Vec::new();
                proof.push(Self::encode(other, &mut unused));
                other.clone()
            }
        };
        loop {
            let next = match node {
                Node::Empty | Node::Leaf(..) => return Ok(proof),
                Node::Hash(_) => return Ok(proof),
                Node::Ext(k, child) => match rest.strip_prefix(k.as_slice()) {
                    Some(r) => {
                        rest = r;
                        *child
                    }
                    None => return Ok(proof),
                },
                Node::Branch(children, _) => match rest.split_first() {
                    None => return Ok(proof),
                    Some((i, r)) => {
                        rest = r;
                        let mut children = children;
                        std::mem::replace(&mut children[usize::from(*i)], Node::Empty)
                    }
                },
            };
            node = match next {
                Node::Hash(h) => {
                    let bytes = self.reader.node(&h)?.ok_or(StorageError::MissingNode(h))?;
                    let n = decode_node(&bytes)?;
                    proof.push(bytes);
                    n
                }
                embedded => embedded,
            };
        }
    }

    /// Every (key, value) in key order. Loads the whole trie: for tests, tools and small tries.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.walk(&self.root, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        node: &Node,
        prefix: &mut Vec<u8>,
        out: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        match self.resolve(node)?.as_ref() {
            Node::Empty | Node::Hash(_) => {}
            Node::Leaf(k, v) => {
                out.push((from_nibbles(&[prefix.as_slice(), k].concat()), v.clone()))
            }
            Node::Ext(k, child) => {
                let len = prefix.len();
                prefix.extend_from_slice(k);
                self.walk(child, prefix, out)?;
                prefix.truncate(len);
            }
            Node::Branch(children, value) => {
                if let Some(v) = value {
                    out.push((from_nibbles(prefix), v.clone()));
                }
                for (i, c) in children.iter().enumerate() {
                    prefix.push(i as u8);
                    self.walk(c, prefix, out)?;
                    prefix.pop();
                }
            }
        }
        Ok(())
    }

    /// Every node hash reachable from the root, verifying that each stored node hashes to its key.
    pub fn verify_nodes(&self) -> Result<usize> {
        self.verify_nodes_skipping(&mut std::collections::HashSet::new())
    }

    /// Like [`Trie::verify_nodes`], but skips subtrees under nodes in `verified` (already checked, with
    /// everything below them, by an earlier call) and adds what it checks. Verifying many roots that
    /// share most of their nodes then costs about the number of distinct nodes.
    pub fn verify_nodes_skipping(
        &self,
        verified: &mut std::collections::HashSet<B256>,
    ) -> Result<usize> {
        self.verify_nodes_with(verified, &|_| Vec::new())
    }

    /// [`Trie::verify_nodes_skipping`] that also verifies, as further roots, the hashes `extra` finds in
    /// each stored node (the state trie passes the storage roots inside account leaves).
    pub fn verify_nodes_with(
        &self,
        verified: &mut std::collections::HashSet<B256>,
        extra: &dyn Fn(&[u8]) -> Vec<B256>,
    ) -> Result<usize> {
        fn visit(
            t: &Trie,
            node: &Node,
            count: &mut usize,
            verified: &mut std::collections::HashSet<B256>,
            extra: &dyn Fn(&[u8]) -> Vec<B256>,
        ) -> Result<()> {
            let hash = match node {
                Node::Hash(h) => Some(*h),
                _ => None,
            };
            let loaded;
            let node = match node {
                Node::Hash(h) => {
                    if verified.contains(h) {
                        return Ok(());
                    }
                    let bytes = t.reader.node(h)?.ok_or(StorageError::MissingNode(*h))?;
                    if keccak256(&bytes) != *h {
                        return Err(StorageError::Corrupt {
                            what: format!("trie node {h}"),
                            detail: "content does not hash to its key".into(),
                        });
                    }
                    *count += 1;
                    for root in extra(&bytes) {
                        visit(t, &Node::Hash(root), count, verified, extra)?;
                    }
                    loaded = decode_node(&bytes)?;
                    &loaded
                }
                n => n,
            };
            match node {
                Node::Ext(_, c) => visit(t, c, count, verified, extra)?,
                Node::Branch(children, _) => children
                    .iter()
                    .try_for_each(|c| visit(t, c, count, verified, extra))?,
                _ => {}
            }
            // Only after its whole subtree checked out.
            if let Some(h) = hash {
                verified.insert(h);
            }
            Ok(())
        }
        let mut count = 0;
        visit(self, &self.root, &mut count, verified, extra)?;
        Ok(count)
    }
}

/// The hashes of the nodes a stored node refers to by hash (its embedded children hold none: an
/// embedded node is under 32 bytes, too short to carry a hash).
pub fn child_hashes(encoding: &[u8]) -> Result<Vec<B256>> {
    fn collect(node: &Node, out: &mut Vec<B256>) {
        match node {
            Node::Hash(h) => out.push(*h),
            Node::Ext(_, c) => collect(c, out),
            Node::Branch(children, _) => children.iter().for_each(|c| collect(c, out)),
            Node::Empty | Node::Leaf(..) => {}
        }
    }
    let mut out = Vec::new();
    match decode_node(encoding)? {
        Node::Ext(_, c) => collect(&c, &mut out),
        Node::Branch(children, _) => children.iter().for_each(|c| collect(c, &mut out)),
        _ => {}
    }
    Ok(out)
}

/// The value of a stored leaf node, if `encoding` is a leaf.
pub fn leaf_value(encoding: &[u8]) -> Option<Vec<u8>> {
    match decode_node(encoding).ok()? {
        Node::Leaf(_, v) => Some(v),
        _ => None,
    }
}

/// Root of a trie keyed by RLP(index) over the given encoded items (transactions, receipts).
pub fn ordered_root(items: &[Vec<u8>]) -> B256 {
    let mut t = Trie::new(Arc::new(NoNodes));
    for (i, item) in items.iter().enumerate() {
        let mut key = Vec::new();
        (i as u64).encode(&mut key);
        // Inserting into a trie with no backing reader never needs to load a node.
        if t.insert(&key, item.clone()).is_err() {
            unreachable!("an in-memory trie never loads nodes");
        }
    }
    t.root_hash()
}

/// How a parent refers to a child: the child's own encoding when it is under 32 bytes, else the
/// RLP string of its hash (33 bytes).
struct ChildRef {
    len: u8,
    bytes: [u8; 33],
}

impl ChildRef {
    const EMPTY: ChildRef = ChildRef {
        len: 1,
        bytes: [0x80; 33],
    };

    fn hash(h: &B256) -> ChildRef {
        let mut bytes = [0u8; 33];
        bytes[0] = 0xa0;
        bytes[1..].copy_from_slice(h.as_slice());
        ChildRef { len: 33, bytes }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The length of the RLP string header for a payload of `len` bytes whose first byte is `first`
/// (none for a single byte under 0x80, which is its own encoding).
fn string_header_len(len: usize, first: Option<u8>) -> usize {
    match (len, first) {
        (1, Some(b)) if b < 0x80 => 0,
        _ => alloy_rlp::Header {
            list: false,
            payload_length: len,
        }
        .length(),
    }
}

/// The hex-prefix (compact) encoding of `nibbles` as an RLP string: its length, and the first byte.
fn hex_prefix_first(nibbles: &[u8], leaf: bool) -> (usize, u8) {
    let flag = if leaf { 2u8 } else { 0 };
    let len = nibbles.len() / 2 + 1;
    let first = if nibbles.len() % 2 == 1 {
        ((flag | 1) << 4) | nibbles[0]
    } else {
        flag << 4
    };
    (len, first)
}

/// Appends the hex-prefix encoding of `nibbles` as an RLP string.
fn put_hex_prefix(buf: &mut Vec<u8>, nibbles: &[u8], leaf: bool) {
    let (len, first) = hex_prefix_first(nibbles, leaf);
    put_string_header(buf, len, Some(first));
    buf.push(first);
    let rest = if nibbles.len() % 2 == 1 {
        &nibbles[1..]
    } else {
        nibbles
    };
    buf.extend(rest.chunks_exact(2).map(|p| (p[0] << 4) | p[1]));
}

fn hex_prefix_rlp_len(nibbles: &[u8], leaf: bool) -> usize {
    let (len, first) = hex_prefix_first(nibbles, leaf);
    string_header_len(len, Some(first)) + len
}

fn put_string_header(buf: &mut Vec<u8>, len: usize, first: Option<u8>) {
    if string_header_len(len, first) > 0 {
        alloy_rlp::Header {
            list: false,
            payload_length: len,
        }
        .encode(buf);
    }
}

fn put_list_header(buf: &mut Vec<u8>, payload_length: usize) {
    alloy_rlp::Header {
        list: true,
        payload_length,
    }
    .encode(buf);
}

/// Appends the RLP encoding of `node` to `buf`, children first: every descendant whose encoding is
/// 32 bytes or more is hashed and pushed to `out`. One buffer serves the whole walk: a child is
/// encoded at its end, turned into a [`ChildRef`], and cut off again before the parent writes.
fn encode_into(node: &Node, out: &mut TrieNodes, buf: &mut Vec<u8>) {
    match node {
        Node::Empty => buf.push(0x80),
        Node::Hash(h) => h.as_slice().encode(buf),
        Node::Leaf(k, v) => {
            put_list_header(buf, hex_prefix_rlp_len(k, true) + v.as_slice().length());
            put_hex_prefix(buf, k, true);
            v.as_slice().encode(buf);
        }
        Node::Ext(k, child) => {
            let c = child_ref(child, out, buf);
            put_list_header(buf, hex_prefix_rlp_len(k, false) + c.as_slice().len());
            put_hex_prefix(buf, k, false);
            buf.extend_from_slice(c.as_slice());
        }
        Node::Branch(children, value) => {
            let refs: [ChildRef; 16] = std::array::from_fn(|i| child_ref(&children[i], out, buf));
            put_branch(buf, &refs, value.as_deref());
        }
    }
}

/// Appends a branch's encoding: its 16 child references, then its value.
fn put_branch(buf: &mut Vec<u8>, refs: &[ChildRef], value: Option<&[u8]>) {
    let value = value.unwrap_or(&[]);
    let payload = refs.iter().map(|r| r.as_slice().len()).sum::<usize>() + value.length();
    put_list_header(buf, payload);
    for r in refs {
        buf.extend_from_slice(r.as_slice());
    }
    value.encode(buf);
}

/// How a parent refers to `node`: inline when its encoding is under 32 bytes, else by hash (the
/// encoding then goes to `out`).
fn child_ref(node: &Node, out: &mut TrieNodes, buf: &mut Vec<u8>) -> ChildRef {
    match node {
        Node::Empty => return ChildRef::EMPTY,
        Node::Hash(h) => return ChildRef::hash(h),
        _ => {}
    }
    let start = buf.len();
    encode_into(node, out, buf);
    let enc = &buf[start..];
    let r = if enc.len() < 32 {
        let mut bytes = [0u8; 33];
        bytes[..enc.len()].copy_from_slice(enc);
        ChildRef {
            len: enc.len() as u8, // < 32
            bytes,
        }
    } else {
        let h = keccak256(enc);
        out.push((h, enc.to_vec()));
        ChildRef::hash(&h)
    };
    buf.truncate(start);
    r
}

/// The root's encoding for [`Trie::commit`]. A root branch with several dirty subtrees has them
/// hashed on two threads (their nodes are independent; the order of `out` does not matter).
fn commit_encode(root: &Node, out: &mut TrieNodes) -> Vec<u8> {
    if let Node::Branch(children, value) = root {
        let dirty = children
            .iter()
            .filter(|c| matches!(c, Node::Branch(..) | Node::Ext(..)))
            .count();
        if dirty >= 8 && platon_messages::parallelism() > 1 {
            let (left, right) = children.split_at(8);
            let half = |part: &[Node]| {
                let mut out = Vec::new();
                let mut buf = Vec::with_capacity(4096);
                let refs: Vec<ChildRef> = part
                    .iter()
                    .map(|c| child_ref(c, &mut out, &mut buf))
                    .collect();
                (refs, out)
            };
            let ((mut refs, mut nodes), (right_refs, right_nodes)) = std::thread::scope(|s| {
                let other = s.spawn(|| half(right));
                let mine = half(left);
                // A panic in the other half is a bug in this module: pass it on.
                let theirs = other
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                (mine, theirs)
            });
            refs.extend(right_refs);
            nodes.extend(right_nodes);
            out.append(&mut nodes);
            let mut buf = Vec::with_capacity(544);
            put_branch(&mut buf, &refs, value.as_deref());
            return buf;
        }
    }
    Trie::encode(root, out)
}

fn wrap_ext(prefix: &[u8], node: Node) -> Node {
    if prefix.is_empty() {
        node
    } else {
        Node::Ext(prefix.to_vec(), Box::new(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Map(parking_lot::RwLock<HashMap<B256, Vec<u8>>>);
    impl NodeReader for Map {
        fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
            Ok(self.0.read().get(hash).cloned())
        }
    }

    #[test]
    fn proofs_hold_the_path_from_the_root() {
        let store = Arc::new(Map::default());
        let mut t = Trie::new(store.clone());
        for i in 0u32..50 {
            t.insert(&keccak256(i.to_be_bytes()).0, vec![7; 40])
                .expect("insert");
        }
        let (root, nodes) = t.commit();
        store.0.write().extend(nodes);
        let t = Trie::at_root(root, store);
        let key = keccak256(3u32.to_be_bytes());
        let proof = t.prove(key.as_slice()).expect("prove");
        assert!(proof.len() >= 2);
        assert_eq!(keccak256(&proof[0]), root, "the first node is the root");
        // Each later node is referenced (by hash) from the node before it.
        for pair in proof.windows(2) {
            let h = keccak256(&pair[1]);
            assert!(pair[0].windows(32).any(|w| w == h.as_slice()));
        }
        // The last node holds the value.
        assert!(proof
            .last()
            .expect("last")
            .windows(40)
            .any(|w| w == [7u8; 40]));
        let absent = t.prove(&[0xffu8; 32]).expect("absence proof");
        assert!(!absent.is_empty());
    }

    /// A trie big enough that the root's subtrees are hashed on two threads, and a small one hashed
    /// on one: both roots equal alloy-trie's, with values of every RLP length class (one byte
    /// under 0x80, short strings, and strings of 56 bytes or more), and the nodes `commit` returns
    /// are all a reopened trie needs to read every key and change one.
    #[test]
    fn roots_match_alloy_trie_and_commits_hold_every_node() {
        for n in [3u32, 40, 5_000] {
            let value = |i: u32| match i % 3 {
                0 => vec![(i % 0x7f) as u8],
                1 => vec![0xab; 1 + (i % 40) as usize],
                _ => vec![0xcd; 56 + (i % 200) as usize],
            };
            let store = Arc::new(Map::default());
            let mut t = Trie::new(store.clone());
            let mut pairs: Vec<(B256, Vec<u8>)> = (0..n)
                .map(|i| (keccak256(i.to_be_bytes()), value(i)))
                .collect();
            for (k, v) in &pairs {
                t.insert(k.as_slice(), v.clone()).expect("insert");
            }
            let (root, nodes) = t.commit();
            pairs.sort_by_key(|p| p.0);
            let mut hb = alloy_trie::HashBuilder::default();
            for (k, v) in &pairs {
                hb.add_leaf(alloy_trie::Nibbles::unpack(k), v);
            }
            assert_eq!(root, hb.root(), "{n} keys");
            let distinct: std::collections::HashSet<B256> = nodes.iter().map(|n| n.0).collect();
            assert_eq!(distinct.len(), nodes.len(), "each node once");
            for (h, enc) in &nodes {
                assert_eq!(keccak256(enc), *h);
            }
            store.0.write().extend(nodes);
            let mut reopened = Trie::at_root(root, store);
            for (k, v) in &pairs {
                assert_eq!(reopened.get(k.as_slice()).expect("get").as_ref(), Some(v));
            }
            reopened
                .insert(pairs[0].0.as_slice(), vec![1, 2, 3])
                .expect("insert");
            let mut again = Trie::new(Arc::new(NoNodes));
            for (i, (k, v)) in pairs.iter().enumerate() {
                let v = if i == 0 { vec![1, 2, 3] } else { v.clone() };
                again.insert(k.as_slice(), v).expect("insert");
            }
            assert_eq!(reopened.root_hash(), again.root_hash());
        }
    }

    #[test]
    fn empty_trie_has_the_empty_root() {
        assert_eq!(Trie::new(Arc::new(NoNodes)).root_hash(), EMPTY_ROOT);
    }

    #[test]
    fn persisted_trie_reloads_and_deletes_back_to_empty() {
        let store = Arc::new(Map::default());
        let mut t = Trie::new(store.clone());
        for i in 0u32..200 {
            t.insert(&keccak256(i.to_be_bytes()).0, vec![i as u8 + 1; 40])
                .expect("insert");
        }
        let (root, nodes) = t.commit();
        store.0.write().extend(nodes);
        let mut back = Trie::at_root(root, store.clone());
        assert_eq!(
            back.get(&keccak256(7u32.to_be_bytes()).0).expect("get"),
            Some(vec![8; 40])
        );
        assert!(back.verify_nodes().expect("verify") > 10);
        for i in 0u32..200 {
            back.remove(&keccak256(i.to_be_bytes()).0).expect("remove");
        }
        assert_eq!(back.root_hash(), EMPTY_ROOT);
        // A root whose nodes are missing is a clear error, not a panic.
        let missing = Trie::at_root(B256::repeat_byte(1), store);
        assert!(matches!(
            missing.get(b"x"),
            Err(StorageError::MissingNode(_))
        ));
    }
}
