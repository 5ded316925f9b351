//! Evidence of equivocation: two conflicting signed messages from one validator for one slot
//! (duplicate proposal, vote or view change). The pool checks, deduplicates, bounds and ages them;
//! the PPoS issue turns them into slashing.

use super::core::Crypto;
use platon_messages::cbft::Evidence;
use std::collections::BTreeMap;

/// Checks that evidence proves what it claims (see [`Evidence::verify`]) with `crypto`'s keys.
pub fn verify(e: &Evidence, crypto: &dyn Crypto) -> Result<(), String> {
    e.verify(|v, h, s| crypto.verify(v, h, s))
}

/// What [`EvidencePool::add`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Kept.
    New,
    /// Already held for that validator, slot and kind.
    Duplicate,
    /// Older than the evidence age allows.
    Expired,
    /// Does not prove anything (the reason).
    Invalid(String),
}

/// Verified evidence, one per (validator, view, slot, kind), bounded and aged.
#[derive(Debug, Clone)]
pub struct EvidencePool {
    max: usize,
    valid_epochs: u64,
    items: BTreeMap<(u32, u64, u32, u8), Evidence>,
}

impl EvidencePool {
    /// A pool of at most `max` items, keeping evidence for `valid_epochs` epochs (PlatON: 27).
    pub fn new(max: usize, valid_epochs: u64) -> Self {
        Self {
            max: max.max(1),
            valid_epochs,
            items: BTreeMap::new(),
        }
    }

    /// Verifies and keeps `e`; `current_epoch` decides whether it is too old.
    pub fn add(&mut self, e: Evidence, current_epoch: u64, crypto: &dyn Crypto) -> Added {
        if e.epoch().saturating_add(self.valid_epochs) < current_epoch {
            return Added::Expired;
        }
        if let Err(why) = verify(&e, crypto) {
            return Added::Invalid(why);
        }
        let key = (e.validator(), e.view(), e.index(), e.kind());
        if self.items.contains_key(&key) {
            return Added::Duplicate;
        }
        if self.items.len() >= self.max {
            // Full: the oldest view goes first.
            if let Some(oldest) = self.items.keys().min_by_key(|k| k.1).copied() {
                self.items.remove(&oldest);
            }
        }
        self.items.insert(key, e);
        Added::New
    }

    /// Drops evidence older than the allowed age.
    pub fn expire(&mut self, current_epoch: u64) {
        let keep = self.valid_epochs;
        self.items
            .retain(|_, e| e.epoch().saturating_add(keep) >= current_epoch);
    }

    /// Everything held, by validator and view.
    pub fn list(&self) -> Vec<&Evidence> {
        self.items.values().collect()
    }

    /// Number held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbft::crypto::HashCrypto;
    use alloy_primitives::B256;
    use platon_messages::cbft::{Vote, VoteData};

    fn vote(validator: u32, h: u8, epoch: u64) -> Vote {
        let data = VoteData {
            epoch,
            view: 3,
            index: 1,
            number: 9,
            hash: B256::repeat_byte(h),
        };
        Vote {
            data,
            validator,
            signature: HashCrypto::new(validator).sign(&data.signing_hash()),
        }
    }

    #[test]
    fn pool_verifies_dedups_bounds_and_ages_evidence() {
        let c = HashCrypto::new(0);
        let mut pool = EvidencePool::new(2, 27);
        let e = Evidence::DuplicateVote(vote(2, 1, 1), vote(2, 2, 1));
        assert_eq!(pool.add(e.clone(), 1, &c), Added::New);
        assert_eq!(pool.add(e, 1, &c), Added::Duplicate);
        // Same content twice is no conflict; a forged signature proves nothing.
        assert!(matches!(
            pool.add(Evidence::DuplicateVote(vote(2, 1, 1), vote(2, 1, 1)), 1, &c),
            Added::Invalid(_)
        ));
        let mut forged = vote(3, 2, 1);
        forged.signature[0] ^= 1;
        assert!(matches!(
            pool.add(Evidence::DuplicateVote(vote(3, 1, 1), forged), 1, &c),
            Added::Invalid(_)
        ));
        // Votes of two validators are not evidence against either.
        assert!(matches!(
            pool.add(Evidence::DuplicateVote(vote(3, 1, 1), vote(2, 2, 1)), 1, &c),
            Added::Invalid(_)
        ));
        assert_eq!(
            pool.add(Evidence::DuplicateVote(vote(1, 1, 2), vote(1, 2, 2)), 2, &c),
            Added::New
        );
        assert_eq!(
            pool.add(Evidence::DuplicateVote(vote(0, 1, 3), vote(0, 2, 3)), 3, &c),
            Added::New
        );
        assert_eq!(pool.len(), 2, "bounded");
        assert_eq!(
            pool.add(
                Evidence::DuplicateVote(vote(4, 1, 1), vote(4, 2, 1)),
                40,
                &c
            ),
            Added::Expired
        );
        pool.expire(30);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.list()[0].validator(), 0);
    }
}
