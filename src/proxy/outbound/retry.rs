//! Retries: which requests may be sent again (idempotent or on a `retryable` route, with a
//! body small enough to replay), on which outcomes, how long to wait, and the budget that
//! keeps retries from multiplying load on a failing destination.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either};
use hyper::body::Body;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::api::proto::control as pb;
use crate::proxy::outbound::peer::{Peer, PeerError};
use crate::proxy::outbound::route::Route;
use crate::proxy::outbound::rules::Selected;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::http::{BoxedRequest, ProxyBody, Written};
use crate::proxy::protocol::replay::{Replay, ReplayBody};
use crate::proxy::telemetry::policy_metrics::PolicyCounters;

pub use crate::policy::traffic::{MAX_ATTEMPTS, RetryCondition, RetryPolicyError};

/// Largest request body buffered for replay; a larger one streams and is never retried (one
/// of unknown length streams with a copy kept up to the same size, see
/// `protocol/replay.rs`).
pub const MAX_REPLAY_BODY: u64 = 64 * 1024;
/// Most dials for one opaque TCP connection (its first endpoint and the ones it fails over
/// to when dialing fails).
pub const TCP_DIAL_ATTEMPTS: usize = 3;
/// Longest wait between two attempts, whatever the base and attempt number.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Share of requests that may be retried on top of the minimum rate.
pub const BUDGET_RATIO: f64 = 0.2;
/// Retries per second always allowed, however few requests there are.
pub const BUDGET_MIN_PER_SECOND: f64 = 10.0;
/// How far back the budget counts requests and retries.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(10);
/// Buckets the window is counted in (one per second).
const BUDGET_BUCKETS: usize = 10;

/// A destination's retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub on: Vec<RetryCondition>,
    pub backoff: Duration,
}

/// Retries allowed over the last [`BUDGET_WINDOW`]: [`BUDGET_RATIO`] of the requests plus
/// [`BUDGET_MIN_PER_SECOND`] for each second the budget has existed (at least one, at most
/// the window).
#[derive(Debug)]
pub struct RetryBudget {
    created: Instant,
    /// (second since `created`, requests, retries) per bucket, indexed by second modulo.
    buckets: Mutex<[(u64, u64, u64); BUDGET_BUCKETS]>,
}

/// The result of one attempt.
pub type Attempt = Result<Response<H2Body>, PeerError>;

/// Why a request got no response from a peer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no endpoint available")]
    NoEndpoint,
    #[error("reading the request body: {0}")]
    Body(#[source] BodyError),
    #[error(transparent)]
    Peer(#[from] PeerError),
}

impl ForwardError {
    /// The status and reason the proxy answers with.
    pub fn response(&self) -> (StatusCode, &'static str) {
        match self {
            ForwardError::NoEndpoint => (StatusCode::SERVICE_UNAVAILABLE, "no endpoints"),
            ForwardError::Body(_) => (StatusCode::BAD_REQUEST, "request body read failed"),
            ForwardError::Peer(e) => e.response(),
        }
    }
}

/// A request body that failed to arrive (from the client, while buffering it).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Contract: sends `req` to an endpoint of `selected`'s version (or the split) whose circuit
/// admits it and, when the destination has a retry policy, the request is idempotent or its
/// route retryable, and its body fits [`MAX_REPLAY_BODY`], sends it again on a retryable
/// outcome — to another endpoint when one exists, after a jittered backoff, while the budget
/// allows. Every attempt's outcome feeds the endpoint's circuit breaker. `Ok` is the last
/// attempt's response (possibly an error status); `Err` the last attempt's failure, or
/// `NoEndpoint` at once when every endpoint is ejected or none exists.
///
/// `on_attempt` sees every attempt's peer and request just before it is sent (the caller
/// records the peer for its statistics and starts a tap on the first one).
pub async fn send(
    route: &Route<Arc<Peer>>,
    selected: Selected<'_>,
    req: BoxedRequest,
    counters: &PolicyCounters,
    on_attempt: &mut (dyn FnMut(&Arc<Peer>, &Request<ProxyBody>) + Send),
) -> Result<Response<H2Body>, ForwardError> {
    let rules = route.rules();
    // Only a destination that retries needs its budget fed (it takes a lock).
    if rules.retry().is_some() {
        rules.budget().record_request(Instant::now());
    }
    let breaker = rules.breaker_failures();
    let admitted = |p: &Arc<Peer>| breaker.is_none() || p.breaker().admit(Instant::now());
    let first = route
        .endpoint_where(selected.version, admitted)
        .ok_or(ForwardError::NoEndpoint)?
        .clone();
    let mut attempt_on = async |peer: &Arc<Peer>, req: BoxedRequest| {
        on_attempt(peer, &req);
        let outcome = peer.send(req).await;
        if let Some(threshold) = breaker {
            record(peer, threshold, &outcome, counters);
        }
        outcome
    };
    let policy = match rules.retry() {
        Some(p) if may_retry(&selected, req.method()) => p,
        _ => return Ok(attempt_on(&first, req).await?),
    };
    let mut replay = match Replayable::buffer(req).await.map_err(ForwardError::Body)? {
        Ok(replay) => replay,
        Err(too_large) => return Ok(attempt_on(&first, too_large).await?),
    };
    let mut peer = first;
    let mut attempt = 1;
    let mut req = replay.request();
    while let Some(sending) = req.take() {
        let outcome = attempt_on(&peer, sending).await;
        if !policy.wants_retry(attempt, &outcome) {
            replay.done();
            return Ok(outcome?);
        }
        if !rules.budget().try_retry(Instant::now()) {
            tracing::debug!(attempt, "retry budget exhausted");
            counters.budget_exhausted();
            replay.done();
            return Ok(outcome?);
        }
        tokio::time::sleep(policy.backoff(attempt, jitter())).await;
        // Another admitted endpoint when there is one; else the same one if still admitted.
        let next = route
            .endpoint_where(selected.version, |e| !Arc::ptr_eq(e, &peer) && admitted(e))
            .or_else(|| Some(&peer).filter(|p| admitted(p)))
            .cloned();
        // A streamed body that could not be kept cannot be sent again.
        req = next.is_some().then(|| replay.request()).flatten();
        let (Some(next), Some(_)) = (next, &req) else {
            replay.done();
            return Ok(outcome?);
        };
        counters.retry();
        peer = next;
        attempt += 1;
    }
    // Only when not even the first copy could be made, which `buffer` rules out.
    Err(ForwardError::NoEndpoint)
}

/// Opens an opaque TCP connection to an endpoint of `route`: chosen like a request's (split,
/// balancer, skipping endpoints their circuit ejected), and when dialing fails — nothing was
/// sent yet — another endpoint, each at most once, [`TCP_DIAL_ATTEMPTS`] in all. Every dial
/// feeds the endpoint's circuit when the destination has one.
pub async fn dial_tcp(
    route: &Route<Arc<Peer>>,
) -> std::io::Result<(Arc<Peer>, TlsStream<TcpStream>)> {
    let breaker = route.rules().breaker_failures();
    let admitted = |p: &Arc<Peer>| breaker.is_none() || p.breaker().admit(Instant::now());
    let mut tried: Vec<Arc<Peer>> = Vec::new();
    loop {
        let untried = |p: &Arc<Peer>| !tried.iter().any(|t| Arc::ptr_eq(t, p));
        let Some(peer) = route
            .endpoint_where(None, |p| untried(p) && admitted(p))
            .cloned()
        else {
            let why = if tried.is_empty() {
                "no endpoints"
            } else {
                "every endpoint tried failed"
            };
            return Err(std::io::Error::other(why));
        };
        let result = peer.connect_tcp().await;
        if let Some(threshold) = breaker {
            feed_breaker(&peer, threshold, result.is_err(), route.counters());
        }
        match result {
            Ok(upstream) => return Ok((peer, upstream)),
            Err(e) if tried.len() + 1 >= TCP_DIAL_ATTEMPTS => {
                return Err(std::io::Error::other(e));
            }
            Err(e) => {
                tracing::debug!(peer = %peer.addr(), error = %e, "dial failed; trying another endpoint");
                tried.push(peer);
            }
        }
    }
}

/// Feeds one attempt's outcome to the endpoint's circuit: an error or a 5xx is a failure.
fn record(peer: &Peer, threshold: u32, outcome: &Attempt, counters: &PolicyCounters) {
    let failed = outcome
        .as_ref()
        .map_or(true, |r| r.status().is_server_error());
    feed_breaker(peer, threshold, failed, counters);
}

fn feed_breaker(peer: &Peer, threshold: u32, failed: bool, counters: &PolicyCounters) {
    if !failed {
        peer.breaker().success();
    } else if peer.breaker().failure(Instant::now(), threshold, jitter()) {
        tracing::info!(peer = %peer.addr(), "endpoint ejected by its circuit breaker");
        counters.ejection();
    }
}

impl RetryCondition {
    fn matches(self, attempt: &Attempt) -> bool {
        match (self, attempt) {
            (RetryCondition::ConnectFailure, Err(e)) => e.is_connect_failure(),
            // A failed exchange is answered with a gateway status (502/503), so `gateway-error`
            // and `5xx` retry it as they would that answer from the peer: e.g. a stream a
            // draining peer refused or reset as it went away.
            (RetryCondition::GatewayError | RetryCondition::ServerError, Err(e)) => matches!(
                e.response().0,
                StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE
            ),
            (_, Err(_)) => false,
            (RetryCondition::ServerError, Ok(r)) => r.status().is_server_error(),
            (RetryCondition::GatewayError, Ok(r)) => matches!(
                r.status(),
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            (RetryCondition::ConnectFailure, Ok(_)) => false,
            (RetryCondition::Grpc(code), Ok(r)) => {
                r.headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u8>().ok())
                    == Some(code)
            }
        }
    }
}

impl RetryPolicy {
    /// `None` when the destination has no retry policy.
    pub fn parse(p: Option<&pb::RetryPolicy>) -> Result<Option<Self>, RetryPolicyError> {
        let Some(p) = p else { return Ok(None) };
        if !(2..=MAX_ATTEMPTS).contains(&p.attempts) {
            return Err(RetryPolicyError::Attempts(p.attempts));
        }
        let on =
            p.on.iter()
                .map(|c| c.parse())
                .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(RetryPolicy {
            attempts: p.attempts,
            on,
            backoff: Duration::from_millis(p.backoff_ms),
        }))
    }

    /// Whether attempt number `attempt` (1-based) failed in a way worth another attempt.
    pub fn wants_retry(&self, attempt: u32, outcome: &Attempt) -> bool {
        attempt < self.attempts && self.on.iter().any(|c| c.matches(outcome))
    }

    /// The wait after attempt `attempt`: base × 2^(attempt-1), scaled by `jitter` in [0, 1)
    /// into [½, 1½) of that, capped at [`MAX_BACKOFF`].
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        exp.mul_f64(0.5 + jitter).min(MAX_BACKOFF)
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new(Instant::now())
    }
}

impl RetryBudget {
    pub fn new(now: Instant) -> Self {
        RetryBudget {
            created: now,
            buckets: Mutex::new([(0, 0, 0); BUDGET_BUCKETS]),
        }
    }

    /// Counts a request (every request deposits into the budget).
    pub fn record_request(&self, now: Instant) {
        self.with_bucket(now, |b| b.1 += 1);
    }

    /// Takes one retry from the budget if there is one left.
    pub fn try_retry(&self, now: Instant) -> bool {
        let second = self.second(now);
        let Ok(mut buckets) = self.buckets.lock() else {
            return false;
        };
        let (_, retries, allowed) = self.tally(&buckets, now);
        if (retries + 1) as f64 > allowed {
            return false;
        }
        let bucket = Self::bucket(&mut buckets, second);
        bucket.2 += 1;
        true
    }

    /// The window now, as `meshctl explain` shows it (nothing taken).
    pub fn state(&self, now: Instant) -> crate::api::explain::BudgetState {
        let (requests, retries, allowed) = match self.buckets.lock() {
            Ok(buckets) => self.tally(&buckets, now),
            Err(_) => (0, 0, 0.0),
        };
        crate::api::explain::BudgetState {
            requests,
            retries,
            allowed,
            available: (retries + 1) as f64 <= allowed,
        }
    }

    /// Requests and retries over the window at `now`, and the retries it allows in all.
    fn tally(&self, buckets: &[(u64, u64, u64); BUDGET_BUCKETS], now: Instant) -> (u64, u64, f64) {
        let second = self.second(now);
        let live = |b: &&(u64, u64, u64)| b.0 + (BUDGET_BUCKETS as u64) > second;
        let requests: u64 = buckets.iter().filter(live).map(|b| b.1).sum();
        let retries: u64 = buckets.iter().filter(live).map(|b| b.2).sum();
        // A fresh budget has its first second's minimum at once, so the first failures of a
        // new destination are retried too.
        let elapsed = now
            .saturating_duration_since(self.created)
            .clamp(Duration::from_secs(1), BUDGET_WINDOW)
            .as_secs_f64();
        let allowed = BUDGET_RATIO * requests as f64 + BUDGET_MIN_PER_SECOND * elapsed;
        (requests, retries, allowed)
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.created).as_secs()
    }

    fn with_bucket(&self, now: Instant, f: impl FnOnce(&mut (u64, u64, u64))) {
        let second = self.second(now);
        if let Ok(mut buckets) = self.buckets.lock() {
            f(Self::bucket(&mut buckets, second));
        }
    }

    /// The bucket of `second`, emptied first if it still holds an older second.
    fn bucket(
        buckets: &mut [(u64, u64, u64); BUDGET_BUCKETS],
        second: u64,
    ) -> &mut (u64, u64, u64) {
        let b = &mut buckets[(second % BUDGET_BUCKETS as u64) as usize];
        if b.0 != second {
            *b = (second, 0, 0);
        }
        b
    }
}

/// Whether a request may be retried at all: its route says so, or its method is idempotent.
#[inline]
pub fn may_retry(selected: &Selected<'_>, method: &Method) -> bool {
    selected.retryable || is_idempotent(method)
}

/// Methods that mean the same when sent twice (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A request that can be sent again: its head, and its body — whole (known to fit in
/// [`MAX_REPLAY_BODY`]) or streamed while a copy is kept ([`ReplayBody`]).
#[derive(Debug)]
pub struct Replayable {
    parts: Parts,
    body: Kept,
}

#[derive(Debug)]
enum Kept {
    Whole(Bytes),
    /// `first`: the first attempt's body (streams at once); `replay` makes the others.
    Streamed {
        first: Option<ReplayBody>,
        replay: Replay,
    },
}

impl Replayable {
    /// Buffers `req` when its body is known to fit in [`MAX_REPLAY_BODY`] (empty, or a
    /// `content-length` that small); a body of unknown length (a gRPC call, a chunked
    /// upload) is streamed with a copy kept while it fits. A body the proxy wrote itself and
    /// too large is handed back untouched.
    pub async fn buffer(req: BoxedRequest) -> Result<Result<Replayable, BoxedRequest>, BodyError> {
        let small = req.body().is_end_stream()
            || req
                .body()
                .size_hint()
                .upper()
                .is_some_and(|n| n <= MAX_REPLAY_BODY)
            || content_length(req.headers()).is_some_and(|n| n <= MAX_REPLAY_BODY);
        if small {
            let (parts, body) = (*req).into_parts();
            let body = body.collect().await?.to_bytes();
            return Ok(Ok(Replayable {
                parts,
                body: Kept::Whole(body),
            }));
        }
        let (parts, body) = (*req).into_parts();
        match body {
            Either::Left(streamed) => {
                let (first, replay) = ReplayBody::new(streamed);
                Ok(Ok(Replayable {
                    parts,
                    body: Kept::Streamed {
                        first: Some(first),
                        replay,
                    },
                }))
            }
            written @ Either::Right(_) => Ok(Err(Box::new(Request::from_parts(parts, written)))),
        }
    }

    /// The next copy to send; `None` when the body could not be kept (a streamed one that
    /// outgrew [`MAX_REPLAY`](crate::proxy::protocol::replay::MAX_REPLAY) or failed, or is
    /// still held by the attempt before).
    pub fn request(&mut self) -> Option<BoxedRequest> {
        let body = match &mut self.body {
            Kept::Whole(bytes) => Written::full(bytes.clone()),
            Kept::Streamed { first, replay } => match first.take() {
                Some(first) => Written::Replay(Box::new(first)),
                None => Written::Replay(Box::new(replay.again()?)),
            },
        };
        let mut req = Request::new(Either::Right(body));
        *req.method_mut() = self.parts.method.clone();
        *req.uri_mut() = self.parts.uri.clone();
        *req.version_mut() = self.parts.version;
        *req.headers_mut() = self.parts.headers.clone();
        Some(Box::new(req))
    }

    /// No further attempt will be made: a streamed body stops keeping its copy.
    pub fn done(&self) {
        if let Kept::Streamed { replay, .. } = &self.body {
            replay.forget();
        }
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A uniform number in [0, 1) for backoff jitter (splitmix64; spread, not secrecy).
pub fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);
    let mut z = STATE
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;
