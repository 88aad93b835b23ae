//! What the proxy tells about its traffic: Prometheus metrics, windowed `/stats`, live tap
//! (with credential redaction) and OTLP spans.

pub mod limit_metrics;
pub mod metrics;
pub mod policy_metrics;
pub mod redact;
pub mod responses;
pub mod stats;
pub mod tap;
pub mod tap_mtls;
pub mod trace;

use std::net::SocketAddr;
use std::time::Instant;

use http::Response;
use hyper::body::Body;

use crate::proxy::Shared;
use crate::proxy::protocol::http::is_grpc;
use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::telemetry::responses::{Counted, GrpcStatus, Pending};
use crate::proxy::telemetry::stats::Labels;
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
    /// The version of the endpoint called (outbound); empty when not known.
    pub peer_version: &'a str,
    /// The name of the route the request matched (outbound); empty for none or unnamed.
    pub route: &'a str,
    /// The endpoint called (outbound) or the app (inbound).
    pub peer_addr: Option<SocketAddr>,
}

/// The last step of every proxied HTTP request, inbound and outbound alike: counted (metrics
/// and `/stats`; a gRPC response whose status comes in trailers is counted in the labelled
/// series when they arrive), its span ended, and the response handed to the tap, which
/// follows its body to the end.
#[inline]
pub fn finish<B: Body + Unpin>(
    shared: &Shared,
    ending: Ending<'_>,
    span: Option<Span>,
    tapped: Option<TapRequest>,
    response: Response<B>,
) -> Response<TapBody<Counted<B>>> {
    let status = response.status();
    let elapsed = ending.start.elapsed();
    let headers = response.headers();
    // `None`: a gRPC response whose status is still to come, in its trailers.
    let grpc = match GrpcStatus::parse(headers) {
        Some(code) => Some(code),
        None if is_grpc(headers) => None,
        None => Some(GrpcStatus::NotGrpc),
    };
    let labels = grpc.map(|grpc| Labels {
        version: ending.peer_version,
        route: ending.route,
        grpc,
    });
    (shared.metrics).request(ending.direction, ending.peer_id, status, elapsed, labels);
    if let (Some(tracer), Some(span)) = (&shared.tracer, span) {
        let outcome = Outcome {
            status,
            headers: response.headers(),
            peer_id: ending.peer_id,
            peer_addr: ending.peer_addr,
        };
        tracer.end(span, outcome);
    }
    let response = match grpc {
        Some(_) => response.map(Counted::done),
        None => response.map(|body| {
            let pending = Pending {
                metrics: shared.metrics.clone(),
                direction: ending.direction,
                peer: ending.peer_id.to_string(),
                version: ending.peer_version.into(),
                route: ending.route.into(),
                status,
                latency: elapsed,
            };
            Counted::at_trailers(body, pending)
        }),
    };
    tap::observe(tapped, response)
}
