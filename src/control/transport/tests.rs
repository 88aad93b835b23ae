//! `serve_tls` and `api::transport::https_channel` against each other: real TLS, real gRPC.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Uri;

use super::*;
use crate::api::token::token_hash;
use crate::api::transport::{authed, https_channel};
use crate::control::backend::LocalBackend;
use crate::control::plan::MeshPlan;
use crate::identity::ca::{self, GeneratedCert, SigningCa};

const ADMIN: &str = "admin-token";

/// A mesh CA: the anchor's PEM (the bundle) and the issuer.
fn mesh_ca() -> (String, SigningCa) {
    let anchor = ca::new_anchor("mesh.local", Duration::from_secs(86_400)).unwrap();
    let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
    let issuer = anchor_ca
        .sign_issuer("mesh.local", Duration::from_secs(3_600))
        .unwrap();
    (
        anchor.cert_pem,
        SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap(),
    )
}

fn serving(issuer: &SigningCa, names: &[&str]) -> GeneratedCert {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    issuer
        .issue_serving_cert(
            &names,
            &["127.0.0.1".parse().unwrap()],
            Duration::from_secs(600),
        )
        .unwrap()
}

struct Running {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    cert: ServingCert,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A control plane without proxies served with `serve_tls` on 127.0.0.1; the mesh bundle
/// is written to `<dir>/bundle.pem`.
async fn start(bundle_pem: &str, issuer: SigningCa, served: &GeneratedCert) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let plan = MeshPlan {
        trust_domain: "mesh.local".into(),
        control_socket: dir.path().join("unused.sock"),
        admin_token_sha256: token_hash(ADMIN),
        proxies: Vec::new(),
        policies: Default::default(),
    };
    std::fs::write(dir.path().join("bundle.pem"), bundle_pem).unwrap();
    let backend = Arc::new(LocalBackend::new(plan, dir.path()));
    let plane = ControlPlane::new(
        backend,
        issuer,
        bundle_pem.to_string(),
        Duration::from_secs(600),
    )
    .unwrap();
    let cert = ServingCert::new(&served.cert_pem, &served.key_pem).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_tls(plane, listener, cert.clone(), async {
        let _ = rx.await;
    }));
    Running {
        dir,
        addr,
        cert,
        _stop: tx,
    }
}

impl Running {
    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle.pem")
    }
}

async fn status(host: &str, addr: SocketAddr, bundle: &Path) -> Result<u64, tonic::Status> {
    let url: Uri = format!("https://{host}:{}", addr.port()).parse().unwrap();
    let channel = https_channel(&url, bundle, Some(Duration::from_secs(5)));
    let mut admin = pb::admin_client::AdminClient::new(channel);
    let resp = admin.status(authed(pb::StatusRequest {}, ADMIN)).await?;
    Ok(resp.into_inner().version)
}

/// The whole error chain of a failed call (the TLS cause is in a source).
fn chain(status: &tonic::Status) -> String {
    let mut text = status.to_string();
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}

#[tokio::test]
async fn a_call_succeeds_with_the_mesh_bundle_and_fails_with_another_or_for_another_name() {
    let (bundle, issuer) = mesh_ca();
    let served = serving(&issuer, &["localhost"]);
    let cp = start(&bundle, issuer, &served).await;
    assert!(status("127.0.0.1", cp.addr, &cp.bundle()).await.unwrap() > 0);
    assert!(status("localhost", cp.addr, &cp.bundle()).await.is_ok());

    // Another CA's bundle: the certificate is not trusted (same anchor name, another key:
    // webpki reports the signature).
    let (other, _) = mesh_ca();
    let other_path = cp.dir.path().join("other.pem");
    std::fs::write(&other_path, other).unwrap();
    let err = status("127.0.0.1", cp.addr, &other_path).await.unwrap_err();
    assert!(
        err.message().contains("invalid peer certificate"),
        "{}",
        chain(&err)
    );

    // A name the certificate does not carry: one without 127.0.0.1, dialled by IP.
    let (bundle2, issuer2) = mesh_ca();
    let names_only = issuer2
        .issue_serving_cert(&["localhost".into()], &[], Duration::from_secs(600))
        .unwrap();
    let cp2 = start(&bundle2, issuer2, &names_only).await;
    let err = status("127.0.0.1", cp2.addr, &cp2.bundle())
        .await
        .unwrap_err();
    assert!(chain(&err).contains("NotValidForName"), "{}", chain(&err));
    assert!(status("localhost", cp2.addr, &cp2.bundle()).await.is_ok());

    // A missing bundle file names the file.
    let missing = cp.dir.path().join("missing.pem");
    let err = status("127.0.0.1", cp.addr, &missing).await.unwrap_err();
    assert!(chain(&err).contains("missing.pem"), "{}", chain(&err));
}

#[tokio::test]
async fn a_replaced_certificate_is_presented_to_new_connections() {
    let (bundle, issuer) = mesh_ca();
    let first = serving(&issuer, &["localhost"]);
    let second = serving(&issuer, &["localhost"]);
    let (_, stranger) = mesh_ca();
    let foreign = serving(&stranger, &["localhost"]);
    let cp = start(&bundle, issuer, &first).await;
    let presented = |addr: SocketAddr, bundle: PathBuf| async move {
        let config = crate::api::transport::bundle_client_config(&bundle).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(
                rustls_pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let (_, session) = tls.get_ref();
        assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(
            session.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        session.peer_certificates().unwrap()[0].to_vec()
    };
    let leaf = |g: &GeneratedCert| pem::certs(&g.cert_pem).unwrap()[0].to_vec();
    assert_eq!(presented(cp.addr, cp.bundle()).await, leaf(&first));
    cp.cert.replace(&second.cert_pem, &second.key_pem).unwrap();
    assert_eq!(presented(cp.addr, cp.bundle()).await, leaf(&second));
    // A key that is not the chain's is refused and changes nothing.
    assert!(cp.cert.replace(&second.cert_pem, &first.key_pem).is_err());
    assert_eq!(presented(cp.addr, cp.bundle()).await, leaf(&second));
    // A certificate from another CA is served as given: clients then refuse it.
    cp.cert
        .replace(&foreign.cert_pem, &foreign.key_pem)
        .unwrap();
    assert!(status("127.0.0.1", cp.addr, &cp.bundle()).await.is_err());
}

#[tokio::test]
async fn a_client_that_never_handshakes_blocks_no_one() {
    let (bundle, issuer) = mesh_ca();
    let served = serving(&issuer, &["localhost"]);
    let cp = start(&bundle, issuer, &served).await;
    // Connected, silent, and kept open for the whole test.
    let _silent = TcpStream::connect(cp.addr).await.unwrap();
    let _silent2 = TcpStream::connect(cp.addr).await.unwrap();
    let answered = tokio::time::timeout(
        Duration::from_secs(3),
        status("127.0.0.1", cp.addr, &cp.bundle()),
    )
    .await
    .expect("answered while another client stalls");
    assert!(answered.is_ok());
}

#[test]
fn the_control_plane_address_is_a_url_or_a_socket_and_never_plain_http() {
    use crate::api::transport::ControlPlaneAddr;
    assert_eq!(
        ControlPlaneAddr::parse("/run/meshctl/control.sock").unwrap(),
        ControlPlaneAddr::Socket("/run/meshctl/control.sock".into())
    );
    let https = ControlPlaneAddr::parse("https://meshctl-controller.meshctl.svc:8443")
        .unwrap()
        .with_bundle("/b.pem".into());
    assert!(
        matches!(&https, ControlPlaneAddr::Https { url, bundle_path }
            if url.port_u16() == Some(8443) && bundle_path == Path::new("/b.pem"))
    );
    assert!(ControlPlaneAddr::parse("https://[::1]:8443").is_ok());
    let err = ControlPlaneAddr::parse("http://meshctl-controller:8443").unwrap_err();
    assert!(err.contains("http://") && err.contains("refused"), "{err}");
    assert!(ControlPlaneAddr::parse("https://").is_err());
    assert!(ControlPlaneAddr::parse("https://host:8443/path").is_err());
    assert!(ControlPlaneAddr::parse("").is_err());
}
