//! A workload's own identity — leaf chain, private key, trust bundle — and its rustls configs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use super::verify::{MeshClientVerifier, MeshServerVerifier, TrustBundle, Usage};
use super::{IdentityError, SpiffeId, pem};

/// File names inside an identity directory, as `meshctl certs issue` writes them.
pub const CERT_FILE: &str = "tls.crt";
pub const KEY_FILE: &str = "tls.key";
pub const BUNDLE_FILE: &str = "ca.crt";

/// A verified workload identity, ready to build TLS configs from.
pub struct WorkloadIdentity {
    pub id: SpiffeId,
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pub bundle: Arc<TrustBundle>,
    pub not_after: SystemTime,
    pub serial: String,
}

impl std::fmt::Debug for WorkloadIdentity {
    // The key never appears in Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadIdentity")
            .field("id", &self.id)
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl WorkloadIdentity {
    /// Loads and verifies `DIR/tls.crt`, `DIR/tls.key`, `DIR/ca.crt`.
    pub fn load_dir(dir: &Path) -> Result<Self, IdentityError> {
        let cert_path = dir.join(CERT_FILE);
        let chain_pem =
            std::fs::read_to_string(&cert_path).map_err(|e| IdentityError::io(&cert_path, e))?;
        let key_pem = read_private_key(&dir.join(KEY_FILE))?;
        let bundle_path = dir.join(BUNDLE_FILE);
        let bundle_pem = std::fs::read_to_string(&bundle_path)
            .map_err(|e| IdentityError::io(&bundle_path, e))?;
        let bundle = TrustBundle::from_pem(&bundle_pem).map_err(|e| file_error(&bundle_path, e))?;
        Self::from_parts(&chain_pem, &key_pem, Arc::new(bundle))
            .map_err(|e| file_error(&cert_path, e))
    }

    /// Builds an identity from PEM texts and a bundle, verifying the leaf against the bundle
    /// for both TLS roles and checking the key belongs to the leaf.
    pub fn from_parts(
        chain_pem: &str,
        key_pem: &str,
        bundle: Arc<TrustBundle>,
    ) -> Result<Self, IdentityError> {
        let chain = pem::certs(chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        let now = UnixTime::now();
        let id = bundle.verify(&chain[0], &chain[1..], Usage::Server, now)?;
        bundle.verify(&chain[0], &chain[1..], Usage::Client, now)?;
        check_key_matches(&chain[0], &key)?;
        let leaf = pem::parse(&chain[0])?;
        let not_after = pem::to_system_time(leaf.validity().not_after.timestamp());
        let serial = pem::hex_serial(leaf.raw_serial());
        Ok(WorkloadIdentity {
            id,
            chain,
            key,
            bundle,
            not_after,
            serial,
        })
    }

    /// The same leaf and key trusting `bundle` instead: refused unless the leaf still chains
    /// to it (a bundle that would orphan the proxy's own leaf is never installed).
    pub fn with_bundle(&self, bundle: Arc<TrustBundle>) -> Result<Self, IdentityError> {
        let now = UnixTime::now();
        bundle.verify(&self.chain[0], &self.chain[1..], Usage::Server, now)?;
        bundle.verify(&self.chain[0], &self.chain[1..], Usage::Client, now)?;
        Ok(WorkloadIdentity {
            id: self.id.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            bundle,
            not_after: self.not_after,
            serial: self.serial.clone(),
        })
    }

    /// SHA-256 fingerprint of the issuer certificate in the chain (empty for a chain of one).
    pub fn issuer_fingerprint(&self) -> String {
        self.chain
            .get(1)
            .map(|d| pem::fingerprint(d))
            .unwrap_or_default()
    }

    /// Inbound TLS: TLS 1.3 only, a client certificate from the mesh is mandatory.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<ServerConfig, IdentityError> {
        let mut config = ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_client_cert_verifier(Arc::new(MeshClientVerifier::new(
                self.bundle.clone(),
                self.id.trust_domain(),
            )))
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// A TLS 1.3 server only `client` may use (its certificate is mandatory and must chain
    /// to this identity's bundle): the sidecar's tap listener in a cluster, for the controller.
    pub fn server_config_for(
        &self,
        client: SpiffeId,
        alpn: &[&[u8]],
    ) -> Result<ServerConfig, IdentityError> {
        let mut config = ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_client_cert_verifier(Arc::new(MeshClientVerifier::exactly(
                self.bundle.clone(),
                client,
            )))
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// Outbound TLS to a peer that must present exactly `expected`.
    pub fn client_config(
        &self,
        expected: SpiffeId,
        alpn: &[&[u8]],
    ) -> Result<ClientConfig, IdentityError> {
        let mut config = ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(MeshServerVerifier::new(
                self.bundle.clone(),
                expected,
            )))
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

fn file_error(path: &Path, e: IdentityError) -> IdentityError {
    match e {
        IdentityError::Io { .. } | IdentityError::File { .. } => e,
        other => IdentityError::File {
            path: PathBuf::from(path),
            why: other.to_string(),
        },
    }
}

/// Reads a private key file, refusing one that other users can read (like ssh does).
pub fn read_private_key(path: &Path) -> Result<String, IdentityError> {
    let mode = crate::fsutil::mode_of(path).map_err(|e| IdentityError::io(path, e))?;
    if mode & 0o007 != 0 {
        return Err(IdentityError::File {
            path: path.to_path_buf(),
            why: format!(
                "private key is accessible by other users (mode {mode:04o}); run `chmod 600 {}`",
                path.display()
            ),
        });
    }
    std::fs::read_to_string(path).map_err(|e| IdentityError::io(path, e))
}

fn check_key_matches(
    leaf: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
) -> Result<(), IdentityError> {
    let signing = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|e| IdentityError::Key(e.to_string()))?;
    let spki = signing
        .public_key()
        .ok_or_else(|| IdentityError::Key("unsupported key type".into()))?;
    let parsed = pem::parse(leaf)?;
    if spki.as_ref() != parsed.public_key().raw {
        return Err(IdentityError::Key(
            "the private key does not belong to the leaf certificate".into(),
        ));
    }
    Ok(())
}
