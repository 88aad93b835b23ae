//! The sidecar's tap listener in a cluster: the tap API on the pod IP, over TLS 1.3 with the
//! proxy's own SVID, for exactly one client — the controller's SPIFFE ID
//! (`spiffe://<trust domain>/ns/<controller namespace>/sa/<controller service account>`).
//!
//! Contract: a connection whose client presents no certificate, a certificate that does not
//! chain to the proxy's trust bundle, or another identity fails its handshake and never
//! reaches the tap; one that passes gets the tap API with no bearer token (the certificate
//! is the credential; `meshctl tap` authenticates operators at the controller). The server
//! configuration is built per connection from the current certificate, so a renewed SVID
//! or a pushed trust bundle applies to the next tap without a restart (taps are rare; the
//! data path never goes through here). The loopback `--tap` listener with its token is
//! unchanged, and both may run at once over one hub.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::tap::{TapHub, TapService};
use crate::api::proto::tap as pb;
use crate::api::transport::TlsConn;
use crate::identity::SpiffeId;
use crate::proxy::tls::TlsStore;
use crate::proxy::{ProxyError, bind};

/// How long a tap client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the gRPC server to take them.
const PENDING_CONNECTIONS: usize = 16;

/// Where the cluster tap listens, and the one identity it serves.
#[derive(Debug, Clone)]
pub struct TapMtls {
    pub addr: SocketAddr,
    pub client: SpiffeId,
}

/// Binds `listen.addr` and serves the tap API on it until the process exits; answers the
/// address it got.
pub async fn start(
    listen: &TapMtls,
    hub: Arc<TapHub>,
    tls: Arc<TlsStore>,
) -> Result<SocketAddr, ProxyError> {
    let listener = bind(listen.addr, "tap").await?;
    let local = listener.local_addr().unwrap_or(listen.addr);
    tokio::spawn(serve(listener, hub, tls, listen.client.clone()));
    Ok(local)
}

async fn serve(listener: TcpListener, hub: Arc<TapHub>, tls: Arc<TlsStore>, client: SpiffeId) {
    let (tx, rx) = mpsc::channel::<Result<TlsConn, std::io::Error>>(PENDING_CONNECTIONS);
    tokio::spawn(accept(listener, tls, client, tx));
    if let Err(e) = tonic::transport::Server::builder()
        .add_service(pb::tap_server::TapServer::new(TapService::certified(hub)))
        .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
    {
        tracing::warn!(error = %e, "cluster tap server stopped");
    }
}

/// Accepts and handshakes each connection on its own task (a slow client never holds up
/// the next); hands the authenticated ones to the gRPC server.
async fn accept(
    listener: TcpListener,
    tls: Arc<TlsStore>,
    client: SpiffeId,
    tx: mpsc::Sender<Result<TlsConn, std::io::Error>>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "tap accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let config = match tls
            .current()
            .identity()
            .server_config_for(client.clone(), &[b"h2"])
        {
            Ok(config) => Arc::new(config),
            Err(e) => {
                tracing::warn!(error = %e, "cluster tap: no server configuration");
                continue;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = tx.send(Ok(TlsConn(stream))).await;
                }
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "cluster tap: handshake refused"),
                Err(_) => tracing::info!(%peer, "cluster tap: handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests;
