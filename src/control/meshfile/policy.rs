//! A service's `policy` in `mesh.yaml`: header routes tried before the weighted split
//! (schema: `docs/mesh-yaml.md`).

use serde::{Deserialize, Serialize};

use super::yaml_pos::YamlPath;
use super::{Issue, OrderedMap, ScalarString};

/// One header route of a destination service: requests matching every condition go to
/// `version`, whatever the split weights.
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
    pub version: String,
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
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    #[serde(rename = "match", default)]
    conditions: RawMatch,
    version: String,
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

/// Checks a service's policy: routes name declared versions, paths are absolute, methods are
/// HTTP tokens and header names valid.
pub(super) fn routes(
    path: &YamlPath,
    policy: Option<&RawPolicy>,
    versions: &[String],
) -> Result<Vec<HttpRoute>, Issue> {
    let Some(policy) = policy else {
        return Ok(Vec::new());
    };
    let routes_path = path.key("policy").key("routes");
    if !policy.routes.is_empty() && versions.is_empty() {
        return Err(Issue::key(
            routes_path,
            "routes pick a version: declare `versions` for this service, or drop `routes`",
        ));
    }
    policy
        .routes
        .iter()
        .enumerate()
        .map(|(i, raw)| route(&routes_path.index(i), raw, versions))
        .collect()
}

fn route(path: &YamlPath, raw: &RawRoute, versions: &[String]) -> Result<HttpRoute, Issue> {
    if !versions.contains(&raw.version) {
        return Err(Issue::value(
            path.key("version"),
            format!(
                "unknown version `{}` (declared: {})",
                raw.version,
                versions.join(", ")
            ),
        ));
    }
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
    Ok(HttpRoute {
        path: path_match,
        method,
        headers,
        version: raw.version.clone(),
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
