//! Fault injection end to end: mesh.yaml faults and live `meshctl fault inject` on real
//! proxies, observed at their configured rates, ending on `clear` and on `--for` expiry (even
//! with the control plane frozen), and bad input refused with nothing changed.

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::mesh::{PATIENCE, Up, assert_up_rejects, curl, free_port, get_quote, logged_pid};

/// An HTTP app that answers every GET 200 and counts them; `GET /count` (sent to the app
/// directly) answers how many other GETs it saw.
const COUNTING_PY: &str = python_app!(
    r#"
import threading
seen = [0]
lock = threading.Lock()
class H(App):
    def do_GET(self):
        if self.path == "/count":
            return self.answer(200, str(seen[0]).encode())
        with lock:
            seen[0] += 1
        self.answer(200, b"ok")
serve(H)
"#
);

/// A running mesh and api's app port; the script's directory lives as long as the mesh.
struct Mesh {
    up: Up,
    port: u16,
    _scripts: tempfile::TempDir,
}

/// `front` (only its proxy matters) calls `api` (COUNTING_PY, with `policy`) and `quotes`
/// (the demo gRPC server); `db` is declared opaque TCP.
fn start(policy: &str) -> Mesh {
    let exe = crate::support::meshctl_bin();
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("counting.py");
    std::fs::write(&script, COUNTING_PY).unwrap();
    let (front, api, quotes) = (free_port(), free_port(), free_port());
    // An opaque TCP service nobody starts: only its refusal of faults is tested.
    let db = free_port();
    let up = Up::start(&format!(
        "services:
  front:
    port: {front}
    upstreams: [api, quotes]
  api:
    port: {api}
    protocol: http
    command: [\"python3\", \"{script}\", \"{api}\"]
{policy}
  quotes:
    port: {quotes}
    protocol: grpc
    command: [\"{exe}\", \"demo-app\", \"quotes\", \"--listen\", \"127.0.0.1:{quotes}\"]
  db:
    port: {db}
    protocol: tcp
",
        exe = exe.display(),
        script = script.display()
    ));
    Mesh {
        up,
        port: api,
        _scripts: scripts,
    }
}

/// One answer: status, `x-meshctl-fault` and seconds to the end of the transfer.
#[derive(Debug)]
struct Answer {
    status: u16,
    fault: String,
    secs: f64,
}

/// GETs every URL over one keep-alive connection.
fn get_all(urls: &[String]) -> Vec<Answer> {
    let out = Command::new("curl")
        .args(["-s", "-m", "60"])
        // Bodies go to stdout too (`-o` covers one URL): each answer's line has a marker.
        .args([
            "-w",
            "\\n@@ %{http_code} %{time_total} [%header{x-meshctl-fault}]\\n",
        ])
        .args(urls)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<Answer> = text
        .lines()
        .filter_map(|l| l.strip_prefix("@@ "))
        .map(|l| {
            let (status, rest) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("{l:?} in {text}"));
            let (secs, fault) = rest.split_once(' ').unwrap();
            Answer {
                status: status.parse().unwrap_or_else(|_| panic!("{l:?} in {text}")),
                secs: secs.parse().unwrap(),
                fault: fault.trim_matches(['[', ']']).to_string(),
            }
        })
        .collect();
    assert_eq!(answers.len(), urls.len(), "{text}");
    answers
}

fn urls(addr: &str, path: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("http://{addr}{path}{i}")).collect()
}

/// How many GETs the app itself saw.
fn app_seen(port: u16) -> u64 {
    curl(&[format!("http://127.0.0.1:{port}/count")], &[])
        .parse()
        .unwrap()
}

/// `count` hits of Binomial(n, p) lie within 5 standard deviations of the mean.
fn assert_binomial(count: usize, n: usize, p: f64, what: &str) {
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    assert!(
        (count as f64 - mean).abs() <= 5.0 * sd,
        "{what}: {count} of {n}, expected {mean} ± {:.1}",
        5.0 * sd
    );
}

/// The value of `meshctl_faults_injected_total{service,kind}` on `instance`'s proxy; the
/// whole exposition passes promtool.
fn injected(up: &Up, instance: &str, service: &str, kind: &str) -> u64 {
    let admin = up.proxy_field(instance, "admin");
    let metrics = curl(&[format!("http://{admin}/metrics")], &[]);
    crate::proxy::promtool_check(&metrics);
    let series = format!("meshctl_faults_injected_total{{service=\"{service}\",kind=\"{kind}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {metrics}"))
}

#[test]
fn mesh_yaml_faults_hit_their_share_and_the_upstream_sees_only_the_rest() {
    let Mesh { up, port, .. } = &start(
        "    policy:
      fault: { abort: { status: 503, percent: 20 } }
      routes:
        - match: { path: { prefix: /slow/ } }
          fault: { delay: { duration: 300ms, percent: 50 } }",
    );
    let api = up.upstream("front", "api");
    let n = 500;
    let answers = get_all(&urls(&api, "/x", n));
    let aborted = answers.iter().filter(|a| a.status == 503).count();
    assert_binomial(aborted, n, 0.2, "503s at abort 20%");
    for a in &answers {
        match a.status {
            503 => assert_eq!(a.fault, "abort", "{a:?}"),
            200 => assert_eq!(a.fault, "", "{a:?}"),
            _ => panic!("unexpected answer {a:?}"),
        }
    }
    assert_eq!(
        app_seen(*port),
        (n - aborted) as u64,
        "the app saw exactly the requests not aborted"
    );
    assert_eq!(injected(up, "front", "api", "abort"), aborted as u64);
    // The caller's view counts the aborts as failed requests to api.
    let stat = json(up, &["stat", "front", "--to", "api", "-t", "1m"]);
    let row = &stat["rows"][0];
    assert_eq!(row["requests"], n, "{stat}");
    let rate = row["success_rate"].as_f64().unwrap();
    assert!(
        (rate - (n - aborted) as f64 / n as f64).abs() < 1e-9,
        "{rate} with {aborted} of {n} aborted"
    );

    // The route's own fault replaces the service's: delays, no aborts.
    let n = 40;
    let answers = get_all(&urls(&api, "/slow/", n));
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let delayed: Vec<&Answer> = answers.iter().filter(|a| a.fault == "delay").collect();
    assert_binomial(delayed.len(), n, 0.5, "delays at 50%");
    assert!(
        delayed.iter().all(|a| a.secs >= 0.3),
        "a delayed answer came before 300ms: {delayed:?}"
    );
    assert!(
        answers
            .iter()
            .all(|a| a.fault.is_empty() || a.fault == "delay")
    );
    assert_eq!(injected(up, "front", "api", "delay"), delayed.len() as u64);
    assert_eq!(injected(up, "front", "api", "abort"), aborted as u64);
    assert_eq!(injected(up, "front", "quotes", "abort"), 0);

    let list = json(up, &["fault", "list"]);
    let sources: Vec<&str> = list["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["policy.fault", "policy.routes[0].fault"]);
    assert_eq!(list["faults"][0]["abort"]["status"], 503);
    assert_eq!(list["faults"][0]["active"], true);
}

fn json(up: &Up, args: &[&str]) -> serde_json::Value {
    let out = up.cmd().args(args).args(["-o", "json"]).assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// Statuses of `n` GETs to api through front's proxy.
fn statuses(api: &str, n: usize) -> Vec<u16> {
    get_all(&urls(api, "/live", n))
        .iter()
        .map(|a| a.status)
        .collect()
}

#[test]
fn live_faults_apply_at_once_override_mesh_yaml_and_end_on_clear_or_expiry() {
    let Mesh { up, port, .. } =
        &start("    policy: { fault: { delay: { duration: 1ms, percent: 100 } } }");
    let api = up.upstream("front", "api");
    let quotes = up.upstream("front", "quotes");
    assert_eq!(statuses(&api, 5), [200; 5]);

    up.cmd()
        .args(["fault", "inject", "api", "--abort", "503@100%", "--wait"])
        .assert()
        .success();
    let seen = app_seen(*port);
    let answers = get_all(&urls(&api, "/live", 20));
    assert!(
        answers
            .iter()
            .all(|a| a.status == 503 && a.fault == "abort"),
        "the live abort replaces the mesh.yaml delay: {answers:?}"
    );
    assert_eq!(
        app_seen(*port),
        seen,
        "aborted requests never reach the app"
    );
    let list = json(up, &["fault", "list", "api"]);
    assert_eq!(list["faults"][0]["source"], "live");
    // Without --for a fault ends by itself after 10 minutes; `--for 0` keeps it until cleared.
    let set = json(up, &["fault", "inject", "api", "--abort", "503@100%"]);
    let left_ms = set["expires_unix_ms"].as_u64().unwrap() as i64
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
    assert!((590_000..=600_000).contains(&left_ms), "{set}");
    up.cmd()
        .args([
            "fault", "inject", "api", "--abort", "503@100%", "--for", "0",
        ])
        .assert()
        .success();
    let list = json(up, &["fault", "list", "api"]);
    assert_eq!(list["faults"][0]["expires_at"], serde_json::Value::Null);
    assert_eq!(list["faults"][1]["source"], "policy.fault");
    assert_eq!(list["faults"][1]["active"], false);

    // Bad input: one line, exit 2, and the fault in force stays as it was.
    let faults_json = std::fs::read(up.state().join("faults.json")).unwrap();
    for (args, needle) in [
        (
            &["inject", "api", "--abort", "700@5%"][..],
            "status 700 is outside 400-599",
        ),
        (
            &["inject", "api", "--abort", "503@150%"][..],
            "percent `150%`",
        ),
        (&["inject", "api", "--delay", "0ms@10%"][..], "zero"),
        (
            &["inject", "api", "--abort", "503"][..],
            "expected STATUS@PERCENT",
        ),
        (
            &["inject", "api", "--delay", "2m@10%"][..],
            "maximum of 60s",
        ),
        (&["inject", "api"][..], "nothing to inject"),
        (
            &["inject", "api", "--abort", "503@5%", "--for", "-1s"][..],
            "--for",
        ),
        (
            &["inject", "nope", "--abort", "503@5%"][..],
            "unknown service `nope`",
        ),
        (&["clear", "nope"][..], "unknown service `nope`"),
        (
            &["inject", "db", "--abort", "503@5%"][..],
            "service `db`: faults apply to HTTP and gRPC requests; this service has `protocol: tcp`",
        ),
    ] {
        let out = up.cmd().arg("fault").args(args).assert().code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains(needle),
            "{args:?}: expected `{needle}` in {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    assert_eq!(
        std::fs::read(up.state().join("faults.json")).unwrap(),
        faults_json
    );
    assert_eq!(statuses(&api, 5), [503; 5]);

    up.cmd()
        .args(["fault", "clear", "api", "--wait"])
        .assert()
        .success();
    let answers = get_all(&urls(&api, "/live", 20));
    assert!(
        answers
            .iter()
            .all(|a| a.status == 200 && a.fault == "delay"),
        "after clear, mesh.yaml's delay is back: {answers:?}"
    );
    let cleared = json(up, &["fault", "clear", "api"]);
    assert_eq!(cleared["cleared"], false, "nothing left to clear");

    // gRPC: a trailers-only answer with the mapped status.
    up.cmd()
        .args(["fault", "inject", "quotes", "--abort", "503@100%", "--wait"])
        .assert()
        .success();
    let status = get_quote(&quotes, "MESH").unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "fault injected");
    up.cmd()
        .args(["fault", "clear", "quotes", "--wait"])
        .assert()
        .success();
    get_quote(&quotes, "MESH").unwrap();

    // --for: over on time, pushed by the control plane's timer.
    let set = json(
        up,
        &[
            "fault", "inject", "api", "--abort", "503@100%", "--for", "4s", "--wait",
        ],
    );
    assert!(set["expires_unix_ms"].as_u64().unwrap() > 0);
    assert_eq!(set["acknowledged"], true);
    assert_eq!(statuses(&api, 3), [503; 3]);
    wait_until_ok(&api);
    let start = Instant::now();
    while json(up, &["fault", "list", "api"])["faults"][0]["source"] == "live" {
        assert!(
            start.elapsed() < PATIENCE,
            "the control plane kept the fault"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(up.state().join("faults.json")).unwrap()).unwrap();
    assert_eq!(kept, serde_json::json!({}), "the expiry was persisted");

    // A proxy ends an expired fault by itself: the control plane is frozen meanwhile.
    up.cmd()
        .args([
            "fault", "inject", "api", "--abort", "503@100%", "--for", "4s", "--wait",
        ])
        .assert()
        .success();
    let plane = Pid::from_raw(logged_pid(&up.state().join("logs/control-plane.log")));
    kill(plane, Signal::SIGSTOP).unwrap();
    let ended = std::panic::catch_unwind(|| {
        assert_eq!(statuses(&api, 3), [503; 3]);
        wait_until_ok(&api);
    });
    kill(plane, Signal::SIGCONT).unwrap();
    ended.unwrap();

    // --wait with a proxy that never acknowledges: exit 4, naming it; the fault is set.
    let front = Pid::from_raw(logged_pid(&up.state().join("logs/proxy-front.log")));
    kill(front, Signal::SIGSTOP).unwrap();
    let out = up
        .cmd()
        .args([
            "fault",
            "inject",
            "api",
            "--delay",
            "5ms@1%",
            "--wait",
            "--timeout",
            "1s",
        ])
        .output()
        .unwrap();
    kill(front, Signal::SIGCONT).unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("front") && err.contains("timed out"), "{err}");
    assert_eq!(
        json(up, &["fault", "list", "api"])["faults"][0]["source"],
        "live"
    );
}

/// Polls api through front's proxy until a request succeeds (bounded).
fn wait_until_ok(api: &str) {
    let start = Instant::now();
    while statuses(api, 1) != [200] {
        assert!(start.elapsed() < PATIENCE, "the fault never ended");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(statuses(api, 10), [200; 10], "the fault ended for good");
}

#[test]
fn bad_fault_policy_is_rejected_before_anything_starts() {
    let api = |fault: &str| {
        format!("services:\n  api:\n    port: 18093\n    policy:\n      fault: {fault}\n")
    };
    for (yaml, needle) in [
        (
            api("{ abort: { status: 700, percent: 5 } }"),
            "mesh.yaml:5:33: services.api.policy.fault.abort.status: status 700 is outside 400-599",
        ),
        (
            api("{ abort: { status: 503, percent: 100.5 } }"),
            "services.api.policy.fault.abort.percent: percent `100.5`",
        ),
        (
            api("{ delay: { duration: 0ms, percent: 1 } }"),
            "services.api.policy.fault.delay.duration: duration `0ms` is zero",
        ),
        (
            api("{ abort: { status: 503, percent: 5, code: 14 } }"),
            "services.api.policy.fault.abort: unknown field `code`",
        ),
    ] {
        assert_up_rejects(&yaml, needle);
    }
}
