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
mod tests {
    use super::*;
    use crate::identity::store::{CaStore, InitOptions};
    use crate::identity::verify::MeshServerVerifier;
    use crate::identity::{TrustBundle, WorkloadIdentity, ca};

    const SIDECAR: &str = "spiffe://mesh.local/ns/shop/sa/api";
    const CONTROLLER: &str = "spiffe://mesh.local/ns/meshctl-system/sa/meshctl-controller";

    /// A fresh mesh CA: its issuer, issuer PEM and bundle.
    fn mesh_ca(dir: &std::path::Path) -> (ca::SigningCa, String, Arc<TrustBundle>) {
        let store = CaStore::new(dir);
        store
            .init(&InitOptions {
                trust_domain: "mesh.local".into(),
                anchor_lifetime: ca::DEFAULT_ANCHOR_LIFETIME,
                issuer_lifetime: ca::DEFAULT_ISSUER_LIFETIME,
                force: false,
            })
            .unwrap();
        let bundle = Arc::new(TrustBundle::from_pem(&store.bundle_pem().unwrap()).unwrap());
        (store.issuer().unwrap(), store.issuer_pem().unwrap(), bundle)
    }

    fn identity(
        issuer: &ca::SigningCa,
        issuer_pem: &str,
        bundle: &Arc<TrustBundle>,
        id: &str,
    ) -> WorkloadIdentity {
        let leaf = ca::issue_with_new_key(issuer, &id.parse().unwrap(), Duration::from_secs(3600))
            .unwrap();
        let chain = format!("{}{issuer_pem}", leaf.cert_pem);
        WorkloadIdentity::from_parts(&chain, &leaf.key_pem, bundle.clone()).unwrap()
    }

    /// Opens a watch with `config`; `Ok` once the stream is open.
    async fn watch(addr: SocketAddr, config: rustls::ClientConfig) -> Result<(), String> {
        let channel =
            crate::api::transport::mesh_channel(addr, Arc::new(config), Duration::from_secs(5));
        let mut client = pb::tap_client::TapClient::new(channel);
        client
            .watch(pb::WatchRequest::default())
            .await
            .map(|_| ())
            .map_err(|s| format!("{s}"))
    }

    #[tokio::test]
    async fn only_the_controllers_certificate_opens_the_tap() {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, issuer_pem, bundle) = mesh_ca(dir.path());
        let sidecar = identity(&issuer, &issuer_pem, &bundle, SIDECAR);
        let tls = Arc::new(TlsStore::from_identity(Arc::new(sidecar)).unwrap());
        let hub = Arc::new(TapHub::new(SIDECAR.into(), &[]));
        let listen = TapMtls {
            addr: "127.0.0.1:0".parse().unwrap(),
            client: CONTROLLER.parse().unwrap(),
        };
        let addr = start(&listen, hub, tls).await.unwrap();
        let server: SpiffeId = SIDECAR.parse().unwrap();

        let controller = identity(&issuer, &issuer_pem, &bundle, CONTROLLER);
        let config = controller.client_config(server.clone(), &[b"h2"]).unwrap();
        watch(addr, config).await.unwrap();

        // Another workload of the same mesh, with a valid certificate.
        let other = identity(
            &issuer,
            &issuer_pem,
            &bundle,
            "spiffe://mesh.local/ns/shop/sa/web",
        );
        let config = other.client_config(server.clone(), &[b"h2"]).unwrap();
        let refused = watch(addr, config).await.unwrap_err();
        assert!(!refused.is_empty(), "another identity");

        // The controller's name, from a CA the sidecar does not trust.
        let foreign_dir = tempfile::tempdir().unwrap();
        let (f_issuer, f_pem, f_bundle) = mesh_ca(foreign_dir.path());
        let forged = identity(&f_issuer, &f_pem, &f_bundle, CONTROLLER);
        let mut config = forged.client_config(server.clone(), &[b"h2"]).unwrap();
        // It must still accept the sidecar's certificate, so only the client side differs.
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(MeshServerVerifier::new(
                bundle.clone(),
                server.clone(),
            )));
        let refused = watch(addr, config).await.unwrap_err();
        assert!(!refused.is_empty(), "foreign CA");

        // No client certificate at all.
        let mut config =
            rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(MeshServerVerifier::new(
                    bundle.clone(),
                    server.clone(),
                )))
                .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let refused = watch(addr, config).await.unwrap_err();
        assert!(!refused.is_empty(), "no certificate");
    }
}
