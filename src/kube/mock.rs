//! A fake Kubernetes API server for the unit tests: a kube `Client` over a tower-test mock
//! whose answers come from a closure, recording every request it saw.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;

use super::client::Target;

/// One request as the API server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub content_type: String,
    pub body: String,
    pub headers: http::HeaderMap,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// What the handler answers: a status and a JSON body, or `None` to fail the connection
/// (an unreachable server).
pub type Answer = Option<(StatusCode, serde_json::Value)>;

/// A cluster handle on `client` for namespace `shop`, reaching the controller through the
/// pods proxy in `meshctl-system` (what most command tests need).
pub fn cluster(client: kube::Client) -> super::mesh::Cluster {
    super::mesh::Cluster {
        client,
        target: target(),
        namespace: "shop".into(),
        admin: super::mesh::ControllerAdmin::PodsProxy {
            namespace: "meshctl-system".into(),
        },
        request_timeout: std::time::Duration::from_secs(5),
    }
}

pub fn target() -> Target {
    Target {
        context: "test-ctx".into(),
        server: "https://203.0.113.7:6443/".into(),
    }
}

/// A client whose requests `handler` answers; the log records them in order.
pub fn client(handler: impl Fn(&Seen) -> Answer + Send + 'static) -> (kube::Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log: Log = Arc::default();
    let seen_log = log.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = http_body_util::BodyExt::collect(body)
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method.to_string(),
                uri: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
                headers: parts.headers.clone(),
            };
            let answer = handler(&seen);
            seen_log.lock().unwrap().push(seen);
            match answer {
                Some((status, json)) => {
                    let response = Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&json).unwrap()))
                        .unwrap();
                    send.send_response(response);
                }
                None => send.send_error(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "connection refused",
                )),
            }
        }
    });
    (kube::Client::new(service, "default"), log)
}

/// A Kubernetes `Status` failure body.
pub fn status(code: u16, reason: &str, message: &str) -> Answer {
    Some((
        StatusCode::from_u16(code).unwrap(),
        serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "code": code, "reason": reason, "message": message,
        }),
    ))
}

/// 200 with the request's own body echoed (what an apply returns, near enough).
pub fn echo(seen: &Seen) -> Answer {
    let value = serde_json::from_str(&seen.body).unwrap_or(serde_json::json!({}));
    Some((StatusCode::OK, value))
}

/// 200 with `value`.
pub fn ok(value: serde_json::Value) -> Answer {
    Some((StatusCode::OK, value))
}

/// An empty list of `kind`.
pub fn empty_list(kind: &str) -> Answer {
    ok(serde_json::json!({
        "kind": format!("{kind}List"), "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"}, "items": [],
    }))
}
