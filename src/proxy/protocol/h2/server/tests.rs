//! The server against a real `h2` client (and raw sockets for the misbehaving ones) on
//! loopback; TLS is the caller's, tested with the whole pair in tests/.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use h2::client::{self, SendRequest};
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::proxy::protocol::drain::Drain;

type Service =
    Arc<dyn Fn(Request<H2Body>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

const WAIT: Duration = Duration::from_secs(10);

/// A server on loopback serving each connection with `service`; each connection's outcome
/// comes out of the channel (errors as text).
async fn server(
    settings: Settings,
    service: Service,
) -> (
    SocketAddr,
    Drain,
    mpsc::UnboundedReceiver<Result<(), String>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (drain, watch) = Drain::new();
    let (outcomes, outcome) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Accepts until the drain starts; the drain then waits for the connections only.
        let mut watch = watch;
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = watch.signaled() => break,
            };
            let Ok((tcp, _)) = accepted else { break };
            let (settings, service, outcomes) =
                (settings.clone(), service.clone(), outcomes.clone());
            let mut watch = watch.clone();
            tokio::spawn(async move {
                let conn = (Direction::Outbound, Instant::now());
                let served = serve(tcp, &settings, &mut watch, conn, |req| service(req)).await;
                let _ = outcomes.send(served.map_err(|e| e.to_string()));
            });
        }
    });
    (addr, drain, outcome)
}

fn settings() -> Settings {
    Settings::new(&Limits::default())
}

fn service<F>(f: F) -> Service
where
    F: Fn(Request<H2Body>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync + 'static,
{
    Arc::new(f)
}

async fn client(addr: SocketAddr) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

fn request(method: Method, path: &str) -> Request<()> {
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = format!("http://api.test{path}").parse().unwrap();
    req
}

/// Starts a POST to `path` whose body begins with `data` and is left open.
fn upload(
    send: &mut SendRequest<Bytes>,
    path: &str,
    data: &'static [u8],
) -> (client::ResponseFuture, SendStream<Bytes>) {
    let (response, mut stream) = send
        .send_request(request(Method::POST, path), false)
        .unwrap();
    stream.send_data(Bytes::from_static(data), false).unwrap();
    (response, stream)
}

async fn answer(response: client::ResponseFuture) -> Response<h2::RecvStream> {
    tokio::time::timeout(WAIT, response).await.unwrap().unwrap()
}

async fn body_of(response: Response<h2::RecvStream>) -> Bytes {
    let body = H2Body::response(response.into_body(), &HeaderMap::new());
    body.collect().await.unwrap().to_bytes()
}

#[tokio::test]
async fn a_body_and_its_trailers_reach_the_service_and_the_head_is_completed() {
    let (addr, _drain, _) = server(
        settings(),
        service(|req| {
            Box::pin(async move {
                let collected = req.into_body().collect().await.unwrap();
                let trailer = collected.trailers().and_then(|t| t.get("x-check")).cloned();
                let mut response = Response::new(Full::new(collected.to_bytes()));
                if let Some(trailer) = trailer {
                    response.headers_mut().insert("x-trailer", trailer);
                }
                response
            })
        }),
    )
    .await;
    let mut send = client(addr).await;
    let (response, mut stream) = upload(&mut send, "/echo", b"hello");
    let mut trailers = HeaderMap::new();
    trailers.insert("x-check", HeaderValue::from_static("yes"));
    stream.send_trailers(trailers).unwrap();
    let response = answer(response).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        headers[CONTENT_LENGTH], "5",
        "the known length is announced"
    );
    assert_eq!(headers["x-trailer"], "yes");
    assert!(
        headers.contains_key(DATE),
        "a date is added where there was none"
    );
    assert_eq!(body_of(response).await, "hello");
}

#[tokio::test]
async fn no_length_is_invented_for_head_answers_or_bodiless_statuses_and_a_date_is_kept() {
    let (addr, _drain, _) = server(
        settings(),
        service(|req| {
            Box::pin(async move {
                let mut response = Response::new(Full::new(Bytes::new()));
                if req.uri().path() == "/none" {
                    *response.status_mut() = StatusCode::NO_CONTENT;
                }
                response.headers_mut().insert(
                    DATE,
                    HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
                );
                response
            })
        }),
    )
    .await;
    let mut send = client(addr).await;
    for (method, path) in [(Method::HEAD, "/"), (Method::GET, "/none")] {
        let (response, _) = send
            .send_request(request(method.clone(), path), true)
            .unwrap();
        let response = answer(response).await;
        let headers = response.headers();
        assert!(
            !headers.contains_key(CONTENT_LENGTH),
            "{method} {path}: {headers:?}"
        );
        assert_eq!(headers[DATE], "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    // A plain GET of the same empty body says so.
    let (response, _) = send.send_request(request(Method::GET, "/"), true).unwrap();
    let response = answer(response).await;
    assert_eq!(response.headers()[CONTENT_LENGTH], "0");
}

/// Reports when it is dropped (the request was cancelled) through the channel.
struct DropGuard(Option<oneshot::Sender<()>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test]
async fn a_client_reset_cancels_the_request_being_answered() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (dropped_tx, dropped) = oneshot::channel();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let (addr, _drain, _) = server(
        settings(),
        service(move |_req| {
            let guard = DropGuard(dropped_tx.lock().unwrap().take());
            let started = started_tx.clone();
            Box::pin(async move {
                let _guard = guard;
                let _ = started.send(());
                std::future::pending::<()>().await;
                unreachable!()
            })
        }),
    )
    .await;
    let mut send = client(addr).await;
    let (_response, mut stream) = send
        .send_request(request(Method::GET, "/slow"), false)
        .unwrap();
    tokio::time::timeout(WAIT, started.recv())
        .await
        .unwrap()
        .unwrap();
    stream.send_reset(Reason::CANCEL);
    tokio::time::timeout(WAIT, dropped)
        .await
        .expect("the request's future was kept after the client reset the stream")
        .unwrap();
}

#[tokio::test]
async fn a_request_body_cut_off_by_a_reset_fails_instead_of_ending() {
    let (read_tx, mut read) = mpsc::unbounded_channel();
    let (addr, _drain, _) = server(
        settings(),
        service(move |req| {
            let read = read_tx.clone();
            Box::pin(async move {
                let _ = read.send(req.into_body().collect().await.map(|c| c.to_bytes()));
                Response::new(Full::new(Bytes::new()))
            })
        }),
    )
    .await;
    let mut send = client(addr).await;
    let (_response, mut stream) = upload(&mut send, "/upload", b"part of it");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.send_reset(Reason::CANCEL);
    let outcome = tokio::time::timeout(WAIT, read.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        outcome.is_err(),
        "a cancelled upload read as complete: {outcome:?}"
    );
}

#[tokio::test]
async fn connect_is_answered_501_without_reaching_the_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (addr, _drain, _) = server(
        settings(),
        service(move |_req| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Response::new(Full::new(Bytes::new())) })
        }),
    )
    .await;
    let mut send = client(addr).await;
    let mut connect = Request::new(());
    *connect.method_mut() = Method::CONNECT;
    *connect.uri_mut() = "api.test:443".parse().unwrap();
    let (response, _) = send.send_request(connect, false).unwrap();
    let response = answer(response).await;
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        response.headers()[proxy_http::PROXY_ERROR],
        "CONNECT is not proxied"
    );
    // The connection still serves other requests; the service saw only that one.
    let (response, _) = send.send_request(request(Method::GET, "/"), true).unwrap();
    let response = answer(response).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_drain_finishes_the_open_stream_refuses_new_ones_and_ends_the_connection() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (release_tx, release) = tokio::sync::watch::channel(false);
    let (addr, drain, mut outcome) = server(
        settings(),
        service(move |_req| {
            let started = started_tx.clone();
            let mut release = release.clone();
            Box::pin(async move {
                let _ = started.send(());
                let _ = release.wait_for(|go| *go).await;
                Response::new(Full::new(Bytes::from_static(b"done")))
            })
        }),
    )
    .await;
    let mut send = client(addr).await;
    let (first, _) = send
        .send_request(request(Method::GET, "/first"), true)
        .unwrap();
    tokio::time::timeout(WAIT, started.recv())
        .await
        .unwrap()
        .unwrap();
    let drained = tokio::spawn(drain.drain(WAIT));
    // The GOAWAY reaches the client: a new request is refused (by the client or the server).
    let refused = tokio::time::timeout(WAIT, async {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            match send.clone().ready().await {
                Err(_) => return,
                Ok(mut ready) => match ready.send_request(request(Method::GET, "/late"), true) {
                    Err(_) => return,
                    Ok((late, _)) => {
                        if late.await.is_err() {
                            return;
                        }
                    }
                },
            }
        }
    });
    refused
        .await
        .expect("requests after the drain were still served");
    release_tx.send(true).unwrap();
    let first = answer(first).await;
    assert_eq!(body_of(first).await, "done");
    let served = tokio::time::timeout(WAIT, outcome.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(served, Ok(()));
    assert!(drained.await.unwrap(), "the drain waited out its deadline");
}

/// The client preface and an empty SETTINGS frame, and nothing after: no PING is answered.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[tokio::test]
async fn a_client_that_does_not_answer_pings_is_dropped() {
    let mut settings = settings();
    settings.keep_alive_interval = Duration::from_millis(100);
    settings.keep_alive_timeout = Duration::from_millis(200);
    let (addr, _drain, mut outcome) = server(settings, service(|_req| unreachable!())).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(PREFACE).await.unwrap();
    let served = tokio::time::timeout(WAIT, outcome.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        served,
        Err("client did not answer a keep-alive PING in time".to_string())
    );
    // The server's frames (SETTINGS, the PING), then the end of the connection.
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_connection_without_a_preface_is_closed_after_the_timeout() {
    let mut settings = settings();
    settings.preface_timeout = Duration::from_millis(100);
    let (addr, _drain, mut outcome) = server(settings, service(|_req| unreachable!())).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let served = tokio::time::timeout(WAIT, outcome.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(served, Err("no HTTP/2 preface in time".to_string()));
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_connection_with_a_preface_and_no_request_is_closed_after_the_timeout() {
    let mut settings = settings();
    settings.preface_timeout = Duration::from_millis(200);
    let counters = settings.counters.clone();
    let (addr, _drain, mut outcome) = server(settings, service(|_req| unreachable!())).await;
    let _send = client(addr).await;
    let served = tokio::time::timeout(WAIT, outcome.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        served,
        Err("no request HEADERS within the header read timeout".to_string())
    );
    let mut text = String::new();
    counters.render(&mut text);
    assert!(text.contains(
        "meshctl_connections_limited_total{direction=\"outbound\",reason=\"header_timeout\"} 1"
    ));
}

#[tokio::test]
async fn a_stalled_request_body_is_answered_408_and_a_grpc_one_waits() {
    let mut settings = settings();
    settings.body_read_timeout = Duration::from_millis(200);
    let counters = settings.counters.clone();
    let (addr, _drain, _) = server(
        settings,
        service(|req| {
            Box::pin(async move {
                let read = req.into_body().collect().await;
                let status = if read.is_ok() {
                    StatusCode::OK
                } else {
                    StatusCode::BAD_GATEWAY
                };
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = status;
                response
            })
        }),
    )
    .await;
    let mut send = client(addr).await;
    let (response, _stream) = upload(&mut send, "/upload", b"part of it");
    let response = answer(response).await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(
        response.headers()[proxy_http::PROXY_ERROR],
        h1server::BODY_TIMED_OUT
    );

    // gRPC: the same pause is a quiet client stream, not a stall.
    let mut req = request(Method::POST, "/grpc.Svc/Stream");
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    let (response, mut stream) = send.send_request(req, false).unwrap();
    stream.send_data(Bytes::from_static(b"one"), false).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    stream.send_data(Bytes::from_static(b"two"), true).unwrap();
    assert_eq!(answer(response).await.status(), StatusCode::OK);

    let mut text = String::new();
    counters.render(&mut text);
    assert!(text.contains(
        "meshctl_requests_timed_out_total{direction=\"outbound\",reason=\"request_body\"} 1"
    ));
}
