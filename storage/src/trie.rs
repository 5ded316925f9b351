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
use platon_messages::rlp::{encode_raw_list, Reader};
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

fn hex_prefix(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2u8 } else { 0 };
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    let rest = if nibbles.len() % 2 == 1 {
        out.push(((flag | 1) << 4) | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(flag << 4);
        nibbles
    };
    for pair in rest.chunks(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    out
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

fn rlp_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + 3);
    b.encode(&mut out);
    out
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
                match k.get(p) {
                    None => branch_value = Some(v),
                    Some(i) => children[usize::from(*i)] = Node::Leaf(k[p + 1..].to_vec(), v),
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
                let rest = &k[p + 1..];
                children[usize::from(k[p])] = if rest.is_empty() {
                    *child
                } else {
                    Node::Ext(rest.to_vec(), child)
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

    fn encode(node: &Node, out: &mut Vec<(B256, Vec<u8>)>) -> Vec<u8> {
        match node {
            Node::Empty => vec![0x80],
            Node::Hash(h) => rlp_bytes(h.as_slice()),
            Node::Leaf(k, v) => encode_raw_list(&[rlp_bytes(&hex_prefix(k, true)), rlp_bytes(v)]),
            Node::Ext(k, child) => {
                let c = Self::reference(child, out);
                encode_raw_list(&[rlp_bytes(&hex_prefix(k, false)), c])
            }
            Node::Branch(children, value) => {
                let mut items: Vec<Vec<u8>> =
                    children.iter().map(|c| Self::reference(c, out)).collect();
                items.push(rlp_bytes(value.as_deref().unwrap_or(&[])));
                encode_raw_list(&items)
            }
        }
    }

    /// How a parent refers to `node`: inline when its encoding is under 32 bytes, else by hash.
    fn reference(node: &Node, out: &mut Vec<(B256, Vec<u8>)>) -> Vec<u8> {
        if let Node::Hash(h) = node {
            return rlp_bytes(h.as_slice());
        }
        let enc = Self::encode(node, out);
        if enc.len() < 32 {
            enc
        } else {
            let h = keccak256(&enc);
            out.push((h, enc));
            rlp_bytes(h.as_slice())
        }
    }

    /// The root hash and the nodes (hash, encoding) that must be persisted for it.
    pub fn commit(&self) -> (B256, TrieNodes) {
        match &self.root {
            Node::Empty => (EMPTY_ROOT, Vec::new()),
            Node::Hash(h) => (*h, Vec::new()),
            root => {
                let mut out = Vec::new();
                let enc = Self::encode(root, &mut out);
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
