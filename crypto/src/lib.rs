//! Cryptography for the node: keccak256, secp256k1 signing and sender recovery, the BIP-39 /
//! BIP-32 derivation that turns the standard test mnemonic into the dev chain's funded keys, BLS
//! signatures for validators, and the sr25519 VRF (`schnorrkel`) of the validator election.
//!
//! Everything here is pure and deterministic (key generation and VRF proof nonces aside); callers
//! hand in bytes and get bytes or a typed error. [`vc`] holds BN254 Groth16 and the verifiable-computation models; a later issue adds the MPC primitives.

pub mod bls;
pub mod conformance;
pub mod hd;
pub mod node_key;
pub mod secp;
pub mod vc;
pub mod vrf;

pub use alloy_primitives::keccak256;
pub use hd::{derive_dev_keys, derive_path, mnemonic_to_seed, DEV_MNEMONIC};
pub use secp::{public_key_to_address, recover_signer, sign_prehash, RecoverableSig, SecretKey};

/// Errors from the cryptographic primitives.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The secret key is zero or not below the curve order.
    #[error(
        "invalid secp256k1 secret key: it must be 32 bytes, non-zero and below the curve order"
    )]
    InvalidSecretKey,
    /// The signature's r or s is out of range, or its recovery id is not 0 or 1.
    #[error("invalid signature: {0}")]
    InvalidSignature(&'static str),
    /// Public key recovery failed for a well-formed signature.
    #[error("signature does not recover to any public key")]
    RecoveryFailed,
    /// A derivation path could not be parsed.
    #[error("invalid derivation path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
}
