//! `meshctl proxy`: a real pair of proxy processes carrying HTTP/1.1, HTTP/2, gRPC and TCP
//! over mTLS; refusals, certificate reload, drain, metrics and bad input.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_stream::StreamExt;

use crate::proxy_support::pb::echo_client::EchoClient;
use crate::proxy_support::pb::echo_server::{Echo, EchoServer};
use crate::proxy_support::pb::{EchoReply, EchoRequest};
use crate::proxy_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_carries_http1_get_and_post_over_keep_alive() {
    let app = http_app().await;
    let pair = Pair::start(&app.addr.to_string());
    let mut conn = http1_conn(pair.entry).await;

    // GET, with a client-supplied identity header that must not survive, and a hop-by-hop
    // header named by Connection.
    let req = Request::get("/hello?x=1")
        .header("host", "api.test")
        .header(
            "x-meshctl-client-id",
            "spiffe://mesh.local/ns/evil/sa/forged",
        )
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .body(full_body(Bytes::new()))
        .unwrap();
    let (status, headers, _) = collect(send(&mut conn, req).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "x-seen-client-id"), WEB_ID);
    assert_eq!(header(&headers, "x-seen-host"), "api.test");
    assert_eq!(header(&headers, "x-seen-version"), "HTTP/1.1");
    assert_eq!(header(&headers, "x-seen-orig-proto"), "-");
    assert_eq!(header(&headers, "x-seen-hop"), "-");

    // POST with content-length on the same connection.
    let body = Bytes::from(vec![b'a'; 100_000]);
    let req = Request::post("/upload")
        .header("host", "api.test")
        .header("content-length", body.len())
        .body(full_body(body.clone()))
        .unwrap();
    let (status, headers, echoed) = collect(send(&mut conn, req).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed, body);
    assert_eq!(header(&headers, "x-seen-content-length"), "100000");

    // POST chunked (no length) on the same connection.
    let chunks = vec![
        Bytes::from_static(b"first,"),
        Bytes::from(vec![b'z'; 70_000]),
    ];
    let expected: Vec<u8> = chunks.concat();
    let req = Request::post("/upload")
        .header("host", "api.test")
        .body(chunked_body(chunks))
        .unwrap();
    let (status, _, echoed) = collect(send(&mut conn, req).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(echoed, expected);

    // A chunked response comes back chunked and complete.
    let req = Request::get("/chunked")
        .header("host", "api.test")
        .body(full_body(Bytes::new()))
        .unwrap();
    let (status, headers, body) = collect(send(&mut conn, req).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "transfer-encoding"), "chunked");
    assert_eq!(body, "chunk-one,chunk-two");

    // Four requests with one Host on one client connection: the inbound side reused one
    // pooled keep-alive connection to the app.
    assert_eq!(app.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_carries_http2_and_h2c() {
    let app = http_app().await;
    // An HTTP/1 app: an h2c request from the client reaches it as HTTP/1.1.
    let h1_pair = Pair::start(&app.addr.to_string());
    let mut h2 = h2c_conn(h1_pair.entry).await;
    let req = Request::post("http://api.test/h2")
        .body(full_body(Bytes::from_static(b"over h2")))
        .unwrap();
    let (status, headers, body) = collect(h2.send_request(req).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "over h2");
    assert_eq!(header(&headers, "x-seen-version"), "HTTP/1.1");
    assert_eq!(header(&headers, "x-seen-host"), "api.test");
    assert_eq!(header(&headers, "x-seen-client-id"), WEB_ID);

    // An h2c app: HTTP/2 end to end; curl speaks prior-knowledge h2c to the outbound side.
    let h2_pair = Pair::start(&format!("h2c://{}", app.addr));
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-D",
            "-",
            "-o",
            "/dev/null",
        ])
        .arg(format!("http://{}/curl", h2_pair.entry))
        .output()
        .expect("curl is needed by this test (apt-get install -y curl)");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.starts_with("http/2 200"), "{text}");
    assert!(text.contains("x-seen-version: http/2.0"), "{text}");
    // And an HTTP/1.1 client through the same pair reaches the h2c app as HTTP/2.
    let (status, headers, _) = get(h2_pair.entry, "/h1-to-h2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "x-seen-version"), "HTTP/2.0");
}

/// Every HTTP/2 connection of the pair (h2c from the client, mTLS between the proxies, h2c
/// to the app) writes through `cork::Corked`, whose flushes wait for the task's next poll.
/// With two worker threads per proxy (tasks move between threads) and many streams in flight
/// at once, every stream still gets its own body back, none waits for more traffic to come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_streams_through_multi_threaded_proxies_all_complete_with_their_own_bodies() {
    let app = http_app().await;
    let workers = ["--workers".to_string(), "2".to_string()];
    let pair = Pair::start_with(&format!("h2c://{}", app.addr), &workers);
    let h2 = h2c_conn(pair.entry).await;
    let streams = (0..200).map(|i| {
        let mut h2 = h2.clone();
        // Above h2's 256-byte threshold: each DATA frame is handed over on its own.
        let body = format!("{i:04}-").repeat(600);
        async move {
            let req = Request::post(format!("http://api.test/stream/{i}"))
                .body(full_body(body.clone()))
                .unwrap();
            let (status, _, got) = collect(h2.send_request(req).await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "stream {i}");
            assert!(got == body.as_bytes(), "stream {i} got another body");
        }
    });
    tokio::time::timeout(PATIENCE, futures_util::future::join_all(streams))
        .await
        .expect("every stream completes");
    // And once idle, a lone request is answered: nothing else has to come along to wake
    // the connections up.
    let lone = tokio::time::timeout(PATIENCE, get(pair.entry, "/lone")).await;
    assert_eq!(lone.expect("answered").0, StatusCode::OK);
}

#[derive(Default)]
struct EchoService;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<EchoReply>, tonic::Status> {
        let caller = request
            .metadata()
            .get("x-meshctl-client-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        let message = request.into_inner().message;
        if message == "fail" {
            return Err(tonic::Status::not_found("no such thing"));
        }
        Ok(tonic::Response::new(EchoReply {
            message: format!("{message} from {caller}"),
        }))
    }

    type BidiStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<EchoReply, tonic::Status>> + Send>>;

    async fn bidi(
        &self,
        request: tonic::Request<tonic::Streaming<EchoRequest>>,
    ) -> Result<tonic::Response<Self::BidiStream>, tonic::Status> {
        let stream = request.into_inner().map(|m| {
            m.map(|m| EchoReply {
                message: format!("echo {}", m.message),
            })
        });
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unary_bidi_stream_and_trailers_only_error_through_pair() {
    // Declared h2c, its grpc:// alias, and no protocol at all (gRPC goes h2c by itself).
    for scheme in ["h2c://", "grpc://", ""] {
        grpc_through_pair(scheme).await;
    }
}

async fn grpc_through_pair(scheme: &str) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServer::new(EchoService))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let pair = Pair::start(&format!("{scheme}{app}"));
    let mut client = EchoClient::connect(format!("http://{}", pair.entry))
        .await
        .unwrap();

    let reply = client
        .unary(EchoRequest {
            message: "hi".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, format!("hi from {WEB_ID}"));
    let big = "x".repeat(100 * 1024);
    let reply = client
        .unary(EchoRequest {
            message: big.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("{scheme}: 100 KB unary: {s:?}"));
    assert_eq!(reply.into_inner().message, format!("{big} from {WEB_ID}"));

    let status = client
        .unary(EchoRequest {
            message: "fail".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "no such thing");

    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let outgoing = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut replies = client.bidi(outgoing).await.unwrap().into_inner();
    for i in 0..5 {
        // One message out, its echo back, before the next: a real interleaved stream.
        tx.send(EchoRequest {
            message: format!("m{i}"),
        })
        .await
        .unwrap();
        let reply = replies.next().await.unwrap().unwrap();
        assert_eq!(reply.message, format!("echo m{i}"));
    }
    drop(tx);
    assert!(
        replies.next().await.is_none(),
        "stream ends with grpc-status OK trailers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_call_to_an_app_that_is_not_there_gets_unavailable_in_grpc_terms() {
    // Nothing listens at the app's address (no protocol declared).
    let pair = Pair::start(&free_addr().to_string());
    let mut client = EchoClient::connect(format!("http://{}", pair.entry))
        .await
        .unwrap();
    let status = client
        .unary(EchoRequest {
            message: "hi".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "app unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_of_10_mib_is_byte_exact() {
    let app = echo_app().await;
    let pair = Pair::start(&format!("tcp://{}", app.addr));
    // The first byte is 0: detection decides "opaque" at once.
    let payload: Arc<Vec<u8>> = Arc::new(
        (0..10 * 1024 * 1024 + 17)
            .map(|i| (i * 7 % 251) as u8)
            .collect(),
    );
    let stream = TcpStream::connect(pair.entry).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let to_send = payload.clone();
    let writer_task = tokio::spawn(async move {
        for chunk in to_send.chunks(64 * 1024) {
            writer.write_all(chunk).await.unwrap();
        }
        writer.shutdown().await.unwrap();
    });
    let mut received = Vec::with_capacity(payload.len());
    tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received))
        .await
        .expect("echo finished in time")
        .unwrap();
    writer_task.await.unwrap();
    assert_eq!(received.len(), payload.len());
    assert!(received == *payload, "echoed bytes differ");
}

const FORGED: &[u8] = b"GET / HTTP/1.1\r\nhost: api.test\r\n\
                        x-meshctl-client-id: spiffe://mesh.local/ns/local/sa/admin\r\n\r\n";

/// Reads until the other side closes (or PATIENCE passes): what came back.
async fn read_until_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meshed_peer_cannot_send_opaque_tcp_with_a_forged_identity_to_an_http_app() {
    let app = echo_app().await;
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let web = mesh.issue(WEB_ID, "web");
    let inbound_addr = free_addr();
    let server = Proxy::start(
        &[identity(&api), inbound(inbound_addr, &app.addr.to_string())].concat(),
        mesh.path(),
    );
    // A valid mesh member (web) opens an opaque-TCP (ALPN meshctl/tcp) connection by hand.
    let mut tls = mesh_tls_client(&web, inbound_addr, b"meshctl/tcp").await;
    let _ = tls.write_all(FORGED).await;
    let answer = read_until_closed(&mut tls).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(
        app.connections.load(Ordering::SeqCst),
        0,
        "the app saw nothing"
    );
    let metrics = server.metrics().await;
    let series =
        "meshctl_tls_handshake_failures_total{direction=\"inbound\",reason=\"tcp_to_http_app\"}";
    assert_eq!(sample(&metrics, series), 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sent_after_the_detection_timeout_never_reaches_an_http_app_as_opaque_bytes() {
    let app = echo_app().await;
    let pair = Pair::start(&app.addr.to_string());
    let mut stream = TcpStream::connect(pair.entry).await.unwrap();
    // Silent past the outbound's 1 s detection timeout: it then carries opaque TCP, which
    // the inbound must refuse for an app served as HTTP, whatever bytes come next.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stream.write_all(FORGED).await;
    let _ = read_until_closed(&mut stream).await;
    assert_eq!(
        app.connections.load(Ordering::SeqCst),
        0,
        "the app saw nothing"
    );
    assert_eq!(app.bytes.load(Ordering::SeqCst), 0);
}

/// Runs `openssl s_client` against `addr` with extra args, feeding it an HTTP request.
fn openssl_client(addr: std::net::SocketAddr, args: &[&str]) {
    let mut child = std::process::Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-quiet"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl is needed by this test (apt-get install -y openssl)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    }
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "openssl s_client did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_refuses_plaintext_certless_foreign_ca_and_tls12_clients() {
    let app = echo_app().await;
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let inbound_addr = free_addr();
    let server = Proxy::start(
        &[identity(&api), inbound(inbound_addr, &app.addr.to_string())].concat(),
        mesh.path(),
    );

    // Plaintext HTTP.
    let mut plain = TcpStream::connect(inbound_addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut sink)).await;
    assert!(!sink.starts_with(b"HTTP/"), "no HTTP answer over plaintext");

    // TLS 1.3 without a client certificate.
    openssl_client(inbound_addr, &["-tls1_3"]);
    // A client certificate from another CA (same SPIFFE ID, different trust anchor).
    let foreign = Mesh::new();
    let forged = foreign.issue(WEB_ID, "forged");
    let (cert, key) = (forged.join("tls.crt"), forged.join("tls.key"));
    openssl_client(
        inbound_addr,
        &[
            "-tls1_3",
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
    );
    // TLS 1.2 only, even with a valid mesh certificate.
    let web = mesh.issue(WEB_ID, "web");
    let (cert, key) = (web.join("tls.crt"), web.join("tls.key"));
    openssl_client(
        inbound_addr,
        &[
            "-tls1_2",
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
    );

    let metrics = server.metrics().await;
    for reason in [
        "not_tls",
        "no_client_certificate",
        "unknown_ca",
        "protocol_version",
    ] {
        let series = format!(
            "meshctl_tls_handshake_failures_total{{direction=\"inbound\",reason=\"{reason}\"}}"
        );
        assert_eq!(
            sample(&metrics, &series),
            1.0,
            "{series} in\n{metrics}\n{}",
            server.log()
        );
    }
    assert_eq!(
        app.connections.load(Ordering::SeqCst),
        0,
        "nothing reached the app"
    );
    assert_eq!(app.bytes.load(Ordering::SeqCst), 0);
}

/// Writes `request` to the outbound listener on a fresh connection; everything the proxy
/// sends back until it closes the connection.
async fn raw_exchange(entry: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(entry).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the proxy closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Framing a proxy and the app behind it could read differently (request smuggling) is
/// refused at the outbound listener: nothing reaches the peer or the app. Pipelined requests
/// are answered in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_http1_framing_is_refused_before_it_leaves_the_app_side() {
    let app = http_app().await;
    let pair = Pair::start(&app.addr.to_string());
    let smuggling = b"POST /upload HTTP/1.1\r\nhost: api.test\r\ntransfer-encoding: chunked\r\n\
                      content-length: 4\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nhost: api.test\r\n\r\n";
    let answer = raw_exchange(pair.entry, smuggling).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("x-meshctl-proxy-error: both transfer-encoding and content-length"),
        "{answer}"
    );
    assert_eq!(
        answer.matches("HTTP/1.1").count(),
        1,
        "one answer only: {answer}"
    );
    let answer = raw_exchange(pair.entry, b"CONNECT api.test:443 HTTP/1.1\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 501 Not Implemented\r\n"),
        "{answer}"
    );
    assert_eq!(
        app.connections.load(Ordering::SeqCst),
        0,
        "a refused request reached the app"
    );

    let pipelined = b"GET /first HTTP/1.1\r\nhost: api.test\r\n\r\n\
                      GET /second HTTP/1.1\r\nhost: api.test\r\nconnection: close\r\n\r\n";
    let answer = raw_exchange(pair.entry, pipelined).await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{answer}");
    let first = answer.find("x-seen-path: /first").expect("first answered");
    let second = answer
        .find("x-seen-path: /second")
        .expect("second answered");
    assert!(first < second, "answered out of order: {answer}");
}

/// RFC 9112 strictness at the first proxy: Host exactly once in HTTP/1.1, Content-Length
/// never a list, no framing fields in trailers. Each is answered 400 by the outbound itself
/// (naming the problem, closing the connection), not forwarded to fail at the next hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_hosts_lengths_and_trailers_are_refused_at_the_outbound() {
    let app = http_app().await;
    let pair = Pair::start(&app.addr.to_string());
    let cases: [(&[u8], &str); 4] = [
        (
            b"GET / HTTP/1.1\r\nhost: api.test\r\nhost: evil.test\r\n\r\n",
            "more than one host header",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", "missing host header"),
        (
            b"POST /upload HTTP/1.1\r\nhost: api.test\r\ncontent-length: 3, 3\r\n\r\nabc",
            "content-length is a list",
        ),
        (
            b"POST /upload HTTP/1.1\r\nhost: api.test\r\ntransfer-encoding: chunked\r\n\r\n\
              3\r\nabc\r\n0\r\ntransfer-encoding: chunked\r\n\r\n",
            "transfer-encoding or content-length in trailers",
        ),
    ];
    for (request, reason) in cases {
        let answer = raw_exchange(pair.entry, request).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{reason}: {answer}"
        );
        assert!(
            answer.contains(&format!("x-meshctl-proxy-error: {reason}\r\n")),
            "{answer}"
        );
        assert_eq!(
            answer.matches("HTTP/1.1").count(),
            1,
            "one answer: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_answers_502_when_the_peer_presents_the_wrong_identity() {
    let app = http_app().await;
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let web = mesh.issue(WEB_ID, "web");
    let inbound_addr = free_addr();
    let entry = free_addr();
    let _server = Proxy::start(
        &[identity(&api), inbound(inbound_addr, &app.addr.to_string())].concat(),
        mesh.path(),
    );
    let expected = "spiffe://mesh.local/ns/local/sa/billing";
    let client = Proxy::start(
        &[identity(&web), upstream(entry, inbound_addr, expected)].concat(),
        mesh.path(),
    );

    let (status, headers, _) = get(entry, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        header(&headers, "x-meshctl-proxy-error"),
        "peer presented the wrong identity"
    );
    assert_eq!(app.connections.load(Ordering::SeqCst), 0);
    let metrics = client.metrics().await;
    let series =
        "meshctl_tls_handshake_failures_total{direction=\"outbound\",reason=\"wrong_identity\"}";
    assert_eq!(sample(&metrics, series), 1.0, "{metrics}");
}

/// An mTLS connection with the `web` identity (from `web`'s directory) to `addr`, which must
/// present `api`, offering one ALPN protocol.
async fn mesh_tls_client(
    web: &Path,
    addr: std::net::SocketAddr,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    // Tests run in one process; the first to get here installs the provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let identity = meshctl::identity::WorkloadIdentity::load_dir(web).unwrap();
    let config = identity
        .client_config(API_ID.parse().unwrap(), &[alpn])
        .unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(rustls_pki_types::ServerName::from(addr.ip()), tcp)
        .await
        .unwrap()
}

/// A rustls client with the `web` identity, expecting `api`: returns the h2 sender and the
/// leaf certificate the server presented.
async fn mesh_h2_client(
    web: &Path,
    addr: std::net::SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<TestBody>,
    CertificateDer<'static>,
) {
    let tls = mesh_tls_client(web, addr, b"h2").await;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    (sender, leaf)
}

fn leaf_of(dir: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(dir.join("tls.crt"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// Replaces `dir`'s cert and key with `from`'s by atomic renames (as cert-manager does).
fn rotate(from: &Path, dir: &Path) {
    for file in ["tls.key", "tls.crt"] {
        let staged = dir.join(format!(".{file}.new"));
        std::fs::copy(from.join(file), &staged).unwrap();
        std::fs::rename(&staged, dir.join(file)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificate_serves_new_handshakes_and_open_connections_keep_working() {
    let app = http_app().await;
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let web = mesh.issue(WEB_ID, "web");
    let inbound_addr = free_addr();
    let server = Proxy::start(
        &[identity(&api), inbound(inbound_addr, &app.addr.to_string())].concat(),
        mesh.path(),
    );
    let request = || {
        Request::get("http://api.test/")
            .body(full_body(Bytes::new()))
            .unwrap()
    };

    let (mut open, first_leaf) = mesh_h2_client(&web, inbound_addr).await;
    assert_eq!(first_leaf, leaf_of(&api));
    assert_eq!(
        open.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );

    // Rotate to a new certificate for the same identity while the connection stays open.
    let renewed = mesh.issue(API_ID, "api-renewed");
    rotate(&renewed, &api);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, leaf) = mesh_h2_client(&web, inbound_addr).await;
        if leaf == leaf_of(&renewed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new handshakes never presented the new cert: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        open.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );

    // A certificate from another CA is refused: the renewed one stays in use.
    let foreign = Mesh::new();
    let rogue = foreign.issue(API_ID, "rogue");
    rotate(&rogue, &api);
    let deadline = Instant::now() + PATIENCE;
    while sample(
        &server.metrics().await,
        "meshctl_identity_reloads_total{result=\"failure\"}",
    ) < 1.0
    {
        assert!(
            Instant::now() < deadline,
            "the rogue cert was never looked at: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut fresh, leaf) = mesh_h2_client(&web, inbound_addr).await;
    assert_eq!(leaf, leaf_of(&renewed));
    assert_eq!(
        fresh.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        open.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_fails_no_accepted_request() {
    let app = http_app().await;
    let mut pair = Pair::start(&app.addr.to_string());
    let entry = pair.entry;
    let started = Arc::new(tokio::sync::Semaphore::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let started = started.clone();
        clients.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<TestBody>();
            let (mut ok, mut failed, mut refused) = (0, Vec::new(), 0);
            let deadline = Instant::now() + PATIENCE;
            for i in 0..200 {
                if Instant::now() > deadline {
                    break;
                }
                let path = if i % 2 == 0 { "/slow" } else { "/fast" };
                let req = Request::get(format!("http://{entry}{path}"))
                    .body(full_body(Bytes::new()))
                    .unwrap();
                match client.request(req).await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        ok += 1;
                        if ok == 2 {
                            started.add_permits(1);
                        }
                    }
                    Ok(r) => failed.push(format!("status {}", r.status())),
                    // Refused at connect: never accepted, the drain had closed the port.
                    Err(e) if e.is_connect() => {
                        refused += 1;
                        break;
                    }
                    Err(e) => failed.push(format!("{e:?}")),
                }
            }
            (ok, failed, refused)
        }));
    }
    // Every client has requests flowing, then SIGTERM the client-side proxy mid-load.
    let _all = tokio::time::timeout(PATIENCE, started.acquire_many(4))
        .await
        .unwrap()
        .unwrap();
    pair.client.sigterm();
    let mut total_ok = 0;
    for c in clients {
        let (ok, failed, _refused) = c.await.unwrap();
        assert!(
            failed.is_empty(),
            "accepted requests failed: {failed:?}\n{}",
            pair.client.log()
        );
        total_ok += ok;
    }
    assert!(total_ok >= 8);
    let status = pair.client.wait_exit();
    assert!(
        status.success(),
        "drained proxy exits 0, got {status}: {}",
        pair.client.log()
    );
    assert!(
        pair.client.log().contains("drained"),
        "{}",
        pair.client.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_client_idle_at_sigterm_gets_one_more_answer_with_connection_close() {
    let app = http_app().await;
    let mut pair = Pair::start(&app.addr.to_string());
    let mut conn = http1_conn(pair.entry).await;
    let get = || {
        Request::get("/fast")
            .header("host", "api.test")
            .body(full_body(Bytes::new()))
            .unwrap()
    };
    let (status, headers, _) = collect(send(&mut conn, get()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.get("connection").is_none(),
        "keep-alive before the drain"
    );

    // The connection is idle when the drain starts; its next request, sent a moment later,
    // is still answered (closing at once would fail it), and says the connection ends.
    pair.client.sigterm();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, headers, _) = collect(send(&mut conn, get()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "connection"), "close");
    let closed = tokio::time::timeout(PATIENCE, conn.ready()).await.unwrap();
    assert!(
        closed.is_err(),
        "the proxy closed the connection after that answer"
    );
    let status = pair.client.wait_exit();
    assert!(status.success(), "{}", pair.client.log());
}

/// `openssl x509 ARGS` on `cert`, trimmed stdout.
fn openssl_x509(cert: &Path, args: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("openssl x509 -in '{}' {args}", cert.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_dump_shows_identity_listeners_and_live_endpoint_state_without_secrets() {
    let app = http_app().await;
    let pair = Pair::start(&app.addr.to_string());
    let mut conn = http1_conn(pair.entry).await;
    let req = Request::get("/ok")
        .header("host", "api.test")
        .body(full_body(Bytes::new()))
        .unwrap();
    assert_eq!(collect(send(&mut conn, req).await).await.0, StatusCode::OK);

    let dump = |admin| async move {
        let (status, headers, body) = get(admin, "/config").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-type"), "application/json");
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            !text.contains("PRIVATE") && !text.contains("BEGIN"),
            "{text}"
        );
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };

    let server = dump(pair.server.admin).await;
    let api_dir = pair.mesh.path().join("api");
    let serial = openssl_x509(&api_dir.join("tls.crt"), "-noout -serial");
    let anchor = openssl_x509(&api_dir.join("ca.crt"), "-outform DER | sha256sum");
    let identity = &server["identity"];
    assert_eq!(identity["spiffe_id"], API_ID);
    assert_eq!(
        identity["serial"].as_str().unwrap().replace(':', ""),
        serial.trim_start_matches("serial=").to_lowercase(),
    );
    assert_eq!(
        identity["trust_bundle_fingerprints"],
        serde_json::json!([anchor.split_whitespace().next().unwrap()])
    );
    assert_eq!(server["mode"], "standalone");
    assert_eq!(server["config_version"], serde_json::Value::Null);
    let inbound = &server["inbound"][0];
    assert_eq!(inbound["listen"], pair.inbound.to_string());
    assert_eq!(inbound["app"], app.addr.to_string());
    assert_eq!(inbound["protocol"], "http1");
    assert_eq!(inbound["authorization"]["mode"], "open");
    assert_eq!(server["outbound"], serde_json::json!([]));
    assert_eq!(server["limits"]["max_headers"], 100, "{server:#}");

    let client = dump(pair.client.admin).await;
    assert_eq!(client["identity"]["spiffe_id"], WEB_ID);
    let out = &client["outbound"][0];
    assert_eq!(out["listen"], pair.entry.to_string());
    assert_eq!(out["service"], "api");
    let endpoint = &out["backends"][0]["endpoints"][0];
    assert_eq!(endpoint["address"], pair.inbound.to_string());
    assert_eq!(endpoint["identity"], API_ID);
    assert_eq!(
        endpoint["circuit"],
        serde_json::json!({"state": "closed", "failures": 0})
    );
    assert_eq!(endpoint["in_flight"], 0);
    assert!(
        endpoint["latency_ewma_ms"].as_f64().unwrap() > 0.0,
        "one answer was measured: {client:#}"
    );

    // Anything but GET is refused; unknown paths list /config among the known ones.
    let (status, _, body) = get(pair.server.admin, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("/config"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_count_the_traffic_sent() {
    let app = http_app().await;
    let pair = Pair::start(&app.addr.to_string());
    let mut conn = http1_conn(pair.entry).await;
    for i in 0..7 {
        let path = if i == 6 { "/missing" } else { "/ok" };
        let req = Request::get(path)
            .header("host", "api.test")
            .body(full_body(Bytes::new()))
            .unwrap();
        let _ = collect(send(&mut conn, req).await).await;
    }
    for (proxy, direction) in [(&pair.client, "outbound"), (&pair.server, "inbound")] {
        let text = proxy.metrics().await;
        let series = |class: &str| {
            format!(
                "meshctl_requests_total{{direction=\"{direction}\",status_class=\"{class}\",tls=\"true\"}}"
            )
        };
        assert_eq!(sample(&text, &series("2xx")), 6.0, "{text}");
        assert_eq!(sample(&text, &series("4xx")), 1.0, "{text}");
        let count = format!("meshctl_response_latency_seconds_count{{direction=\"{direction}\"}}");
        assert_eq!(sample(&text, &count), 7.0, "{text}");
        let conns = format!("meshctl_tcp_connections_total{{direction=\"{direction}\"}}");
        assert_eq!(
            sample(&text, &conns),
            1.0,
            "one app connection, one peer connection: {text}"
        );
        let read = format!("meshctl_tcp_read_bytes_total{{direction=\"{direction}\"}}");
        assert!(sample(&text, &read) > 0.0, "{text}");
        assert!(
            sample(&text, "identity_cert_expiration_timestamp_seconds") > 1.7e9,
            "{text}"
        );
        if direction == "outbound" {
            // Policy counters carry the destination (a standalone upstream: its peer's
            // service account).
            assert!(
                text.contains("\nmeshctl_retries_total{service=\"api\"} 0\n"),
                "{text}"
            );
        }
        promtool_check(&text);
    }
}

pub(crate) fn promtool_check(text: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!(
            "promtool not found ({e}): run the project's test script (.ci/run), which installs \
             the Debian `prometheus` package that provides it"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `meshctl proxy ARGS` expecting a quick failure: (exit code, stderr).
fn proxy_fails(args: &[&str]) -> (i32, String) {
    let out = meshctl().arg("proxy").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_listener_flags_are_usage_errors() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--identity-dir", "d", "--inbound", "127.0.0.1:4143"],
            "LISTEN=APP",
        ),
        (
            &["--identity-dir", "d", "--inbound", "127.0.0.1:4143=nowhere"],
            "APP `nowhere`",
        ),
        (
            &[
                "--identity-dir",
                "d",
                "--upstream",
                "127.0.0.1:1=127.0.0.1:2",
            ],
            "PEER#SPIFFE_ID",
        ),
        (
            &[
                "--identity-dir",
                "d",
                "--upstream",
                "127.0.0.1:1=127.0.0.1:2#http://x",
            ],
            "SPIFFE_ID",
        ),
    ];
    for (args, needle) in cases {
        let (code, stderr) = proxy_fails(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.lines().next().unwrap_or("").contains(needle),
            "{args:?}: {stderr}"
        );
    }
    let (code, stderr) = proxy_fails(&["--inbound", "127.0.0.1:1=127.0.0.1:2"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--identity-dir"), "{stderr}");
}

#[test]
fn unbounded_numbers_and_malformed_digests_are_usage_errors() {
    let listener = [
        "--identity-dir",
        "d",
        "--inbound",
        "127.0.0.1:1=127.0.0.1:2",
    ];
    for (extra, needle) in [
        (
            &["--workers", "100000"][..],
            "`workers` must be 1 to 128 (got 100000)",
        ),
        (
            &["--workers", "0"][..],
            "`workers` must be 1 to 128 (got 0)",
        ),
        (
            &["--tap", "127.0.0.1:0", "--tap-token-sha256", "zz"][..],
            "expected a SHA-256 digest: 64 hex digits",
        ),
        (
            &[
                "--tap",
                "127.0.0.1:0",
                "--tap-token-sha256",
                &"g".repeat(64),
            ][..],
            "expected a SHA-256 digest",
        ),
    ] {
        let args = [&listener[..], extra].concat();
        let (code, stderr) = proxy_fails(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // The control-plane mode checks the same bound.
    let (code, stderr) = proxy_fails(&[
        "--control-plane",
        "/nonexistent.sock",
        "--token-file",
        "/nonexistent",
        "--spiffe-id",
        "spiffe://mesh.local/ns/local/sa/web",
        "--workers",
        "100000",
    ]);
    assert_ne!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_config_field_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proxy.yaml");
    std::fs::write(&file, "identity_dir: certs\ninbound:\n  - listen: 127.0.0.1:4143\n    app: 127.0.0.1:8080\n    protocl: http1\n").unwrap();
    let (code, stderr) = proxy_fails(&["--config", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("proxy.yaml") && stderr.contains("protocl"),
        "{stderr}"
    );
}

#[test]
fn missing_identity_dir_is_a_runtime_failure_naming_it() {
    let (code, stderr) = proxy_fails(&[
        "--identity-dir",
        "/nonexistent/identity",
        "--inbound",
        &format!("{}=127.0.0.1:9", free_addr()),
        "--admin",
        &free_addr().to_string(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    let errors: Vec<_> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("/nonexistent/identity"), "{stderr}");
}

#[test]
fn port_in_use_is_a_runtime_failure_naming_the_address() {
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (code, stderr) = proxy_fails(&[
        "--identity-dir",
        api.to_str().unwrap(),
        "--inbound",
        &format!("{addr}=127.0.0.1:9"),
        "--admin",
        &free_addr().to_string(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    let errors: Vec<_> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&addr) && errors[0].contains("in use"),
        "{stderr}"
    );
}

/// Lays out `from`'s files the way a Kubernetes secret volume does: `..data` → a versioned
/// directory, each file a symlink through `..data`. Re-running it swaps `..data` atomically.
fn kubernetes_swap(from: &Path, dir: &Path, version: &str) {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&versioned).unwrap();
    for file in ["tls.crt", "tls.key", "ca.crt"] {
        std::fs::copy(from.join(file), versioned.join(file)).unwrap();
        let link = dir.join(file);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(file), &link).unwrap();
        }
    }
    let staged = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &staged).unwrap();
    std::fs::rename(&staged, dir.join("..data")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_data_symlink_swap_is_picked_up() {
    let app = http_app().await;
    let mesh = Mesh::new();
    let first = mesh.issue(API_ID, "api-1");
    let second = mesh.issue(API_ID, "api-2");
    let web = mesh.issue(WEB_ID, "web");
    let volume = mesh.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    kubernetes_swap(&first, &volume, "v1");
    let inbound_addr = free_addr();
    let server = Proxy::start(
        &[
            identity(&volume),
            inbound(inbound_addr, &app.addr.to_string()),
        ]
        .concat(),
        mesh.path(),
    );
    let (_, leaf) = mesh_h2_client(&web, inbound_addr).await;
    assert_eq!(leaf, leaf_of(&first));

    kubernetes_swap(&second, &volume, "v2");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, leaf) = mesh_h2_client(&web, inbound_addr).await;
        if leaf == leaf_of(&second) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "..data swap not picked up: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A request's credentials (headers, a JSON body field) never reach a log, at trace level of
/// every crate, even while a `--body` tap is watching the same requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_level_shows_credentials_or_bodies() {
    const SECRET: &str = "tr4ce-s3cret-value";
    let app = http_app().await;
    let mesh = Mesh::new();
    let (api, web) = (mesh.issue(API_ID, "api"), mesh.issue(WEB_ID, "web"));
    let (inbound_addr, entry, tap) = (free_addr(), free_addr(), free_addr());
    let token = "tap-token-for-this-test";
    let token_file = mesh.path().join("tap.token");
    std::fs::write(&token_file, token).unwrap();
    let tap_args = [
        "--tap".to_string(),
        tap.to_string(),
        "--tap-token-sha256".to_string(),
        meshctl::api::token::token_hash(token),
    ];
    let server = Proxy::start_logging(
        &[
            identity(&api),
            inbound(inbound_addr, &app.addr.to_string()),
            tap_args.to_vec(),
        ]
        .concat(),
        mesh.path(),
        "trace",
    );
    let client = Proxy::start_logging(
        &[identity(&web), upstream(entry, inbound_addr, API_ID)].concat(),
        mesh.path(),
        "trace",
    );
    let mut watcher = meshctl()
        .args(["tap", "--proxy", &tap.to_string(), "--token-file"])
        .arg(&token_file)
        .args(["--body", "1KiB", "--max-events", "6", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let body = format!(r#"{{"password":"{SECRET}"}}"#);
    let deadline = Instant::now() + PATIENCE;
    // Until the tap has seen two requests (its connection may come up after the first).
    while watcher.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the tap saw nothing");
        for http2 in [false, true] {
            let mut curl = std::process::Command::new("curl");
            curl.args(["-s", "-f", "-o", "/dev/null", "-m", "10"])
                .args(["-H", "content-type: application/json"])
                .args(["-H", &format!("authorization: Bearer {SECRET}")])
                .args(["-H", &format!("cookie: session={SECRET}")])
                .args(["--data-binary", &body])
                .arg(format!("http://{entry}/login"));
            if http2 {
                curl.arg("--http2-prior-knowledge");
            }
            assert!(curl.status().unwrap().success());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let watched = watcher.wait_with_output().unwrap();
    let events = String::from_utf8(watched.stdout).unwrap();
    assert!(
        events.contains(r#"\"password\":\"<redacted>\""#),
        "the tap captured no body: {events}"
    );
    for (name, log) in [("server", server.log()), ("client", client.log())] {
        assert!(log.contains("TRACE"), "{name} did not log at trace level");
        assert!(!log.contains(SECRET), "{name} logged the secret: {log}");
    }
    assert!(!events.contains(SECRET), "{events}");
}
