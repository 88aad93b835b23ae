//! The admin client against a tiny local server: success, non-200, deadline, body limit,
//! bad JSON, refused connections, the bearer token and base URLs with a path.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;

/// What the tiny server does after reading a request.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes and closes.
    Bytes(Vec<u8>),
    /// Writes these bytes, then holds the connection open without writing more.
    Stall(Vec<u8>),
}

/// Serves one connection with `answer`; the request head comes back on the channel.
async fn serve_once(answer: Answer) -> (SocketAddr, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
        match answer {
            Answer::Bytes(b) => {
                let _ = s.write_all(&b).await;
                let _ = s.shutdown().await;
            }
            Answer::Stall(b) => {
                let _ = s.write_all(&b).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    });
    (addr, rx)
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn client(timeout: Duration, max_body: usize) -> AdminClient {
    AdminClient::new(AdminClientOptions {
        timeout,
        max_body,
        ..AdminClientOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn decodes_a_200_json_body_and_sends_a_plain_get() {
    let (addr, head) = serve_once(Answer::Bytes(response("200 OK", r#"{"a":1}"#))).await;
    let base = AdminClient::local_base(addr).unwrap();
    let v = client(Duration::from_secs(2), 1024)
        .config(&base)
        .await
        .unwrap();
    assert_eq!(v["a"], 1);
    let head = head.await.unwrap();
    assert!(head.starts_with("GET /config HTTP/1.1\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
}

#[tokio::test]
async fn stats_asks_for_the_window_in_seconds() {
    let body = r#"{"window_secs":10,"peers":[]}"#;
    let (addr, head) = serve_once(Answer::Bytes(response("200 OK", body))).await;
    let base = AdminClient::local_base(addr).unwrap();
    // Whether or not the body matches StatsSnapshot, the request line is what matters here.
    let _ = client(Duration::from_secs(2), 1024)
        .stats(&base, Duration::from_secs(10))
        .await;
    let head = head.await.unwrap();
    assert!(
        head.starts_with("GET /stats?window=10 HTTP/1.1\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn a_non_200_answer_names_the_url_status_and_what_the_server_said() {
    let (addr, _) = serve_once(Answer::Bytes(response(
        "404 Not Found",
        "not found: try /metrics,\n /stats\n",
    )))
    .await;
    let base = AdminClient::local_base(addr).unwrap();
    let err = client(Duration::from_secs(2), 1024)
        .ready(&base)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(
        err.to_string(),
        format!("GET http://{addr}/ready: answered 404 Not Found: not found: try /metrics, /stats")
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_naming_the_deadline() {
    let (addr, _) = serve_once(Answer::Stall(Vec::new())).await;
    let base = AdminClient::local_base(addr).unwrap();
    let started = std::time::Instant::now();
    let err = client(Duration::from_millis(300), 1024)
        .config(&base)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("GET http://{addr}/config: no complete answer within 300ms")
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_that_stalls_midway_times_out_too() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"a\":".to_vec();
    let (addr, _) = serve_once(Answer::Stall(head)).await;
    let base = AdminClient::local_base(addr).unwrap();
    let err = client(Duration::from_millis(300), 1024)
        .config(&base)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n".to_vec();
    let (addr, _) = serve_once(Answer::Stall(head)).await;
    let base = AdminClient::local_base(addr).unwrap();
    let err = client(Duration::from_secs(5), 1024)
        .config(&base)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("GET http://{addr}/config: body over the 1024-byte limit")
    );
}

#[tokio::test]
async fn an_undeclared_body_over_the_limit_is_cut_off() {
    // HTTP/1.0 style: no length, the body ends when the connection closes.
    let mut raw = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b' ', 4096));
    let (addr, _) = serve_once(Answer::Bytes(raw)).await;
    let base = AdminClient::local_base(addr).unwrap();
    let err = client(Duration::from_secs(5), 1024)
        .config(&base)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdminError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_json_says_so() {
    let (addr, _) = serve_once(Answer::Bytes(response("200 OK", "{not json"))).await;
    let base = AdminClient::local_base(addr).unwrap();
    let err = client(Duration::from_secs(2), 1024)
        .config(&base)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("GET http://{addr}/config: bad JSON: ")),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_connection_says_connection_refused() {
    // Bind, learn the port, close: nothing listens there now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let base = AdminClient::local_base(addr).unwrap();
    let err = client(Duration::from_secs(2), 1024)
        .ready(&base)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("GET http://{addr}/ready: connection refused")
    );
    assert!(!err.to_string().contains('\n'));
}

#[tokio::test]
async fn the_bearer_token_is_sent_and_a_base_path_is_kept() {
    let (addr, head) = serve_once(Answer::Bytes(response("200 OK", "{}"))).await;
    let client = AdminClient::new(AdminClientOptions {
        bearer_token: Some("s3cret\n".into()),
        ..AdminClientOptions::default()
    })
    .unwrap();
    // The shape of a Kubernetes API server's pod proxy (without the trailing slash).
    let base: Url = format!("http://{addr}/api/v1/namespaces/demo/pods/web-0:15000/proxy")
        .parse()
        .unwrap();
    client.config(&base).await.unwrap();
    let head = head.await.unwrap();
    assert!(
        head.starts_with("GET /api/v1/namespaces/demo/pods/web-0:15000/proxy/config HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer s3cret\r\n"),
        "{head}"
    );
}

#[test]
fn a_ca_pem_without_certificates_is_refused() {
    let err = AdminClient::new(AdminClientOptions {
        ca_pem: Some(b"not a pem".to_vec()),
        ..AdminClientOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("CA"), "{err}");
}

#[test]
fn a_ca_pem_with_a_certificate_is_accepted() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["apiserver".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    AdminClient::new(AdminClientOptions {
        ca_pem: Some(cert.pem().into_bytes()),
        ..AdminClientOptions::default()
    })
    .unwrap();
}
