//! ReDiR (RFC 7374) as pure state machines over overlay storage: the tree of intervals, the
//! registration walk (up from the starting level while the node is an extreme of its interval, then
//! down until it is alone) and the lookup walk (up from the starting level until the key has a
//! successor). The caller carries out each [`Action`] (a Store or Fetch through the overlay) and
//! feeds the result back.

use alloy_primitives::U256;
use platon_messages::reload::{DataValue, NodeId, ResourceId, StoredDataValue, WireError};
use sha2::{Digest, Sha256};

/// Shape of the ReDiR tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeParams {
    /// Branching factor b (at least 2).
    pub branching: u32,
    /// Level where walks start.
    pub start_level: u16,
    /// Lifetime of a registration (s); providers refresh at half of it.
    pub lifetime: u32,
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            branching: 10,
            start_level: 2,
            lifetime: 300,
        }
    }
}

impl TreeParams {
    /// The deepest level: the record's 16-bit `node` field bounds a level to 65,536 intervals.
    pub fn max_level(&self) -> u16 {
        let b = u128::from(self.branching.max(2));
        let mut level = 0u16;
        let mut n: u128 = 1;
        while let Some(next) = n.checked_mul(b) {
            if next > 65_536 {
                break;
            }
            n = next;
            level += 1;
        }
        level
    }

    /// Index of the interval holding `key` at `level` (at most [`TreeParams::max_level`]):
    /// floor(key × b^level / 2^128).
    pub fn interval(&self, level: u16, key: u128) -> u16 {
        let b = U256::from(self.branching.max(2));
        let level = level.min(self.max_level());
        let scaled = U256::from(key) * b.pow(U256::from(level));
        let j: U256 = scaled >> 128;
        j.try_into().unwrap_or(u16::MAX)
    }

    /// The overlay resource of tree node (level, j) in `namespace`.
    pub fn resource(&self, namespace: &str, level: u16, j: u16) -> ResourceId {
        let h = Sha256::digest(format!("{namespace},{level},{j}").as_bytes());
        ResourceId(h[..16].to_vec())
    }
}

pub use platon_messages::reload::RedirServiceProvider as Provider;

/// The dictionary entry that stores a record (keyed by the provider's Node-ID).
pub fn to_value(p: &Provider) -> Result<StoredDataValue, WireError> {
    Ok(StoredDataValue::Dictionary {
        key: p.node_id.to_bytes().to_vec(),
        value: DataValue {
            exists: true,
            value: p.encode()?,
        },
    })
}

/// Reads a record back; its dictionary key must be its Node-ID.
pub fn from_value(v: &StoredDataValue) -> Result<Provider, WireError> {
    let StoredDataValue::Dictionary { key, value } = v else {
        return Err(WireError::invalid("redir entry", "not a dictionary entry"));
    };
    let p = Provider::decode(&value.value)?;
    if key.as_slice() != p.node_id.to_bytes() {
        return Err(WireError::invalid("redir entry", "key is not its node id"));
    }
    Ok(p)
}

/// What the walk needs done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store this record at its tree node, then report [`Input::Stored`].
    Store {
        /// Tree node resource.
        resource: ResourceId,
        /// The record.
        record: Provider,
    },
    /// Fetch every record at this tree node, then report [`Input::Fetched`].
    Fetch {
        /// Tree node resource.
        resource: ResourceId,
        /// Its level.
        level: u16,
    },
    /// The walk is over.
    Done(Option<Provider>),
}

/// What the caller reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Begin.
    Start,
    /// The store finished.
    Stored,
    /// The records of the fetched tree node.
    Fetched(Vec<Provider>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Up,
    Down,
}

/// The registration walk of one provider.
#[derive(Debug, Clone)]
pub struct Registration {
    tree: TreeParams,
    namespace: String,
    me: NodeId,
    phase: Phase,
    level: u16,
    alone_at_start: bool,
    /// Levels stored at, for statistics and tests.
    pub levels: Vec<u16>,
}

impl Registration {
    /// A walk for `me` in `namespace`.
    pub fn new(tree: TreeParams, namespace: &str, me: NodeId) -> Self {
        Self {
            tree,
            namespace: namespace.to_string(),
            me,
            phase: Phase::Up,
            level: tree.start_level.min(tree.max_level()),
            alone_at_start: false,
            levels: Vec::new(),
        }
    }

    fn store_here(&mut self) -> Action {
        let j = self.tree.interval(self.level, self.me.0);
        self.levels.push(self.level);
        Action::Store {
            resource: self.tree.resource(&self.namespace, self.level, j),
            record: Provider {
                node_id: self.me,
                namespace: self.namespace.clone(),
                level: self.level,
                node: j,
            },
        }
    }

    fn fetch_here(&self) -> Action {
        let j = self.tree.interval(self.level, self.me.0);
        Action::Fetch {
            resource: self.tree.resource(&self.namespace, self.level, j),
            level: self.level,
        }
    }

    /// Advances the walk.
    pub fn step(&mut self, input: Input) -> Action {
        match input {
            Input::Start => self.store_here(),
            Input::Stored => self.fetch_here(),
            Input::Fetched(records) => {
                let j = self.tree.interval(self.level, self.me.0);
                let mut ids: Vec<u128> = records
                    .iter()
                    .filter(|p| self.tree.interval(self.level, p.node_id.0) == j)
                    .map(|p| p.node_id.0)
                    .collect();
                ids.push(self.me.0);
                ids.sort_unstable();
                ids.dedup();
                let extreme = ids.first() == Some(&self.me.0) || ids.last() == Some(&self.me.0);
                let alone = ids.len() == 1;
                match self.phase {
                    Phase::Up => {
                        if self.level == self.tree.start_level.min(self.tree.max_level()) {
                            self.alone_at_start = alone;
                        }
                        if extreme && self.level > 0 {
                            self.level -= 1;
                            return self.store_here();
                        }
                        // Not an extreme (or at the root): walk down from the start level.
                        if self.alone_at_start {
                            return Action::Done(None);
                        }
                        self.phase = Phase::Down;
                        self.level = self.tree.start_level.min(self.tree.max_level());
                        self.descend()
                    }
                    Phase::Down => {
                        if alone {
                            Action::Done(None)
                        } else {
                            self.descend()
                        }
                    }
                }
            }
        }
    }

    fn descend(&mut self) -> Action {
        if self.level >= self.tree.max_level() {
            return Action::Done(None);
        }
        self.level += 1;
        self.store_here()
    }
}

/// The lookup walk for the provider that most immediately follows a key.
#[derive(Debug, Clone)]
pub struct Lookup {
    tree: TreeParams,
    namespace: String,
    key: u128,
    level: u16,
    /// Tree nodes fetched.
    pub fetches: u32,
}

impl Lookup {
    /// A lookup of `key` in `namespace`.
    pub fn new(tree: TreeParams, namespace: &str, key: u128) -> Self {
        Self {
            tree,
            namespace: namespace.to_string(),
            key,
            level: tree.start_level.min(tree.max_level()),
            fetches: 0,
        }
    }

    fn fetch_here(&mut self) -> Action {
        self.fetches += 1;
        let j = self.tree.interval(self.level, self.key);
        Action::Fetch {
            resource: self.tree.resource(&self.namespace, self.level, j),
            level: self.level,
        }
    }

    /// Advances the walk.
    pub fn step(&mut self, input: Input) -> Action {
        match input {
            Input::Start | Input::Stored => self.fetch_here(),
            Input::Fetched(records) => {
                let j = self.tree.interval(self.level, self.key);
                let mut here: Vec<Provider> = records
                    .into_iter()
                    .filter(|p| self.tree.interval(self.level, p.node_id.0) == j)
                    .collect();
                here.sort_by_key(|p| p.node_id.0);
                if let Some(p) = here.iter().find(|p| p.node_id.0 >= self.key) {
                    return Action::Done(Some(p.clone()));
                }
                if self.level == 0 {
                    // Past the largest id: the successor wraps to the smallest.
                    return Action::Done(here.into_iter().next());
                }
                self.level -= 1;
                self.fetch_here()
            }
        }
    }
}

/// The provider a brute-force search over `ids` finds for `key`: the smallest id at or after the
/// key, wrapping around to the smallest of all.
pub fn successor(ids: &[NodeId], key: u128) -> Option<NodeId> {
    ids.iter()
        .filter(|id| id.0 >= key)
        .min()
        .or_else(|| ids.iter().min())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_cover_the_space() {
        let t = TreeParams::default();
        assert_eq!(t.interval(0, u128::MAX), 0);
        assert_eq!(t.interval(1, 0), 0);
        assert_eq!(t.interval(1, u128::MAX), 9);
        assert_eq!(t.interval(2, u128::MAX), 99);
        assert_eq!(t.max_level(), 4);
        let two = TreeParams { branching: 2, ..t };
        assert_eq!(two.max_level(), 16);
        assert_eq!(two.interval(1, 1u128 << 127), 1);
        assert_eq!(two.interval(1, (1u128 << 127) - 1), 0);
        let p = Provider {
            node_id: NodeId(5),
            namespace: "validator".into(),
            level: 2,
            node: 0,
        };
        assert_eq!(from_value(&to_value(&p).expect("enc")).expect("dec"), p);
    }
}
