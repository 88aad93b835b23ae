//! `meshctl up` end to end: real control plane, real proxies, real apps (Python HTTP servers
//! and the demo's gRPC server), real mTLS between them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Mesh, meshctl};

/// An HTTP app that answers every GET with JSON: its service, version and request headers.
/// `?status=N` picks the status, `?delay_ms=N` waits first (for the observability tests).
pub(crate) const ECHO_PY: &str = python_app!(
    r#"
import json, os, time, urllib.parse
class H(App):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        time.sleep(int(query.get("delay_ms", ["0"])[0]) / 1000)
        body = json.dumps({
            "service": os.environ.get("MESH_SERVICE", ""),
            "version": os.environ.get("MESH_VERSION", ""),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "path": self.path,
        }).encode()
        self.answer(int(query.get("status", ["200"])[0]), body, "application/json")
    def do_POST(self):
        # Echoes a JSON request body back as an object (other bodies only by length).
        length = int(self.headers.get("content-length", "0") or "0")
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("transfer-encoding", "") == "chunked":
            while True:
                size = int(self.rfile.readline().strip(), 16)
                raw += self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    break
        echoed = json.loads(raw) if self.headers.get("content-type") == "application/json" else None
        body = json.dumps({
            "service": os.environ.get("MESH_SERVICE", ""),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "json": echoed,
            "length": len(raw),
        }).encode()
        self.answer(200, body, "application/json")
serve(H)
"#
);

/// GET `path` from an admin listener, parsed as JSON.
pub(crate) fn admin_json(admin: &str, path: &str) -> serde_json::Value {
    let body = curl(&[format!("http://{admin}{path}")], &[]);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} from {admin}: {e}: {body}"))
}

/// How long anything here may take to become true.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A free port for a test app, below Linux's ephemeral range (32768-60999): `meshctl up`
/// gives its proxies ephemeral ports (bind :0), so an app port chosen here can never be
/// handed to a proxy of another mesh running in a parallel test between our check and the
/// app's bind. Each port is handed out once per test process.
pub(crate) fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 400) as u16 * 25;
    loop {
        let port = base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert!(port < 32_768, "ran out of test app ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A mesh started with `meshctl up` in the foreground; SIGTERM + wait on drop.
pub(crate) struct Up {
    pub(crate) dir: tempfile::TempDir,
    child: Child,
}

impl Up {
    /// Writes `mesh.yaml` (and echo.py) into a temp dir and runs `meshctl up` there.
    pub(crate) fn start(yaml: &str) -> Up {
        Up::start_with(yaml, &[])
    }

    /// Like [`Up::start`], with more files (name, content) beside mesh.yaml.
    pub(crate) fn start_with(yaml: &str, files: &[(&str, &str)]) -> Up {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("echo.py"), ECHO_PY).unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        std::fs::write(dir.path().join("mesh.yaml"), yaml).unwrap();
        Up::run(dir, &["up"])
    }

    pub(crate) fn run(dir: tempfile::TempDir, args: &[&str]) -> Up {
        let mut cmd = Command::new(crate::support::meshctl_bin());
        for name in crate::support::span_export_vars() {
            cmd.env_remove(name);
        }
        let child = cmd
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("MESHCTL_STATE_DIR")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("up.err")).unwrap())
            .spawn()
            .unwrap();
        let up = Up { dir, child };
        up.wait_ready();
        up
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.dir.path().join(".meshctl")
    }

    fn wait_ready(&self) {
        let ready = self.state().join("run/ready.json");
        let start = Instant::now();
        while !ready.exists() {
            let err = std::fs::read_to_string(self.dir.path().join("up.err")).unwrap_or_default();
            assert!(start.elapsed() < PATIENCE, "mesh not ready: {err}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn plan(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.state().join("run/plan.json")).unwrap()).unwrap()
    }

    /// `instance`'s proxy in the plan.
    pub(crate) fn proxy(&self, instance: &str) -> serde_json::Value {
        let plan = self.plan();
        let proxies = plan["proxies"].as_array().unwrap();
        proxies
            .iter()
            .find(|p| p["name"] == instance)
            .unwrap()
            .clone()
    }

    /// The address of `upstream`'s listener on `instance`'s proxy.
    pub(crate) fn upstream(&self, instance: &str, upstream: &str) -> String {
        let p = self.proxy(instance);
        let u = p["upstreams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["service"] == upstream)
            .unwrap()
            .clone();
        u["listen"].as_str().unwrap().to_string()
    }

    pub(crate) fn proxy_field(&self, instance: &str, field: &str) -> String {
        self.proxy(instance)[field].as_str().unwrap().to_string()
    }

    pub(crate) fn cmd(&self) -> assert_cmd::Command {
        let mut c = meshctl();
        c.current_dir(self.dir.path());
        c
    }

    /// Stops the mesh and hands back its directory, state and all.
    pub(crate) fn stop_keeping_dir(mut self) -> tempfile::TempDir {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        assert_eq!(self.stop(), Some(0));
        dir
    }

    /// SIGTERM, then the exit code (the mesh drains first).
    pub(crate) fn stop(mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(start.elapsed() < PATIENCE, "meshctl up did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// `curl` each URL once (one keep-alive connection); returns the bodies concatenated.
pub(crate) fn curl(urls: &[String], extra: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--fail-with-body", "-m", "20"])
        .args(extra)
        .args(urls)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// front (Python http.server), api v1 + v2 (echo.py) and quotes (the demo gRPC server).
pub(crate) fn three_services() -> String {
    let exe = crate::support::meshctl_bin();
    let (front, v1, v2, quotes) = (free_port(), free_port(), free_port(), free_port());
    format!(
        "services:
  front:
    port: {front}
    protocol: http
    command: [\"python3\", \"-m\", \"http.server\", \"--bind\", \"127.0.0.1\", \"{front}\"]
    upstreams: [api, quotes]
  api:
    protocol: http
    versions:
      v1: {{ port: {v1}, command: [\"python3\", \"echo.py\", \"{v1}\"] }}
      v2: {{ port: {v2}, command: [\"python3\", \"echo.py\", \"{v2}\"] }}
  quotes:
    port: {quotes}
    protocol: grpc
    command: [\"{exe}\", \"demo-app\", \"quotes\", \"--listen\", \"127.0.0.1:{quotes}\"]
",
        exe = exe.display()
    )
}

#[test]
fn calls_cross_both_proxies_over_mtls_and_carry_the_verified_client_identity() {
    let up = Up::start(&three_services());
    let api = up.upstream("front", "api");
    // A forged identity header from the caller is replaced by the verified one.
    let body = curl(
        &[format!("http://{api}/hello")],
        &["-H", "x-meshctl-client-id: spiffe://evil/ns/x/sa/y"],
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["service"], "api");
    assert_eq!(
        json["headers"]["x-meshctl-client-id"],
        "spiffe://mesh.local/ns/local/sa/front"
    );

    // Through the HTTP_PROXY listener, by service name.
    let http_proxy = up.proxy_field("front", "http_proxy");
    let body = curl(
        &["http://api/via-proxy".to_string()],
        &["-x", &format!("http://{http_proxy}")],
    );
    // The echo app's answer, not a proxy's error: the request finished during the drain.
    assert!(body.contains("\"headers\""), "{body}");

    // gRPC to quotes through front's proxy (h2c in, mTLS h2 between proxies).
    let quotes = up.upstream("front", "quotes");
    let quote = get_quote(&quotes, "MESH").unwrap();
    assert_eq!(quote.symbol, "MESH");

    // The inbound proxy's handshake metrics show mTLS was used.
    let admin = up.proxy_field("api.v1", "admin");
    let metrics = curl(&[format!("http://{admin}/metrics")], &[]);
    assert!(
        metrics.contains("direction=\"inbound\",status_class=\"2xx\",tls=\"true\""),
        "{metrics}"
    );

    let status = up.cmd().arg("status").assert().success();
    let table = String::from_utf8_lossy(&status.get_output().stdout).into_owned();
    assert!(table.contains("CERT"), "{table}");
    // Every instance's leaf was just issued (24h by default): `23h59m left` or `1d0h left`.
    let fresh = |l: &&str| l.contains("23h59m left") || l.contains("1d0h left");
    assert_eq!(table.lines().skip(1).filter(fresh).count(), 4, "{table}");
    assert!(!table.contains("HTTP_PROXY"), "{table}");

    // -o json has every listener of the plan; -o wide shows them (the plain table does not).
    let out = up.cmd().args(["status", "-o", "json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let front = json["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "front")
        .unwrap()
        .clone();
    for field in ["inbound", "admin", "http_proxy", "tap"] {
        assert_eq!(front[field], up.proxy("front")[field], "{field}: {front:#}");
    }
    assert_eq!(front["upstreams"]["api"], up.upstream("front", "api"));
    let wide = up.cmd().args(["status", "-o", "wide"]).output().unwrap();
    let wide = String::from_utf8_lossy(&wide.stdout).into_owned();
    assert!(
        wide.contains("HTTP_PROXY") && wide.contains("UPSTREAMS"),
        "{wide}"
    );
    let http_proxy = front["http_proxy"].as_str().unwrap();
    assert!(wide.contains(http_proxy), "{wide}");
    // fault list -o wide names the callers whose proxies apply a service's faults.
    up.cmd()
        .args(["fault", "inject", "api", "--abort", "503@1%", "--for", "1m"])
        .assert()
        .success();
    let list = up
        .cmd()
        .args(["fault", "list", "-o", "wide"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let row = list
        .lines()
        .find(|l| l.contains("live"))
        .unwrap_or_default();
    assert!(
        list.contains("CALLERS") && row.trim_end().ends_with("front"),
        "{list}"
    );
    assert_eq!(up.stop(), Some(0));
}

#[test]
fn canary_shift_moves_the_observed_split() {
    let up = Up::start(&three_services());
    let api = up.upstream("front", "api");
    let urls: Vec<String> = (0..1000).map(|i| format!("http://{api}/r{i}")).collect();
    let count_v2 = |n: usize| curl(&urls[..n], &[]).matches("\"version\": \"v2\"").count();

    assert_eq!(count_v2(200), 0, "default split: everything on v1");
    up.cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "20", "--wait",
        ])
        .assert()
        .success();
    // The caller's proxy shows the split it applies (after `--wait`, it acknowledged it).
    let config = admin_json(&up.proxy_field("front", "admin"), "/config");
    let api_out = config["outbound"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["service"] == "api")
        .unwrap_or_else(|| panic!("no api in {config:#}"));
    assert_eq!(api_out["listen"], api.as_str());
    let weights: Vec<_> = api_out["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["version"].as_str().unwrap(),
                b["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(weights, [("v1", 80), ("v2", 20)], "{config:#}");
    assert!(
        config["config_version"].as_u64().unwrap() >= 1,
        "{config:#}"
    );
    let v2 = count_v2(1000);
    // Binomial(1000, 0.2): sd ≈ 12.6; ±5 sd.
    assert!(
        (137..=263).contains(&v2),
        "v2 got {v2} of 1000 at weight 20"
    );
    up.cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "100", "--wait",
        ])
        .assert()
        .success();
    assert_eq!(count_v2(200), 200);
    up.cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "0", "--wait",
        ])
        .assert()
        .success();
    assert_eq!(count_v2(200), 0);

    let status = up
        .cmd()
        .args(["canary", "status", "api", "-o", "json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    assert_eq!(json["splits"][0]["weights"]["v1"], 100);

    // Bad input changes nothing.
    for (args, code) in [
        (&["--to", "v2", "--weight", "101"][..], 2),
        (&["--to", "v2", "--weight", "-1"][..], 2),
        (&["--to", "v2", "--weight", "abc"][..], 2),
        (&["--to", "v9", "--weight", "10"][..], 2),
    ] {
        up.cmd()
            .args(["canary", "shift", "api"])
            .args(args)
            .assert()
            .code(code);
    }
    up.cmd()
        .args(["canary", "shift", "nope", "--to", "v2", "--weight", "5"])
        .assert()
        .code(2);
    assert_eq!(count_v2(100), 0);

    // A caller's proxy that never acknowledges: --wait times out with exit 4 naming it.
    let front = Pid::from_raw(logged_pid(&up.state().join("logs/proxy-front.log")));
    kill(front, Signal::SIGSTOP).unwrap();
    let out = up
        .cmd()
        .args([
            "canary",
            "shift",
            "api",
            "--to",
            "v2",
            "--weight",
            "50",
            "--wait",
            "--timeout",
            "2s",
        ])
        .assert()
        .code(4);
    kill(front, Signal::SIGCONT).unwrap();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("front") && err.contains("timed out"), "{err}");
}

/// The pid the supervisor logged last for a process (`--- meshctl …: started, pid N`).
pub(crate) fn logged_pid(log: &Path) -> i32 {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .rev()
        .find_map(|l| l.split("pid ").nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn traffic_survives_the_control_plane_dying_and_proxies_reconnect() {
    let up = Up::start(&three_services());
    let api = up.upstream("front", "api");
    curl(&[format!("http://{api}/warm")], &[]);

    let pid = logged_pid(&up.state().join("logs/control-plane.log"));
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();

    // A destination in use, and one first called after the kill: no request fails.
    let urls: Vec<String> = (0..300).map(|i| format!("http://{api}/k{i}")).collect();
    let bodies = curl(&urls, &[]);
    assert_eq!(bodies.matches("\"service\": \"api\"").count(), 300);
    let quotes = up.upstream("front", "quotes");
    get_quote(&quotes, "AFTER").unwrap();

    // The supervisor restarts the control plane; every proxy reconnects and is current.
    let start = Instant::now();
    loop {
        if up.cmd().arg("status").output().unwrap().status.success() {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "proxies did not reconcile with the restarted control plane"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    up.cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "100", "--wait",
        ])
        .assert()
        .success();
    assert!(curl(&[format!("http://{api}/after")], &[]).contains("\"version\": \"v2\""));
}

/// Found by the soak script: SIGTERM stopped the control plane's accepting but its graceful
/// shutdown waited for the proxies' configuration watches, which never end — so it never
/// exited, and the supervisor never restarted it.
#[test]
fn a_terminated_control_plane_exits_and_the_supervisor_restarts_it() {
    let (v1, v2) = (free_port(), free_port());
    let up = Up::start(&format!(
        "services:\n  api:\n    versions:\n      v1: {{ port: {v1} }}\n      v2: {{ port: {v2} }}\n"
    ));
    up.cmd().arg("status").assert().success();
    let pid = control_plane_pid(&up);
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    wait_until("a new control plane answering", || {
        control_plane_pid(&up) != pid && up.cmd().arg("status").output().unwrap().status.success()
    });
    up.cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "10", "--wait",
        ])
        .assert()
        .success();
    up.stop();
}

/// Polls `ready` every 50 ms until it holds; fails with `what` after [`PATIENCE`].
pub(crate) fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn dir_with(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mesh.yaml"), yaml).unwrap();
    dir
}

/// `meshctl up` refuses `yaml`: exit 2, one line on stderr containing `needle`, nothing
/// started.
pub(crate) fn assert_up_rejects(yaml: &str, needle: &str) {
    let dir = dir_with(yaml);
    let out = meshctl().arg("up").current_dir(dir.path()).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    nothing_started(dir.path());
}

/// One `Quotes.GetQuote` call (the demo's gRPC service) to `addr` over h2c.
pub(crate) fn get_quote(
    addr: &str,
    symbol: &str,
) -> Result<meshctl::api::proto::demo::Quote, tonic::Status> {
    use meshctl::api::proto::demo::{QuoteRequest, quotes_client::QuotesClient};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = QuotesClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        client
            .get_quote(QuoteRequest {
                symbol: symbol.into(),
            })
            .await
            .map(|r| r.into_inner())
    })
}

pub(crate) fn nothing_started(dir: &Path) {
    assert!(
        !dir.join(".meshctl/run/plan.json").exists(),
        "a plan was left behind"
    );
    assert!(!dir.join(".meshctl/run/up.pid").exists());
}

#[test]
fn bad_mesh_files_are_rejected_with_their_location_and_start_nothing() {
    let cases = [
        (
            "services:\n  web:\n    port: 8080\n    prot: http\n",
            "mesh.yaml:4:5",
        ),
        ("services:\n  web:\n    port: [\n", "mesh.yaml:"),
        (
            "services:\n  web:\n    port: 18080\n    upstreams: [nope]\n",
            "unknown service",
        ),
        (
            "services:\n  web:\n    port: 18080\n  web:\n    port: 18081\n",
            "duplicate",
        ),
        (
            "otlp_endpoint: localhost:4317\nservices:\n  web:\n    port: 18080\n",
            "mesh.yaml:1:16: otlp_endpoint: OTLP endpoint `localhost:4317`",
        ),
    ];
    for (yaml, needle) in cases {
        assert_up_rejects(yaml, needle);
    }
}

#[test]
fn oversized_and_deeply_nested_mesh_files_are_refused_before_parsing() {
    // 200 KB of nested flow sequences: refused at the 33rd `[`, not after a long parse.
    let deep = format!("services:\n  web:\n    port: {}\n", "[".repeat(200_000));
    assert_up_rejects(&deep, "mesh.yaml:3:43: more than 32 nested");
    let indented: String = (0..200)
        .map(|depth| format!("{}k{depth}:\n", " ".repeat(depth * 2)))
        .collect();
    assert_up_rejects(&indented, "nested deeper than 256 columns");
    // 5 MiB: refused by its size, unread.
    let padding = format!("# {}\n", "x".repeat(1022)).repeat(5 * 1024);
    let big = format!("{padding}services:\n  web:\n    port: 18080\n");
    assert_up_rejects(&big, "is more than a mesh file may hold (4194304 bytes)");
}

#[test]
fn a_port_in_use_is_named_and_nothing_starts() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = dir_with(&format!(
        "services:\n  web:\n    port: {port}\n    command: [\"sleep\", \"60\"]\n"
    ));
    meshctl()
        .arg("up")
        .current_dir(dir.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!(
            "port {port} (services.web.port) is already in use"
        )));
    nothing_started(dir.path());
}

#[test]
fn a_proxy_that_exits_during_start_up_fails_up_at_once_naming_why() {
    let dir = dir_with("services:\n  web:\n    port: 18555\n");
    let out = meshctl()
        .arg("up")
        .current_dir(dir.path())
        // The proxies inherit it and refuse it; `up` itself does not read it.
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "::bogus")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the proxy of web exited during start-up (exit status: 2)")
            && stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{stderr}"
    );
    nothing_started(dir.path());
}

#[test]
fn a_signal_during_start_up_stops_everything_up_started() {
    // api's app never listens, so `up` waits for it (up to the readiness timeout) with the
    // control plane and every proxy running.
    let (web, api) = (free_port(), free_port());
    let dir = dir_with(&format!(
        "services:\n  web:\n    port: {web}\n    upstreams: [api]\n  api:\n    port: {api}\n    command: [\"sleep\", \"60\"]\n"
    ));
    let mut up = std::process::Command::new(crate::support::meshctl_bin())
        .arg("up")
        .current_dir(dir.path())
        .env_remove("MESHCTL_STATE_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = dir.path().join(".meshctl/logs");
    let names = ["control-plane", "proxy-web", "proxy-api", "api"];
    wait_until("everything started", || {
        names.iter().all(|n| {
            std::fs::read_to_string(logs.join(format!("{n}.log"))).is_ok_and(|t| t.contains("pid "))
        })
    });
    let pids: Vec<i32> = names
        .iter()
        .map(|n| logged_pid(&logs.join(format!("{n}.log"))))
        .collect();
    kill(Pid::from_raw(up.id() as i32), Signal::SIGTERM).unwrap();
    let status = up.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(up.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted during start-up"), "{stderr}");
    wait_until("every process up started is gone", || {
        pids.iter()
            .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists() || is_zombie(*p))
    });
    nothing_started(dir.path());
}

/// Whether `pid` has exited and waits to be reaped.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn proxy_workers_sets_a_proxys_worker_threads_and_bad_counts_are_refused() {
    let (web, api) = (free_port(), free_port());
    let up = Up::start(&format!(
        "services:\n  web:\n    port: {web}\n    upstreams: [api]\n    proxy_workers: 3\n  api:\n    port: {api}\n    protocol: http\n    command: [\"python3\", \"echo.py\", \"{api}\"]\n"
    ));
    let pid = logged_pid(&up.state().join("logs/proxy-web.log"));
    let argv = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(argv.contains("\0--workers\u{0}3\0"), "{argv:?}");
    let api_pid = logged_pid(&up.state().join("logs/proxy-api.log"));
    let api_argv = std::fs::read_to_string(format!("/proc/{api_pid}/cmdline")).unwrap();
    assert!(!api_argv.contains("--workers"), "{api_argv:?}");
    let body = curl(
        &[format!("http://{}/hello", up.upstream("web", "api"))],
        &[],
    );
    assert!(body.contains("\"path\": \"/hello\""), "{body}");
    drop(up);
    for bad in ["0", "129"] {
        assert_up_rejects(
            &format!("services:\n  web:\n    port: {web}\n    proxy_workers: {bad}\n"),
            &format!(
                "mesh.yaml:4:20: services.web.proxy_workers: {bad} worker threads: give 1 to 128"
            ),
        );
    }
}

#[test]
fn commands_need_a_running_mesh() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["status"][..],
        &["canary", "shift", "api", "--to", "v2", "--weight", "5"][..],
    ] {
        meshctl()
            .args(args)
            .current_dir(dir.path())
            // No ~/.kube/config either: else the target would be that cluster.
            .env("HOME", dir.path())
            .assert()
            .code(1)
            .stderr(predicates::str::contains("no mesh is running"));
    }
    // Teardown is idempotent (CI runs `down` whatever happened before).
    meshctl()
        .arg("down")
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .assert()
        .success()
        .stdout(predicates::str::contains("nothing to stop"));
}

/// The target is never switched: an explicit Kubernetes target does not fall back on the
/// local mesh right here (commands not converted yet say so, exit 2), and an explicit local
/// one does not fall back on a kubeconfig.
#[test]
fn an_explicit_target_is_never_switched() {
    let mesh = Mesh::initialised();
    // A converted command looks for the cluster, and says it found none.
    for command in [
        &["stat"][..],
        &["edges"],
        &["tap", "api"],
        &["top"],
        &["certs", "status"],
        &["canary", "status"],
    ] {
        meshctl()
            .args(command)
            .args(["--target", "kubernetes"])
            .current_dir(mesh.path())
            .env("HOME", mesh.path())
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicates::str::contains("no kubeconfig"));
    }
    meshctl()
        .args(["down", "--target", "kubernetes"])
        .current_dir(mesh.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not available on Kubernetes yet"));
    // A converted command goes to the cluster, even with a local mesh right here: with no
    // usable kubeconfig it fails saying so, and never lists the local mesh's faults.
    let no_context = mesh.path().join("kubeconfig");
    std::fs::write(
        &no_context,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .unwrap();
    meshctl()
        .args(["fault", "list", "--target", "kubernetes"])
        .env("KUBECONFIG", &no_context)
        .current_dir(mesh.path())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("no current context"));
    // MESHCTL_TARGET too; and a state dir with it conflicts.
    meshctl()
        .args(["down"])
        .env("MESHCTL_TARGET", "kubernetes")
        .current_dir(mesh.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not available on Kubernetes yet"));
    meshctl()
        .args(["status", "--target", "kubernetes", "--state-dir"])
        .arg(mesh.state_dir())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("names a local mesh"));
    // Local with only a kubeconfig around: the local error, not the cluster.
    let empty = tempfile::tempdir().unwrap();
    let kc = empty.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .unwrap();
    meshctl()
        .args(["status", "--target", "local"])
        .env("KUBECONFIG", &kc)
        .current_dir(empty.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no mesh is running"));
    // Without --target, no local mesh and a kubeconfig: the cluster (whose error names it).
    meshctl()
        .args(["status", "-v"])
        .env("KUBECONFIG", &kc)
        .current_dir(empty.path())
        .assert()
        .failure()
        .stderr(predicates::str::contains("no current context"));
}

/// The README's first command: `meshctl up --demo` serves the demo and its load flows.
#[test]
fn the_demo_runs_and_its_traffic_flows() {
    let up = Up::run(tempfile::tempdir().unwrap(), &["up", "--demo"]);
    let plan = up.plan();
    let web = plan["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "web")
        .unwrap()
        .clone();
    // The demo's api fails 2% of its calls on purpose (demo/api.rs DEFAULT_ERROR_RATE) and
    // web then answers 502, so the page is asked for again after such an answer (bounded).
    let url = format!("http://{}/", web["app"].as_str().unwrap());
    let mut answers = Vec::new();
    let page = loop {
        let out = Command::new("curl")
            .args(["-s", "--fail-with-body", "-m", "20", &url])
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            break body;
        }
        answers.push(body);
        assert!(answers.len() < 5, "web kept failing: {answers:?}");
    };
    assert!(page.contains("answered by"), "{page}");
    // The load generator's requests reach web through its proxy.
    let admin = web["admin"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let metrics = curl(&[format!("http://{admin}/metrics")], &[]);
        let served: f64 = metrics
            .lines()
            .filter(|l| {
                l.starts_with("meshctl_requests_total{direction=\"inbound\",status_class=\"2xx\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if served >= 5.0 {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no demo traffic reached web:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(up.stop(), Some(0));
}

#[test]
fn detach_and_down() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echo.py"), ECHO_PY).unwrap();
    std::fs::write(dir.path().join("mesh.yaml"), three_services()).unwrap();
    meshctl()
        .args(["up", "--detach"])
        .current_dir(dir.path())
        .timeout(PATIENCE)
        .assert()
        .success();
    meshctl()
        .arg("status")
        .current_dir(dir.path())
        .assert()
        .success();
    // A second `up` while one runs is refused.
    meshctl()
        .args(["up"])
        .current_dir(dir.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already running"));
    meshctl()
        .arg("down")
        .current_dir(dir.path())
        .timeout(PATIENCE)
        .assert()
        .success();
    meshctl()
        .arg("status")
        .current_dir(dir.path())
        .assert()
        .code(1);
}

#[test]
fn an_idle_mesh_goes_down_with_every_proxy_drained_not_killed() {
    // web calls api; neither app is launched by meshctl (no `command`), nor runs.
    let dir = dir_with(&format!(
        "services:\n  web:\n    port: {}\n    upstreams: [api]\n  api:\n    port: {}\n",
        free_port(),
        free_port()
    ));
    let started = Instant::now();
    meshctl()
        .args(["up", "--detach"])
        .current_dir(dir.path())
        .timeout(PATIENCE)
        .assert()
        .success();
    // An app meshctl does not launch is probed, not waited for (it used to hold `up` for
    // the whole 10 s app timeout).
    let up_took = started.elapsed();
    assert!(
        up_took < Duration::from_secs(8),
        "up --detach took {up_took:?}"
    );
    let started = Instant::now();
    meshctl()
        .arg("down")
        .current_dir(dir.path())
        .timeout(PATIENCE)
        .assert()
        .success();
    let down_took = started.elapsed();
    // Every proxy finished its drain by itself: none was left to the supervisor's SIGKILL
    // at the end of its 10 s grace (the config watcher used to hold a drain watch forever).
    for proxy in ["web", "api"] {
        let log =
            std::fs::read_to_string(dir.path().join(format!(".meshctl/logs/proxy-{proxy}.log")))
                .unwrap();
        assert!(log.contains("INFO drained"), "{proxy} did not drain: {log}");
    }
    assert!(
        down_took < Duration::from_secs(8),
        "down took {down_took:?}"
    );
}

#[test]
fn a_drain_that_waits_for_a_request_names_the_proxies_and_lets_it_finish() {
    // api's app runs outside the mesh (no `command`), so stopping the apps does not end the
    // request: the proxies hold it until it is answered.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echo.py"), ECHO_PY).unwrap();
    let api_port = free_port();
    let mut app = Command::new("python3")
        .arg(dir.path().join("echo.py"))
        .arg(api_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = Up::start(&format!(
        "services:\n  web:\n    port: {}\n    upstreams: [api]\n  api:\n    port: {api_port}\n",
        free_port()
    ));
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
        assert!(start.elapsed() < PATIENCE, "the api app never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let entry = up.upstream("web", "api");
    let request =
        std::thread::spawn(move || curl(&[format!("http://{entry}/slow?delay_ms=2500")], &[]));
    std::thread::sleep(Duration::from_millis(500));
    let dir = up.stop_keeping_dir();
    let body = request.join().unwrap();
    let _ = app.kill();
    let _ = app.wait();
    // The echo app's answer, not a proxy's error: the request finished during the drain.
    assert!(body.contains("\"headers\""), "{body}");
    let err = std::fs::read_to_string(dir.path().join("up.err")).unwrap();
    let line = err
        .lines()
        .find(|l| l.starts_with("still waiting for proxies:"))
        .unwrap_or_else(|| panic!("no notice naming the draining proxies: {err}"));
    assert!(
        line.contains("proxy-web") && line.contains("proxy-api"),
        "{line}"
    );
    assert!(!err.contains("still waiting for apps"), "{err}");
}

/// Becomes a child subreaper, so the background `up` that `up --detach` leaves behind is
/// re-parented to this script, which reaps nothing until `down` returned — as PID 1 of a
/// container that reaps late or never does. Prints `down`'s exit code and its milliseconds.
const NEVER_REAPS_PY: &str = r#"
import ctypes, os, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: " + os.strerror(ctypes.get_errno()))
exe = sys.argv[1]
subprocess.run([exe, "up", "--detach"], check=True, stdout=subprocess.DEVNULL)
start = time.monotonic()
try:
    code = subprocess.run([exe, "down"], timeout=20).returncode
except subprocess.TimeoutExpired:
    code = "timeout"
print(code, int((time.monotonic() - start) * 1000))
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"#;

#[test]
fn down_returns_when_the_mesh_exited_even_if_nothing_reaped_it() {
    let dir = dir_with(&format!(
        "services:\n  web:\n    port: {}\n    upstreams: [api]\n  api:\n    port: {}\n",
        free_port(),
        free_port()
    ));
    let out = Command::new("python3")
        .args(["-c", NEVER_REAPS_PY])
        .arg(crate::support::meshctl_bin())
        .current_dir(dir.path())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The last line is the script's (`down`'s own output comes before it).
    let (code, ms) = stdout.lines().last().unwrap().split_once(' ').unwrap();
    // `down` used to poll kill(pid, 0), which a zombie passes: it waited for the reaper (here
    // never: its 60 s timeout, cut at 20 s above). An idle mesh exits in well under a second;
    // 5 s leaves room for a loaded 2-core CI runner without admitting the old behaviour.
    assert_eq!(code, "0", "down failed: {stdout}");
    let ms: u64 = ms.parse().unwrap();
    assert!(ms < 5_000, "down took {ms} ms");
    assert!(!dir.path().join(".meshctl/run/up.pid").exists());
}

mod rotation;

/// The control plane's pid, from the supervisor's line in its log.
fn control_plane_pid(up: &Up) -> i32 {
    let log = std::fs::read_to_string(up.state().join("logs/control-plane.log")).unwrap();
    log.lines()
        .rev()
        .find_map(|l| l.split_once("started, pid ").map(|(_, pid)| pid.trim()))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the control plane's log: {log}"))
}

#[test]
fn no_command_hangs_on_a_control_plane_that_does_not_answer() {
    let (v1, v2) = (free_port(), free_port());
    let up = Up::start(&format!(
        "services:\n  api:\n    versions:\n      v1: {{ port: {v1} }}\n      v2: {{ port: {v2} }}\n"
    ));
    let pid = nix::unistd::Pid::from_raw(control_plane_pid(&up));
    // Stopped, not dead: its Unix socket still accepts connections, so only a deadline helps.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let socket = up.state().join("run/control.sock");
    for args in [
        &["status"][..],
        &["check"][..],
        &["fault", "list"][..],
        &["certs", "status"][..],
        &["canary", "shift", "api", "--to", "v2", "--weight", "10"][..],
    ] {
        let started = Instant::now();
        let out = up
            .cmd()
            .args(["--request-timeout", "1s"])
            .args(args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let took = started.elapsed();
        // `check` reports it as a failed check on stdout (the others as their error).
        let stderr = if args == ["check"] {
            String::from_utf8_lossy(&out.stdout)
        } else {
            String::from_utf8_lossy(&out.stderr)
        };
        if args == ["check"] {
            assert!(
                stderr.contains("× the control plane answers within --request-timeout"),
                "{stderr}"
            );
        }
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} after {took:?}: {stderr}"
        );
        assert!(
            stderr.contains("did not answer within 1s") && stderr.contains("meshctl status"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&socket.display().to_string()),
            "{args:?} names the socket: {stderr}"
        );
        if args != ["check"] {
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    up.stop();
}

/// A grpcio server (raw-bytes methods, no generated code): `Unary` answers the request plus
/// ` from <x-meshctl-client-id>` (`fail` → NOT_FOUND), `Bidi` echoes each message.
pub(crate) const GRPCIO_SERVER_PY: &str = r#"
import grpc, sys
from concurrent import futures
def unary(req, ctx):
    if req == b"fail":
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    caller = dict(ctx.invocation_metadata()).get("x-meshctl-client-id", "-")
    return req + b" from " + caller.encode()
def bidi(requests, ctx):
    for m in requests:
        yield b"echo " + m
handler = grpc.method_handlers_generic_handler("test.Echo", {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handler,))
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
server.wait_for_termination()
"#;

/// A grpcio client against argv[1]: 100 KB unary (answered with the caller's identity,
/// argv[2], default the local mesh's web), an error status, a bidi stream.
pub(crate) const GRPCIO_CLIENT_PY: &str = r#"
import grpc, sys
channel = grpc.insecure_channel(sys.argv[1])
grpc.channel_ready_future(channel).result(timeout=20)
unary = channel.unary_unary("/test.Echo/Unary")
big = b"x" * 102400
caller = sys.argv[2] if len(sys.argv) > 2 else "spiffe://mesh.local/ns/local/sa/web"
assert unary(big, timeout=20) == big + b" from " + caller.encode()
try:
    unary(b"fail", timeout=20)
    sys.exit("fail: no error status")
except grpc.RpcError as e:
    assert (e.code(), e.details()) == (grpc.StatusCode.NOT_FOUND, "no such thing"), e
bidi = channel.stream_stream("/test.Echo/Bidi")
assert list(bidi(iter([b"a", b"b", b"c"]), timeout=20)) == [b"echo a", b"echo b", b"echo c"]
print("ok")
"#;

#[test]
fn a_grpcio_server_meshed_without_a_protocol_serves_unary_errors_and_streams() {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::write(scripts.path().join("server.py"), GRPCIO_SERVER_PY).unwrap();
    std::fs::write(scripts.path().join("client.py"), GRPCIO_CLIENT_PY).unwrap();
    let (web, api) = (free_port(), free_port());
    let up = Up::start(&format!(
        "services:\n  web:\n    port: {web}\n    upstreams: [api]\n  api:\n    port: {api}\n    command: [python3, \"{}\", \"{api}\"]\n",
        scripts.path().join("server.py").display()
    ));
    let out = Command::new("python3")
        .arg(scripts.path().join("client.py"))
        .arg(up.upstream("web", "api"))
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'grpc'"),
        "grpcio is needed by this test: run ./scripts/test.sh, which installs it"
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let protocol_check = || -> serde_json::Value {
        let out = up.cmd().args(["check", "-o", "json"]).output().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "apps.protocol")
            .cloned()
            .unwrap()
    };
    assert_eq!(protocol_check()["status"], "ok");
    // An HTTP/1.1 caller of this gRPC-only app: the app accepts the connection but not the
    // protocol. The proxy records it and `check` names the app and the fix.
    let mut s = std::net::TcpStream::connect(up.upstream("web", "api")).unwrap();
    let (status, _) = crate::netns::http_get(&mut s, "/", &[]).unwrap();
    assert_eq!(status, 502);
    let check = protocol_check();
    assert_eq!(check["status"], "error", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.starts_with("api ("), "{detail}");
    assert!(detail.contains("http1 failed 1 times"), "{detail}");
    assert!(detail.contains("set its protocol: grpc or h2c"), "{detail}");
    let out = up.cmd().args(["status", "-o", "json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let api = doc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "api")
        .cloned()
        .unwrap();
    assert_eq!(api["healthy"], false, "{api}");
    assert!(
        api["app_problems"][0]
            .as_str()
            .unwrap()
            .starts_with("http1 failed"),
        "{api}"
    );
    let table = up.cmd().arg("status").output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("protocol errors"));
    // gRPC still works beside it.
    let out = Command::new("python3")
        .arg(scripts.path().join("client.py"))
        .arg(up.upstream("web", "api"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    up.stop();
}
