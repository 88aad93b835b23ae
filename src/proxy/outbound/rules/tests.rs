//! Tests of header-route matching and what a match selects.

use super::*;
use pb::http_route::Path;

fn route(path: Option<Path>, method: &str, headers: &[(&str, &str)]) -> pb::HttpRoute {
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
        timeout_ms: 0,
        retryable: false,
        fault: None,
        name: String::new(),
    }
}

/// Routes of an upstream with versions v1 and v2 and a 1 s default timeout.
fn rules(routes: Vec<pb::HttpRoute>) -> Result<RouteRules, RouteRuleError> {
    RouteRules::parse(&pb::Upstream {
        backends: ["v1", "v2"]
            .iter()
            .map(|v| pb::Backend {
                version: (*v).into(),
                ..Default::default()
            })
            .collect(),
        routes,
        request_timeout_ms: 1_000,
        ..Default::default()
    })
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

fn version<'a>(r: &'a RouteRules, m: &Method, path: &str, h: &HeaderMap) -> Option<&'a str> {
    r.select(m, path, h).version
}

#[test]
fn a_header_route_matches_any_value_of_the_header_whatever_its_case() {
    let r = rules(vec![route(None, "", &[("X-Canary", "1")])]).unwrap();
    let get = Method::GET;
    assert_eq!(
        version(&r, &get, "/", &headers(&[("x-canary", "1")])),
        Some("v2")
    );
    assert_eq!(
        version(&r, &get, "/", &headers(&[("X-CANARY", "1")])),
        Some("v2")
    );
    let repeated = headers(&[("x-canary", "0"), ("x-canary", "1")]);
    assert_eq!(version(&r, &get, "/", &repeated), Some("v2"));
    assert_eq!(version(&r, &get, "/", &headers(&[("x-canary", "0")])), None);
    assert_eq!(version(&r, &get, "/", &HeaderMap::new()), None);
}

#[test]
fn paths_match_exactly_or_by_prefix_and_methods_exactly() {
    let none = HeaderMap::new();
    let exact = rules(vec![route(Some(Path::PathExact("/a".into())), "POST", &[])]).unwrap();
    assert_eq!(version(&exact, &Method::POST, "/a", &none), Some("v2"));
    assert_eq!(version(&exact, &Method::POST, "/a/b", &none), None);
    assert_eq!(version(&exact, &Method::GET, "/a", &none), None);
    let prefix = rules(vec![route(Some(Path::PathPrefix("/a/".into())), "", &[])]).unwrap();
    assert_eq!(version(&prefix, &Method::GET, "/a/b", &none), Some("v2"));
    assert_eq!(version(&prefix, &Method::GET, "/ab", &none), None);
}

#[test]
fn the_first_matching_route_sets_the_timeout_else_the_destination_does() {
    let mut slow = route(Some(Path::PathPrefix("/slow".into())), "", &[]);
    slow.version = String::new();
    slow.timeout_ms = 50;
    let pinned = route(None, "", &[("x-canary", "1")]);
    let r = rules(vec![slow, pinned]).unwrap();
    let none = HeaderMap::new();
    let canary = headers(&[("x-canary", "1")]);
    let second = Duration::from_secs(1);
    let picked = |path, h| r.select(&Method::GET, path, h);
    assert_eq!(
        picked("/slow", &canary),
        Selected {
            version: None,
            timeout: Some(Duration::from_millis(50)),
            retryable: false,
            route: None,
        },
        "first match wins; no version = the split"
    );
    assert_eq!(
        picked("/x", &canary),
        Selected {
            version: Some("v2"),
            timeout: Some(second),
            retryable: false,
            route: None,
        }
    );
    assert_eq!(
        picked("/x", &none),
        Selected {
            version: None,
            timeout: Some(second),
            retryable: false,
            route: None,
        }
    );
}

#[test]
fn invalid_routes_are_refused() {
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
        let err = rules(vec![r]).unwrap_err().to_string();
        assert!(err.contains(needle), "expected `{needle}` in {err}");
    }
}
