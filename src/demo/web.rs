//! The `web` role: the HTTP frontend; `GET /` asks `api` for a quote and shows which api
//! version answered (HTML, or JSON for `Accept: application/json`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::header::ACCEPT;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use super::api::QUOTE_PATH;
use super::http::{self as demo_http, Body, HEALTH_PATH, HttpClient};

/// The symbols the front page cycles through, one per request.
pub const SYMBOLS: &[&str] = &["ACME", "MESH", "RUST", "TOKIO", "HYPER"];

/// The frontend: where `api` listens and a client to call it.
#[derive(Debug)]
pub struct Web {
    api_addr: String,
    client: HttpClient,
    next_symbol: AtomicUsize,
}

/// What `api` answers on `/api/quote`.
#[derive(Debug, Deserialize)]
struct ApiQuote {
    served_by: String,
    version: String,
    symbol: String,
    price_cents: i64,
    quote_served_by: String,
}

impl Web {
    /// A frontend that calls `api` at `api_addr` (host:port, plain HTTP).
    pub fn new(api_addr: String) -> Web {
        Web {
            api_addr,
            client: demo_http::client(),
            next_symbol: AtomicUsize::new(0),
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/") => {
                let wants_json = req
                    .headers()
                    .get(ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("application/json"));
                self.index(wants_json).await
            }
            (&Method::GET, HEALTH_PATH) => demo_http::text(StatusCode::OK, "ok"),
            (_, path) => demo_http::not_found(path == "/" || path == HEALTH_PATH),
        }
    }

    async fn index(&self, wants_json: bool) -> Response<Body> {
        let symbol = SYMBOLS[self.next_symbol.fetch_add(1, Ordering::Relaxed) % SYMBOLS.len()];
        let uri = format!("http://{}{QUOTE_PATH}?symbol={symbol}", self.api_addr);
        let quote = match demo_http::get(&self.client, &uri).await {
            Ok((StatusCode::OK, body)) => serde_json::from_slice::<ApiQuote>(&body)
                .map_err(|e| format!("api at {} answered unreadable JSON: {e}", self.api_addr)),
            Ok((status, _)) => Err(format!("api at {} answered {status}", self.api_addr)),
            Err(e) => Err(format!("calling api at {}: {e}", self.api_addr)),
        };
        match (quote, wants_json) {
            (Ok(q), true) => demo_http::json(
                StatusCode::OK,
                &json!({
                    "symbol": q.symbol,
                    "price_cents": q.price_cents,
                    "api_version": q.version,
                    "api_served_by": q.served_by,
                    "quote_served_by": q.quote_served_by,
                }),
            ),
            (Ok(q), false) => demo_http::html(StatusCode::OK, page(&q)),
            (Err(why), true) => demo_http::json(StatusCode::BAD_GATEWAY, &json!({ "error": why })),
            (Err(why), false) => demo_http::text(StatusCode::BAD_GATEWAY, &why),
        }
    }
}

/// Serves `web` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, web: Web, shutdown: impl Future<Output = ()>) {
    let web = Arc::new(web);
    demo_http::serve(listener, move |req| web.clone().handle(req), shutdown).await;
}

fn page(q: &ApiQuote) -> String {
    format!(
        "<!doctype html>\n<html><head><title>meshctl demo</title></head><body>\n\
         <h1>{symbol}: ${dollars}.{cents:02}</h1>\n\
         <p>answered by <b>{api}</b> (version {version}), price from <b>{quotes}</b></p>\n\
         </body></html>\n",
        symbol = escape(&q.symbol),
        dollars = q.price_cents / 100,
        cents = q.price_cents.rem_euclid(100),
        api = escape(&q.served_by),
        version = escape(&q.version),
        quotes = escape(&q.quote_served_by),
    )
}

/// Upstream answers are data, not markup.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_names_the_api_version_and_escapes_upstream_text() {
        let q = ApiQuote {
            served_by: "api v2".into(),
            version: "v2".into(),
            symbol: "<b>".into(),
            price_cents: 12_345,
            quote_served_by: "quotes".into(),
        };
        let html = page(&q);
        assert!(html.contains("$123.45"), "{html}");
        assert!(html.contains("<b>api v2</b> (version v2)"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }
}
