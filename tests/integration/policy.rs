//! Traffic policy end to end: header routes in mesh.yaml pushed to real proxies, and bad
//! policy refused by `meshctl up` before anything starts.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::mesh::{Up, assert_up_rejects, curl, free_port, get_quote};

/// An HTTP app whose `GET /sleep/<ms>` answers 200 after that many milliseconds.
const SLOW_PY: &str = python_app!(
    r#"
import time
class H(App):
    def do_GET(self):
        time.sleep(int(self.path.rsplit("/", 1)[1]) / 1000)
        self.answer(200, b"ok")
serve(H)
"#
);

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
        assert_up_rejects(yaml, needle);
    }
}

/// An HTTP app for retries: `GET /half/…` fails (500) every other time, `GET /always` and
/// every `POST`/`PUT` always; `GET /count` answers how many of each it saw as
/// `half always post put`. Error answers have empty bodies.
const FLAKY_PY: &str = python_app!(
    r#"
import threading
counts = {"half": 0, "always": 0, "post": 0, "put": 0}
lock = threading.Lock()
class H(App):
    def count(self, key):
        with lock:
            counts[key] += 1
            return counts[key]
    def do_GET(self):
        if self.path == "/count":
            c = counts
            return self.answer(200, f"{c['half']} {c['always']} {c['post']} {c['put']}".encode())
        if self.path.startswith("/half/"):
            return self.answer(500 if self.count("half") % 2 else 200, b"ok")
        self.count("always")
        self.answer(500)
    def drain(self, key):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.count(key)
        self.answer(500)
    def do_POST(self):
        self.drain("post")
    def do_PUT(self):
        self.drain("put")
serve(H)
"#
);

/// `front` calls `flaky` (FLAKY_PY) with up to 3 attempts on 5xx.
fn flaky_service(script: &std::path::Path) -> String {
    let (front, flaky) = (free_port(), free_port());
    format!(
        "services:
  front:
    port: {front}
    upstreams: [flaky]
  flaky:
    port: {flaky}
    protocol: http
    command: [\"python3\", \"{script}\", \"{flaky}\"]
    policy:
      retries: {{ attempts: 3, on: [5xx], backoff: 5ms }}
",
        script = script.display()
    )
}

/// What FLAKY_PY counted: (half, always, post, put).
fn counts(flaky: &str) -> (u64, u64, u64, u64) {
    let body = curl(&[format!("http://{flaky}/count")], &[]);
    let n: Vec<u64> = body.split(' ').map(|n| n.parse().unwrap()).collect();
    (n[0], n[1], n[2], n[3])
}

/// The value of a policy counter on `instance`'s proxy for destination `service`.
pub(crate) fn counter(up: &Up, instance: &str, name: &str, service: &str) -> u64 {
    let admin = up.proxy_field(instance, "admin");
    let metrics = curl(&[format!("http://{admin}/metrics")], &[]);
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}{{service=\"{service}\"}} ")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} for {service} in {metrics}"))
}

/// The status codes of one request per URL (one keep-alive connection), in order.
fn statuses(urls: &[String], extra: &[&str]) -> Vec<String> {
    let out = Command::new("curl")
        .args(["-s", "-m", "60", "-w", "%{http_code}\\n"])
        .args(extra)
        .args(urls)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // A proxy-generated error body precedes its status on the same line.
        .map(|l| l[l.len().saturating_sub(3)..].to_string())
        .collect()
}

#[test]
fn idempotent_requests_are_retried_within_the_budget_and_others_are_not() {
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("flaky.py");
    std::fs::write(&script, FLAKY_PY).unwrap();
    let up = Up::start(&flaky_service(&script));
    let flaky = up.upstream("front", "flaky");

    // Every other attempt fails, yet every GET succeeds (curl fails on a 5xx): each needs one
    // retry. Few enough that a fresh budget's first 10 retries cover them and the PUT's 2.
    let urls: Vec<String> = (0..5).map(|i| format!("http://{flaky}/half/{i}")).collect();
    curl(&urls, &[]);
    assert_eq!(counts(&flaky).0, 10, "each GET took two attempts");

    let post = format!("http://{flaky}/always");
    assert_eq!(
        statuses(std::slice::from_ref(&post), &["-X", "POST", "-d", "x"]),
        ["500"]
    );
    assert_eq!(counts(&flaky).2, 1, "POST is not idempotent: one attempt");

    let small = "x".repeat(1024);
    assert_eq!(
        statuses(
            std::slice::from_ref(&post),
            &["-X", "PUT", "--data-binary", &small]
        ),
        ["500"]
    );
    assert_eq!(
        counts(&flaky).3,
        3,
        "a small PUT is retried up to 3 attempts"
    );
    let big = "x".repeat(100 * 1024);
    assert_eq!(
        statuses(&[post], &["-X", "PUT", "--data-binary", &big]),
        ["500"]
    );
    assert_eq!(counts(&flaky).3, 4, "a 100 KiB body is never retried");

    // Failing 100%: retries stay within 20% of requests + 10/s, not 3× the load.
    let before = counts(&flaky).1;
    let n = 300;
    let urls: Vec<String> = (0..n).map(|_| format!("http://{flaky}/always")).collect();
    let start = Instant::now();
    let got = statuses(&urls, &[]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got.len(), n);
    assert!(got.iter().all(|s| s == "500"));
    let seen = (counts(&flaky).1 - before) as f64;
    let bound = 1.2 * n as f64 + 10.0 * (secs + 1.0) + 20.0;
    assert!(seen > n as f64, "some retries happened: {seen}");
    assert!(counter(&up, "front", "meshctl_retries_total", "flaky") > 0);
    assert!(
        counter(
            &up,
            "front",
            "meshctl_retry_budget_exhausted_total",
            "flaky"
        ) > 0
    );
    assert!(
        seen <= bound,
        "upstream saw {seen} for {n} requests in {secs:.1}s (bound {bound:.0})"
    );
}

/// An HTTP app for circuit breaking: `GET /x` answers 500 until `GET /heal` (sent to the app
/// directly), then 200; `GET /count` answers how many `/x` it saw.
const SICK_PY: &str = python_app!(
    r#"
import threading
state = {"sick": True, "x": 0}
lock = threading.Lock()
class H(App):
    def do_GET(self):
        if self.path == "/heal":
            state["sick"] = False
            return self.answer(200)
        if self.path == "/count":
            return self.answer(200, str(state["x"]).encode())
        with lock:
            state["x"] += 1
        self.answer(500 if state["sick"] else 200)
serve(H)
"#
);

#[test]
fn a_failing_endpoint_is_ejected_probed_once_and_readmitted_when_healthy() {
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("sick.py");
    std::fs::write(&script, SICK_PY).unwrap();
    let (front, port) = (free_port(), free_port());
    let up = Up::start(&format!(
        "services:
  front:
    port: {front}
    upstreams: [sick]
  sick:
    port: {port}
    protocol: http
    command: [\"python3\", \"{script}\", \"{port}\"]
    policy:
      circuit_breaker: {{ failures: 7 }}
",
        script = script.display()
    ));
    let sick = up.upstream("front", "sick");
    let app = format!("http://127.0.0.1:{port}");
    let seen = || curl(&[format!("{app}/count")], &[]).parse::<u64>().unwrap();
    let x = |n: usize| -> Vec<String> {
        let urls: Vec<String> = (0..n).map(|_| format!("http://{sick}/x")).collect();
        statuses(&urls, &[])
    };

    assert_eq!(x(7), vec!["500"; 7]);
    // Ejected after the 7th failure; its only endpoint is out, so 503 at once, app untouched.
    let start = Instant::now();
    assert_eq!(x(20), vec!["503"; 20]);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "503s were not fast"
    );
    assert_eq!(seen(), 7, "no traffic during the penalty");
    assert_eq!(
        counter(&up, "front", "meshctl_endpoint_ejections_total", "sick"),
        1
    );

    // After the penalty (1 s ± 25%): exactly one probe; it fails, so ejected again (2 s ± 25%).
    std::thread::sleep(Duration::from_millis(1_400));
    let mut after = vec!["500".to_string()];
    after.extend(vec!["503".to_string(); 4]);
    assert_eq!(x(5), after);
    assert_eq!(seen(), 8, "one probe");

    curl(&[format!("{app}/heal")], &[]);
    std::thread::sleep(Duration::from_millis(2_700));
    assert_eq!(
        x(10),
        vec!["200"; 10],
        "the probe succeeded and traffic returned"
    );
    assert_eq!(seen(), 18);
}

/// `front` calls `slow` (SLOW_PY; 300 ms timeout, 3 s under `/patient/`) and `quotes` (the
/// demo gRPC server answering in 0.5–1.5 s; 200 ms timeout).
fn timed_services(script: &std::path::Path) -> String {
    let exe = crate::support::meshctl_bin();
    let (front, slow, quotes) = (free_port(), free_port(), free_port());
    format!(
        "services:
  front:
    port: {front}
    upstreams: [slow, quotes]
  slow:
    port: {slow}
    protocol: http
    command: [\"python3\", \"{script}\", \"{slow}\"]
    policy:
      timeout: 300ms
      routes:
        - {{ match: {{ path: {{ prefix: /patient/ }} }}, timeout: 3s }}
  quotes:
    port: {quotes}
    protocol: grpc
    command: [\"{exe}\", \"demo-app\", \"quotes\", \"--listen\", \"127.0.0.1:{quotes}\"]
    env: {{ DEMO_LATENCY_MS: 1000 }}
    policy: {{ timeout: 200ms }}
",
        script = script.display(),
        exe = exe.display()
    )
}

/// The status of one GET and how long it took.
fn timed_get(url: &str) -> (String, Duration) {
    let start = Instant::now();
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-m",
            "20",
            url,
        ])
        .output()
        .unwrap();
    (String::from_utf8(out.stdout).unwrap(), start.elapsed())
}

#[test]
fn a_slow_upstream_times_out_with_504_and_grpc_deadline_exceeded() {
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("slow.py");
    std::fs::write(&script, SLOW_PY).unwrap();
    let up = Up::start(&timed_services(&script));
    let slow = up.upstream("front", "slow");

    assert_eq!(timed_get(&format!("http://{slow}/sleep/10")).0, "200");
    let (status, took) = timed_get(&format!("http://{slow}/sleep/2000"));
    assert_eq!(status, "504");
    assert!(
        (Duration::from_millis(280)..Duration::from_millis(1_500)).contains(&took),
        "504 after {took:?}, timeout 300ms"
    );
    let (status, took) = timed_get(&format!("http://{slow}/patient/1000"));
    assert_eq!(status, "200", "the route's own timeout (3s) applies");
    assert!(took >= Duration::from_millis(1_000));

    let quotes = up.upstream("front", "quotes");
    let start = Instant::now();
    let status = get_quote(&quotes, "MESH").unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(start.elapsed() < Duration::from_millis(1_500));
    for service in ["slow", "quotes"] {
        let timeouts = counter(&up, "front", "meshctl_request_timeouts_total", service);
        assert_eq!(timeouts, 1, "one timeout to {service}");
    }
}

/// A gRPC server whose replica 0 refuses every call with UNAVAILABLE (before reading it)
/// and whose other replicas echo it.
const FLAKY_GRPC_PY: &str = r#"
import grpc, os, sys
from concurrent import futures
down = os.environ["MESH_REPLICA"] == "0"
def unary(req, ctx):
    if down:
        ctx.abort(grpc.StatusCode.UNAVAILABLE, "replica 0 is down")
    return b"echo " + req
handler = grpc.method_handlers_generic_handler("test.Echo", {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handler,))
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
server.wait_for_termination()
"#;

/// `n` unary calls of `size` bytes each, 5 a second (within the retry budget's minimum of
/// 10 retries a second, whatever share of them needs one); prints how many succeeded and
/// how many failed.
const GRPC_CALLS_PY: &str = r#"
import grpc, sys, time
channel = grpc.insecure_channel(sys.argv[1])
grpc.channel_ready_future(channel).result(timeout=20)
unary = channel.unary_unary("/test.Echo/Unary")
n, size = int(sys.argv[2]), int(sys.argv[3])
ok = failed = 0
for i in range(n):
    time.sleep(0.2)
    body = b"x" * size
    try:
        assert unary(body, timeout=20) == b"echo " + body
        ok += 1
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e
        failed += 1
print(ok, failed)
"#;

/// gRPC calls carry no `content-length`: the caller's proxy streams them and keeps a copy
/// (up to 64 KiB), so a retryable call refused with UNAVAILABLE by one replica is sent to
/// another. Replica 0 refuses everything (and, answering fastest, is what peak-EWMA likes
/// best): with the retry policy and a retryable route every small call succeeds; a call
/// larger than the copy's bound cannot be replayed and fails when it meets replica 0.
#[test]
fn a_grpc_call_without_content_length_is_retried_on_another_replica() {
    let (front, scripts) = (free_port(), tempfile::tempdir().unwrap());
    let server = scripts.path().join("server.py");
    let calls = scripts.path().join("calls.py");
    std::fs::write(&server, FLAKY_GRPC_PY).unwrap();
    std::fs::write(&calls, GRPC_CALLS_PY).unwrap();
    let up = Up::start(&format!(
        "services:
  front:
    port: {front}
    upstreams: [api]
  api:
    protocol: grpc
    replicas: 2
    command: [python3, \"{}\", \"{{port}}\"]
    policy:
      retries: {{ attempts: 3, on: [unavailable] }}
      routes: [{{ retryable: true }}]
",
        server.display()
    ));
    let run = |n: &str, size: &str| -> (u32, u32) {
        let out = Command::new("python3")
            .arg(&calls)
            .args([up.upstream("front", "api").as_str(), n, size])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("No module named 'grpc'"),
            "grpcio is needed by this test: run ./scripts/test.sh, which installs it"
        );
        assert!(out.status.success(), "{stderr}");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut counts = text.split_whitespace().map(|n| n.parse::<u32>().unwrap());
        (counts.next().unwrap(), counts.next().unwrap())
    };
    assert_eq!(run("20", "10000"), (20, 0), "every small call succeeds");
    let exhausted = "meshctl_retry_budget_exhausted_total";
    assert_eq!(counter(&up, "front", exhausted, "api"), 0);
    let retried = counter(&up, "front", "meshctl_retries_total", "api");
    assert!(retried > 0, "replica 0 was met and retried around");
    // 100 KB: past the kept copy's bound, so a call that meets replica 0 fails.
    let (ok, failed) = run("20", "100000");
    assert_eq!(ok + failed, 20);
    assert!(failed > 0, "no large call met replica 0 ({ok} ok)");
    assert_eq!(
        counter(&up, "front", "meshctl_retries_total", "api"),
        retried,
        "a large call is never retried"
    );
}
