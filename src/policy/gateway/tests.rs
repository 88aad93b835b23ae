//! Route matching, the unreachable-route check, rewrites and the token bucket.

use super::*;

fn route(yaml: &str) -> GatewayRoute {
    serde_yaml::from_str(yaml).unwrap()
}

fn spec(routes: &[&str]) -> GatewaySpec {
    GatewaySpec {
        listen: default_listen(),
        tls: None,
        keys_file: Some("keys.json".into()),
        trust_forwarded: false,
        workers: None,
        routes: routes.iter().map(|r| route(r)).collect(),
    }
}

fn matches(r: &str, host: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> bool {
    let m = Matcher::new(&route(r)).unwrap();
    let mut h = HeaderMap::new();
    for (n, v) in headers {
        h.insert(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    m.matches(&Incoming {
        host,
        path,
        method: &method,
        headers: &h,
    })
}

#[test]
fn routes_match_by_host_path_method_and_headers() {
    let r = "{name: a, service: web, host: '*.example.com', path: {prefix: /api}, methods: [GET], headers: {x-env: prod}}";
    assert!(matches(
        r,
        "shop.example.com",
        "GET",
        "/api/x",
        &[("x-env", "prod")]
    ));
    assert!(matches(
        r,
        "a.b.example.com",
        "GET",
        "/api",
        &[("x-env", "prod")]
    ));
    assert!(
        !matches(r, "example.com", "GET", "/api", &[("x-env", "prod")]),
        "wildcard needs a label"
    );
    assert!(
        !matches(r, "shop.example.com", "GET", "/apix", &[("x-env", "prod")]),
        "whole segments"
    );
    assert!(!matches(
        r,
        "shop.example.com",
        "POST",
        "/api",
        &[("x-env", "prod")]
    ));
    assert!(!matches(
        r,
        "shop.example.com",
        "GET",
        "/api",
        &[("x-env", "dev")]
    ));
    let exact = "{name: b, service: web, host: API.example.com, path: {exact: /health}}";
    assert!(matches(exact, "api.example.com", "DELETE", "/health", &[]));
    assert!(!matches(exact, "api.example.com", "GET", "/health/x", &[]));
    assert!(matches(
        "{name: c, service: web}",
        "anything",
        "GET",
        "/",
        &[]
    ));
}

#[test]
fn a_spec_is_checked_with_the_route_and_field_named() {
    let known = |s: &str| s == "web" || s == "api";
    let err = |routes: &[&str]| spec(routes).check(known).unwrap_err().to_string();
    assert!(
        spec(&[
            "{name: a, service: web, path: {prefix: /api}}",
            "{name: b, service: api}"
        ])
        .check(known)
        .is_ok()
    );
    assert_eq!(
        err(&["{name: a, service: nope}"]),
        "gateway.routes[0].service: unknown service `nope`: declare it under `services`"
    );
    let shadowed = err(&[
        "{name: all, service: web}",
        "{name: api, service: api, path: {prefix: /api}}",
    ]);
    assert!(
        shadowed.starts_with("gateway.routes[1]: route `api` can never match: routes[0] (`all`)"),
        "{shadowed}"
    );
    let dup = err(&[
        "{name: a, service: web, path: {exact: /x}}",
        "{name: a, service: api}",
    ]);
    assert!(
        dup.contains("routes[1].name") && dup.contains("already used"),
        "{dup}"
    );
    assert!(
        err(&["{name: a, service: web, host: 'bad host'}"])
            .contains("routes[0].host: invalid host")
    );
    assert!(
        err(&["{name: a, service: web, path: {prefix: /a/../b}}"])
            .contains("routes[0].path: path `/a/../b` is not in normalised form")
    );
    assert!(
        err(&["{name: a, service: web, methods: [get]}"])
            .contains("routes[0].methods: invalid method `get`")
    );
    assert!(
        err(&["{name: a, service: web, headers: {'bad name': x}}"])
            .contains("routes[0].headers.bad name")
    );
    assert!(
        err(&["{name: a, service: web, rate_limit: {rps: 0}}"])
            .contains("routes[0].rate_limit: rps must be above 0")
    );
    assert!(
        err(&["{name: a, service: web, rate_limit: {rps: 1, by: api_key}}"])
            .contains("needs `api_key`")
    );
    assert!(err(&["{name: a, service: web, rewrite_prefix: /}"]).contains("needs `path: {prefix"));
    assert!(err(&[]).contains("gateway.routes: no routes"));
    let mut no_file = spec(&["{name: a, service: web, api_key: {header: x-api-key}}"]);
    no_file.keys_file = None;
    assert!(
        no_file
            .check(known)
            .unwrap_err()
            .to_string()
            .contains("needs `gateway.keys_file`")
    );
    // A narrower route first is fine; the same conditions twice are not.
    assert!(
        spec(&[
            "{name: a, service: web, methods: [GET]}",
            "{name: b, service: api}"
        ])
        .check(known)
        .is_ok()
    );
    assert!(
        err(&[
            "{name: a, service: web, host: a.example.com}",
            "{name: b, service: api, host: a.example.com}"
        ])
        .contains("can never match")
    );
    assert!(
        err(&[
            "{name: a, service: web, host: '*.example.com'}",
            "{name: b, service: api, host: x.example.com}"
        ])
        .contains("can never match")
    );
}

#[test]
fn prefixes_are_rewritten_segment_wise() {
    assert_eq!(rewrite("/api/users", "/api", "/"), "/users");
    assert_eq!(rewrite("/api", "/api", "/"), "/");
    assert_eq!(rewrite("/api/users", "/api", "/v2"), "/v2/users");
    assert_eq!(rewrite("/api", "/api/", "/v2/"), "/v2");
    assert_eq!(rewrite("/x", "/", "/app"), "/app/x");
}

#[test]
fn the_token_bucket_refills_at_the_rate_up_to_the_burst() {
    let mut b = Bucket::full(2, 0.0);
    assert_eq!(b.take(1.0, 2, 0.0), Verdict::Allow { remaining: 1 });
    assert_eq!(b.take(1.0, 2, 0.0), Verdict::Allow { remaining: 0 });
    let Verdict::Refuse { retry_after } = b.take(1.0, 2, 0.25) else {
        panic!("empty")
    };
    assert!((retry_after - 0.75).abs() < 1e-9, "{retry_after}");
    assert!(matches!(b.take(1.0, 2, 1.0), Verdict::Allow { .. }));
    // A long idle never stores more than the burst.
    assert!(b.is_full(1.0, 2, 100.0));
    assert_eq!(b.take(1.0, 2, 100.0), Verdict::Allow { remaining: 1 });
    let limit = RateLimit {
        rps: 2.5,
        burst: None,
        by: None,
    };
    assert_eq!(limit.burst(), 3);
}
