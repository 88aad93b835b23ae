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

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::client::{self, SendRequest};
use h2::{Ping, PingPong, Reason, RecvStream, SendStream};
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};

use super::super::cork::Driven;
use super::super::http::{BoxedRequest, ProxyBody};
use super::super::limits;

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
    pub async fn send(&self, req: BoxedRequest) -> Result<Response<PeerBody>, SendError> {
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
        let content_length =
            (response.headers().get(CONTENT_LENGTH)).and_then(|v| v.to_str().ok()?.parse().ok());
        Ok(response.map(|recv| PeerBody {
            recv,
            content_length,
            data_done: false,
        }))
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
        tokio::spawn(pump(body, stream));
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

/// Sends `body` on `stream`: data as it comes (h2 queues it until the peer's window has
/// room), then trailers or the end of the stream. Stops when the peer resets the stream (it
/// may answer before reading the whole body); a failed body resets it with `CANCEL`.
async fn pump(mut body: ProxyBody, mut stream: SendStream<Bytes>) {
    if let Err(e) = poll_fn(|cx| poll_pump(&mut body, &mut stream, cx)).await {
        tracing::debug!(error = %e, "request body to peer ended early");
        stream.send_reset(Reason::CANCEL);
    }
}

fn poll_pump(
    body: &mut ProxyBody,
    stream: &mut SendStream<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Box<dyn std::error::Error + Send + Sync>>> {
    loop {
        // Room for at least one byte before taking the next chunk from the client, so a
        // peer that reads nothing holds back the client (h2 buffers the chunk itself).
        stream.reserve_capacity(1);
        if stream.capacity() == 0 {
            loop {
                match ready!(stream.poll_capacity(cx)) {
                    Some(Ok(0)) => {}
                    Some(Ok(_)) => break,
                    Some(Err(e)) => return Poll::Ready(Err(e.into())),
                    None => return Poll::Ready(Err("the peer closed the request stream".into())),
                }
            }
        } else if let Poll::Ready(reason) = stream.poll_reset(cx)? {
            return Poll::Ready(Err(h2::Error::from(reason).into()));
        }
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    stream.send_data(data, end)?;
                    if end {
                        return Poll::Ready(Ok(()));
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        stream.reserve_capacity(0);
                        stream.send_trailers(trailers)?;
                        return Poll::Ready(Ok(()));
                    }
                }
            },
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => {
                stream.reserve_capacity(0);
                stream.send_data(Bytes::new(), true)?;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// A response body from a peer proxy.
#[derive(Debug)]
pub struct PeerBody {
    recv: RecvStream,
    /// What `content-length` announced, less what has arrived.
    content_length: Option<u64>,
    data_done: bool,
}

impl Body for PeerBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = self.get_mut();
        if !this.data_done {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Read: the peer may send that much more.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    if let Some(left) = &mut this.content_length {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                // The peer ended the stream without an error after sending what it had.
                Some(Err(e)) if matches!(e.reason(), Some(Reason::NO_ERROR | Reason::CANCEL)) => {
                    return Poll::Ready(None);
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.data_done = true,
            }
        }
        match ready!(this.recv.poll_trailers(cx)) {
            Ok(trailers) => Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t)))),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.content_length
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

#[cfg(test)]
mod tests;
