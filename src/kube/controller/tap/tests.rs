//! `/tap`: the query, the token check, and a real stream from a sidecar-like tap server over
//! mutual TLS on loopback (with a pod that refuses and one with no IP).

use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::BodyExt as _;

use super::*;
use crate::identity::store::{CaStore, InitOptions};
use crate::kube::controller::catalog::MeshedPod;

const CONTROLLER_NS: &str = "meshctl-system";
const API_ID: &str = "spiffe://mesh.local/ns/shop/sa/api";

#[test]
fn the_query_round_trips_and_bad_parameters_are_named() {
    let q = TapQuery {
        namespace: Some("shop".into()),
        service: Some("api".into()),
        version: Some("v 2".into()),
        max_rps: Some(7),
        method: Some("GET".into()),
        path: Some("/a&b".into()),
        authority: None,
        to: Some("quotes".into()),
        body: Some(1024),
    };
    assert_eq!(TapQuery::parse(&q.to_query()).unwrap(), q);
    assert_eq!(TapQuery::parse("").unwrap(), TapQuery::default());
    for (query, names) in [
        ("pod=x", "unknown parameter `pod`"),
        ("service=", "service: empty"),
        ("max_rps=0", "max_rps: 0"),
        ("max_rps=lots", "max_rps: `lots`"),
        ("body=65537", "body: 65537 is over"),
        ("path=%zz", "path: bad escape"),
    ] {
        let e = TapQuery::parse(query).unwrap_err();
        assert!(e.contains(names), "{query}: {e}");
    }
}

#[test]
fn only_the_exact_token_matches() {
    assert!(token_matches("s3cret", "s3cret"));
    assert!(
        token_matches("s3cret\n", " s3cret"),
        "surrounding blanks do not count"
    );
    assert!(!token_matches("s3cret", "s3creT"));
    assert!(!token_matches("s3cret", ""));
    assert!(!token_matches("", ""), "an empty Secret lets nobody in");
}

/// A sidecar's tap: records the request, sends one event, then holds the stream open.
struct FakeSidecar {
    asked: Arc<Mutex<Vec<pb::WatchRequest>>>,
}

#[tonic::async_trait]
impl pb::tap_server::Tap for FakeSidecar {
    type WatchStream = tokio_stream::wrappers::ReceiverStream<Result<pb::TapEvent, tonic::Status>>;

    async fn watch(
        &self,
        request: tonic::Request<pb::WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        self.asked.lock().unwrap().push(request.into_inner());
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let event = pb::TapEvent {
                id: 1,
                direction: "in".into(),
                server_id: API_ID.into(),
                event: Some(pb::tap_event::Event::Response(pb::ResponseInit {
                    status: 200,
                    latency_us: 900,
                    headers: Vec::new(),
                })),
                ..Default::default()
            };
            let _ = tx.send(Ok(event)).await;
            tx.closed().await;
        });
        Ok(tonic::Response::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    }
}

fn pod(name: &str, ip: Option<&str>) -> MeshedPod {
    MeshedPod {
        namespace: "shop".into(),
        name: name.into(),
        uid: String::new(),
        service_account: "api".into(),
        spiffe_id: API_ID.into(),
        version: "v1".into(),
        service: Some("api".into()),
        upstreams: Ok(Vec::new()),
        live: true,
        ip: ip.map(|ip| ip.parse().unwrap()),
    }
}

/// Serves the fake sidecar over TLS as the pod's identity, for the controller only.
async fn sidecar(
    listener: tokio::net::TcpListener,
    identity: WorkloadIdentity,
    asked: Arc<Mutex<Vec<pb::WatchRequest>>>,
) {
    let controller = SpiffeId::for_workload("mesh.local", CONTROLLER_NS, CONTROLLER_NAME).unwrap();
    let config = Arc::new(identity.server_config_for(controller, &[b"h2"]).unwrap());
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            if let Ok(tls) = tokio_rustls::TlsAcceptor::from(config.clone())
                .accept(stream)
                .await
            {
                let _ = tx
                    .send(Ok::<_, std::io::Error>(crate::api::transport::TlsConn(tls)))
                    .await;
            }
        }
    });
    tonic::transport::Server::builder()
        .add_service(pb::tap_server::TapServer::new(FakeSidecar { asked }))
        .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap();
}

async fn get(
    admin: SocketAddr,
    query: &str,
    token: Option<&str>,
) -> http::Response<hyper::body::Incoming> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let mut req = http::Request::get(format!("http://{admin}/tap?{query}"));
    if let Some(t) = token {
        req = req.header(TAP_TOKEN_HEADER, t);
    }
    client
        .request(req.body(http_body_util::Empty::new()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn events_and_unreachable_pods_stream_to_a_caller_with_the_token() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = CaStore::new(dir.path());
    store
        .init(&InitOptions {
            trust_domain: "mesh.local".into(),
            anchor_lifetime: crate::identity::ca::DEFAULT_ANCHOR_LIFETIME,
            issuer_lifetime: crate::identity::ca::DEFAULT_ISSUER_LIFETIME,
            force: false,
        })
        .unwrap();
    let bundle_pem = store.bundle_pem().unwrap();
    let issuer_pem = store.issuer_pem().unwrap();
    let authority = Arc::new(
        TapAuthority::new(
            store.issuer().unwrap(),
            issuer_pem.clone(),
            &bundle_pem,
            "mesh.local",
            CONTROLLER_NS,
        )
        .unwrap(),
    );
    let leaf = issue_with_new_key(
        &store.issuer().unwrap(),
        &API_ID.parse().unwrap(),
        Duration::from_secs(600),
    )
    .unwrap();
    let pod_identity = WorkloadIdentity::from_parts(
        &format!("{}{issuer_pem}", leaf.cert_pem),
        &leaf.key_pem,
        Arc::new(TrustBundle::from_pem(&bundle_pem).unwrap()),
    )
    .unwrap();

    // The sidecar of api-v1-0 on 127.0.0.1; nothing on 127.0.0.2 at that port; a pod
    // without an IP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(sidecar(listener, pod_identity, asked.clone()));
    let mut index = Index::default();
    for p in [
        pod("api-v1-0", Some("127.0.0.1")),
        pod("api-v1-1", Some("127.0.0.2")),
        pod("api-v1-2", None),
    ] {
        index.pods.insert(("shop".into(), p.name.clone()), p);
    }
    let index = Arc::new(index);

    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin.local_addr().unwrap();
    tokio::spawn(super::super::serve::serve(admin, None, move |req| {
        let index = index.clone();
        let authority = authority.clone();
        async move {
            super::super::serve::tap(&req, true, index, Ok("s3cret".into()), &authority, port).await
        }
    }));

    let q = "namespace=shop&service=api&max_rps=5&to=api";
    assert_eq!(get(admin_addr, q, None).await.status(), 401);
    assert_eq!(get(admin_addr, q, Some("guess")).await.status(), 403);
    assert_eq!(
        get(admin_addr, "namespace=shop&to=quotes", Some("s3cret"))
            .await
            .status(),
        400,
        "an unknown --to"
    );
    let response = get(admin_addr, q, Some("s3cret")).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut text = String::new();
    let mut lines: Vec<TapLine> = Vec::new();
    let read = async {
        while lines.len() < 3 {
            let frame = body.frame().await.unwrap().unwrap();
            if let Ok(data) = frame.into_data() {
                text.push_str(std::str::from_utf8(&data).unwrap());
                while let Some((line, rest)) = text.split_once('\n') {
                    lines.push(serde_json::from_str(line).unwrap());
                    text = rest.to_string();
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("three lines");
    lines.sort_by(|a, b| a.pod.cmp(&b.pod));
    let event = lines[0].event.as_ref().expect("an event from api-v1-0");
    assert_eq!(lines[0].pod, "shop/api-v1-0");
    assert_eq!(
        (lines[0].service.as_str(), lines[0].version.as_str()),
        ("api", "v1")
    );
    assert_eq!(event.response.as_ref().unwrap().status, 200);
    assert_eq!(lines[1].pod, "shop/api-v1-1");
    assert!(
        lines[1].error.as_deref().unwrap().contains("127.0.0.2"),
        "{:?}",
        lines[1]
    );
    assert_eq!(
        lines[2].error.as_deref(),
        Some("no pod IP yet (not running)")
    );
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].max_rps, 5);
    assert_eq!(asked[0].destination_ids, vec![API_ID.to_string()]);
}
