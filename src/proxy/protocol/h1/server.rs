//! The outbound's HTTP/1.1 server: requests from the local app, one at a time per connection,
//! handed to the forwarding service as they arrive.
//!
//! Why not hyper's server connection: it kept an 8 KiB read buffer and an 8 KiB write buffer
//! for each open connection's whole life (hyper's `INIT_BUFFER_SIZE`, not configurable),
//! most of what the outbound held per keep-alive connection. Here a request head is read into
//! a per-thread scratch buffer and copied out at its exact size (its field values are slices
//! of that copy), and a response is written straight from its encoded head and its body's own
//! bytes: between requests a connection holds its socket and little else.
//!
//! The wire rules (RFC 9112):
//! - A request body is delimited by `transfer-encoding: chunked` (the only coding accepted;
//!   never beside Content-Length, never in HTTP/1.0) or Content-Length, else it is empty.
//!   Content-Length is one field with one value: a list (`3, 3`, or the field twice) is
//!   refused even when its values agree. Framing fields (Transfer-Encoding, Content-Length)
//!   in a trailer section are refused. Malformed heads, targets and framing are answered 400,
//!   oversized heads 431, other codings and CONNECT 501; the connection then closes.
//! - An HTTP/1.1 request carries exactly one Host field (RFC 9112 §3.2); none or several is
//!   answered 400 here, before anything leaves the app's side.
//! - `expect: 100-continue` is answered with `100 Continue` when the body is first read, and
//!   not at all if the response comes first.
//! - A response is framed by its Content-Length (the body must match it: a longer body is not
//!   sent past it, the connection closes instead), its body's known length, or chunked; for
//!   an HTTP/1.0 client, whose request gets an HTTP/1.0 response, by the connection's end.
//!   HEAD, 204 and 304 responses have no body.
//! - The connection persists unless either side asks to close (HTTP/1.0: unless the client
//!   asks to keep it), the drain has started, a body was not read or written to its end, or
//!   the response's length was wrong. Pipelined requests are answered in order.
//! - A client that closes its side while its request is in flight cancels the request (as
//!   hyper's server does without half-close support).
//! - The header read timeout runs from when the connection starts waiting for a request head
//!   (for the first, from the connection's accept; it also closes keep-alive connections
//!   idle that long), as in hyper. A request body that makes no progress for the body read
//!   timeout while it is read fails: the request is answered 408 and the connection closes.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, EXPECT, HOST, TRANSFER_ENCODING};
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version,
};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::proxy::config::Limits;
use crate::proxy::limits;
use crate::proxy::protocol::drain::DrainWatch;
use crate::proxy::protocol::h1::client::{
    self as exchange, CRLF, Chunk, Decoder, RequestBody, Step, Upload, UploadError,
};
use crate::proxy::protocol::http::{self as proxy_http, error_response};
use crate::proxy::protocol::io::{MeteredIo, PrefixedIo};
use crate::proxy::telemetry::limit_metrics::{ConnectionLimit, LimitCounters, RequestLimit};
use crate::proxy::telemetry::metrics::Direction;

/// A client connection after protocol detection: plaintext (an app on the outbound side, or
/// an external client of a plaintext gateway) or TLS-terminated (the gateway's TLS listener).
pub enum Io {
    Plain(PrefixedIo<MeteredIo<TcpStream>>),
    /// Boxed: the TLS state is large and rare beside the plaintext connections of sidecars.
    Tls(Box<tokio_rustls::server::TlsStream<MeteredIo<TcpStream>>>),
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Io::Plain(_) => "Io::Plain",
            Io::Tls(_) => "Io::Tls",
        })
    }
}

impl AsyncRead for Io {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(io) => io.is_write_vectored(),
            Io::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Heads with at most this many fields allowed are parsed with the field table on the stack.
const STACK_FIELDS: usize = 128;
/// The per-thread buffer each read of a request head goes to first.
const SCRATCH: usize = 8 * 1024;
/// Header fields a forwarded request may gain on its way.
const HEADROOM: usize = 4;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// Why a request whose body stalled for the body read timeout is refused.
pub const BODY_TIMED_OUT: &str = "request body timeout";
/// Why a request whose trailer section carries framing fields is refused.
const FRAMING_IN_TRAILERS: &str = "transfer-encoding or content-length in trailers";
/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
const DATE_LEN: usize = 29;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
    /// The Date value of the current second.
    static DATE_NOW: Cell<(u64, [u8; DATE_LEN])> = const { Cell::new((0, [b' '; DATE_LEN])) };
}

/// The server's limits (from the proxy's configured [`Limits`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// From when the connection starts waiting for a request head until it has all of it.
    pub header_read_timeout: Duration,
    pub max_headers: usize,
    pub max_head_bytes: usize,
    /// After the drain starts: how long an idle connection may still send one more request
    /// (answered with `connection: close`), see [`limits::HTTP1_DRAIN_GRACE`].
    pub drain_grace: Duration,
    /// How long a request body may make no progress, see
    /// [`limits::DEFAULT_BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// Where connections closed and requests failed by these limits are counted.
    pub counters: Arc<LimitCounters>,
}

impl Settings {
    pub fn new(limits: &Limits) -> Self {
        Settings {
            header_read_timeout: limits.header_read_timeout,
            max_headers: limits.max_headers,
            max_head_bytes: limits.max_header_bytes,
            drain_grace: limits::HTTP1_DRAIN_GRACE,
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

/// A request body from the app, read off its connection as it is polled (by whichever task
/// forwards it).
#[derive(Debug)]
pub struct AppBody {
    /// `None`: the request has no body.
    wire: Option<Arc<Mutex<Wire>>>,
    /// Which of the connection's requests this body belongs to: a body kept past its end must
    /// not read the next request's.
    request: u64,
}

/// The connection, shared by the server loop and the current request's body.
#[derive(Debug)]
struct Wire {
    io: Io,
    /// Bytes read and not yet consumed (empty, without an allocation, between requests whose
    /// heads arrived whole).
    buf: BytesMut,
    /// The current request's body.
    decoder: Decoder,
    /// Counts requests; see [`AppBody::request`].
    request: u64,
    read_size: usize,
    /// Bytes of `100 Continue` written so far, while one is owed.
    expect: Option<usize>,
    /// The body's task, waiting to write `100 Continue`: woken when the response goes first.
    waiting: Option<Waker>,
    /// Set when the current request's body turned out invalid (framing in its trailers: 400)
    /// or stalled (408): the request is answered so whatever the forwarding made of it.
    refused: Option<(StatusCode, &'static str)>,
    /// The body read timeout, armed while a body read waits for the client (kept for the
    /// body's life once first needed, dropped at its end).
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    stall_armed: bool,
    body_read_timeout: Duration,
    counters: Arc<LimitCounters>,
}

/// A request head as the service gets it, and what the connection needs to know about it.
#[derive(Debug)]
struct Head {
    request: Request<()>,
    decoder: Decoder,
    keep_alive: bool,
    expect_continue: bool,
}

#[derive(Debug)]
enum HeadError {
    /// Answered with this status and reason, then the connection closes.
    Refused(StatusCode, &'static str),
    Io(io::Error),
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (HEAD, 204, 304, or an empty one).
    Empty,
    Length(u64),
    Chunked,
    /// By closing the connection (HTTP/1.0, unknown length).
    Close,
}

/// What one read of a request head found.
// Lives for one poll; boxing the head would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Read {
    Head(Head),
    /// Part of a head: kept in the buffer.
    More,
    /// The client closed the connection before sending anything.
    Closed,
}

fn lock(wire: &Mutex<Wire>) -> MutexGuard<'_, Wire> {
    // Nothing panics while holding the lock; if something did, the bytes are still consistent.
    wire.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves the connection's requests until it closes, fails, or the drain ends it. `service`
/// answers each request (it cannot fail: errors are responses).
/// `accepted`: when the connection was accepted (the first head is due within the header
/// read timeout from then, protocol detection included).
pub async fn serve<S, F, B>(
    io: Io,
    settings: &Settings,
    watch: &DrainWatch,
    accepted: Instant,
    mut service: S,
) -> io::Result<()>
where
    S: FnMut(Request<AppBody>) -> F,
    F: Future<Output = Response<B>>,
    B: RequestBody,
{
    let wire = Arc::new(Mutex::new(Wire {
        io,
        buf: BytesMut::new(),
        decoder: Decoder::Done,
        request: 0,
        read_size: limits::APP_READ_BUFFER,
        expect: None,
        waiting: None,
        refused: None,
        stall: None,
        stall_armed: false,
        body_read_timeout: settings.body_read_timeout,
        counters: settings.counters.clone(),
    }));
    let result = serve_requests(&wire, settings, watch, accepted, &mut service).await;
    // Best effort: the client may be gone already.
    let _ = poll_fn(|cx| Pin::new(&mut WireWriter(&wire)).poll_shutdown(cx)).await;
    result
}

async fn serve_requests<S, F, B>(
    wire: &Arc<Mutex<Wire>>,
    settings: &Settings,
    watch: &DrainWatch,
    accepted: Instant,
    service: &mut S,
) -> io::Result<()>
where
    S: FnMut(Request<AppBody>) -> F,
    F: Future<Output = Response<B>>,
    B: RequestBody,
{
    // Set once the drain has started: when an idle connection closes.
    let mut closing_at: Option<Instant> = None;
    // One drain registration and one timer per connection, not per request.
    let mut drain = watch.clone();
    let mut signaled = pin!(drain.signaled());
    let mut timeout = pin!(tokio::time::sleep_until(
        accepted + settings.header_read_timeout
    ));
    let mut first = true;
    loop {
        if !first {
            timeout
                .as_mut()
                .reset(Instant::now() + settings.header_read_timeout);
        }
        let head = {
            let mut read = pin!(poll_fn(|cx| lock(wire).poll_head(cx, settings)));
            loop {
                let grace = async {
                    match closing_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    head = &mut read => break head,
                    () = &mut signaled, if closing_at.is_none() => {
                        closing_at = Some(Instant::now() + settings.drain_grace);
                    }
                    () = grace => return Ok(()),
                    () = &mut timeout => {
                        // Between requests with nothing of the next one: an idle keep-alive
                        // connection; otherwise a head that never arrived whole.
                        let idle = !first && lock(wire).buf.is_empty();
                        let why = if idle {
                            ConnectionLimit::IdleTimeout
                        } else {
                            ConnectionLimit::HeaderTimeout
                        };
                        settings.counters.connection(Direction::Outbound, why);
                        tracing::debug!(idle, "no request head within the header read timeout");
                        return Ok(());
                    }
                }
            }
        };
        first = false;
        let head = match head {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(HeadError::Io(e)) => return Err(e),
            Err(HeadError::Refused(status, reason)) => return refuse(wire, status, reason).await,
        };
        let Head {
            request,
            decoder,
            keep_alive,
            expect_continue,
        } = head;
        let version = request.version();
        let head_request = request.method() == Method::HEAD;
        let body = {
            let mut w = lock(wire);
            w.request += 1;
            if decoder.is_done() {
                AppBody {
                    wire: None,
                    request: w.request,
                }
            } else {
                w.decoder = decoder;
                w.expect = expect_continue.then_some(0);
                AppBody {
                    wire: Some(wire.clone()),
                    request: w.request,
                }
            }
        };

        // Inline, not boxed per request: boxing would take 3 KiB off each idle connection
        // (6.6 → 3.5 KiB) but cost a large allocation per request (+2.4% instructions).
        let mut call = pin!(service(request.map(|()| body)));
        let response = tokio::select! {
            biased;
            response = &mut call => response,
            () = poll_fn(|cx| lock(wire).poll_closed(cx, settings)) => {
                tracing::debug!("the app closed its connection with a request in flight");
                return Ok(());
            }
        };

        let (parts, body) = response.into_parts();
        let draining = closing_at.is_some() || watch.is_draining();
        let keep_alive = keep_alive && !draining;
        let (encoded, framing) = encode_head(&parts, &body, version, head_request, keep_alive);
        let body = matches!(
            framing,
            Framing::Length(1..) | Framing::Chunked | Framing::Close
        )
        .then_some(body);
        let mut upload = Upload::new(encoded, body, framing == Framing::Chunked);
        if let Framing::Length(n) = framing {
            upload = upload.limited_to(n);
        }
        let refused = {
            let mut w = lock(wire);
            // The response goes first: a `100 Continue` not started is no longer sent, one
            // started is finished before it.
            if let Some(written) = w.expect.take() {
                if written > 0 {
                    upload.prepend(Bytes::from_static(&CONTINUE[written..]));
                }
                if let Some(waker) = w.waiting.take() {
                    waker.wake();
                }
            }
            w.refused.take()
        };
        if let Some((status, reason)) = refused {
            // The body was refused (or stalled) while it was forwarded: whatever came back,
            // the app gets the 400 or 408 (and a closed connection), as for a refused head.
            return refuse(wire, status, reason).await;
        }
        match poll_fn(|cx| upload.poll_send(&mut WireWriter(wire), cx)).await {
            Ok(()) => {}
            Err(UploadError::Write(e)) => return Err(e),
            Err(UploadError::Body(e)) => {
                // Closing is how the app learns the response is incomplete.
                tracing::debug!(error = %e, "the response body failed; closing the connection");
                return Ok(());
            }
        }
        if let Framing::Length(n) = framing
            && upload.sent() != n
        {
            tracing::debug!(
                declared = n,
                sent = upload.sent(),
                "response body shorter than its content-length; closing the connection"
            );
            return Ok(());
        }
        if !keep_alive || framing == Framing::Close || !lock(wire).decoder.is_done() {
            return Ok(());
        }
    }
}

/// Answers `status` with `reason` (`x-meshctl-proxy-error`); the connection then closes.
async fn refuse(
    wire: &Arc<Mutex<Wire>>,
    status: StatusCode,
    reason: &'static str,
) -> io::Result<()> {
    tracing::debug!(%status, reason, "request refused");
    let (parts, body) = error_response(status, reason).into_parts();
    let (encoded, _) = encode_head(&parts, &body, Version::HTTP_11, false, false);
    let mut upload = Upload::new(encoded, Some(body), false);
    let sent = poll_fn(|cx| upload.poll_send(&mut WireWriter(wire), cx)).await;
    sent.map_err(UploadError::into_io)
}

impl Wire {
    /// Reads until the buffer holds a whole request head (which is consumed); `None` if the
    /// client closed the connection before sending any of one.
    fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        settings: &Settings,
    ) -> Poll<Result<Option<Head>, HeadError>> {
        loop {
            if self.buf.is_empty() {
                // Nothing kept: read into the thread's scratch buffer and keep only what the
                // head does not take (usually nothing, so an idle connection holds no buffer).
                self.buf = BytesMut::new();
                let read = SCRATCH_BUF.with_borrow_mut(|scratch| {
                    let mut read = ReadBuf::new(scratch);
                    ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))
                        .map_err(HeadError::Io)?;
                    let read = read.filled();
                    if read.is_empty() {
                        return Poll::Ready(Ok(Read::Closed));
                    }
                    Poll::Ready(Ok(match parse(read, settings)? {
                        Some((head, len)) => {
                            self.buf.extend_from_slice(&read[len..]);
                            Read::Head(head)
                        }
                        None => {
                            self.buf.extend_from_slice(read);
                            Read::More
                        }
                    }))
                });
                match ready!(read)? {
                    Read::More => continue,
                    Read::Head(head) => return Poll::Ready(Ok(Some(head))),
                    Read::Closed => return Poll::Ready(Ok(None)),
                }
            }
            if let Some((head, len)) = parse(&self.buf, settings)? {
                self.buf.advance(len);
                return Poll::Ready(Ok(Some(head)));
            }
            self.buf.reserve(SCRATCH);
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut self.io),
                cx,
                &mut self.buf
            ))
            .map_err(HeadError::Io)?;
            if n == 0 {
                return Poll::Ready(Err(HeadError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the app closed the connection in the middle of a request head",
                ))));
            }
        }
    }

    /// Ready once the client has closed its side while its request is in flight. Watches only
    /// after the request body is all read (the body reads until then); what a pipelining
    /// client sends meanwhile is kept for the next head, up to the head limit.
    fn poll_closed(&mut self, cx: &mut Context<'_>, settings: &Settings) -> Poll<()> {
        while self.decoder.is_done() && self.buf.len() < settings.max_head_bytes {
            let read = SCRATCH_BUF.with_borrow_mut(|scratch| {
                let mut read = ReadBuf::new(scratch);
                match ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)) {
                    Ok(()) if !read.filled().is_empty() => {
                        self.buf.extend_from_slice(read.filled());
                        Poll::Ready(false)
                    }
                    // The end of the stream, or an error: the client is gone either way.
                    _ => Poll::Ready(true),
                }
            });
            if ready!(read) {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }

    /// The current request body's next frame.
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        while let Some(written) = self.expect {
            match Pin::new(&mut self.io).poll_write(cx, &CONTINUE[written..]) {
                Poll::Pending => {
                    self.waiting = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Ok(n)) => {
                    let written = written + n;
                    self.expect = (written < CONTINUE.len()).then_some(written);
                }
            }
        }
        loop {
            match self.decoder.decode(&mut self.buf) {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Some(Step::Data(data))) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(Some(Step::Trailers(t))) => {
                    // Framing fields after the body (RFC 9110 §6.5.1) are refused here rather
                    // than forwarded for the next hop to fail on.
                    if t.contains_key(TRANSFER_ENCODING) || t.contains_key(CONTENT_LENGTH) {
                        self.refused = Some((StatusCode::BAD_REQUEST, FRAMING_IN_TRAILERS));
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            FRAMING_IN_TRAILERS,
                        ))));
                    }
                    return Poll::Ready(Some(Ok(Frame::trailers(t))));
                }
                Ok(Some(Step::End)) => {
                    self.stall = None;
                    self.stall_armed = false;
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
                self.buf.reserve(self.read_size);
            }
            let space = self.buf.capacity() - self.buf.len();
            let read =
                match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf) {
                    Poll::Ready(read) => {
                        self.stall_armed = false;
                        read
                    }
                    Poll::Pending => return self.poll_stalled(cx),
                };
            match read {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(0) => {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the app closed the connection in the middle of a request body",
                    ))));
                }
                Ok(n) if n == space => {
                    self.read_size = (self.read_size * 2).min(limits::APP_READ_BUFFER_MAX);
                }
                Ok(_) => {}
            }
        }
    }
}

impl Wire {
    /// A body read is waiting for the client: arms the body read timeout if it is not
    /// running, and fails the body (408, counted) once it runs out.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let deadline = Instant::now() + self.body_read_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.stall_armed {
            stall.as_mut().reset(deadline);
            self.stall_armed = true;
        }
        ready!(stall.as_mut().poll(cx));
        self.stall = None;
        self.stall_armed = false;
        self.refused = Some((StatusCode::REQUEST_TIMEOUT, BODY_TIMED_OUT));
        self.counters
            .request(Direction::Outbound, RequestLimit::RequestBody);
        tracing::debug!(timeout = ?self.body_read_timeout, "the request body made no progress");
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            BODY_TIMED_OUT,
        ))))
    }
}

impl Body for AppBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let Some(wire) = &self.wire else {
            return Poll::Ready(None);
        };
        let mut wire = lock(wire);
        if wire.request != self.request {
            return Poll::Ready(None);
        }
        wire.poll_body(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.wire.as_ref().is_none_or(|wire| {
            let wire = lock(wire);
            wire.request != self.request || wire.decoder.is_done()
        })
    }

    fn size_hint(&self) -> SizeHint {
        match &self.wire {
            Some(wire) => {
                let wire = lock(wire);
                if wire.request == self.request {
                    wire.decoder.size_hint()
                } else {
                    SizeHint::with_exact(0)
                }
            }
            None => SizeHint::with_exact(0),
        }
    }
}

/// Writes to the shared connection, locking it for each write.
struct WireWriter<'a>(&'a Mutex<Wire>);

impl AsyncWrite for WireWriter<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut lock(self.0).io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut lock(self.0).io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(self.0).io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(self.0).io).poll_shutdown(cx)
    }
}

impl UploadError {
    fn into_io(self) -> io::Error {
        match self {
            UploadError::Body(e) | UploadError::Write(e) => e,
        }
    }
}

/// A whole request head at the start of `raw`, and its length; `None` if `raw` holds only
/// part of one. The head is copied out of `raw` at its exact size.
fn parse(raw: &[u8], settings: &Settings) -> Result<Option<(Head, usize)>, HeadError> {
    // Uninitialized: httparse writes the fields it finds (4 KiB of table need no zeroing).
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_FIELDS];
    let mut heap = Vec::new();
    let fields = if settings.max_headers <= STACK_FIELDS {
        &mut stack[..settings.max_headers]
    } else {
        heap.resize_with(settings.max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };
    let too_large = HeadError::Refused(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request head too large",
    );
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(raw, fields) {
        Ok(httparse::Status::Complete(len)) if len > settings.max_head_bytes => {
            return Err(too_large);
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if raw.len() >= settings.max_head_bytes => {
            return Err(too_large);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::Refused(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ));
        }
        Err(_) => return Err(bad_request("malformed request head")),
    };
    let copy = Bytes::copy_from_slice(&raw[..len]);
    let base = raw.as_ptr() as usize;
    // The same bytes in the copy (httparse's slices all point into `raw[..len]`).
    let slice = |part: &[u8]| {
        let at = (part.as_ptr() as usize).wrapping_sub(base);
        match at.checked_add(part.len()).filter(|&end| end <= len) {
            Some(end) if !part.is_empty() => copy.slice(at..end),
            _ => Bytes::copy_from_slice(part),
        }
    };
    let method = Method::from_bytes(parsed.method.unwrap_or_default().as_bytes())
        .map_err(|_| bad_request("invalid method"))?;
    if method == Method::CONNECT {
        return Err(HeadError::Refused(
            StatusCode::NOT_IMPLEMENTED,
            "CONNECT is not proxied",
        ));
    }
    let target = slice(parsed.path.unwrap_or_default().as_bytes());
    let uri = Uri::from_maybe_shared(target).map_err(|_| bad_request("invalid request target"))?;
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Room for the fields the outbound adds (x-meshctl-orig-proto, a trace context): a
    // HeaderMap that grows rehashes every field.
    let mut headers = HeaderMap::with_capacity(parsed.headers.len() + HEADROOM);
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| bad_request("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(slice(field.value))
            .map_err(|_| bad_request("invalid header value"))?;
        headers.append(name, value);
    }
    check_host(version, &headers)?;
    let decoder = request_decoder(version, &headers)?;
    let expect_continue = version == Version::HTTP_11
        && !decoder.is_done()
        && headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let keep_alive = exchange::persistent(version, &headers);
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let head = Head {
        request,
        decoder,
        keep_alive,
        expect_continue,
    };
    Ok(Some((head, len)))
}

/// One Host field, required in HTTP/1.1 (RFC 9112 §3.2): the authority routing and
/// authorization go by must not be ambiguous or missing.
fn check_host(version: Version, headers: &HeaderMap) -> Result<(), HeadError> {
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(bad_request("more than one host header")),
        (None, _) if version == Version::HTTP_11 => Err(bad_request("missing host header")),
        _ => Ok(()),
    }
}

/// How a request's body ends (RFC 9112 §6.3), strictly: framing a proxy could read
/// differently from the app behind it is refused.
fn request_decoder(version: Version, headers: &HeaderMap) -> Result<Decoder, HeadError> {
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    if let Some(coding) = codings.next() {
        if version == Version::HTTP_10 {
            return Err(bad_request("transfer-encoding in an HTTP/1.0 request"));
        }
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(bad_request("both transfer-encoding and content-length"));
        }
        if codings.next().is_some()
            || !coding
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"chunked")
        {
            return Err(HeadError::Refused(
                StatusCode::NOT_IMPLEMENTED,
                "unsupported transfer-encoding",
            ));
        }
        return Ok(Decoder::Chunked(Chunk::Size));
    }
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => return Ok(Decoder::Done),
        (Some(_), Some(_)) => return Err(bad_request("content-length is a list")),
        (Some(value), None) => value.as_bytes(),
    };
    // A list, even of equal values, is refused: a proxy that forwards `3, 3` leaves the next
    // hop to decide what it means (RFC 9112 §6.3 allows a recipient to reject it).
    if length.contains(&b',') {
        return Err(bad_request("content-length is a list"));
    }
    match std::str::from_utf8(length.trim_ascii())
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
    {
        None => Err(bad_request("invalid content-length")),
        Some(0) => Ok(Decoder::Done),
        Some(n) => Ok(Decoder::Length(n)),
    }
}

fn bad_request(reason: &'static str) -> HeadError {
    HeadError::Refused(StatusCode::BAD_REQUEST, reason)
}

/// The response head for a request of `version` (HEAD if `head_request`), and how its body
/// is framed. The connection header says whether the connection stays (`keep_alive`, unless
/// the framing needs the close).
fn encode_head<B: Body>(
    parts: &http::response::Parts,
    body: &B,
    version: Version,
    head_request: bool,
    keep_alive: bool,
) -> (Bytes, Framing) {
    let status = parts.status;
    let headers = &parts.headers;
    let declared = exchange::content_length(headers).ok().flatten();
    let bodiless = proxy_http::bodiless_response(head_request, status);
    // The Content-Length line to write (normalized: one value), and the framing.
    let (length, framing) = if bodiless {
        let length = declared.filter(|_| status != StatusCode::NO_CONTENT);
        (length, Framing::Empty)
    } else if let Some(n) = declared.or(body.size_hint().exact()) {
        (
            Some(n),
            if n == 0 {
                Framing::Empty
            } else {
                Framing::Length(n)
            },
        )
    } else if version == Version::HTTP_11 {
        (None, Framing::Chunked)
    } else {
        (None, Framing::Close)
    };
    let keep_alive = keep_alive && framing != Framing::Close;

    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let mut out = BytesMut::with_capacity(fields + 128);
    out.extend_from_slice(match version {
        Version::HTTP_10 => b"HTTP/1.0 ",
        _ => b"HTTP/1.1 ",
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(status.canonical_reason().unwrap_or_default().as_bytes());
    out.extend_from_slice(CRLF);
    for (name, value) in headers {
        if name == CONNECTION || name == TRANSFER_ENCODING || name == CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(CRLF);
    }
    if let Some(n) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(CRLF);
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    if !headers.contains_key(DATE) {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(&http_date());
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(CRLF);
    (out.freeze(), framing)
}

/// Now as an HTTP date, formatted once a second per thread.
pub fn http_date() -> [u8; DATE_LEN] {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_NOW.with(|cell| {
        let (cached, text) = cell.get();
        if cached == second {
            return text;
        }
        let mut text = [b' '; DATE_LEN];
        let formatted = httpdate::fmt_http_date(now);
        let n = formatted.len().min(DATE_LEN);
        text[..n].copy_from_slice(&formatted.as_bytes()[..n]);
        cell.set((second, text));
        text
    })
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
