//! Cluster mode end to end: an in-process control plane served over TCP + TLS (`serve_tls`)
//! and real `meshctl proxy --control-plane https://…` processes without `--spiffe-id`, in
//! front of a real HTTP app.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshctl::api::proto::control as pb;
use meshctl::api::token::token_hash;
use meshctl::api::transport::{authed, https_channel};
use meshctl::control::backend::LocalBackend;
use meshctl::control::plan::{MeshPlan, ProxyPlan, UpstreamPlan};
use meshctl::control::server::ControlPlane;
use meshctl::control::transport::{ServingCert, serve_tls};
use meshctl::identity::ca::{self, SigningCa};

use crate::proxy_support::{PATIENCE, Proxy, free_addr, full_body, http_app, http1_conn, meshctl};

const ADMIN_TOKEN: &str = "cluster-admin-token";
const WEB_TOKEN: &str = "web-sa-token";
/// A second valid token for the web workload (what a rotated service-account token is).
const WEB_TOKEN_2: &str = "web-sa-token-rotated";
const API_TOKEN: &str = "api-sa-token";
const WEB_ID: &str = "spiffe://cluster.local/ns/shop/sa/web";
const API_ID: &str = "spiffe://cluster.local/ns/shop/sa/api";

fn proxy_plan(
    name: &str,
    service: &str,
    token: &str,
    inbound: SocketAddr,
    app: SocketAddr,
) -> ProxyPlan {
    ProxyPlan {
        name: name.into(),
        service: service.into(),
        version: None,
        spiffe_id: format!("spiffe://cluster.local/ns/shop/sa/{service}"),
        token_sha256: token_hash(token),
        inbound,
        app,
        protocol: Some("http".into()),
        admin: free_addr(),
        http_proxy: free_addr(),
        tap: free_addr(),
        upstreams: Vec::new(),
        workers: None,
    }
}

/// The control plane, its address and the files a proxy needs.
struct Cluster {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    api_inbound: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Cluster {
    async fn start(app: SocketAddr) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let api_inbound = free_addr();
        let mut web = proxy_plan("web", "web", WEB_TOKEN, free_addr(), free_addr());
        // The control plane names a listener the web proxy must not use: the flag pins it.
        web.upstreams.push(UpstreamPlan {
            service: "api".into(),
            listen: free_addr(),
        });
        // The same workload's rotated token, as a second instance of it (so the control
        // plane's status shows which token a call carried).
        let mut web_rotated =
            proxy_plan("web-rotated", "web", WEB_TOKEN_2, free_addr(), free_addr());
        web_rotated.upstreams = web.upstreams.clone();
        let plan = MeshPlan {
            trust_domain: "cluster.local".into(),
            control_socket: dir.path().join("unused.sock"),
            admin_token_sha256: token_hash(ADMIN_TOKEN),
            proxies: vec![
                web,
                web_rotated,
                proxy_plan("api", "api", API_TOKEN, api_inbound, app),
            ],
            policies: Default::default(),
        };
        let anchor = ca::new_anchor("cluster.local", Duration::from_secs(86_400)).unwrap();
        let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
        let issuer = anchor_ca
            .sign_issuer("cluster.local", Duration::from_secs(3_600))
            .unwrap();
        let issuer = SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap();
        let served = issuer
            .issue_serving_cert(
                &["meshctl-controller.meshctl.svc".into()],
                &["127.0.0.1".parse().unwrap()],
                Duration::from_secs(600),
            )
            .unwrap();
        std::fs::write(dir.path().join("bundle.pem"), &anchor.cert_pem).unwrap();
        let other = ca::new_anchor("cluster.local", Duration::from_secs(86_400)).unwrap();
        std::fs::write(dir.path().join("other-bundle.pem"), &other.cert_pem).unwrap();
        for (name, token) in [("web.token", WEB_TOKEN), ("api.token", API_TOKEN)] {
            std::fs::write(dir.path().join(name), token).unwrap();
        }
        let backend = Arc::new(LocalBackend::new(plan, dir.path()));
        let plane =
            ControlPlane::new(backend, issuer, anchor.cert_pem, Duration::from_secs(600)).unwrap();
        tokio::spawn(plane.clone().expire_faults());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cert = ServingCert::new(&served.cert_pem, &served.key_pem).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_tls(plane, listener, cert, async {
            let _ = rx.await;
        }));
        Cluster {
            dir,
            addr,
            api_inbound,
            _stop: tx,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The flags of a sidecar in this cluster (no --spiffe-id: the control plane assigns it).
    fn proxy_args(&self, token: &str, bundle: &str, extra: &[String]) -> Vec<String> {
        let mut args = vec![
            "--control-plane".to_string(),
            self.url(),
            "--token-file".into(),
            self.file(token).display().to_string(),
            "--trust-bundle".into(),
            self.file(bundle).display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        args
    }

    fn admin(&self) -> pb::admin_client::AdminClient<tonic::transport::Channel> {
        let url = self.url().parse().unwrap();
        pb::admin_client::AdminClient::new(https_channel(
            &url,
            &self.file("bundle.pem"),
            Some(Duration::from_secs(5)),
        ))
    }

    async fn status(&self, instance: &str) -> pb::ProxyStatus {
        let status = self
            .admin()
            .status(authed(pb::StatusRequest {}, ADMIN_TOKEN))
            .await
            .unwrap()
            .into_inner();
        status
            .proxies
            .into_iter()
            .find(|p| p.instance == instance)
            .unwrap()
    }
}

/// Starts a proxy (blocking until `/ready`) off the runtime the control plane runs on.
async fn start_proxy(args: Vec<String>, log_dir: &Path) -> Proxy {
    let log_dir = log_dir.to_path_buf();
    tokio::task::spawn_blocking(move || Proxy::start(&args, &log_dir))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_get_their_identity_from_the_control_plane_and_carry_a_request_over_mtls() {
    let app = http_app().await;
    let cluster = Cluster::start(app.addr).await;
    let pinned = free_addr();
    let api = start_proxy(
        cluster.proxy_args(
            "api.token",
            "bundle.pem",
            &[
                "--inbound".into(),
                format!("{}=127.0.0.1:{}", cluster.api_inbound, app.addr.port()),
            ],
        ),
        cluster.dir.path(),
    )
    .await;
    let web = start_proxy(
        cluster.proxy_args(
            "web.token",
            "bundle.pem",
            &["--upstream-service".into(), format!("{pinned}=api")],
        ),
        cluster.dir.path(),
    )
    .await;

    // The app's request on the pinned listener reaches the api app, which sees the
    // caller's assigned identity.
    let deadline = Instant::now() + PATIENCE;
    let seen = loop {
        let attempt = async {
            let mut sender = http1_conn(pinned).await;
            let req = http::Request::get("/hello")
                .header("host", "api")
                .body(full_body("hi"))
                .unwrap();
            sender.send_request(req).await
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(resp)) if resp.status() == http::StatusCode::OK => break resp,
            other if Instant::now() > deadline => panic!(
                "no answer through the mesh: {other:?}\nweb: {}\napi: {}",
                web.log(),
                api.log()
            ),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(seen.headers()["x-seen-client-id"], WEB_ID);
    assert_eq!(seen.headers()["x-seen-path"], "/hello");
    assert!(web.log().contains(WEB_ID), "{}", web.log());
    assert!(api.log().contains(API_ID), "{}", api.log());
    assert_eq!(cluster.status("web").await.spiffe_id, WEB_ID);
    assert!(cluster.status("web").await.connected);

    // The kubelet rewrites the token: the next calls (an ack, a certificate report) carry the
    // new one, which the control plane attributes to the instance it belongs to.
    std::fs::write(cluster.file("web.token"), WEB_TOKEN_2).unwrap();
    let version = cluster
        .admin()
        .set_fault(authed(
            pb::FaultSetRequest {
                service: "api".into(),
                fault: Some(pb::Fault {
                    delay_ms: 1,
                    delay_per_million: 1,
                    ..Default::default()
                }),
                for_ms: 0,
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
        .version;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let rotated = cluster.status("web-rotated").await;
        if rotated.acked_version >= version && rotated.certificate.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated token was not used: {rotated:?}\n{}",
            web.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        web.log().contains("bootstrap token file changed"),
        "{}",
        web.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_with_the_wrong_trust_bundle_never_becomes_ready_and_says_why() {
    let app = http_app().await;
    let cluster = Cluster::start(app.addr).await;
    let admin = free_addr();
    let log = cluster.file("wrong-bundle.log");
    let mut child = meshctl()
        .arg("proxy")
        .args(cluster.proxy_args("web.token", "other-bundle.pem", &[]))
        .args(["--admin", &admin.to_string()])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("invalid peer certificate") {
            break text;
        }
        assert!(Instant::now() < deadline, "no TLS error logged: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(child.try_wait().unwrap().is_none(), "still running: {text}");
    let (status, _, _) = crate::proxy_support::get(admin, "/ready").await;
    assert_ne!(status, http::StatusCode::OK);
    // Logged once, not at every retry.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("invalid peer certificate").count(),
        1,
        "{text}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn cluster_mode_flag_errors_are_usage_errors_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t").unwrap();
    let not_pem = dir.path().join("not-pem.crt");
    std::fs::write(&not_pem, "hello").unwrap();
    let token = token.display().to_string();
    let https = "https://127.0.0.1:8443";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--control-plane".into(),
                "http://127.0.0.1:8443".into(),
                "--token-file".into(),
                token.clone(),
            ],
            "http://",
        ),
        (
            vec![
                "--control-plane".into(),
                https.into(),
                "--token-file".into(),
                token.clone(),
            ],
            "--trust-bundle",
        ),
        (
            vec![
                "--control-plane".into(),
                https.into(),
                "--token-file".into(),
                token.clone(),
                "--trust-bundle".into(),
                dir.path().join("missing.crt").display().to_string(),
            ],
            "missing.crt",
        ),
        (
            vec![
                "--control-plane".into(),
                https.into(),
                "--token-file".into(),
                token.clone(),
                "--trust-bundle".into(),
                not_pem.display().to_string(),
            ],
            "not-pem.crt",
        ),
        (
            vec![
                "--control-plane".into(),
                https.into(),
                "--token-file".into(),
                token.clone(),
                "--trust-bundle".into(),
                not_pem.display().to_string(),
                "--upstream-service".into(),
                "127.0.0.1:4150=Not_A_Label".into(),
            ],
            "127.0.0.1:4150=Not_A_Label",
        ),
        (
            vec![
                "--control-plane".into(),
                https.into(),
                "--token-file".into(),
                token.clone(),
                "--trust-bundle".into(),
                not_pem.display().to_string(),
                "--upstream-service".into(),
                "localhost:4150=api".into(),
            ],
            "localhost:4150=api",
        ),
        (
            vec![
                "--control-plane".into(),
                "control.sock".into(),
                "--token-file".into(),
                token.clone(),
                "--spiffe-id".into(),
                WEB_ID.into(),
                "--trust-bundle".into(),
                not_pem.display().to_string(),
            ],
            "--trust-bundle",
        ),
        (
            vec![
                "--control-plane".into(),
                "control.sock".into(),
                "--token-file".into(),
                token.clone(),
            ],
            "--spiffe-id",
        ),
    ];
    for (args, needle) in cases {
        let out = meshctl()
            .arg("proxy")
            .args(&args)
            .args(["--admin", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected `{needle}` in {stderr}"
        );
    }
}
