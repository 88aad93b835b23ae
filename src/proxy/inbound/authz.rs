//! Inbound authorization: who may call this proxy's service, checked on every request (and
//! every opaque TCP connection) against the client's verified SPIFFE ID.
//!
//! Contract: a service with no policy lets every verified mesh identity in (the mTLS
//! handshake already refused everyone else). A service with a policy denies what no `allow`
//! rule allows — HTTP 403, gRPC PERMISSION_DENIED, TCP closed after the handshake — except
//! `exempt` paths (health probes), which any caller may reach with the listed methods.
//! Requests are matched on the normalised path ([`crate::policy::normalize`]), which is also the path
//! forwarded to the app. Every denial is counted by reason.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::header::HOST;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use tokio::sync::watch;

use crate::api::proto::control as pb;
use crate::policy::authz::{IdPattern, check_method, check_rule_path, header_name, header_value};
use crate::policy::normalize::{BadPath, normalize_path};
use crate::proxy::protocol::http::{ProxyBody, error_response};

/// How long a request or connection waits for a control-plane-driven proxy's first
/// configuration (which says whether its service has a policy) before it is refused.
pub const FIRST_CONFIG_WAIT: Duration = Duration::from_secs(10);
/// Body, `x-meshctl-proxy-error` and `grpc-message` of a denial.
pub const DENIED: &str = "denied by authorization policy";
/// The same for a path refused by normalisation.
pub const BAD_PATH: &str = "invalid request path";
/// The same while the first configuration has not arrived.
pub const NOT_CONFIGURED: &str = "authorization policy not received yet";
/// gRPC PERMISSION_DENIED.
pub const GRPC_PERMISSION_DENIED: &str = "7";
/// gRPC INVALID_ARGUMENT (a path that cannot be normalised).
pub const GRPC_INVALID_ARGUMENT: &str = "3";
/// gRPC UNAVAILABLE (no configuration yet).
pub const GRPC_UNAVAILABLE: &str = "14";

/// A compiled, validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzPolicy {
    allow: Vec<AllowRule>,
    exempt: Vec<Exempt>,
}

/// What an inbound listener enforces right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundAuthz {
    /// The first configuration has not arrived: wait for it (control-plane mode only).
    Pending,
    /// No policy: every verified mesh identity may call, paths are forwarded untouched.
    Open,
    Enforce(AuthzPolicy),
}

/// A normalised-path condition; a prefix matches whole segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRule {
    Exact(String),
    Prefix(String),
}

/// Why a request or connection was denied: the label of `meshctl_authz_denied_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DenyReason {
    /// No rule names the client's identity.
    Identity,
    /// Rules name the identity, but none allows the path.
    Path,
    /// ... nor the method.
    Method,
    /// ... nor the headers.
    Header,
    /// An opaque TCP connection whose identity only rules with HTTP conditions name.
    OpaqueTcp,
    /// The path cannot be normalised (answered 400).
    BadPath,
}

/// Why a policy is refused (the whole configuration is then refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzError {
    #[error("authorization {at}: {message}")]
    Invalid { at: String, message: String },
}

/// Where the inbound listeners read the policy; swapped atomically on a new configuration.
#[derive(Debug)]
pub struct AuthzCell {
    current: ArcSwap<InboundAuthz>,
    changed: watch::Sender<()>,
}

/// Denials by reason, rendered as `meshctl_authz_denied_total`.
#[derive(Debug, Default)]
pub struct AuthzCounters {
    denied: [AtomicU64; DenyReason::ALL.len()],
}

/// What the check decided for one HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(DenyReason),
    /// No configuration arrived within [`FIRST_CONFIG_WAIT`].
    NotConfigured,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowRule {
    from: Vec<IdPattern>,
    paths: Vec<PathRule>,
    methods: Vec<Method>,
    headers: Vec<HeaderRule>,
}

/// The header must be present and each of its values one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HeaderRule {
    name: HeaderName,
    values: Vec<HeaderValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Exempt {
    path: PathRule,
    methods: Vec<Method>,
}

impl DenyReason {
    pub const ALL: [DenyReason; 6] = [
        DenyReason::Identity,
        DenyReason::Path,
        DenyReason::Method,
        DenyReason::Header,
        DenyReason::OpaqueTcp,
        DenyReason::BadPath,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DenyReason::Identity => "identity",
            DenyReason::Path => "path",
            DenyReason::Method => "method",
            DenyReason::Header => "header",
            DenyReason::OpaqueTcp => "opaque_tcp",
            DenyReason::BadPath => "bad_path",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl AuthzPolicy {
    /// Compiles and checks a policy from the wire; `Err` names the first bad field.
    pub fn from_proto(p: &pb::AuthzPolicy) -> Result<Self, AuthzError> {
        let allow = each("allow", &p.allow, AllowRule::from_proto)?;
        let exempt = each("exempt", &p.exempt, |at, e| {
            let path = e
                .path
                .as_ref()
                .and_then(|p| p.r#match.as_ref())
                .ok_or_else(|| invalid(at, "an exempt entry needs a path"))?;
            if e.methods.is_empty() {
                return Err(invalid(at, "an exempt entry needs at least one method"));
            }
            Ok(Exempt {
                path: PathRule::from_proto(&format!("{at}.path"), path)?,
                methods: methods(at, &e.methods)?,
            })
        })?;
        Ok(AuthzPolicy { allow, exempt })
    }

    /// Whether `path` (normalised) with `method` is an exempt probe path.
    pub fn is_exempt(&self, method: &Method, path: &str) -> bool {
        self.exempt_entry(method, path).is_some()
    }

    /// The exempt entry that lets `method` on `path` (normalised) in, if one does.
    fn exempt_entry(&self, method: &Method, path: &str) -> Option<usize> {
        self.exempt
            .iter()
            .position(|e| e.path.matches(path) && e.methods.contains(method))
    }

    /// Checks one HTTP request (its path normalised). On denial, the reason is the furthest
    /// any rule got: a rule naming the identity but not the path gives `path`, and so on.
    pub fn check_http(
        &self,
        peer: &str,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), DenyReason> {
        self.check_http_at(peer, method, path, headers, None)
    }

    /// [`Self::check_http`] for a request whose target carries an authority (`:authority`
    /// from HTTP/2, or an absolute-form HTTP/1.1 target): a `host` condition checks it too.
    pub fn check_http_at(
        &self,
        peer: &str,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> Result<(), DenyReason> {
        if self.is_exempt(method, path) {
            return Ok(());
        }
        self.check_rules(peer, method, path, headers, authority, |_, _| {})
    }

    /// The allow rules in order until one allows, each outcome told to `seen`; on denial the
    /// reason is the furthest any rule got.
    #[inline]
    fn check_rules(
        &self,
        peer: &str,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        authority: Option<&str>,
        mut seen: impl FnMut(usize, Result<(), DenyReason>),
    ) -> Result<(), DenyReason> {
        let mut furthest = DenyReason::Identity;
        for (index, rule) in self.allow.iter().enumerate() {
            let outcome = rule.check(peer, method, path, headers, authority);
            seen(index, outcome);
            match outcome {
                Ok(()) => return Ok(()),
                Err(reason) => furthest = furthest.max(reason),
            }
        }
        Err(furthest)
    }

    /// Checks an opaque TCP connection: only a rule without path, method or header
    /// conditions can allow it (those cannot be checked on opaque bytes, and a connection
    /// allowed anyway would bypass them).
    pub fn check_tcp(&self, peer: &str) -> Result<(), DenyReason> {
        let mut reason = DenyReason::Identity;
        for rule in &self.allow {
            if rule.identity_matches(peer) {
                if rule.paths.is_empty() && rule.methods.is_empty() && rule.headers.is_empty() {
                    return Ok(());
                }
                reason = DenyReason::OpaqueTcp;
            }
        }
        Err(reason)
    }
}

impl AllowRule {
    fn from_proto(at: &str, r: &pb::AuthzRule) -> Result<Self, AuthzError> {
        let from = each(&format!("{at}.from"), &r.from, |at, p| {
            p.parse::<IdPattern>().map_err(|e| invalid(at, e))
        })?;
        let paths = each(&format!("{at}.paths"), &r.paths, |at, p| {
            let m = p
                .r#match
                .as_ref()
                .ok_or_else(|| invalid(at, "give `exact` or `prefix`"))?;
            PathRule::from_proto(at, m)
        })?;
        let headers: Vec<HeaderRule> = each(&format!("{at}.headers"), &r.headers, |at, h| {
            let name = header_name(&h.name).map_err(|e| invalid(at, e))?;
            if h.values.is_empty() {
                return Err(invalid(at, "a header condition needs at least one value"));
            }
            let values = h
                .values
                .iter()
                .map(|v| {
                    // Host values compare in canonical form (see `canonical_host`).
                    let v = if name == HOST {
                        canonical_host(v.as_bytes())
                    } else {
                        v.clone()
                    };
                    header_value(&v).map_err(|e| invalid(at, e))
                })
                .collect::<Result<_, _>>()?;
            Ok(HeaderRule { name, values })
        })?;
        for (i, h) in headers.iter().enumerate() {
            if headers[..i].iter().any(|o| o.name == h.name) {
                return Err(invalid(
                    &format!("{at}.headers[{i}]"),
                    format!("header `{}` is given twice", h.name),
                ));
            }
        }
        Ok(AllowRule {
            from,
            paths,
            methods: methods(at, &r.methods)?,
            headers,
        })
    }

    fn identity_matches(&self, peer: &str) -> bool {
        self.from.is_empty() || self.from.iter().any(|p| p.matches(peer))
    }

    fn check(
        &self,
        peer: &str,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> Result<(), DenyReason> {
        if !self.identity_matches(peer) {
            return Err(DenyReason::Identity);
        }
        if !self.paths.is_empty() && !self.paths.iter().any(|p| p.matches(path)) {
            return Err(DenyReason::Path);
        }
        if !self.methods.is_empty() && !self.methods.contains(method) {
            return Err(DenyReason::Method);
        }
        if !self.headers.iter().all(|h| h.matches(headers, authority)) {
            return Err(DenyReason::Header);
        }
        Ok(())
    }
}

impl HeaderRule {
    /// Present, and EVERY value allowed: an extra copy of the header (`x-role: user` next to
    /// `x-role: admin`) cannot smuggle a request through. Names compare case-insensitively
    /// (`HeaderName` is lower case; HTTP/2 requires lower-case names on the wire).
    ///
    /// `host` is the request's authority, whichever way it arrived: `:authority` (HTTP/2, or
    /// an absolute-form target) and every Host field must each match, compared in canonical
    /// form (lower case, no trailing dot), so `API.test.` over HTTP/1.1 and `api.test` over
    /// HTTP/2 meet the same rule.
    fn matches(&self, headers: &HeaderMap, authority: Option<&str>) -> bool {
        if self.name == HOST {
            let hosts = headers.get_all(HOST).iter().map(|v| v.as_bytes());
            let mut all = authority
                .map(str::as_bytes)
                .into_iter()
                .chain(hosts)
                .peekable();
            return all.peek().is_some()
                && all.all(|h| {
                    let h = canonical_host(h);
                    self.values.iter().any(|v| v.as_bytes() == h.as_bytes())
                });
        }
        let mut values = headers.get_all(&self.name).iter().peekable();
        values.peek().is_some() && values.all(|v| self.values.contains(v))
    }
}

/// An authority as rules compare it: ASCII lower case, without the trailing dot of a fully
/// qualified name (`API.Test.:8080` → `api.test:8080`).
pub fn canonical_host(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
    let (host, port) = match text.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (text.as_str(), None),
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (text.as_str(), None),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

impl PathRule {
    fn from_proto(at: &str, m: &pb::authz_path::Match) -> Result<Self, AuthzError> {
        let rule = match m {
            pb::authz_path::Match::Exact(p) => PathRule::Exact(p.clone()),
            pb::authz_path::Match::Prefix(p) => PathRule::Prefix(p.clone()),
        };
        let (PathRule::Exact(p) | PathRule::Prefix(p)) = &rule;
        check_rule_path(p).map_err(|e| invalid(at, e))?;
        Ok(rule)
    }

    /// `path` is normalised. A prefix matches itself and what lies below it: `/api` matches
    /// `/api`, `/api/` and `/api/x` but not `/apiary`; `/api/` matches `/api/x`, not `/api`.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathRule::Exact(p) => path == p,
            PathRule::Prefix(p) => path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || p.ends_with('/') || rest.starts_with('/')),
        }
    }
}

impl InboundAuthz {
    /// The policy a configuration carries (`None`: open).
    pub fn from_proto(p: Option<&pb::AuthzPolicy>) -> Result<Self, AuthzError> {
        Ok(match p {
            None => InboundAuthz::Open,
            Some(p) => InboundAuthz::Enforce(AuthzPolicy::from_proto(p)?),
        })
    }

    /// Normalises the request's path in place when a policy is enforced (the app then gets
    /// exactly the path that was checked) and checks the request.
    pub fn check_request<B>(&self, req: &mut Request<B>, peer: &str) -> Verdict {
        let policy = match self {
            InboundAuthz::Pending => return Verdict::NotConfigured,
            InboundAuthz::Open => return Verdict::Allow,
            InboundAuthz::Enforce(p) => p,
        };
        let path = match normalize_request_path(req.uri_mut()) {
            Ok(path) => path,
            Err(_) => return Verdict::Deny(DenyReason::BadPath),
        };
        let authority = req.uri().authority().map(|a| a.as_str());
        match policy.check_http_at(peer, req.method(), &path, req.headers(), authority) {
            Ok(()) => Verdict::Allow,
            Err(reason) => Verdict::Deny(reason),
        }
    }

    pub fn check_tcp(&self, peer: &str) -> Verdict {
        match self {
            InboundAuthz::Pending => Verdict::NotConfigured,
            InboundAuthz::Open => Verdict::Allow,
            InboundAuthz::Enforce(p) => match p.check_tcp(peer) {
                Ok(()) => Verdict::Allow,
                Err(reason) => Verdict::Deny(reason),
            },
        }
    }
}

impl InboundAuthz {
    /// What [`InboundAuthz::check_request`] decides for a request from `peer` with `uri`
    /// (absolute, or a path), method and headers — every allow rule tried and why it did not
    /// allow — for `meshctl explain`. Nothing is counted.
    pub fn explain(
        &self,
        peer: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> crate::api::explain::InboundExplanation {
        use crate::api::explain::{AuthzDecision, AuthzRuleOutcome, InboundExplanation};
        let mut answer = InboundExplanation {
            identity: None,
            config_version: None,
            peer: peer.to_string(),
            mode: String::new(),
            normalized_path: None,
            bad_path: None,
            exempt: None,
            rules: Vec::new(),
            decision: AuthzDecision {
                allowed: true,
                status: None,
                reason: None,
                rule: None,
                closest: None,
            },
        };
        let deny = |reason: DenyReason| {
            let status = match reason {
                DenyReason::BadPath => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            AuthzDecision {
                allowed: false,
                status: Some(status.as_u16()),
                reason: Some(reason.label().to_string()),
                rule: None,
                closest: None,
            }
        };
        let policy = match self {
            InboundAuthz::Pending => {
                answer.mode = "pending".into();
                answer.decision.allowed = false;
                answer.decision.status = Some(StatusCode::SERVICE_UNAVAILABLE.as_u16());
                return answer;
            }
            InboundAuthz::Open => {
                answer.mode = "open".into();
                return answer;
            }
            InboundAuthz::Enforce(p) => p,
        };
        answer.mode = "enforce".into();
        let mut uri = uri.clone();
        let path = match normalize_request_path(&mut uri) {
            Ok(path) => path,
            Err(e) => {
                answer.bad_path = Some(e.to_string());
                answer.decision = deny(DenyReason::BadPath);
                return answer;
            }
        };
        answer.normalized_path = Some(path.clone());
        if let Some(entry) = policy.exempt_entry(method, &path) {
            answer.exempt = Some(entry);
            return answer;
        }
        let authority = uri.authority().map(|a| a.as_str());
        let mut closest: Option<(usize, DenyReason)> = None;
        let rules = &mut answer.rules;
        let verdict = policy.check_rules(peer, method, &path, headers, authority, |index, o| {
            if let Err(reason) = o
                && closest.is_none_or(|(_, r)| reason > r)
            {
                closest = Some((index, reason));
            }
            rules.push(AuthzRuleOutcome {
                index,
                allows: o.is_ok(),
                lacks: o.err().map(|r| r.label().to_string()),
            });
        });
        answer.decision = match verdict {
            Ok(()) => AuthzDecision {
                rule: answer.rules.last().map(|r| r.index),
                ..answer.decision
            },
            Err(reason) => AuthzDecision {
                closest: closest.map(|(i, _)| i),
                ..deny(reason)
            },
        };
        answer
    }
}

/// An inbound policy as the admin `/config` shows it.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum AuthzView {
    /// Waiting for the first configuration: requests are held, then refused.
    Pending,
    /// No policy: every verified mesh identity may call.
    Open,
    /// Deny what no rule allows.
    Enforce {
        allow: Vec<AllowView>,
        exempt: Vec<ExemptView>,
    },
}

#[derive(Debug, serde::Serialize)]
pub struct AllowView {
    from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    paths: Vec<PathView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    methods: Vec<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    headers: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, serde::Serialize)]
pub struct ExemptView {
    path: PathView,
    methods: Vec<String>,
}

/// `{"exact": "/x"}` or `{"prefix": "/x"}`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathView {
    Exact(String),
    Prefix(String),
}

impl InboundAuthz {
    pub fn view(&self) -> AuthzView {
        match self {
            InboundAuthz::Pending => AuthzView::Pending,
            InboundAuthz::Open => AuthzView::Open,
            InboundAuthz::Enforce(p) => AuthzView::Enforce {
                allow: p.allow.iter().map(AllowRule::view).collect(),
                exempt: p
                    .exempt
                    .iter()
                    .map(|e| ExemptView {
                        path: e.path.view(),
                        methods: e.methods.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
            },
        }
    }
}

impl AllowRule {
    fn view(&self) -> AllowView {
        AllowView {
            from: self.from.iter().map(ToString::to_string).collect(),
            paths: self.paths.iter().map(PathRule::view).collect(),
            methods: self.methods.iter().map(ToString::to_string).collect(),
            headers: self
                .headers
                .iter()
                .map(|h| {
                    let values = h.values.iter();
                    let values = values.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                    (h.name.to_string(), values.collect())
                })
                .collect(),
        }
    }
}

impl PathRule {
    fn view(&self) -> PathView {
        match self {
            PathRule::Exact(p) => PathView::Exact(p.clone()),
            PathRule::Prefix(p) => PathView::Prefix(p.clone()),
        }
    }
}

impl AuthzCell {
    pub fn new(initial: InboundAuthz) -> Arc<Self> {
        Arc::new(AuthzCell {
            current: ArcSwap::from_pointee(initial),
            changed: watch::Sender::new(()),
        })
    }

    /// The policy in force right now, without waiting.
    pub fn now(&self) -> Arc<InboundAuthz> {
        self.current.load_full()
    }

    /// Installs a new policy; requests already past their check are not affected.
    pub fn store(&self, authz: InboundAuthz) {
        self.current.store(Arc::new(authz));
        self.changed.send_replace(());
    }

    /// The policy now in force; while it is [`InboundAuthz::Pending`], waits for the first
    /// configuration up to [`FIRST_CONFIG_WAIT`] (then returns `Pending`).
    pub async fn current(&self) -> Arc<InboundAuthz> {
        self.current_within(FIRST_CONFIG_WAIT).await
    }

    async fn current_within(&self, limit: Duration) -> Arc<InboundAuthz> {
        let now = self.current.load_full();
        if *now != InboundAuthz::Pending {
            return now;
        }
        let mut changed = self.changed.subscribe();
        let wait = async {
            loop {
                let now = self.current.load_full();
                if *now != InboundAuthz::Pending {
                    return now;
                }
                if changed.changed().await.is_err() {
                    return now;
                }
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .unwrap_or_else(|_| self.current.load_full())
    }
}

impl AuthzCounters {
    pub fn denied(&self, reason: DenyReason) {
        self.denied[reason.index()].fetch_add(1, Relaxed);
    }

    /// Appends `meshctl_authz_denied_total` with every reason (zeros included).
    pub fn render(&self, out: &mut String) {
        let name = "meshctl_authz_denied_total";
        let _ = writeln!(
            out,
            "# HELP {name} Inbound requests and connections refused by the authorization policy, by reason.\n# TYPE {name} counter"
        );
        for reason in DenyReason::ALL {
            let n = self.denied[reason.index()].load(Relaxed);
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {n}", reason.label());
        }
    }
}

/// The answer to a refused request: 403 (400 for a bad path, 503 before the first
/// configuration), or for gRPC a trailers-only response with the matching `grpc-status`.
pub fn refusal(verdict: Verdict, grpc: bool) -> Response<ProxyBody> {
    let (status, grpc_status, reason) = match verdict {
        Verdict::Deny(DenyReason::BadPath) => {
            (StatusCode::BAD_REQUEST, GRPC_INVALID_ARGUMENT, BAD_PATH)
        }
        Verdict::NotConfigured => (
            StatusCode::SERVICE_UNAVAILABLE,
            GRPC_UNAVAILABLE,
            NOT_CONFIGURED,
        ),
        Verdict::Deny(_) | Verdict::Allow => {
            (StatusCode::FORBIDDEN, GRPC_PERMISSION_DENIED, DENIED)
        }
    };
    if !grpc {
        return error_response(status, reason);
    }
    crate::proxy::protocol::http::grpc_error(HeaderValue::from_static(grpc_status), reason)
}

fn methods(at: &str, raw: &[String]) -> Result<Vec<Method>, AuthzError> {
    raw.iter()
        .enumerate()
        .map(|(i, m)| check_method(m).map_err(|e| invalid(&format!("{at}.methods[{i}]"), e)))
        .collect()
}

fn invalid(at: &str, message: impl Into<String>) -> AuthzError {
    AuthzError::Invalid {
        at: at.to_string(),
        message: message.into(),
    }
}

/// Replaces the URI's path with its normalised form (the query kept) and returns that path.
fn normalize_request_path(uri: &mut Uri) -> Result<String, BadPath> {
    let path = normalize_path(uri.path())?;
    if path != uri.path() {
        let target = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let mut parts = std::mem::take(uri).into_parts();
        // Normalising only removes characters or decodes unreserved ones: still valid.
        parts.path_and_query =
            Some(PathAndQuery::try_from(target).map_err(|_| BadPath::BadEscape)?);
        *uri = Uri::from_parts(parts).map_err(|_| BadPath::BadEscape)?;
    }
    Ok(path)
}

/// Compiles each item of a list, naming a bad one by its place (`allow[2]`, `allow[0].paths[1]`).
fn each<T, U, C: FromIterator<U>>(
    at: &str,
    items: &[T],
    compile: impl Fn(&str, &T) -> Result<U, AuthzError>,
) -> Result<C, AuthzError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| compile(&format!("{at}[{i}]"), item))
        .collect()
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
