//! The [`Crypto`] of consensus: BLS12-381 (blst, min-pk) in the node, and a keyed-hash stand-in that
//! simulations of thousands of seeds use (they test the protocol, not the curve).

use super::core::Crypto;
use alloy_primitives::{keccak256, B256};
use platon_crypto::bls::{BlsPublicKey, BlsSecretKey, BlsSignature};

/// BLS signatures: votes on one slot aggregate into one signature, checked against the signers'
/// aggregated public keys.
pub struct BlsCrypto {
    sk: Option<BlsSecretKey>,
    pks: Vec<BlsPublicKey>,
}

impl BlsCrypto {
    /// This validator's key (None for an observer) and every validator's public key, by index.
    pub fn new(sk: Option<BlsSecretKey>, pks: Vec<BlsPublicKey>) -> Self {
        Self { sk, pks }
    }
}

impl Crypto for BlsCrypto {
    fn sign(&self, msg: &B256) -> Vec<u8> {
        self.sk
            .as_ref()
            .map(|sk| sk.sign(msg.as_slice()).to_bytes().to_vec())
            .unwrap_or_default()
    }
    fn verify(&self, validator: u32, msg: &B256, sig: &[u8]) -> bool {
        let (Some(pk), Ok(sig)) = (
            self.pks.get(validator as usize),
            BlsSignature::from_bytes(sig),
        ) else {
            return false;
        };
        sig.verify(msg.as_slice(), pk)
    }
    fn aggregate(&self, sigs: &[&[u8]]) -> Option<Vec<u8>> {
        let sigs: Vec<BlsSignature> = sigs
            .iter()
            .map(|s| BlsSignature::from_bytes(s))
            .collect::<Result<_, _>>()
            .ok()?;
        BlsSignature::aggregate(&sigs)
            .ok()
            .map(|s| s.to_bytes().to_vec())
    }
    fn verify_aggregate(&self, signers: &[u32], msg: &B256, sig: &[u8]) -> bool {
        let Ok(sig) = BlsSignature::from_bytes(sig) else {
            return false;
        };
        let pks: Option<Vec<BlsPublicKey>> = signers
            .iter()
            .map(|i| self.pks.get(*i as usize).cloned())
            .collect();
        match pks {
            Some(pks) => sig.fast_aggregate_verify(msg.as_slice(), &pks),
            None => false,
        }
    }
}

/// A keyed hash standing in for BLS in large simulations: validator `i` signs `m` as
/// keccak256(i ‖ m); an aggregate is the hash of the signatures in signer order.
pub struct HashCrypto {
    me: u32,
    members: Vec<u32>,
}

impl HashCrypto {
    /// The stand-in for validator `me`, where validator `i` holds key `i`.
    pub fn new(me: u32) -> Self {
        Self {
            me,
            members: Vec::new(),
        }
    }
    /// The stand-in for the holder of key `me` in a round whose validator `i` holds key
    /// `members[i]` (rotating validator sets).
    pub fn with_members(me: u32, members: Vec<u32>) -> Self {
        Self { me, members }
    }
    fn key(&self, validator: u32) -> Option<u32> {
        if self.members.is_empty() {
            Some(validator)
        } else {
            self.members.get(validator as usize).copied()
        }
    }
    fn sig(v: u32, msg: &B256) -> Vec<u8> {
        keccak256([v.to_be_bytes().as_slice(), msg.as_slice()].concat()).to_vec()
    }
}

impl Crypto for HashCrypto {
    fn sign(&self, msg: &B256) -> Vec<u8> {
        Self::sig(self.me, msg)
    }
    fn verify(&self, validator: u32, msg: &B256, sig: &[u8]) -> bool {
        self.key(validator)
            .is_some_and(|k| Self::sig(k, msg) == sig)
    }
    fn aggregate(&self, sigs: &[&[u8]]) -> Option<Vec<u8>> {
        Some(keccak256(sigs.concat()).to_vec())
    }
    fn verify_aggregate(&self, signers: &[u32], msg: &B256, sig: &[u8]) -> bool {
        let mut all = Vec::new();
        for s in signers {
            let Some(k) = self.key(*s) else { return false };
            all.extend(Self::sig(k, msg));
        }
        keccak256(all).as_slice() == sig
    }
}
