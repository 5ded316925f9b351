//! The snapshotdb vocabulary: block references, the records its WAL logs, and read views. The
//! storage crate implements them; the `snapshot` actor's messages carry them.

use alloy_primitives::B256;

/// A block by height and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockRef {
    /// Height.
    pub number: u64,
    /// Hash.
    pub hash: B256,
}

/// One block's snapshotdb writes (key to new value, `None`: deleted, in key order) and its place in
/// the chain: what the `snapshot` actor recognizes or commits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockWrites {
    /// Height.
    pub number: u64,
    /// Parent hash.
    pub parent: B256,
    /// The block's hash.
    pub hash: B256,
    /// The writes.
    pub writes: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl BlockWrites {
    /// An executed block's writes.
    pub fn of(block: &crate::ExecutedBlock) -> Self {
        let h = &block.block.header;
        BlockWrites {
            number: h.number,
            parent: h.parent_hash,
            hash: block.block.hash(),
            writes: block.snapshot.clone(),
        }
    }
}

/// One logged state transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Start building (unrecognized data) block `number` on `parent`.
    NewBlock {
        /// Height of the block being built.
        number: u64,
        /// Its parent: the highest committed block or a recognized one.
        parent: B256,
    },
    /// Set a key in the block being built.
    Put {
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Delete a key in the block being built.
    Delete {
        /// Key.
        key: Vec<u8>,
    },
    /// The block being built was sealed as `hash`: its data becomes recognized.
    Seal {
        /// Block hash.
        hash: B256,
    },
    /// The recognized block `hash` is on the chosen chain: its data becomes committed, and the other
    /// recognized data at its height and below is discarded.
    Commit {
        /// Block hash.
        hash: B256,
    },
}

/// Which view a read sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The block being built (its data over its ancestors').
    Building,
    /// A recognized or committed block, by hash.
    Block(B256),
    /// The highest committed block.
    Head,
}
