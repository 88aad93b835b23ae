//! `meshctl explain` against a running mesh: every prediction is checked against what the
//! proxies then do with the same request, sent for real through the caller's proxy — routes,
//! header routes, authorization allow/deny/400 and exempt paths, a fault at 100%, and an
//! ejected endpoint.

use std::process::Command;

use crate::mesh::{Up, free_port, wait_until};

/// front (an app) and batch (a caller without one) call api (v1, v2: echo.py), whose policy
/// has a header route, a route with a fault, circuit breaking and an authorization policy.
fn policy_mesh() -> String {
    let (front, batch, v1, v2) = (free_port(), free_port(), free_port(), free_port());
    format!(
        "services:
  front:
    port: {front}
    protocol: http
    command: [\"python3\", \"-m\", \"http.server\", \"--bind\", \"127.0.0.1\", \"{front}\"]
    upstreams: [api]
  batch:
    port: {batch}
    upstreams: [api]
  api:
    protocol: http
    versions:
      v1: {{ port: {v1}, command: [\"python3\", \"echo.py\", \"{v1}\"] }}
      v2: {{ port: {v2}, command: [\"python3\", \"echo.py\", \"{v2}\"] }}
    policy:
      timeout: 5s
      circuit_breaker: {{ failures: 1 }}
      routes:
        - name: canary
          match: {{ headers: {{ x-canary: \"1\" }} }}
          version: v2
        - name: broken
          match: {{ path: {{ prefix: /broken }} }}
          fault: {{ abort: {{ status: 503, percent: 100 }} }}
      authorization:
        allow:
          - from: [{{ service: front }}]
            paths: [{{ prefix: /hello }}, {{ prefix: /broken }}, {{ prefix: /fail }}]
          - from: [{{ service: front }}]
            paths: [{{ prefix: /admin }}]
            headers: {{ x-role: [admin] }}
        exempt:
          - {{ path: /healthz, methods: [GET] }}
"
    )
}

/// `meshctl explain CALLER GET http://api/PATH [-H …] -o json`.
fn explain(up: &Up, caller: &str, path: &str, headers: &[&str]) -> serde_json::Value {
    let mut cmd = up.cmd();
    cmd.args([
        "explain",
        caller,
        "GET",
        &format!("http://api{path}"),
        "-o",
        "json",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "explain {caller} {path}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The one outcome a deterministic case predicts: (result, status, version).
fn certain(e: &serde_json::Value) -> (String, Option<u64>, Option<String>) {
    let outcomes = e["prediction"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "one certain outcome: {e:#}");
    let o = &outcomes[0];
    assert_eq!(o["probability"], 1.0, "{e:#}");
    (
        o["result"].as_str().unwrap().to_string(),
        o["status"].as_u64(),
        o["version"].as_str().map(str::to_string),
    )
}

/// Sends the request for real through CALLER's proxy: (status, the answering version from
/// echo.py's body, `x-meshctl-fault`, `x-meshctl-proxy-error`).
fn send(up: &Up, caller: &str, path: &str, headers: &[&str]) -> (u64, String, String, String) {
    let url = format!("http://{}{path}", up.upstream(caller, "api"));
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--path-as-is", "-m", "20", "-D", "-", &url]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status from {url}: {text}"));
    let header = |name: &str| {
        text.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let version = text
        .split("\"version\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (
        status,
        version,
        header("x-meshctl-fault"),
        header("x-meshctl-proxy-error"),
    )
}

#[test]
fn every_prediction_matches_what_the_proxies_then_do() {
    let up = Up::start(&policy_mesh());
    // (caller, path, headers, predicted result, status, version)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a str,
        Option<u64>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        // The split: v1 100, v2 0.
        ("front", "/hello", &[], "forwarded", None, Some("v1")),
        // The header route pins v2.
        (
            "front",
            "/hello",
            &["x-canary: 1"],
            "forwarded",
            None,
            Some("v2"),
        ),
        // The second route's fault aborts every request before any endpoint.
        ("front", "/broken", &[], "aborted", Some(503), None),
        // batch's identity is in no allow rule.
        ("batch", "/hello", &[], "denied", Some(403), Some("v1")),
        // front may reach /admin only with x-role: admin.
        ("front", "/admin/x", &[], "denied", Some(403), Some("v1")),
        (
            "front",
            "/admin/x",
            &["x-role: admin"],
            "forwarded",
            None,
            Some("v1"),
        ),
        // An encoded `/` cannot be normalised: 400 at the destination.
        (
            "front",
            "/hello%2Fx",
            &[],
            "bad_path",
            Some(400),
            Some("v1"),
        ),
        // Exempt: any caller, GET only.
        ("batch", "/healthz", &[], "forwarded", None, Some("v1")),
    ];
    for (caller, path, headers, result, status, version) in cases {
        let e = explain(&up, caller, path, headers);
        let predicted = certain(&e);
        assert_eq!(
            predicted,
            (result.to_string(), *status, version.map(str::to_string)),
            "{caller} GET {path} {headers:?}: {e:#}"
        );
        let (real, answered_by, fault, _) = send(&up, caller, path, headers);
        match *result {
            "forwarded" => {
                assert_eq!(real, 200, "{caller} GET {path} {headers:?}");
                assert_eq!(Some(answered_by.as_str()), *version, "{caller} GET {path}");
            }
            "aborted" => {
                assert_eq!(Some(real), *status);
                assert_eq!(fault, "abort");
            }
            _ => assert_eq!(Some(real), *status, "{caller} GET {path} {headers:?}"),
        }
    }

    // Why the routes did or did not match, and by which rule authorization decided.
    let e = explain(&up, "front", "/broken", &[]);
    let routes = e["outbound"]["routes"].as_array().unwrap();
    assert_eq!(routes[0]["matched"], false);
    assert_eq!(routes[0]["mismatch"], "no header x-canary: 1");
    assert_eq!(routes[1]["matched"], true);
    assert_eq!(e["outbound"]["fault"]["source"], "route");
    assert_eq!(e["outbound"]["timeout_ms"], 5000);
    let e = explain(&up, "front", "/admin/x", &[]);
    let decision = &e["inbound"][0]["answer"]["decision"];
    assert_eq!(decision["closest"], 1, "{e:#}");
    assert_eq!(decision["reason"], "header");
    let e = explain(&up, "front", "/hello/../hello", &[]);
    assert_eq!(e["inbound"][0]["answer"]["normalized_path"], "/hello");
    assert_eq!(e["inbound"][0]["answer"]["decision"]["rule"], 0);

    // The text form says the same in words.
    let out = up
        .cmd()
        .args(["explain", "front", "GET", "http://api/admin/x"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("closest rule allow[1] lacks a matching header"),
        "{text}"
    );
    assert!(
        text.contains("100.0%  answered 403 by api v1 (denied)"),
        "{text}"
    );
}

#[test]
fn an_ejected_endpoint_is_predicted_and_the_proxy_then_answers_503() {
    let up = Up::start(&policy_mesh());
    // One 500 ejects v1 (failures: 1) for a penalty of at least a second; v2 has weight 0, so
    // nothing is left to take the split. Retried when the machine is too slow to ask and
    // send within the penalty.
    let mut checked = false;
    for _ in 0..5 {
        let (status, ..) = send(&up, "front", "/fail?status=500", &[]);
        assert_eq!(status, 500);
        let asked = std::time::Instant::now();
        let e = explain(&up, "front", "/hello", &[]);
        let v1 = e["outbound"]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["version"] == "v1")
            .unwrap()
            .clone();
        let (real, _, _, reason) = send(&up, "front", "/hello", &[]);
        let probe_in = std::time::Duration::from_millis(v1["probe_in_ms"].as_u64().unwrap_or(0));
        if v1["circuit"] != "open" || asked.elapsed() >= probe_in {
            // The penalty ran out before the real request: its outcome proves nothing.
            wait_until("v1 takes traffic again", || {
                send(&up, "front", "/hello", &[]).0 == 200
            });
            continue;
        }
        assert_eq!(v1["admits"], false, "{e:#}");
        assert_eq!(
            certain(&e),
            ("no_endpoint".to_string(), Some(503), None),
            "{e:#}"
        );
        assert_eq!((real, reason.as_str()), (503, "no endpoints"));
        checked = true;
        break;
    }
    assert!(checked, "never asked and sent within the ejection penalty");
}

#[test]
fn bad_questions_exit_2_naming_what_is_wrong() {
    let up = Up::start(&policy_mesh());
    let cases: &[(&[&str], &str)] = &[
        (&["nosuch", "GET", "http://api/"], "no service `nosuch`"),
        (
            &["front", "GET", "http://nosuch/"],
            "nosuch is not an upstream of front",
        ),
        (
            &["front", "GET", "https://api/"],
            "give http://SERVICE/PATH",
        ),
        (&["front", "G T", "http://api/"], "method `G T`"),
        (
            &["front", "GET", "http://api/", "-H", "nocolon"],
            "-H `nocolon`",
        ),
    ];
    for (args, needle) in cases {
        let out = up.cmd().arg("explain").args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    // No mesh here: exit 1.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(crate::support::meshctl_bin())
        .args(["explain", "front", "GET", "http://api/"])
        .current_dir(empty.path())
        .env_remove("MESHCTL_STATE_DIR")
        .env("MESHCTL_TARGET", "local")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
