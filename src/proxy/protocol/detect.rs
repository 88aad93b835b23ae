//! Protocol detection on a plaintext listener: HTTP/2 preface → h2c, an HTTP/1 method token
//! → HTTP/1, anything else (or nothing within the timeout) → opaque TCP.
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
    mut io: T,
    timeout: Duration,
) -> io::Result<(Detected, PrefixedIo<T>)> {
    let mut buf = BytesMut::with_capacity(MAX_DETECT_BYTES);
    let deadline = tokio::time::Instant::now() + timeout;
    let detected = loop {
        if let Some(found) = classify(&buf) {
            break found;
        }
        match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break Detected::Opaque,
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
    async fn silence_is_opaque() {
        let (client, _server) = tokio::io::duplex(64);
        let (found, _) = detect(client, Duration::from_millis(20)).await.unwrap();
        assert_eq!(found, Detected::Opaque);
    }
}
