//! Fault injection on the caller's proxy: which fault applies to a request (a live one from
//! `meshctl fault inject` while in force, else the matching route's, else the destination's),
//! the independent per-request draws, the answer an abort sends, and the counters.
//!
//! Contract: a delay holds the request before it is forwarded (inside the request timeout);
//! an abort answers at once without contacting the destination, so it is never retried and
//! never counts against an endpoint's circuit. Every injected answer carries
//! `x-meshctl-fault`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue, Response, StatusCode};

use crate::api::proto::control as pb;
use crate::policy::fault::{FaultError, FaultSpec, PER_MILLION};
use crate::proxy::protocol::http::{ProxyBody, error_response};
use crate::proxy::telemetry::metrics::escape_label;

/// On every response a fault touched: `abort`, `delay`, or `delay, abort`.
pub const FAULT_HEADER: HeaderName = HeaderName::from_static("x-meshctl-fault");
/// Why the proxy answered an aborted request (`x-meshctl-proxy-error`, `grpc-message`).
pub const FAULT_REASON: &str = "fault injected";

/// The faults of one destination, as a proxy applies them.
#[derive(Debug, Default)]
pub struct Faults {
    /// The destination's own (`policy.fault`).
    service: Option<FaultRule>,
    /// Per route, in route order (`None`: the route has none).
    routes: Vec<Option<FaultRule>>,
    /// Set with `meshctl fault inject`: replaces all the others while in force.
    live: Option<FaultRule>,
    /// Some route has a fault (so the route match is worth asking for).
    any_route: bool,
    draws: Draws,
    counts: Arc<FaultCount>,
}

/// One fault: what to inject and until when.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    abort: Option<(StatusCode, u32)>,
    delay: Option<(Duration, u32)>,
    /// `None`: no end.
    expires: Option<SystemTime>,
}

/// What the draws decided for one request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// Hold the request this long before forwarding it.
    pub delay: Option<Duration>,
    /// Answer with this status instead of forwarding.
    pub abort: Option<StatusCode>,
}

/// Injected faults of one destination (shared with the metrics registry).
#[derive(Debug, Default)]
pub struct FaultCount {
    aborts: AtomicU64,
    delays: AtomicU64,
}

/// Every destination's injected-fault counters: `meshctl_faults_injected_total`. One entry per
/// upstream service this proxy was ever configured with: bounded by the mesh's services.
#[derive(Debug, Default)]
pub struct FaultCounters {
    by_service: Mutex<BTreeMap<String, Arc<FaultCount>>>,
}

/// Uniform, independent 64-bit draws: splitmix64 over an atomic counter seeded from the
/// system's randomness (fault shares need uniform spread, not secrecy; lock-free).
#[derive(Debug)]
pub(crate) struct Draws(AtomicU64);

impl Faults {
    /// Parses and checks `upstream`'s faults (its `fault`, `live_fault` and routes' faults).
    pub fn parse(upstream: &pb::Upstream) -> Result<Faults, FaultError> {
        let rule = |f: &Option<pb::Fault>| f.as_ref().map(FaultRule::parse).transpose();
        let routes: Vec<Option<FaultRule>> = upstream
            .routes
            .iter()
            .map(|r| rule(&r.fault))
            .collect::<Result<_, _>>()?;
        Ok(Faults {
            service: rule(&upstream.fault)?,
            any_route: routes.iter().any(Option::is_some),
            routes,
            live: rule(&upstream.live_fault)?,
            draws: Draws::default(),
            counts: Arc::default(),
        })
    }

    /// Counts injections in `counts` (the registry's entry for this destination).
    pub fn count_in(self, counts: Arc<FaultCount>) -> Faults {
        Faults { counts, ..self }
    }

    pub fn counts(&self) -> &FaultCount {
        &self.counts
    }

    /// No fault at all: the common case, decided without reading the clock.
    pub fn is_empty(&self) -> bool {
        self.live.is_none() && self.service.is_none() && !self.any_route
    }

    /// The fault for a request at `now`: the live one while in force, else that of the
    /// first matching route (`first_match`, asked only when a route has a fault) if it has
    /// one, else the destination's.
    pub fn applicable(
        &self,
        now: SystemTime,
        first_match: impl FnOnce() -> Option<usize>,
    ) -> Option<&FaultRule> {
        self.applicable_from(now, first_match).map(|(_, rule)| rule)
    }

    /// [`Faults::applicable`] with where the fault comes from: `live`, `route` or `service`.
    pub fn applicable_from(
        &self,
        now: SystemTime,
        first_match: impl FnOnce() -> Option<usize>,
    ) -> Option<(&'static str, &FaultRule)> {
        if let Some(live) = self.live.as_ref().filter(|l| l.in_force(now)) {
            return Some(("live", live));
        }
        if self.any_route
            && let Some(route) = first_match().and_then(|i| self.routes.get(i)?.as_ref())
        {
            return Some(("route", route));
        }
        self.service.as_ref().map(|s| ("service", s))
    }

    /// Draws whether `rule`'s delay and abort hit this request (two independent draws).
    pub fn draw(&self, rule: &FaultRule) -> Injection {
        Injection {
            delay: rule
                .delay
                .filter(|(_, share)| self.draws.hit(*share))
                .map(|(d, _)| d),
            abort: rule
                .abort
                .filter(|(_, share)| self.draws.hit(*share))
                .map(|(s, _)| s),
        }
    }
}

impl FaultRule {
    fn parse(f: &pb::Fault) -> Result<FaultRule, FaultError> {
        let spec = FaultSpec::from_pb(f)?;
        Ok(FaultRule {
            abort: spec.abort.and_then(|a| {
                // from_pb checked 400-599, always a valid status code.
                StatusCode::from_u16(a.status)
                    .ok()
                    .map(|s| (s, a.per_million))
            }),
            delay: spec
                .delay
                .map(|d| (Duration::from_millis(d.ms), d.per_million)),
            // Beyond what the clock can hold is as good as never.
            expires: (f.expires_unix_ms > 0)
                .then(|| UNIX_EPOCH.checked_add(Duration::from_millis(f.expires_unix_ms)))
                .flatten(),
        })
    }

    fn in_force(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|at| now < at)
    }
}

/// A fault as the admin `/config` shows it (shares in percent).
#[derive(Debug, serde::Serialize)]
pub struct FaultView {
    #[serde(skip_serializing_if = "Option::is_none")]
    abort_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    abort_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_percent: Option<f64>,
    /// `None`: no end.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_unix_ms: Option<u64>,
}

/// A destination's faults as `/config` shows them (route faults appear with their routes).
#[derive(Debug, serde::Serialize)]
pub struct FaultsView {
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<FaultView>,
    /// Set with `meshctl fault inject` (shown until it expires, even a moment past).
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<FaultView>,
}

impl Faults {
    pub fn view(&self) -> FaultsView {
        FaultsView {
            service: self.service.as_ref().map(FaultRule::view),
            live: self
                .live
                .as_ref()
                .filter(|l| l.in_force(SystemTime::now()))
                .map(FaultRule::view),
        }
    }

    /// The fault of route `index`, for `/config`.
    pub fn route_view(&self, index: usize) -> Option<FaultView> {
        self.routes.get(index)?.as_ref().map(FaultRule::view)
    }
}

impl FaultRule {
    /// The fault as `meshctl explain` reports it, coming from `source`.
    pub fn explain(&self, source: &str) -> crate::api::explain::FaultExplanation {
        let v = self.view();
        crate::api::explain::FaultExplanation {
            source: source.to_string(),
            abort_status: v.abort_status,
            abort_percent: v.abort_percent,
            delay_ms: v.delay_ms,
            delay_percent: v.delay_percent,
            expires_unix_ms: v.expires_unix_ms,
        }
    }

    fn view(&self) -> FaultView {
        let percent = |share: u32| f64::from(share) * 100.0 / f64::from(PER_MILLION);
        FaultView {
            abort_status: self.abort.map(|(s, _)| s.as_u16()),
            abort_percent: self.abort.map(|(_, share)| percent(share)),
            delay_ms: self.delay.map(|(d, _)| d.as_millis() as u64),
            delay_percent: self.delay.map(|(_, share)| percent(share)),
            expires_unix_ms: self
                .expires
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64),
        }
    }
}

impl Injection {
    /// `x-meshctl-fault` for a response after this injection; `aborted`: the abort was
    /// answered (a timeout during the delay pre-empts it).
    pub fn header(&self, aborted: bool) -> Option<HeaderValue> {
        match (self.delay.is_some(), aborted) {
            (false, false) => None,
            (true, false) => Some(HeaderValue::from_static("delay")),
            (false, true) => Some(HeaderValue::from_static("abort")),
            (true, true) => Some(HeaderValue::from_static("delay, abort")),
        }
    }
}

impl FaultCount {
    pub fn aborted(&self) {
        self.aborts.fetch_add(1, Relaxed);
    }

    pub fn delayed(&self) {
        self.delays.fetch_add(1, Relaxed);
    }
}

impl FaultCounters {
    /// The counters of `service` (created at 0 on first sight, kept for good).
    pub fn service(&self, service: &str) -> Arc<FaultCount> {
        let mut map = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(service.to_string()).or_default().clone()
    }

    /// Appends `meshctl_faults_injected_total` in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let name = "meshctl_faults_injected_total";
        let _ = writeln!(
            out,
            "# HELP {name} Faults injected by this proxy into requests to a service, by kind.\n# TYPE {name} counter"
        );
        let map = self.by_service.lock().unwrap_or_else(|p| p.into_inner());
        for (service, c) in map.iter() {
            let service = escape_label(service);
            for (kind, n) in [("abort", &c.aborts), ("delay", &c.delays)] {
                let _ = writeln!(
                    out,
                    "{name}{{service=\"{service}\",kind=\"{kind}\"}} {}",
                    n.load(Relaxed)
                );
            }
        }
    }
}

impl Default for Draws {
    fn default() -> Self {
        use ring::rand::SecureRandom;
        let mut seed = [0u8; 8];
        if ring::rand::SystemRandom::new().fill(&mut seed).is_err() {
            // No system randomness: the clock still spreads seeds across destinations.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            seed = nanos.to_le_bytes();
        }
        Draws(AtomicU64::new(u64::from_le_bytes(seed)))
    }
}

impl Draws {
    fn next(&self) -> u64 {
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut z = self.0.fetch_add(GAMMA, Relaxed).wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True for `per_million` in a million draws (the modulo bias of 2^64 over 10^6 is below
    /// 10^-13).
    pub(crate) fn hit(&self, per_million: u32) -> bool {
        match per_million {
            0 => false,
            n if n >= PER_MILLION => true,
            n => self.next() % u64::from(PER_MILLION) < u64::from(n),
        }
    }
}

/// The answer to an aborted request: `status` with [`FAULT_HEADER`], or for a gRPC call a
/// trailers-only response whose `grpc-status` maps the HTTP status ([`grpc_status`]).
pub fn abort_response(status: StatusCode, grpc: bool) -> Response<ProxyBody> {
    let mut response = if grpc {
        crate::proxy::protocol::http::grpc_error(
            HeaderValue::from(grpc_status(status)),
            FAULT_REASON,
        )
    } else {
        error_response(status, FAULT_REASON)
    };
    response
        .headers_mut()
        .insert(FAULT_HEADER, HeaderValue::from_static("abort"));
    response
}

/// The gRPC status a client would derive from an HTTP status (gRPC's
/// "HTTP to gRPC Status Code Mapping"), except 504, which maps to DEADLINE_EXCEEDED (4) as
/// the proxy's own request timeouts do.
pub fn grpc_status(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 => 13,             // INTERNAL
        401 => 16,             // UNAUTHENTICATED
        403 => 7,              // PERMISSION_DENIED
        404 => 12,             // UNIMPLEMENTED
        429 | 502 | 503 => 14, // UNAVAILABLE
        504 => 4,              // DEADLINE_EXCEEDED
        _ => 2,                // UNKNOWN
    }
}

#[cfg(test)]
mod tests;
