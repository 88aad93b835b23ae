//! Slow and idle clients against the real proxies (`src/proxy/limits.rs`): a connection
//! that sends no request head, or trickles one, is closed; a stalled request body fails
//! with 408; a listener at its connection cap closes the next connection; a frozen app
//! (SIGSTOP) is answered 504. Each with its `meshctl_*` counter. The limits are set small in
//! the proxies' config file; assertions use generous bounds, never tight timing.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy_support::{
    API_ID, Mesh, Proxy, WEB_ID, free_addr, http_app, identity, inbound, sample,
};

/// Far beyond every limit configured below: "closed" means closed well within this.
const BOUND: Duration = Duration::from_secs(15);

/// The small limits both proxies run with.
const LIMITS: &str = "limits:
  header_read_timeout: 2s
  detect_timeout: 500ms
  body_read_timeout: 1s
  app_response_timeout: 2s
  max_connections: 3
";

/// A server proxy (identity `api`) in front of `app` (as `--inbound` takes it: `ADDR` or
/// `tcp://ADDR`) and a client proxy (`web`) whose
/// upstream listener (`proto://`: `detect`, `http`, ...) points at it, both with
/// [`LIMITS`]. Returns the mesh, both proxies and the client's entry address.
fn pair(app: &str, proto: &str) -> (Mesh, Proxy, Proxy, SocketAddr) {
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let web = mesh.issue(WEB_ID, "web");
    let config = mesh.path().join("limits.yaml");
    std::fs::write(&config, LIMITS).unwrap();
    let config = vec!["--config".to_string(), config.display().to_string()];
    let inbound_addr = free_addr();
    let entry = free_addr();
    let server = Proxy::start(
        &[identity(&api), inbound(inbound_addr, app), config.clone()].concat(),
        mesh.path(),
    );
    let upstream = format!("{entry}={proto}://{inbound_addr}#{API_ID}");
    let client = Proxy::start(
        &[identity(&web), vec!["--upstream".into(), upstream], config].concat(),
        mesh.path(),
    );
    (mesh, server, client, entry)
}

/// Reads until the proxy closes the connection (EOF or reset), returning what it sent;
/// panics if it is still open after [`BOUND`].
async fn closed_within_bound(conn: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 1024];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{what}: still open after {BOUND:?}");
    got
}

/// Sends `bytes` one at a time every `gap` until the proxy closes the connection; panics
/// if it is still open after [`BOUND`]. Returns what the proxy sent.
async fn trickle_until_closed(conn: TcpStream, bytes: &[u8], gap: Duration) -> Vec<u8> {
    let (mut read, mut write) = conn.into_split();
    let bytes = bytes.to_vec();
    let trickler = tokio::spawn(async move {
        for b in bytes {
            if write.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
        // Keep the write half open: a half-close would end the request by itself.
        tokio::time::sleep(BOUND * 2).await;
    });
    let mut got = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    trickler.abort();
    assert!(
        read.is_ok(),
        "a trickling client still connected after {BOUND:?}"
    );
    got
}

fn limited(metrics: &str, direction: &str, reason: &str) -> f64 {
    sample(
        metrics,
        &format!(
            "meshctl_connections_limited_total{{direction=\"{direction}\",reason=\"{reason}\"}}"
        ),
    )
}

fn timed_out(metrics: &str, direction: &str, reason: &str) -> f64 {
    sample(
        metrics,
        &format!(
            "meshctl_requests_timed_out_total{{direction=\"{direction}\",reason=\"{reason}\"}}"
        ),
    )
}

/// A connection to an HTTP listener that sends nothing, and one that sends half a head,
/// are closed after the header read timeout (no response, never forwarded as TCP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_unfinished_heads_on_an_http_listener_are_closed() {
    let app = http_app().await;
    let (_mesh, _server, client, entry) = pair(&app.addr.to_string(), "http");
    let started = Instant::now();
    let mut idle = TcpStream::connect(entry).await.unwrap();
    let mut partial = TcpStream::connect(entry).await.unwrap();
    partial
        .write_all(b"GET / HTTP/1.1\r\nhost: api\r\n")
        .await
        .unwrap();
    assert!(closed_within_bound(&mut idle, "idle").await.is_empty());
    assert!(
        closed_within_bound(&mut partial, "partial head")
            .await
            .is_empty()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed before the timeout"
    );
    let metrics = client.metrics().await;
    assert_eq!(
        limited(&metrics, "outbound", "header_timeout"),
        2.0,
        "{metrics}"
    );
    let reached = app.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(reached, 0, "nothing reached the app");
}

/// A head trickled one byte per 300 ms on an HTTP listener is closed at the header read
/// timeout (it never completes within it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_head_on_an_http_listener_is_closed() {
    let app = http_app().await;
    let (_mesh, _server, client, entry) = pair(&app.addr.to_string(), "http");
    let conn = TcpStream::connect(entry).await.unwrap();
    let head = b"GET /trickle HTTP/1.1\r\nhost: api\r\nx-long: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let got = trickle_until_closed(conn, head, Duration::from_millis(300)).await;
    assert!(
        got.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&got)
    );
    let metrics = client.metrics().await;
    assert_eq!(
        limited(&metrics, "outbound", "header_timeout"),
        1.0,
        "{metrics}"
    );
}

/// On a `detect` listener (here in front of an app declared `tcp`, so opaque TCP would be
/// carried end to end) a client that starts an HTTP method and trickles it is HTTP
/// arriving slowly: it is closed at the header read timeout instead of becoming opaque
/// TCP after the detect timeout (where a byte now and then would keep it open for an
/// hour). Silence stays opaque TCP there (server-speaks-first protocols).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_http_start_on_a_detect_listener_is_closed_not_carried_as_tcp() {
    let app = crate::proxy_support::echo_app().await;
    let (_mesh, _server, client, entry) = pair(&format!("tcp://{}", app.addr), "detect");
    let conn = TcpStream::connect(entry).await.unwrap();
    let got = trickle_until_closed(conn, b"GET / HTTP/1.1\r\n", Duration::from_millis(700)).await;
    assert!(
        got.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&got)
    );
    let metrics = client.metrics().await;
    assert_eq!(
        limited(&metrics, "outbound", "header_timeout"),
        1.0,
        "{metrics}"
    );
}

/// A POST whose body stalls (a byte every 2 s, as a slowloris would) is answered 408 once
/// the body has made no progress for the body read timeout, and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_is_answered_408() {
    let app = http_app().await;
    let (_mesh, server, client, entry) = pair(&app.addr.to_string(), "http");
    let mut conn = TcpStream::connect(entry).await.unwrap();
    conn.write_all(b"POST /echo HTTP/1.1\r\nhost: api\r\ncontent-length: 100\r\n\r\nab")
        .await
        .unwrap();
    let got = trickle_until_closed(conn, b"cdefgh", Duration::from_secs(2)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request body timeout"), "{text}");
    // Both proxies run the same 1 s body timeout on the same stalled body: the caller's
    // usually fires first, but on a loaded machine the destination's inbound (which waits on
    // the stream the caller forwards) may, and its 408 comes back the same way.
    let (outbound, inbound) = (client.metrics().await, server.metrics().await);
    assert!(
        timed_out(&outbound, "outbound", "request_body")
            + timed_out(&inbound, "inbound", "request_body")
            >= 1.0,
        "{outbound}\n{inbound}"
    );
}

/// With `max_connections: 3`, a fourth connection to the listener is closed at once while
/// three are open, and counted; once one closes, a new one is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_at_its_connection_cap_closes_new_connections() {
    let app = http_app().await;
    let (_mesh, _server, client, entry) = pair(&app.addr.to_string(), "http");
    let mut open = Vec::new();
    for _ in 0..3 {
        // Each has started a head, so it is served (and held) until the header timeout.
        let mut conn = TcpStream::connect(entry).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        open.push(conn);
    }
    // Let the proxy accept all three before the fourth.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A whole request: had it waited in the backlog for a slot, it would be answered.
    let mut fourth = TcpStream::connect(entry).await.unwrap();
    let _ = fourth
        .write_all(b"GET / HTTP/1.1\r\nhost: api\r\n\r\n")
        .await;
    let got = closed_within_bound(&mut fourth, "the fourth connection").await;
    assert!(got.is_empty(), "served: {}", String::from_utf8_lossy(&got));
    let metrics = client.metrics().await;
    assert_eq!(
        limited(&metrics, "outbound", "max_connections"),
        1.0,
        "{metrics}"
    );
    drop(open);
    // The slots free as the proxy sees the three close: a request is served again.
    let deadline = Instant::now() + BOUND;
    loop {
        let mut conn = TcpStream::connect(entry).await.unwrap();
        let _ = conn
            .write_all(b"GET / HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n")
            .await;
        let got = closed_within_bound(&mut conn, "a request after the cap").await;
        if got.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never served again after the cap"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A stopped process (SIGSTOP), continued and killed when dropped.
struct Frozen(Child);

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.id().to_string()])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The app frozen with SIGSTOP (its kernel still accepts connections, nothing answers):
/// the inbound proxy answers 504 after the app response timeout instead of holding the
/// request until the client gives up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_app_is_answered_504_after_the_app_response_timeout() {
    use std::io::{BufRead, BufReader};
    let mut child = crate::proxy_support::meshctl()
        .args(["demo-app", "api", "--listen", "127.0.0.1:0"])
        .env("MESH_UPSTREAM_QUOTES", "127.0.0.1:1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let app: SocketAddr = line.trim().parse().unwrap();
    let status = Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _frozen = Frozen(child);

    let (_mesh, server, _client, entry) = pair(&app.to_string(), "http");
    let started = Instant::now();
    let mut conn = TcpStream::connect(entry).await.unwrap();
    conn.write_all(b"GET /api/quote?symbol=X HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = closed_within_bound(&mut conn, "a request to a frozen app").await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(text.contains("app response timeout"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "answered before the timeout"
    );
    let metrics = server.metrics().await;
    assert_eq!(
        timed_out(&metrics, "inbound", "app_response"),
        1.0,
        "{metrics}"
    );
}
