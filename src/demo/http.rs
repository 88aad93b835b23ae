//! The HTTP plumbing the demo roles share: a server loop with graceful drain, a plain-TCP
//! client, and response helpers.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// Body of every demo response.
pub type Body = Full<Bytes>;
/// Client for demo-to-demo calls: plain HTTP over TCP. Unlike reqwest it ignores `HTTP_PROXY`,
/// so calls go to the `MESH_UPSTREAM_*` listener they name.
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Why a call to an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("bad request: {0}")]
    Request(#[from] http::Error),
    #[error("{0}")]
    Send(#[from] hyper_util::client::legacy::Error),
    #[error("reading the response: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Liveness path of every HTTP demo role.
pub const HEALTH_PATH: &str = "/healthz";
/// How long in-flight requests get to finish once shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Longest a demo app waits for its upstream.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest upstream response body a demo app reads.
pub const MAX_UPSTREAM_BODY: usize = 64 * 1024;

/// Serves HTTP/1.1 and HTTP/2 (h2c) on `listener` with `handler` until `shutdown` completes,
/// then lets open requests finish for up to [`DRAIN_TIMEOUT`].
pub async fn serve<H, F>(listener: TcpListener, handler: H, shutdown: impl Future<Output = ()>)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let handler = handler.clone();
                let service = service_fn(move |req| {
                    let response = handler(req);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let conn = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still open after {DRAIN_TIMEOUT:?}: closing them");
    }
}

/// A client for plain-HTTP calls to 127.0.0.1.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GETs `uri` within [`UPSTREAM_TIMEOUT`] and reads at most [`MAX_UPSTREAM_BODY`] bytes.
pub async fn get(client: &HttpClient, uri: &str) -> Result<(StatusCode, Bytes), CallError> {
    let request = Request::get(uri).body(Empty::new())?;
    let call = async {
        let response = client.request(request).await?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_UPSTREAM_BODY)
            .collect()
            .await
            .map_err(CallError::Body)?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, call)
        .await
        .map_err(|_| CallError::Timeout(UPSTREAM_TIMEOUT))?
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    respond(status, "application/json", value.to_string())
}

/// A plain-text response (a newline is added).
pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", format!("{body}\n"))
}

/// An HTML response.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    respond(status, "text/html; charset=utf-8", body)
}

/// `404` for unknown paths, `405` for known paths with another method.
pub fn not_found(known_path: bool) -> Response<Body> {
    if known_path {
        text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        text(StatusCode::NOT_FOUND, "not found")
    }
}

/// The value of `name` in a query string (`a=1&symbol=X`), undecoded.
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_parameters() {
        assert_eq!(query_param(Some("a=1&symbol=ACME"), "symbol"), Some("ACME"));
        assert_eq!(query_param(Some("symbol="), "symbol"), Some(""));
        assert_eq!(query_param(Some("a=1"), "symbol"), None);
        assert_eq!(query_param(None, "symbol"), None);
    }
}
