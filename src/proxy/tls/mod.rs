//! The proxy's TLS material: rustls configs built from the workload identity, swapped
//! atomically on reload so new handshakes use the new certificate.
//!
//! Configs are built once per identity (not per connection): the hot path is one
//! `ArcSwap::load` and an `Arc` clone.

pub mod reload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::{ClientConfig, ServerConfig};

use crate::identity::{IdentityError, SpiffeId, TrustBundle, WorkloadIdentity};

/// ALPN for HTTP between proxies: every HTTP request (HTTP/1 or HTTP/2 from the app) rides
/// one multiplexed HTTP/2 connection per peer.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN for opaque TCP between proxies: the TLS stream carries the app's bytes unchanged.
pub const ALPN_TCP: &[u8] = b"meshctl/tcp";

/// One identity's configs: the inbound server config and, per expected peer identity, the
/// outbound client configs.
#[derive(Debug)]
pub struct TlsConfigs {
    pub id: SpiffeId,
    pub serial: String,
    pub not_after: SystemTime,
    pub server: Arc<ServerConfig>,
    peers: HashMap<SpiffeId, PeerConfigs>,
    /// Kept to build client configs for peers that appear later (control-plane mode).
    identity: Arc<WorkloadIdentity>,
}

#[derive(Debug)]
struct PeerConfigs {
    h2: Arc<ClientConfig>,
    tcp: Arc<ClientConfig>,
}

/// What a new connection to a peer carries, which picks its ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerProtocol {
    H2,
    Tcp,
}

/// The live TLS configs, replaced as a whole on reload, renewal or when new peers appear.
#[derive(Debug)]
pub struct TlsStore {
    /// The identity directory (standalone mode); `None` when the control plane issues the
    /// certificate.
    dir: Option<PathBuf>,
    current: ArcSwap<TlsConfigs>,
    /// Serialises rebuilds, so a renewal, a bundle push and a peer update never overwrite
    /// each other. Holds the bundle the control plane pushed last: it wins over the one that
    /// came with a renewed leaf, whichever arrives first.
    rebuild: Mutex<Option<Arc<TrustBundle>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the new certificate is for {got}, but this proxy is {current}; keeping the old one")]
    IdentityChanged { current: SpiffeId, got: SpiffeId },
    #[error("this proxy has no identity directory to reload from")]
    NoDirectory,
}

impl TlsStore {
    /// Loads and verifies the identity in `dir` and builds configs for every peer identity
    /// the outbound side will dial.
    pub fn load(dir: &Path, peers: Vec<SpiffeId>) -> Result<Self, IdentityError> {
        let configs = build(Arc::new(WorkloadIdentity::load_dir(dir)?), peers.iter())?;
        Ok(TlsStore {
            dir: Some(dir.to_path_buf()),
            current: ArcSwap::from_pointee(configs),
            rebuild: Mutex::new(None),
        })
    }

    /// A store for an identity obtained from the control plane (already verified).
    pub fn from_identity(identity: Arc<WorkloadIdentity>) -> Result<Self, IdentityError> {
        let configs = build(identity, std::iter::empty())?;
        Ok(TlsStore {
            dir: None,
            current: ArcSwap::from_pointee(configs),
            rebuild: Mutex::new(None),
        })
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn current(&self) -> Arc<TlsConfigs> {
        self.current.load_full()
    }

    /// Re-reads the directory. A certificate that fails verification, or that names another
    /// workload, is refused and the current configs stay in place.
    pub fn reload(&self) -> Result<Arc<TlsConfigs>, ReloadError> {
        let dir = self.dir.as_deref().ok_or(ReloadError::NoDirectory)?;
        self.install(Arc::new(WorkloadIdentity::load_dir(dir)?))
    }

    /// Swaps in a new (verified) identity for the same workload; new handshakes use it.
    pub fn install(&self, identity: Arc<WorkloadIdentity>) -> Result<Arc<TlsConfigs>, ReloadError> {
        let pushed = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current.load();
        if identity.id != current.id {
            return Err(ReloadError::IdentityChanged {
                current: current.id.clone(),
                got: identity.id.clone(),
            });
        }
        let identity = match pushed.as_ref() {
            Some(bundle) if bundle.fingerprints() != identity.bundle.fingerprints() => {
                // A leaf from a chain the pushed bundle does not know yet keeps its own.
                identity
                    .with_bundle(bundle.clone())
                    .map(Arc::new)
                    .unwrap_or(identity)
            }
            _ => identity,
        };
        let configs = Arc::new(build(identity, current.peers.keys())?);
        self.current.store(configs.clone());
        Ok(configs)
    }

    /// Trusts `bundle` from now on (new handshakes; open connections keep going). Refused,
    /// changing nothing, when the current leaf does not chain to it.
    pub fn install_bundle(&self, bundle: Arc<TrustBundle>) -> Result<bool, ReloadError> {
        let mut pushed = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current.load_full();
        if current.identity.bundle.fingerprints() == bundle.fingerprints() {
            *pushed = Some(bundle);
            return Ok(false);
        }
        let identity = Arc::new(current.identity.with_bundle(bundle.clone())?);
        self.current
            .store(Arc::new(build(identity, current.peers.keys())?));
        *pushed = Some(bundle);
        Ok(true)
    }

    /// Makes sure client configs exist for every identity in `peers` (config updates from
    /// the control plane name new peers); rebuilds only when one is missing.
    pub fn add_peers<'a>(
        &self,
        peers: impl IntoIterator<Item = &'a SpiffeId>,
    ) -> Result<(), IdentityError> {
        let _guard = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current.load_full();
        let missing: Vec<&SpiffeId> = peers
            .into_iter()
            .filter(|p| !current.peers.contains_key(*p))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let all = current.peers.keys().chain(missing);
        self.current
            .store(Arc::new(build(current.identity.clone(), all)?));
        Ok(())
    }
}

impl TlsConfigs {
    /// The identity these configs were built from (leaf chain and trust bundle).
    pub fn identity(&self) -> &Arc<WorkloadIdentity> {
        &self.identity
    }

    /// The client config for dialing a peer that must be `expected`; `None` if the peer was
    /// never configured.
    pub fn client(&self, expected: &SpiffeId, protocol: PeerProtocol) -> Option<Arc<ClientConfig>> {
        self.peers.get(expected).map(|p| match protocol {
            PeerProtocol::H2 => p.h2.clone(),
            PeerProtocol::Tcp => p.tcp.clone(),
        })
    }
}

fn build<'a>(
    identity: Arc<WorkloadIdentity>,
    peers: impl Iterator<Item = &'a SpiffeId>,
) -> Result<TlsConfigs, IdentityError> {
    let server = identity.server_config(&[ALPN_H2, ALPN_TCP])?;
    let mut map = HashMap::new();
    for peer in peers {
        let h2 = identity.client_config(peer.clone(), &[ALPN_H2])?;
        let tcp = identity.client_config(peer.clone(), &[ALPN_TCP])?;
        map.insert(
            peer.clone(),
            PeerConfigs {
                h2: Arc::new(h2),
                tcp: Arc::new(tcp),
            },
        );
    }
    Ok(TlsConfigs {
        id: identity.id.clone(),
        serial: identity.serial.clone(),
        not_after: identity.not_after,
        server: Arc::new(server),
        peers: map,
        identity,
    })
}

/// The metrics label for a failed handshake, from the I/O error tokio-rustls returns.
pub fn failure_reason(e: &std::io::Error) -> &'static str {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => crate::identity::verify::handshake_failure_reason(tls),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => "eof",
        None if e.kind() == std::io::ErrorKind::TimedOut => "timeout",
        None => "io",
    }
}

/// Test support shared by the proxy's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;
    use std::time::Duration;

    use super::TlsStore;
    use crate::identity::store::{CaStore, InitOptions};
    use crate::identity::{SpiffeId, TrustBundle, WorkloadIdentity, ca};

    /// A TLS store for `spiffe://mesh.local/ns/local/sa/front` from a fresh CA, expecting
    /// `peer` on the other side, and that CA's trust bundle (PEM).
    pub fn store(peer: &SpiffeId) -> (Arc<TlsStore>, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = CaStore::new(dir.path());
        store
            .init(&InitOptions {
                trust_domain: "mesh.local".into(),
                anchor_lifetime: ca::DEFAULT_ANCHOR_LIFETIME,
                issuer_lifetime: ca::DEFAULT_ISSUER_LIFETIME,
                force: false,
            })
            .unwrap();
        let me: SpiffeId = "spiffe://mesh.local/ns/local/sa/front".parse().unwrap();
        let leaf = ca::issue_with_new_key(&store.issuer().unwrap(), &me, Duration::from_secs(3600))
            .unwrap();
        let chain = format!("{}{}", leaf.cert_pem, store.issuer_pem().unwrap());
        let bundle_pem = store.bundle_pem().unwrap();
        let bundle = Arc::new(TrustBundle::from_pem(&bundle_pem).unwrap());
        let identity = WorkloadIdentity::from_parts(&chain, &leaf.key_pem, bundle).unwrap();
        let tls = TlsStore::from_identity(Arc::new(identity)).unwrap();
        tls.add_peers([peer]).unwrap();
        (Arc::new(tls), bundle_pem)
    }
}
