//! secp256k1 ECDSA over 32-byte prehashes (libsecp256k1 through the `secp256k1` crate).

use crate::CryptoError;
use alloy_primitives::{keccak256, Address, B256, U256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SECP256K1};

/// The order n of the secp256k1 group.
pub const SECP256K1_N: U256 = U256::from_limbs([
    0xBFD2_5E8C_D036_4141,
    0xBAAE_DCE6_AF48_A03B,
    0xFFFF_FFFF_FFFF_FFFE,
    0xFFFF_FFFF_FFFF_FFFF,
]);

/// A secp256k1 secret key, zeroised by the underlying library's rules; never printed by `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretKey(secp256k1::SecretKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.address())
    }
}

impl SecretKey {
    /// Parses 32 big-endian bytes; fails on zero or a value not below the curve order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidSecretKey)?;
        secp256k1::SecretKey::from_byte_array(&arr)
            .map(SecretKey)
            .map_err(|_| CryptoError::InvalidSecretKey)
    }

    /// A fresh key from the system's random source.
    pub fn random() -> Result<Self, CryptoError> {
        use ring::rand::SecureRandom;
        let rng = ring::rand::SystemRandom::new();
        let mut seed = [0u8; 32];
        // A 32-byte value is a valid key unless it is zero or not below the curve order
        // (probability about 2^-128); draw again then.
        for _ in 0..64 {
            rng.fill(&mut seed)
                .map_err(|_| CryptoError::InvalidSecretKey)?;
            if let Ok(key) = Self::from_bytes(&seed) {
                return Ok(key);
            }
        }
        Err(CryptoError::InvalidSecretKey)
    }

    /// Parses a hex string with or without `0x`.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let raw = hex::decode(s.trim().trim_start_matches("0x"))
            .map_err(|_| CryptoError::InvalidSecretKey)?;
        Self::from_bytes(&raw)
    }

    /// The 32 secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.secret_bytes()
    }

    /// The Ethereum address of this key.
    pub fn address(&self) -> Address {
        public_key_to_address(&PublicKey::from_secret_key(SECP256K1, &self.0))
    }

    pub(crate) fn inner(&self) -> &secp256k1::SecretKey {
        &self.0
    }

    pub(crate) fn from_inner(inner: secp256k1::SecretKey) -> Self {
        SecretKey(inner)
    }
}

/// An ECDSA signature with its recovery id (`y_parity`), as Ethereum transactions carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoverableSig {
    /// The r scalar.
    pub r: U256,
    /// The s scalar (low-s when produced by [`sign_prehash`]).
    pub s: U256,
    /// Parity of the R point's y coordinate: the recovery id, 0 or 1.
    pub y_parity: bool,
}

/// The address of an uncompressed public key: the last 20 bytes of keccak256 of its 64 coordinate bytes.
pub fn public_key_to_address(pk: &PublicKey) -> Address {
    let raw = pk.serialize_uncompressed();
    Address::from_slice(&keccak256(&raw[1..])[12..])
}

/// Signs a 32-byte prehash; the result is deterministic (RFC 6979) and low-s.
pub fn sign_prehash(hash: &B256, key: &SecretKey) -> RecoverableSig {
    let msg = Message::from_digest(hash.0);
    let sig = SECP256K1.sign_ecdsa_recoverable(&msg, key.inner());
    let (recid, bytes) = sig.serialize_compact();
    RecoverableSig {
        r: U256::from_be_slice(&bytes[..32]),
        s: U256::from_be_slice(&bytes[32..]),
        y_parity: i32::from(recid) == 1,
    }
}

/// Recovers the signer's address from a prehash and signature.
///
/// Refuses r or s of zero or not below n, and (with `require_low_s`) s above n/2, as EIP-2 demands of
/// transactions.
pub fn recover_signer(
    hash: &B256,
    sig: &RecoverableSig,
    require_low_s: bool,
) -> Result<Address, CryptoError> {
    if sig.r.is_zero() || sig.r >= SECP256K1_N {
        return Err(CryptoError::InvalidSignature(
            "r is zero or not below the curve order",
        ));
    }
    if sig.s.is_zero() || sig.s >= SECP256K1_N {
        return Err(CryptoError::InvalidSignature(
            "s is zero or not below the curve order",
        ));
    }
    if require_low_s && sig.s > (SECP256K1_N >> 1) {
        return Err(CryptoError::InvalidSignature(
            "s is above n/2 (EIP-2 low-s rule)",
        ));
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r.to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s.to_be_bytes::<32>());
    let recid = RecoveryId::try_from(i32::from(sig.y_parity))
        .map_err(|_| CryptoError::InvalidSignature("bad recovery id"))?;
    let rsig = RecoverableSignature::from_compact(&compact, recid)
        .map_err(|_| CryptoError::InvalidSignature("unparsable signature"))?;
    let pk = SECP256K1
        .recover_ecdsa(&Message::from_digest(hash.0), &rsig)
        .map_err(|_| CryptoError::RecoveryFailed)?;
    Ok(public_key_to_address(&pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_recover_round_trips() {
        let key = SecretKey::from_hex(
            "0x4646464646464646464646464646464646464646464646464646464646464646",
        )
        .expect("valid key");
        let hash = keccak256(b"hello");
        let sig = sign_prehash(&hash, &key);
        assert!(sig.s <= SECP256K1_N >> 1);
        assert_eq!(recover_signer(&hash, &sig, true), Ok(key.address()));
        let other = keccak256(b"other");
        assert_ne!(recover_signer(&other, &sig, true), Ok(key.address()));
    }

    #[test]
    fn high_s_and_zero_r_are_refused() {
        let key = SecretKey::from_bytes(&[7u8; 32]).expect("valid key");
        let hash = keccak256(b"x");
        let mut sig = sign_prehash(&hash, &key);
        sig.s = SECP256K1_N - sig.s;
        sig.y_parity = !sig.y_parity;
        assert!(recover_signer(&hash, &sig, true).is_err());
        // Without the low-s rule the flipped signature recovers the same key.
        assert_eq!(recover_signer(&hash, &sig, false), Ok(key.address()));
        sig.r = U256::ZERO;
        assert!(recover_signer(&hash, &sig, false).is_err());
    }

    #[test]
    fn zero_and_overflowing_keys_are_refused() {
        assert!(SecretKey::from_bytes(&[0u8; 32]).is_err());
        assert!(SecretKey::from_bytes(&[0xffu8; 32]).is_err());
        assert!(SecretKey::from_bytes(&[1u8; 31]).is_err());
    }
}
