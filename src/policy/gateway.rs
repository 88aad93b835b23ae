//! The gateway's vocabulary: how external (north-south) requests are matched to mesh
//! services, which need an API key, and how fast each client may call. mesh.yaml's
//! `gateway:` section and the gateway proxy's configuration file are this one type; the
//! matching here is what the gateway runs (its token buckets are `rate_limit.rs`'s).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};

use super::authz::{check_method, check_rule_path, header_name, header_value};
use super::rate_limit::check_rate;
pub use super::rate_limit::{Bucket, Verdict};

/// The identity (service account) the gateway's proxy gets: `…/sa/gateway`.
pub const GATEWAY_SERVICE: &str = "gateway";
/// Where the gateway listens when `listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// The header that carries the matched API key's name to the service (a client's own copy is
/// always removed first).
pub const KEY_NAME_HEADER: &str = "x-meshctl-api-key-name";

/// `gateway:` in mesh.yaml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySpec {
    /// Where external clients connect (default [`DEFAULT_LISTEN`]).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A certificate and key for TLS (1.2 and 1.3, ALPN h2 and http/1.1); without it the
    /// gateway speaks plaintext HTTP/1.1 and h2c.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
    /// The API key file (`meshctl gateway keys`); needed when a route has `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_file: Option<PathBuf>,
    /// Take the client address from the last `X-Forwarded-For` entry a proxy in front of the
    /// gateway appended (only set this when one always is in front; default: the TCP peer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trust_forwarded: bool,
    /// The gateway proxy's worker threads (default: the proxy's, one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    pub routes: Vec<GatewayRoute>,
}

fn default_listen() -> SocketAddr {
    // A constant that parses.
    DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8443)))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain (leaf first); re-read when it changes.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// One route: what it matches and where it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRoute {
    /// A DNS label naming the route in metrics, tap and errors.
    pub name: String,
    /// `api.example.com` or `*.example.com` (one or more labels); any host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Which paths (normalised first, as for authorization); `prefix: /` when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_yaml::with::singleton_map"
    )]
    pub path: Option<PathMatch>,
    /// Upper-case methods; any when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Headers that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The mesh service the request goes to (its split and policy then apply).
    pub service: String,
    /// Replaces the matched path prefix (`prefix: /api`, `rewrite_prefix: /` sends
    /// `/api/x` as `/x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite_prefix: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_yaml::with::singleton_map"
    )]
    pub api_key: Option<KeyLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

/// Where a client puts its API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum KeyLocation {
    /// A request header (`x-api-key`).
    Header(String),
    /// A query parameter (`key`); removed before the request is forwarded.
    Query(String),
}

/// A token bucket: `rps` tokens a second, holding at most `burst`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub rps: f64,
    /// Defaults to `rps` rounded up (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// One bucket per API key name (default when the route has `api_key`), client address
    /// (the default otherwise) or value of a header.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_yaml::with::singleton_map"
    )]
    pub by: Option<LimitBy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum LimitBy {
    ApiKey,
    ClientIp,
    Header(String),
}

// `rps` is never NaN in a checked spec (refused), so equality is reflexive.
impl Eq for RateLimit {}

impl RateLimit {
    pub fn burst(&self) -> u32 {
        self.burst
            .unwrap_or_else(|| (self.rps.ceil() as u32).max(1))
    }
}

/// A problem in a gateway spec: where (keys and indexes below `gateway`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIssue {
    pub at: Vec<Step>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(&'static str),
    Index(usize),
    /// A map key the user wrote (a header name).
    Name(String),
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("gateway")?;
        for step in &self.at {
            match step {
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Name(k) => write!(f, ".{k}")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        write!(f, ": {}", self.message)
    }
}

fn issue(at: Vec<Step>, message: impl Into<String>) -> SpecIssue {
    SpecIssue {
        at,
        message: message.into(),
    }
}

impl GatewaySpec {
    /// Checks everything that does not need the rest of the mesh: names, hosts, paths,
    /// methods, headers, limits, and that no route is unreachable behind an earlier one.
    /// `known_service` says whether a route's `service` exists.
    pub fn check(&self, known_service: impl Fn(&str) -> bool) -> Result<(), SpecIssue> {
        if self.routes.is_empty() {
            return Err(issue(
                vec![Step::Key("routes")],
                "no routes: declare at least one",
            ));
        }
        let mut compiled: Vec<Matcher> = Vec::with_capacity(self.routes.len());
        for (i, r) in self.routes.iter().enumerate() {
            let at = |k: &'static str| vec![Step::Key("routes"), Step::Index(i), Step::Key(k)];
            check_label(&r.name).map_err(|m| issue(at("name"), m))?;
            if let Some(j) = self.routes[..i].iter().position(|o| o.name == r.name) {
                return Err(issue(
                    at("name"),
                    format!("route name `{}` is already used by routes[{j}]", r.name),
                ));
            }
            if !known_service(&r.service) {
                return Err(issue(
                    at("service"),
                    format!(
                        "unknown service `{}`: declare it under `services`",
                        r.service
                    ),
                ));
            }
            if r.service == GATEWAY_SERVICE {
                return Err(issue(
                    at("service"),
                    "a route cannot send to the gateway itself",
                ));
            }
            if r.api_key.is_some() && self.keys_file.is_none() {
                return Err(issue(
                    at("api_key"),
                    "an API key needs `gateway.keys_file` (create it with `meshctl gateway keys add`)",
                ));
            }
            if let Some(KeyLocation::Header(h) | KeyLocation::Query(h)) = &r.api_key
                && h.trim().is_empty()
            {
                return Err(issue(at("api_key"), "name the header or query parameter"));
            }
            if let Some(KeyLocation::Header(h)) = &r.api_key {
                header_name(h).map_err(|m| issue(at("api_key"), m))?;
            }
            if let Some(limit) = &r.rate_limit {
                check_limit(limit, r.api_key.is_some()).map_err(|m| issue(at("rate_limit"), m))?;
            }
            if r.rewrite_prefix.is_some() && !matches!(r.path, Some(PathMatch::Prefix(_))) {
                return Err(issue(
                    at("rewrite_prefix"),
                    "needs `path: {prefix: …}` to replace",
                ));
            }
            if let Some(p) = &r.rewrite_prefix {
                check_rule_path(p).map_err(|m| issue(at("rewrite_prefix"), m))?;
            }
            let matcher = Matcher::new(r).map_err(|(k, name, m)| {
                let mut at = at(k);
                if let Some(name) = name {
                    at.push(Step::Name(name));
                }
                issue(at, m)
            })?;
            if let Some(j) = compiled.iter().position(|m| m.covers(&matcher)) {
                return Err(issue(
                    vec![Step::Key("routes"), Step::Index(i)],
                    format!(
                        "route `{}` can never match: routes[{j}] (`{}`) comes first and matches every request it would",
                        r.name, self.routes[j].name
                    ),
                ));
            }
            compiled.push(matcher);
        }
        Ok(())
    }

    /// The services the routes send to, in order of first use, each once.
    pub fn services(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.routes {
            if !out.contains(&r.service) {
                out.push(r.service.clone());
            }
        }
        out
    }
}

fn check_label(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name `{name}`: lower-case letters, digits and `-`, at most 63"
        ))
    }
}

fn check_limit(limit: &RateLimit, has_key: bool) -> Result<(), String> {
    check_rate(limit.rps, limit.burst)?;
    match &limit.by {
        Some(LimitBy::ApiKey) if !has_key => {
            Err("`by: api_key` needs `api_key` on the route".to_string())
        }
        Some(LimitBy::Header(h)) => header_name(h).map(|_| ()),
        _ => Ok(()),
    }
}

/// A host pattern: exact (lower-cased) or `*.suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    Exact(String),
    /// `.example.com` for `*.example.com`.
    Wildcard(String),
}

impl HostMatch {
    pub fn parse(pattern: &str) -> Result<HostMatch, String> {
        let lower = pattern.to_ascii_lowercase();
        let (wild, rest) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let valid = !rest.is_empty()
            && rest.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(format!(
                "invalid host `{pattern}`: a DNS name (`api.example.com`) or `*.example.com`, without a port"
            ));
        }
        Ok(if wild {
            HostMatch::Wildcard(format!(".{rest}"))
        } else {
            HostMatch::Exact(rest.to_string())
        })
    }

    /// `host`: the request's, lower-case, without its port.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostMatch::Exact(h) => h == host,
            HostMatch::Wildcard(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        }
    }

    /// Every host `other` matches, this matches too.
    fn covers(&self, other: &HostMatch) -> bool {
        match (self, other) {
            (HostMatch::Exact(a), HostMatch::Exact(b)) => a == b,
            (HostMatch::Wildcard(s), HostMatch::Exact(h)) => h.len() > s.len() && h.ends_with(s),
            (HostMatch::Wildcard(a), HostMatch::Wildcard(b)) => b.ends_with(a.as_str()),
            (HostMatch::Exact(_), HostMatch::Wildcard(_)) => false,
        }
    }
}

/// A route's match conditions, compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    host: Option<HostMatch>,
    path: PathMatch,
    methods: Vec<Method>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The request as the gateway matches it: host lower-case without port, path normalised.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}

/// Which field a compile error is in (and the header name, for a header), and what it is.
pub type CompileError = (&'static str, Option<String>, String);

impl Matcher {
    pub fn new(r: &GatewayRoute) -> Result<Matcher, CompileError> {
        let host = match &r.host {
            None => None,
            Some(h) => Some(HostMatch::parse(h).map_err(|m| ("host", None, m))?),
        };
        let path = match &r.path {
            None => PathMatch::Prefix("/".into()),
            Some(PathMatch::Exact(p)) => {
                check_rule_path(p).map_err(|m| ("path", None, m))?;
                PathMatch::Exact(p.clone())
            }
            Some(PathMatch::Prefix(p)) => {
                check_rule_path(p).map_err(|m| ("path", None, m))?;
                PathMatch::Prefix(p.clone())
            }
        };
        let mut methods = Vec::with_capacity(r.methods.len());
        for m in &r.methods {
            methods.push(check_method(m).map_err(|e| ("methods", None, e))?);
        }
        let mut headers = Vec::with_capacity(r.headers.len());
        for (name, value) in &r.headers {
            let at = |m| ("headers", Some(name.clone()), m);
            let n = header_name(&name.to_ascii_lowercase()).map_err(at)?;
            let v = header_value(value).map_err(at)?;
            headers.push((n, v));
        }
        Ok(Matcher {
            host,
            path,
            methods,
            headers,
        })
    }

    pub fn matches(&self, req: &Incoming<'_>) -> bool {
        self.host.as_ref().is_none_or(|h| h.matches(req.host))
            && match &self.path {
                PathMatch::Exact(p) => req.path == p,
                PathMatch::Prefix(p) => prefix_matches(p, req.path),
            }
            && (self.methods.is_empty() || self.methods.contains(req.method))
            && self
                .headers
                .iter()
                .all(|(n, v)| req.headers.get_all(n).iter().any(|got| got == v))
    }

    /// The matched prefix, for a rewrite.
    pub fn prefix(&self) -> Option<&str> {
        match &self.path {
            PathMatch::Prefix(p) => Some(p),
            PathMatch::Exact(_) => None,
        }
    }

    /// Every request `later` matches, this one matches too (so `later`, listed after this,
    /// could never be chosen).
    fn covers(&self, later: &Matcher) -> bool {
        let host = match (&self.host, &later.host) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.covers(b),
        };
        let path = match (&self.path, &later.path) {
            (PathMatch::Prefix(a), PathMatch::Prefix(b) | PathMatch::Exact(b)) => {
                prefix_matches(a, b)
            }
            (PathMatch::Exact(a), PathMatch::Exact(b)) => a == b,
            (PathMatch::Exact(_), PathMatch::Prefix(_)) => false,
        };
        let methods = self.methods.is_empty()
            || (!later.methods.is_empty()
                && later.methods.iter().all(|m| self.methods.contains(m)));
        let headers = self.headers.iter().all(|h| later.headers.contains(h));
        host && path && methods && headers
    }
}

/// A prefix matches whole segments: `/api` matches `/api` and `/api/x`, not `/apix`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// `path` with `prefix` (matched by [`prefix_matches`]) replaced by `replacement`.
pub fn rewrite(path: &str, prefix: &str, replacement: &str) -> String {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    let rest = path.strip_prefix(prefix).unwrap_or(path);
    let base = replacement.strip_suffix('/').unwrap_or(replacement);
    match (base.is_empty(), rest.is_empty()) {
        (true, true) => "/".to_string(),
        (true, false) => rest.to_string(),
        (false, _) => format!("{base}{rest}"),
    }
}

#[cfg(test)]
mod tests;
