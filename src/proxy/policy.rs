//! Header routes: a destination's ordered rules matching path, method and headers, tried
//! before the weighted split; the first match pins the request to one version.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::proto::control as pb;

/// A destination's routes in order (empty: every request takes the weighted split).
#[derive(Debug, Default)]
pub struct RouteRules(Vec<RouteRule>);

/// One route: every condition must hold.
#[derive(Debug)]
struct RouteRule {
    path: Option<PathRule>,
    method: Option<Method>,
    headers: Vec<(HeaderName, HeaderValue)>,
    version: String,
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
    #[error("route {index}: invalid method `{method}`")]
    Method { index: usize, method: String },
    #[error("route {index}: invalid header `{name}: {value}`")]
    Header {
        index: usize,
        name: String,
        value: String,
    },
}

impl RouteRules {
    /// Parses and checks `routes` against the destination's `versions`.
    pub fn parse(routes: &[pb::HttpRoute], versions: &[&str]) -> Result<Self, RouteRuleError> {
        routes
            .iter()
            .enumerate()
            .map(|(index, r)| RouteRule::parse(index, r, versions))
            .collect::<Result<Vec<_>, _>>()
            .map(RouteRules)
    }

    /// The version the first matching route pins, `None` when no route matches.
    pub fn select(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.matches(method, path, headers))
            .map(|r| r.version.as_str())
    }
}

impl RouteRule {
    fn parse(index: usize, r: &pb::HttpRoute, versions: &[&str]) -> Result<Self, RouteRuleError> {
        if !versions.contains(&r.version.as_str()) {
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
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RouteRule {
            path,
            method,
            headers,
            version: r.version.clone(),
        })
    }

    fn matches(&self, method: &Method, path: &str, headers: &HeaderMap) -> bool {
        let path_ok = match &self.path {
            None => true,
            Some(PathRule::Exact(p)) => path == p,
            Some(PathRule::Prefix(p)) => path.starts_with(p.as_str()),
        };
        path_ok
            && self.method.as_ref().is_none_or(|m| m == method)
            // Every value of a repeated header counts: one equal value satisfies the condition.
            && self
                .headers
                .iter()
                .all(|(name, value)| headers.get_all(name).iter().any(|v| v == value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(
        path: Option<pb::http_route::Path>,
        method: &str,
        headers: &[(&str, &str)],
    ) -> pb::HttpRoute {
        pb::HttpRoute {
            path,
            method: method.into(),
            headers: headers
                .iter()
                .map(|(n, v)| pb::HeaderMatch {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            version: "v2".into(),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_header_route_matches_any_value_of_the_header_whatever_its_case() {
        let rules =
            RouteRules::parse(&[route(None, "", &[("X-Canary", "1")])], &["v1", "v2"]).unwrap();
        let get = Method::GET;
        assert_eq!(
            rules.select(&get, "/", &headers(&[("x-canary", "1")])),
            Some("v2")
        );
        assert_eq!(
            rules.select(&get, "/", &headers(&[("X-CANARY", "1")])),
            Some("v2")
        );
        assert_eq!(
            rules.select(&get, "/", &headers(&[("x-canary", "0"), ("x-canary", "1")])),
            Some("v2")
        );
        assert_eq!(
            rules.select(&get, "/", &headers(&[("x-canary", "0")])),
            None
        );
        assert_eq!(rules.select(&get, "/", &HeaderMap::new()), None);
    }

    #[test]
    fn paths_match_exactly_or_by_prefix_and_methods_exactly() {
        use pb::http_route::Path;
        let exact = RouteRules::parse(
            &[route(Some(Path::PathExact("/a".into())), "POST", &[])],
            &["v2"],
        )
        .unwrap();
        let none = HeaderMap::new();
        assert_eq!(exact.select(&Method::POST, "/a", &none), Some("v2"));
        assert_eq!(exact.select(&Method::POST, "/a/b", &none), None);
        assert_eq!(exact.select(&Method::GET, "/a", &none), None);
        let prefix = RouteRules::parse(
            &[route(Some(Path::PathPrefix("/a/".into())), "", &[])],
            &["v2"],
        )
        .unwrap();
        assert_eq!(prefix.select(&Method::GET, "/a/b", &none), Some("v2"));
        assert_eq!(prefix.select(&Method::GET, "/ab", &none), None);
    }

    #[test]
    fn invalid_routes_are_refused() {
        use pb::http_route::Path;
        let mut unknown = route(None, "", &[]);
        unknown.version = "v9".into();
        let cases = [
            (unknown, "unknown version `v9`"),
            (
                route(Some(Path::PathPrefix("a".into())), "", &[]),
                "does not start with `/`",
            ),
            (route(None, "G T", &[]), "invalid method"),
            (route(None, "", &[("bad name", "1")]), "invalid header"),
            (route(None, "", &[("x", "a\nb")]), "invalid header"),
        ];
        for (r, needle) in cases {
            let err = RouteRules::parse(&[r], &["v1", "v2"])
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "expected `{needle}` in {err}");
        }
    }
}
