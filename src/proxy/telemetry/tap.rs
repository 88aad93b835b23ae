//! The tap: a live stream of request, response and end events for `meshctl tap`.
//!
//! Contract on the hot path: with nobody tapping, [`TapHub::request`] is one relaxed atomic
//! load and returns `None`; the response body is then passed through unwrapped
//! ([`observe`] returns `Either::Left`). With watchers, events are built only for requests a
//! watcher's filter and rate cap accept, credential headers are replaced by `<redacted>` before
//! an event exists, and events are handed over with `try_send`: a slow watcher loses events,
//! it never slows a request.
//!
//! Bodies (`--body`): only when a watcher asks, and only up to [`MAX_BODY_CAPTURE`]. A request
//! body is captured when the proxy buffered it before forwarding ([`buffer_for_tap`]: known to
//! fit in 64 KiB), else the event says it was streamed; a response body is copied as it
//! streams through. Both pass [`BodyRedaction`] (JSON and form credential fields) first.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderName, Request, Response};
use http_body_util::Either;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;
use tonic::{Status, metadata::MetadataMap};

use crate::api::proto::tap as pb;
use crate::proxy::protocol::http::{BoxedRequest, ProxyBody, Streamed};
use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::telemetry::redact::BodyRedaction;
use crate::proxy::{ProxyError, bind};

/// Headers whose values never leave the proxy, whatever the configuration adds.
pub const ALWAYS_REDACTED: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];
/// What a redacted header's value becomes.
pub use crate::api::tap::REDACTED;
/// Requests per second one watcher gets when it asks for no cap (or a higher one).
pub const DEFAULT_MAX_RPS: u32 = 100;
/// Events buffered per watcher; beyond that they are dropped, never waited for.
const WATCHER_BUFFER: usize = 1024;
pub use crate::api::tap::MAX_BODY_CAPTURE;
/// What a request event says when its body was asked for but streamed past the proxy.
const BODY_STREAMED: &str = "streamed: unknown length or over 64 KiB";

/// A response body, tapped or not.
pub type TapBody<B = ProxyBody> = Either<B, Tapped<B>>;

/// Who is watching, and what gets redacted.
#[derive(Debug)]
pub struct TapHub {
    watching: AtomicUsize,
    /// Watchers that asked for bodies: with none, no request is buffered for the tap.
    body_watching: AtomicUsize,
    watchers: Mutex<Vec<Arc<Watcher>>>,
    next_id: AtomicU64,
    redacted: Arc<HashSet<HeaderName>>,
    body_redaction: Arc<BodyRedaction>,
    /// This proxy's SPIFFE ID: the server of inbound requests, the client of outbound ones.
    own_id: String,
}

#[derive(Debug)]
struct Watcher {
    filter: pb::WatchRequest,
    destinations: HashSet<String>,
    max_rps: u32,
    /// Body bytes this watcher gets (0: none).
    body_limit: usize,
    /// (second since `epoch`, requests sent in it)
    budget: Mutex<(u64, u32)>,
    epoch: Instant,
    tx: mpsc::Sender<Result<pb::TapEvent, Status>>,
}

/// Where a request came from and goes to, as the proxy knows it.
#[derive(Debug, Clone, Copy)]
pub struct Hop<'a> {
    pub direction: Direction,
    pub src: SocketAddr,
    /// `None`: the proxy answered the request itself (no route, no endpoint, an injected
    /// abort, a timeout before any attempt); the event says `-`.
    pub dst: Option<SocketAddr>,
    /// The other proxy's verified SPIFFE ID (the client inbound, the server outbound).
    pub peer_id: &'a str,
}

/// A request some watcher takes: carries the event header to the response and end events.
#[derive(Debug)]
pub struct TapRequest {
    start: Instant,
    base: pb::TapEvent,
    watchers: Vec<Arc<Watcher>>,
    redacted: Arc<HashSet<HeaderName>>,
    body_redaction: Arc<BodyRedaction>,
    /// The most body bytes any of `watchers` wants.
    body_limit: usize,
}

/// A response body being watched: counts bytes, reads grpc-status, sends `end`.
#[derive(Debug)]
pub struct Tapped<B: Body = ProxyBody> {
    inner: B,
    request: TapRequest,
    bytes: u64,
    grpc_status: String,
    ended: bool,
    /// The first `request.body_limit` bytes of the response body, and its content type.
    body: Vec<u8>,
    content_type: Option<String>,
}

/// The stream a watcher reads; unregisters the watcher when the caller goes away.
#[derive(Debug)]
pub struct WatchStream {
    rx: mpsc::Receiver<Result<pb::TapEvent, Status>>,
    hub: Arc<TapHub>,
    watcher: Arc<Watcher>,
}

impl TapHub {
    /// `own_id`: this proxy's SPIFFE ID; `extra_redacted`: header names redacted on top of
    /// [`ALWAYS_REDACTED`].
    pub fn new(own_id: String, extra_redacted: &[HeaderName]) -> Self {
        let mut redacted: HashSet<HeaderName> = ALWAYS_REDACTED
            .iter()
            .map(|n| HeaderName::from_static(n))
            .collect();
        redacted.extend(extra_redacted.iter().cloned());
        let body_redaction = BodyRedaction::new(redacted.iter().map(HeaderName::as_str));
        TapHub {
            watching: AtomicUsize::new(0),
            body_watching: AtomicUsize::new(0),
            watchers: Mutex::default(),
            next_id: AtomicU64::new(1),
            redacted: Arc::new(redacted),
            body_redaction: Arc::new(body_redaction),
            own_id,
        }
    }

    /// Whether anyone is watching (then the outbound side keeps each request's head, to tap
    /// the requests it answers itself).
    #[inline]
    pub fn is_watched(&self) -> bool {
        self.watching.load(Relaxed) > 0
    }

    /// Whether some watcher wants bodies (then small request bodies are buffered for it).
    #[inline]
    pub fn wants_bodies(&self) -> bool {
        self.body_watching.load(Relaxed) > 0
    }

    /// The request event, if anyone is watching a request like this one. `body`: the request
    /// body when the proxy buffered it ([`buffer_for_tap`]), `None` when it streams.
    #[inline]
    pub fn request<B>(
        &self,
        hop: Hop<'_>,
        req: &Request<B>,
        body: Option<&Bytes>,
    ) -> Option<TapRequest> {
        if self.watching.load(Relaxed) == 0 {
            return None;
        }
        self.request_watched(hop, req, body)
    }

    fn request_watched<B>(
        &self,
        hop: Hop<'_>,
        req: &Request<B>,
        body: Option<&Bytes>,
    ) -> Option<TapRequest> {
        let method = req.method().as_str();
        let path = req.uri().path();
        let authority = req
            .uri()
            .authority()
            .map(|a| a.as_str())
            .or_else(|| req.headers().get(http::header::HOST)?.to_str().ok())
            .unwrap_or("");
        let watchers: Vec<Arc<Watcher>> = {
            let list = self.watchers.lock().ok()?;
            list.iter()
                .filter(|w| w.matches(hop, method, path, authority) && w.take_budget())
                .cloned()
                .collect()
        };
        if watchers.is_empty() {
            return None;
        }
        let redacted = self.redacted.clone();
        let (client_id, server_id) = match hop.direction {
            Direction::Inbound => (hop.peer_id, self.own_id.as_str()),
            Direction::Outbound => (self.own_id.as_str(), hop.peer_id),
        };
        let base = pb::TapEvent {
            id: self.next_id.fetch_add(1, Relaxed),
            direction: match hop.direction {
                Direction::Inbound => "in",
                Direction::Outbound => "out",
            }
            .to_string(),
            src: hop.src.to_string(),
            dst: hop.dst.map_or_else(|| "-".to_string(), |d| d.to_string()),
            client_id: client_id.to_string(),
            server_id: server_id.to_string(),
            tls: true,
            event: None,
        };
        let body_limit = watchers.iter().map(|w| w.body_limit).max().unwrap_or(0);
        let tap = TapRequest {
            start: Instant::now(),
            base,
            watchers,
            redacted,
            body_redaction: self.body_redaction.clone(),
            body_limit,
        };
        let mut init = pb::RequestInit {
            method: method.to_string(),
            authority: authority.to_string(),
            path: path.to_string(),
            query: (req.uri().query())
                .map(|q| self.body_redaction.query(q).into_owned())
                .unwrap_or_default(),
            headers: headers(req.headers(), &tap.redacted),
            ..Default::default()
        };
        if body_limit > 0 {
            match body {
                Some(body) => {
                    (init.body, init.body_truncated) = tap.capture(req.headers(), body);
                }
                None => init.body_skipped = BODY_STREAMED.to_string(),
            }
        }
        tap.send(pb::tap_event::Event::Request(init));
        Some(tap)
    }

    /// Registers a watcher; its events arrive on the returned stream.
    pub fn watch(self: &Arc<Self>, filter: pb::WatchRequest) -> WatchStream {
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let max_rps = match filter.max_rps {
            0 => DEFAULT_MAX_RPS,
            n => n.min(DEFAULT_MAX_RPS),
        };
        let body_limit = usize::try_from(filter.body_bytes)
            .unwrap_or(MAX_BODY_CAPTURE)
            .min(MAX_BODY_CAPTURE);
        let watcher = Arc::new(Watcher {
            destinations: filter.destination_ids.iter().cloned().collect(),
            filter,
            max_rps,
            body_limit,
            budget: Mutex::new((0, 0)),
            epoch: Instant::now(),
            tx,
        });
        if let Ok(mut list) = self.watchers.lock() {
            list.push(watcher.clone());
            self.count(&list);
        }
        WatchStream {
            rx,
            hub: self.clone(),
            watcher,
        }
    }

    fn unwatch(&self, watcher: &Arc<Watcher>) {
        if let Ok(mut list) = self.watchers.lock() {
            list.retain(|w| !Arc::ptr_eq(w, watcher));
            self.count(&list);
        }
    }

    fn count(&self, list: &[Arc<Watcher>]) {
        let bodies = list.iter().filter(|w| w.body_limit > 0).count();
        self.body_watching.store(bodies, Relaxed);
        self.watching.store(list.len(), Relaxed);
    }
}

impl Watcher {
    fn matches(&self, hop: Hop<'_>, method: &str, path: &str, authority: &str) -> bool {
        let f = &self.filter;
        (f.method.is_empty() || f.method.eq_ignore_ascii_case(method))
            && path.starts_with(f.path_prefix.as_str())
            && (f.authority.is_empty() || f.authority.eq_ignore_ascii_case(authority))
            && (self.destinations.is_empty()
                || (hop.direction == Direction::Outbound
                    && self.destinations.contains(hop.peer_id)))
    }

    /// One request of this second's budget, if any is left.
    fn take_budget(&self) -> bool {
        let second = self.epoch.elapsed().as_secs();
        let Ok(mut budget) = self.budget.lock() else {
            return false;
        };
        if budget.0 != second {
            *budget = (second, 0);
        }
        if budget.1 >= self.max_rps {
            return false;
        }
        budget.1 += 1;
        true
    }
}

impl TapRequest {
    /// Latency and duration count from `at` (the request's arrival) rather than from now.
    pub fn since(mut self, at: Instant) -> Self {
        self.start = at;
        self
    }

    /// Each watcher gets the event with bodies cut to what it asked for.
    fn send(&self, event: pb::tap_event::Event) {
        let mut e = self.base.clone();
        e.event = Some(event);
        for w in &self.watchers {
            let mut mine = e.clone();
            if let Some(event) = &mut mine.event {
                cut_bodies(event, w.body_limit);
            }
            let _ = w.tx.try_send(Ok(mine));
        }
    }

    /// `body` redacted for its content type and cut to the largest limit asked for; whether
    /// it was cut.
    fn capture(&self, headers: &HeaderMap, body: &[u8]) -> (Vec<u8>, bool) {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let redacted = self.body_redaction.apply(content_type, body);
        let cut = redacted.len() > self.body_limit;
        let kept = &redacted[..redacted.len().min(self.body_limit)];
        (kept.to_vec(), cut)
    }
}

/// A copy of `req`'s head (method, URI, version, headers), to tap it after the request itself
/// was handed on.
pub fn head<B>(req: &Request<B>) -> Request<()> {
    let mut head = Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.version_mut() = req.version();
    *head.headers_mut() = req.headers().clone();
    head
}

/// Cuts an event's body to `limit` bytes (0: drops it, and any note about it).
fn cut_bodies(event: &mut pb::tap_event::Event, limit: usize) {
    let (body, truncated) = match event {
        pb::tap_event::Event::Request(r) => {
            if limit == 0 {
                r.body_skipped.clear();
            }
            (&mut r.body, &mut r.body_truncated)
        }
        pb::tap_event::Event::End(e) => (&mut e.response_body, &mut e.response_body_truncated),
        pb::tap_event::Event::Response(_) => return,
    };
    if body.len() > limit {
        body.truncate(limit);
        *truncated = limit > 0;
    } else if limit == 0 {
        *truncated = false;
    }
}

/// With a watcher wanting bodies, buffers a request body known to fit in
/// [`MAX_BODY_CAPTURE`] (empty, or a small `content-length`) and returns a copy for the tap;
/// otherwise passes the request on to stream. A body that fails to arrive is an `Err`.
pub async fn buffer_for_tap(
    hub: &TapHub,
    req: Request<Streamed>,
) -> Result<(BoxedRequest, Option<Bytes>), Box<dyn std::error::Error + Send + Sync>> {
    let small = req.body().is_end_stream()
        || req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n <= MAX_BODY_CAPTURE);
    if !hub.wants_bodies() || !small {
        return Ok((Box::new(req.map(Either::Left)), None));
    }
    let (parts, body) = req.into_parts();
    let bytes = http_body_util::BodyExt::collect(body).await?.to_bytes();
    let full = crate::proxy::protocol::http::Written::full(bytes.clone());
    Ok((
        Box::new(Request::from_parts(parts, Either::Right(full))),
        Some(bytes),
    ))
}

/// Sends the response event and wraps the body to send the end event; passes the response
/// through untouched when the request is not tapped.
pub fn observe<B: Body>(tap: Option<TapRequest>, response: Response<B>) -> Response<TapBody<B>> {
    let Some(request) = tap else {
        return response.map(Either::Left);
    };
    let latency = request.start.elapsed();
    request.send(pb::tap_event::Event::Response(pb::ResponseInit {
        status: u32::from(response.status().as_u16()),
        latency_us: micros(latency),
        headers: headers(response.headers(), &request.redacted),
    }));
    // A trailers-only gRPC response carries its status in the head.
    let grpc_status = grpc_status(response.headers());
    let content_type = (request.body_limit > 0)
        .then(|| response.headers().get(http::header::CONTENT_TYPE))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    response.map(|inner| {
        Either::Right(Tapped {
            inner,
            request,
            bytes: 0,
            grpc_status,
            ended: false,
            body: Vec::new(),
            content_type,
        })
    })
}

impl<B: Body> Tapped<B> {
    fn end(&mut self, error: &str) {
        if self.ended {
            return;
        }
        self.ended = true;
        let mut end = pb::End {
            duration_us: micros(self.request.start.elapsed()),
            response_bytes: self.bytes,
            grpc_status: std::mem::take(&mut self.grpc_status),
            error: error.to_string(),
            ..Default::default()
        };
        if self.request.body_limit > 0 {
            let redacted = self
                .request
                .body_redaction
                .apply(self.content_type.as_deref(), &self.body);
            end.response_body = redacted.into_owned();
            end.response_body_truncated = self.bytes > self.body.len() as u64;
        }
        self.request.send(pb::tap_event::Event::End(end));
    }
}

impl<B> Body for Tapped<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(polled) => polled,
        };
        match &polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                    let room = self.request.body_limit.saturating_sub(self.body.len());
                    if room > 0 {
                        let take = room.min(data.len());
                        let data = data.slice(..take);
                        self.body.extend_from_slice(&data);
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    self.grpc_status = grpc_status(trailers);
                }
            }
            Some(Err(e)) => {
                // The cause names a reset (h2 RST_STREAM) or an I/O error; never request data.
                let error = format!("error: {e}");
                self.end(&error);
            }
            None => self.end(""),
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for Tapped<B> {
    fn drop(&mut self) {
        if self.inner.is_end_stream() {
            self.end("");
        } else {
            self.end("reset: the client went away before the response ended");
        }
    }
}

impl Stream for WatchStream {
    type Item = Result<pb::TapEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.hub.unwatch(&self.watcher);
    }
}

/// Where the tap server listens and who may use it.
#[derive(Debug, Clone)]
pub struct TapListen {
    pub addr: SocketAddr,
    /// SHA-256 (hex) of the token callers must present (the mesh admin token's).
    pub token_sha256: String,
    /// Header names redacted on top of [`ALWAYS_REDACTED`].
    pub redact: Vec<HeaderName>,
}

/// The proxy's hub; with `listen`, also binds and serves the tap API on it until the process
/// exits (like the admin listener, it outlives the drain). Without, the hub is never watched.
pub async fn start(listen: Option<&TapListen>, own_id: String) -> Result<Arc<TapHub>, ProxyError> {
    let redact = listen.map_or(&[][..], |t| &t.redact[..]);
    let hub = Arc::new(TapHub::new(own_id, redact));
    if let Some(t) = listen {
        let listener = bind(t.addr, "tap").await?;
        let service = TapService::new(hub.clone(), t.token_sha256.clone());
        tokio::spawn(serve(listener, service));
    }
    Ok(hub)
}

async fn serve(listener: tokio::net::TcpListener, service: TapService) {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    if let Err(e) = tonic::transport::Server::builder()
        .add_service(pb::tap_server::TapServer::new(service))
        .serve_with_incoming(incoming)
        .await
    {
        tracing::warn!(error = %e, "tap server stopped");
    }
}

/// The tonic service: checks the caller's bearer token against the mesh admin token's
/// SHA-256 (the loopback listener), or trusts the transport (the cluster's mTLS listener,
/// [`super::tap_mtls`], where the TLS handshake already required the controller's
/// certificate), then streams.
#[derive(Debug, Clone)]
pub struct TapService {
    hub: Arc<TapHub>,
    caller: Caller,
}

/// How a tap caller was authenticated.
#[derive(Debug, Clone)]
enum Caller {
    /// By a bearer token whose SHA-256 (hex) is this.
    Bearer(String),
    /// By its client certificate, checked in the TLS handshake.
    Certified,
}

impl TapService {
    pub fn new(hub: Arc<TapHub>, token_sha256: String) -> Self {
        TapService {
            hub,
            caller: Caller::Bearer(token_sha256),
        }
    }

    /// For a listener whose TLS handshake authenticated the caller: no token on top.
    pub fn certified(hub: Arc<TapHub>) -> Self {
        TapService {
            hub,
            caller: Caller::Certified,
        }
    }

    fn authorize(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Caller::Bearer(token_sha256) = &self.caller else {
            return Ok(());
        };
        let token = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("tap needs the mesh admin token as bearer"))?;
        // Comparing hashes: timing reveals nothing usable about the token itself.
        if crate::api::token::token_hash(token.trim()) == *token_sha256 {
            Ok(())
        } else {
            Err(Status::permission_denied("not the mesh admin token"))
        }
    }
}

#[tonic::async_trait]
impl pb::tap_server::Tap for TapService {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: tonic::Request<pb::WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, Status> {
        self.authorize(request.metadata())?;
        Ok(tonic::Response::new(self.hub.watch(request.into_inner())))
    }
}

fn headers(map: &HeaderMap, redacted: &HashSet<HeaderName>) -> Vec<pb::Header> {
    map.iter()
        .map(|(name, value)| pb::Header {
            name: name.as_str().to_string(),
            value: if redacted.contains(name) {
                REDACTED.to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            },
        })
        .collect()
}

fn grpc_status(headers: &HeaderMap) -> String {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
