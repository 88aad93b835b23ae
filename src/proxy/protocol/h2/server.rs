//! The proxies' HTTP/2 server — mTLS peers on the inbound side, h2c apps on the outbound —
//! driven with `h2` directly, as the client side is (`peer/mux.rs`).
//!
//! hyper's server wrapped every stream in its own state machine, spawned through an
//! executor, converted the request body into its `Incoming` (timestamping every frame for
//! its keep-alive) and piped the response body from yet another layer. Here the connection's
//! task accepts streams and spawns one task per stream ([`StreamTask`]): it awaits the
//! service's response while watching for the client's reset (which cancels the request),
//! sends the head and then the body itself. What hyper did beside that is done here too:
//! the connection limits and the Rapid Reset budgets, PING keep-alive, `content-length` on
//! a response whose body's length is known, `date` where the response has none, a graceful
//! GOAWAY on drain. Stricter: `CONNECT` is answered 501 (it was never a tunnel), as the
//! HTTP/1.1 server does.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::server::{self, SendResponse};
use h2::{Ping, Reason, SendStream};
use http::header::{CONTENT_LENGTH, DATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Body;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::proxy::config::Limits;
use crate::proxy::limits;
use crate::proxy::protocol::drain::DrainWatch;
use crate::proxy::protocol::h1::server as h1server;
use crate::proxy::protocol::h2::stream::{self as h2stream, BoxError, H2Body, StallFired};
use crate::proxy::protocol::http as proxy_http;
use crate::proxy::telemetry::limit_metrics::{ConnectionLimit, LimitCounters};
use crate::proxy::telemetry::metrics::Direction;

/// How the server treats its connections, from the configured limits.
#[derive(Debug, Clone)]
pub struct Settings {
    builder: server::Builder,
    /// How long a connection may take to send the HTTP/2 preface and SETTINGS, and its
    /// first request's HEADERS (from the connection's accept).
    preface_timeout: Duration,
    keep_alive_interval: Duration,
    keep_alive_timeout: Duration,
    /// How long a request body may make no progress (not gRPC ones), see
    /// [`limits::DEFAULT_BODY_READ_TIMEOUT`].
    body_read_timeout: Duration,
    counters: Arc<LimitCounters>,
}

impl Settings {
    pub fn new(limits: &Limits) -> Self {
        let mut builder = server::Builder::new();
        builder
            .max_concurrent_streams(limits.h2_max_concurrent_streams)
            .max_pending_accept_reset_streams(limits::H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
            .max_local_error_reset_streams(Some(limits::H2_MAX_LOCAL_ERROR_RESET_STREAMS))
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .initial_window_size(limits::H2_STREAM_WINDOW)
            .initial_connection_window_size(limits::H2_CONNECTION_WINDOW)
            .max_send_buffer_size(limits::H2_SERVER_MAX_SEND_BUFFER);
        Settings {
            builder,
            preface_timeout: limits.header_read_timeout,
            keep_alive_interval: limits::H2_KEEPALIVE_INTERVAL,
            keep_alive_timeout: limits::H2_KEEPALIVE_TIMEOUT,
            body_read_timeout: limits.body_read_timeout,
            counters: Arc::default(),
        }
    }

    /// Counts into `counters` (the proxy's metrics) instead of a private set.
    pub fn counting(mut self, counters: Arc<LimitCounters>) -> Self {
        self.counters = counters;
        self
    }
}

/// Serves one HTTP/2 connection until it ends: each request goes to `service` on a task of
/// its own. Once `watch` signals the drain, the client gets a GOAWAY and the open streams
/// finish (GOAWAY tells the client which streams were taken, so no grace period is needed).
/// The client is pinged every keep-alive interval, and the connection closed when an answer
/// takes longer than the keep-alive timeout. The preface and the first request's HEADERS
/// are due within the header read timeout from `accepted`; a request body that stalls for
/// the body read timeout is answered 408. What these limits close is counted as
/// `direction`.
pub async fn serve<T, S, F, B>(
    io: T,
    settings: &Settings,
    watch: &mut DrainWatch,
    (direction, accepted): (Direction, Instant),
    mut service: S,
) -> Result<(), BoxError>
where
    T: AsyncRead + AsyncWrite + Unpin,
    S: FnMut(Request<H2Body>) -> F,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let handshake = settings.builder.handshake::<T, Bytes>(io);
    let first_request_by = accepted + settings.preface_timeout;
    let mut conn = match tokio::time::timeout_at(first_request_by, handshake).await {
        Ok(conn) => conn?,
        Err(_) => {
            (settings.counters).connection(direction, ConnectionLimit::HeaderTimeout);
            return Err("no HTTP/2 preface in time".into());
        }
    };
    // Until the first request's HEADERS: a connection that only opened is closed then.
    let mut first_request = pin!(tokio::time::sleep_until(first_request_by));
    let mut waiting_first = true;
    let mut ping_pong = conn.ping_pong();
    let mut timer = pin!(tokio::time::sleep(settings.keep_alive_interval));
    let mut awaiting_pong = false;
    let mut draining = watch.is_draining();
    if draining {
        conn.graceful_shutdown();
    }
    // Made once, not per loop: a fresh drain future would register with the watch for
    // every request.
    let mut signaled = pin!(watch.signaled());
    loop {
        tokio::select! {
            biased;
            accepted = conn.accept() => match accepted {
                Some(Ok((req, respond))) => {
                    waiting_first = false;
                    if req.method() == Method::CONNECT {
                        refuse_connect(respond);
                        continue;
                    }
                    let (parts, recv) = req.into_parts();
                    let mut body = H2Body::request(recv, &parts.headers);
                    // gRPC client and bidirectional streams go quiet between messages.
                    let stalled = (!body.is_end_stream() && !proxy_http::is_grpc(&parts.headers))
                        .then(|| {
                            let counters = settings.counters.clone();
                            body.stall_after(settings.body_read_timeout, counters, direction)
                        });
                    let head_only = parts.method == Method::HEAD;
                    let response = service(Request::from_parts(parts, body));
                    tokio::spawn(StreamTask::new(response, respond, head_only, stalled));
                }
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            () = &mut first_request, if waiting_first => {
                (settings.counters).connection(direction, ConnectionLimit::HeaderTimeout);
                return Err("no request HEADERS within the header read timeout".into());
            }
            () = &mut signaled, if !draining => {
                draining = true;
                conn.graceful_shutdown();
            }
            () = &mut timer, if ping_pong.is_some() => {
                if awaiting_pong {
                    return Err("client did not answer a keep-alive PING in time".into());
                }
                if let Some(ping_pong) = &mut ping_pong {
                    ping_pong.send_ping(Ping::opaque())?;
                }
                awaiting_pong = true;
                timer.as_mut().reset(Instant::now() + settings.keep_alive_timeout);
            }
            pong = poll_fn(|cx| match &mut ping_pong {
                Some(ping_pong) => ping_pong.poll_pong(cx),
                None => Poll::Pending,
            }), if awaiting_pong => {
                pong?;
                awaiting_pong = false;
                timer.as_mut().reset(Instant::now() + settings.keep_alive_interval);
            }
        }
    }
}

/// `CONNECT` asks for a tunnel, which the proxies do not offer.
fn refuse_connect(mut respond: SendResponse<Bytes>) {
    let reason = "CONNECT is not proxied";
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::NOT_IMPLEMENTED;
    let headers = response.headers_mut();
    headers.insert(proxy_http::PROXY_ERROR, HeaderValue::from_static(reason));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
    if let Err(e) = respond.send_response(response, true) {
        tracing::debug!(error = %e, "refusing a CONNECT stream failed");
    }
}

pin_project_lite::pin_project! {
    /// One stream's task: awaits the response (dropping it if the client resets the stream
    /// first), sends its head, then its body.
    struct StreamTask<F, B> {
        #[pin]
        response: F,
        respond: Option<SendResponse<Bytes>>,
        sending: Option<(B, SendStream<Bytes>)>,
        head_only: bool,
        // Set when the request body stalled: the answer is a 408.
        stalled: Option<Arc<StallFired>>,
    }
}

impl<F, B> StreamTask<F, B> {
    fn new(
        response: F,
        respond: SendResponse<Bytes>,
        head_only: bool,
        stalled: Option<Arc<StallFired>>,
    ) -> Self {
        StreamTask {
            response,
            respond: Some(respond),
            sending: None,
            head_only,
            stalled,
        }
    }
}

impl<F, B> Future for StreamTask<F, B>
where
    F: Future<Output = Response<B>>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if let Some(respond) = this.respond {
            let Poll::Ready(response) = this.response.as_mut().poll(cx) else {
                // The client gave up on the request: dropping the task cancels it.
                if respond.poll_reset(cx).is_ready() {
                    return Poll::Ready(());
                }
                return Poll::Pending;
            };
            if this.stalled.as_ref().is_some_and(|s| s.fired()) {
                // Whatever the forwarding made of the failed body (a 502 for the peer's
                // reset), the client's body is what failed.
                refuse_stalled(respond);
                *this.respond = None;
                return Poll::Ready(());
            }
            let (mut head, body) = response.into_parts();
            complete_head(&mut head, &body, *this.head_only);
            let end_of_stream = body.is_end_stream();
            let sent = respond.send_response(Response::from_parts(head, ()), end_of_stream);
            *this.respond = None;
            match sent {
                Ok(stream) if !end_of_stream => *this.sending = Some((body, stream)),
                Ok(_) => return Poll::Ready(()),
                Err(e) => {
                    tracing::debug!(error = %e, "sending a response head failed");
                    return Poll::Ready(());
                }
            }
        }
        if let Some((body, stream)) = this.sending {
            if let Err(e) = ready!(h2stream::poll_pump(body, stream, cx)) {
                tracing::debug!(error = %e, "response body ended early");
                stream.send_reset(Reason::CANCEL);
            }
            *this.sending = None;
        }
        Poll::Ready(())
    }
}

/// A request whose body stalled for the body read timeout: 408, no body.
fn refuse_stalled(respond: &mut SendResponse<Bytes>) {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        proxy_http::PROXY_ERROR,
        HeaderValue::from_static(h1server::BODY_TIMED_OUT),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
    if let Err(e) = respond.send_response(response, true) {
        tracing::debug!(error = %e, "answering a stalled request failed");
    }
}

/// What the client is owed beyond what the service wrote: `content-length` when the body's
/// length is known (not where the response has no body by definition: a HEAD answer's
/// length is the GET's, and RFC 9110 §8.6 forbids one on 1xx and 204), and `date` (RFC 9110
/// §6.6.1: a proxy adds one where the origin did not).
fn complete_head(head: &mut http::response::Parts, body: &impl Body, head_only: bool) {
    if let Some(len) = body.size_hint().exact()
        && !proxy_http::bodiless_response(head_only, head.status)
        && !head.headers.contains_key(CONTENT_LENGTH)
    {
        head.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    if !head.headers.contains_key(DATE)
        && let Ok(date) = HeaderValue::from_bytes(&h1server::http_date())
    {
        head.headers.insert(DATE, date);
    }
}

#[cfg(test)]
mod tests;
