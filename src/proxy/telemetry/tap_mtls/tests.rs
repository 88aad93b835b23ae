//! Tests of the cluster tap listener's mTLS client check.

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
    let leaf =
        ca::issue_with_new_key(issuer, &id.parse().unwrap(), Duration::from_secs(3600)).unwrap();
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
