//! A bounded memory of recovered senders: the pool records the sender of every transaction it
//! admits, and block validation looks them up instead of recovering each signature again.

use alloy_primitives::{Address, B256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Transaction hash → sender, in two generations of at most `capacity` entries each: when the
/// newer one fills, the older is dropped, so memory stays bounded and a recent entry survives at
/// least `capacity` later insertions.
#[derive(Debug)]
pub struct SenderCache {
    capacity: usize,
    inner: Mutex<Generations>,
}

#[derive(Debug, Default)]
struct Generations {
    new: HashMap<B256, Address>,
    old: HashMap<B256, Address>,
}

impl SenderCache {
    /// A cache that keeps at least the last `capacity` senders (and at most twice as many).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Generations::default()),
        }
    }

    /// Records that the transaction `hash` was signed by `sender` (recovered from its bytes).
    pub fn insert(&self, hash: B256, sender: Address) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.new.len() >= self.capacity {
            g.old = std::mem::take(&mut g.new);
        }
        g.new.insert(hash, sender);
    }

    /// The recorded sender of `hash`, if it is still held.
    pub fn get(&self, hash: &B256) -> Option<Address> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.new.get(hash).or_else(|| g.old.get(hash)).copied()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.new.len() + g.old.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_capacity_entries_and_no_more_than_twice_that() {
        let c = SenderCache::new(100);
        for i in 0..1_000u32 {
            c.insert(
                B256::left_padding_from(&i.to_be_bytes()),
                Address::repeat_byte(i as u8),
            );
        }
        assert!(c.len() <= 200, "{}", c.len());
        for i in 900..1_000u32 {
            let h = B256::left_padding_from(&i.to_be_bytes());
            assert_eq!(c.get(&h), Some(Address::repeat_byte(i as u8)), "{i}");
        }
        assert_eq!(c.get(&B256::left_padding_from(&5u32.to_be_bytes())), None);
    }
}
