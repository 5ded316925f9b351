//! Verifiable random function over sr25519 (`schnorrkel`, the construction of Substrate's BABE):
//! a block proposer proves the next election seed from the previous one, and anyone holding its
//! public key checks the proof and recomputes the same output. A proof is 96 bytes: the VRF
//! pre-output (32) then the DLEQ proof's `c` and `s` (32 each), the layout `@scure/sr25519` uses.

use alloy_primitives::B256;
use schnorrkel::vrf::{VRFPreOut, VRFProof};
use schnorrkel::{signing_context, ExpansionMode, Keypair, MiniSecretKey, PublicKey};

/// The signing context every PlatON VRF proof is bound to.
pub const VRF_CONTEXT: &[u8] = b"platon-vrf";
/// The label under which the output bytes are derived from the VRF in-out pair.
const OUTPUT_LABEL: &[u8] = b"platon-vrf-output";
/// Length of a proof: pre-output, then `c` and `s`.
pub const PROOF_LEN: usize = 96;

/// VRF errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VrfError {
    /// A key or proof is not well formed.
    #[error("vrf: {0}")]
    Malformed(String),
    /// The system random source failed.
    #[error("vrf: no randomness available")]
    Random,
}

/// A fresh 32-byte seed from the system's random source (to keep in a key file).
pub fn random_seed() -> Result<[u8; 32], VrfError> {
    use ring::rand::SecureRandom;
    let mut seed = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| VrfError::Random)?;
    Ok(seed)
}

/// An sr25519 VRF key pair.
pub struct VrfSecretKey(Keypair);

impl std::fmt::Debug for VrfSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VrfSecretKey({})",
            hex::encode(self.public_key().to_bytes())
        )
    }
}

/// An sr25519 VRF public key (32 bytes, a compressed Ristretto point).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VrfPublicKey(PublicKey);

impl std::fmt::Debug for VrfPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VrfPublicKey({})", hex::encode(self.to_bytes()))
    }
}

impl VrfSecretKey {
    /// The key of a 32-byte seed (a "mini secret key", expanded as Substrate does, Ed25519 mode).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, VrfError> {
        let mini =
            MiniSecretKey::from_bytes(seed).map_err(|e| VrfError::Malformed(e.to_string()))?;
        Ok(Self(mini.expand_to_keypair(ExpansionMode::Ed25519)))
    }

    /// A fresh key from the system's random source.
    pub fn random() -> Result<Self, VrfError> {
        Self::from_seed(&random_seed()?)
    }

    /// The public key.
    pub fn public_key(&self) -> VrfPublicKey {
        VrfPublicKey(self.0.public)
    }

    /// The VRF output for `msg` and its proof.
    pub fn prove(&self, msg: &[u8]) -> (B256, [u8; PROOF_LEN]) {
        let (inout, proof, _) = self.0.vrf_sign(signing_context(VRF_CONTEXT).bytes(msg));
        let mut out = [0u8; PROOF_LEN];
        out[..32].copy_from_slice(&inout.to_preout().to_bytes());
        out[32..].copy_from_slice(&proof.to_bytes());
        (B256::from(inout.make_bytes::<[u8; 32]>(OUTPUT_LABEL)), out)
    }
}

impl VrfPublicKey {
    /// Parses 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VrfError> {
        PublicKey::from_bytes(bytes)
            .map(Self)
            .map_err(|e| VrfError::Malformed(e.to_string()))
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Checks `proof` for `msg`; the VRF output when it holds.
    pub fn verify(&self, msg: &[u8], proof: &[u8]) -> Result<B256, VrfError> {
        if proof.len() != PROOF_LEN {
            return Err(VrfError::Malformed(format!(
                "a proof is {PROOF_LEN} bytes, not {}",
                proof.len()
            )));
        }
        let preout =
            VRFPreOut::from_bytes(&proof[..32]).map_err(|e| VrfError::Malformed(e.to_string()))?;
        let dleq =
            VRFProof::from_bytes(&proof[32..]).map_err(|e| VrfError::Malformed(e.to_string()))?;
        let (inout, _) = self
            .0
            .vrf_verify(signing_context(VRF_CONTEXT).bytes(msg), &preout, &dleq)
            .map_err(|e| VrfError::Malformed(format!("proof does not verify: {e}")))?;
        Ok(B256::from(inout.make_bytes::<[u8; 32]>(OUTPUT_LABEL)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_verify_only_for_their_key_and_message() {
        let a = VrfSecretKey::from_seed(&[1; 32]).expect("key");
        let b = VrfSecretKey::from_seed(&[2; 32]).expect("key");
        let (out, proof) = a.prove(b"seed 7");
        assert_eq!(a.public_key().verify(b"seed 7", &proof), Ok(out));
        // Deterministic output, randomized proof.
        let (out2, proof2) = a.prove(b"seed 7");
        assert_eq!(out, out2);
        assert_ne!(proof[32..], proof2[32..]);
        assert!(a.public_key().verify(b"seed 8", &proof).is_err());
        assert!(b.public_key().verify(b"seed 7", &proof).is_err());
        let mut bad = proof;
        bad[40] ^= 1;
        assert!(a.public_key().verify(b"seed 7", &bad).is_err());
        assert!(a.public_key().verify(b"seed 7", &proof[..95]).is_err());
        assert_ne!(b.prove(b"seed 7").0, out, "another key, another output");
    }
}
