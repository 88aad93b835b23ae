//! Traffic mirroring on the caller's proxy: which requests are copied (the live mirror from
//! `meshctl canary mirror` while in force, else the destination's `policy.mirror`), the copy
//! sent to an endpoint of the mirror version, and the comparison of its answer with the real
//! one, counted per route.
//!
//! Contract: a copy never delays or fails the real request. It is taken only of a request
//! whose body is known to fit [`MAX_MIRROR_BODY`] (none, or a small `content-length`:
//! buffered before the real request is sent, as a retry would) — any other is not copied and
//! counts `skipped`. It is sent on its own task once the real answer's head is in, never
//! retried, within [`MIRROR_TIMEOUT`], marked `x-meshctl-mirror: 1`; at most
//! [`MAX_MIRROR_IN_FLIGHT`] are in flight per proxy, beyond which it counts `dropped`. Its
//! answer is read to the end and compared with the real one: status class, gRPC status (from
//! the head or the trailers), and with `compare_body` a SHA-256 of both bodies when both fit
//! [`MAX_MIRROR_BODY`]. Copies bypass the caller's own telemetry: they never appear in its
//! response metrics, `/stats` (so `meshctl stat`), spans or tap, nor feed a circuit breaker.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt, Either};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::api::proto::control as pb;
use crate::policy::fault::PER_MILLION;
use crate::policy::mirror::{MAX_MIRROR_BODY, MIRROR_TIMEOUT, MirrorError, MirrorSpec};
use crate::proxy::outbound::fault::Draws;
use crate::proxy::outbound::peer::Peer;
use crate::proxy::outbound::route::Route;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::http::{BoxError, BoxedRequest, ProxyBody, Written};
use crate::proxy::telemetry::metrics::escape_label;

pub use crate::policy::mirror::{MAX_MIRROR_IN_FLIGHT, MIRROR_HEADER};

/// Longest wait for the real answer's end (a long stream) before its copy counts `error`.
pub const REAL_ANSWER_WAIT: Duration = Duration::from_secs(60);

/// The `route` label of requests no named route matched.
const NO_ROUTE: &str = "";

/// A destination's mirroring, as a proxy applies it.
#[derive(Debug, Default)]
pub struct Mirrors {
    /// `None`: no mirror configured, live or not — the one check a request pays.
    rules: Option<Box<MirrorRules>>,
    counts: Arc<MirrorCount>,
}

#[derive(Debug)]
struct MirrorRules {
    /// The destination's own (`policy.mirror`).
    service: Option<MirrorRule>,
    /// Set with `meshctl canary mirror`: replaces `service` while in force.
    live: Option<MirrorRule>,
    draws: Draws,
}

/// One mirror: where copies go, how many, and what is compared.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRule {
    version: Arc<str>,
    per_million: u32,
    compare_body: bool,
    /// `None`: no end.
    expires: Option<SystemTime>,
}

/// What became of mirrored requests of one destination, per route, with the proxy-wide
/// in-flight count (shared with the metrics registry).
#[derive(Debug, Default)]
pub struct MirrorCount {
    in_flight: Arc<AtomicUsize>,
    /// Route name (empty: none) → outcomes. Bounded by the destination's routes.
    routes: Mutex<BTreeMap<Arc<str>, Outcomes>>,
}

/// Outcomes of mirrored requests on one route.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Outcomes {
    /// The copy's answer agreed with the real one.
    #[serde(rename = "match")]
    pub matched: u64,
    /// It differed (status class, gRPC status or body hash).
    #[serde(rename = "mismatch")]
    pub mismatched: u64,
    /// Not sent: [`MAX_MIRROR_IN_FLIGHT`] copies were in flight.
    pub dropped: u64,
    /// Not copied: a body of unknown length or over [`MAX_MIRROR_BODY`].
    pub skipped: u64,
    /// Sent, but no comparable answer: no endpoint of the version, a failure, a timeout, or
    /// a real answer that never ended.
    #[serde(rename = "error")]
    pub errors: u64,
}

/// One outcome, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Match,
    Mismatch,
    Dropped,
    Skipped,
    Error,
}

/// Every destination's mirror counters: `meshctl_mirror_requests_total`. One entry per
/// upstream service this proxy was ever configured with: bounded by the mesh's services.
#[derive(Debug, Default)]
pub struct MirrorCounters {
    by_service: Mutex<BTreeMap<String, Arc<MirrorCount>>>,
    /// Copies in flight from this proxy, all destinations together.
    in_flight: Arc<AtomicUsize>,
}

/// A copy of one request, taken before the real one is sent.
#[derive(Debug)]
pub struct Copy {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    version: Arc<str>,
    compare_body: bool,
    route: Arc<str>,
    counts: Arc<MirrorCount>,
}

/// What is compared of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The status divided by 100 (2 for 2xx).
    pub class: u16,
    /// `grpc-status` from the head or the trailers; `None`: not gRPC, or none sent.
    pub grpc: Option<u16>,
    /// SHA-256 of the body when hashed and it fits [`MAX_MIRROR_BODY`].
    pub body: Option<[u8; 32]>,
}

impl Mirrors {
    /// Parses and checks `upstream`'s mirrors (its `mirror` and `live_mirror`). A version
    /// without endpoints is not refused (on Kubernetes versions come and go with pods): its
    /// copies count `error`.
    pub fn parse(upstream: &pb::Upstream) -> Result<Mirrors, MirrorError> {
        let service = upstream
            .mirror
            .as_ref()
            .map(MirrorRule::parse)
            .transpose()?;
        let live = (upstream.live_mirror.as_ref())
            .map(MirrorRule::parse)
            .transpose()?;
        let rules = (service.is_some() || live.is_some()).then(|| {
            Box::new(MirrorRules {
                service,
                live,
                draws: Draws::default(),
            })
        });
        Ok(Mirrors {
            rules,
            counts: Arc::default(),
        })
    }

    /// Counts outcomes in `counts` (the registry's entry for this destination).
    pub fn count_in(self, counts: Arc<MirrorCount>) -> Mirrors {
        Mirrors { counts, ..self }
    }

    /// The mirror a request is copied by, if it is to be (the live one while in force, else
    /// the destination's, drawn at its share). Off: one `Option` check, no clock read.
    #[inline]
    pub fn draw(&self) -> Option<&MirrorRule> {
        let rules = self.rules.as_deref()?;
        let now = SystemTime::now();
        let rule = match rules.live.as_ref().filter(|l| l.in_force(now)) {
            Some(live) => live,
            None => rules.service.as_ref()?,
        };
        rules.draws.hit(rule.per_million).then_some(rule)
    }

    pub fn counts(&self) -> &Arc<MirrorCount> {
        &self.counts
    }
}

impl MirrorRule {
    fn parse(m: &pb::Mirror) -> Result<MirrorRule, MirrorError> {
        let spec = MirrorSpec::from_pb(m)?;
        Ok(MirrorRule {
            version: Arc::from(spec.version),
            per_million: spec.per_million,
            compare_body: spec.compare_body,
            // Beyond what the clock can hold is as good as never.
            expires: (m.expires_unix_ms > 0)
                .then(|| UNIX_EPOCH.checked_add(Duration::from_millis(m.expires_unix_ms)))
                .flatten(),
        })
    }

    fn in_force(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|at| now < at)
    }

    /// Takes the copy of `req` (matched route `route`): its head and its body, which is
    /// buffered when known to fit [`MAX_MIRROR_BODY`] and handed back to be sent as the real
    /// request's. `Ok(None)` (counted `skipped`) for a larger body or one of unknown length;
    /// `Err` when the body failed to arrive (the real request fails as it would have).
    /// `captured`: the body a tap already buffered, if any.
    pub async fn copy(
        &self,
        req: BoxedRequest,
        captured: Option<&Bytes>,
        route: Option<&Arc<str>>,
        counts: &Arc<MirrorCount>,
    ) -> Result<(BoxedRequest, Option<Box<Copy>>), BoxError> {
        let route: Arc<str> = route.cloned().unwrap_or_else(|| Arc::from(NO_ROUTE));
        let (req, body) = match captured {
            Some(bytes) => (req, bytes.clone()),
            None if req.body().is_end_stream() => (req, Bytes::new()),
            None if fits(req.headers()) => {
                let (parts, body) = (*req).into_parts();
                let bytes = body.collect().await?.to_bytes();
                let full = Either::Right(Written::full(bytes.clone()));
                (Box::new(Request::from_parts(parts, full)), bytes)
            }
            None => {
                counts.record(&route, Outcome::Skipped);
                return Ok((req, None));
            }
        };
        // Boxed: it is held across the real request's await, and every request's future
        // would otherwise carry its size (bench/RESULTS.md, session 7).
        let copy = Box::new(Copy {
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: req.headers().clone(),
            body,
            version: self.version.clone(),
            compare_body: self.compare_body,
            route,
            counts: counts.clone(),
        });
        Ok((req, Some(copy)))
    }
}

/// A `content-length` of at most [`MAX_MIRROR_BODY`].
fn fits(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n <= MAX_MIRROR_BODY)
}

impl Copy {
    /// Sends the copy on its own task, to be compared with `real` (the answer going back to
    /// the app, returned with its body watched when what is compared comes at its end).
    /// Beyond [`MAX_MIRROR_IN_FLIGHT`] copies in flight, counts `dropped` and sends nothing.
    pub fn launch(
        self: Box<Self>,
        route: Arc<Route<Arc<Peer>>>,
        real: Response<Answer>,
    ) -> Response<Answer> {
        let Some(slot) = InFlight::take(&self.counts.in_flight) else {
            self.counts.record(&self.route, Outcome::Dropped);
            return real;
        };
        let head = Summary {
            class: real.status().as_u16() / 100,
            grpc: grpc_status(real.headers()),
            body: None,
        };
        // The gRPC status of a call that is not trailers-only, and the body's hash, come at
        // the end of the body: watch it.
        let watch = self.compare_body
            || (head.grpc.is_none() && crate::proxy::protocol::http::is_grpc(real.headers()));
        let (real, answer) = if watch {
            let (tx, rx) = oneshot::channel();
            let watched = real.map(|inner| {
                let observer = Observer::new(inner, head, self.compare_body, tx);
                Either::Right(Either::Right(Written::Boxed(observer.boxed_unsync())))
            });
            (watched, RealAnswer::Pending(rx))
        } else {
            (real, RealAnswer::Ready(head))
        };
        tokio::spawn((*self).run(route, answer, slot));
        real
    }

    async fn run(self, route: Arc<Route<Arc<Peer>>>, real: RealAnswer, _slot: InFlight) {
        let counts = self.counts.clone();
        let label = self.route.clone();
        let compare_body = self.compare_body;
        let copied = tokio::time::timeout(MIRROR_TIMEOUT, self.send(&route)).await;
        let copied = match copied {
            Ok(Ok(summary)) => summary,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "mirrored request failed");
                return counts.record(&label, Outcome::Error);
            }
            Err(_) => {
                tracing::debug!("mirrored request timed out");
                return counts.record(&label, Outcome::Error);
            }
        };
        let real = match real {
            RealAnswer::Ready(summary) => summary,
            RealAnswer::Pending(rx) => match tokio::time::timeout(REAL_ANSWER_WAIT, rx).await {
                Ok(Ok(summary)) => summary,
                // Cut off, reset, or still streaming: nothing to compare with.
                _ => return counts.record(&label, Outcome::Error),
            },
        };
        counts.record(&label, compare(&real, &copied, compare_body));
    }

    /// Sends the copy to an endpoint of the mirror version (chosen by the destination's
    /// balancer) and reads its answer to the end.
    async fn send(self, route: &Route<Arc<Peer>>) -> Result<Summary, BoxError> {
        let peer = route
            .endpoint(Some(&self.version))
            .cloned()
            .ok_or_else(|| format!("no endpoint of version {}", self.version))?;
        let mut req = Request::new(Either::Right(Written::full(self.body)));
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = Version::HTTP_2;
        *req.headers_mut() = self.headers;
        req.headers_mut().insert(
            HeaderName::from_static(MIRROR_HEADER),
            HeaderValue::from_static("1"),
        );
        let req: Request<ProxyBody> = req;
        let response = peer.send(Box::new(req)).await?;
        let mut summary = Summary {
            class: response.status().as_u16() / 100,
            grpc: grpc_status(response.headers()),
            body: None,
        };
        let mut hasher = BodyHash::new(self.compare_body);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if let Some(data) = frame.data_ref() {
                hasher.update(data);
            } else if let Some(trailers) = frame.trailers_ref() {
                summary.grpc = grpc_status(trailers).or(summary.grpc);
            }
        }
        summary.body = hasher.finish();
        Ok(summary)
    }
}

/// The real answer to compare with: known from its head, or at its body's end.
enum RealAnswer {
    Ready(Summary),
    Pending(oneshot::Receiver<Summary>),
}

/// An answer's body on its way to the app: a peer's, or one the proxy wrote (or watches).
pub type Answer = Either<H2Body, ProxyBody>;

/// Whether a copy's answer agrees with the real one.
pub fn compare(real: &Summary, copy: &Summary, compare_body: bool) -> Outcome {
    let bodies_differ =
        compare_body && matches!((real.body, copy.body), (Some(a), Some(b)) if a != b);
    if real.class != copy.class || real.grpc != copy.grpc || bodies_differ {
        Outcome::Mismatch
    } else {
        Outcome::Match
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<u16> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// SHA-256 of a body up to [`MAX_MIRROR_BODY`] (none past it, or when not asked for).
struct BodyHash {
    context: Option<ring::digest::Context>,
    seen: u64,
}

impl BodyHash {
    fn new(wanted: bool) -> Self {
        BodyHash {
            context: wanted.then(|| ring::digest::Context::new(&ring::digest::SHA256)),
            seen: 0,
        }
    }

    fn update(&mut self, data: &Bytes) {
        self.seen = self.seen.saturating_add(data.len() as u64);
        if self.seen > MAX_MIRROR_BODY {
            self.context = None;
        }
        if let Some(c) = &mut self.context {
            c.update(data);
        }
    }

    fn finish(self) -> Option<[u8; 32]> {
        let digest = self.context?.finish();
        digest.as_ref().try_into().ok()
    }
}

/// The real answer's body on its way to the app, unchanged; at its end the summary goes to
/// the copy's task (nothing when it fails or is dropped before its end).
struct Observer<B> {
    inner: B,
    summary: Summary,
    hash: BodyHash,
    done: Option<oneshot::Sender<Summary>>,
}

impl<B> Observer<B> {
    fn new(inner: B, head: Summary, hash: bool, done: oneshot::Sender<Summary>) -> Self {
        Observer {
            inner,
            summary: head,
            hash: BodyHash::new(hash),
            done: Some(done),
        }
    }

    fn end(&mut self) {
        if let Some(done) = self.done.take() {
            let hash = std::mem::replace(&mut self.hash, BodyHash::new(false));
            self.summary.body = hash.finish();
            let _ = done.send(self.summary);
        }
    }
}

impl<B> Body for Observer<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.hash.update(data);
                } else if let Some(trailers) = frame.trailers_ref() {
                    this.summary.grpc = grpc_status(trailers).or(this.summary.grpc);
                }
                if this.inner.is_end_stream() {
                    this.end();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                this.done = None;
                Poll::Ready(Some(Err(e.into())))
            }
            None => {
                this.end();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One copy in flight; freed when dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn take(count: &Arc<AtomicUsize>) -> Option<InFlight> {
        let taken = count.fetch_add(1, Relaxed);
        if taken >= MAX_MIRROR_IN_FLIGHT {
            count.fetch_sub(1, Relaxed);
            return None;
        }
        Some(InFlight(count.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl MirrorCount {
    pub fn record(&self, route: &Arc<str>, outcome: Outcome) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let counts = routes.entry(route.clone()).or_default();
        let n = match outcome {
            Outcome::Match => &mut counts.matched,
            Outcome::Mismatch => &mut counts.mismatched,
            Outcome::Dropped => &mut counts.dropped,
            Outcome::Skipped => &mut counts.skipped,
            Outcome::Error => &mut counts.errors,
        };
        *n += 1;
    }

    /// Outcomes per route name (empty: no named route), in name order.
    pub fn by_route(&self) -> Vec<(Arc<str>, Outcomes)> {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes.iter().map(|(r, o)| (r.clone(), *o)).collect()
    }
}

impl MirrorCounters {
    /// The counters of `service` (created at 0 on first sight, kept for good).
    pub fn service(&self, service: &str) -> Arc<MirrorCount> {
        let mut map = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(service.to_string())
            .or_insert_with(|| {
                Arc::new(MirrorCount {
                    in_flight: self.in_flight.clone(),
                    routes: Mutex::default(),
                })
            })
            .clone()
    }

    /// Appends `meshctl_mirror_requests_total` and `meshctl_mirror_in_flight` in the
    /// Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let name = "meshctl_mirror_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests this proxy mirrored to a service, by route and outcome.\n# TYPE {name} counter"
        );
        let map = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        for (service, c) in map.iter() {
            let service = escape_label(service);
            for (route, o) in c.by_route() {
                let route = escape_label(&route);
                for (outcome, n) in [
                    ("match", o.matched),
                    ("mismatch", o.mismatched),
                    ("dropped", o.dropped),
                    ("skipped", o.skipped),
                    ("error", o.errors),
                ] {
                    let _ = writeln!(
                        out,
                        "{name}{{service=\"{service}\",route=\"{route}\",outcome=\"{outcome}\"}} {n}"
                    );
                }
            }
        }
        let name = "meshctl_mirror_in_flight";
        let _ = writeln!(
            out,
            "# HELP {name} Mirrored requests in flight from this proxy.\n# TYPE {name} gauge\n{name} {}",
            self.in_flight.load(Relaxed)
        );
    }
}

/// A destination's mirroring as `/config` shows it, with its counts so far.
#[derive(Debug, serde::Serialize)]
pub struct MirrorsView {
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<MirrorView>,
    /// Set with `meshctl canary mirror` (shown while in force).
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<MirrorView>,
    /// Outcomes per route since the proxy started (kept when the mirror ends).
    counts: Vec<RouteOutcomes>,
}

#[derive(Debug, serde::Serialize)]
struct MirrorView {
    version: String,
    percent: f64,
    compare_body: bool,
    /// `None`: no end.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_unix_ms: Option<u64>,
}

/// One route's outcomes (`route` empty: requests no named route matched).
#[derive(Debug, serde::Serialize)]
struct RouteOutcomes {
    route: String,
    #[serde(flatten)]
    outcomes: Outcomes,
}

impl Mirrors {
    pub fn view(&self) -> MirrorsView {
        let now = SystemTime::now();
        let rules = self.rules.as_deref();
        MirrorsView {
            service: rules.and_then(|r| r.service.as_ref()).map(MirrorRule::view),
            live: rules
                .and_then(|r| r.live.as_ref())
                .filter(|l| l.in_force(now))
                .map(MirrorRule::view),
            counts: self
                .counts
                .by_route()
                .into_iter()
                .map(|(route, outcomes)| RouteOutcomes {
                    route: route.to_string(),
                    outcomes,
                })
                .collect(),
        }
    }
}

impl MirrorRule {
    fn view(&self) -> MirrorView {
        MirrorView {
            version: self.version.to_string(),
            percent: f64::from(self.per_million) * 100.0 / f64::from(PER_MILLION),
            compare_body: self.compare_body,
            expires_unix_ms: self
                .expires
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64),
        }
    }
}

#[cfg(test)]
mod tests;
