//! The peer connection against a real `h2` server on loopback (plain TCP: TLS is the
//! caller's, tested with the whole pair in tests/).

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::server::SendResponse;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Either};
use hyper::body::Body;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// An HTTP/2 server on loopback that hands every stream to `handle`, on its own task.
async fn serve<F, Fut>(handle: F) -> std::net::SocketAddr
where
    F: Fn(Request<h2::RecvStream>, SendResponse<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut conn = h2::server::handshake(tcp).await.unwrap();
                while let Some(Ok((req, respond))) = conn.accept().await {
                    tokio::spawn(handle(req, respond));
                }
            });
        }
    });
    addr
}

/// An HTTP/2 server on loopback for one connection, which `handle` gets after the handshake.
async fn one_connection<F, Fut>(handle: F) -> std::net::SocketAddr
where
    F: FnOnce(h2::server::Connection<TcpStream, Bytes>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        handle(h2::server::handshake(tcp).await.unwrap()).await;
    });
    addr
}

async fn connect(addr: std::net::SocketAddr, keep_alive: KeepAlive) -> Mux {
    let tcp = TcpStream::connect(addr).await.unwrap();
    handshake(tcp, keep_alive, addr.to_string()).await.unwrap()
}

fn request(method: Method, body: &'static [u8]) -> BoxedRequest {
    let mut req = Request::new(Either::Right(crate::proxy::protocol::http::Written::full(
        Bytes::from_static(body),
    )));
    *req.method_mut() = method;
    *req.uri_mut() = "http://api.test/echo".parse().unwrap();
    *req.version_mut() = http::Version::HTTP_2;
    Box::new(req)
}

/// Reads a request body to its end, giving the window back as it goes.
async fn read_all(body: &mut h2::RecvStream) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        all.extend_from_slice(&chunk);
    }
    all
}

const LARGE: usize = 3 * 1024 * 1024;

#[tokio::test]
async fn a_body_goes_out_with_its_length_and_a_response_larger_than_the_window_comes_back_whole() {
    let addr = serve(|req, mut respond| async move {
        let (head, mut body) = req.into_parts();
        let received = read_all(&mut body).await;
        let length = head.headers.get(CONTENT_LENGTH).cloned();
        let response = Response::builder()
            .header("x-received", received.len())
            .header(
                "x-length",
                length.unwrap_or(HeaderValue::from_static("none")),
            )
            .header(CONTENT_LENGTH, LARGE)
            .body(())
            .unwrap();
        let mut stream = respond.send_response(response, false).unwrap();
        // More than the client's stream window (1 MiB): it arrives only if the client
        // gives capacity back as it reads.
        for _ in 0..LARGE / (64 * 1024) {
            stream.reserve_capacity(64 * 1024);
            stream
                .send_data(Bytes::from(vec![7u8; 64 * 1024]), false)
                .unwrap();
        }
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        stream.send_trailers(trailers).unwrap();
    })
    .await;
    let mux = connect(addr, KeepAlive::default()).await;

    let response = mux.send(request(Method::POST, b"hello")).await.unwrap();
    assert_eq!(response.headers()["x-received"], "5");
    assert_eq!(response.headers()["x-length"], "5");
    assert_eq!(response.body().size_hint().exact(), Some(LARGE as u64));
    let collected = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("the whole response arrives")
        .unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
    let body = collected.to_bytes();
    assert_eq!(body.len(), LARGE);
    assert!(body.iter().all(|&b| b == 7));
}

#[tokio::test]
async fn a_bodiless_get_ends_the_stream_with_its_head_and_states_no_length() {
    let addr = serve(|req, mut respond| async move {
        let ended = req.body().is_end_stream();
        let length = req.headers().contains_key(CONTENT_LENGTH);
        let response = Response::builder()
            .header("x-ended", ended.to_string())
            .header("x-length", length.to_string())
            .body(())
            .unwrap();
        respond.send_response(response, true).unwrap();
    })
    .await;
    let mux = connect(addr, KeepAlive::default()).await;
    let response = mux.send(request(Method::GET, b"")).await.unwrap();
    assert_eq!(response.headers()["x-ended"], "true");
    assert_eq!(response.headers()["x-length"], "false");
    assert!(response.body().is_end_stream());
}

/// A server that sends a head and some data, then resets the stream with `reason` once the
/// client has the head (a reset before it fails the response instead).
async fn reset_after_data(reason: Reason) -> (Mux, tokio::sync::mpsc::Sender<()>) {
    let (head_seen, seen) = tokio::sync::mpsc::channel::<()>(1);
    let seen = Arc::new(tokio::sync::Mutex::new(seen));
    let addr = serve(move |_req, mut respond| {
        let seen = seen.clone();
        async move {
            let mut stream = respond.send_response(Response::new(()), false).unwrap();
            stream
                .send_data(Bytes::from_static(b"partial"), false)
                .unwrap();
            seen.lock().await.recv().await;
            stream.send_reset(reason);
        }
    })
    .await;
    (connect(addr, KeepAlive::default()).await, head_seen)
}

#[tokio::test]
async fn a_reset_with_no_error_after_the_data_ends_the_body_without_an_error() {
    let (mux, head_seen) = reset_after_data(Reason::NO_ERROR).await;
    let response = mux.send(request(Method::GET, b"")).await.unwrap();
    head_seen.send(()).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"partial");

    // Any other reason is an error of the body.
    let (mux, head_seen) = reset_after_data(Reason::INTERNAL_ERROR).await;
    let response = mux.send(request(Method::GET, b"")).await.unwrap();
    head_seen.send(()).await.unwrap();
    let err = response.into_body().collect().await.unwrap_err();
    assert_eq!(err.reason(), Some(Reason::INTERNAL_ERROR));
}

#[tokio::test]
async fn a_stream_the_peer_refuses_fails_alone_and_the_connection_carries_the_next_request() {
    let addr = serve(|req, mut respond| async move {
        if req.uri().path() == "/refused" {
            respond.send_reset(Reason::REFUSED_STREAM);
        } else {
            respond.send_response(Response::new(()), true).unwrap();
        }
    })
    .await;
    let mux = connect(addr, KeepAlive::default()).await;
    let mut refused = request(Method::GET, b"");
    *refused.uri_mut() = "http://api.test/refused".parse().unwrap();
    let err = mux.send(refused).await.unwrap_err();
    assert!(err.unsent.is_none());
    assert_eq!(err.error.reason(), Some(Reason::REFUSED_STREAM));
    assert!(!err.ends_connection(), "{:?}", err.error);
    assert!(!mux.is_closed());
    let response = mux.send(request(Method::GET, b"")).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_connection_lost_while_a_request_waits_fails_it_and_ends_the_connection() {
    let addr = one_connection(|mut conn| async move {
        // The request arrives; the connection goes away without an answer.
        let _request = conn.accept().await;
    })
    .await;
    let mux = connect(addr, KeepAlive::default()).await;
    let err = mux.send(request(Method::GET, b"")).await.unwrap_err();
    assert!(err.unsent.is_none(), "the request had left");
    assert!(err.ends_connection(), "{:?}", err.error);
}

#[tokio::test]
async fn a_request_on_a_connection_that_has_ended_comes_back_unsent() {
    let addr = one_connection(|conn| async move { drop(conn) }).await;
    let mux = connect(addr, KeepAlive::default()).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !mux.is_closed() {
        assert!(Instant::now() < deadline, "the connection's end is noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = mux.send(request(Method::POST, b"again")).await.unwrap_err();
    assert!(err.ends_connection());
    let unsent = err.unsent.expect("nothing of it was sent");
    assert_eq!(unsent.method(), Method::POST);
    let body = (*unsent).into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"again");
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_loses_the_connection_and_one_that_answers_keeps_it() {
    let keep_alive = KeepAlive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    };
    // Accepts and reads, never writes: no SETTINGS, no PING answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    let answering = serve(|_req, mut respond| async move {
        respond.send_response(Response::new(()), true).unwrap();
    })
    .await;
    let dead = connect(silent, keep_alive).await;
    let live = connect(answering, keep_alive).await;

    let start = Instant::now();
    while !dead.is_closed() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the silent peer is dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Well past several intervals: the answering peer's connection is still there.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!live.is_closed());
    let response = live.send(request(Method::GET, b"")).await.unwrap();
    assert_eq!(response.status(), 200);
}
