//! The `quotes` role: the gRPC `meshctl.demo.v1.Quotes` server (`GetQuote`, `StreamQuotes`).

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

use super::faults::{Faults, Rng};
use crate::api::proto::demo::quotes_server::{Quotes, QuotesServer};
use crate::api::proto::demo::{Quote, QuoteRequest};

/// Typical latency of a quote unless configured.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(2);
/// Share of calls that fail (UNAVAILABLE) unless configured.
pub const DEFAULT_ERROR_RATE: f64 = 0.0;
/// `served_by` of every quote: the service name, and the version when one is given.
pub const SERVICE_NAME: &str = "quotes";
/// Quotes one `StreamQuotes` call sends.
pub const STREAM_LEN: usize = 5;
/// Pause between two streamed quotes.
pub const STREAM_INTERVAL: Duration = Duration::from_millis(100);
/// Longest accepted symbol.
pub const MAX_SYMBOL_LEN: usize = 8;
/// Price range of the made-up market, in cents: $10.00 up to $1000.00.
const MIN_PRICE_CENTS: u64 = 1_000;
const PRICE_RANGE_CENTS: u64 = 99_000;

/// The service: made-up prices that wobble around a per-symbol base.
#[derive(Debug)]
pub struct QuoteService {
    served_by: String,
    faults: Faults,
}

impl QuoteService {
    /// `served_by` goes into every quote (e.g. `quotes` or `quotes v2`).
    pub fn new(served_by: String, faults: Faults) -> QuoteService {
        QuoteService { served_by, faults }
    }

    /// The delay and the injected failure every call goes through.
    async fn answer(&self, request: &QuoteRequest) -> Result<Quote, Status> {
        check_symbol(&request.symbol)?;
        self.faults.delay().await;
        if self.faults.should_fail() {
            return Err(Status::unavailable(format!(
                "{}: injected failure",
                self.served_by
            )));
        }
        Ok(quote(&self.served_by, &request.symbol, self.faults.rng()))
    }
}

#[tonic::async_trait]
impl Quotes for QuoteService {
    async fn get_quote(&self, request: Request<QuoteRequest>) -> Result<Response<Quote>, Status> {
        self.answer(request.get_ref()).await.map(Response::new)
    }

    type StreamQuotesStream = ReceiverStream<Result<Quote, Status>>;

    async fn stream_quotes(
        &self,
        request: Request<QuoteRequest>,
    ) -> Result<Response<Self::StreamQuotesStream>, Status> {
        let first = self.answer(request.get_ref()).await?;
        let (tx, rx) = mpsc::channel(STREAM_LEN);
        let served_by = self.served_by.clone();
        let rng = Rng::seeded(self.faults.rng().next_u64());
        tokio::spawn(async move {
            let mut next = first;
            for _ in 0..STREAM_LEN {
                if tx.send(Ok(next.clone())).await.is_err() {
                    return; // the client went away
                }
                tokio::time::sleep(STREAM_INTERVAL).await;
                next = quote(&served_by, &next.symbol, &rng);
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Serves `Quotes` over h2c on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    service: QuoteService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(QuotesServer::new(service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

/// A made-up price: ±1% around a base that depends only on the symbol.
fn quote(served_by: &str, symbol: &str, rng: &Rng) -> Quote {
    let base = MIN_PRICE_CENTS + fnv1a(symbol.as_bytes()) % PRICE_RANGE_CENTS;
    let wobble = 0.99 + 0.02 * rng.next_f64();
    Quote {
        symbol: symbol.to_string(),
        price_cents: (base as f64 * wobble).round() as i64,
        served_by: served_by.to_string(),
    }
}

fn check_symbol(symbol: &str) -> Result<(), Status> {
    let valid = !symbol.is_empty()
        && symbol.len() <= MAX_SYMBOL_LEN
        && symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "invalid symbol `{symbol}`: 1 to {MAX_SYMBOL_LEN} upper-case letters or digits"
        )))
    }
}

/// FNV-1a: a stable hash, so a symbol keeps its price level across runs and processes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::proto::demo::quotes_client::QuotesClient;

    async fn start(
        faults: Faults,
    ) -> (
        QuotesClient<tonic::transport::Channel>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = QuoteService::new("quotes v9".into(), faults);
        tokio::spawn(serve(listener, service, async {
            let _ = stopped.await;
        }));
        let client = QuotesClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        (client, stop)
    }

    fn request(symbol: &str) -> QuoteRequest {
        QuoteRequest {
            symbol: symbol.into(),
        }
    }

    #[tokio::test]
    async fn get_quote_names_the_server_and_keeps_a_price_level() {
        let (mut client, _stop) = start(Faults::new(Duration::from_millis(1), 0.0)).await;
        let a = client
            .get_quote(request("ACME"))
            .await
            .unwrap()
            .into_inner();
        let b = client
            .get_quote(request("ACME"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(a.symbol, "ACME");
        assert_eq!(a.served_by, "quotes v9");
        assert!(a.price_cents >= 990 && a.price_cents <= 101_000);
        assert!((a.price_cents - b.price_cents).abs() <= a.price_cents / 40);
    }

    #[tokio::test]
    async fn stream_quotes_sends_a_few_quotes() {
        let (mut client, _stop) = start(Faults::new(Duration::ZERO, 0.0)).await;
        let mut stream = client
            .stream_quotes(request("MESH"))
            .await
            .unwrap()
            .into_inner();
        let mut got = Vec::new();
        while let Some(q) = stream.message().await.unwrap() {
            got.push(q);
        }
        assert_eq!(got.len(), STREAM_LEN);
        assert!(
            got.iter()
                .all(|q| q.symbol == "MESH" && q.served_by == "quotes v9")
        );
    }

    #[tokio::test]
    async fn bad_symbols_and_injected_failures_are_grpc_errors() {
        let (mut client, _stop) = start(Faults::new(Duration::ZERO, 1.0)).await;
        let bad = client.get_quote(request("no")).await.unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        let failed = client.get_quote(request("ACME")).await.unwrap_err();
        assert_eq!(failed.code(), tonic::Code::Unavailable);
    }
}
