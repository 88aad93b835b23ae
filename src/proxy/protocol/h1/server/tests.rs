//! Tests of `proxy::h1server` on real loopback sockets: a raw TCP client writes requests by
//! hand and reads the bytes the server answers with, so every framing, refusal and
//! connection rule is seen on the wire.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::stream;
use http_body_util::{BodyExt, Full, StreamBody};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;
use crate::proxy::protocol::drain::Drain;
use crate::proxy::telemetry::metrics::{Direction, Metrics};

const PATIENCE: Duration = Duration::from_secs(10);

fn settings() -> Settings {
    Settings {
        header_read_timeout: Duration::from_secs(10),
        max_headers: 100,
        max_head_bytes: 64 * 1024,
        drain_grace: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(30),
        counters: Arc::default(),
    }
}

type Answer = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;

/// Serves every connection accepted on a loopback port with `service`; the drain handle
/// starts the drain for all of them.
async fn server<S, F, B>(settings: Settings, service: S) -> (SocketAddr, Drain)
where
    S: FnMut(Request<AppBody>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<B>> + Send,
    B: RequestBody + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (drain, watch) = Drain::new();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (settings, service, watch) = (settings.clone(), service.clone(), watch.clone());
            let metrics = Arc::new(Metrics::default());
            let io = PrefixedIo::new(
                Bytes::new(),
                MeteredIo::new(stream, metrics, Direction::Outbound),
            );
            tokio::spawn(async move {
                let _ = serve(Io::Plain(io), &settings, &watch, Instant::now(), service).await;
            });
        }
    });
    (addr, drain)
}

/// Answers with the request body, and its head in `x-` fields: method, target, version,
/// body length, the value of an `x-sum` trailer.
fn echo(req: Request<AppBody>) -> Answer {
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let collected = body.collect().await.unwrap();
        let sum = collected
            .trailers()
            .and_then(|t| t.get("x-sum"))
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = collected.to_bytes();
        Response::builder()
            .header("x-method", parts.method.as_str())
            .header("x-target", parts.uri.to_string())
            .header("x-version", format!("{:?}", parts.version))
            .header("x-len", body.len())
            .header("x-sum", sum)
            .body(Full::new(body))
            .unwrap()
    })
}

struct Client {
    stream: BufReader<TcpStream>,
}

/// A response as read off the wire: the head's text and the decoded body.
#[derive(Debug)]
struct Answered {
    head: String,
    body: Vec<u8>,
}

impl Answered {
    fn status(&self) -> &str {
        &self.head[9..12]
    }

    /// The value of a header field (names compared lowercased), if present.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, self.stream.read_line(&mut line))
            .await
            .expect("the server answers in time")
            .unwrap();
        assert_ne!(n, 0, "the server closed the connection in a response");
        line
    }

    /// One response (1xx heads included as responses of their own); `head_request`: the
    /// body is not read.
    async fn response(&mut self, head_request: bool) -> Answered {
        let mut head = String::new();
        loop {
            let line = self.line().await;
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut answered = Answered {
            head,
            body: Vec::new(),
        };
        let status: u16 = answered.status().parse().unwrap();
        if head_request || status < 200 || status == 204 || status == 304 {
            return answered;
        }
        if let Some(n) = answered.header("content-length") {
            let mut body = vec![0; n.parse().unwrap()];
            self.stream.read_exact(&mut body).await.unwrap();
            answered.body = body;
        } else if answered.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(self.line().await.trim(), 16).unwrap();
                if size == 0 {
                    while self.line().await != "\r\n" {}
                    break;
                }
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await.unwrap();
                answered.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            self.stream.read_to_end(&mut answered.body).await.unwrap();
        }
        answered
    }

    /// Everything the server sends until it closes the connection (within the patience).
    async fn rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the connection stayed open");
        rest
    }

    /// Whether the server closed the connection (within the patience) with nothing more sent.
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut rest)).await {
            Ok(Ok(_)) => rest.is_empty(),
            Ok(Err(_)) => true,
            Err(_) => false,
        }
    }
}

#[tokio::test]
async fn keep_alive_carries_get_and_content_length_and_chunked_posts_with_trailers() {
    let (addr, _drain) = server(settings(), echo).await;
    let mut client = Client::connect(addr).await;

    client
        .send(b"GET /a?b=c HTTP/1.1\r\nhost: api\r\n\r\n")
        .await;
    let get = client.response(false).await;
    assert_eq!(get.status(), "200", "{get:?}");
    assert_eq!(get.header("x-method"), Some("GET"));
    assert_eq!(get.header("x-target"), Some("/a?b=c"));
    assert_eq!(get.header("x-version"), Some("HTTP/1.1"));
    assert_eq!(get.header("content-length"), Some("0"));
    assert_eq!(get.header("date").map(str::len), Some(29), "{get:?}");
    assert_eq!(get.header("connection"), None);

    client
        .send(b"POST /p HTTP/1.1\r\nhost: api\r\ncontent-length: 5\r\n\r\nhello")
        .await;
    let post = client.response(false).await;
    assert_eq!(post.header("x-len"), Some("5"));
    assert_eq!(post.body, b"hello");

    client
        .send(
            b"POST /c HTTP/1.1\r\nhost: api\r\ntransfer-encoding: chunked\r\n\r\n\
              3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nx-sum: 7\r\n\r\n",
        )
        .await;
    let chunked = client.response(false).await;
    assert_eq!(chunked.body, b"abcdefg");
    assert_eq!(chunked.header("x-sum"), Some("7"));
}

/// HTTP/1.0 needs no Host; framing fields in trailers are refused with a 400 whatever the
/// forwarding answered (here a 502 for the failed body), and the connection closes.
#[tokio::test]
async fn framing_in_trailers_is_refused_and_http10_needs_no_host() {
    let service = |req: Request<AppBody>| -> Answer {
        Box::pin(async move {
            let status = match req.into_body().collect().await {
                Ok(_) => StatusCode::OK,
                Err(_) => StatusCode::BAD_GATEWAY,
            };
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()))
                .unwrap()
        })
    };
    let (addr, _drain) = server(settings(), service).await;
    let mut client = Client::connect(addr).await;
    client.send(b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(client.response(false).await.status(), "200");
    for trailer in ["transfer-encoding: chunked", "content-length: 3"] {
        let mut client = Client::connect(addr).await;
        let request = format!(
            "POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n\
             3\r\nabc\r\n0\r\n{trailer}\r\n\r\n"
        );
        client.send(request.as_bytes()).await;
        let answered = client.response(false).await;
        assert_eq!(answered.status(), "400", "{trailer}: {answered:?}");
        assert_eq!(
            answered.header("x-meshctl-proxy-error"),
            Some("transfer-encoding or content-length in trailers")
        );
        assert!(
            client.closed().await,
            "{trailer}: the connection stays open"
        );
    }
    // An ordinary trailer still passes.
    let mut client = Client::connect(addr).await;
    client
        .send(b"POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-sum: 1\r\n\r\n")
        .await;
    assert_eq!(client.response(false).await.status(), "200");
}

#[tokio::test]
async fn a_large_body_arrives_whole_and_in_order() {
    let (addr, _drain) = server(settings(), echo).await;
    let mut client = Client::connect(addr).await;
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let head = format!(
        "PUT /big HTTP/1.1\r\nhost: api\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    client.send(head.as_bytes()).await;
    client.send(&body).await;
    let answered = client.response(false).await;
    assert_eq!(answered.header("x-len"), Some("1000000"));
    assert!(answered.body == body, "the echoed body differs");
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (addr, _drain) = server(settings(), echo).await;
    let mut client = Client::connect(addr).await;
    client
        .send(
            b"POST /1 HTTP/1.1\r\nhost: api\r\ncontent-length: 3\r\n\r\none\
              GET /2 HTTP/1.1\r\nhost: api\r\n\r\n\
              POST /3 HTTP/1.1\r\nhost: api\r\ntransfer-encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n",
        )
        .await;
    for (target, body) in [("/1", &b"one"[..]), ("/2", b""), ("/3", b"three")] {
        let answered = client.response(false).await;
        assert_eq!(answered.header("x-target"), Some(target), "{answered:?}");
        assert_eq!(answered.body, body);
    }
}

/// A body kept past its end reads nothing of the next request's body.
#[tokio::test]
async fn a_body_kept_past_its_request_reads_nothing_of_the_next() {
    let kept: Arc<Mutex<Option<AppBody>>> = Arc::default();
    let service = {
        let kept = kept.clone();
        move |req: Request<AppBody>| -> Answer {
            let kept = kept.clone();
            Box::pin(async move {
                let mut body = req.into_body();
                let stale = kept.lock().unwrap().take();
                let stale = match stale {
                    Some(mut stale) => {
                        assert!(stale.is_end_stream());
                        stale.frame().await.is_none()
                    }
                    None => true,
                };
                let mut read = Vec::new();
                while let Some(frame) = body.frame().await {
                    read.extend_from_slice(&frame.unwrap().into_data().unwrap());
                }
                *kept.lock().unwrap() = Some(body);
                let text = format!("{read:?} stale-empty={stale}");
                Response::new(Full::new(Bytes::from(text)))
            })
        }
    };
    let (addr, _drain) = server(settings(), service).await;
    let mut client = Client::connect(addr).await;
    client
        .send(b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\nab")
        .await;
    assert_eq!(
        client.response(false).await.body,
        b"[97, 98] stale-empty=true"
    );
    client
        .send(b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\ncd")
        .await;
    assert_eq!(
        client.response(false).await.body,
        b"[99, 100] stale-empty=true"
    );
}

#[tokio::test]
async fn expect_100_continue_is_answered_when_the_body_is_read() {
    let (addr, _drain) = server(settings(), echo).await;
    let mut client = Client::connect(addr).await;
    client
        .send(b"POST /e HTTP/1.1\r\nhost: api\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n")
        .await;
    let interim = client.response(false).await;
    assert_eq!(interim.head, "HTTP/1.1 100 Continue\r\n");
    client.send(b"body").await;
    let answered = client.response(false).await;
    assert_eq!(answered.status(), "200");
    assert_eq!(answered.body, b"body");
    // The connection goes on.
    client.send(b"GET /next HTTP/1.1\r\nhost: t\r\n\r\n").await;
    assert_eq!(
        client.response(false).await.header("x-target"),
        Some("/next")
    );
}

/// A response that does not wait for the body goes without `100 Continue`, and the
/// connection, whose body was never read, closes after it.
#[tokio::test]
async fn a_response_before_the_body_skips_100_continue_and_closes() {
    let refuse = |_req: Request<AppBody>| -> Answer {
        Box::pin(async {
            let mut response = Response::new(Full::new(Bytes::from_static(b"no")));
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        })
    };
    let (addr, _drain) = server(settings(), refuse).await;
    let mut client = Client::connect(addr).await;
    client
        .send(b"POST / HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n")
        .await;
    let answered = client.response(false).await;
    assert_eq!(answered.status(), "403", "{answered:?}");
    assert_eq!(answered.body, b"no");
    assert!(client.closed().await);
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_status_and_the_connection_closes() {
    let called = Arc::new(AtomicUsize::new(0));
    let service = {
        let called = called.clone();
        move |req: Request<AppBody>| -> Answer {
            called.fetch_add(1, Ordering::SeqCst);
            echo(req)
        }
    };
    let limits = Settings {
        max_headers: 4,
        max_head_bytes: 1024,
        ..settings()
    };
    let (addr, _drain) = server(limits, service).await;
    let long = format!(
        "GET / HTTP/1.1\r\nhost: t\r\nx-long: {}\r\n\r\n",
        "a".repeat(2000)
    );
    let cases: [(&[u8], &str, &str); 13] = [
        (
            b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
            "400",
            "more than one host header",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", "400", "missing host header"),
        (
            b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 3, 3\r\n\r\nabc",
            "400",
            "content-length is a list",
        ),
        (
            b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\nabc",
            "400",
            "content-length is a list",
        ),
        (
            b"GET / HTTP/1.1\r\nhost: t\r\nbad header\r\n\r\n",
            "400",
            "malformed request head",
        ),
        (
            b"GET / HTTP/1.1\r\nhost: t\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n",
            "431",
            "too many header fields",
        ),
        (long.as_bytes(), "431", "request head too large"),
        (
            b"POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            "400",
            "both transfer-encoding and content-length",
        ),
        (
            b"POST / HTTP/1.1\r\nhost: t\r\ntransfer-encoding: gzip\r\n\r\n",
            "501",
            "unsupported transfer-encoding",
        ),
        (
            b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            "400",
            "transfer-encoding in an HTTP/1.0 request",
        ),
        (
            b"POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 1, 2\r\n\r\n",
            "400",
            "content-length is a list",
        ),
        (
            b"CONNECT api:443 HTTP/1.1\r\nhost: api:443\r\n\r\n",
            "501",
            "CONNECT is not proxied",
        ),
        (
            b"GET /a b HTTP/1.1\r\nhost: t\r\n\r\n",
            "400",
            "malformed request head",
        ),
    ];
    for (request, status, reason) in cases {
        let mut client = Client::connect(addr).await;
        client.send(request).await;
        let answered = client.response(false).await;
        assert_eq!(answered.status(), status, "{answered:?}");
        assert_eq!(answered.header("x-meshctl-proxy-error"), Some(reason));
        assert_eq!(answered.header("connection"), Some("close"));
        assert!(client.closed().await, "{reason}: the connection stays open");
    }
    assert_eq!(
        called.load(Ordering::SeqCst),
        0,
        "a refused request reached the service"
    );
}

/// Answers with the body (and head) the request's `x-answer` names.
fn framed(req: Request<AppBody>) -> Answer {
    Box::pin(async move {
        let answer = req
            .headers()
            .get("x-answer")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let mut response = Response::new(Full::new(Bytes::from_static(b"12345")));
        match answer.as_str() {
            "no-content" => *response.status_mut() = StatusCode::NO_CONTENT,
            "declared" => {
                response
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    })
}

#[tokio::test]
async fn responses_are_framed_for_head_204_and_http_1_0() {
    let (addr, _drain) = server(settings(), framed).await;
    let mut client = Client::connect(addr).await;

    client
        .send(b"HEAD / HTTP/1.1\r\nhost: t\r\nx-answer: declared\r\n\r\n")
        .await;
    let head = client.response(true).await;
    assert_eq!(head.header("content-length"), Some("5"), "{head:?}");
    client
        .send(b"GET / HTTP/1.1\r\nhost: t\r\nx-answer: no-content\r\n\r\n")
        .await;
    let empty = client.response(false).await;
    assert_eq!(empty.status(), "204");
    assert_eq!(empty.header("content-length"), None, "{empty:?}");
    // Nothing of either body was sent: the next response starts right here.
    client
        .send(b"GET / HTTP/1.1\r\nhost: t\r\nx-answer: body\r\n\r\n")
        .await;
    assert_eq!(client.response(false).await.body, b"12345");

    // HTTP/1.0: answered in kind; kept only when asked.
    client
        .send(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\nx-answer: body\r\n\r\n")
        .await;
    let kept = client.response(false).await;
    assert!(kept.head.starts_with("HTTP/1.0 200 OK\r\n"), "{kept:?}");
    assert_eq!(kept.header("connection"), Some("keep-alive"));
    client
        .send(b"GET / HTTP/1.0\r\nx-answer: body\r\n\r\n")
        .await;
    let last = client.response(false).await;
    assert_eq!(last.header("connection"), Some("close"));
    assert_eq!(last.body, b"12345");
    assert!(client.closed().await);
}

/// A body of unknown length: chunked to HTTP/1.1, until the close to HTTP/1.0.
#[tokio::test]
async fn an_unknown_length_body_is_chunked_or_ends_with_the_connection() {
    let streamed = |_req: Request<AppBody>| {
        let frames = [
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"ab"))),
            Ok(Frame::data(Bytes::from_static(b"cd"))),
        ];
        let body = StreamBody::new(stream::iter(frames));
        Box::pin(async move { Response::new(body) })
    };
    let (addr, _drain) = server(settings(), streamed).await;

    let mut client = Client::connect(addr).await;
    client.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let chunked = client.response(false).await;
    assert_eq!(
        chunked.header("transfer-encoding"),
        Some("chunked"),
        "{chunked:?}"
    );
    assert_eq!(chunked.body, b"abcd");

    client
        .send(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        .await;
    let until_close = client.response(false).await;
    assert_eq!(
        until_close.header("connection"),
        Some("close"),
        "{until_close:?}"
    );
    assert_eq!(until_close.body, b"abcd");
}

#[tokio::test]
async fn a_client_asking_to_close_gets_the_answer_then_the_close() {
    let (addr, _drain) = server(settings(), echo).await;
    let mut client = Client::connect(addr).await;
    client
        .send(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .await;
    let answered = client.response(false).await;
    assert_eq!(answered.header("connection"), Some("close"));
    assert!(client.closed().await);
}

#[tokio::test]
async fn a_head_not_complete_within_the_timeout_closes_the_connection() {
    let quick = Settings {
        header_read_timeout: Duration::from_millis(200),
        ..settings()
    };
    let (addr, _drain) = server(quick, echo).await;
    let mut partial = Client::connect(addr).await;
    partial.send(b"GET / HTTP/1.1\r\nhost: a").await;
    let mut idle = Client::connect(addr).await;
    idle.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    idle.response(false).await;
    let start = Instant::now();
    assert!(partial.closed().await, "no answer to a partial head");
    assert!(
        idle.closed().await,
        "an idle keep-alive connection is closed too"
    );
    assert!(start.elapsed() < PATIENCE);
}

/// The client closes its side while its request waits: the request's future is dropped.
#[tokio::test]
async fn a_client_gone_mid_request_cancels_it() {
    let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
    let dropped_tx = Arc::new(Mutex::new(Some(dropped_tx)));
    let hang = move |_req: Request<AppBody>| -> Answer {
        struct Guard(Option<oneshot::Sender<()>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let guard = Guard(dropped_tx.lock().unwrap().take());
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    };
    let (addr, _drain) = server(settings(), hang).await;
    let mut client = Client::connect(addr).await;
    client.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.stream.get_mut().shutdown().await.unwrap();
    let cancelled = tokio::time::timeout(PATIENCE, dropped_rx).await;
    assert!(
        matches!(cancelled, Ok(Ok(()))),
        "the request was not cancelled"
    );
}

/// Answers with `body` under a `content-length` that may not match it.
fn declaring(
    length: &'static str,
    body: &'static [u8],
) -> impl Fn(Request<AppBody>) -> Answer + Clone {
    move |_req| {
        Box::pin(async move {
            let mut response = Response::new(Full::new(Bytes::from_static(body)));
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static(length));
            response
        })
    }
}

/// A body shorter than the Content-Length it came with: the connection closes so the
/// client sees the response cut short (never the next response's bytes as this one's).
#[tokio::test]
async fn a_body_shorter_than_its_content_length_closes_the_connection() {
    let (addr, _drain) = server(settings(), declaring("10", b"abc")).await;
    let mut client = Client::connect(addr).await;
    client.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    while client.line().await != "\r\n" {}
    assert_eq!(client.rest().await, b"abc");
}

/// A body longer than its Content-Length is not sent (the rest would be read as the next
/// response): the connection closes instead.
#[tokio::test]
async fn a_body_longer_than_its_content_length_is_not_sent() {
    let (addr, _drain) = server(settings(), declaring("2", b"ab-smuggled")).await;
    let mut client = Client::connect(addr).await;
    client
        .send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\nGET / HTTP/1.1\r\nhost: t\r\n\r\n")
        .await;
    let text = String::from_utf8_lossy(&client.rest().await).into_owned();
    assert!(!text.contains("smuggled"), "{text}");
}

/// At the drain: an idle connection's next request (within the grace) is answered with
/// `connection: close`; a connection that sends nothing is closed once the grace is over.
#[tokio::test]
async fn the_drain_answers_one_more_request_then_closes_idle_connections() {
    let (addr, drain) = server(settings(), echo).await;
    let mut active = Client::connect(addr).await;
    active.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    assert_eq!(active.response(false).await.header("connection"), None);
    let mut idle = Client::connect(addr).await;
    idle.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    idle.response(false).await;

    tokio::spawn(drain.drain(PATIENCE));
    tokio::time::sleep(Duration::from_millis(200)).await;
    active.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let last = active.response(false).await;
    assert_eq!(last.status(), "200");
    assert_eq!(last.header("connection"), Some("close"));
    assert!(active.closed().await);
    let start = Instant::now();
    assert!(idle.closed().await);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "closed before the grace"
    );
}
