//! Header routes: a destination's ordered rules matching path, method and headers, tried
//! before the weighted split; the first match decides the version and the request timeout.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::api::proto::control as pb;
use crate::policy::fault::FaultError;
use crate::policy::mirror::MirrorError;
use crate::proxy::outbound::fault::{FaultCount, FaultRule, Faults};
use crate::proxy::outbound::mirror::{MirrorCount, Mirrors};
use crate::proxy::outbound::retry::{RetryBudget, RetryPolicy, RetryPolicyError};

/// A destination's routes in order, its timeout for requests no route sets one for, and its
/// retry policy with the budget every caller request through this proxy draws on.
#[derive(Debug, Default)]
pub struct RouteRules {
    rules: Vec<RouteRule>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    budget: RetryBudget,
    /// Consecutive failures that eject an endpoint; `None`: no circuit breaking.
    breaker_failures: Option<u32>,
    /// Injected faults (`fault.rs`).
    faults: Faults,
    /// Traffic mirroring (`mirror.rs`).
    mirrors: Mirrors,
}

/// What the routes decide for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected<'a> {
    /// `None`: the weighted split.
    pub version: Option<&'a str>,
    /// `None`: no request timeout.
    pub timeout: Option<Duration>,
    /// The matching route allows retries whatever the method.
    pub retryable: bool,
    /// The matching route's name, if it has one (the `route` label of the response metrics).
    pub route: Option<&'a Arc<str>>,
}

/// One route: every condition must hold.
#[derive(Debug)]
struct RouteRule {
    path: Option<PathRule>,
    method: Option<Method>,
    headers: Vec<(HeaderName, HeaderValue)>,
    version: Option<String>,
    timeout: Option<Duration>,
    retryable: bool,
    name: Option<Arc<str>>,
}

#[derive(Debug)]
enum PathRule {
    Exact(String),
    Prefix(String),
}

/// Why a route in a config update is refused (the whole update is then rejected).
#[derive(Debug, thiserror::Error)]
pub enum RouteRuleError {
    #[error("route {index}: unknown version `{version}`")]
    UnknownVersion { index: usize, version: String },
    #[error("route {index}: path `{path}` does not start with `/`")]
    RelativePath { index: usize, path: String },
    #[error("route {index}: name `{name}` is not a DNS label")]
    Name { index: usize, name: String },
    #[error("route {index}: invalid method `{method}`")]
    Method { index: usize, method: String },
    #[error("route {index}: invalid header `{name}: {value}`")]
    Header {
        index: usize,
        name: String,
        value: String,
    },
    #[error(transparent)]
    Retry(#[from] RetryPolicyError),
    #[error("fault: {0}")]
    Fault(#[from] FaultError),
    #[error("mirror: {0}")]
    Mirror(#[from] MirrorError),
}

impl RouteRules {
    /// Parses and checks `upstream`'s routes against its versions (backends).
    pub fn parse(upstream: &pb::Upstream) -> Result<Self, RouteRuleError> {
        let versions: Vec<&str> = upstream
            .backends
            .iter()
            .map(|b| b.version.as_str())
            .collect();
        let rules = upstream
            .routes
            .iter()
            .enumerate()
            .map(|(index, r)| RouteRule::parse(index, r, &versions))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RouteRules {
            rules,
            timeout: millis(upstream.request_timeout_ms),
            retry: RetryPolicy::parse(upstream.retry.as_ref())?,
            budget: RetryBudget::default(),
            breaker_failures: Some(upstream.breaker_failures).filter(|n| *n > 0),
            faults: Faults::parse(upstream)?,
            mirrors: Mirrors::parse(upstream)?,
        })
    }

    /// The same rules counting mirrored requests in `counts`.
    pub fn count_mirrors_in(self, counts: Arc<MirrorCount>) -> Self {
        RouteRules {
            mirrors: self.mirrors.count_in(counts),
            ..self
        }
    }

    pub fn mirrors(&self) -> &Mirrors {
        &self.mirrors
    }

    /// The same rules counting injected faults in `counts`.
    pub fn count_faults_in(self, counts: Arc<FaultCount>) -> Self {
        RouteRules {
            faults: self.faults.count_in(counts),
            ..self
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The fault that applies to a request now, if any (see [`Faults::applicable`]).
    pub fn fault(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<&FaultRule> {
        if self.faults.is_empty() {
            return None;
        }
        self.faults.applicable(SystemTime::now(), || {
            self.rules
                .iter()
                .position(|r| r.matches(method, path, headers))
        })
    }

    pub fn breaker_failures(&self) -> Option<u32> {
        self.breaker_failures
    }

    pub fn retry(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }

    pub fn budget(&self) -> &RetryBudget {
        &self.budget
    }

    /// The first matching route's version and timeout (each falling back to the split and
    /// the destination's timeout).
    pub fn select(&self, method: &Method, path: &str, headers: &HeaderMap) -> Selected<'_> {
        match self.rules.iter().find(|r| r.matches(method, path, headers)) {
            Some(r) => Selected {
                version: r.version.as_deref(),
                timeout: r.timeout.or(self.timeout),
                retryable: r.retryable,
                route: r.name.as_ref(),
            },
            None => Selected {
                version: None,
                timeout: self.timeout,
                retryable: false,
                route: None,
            },
        }
    }
}

impl RouteRules {
    /// Each route tried for a request, in order, up to the first that matches (what
    /// [`RouteRules::select`] decides, with the reason every earlier route was passed over).
    pub fn explain(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Vec<crate::api::explain::RouteOutcome> {
        let mut tried = Vec::new();
        for (index, r) in self.rules.iter().enumerate() {
            let mismatch = r.mismatch(method, path, headers).map(|m| m.to_string());
            let matched = mismatch.is_none();
            tried.push(crate::api::explain::RouteOutcome {
                index,
                name: r.name.as_deref().map(str::to_string),
                version: r.version.clone(),
                matched,
                mismatch,
            });
            if matched {
                break;
            }
        }
        tried
    }

    /// The fault that applies to a request now and where it comes from (see
    /// [`RouteRules::fault`]).
    pub fn explain_fault(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<crate::api::explain::FaultExplanation> {
        let first_match = || {
            self.rules
                .iter()
                .position(|r| r.matches(method, path, headers))
        };
        let (source, rule) = self
            .faults
            .applicable_from(SystemTime::now(), first_match)?;
        Some(rule.explain(source))
    }

    /// The destination's timeout for requests no route sets one for.
    pub fn default_timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

/// A destination's routes and policy as the admin `/config` shows them.
#[derive(Debug, serde::Serialize)]
pub struct RulesView {
    /// Tried in order before the weighted split.
    routes: Vec<RouteView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<RetryView>,
    /// Consecutive failures that eject an endpoint (`None`: no circuit breaking).
    breaker_failures: Option<u32>,
    faults: crate::proxy::outbound::fault::FaultsView,
    mirror: crate::proxy::outbound::mirror::MirrorsView,
}

#[derive(Debug, serde::Serialize)]
struct RouteView {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_exact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    /// `None`: the weighted split.
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<crate::proxy::outbound::fault::FaultView>,
}

#[derive(Debug, serde::Serialize)]
struct RetryView {
    attempts: u32,
    on: Vec<String>,
    backoff_ms: u64,
}

impl RouteRules {
    pub fn view(&self) -> RulesView {
        let ms = |d: Duration| d.as_millis() as u64;
        RulesView {
            routes: self
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| RouteView {
                    name: r.name.as_deref().map(str::to_string),
                    path_exact: match &r.path {
                        Some(PathRule::Exact(p)) => Some(p.clone()),
                        _ => None,
                    },
                    path_prefix: match &r.path {
                        Some(PathRule::Prefix(p)) => Some(p.clone()),
                        _ => None,
                    },
                    method: r.method.as_ref().map(ToString::to_string),
                    headers: r
                        .headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                        .collect(),
                    version: r.version.clone(),
                    timeout_ms: r.timeout.map(ms),
                    retryable: r.retryable,
                    fault: self.faults.route_view(i),
                })
                .collect(),
            timeout_ms: self.timeout.map(ms),
            retry: self.retry.as_ref().map(|r| RetryView {
                attempts: r.attempts,
                on: r.on.iter().map(ToString::to_string).collect(),
                backoff_ms: ms(r.backoff),
            }),
            breaker_failures: self.breaker_failures,
            faults: self.faults.view(),
            mirror: self.mirrors.view(),
        }
    }
}

impl RouteRule {
    fn parse(index: usize, r: &pb::HttpRoute, versions: &[&str]) -> Result<Self, RouteRuleError> {
        if !r.version.is_empty() && !versions.contains(&r.version.as_str()) {
            return Err(RouteRuleError::UnknownVersion {
                index,
                version: r.version.clone(),
            });
        }
        let path = match &r.path {
            None => None,
            Some(pb::http_route::Path::PathExact(p)) => Some(PathRule::Exact(p.clone())),
            Some(pb::http_route::Path::PathPrefix(p)) => Some(PathRule::Prefix(p.clone())),
        };
        if let Some(PathRule::Exact(p) | PathRule::Prefix(p)) = &path
            && !p.starts_with('/')
        {
            return Err(RouteRuleError::RelativePath {
                index,
                path: p.clone(),
            });
        }
        let method = match r.method.as_str() {
            "" => None,
            m => Some(
                Method::from_bytes(m.as_bytes()).map_err(|_| RouteRuleError::Method {
                    index,
                    method: m.to_string(),
                })?,
            ),
        };
        let headers = r
            .headers
            .iter()
            .map(|h| {
                let bad = || RouteRuleError::Header {
                    index,
                    name: h.name.clone(),
                    value: h.value.clone(),
                };
                // `HeaderName` keeps names lower case, so matching ignores the case sent.
                let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad())?;
                let value = HeaderValue::from_str(&h.value).map_err(|_| bad())?;
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, RouteRuleError>>()?;
        Ok(RouteRule {
            path,
            method,
            headers,
            version: Some(r.version.clone()).filter(|v| !v.is_empty()),
            timeout: millis(r.timeout_ms),
            retryable: r.retryable,
            name: match r.name.as_str() {
                "" => None,
                n if crate::identity::spiffe::is_dns_label(n) => Some(Arc::from(n)),
                n => {
                    return Err(RouteRuleError::Name {
                        index,
                        name: n.to_string(),
                    });
                }
            },
        })
    }

    #[inline]
    fn matches(&self, method: &Method, path: &str, headers: &HeaderMap) -> bool {
        self.mismatch(method, path, headers).is_none()
    }

    /// The first condition of the route the request does not meet (`None`: it matches).
    #[inline]
    fn mismatch(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Mismatch<'_>> {
        let path_ok = match &self.path {
            None => true,
            Some(PathRule::Exact(p)) => path == p,
            Some(PathRule::Prefix(p)) => path.starts_with(p.as_str()),
        };
        if !path_ok {
            return self.path.as_ref().map(Mismatch::Path);
        }
        if let Some(m) = self.method.as_ref().filter(|m| *m != method) {
            return Some(Mismatch::Method(m));
        }
        // Every value of a repeated header counts: one equal value satisfies the condition.
        self.headers
            .iter()
            .find(|(name, value)| !headers.get_all(name).iter().any(|v| v == value))
            .map(|(name, value)| Mismatch::Header(name, value))
    }
}

/// The condition of a route a request failed first.
enum Mismatch<'a> {
    Path(&'a PathRule),
    Method(&'a Method),
    Header(&'a HeaderName, &'a HeaderValue),
}

impl std::fmt::Display for Mismatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Path(PathRule::Exact(p)) => write!(f, "path is not exactly {p}"),
            Mismatch::Path(PathRule::Prefix(p)) => write!(f, "path does not start with {p}"),
            Mismatch::Method(m) => write!(f, "method is not {m}"),
            Mismatch::Header(name, value) => write!(
                f,
                "no header {name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ),
        }
    }
}

/// 0 means "not set" on the wire.
fn millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

#[cfg(test)]
mod tests;
