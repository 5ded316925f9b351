//! BLS12-381 signatures for validators: `blst`, min-pk (public keys in G1, 48 bytes; signatures in
//! G2, 96 bytes), ciphersuite `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_` with proof of possession.
//!
//! Every public key and signature read from outside goes through [`BlsPublicKey::from_bytes`] /
//! [`BlsSignature::from_bytes`], which check the encoding and subgroup membership (and, for keys,
//! reject the identity), so the verifiers below never see an unchecked point.

use blst::min_pk::{AggregatePublicKey, AggregateSignature, PublicKey, SecretKey, Signature};
use blst::BLST_ERROR;

/// Domain separation tag of signatures (the proof-of-possession ciphersuite).
pub const DST_SIG: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Domain separation tag of the basic scheme (`_NUL_`), for interoperability checks only: the node's
/// validators sign under [`DST_SIG`].
pub const DST_BASIC: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";
/// Domain separation tag of proofs of possession.
pub const DST_POP: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Why BLS input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlsError {
    /// A secret key that is zero, too large or the wrong length.
    #[error("invalid BLS secret key")]
    SecretKey,
    /// A public key that does not decode, is not in G1's subgroup, or is the identity.
    #[error("invalid BLS public key: {0}")]
    PublicKey(String),
    /// A signature that does not decode or is not in G2's subgroup.
    #[error("invalid BLS signature: {0}")]
    Signature(String),
    /// Aggregation of nothing.
    #[error("nothing to aggregate")]
    Empty,
}

fn why(e: BLST_ERROR) -> String {
    format!("{e:?}")
}

/// A validator's BLS secret key.
#[derive(Clone)]
pub struct BlsSecretKey(SecretKey);

impl std::fmt::Debug for BlsSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlsSecretKey(..)")
    }
}

/// A BLS public key (G1, checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlsPublicKey(PublicKey);

/// A BLS signature (G2, checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlsSignature(Signature);

impl BlsSecretKey {
    /// The key from 32 big-endian bytes (non-zero, below the group order).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        let sk = SecretKey::from_bytes(bytes).map_err(|_| BlsError::SecretKey)?;
        if sk.to_bytes() == [0u8; 32] {
            return Err(BlsError::SecretKey);
        }
        Ok(BlsSecretKey(sk))
    }

    /// A fresh key from the system's random source.
    pub fn random() -> Result<Self, BlsError> {
        use ring::rand::SecureRandom;
        let mut ikm = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut ikm)
            .map_err(|_| BlsError::SecretKey)?;
        Self::from_ikm(&ikm)
    }

    /// A key derived from at least 32 bytes of input keying material (EIP-2333 `KeyGen`).
    pub fn from_ikm(ikm: &[u8]) -> Result<Self, BlsError> {
        SecretKey::key_gen(ikm, &[])
            .map(BlsSecretKey)
            .map_err(|_| BlsError::SecretKey)
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> BlsPublicKey {
        BlsPublicKey(self.0.sk_to_pk())
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> BlsSignature {
        BlsSignature(self.0.sign(msg, DST_SIG, &[]))
    }

    /// The proof of possession of this key: a signature over the public key under [`DST_POP`].
    pub fn prove_possession(&self) -> BlsSignature {
        BlsSignature(self.0.sign(&self.public_key().to_bytes(), DST_POP, &[]))
    }
}

impl BlsPublicKey {
    /// Decodes a compressed (48-byte) key, checking subgroup membership and refusing the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        PublicKey::key_validate(bytes)
            .map(BlsPublicKey)
            .map_err(|e| BlsError::PublicKey(why(e)))
    }

    /// The compressed encoding.
    pub fn to_bytes(&self) -> [u8; 48] {
        self.0.to_bytes()
    }

    /// True when `pop` proves possession of this key.
    pub fn verify_possession(&self, pop: &BlsSignature) -> bool {
        pop.0
            .verify(false, &self.to_bytes(), DST_POP, &[], &self.0, false)
            == BLST_ERROR::BLST_SUCCESS
    }
}

impl BlsSignature {
    /// Decodes a compressed (96-byte) signature, checking subgroup membership. The identity decodes
    /// (it is a valid encoding) but verifies against nothing.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        Signature::sig_validate(bytes, false)
            .map(BlsSignature)
            .map_err(|e| BlsError::Signature(why(e)))
    }

    /// The compressed encoding.
    pub fn to_bytes(&self) -> [u8; 96] {
        self.0.to_bytes()
    }

    /// True when this is `pk`'s signature of `msg`.
    pub fn verify(&self, msg: &[u8], pk: &BlsPublicKey) -> bool {
        self.0.verify(false, msg, DST_SIG, &[], &pk.0, false) == BLST_ERROR::BLST_SUCCESS
    }

    /// True when this is `pk`'s signature of `msg` under another ciphersuite's tag `dst`.
    pub fn verify_with_dst(&self, msg: &[u8], pk: &BlsPublicKey, dst: &[u8]) -> bool {
        self.0.verify(false, msg, dst, &[], &pk.0, false) == BLST_ERROR::BLST_SUCCESS
    }

    /// Aggregate verification under the basic scheme ([`DST_BASIC`]), which requires the messages to
    /// be distinct (it has no proof of possession to stop rogue keys).
    pub fn aggregate_verify_basic(&self, msgs: &[&[u8]], pks: &[BlsPublicKey]) -> bool {
        let distinct: std::collections::HashSet<&[u8]> = msgs.iter().copied().collect();
        if pks.is_empty() || msgs.len() != pks.len() || distinct.len() != msgs.len() {
            return false;
        }
        let refs: Vec<&PublicKey> = pks.iter().map(|p| &p.0).collect();
        self.0
            .aggregate_verify(false, msgs, DST_BASIC, &refs, false)
            == BLST_ERROR::BLST_SUCCESS
    }

    /// The aggregate of `sigs`.
    pub fn aggregate(sigs: &[BlsSignature]) -> Result<BlsSignature, BlsError> {
        let refs: Vec<&Signature> = sigs.iter().map(|s| &s.0).collect();
        if refs.is_empty() {
            return Err(BlsError::Empty);
        }
        AggregateSignature::aggregate(&refs, false)
            .map(|a| BlsSignature(a.to_signature()))
            .map_err(|e| BlsError::Signature(why(e)))
    }

    /// True when this aggregate is every key in `pks` signing the same `msg` (keys must have proven
    /// possession). False for an empty key list.
    pub fn fast_aggregate_verify(&self, msg: &[u8], pks: &[BlsPublicKey]) -> bool {
        if pks.is_empty() {
            return false;
        }
        let refs: Vec<&PublicKey> = pks.iter().map(|p| &p.0).collect();
        self.0.fast_aggregate_verify(false, msg, DST_SIG, &refs) == BLST_ERROR::BLST_SUCCESS
    }

    /// True when this aggregate is `pks[i]` signing `msgs[i]` for every i. False for empty or
    /// mismatched lists.
    pub fn aggregate_verify(&self, msgs: &[&[u8]], pks: &[BlsPublicKey]) -> bool {
        if pks.is_empty() || msgs.len() != pks.len() {
            return false;
        }
        let refs: Vec<&PublicKey> = pks.iter().map(|p| &p.0).collect();
        self.0.aggregate_verify(false, msgs, DST_SIG, &refs, false) == BLST_ERROR::BLST_SUCCESS
    }
}

/// Checks many (key, message, signature) triples at once with random linear combinations; true when
/// every one is valid. `seed` must be unpredictable to whoever chose the signatures (64 bits of
/// randomness per signature are derived from it).
pub fn batch_verify(items: &[(&BlsPublicKey, &[u8], &BlsSignature)], seed: [u8; 32]) -> bool {
    if items.is_empty() {
        return false;
    }
    let msgs: Vec<&[u8]> = items.iter().map(|i| i.1).collect();
    let pks: Vec<&PublicKey> = items.iter().map(|i| &i.0 .0).collect();
    let sigs: Vec<&Signature> = items.iter().map(|i| &i.2 .0).collect();
    let rands: Vec<blst::blst_scalar> = (0..items.len() as u64)
        .map(|i| {
            let mut pre = seed.to_vec();
            pre.extend_from_slice(&i.to_be_bytes());
            let h = alloy_primitives::keccak256(&pre);
            let mut b = [0u8; 32];
            // 64 random bits, little-endian as blst reads scalars; never zero.
            b[..8].copy_from_slice(&h[..8]);
            b[0] |= 1;
            blst::blst_scalar { b }
        })
        .collect();
    Signature::verify_multiple_aggregate_signatures(
        &msgs, DST_SIG, &pks, false, &sigs, false, &rands, 64,
    ) == BLST_ERROR::BLST_SUCCESS
}

/// hash_to_curve for G2 (RFC 9380, `BLS12381G2_XMD:SHA-256_SSWU_RO_`) under `dst`, as the 192-byte
/// uncompressed point (x.c1, x.c0, y.c1, y.c0, big-endian). Computed as the signature of `msg` by the
/// secret key 1, which is exactly H(msg).
pub fn hash_to_g2(msg: &[u8], dst: &[u8]) -> [u8; 192] {
    let mut one = [0u8; 32];
    one[31] = 1;
    // The scalar 1 is always a valid key.
    match SecretKey::from_bytes(&one) {
        Ok(sk) => sk.sign(msg, dst, &[]).serialize(),
        Err(_) => [0u8; 192],
    }
}

/// True when `bytes` is a valid compressed G1 point in the subgroup, the identity included (the
/// deserialization rule; [`BlsPublicKey::from_bytes`] additionally refuses the identity as a key).
pub fn g1_point_is_valid(bytes: &[u8]) -> bool {
    match PublicKey::from_bytes(bytes) {
        Ok(p) => matches!(p.validate(), Ok(()) | Err(BLST_ERROR::BLST_PK_IS_INFINITY)),
        Err(_) => false,
    }
}

/// [`hash_to_g2`] as a compressed (96-byte) point.
pub fn hash_to_g2_compressed(msg: &[u8], dst: &[u8]) -> [u8; 96] {
    let mut one = [0u8; 32];
    one[31] = 1;
    match SecretKey::from_bytes(&one) {
        Ok(sk) => sk.sign(msg, dst, &[]).compress(),
        Err(_) => [0u8; 96],
    }
}

/// Aggregate public key of `pks` (for QC verification against a validator set).
pub fn aggregate_public_keys(pks: &[BlsPublicKey]) -> Result<BlsPublicKey, BlsError> {
    let refs: Vec<&PublicKey> = pks.iter().map(|p| &p.0).collect();
    if refs.is_empty() {
        return Err(BlsError::Empty);
    }
    AggregatePublicKey::aggregate(&refs, false)
        .map(|a| BlsPublicKey(a.to_public_key()))
        .map_err(|e| BlsError::PublicKey(why(e)))
}
