//! The control plane over a real Unix socket: attestation, CSR signing, watch, acks, splits.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use meshctl::api::proto::control as pb;
use meshctl::api::token::token_hash;
use meshctl::api::transport::{ControlPlaneAddr, authed, channel};
use meshctl::control::backend::LocalBackend;
use meshctl::control::plan::{MeshPlan, ProxyPlan, UpstreamPlan};
use meshctl::control::server::ControlPlane;
use meshctl::control::transport::serve;
use meshctl::identity::SpiffeId;
use meshctl::identity::ca::{self, SigningCa};
use meshctl::proxy::agent::{Agent, AgentError, TokenSource};

const WEB_TOKEN: &str = "web-token";
const API1_TOKEN: &str = "api-v1-token";
const ADMIN_TOKEN: &str = "admin-token";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn proxy(name: &str, service: &str, version: Option<&str>, token: &str, port: u16) -> ProxyPlan {
    ProxyPlan {
        name: name.into(),
        service: service.into(),
        version: version.map(str::to_string),
        spiffe_id: format!("spiffe://mesh.local/ns/local/sa/{service}"),
        token_sha256: token_hash(token),
        inbound: addr(port),
        app: addr(port + 1),
        protocol: Some("http".into()),
        admin: addr(port + 2),
        http_proxy: addr(port + 3),
        tap: addr(port + 4),
        upstreams: Vec::new(),
        workers: None,
    }
}

struct Running {
    _dir: tempfile::TempDir,
    socket: std::path::PathBuf,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut web = proxy("web", "web", None, WEB_TOKEN, 10_000);
    web.upstreams.push(UpstreamPlan {
        service: "api".into(),
        listen: addr(10_100),
    });
    let plan = MeshPlan {
        trust_domain: "mesh.local".into(),
        control_socket: dir.path().join("control.sock"),
        admin_token_sha256: token_hash(ADMIN_TOKEN),
        proxies: vec![
            web,
            proxy("api-v1", "api", Some("v1"), API1_TOKEN, 11_000),
            proxy("api-v2", "api", Some("v2"), "api-v2-token", 12_000),
            ProxyPlan {
                protocol: Some("tcp".into()),
                ..proxy("db", "db", None, "db-token", 13_000)
            },
        ],
        policies: Default::default(),
    };
    let anchor = ca::new_anchor("mesh.local", Duration::from_secs(86_400)).unwrap();
    let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
    let issuer = anchor_ca
        .sign_issuer("mesh.local", Duration::from_secs(3_600))
        .unwrap();
    let issuer = SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap();
    let backend = Arc::new(LocalBackend::new(plan.clone(), dir.path()));
    let plane = ControlPlane::new(backend, issuer, anchor.cert_pem, Duration::from_secs(600))
        .expect("valid state files");
    tokio::spawn(plane.clone().expire_faults());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let socket = plan.control_socket.clone();
    let s2 = socket.clone();
    tokio::spawn(async move { serve(plane, &s2, async { rx.await.unwrap_or(()) }).await });
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Running {
        _dir: dir,
        socket,
        _shutdown: tx,
    }
}

fn agent(socket: &Path, token: &str, service: &str) -> Agent {
    let id: SpiffeId = format!("spiffe://mesh.local/ns/local/sa/{service}")
        .parse()
        .unwrap();
    Agent::new(socket, token, id)
}

#[tokio::test]
async fn a_proxy_gets_a_verified_leaf_for_its_own_identity() {
    let cp = start().await;
    let identity = agent(&cp.socket, WEB_TOKEN, "web").certify().await.unwrap();
    assert_eq!(identity.id.as_str(), "spiffe://mesh.local/ns/local/sa/web");
    let left = identity
        .not_after
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(590) && left <= Duration::from_secs(600));
}

#[tokio::test]
async fn wrong_token_and_foreign_identity_are_refused() {
    let cp = start().await;
    let err = agent(&cp.socket, "stolen", "web")
        .certify()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AgentError::Refused(m) if m.contains("Unauthenticated")),
        "{err}"
    );
    // The api's token asking for web's identity.
    let err = agent(&cp.socket, API1_TOKEN, "web")
        .certify()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AgentError::Refused(m) if m.contains("PermissionDenied")),
        "{err}"
    );
    // Admin calls need the admin token, not a proxy's.
    let mut admin = pb::admin_client::AdminClient::new(channel(&cp.socket, None));
    let status = admin
        .status(authed(pb::StatusRequest {}, WEB_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn a_proxy_that_asks_for_no_identity_is_assigned_the_attested_one_and_keeps_it() {
    let cp = start().await;
    let addr = ControlPlaneAddr::Socket(cp.socket.clone());
    let a = Agent::connect(&addr, TokenSource::Fixed(WEB_TOKEN.into()), None);
    assert_eq!(a.id(), None);
    let identity = a.certify().await.unwrap();
    assert_eq!(identity.id.as_str(), "spiffe://mesh.local/ns/local/sa/web");
    assert_eq!(a.id(), Some(identity.id.clone()));
    // A renewal asks for that same identity (and gets it).
    assert_eq!(a.certify().await.unwrap().id, identity.id);
}

#[tokio::test]
async fn a_token_file_is_read_again_for_every_call() {
    let cp = start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{API1_TOKEN}\n")).unwrap();
    let addr = ControlPlaneAddr::Socket(cp.socket.clone());
    let a = Agent::connect(&addr, TokenSource::file(file.clone()), None);
    let first = a.certify().await.unwrap();
    assert_eq!(first.id.as_str(), "spiffe://mesh.local/ns/local/sa/api");
    let issued_to = |instance: &'static str| {
        let socket = cp.socket.clone();
        async move {
            let mut admin = pb::admin_client::AdminClient::new(channel(&socket, None));
            let status = admin
                .status(authed(pb::StatusRequest {}, ADMIN_TOKEN))
                .await
                .unwrap()
                .into_inner();
            status
                .proxies
                .into_iter()
                .find(|p| p.instance == instance)
                .unwrap()
                .leaf_serial
        }
    };
    assert_eq!(issued_to("api-v1").await, first.serial);
    assert_eq!(issued_to("api-v2").await, "");

    // The kubelet rewrites the file: the next call presents the new token (another
    // instance with the same identity here, so the control plane shows which one it saw).
    std::fs::write(&file, "api-v2-token").unwrap();
    let second = a.certify().await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(issued_to("api-v2").await, second.serial);

    // Missing or empty: that call fails (to be retried), nothing panics.
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(a.certify().await, Err(AgentError::Token(m)) if m.contains("token")));
    std::fs::write(&file, "  \n").unwrap();
    assert!(matches!(a.certify().await, Err(AgentError::Token(m)) if m.contains("empty")));
    std::fs::write(&file, API1_TOKEN).unwrap();
    a.certify().await.unwrap();
}

#[tokio::test]
async fn certificate_requests_are_rate_limited_per_instance() {
    let cp = start().await;
    let a = agent(&cp.socket, API1_TOKEN, "api");
    let mut limited = false;
    for _ in 0..(meshctl::control::server::CERT_BURST as usize + 5) {
        if let Err(AgentError::Refused(m)) = a.certify().await {
            assert!(m.contains("rate limit"), "{m}");
            limited = true;
            break;
        }
    }
    assert!(limited, "a burst beyond CERT_BURST is refused");
    // Another instance is unaffected, even with the same identity (api v2, or a replica).
    agent(&cp.socket, "api-v2-token", "api")
        .certify()
        .await
        .unwrap();
    agent(&cp.socket, WEB_TOKEN, "web").certify().await.unwrap();
}

#[tokio::test]
async fn watch_delivers_config_and_split_changes_are_acknowledged() {
    let cp = start().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = agent(&cp.socket, WEB_TOKEN, "web");
    tokio::spawn(watcher.watch_forever(move |cfg| {
        let _ = tx.send(cfg.clone());
        Ok(())
    }));
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.service, "web");
    let api = &first.upstreams[0];
    assert_eq!(api.service, "api");
    let weights: Vec<(String, u32)> = api
        .backends
        .iter()
        .map(|b| (b.version.clone(), b.weight))
        .collect();
    assert_eq!(weights, vec![("v1".into(), 100), ("v2".into(), 0)]);
    assert_eq!(api.backends[1].endpoints[0].address, "127.0.0.1:12000");

    let mut admin = pb::admin_client::AdminClient::new(channel(&cp.socket, None));
    let set = pb::SetSplitRequest {
        service: "api".into(),
        weights: [("v1".into(), 80), ("v2".into(), 20)].into(),
    };
    let version = admin
        .set_split(authed(set, ADMIN_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .version;
    assert!(version > first.version);
    let second = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.version, version);
    assert_eq!(second.upstreams[0].backends[1].weight, 20);

    // The ack arrives right after apply; poll status until it shows.
    let mut acked = 0;
    for _ in 0..100 {
        let status = admin
            .status(authed(pb::StatusRequest {}, ADMIN_TOKEN))
            .await
            .unwrap()
            .into_inner();
        let web = status.proxies.iter().find(|p| p.service == "web").unwrap();
        acked = web.acked_version;
        if acked == version {
            assert!(web.connected);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(acked, version);

    // Invalid splits are refused before anything changes.
    for bad in [
        vec![("v1", 50u32), ("v2", 20)],
        vec![("v1", 50), ("v9", 50)],
        vec![("v1", 101)],
    ] {
        let req = pb::SetSplitRequest {
            service: "api".into(),
            weights: bad.iter().map(|(v, w)| (v.to_string(), *w)).collect(),
        };
        let err = admin.set_split(authed(req, ADMIN_TOKEN)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad:?}");
    }
    let status = admin
        .status(authed(pb::StatusRequest {}, ADMIN_TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.version, version,
        "rejected splits did not bump the version"
    );
}

#[tokio::test]
async fn canary_routes_are_checked_pushed_first_persisted_and_cleared() {
    let cp = start().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(
        agent(&cp.socket, WEB_TOKEN, "web").watch_forever(move |cfg| {
            let _ = tx.send(cfg.clone());
            Ok(())
        }),
    );
    let first = next(&mut rx).await;
    assert!(first.upstreams[0].routes.is_empty());

    let mut admin = pb::admin_client::AdminClient::new(channel(&cp.socket, None));
    let route = |version: &str, name: &str| pb::CanaryRouteRequest {
        service: "api".into(),
        version: version.into(),
        header: Some(pb::HeaderMatch {
            name: name.into(),
            value: "1".into(),
        }),
    };
    // Refused: unknown version, bad header name, no admin token.
    for bad in [route("v9", "x-canary"), route("v2", "bad name")] {
        let err = admin
            .set_canary_route(authed(bad, ADMIN_TOKEN))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
    let err = admin
        .set_canary_route(authed(route("v2", "x-canary"), WEB_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    let version = admin
        .set_canary_route(authed(route("v2", "X-Canary"), ADMIN_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .version;
    let cfg = next(&mut rx).await;
    assert_eq!(cfg.version, version, "the refused requests bumped nothing");
    let routes = &cfg.upstreams[0].routes;
    assert_eq!(routes.len(), 1);
    assert_eq!(
        (
            routes[0].version.as_str(),
            routes[0].headers[0].name.as_str()
        ),
        ("v2", "x-canary")
    );
    // Persisted for a restarted control plane.
    let saved = meshctl::control::canary_routes::load(&meshctl::control::canary_routes::path(
        cp._dir.path(),
    ))
    .unwrap();
    assert_eq!(saved["api"].version, "v2");

    admin
        .clear_canary_route(authed(
            pb::CanaryClearRequest {
                service: "api".into(),
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap();
    assert!(next(&mut rx).await.upstreams[0].routes.is_empty());
    assert!(
        meshctl::control::canary_routes::load(&meshctl::control::canary_routes::path(
            cp._dir.path()
        ))
        .unwrap()
        .is_empty()
    );
}

/// The acknowledged version and last error the control plane shows for `service`'s proxy.
async fn ack_state(socket: &Path, service: &str) -> (u64, String) {
    let mut admin = pb::admin_client::AdminClient::new(channel(socket, None));
    let status = admin
        .status(authed(pb::StatusRequest {}, ADMIN_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let proxy = status
        .proxies
        .iter()
        .find(|p| p.service == service)
        .unwrap();
    (proxy.acked_version, proxy.last_error.clone())
}

#[tokio::test]
async fn a_config_refused_for_a_busy_port_is_retried_until_accepted_and_an_invalid_one_is_not() {
    use meshctl::proxy::agent::{RETRY_REFUSED, Refused};
    let cp = start().await;
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    tokio::spawn(
        agent(&cp.socket, WEB_TOKEN, "web").watch_forever(move |cfg| {
            let mut seen = seen.lock().unwrap();
            seen.push((cfg.version, std::time::Instant::now()));
            match seen.len() {
                1 | 2 => Err(Refused {
                    message: "upstream api listener 127.0.0.1:9: Address in use".into(),
                    retry: true,
                }),
                _ => Ok(()),
            }
        }),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let version = loop {
        let got = calls.lock().unwrap().clone();
        if got.len() >= 3 {
            break got[0].0;
        }
        assert!(std::time::Instant::now() < deadline, "{got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let got = calls.lock().unwrap().clone();
    assert!(
        got.iter().all(|(v, _)| *v == version),
        "the same config: {got:?}"
    );
    for pair in got.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(gap >= RETRY_REFUSED, "retried after {gap:?}");
    }
    let mut state = ack_state(&cp.socket, "web").await;
    for _ in 0..100 {
        if state.0 == version {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        state = ack_state(&cp.socket, "web").await;
    }
    assert_eq!(
        state,
        (version, String::new()),
        "acknowledged once accepted"
    );

    // An invalid config is refused once and acknowledged as such, never applied again.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(
        agent(&cp.socket, API1_TOKEN, "api").watch_forever(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(Refused::from("weights sum to 80, not 100".to_string()))
        }),
    );
    tokio::time::sleep(RETRY_REFUSED * 2 + Duration::from_millis(500)).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (_, error) = ack_state(&cp.socket, "api").await;
    assert_eq!(error, "weights sum to 80, not 100");
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<pb::ProxyConfig>) -> pb::ProxyConfig {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn live_faults_are_checked_persisted_pushed_and_expire_on_their_own() {
    let cp = start().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(
        agent(&cp.socket, WEB_TOKEN, "web").watch_forever(move |cfg| {
            let _ = tx.send(cfg.clone());
            Ok(())
        }),
    );
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap()
    };
    let first = next().await;
    assert_eq!(first.upstreams[0].live_fault, None);
    let mut admin = pb::admin_client::AdminClient::new(channel(&cp.socket, None));
    let abort = pb::Fault {
        abort_status: 503,
        abort_per_million: 1_000_000,
        ..Default::default()
    };
    let set = |fault: Option<pb::Fault>, service: &str, for_ms| {
        authed(
            pb::FaultSetRequest {
                service: service.into(),
                fault,
                for_ms,
            },
            ADMIN_TOKEN,
        )
    };

    let clear = |service: &str| {
        authed(
            pb::FaultClearRequest {
                service: service.into(),
            },
            ADMIN_TOKEN,
        )
    };

    // Refused before anything changes: unknown service, out of range, empty.
    let bad_status = pb::Fault {
        abort_status: 700,
        ..abort
    };
    for req in [
        set(Some(abort), "nope", 0),
        set(Some(bad_status), "api", 0),
        set(Some(pb::Fault::default()), "api", 0),
        set(None, "api", 0),
    ] {
        let err = admin.set_fault(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    }
    // An opaque TCP service has no requests to fail or delay.
    let err = admin
        .set_fault(set(Some(abort), "db", 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "service db: faults apply to HTTP and gRPC requests; this service has `protocol: tcp`"
    );
    let faults_file = cp._dir.path().join(meshctl::policy::fault::FAULTS_FILE);
    assert!(!faults_file.exists(), "nothing persisted");
    let cleared = admin.clear_fault(clear("api")).await.unwrap().into_inner();
    assert!(!cleared.cleared);
    assert_eq!(cleared.version, first.version, "no change, no new version");

    // A timed fault: persisted, pushed with its expiry, then dropped and pushed again.
    let timed = admin
        .set_fault(set(Some(abort), "api", 300))
        .await
        .unwrap()
        .into_inner();
    let pushed = next().await;
    assert_eq!(pushed.version, timed.version);
    let live = pushed.upstreams[0].live_fault.unwrap();
    assert_eq!(
        (live.abort_status, live.expires_unix_ms),
        (503, timed.expires_unix_ms)
    );
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&faults_file).unwrap()).unwrap();
    assert_eq!(kept["api"]["expires_unix_ms"], timed.expires_unix_ms);
    let listed = admin
        .list_faults(authed(pb::FaultListRequest {}, ADMIN_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .faults;
    assert_eq!(listed.len(), 1);
    let expired = next().await;
    assert!(expired.version > timed.version);
    assert_eq!(expired.upstreams[0].live_fault, None);
    assert!(meshctl::policy::fault::now_unix_ms() >= timed.expires_unix_ms);
    assert_eq!(std::fs::read_to_string(&faults_file).unwrap().trim(), "{}");

    // Until cleared.
    admin.set_fault(set(Some(abort), "api", 0)).await.unwrap();
    assert_eq!(
        next().await.upstreams[0]
            .live_fault
            .unwrap()
            .expires_unix_ms,
        0
    );
    let cleared = admin.clear_fault(clear("api")).await.unwrap().into_inner();
    assert!(cleared.cleared);
    let after = next().await;
    assert_eq!(after.version, cleared.version);
    assert_eq!(after.upstreams[0].live_fault, None);
}
