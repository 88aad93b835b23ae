//! The proxy's TLS material: rustls configs built from the workload identity, swapped
//! atomically on reload so new handshakes use the new certificate.
//!
//! Configs are built once per identity (not per connection): the hot path is one
//! `ArcSwap::load` and an `Arc` clone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::{ClientConfig, ServerConfig};

use crate::identity::{IdentityError, SpiffeId, WorkloadIdentity};

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

/// The live TLS configs, replaced as a whole on reload.
#[derive(Debug)]
pub struct TlsStore {
    dir: PathBuf,
    peers: Vec<SpiffeId>,
    current: ArcSwap<TlsConfigs>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the new certificate is for {got}, but this proxy is {current}; keeping the old one")]
    IdentityChanged { current: SpiffeId, got: SpiffeId },
}

impl TlsStore {
    /// Loads and verifies the identity in `dir` and builds configs for every peer identity
    /// the outbound side will dial.
    pub fn load(dir: &Path, peers: Vec<SpiffeId>) -> Result<Self, IdentityError> {
        let configs = build(&WorkloadIdentity::load_dir(dir)?, &peers)?;
        Ok(TlsStore {
            dir: dir.to_path_buf(),
            peers,
            current: ArcSwap::from_pointee(configs),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn current(&self) -> Arc<TlsConfigs> {
        self.current.load_full()
    }

    /// Re-reads the directory. A certificate that fails verification, or that names another
    /// workload, is refused and the current configs stay in place.
    pub fn reload(&self) -> Result<Arc<TlsConfigs>, ReloadError> {
        let identity = WorkloadIdentity::load_dir(&self.dir)?;
        let current = self.current.load();
        if identity.id != current.id {
            return Err(ReloadError::IdentityChanged {
                current: current.id.clone(),
                got: identity.id,
            });
        }
        let configs = Arc::new(build(&identity, &self.peers)?);
        self.current.store(configs.clone());
        Ok(configs)
    }
}

impl TlsConfigs {
    /// The client config for dialing a peer that must be `expected`; `None` if the peer was
    /// not configured at start-up (cannot happen for configured upstreams).
    pub fn client(&self, expected: &SpiffeId, protocol: PeerProtocol) -> Option<Arc<ClientConfig>> {
        self.peers.get(expected).map(|p| match protocol {
            PeerProtocol::H2 => p.h2.clone(),
            PeerProtocol::Tcp => p.tcp.clone(),
        })
    }
}

fn build(identity: &WorkloadIdentity, peers: &[SpiffeId]) -> Result<TlsConfigs, IdentityError> {
    let server = identity.server_config(&[ALPN_H2, ALPN_TCP])?;
    let mut map = HashMap::with_capacity(peers.len());
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
