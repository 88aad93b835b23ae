//! The gateway end to end: a real mesh (`meshctl up`) with a `gateway:` in mesh.yaml, called
//! by curl over TLS (HTTP/2 and HTTP/1.1) with a certificate made here; API keys made,
//! added and revoked live with the real `meshctl gateway keys`; the answer comes from a real
//! app (the echo app, which shows what it received) behind its own proxy, through a canary
//! split shifted with `meshctl canary shift`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::mesh::{Up, assert_up_rejects, free_port, nothing_started, wait_until};
use crate::proxy::promtool_check;
use crate::support::meshctl;

/// Writes a self-signed certificate for `localhost`, `127.0.0.1` and `*.example.com` and its
/// key into `dir` as `cert.pem` / `key.pem`.
fn write_cert(dir: &Path, prefix: &str) {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "*.example.com".to_string(),
    ];
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    std::fs::write(dir.join(format!("{prefix}cert.pem")), made.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{prefix}key.pem")),
        made.signing_key.serialize_pem(),
    )
    .unwrap();
}

/// `meshctl gateway keys add NAME` on `dir/keys.json`: the key it printed.
fn add_key(dir: &Path, name: &str) -> String {
    let out = meshctl()
        .args(["gateway", "keys", "add", name, "--keys-file", "keys.json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn gateway_mesh(port: u16, api_v1: u16, api_v2: u16) -> String {
    format!(
        "services:
  api:
    protocol: http
    versions:
      v1: {{ port: {api_v1}, command: [python3, echo.py, \"{api_v1}\"] }}
      v2: {{ port: {api_v2}, command: [python3, echo.py, \"{api_v2}\"] }}
gateway:
  listen: 127.0.0.1:{port}
  tls: {{ cert: cert.pem, key: key.pem }}
  keys_file: keys.json
  routes:
    - name: open
      host: open.example.com
      path: {{ prefix: /open }}
      rewrite_prefix: /
      service: api
      rate_limit: {{ rps: 2, burst: 4 }}
    - name: by-query
      path: {{ exact: /q }}
      service: api
      api_key: {{ query: key }}
    - name: keyed
      service: api
      api_key: {{ header: x-api-key }}
"
    )
}

/// One curl request: (status, headers, body). `extra` are curl arguments.
fn call(url: &str, extra: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-m", "20", "-D", "-", "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, status) = text.rsplit_once('\n').unwrap();
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        status.trim().parse().unwrap(),
        head.to_ascii_lowercase(),
        body.to_string(),
    )
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn external_clients_reach_a_split_service_through_the_gateway_with_keys_and_limits() {
    let (port, v1, v2) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    write_cert(dir.path(), "");
    let key = add_key(dir.path(), "ci");
    let up = {
        std::fs::write(dir.path().join("echo.py"), crate::mesh::ECHO_PY).unwrap();
        std::fs::write(dir.path().join("mesh.yaml"), gateway_mesh(port, v1, v2)).unwrap();
        Up::run(dir, &["up"])
    };
    let d = up.dir.path();
    let cacert = d.join("cert.pem").display().to_string();
    let base = format!("https://127.0.0.1:{port}");
    let tls = ["--cacert", cacert.as_str()];
    let with_key = |extra: &[&str]| {
        let header = format!("x-api-key: {key}");
        let mut args = vec!["-H".to_string(), header];
        args.extend(tls.iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    for app in [v1, v2] {
        wait_until("the apps listen", || {
            std::net::TcpStream::connect(("127.0.0.1", app)).is_ok()
        });
    }

    // A keyed request over HTTP/2 and HTTP/1.1 reaches api through the mesh: the key itself
    // is removed, its name passed on, the forwarding headers set, the caller's own copies of
    // mesh and forwarding headers discarded.
    for version in ["--http2", "--http1.1"] {
        let args = with_key(&[
            version,
            "-H",
            "x-meshctl-api-key-name: admin",
            "-H",
            "x-forwarded-for: 6.6.6.6",
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, head, body) = call(&format!("{base}/hello?x=1"), &args);
        assert_eq!(status, 200, "{head}{body}");
        assert!(head.contains("x-meshctl-gateway-route: keyed"), "{head}");
        let seen = json(&body);
        let h = &seen["headers"];
        assert_eq!(h["x-meshctl-api-key-name"], "ci", "{seen}");
        assert!(
            h.get("x-api-key").is_none(),
            "the key reached the app: {seen}"
        );
        assert_eq!(h["x-forwarded-for"], "127.0.0.1", "{seen}");
        assert_eq!(h["x-forwarded-proto"], "https", "{seen}");
        assert_eq!(h["forwarded"], "for=127.0.0.1;proto=https", "{seen}");
        assert_eq!(h["x-request-id"].as_str().unwrap().len(), 32, "{seen}");
        assert_eq!(seen["path"], "/hello?x=1");
        assert_eq!(seen["service"], "api");
        // The service sees the gateway's verified mesh identity.
        assert_eq!(
            h["x-meshctl-client-id"],
            "spiffe://mesh.local/ns/local/sa/gateway"
        );
    }

    // Tapped like any caller's requests, without the key (removed before the request is
    // forwarded or tapped).
    let tap = crate::observe::spawn_tap(
        &up,
        &["gateway", "--to", "api", "--max-events", "2", "-o", "json"],
    );
    let mut tap = Some(tap);
    let started = Instant::now();
    while let Some(child) = tap.as_mut()
        && child.try_wait().unwrap().is_none()
    {
        assert!(started.elapsed() < crate::mesh::PATIENCE, "tap saw nothing");
        let args = with_key(&["-H", "x-tapped: yes"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(call(&format!("{base}/tapped"), &args).0, 200);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let tapped = crate::observe::finish(tap.take().unwrap());
    assert!(
        tapped.contains("/tapped") && tapped.contains("x-tapped"),
        "{tapped}"
    );
    assert!(!tapped.contains(&key), "the key was tapped: {tapped}");

    // The split applies as for any caller: shifted to half and half, both versions answer.
    let shifted = up
        .cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "50", "--wait",
        ])
        .output()
        .unwrap();
    assert!(
        shifted.status.success(),
        "{}",
        String::from_utf8_lossy(&shifted.stderr)
    );
    let mut versions = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let args = with_key(&[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, _, body) = call(&format!("{base}/"), &args);
        assert_eq!(status, 200);
        versions.insert(json(&body)["version"].as_str().unwrap().to_string());
        if versions.len() == 2 {
            break;
        }
    }
    assert_eq!(
        versions.len(),
        2,
        "only {versions:?} answered a 50/50 split"
    );

    // No key: 401 with a challenge; a wrong one: 403; a key in the query is taken out.
    let (status, head, _) = call(&format!("{base}/"), &tls);
    assert_eq!(status, 401);
    assert!(
        head.contains("www-authenticate: apikey header=\"x-api-key\""),
        "{head}"
    );
    let (status, _, _) = call(
        &format!("{base}/"),
        &[&tls[..], &["-H", "x-api-key: mk_guess"]].concat(),
    );
    assert_eq!(status, 403);
    let (status, _, body) = call(&format!("{base}/q?a=1&key={key}&b=2"), &tls);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["path"], "/q?a=1&b=2");

    // Revoked live: refused within moments, no restart; a new key works live.
    let revoke = meshctl()
        .args([
            "gateway",
            "keys",
            "revoke",
            "ci",
            "--keys-file",
            "keys.json",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let keyed = || {
        let args = with_key(&[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        call(&format!("{base}/"), &args)
    };
    wait_until("the revoked key is refused", || keyed().0 == 403);
    let (_, _, body) = keyed();
    assert_eq!(body, "API key revoked");
    let rotated = add_key(d, "ci");
    wait_until("the new key is accepted", || {
        let header = format!("x-api-key: {rotated}");
        call(&format!("{base}/"), &[&tls[..], &["-H", &header]].concat()).0 == 200
    });

    // Host routing with a rewrite, and the token bucket: burst 4 at 2 per second. Twelve
    // requests on one connection: 4 plus 2 for every second they took are allowed.
    let resolve = format!("open.example.com:{port}:127.0.0.1");
    let open_url = format!("https://open.example.com:{port}/open/x");
    let started = Instant::now();
    let urls: Vec<&str> = (0..12)
        .flat_map(|_| ["-o", "/dev/null", open_url.as_str()])
        .collect();
    let out = Command::new("curl")
        .args([
            "-sS",
            "-m",
            "20",
            "-w",
            "%{http_code}\n",
            "--resolve",
            &resolve,
        ])
        .args(tls)
        .args(&urls)
        .output()
        .unwrap();
    let took = started.elapsed().as_secs_f64();
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    let ok = codes.lines().filter(|c| *c == "200").count();
    let limited = codes.lines().filter(|c| *c == "429").count();
    assert_eq!(ok + limited, 12, "{codes}");
    let most = 4 + (2.0 * took).ceil() as usize;
    assert!(
        (4..=most).contains(&ok),
        "{ok} allowed in {took:.2}s: {codes}"
    );
    let (status, head, _) = call(&open_url, &[&tls[..], &["--resolve", &resolve]].concat());
    if status == 429 {
        assert!(head.contains("retry-after: 1"), "{head}");
        assert!(head.contains("ratelimit: \"open\";r=0;t=1"), "{head}");
    }
    // Honouring Retry-After gets the client through again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, head, body) = call(&open_url, &[&tls[..], &["--resolve", &resolve]].concat());
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("ratelimit-policy: \"open\";q=4;w=2"),
        "{head}"
    );
    assert_eq!(json(&body)["path"], "/x", "the prefix is rewritten");
    // The host decides: the same path on another host is the keyed route.
    let (status, _, _) = call(&format!("{base}/open/x"), &tls);
    assert_eq!(status, 401);
    let (status, _, _) = call(
        &format!("{base}/nowhere"),
        &[
            &tls[..],
            &["-d", "x", "-H", &format!("x-api-key: {rotated}")],
        ]
        .concat(),
    );
    assert_eq!(status, 200, "the keyed route matches every method and path");

    // Edited limits apply live with `meshctl gateway reload`; a change that needs a restart
    // is refused and changes nothing.
    let yaml = std::fs::read_to_string(d.join("mesh.yaml")).unwrap();
    std::fs::write(
        d.join("mesh.yaml"),
        yaml.replace("rps: 2, burst: 4", "rps: 3, burst: 7"),
    )
    .unwrap();
    let reload = up.cmd().args(["gateway", "reload"]).output().unwrap();
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    wait_until("the new limit is in force", || {
        let (_, head, _) = call(&open_url, &[&tls[..], &["--resolve", &resolve]].concat());
        head.contains("ratelimit-policy: \"open\";q=7;w=3")
    });
    let moved = yaml.replace(&format!("listen: 127.0.0.1:{port}"), "listen: 127.0.0.1:1");
    std::fs::write(d.join("mesh.yaml"), moved).unwrap();
    let refused = up.cmd().args(["gateway", "reload"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("needs a restart"), "{err}");

    // Metrics count by route, key name and outcome (never a key), in valid Prometheus text.
    let admin = up.proxy_field("gateway", "admin");
    let (_, _, metrics) = call(&format!("http://{admin}/metrics"), &[]);
    for series in [
        "route=\"keyed\",key=\"ci\",outcome=\"forwarded\"",
        "route=\"keyed\",key=\"\",outcome=\"missing_key\"",
        "route=\"keyed\",key=\"\",outcome=\"unknown_key\"",
        "route=\"keyed\",key=\"ci\",outcome=\"revoked_key\"",
        "route=\"open\",key=\"\",outcome=\"rate_limited\"",
    ] {
        assert!(metrics.contains(series), "no {series} in:\n{metrics}");
    }
    promtool_check(&metrics);

    // The keys appear nowhere: not in any log of the mesh, not in metrics.
    let state = up.state();
    let stopped = up.stop_keeping_dir();
    let mut logs = String::new();
    for entry in std::fs::read_dir(state.join("logs")).unwrap() {
        logs += &std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
    }
    logs += &std::fs::read_to_string(stopped.path().join("up.err")).unwrap_or_default();
    assert!(
        logs.contains("gateway https://"),
        "the gateway's start-up line: {logs}"
    );
    for secret in [&key, &rotated] {
        assert!(!logs.contains(secret.as_str()), "a key was logged");
        assert!(!metrics.contains(secret.as_str()));
    }
}

#[test]
fn a_bad_gateway_is_refused_with_its_location_and_nothing_starts() {
    let base = |routes: &str, extra: &str| {
        format!(
            "services:
  web: {{ port: {} }}
gateway:
  keys_file: keys.json{extra}
  routes:
{routes}",
            free_port()
        )
    };
    let keyed = "    - { name: web, service: web, api_key: { header: x-api-key } }\n";
    // Checked before the files (which these cases do not have).
    assert_up_rejects(
        &base("    - { name: web, service: nope }\n", ""),
        "mesh.yaml:6:29: gateway.routes[0].service: unknown service `nope`",
    );
    assert_up_rejects(
        &base(
            "    - { name: all, service: web }\n    - { name: api, service: web, path: { prefix: /api } }\n",
            "",
        ),
        "gateway.routes[1]: route `api` can never match: routes[0] (`all`)",
    );
    assert_up_rejects(&base(keyed, ""), "gateway.keys_file: ");
    assert_up_rejects(
        &base("    - { name: web, service: web }\n", "\n  workers: 0"),
        "gateway.workers: 0 worker threads: give 1 to 128",
    );

    // A gateway port in use is found before anything starts.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    let open = "    - { name: web, service: web }\n";
    let yaml = base(open, "").replace(
        "  keys_file: keys.json",
        &format!("  listen: 127.0.0.1:{busy}"),
    );
    // Exit 1, as for any port in use (the machine's state, not the file, is wrong).
    let dir = crate::mesh::dir_with(&yaml);
    let out = meshctl()
        .arg("up")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("port {busy} (gateway.listen) is already in use")),
        "{err}"
    );
    nothing_started(dir.path());
    drop(held);

    // With files: a world-readable key file, then a certificate with another's key.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_cert(d, "");
    write_cert(d, "other-");
    add_key(d, "ci");
    let run = |yaml: &str| {
        std::fs::write(d.join("mesh.yaml"), yaml).unwrap();
        let out = meshctl().arg("up").current_dir(d).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(err.lines().count(), 1, "{err}");
        nothing_started(d);
        err
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("keys.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = run(&base(keyed, ""));
    assert!(
        err.contains("mesh.yaml:4:14: gateway.keys_file: ") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(d.join("keys.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = run(&base(
        keyed,
        "\n  tls: { cert: cert.pem, key: other-key.pem }",
    ));
    assert!(
        err.contains("gateway.tls: ") && err.contains("other-key.pem"),
        "{err}"
    );
    // A service named like the gateway.
    let err = run(&format!(
        "services:\n  gateway: {{ port: {} }}\n  web: {{ port: {} }}\ngateway:\n  routes: [{{ name: w, service: web }}]\n",
        free_port(),
        free_port()
    ));
    assert!(
        err.contains("services.gateway: `gateway` is the name of the mesh's gateway"),
        "{err}"
    );
}

/// `policy.rate_limit` inside the mesh: enforced by the destination's own proxy per verified
/// caller identity (a caller named with a rate of its own, the others per caller), for HTTP
/// (429 + Retry-After) and gRPC (RESOURCE_EXHAUSTED), counted by reason.
#[test]
fn a_service_limits_each_caller_identity_on_its_own_proxy() {
    let exe = crate::support::meshctl_bin();
    let (web, batch, api, quotes) = (free_port(), free_port(), free_port(), free_port());
    let yaml = format!(
        "services:
  web: {{ port: {web}, upstreams: [api, quotes] }}
  batch: {{ port: {batch}, upstreams: [api] }}
  api:
    port: {api}
    protocol: http
    command: [python3, echo.py, \"{api}\"]
    policy:
      rate_limit:
        per_caller: {{ rps: 0.5, burst: 1 }}
        callers: [{{ from: {{ service: web }}, rps: 0.5, burst: 3 }}]
  quotes:
    port: {quotes}
    protocol: grpc
    command: [\"{exe}\", demo-app, quotes, --listen, \"127.0.0.1:{quotes}\"]
    policy:
      rate_limit: {{ rps: 0.5, burst: 1 }}
",
        exe = exe.display()
    );
    let up = Up::start(&yaml);
    for app in [api, quotes] {
        wait_until("the apps listen", || {
            std::net::TcpStream::connect(("127.0.0.1", app)).is_ok()
        });
    }
    let statuses = |from: &str, n: usize| -> Vec<u16> {
        let url = format!("http://{}/", up.upstream(from, "api"));
        (0..n).map(|_| call(&url, &[]).0).collect()
    };
    // web has a burst of 3 of its own; batch the per-caller burst of 1. At 0.5/s, a refill
    // within these few requests is one token at most.
    let started = Instant::now();
    let from_web = statuses("web", 6);
    let most = 3 + (0.5 * started.elapsed().as_secs_f64()).ceil() as usize;
    let ok = from_web.iter().filter(|s| **s == 200).count();
    assert!(
        (3..=most).contains(&ok) && from_web.contains(&429),
        "{from_web:?}"
    );
    let from_batch = statuses("batch", 3);
    assert_eq!(
        from_batch[0], 200,
        "batch's bucket is its own: {from_batch:?}"
    );
    assert!(from_batch.contains(&429), "{from_batch:?}");
    let url = format!("http://{}/", up.upstream("batch", "api"));
    let (status, head, body) = call(&url, &[]);
    assert_eq!(status, 429, "{head}{body}");
    assert!(
        head.contains("retry-after: 2") || head.contains("retry-after: 1"),
        "{head}"
    );
    assert!(
        head.contains("x-meshctl-proxy-error: rate limited"),
        "{head}"
    );

    // gRPC: the second call in a row is refused with RESOURCE_EXHAUSTED.
    let addr = up.upstream("web", "quotes");
    let results: Vec<_> = (0..3)
        .map(|_| crate::mesh::get_quote(&addr, "ACME"))
        .collect();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let refused = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("a refused call");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );

    // Counted on the destination's proxy, by which limit refused.
    let admin = up.proxy_field("api", "admin");
    let (_, _, metrics) = call(&format!("http://{admin}/metrics"), &[]);
    for reason in ["caller", "per_caller"] {
        let series = format!("meshctl_inbound_rate_limited_total{{reason=\"{reason}\"}} ");
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {series}: {metrics}"));
        assert!(n >= 1, "{series}{n}");
    }
    promtool_check(&metrics);
}

#[test]
fn a_bad_rate_limit_is_refused_with_its_location() {
    let service = |policy: &str| {
        format!(
            "services:\n  web: {{ port: {}, upstreams: [api] }}\n  api:\n    port: {}\n    policy:\n      rate_limit: {policy}\n",
            free_port(),
            free_port()
        )
    };
    assert_up_rejects(
        &service("{ per_caller: { rps: 0 } }"),
        "services.api.policy.rate_limit.per_caller: rps must be above 0",
    );
    assert_up_rejects(
        &service("{ callers: [{ from: { service: nope }, rps: 1 }] }"),
        "services.api.policy.rate_limit.callers[0].from.service: unknown service `nope`",
    );
    assert_up_rejects(&service("{}"), "limits nothing");
}

/// A gRPC client (tonic, over h2c) calls a meshed gRPC service through a plaintext gateway,
/// routed by the gRPC service's path prefix ahead of a key-protected catch-all route.
#[test]
fn grpc_calls_reach_a_meshed_service_through_the_gateway() {
    let exe = crate::support::meshctl_bin();
    let (port, quotes) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    add_key(dir.path(), "grpc-client");
    let yaml = format!(
        "services:
  quotes:
    port: {quotes}
    protocol: grpc
    command: [\"{exe}\", demo-app, quotes, --listen, \"127.0.0.1:{quotes}\"]
gateway:
  listen: 127.0.0.1:{port}
  keys_file: keys.json
  routes:
    - {{ name: quotes, path: {{ prefix: /meshctl.demo.v1.Quotes }}, service: quotes }}
    - {{ name: keyed, service: quotes, api_key: {{ header: x-api-key }} }}
",
        exe = exe.display()
    );
    std::fs::write(dir.path().join("mesh.yaml"), yaml).unwrap();
    let up = Up::run(dir, &["up"]);
    wait_until("quotes listens", || {
        std::net::TcpStream::connect(("127.0.0.1", quotes)).is_ok()
    });
    let quote = crate::mesh::get_quote(&format!("127.0.0.1:{port}"), "ACME").unwrap();
    assert_eq!(quote.symbol, "ACME");
    // Counted as forwarded on the route that matched.
    let admin = up.proxy_field("gateway", "admin");
    let (_, _, metrics) = call(&format!("http://{admin}/metrics"), &[]);
    assert!(
        metrics.contains("route=\"quotes\",key=\"\",outcome=\"forwarded\""),
        "{metrics}"
    );
}
