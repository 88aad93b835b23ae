//! The control plane's side of its transports: gRPC over a Unix socket in the state dir
//! (0600), so only the mesh's owner can talk to it, or over TCP + TLS 1.3 for proxies in a
//! cluster ([`serve_tls`], its certificate replaceable while serving: [`ServingCert`]).
//! Every call also carries a bearer token (the clients' side: `api::transport`).

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::transport::Server;
use tonic::transport::server::{Connected, TcpConnectInfo};

use super::server::ControlPlane;
use crate::api::proto::control as pb;
use crate::identity::{IdentityError, pem};

/// How long a client may take to complete its TLS handshake before it is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the gRPC server to take them.
const ACCEPT_QUEUE: usize = 64;

/// Serves the three services on `socket` until `shutdown` resolves.
pub async fn serve(
    plane: ControlPlane,
    socket: &Path,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // A socket left by a crashed control plane would make bind fail.
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    services(plane)
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await
        .map_err(std::io::Error::other)
}

fn services(plane: ControlPlane) -> tonic::transport::server::Router {
    Server::builder()
        .add_service(pb::identity_server::IdentityServer::new(plane.clone()))
        .add_service(pb::discovery_server::DiscoveryServer::new(plane.clone()))
        .add_service(pb::admin_server::AdminServer::new(plane))
}

/// The certificate [`serve_tls`] presents: a chain and its key, replaceable while serving
/// (connections made after [`ServingCert::replace`] see the new one; established ones keep
/// theirs). Cheap to clone; clones share the certificate.
#[derive(Clone)]
pub struct ServingCert {
    current: Arc<ArcSwap<CertifiedKey>>,
}

impl std::fmt::Debug for ServingCert {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingCert").finish_non_exhaustive()
    }
}

impl ServingCert {
    /// `chain_pem`: the leaf then its issuers (what `SigningCa::issue_serving_cert` returns);
    /// `key_pem`: the leaf's private key. Refused when either does not parse or the key is
    /// not the leaf's.
    pub fn new(chain_pem: &str, key_pem: &str) -> Result<Self, IdentityError> {
        Ok(ServingCert {
            current: Arc::new(ArcSwap::from_pointee(certified_key(chain_pem, key_pem)?)),
        })
    }

    /// Serves with this chain and key from the next handshake on; on error the current one
    /// stays in place.
    pub fn replace(&self, chain_pem: &str, key_pem: &str) -> Result<(), IdentityError> {
        self.current
            .store(Arc::new(certified_key(chain_pem, key_pem)?));
        Ok(())
    }

    /// A TLS 1.3-only server config presenting this certificate (and whatever replaces
    /// it), offering `alpn`, asking no client certificate.
    pub fn server_config(
        &self,
        alpn: &[&[u8]],
    ) -> Result<Arc<rustls::ServerConfig>, IdentityError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| IdentityError::Generate(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(self.clone()));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn certified_key(chain_pem: &str, key_pem: &str) -> Result<CertifiedKey, IdentityError> {
    let chain = pem::certs(chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| IdentityError::Key(e.to_string()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| IdentityError::Key(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signer);
    certified
        .keys_match()
        .map_err(|e| IdentityError::Key(format!("the key is not the certificate's: {e}")))?;
    Ok(certified)
}

/// Serves the three services over TCP + TLS 1.3 (ALPN `h2`, no client certificates: the
/// proxies authenticate with bearer tokens, as on the socket) on `listener` until
/// `shutdown` resolves. Handshakes run in their own tasks, each bounded by
/// [`HANDSHAKE_TIMEOUT`]: a client that connects and stalls delays no one else.
pub async fn serve_tls(
    plane: ControlPlane,
    listener: TcpListener,
    tls: ServingCert,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = tls.server_config(&[b"h2"]).map_err(std::io::Error::other)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<TlsConn>>(ACCEPT_QUEUE);
    let accepting = tokio::spawn(accept_loop(listener, acceptor, tx));
    let result = services(plane)
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), shutdown)
        .await
        .map_err(std::io::Error::other);
    accepting.abort();
    result
}

/// Accepts connections and hands each to a handshake task; handshaken streams go to `tx`.
async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    tx: tokio::sync::mpsc::Sender<std::io::Result<TlsConn>>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "accepting a control-plane connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let info = stream.connect_info();
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send(Ok(TlsConn { tls, info })).await;
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "control-plane TLS handshake failed")
                }
                Err(_) => tracing::debug!(%peer, "control-plane TLS handshake timed out"),
            }
        });
    }
}

/// A handshaken TLS connection, as the gRPC server takes it.
struct TlsConn {
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    info: TcpConnectInfo,
}

impl Connected for TlsConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
