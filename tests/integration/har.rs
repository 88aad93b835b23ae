//! `meshctl tap --har` and `meshctl replay` on a real mesh: curl's requests recorded as HAR
//! (validated against the HAR 1.2 schema by python3's jsonschema), replayed through the
//! caller's proxy to a pinned version, and diffed between versions; the version pin itself.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::mesh::{PATIENCE, Up, free_port, three_services, wait_until};

/// Never in the HAR file.
const SECRET: &str = "hunter2-not-for-files";
/// A credential in a query string: redacted in the request the HAR records.
const QUERY_KEY: &str = "k-in-the-query";
/// A GET as the HAR records it: the credential query parameter redacted.
const GET: &str = "/har/get?symbol=MESH&x&api_key=%3Credacted%3E";

/// A tap (`-o json`) whose stdout lines arrive on a channel.
struct Tap {
    child: Child,
    lines: Receiver<serde_json::Value>,
}

fn spawn_tap(up: &Up, args: &[&str]) -> Tap {
    let args: Vec<&str> = args.iter().copied().chain(["-o", "json"]).collect();
    let mut child = crate::observe::spawn_tap(up, &args);
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    Tap { child, lines }
}

impl Tap {
    /// Calls `poke` until the tap shows a record (it is watching), within [`PATIENCE`].
    fn wait_watching(&self, mut poke: impl FnMut()) -> Vec<serde_json::Value> {
        let start = Instant::now();
        loop {
            poke();
            if let Ok(first) = self.lines.recv_timeout(Duration::from_millis(200)) {
                return vec![first];
            }
            assert!(start.elapsed() < PATIENCE, "the tap never showed a request");
        }
    }

    /// Reads records until `done` holds for what was read, within [`PATIENCE`].
    fn read_until(
        &self,
        mut seen: Vec<serde_json::Value>,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let start = Instant::now();
        while !done(&seen) {
            assert!(
                start.elapsed() < PATIENCE,
                "the tap saw too little: {seen:#?}"
            );
            if let Ok(r) = self.lines.recv_timeout(Duration::from_millis(200)) {
                seen.push(r);
            }
        }
        seen
    }

    /// Ctrl-C, then the exit code and stderr.
    fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status.code(), err)
    }
}

/// A `req` record's path and query as one (`/x?a=1`).
fn target(r: &serde_json::Value) -> String {
    match r["query"].as_str() {
        Some(q) => format!("{}?{q}", r["path"].as_str().unwrap_or_default()),
        None => r["path"].as_str().unwrap_or_default().to_string(),
    }
}

/// The `end` record of the request whose `req` had `path` (and query), if it came.
fn ended(records: &[serde_json::Value], path: &str) -> bool {
    let ids: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["type"] == "req" && target(r) == path)
        .map(|r| &r["id"])
        .collect();
    records
        .iter()
        .any(|r| r["type"] == "end" && ids.contains(&&r["id"]))
}

/// curl with `args`: (status, body). Fails the test when curl cannot run the request.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

/// The HAR 1.2 schema's verdict on `file` (python3's jsonschema; the test script installs it).
fn validate_har(file: &Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/har-schema/validate.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        out.status.code(),
        Some(2),
        "python3's jsonschema is missing: run the project's test script (scripts/test.sh), which \
         installs it from PyPI: {said}"
    );
    assert!(out.status.success(), "not valid HAR 1.2: {said}");
}

fn replay(up: &Up, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = up
        .cmd()
        .arg("replay")
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("replay {args:?}: {e}: {err}"));
    (out.status.code(), report, err)
}

#[test]
fn tap_har_records_redacted_requests_as_valid_har_and_replay_sends_them_through_the_caller() {
    let up = Up::start(&three_services());
    let api = up.upstream("front", "api");
    let har = up.dir.path().join("api.har");
    let har_arg = har.display().to_string();
    let tap = spawn_tap(
        &up,
        &[
            "api", "--path", "/har/", "--body", "1KiB", "--har", &har_arg,
        ],
    );
    let warm = format!("http://{api}/har/warm");
    let seen = tap.wait_watching(|| {
        curl(&[&warm]);
    });
    let (status, _) = curl(&[&format!(
        "http://{api}/har/get?symbol=MESH&x&api_key={QUERY_KEY}"
    )]);
    assert_eq!(status, 200);
    let login = format!(r#"{{"user":"ann","password":"{SECRET}"}}"#);
    let (status, _) = curl(&[
        "-H",
        "content-type: application/json",
        "-H",
        &format!("authorization: Bearer {SECRET}"),
        "--data-binary",
        &login,
        &format!("http://{api}/har/login"),
    ]);
    assert_eq!(status, 200);
    let (status, _) = curl(&[&format!("http://{api}/har/gone?status=404")]);
    assert_eq!(status, 404);
    tap.read_until(seen, |r| ended(r, "/har/gone?status=404"));
    let (code, err) = tap.interrupt();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("requests to {har_arg}")), "{err}");

    // Valid HAR 1.2, owner-only, without the secret, with what curl sent.
    validate_har(&har);
    let text = std::fs::read_to_string(&har).unwrap();
    assert!(!text.contains(SECRET), "the HAR holds the secret: {text}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&har).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["log"]["version"], "1.2");
    assert_eq!(file["log"]["creator"]["name"], "meshctl");
    let entries = file["log"]["entries"].as_array().unwrap();
    let by_path = |suffix: &str| {
        entries
            .iter()
            .find(|e| e["request"]["url"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no entry for {suffix}: {entries:#?}"))
    };
    let get = by_path(GET);
    assert_eq!(get["request"]["method"], "GET");
    assert_eq!(get["request"]["httpVersion"], "HTTP/2");
    assert_eq!(get["request"]["queryString"][0]["name"], "symbol");
    assert_eq!(get["request"]["queryString"][0]["value"], "MESH");
    assert_eq!(get["response"]["status"], 200);
    assert_eq!(get["response"]["content"]["mimeType"], "application/json");
    let echoed: serde_json::Value =
        serde_json::from_str(get["response"]["content"]["text"].as_str().unwrap()).unwrap();
    // The app echoes the key (its own answer, shown as it was); the request holds none of it.
    assert_eq!(
        echoed["path"],
        format!("/har/get?symbol=MESH&x&api_key={QUERY_KEY}")
    );
    assert!(!get["request"].to_string().contains(QUERY_KEY), "{get}");
    assert_eq!(get["request"]["queryString"][2]["value"], "%3Credacted%3E");
    let hop = &get["_meshctl"];
    assert_eq!(hop["direction"], "in");
    assert_eq!(hop["service"], "api");
    assert_eq!(hop["client_id"], "spiffe://mesh.local/ns/local/sa/front");
    assert_eq!(hop["request_body"], "none");

    let post = by_path("/har/login");
    assert_eq!(post["request"]["method"], "POST");
    let sent: serde_json::Value =
        serde_json::from_str(post["request"]["postData"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"user": "ann", "password": "<redacted>"})
    );
    assert_eq!(post["request"]["postData"]["mimeType"], "application/json");
    assert_eq!(post["_meshctl"]["request_body"], "complete");
    let auth = post["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "authorization")
        .unwrap();
    assert_eq!(auth["value"], "<redacted>");
    assert_eq!(by_path("/har/gone?status=404")["response"]["status"], 404);

    // Replayed to v2 through front's proxy: v2's tap sees each one from front, body and all.
    let v2_tap = spawn_tap(&up, &["api/v2", "--path", "/har/", "--body", "1KiB"]);
    let pinned = format!("http://{api}/har/pinned");
    let seen = v2_tap.wait_watching(|| {
        // The pin reaches v2 (the split sends everything to v1), and is not passed on.
        let (status, body) = curl(&["-H", "x-meshctl-version: v2", &pinned]);
        assert_eq!(status, 200, "{body}");
        let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(echoed["version"], "v2");
        assert!(
            echoed["headers"].get("x-meshctl-version").is_none(),
            "{body}"
        );
    });
    let (code, report, err) = replay(&up, &[&har_arg, "--to", "api/v2", "--rate", "50"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["from"], "front");
    assert_eq!(report["to"], "api/v2");
    assert_eq!(report["skipped"], serde_json::json!([]));
    assert_eq!(report["replayed"], report["entries"]);
    let requests = report["requests"].as_array().unwrap();
    let replayed = |path: &str| {
        requests
            .iter()
            .find(|r| r["path"] == path)
            .unwrap_or_else(|| panic!("{path} not replayed: {report:#}"))
    };
    assert_eq!(replayed(GET)["to"]["status"], 200);
    assert_eq!(replayed("/har/gone?status=404")["to"]["status"], 404);
    let login = replayed("/har/login");
    assert_eq!(login["to"]["status"], 200);
    assert_eq!(
        login["redacted_headers"],
        serde_json::json!(["authorization"])
    );
    let records = v2_tap.read_until(seen, |r| ended(r, "/har/login"));
    let (code, err) = v2_tap.interrupt();
    assert_eq!(code, Some(0), "{err}");
    let req = records
        .iter()
        .find(|r| r["type"] == "req" && r["path"] == "/har/login")
        .unwrap();
    assert_eq!(req["client_id"], "spiffe://mesh.local/ns/local/sa/front");
    assert_eq!(req["version"], "v2");
    assert_eq!(req["body"], r#"{"user":"ann","password":"<redacted>"}"#);
    assert!(req["headers"].get("authorization").is_none(), "{req}");

    // --diff: v1 and v2 answer GETs with their own version; the same version twice is the same.
    let (code, report, err) = replay(&up, &[&har_arg, "--to", "api/v1", "--diff", "api/v2"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.is_empty(), "{err}");
    let get = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == GET)
        .unwrap();
    assert_eq!(
        get["differences"],
        serde_json::json!([{"what": "body", "name": "/version", "to": "\"v1\"", "diff": "\"v2\""}])
    );
    let login = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/har/login")
        .unwrap();
    assert!(login.get("differences").is_none(), "{login}");
    assert!(report["differing"].as_u64().unwrap() >= 1);
    let (code, report, err) = replay(&up, &[&har_arg, "--to", "api/v1", "--diff", "api/v1"]);
    assert_eq!(code, Some(0), "{err}: {report:#}");
    assert_eq!(report["differing"], 0);
    // ... and the field that differs, ignored, makes v1 and v2 the same.
    let (code, _, err) = replay(
        &up,
        &[
            &har_arg,
            "--to",
            "api/v1",
            "--diff",
            "api/v2",
            "--ignore-field",
            "/version",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // The table names each difference under the two versions.
    let out = up
        .cmd()
        .args(["replay", &har_arg, "--to", "api/v1", "--diff", "api/v2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("API/V1") && table.contains("API/V2"),
        "{table}"
    );
    assert!(table.contains("body /version"), "{table}");
    assert!(table.contains("differ"), "{table}");
}

#[test]
fn bad_input_is_refused_in_one_line_before_anything_is_sent_or_tapped() {
    let up = Up::start(&three_services());
    let dir = up.dir.path();
    let fails = |args: &[&str], code: i32, wanted: &str| {
        let out = up.cmd().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(wanted), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    // A --har path where no file can be created: exit 2 before tapping, nothing written.
    let nowhere = dir.join("no/such/dir/x.har").display().to_string();
    fails(
        &["tap", "api", "--har", &nowhere, "--duration", "30s"],
        2,
        "cannot create a file there",
    );
    let as_dir = dir.display().to_string();
    fails(&["tap", "api", "--har", &as_dir], 2, "is a directory");

    // Not HAR; not JSON; missing: exit 2 naming the file.
    std::fs::write(dir.join("not.har"), "{\"log\": {\"entries\": 3}}").unwrap();
    std::fs::write(dir.join("text.har"), "GET / HTTP/1.1").unwrap();
    for file in ["not.har", "text.har", "missing.har"] {
        fails(&["replay", file, "--to", "api"], 2, file);
    }
    let empty = r#"{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[]}}"#;
    std::fs::write(dir.join("empty.har"), empty).unwrap();
    fails(
        &["replay", "empty.har", "--to", "api/v9"],
        2,
        "service `api` has no version `v9` (versions: v1, v2)",
    );
    fails(
        &["replay", "empty.har", "--to", "nope"],
        2,
        "no service `nope`",
    );
    fails(
        &["replay", "empty.har", "--to", "api", "--diff", "quotes/v1"],
        2,
        "--diff quotes/v1: expected a version of the --to service",
    );
    fails(
        &["replay", "empty.har", "--to", "front"],
        2,
        "no service calls `front`",
    );
    fails(
        &["replay", "empty.har", "--to", "api", "--rate", "1000"],
        2,
        "--rate",
    );
    // An empty file replays nothing and says so.
    let out = up
        .cmd()
        .args(["replay", "empty.har", "--to", "api"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("replayed 0 of 0 entries through front's proxy to api"),
        "{said}"
    );

    // The pin names a version the destination lacks: 400 naming its versions.
    let api = up.upstream("front", "api");
    let (status, body) = curl(&[
        "-D",
        "-",
        "-H",
        "x-meshctl-version: v9",
        &format!("http://{api}/"),
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("x-meshctl-proxy-error: unknown version"),
        "{body}"
    );
    assert!(
        body.contains("no version `v9` of the destination (versions: v1, v2)"),
        "{body}"
    );
    // Kubernetes: not replayed there.
    fails(
        &[
            "replay",
            "empty.har",
            "--to",
            "api",
            "--target",
            "kubernetes",
        ],
        2,
        "replay sends through a local mesh's proxies",
    );

    // The plan names a caller whose proxy is gone: exit 1 naming it.
    let one = empty.replace(
        "\"entries\":[]",
        r#""entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":1,"request":{"method":"GET","url":"http://api/x","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"queryString":[],"headersSize":-1,"bodySize":0},"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":0},"cache":{},"timings":{"send":0,"wait":1,"receive":0}}]"#,
    );
    std::fs::write(dir.join("one.har"), one).unwrap();
    let plan_file = up.state().join("run/plan.json");
    let plan = std::fs::read(&plan_file).unwrap();
    let stopped = up.stop_keeping_dir();
    let kept = stopped.path().join(".meshctl/run/plan.json");
    if !kept.exists() {
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::write(&kept, plan).unwrap();
    }
    let out = crate::support::meshctl()
        .args(["replay", "one.har", "--to", "api"])
        .current_dir(stopped.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("sending to front's proxy at {api}")),
        "{err}"
    );
}

#[test]
fn the_gateway_strips_a_version_pin_from_outside() {
    let (port, v1, v2) = (free_port(), free_port(), free_port());
    let yaml = format!(
        "services:
  api:
    protocol: http
    versions:
      v1: {{ port: {v1}, command: [python3, echo.py, \"{v1}\"] }}
      v2: {{ port: {v2}, command: [python3, echo.py, \"{v2}\"] }}
gateway:
  listen: 127.0.0.1:{port}
  routes:
    - {{ name: open, service: api }}
"
    );
    let _up = Up::start(&yaml);
    for app in [v1, v2] {
        wait_until("the apps listen", || {
            std::net::TcpStream::connect(("127.0.0.1", app)).is_ok()
        });
    }
    let url = format!("http://127.0.0.1:{port}/");
    for pin in ["v2", "v9"] {
        for _ in 0..5 {
            let (status, body) = curl(&["-H", &format!("x-meshctl-version: {pin}"), &url]);
            assert_eq!(status, 200, "{body}");
            let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(echoed["version"], "v1", "{body}");
            assert!(
                echoed["headers"].get("x-meshctl-version").is_none(),
                "{body}"
            );
        }
    }
}
