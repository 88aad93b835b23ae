//! Protocol detection on a plaintext listener: HTTP/2 preface → h2c, an HTTP/1 method token
//! → HTTP/1, anything else (or nothing within the timeout) → opaque TCP; an HTTP start left
//! unfinished is an error (see [`detect_within`]).
//!
//! Detection reads at most [`MAX_DETECT_BYTES`]; the bytes read are replayed to whichever
//! protocol handles the connection, so opaque TCP stays byte-exact.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::proxy::protocol::io::PrefixedIo;

/// What the first bytes of a connection say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Http1,
    H2c,
    Opaque,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// HTTP/1 request methods recognised (RFC 9110 + PATCH), each with its trailing space.
const HTTP1_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"CONNECT ",
];

/// Enough to hold the HTTP/2 preface, the longest prefix that decides.
pub const MAX_DETECT_BYTES: usize = H2_PREFACE.len();

/// Reads until the protocol is known, the peer stops sending for `timeout`, or EOF.
/// Returns the protocol and the stream with the bytes read put back in front.
pub async fn detect<T: AsyncRead + Unpin>(
    io: T,
    timeout: Duration,
) -> io::Result<(Detected, PrefixedIo<T>)> {
    detect_within(io, timeout, timeout).await
}

/// As [`detect`], except for a client whose bytes at `timeout` are the unfinished start of
/// an HTTP request (`GE`, `PRI * HT`): HTTP arriving slowly, not another protocol, so it is
/// given until `http_deadline` (from the start) to decide, and if it has not by then, the
/// result is an error of kind [`io::ErrorKind::TimedOut`] — the caller closes it instead
/// of carrying a trickle of bytes as opaque TCP. Silence at `timeout` is still opaque
/// (server-speaks-first protocols send nothing).
pub async fn detect_within<T: AsyncRead + Unpin>(
    mut io: T,
    timeout: Duration,
    http_deadline: Duration,
) -> io::Result<(Detected, PrefixedIo<T>)> {
    let mut buf = BytesMut::with_capacity(MAX_DETECT_BYTES);
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    let http_deadline = start + http_deadline.max(timeout);
    let detected = loop {
        if let Some(found) = classify(&buf) {
            break found;
        }
        // Undecided bytes are a prefix of an HTTP method or the HTTP/2 preface.
        let until = if buf.is_empty() {
            deadline
        } else {
            http_deadline
        };
        match tokio::time::timeout_at(until, io.read_buf(&mut buf)).await {
            Ok(Ok(0)) => break Detected::Opaque,
            Err(_) if buf.is_empty() => break Detected::Opaque,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "an HTTP request head started and was not finished in time",
                ));
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
    };
    Ok((detected, PrefixedIo::new(buf.freeze(), io)))
}

/// `None` while the bytes so far are a prefix of something that could still match.
fn classify(buf: &[u8]) -> Option<Detected> {
    if buf.is_empty() {
        return None;
    }
    if buf.starts_with(H2_PREFACE) {
        return Some(Detected::H2c);
    }
    if HTTP1_METHODS.iter().any(|m| buf.starts_with(m)) {
        return Some(Detected::Http1);
    }
    let undecided = |candidate: &[u8]| candidate.starts_with(buf);
    if undecided(H2_PREFACE) || HTTP1_METHODS.iter().any(|m| undecided(m)) {
        return None;
    }
    Some(Detected::Opaque)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn classifies_prefixes() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Detected::Http1));
        assert_eq!(
            classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0"),
            Some(Detected::H2c)
        );
        assert_eq!(classify(b"PR"), None);
        assert_eq!(classify(b"PO"), None);
        assert_eq!(classify(b"\x16\x03\x01"), Some(Detected::Opaque));
        assert_eq!(classify(b"GETX"), Some(Detected::Opaque));
    }

    #[tokio::test]
    async fn detected_bytes_are_replayed() {
        let input: &[u8] = b"POST /x HTTP/1.1\r\n\r\n";
        let (found, mut io) = detect(input, Duration::from_secs(1)).await.unwrap();
        assert_eq!(found, Detected::Http1);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, input);
    }

    #[tokio::test]
    async fn an_unfinished_http_method_is_given_until_the_http_deadline_then_refused() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GE")
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let found = detect_within(
            server,
            Duration::from_millis(20),
            Duration::from_millis(300),
        )
        .await
        .map(|(d, _)| d);
        let err = found.expect_err("an unfinished HTTP head is not opaque TCP");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn an_http_method_finished_after_the_detect_timeout_is_http() {
        let (mut client, server) = tokio::io::duplex(64);
        let detecting = tokio::spawn(detect_within(
            server,
            Duration::from_millis(20),
            Duration::from_secs(10),
        ));
        tokio::io::AsyncWriteExt::write_all(&mut client, b"PO")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::io::AsyncWriteExt::write_all(&mut client, b"ST /")
            .await
            .unwrap();
        let (found, _) = detecting.await.unwrap().unwrap();
        assert_eq!(found, Detected::Http1);
    }

    #[tokio::test]
    async fn silence_is_opaque() {
        let (client, _server) = tokio::io::duplex(64);
        let (found, _) = detect(client, Duration::from_millis(20)).await.unwrap();
        assert_eq!(found, Detected::Opaque);
    }
}
