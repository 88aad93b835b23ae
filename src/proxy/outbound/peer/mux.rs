//! The multiplexed HTTP/2 connection to a peer proxy, driven with `h2` directly.
//!
//! hyper's HTTP/2 client puts three hops on every request: the request goes over a channel
//! to the connection's dispatch task, a future spawned per request waits for the response,
//! and the response comes back over a oneshot. Here the request's own task opens the stream
//! and awaits the response; the only task besides the connection's is a request-body pump,
//! spawned for requests that have a body (a bodiless GET spawns nothing). What hyper did
//! beside that is done here too: PING keep-alive, flow-control capacity given back as the
//! response body is read, a `NO_ERROR`/`CANCEL` reset after the body ends treated as its
//! end, and `content-length` added to a request whose body's length is known.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use h2::client::{self, SendRequest};
use h2::{Ping, PingPong, Reason};
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Body;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proxy::limits;
use crate::proxy::protocol::cork::Driven;
use crate::proxy::protocol::h2::stream::{self as h2stream, H2Body};
use crate::proxy::protocol::http::BoxedRequest;

/// How often an HTTP/2 connection to a peer is pinged, and how long the answer may take
/// before the connection counts as dead.
#[derive(Debug, Clone, Copy)]
pub struct KeepAlive {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            interval: limits::H2_KEEPALIVE_INTERVAL,
            timeout: limits::H2_KEEPALIVE_TIMEOUT,
        }
    }
}

/// A handle on one HTTP/2 connection to a peer; clones share the connection.
#[derive(Debug, Clone)]
pub struct Mux {
    send: SendRequest<Bytes>,
    /// Set by the connection's task when the connection has ended.
    closed: Arc<AtomicBool>,
}

/// Why a request got no response on a connection.
#[derive(Debug)]
pub struct SendError {
    /// The request, when the connection was gone before any of it was sent.
    pub unsent: Option<BoxedRequest>,
    pub error: h2::Error,
}

impl SendError {
    /// The connection is done for: the request never left, or the failure was the
    /// connection's (a GOAWAY, an I/O or protocol error). A stream the peer reset leaves the
    /// connection to its other streams.
    pub fn ends_connection(&self) -> bool {
        self.unsent.is_some() || !self.error.is_reset()
    }
}

/// Runs the HTTP/2 handshake on `io` and spawns the connection's task, which pings the
/// peer every `keep_alive.interval` (idle or not: a dead peer is found before a request
/// needs it) and closes the connection when an answer takes longer than
/// `keep_alive.timeout`.
pub async fn handshake<T>(io: T, keep_alive: KeepAlive, peer: String) -> Result<Mux, h2::Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = client::Builder::new()
        .enable_push(false)
        .initial_max_send_streams(limits::H2_INITIAL_MAX_SEND_STREAMS)
        .max_send_buffer_size(limits::H2_MAX_SEND_BUFFER)
        .initial_window_size(limits::H2_STREAM_WINDOW)
        .initial_connection_window_size(limits::H2_CONNECTION_WINDOW)
        .max_local_error_reset_streams(Some(limits::H2_MAX_LOCAL_ERROR_RESET_STREAMS))
        // Response heads as large as the inbound proxy accepts from its clients.
        .max_header_list_size(u32::try_from(limits::DEFAULT_MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .handshake(io)
        .await?;
    let closed = Arc::new(AtomicBool::new(false));
    let ping_pong = connection.ping_pong();
    let ended = closed.clone();
    // Driven: the connection writes to a corked stream (`cork.rs`).
    tokio::spawn(Driven::new(async move {
        let outcome = match ping_pong {
            Some(ping_pong) => drive(&mut connection, ping_pong, keep_alive).await,
            None => (&mut connection).await,
        };
        ended.store(true, Ordering::Release);
        if let Err(e) = outcome {
            tracing::debug!(%peer, error = %e, "HTTP/2 connection to peer ended");
        }
    }));
    Ok(Mux { send, closed })
}

/// Runs `connection` until it ends, pinging the peer every `interval`.
async fn drive<T>(
    connection: &mut client::Connection<T, Bytes>,
    mut ping_pong: PingPong,
    keep_alive: KeepAlive,
) -> Result<(), h2::Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            biased;
            outcome = &mut *connection => return outcome,
            () = tokio::time::sleep(keep_alive.interval) => {}
        }
        let pong = tokio::time::timeout(keep_alive.timeout, ping_pong.ping(Ping::opaque()));
        tokio::select! {
            biased;
            outcome = &mut *connection => return outcome,
            answered = pong => match answered {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    tracing::debug!("peer did not answer a keep-alive PING in time");
                    return Err(h2::Error::from(Reason::NO_ERROR));
                }
            },
        }
    }
}

impl Mux {
    /// The connection has ended: requests on it would fail.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Both handles are on the same connection.
    pub fn same_connection(&self, other: &Mux) -> bool {
        Arc::ptr_eq(&self.closed, &other.closed)
    }

    /// Sends `req` on a new stream and waits for the response head. A request body is
    /// pumped by a task of its own, so it keeps flowing after the response head (gRPC
    /// streams both ways).
    pub async fn send(&self, req: BoxedRequest) -> Result<Response<H2Body>, SendError> {
        let mut send = match self.send.clone().ready().await {
            Ok(send) => send,
            Err(error) => {
                return Err(SendError {
                    unsent: Some(req),
                    error,
                });
            }
        };
        let response = start(&mut send, req).map_err(|error| SendError {
            unsent: None,
            error,
        })?;
        let response = response.await.map_err(|error| SendError {
            unsent: None,
            error,
        })?;
        let (parts, recv) = response.into_parts();
        let body = H2Body::response(recv, &parts.headers);
        Ok(Response::from_parts(parts, body))
    }
}

/// Opens the stream and sends the head; a body goes to a pump task. Not inlined into
/// `send`: its locals would stay in every request's future while the response is awaited.
fn start(
    send: &mut SendRequest<Bytes>,
    req: BoxedRequest,
) -> Result<client::ResponseFuture, h2::Error> {
    let (mut head, body) = (*req).into_parts();
    if let Some(len) = body.size_hint().exact()
        && (len != 0 || has_payload_semantics(&head.method))
        && !head.headers.contains_key(CONTENT_LENGTH)
    {
        head.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    let end_of_stream = body.is_end_stream();
    let (response, stream) = send.send_request(Request::from_parts(head, ()), end_of_stream)?;
    if !end_of_stream {
        tokio::spawn(h2stream::pump(body, stream));
    }
    Ok(response)
}

/// Methods whose request may carry a body with a meaning (RFC 9110 §9.3): a zero length is
/// worth stating for them.
fn has_payload_semantics(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::CONNECT
    )
}

#[cfg(test)]
mod tests;
