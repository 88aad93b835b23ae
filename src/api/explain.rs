//! What a proxy's admin listener answers at `GET /explain` (the caller's side of one request)
//! and `GET /explain/inbound` (the destination's side), as `meshctl explain` reads them.
//!
//! Both are dry runs: the proxy evaluates the request with the same decision functions and the
//! same live objects its data path uses (routes, split, circuits, retry budget, faults,
//! authorization), and sends nothing. The query names the request: `method=`, `url=` (the
//! caller's `http://SERVICE/PATH?QUERY`; for `/explain/inbound` the path, or the same URL),
//! `header=NAME:VALUE` (repeatable) and, for `/explain/inbound`, `peer=` (the caller's SPIFFE
//! ID). Values are form-encoded.

use serde::{Deserialize, Serialize};

/// The admin path of the caller's side.
pub const OUTBOUND_PATH: &str = "/explain";
/// The admin path of the destination's side.
pub const INBOUND_PATH: &str = "/explain/inbound";

/// The caller's proxy's view of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundExplanation {
    /// The caller proxy's SPIFFE ID (absent before its first certificate).
    pub caller: Option<String>,
    /// The control-plane configuration the answer was computed from (absent: standalone).
    pub config_version: Option<u64>,
    /// The destination service (the URL's host).
    pub service: String,
    pub method: String,
    /// The path the routes match on (as sent: routes see the path before the destination
    /// normalises it).
    pub path: String,
    /// The destination's routes in order, up to and including the first that matches.
    pub routes: Vec<RouteOutcome>,
    /// Which version gets the request, and how that is decided.
    pub version: VersionChoice,
    /// Request timeout until the response head (absent: none).
    pub timeout_ms: Option<u64>,
    /// Retries (absent: the destination has no retry policy).
    pub retry: Option<RetryExplanation>,
    /// Consecutive failures that eject an endpoint (absent: no circuit breaking).
    pub breaker_failures: Option<u32>,
    /// Every endpoint of every version, with its circuit now.
    pub endpoints: Vec<EndpointState>,
    /// The fault this request would meet (absent: none).
    pub fault: Option<FaultExplanation>,
}

/// One route tried for the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteOutcome {
    /// Position in the destination's `policy.routes` (0-based).
    pub index: usize,
    pub name: Option<String>,
    /// The version it pins (absent: the weighted split).
    pub version: Option<String>,
    pub matched: bool,
    /// The first condition that did not hold, in words (absent when it matched).
    pub mismatch: Option<String>,
}

/// How the version is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum VersionChoice {
    /// A route pins the version.
    Route {
        route: usize,
        version: String,
        /// Endpoints of that version a request could be sent to now (0: the caller answers
        /// 503 — a pinned version never falls back to another).
        admitted_endpoints: usize,
    },
    /// The weighted split draws a version per request.
    Split { shares: Vec<VersionShare> },
}

/// One version's part of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionShare {
    pub version: String,
    /// Configured weight (out of 100).
    pub weight: u32,
    /// Chance this request goes to the version (0-1): the weights over versions that have
    /// endpoints, with a version whose endpoints are all ejected giving its share to the others.
    pub probability: f64,
    pub endpoints: usize,
    /// Endpoints whose circuit admits a request now.
    pub admitted_endpoints: usize,
}

/// One endpoint and its circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointState {
    pub version: String,
    pub address: String,
    pub identity: String,
    /// `closed`, `open` (ejected) or `probing`.
    pub circuit: String,
    /// Consecutive failures so far (closed circuits).
    pub failures: Option<u32>,
    /// When an open circuit lets its probe through.
    pub probe_in_ms: Option<u64>,
    /// Whether a request now could be sent to it.
    pub admits: bool,
}

/// The destination's retry policy as it applies to this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryExplanation {
    /// Total attempts, the first included.
    pub attempts: u32,
    pub on: Vec<String>,
    pub backoff_ms: u64,
    /// Whether this request may be retried: an idempotent method, or a `retryable` route.
    pub applies: bool,
    /// Why, or why not, in words.
    pub because: String,
    /// The budget shared by every request to the destination through this proxy, now.
    pub budget: BudgetState,
}

/// A retry budget's window now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetState {
    /// Requests and retries counted over the window.
    pub requests: u64,
    pub retries: u64,
    /// Retries the window allows in all.
    pub allowed: f64,
    /// Whether one more retry would be granted now.
    pub available: bool,
}

/// A fault the request would meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultExplanation {
    /// `live` (`meshctl fault inject`), `route` (the matched route's) or `service`.
    pub source: String,
    pub abort_status: Option<u16>,
    /// Chance of the abort, in percent.
    pub abort_percent: Option<f64>,
    pub delay_ms: Option<u64>,
    pub delay_percent: Option<f64>,
    pub expires_unix_ms: Option<u64>,
}

/// The destination's proxy's view of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundExplanation {
    /// The destination proxy's SPIFFE ID.
    pub identity: Option<String>,
    pub config_version: Option<u64>,
    /// The caller identity it was evaluated for.
    pub peer: String,
    /// `pending` (no configuration yet), `open` (no policy: every mesh identity) or `enforce`.
    pub mode: String,
    /// The path the policy checks and the app receives (absent: not normalised — open mode,
    /// or a path refused).
    pub normalized_path: Option<String>,
    /// Why the path was refused (400), when it was.
    pub bad_path: Option<String>,
    /// Which exempt entry let the request in (probe paths any caller may reach).
    pub exempt: Option<usize>,
    /// Every allow rule, in order, until one allows.
    pub rules: Vec<AuthzRuleOutcome>,
    pub decision: AuthzDecision,
}

/// One allow rule checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzRuleOutcome {
    pub index: usize,
    pub allows: bool,
    /// The first condition it lacked: `identity`, `path`, `method` or `header`.
    pub lacks: Option<String>,
}

/// What the destination decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzDecision {
    pub allowed: bool,
    /// The HTTP status a refusal answers with (403, 400; 503 with no configuration yet).
    pub status: Option<u16>,
    /// The `meshctl_authz_denied_total` reason of a denial.
    pub reason: Option<String>,
    /// The allow rule that let it in.
    pub rule: Option<usize>,
    /// On denial: the rule that came closest (got furthest through its conditions).
    pub closest: Option<usize>,
}
