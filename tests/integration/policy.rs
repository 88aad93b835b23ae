//! Traffic policy end to end: header routes in mesh.yaml pushed to real proxies, and bad
//! policy refused by `meshctl up` before anything starts.

use crate::mesh::{Up, curl, dir_with, free_port, nothing_started};
use crate::support::meshctl;

/// `front` (an app started elsewhere: only its proxy matters) calls `api` v1 + v2 (echo.py);
/// the split keeps its default (everything on v1) and routes pin requests to v2.
fn routed_api() -> String {
    let (front, v1, v2) = (free_port(), free_port(), free_port());
    format!(
        "services:
  front:
    port: {front}
    upstreams: [api]
  api:
    protocol: http
    versions:
      v1: {{ port: {v1}, command: [\"python3\", \"echo.py\", \"{v1}\"] }}
      v2: {{ port: {v2}, command: [\"python3\", \"echo.py\", \"{v2}\"] }}
    policy:
      routes:
        - match: {{ headers: {{ x-canary: 1 }} }}
          version: v2
        - match: {{ path: {{ prefix: /beta/ }}, method: GET }}
          version: v2
"
    )
}

/// How many of `n` requests to `path` with `headers` landed on v2.
fn on_v2(api: &str, path: &str, n: usize, headers: &[&str]) -> usize {
    let urls: Vec<String> = (0..n).map(|i| format!("http://{api}{path}{i}")).collect();
    let mut args = Vec::new();
    for h in headers {
        args.extend(["-H", h]);
    }
    curl(&urls, &args).matches("\"version\": \"v2\"").count()
}

#[test]
fn a_header_route_sends_canary_requests_to_v2_whatever_the_weights() {
    let up = Up::start(&routed_api());
    let api = up.upstream("front", "api");
    assert_eq!(on_v2(&api, "/r", 50, &[]), 0, "default split: all on v1");
    assert_eq!(on_v2(&api, "/r", 50, &["x-canary: 1"]), 50);
    assert_eq!(on_v2(&api, "/r", 20, &["X-Canary: 1"]), 20, "name case");
    assert_eq!(
        on_v2(&api, "/r", 20, &["x-canary: 0", "x-canary: 1"]),
        20,
        "any value of a repeated header"
    );
    assert_eq!(on_v2(&api, "/r", 20, &["x-canary: 0"]), 0);
    assert_eq!(on_v2(&api, "/beta/", 20, &[]), 20, "path prefix route");
    assert_eq!(on_v2(&api, "/betax", 20, &[]), 0);
}

#[test]
fn bad_policy_is_rejected_before_anything_starts() {
    let cases = [
        (
            "services:\n  api:\n    versions:\n      v1: { port: 18091 }\n    policy:\n      routes:\n        - { version: v9 }\n",
            "mesh.yaml:7:22: services.api.policy.routes[0].version: unknown version `v9`",
        ),
        (
            "services:\n  api:\n    versions:\n      v1: { port: 18091 }\n    policy:\n      retry: {}\n",
            "mesh.yaml:6:7: services.api.policy: unknown field `retry`",
        ),
    ];
    for (yaml, needle) in cases {
        let dir = dir_with(yaml);
        let out = meshctl().arg("up").current_dir(dir.path()).assert().code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        nothing_started(dir.path());
    }
}
