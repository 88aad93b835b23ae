//! OTLP export a production collector accepts: a real proxy pair (and a `meshctl up` mesh)
//! exporting over OTLP/HTTP+TLS and OTLP/gRPC+TLS with auth headers, configured by flags,
//! by mesh.yaml and by the standard `OTEL_EXPORTER_OTLP_*` variables.
//!
//! The collector is this test's own server, decoding with the prost types generated from
//! `proto/otlp_trace.proto` (the OpenTelemetry field numbers): no OpenTelemetry Collector or
//! Jaeger installs from the registries this project builds from (Debian has neither; Jaeger
//! and otelcol are Go programs only as source, and no Go toolchain can be fetched).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use meshctl::api::proto::otlp::trace_service_server::{TraceService, TraceServiceServer};
use meshctl::api::proto::otlp::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse, Span,
};
use prost::Message as _;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use crate::proxy_support::*;

const TOKEN: &str = "Bearer t0ken-for-the-collector";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One export call as the collector saw it.
#[derive(Debug, Clone)]
struct Export {
    path: String,
    content_type: String,
    authorization: String,
    spans: Vec<Span>,
}

type Received = Arc<Mutex<Vec<Export>>>;

/// A CA and a server certificate it signed for `localhost` only (no IP SAN: a client that
/// dials 127.0.0.1 must refuse it), written into `dir`.
struct Pki {
    ca_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

fn pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca_file = dir.join("collector-ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert.pem(), &ca_key).unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Pki {
        ca_file,
        server: Arc::new(server),
    }
}

/// TLS connections accepted on a free loopback port, handed to `serve` one by one.
async fn tls_listener<F, Fut>(tls: Arc<rustls::ServerConfig>, serve: F) -> SocketAddr
where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // A refused handshake (the name-check test) just ends that connection.
            if let Ok(stream) = acceptor.accept(tcp).await {
                tokio::spawn(serve(stream));
            }
        }
    });
    addr
}

/// An OTLP/HTTP collector over TLS: decodes each POST with the prost types and answers
/// 200 with an `ExportTraceServiceResponse` rejecting `reject` spans of each call.
async fn http_collector(tls: Arc<rustls::ServerConfig>, reject: i64) -> (u16, Received) {
    let received = Received::default();
    let store = received.clone();
    let addr = tls_listener(tls, move |stream| {
        let store = store.clone();
        async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let store = store.clone();
                async move {
                    let header = |name: &str| {
                        let value = req.headers().get(name);
                        value
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default()
                    };
                    let (path, content_type, authorization) = (
                        req.uri().path().to_string(),
                        header("content-type"),
                        header("authorization"),
                    );
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    store.lock().unwrap().push(Export {
                        path,
                        content_type,
                        authorization,
                        spans: spans_of(request),
                    });
                    let answer = ExportTraceServiceResponse {
                        partial_success: (reject > 0).then(|| ExportTracePartialSuccess {
                            rejected_spans: reject,
                            error_message: "span too old".into(),
                        }),
                    };
                    let response = Response::builder()
                        .header("content-type", "application/x-protobuf")
                        .body(Full::new(Bytes::from(answer.encode_to_vec())))
                        .unwrap();
                    Ok::<_, Infallible>(response)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        }
    })
    .await;
    (addr.port(), received)
}

#[derive(Clone)]
struct GrpcCollector(Received);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let authorization = request.metadata().get("authorization");
        let authorization = authorization.map(|v| v.to_str().unwrap().to_string());
        self.0.lock().unwrap().push(Export {
            path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export".into(),
            content_type: "application/grpc".into(),
            authorization: authorization.unwrap_or_default(),
            spans: spans_of(request.into_inner()),
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC collector over TLS (tonic over our TLS connections).
async fn grpc_collector(tls: Arc<rustls::ServerConfig>) -> (u16, Received) {
    let received = Received::default();
    let (conns, incoming) = tokio::sync::mpsc::channel(16);
    let addr = tls_listener(tls, move |stream| {
        let conns = conns.clone();
        async move {
            let _ = conns
                .send(Ok::<_, std::io::Error>(meshctl::api::transport::TlsConn(
                    stream,
                )))
                .await;
        }
    })
    .await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(GrpcCollector(received.clone())))
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(incoming)),
    );
    (addr.port(), received)
}

fn spans_of(request: ExportTraceServiceRequest) -> Vec<Span> {
    let scopes = request
        .resource_spans
        .into_iter()
        .flat_map(|rs| rs.scope_spans);
    scopes.flat_map(|s| s.spans).collect()
}

/// Waits (bounded) until the collector holds `n` spans, then returns every export.
async fn exports(received: &Received, n: usize) -> Vec<Export> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = received.lock().unwrap().clone();
        let spans: usize = got.iter().map(|e| e.spans.len()).sum();
        if spans >= n || Instant::now() > deadline {
            assert_eq!(spans, n, "exports received: {got:#?}");
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until `proxy`'s `series` is `value` (the collector has the spans a
/// moment before the proxy has its answer); returns the metrics text.
async fn counted(proxy: &Proxy, series: &str, value: f64) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = proxy.metrics().await;
        if sample(&text, series) == value {
            return text;
        }
        assert!(Instant::now() < deadline, "{series} is not {value}: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One traced request through the pair; then the client span's parent is the caller's
/// span, both spans share its trace, and the server span hangs below the client span.
async fn traced_request_arrives_whole(pair: &Pair, received: &Received) -> Vec<Export> {
    let mut conn = http1_conn(pair.entry).await;
    let req = Request::get("/traced")
        .header("host", "api.test")
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .body(full_body(Bytes::new()))
        .unwrap();
    let (status, _, _) = collect(send(&mut conn, req).await).await;
    assert_eq!(status, StatusCode::OK);
    let got = exports(received, 2).await;
    let spans: Vec<&Span> = got.iter().flat_map(|e| &e.spans).collect();
    let client = spans.iter().find(|s| s.kind == 3).unwrap();
    let server = spans.iter().find(|s| s.kind == 2).unwrap();
    assert_eq!(hex(&client.trace_id), TRACE);
    assert_eq!(
        client.trace_id, server.trace_id,
        "one trace across both proxies"
    );
    assert_eq!(hex(&client.parent_span_id), CALLER_SPAN);
    assert_eq!(
        server.parent_span_id, client.span_id,
        "the server span's parent"
    );
    got
}

/// Neither proxy's log nor its `/config` shows the token; `/config` names the header.
async fn token_never_shown(pair: &Pair, endpoint: &str, protocol: &str) {
    for proxy in [&pair.client, &pair.server] {
        assert!(!proxy.log().contains("t0ken"), "{}", proxy.log());
        let (status, _, body) = get(proxy.admin, "/config").await;
        assert_eq!(status, StatusCode::OK);
        let config: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let tracing = &config["tracing"];
        assert_eq!(tracing["endpoint"], endpoint, "{config}");
        assert_eq!(tracing["protocol"], protocol);
        assert_eq!(tracing["headers"]["authorization"], "<redacted>");
        assert!(!String::from_utf8_lossy(&body).contains("t0ken"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_http_collector_over_tls_with_the_auth_header() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (port, received) = http_collector(pki.server.clone(), 0).await;
    let app = http_app().await;
    let endpoint = format!("https://localhost:{port}/otlp");
    let flags: Vec<String> = [
        "--otlp-endpoint",
        &endpoint,
        "--otlp-protocol",
        "http/protobuf",
        "--otlp-ca-file",
        &pki.ca_file.display().to_string(),
        "--otlp-header",
        &format!("Authorization={TOKEN}"),
    ]
    .map(String::from)
    .to_vec();
    let pair = Pair::start_with(&app.addr.to_string(), &flags);

    for export in traced_request_arrives_whole(&pair, &received).await {
        assert_eq!(export.path, "/otlp/v1/traces", "the base path + /v1/traces");
        assert_eq!(export.content_type, "application/x-protobuf");
        assert_eq!(export.authorization, TOKEN);
    }
    for proxy in [&pair.client, &pair.server] {
        counted(proxy, "meshctl_spans_exported_total", 1.0).await;
    }
    let url = format!("https://localhost:{port}/otlp/v1/traces");
    token_never_shown(&pair, &url, "http/protobuf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otel_variables_alone_send_spans_over_otlp_grpc_with_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (port, received) = grpc_collector(pki.server.clone()).await;
    let app = http_app().await;
    let endpoint = format!("https://localhost:{port}");
    let ca_file = pki.ca_file.display().to_string();
    let headers = format!("authorization={}", TOKEN.replace(' ', "%20"));
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_str()),
    ];
    let pair = Pair::start_env(&app.addr.to_string(), &[], &env);

    for export in traced_request_arrives_whole(&pair, &received).await {
        assert_eq!(export.authorization, TOKEN, "percent-decoded");
    }
    token_never_shown(&pair, &endpoint, "grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_a_collector_rejects_are_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (port, received) = http_collector(pki.server.clone(), 1).await;
    let app = http_app().await;
    let env = [
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("https://localhost:{port}/custom")[..],
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            &pki.ca_file.display().to_string()[..],
        ),
    ];
    let pair = Pair::start_env(&app.addr.to_string(), &[], &env);

    let got = traced_request_arrives_whole(&pair, &received).await;
    assert!(
        got.iter().all(|e| e.path == "/custom"),
        "used as it is: {got:#?}"
    );
    for proxy in [&pair.client, &pair.server] {
        let text = counted(
            proxy,
            "meshctl_spans_dropped_total{reason=\"rejected\"}",
            1.0,
        )
        .await;
        assert_eq!(sample(&text, "meshctl_spans_exported_total"), 0.0, "{text}");
        assert!(proxy.log().contains("span too old"), "{}", proxy.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_certificate_for_another_name_gets_no_spans() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (port, received) = http_collector(pki.server.clone(), 0).await;
    let app = http_app().await;
    // The certificate names localhost; 127.0.0.1 is the same server by another name.
    let flags: Vec<String> = [
        "--otlp-endpoint",
        &format!("https://127.0.0.1:{port}"),
        "--otlp-protocol",
        "http/protobuf",
        "--otlp-ca-file",
        &pki.ca_file.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let pair = Pair::start_with(&app.addr.to_string(), &flags);
    let mut conn = http1_conn(pair.entry).await;
    let req = Request::get("/").header("host", "api.test");
    let (status, _, _) =
        collect(send(&mut conn, req.body(full_body(Bytes::new())).unwrap()).await).await;
    assert_eq!(status, StatusCode::OK);

    let series = "meshctl_spans_dropped_total{reason=\"export_failed\"}";
    counted(&pair.client, series, 1.0).await;
    assert!(received.lock().unwrap().is_empty());
    let log = pair.client.log();
    assert!(
        log.contains("OTLP export failed") && log.contains("certificate"),
        "{log}"
    );
}

#[test]
fn bad_otlp_settings_are_usage_errors_naming_the_flag_file_or_variable() {
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let missing = mesh.path().join("missing-ca.pem");
    let missing = missing.display().to_string();
    let https = "https://localhost:4318";
    for (flags, env, needle) in [
        (
            &["--otlp-endpoint", https, "--otlp-ca-file", &missing][..],
            &[][..],
            format!("OTLP CA file {missing}"),
        ),
        (
            &["--otlp-header", "x-key=1"],
            &[],
            "--otlp-header (`otlp_headers`) needs an OTLP endpoint".into(),
        ),
        (
            &[
                "--otlp-endpoint",
                "http://c:4317",
                "--otlp-protocol",
                "http/json",
            ],
            &[],
            "OTLP protocol `http/json` is not supported".into(),
        ),
        (
            &[
                "--otlp-endpoint",
                "http://c:4317",
                "--otlp-header",
                "te=trailers",
            ],
            &[],
            "OTLP header `te`: set by the exporter".into(),
        ),
        (
            &[],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT: OTLP endpoint `localhost:4317`".into(),
        ),
        (
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ],
            "OTEL_EXPORTER_OTLP_PROTOCOL: OTLP protocol `http/json` is not supported".into(),
        ),
        (
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", https),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", &missing),
            ],
            format!("OTLP CA file {missing}"),
        ),
        (
            &["--otlp-endpoint", "http://c:4317"],
            &[("MESHCTL_OTLP_HEADERS", "authorization=%zz")],
            "MESHCTL_OTLP_HEADERS: OTLP header `authorization`".into(),
        ),
    ] {
        let out = meshctl()
            .arg("proxy")
            .args(identity(&api))
            .args(inbound(free_addr(), "127.0.0.1:9"))
            .args(flags)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?} {env:?}: {stderr}");
        assert!(stderr.contains(&needle), "{flags:?} {env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn a_local_mesh_exports_over_otlp_http_and_tls_as_mesh_yaml_says() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let ca = std::fs::read_to_string(&pki.ca_file).unwrap();
    let (port, received) = runtime.block_on(http_collector(pki.server.clone(), 0));
    let yaml = format!(
        "otlp_endpoint: https://localhost:{port}\notlp_protocol: http/protobuf\n\
         otlp_ca_file: collector-ca.pem\notlp_headers:\n  authorization: {TOKEN}\n{}",
        crate::mesh::three_services()
    );
    let up = crate::mesh::Up::start_with(&yaml, &[("collector-ca.pem", &ca)]);
    let api = up.upstream("front", "api");
    let traceparent = format!("traceparent: 00-{TRACE}-{CALLER_SPAN}-01");
    crate::mesh::curl(&[format!("http://{api}/hello")], &["-H", &traceparent]);
    let got = runtime.block_on(exports(&received, 2));
    let spans: Vec<&Span> = got.iter().flat_map(|e| &e.spans).collect();
    let client = spans.iter().find(|s| s.kind == 3).unwrap();
    let server = spans.iter().find(|s| s.kind == 2).unwrap();
    assert_eq!(hex(&client.trace_id), TRACE);
    assert_eq!(server.trace_id, client.trace_id);
    assert_eq!(server.parent_span_id, client.span_id);
    for export in &got {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.authorization, TOKEN);
    }
    // The token travels in the proxies' environment, never on a command line: every process
    // of this mesh (its command line names the mesh's directory; other tests running beside
    // this one may put the same word on theirs, e.g. curl -H in the tap tests).
    let mine = up.dir.path().display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains(&mine) {
                assert!(!cmdline.contains("t0ken"), "{cmdline}");
            }
        }
    }
}
