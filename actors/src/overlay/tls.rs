//! TLS 1.3 links bound to node keys, and the Ed25519 signer of RELOAD messages.
//!
//! Each node presents a self-signed certificate over its Ed25519 key, as server and as client. A
//! peer's certificate is accepted when its handshake signature verifies; its Node-ID is then the
//! hash of the certified key, so a peer cannot claim an id its key does not give it. A dialer that
//! expects a particular Node-ID refuses any other.

use super::core::Signer;
use platon_crypto::node_key::{ed25519_key_of_spki, node_id_of, verify_ed25519, NodeKey};
use platon_messages::reload::{
    Message, NodeId, ResourceId, Signature, SignatureAlgorithm, SignerIdentity, StoredData,
    StoredDataValue, WireError,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The Ed25519 key certified by a DER certificate.
pub fn cert_key(der: &[u8]) -> Result<[u8; 32], String> {
    let cert = CertificateDer::from(der);
    let ee = webpki::EndEntityCert::try_from(&cert).map_err(|e| format!("certificate: {e}"))?;
    let spki = ee.subject_public_key_info();
    ed25519_key_of_spki(spki.as_ref()).ok_or_else(|| "certificate key is not Ed25519".to_string())
}

/// The Node-ID a DER certificate's key gives.
pub fn cert_node_id(der: &[u8]) -> Result<NodeId, String> {
    Ok(NodeId::from_bytes(node_id_of(&cert_key(der)?)))
}

#[derive(Debug)]
struct NodeCertVerifier {
    provider: Arc<CryptoProvider>,
}

impl NodeCertVerifier {
    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        cert_key(end_entity.as_ref())
            .map(|_| ())
            .map_err(rustls::Error::General)
    }
    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
}

impl ServerCertVerifier for NodeCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for NodeCertVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// TLS 1.3 client and server configurations presenting `key`'s certificate and requiring the
/// peer's.
pub fn configs(
    key: &NodeKey,
) -> Result<(Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>), rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(NodeCertVerifier {
        provider: provider.clone(),
    });
    let cert = CertificateDer::from(key.certificate().to_vec());
    let pk = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8().to_vec()));
    let client = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_client_auth_cert(vec![cert.clone()], pk())?;
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], pk())?;
    Ok((Arc::new(client), Arc::new(server)))
}

/// Signs with the node's Ed25519 key and puts its certificate in every message it originates.
pub struct Ed25519Signer {
    key: Arc<NodeKey>,
}

impl Ed25519Signer {
    /// A signer over `key`.
    pub fn new(key: Arc<NodeKey>) -> Self {
        Self { key }
    }
    fn identity(&self) -> SignerIdentity {
        SignerIdentity::CertHash {
            hash_alg: 4,
            hash: self.key.certificate_hash().to_vec(),
        }
    }
}

fn cert_for<'a>(
    identity: &SignerIdentity,
    certificates: &'a [(u8, Vec<u8>)],
) -> Result<&'a [u8], String> {
    let SignerIdentity::CertHash { hash_alg: 4, hash } = identity else {
        return Err("unsupported signer identity".into());
    };
    certificates
        .iter()
        .find(|(t, c)| *t == 0 && Sha256::digest(c).as_slice() == hash.as_slice())
        .map(|(_, c)| c.as_slice())
        .ok_or_else(|| "the signer's certificate is not in the message".to_string())
}

fn check(sig: &Signature, input: &[u8], cert: &[u8]) -> Result<NodeId, String> {
    if sig.algorithm != SignatureAlgorithm::ED25519 {
        return Err("unsupported signature algorithm".into());
    }
    let key = cert_key(cert)?;
    if !verify_ed25519(&key, input, &sig.value) {
        return Err("bad signature".into());
    }
    Ok(NodeId::from_bytes(node_id_of(&key)))
}

impl Signer for Ed25519Signer {
    fn certificate(&self) -> Option<Vec<u8>> {
        Some(self.key.certificate().to_vec())
    }

    fn sign_message(&self, msg: &mut Message) -> Result<(), WireError> {
        let identity = self.identity();
        let input = Message::signing_input(
            msg.header.overlay,
            msg.header.transaction_id,
            &msg.contents()?,
            &identity,
        )?;
        let mine = self.key.certificate();
        if !msg.security.certificates.iter().any(|(_, c)| c == mine) {
            msg.security.certificates.push((0, mine.to_vec()));
        }
        msg.security.signature = Signature {
            algorithm: SignatureAlgorithm::ED25519,
            identity,
            value: self.key.sign(&input).to_vec(),
        };
        Ok(())
    }

    fn verify_message(&self, msg: &Message) -> Result<Option<NodeId>, String> {
        let sig = &msg.security.signature;
        let cert = cert_for(&sig.identity, &msg.security.certificates)?;
        let input = Message::signing_input(
            msg.header.overlay,
            msg.header.transaction_id,
            &msg.contents().map_err(|e| e.to_string())?,
            &sig.identity,
        )
        .map_err(|e| e.to_string())?;
        check(sig, &input, cert).map(Some)
    }

    fn sign_data(
        &self,
        resource: &ResourceId,
        kind: u32,
        storage_time: u64,
        value: &StoredDataValue,
    ) -> Result<Signature, WireError> {
        let identity = self.identity();
        let input = StoredData::signing_input(resource, kind, storage_time, value, &identity)?;
        Ok(Signature {
            algorithm: SignatureAlgorithm::ED25519,
            identity,
            value: self.key.sign(&input).to_vec(),
        })
    }

    fn verify_data(
        &self,
        resource: &ResourceId,
        kind: u32,
        data: &StoredData,
        certificates: &[(u8, Vec<u8>)],
    ) -> Result<Option<NodeId>, String> {
        let sig = &data.signature;
        let cert = cert_for(&sig.identity, certificates)?;
        let input = StoredData::signing_input(
            resource,
            kind,
            data.storage_time,
            &data.value,
            &sig.identity,
        )
        .map_err(|e| e.to_string())?;
        check(sig, &input, cert).map(Some)
    }
}
