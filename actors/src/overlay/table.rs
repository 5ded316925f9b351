//! The Kademlia routing table: 128 k-buckets over the XOR metric, least recently seen first, each
//! with a replacement cache that fills the place of an entry that stops answering.

use platon_messages::reload::{Contact, NodeId};

/// One entry of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The peer.
    pub contact: Contact,
    /// When it was last heard from (ms).
    pub last_seen: u64,
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    entries: Vec<Entry>,
    replacements: Vec<Contact>,
    last_lookup: u64,
}

/// What [`RoutingTable::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new entry.
    Added,
    /// A known entry, moved to the tail (most recently seen).
    Refreshed,
    /// The bucket is full: the contact waits in the replacement cache; ping `oldest` to decide.
    Full {
        /// The least recently seen entry of the bucket.
        oldest: Contact,
    },
    /// Our own id.
    Ignored,
}

/// k-buckets around one Node-ID.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    me: NodeId,
    k: usize,
    buckets: Vec<Bucket>,
}

/// Index of the bucket for `id` as seen from `me`: the position of the highest differing bit.
pub fn bucket_index(me: NodeId, id: NodeId) -> Option<usize> {
    let d = me.distance(&id);
    (d != 0).then(|| 127 - d.leading_zeros() as usize)
}

impl RoutingTable {
    /// An empty table with bucket size `k` (at least 1).
    pub fn new(me: NodeId, k: usize) -> Self {
        Self {
            me,
            k: k.max(1),
            buckets: vec![Bucket::default(); 128],
        }
    }

    /// Our id.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// Records that `contact` was heard from at `now`.
    pub fn insert(&mut self, contact: Contact, now: u64) -> Inserted {
        let Some(i) = bucket_index(self.me, contact.id) else {
            return Inserted::Ignored;
        };
        let k = self.k;
        let b = &mut self.buckets[i];
        if let Some(pos) = b.entries.iter().position(|e| e.contact.id == contact.id) {
            let mut e = b.entries.remove(pos);
            e.last_seen = now;
            e.contact.addr = contact.addr;
            b.entries.push(e);
            return Inserted::Refreshed;
        }
        if b.entries.len() < k {
            b.entries.push(Entry {
                contact,
                last_seen: now,
            });
            b.replacements.retain(|c| c.id != contact.id);
            return Inserted::Added;
        }
        b.replacements.retain(|c| c.id != contact.id);
        b.replacements.push(contact);
        if b.replacements.len() > k {
            b.replacements.remove(0);
        }
        Inserted::Full {
            oldest: b.entries[0].contact,
        }
    }

    /// Drops a peer that stopped answering; the most recent replacement takes its place.
    /// Returns whether it was in the table.
    pub fn remove(&mut self, id: NodeId, now: u64) -> bool {
        let Some(i) = bucket_index(self.me, id) else {
            return false;
        };
        let b = &mut self.buckets[i];
        b.replacements.retain(|c| c.id != id);
        let Some(pos) = b.entries.iter().position(|e| e.contact.id == id) else {
            return false;
        };
        b.entries.remove(pos);
        if let Some(r) = b.replacements.pop() {
            b.entries.push(Entry {
                contact: r,
                last_seen: now,
            });
        }
        true
    }

    /// Whether `id` is in the table.
    pub fn contains(&self, id: NodeId) -> bool {
        bucket_index(self.me, id)
            .map(|i| self.buckets[i].entries.iter().any(|e| e.contact.id == id))
            .unwrap_or(false)
    }

    /// The contact for `id`, if known.
    pub fn get(&self, id: NodeId) -> Option<Contact> {
        let i = bucket_index(self.me, id)?;
        self.buckets[i]
            .entries
            .iter()
            .find(|e| e.contact.id == id)
            .map(|e| e.contact)
    }

    /// The `n` known contacts closest to `target`, closest first.
    pub fn closest(&self, target: NodeId, n: usize) -> Vec<Contact> {
        let mut all: Vec<Contact> = self.contacts().collect();
        all.sort_by_key(|c| c.id.distance(&target));
        all.truncate(n);
        all
    }

    /// Every contact.
    pub fn contacts(&self) -> impl Iterator<Item = Contact> + '_ {
        self.buckets
            .iter()
            .flat_map(|b| b.entries.iter().map(|e| e.contact))
    }

    /// Entries with their last-seen times.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.buckets.iter().flat_map(|b| b.entries.iter())
    }

    /// Number of contacts.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Contacts of bucket `i`, least recently seen first.
    pub fn bucket(&self, i: usize) -> Vec<Contact> {
        self.buckets
            .get(i)
            .map(|b| b.entries.iter().map(|e| e.contact).collect())
            .unwrap_or_default()
    }

    /// Notes that a lookup touched bucket `i`'s range.
    pub fn touch_bucket(&mut self, target: NodeId, now: u64) {
        if let Some(i) = bucket_index(self.me, target) {
            self.buckets[i].last_lookup = now;
        }
    }

    /// Buckets not looked up since `before`, from the lowest non-empty one up (lower ones cover
    /// ranges too small to hold anyone), each with an id inside it derived from `salt`, for
    /// refresh lookups.
    pub fn stale_buckets(&self, before: u64, salt: u128) -> Vec<NodeId> {
        let Some(lowest) = self.buckets.iter().position(|b| !b.entries.is_empty()) else {
            return Vec::new();
        };
        (lowest..128)
            .filter(|&i| self.buckets[i].last_lookup < before)
            .map(|i| {
                // An id whose highest differing bit from ours is i.
                let bit = 1u128 << i;
                let low = if i == 0 { 0 } else { salt & (bit - 1) };
                NodeId(((self.me.0 ^ bit) & !(bit - 1)) | low)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn c(id: u128) -> Contact {
        Contact {
            id: NodeId(id),
            addr: SocketAddr::from(([127, 0, 0, 1], 1000)),
        }
    }

    #[test]
    fn buckets_fill_queue_and_replace() {
        let mut t = RoutingTable::new(NodeId(0), 2);
        assert_eq!(t.insert(c(0), 0), Inserted::Ignored);
        // 4..8 share bucket 2.
        assert_eq!(t.insert(c(4), 1), Inserted::Added);
        assert_eq!(t.insert(c(5), 2), Inserted::Added);
        assert_eq!(t.insert(c(6), 3), Inserted::Full { oldest: c(4) });
        assert_eq!(t.insert(c(4), 4), Inserted::Refreshed);
        assert_eq!(t.bucket(2), vec![c(5), c(4)]);
        assert!(t.remove(NodeId(5), 5));
        assert_eq!(t.bucket(2), vec![c(4), c(6)]);
        assert_eq!(t.closest(NodeId(7), 1), vec![c(6)]);
        assert_eq!(bucket_index(NodeId(0), NodeId(1 << 127)), Some(127));
        for id in t.stale_buckets(10, 0x5555) {
            assert!(bucket_index(NodeId(0), id).is_some());
        }
        let stale = t.stale_buckets(10, 3);
        assert_eq!(stale.len(), 126, "from the lowest non-empty bucket (2) up");
        assert_eq!(bucket_index(NodeId(0), stale[0]), Some(2));
    }
}
