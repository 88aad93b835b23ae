//! Labelled response metrics, for dashboards and per-version SLOs:
//! `meshctl_responses_total` and the histogram `meshctl_response_duration_seconds`, both by
//! `direction`, the peer's identity (`peer_namespace`, `peer_service`), `peer_version`,
//! `route` (the name of the route the request matched), `status_code`, `grpc_status` and
//! `classification`.
//!
//! Cardinality is bounded by the mesh, never by request data: peers are verified SPIFFE IDs;
//! a version is one the control plane declared for an endpoint (outbound only: a caller's
//! version is not part of its identity); a route is one named in the control plane's
//! configuration (outbound only); a status code is one of 100–999; a gRPC status is
//! one of the 17 codes (anything else is counted as 2, UNKNOWN, as gRPC clients read it).
//! Each peer keeps at most [`MAX_SERIES_PER_PEER`] label sets; further ones are counted
//! under `status_code="other"`.
//!
//! A series lives in the same per-peer entry as the windowed `/stats` slices (one lock per
//! request for both). A gRPC response whose status comes in trailers is counted when they
//! arrive ([`Counted`]), with the latency of its head like every other response.

use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use hyper::body::{Body, Frame, SizeHint};

use crate::proxy::telemetry::metrics::escape_label;
use crate::proxy::telemetry::metrics::{Direction, LATENCY_BUCKETS, Metrics};
use crate::proxy::telemetry::stats::Labels;

/// Label sets one peer may have (per direction); more are folded into one overflow series.
pub const MAX_SERIES_PER_PEER: usize = 256;

/// The highest gRPC status code (`UNAUTHENTICATED`).
const MAX_GRPC_CODE: u8 = 16;
/// gRPC's `UNKNOWN`: how a code outside 0–16 is read.
const GRPC_UNKNOWN: u8 = 2;

/// The gRPC outcome of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcStatus {
    /// Not a gRPC response.
    NotGrpc,
    /// `grpc-status` as sent (codes outside 0–16 read as 2).
    Code(u8),
    /// A gRPC response that ended without a `grpc-status` (reset, cut off): a failure.
    Missing,
}

impl GrpcStatus {
    /// From a `grpc-status` header or trailer value.
    pub fn parse(headers: &HeaderMap) -> Option<GrpcStatus> {
        let value = headers.get("grpc-status")?;
        let code = std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|c| *c <= MAX_GRPC_CODE)
            .unwrap_or(GRPC_UNKNOWN);
        Some(GrpcStatus::Code(code))
    }

    fn label(self, out: &mut String) {
        match self {
            GrpcStatus::Code(c) => {
                let _ = write!(out, "{c}");
            }
            GrpcStatus::NotGrpc | GrpcStatus::Missing => {}
        }
    }
}

/// `failure`: a 5xx, a non-zero gRPC status, or a gRPC response that never said; else
/// `success` (a 4xx is the client's doing, as in `meshctl stat`).
fn classification(status: u16, grpc: GrpcStatus) -> &'static str {
    let failed = status >= 500
        || matches!(grpc, GrpcStatus::Missing)
        || matches!(grpc, GrpcStatus::Code(c) if c != 0);
    if failed { "failure" } else { "success" }
}

/// One label set's counts: a latency histogram whose count is the response count.
#[derive(Debug)]
pub(crate) struct Series {
    version: Arc<str>,
    route: Arc<str>,
    /// 0: the overflow series (`status_code="other"`).
    status: u16,
    grpc: GrpcStatus,
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: u64,
}

/// Every label set of one peer in one direction.
#[derive(Debug, Default)]
pub(crate) struct PeerSeries(Vec<Series>);

impl PeerSeries {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn record(&mut self, labels: Labels<'_>, status: u16, latency: Duration) {
        let grpc = labels.grpc;
        let found = self.0.iter().position(|s| {
            s.status == status
                && s.grpc == grpc
                && *s.version == *labels.version
                && *s.route == *labels.route
        });
        let index = match found {
            Some(i) => i,
            None if self.0.len() < MAX_SERIES_PER_PEER => {
                let series = Series::new(labels.version.into(), labels.route.into(), status, grpc);
                self.0.push(series);
                self.0.len() - 1
            }
            None => match self.0.iter().position(|s| s.status == 0) {
                Some(i) => i,
                None => {
                    let other = Series::new("".into(), "".into(), 0, GrpcStatus::NotGrpc);
                    self.0.push(other);
                    self.0.len() - 1
                }
            },
        };
        self.0[index].observe(latency);
    }

    /// Appends this peer's series of both families to `counts` and `histograms`.
    pub fn render(
        &self,
        direction: Direction,
        peer: &str,
        counts: &mut String,
        histograms: &mut String,
    ) {
        let (namespace, service) = identity_labels(peer);
        for s in &self.0 {
            let mut labels = String::with_capacity(160);
            let _ = write!(
                labels,
                "direction=\"{}\",peer_namespace=\"{namespace}\",peer_service=\"{service}\",\
                 peer_version=\"{}\",route=\"{}\",status_code=\"",
                direction.label(),
                escape_label(&s.version),
                escape_label(&s.route),
            );
            if s.status == 0 {
                labels.push_str("other");
            } else {
                let _ = write!(labels, "{}", s.status);
            }
            labels.push_str("\",grpc_status=\"");
            s.grpc.label(&mut labels);
            let _ = write!(
                labels,
                "\",classification=\"{}\"",
                classification(s.status, s.grpc)
            );
            let total: u64 = s.buckets.iter().sum();
            let _ = writeln!(counts, "meshctl_responses_total{{{labels}}} {total}");
            let name = "meshctl_response_duration_seconds";
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(&s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    histograms,
                    "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(histograms, "{name}_bucket{{{labels},le=\"+Inf\"}} {total}");
            let sum = Duration::from_nanos(s.sum_nanos).as_secs_f64();
            let _ = writeln!(histograms, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(histograms, "{name}_count{{{labels}}} {total}");
        }
    }
}

impl Series {
    fn new(version: Arc<str>, route: Arc<str>, status: u16, grpc: GrpcStatus) -> Self {
        Series {
            version,
            route,
            status,
            grpc,
            buckets: [0; LATENCY_BUCKETS.len() + 1],
            sum_nanos: 0,
        }
    }

    fn observe(&mut self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket] += 1;
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
    }
}

/// `(namespace, service)` of a SPIFFE ID `spiffe://TD/ns/NS/sa/SA` (the service account is
/// the service); empty for no peer or another shape.
fn identity_labels(peer: &str) -> (&str, &str) {
    let path = peer
        .strip_prefix("spiffe://")
        .and_then(|rest| rest.split_once('/'))
        .map_or("", |(_, path)| path);
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("ns"), Some(ns), Some("sa"), Some(sa)) => (ns, sa),
        _ => ("", ""),
    }
}

/// A response body as [`crate::proxy::telemetry::finish`] returns it: passed through, and
/// for a gRPC response whose status comes in its trailers, counted once they say how it
/// ended (or it ends without them).
#[derive(Debug)]
pub struct Counted<B> {
    inner: B,
    /// `None` (every response but those): nothing to do but pass frames through.
    pending: Option<Box<Pending>>,
}

/// What the labelled count of a response waiting for its trailers needs.
#[derive(Debug)]
pub struct Pending {
    pub metrics: Arc<Metrics>,
    pub direction: Direction,
    pub peer: String,
    pub version: Arc<str>,
    pub route: Arc<str>,
    pub status: StatusCode,
    /// To the response head, like every other response's.
    pub latency: Duration,
}

impl<B> Counted<B> {
    /// A body already counted.
    pub fn done(inner: B) -> Self {
        Counted {
            inner,
            pending: None,
        }
    }

    /// A gRPC body counted when its trailers arrive.
    pub fn at_trailers(inner: B, pending: Pending) -> Self {
        Counted {
            inner,
            pending: Some(Box::new(pending)),
        }
    }

    fn count(&mut self, grpc: GrpcStatus) {
        if let Some(p) = self.pending.take() {
            let labels = Labels {
                version: &p.version,
                route: &p.route,
                grpc,
            };
            (p.metrics).response(p.direction, &p.peer, labels, p.status, p.latency);
        }
    }
}

impl<B> Body for Counted<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(polled) => polled,
        };
        if self.pending.is_some() {
            match &polled {
                Some(Ok(frame)) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        let grpc = GrpcStatus::parse(trailers).unwrap_or(GrpcStatus::Missing);
                        self.count(grpc);
                    }
                }
                Some(Err(_)) | None => self.count(GrpcStatus::Missing),
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        // Dropped before its trailers: the caller went away or the stream was cut.
        self.count(GrpcStatus::Missing);
    }
}

#[cfg(test)]
mod tests;
