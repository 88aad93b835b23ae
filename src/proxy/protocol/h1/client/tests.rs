//! Tests of `proxy::exchange` against raw TCP apps on 127.0.0.1 that answer with bytes
//! written by hand, so every framing and reuse rule is seen on a real socket.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use http_body_util::{Empty, Full, StreamBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::*;

type Streamed = StreamBody<ReceiverStream<Result<Frame<Bytes>, Infallible>>>;

/// A raw TCP app: runs `script` on the first connection it accepts.
async fn app<F, Fut>(script: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        script(stream).await;
    });
    addr
}

/// Reads until `end` has arrived; everything read.
async fn read_until(stream: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0; 4096];
    while !seen.windows(end.len()).any(|w| w == end) {
        let n = stream.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "the proxy closed before sending {end:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    seen
}

/// The app answers each request head (read up to its blank line) with the next reply.
async fn replying(replies: Vec<&'static [u8]>) -> SocketAddr {
    app(move |mut stream| async move {
        for reply in replies {
            read_until(&mut stream, b"\r\n\r\n").await;
            stream.write_all(reply).await.unwrap();
        }
        // Hold the connection until the proxy closes it.
        let _ = stream.read(&mut [0; 1]).await;
    })
    .await
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "app")
        .body(Empty::new())
        .unwrap()
}

/// One exchange: the response head, its body (data and trailers) and what `finish`
/// returns (the connection for the next exchange, if reusable).
async fn exchange<B: RequestBody>(
    io: TcpStream,
    req: Request<B>,
) -> io::Result<(Response<()>, Bytes, Option<HeaderMap>, Option<TcpStream>)> {
    let mut ex = Exchange::start(io, BytesMut::new(), req);
    let (head, mut decoder) = std::future::poll_fn(|cx| ex.poll_head(cx)).await?;
    let (mut data, mut trailers) = (BytesMut::new(), None);
    while let Some(frame) = std::future::poll_fn(|cx| ex.poll_frame(&mut decoder, cx)).await {
        match frame?.into_data() {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let (io, _, reusable) = ex.finish(decoder);
    Ok((head, data.freeze(), trailers, reusable.then_some(io)))
}

#[tokio::test]
async fn chunked_response_with_extensions_and_trailers_then_the_connection_is_reused() {
    let addr = replying(vec![
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 42\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ])
    .await;
    let (head, body, trailers, io) = exchange(connect(addr).await, get("/")).await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(body, "hello world");
    assert_eq!(trailers.unwrap()["x-sum"], "42");
    let io = io.expect("a chunked response keeps the connection");

    let (_, body, trailers, io) = exchange(io, get("/")).await.unwrap();
    assert_eq!(body, "ok");
    assert!(
        trailers.is_none(),
        "an empty trailer section is no trailers frame"
    );
    assert!(io.is_some());
}

#[tokio::test]
async fn a_body_arriving_a_byte_at_a_time_is_decoded_whole() {
    let addr = app(|mut stream| async move {
        read_until(&mut stream, b"\r\n\r\n").await;
        let reply =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n";
        for byte in reply {
            stream.write_all(&[*byte]).await.unwrap();
            tokio::task::yield_now().await;
        }
        let _ = stream.read(&mut [0; 1]).await;
    })
    .await;
    let (_, body, _, io) = exchange(connect(addr).await, get("/")).await.unwrap();
    assert_eq!(body, "0123456789");
    assert!(io.is_some());
}

#[tokio::test]
async fn a_large_body_is_read_whole_and_the_connection_kept() {
    let body = vec![b'x'; 3 << 20];
    let expected = Bytes::from(body.clone());
    let addr = app(move |mut stream| async move {
        read_until(&mut stream, b"\r\n\r\n").await;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        let _ = stream.read(&mut [0; 1]).await;
    })
    .await;
    let (_, body, _, io) = exchange(connect(addr).await, get("/")).await.unwrap();
    assert_eq!(body.len(), expected.len());
    assert!(body == expected);
    assert!(io.is_some());
}

#[tokio::test]
async fn a_close_delimited_body_is_read_to_the_end_and_ends_the_connection() {
    let addr = app(|mut stream| async move {
        read_until(&mut stream, b"\r\n\r\n").await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\n\r\nall of it")
            .await
            .unwrap();
    })
    .await;
    let (_, body, _, io) = exchange(connect(addr).await, get("/")).await.unwrap();
    assert_eq!(body, "all of it");
    assert!(io.is_none());
}

#[tokio::test]
async fn head_204_and_304_have_no_body_and_keep_the_connection() {
    let addr = replying(vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    ])
    .await;
    let head = Request::head("/").body(Empty::<Bytes>::new()).unwrap();
    let (response, body, _, io) = exchange(connect(addr).await, head).await.unwrap();
    assert_eq!(response.headers()[CONTENT_LENGTH], "5");
    assert!(body.is_empty());
    let (response, _, _, io) = exchange(io.unwrap(), get("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (response, _, _, io) = exchange(io.unwrap(), get("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    let (_, body, _, io) = exchange(io.unwrap(), get("/")).await.unwrap();
    assert_eq!(
        body, "ok",
        "nothing of the earlier heads was taken for a body"
    );
    assert!(io.is_some());
}

#[tokio::test]
async fn informational_responses_are_skipped_and_101_is_an_error() {
    let addr = replying(vec![
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n",
    ])
    .await;
    let (response, body, _, io) = exchange(connect(addr).await, get("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(!response.headers().contains_key("link"));
    assert_eq!(body, "ok");
    let err = exchange(io.unwrap(), get("/")).await.unwrap_err();
    assert!(err.to_string().contains("switched protocols"), "{err}");
}

#[tokio::test]
async fn connection_close_and_http10_without_keep_alive_end_the_connection() {
    for (reply, reused) in [
        (&b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"[..], false),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\ncontent-length: 2\r\n\r\nok", false),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", false),
        (b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok", true),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA", false),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n", false),
    ] {
        let addr = replying(vec![reply]).await;
        let (_, body, _, io) = exchange(connect(addr).await, get("/")).await.unwrap();
        assert_eq!(body, "ok", "{}", String::from_utf8_lossy(reply));
        assert_eq!(io.is_some(), reused, "{}", String::from_utf8_lossy(reply));
    }
}

#[tokio::test]
async fn bad_heads_and_truncated_bodies_are_errors() {
    let oversized = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n",
            "a".repeat(limits::APP_RESPONSE_MAX_HEAD_BYTES)
        )
        .into_boxed_str(),
    )
    .as_bytes();
    for (reply, expected) in [
        (&b"HTTP/1.1 abc OK\r\n\r\n"[..], "malformed response head"),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
            "conflicting content-length",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "invalid content-length",
        ),
        (b"", "closed the connection without responding"),
        (
            b"HTTP/1.1 200 OK\r\ncontent-",
            "in the middle of a response head",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            "in the middle of a response body",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            "bad chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX",
            "no CRLF after a chunk",
        ),
        (oversized, "too large"),
    ] {
        let addr = app(move |mut stream| async move {
            read_until(&mut stream, b"\r\n\r\n").await;
            let _ = stream.write_all(reply).await;
        })
        .await;
        let err = exchange(connect(addr).await, get("/")).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

#[test]
fn a_chunked_body_is_done_with_its_last_data_when_the_terminator_is_there() {
    let mut decoder = Decoder::Chunked(Chunk::Size);
    let mut buf = BytesMut::from(&b"2\r\nok\r\n0\r\n"[..]);
    assert!(matches!(decoder.decode(&mut buf).unwrap(), Some(Step::Data(d)) if d == "ok"));
    assert!(!decoder.is_done(), "the trailer section has not arrived");
    assert!(decoder.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(b"\r\n");
    assert!(matches!(decoder.decode(&mut buf).unwrap(), Some(Step::End)));

    let mut decoder = Decoder::Chunked(Chunk::Size);
    let mut buf = BytesMut::from(&b"2\r\nok\r\n0\r\n\r\n"[..]);
    assert!(matches!(
        decoder.decode(&mut buf).unwrap(),
        Some(Step::Data(_))
    ));
    assert!(decoder.is_done(), "so hyper ends the stream with the data");
    assert!(buf.is_empty());
}

#[tokio::test]
async fn request_heads_say_how_their_body_is_framed() {
    let sent = |req: Request<Full<Bytes>>| {
        let mut out = BytesMut::new();
        let (parts, body) = req.into_parts();
        encode_head(&parts, &body, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    };
    let get = Request::get("/a?b=1")
        .header("host", "app")
        .body(Full::default());
    assert_eq!(
        sent(get.unwrap()),
        "GET /a?b=1 HTTP/1.1\r\nhost: app\r\n\r\n"
    );
    let empty_post = Request::post("/").body(Full::default()).unwrap();
    assert_eq!(
        sent(empty_post),
        "POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
    );
    let post = Request::post("/")
        .body(Full::new(Bytes::from_static(b"abc")))
        .unwrap();
    assert_eq!(sent(post), "POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\n");
    let declared = Request::put("/")
        .header("content-length", "3")
        .header("transfer-encoding", "chunked")
        .body(Full::new(Bytes::from_static(b"abc")))
        .unwrap();
    assert_eq!(
        sent(declared),
        "PUT / HTTP/1.1\r\ncontent-length: 3\r\n\r\n"
    );
}

#[tokio::test]
async fn a_streamed_body_goes_chunked_with_its_trailers() {
    let (tx, rx) = mpsc::channel(4);
    let body: Streamed = StreamBody::new(ReceiverStream::new(rx));
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let addr = app(move |mut stream| async move {
        let request = read_until(&mut stream, b"0\r\nx-check: 7\r\n\r\n").await;
        seen_tx.send(request).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let _ = stream.read(&mut [0; 1]).await;
    })
    .await;
    let req = Request::post("/up").body(body).unwrap();
    let sender = tokio::spawn(async move {
        tx.send(Ok(Frame::data(Bytes::from_static(b"abc"))))
            .await
            .unwrap();
        tx.send(Ok(Frame::data(Bytes::new()))).await.unwrap();
        tx.send(Ok(Frame::data(Bytes::from(vec![b'z'; 20]))))
            .await
            .unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-check", HeaderValue::from_static("7"));
        tx.send(Ok(Frame::trailers(trailers))).await.unwrap();
    });
    let (response, _, _, io) = exchange(connect(addr).await, req).await.unwrap();
    sender.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(io.is_some(), "all of the request was written");
    let request = String::from_utf8(seen.recv().await.unwrap()).unwrap();
    let expected = format!(
        "POST /up HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n14\r\n{}\r\n0\r\nx-check: 7\r\n\r\n",
        "z".repeat(20)
    );
    assert_eq!(
        request, expected,
        "the empty frame was not sent as a last chunk"
    );
}

#[tokio::test]
async fn an_early_answer_while_the_body_is_still_coming_ends_the_connection() {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
    let addr = app(|mut stream| async move {
        read_until(&mut stream, b"\r\n\r\n").await;
        stream
            .write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let _ = stream.read(&mut [0; 1]).await;
    })
    .await;
    let req = Request::post("/")
        .body(StreamBody::new(ReceiverStream::new(rx)))
        .unwrap();
    let (response, _, _, io) = exchange(connect(addr).await, req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(io.is_none(), "the rest of the body was never sent");
    drop(tx);
}
