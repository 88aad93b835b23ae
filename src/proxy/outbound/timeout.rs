//! Request timeouts: the proxy stops waiting for a peer's response head after the route's
//! timeout and answers itself — 504, or for gRPC a trailers-only DEADLINE_EXCEEDED.
//!
//! The timeout covers getting the response head (connecting included), not the body: a
//! streaming response that has started is never cut off by it.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future;
use http::{HeaderValue, Response, StatusCode};

use crate::proxy::protocol::http::{ProxyBody, error_response, grpc_error};

/// `grpc-status` of a call that ran out of time (DEADLINE_EXCEEDED).
pub const GRPC_DEADLINE_EXCEEDED: &str = "4";
/// Why the proxy answered, in `x-meshctl-proxy-error` (and `grpc-message`).
pub const TIMED_OUT: &str = "request timeout";

/// The peer did not answer within the request timeout.
#[derive(Debug, thiserror::Error)]
#[error("no response within {0:?}")]
pub struct RequestTimedOut(pub Duration);

/// Runs `call` within `limit` (`None`: no limit), counted from now.
///
/// A combinator rather than an `async fn`: an async fn's state would hold `call` twice (the
/// argument, and the timeout future it moves into), and every request's future is moved
/// several times on its way into a task, so its size is paid per request (bench/RESULTS.md,
/// session 7).
pub fn within<F: Future>(
    limit: Option<Duration>,
    call: F,
) -> impl Future<Output = Result<F::Output, RequestTimedOut>> {
    match limit {
        None => future::Either::Left(call.map(Ok)),
        Some(limit) => future::Either::Right(
            tokio::time::timeout(limit, call).map(move |r| r.map_err(|_| RequestTimedOut(limit))),
        ),
    }
}

/// The answer to a timed-out request: 504, or for gRPC a trailers-only response (HTTP 200,
/// `grpc-status: 4`, no body) as gRPC clients expect.
pub fn timed_out_response(grpc: bool) -> Response<ProxyBody> {
    if !grpc {
        return error_response(StatusCode::GATEWAY_TIMEOUT, TIMED_OUT);
    }
    grpc_error(HeaderValue::from_static(GRPC_DEADLINE_EXCEEDED), TIMED_OUT)
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use http::header::CONTENT_TYPE;

    use super::*;
    use crate::proxy::protocol::http::is_grpc;

    #[tokio::test]
    async fn a_call_past_its_limit_times_out_and_one_within_it_does_not() {
        let slow = tokio::time::sleep(Duration::from_secs(5));
        let limit = Duration::from_millis(20);
        assert!(within(Some(limit), slow).await.is_err());
        assert_eq!(within(Some(limit), async { 7 }).await.unwrap(), 7);
        assert_eq!(within(None, async { 7 }).await.unwrap(), 7);
    }

    #[test]
    fn grpc_calls_get_deadline_exceeded_and_others_504() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        assert!(is_grpc(&h));
        let grpc = timed_out_response(true);
        assert_eq!(grpc.status(), StatusCode::OK);
        assert_eq!(grpc.headers()["grpc-status"], "4");
        assert_eq!(
            timed_out_response(false).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
    }
}
