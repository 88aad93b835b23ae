//! The `api` role: an HTTP JSON API whose `/api/quote` asks the gRPC `quotes` service; it runs
//! as v1 and v2 so canaries have two versions to split between.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use super::faults::Faults;
use super::http::{self as demo_http, Body, HEALTH_PATH, UPSTREAM_TIMEOUT};
use crate::api::proto::demo::QuoteRequest;
use crate::api::proto::demo::quotes_client::QuotesClient;

/// The path that calls `quotes` (and the one with injected latency and errors).
pub const QUOTE_PATH: &str = "/api/quote";
/// Typical latency of `/api/quote` (before the call to quotes) unless configured.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(5);
/// Share of `/api/quote` requests that fail with 500 unless configured.
pub const DEFAULT_ERROR_RATE: f64 = 0.02;
/// Version an api instance reports unless configured.
pub const DEFAULT_VERSION: &str = "v1";
/// Symbol quoted when the request names none.
pub const DEFAULT_SYMBOL: &str = "MESH";

/// One api instance: its version, its faults, and its client for `quotes`.
#[derive(Debug)]
pub struct Api {
    version: String,
    faults: Faults,
    quotes: QuotesClient<Channel>,
}

/// Why the api could not start.
#[derive(Debug, thiserror::Error)]
#[error("invalid quotes address `{addr}`: {source}")]
pub struct BadUpstream {
    addr: String,
    #[source]
    source: tonic::transport::Error,
}

impl Api {
    /// An api `version` that calls `quotes` at `quotes_addr` (host:port, h2c). Connects lazily:
    /// the api starts, and answers 502, while `quotes` is still down.
    pub fn new(version: String, faults: Faults, quotes_addr: &str) -> Result<Api, BadUpstream> {
        let bad = |source| BadUpstream {
            addr: quotes_addr.to_string(),
            source,
        };
        let channel = Endpoint::from_shared(format!("http://{quotes_addr}"))
            .map_err(bad)?
            .connect_timeout(UPSTREAM_TIMEOUT)
            .timeout(UPSTREAM_TIMEOUT)
            .connect_lazy();
        Ok(Api {
            version,
            faults,
            quotes: QuotesClient::new(channel),
        })
    }

    fn served_by(&self) -> String {
        format!("api {}", self.version)
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, QUOTE_PATH) => {
                let symbol = demo_http::query_param(req.uri().query(), "symbol")
                    .unwrap_or(DEFAULT_SYMBOL)
                    .to_string();
                self.quote(symbol).await
            }
            (&Method::GET, HEALTH_PATH) => demo_http::text(StatusCode::OK, "ok"),
            (_, path) => demo_http::not_found(path == QUOTE_PATH || path == HEALTH_PATH),
        }
    }

    async fn quote(&self, symbol: String) -> Response<Body> {
        self.faults.delay().await;
        if self.faults.should_fail() {
            return demo_http::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": "injected failure", "served_by": self.served_by(), "version": self.version }),
            );
        }
        let answer = self.quotes.clone().get_quote(QuoteRequest { symbol }).await;
        match answer {
            Ok(quote) => {
                let quote = quote.into_inner();
                demo_http::json(
                    StatusCode::OK,
                    &json!({
                        "served_by": self.served_by(),
                        "version": self.version,
                        "symbol": quote.symbol,
                        "price_cents": quote.price_cents,
                        "quote_served_by": quote.served_by,
                    }),
                )
            }
            Err(status) => {
                let code = if status.code() == tonic::Code::InvalidArgument {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::BAD_GATEWAY
                };
                demo_http::json(
                    code,
                    &json!({
                        "error": format!("quotes: {}", status.message()),
                        "served_by": self.served_by(),
                        "version": self.version,
                    }),
                )
            }
        }
    }
}

/// Serves `api` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, api: Api, shutdown: impl Future<Output = ()>) {
    let api = Arc::new(api);
    demo_http::serve(listener, move |req| api.clone().handle(req), shutdown).await;
}
