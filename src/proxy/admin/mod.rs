//! The admin listener (loopback by default): `/metrics` (Prometheus text), `/stats?window=SECS`
//! (windowed per-peer statistics as JSON, see [`crate::proxy::telemetry::stats`]), `/config` (what the proxy
//! runs with, as JSON, see [`crate::proxy::admin::dump`]), `/explain` and `/explain/inbound` (a dry
//! run of one request, see [`crate::proxy::admin::explain`]), `/ready` (503 once draining) and
//! `/live`.

pub mod dump;
pub mod explain;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::proxy::admin::dump::ConfigDump;
use crate::proxy::limits;
use crate::proxy::telemetry::metrics::Metrics;

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON: &str = "application/json";

/// `/stats` without `?window=`: `meshctl stat`'s default window.
pub const DEFAULT_STATS_WINDOW: Duration = Duration::from_secs(60);
/// How often the byte counters are sampled for bytes/s over a window (one stats slice).
const BYTES_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Serves admin requests until the process exits (it outlives the drain on purpose, so
/// `/ready` can report it).
///
/// `/ready` answers 503 until `ready` is set (control-plane mode: a certificate and a first
/// config are in place) and again once draining starts.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    draining: Arc<AtomicBool>,
    ready: Arc<AtomicBool>,
    dump: Arc<ConfigDump>,
) {
    tokio::spawn(sample_bytes(metrics.clone()));
    tokio::spawn(crate::proxy::memory::release_when_quiet(metrics.clone()));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(limits::ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        let draining = draining.clone();
        let ready = ready.clone();
        let dump = dump.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let response = respond(&req, &metrics, &draining, &ready, &dump);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn respond(
    req: &Request<Incoming>,
    metrics: &Metrics,
    draining: &AtomicBool,
    ready: &AtomicBool,
    dump: &ConfigDump,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let mut text = metrics.render();
            dump.render_split(&mut text);
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
            response
        }
        "/stats" => {
            let window = req
                .uri()
                .query()
                .and_then(window_param)
                .unwrap_or(DEFAULT_STATS_WINDOW);
            json(serde_json::to_vec(&metrics.stats(window)))
        }
        "/config" => json(serde_json::to_vec_pretty(&dump.view())),
        crate::api::explain::OUTBOUND_PATH => {
            match dump.explain_outbound(req.uri().query().unwrap_or("")) {
                Ok(answer) => json(serde_json::to_vec_pretty(&answer)),
                Err(e) => bad_request(e),
            }
        }
        crate::api::explain::INBOUND_PATH => {
            match dump.explain_inbound(req.uri().query().unwrap_or("")) {
                Ok(answer) => json(serde_json::to_vec_pretty(&answer)),
                Err(e) => bad_request(e),
            }
        }
        "/ready" if draining.load(Relaxed) => text(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/ready" if !ready.load(Relaxed) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: waiting for a certificate and configuration from the control plane\n",
        ),
        "/ready" => text(StatusCode::OK, "ready\n"),
        "/live" => text(StatusCode::OK, "live\n"),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /stats, /config, /explain, /ready or /live\n",
        ),
    }
}

/// `window=SECS` from a query string.
fn window_param(query: &str) -> Option<Duration> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("window="))
        .and_then(|secs| secs.parse().ok())
        .map(Duration::from_secs)
}

async fn sample_bytes(metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(BYTES_SAMPLE_INTERVAL);
    loop {
        tick.tick().await;
        metrics.sample_bytes();
    }
}

fn json(encoded: serde_json::Result<Vec<u8>>) -> Response<Full<Bytes>> {
    match encoded {
        Ok(body) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
            response
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode JSON\n"),
    }
}

/// 400 with the reason on one line.
fn bad_request(e: impl std::fmt::Display) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{e}\n"))));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}
