//! Table-driven tests of policy compilation, matching and the request check.

use http::{HeaderMap, HeaderValue, Method, Request};

use super::*;
use crate::policy::authz::AuthorizationSpec;

const WEB: &str = "spiffe://mesh.local/ns/local/sa/web";
const BATCH: &str = "spiffe://mesh.local/ns/local/sa/batch";
const OPS: &str = "spiffe://mesh.local/ns/ops/sa/admin";

/// A policy from the YAML schema (as mesh.yaml and --config write it).
fn policy(yaml: &str) -> AuthzPolicy {
    let spec: AuthorizationSpec = serde_yaml::from_str(yaml).unwrap();
    AuthzPolicy::from_proto(&spec.to_proto("mesh.local")).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    h
}

#[test]
fn id_patterns_match_whole_segments() {
    let cases = [
        (WEB, WEB, true),
        (WEB, BATCH, false),
        ("spiffe://mesh.local/ns/local/sa/*", WEB, true),
        ("spiffe://mesh.local/ns/local/sa/*", OPS, false),
        ("spiffe://mesh.local/ns/*/sa/admin", OPS, true),
        (
            "spiffe://mesh.local/ns/local/sa/*",
            "spiffe://mesh.local/ns/local/sa/web/x",
            false,
        ),
        (
            "spiffe://mesh.local/ns/local/sa/*",
            "spiffe://mesh.local/ns/local/sa",
            false,
        ),
        (
            "spiffe://mesh.local/ns/local/sa/web",
            "spiffe://other/ns/local/sa/web",
            false,
        ),
        (
            "spiffe://mesh.local/ns/local/sa/web",
            "spiffe://mesh.local/ns/local/sa/webx",
            false,
        ),
        ("spiffe://mesh.local/*/*/*/*", WEB, true),
        // Found by the `id_pattern_parse_and_match` fuzz target: `*` matched an empty segment.
        (
            "spiffe://mesh.local/ns/local/sa/*",
            "spiffe://mesh.local/ns/local/sa/",
            false,
        ),
        (
            "spiffe://mesh.local/*/local/sa/web",
            "spiffe://mesh.local//local/sa/web",
            false,
        ),
    ];
    for (pattern, id, want) in cases {
        let p: IdPattern = pattern.parse().unwrap();
        assert_eq!(p.matches(id), want, "{pattern} vs {id}");
    }
}

#[test]
fn bad_id_patterns_say_why() {
    let cases = [
        ("https://mesh.local/ns/a", "spiffe://"),
        ("spiffe://mesh.local", "needs a path"),
        ("spiffe://mesh.local/", "needs a path"),
        ("spiffe://mesh.local/ns//sa/x", "empty segment"),
        ("spiffe://mesh.local/ns/local/sa/web-*", "whole segment"),
        ("spiffe://mesh.local/ns/local/sa/**", "whole segment"),
        ("spiffe://*/ns/local/sa/web", "trust domain"),
        ("spiffe://Mesh.Local/ns/a", "trust domain"),
        ("spiffe://mesh.local/ns/../sa/x", "`..`"),
        ("spiffe://mesh.local/ns/a b", "letters, digits"),
        ("*", "spiffe://"),
    ];
    for (pattern, needle) in cases {
        let err = pattern.parse::<IdPattern>().unwrap_err();
        assert!(err.contains(needle), "{pattern}: {err}");
    }
}

#[test]
fn prefixes_match_whole_segments() {
    let api = PathRule::Prefix("/api".into());
    let api_slash = PathRule::Prefix("/api/".into());
    let root = PathRule::Prefix("/".into());
    let exact = PathRule::Exact("/api".into());
    let cases = [
        (&api, "/api", true),
        (&api, "/api/", true),
        (&api, "/api/x", true),
        (&api, "/apiary", false),
        (&api_slash, "/api/x", true),
        (&api_slash, "/api", false),
        (&root, "/anything", true),
        (&exact, "/api", true),
        (&exact, "/api/", false),
    ];
    for (rule, path, want) in cases {
        assert_eq!(rule.matches(path), want, "{rule:?} vs {path}");
    }
}

/// (peer, method, path, headers, expected outcome)
type Case<'a> = (&'a str, Method, &'a str, HeaderMap, Result<(), DenyReason>);

#[test]
fn requests_are_checked_rule_by_rule_with_the_furthest_reason() {
    let p = policy(
        "allow:
  - from: [{service: web}]
    paths: [{prefix: /api/}, /status]
    methods: [GET, POST]
  - from: [\"spiffe://mesh.local/ns/ops/sa/*\"]
    headers: { X-Role: [admin, ops] }
exempt:
  - path: /healthz
",
    );
    let none = HeaderMap::new();
    let cases: [Case<'_>; 13] = [
        (WEB, Method::GET, "/api/x", none.clone(), Ok(())),
        (WEB, Method::POST, "/status", none.clone(), Ok(())),
        (
            WEB,
            Method::DELETE,
            "/api/x",
            none.clone(),
            Err(DenyReason::Method),
        ),
        (
            WEB,
            Method::GET,
            "/admin",
            none.clone(),
            Err(DenyReason::Path),
        ),
        (
            WEB,
            Method::GET,
            "/status/x",
            none.clone(),
            Err(DenyReason::Path),
        ),
        (
            BATCH,
            Method::GET,
            "/api/x",
            none.clone(),
            Err(DenyReason::Identity),
        ),
        (BATCH, Method::GET, "/healthz", none.clone(), Ok(())),
        (BATCH, Method::HEAD, "/healthz", none.clone(), Ok(())),
        (
            BATCH,
            Method::POST,
            "/healthz",
            none.clone(),
            Err(DenyReason::Identity),
        ),
        (
            OPS,
            Method::DELETE,
            "/x",
            headers(&[("x-role", "admin")]),
            Ok(()),
        ),
        (
            OPS,
            Method::DELETE,
            "/x",
            headers(&[("x-role", "ops"), ("X-ROLE", "admin")]),
            Ok(()),
        ),
        (
            OPS,
            Method::DELETE,
            "/x",
            none.clone(),
            Err(DenyReason::Header),
        ),
        (
            OPS,
            Method::DELETE,
            "/x",
            headers(&[("x-role", "user"), ("x-role", "admin")]),
            Err(DenyReason::Header),
        ),
    ];
    for (peer, method, path, h, want) in cases {
        assert_eq!(
            p.check_http(peer, &method, path, &h),
            want,
            "{peer} {method} {path} {h:?}"
        );
    }
    // A value listing both is one value, not two: refused.
    let joined = headers(&[("x-role", "admin, user")]);
    assert_eq!(
        p.check_http(OPS, &Method::GET, "/x", &joined),
        Err(DenyReason::Header)
    );
}

#[test]
fn an_empty_policy_denies_everything_but_exempt_paths() {
    let p = policy("exempt: [{ path: {prefix: /health}, methods: [GET] }]");
    assert_eq!(
        p.check_http(WEB, &Method::GET, "/", &HeaderMap::new()),
        Err(DenyReason::Identity)
    );
    assert!(
        p.check_http(WEB, &Method::GET, "/health/live", &HeaderMap::new())
            .is_ok()
    );
    assert!(
        p.check_http(WEB, &Method::HEAD, "/health", &HeaderMap::new())
            .is_err()
    );
    assert_eq!(p.check_tcp(WEB), Err(DenyReason::Identity));
}

#[test]
fn tcp_is_allowed_only_by_rules_without_http_conditions() {
    let p = policy(
        "allow:
  - from: [{service: web}]
  - from: [{service: batch}]
    paths: [/x]
",
    );
    assert_eq!(p.check_tcp(WEB), Ok(()));
    assert_eq!(p.check_tcp(BATCH), Err(DenyReason::OpaqueTcp));
    assert_eq!(p.check_tcp(OPS), Err(DenyReason::Identity));
}

#[test]
fn the_request_path_is_normalised_before_the_check_and_forwarded_so() {
    let authz = InboundAuthz::Enforce(policy(
        "allow:
  - from: [{service: web}]
    paths: [{prefix: /public/}]
",
    ));
    let cases = [
        ("http://api/public/a?q=1", Verdict::Allow, "/public/a?q=1"),
        ("http://api//public//a", Verdict::Allow, "/public/a"),
        (
            "http://api/public/../admin",
            Verdict::Deny(DenyReason::Path),
            "/admin",
        ),
        (
            "http://api/public/%2e%2e/admin",
            Verdict::Deny(DenyReason::Path),
            "/admin",
        ),
        ("http://api/%70ublic/a", Verdict::Allow, "/public/a"),
        (
            "http://api/public/..%2Fadmin",
            Verdict::Deny(DenyReason::BadPath),
            "",
        ),
        (
            "http://api/public/..%5cadmin",
            Verdict::Deny(DenyReason::BadPath),
            "",
        ),
        (
            "http://api/public/..;/admin",
            Verdict::Deny(DenyReason::BadPath),
            "",
        ),
    ];
    for (uri, want, forwarded) in cases {
        let mut req = Request::get(uri).body(()).unwrap();
        assert_eq!(authz.check_request(&mut req, WEB), want, "{uri}");
        if !forwarded.is_empty() {
            assert_eq!(
                req.uri().path_and_query().unwrap().as_str(),
                forwarded,
                "{uri}"
            );
            assert_eq!(req.uri().authority().unwrap().as_str(), "api");
        }
    }
    // Without a policy nothing is rewritten.
    let mut req = Request::get("http://api//a/../b").body(()).unwrap();
    assert_eq!(
        InboundAuthz::Open.check_request(&mut req, BATCH),
        Verdict::Allow
    );
    assert_eq!(req.uri().path(), "//a/../b");
}

#[test]
fn invalid_wire_policies_are_refused_naming_the_field() {
    let rule = |f: fn(&mut pb::AuthzRule)| {
        let mut r = pb::AuthzRule::default();
        f(&mut r);
        pb::AuthzPolicy {
            allow: vec![r],
            exempt: vec![],
        }
    };
    let cases = [
        (
            rule(|r| r.from = vec!["spiffe://mesh.local/sa/we*".into()]),
            "allow[0].from[0]",
        ),
        (
            rule(|r| r.methods = vec!["get".into()]),
            "allow[0].methods[0]",
        ),
        (
            rule(|r| {
                r.paths = vec![pb::AuthzPath {
                    r#match: Some(pb::authz_path::Match::Prefix("/a/../b".into())),
                }]
            }),
            "normalised",
        ),
        (
            rule(|r| r.paths = vec![pb::AuthzPath { r#match: None }]),
            "allow[0].paths[0]",
        ),
        (
            rule(|r| {
                r.headers = vec![pb::AuthzHeader {
                    name: "x-a".into(),
                    values: vec![],
                }]
            }),
            "at least one value",
        ),
        (
            rule(|r| {
                r.headers = vec![pb::AuthzHeader {
                    name: "bad name".into(),
                    values: vec!["1".into()],
                }]
            }),
            "header name",
        ),
        (
            pb::AuthzPolicy {
                allow: vec![],
                exempt: vec![pb::AuthzExempt {
                    path: None,
                    methods: vec!["GET".into()],
                }],
            },
            "exempt[0]",
        ),
    ];
    for (p, needle) in cases {
        let err = AuthzPolicy::from_proto(&p).unwrap_err().to_string();
        assert!(err.contains(needle), "expected `{needle}` in {err}");
    }
}

#[test]
fn bad_yaml_policies_fail_while_parsing() {
    let cases = [
        (
            "allow: [{ from: [\"spiffe://mesh.local/ns/*x\"] }]",
            "whole segment",
        ),
        ("allow: [{ from: [] }]", "empty list"),
        ("allow: [{ froom: [] }]", "unknown field `froom`"),
        ("allow: [{ paths: [a/b] }]", "must start with `/`"),
        (
            "allow: [{ paths: [{ exact: /a, prefix: /b }] }]",
            "exactly one",
        ),
        ("allow: [{ paths: [\"/a//b\"] }]", "normalised"),
        ("allow: [{ methods: [get] }]", "upper case"),
        ("allow: [{ headers: { x-a: 1, X-A: 2 } }]", "given twice"),
        ("allow: [{ headers: { x-a: [] } }]", "at least one"),
        (
            "allow: [{ from: [{ service: Web }] }]",
            "invalid service name",
        ),
        ("exempt: [{ methods: [GET] }]", "missing field `path`"),
        ("deny: []", "unknown field `deny`"),
    ];
    for (yaml, needle) in cases {
        let err = serde_yaml::from_str::<AuthorizationSpec>(yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{yaml}: expected `{needle}` in {err}");
    }
}

#[test]
fn the_yaml_schema_round_trips_through_json() {
    let yaml = "allow:
  - from: [{service: web}, \"spiffe://mesh.local/ns/local/sa/*\"]
    paths: [/a, {prefix: /b/}]
    methods: [GET]
    headers: { X-Role: admin, x-n: 1 }
exempt:
  - path: /healthz
";
    let spec: AuthorizationSpec = serde_yaml::from_str(yaml).unwrap();
    let json = serde_json::to_string(&spec).unwrap();
    let back: AuthorizationSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(spec, back);
    let wire = spec.to_proto("example.org");
    assert_eq!(
        wire.allow[0].from[0],
        "spiffe://example.org/ns/local/sa/web"
    );
    assert_eq!(wire.allow[0].headers[0].name, "x-role");
    assert_eq!(wire.exempt[0].methods, ["GET", "HEAD"]);
}

#[test]
fn denials_render_for_every_reason() {
    let c = AuthzCounters::default();
    c.denied(DenyReason::Path);
    c.denied(DenyReason::Path);
    let mut out = String::new();
    c.render(&mut out);
    assert!(out.contains("# TYPE meshctl_authz_denied_total counter\n"));
    assert!(out.contains("meshctl_authz_denied_total{reason=\"path\"} 2\n"));
    for reason in DenyReason::ALL {
        assert!(out.contains(&format!("{{reason=\"{}\"}}", reason.label())));
    }
}

#[test]
fn refusals_are_403_or_grpc_permission_denied() {
    let deny = Verdict::Deny(DenyReason::Identity);
    assert_eq!(refusal(deny, false).status(), StatusCode::FORBIDDEN);
    let grpc = refusal(deny, true);
    assert_eq!(grpc.status(), StatusCode::OK);
    assert_eq!(grpc.headers()["grpc-status"], GRPC_PERMISSION_DENIED);
    let bad = Verdict::Deny(DenyReason::BadPath);
    assert_eq!(refusal(bad, false).status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refusal(Verdict::NotConfigured, false).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn a_pending_cell_waits_for_the_first_configuration() {
    let cell = AuthzCell::new(InboundAuthz::Pending);
    let waiter = {
        let cell = cell.clone();
        tokio::spawn(async move { cell.current().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    cell.store(InboundAuthz::Open);
    assert_eq!(*waiter.await.unwrap(), InboundAuthz::Open);
    // Nobody configures it: refused after the wait.
    let never = AuthzCell::new(InboundAuthz::Pending);
    let waited = never.current_within(Duration::from_millis(20)).await;
    assert_eq!(*waited, InboundAuthz::Pending);
}

#[test]
fn the_config_dump_shows_a_policy_as_it_was_written() {
    let p = policy(
        "allow:
  - from: [{service: web}, \"spiffe://mesh.local/ns/*/sa/admin\"]
    paths: [{prefix: /api/}, /status]
    methods: [GET]
    headers: { X-Role: [admin, ops] }
exempt:
  - path: /healthz
",
    );
    let view = serde_json::to_value(InboundAuthz::Enforce(p).view()).unwrap();
    assert_eq!(
        view,
        serde_json::json!({
            "mode": "enforce",
            "allow": [{
                "from": [WEB, "spiffe://mesh.local/ns/*/sa/admin"],
                "paths": [{"prefix": "/api/"}, {"exact": "/status"}],
                "methods": ["GET"],
                "headers": {"x-role": ["admin", "ops"]},
            }],
            "exempt": [{"path": {"exact": "/healthz"}, "methods": ["GET", "HEAD"]}],
        })
    );
    for (authz, mode) in [
        (InboundAuthz::Open, "open"),
        (InboundAuthz::Pending, "pending"),
    ] {
        let view = serde_json::to_value(authz.view()).unwrap();
        assert_eq!(view, serde_json::json!({ "mode": mode }));
    }
}

/// A `host` condition checks the request's authority however it arrived — Host (HTTP/1.1) or
/// `:authority` (HTTP/2) — case-insensitively and without a trailing dot; every copy must match.
#[test]
fn a_host_rule_compares_the_authority_from_host_or_authority_alike() {
    let p = policy("allow: [{ headers: { host: [API.test., 'api.test:8443'] } }]");
    let ok = |h: HeaderMap, authority: Option<&str>| {
        p.check_http_at(WEB, &Method::GET, "/", &h, authority)
    };
    for host in ["api.test", "API.TEST", "api.test.", "Api.Test.:8443"] {
        assert_eq!(ok(headers(&[("host", host)]), None), Ok(()), "Host: {host}");
        assert_eq!(
            ok(HeaderMap::new(), Some(host)),
            Ok(()),
            ":authority {host}"
        );
    }
    assert_eq!(
        ok(HeaderMap::new(), None),
        Err(DenyReason::Header),
        "no authority at all"
    );
    assert_eq!(
        ok(headers(&[("host", "evil.test")]), Some("api.test")),
        Err(DenyReason::Header),
        "a Host beside :authority must agree"
    );
    assert_eq!(
        ok(
            headers(&[("host", "api.test"), ("host", "evil.test")]),
            None
        ),
        Err(DenyReason::Header)
    );
    assert_eq!(
        ok(HeaderMap::new(), Some("api.test:80")),
        Err(DenyReason::Header)
    );
    assert_eq!(canonical_host(b"[::1]:80"), "[::1]:80");
    assert_eq!(canonical_host(b"Example.COM."), "example.com");
}

#[test]
fn explain_names_the_deciding_rule_or_the_closest_and_what_it_lacked() {
    let authz = InboundAuthz::Enforce(policy(
        "allow:
  - from: [{ service: web }]
    paths: [{ prefix: /api }]
  - from: [{ service: web }]
    paths: [{ prefix: /admin }]
    headers: { x-role: [admin] }
exempt:
  - { path: /healthz, methods: [GET] }",
    ));
    let ask = |peer: &str, path: &str, h: &[(&str, &str)]| {
        let uri: Uri = format!("http://api{path}").parse().unwrap();
        authz.explain(peer, &Method::GET, &uri, &headers(h))
    };
    let allowed = ask(WEB, "/api/../api/x", &[]);
    assert_eq!(allowed.normalized_path.as_deref(), Some("/api/x"));
    assert!(allowed.decision.allowed);
    assert_eq!(allowed.decision.rule, Some(0));
    let lacking = ask(WEB, "/admin", &[("x-role", "user")]);
    assert!(!lacking.decision.allowed);
    assert_eq!(lacking.decision.status, Some(403));
    assert_eq!(lacking.decision.reason.as_deref(), Some("header"));
    assert_eq!(lacking.decision.closest, Some(1));
    assert_eq!(
        lacking
            .rules
            .iter()
            .map(|r| r.lacks.as_deref())
            .collect::<Vec<_>>(),
        [Some("path"), Some("header")]
    );
    let stranger = ask(BATCH, "/api", &[]);
    assert_eq!(stranger.decision.reason.as_deref(), Some("identity"));
    assert!(ask(BATCH, "/healthz", &[]).exempt == Some(0));
    let bad = ask(WEB, "/api%2Fx", &[]);
    assert_eq!(
        (bad.decision.status, bad.bad_path.is_some()),
        (Some(400), true)
    );
    // The same verdicts as the check the data path runs.
    for (peer, path, h) in [
        (WEB, "/api/x", vec![]),
        (WEB, "/admin", vec![("x-role", "user")]),
        (WEB, "/admin", vec![("x-role", "admin")]),
        (BATCH, "/healthz", vec![]),
        (WEB, "/api%2Fx", vec![]),
    ] {
        let mut req = Request::get(format!("http://api{path}")).body(()).unwrap();
        *req.headers_mut() = headers(&h);
        let verdict = authz.check_request(&mut req, peer);
        let explained = ask(peer, path, &h);
        assert_eq!(
            verdict == Verdict::Allow,
            explained.decision.allowed,
            "{peer} {path}"
        );
    }
    assert_eq!(
        InboundAuthz::Open
            .explain(WEB, &Method::GET, &"/x".parse().unwrap(), &HeaderMap::new())
            .mode,
        "open"
    );
}
