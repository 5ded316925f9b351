//! The overlay identity of a node: an Ed25519 key, the Node-ID derived from it, and a self-signed
//! X.509 certificate that binds the key to TLS links and to RELOAD message signatures.

use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte key follows it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Errors of node keys and certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeKeyError {
    /// The stored key is not a PKCS#8 Ed25519 key.
    #[error("invalid node key: {0}")]
    InvalidKey(String),
    /// The certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(String),
}

/// A node's Ed25519 key with its certificate.
pub struct NodeKey {
    pkcs8: Vec<u8>,
    pair: Ed25519KeyPair,
    certificate: Vec<u8>,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({})", hex::encode(self.node_id()))
    }
}

/// The Node-ID of an Ed25519 public key: the first 16 bytes of its SHA-256.
pub fn node_id_of(public_key: &[u8]) -> [u8; 16] {
    let h = Sha256::digest(public_key);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h[..16]);
    out
}

/// The Ed25519 public key in a DER SubjectPublicKeyInfo, if it is one.
pub fn ed25519_key_of_spki(spki: &[u8]) -> Option<[u8; 32]> {
    if spki.len() != 44 || spki[..12] != ED25519_SPKI_PREFIX {
        return None;
    }
    spki[12..].try_into().ok()
}

/// Verifies an Ed25519 signature.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

impl NodeKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, NodeKeyError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| NodeKeyError::InvalidKey(e.to_string()))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// A key from a 32-byte seed (tests and simulations want reproducible identities).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, NodeKeyError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| NodeKeyError::InvalidKey(e.to_string()))?;
        // PKCS#8 v1 wrapping of the seed (RFC 8410).
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(seed);
        let certificate = Self::certify(&pkcs8, pair.public_key().as_ref())?;
        Ok(Self {
            pkcs8,
            pair,
            certificate,
        })
    }

    /// A key from its PKCS#8 document (as [`NodeKey::pkcs8`] returns it).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, NodeKeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| NodeKeyError::InvalidKey(e.to_string()))?;
        let certificate = Self::certify(pkcs8, pair.public_key().as_ref())?;
        Ok(Self {
            pkcs8: pkcs8.to_vec(),
            pair,
            certificate,
        })
    }

    fn certify(pkcs8: &[u8], public: &[u8]) -> Result<Vec<u8>, NodeKeyError> {
        let kp = rcgen::KeyPair::try_from(pkcs8)
            .map_err(|e| NodeKeyError::Certificate(e.to_string()))?;
        let id = hex::encode(node_id_of(public));
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| NodeKeyError::Certificate(e.to_string()))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("platon node {id}"));
        params.subject_alt_names = vec![rcgen::SanType::URI(
            rcgen::Ia5String::try_from(format!("reload://{id}@platon/"))
                .map_err(|e| NodeKeyError::Certificate(e.to_string()))?,
        )];
        let cert = params
            .self_signed(&kp)
            .map_err(|e| NodeKeyError::Certificate(e.to_string()))?;
        Ok(cert.der().to_vec())
    }

    /// The PKCS#8 document (what a node stores as its key file).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }
    /// The Node-ID.
    pub fn node_id(&self) -> [u8; 16] {
        node_id_of(self.pair.public_key().as_ref())
    }
    /// The self-signed certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }
    /// SHA-256 of the certificate (the RELOAD `cert_hash` signer identity).
    pub fn certificate_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.certificate).into()
    }
    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_certificate_and_node_id_agree() {
        let k = NodeKey::from_seed(&[7u8; 32]).expect("key");
        let again = NodeKey::from_pkcs8(k.pkcs8()).expect("reload");
        assert_eq!(k.node_id(), again.node_id());
        let sig = k.sign(b"hello");
        assert!(verify_ed25519(&k.public_key(), b"hello", &sig));
        assert!(!verify_ed25519(&k.public_key(), b"hellO", &sig));
        assert_ne!(NodeKey::generate().expect("gen").node_id(), k.node_id());
        assert!(NodeKey::from_pkcs8(b"not a key").is_err());
    }
}
