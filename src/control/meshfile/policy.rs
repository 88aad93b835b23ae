//! A service's `policy` in `mesh.yaml`: a request timeout and header routes tried before the
//! weighted split (schema: `docs/mesh-yaml.md`).

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;
use crate::policy::authz::AuthorizationSpec;
use crate::policy::fault::FaultSpec;
use crate::policy::mirror::MirrorSpec;
use crate::policy::rate_limit::RateLimitSpec;
use crate::policy::traffic::DEFAULT_FAILURES;
use crate::policy::traffic::LoadBalancer;
use crate::policy::traffic::{MAX_ATTEMPTS, RetryCondition};

/// Attempts (the first included) of a `retries` block that does not say.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 3;
/// Conditions of a `retries` block that does not say: failures that never reached the app.
pub const DEFAULT_RETRY_ON: [&str; 2] = ["connect-failure", "gateway-error"];
/// Backoff base of a `retries` block that does not say.
pub const DEFAULT_RETRY_BACKOFF_MS: u64 = 25;

use super::fault::{self, RawFault};
use super::mirror::{self, RawMirror};
use super::yaml_pos::YamlPath;
use super::{Issue, OrderedMap, ScalarString};

/// How traffic to one service is handled, by every caller's proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePolicy {
    /// Request timeout (until the response head) of requests no route sets one for;
    /// `None`: no timeout.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub routes: Vec<HttpRoute>,
    /// `None`: never retried.
    #[serde(default)]
    pub retries: Option<Retries>,
    /// Consecutive failures that eject an endpoint; `None`: no circuit breaking.
    #[serde(default)]
    pub breaker_failures: Option<u32>,
    /// Who may call the service, enforced by its own proxy; `None`: every mesh identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationSpec>,
    /// Faults injected into requests no route gives its own; `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultSpec>,
    /// Copies of a share of the requests sent to one version and compared; `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorSpec>,
    /// `p2c` or `round_robin`; `None`: p2c.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    /// How long dialing an endpoint may take; `None`: the proxy's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// Token buckets the service's own proxies apply to what they accept; `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
}

/// When and how often requests to the service are sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    pub attempts: u32,
    pub on: Vec<String>,
    pub backoff_ms: u64,
}

/// One header route of a destination service: requests matching every condition go to
/// `version` (whatever the split weights) with `timeout_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRoute {
    /// `None`: any path.
    #[serde(default)]
    pub path: Option<PathMatch>,
    /// Upper-case method; `None`: any method.
    #[serde(default)]
    pub method: Option<String>,
    /// (lower-case name, value) pairs, in file order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// `None`: the weighted split.
    #[serde(default)]
    pub version: Option<String>,
    /// `None`: the service's timeout.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Matching requests may be retried whatever their method.
    #[serde(default)]
    pub retryable: bool,
    /// Faults injected into matching requests instead of the service's; `None`: the service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultSpec>,
    /// The `route` label of the response metrics; `None`: unnamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How a route matches the request path (the query is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

/// `policy:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    timeout: Option<String>,
    retries: Option<RawRetries>,
    circuit_breaker: Option<RawBreaker>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    /// Checked while parsed; `{service: NAME}` entries are checked in `meshfile/authz.rs`.
    pub(super) authorization: Option<AuthorizationSpec>,
    fault: Option<RawFault>,
    mirror: Option<RawMirror>,
    load_balancer: Option<String>,
    connect_timeout: Option<String>,
    /// Checked while parsed; `{service: NAME}` callers are checked in `meshfile/authz.rs`.
    pub(super) rate_limit: Option<RateLimitSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    #[serde(rename = "match", default)]
    conditions: RawMatch,
    version: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    retryable: bool,
    fault: Option<RawFault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    failures: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetries {
    attempts: Option<u32>,
    on: Option<Vec<String>>,
    backoff: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    path: Option<RawPath>,
    method: Option<String>,
    headers: Option<OrderedMap<ScalarString>>,
}

/// `{ exact: /x }` or `{ prefix: /x }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    exact: Option<String>,
    prefix: Option<String>,
}

/// Checks a service's policy: routes name declared versions or set a timeout, paths are
/// absolute, methods are HTTP tokens, header names valid and timeouts positive durations.
/// `versions`: the service's declared versions, or `None` where versions are not declared
/// up front (on Kubernetes they come and go with the pods' labels): any label value then.
pub(super) fn service_policy(
    path: &YamlPath,
    policy: Option<&RawPolicy>,
    versions: Option<&[String]>,
) -> Result<ServicePolicy, Issue> {
    let Some(policy) = policy else {
        return Ok(ServicePolicy::default());
    };
    let path = path.key("policy");
    let timeout_ms = timeout(&path, policy.timeout.as_deref())?;
    let connect_timeout_ms = duration_ms(
        &path.key("connect_timeout"),
        policy.connect_timeout.as_deref(),
    )?;
    let load_balancer = match policy.load_balancer.as_deref() {
        None => None,
        Some(name) => match name.parse::<LoadBalancer>() {
            Ok(lb) if !name.is_empty() => Some(lb.name().to_string()),
            _ => {
                return Err(Issue::value(
                    path.key("load_balancer"),
                    format!("unknown load balancer `{name}` (expected p2c or round_robin)"),
                ));
            }
        },
    };
    let routes_path = path.key("routes");
    let routes: Vec<HttpRoute> = policy
        .routes
        .iter()
        .enumerate()
        .map(|(i, raw)| route(&routes_path.index(i), raw, versions))
        .collect::<Result<_, _>>()?;
    for (i, r) in routes.iter().enumerate() {
        if let Some(name) = &r.name
            && routes[..i].iter().any(|o| o.name.as_ref() == Some(name))
        {
            return Err(Issue::value(
                routes_path.index(i).key("name"),
                format!(
                    "route name `{name}` is used twice (the metrics could not tell the routes apart)"
                ),
            ));
        }
    }
    let retries = match &policy.retries {
        None => None,
        Some(raw) => Some(retries(&path.key("retries"), raw)?),
    };
    let breaker_failures = match &policy.circuit_breaker {
        None => None,
        Some(b) => match b.failures.unwrap_or(DEFAULT_FAILURES) {
            0 => {
                return Err(Issue::value(
                    path.key("circuit_breaker").key("failures"),
                    "0 failures: give at least 1 (or drop `circuit_breaker`)",
                ));
            }
            n => Some(n),
        },
    };
    let fault = match &policy.fault {
        None => None,
        Some(raw) => Some(fault::fault(&path.key("fault"), raw)?),
    };
    let mirror = match &policy.mirror {
        None => None,
        Some(raw) => Some(mirror::mirror(&path.key("mirror"), raw, versions)?),
    };
    if let Some(limit) = &policy.rate_limit
        && let Err((field, message)) = limit.check()
    {
        let mut at = path.key("rate_limit");
        if !field.is_empty() {
            at = match field.split_once('[') {
                Some((key, index)) => at
                    .key(key)
                    .index(index.trim_end_matches(']').parse().unwrap_or(0)),
                None => at.key(&field),
            };
        }
        return Err(Issue::value(at, message));
    }
    Ok(ServicePolicy {
        timeout_ms,
        routes,
        retries,
        breaker_failures,
        authorization: policy.authorization.clone(),
        fault,
        mirror,
        load_balancer,
        connect_timeout_ms,
        rate_limit: policy.rate_limit.clone(),
    })
}

fn retries(path: &YamlPath, raw: &RawRetries) -> Result<Retries, Issue> {
    let attempts = raw.attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS);
    if !(2..=MAX_ATTEMPTS).contains(&attempts) {
        return Err(Issue::value(
            path.key("attempts"),
            format!("{attempts} attempts: give 2 to {MAX_ATTEMPTS} (the first attempt included)"),
        ));
    }
    let on: Vec<String> = match &raw.on {
        Some(on) => on.clone(),
        None => DEFAULT_RETRY_ON.iter().map(|c| c.to_string()).collect(),
    };
    for (i, c) in on.iter().enumerate() {
        if let Err(e) = c.parse::<RetryCondition>() {
            return Err(Issue::value(path.key("on").index(i), e.to_string()));
        }
    }
    let backoff_ms = match &raw.backoff {
        None => DEFAULT_RETRY_BACKOFF_MS,
        Some(b) => {
            let d: HumanDuration = b
                .parse()
                .map_err(|e| Issue::value(path.key("backoff"), format!("{e}")))?;
            u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX)
        }
    };
    Ok(Retries {
        attempts,
        on,
        backoff_ms,
    })
}

/// A `timeout:` in milliseconds (at least 1).
fn timeout(path: &YamlPath, raw: Option<&str>) -> Result<Option<u64>, Issue> {
    duration_ms(&path.key("timeout"), raw)
}

/// A duration field (at `at`) in milliseconds (at least 1).
fn duration_ms(at: &YamlPath, raw: Option<&str>) -> Result<Option<u64>, Issue> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let d: HumanDuration = raw
        .parse()
        .map_err(|e| Issue::value(at.clone(), format!("{e}")))?;
    let ms = u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Err(Issue::value(
            at.clone(),
            format!("timeout `{raw}` is under 1ms"),
        ));
    }
    Ok(Some(ms))
}

fn route(path: &YamlPath, raw: &RawRoute, versions: Option<&[String]>) -> Result<HttpRoute, Issue> {
    if raw.version.is_none() && raw.timeout.is_none() && !raw.retryable && raw.fault.is_none() {
        return Err(Issue::key(
            path.clone(),
            "a route needs at least one of `version`, `timeout`, `retryable` and `fault`",
        ));
    }
    match (&raw.version, versions) {
        (Some(v), None) if !is_label_value(v) => {
            return Err(Issue::value(
                path.key("version"),
                format!("`{v}` is not a version (a Kubernetes label value)"),
            ));
        }
        (Some(_), Some([])) => {
            return Err(Issue::value(
                path.key("version"),
                "a route can pick a version only on a service with `versions`",
            ));
        }
        (Some(v), Some(versions)) if !versions.contains(v) => {
            return Err(Issue::value(
                path.key("version"),
                format!("unknown version `{v}` (declared: {})", versions.join(", ")),
            ));
        }
        _ => {}
    }
    let name = match &raw.name {
        Some(n) if !crate::identity::spiffe::is_dns_label(n) => {
            return Err(Issue::value(
                path.key("name"),
                format!(
                    "`{n}` is not a route name (a DNS label: lower-case letters, digits, '-', at most 63)"
                ),
            ));
        }
        n => n.clone(),
    };
    let timeout_ms = timeout(path, raw.timeout.as_deref())?;
    let m = path.key("match");
    let path_match = match &raw.conditions.path {
        None => None,
        Some(p) => Some(path_condition(&m.key("path"), p)?),
    };
    let method = match &raw.conditions.method {
        None => None,
        Some(method) => {
            let valid = !method.is_empty()
                && method
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(Issue::value(
                    m.key("method"),
                    format!("invalid method `{method}`: give it in upper case, e.g. `GET`"),
                ));
            }
            Some(method.clone())
        }
    };
    let mut headers = Vec::new();
    for (name, value) in raw.conditions.headers.iter().flat_map(|h| h.0.iter()) {
        let at = m.key("headers").key(name);
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Issue::key(at, format!("invalid header name `{name}`")));
        }
        if http::HeaderValue::from_str(&value.0).is_err() {
            return Err(Issue::value(
                at,
                "invalid header value: visible ASCII, spaces and tabs only",
            ));
        }
        headers.push((name.to_ascii_lowercase(), value.0.clone()));
    }
    let fault = match &raw.fault {
        None => None,
        Some(f) => Some(fault::fault(&path.key("fault"), f)?),
    };
    Ok(HttpRoute {
        path: path_match,
        method,
        headers,
        version: raw.version.clone(),
        timeout_ms,
        retryable: raw.retryable,
        fault,
        name,
    })
}

fn path_condition(at: &YamlPath, raw: &RawPath) -> Result<PathMatch, Issue> {
    let (field, m) = match (&raw.exact, &raw.prefix) {
        (Some(p), None) => ("exact", PathMatch::Exact(p.clone())),
        (None, Some(p)) => ("prefix", PathMatch::Prefix(p.clone())),
        _ => {
            return Err(Issue::value(
                at.clone(),
                "give exactly one of `exact` and `prefix`",
            ));
        }
    };
    let (PathMatch::Exact(p) | PathMatch::Prefix(p)) = &m;
    if !p.starts_with('/') {
        return Err(Issue::value(
            at.key(field),
            format!("path `{p}` must start with `/`"),
        ));
    }
    Ok(m)
}

/// A Kubernetes label value that is not empty: at most 63 of `[A-Za-z0-9._-]`, starting and
/// ending with a letter or digit (what a pod's version label can hold).
pub fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}
