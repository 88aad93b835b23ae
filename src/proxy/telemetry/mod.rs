//! What the proxy tells about its traffic: Prometheus metrics, windowed `/stats`, live tap
//! (with credential redaction) and OTLP spans.

pub mod limit_metrics;
pub mod metrics;
pub mod policy_metrics;
pub mod redact;
pub mod stats;
pub mod tap;
pub mod tap_mtls;
pub mod trace;

use std::net::SocketAddr;
use std::time::Instant;

use http::Response;
use hyper::body::Body;

use crate::proxy::Shared;
use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::telemetry::tap::{TapBody, TapRequest};
use crate::proxy::telemetry::trace::{Outcome, Span};

/// Who a finished request was exchanged with, and since when.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    pub direction: Direction,
    pub start: Instant,
    /// The SPIFFE ID of the other side (the peer called, or the verified caller), or
    /// [`stats::NO_PEER`] when the proxy answered before choosing one.
    pub peer_id: &'a str,
    /// The endpoint called (outbound) or the app (inbound).
    pub peer_addr: Option<SocketAddr>,
}

/// The last step of every proxied HTTP request, inbound and outbound alike: counted (metrics
/// and `/stats`), its span ended, and the response handed to the tap, which follows its
/// body to the end.
pub fn finish<B: Body>(
    shared: &Shared,
    ending: Ending<'_>,
    span: Option<Span>,
    tapped: Option<TapRequest>,
    response: Response<B>,
) -> Response<TapBody<B>> {
    let status = response.status();
    let elapsed = ending.start.elapsed();
    shared
        .metrics
        .request(ending.direction, ending.peer_id, status, elapsed);
    if let (Some(tracer), Some(span)) = (&shared.tracer, span) {
        let outcome = Outcome {
            status,
            headers: response.headers(),
            peer_id: ending.peer_id,
            peer_addr: ending.peer_addr,
        };
        tracer.end(span, outcome);
    }
    tap::observe(tapped, response)
}
