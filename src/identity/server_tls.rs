//! TLS for external clients (the gateway): a user's certificate and key (PEM), TLS 1.2 and
//! 1.3, ALPN `h2` and `http/1.1`. The mesh side stays mutual TLS 1.3 only. Used by the
//! gateway to serve and by mesh.yaml's validation to refuse a bad pair before anything starts.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A server config from the PEM files `cert` (chain, leaf first) and `key`; refused, with
/// the file named, when either is unreadable or not PEM, or the key does not belong to the
/// certificate.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let fail = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        format!("{what} {}: {e}", path.display())
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| fail("certificate", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail("certificate", cert, &e))?;
    if certs.is_empty() {
        return Err(fail("certificate", cert, &"no CERTIFICATE in the file"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| fail("key", key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| format!("{} and {}: {e}", cert.display(), key.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
