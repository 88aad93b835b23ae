//! Inbound authorization end to end: a real mesh (`meshctl up`) whose protected services are
//! called by an allowed and a denied caller over real mTLS, and the standalone proxy with an
//! `authorization:` block in its config file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::mesh::{PATIENCE, Up, assert_up_rejects, free_port, get_quote};
use crate::proxy::promtool_check;

/// An HTTP app that records every request it gets (`METHOD PATH`, one per line, in the file
/// named by argv[2]) and answers 200 `ok`. The test reads the file, never through the mesh.
const RECORDER_PY: &str = python_app!(
    r#"
log = sys.argv[2]
class H(App):
    def record(self):
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path}\n")
        self.rfile.read(int(self.headers.get("content-length", "0")))
    def do_GET(self):
        self.record()
        self.answer(200, b"ok")
    do_POST = do_GET
    def do_HEAD(self):
        self.record()
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
serve(H)
"#
);

/// A TCP echo app that appends a line to the file named by argv[2] per accepted connection.
pub(crate) const TCP_ECHO_PY: &str = r#"
import socket, sys, threading
log = sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
def serve(c):
    with open(log, "a") as f:
        f.write("connection\n")
    while True:
        data = c.recv(65536)
        if not data:
            break
        c.sendall(data)
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// `web` (allowed) and `batch` (denied) are callers started elsewhere (only their proxies
/// matter); `api` (HTTP, RECORDER_PY), `quotes` (the demo gRPC server) and `store` (TCP echo)
/// are protected. Scripts and their logs live in `scripts`.
fn protected_mesh(scripts: &Path) -> String {
    let exe = crate::support::meshctl_bin();
    std::fs::write(scripts.join("recorder.py"), RECORDER_PY).unwrap();
    std::fs::write(scripts.join("tcp_echo.py"), TCP_ECHO_PY).unwrap();
    let (web, batch, api, quotes, store) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    format!(
        "services:
  web:
    port: {web}
    upstreams: [api, quotes, store]
  batch:
    port: {batch}
    upstreams: [api, quotes, store]
  api:
    port: {api}
    protocol: http
    command: [python3, \"{s}/recorder.py\", \"{api}\", \"{s}/api.log\"]
    policy:
      authorization:
        allow:
          - from: [{{ service: web }}]
            paths: [{{ prefix: /api/ }}]
            methods: [GET, POST]
          - from: [\"spiffe://mesh.local/ns/local/sa/web\"]
            paths: [{{ prefix: /admin/ }}]
            headers: {{ X-Role: admin }}
        exempt:
          - {{ path: /healthz, methods: [GET] }}
  quotes:
    port: {quotes}
    protocol: grpc
    command: [\"{exe}\", demo-app, quotes, --listen, \"127.0.0.1:{quotes}\"]
    policy:
      authorization:
        allow: [{{ from: [\"spiffe://mesh.local/ns/*/sa/web\"] }}]
  store:
    port: {store}
    protocol: tcp
    command: [python3, \"{s}/tcp_echo.py\", \"{store}\", \"{s}/store.log\"]
    policy:
      authorization:
        allow:
          - from: [{{ service: web }}]
          - {{ from: [{{ service: batch }}], paths: [/] }}
",
        exe = exe.display(),
        s = scripts.display(),
    )
}

/// Starts [`protected_mesh`] and waits until the recorder and TCP apps listen.
fn start_protected() -> (Up, tempfile::TempDir) {
    let scripts = tempfile::tempdir().unwrap();
    let up = Up::start(&protected_mesh(scripts.path()));
    for app in ["api", "store"] {
        wait_listening(&up.proxy_field(app, "app"));
    }
    (up, scripts)
}

fn wait_listening(addr: &str) {
    let start = std::time::Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(start.elapsed() < PATIENCE, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request with curl (the path sent exactly as given): (status, body).
fn request(url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--path-as-is", "-m", "20", "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

/// What the recorder app has seen, one `METHOD PATH` per line.
fn seen(scripts: &tempfile::TempDir) -> String {
    std::fs::read_to_string(scripts.path().join("api.log")).unwrap_or_default()
}

/// The value of `meshctl_authz_denied_total{reason="…"}` on `instance`'s proxy.
fn denied(metrics: &str, reason: &str) -> u64 {
    let series = format!("meshctl_authz_denied_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {metrics}"))
}

fn metrics(up: &Up, instance: &str) -> String {
    let admin = up.proxy_field(instance, "admin");
    request(&format!("http://{admin}/metrics"), &[]).1
}

#[test]
fn http_requests_are_authorized_by_identity_path_method_and_headers() {
    let (up, scripts) = start_protected();
    let web = up.upstream("web", "api");
    let batch = up.upstream("batch", "api");

    // Allowed identity, allowed path; another identity is refused before the app.
    assert_eq!(
        request(&format!("http://{web}/api/x"), &[]),
        (200, "ok".into())
    );
    let (status, body) = request(&format!("http://{batch}/api/from-batch"), &[]);
    assert_eq!(
        (status, body.as_str()),
        (403, "denied by authorization policy")
    );
    assert_eq!(
        request(&format!("http://{web}/api/x"), &["-X", "DELETE"]).0,
        403
    );

    // The path is normalised before matching and forwarded normalised.
    assert_eq!(request(&format!("http://{web}/api//y/./z"), &[]).0, 200);
    assert!(
        seen(&scripts).contains("GET /api/y/z\n"),
        "{}",
        seen(&scripts)
    );

    // Every way round to a denied path is refused, and none reaches the app.
    for path in [
        "/secret",
        "//secret",
        "/api/../secret",
        "/api/%2e%2e/secret",
        "/api/%2E%2E/secret",
        "/api/.%2e/secret",
        "/api/..%2Fsecret",
        "/api%2F..%2Fsecret",
        "/api/..%5Csecret",
        "/api/..%5csecret",
        "/api/..;/secret",
        "/api/..\\secret",
    ] {
        let (status, _) = request(&format!("http://{web}{path}"), &[]);
        assert!(status == 403 || status == 400, "{path}: answered {status}");
    }
    assert!(!seen(&scripts).contains("secret"), "{}", seen(&scripts));
    assert!(!seen(&scripts).contains("from-batch"), "{}", seen(&scripts));

    // Header rule: names in any case; every value of a repeated header must be allowed.
    let admin = format!("http://{web}/admin/panel");
    for (headers, want) in [
        (&["x-role: admin"][..], 200),
        (&["X-ROLE: admin"][..], 200),
        (&["x-role: user"][..], 403),
        (&[][..], 403),
        (&["x-role: user", "x-role: admin"][..], 403),
        (&["x-role: admin", "X-Role: user"][..], 403),
        (&["x-role: admin, user"][..], 403),
    ] {
        let mut args = Vec::new();
        for h in headers {
            args.extend(["-H", *h]);
        }
        assert_eq!(request(&admin, &args).0, want, "{headers:?}");
    }
    assert_eq!(seen(&scripts).matches("GET /admin/panel").count(), 2);

    // The exempt probe path works for anyone with GET, and only with GET.
    assert_eq!(request(&format!("http://{batch}/healthz"), &[]).0, 200);
    assert_eq!(
        request(
            &format!("http://{batch}/healthz"),
            &["-X", "POST", "-d", "x"]
        )
        .0,
        403
    );
    assert_eq!(seen(&scripts).matches("/healthz").count(), 1);

    // Denials are counted by reason, in valid Prometheus text.
    let text = metrics(&up, "api");
    assert!(denied(&text, "identity") >= 2, "{text}");
    assert!(denied(&text, "path") >= 6, "{text}");
    assert_eq!(denied(&text, "method"), 1, "{text}");
    assert_eq!(denied(&text, "header"), 5, "{text}");
    assert!(denied(&text, "bad_path") >= 4, "{text}");
    promtool_check(&text);
}

#[test]
fn grpc_calls_get_permission_denied_and_tcp_connections_are_closed() {
    let (up, scripts) = start_protected();
    let quote = get_quote(&up.upstream("web", "quotes"), "MESH").unwrap();
    assert_eq!(quote.symbol, "MESH");
    let err = get_quote(&up.upstream("batch", "quotes"), "MESH").unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    assert_eq!(denied(&metrics(&up, "quotes"), "identity"), 1);

    // TCP: `web` matches the wildcard rule; `batch` only a rule with a path condition, which
    // cannot allow opaque bytes.
    let echo = |addr: &str| -> Vec<u8> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(b"hello").unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 64];
        while buf.len() < 5 {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf
    };
    // The app logs every connection (readiness checks included): count the difference.
    let connections = || {
        std::fs::read_to_string(scripts.path().join("store.log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = connections();
    assert_eq!(echo(&up.upstream("web", "store")), b"hello");
    assert_eq!(connections(), before + 1);
    assert_eq!(echo(&up.upstream("batch", "store")), b"");
    assert_eq!(
        connections(),
        before + 1,
        "batch's connection never reached the app"
    );
    assert_eq!(denied(&metrics(&up, "store"), "opaque_tcp"), 1);
}

#[test]
fn bad_authorization_policies_are_rejected_before_anything_starts() {
    let mesh = |authorization: &str| {
        format!(
            "services:\n  web:\n    port: 18180\n  api:\n    port: 18181\n    policy:\n      authorization:\n        {authorization}\n"
        )
    };
    let cases = [
        (
            mesh("allow: [{ from: [\"spiffe://mesh.local/ns/local/sa/web-*\"] }]"),
            "mesh.yaml:8:26: services.api.policy.authorization.allow[0].from[0]: invalid SPIFFE ID pattern",
        ),
        (
            mesh("allow: [{ from: [{ service: nope }] }]"),
            "mesh.yaml:8:37: services.api.policy.authorization.allow[0].from[0].service: unknown service `nope`",
        ),
        (
            mesh("alow: []"),
            "mesh.yaml:8:9: services.api.policy.authorization: unknown field `alow`",
        ),
        (
            mesh("allow: [{ paths: [\"/a/./b\"] }]"),
            "is not in normalised form",
        ),
        (
            mesh("allow: []"),
            "services.api.policy.authorization.allow: empty list",
        ),
    ];
    for (yaml, needle) in cases {
        assert_up_rejects(&yaml, needle);
    }
}

const BATCH_ID: &str = "spiffe://mesh.local/ns/local/sa/batch";

/// A standalone server proxy for `api` (`--config`) in front of the test HTTP app, whose
/// inbound listener carries `authorization` (YAML indented under the listener's
/// `authorization:` key). Returns the mesh, the proxy, its inbound address and the app.
async fn standalone_server(
    authorization: &str,
) -> (
    crate::proxy_support::Mesh,
    crate::proxy_support::Proxy,
    std::net::SocketAddr,
    crate::proxy_support::HttpApp,
) {
    use crate::proxy_support::{API_ID, Mesh, Proxy, free_addr, http_app};
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let app = http_app().await;
    let inbound = free_addr();
    let config = mesh.path().join("server.yaml");
    std::fs::write(
        &config,
        format!(
            "identity_dir: {}\ninbound:\n  - listen: {inbound}\n    app: {}\n    authorization:\n{authorization}",
            api.display(),
            app.addr
        ),
    )
    .unwrap();
    let server = Proxy::start(
        &["--config".into(), config.display().to_string()],
        mesh.path(),
    );
    (mesh, server, inbound, app)
}

/// A standalone server proxy (`--config` with an `authorization:` block) in front of the test
/// HTTP app, and one client proxy each for `web` (allowed) and `batch` (denied).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_proxy_enforces_the_policy_in_its_config_file() {
    use crate::proxy_support::{
        API_ID, Proxy, WEB_ID, free_addr, get, header, identity, sample, upstream,
    };
    let (mesh, server, inbound, _app) = standalone_server(
        "      allow:
        - from: [{ service: web }]
          paths: [{ prefix: /ok }]
      exempt: [{ path: /healthz }]
",
    )
    .await;
    let mut entries = Vec::new();
    let mut clients = Vec::new();
    for (id, name) in [(WEB_ID, "web"), (BATCH_ID, "batch")] {
        let dir = mesh.issue(id, name);
        let entry = free_addr();
        clients.push(Proxy::start(
            &[identity(&dir), upstream(entry, inbound, API_ID)].concat(),
            mesh.path(),
        ));
        entries.push(entry);
    }
    let (web, batch) = (entries[0], entries[1]);

    let (status, headers, _) = get(web, "/ok/../ok//1").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-seen-client-id"), WEB_ID);
    assert_eq!(
        get(web, "/okay").await.0,
        403,
        "a prefix matches whole segments"
    );
    assert_eq!(get(web, "/ok/%2Fx").await.0, 400);
    assert_eq!(get(batch, "/ok/1").await.0, 403);
    assert_eq!(get(batch, "/healthz").await.0, 200);

    let text = server.metrics().await;
    for (reason, n) in [("identity", 1.0), ("path", 1.0), ("bad_path", 1.0)] {
        let series = format!("meshctl_authz_denied_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&text, &series), n, "{reason}: {text}");
    }
}

/// A `host` condition sees the same authority whether the caller's app sent `Host`
/// (HTTP/1.1) or `:authority` (HTTP/2), in any case and with or without a trailing dot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_rule_matches_host_and_authority_alike() {
    use crate::proxy_support::{
        API_ID, Proxy, WEB_ID, collect, free_addr, full_body, h2c_conn, http1_conn, identity,
        upstream,
    };
    let (mesh, _server, inbound, _app) =
        standalone_server("      allow: [{ headers: { host: Api.Test. } }]\n").await;
    let web = mesh.issue(WEB_ID, "web");
    let entry = free_addr();
    let _client = Proxy::start(
        &[identity(&web), upstream(entry, inbound, API_ID)].concat(),
        mesh.path(),
    );
    for (host, want) in [("api.test", 200), ("API.TEST.", 200), ("evil.test", 403)] {
        let mut h1 = http1_conn(entry).await;
        let req = hyper::Request::get("/")
            .header("host", host)
            .body(full_body(bytes::Bytes::new()))
            .unwrap();
        let (status, _, _) = collect(h1.send_request(req).await.unwrap()).await;
        assert_eq!(status, want, "HTTP/1.1 Host: {host}");

        let mut h2 = h2c_conn(entry).await;
        let req = hyper::Request::get(format!("http://{host}/"))
            .body(full_body(bytes::Bytes::new()))
            .unwrap();
        let (status, _, _) = collect(h2.send_request(req).await.unwrap()).await;
        assert_eq!(status, want, "HTTP/2 :authority {host}");
    }
}

#[test]
fn a_bad_policy_in_the_proxy_config_file_is_a_usage_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proxy.yaml");
    std::fs::write(
        &file,
        "identity_dir: certs
inbound:
  - listen: 127.0.0.1:4143
    app: 127.0.0.1:8080
    authorization:
      allow: [{ from: [\"spiffe://mesh.local/ns/local/sa/*web\"] }]
",
    )
    .unwrap();
    let out = crate::proxy_support::meshctl()
        .args(["proxy", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("proxy.yaml")
            && err.contains("inbound[0].authorization.allow[0].from[0]")
            && err.contains("`*` must be a whole segment")
            && err.contains("line 6 column 24"),
        "{err}"
    );
}

/// `proxy --config` refuses what mesh.yaml refuses: `allow: []`, and a `from:` pattern in a
/// trust domain other than the proxy's own identity's (it could never match) — exit 2, one line.
#[test]
fn the_proxy_config_refuses_an_empty_allow_and_a_foreign_trust_domain() {
    use crate::proxy_support::{API_ID, Mesh, free_addr};
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let cases = [
        ("allow: []", "empty list"),
        (
            "allow: [{ from: [\"spiffe://evil.example/ns/local/sa/web\"] }]",
            "`spiffe://evil.example/ns/local/sa/web` is in trust domain `evil.example`, not this mesh's `mesh.local`: it could never match",
        ),
    ];
    for (policy, needle) in cases {
        let file = mesh.path().join("proxy.yaml");
        std::fs::write(
            &file,
            format!(
                "identity_dir: {}\ninbound:\n  - listen: {}\n    app: 127.0.0.1:9\n    authorization:\n      {policy}\n",
                api.display(),
                free_addr()
            ),
        )
        .unwrap();
        let out = crate::support::meshctl()
            .args(["proxy", "--admin", "127.0.0.1:0", "--config"])
            .arg(&file)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{policy}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{policy}: {err}");
    }
}

/// An HTTP app that answers every GET with the `x-meshctl-client-id` values it received,
/// one per line: what the app would trust as the caller's identity.
const WHO_PY: &str = python_app!(
    r#"
class H(App):
    def do_GET(self):
        ids = self.headers.get_all("x-meshctl-client-id") or []
        self.answer(200, "".join(i + "\n" for i in ids).encode())
serve(H)
"#
);

/// Writes `bytes` to `addr` after `silence`; everything that comes back until it closes.
fn raw_after(addr: &str, silence: Duration, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    std::thread::sleep(silence);
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn an_http_service_sees_only_the_verified_identity_whatever_the_caller_sends_or_when() {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::write(scripts.path().join("who.py"), WHO_PY).unwrap();
    let (web, api) = (free_port(), free_port());
    // No policy at all: the case where nothing but the identity header tells callers apart.
    let up = Up::start(&format!(
        "services:
  web:
    port: {web}
    upstreams: [api]
  api:
    port: {api}
    command: [python3, \"{s}/who.py\", \"{api}\"]
",
        s = scripts.path().display(),
    ));
    wait_listening(&up.proxy_field("api", "app"));
    let entry = up.upstream("web", "api");
    let forged = b"GET / HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\
                   x-meshctl-client-id: spiffe://mesh.local/ns/local/sa/admin\r\n\r\n";
    // Silent past the 1 s detection timeout, then HTTP: still parsed as HTTP by the caller's
    // proxy (never carried as opaque bytes), so the app sees web's verified identity only.
    let answer = raw_after(&entry, Duration::from_millis(1500), forged);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\nspiffe://mesh.local/ns/local/sa/web\n"),
        "{answer}"
    );
    // Bytes that are not HTTP to a service served as HTTP: closed, nothing comes back.
    let answer = raw_after(&entry, Duration::ZERO, b"\x00\x01 not http\r\n\r\n");
    assert_eq!(answer, "");
    up.stop();
}
