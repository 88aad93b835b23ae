//! The controller's two HTTP endpoints besides gRPC: the admission webhook (HTTPS, POST
//! `/inject`, AdmissionReview v1 in and out — the same injection as `meshctl inject`) and the
//! admin listener (plain HTTP: `/live`, `/ready`, `/metrics` for probes and Prometheus,
//! `/status` for `meshctl status` and `canary shift --wait`, `/stats` for `meshctl stat` and
//! the canary gates, `/tap` — streamed — for `meshctl tap` and `top`).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, Limited, StreamBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_stream::StreamExt as _;

use super::super::WEBHOOK_PATH;
use super::super::inject::{InjectOptions, admission_review};
use super::catalog::Index;
use super::proxies::{self, StatsQuery};
use super::tap::{TAP_TOKEN_HEADER, TapAuthority, TapQuery};
use crate::api::admin_http::AdminClient;

/// The largest AdmissionReview the webhook reads (a pod is far smaller; the API server
/// itself caps requests at 3 MiB).
pub const MAX_REVIEW_BYTES: usize = 4 << 20;
/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A whole answer, or a stream (`/tap`).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response
}

/// Serves HTTP/1.1 on `listener` (over TLS when `tls` is given), answering with `handle`.
pub async fn serve<F, Fut>(listener: TcpListener, tls: Option<TlsAcceptor>, handle: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(handle(req).await) }
            });
            match tls {
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                }
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// The webhook: `POST /inject` with an AdmissionReview. `injected` is told the namespace of
/// every pod it answers for (its trust-bundle ConfigMap must exist before the pod starts).
pub async fn webhook(
    req: Request<Incoming>,
    opts: Arc<InjectOptions>,
    injected: impl Fn(&str),
) -> Response<Body> {
    if req.uri().path() != WEBHOOK_PATH {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
    }
    let body = match Limited::new(req.into_body(), MAX_REVIEW_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("reading the AdmissionReview: {e}\n"),
            );
        }
    };
    let review: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("not an AdmissionReview: {e}\n"),
            );
        }
    };
    if review["request"]["uid"].as_str().is_none() {
        return text(
            StatusCode::BAD_REQUEST,
            "not an AdmissionReview: no request.uid\n",
        );
    }
    if let Some(ns) = review["request"]["namespace"].as_str() {
        injected(ns);
    }
    let answer = admission_review(&review, &opts);
    let mut response = Response::new(full(serde_json::to_vec(&answer).unwrap_or_default()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `/live`, `/ready` (once the caches are filled and the control plane serves), `/metrics`
/// (rendered by `metrics`) and `/status` (JSON, rendered by `status`, see
/// [`super::status::ControllerStatus`]).
pub fn admin(
    req: &Request<Incoming>,
    ready: &AtomicBool,
    metrics: impl FnOnce() -> String,
    status: impl FnOnce() -> String,
) -> Response<Body> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match req.uri().path() {
        "/live" => text(StatusCode::OK, "live\n"),
        "/ready" if ready.load(Relaxed) => text(StatusCode::OK, "ready\n"),
        "/ready" => not_ready(),
        "/metrics" => {
            let mut response = Response::new(full(metrics()));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        "/status" if ready.load(Relaxed) => json(status()),
        "/status" => not_ready(),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// 503 while the caches fill: an answer from half-filled caches would read as fact.
fn not_ready() -> Response<Body> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: filling the caches from the API server\n",
    )
}

/// `GET /stats?…` ([`super::proxies`]): 400 naming a bad parameter, 503 while the caches
/// fill (an empty answer then would read as "no meshed pods").
pub async fn stats(
    query: Option<&str>,
    ready: bool,
    index: Arc<Index>,
    client: &AdminClient,
    port: u16,
) -> Response<Body> {
    if !ready {
        return not_ready();
    }
    let query = match StatsQuery::parse(query.unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("/stats: {e}\n")),
    };
    let answer = proxies::collect(&index, &query, client, port).await;
    json(serde_json::to_string(&answer).unwrap_or_default())
}

/// A 200 carrying a JSON document.
fn json(body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `GET /tap?…` ([`super::tap`]): 401 without the tap token, 403 with another one, 503 while
/// the caches fill or the token cannot be read, 400 naming a bad parameter, else 200 and
/// NDJSON lines for as long as the caller reads.
pub async fn tap(
    req: &Request<Incoming>,
    ready: bool,
    index: Arc<Index>,
    token: Result<String, String>,
    authority: &TapAuthority,
    port: u16,
) -> Response<Body> {
    if !ready {
        return not_ready();
    }
    let Some(given) = req.headers().get(TAP_TOKEN_HEADER) else {
        return text(
            StatusCode::UNAUTHORIZED,
            &format!(
                "/tap: no {TAP_TOKEN_HEADER} header (the token of Secret {})\n",
                crate::kube::TAP_TOKEN_SECRET
            ),
        );
    };
    let expected = match token {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "/tap: the tap token cannot be read");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("/tap: the controller cannot read its tap token: {e}\n"),
            );
        }
    };
    if !super::tap::token_matches(&expected, given.to_str().unwrap_or("")) {
        return text(StatusCode::FORBIDDEN, "/tap: not the tap token\n");
    }
    let query = match TapQuery::parse(req.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("/tap: {e}\n")),
    };
    let lines = match super::tap::start(&index, &query, authority, port) {
        Ok(lines) => lines,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("/tap: {e}\n")),
    };
    let frames = tokio_stream::wrappers::ReceiverStream::new(lines).map(|line| {
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, Infallible>(hyper::body::Frame::data(Bytes::from(bytes)))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}
