//! Helpers for the integration tests: the real binary, a mesh CA in a temp dir, proxy
//! processes that are killed on drop, test apps (HTTP, gRPC, TCP echo) and small clients.

#![allow(dead_code)] // each test file uses a different subset

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod pb {
    tonic::include_proto!("meshctl.test");
}

pub const API_ID: &str = "spiffe://mesh.local/ns/local/sa/api";
pub const WEB_ID: &str = "spiffe://mesh.local/ns/local/sa/web";

/// Upper bound for anything a test waits for (ports, reloads, exits).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub type TestBody = BoxBody<Bytes, Infallible>;

/// The `meshctl` binary under test (no span export inherited from the environment).
pub fn meshctl() -> Command {
    let mut cmd = Command::new(crate::support::meshctl_bin());
    for name in crate::support::span_export_vars() {
        cmd.env_remove(name);
    }
    cmd
}

/// A mesh CA in a temp dir, issuing workload identities into sub-directories.
pub struct Mesh {
    pub dir: tempfile::TempDir,
}

impl Mesh {
    pub fn new() -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let out = meshctl()
            .args(["--state-dir"])
            .arg(dir.path().join("state"))
            .args(["certs", "init"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "certs init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mesh { dir }
    }

    /// Issues `id` into `<tmp>/<name>` (tls.crt, tls.key, ca.crt) and returns that dir.
    pub fn issue(&self, id: &str, name: &str) -> PathBuf {
        let out_dir = self.dir.path().join(name);
        let out = meshctl()
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["certs", "issue", id, "--out"])
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "certs issue: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out_dir
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A free 127.0.0.1 port for a proxy's own listener. It stays held until the test process
/// ends — by a socket bound with `SO_REUSEADDR` that never listens, as `meshctl up` holds
/// the ports it plans — so neither a mesh started by a parallel test nor an outgoing
/// connection can take it before the proxy binds it (which `SO_REUSEADDR` lets it do).
pub fn free_addr() -> SocketAddr {
    static HELD: std::sync::Mutex<Vec<tokio::net::TcpSocket>> = std::sync::Mutex::new(Vec::new());
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    HELD.lock().unwrap().push(socket);
    addr
}

/// A running `meshctl proxy`; killed on drop. stderr goes to a file for failure messages.
pub struct Proxy {
    child: Child,
    pub admin: SocketAddr,
    log: PathBuf,
}

impl Proxy {
    /// Starts `meshctl proxy ARGS --admin <free>` and waits until `/ready` answers 200.
    pub fn start(args: &[String], log_dir: &Path) -> Proxy {
        Proxy::start_logging(args, log_dir, "info")
    }

    /// [`Proxy::start`] with `RUST_LOG` set to `rust_log`.
    pub fn start_logging(args: &[String], log_dir: &Path, rust_log: &str) -> Proxy {
        Proxy::start_env(args, log_dir, rust_log, &[])
    }

    /// [`Proxy::start_logging`] with `env` added to the proxy's environment.
    pub fn start_env(
        args: &[String],
        log_dir: &Path,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> Proxy {
        let admin = free_addr();
        let log = log_dir.join(format!("proxy-{}.log", admin.port()));
        let child = meshctl()
            .arg("proxy")
            .args(args)
            .args(["--admin", &admin.to_string()])
            .envs(env.iter().copied())
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut proxy = Proxy { child, admin, log };
        proxy.wait_ready();
        proxy
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("proxy exited early ({status}): {}", self.log());
            }
            if let Ok(mut s) = std::net::TcpStream::connect(self.admin) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /ready HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n");
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                if text.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("proxy not ready within {PATIENCE:?}: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("proxy did not exit within {PATIENCE:?}: {}", self.log());
    }

    /// `/metrics` text.
    pub async fn metrics(&self) -> String {
        let (status, _, body) = get(self.admin, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body.to_vec()).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one sample line (`name{labels} value`) in a metrics text, 0 if absent.
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// A test HTTP app (HTTP/1.1 and h2c on one port). It echoes the request body and reports
/// what it saw in `x-seen-*` headers; `/slow` waits 300 ms, `/chunked` streams its
/// response, `/missing` is a 404. It counts the connections it accepted.
pub struct HttpApp {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

pub async fn http_app() -> HttpApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service_fn(app_handler))
                    .await;
            });
        }
    });
    HttpApp { addr, connections }
}

async fn app_handler(req: Request<Incoming>) -> Result<Response<TestBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let seen = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("?").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let mut response = Response::builder()
        .header("x-seen-version", format!("{:?}", parts.version))
        .header("x-seen-path", parts.uri.path())
        .header("x-seen-client-id", seen("x-meshctl-client-id"))
        .header("x-seen-host", seen("host"))
        .header("x-seen-orig-proto", seen("x-meshctl-orig-proto"))
        .header("x-seen-hop", seen("x-hop"))
        .header("x-seen-transfer-encoding", seen("transfer-encoding"))
        .header("x-seen-content-length", seen("content-length"))
        .header("x-seen-traceparent", seen("traceparent"))
        .header("x-seen-tracestate", seen("tracestate"));
    match parts.uri.path() {
        "/slow" => tokio::time::sleep(Duration::from_millis(300)).await,
        "/missing" => response = response.status(StatusCode::NOT_FOUND),
        _ => {}
    }
    let body = if parts.uri.path() == "/chunked" {
        chunked_body(vec![
            Bytes::from_static(b"chunk-one,"),
            Bytes::from_static(b"chunk-two"),
        ])
    } else {
        Full::new(body).boxed()
    };
    Ok(response.body(body).unwrap())
}

/// A body without a length: sent with `transfer-encoding: chunked` over HTTP/1.1.
pub fn chunked_body(chunks: Vec<Bytes>) -> TestBody {
    let frames = chunks
        .into_iter()
        .map(|c| Ok::<_, Infallible>(Frame::data(c)));
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

pub fn full_body(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into()).boxed()
}

/// A TCP echo server; counts accepted connections (and is also the "app must see 0 bytes"
/// sentinel: it counts every byte it reads).
pub struct EchoApp {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub bytes: Arc<AtomicUsize>,
}

pub async fn echo_app() -> EchoApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicUsize::new(0));
    let (c, b) = (connections.clone(), bytes.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let b = b.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            b.fetch_add(n, Ordering::SeqCst);
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    EchoApp {
        addr,
        connections,
        bytes,
    }
}

/// An HTTP/1.1 connection for several requests (keep-alive).
pub async fn http1_conn(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<TestBody> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// An h2c connection (prior knowledge).
pub async fn h2c_conn(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<TestBody> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// GET over a fresh HTTP/1.1 connection: status, headers, body.
pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, HeaderMap, Bytes) {
    let mut sender = http1_conn(addr).await;
    let req = Request::get(path)
        .header("host", "test.local")
        .body(full_body(Bytes::new()))
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    collect(response).await
}

pub async fn collect(response: Response<Incoming>) -> (StatusCode, HeaderMap, Bytes) {
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map_or("<absent>", |v| v.to_str().unwrap())
}

/// `--inbound` / `--upstream` values.
pub fn inbound(listen: SocketAddr, app: &str) -> Vec<String> {
    vec!["--inbound".into(), format!("{listen}={app}")]
}

pub fn upstream(listen: SocketAddr, peer: SocketAddr, id: &str) -> Vec<String> {
    vec!["--upstream".into(), format!("{listen}={peer}#{id}")]
}

pub fn identity(dir: &Path) -> Vec<String> {
    vec!["--identity-dir".into(), dir.display().to_string()]
}

/// A server-side proxy (identity `api`) in front of `app` plus a client-side proxy (identity
/// `web`) whose upstream listener points at it.
pub struct Pair {
    pub mesh: Mesh,
    pub server: Proxy,
    pub client: Proxy,
    /// Where the app (the test) sends plaintext.
    pub entry: SocketAddr,
    pub inbound: SocketAddr,
}

impl Pair {
    /// `app` as `--inbound` takes it, e.g. `127.0.0.1:8080` or `h2c://127.0.0.1:8080`.
    pub fn start(app: &str) -> Pair {
        Pair::start_with(app, &[])
    }

    /// [`Pair::start`] with `extra` flags for both proxies.
    pub fn start_with(app: &str, extra: &[String]) -> Pair {
        Pair::start_env(app, extra, &[])
    }

    /// [`Pair::start_with`] with `env` added to both proxies' environment.
    pub fn start_env(app: &str, extra: &[String], env: &[(&str, &str)]) -> Pair {
        let mesh = Mesh::new();
        let api = mesh.issue(API_ID, "api");
        let web = mesh.issue(WEB_ID, "web");
        let inbound_addr = free_addr();
        let entry = free_addr();
        let server = Proxy::start_env(
            &[identity(&api), inbound(inbound_addr, app), extra.to_vec()].concat(),
            mesh.path(),
            "info",
            env,
        );
        let client = Proxy::start_env(
            &[
                identity(&web),
                upstream(entry, inbound_addr, API_ID),
                extra.to_vec(),
            ]
            .concat(),
            mesh.path(),
            "info",
            env,
        );
        Pair {
            mesh,
            server,
            client,
            entry,
            inbound: inbound_addr,
        }
    }
}

/// Sends on a kept-alive HTTP/1.1 connection once it is ready for the next request.
pub async fn send(
    conn: &mut hyper::client::conn::http1::SendRequest<TestBody>,
    req: Request<TestBody>,
) -> Response<Incoming> {
    conn.ready().await.unwrap();
    conn.send_request(req).await.unwrap()
}
