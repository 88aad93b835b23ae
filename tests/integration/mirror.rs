//! Traffic mirroring end to end on a real local mesh: `front`'s proxy calls `api` (v1 takes
//! every real request; v2 receives the copies), both recording apps. A mesh.yaml
//! `policy.mirror`, a live `meshctl canary mirror` with its expiry and `--off`, the real
//! answer never waiting for a mirror target that does not answer, the comparison counted in
//! `canary diff` (and its exit 3), `canary start --gate-mirror` refusing the first step, and
//! bad mirrors refused with their location.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mesh::{PATIENCE, Up, admin_json, assert_up_rejects, curl, free_port, wait_until};

/// `mirror_app.py PORT MODE`: records every request (`GET /seen` lists them: path, method,
/// `x-meshctl-mirror`, body, and whether it was answered) and answers 200 `MODE PATH`. MODE
/// `differs`: 500 for paths under /bad; `stuck`: paths under /stuck are answered only once
/// the file `release` exists in the working directory.
const MIRROR_APP_PY: &str = python_app!(
    r#"
import json, os, threading, time
mode = sys.argv[2]
seen = []
lock = threading.Lock()
class H(App):
    def serve_any(self):
        if self.path == "/seen":
            with lock:
                body = json.dumps(seen).encode()
            return self.answer(200, body, "application/json")
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        entry = {"path": self.path, "method": self.command,
                 "mirror": self.headers.get("x-meshctl-mirror"),
                 "body": body.decode(), "answered": False}
        with lock:
            seen.append(entry)
        if mode == "stuck" and self.path.startswith("/stuck"):
            while not os.path.exists("release"):
                time.sleep(0.05)
        status = 500 if mode == "differs" and self.path.startswith("/bad") else 200
        with lock:
            entry["answered"] = True
        self.answer(status, ("%s %s" % (mode, self.path)).encode())
    do_GET = serve_any
    do_POST = serve_any
serve(H)
"#
);

/// The mesh and its apps' ports.
struct Mesh {
    up: Up,
    v1: u16,
    v2: u16,
}

/// `front` (its proxy only) calls `api`: v1 (`same`) and v2 in `v2_mode`, with `policy`.
fn start(v2_mode: &str, policy: &str) -> Mesh {
    let (front, v1, v2) = (free_port(), free_port(), free_port());
    let up = Up::start_with(
        &format!(
            "services:
  front:
    port: {front}
    upstreams: [api]
  api:
    protocol: http
    versions:
      v1: {{ port: {v1}, command: [\"python3\", \"mirror_app.py\", \"{v1}\", \"same\"] }}
      v2: {{ port: {v2}, command: [\"python3\", \"mirror_app.py\", \"{v2}\", \"{v2_mode}\"] }}
{policy}"
        ),
        &[("mirror_app.py", MIRROR_APP_PY)],
    );
    let m = Mesh { up, v1, v2 };
    wait_until("both api apps answer", || {
        m.seen(m.v1).is_array() && m.seen(m.v2).is_array()
    });
    m
}

impl Mesh {
    /// What an app recorded, asked directly (not through the mesh); `Null` until it answers.
    fn seen(&self, port: u16) -> Value {
        let out = Command::new("curl")
            .args(["-s", "-m", "5", &format!("http://127.0.0.1:{port}/seen")])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// The recorded requests of an app under `prefix`.
    fn seen_under(&self, port: u16, prefix: &str) -> Vec<Value> {
        let seen = self.seen(port);
        let all = seen.as_array().cloned().unwrap_or_default();
        all.into_iter()
            .filter(|e| e["path"].as_str().unwrap_or("").starts_with(prefix))
            .collect()
    }

    /// api through front's proxy.
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.up.upstream("front", "api"))
    }

    /// `meshctl canary diff api -o json` and its exit code.
    fn diff(&self, extra: &[&str]) -> (Value, i32, String) {
        let out = self
            .up
            .cmd()
            .args(["canary", "diff", "api", "-o", "json"])
            .args(extra)
            .output()
            .unwrap();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (json, out.status.code().unwrap_or(-1), err)
    }

    /// front's proxy admin `/metrics`.
    fn metrics(&self) -> String {
        let admin = self.up.proxy_field("front", "admin");
        curl(&[format!("http://{admin}/metrics")], &[])
    }
}

fn statuses(urls: &[String], extra: &[&str]) -> Vec<(u16, String)> {
    let out = Command::new("curl")
        .args(["-s", "-m", "20", "-w", "\\n@@%{http_code}\\n"])
        .args(extra)
        .args(urls)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut answers = Vec::new();
    let mut body = String::new();
    for line in text.lines() {
        match line.strip_prefix("@@") {
            Some(code) => answers.push((code.parse().unwrap(), std::mem::take(&mut body))),
            None => body.push_str(line),
        }
    }
    assert_eq!(answers.len(), urls.len(), "{text}");
    answers
}

fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_mesh_yaml_mirror_copies_every_request_to_v2_and_counts_matches_and_mismatches() {
    let m = start(
        "differs",
        "    policy:\n      mirror: { version: v2, percent: 100 }\n",
    );
    let mut urls: Vec<String> = (0..10).map(|i| m.url(&format!("/ok/{i}"))).collect();
    urls.extend((0..5).map(|i| m.url(&format!("/bad/{i}"))));
    // Every real answer is v1's, unchanged.
    for (i, (status, body)) in statuses(&urls, &[]).into_iter().enumerate() {
        assert_eq!(status, 200, "{i}: {body}");
        assert!(body.starts_with("same /"), "{body}");
    }
    let posted = statuses(&[m.url("/ok/post")], &["-d", "hello=mirror"]);
    assert_eq!(posted[0].0, 200);

    wait_until("v2 received the 16 copies", || {
        m.seen_under(m.v2, "/").len() == 16
    });
    let copies = m.seen_under(m.v2, "/");
    assert!(copies.iter().all(|c| c["mirror"] == "1"), "{copies:?}");
    let post = copies.iter().find(|c| c["method"] == "POST").unwrap();
    assert_eq!(post["body"], "hello=mirror", "the copy carries the body");
    let real = m.seen_under(m.v1, "/");
    assert_eq!(real.len(), 16, "{real:?}");
    assert!(real.iter().all(|r| r["mirror"].is_null()), "{real:?}");

    // v2 answered /bad with 500 where v1 answered 200: 5 mismatches, 11 matches.
    wait_until("the proxy compared every copy", || {
        let (d, code, _) = m.diff(&[]);
        code == 0 && d["total"]["match"] == 11 && d["total"]["mismatch"] == 5
    });
    let (d, _, _) = m.diff(&[]);
    assert_eq!(d["service"], "api");
    assert_eq!(d["mirror"]["version"], "v2");
    assert_eq!(d["mirror"]["source"], "policy.mirror");
    assert_eq!(d["compared"], 16);
    assert_eq!(d["mismatch_percent"], 31.25);
    assert_eq!(d["routes"][0]["route"], "");
    assert_eq!(d["proxies_read"], 1);
    assert!(d["verdict"].is_null());

    let (d, code, err) = m.diff(&["--max-mismatch", "40%"]);
    assert_eq!((code, d["verdict"].as_str()), (0, Some("pass")), "{err}");
    let (d, code, err) = m.diff(&["--max-mismatch", "10%"]);
    assert_eq!((code, d["verdict"].as_str()), (3, Some("fail")), "{err}");
    assert!(
        err.contains("31.25% of 16 compared copies mismatched"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let (d, code, err) = m.diff(&["--max-mismatch", "10%", "--min-compared", "100"]);
    assert_eq!((code, d["verdict"].as_str()), (0, Some("too-few")), "{err}");
    let table = m.up.cmd().args(["canary", "diff", "api"]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("TOTAL (policy.mirror: 100% to v2)"),
        "{table}"
    );

    // Copies are not the caller's traffic: its outbound requests are the 16 real ones.
    let metrics = m.metrics();
    assert_eq!(
        counter(
            &metrics,
            "meshctl_requests_total{direction=\"outbound\",status_class=\"2xx\",tls=\"true\"}"
        ),
        16,
        "{metrics}"
    );
    assert_eq!(
        counter(
            &metrics,
            "meshctl_mirror_requests_total{service=\"api\",route=\"\",outcome=\"mismatch\"}"
        ),
        5
    );
}

#[test]
fn a_mirror_target_that_never_answers_does_not_hold_the_real_answer() {
    let m = start(
        "stuck",
        "    policy:\n      mirror: { version: v2, percent: 100 }\n",
    );
    // v2 holds /stuck until `release` exists: a real answer that waited for its copy could
    // never come.
    let answers = statuses(&[m.url("/stuck/1")], &[]);
    assert_eq!(answers[0], (200, "same /stuck/1".to_string()));
    wait_until("v2 received the copy", || {
        !m.seen_under(m.v2, "/stuck/1").is_empty()
    });
    assert_eq!(m.seen_under(m.v2, "/stuck/1")[0]["answered"], false);
    // Given up after the mirror timeout: counted as an error, not a mismatch.
    wait_until("the copy counted as an error", || {
        m.diff(&[]).0["total"]["error"] == 1
    });
    assert_eq!(m.diff(&[]).0["total"]["mismatch"], 0);
    std::fs::write(m.up.dir.path().join("release"), "").unwrap();
}

#[test]
fn canary_mirror_sets_a_live_mirror_that_ends_at_its_expiry_or_with_off() {
    let m = start("same", "");
    let mirror = |args: &[&str]| {
        let out =
            m.up.cmd()
                .args(["canary", "mirror", "api"])
                .args(args)
                .output()
                .unwrap();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (json, out.status.code().unwrap_or(-1), err)
    };
    // Refused, with nothing changed.
    let (_, code, err) = mirror(&["--to", "v9", "--percent", "10"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no version `v9` (its versions: v1, v2)"),
        "{err}"
    );
    let (_, code, err) = mirror(&["--to", "v2", "--percent", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("percent must be above 0"), "{err}");
    let (_, code, err) = mirror(&["--to", "v2"]);
    assert_eq!(code, 2, "{err}");
    let (_, code, err) = mirror(&["--off", "--to", "v2"]);
    assert_eq!(code, 2, "{err}");
    assert!(!m.up.state().join("mirrors.json").exists());

    let (set, code, err) = mirror(&[
        "--to",
        "v2",
        "--percent",
        "100",
        "--for",
        "4s",
        "--wait",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(set["version"], "v2");
    assert_eq!(set["percent"], 100.0);
    assert_eq!(set["acknowledged"], true);
    assert!(set["expires_at"].is_string(), "{set}");
    let saved = std::fs::read_to_string(m.up.state().join("mirrors.json")).unwrap();
    assert!(saved.contains("\"version\": \"v2\""), "{saved}");
    let admin = m.up.proxy_field("front", "admin");
    let live = &admin_json(&admin, "/config")["outbound"][0]["policy"]["mirror"]["live"];
    assert_eq!(live["version"], "v2", "{live}");

    statuses(&[m.url("/live/1"), m.url("/live/2")], &[]);
    wait_until("v2 received both copies", || {
        m.seen_under(m.v2, "/live/").len() == 2
    });
    assert_eq!(m.diff(&[]).0["mirror"]["source"], "live");

    // At its expiry each proxy stops by itself.
    wait_until("the live mirror expired on front's proxy", || {
        admin_json(&admin, "/config")["outbound"][0]["policy"]["mirror"]["live"].is_null()
    });
    statuses(&[m.url("/after/1"), m.url("/after/2")], &[]);
    // A marker copied under a new mirror: copies of the requests before it left before it.
    let (_, code, err) = mirror(&["--to", "v2", "--percent", "100", "--for", "0", "--wait"]);
    assert_eq!(code, 0, "{err}");
    statuses(&[m.url("/marker")], &[]);
    wait_until("v2 received the marker's copy", || {
        !m.seen_under(m.v2, "/marker").is_empty()
    });
    assert!(
        m.seen_under(m.v2, "/after/").is_empty(),
        "copied after expiry"
    );
    assert_eq!(m.seen_under(m.v1, "/after/").len(), 2);

    let (off, code, err) = mirror(&["--off", "--wait", "-o", "json"]);
    assert_eq!((code, off["cleared"].as_bool()), (0, Some(true)), "{err}");
    let (off, code, err) = mirror(&["--off", "-o", "json"]);
    assert_eq!((code, off["cleared"].as_bool()), (0, Some(false)), "{err}");
    statuses(&[m.url("/off/1")], &[]);
    statuses(&[m.url("/marker2")], &[]);
    assert_eq!(m.seen_under(m.v1, "/marker2").len(), 1);
    assert!(m.seen_under(m.v2, "/off/").is_empty());
}

#[test]
fn gate_mirror_refuses_the_first_step_while_copies_mismatch() {
    let m = start("differs", "");
    let out =
        m.up.cmd()
            .args([
                "canary",
                "mirror",
                "api",
                "--to",
                "v2",
                "--percent",
                "100",
                "--wait",
            ])
            .output()
            .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Load: every request a mismatch (v2 answers /bad with 500), bounded in count and time.
    let stop = Arc::new(AtomicBool::new(false));
    let url = m.url("/bad/load");
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) || start.elapsed() > PATIENCE * 2 {
                    break;
                }
                let _ = Command::new("curl").args(["-s", "-m", "5", &url]).output();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let out =
        m.up.cmd()
            .args([
                "canary",
                "start",
                "api",
                "--to",
                "v2",
                "--gate-mirror",
                "--max-mismatch",
                "1%",
                "--interval",
                "1s",
                "--min-requests",
                "5",
                "--failure-threshold",
                "2",
                "--timeout",
                "60s",
                "-o",
                "json",
            ])
            .output()
            .unwrap();
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "started");
    assert_eq!(events[0]["max_mismatch"], 0.01);
    assert!(
        events.iter().all(|e| e["event"] != "step"),
        "took a step: {text}"
    );
    let fails: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "mirror-check" && e["decision"] == "fail")
        .collect();
    assert_eq!(fails.len(), 2, "{text}");
    let last = events.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["weight"].as_u64()),
        (Some("rolled-back"), Some(0))
    );
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("failed mirror checks"),
        "{last}"
    );
}

#[test]
fn bad_mirrors_in_mesh_yaml_are_refused_with_their_location() {
    let yaml = |mirror: &str| {
        format!(
            "services:
  api:
    versions:
      v1: {{ port: {}, command: [\"true\"] }}
      v2: {{ port: {}, command: [\"true\"] }}
    policy:
      mirror: {mirror}
",
            free_port(),
            free_port()
        )
    };
    assert_up_rejects(
        &yaml("{ version: v3, percent: 10 }"),
        "mesh.yaml:7:26: services.api.policy.mirror.version: no version `v3` to mirror to (its versions: v1, v2)",
    );
    assert_up_rejects(
        &yaml("{ version: v2, percent: 150 }"),
        "mesh.yaml:7:39: services.api.policy.mirror.percent: percent `150` is not a number from 0 to 100",
    );
    assert_up_rejects(
        &yaml("{ version: v2 }"),
        "mesh.yaml:7:7: services.api.policy.mirror: give `percent`",
    );
}
