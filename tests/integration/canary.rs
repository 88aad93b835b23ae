//! `meshctl canary start|promote|abort|status` on a real local mesh: `front`'s proxy calls
//! `api` v1 (healthy) and v2 (healthy, failing half its requests once told to, or slow), with
//! load driven from the test through front's upstream listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::mesh::{PATIENCE, Up, curl, free_port, logged_pid, wait_until};

/// `app.py PORT MODE`: answers `{"version": …}`. MODE `healthy`: 200; `flaky`: once the file
/// `v2-fails` exists in its directory, every other request gets 500; `slow`: 200 after 200 ms.
const APP_PY: &str = python_app!(
    r#"
import os, threading, time
mode = sys.argv[2]
version = os.environ.get("MESH_VERSION", "")
lock = threading.Lock()
count = [0]
class H(App):
    def do_GET(self):
        status = 200
        if mode == "slow":
            time.sleep(0.2)
        if mode == "flaky" and os.path.exists("v2-fails"):
            with lock:
                count[0] += 1
                status = 500 if count[0] % 2 else 200
        self.answer(status, ('{"version": "%s"}' % version).encode(), "application/json")
serve(H)
"#
);

/// A mesh whose api v2 runs in `v2_mode`.
fn mesh(v2_mode: &str) -> Up {
    let (front, v1, v2) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), APP_PY).unwrap();
    std::fs::write(
        dir.path().join("mesh.yaml"),
        format!(
            "services:
  front:
    port: {front}
    upstreams: [api]
  api:
    protocol: http
    versions:
      v1: {{ port: {v1}, command: [\"python3\", \"app.py\", \"{v1}\", \"healthy\"] }}
      v2: {{ port: {v2}, command: [\"python3\", \"app.py\", \"{v2}\", \"{v2_mode}\"] }}
"
        ),
    )
    .unwrap();
    Up::run(dir, &["up"])
}

/// One answered request as the client saw it.
#[derive(Debug, Clone)]
struct Sample {
    sent: Instant,
    status: u16,
    version: String,
}

/// Client load on keep-alive connections until stopped (at most 60 s and 50 000 requests
/// per connection).
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Sample>>>,
}

impl Load {
    fn start(addr: &str, connections: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..connections)
            .map(|_| {
                let (addr, stop) = (addr.to_string(), stop.clone());
                std::thread::spawn(move || {
                    let started = Instant::now();
                    let mut samples = Vec::new();
                    let mut conn = None;
                    while !stop.load(Ordering::Relaxed)
                        && samples.len() < 50_000
                        && started.elapsed() < Duration::from_secs(60)
                    {
                        let c = conn.get_or_insert_with(|| connect(&addr));
                        let sent = Instant::now();
                        match request(c) {
                            Some((status, version)) => samples.push(Sample {
                                sent,
                                status,
                                version,
                            }),
                            None => {
                                conn = None;
                                std::thread::sleep(Duration::from_millis(10));
                            }
                        }
                    }
                    samples
                })
            })
            .collect();
        Load { stop, threads }
    }

    fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<Sample> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_by_key(|s| s.sent);
        all
    }
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(s)
}

/// One GET on a keep-alive connection: (status, version in the body); `None` if the
/// connection broke.
fn request(c: &mut BufReader<TcpStream>) -> Option<(u16, String)> {
    c.get_mut()
        .write_all(b"GET /load HTTP/1.1\r\nHost: api\r\n\r\n")
        .ok()?;
    let mut line = String::new();
    c.read_line(&mut line).ok()?;
    let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut length = 0usize;
    loop {
        line.clear();
        c.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    c.read_exact(&mut body).ok()?;
    let body = String::from_utf8_lossy(&body);
    let version = body
        .split("\"version\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string();
    Some((status, version))
}

/// A `canary start -o json` in the background, its NDJSON events read as they come.
struct Rollout {
    child: Child,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Rollout {
    fn start(up: &Up, args: &[&str]) -> Rollout {
        let mut child = Command::new(crate::support::meshctl_bin())
            .args(["canary", "start", "api", "-o", "json"])
            .args(args)
            .current_dir(up.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("MESHCTL_STATE_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        Rollout {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// The first event (from now on) that `pred` accepts.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                Err(_) => panic!("no {what} event; saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the exit: (code, every event, stderr).
    fn finish(mut self) -> (i32, Vec<Value>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < PATIENCE * 2,
                "canary start did not end; saw {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        self.seen.extend(self.events.iter());
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (
            status.code().unwrap_or(-1),
            std::mem::take(&mut self.seen),
            err,
        )
    }
}

impl Drop for Rollout {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kind(e: &Value) -> &str {
    e["event"].as_str().unwrap_or("")
}

fn analyses(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| kind(e) == "analysis").collect()
}

fn status_json(up: &Up) -> Value {
    let out = up
        .cmd()
        .args(["canary", "status", "api", "-o", "json"])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn weight_of(up: &Up, version: &str) -> u64 {
    status_json(up)["splits"][0]["weights"][version]
        .as_u64()
        .unwrap()
}

/// Versions that answered `n` requests carrying `x-canary: 1`.
fn header_versions(up: &Up, n: usize) -> String {
    let api = up.upstream("front", "api");
    let urls: Vec<String> = (0..n).map(|i| format!("http://{api}/h{i}")).collect();
    curl(&urls, &["-H", "x-canary: 1"])
}

/// Fast checks: every second, 5 requests enough.
const FAST: &[&str] = &[
    "--to",
    "v2",
    "--interval",
    "1s",
    "--min-requests",
    "5",
    "--timeout",
    "60s",
];

#[test]
fn a_healthy_canary_walks_every_step_and_is_promoted() {
    let up = mesh("healthy");
    let load = Load::start(&up.upstream("front", "api"), 2);
    // Latency is not under test here: a generous p99 gate keeps a busy machine from failing it.
    let mut rollout = Rollout::start(
        &up,
        &[FAST, &["--steps", "20,60,100", "--max-p99", "10s"]].concat(),
    );
    let (code, events, err) = {
        rollout.wait_for("step", |e| kind(e) == "step");
        rollout.finish()
    };
    let samples = load.stop();
    assert_eq!(code, 0, "{err}\n{events:#?}");
    let started = &events[0];
    assert_eq!(kind(started), "started");
    assert_eq!(started["steps"], serde_json::json!([20, 60, 100]));
    // The default gate is relative to the baseline; no absolute limit (1 = 100%).
    assert_eq!(started["gates"]["max_error_rate_increase"], 0.01);
    assert_eq!(started["gates"]["max_error_rate"], 1.0);
    assert_eq!(started["on_timeout"], "pause");
    let steps: Vec<u64> = events
        .iter()
        .filter(|e| kind(e) == "step")
        .map(|e| e["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [20, 60, 100]);
    // Each step advanced on a passing check with enough of the canary's own requests.
    let passes: Vec<&Value> = analyses(&events)
        .into_iter()
        .filter(|a| a["decision"] == "pass")
        .collect();
    assert_eq!(passes.len(), 3, "{events:#?}");
    for a in &passes {
        assert!(a["requests"].as_u64().unwrap() >= 5, "{a}");
        assert_eq!(a["errors"], 0);
        assert!(a["p99_ms"].as_f64().unwrap() > 0.0, "{a}");
        assert_eq!(a["proxies_reporting"], 1);
    }
    let last = events.last().unwrap();
    assert_eq!(
        (kind(last), &last["weight"], &last["by"]),
        ("promoted", &100.into(), &"gate".into())
    );
    assert_eq!(weight_of(&up, "v2"), 100);
    assert!(samples.iter().all(|s| s.status == 200), "no client error");
    let status = status_json(&up);
    let r = &status["rollouts"][0];
    assert_eq!(
        (&r["phase"], &r["weight"], &r["running"]),
        (&"Promoted".into(), &100.into(), &false.into())
    );
    assert_eq!(r["last_analysis"]["decision"], "pass");
}

#[test]
fn a_canary_failing_half_its_requests_is_rolled_back_within_two_checks() {
    let up = mesh("flaky");
    let load = Load::start(&up.upstream("front", "api"), 3);
    let mut rollout = Rollout::start(
        &up,
        &[
            FAST,
            &[
                "--steps",
                "20,50,100",
                "--failure-threshold",
                "2",
                "--max-p99",
                "10s",
            ],
        ]
        .concat(),
    );
    rollout.wait_for("first passing check", |e| {
        kind(e) == "analysis" && e["decision"] == "pass"
    });
    // From here on v2 fails every other request.
    std::fs::write(up.dir.path().join("v2-fails"), "").unwrap();
    let failing_since = Instant::now();
    let (code, events, err) = rollout.finish();
    let ended = Instant::now();
    // After the exit every caller applied 0%: nothing reaches v2 any more.
    std::thread::sleep(Duration::from_millis(500));
    let samples = load.stop();
    assert_eq!(code, 3, "{err}\n{events:#?}");

    // The second step's checks: exactly two, both failed on errors, then the rollback.
    let step2 = events
        .iter()
        .position(|e| kind(e) == "step" && e["weight"] == 50)
        .unwrap();
    let after: Vec<&Value> = events[step2 + 1..].iter().collect();
    let kinds: Vec<&str> = after.iter().map(|e| kind(e)).collect();
    assert_eq!(
        kinds,
        ["analysis", "analysis", "rolled-back"],
        "{events:#?}"
    );
    for a in &after[..2] {
        assert_eq!(a["decision"], "fail", "{a}");
        assert!(a["error_rate"].as_f64().unwrap() > 0.01, "{a}");
        assert!(a["reason"].as_str().unwrap().contains("error rate"), "{a}");
    }
    let last = after[2];
    assert_eq!((&last["weight"], &last["by"]), (&0.into(), &"gate".into()));
    assert!(
        last["reason"].as_str().unwrap().contains("2 failed checks"),
        "{last}"
    );
    assert_eq!(weight_of(&up, "v2"), 0);

    // Client-visible errors while v2 failed: each request reached v2 with probability at
    // most 0.5 (the highest weight) and half of those failed, so at most a quarter on
    // average; ±5 sd of a binomial as the bound.
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent >= failing_since && s.sent < ended)
        .collect();
    let n = during.len() as f64;
    let errors = during.iter().filter(|s| s.status >= 500).count() as f64;
    let bound = 0.25 * n + 5.0 * (n * 0.25 * 0.75).sqrt();
    assert!(n > 0.0 && errors > 0.0, "v2 failed for the clients too");
    assert!(
        errors <= bound,
        "{errors} errors of {n} requests, bound {bound}"
    );
    // After the rollback: only v1, no error.
    let late: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent > ended + Duration::from_millis(100))
        .collect();
    assert!(!late.is_empty());
    assert!(late.iter().all(|s| s.status == 200 && s.version == "v1"));
    let r = &status_json(&up)["rollouts"][0];
    assert_eq!(
        (&r["phase"], &r["weight"]),
        (&"RolledBack".into(), &0.into())
    );
}

#[test]
fn a_slow_canary_is_rolled_back_for_latency_not_errors() {
    let up = mesh("slow");
    let load = Load::start(&up.upstream("front", "api"), 4);
    let rollout = Rollout::start(
        &up,
        &[
            FAST,
            &[
                "--steps",
                "50,100",
                "--max-p99",
                "50ms",
                "--failure-threshold",
                "1",
            ],
        ]
        .concat(),
    );
    let (code, events, err) = rollout.finish();
    let samples = load.stop();
    assert_eq!(code, 3, "{err}\n{events:#?}");
    let failed: Vec<&Value> = analyses(&events)
        .into_iter()
        .filter(|a| a["decision"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{events:#?}");
    let a = failed[0];
    assert_eq!(a["errors"], 0);
    assert!(a["p99_ms"].as_f64().unwrap() >= 200.0, "{a}");
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains("p99") && !reason.contains("error rate"),
        "{reason}"
    );
    assert_eq!(kind(events.last().unwrap()), "rolled-back");
    assert_eq!(weight_of(&up, "v2"), 0);
    assert!(samples.iter().all(|s| s.status == 200));
}

#[test]
fn too_little_traffic_holds_the_step_then_times_out_leaving_the_weight() {
    let up = mesh("healthy");
    // No load at all: every check holds.
    let out = up
        .cmd()
        .args([
            "canary",
            "start",
            "api",
            "--to",
            "v2",
            "--steps",
            "50,100",
            "--interval",
            "3s",
            "--timeout",
            "5s",
            "-o",
            "json",
        ])
        .timeout(PATIENCE)
        .assert()
        .code(4);
    let events: Vec<Value> = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(kind).collect();
    assert_eq!(
        kinds,
        ["started", "step", "analysis", "timed-out"],
        "{events:#?}"
    );
    assert_eq!(events[2]["decision"], "hold");
    assert_eq!(events[3]["weight"], 50);
    assert_eq!(weight_of(&up, "v2"), 50, "left where it was");

    // The state as `status -o json` shows it: a pinned shape.
    let status = status_json(&up);
    insta::assert_json_snapshot!("canary_status_paused_json", status, {
        ".rollouts[].owner_pid" => "[pid]",
        ".rollouts[].started_at" => "[time]",
        ".rollouts[].updated_at" => "[time]",
        ".rollouts[].history[].at" => "[time]",
        ".rollouts[].history[].elapsed_ms" => "[ms]",
    });
    // The table names the phase and the history.
    let table = up
        .cmd()
        .args(["canary", "status", "api"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).into_owned();
    assert!(
        text.contains("Paused") && text.contains("history:"),
        "{text}"
    );
    assert!(!text.contains("INTERVAL"), "{text}");
    // -o wide adds the rollout's steps, interval, gates and timeout.
    let wide = up
        .cmd()
        .args(["canary", "status", "api", "-o", "wide"])
        .assert()
        .success();
    let wide = String::from_utf8_lossy(&wide.get_output().stdout).into_owned();
    assert!(
        wide.contains("STEPS")
            && wide.contains("50%,100%")
            && wide.contains("errors ≤ baseline+1%"),
        "{wide}"
    );

    // A paused rollout can be promoted from any shell; then it is closed.
    up.cmd()
        .args(["canary", "promote", "api"])
        .assert()
        .success();
    assert_eq!(weight_of(&up, "v2"), 100);
    assert_eq!(status_json(&up)["rollouts"][0]["phase"], "Promoted");
    up.cmd()
        .args(["canary", "abort", "api"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already Promoted"));

    // --on-timeout rollback: the same starved rollout (resumed at 100%) goes back to 0%, exit 3.
    let out = up
        .cmd()
        .args([
            "canary",
            "start",
            "api",
            "--to",
            "v2",
            "--steps",
            "50,100",
            "--interval",
            "3s",
            "--timeout",
            "5s",
            "--on-timeout",
            "rollback",
            "-o",
            "json",
        ])
        .timeout(PATIENCE)
        .assert()
        .code(3);
    let events: Vec<Value> = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(kind).collect();
    assert_eq!(
        kinds,
        ["started", "step", "analysis", "rolled-back"],
        "{events:#?}"
    );
    assert_eq!(events[0]["on_timeout"], "rollback");
    let reason = events[2]["reason"].as_str().unwrap();
    assert!(reason.contains("fewer than --min-requests 20"), "{reason}");
    let last = &events[3];
    assert_eq!(
        (&last["weight"], &last["by"]),
        (&0.into(), &"timeout".into())
    );
    let reason = last["reason"].as_str().unwrap();
    assert!(
        reason.contains("no requests") && reason.contains("--timeout"),
        "{reason}"
    );
    assert_eq!(weight_of(&up, "v2"), 0);
    assert_eq!(status_json(&up)["rollouts"][0]["phase"], "RolledBack");
}

/// The README's canary section on the demo, where both api versions fail 2% of requests by
/// design: the default (baseline-relative) gate promotes v2 as it ships, and rolls back a v2
/// started with `--v2-error-rate 40%`. (Shorter steps and interval than the README's, same
/// gates.)
#[test]
fn the_demo_promotes_a_healthy_v2_and_rolls_back_a_broken_one() {
    let args = [
        "--to",
        "v2",
        "--steps",
        "50,100",
        "--interval",
        "2s",
        "--max-p99",
        "10s",
    ];
    let up = Up::run(tempfile::tempdir().unwrap(), &["up", "--demo"]);
    let (code, events, err) = Rollout::start(&up, &args).finish();
    assert_eq!(code, 0, "{err}\n{events:#?}");
    assert_eq!(kind(events.last().unwrap()), "promoted");
    for a in analyses(&events) {
        assert!(a["baseline_requests"].as_u64().unwrap() > 0, "{a}");
    }
    drop(up);

    let up = Up::run(
        tempfile::tempdir().unwrap(),
        &["up", "--demo", "--v2-error-rate", "40%"],
    );
    let (code, events, err) = Rollout::start(&up, &args).finish();
    assert_eq!(code, 3, "{err}\n{events:#?}");
    let last = events.last().unwrap();
    assert_eq!((kind(last), &last["by"]), ("rolled-back", &"gate".into()));
    let fails: Vec<&Value> = analyses(&events)
        .into_iter()
        .filter(|a| a["decision"] == "fail")
        .collect();
    assert_eq!(fails.len(), 2, "{events:#?}");
    for a in fails {
        let reason = a["reason"].as_str().unwrap();
        assert!(reason.contains("--max-error-rate-increase"), "{reason}");
    }
}

#[test]
fn promote_and_abort_from_another_shell_end_a_running_rollout() {
    let up = mesh("healthy");
    // Too few requests to ever pass: the rollout waits at its first step.
    let hold = [
        "--to",
        "v2",
        "--steps",
        "10,100",
        "--interval",
        "1s",
        "--min-requests",
        "100000",
        "--timeout",
        "5m",
        "--match-header",
        "x-canary=1",
    ];
    let mut rollout = Rollout::start(&up, &hold);
    rollout.wait_for("step", |e| kind(e) == "step");
    // The tester header reaches v2 at 10%.
    assert_eq!(header_versions(&up, 20).matches("v2").count(), 20);

    // While it runs: a second start and a manual shift are refused, status shows it live.
    up.cmd()
        .args(["canary", "start", "api", "--to", "v2"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already running"));
    up.cmd()
        .args(["canary", "shift", "api", "--to", "v2", "--weight", "90"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is running"));
    let r = status_json(&up)["rollouts"][0].clone();
    assert_eq!(
        (&r["phase"], &r["weight"], &r["running"]),
        (&"Progressing".into(), &10.into(), &true.into())
    );
    assert_eq!(r["match_header"], "x-canary=1");

    // The route survives a control-plane restart (persisted, pushed again).
    let cp = logged_pid(&up.state().join("logs/control-plane.log"));
    kill(Pid::from_raw(cp), Signal::SIGKILL).unwrap();
    wait_until_current(&up, cp);
    assert_eq!(header_versions(&up, 20).matches("v2").count(), 20);

    up.cmd().args(["canary", "abort", "api"]).assert().success();
    let (code, events, err) = rollout.finish();
    assert_eq!(code, 3, "{err}");
    let last = events.last().unwrap();
    assert_eq!((kind(last), &last["by"]), ("rolled-back", &"abort".into()));
    assert_eq!(weight_of(&up, "v2"), 0);
    // The route went with the rollout.
    assert_eq!(header_versions(&up, 20).matches("v2").count(), 0);

    // Again, ended by promote this time.
    let mut rollout = Rollout::start(&up, &hold);
    rollout.wait_for("step", |e| kind(e) == "step");
    up.cmd()
        .args(["canary", "promote", "api"])
        .assert()
        .success();
    let (code, events, err) = rollout.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(events.last().unwrap()["by"], "promote");
    assert_eq!(weight_of(&up, "v2"), 100);

    // SIGTERM (a cancelled CI job) leaves the weight where it is: Paused, exit 1.
    // Back to 0%, then a rollout that holds, past its first step.
    let restart = || {
        up.cmd()
            .args([
                "canary", "shift", "api", "--to", "v2", "--weight", "0", "--wait",
            ])
            .assert()
            .success();
        let mut rollout = Rollout::start(&up, &hold);
        rollout.wait_for("step", |e| kind(e) == "step");
        rollout
    };
    let rollout = restart();
    kill(Pid::from_raw(rollout.child.id() as i32), Signal::SIGTERM).unwrap();
    let (code, _, err) = rollout.finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    let r = status_json(&up)["rollouts"][0].clone();
    assert_eq!((&r["phase"], &r["weight"]), (&"Paused".into(), &10.into()));
    assert_eq!(weight_of(&up, "v2"), 10);

    // A `start` that dies: status says Failed, the next start takes over.
    let rollout = restart();
    kill(Pid::from_raw(rollout.child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = rollout.finish();
    let r = status_json(&up)["rollouts"][0].clone();
    assert_eq!(
        (&r["phase"], &r["running"], &r["weight"]),
        (&"Failed".into(), &false.into(), &10.into())
    );
    let out = up
        .cmd()
        .args([
            "canary",
            "start",
            "api",
            "--to",
            "v2",
            "--steps",
            "10,100",
            "--interval",
            "1s",
            "--timeout",
            "1s",
        ])
        .timeout(PATIENCE)
        .assert()
        .code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("taking over"), "{err}");
    up.cmd().args(["canary", "abort", "api"]).assert().success();
    assert_eq!(weight_of(&up, "v2"), 0);
}

/// Waits until the control plane (restarted by the supervisor after `old` died) answers and
/// every proxy applied its current config.
fn wait_until_current(up: &Up, old: i32) {
    wait_until("the control plane did not come back", || {
        logged_pid(&up.state().join("logs/control-plane.log")) != old
            && up.cmd().arg("status").output().unwrap().status.success()
    });
}

#[test]
fn bad_input_is_refused_before_anything_changes() {
    let up = mesh("healthy");
    let cases: &[(&[&str], &str)] = &[
        (&["--to", "v2", "--steps", "50,25"], "weights must increase"),
        (&["--to", "v2", "--steps", "0,50"], "outside 1-100"),
        (&["--to", "v2", "--steps", "50,101"], "outside 1-100"),
        (&["--to", "v2", "--steps", "5;10"], "comma-separated"),
        (&["--to", "v9"], "no version `v9`"),
        (
            &["--to", "v2", "--max-error-rate", "0.01"],
            "is not a percentage",
        ),
        (
            &["--to", "v2", "--max-error-rate", "150%"],
            "is not a percentage",
        ),
        (&["--to", "v2", "--max-p99", "fast"], "invalid duration"),
        (&["--to", "v2", "--min-requests", "0"], "--min-requests"),
        (
            &["--to", "v2", "--failure-threshold", "0"],
            "--failure-threshold",
        ),
        (&["--to", "v2", "--interval", "500ms"], "--interval"),
        (
            &["--to", "v2", "--interval", "10s", "--timeout", "5s"],
            "shorter than --interval",
        ),
        (
            &["--to", "v2", "--match-header", "x-canary"],
            "--match-header",
        ),
    ];
    for (args, needle) in cases {
        let out = up
            .cmd()
            .args(["canary", "start", "api"])
            .args(*args)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains(needle),
            "{args:?}: expected `{needle}` in {err}"
        );
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error:") && first.contains(needle),
            "{args:?}: one line says it: {err}"
        );
    }
    up.cmd()
        .args(["canary", "start", "nope", "--to", "v2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown service `nope`"));
    // Nothing changed: no rollout recorded, the split untouched.
    assert!(!up.state().join("canary/api.json").exists());
    assert_eq!(weight_of(&up, "v2"), 0);
    assert_eq!(status_json(&up)["rollouts"], serde_json::json!([]));
    // promote/abort with no rollout on record.
    up.cmd()
        .args(["canary", "promote", "api"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no rollout of `api`"));
}

/// Runs examples/ci-canary.sh (the pipeline stage the docs show) in `up`'s directory.
fn ci_script(up: &Up, log: &std::path::Path, flags: &[&str]) -> (i32, Vec<Value>, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci-canary.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(["api", "v2"])
        .args(flags)
        .current_dir(up.dir.path())
        .env("MESHCTL", crate::support::meshctl_bin())
        .env("CANARY_LOG", log)
        .env("NO_COLOR", "1")
        .env_remove("MESHCTL_STATE_DIR")
        .env_remove("MESHCTL_TARGET")
        .output()
        .unwrap();
    let events = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        events,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CI script from the docs gates a pipeline on the rollout: exit 3 and a `rolled-back`
/// record for a failing canary, exit 0 and `promoted` once it is healthy, with the mesh's
/// status and the service's metrics in the job log. (The opt-in cluster e2e runs the same
/// script unchanged against a real API server.)
#[test]
fn the_ci_script_gates_a_pipeline_on_the_rollout() {
    let up = mesh("flaky");
    let load = Load::start(&up.upstream("front", "api"), 2);
    let log = up.dir.path().join("canary-api.ndjson");
    let flags = &[
        "--interval",
        "1s",
        "--min-requests",
        "5",
        "--timeout",
        "60s",
        "--steps",
        "50,100",
        "--failure-threshold",
        "2",
        "--max-p99",
        "10s",
    ];
    std::fs::write(up.dir.path().join("v2-fails"), "").unwrap();
    let (code, events, err) = ci_script(&up, &log, flags);
    assert_eq!(code, 3, "{err}\n{events:#?}");
    assert_eq!(kind(events.last().unwrap()), "rolled-back", "{events:#?}");
    assert!(err.contains("canary api -> v2: exit 3"), "{err}");
    assert!(
        err.contains("LATENCY_P99"),
        "stat's table in the job log: {err}"
    );

    // A fixed v2 (a new build, in a real pipeline); the next run's first check must not see
    // the failures of this one, which its window (the step so far plus one second) would.
    std::fs::remove_file(up.dir.path().join("v2-fails")).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let (code, events, err) = ci_script(&up, &log, flags);
    load.stop();
    assert_eq!(code, 0, "{err}\n{events:#?}");
    assert_eq!(kind(&events[0]), "started");
    assert_eq!(kind(events.last().unwrap()), "promoted", "{events:#?}");
    assert_eq!(weight_of(&up, "v2"), 100);
}
