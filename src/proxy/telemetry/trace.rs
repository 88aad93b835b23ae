//! Distributed tracing: W3C trace context propagation and spans exported over OTLP/gRPC or
//! OTLP/HTTP (protobuf), plain or over TLS (`trace/export.rs`).
//!
//! Off unless an OTLP endpoint is configured (`--otlp-endpoint`, `otlp_endpoint:` in the
//! config file or mesh.yaml, else `OTEL_EXPORTER_OTLP_ENDPOINT`); until then `traceparent`
//! and `tracestate` pass through untouched.
//! When on, every HTTP and gRPC request through the proxy gets one span — CLIENT on the
//! outbound side, SERVER on the inbound side — from the request head to the response head
//! (what `meshctl_response_latency_seconds` measures; retries are inside it). A request whose
//! `traceparent` is valid continues that trace, and is recorded only if the caller sampled
//! it; one without starts a new trace, sampled at the configured rate ([`SampleRate`], 100%
//! unless set). The request is forwarded with a `traceparent` naming the new span as parent,
//! so the next hop's spans hang below it; an unsampled new trace is forwarded with the
//! sampled flag clear, so the next hops record nothing of it either.
//!
//! Export never slows requests down: finished spans go into a bounded queue, a task sends
//! them in batches, and what cannot be queued or sent is dropped and counted
//! (`meshctl_spans_dropped_total{reason}`), as are spans the collector says it rejected
//! (its partial success).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tokio::sync::mpsc;

use crate::api::proto::otlp as pb;
use crate::policy::fault::PER_MILLION;
pub use crate::policy::tracing::{OtlpEndpoint, OtlpExport, SampleRate};
use crate::proxy::protocol::http::PROXY_ERROR;

pub mod export;
mod wire;

/// The W3C trace context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// Finished spans waiting for export; beyond this they are dropped (`queue_full`).
pub const QUEUE_SPANS: usize = 2048;
/// Most spans sent in one export call.
pub const BATCH_SPANS: usize = 512;
/// How long a batch waits for more spans before it is sent.
pub const BATCH_DELAY: Duration = Duration::from_millis(500);
/// How long one export call may take (connecting included) before its spans are dropped.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a draining proxy waits for its queued spans to be sent before it exits.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// The instrumentation scope every span is reported under.
const SCOPE: &str = "meshctl-proxy";
/// `Span.flags`: whether the parent is remote is known (bit 8) / it is remote (bit 9).
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;
/// W3C trace flag: the caller records this trace.
const SAMPLED: u8 = 0x01;

/// Spans exported and dropped, rendered with the proxy's metrics.
#[derive(Debug, Default)]
pub struct SpanCounters {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
    /// Sent, but rejected by the collector (partial success).
    rejected: AtomicU64,
}

impl SpanCounters {
    pub fn render(&self, out: &mut String) {
        let name = "meshctl_spans_exported_total";
        let _ = writeln!(
            out,
            "# HELP {name} Spans the OTLP collector accepted.\n# TYPE {name} counter\n{name} {}",
            self.exported.load(Relaxed)
        );
        let name = "meshctl_spans_dropped_total";
        let _ = writeln!(
            out,
            "# HELP {name} Spans never delivered, by reason.\n# TYPE {name} counter\n{name}{{reason=\"queue_full\"}} {}\n{name}{{reason=\"export_failed\"}} {}\n{name}{{reason=\"rejected\"}} {}",
            self.queue_full.load(Relaxed),
            self.export_failed.load(Relaxed),
            self.rejected.load(Relaxed)
        );
    }
}

/// Which side of a call a span describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The outbound proxy calling a peer.
    Client,
    /// The inbound proxy serving a peer's call.
    Server,
}

/// Starts spans and queues them for export.
#[derive(Debug)]
pub struct Tracer {
    /// Encoded `Span` messages.
    queue: mpsc::Sender<Vec<u8>>,
    ids: Ids,
    counters: Arc<SpanCounters>,
    sample: SampleRate,
    flush: Arc<Flush>,
}

/// What [`Tracer::flush`] and the exporter share.
#[derive(Debug, Default)]
struct Flush {
    /// Spans queued or being exported.
    unsent: AtomicU64,
    /// Set when the proxy drains: batches go out at once from then on.
    requested: std::sync::atomic::AtomicBool,
    /// Wakes the exporter out of its batch wait.
    now: tokio::sync::Notify,
}

/// A span in progress.
#[derive(Debug)]
pub struct Span {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    flags: u8,
    trace_state: String,
    kind: Kind,
    start: SystemTime,
    method: Method,
    path: String,
    /// The request's host (outbound spans).
    authority: Option<String>,
}

/// What a span records about how its request ended.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub status: StatusCode,
    /// Headers of the response (for the reason the proxy answered itself, if it did).
    pub headers: &'a HeaderMap,
    /// The SPIFFE ID of the other side (the peer called, or the verified caller).
    pub peer_id: &'a str,
    /// The endpoint called (outbound) or the app (inbound).
    pub peer_addr: Option<SocketAddr>,
}

impl Tracer {
    /// Starts the export task (on the current runtime) sending as `export` says, as the
    /// proxy of `spiffe_id`. Errors: the CA file (named), or an endpoint the clients refuse.
    pub fn start(
        export: &OtlpExport,
        sample: SampleRate,
        spiffe_id: &str,
        counters: Arc<SpanCounters>,
    ) -> Result<Arc<Tracer>, String> {
        let transport = export::Transport::new(export, EXPORT_TIMEOUT)?;
        let (queue, spans) = mpsc::channel(QUEUE_SPANS);
        let flush = Arc::new(Flush::default());
        let exporter = Exporter {
            flush: flush.clone(),
            transport,
            resource: resource(spiffe_id),
            scope: scope(),
            counters: counters.clone(),
            target: export.endpoint.target(export.protocol),
        };
        tokio::spawn(exporter.run(spans));
        Ok(Arc::new(Tracer {
            queue,
            ids: Ids::default(),
            counters,
            sample,
            flush,
        }))
    }

    /// Starts the span of a request and points the `traceparent` it is forwarded with at
    /// it. `None` when the trace is not sampled: by the caller (the headers are left as
    /// sent), or, for a new trace, by the sample rate (forwarded with the flag clear).
    pub fn begin<B>(&self, kind: Kind, req: &mut http::Request<B>) -> Option<Span> {
        let headers = req.headers();
        let incoming = headers
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        let (trace_id, parent, flags) = match incoming {
            Some((_, _, flags)) if flags & SAMPLED == 0 => return None,
            Some((trace_id, parent, flags)) => (trace_id, Some(parent), flags),
            None => {
                let trace_id = self.ids.trace_id();
                if self.ids.next() % u64::from(PER_MILLION) >= u64::from(self.sample.0) {
                    let headers = req.headers_mut();
                    headers.remove(TRACESTATE);
                    let unsampled = traceparent(&trace_id, &self.ids.span_id(), 0);
                    if let Some(value) = unsampled {
                        headers.insert(TRACEPARENT, value);
                    }
                    return None;
                }
                (trace_id, None, SAMPLED)
            }
        };
        let span_id = self.ids.span_id();
        // What the span records of the request, taken only for a span that will be recorded.
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let authority = match kind {
            Kind::Client => req.uri().host().map(str::to_owned),
            Kind::Server => None,
        };
        let headers = req.headers_mut();
        let trace_state = match parent {
            Some(_) => headers
                .get(TRACESTATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            None => {
                // A new trace: a tracestate of some other trace must not ride along.
                headers.remove(TRACESTATE);
                String::new()
            }
        };
        if let Some(value) = traceparent(&trace_id, &span_id, flags) {
            headers.insert(TRACEPARENT, value);
        }
        Some(Span {
            trace_id,
            span_id,
            parent,
            flags,
            trace_state,
            kind,
            start: SystemTime::now(),
            method,
            path,
            authority,
        })
    }

    /// Ends `span` now and queues it (dropped and counted when the queue is full).
    pub fn end(&self, span: Span, outcome: Outcome<'_>) {
        let span = span.finish(outcome);
        match self.queue.try_send(span) {
            Ok(()) => {
                self.flush.unsent.fetch_add(1, Relaxed);
            }
            Err(_) => {
                self.counters.queue_full.fetch_add(1, Relaxed);
            }
        }
    }

    /// Sends what is queued without waiting for batches to fill, and waits (at most
    /// `limit`) until it has been sent or dropped. `false`: spans were still unsent.
    pub async fn flush(&self, limit: Duration) -> bool {
        self.flush.requested.store(true, Relaxed);
        self.flush.now.notify_one();
        let deadline = tokio::time::Instant::now() + limit;
        while self.flush.unsent.load(Relaxed) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

impl Span {
    /// The finished span as an encoded OTLP `Span` message.
    fn finish(self, outcome: Outcome<'_>) -> Vec<u8> {
        use wire::Value::{Int, Str};
        let end = SystemTime::now();
        let status = outcome.status.as_u16();
        let mut buf = Vec::with_capacity(320 + self.path.len() + self.trace_state.len());
        wire::bytes(&mut buf, 1, &self.trace_id);
        wire::bytes(&mut buf, 2, &self.span_id);
        if !self.trace_state.is_empty() {
            wire::bytes(&mut buf, 3, self.trace_state.as_bytes());
        }
        if let Some(parent) = &self.parent {
            wire::bytes(&mut buf, 4, parent);
        }
        wire::bytes(&mut buf, 5, self.method.as_str().as_bytes());
        let kind = match self.kind {
            Kind::Client => pb::span::SpanKind::Client,
            Kind::Server => pb::span::SpanKind::Server,
        };
        wire::uint(&mut buf, 6, kind as u64);
        wire::fixed64(&mut buf, 7, unix_nanos(self.start));
        wire::fixed64(&mut buf, 8, unix_nanos(end));
        let mut attribute =
            |key: &str, value: wire::Value<'_>| wire::attribute(&mut buf, 9, key, value);
        attribute("http.request.method", Str(self.method.as_str()));
        attribute("url.path", Str(&self.path));
        attribute("http.response.status_code", Int(i64::from(status)));
        attribute("meshctl.peer.identity", Str(outcome.peer_id));
        if let Some(authority) = &self.authority {
            attribute("server.address", Str(authority));
        }
        if let Some(addr) = outcome.peer_addr {
            let mut ip = String::with_capacity(15);
            wire::ip_text(addr.ip(), &mut ip);
            attribute("network.peer.address", Str(&ip));
            attribute("network.peer.port", Int(i64::from(addr.port())));
        }
        // Semantic conventions: a 5xx is an error on both sides, a 4xx only for the client.
        if status >= 500 || (self.kind == Kind::Client && status >= 400) {
            attribute("error.type", Str(outcome.status.as_str()));
            let reason = outcome
                .headers
                .get(PROXY_ERROR)
                .and_then(|v| v.to_str().ok());
            let error = pb::status::StatusCode::Error as u64;
            wire::status(&mut buf, reason.unwrap_or_default(), error);
        }
        let remote = if self.parent.is_some() {
            FLAG_IS_REMOTE
        } else {
            0
        };
        let flags = u32::from(self.flags) | FLAG_HAS_IS_REMOTE | remote;
        wire::fixed32(&mut buf, 16, flags);
        buf
    }
}

/// `traceparent` (W3C Trace Context): `VERSION-TRACEID-PARENTID-FLAGS`, lower-case hex.
/// Version `ff` and all-zero IDs are invalid; a later version may append fields.
fn parse_traceparent(value: &str) -> Option<([u8; 16], [u8; 8], u8)> {
    let bytes = value.as_bytes();
    let version = unhex::<1>(value.get(0..2)?)?[0];
    let exact = bytes.len() == 55;
    let extended = version > 0 && bytes.len() > 55 && bytes[55] == b'-';
    if version == 0xff || !(exact || extended) || (version == 0 && !exact) {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = unhex::<16>(value.get(3..35)?)?;
    let parent = unhex::<8>(value.get(36..52)?)?;
    let flags = unhex::<1>(value.get(53..55)?)?[0];
    if trace_id == [0; 16] || parent == [0; 8] {
        return None;
    }
    Some((trace_id, parent, flags))
}

/// `N` bytes from exactly `2N` lower-case hex digits.
fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// `00-TRACEID-SPANID-FLAGS`, written without the formatting machinery (it runs per
/// request).
fn traceparent(trace_id: &[u8; 16], span_id: &[u8; 8], flags: u8) -> Option<HeaderValue> {
    let mut out = [0u8; 55];
    out[..3].copy_from_slice(b"00-");
    write_hex(&mut out[3..35], trace_id);
    out[35] = b'-';
    write_hex(&mut out[36..52], span_id);
    out[52] = b'-';
    write_hex(&mut out[53..55], &[flags]);
    HeaderValue::from_bytes(&out).ok()
}

fn write_hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

#[cfg(test)]
fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    write_hex(&mut out, bytes);
    String::from_utf8(out).unwrap()
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The encoded `Resource`: `service.name` is the workload's service (the SPIFFE ID's last
/// segment), so the proxy's spans sit with the app's own.
fn resource(spiffe_id: &str) -> Vec<u8> {
    let service = spiffe_id.rsplit('/').next().unwrap_or(spiffe_id);
    let mut buf = Vec::new();
    wire::attribute(&mut buf, 1, "service.name", wire::Value::Str(service));
    wire::attribute(
        &mut buf,
        1,
        "meshctl.spiffe_id",
        wire::Value::Str(spiffe_id),
    );
    buf
}

/// The encoded `InstrumentationScope` every span is reported under.
fn scope() -> Vec<u8> {
    let mut buf = Vec::new();
    wire::bytes(&mut buf, 1, SCOPE.as_bytes());
    wire::bytes(&mut buf, 2, env!("CARGO_PKG_VERSION").as_bytes());
    buf
}

/// Trace and span IDs: splitmix64 over a counter seeded from the system's randomness.
/// Unique and uniformly spread is what IDs need, not secrecy; lock-free.
#[derive(Debug)]
struct Ids(AtomicU64);

impl Default for Ids {
    fn default() -> Self {
        let mut seed = [0u8; 8];
        let random = ring::rand::SystemRandom::new();
        if ring::rand::SecureRandom::fill(&random, &mut seed).is_err() {
            seed = unix_nanos(SystemTime::now()).to_le_bytes();
        }
        Ids(AtomicU64::new(u64::from_le_bytes(seed)))
    }
}

impl Ids {
    fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Never zero (an all-zero ID is invalid).
    fn span_id(&self) -> [u8; 8] {
        loop {
            let id = self.next();
            if id != 0 {
                return id.to_be_bytes();
            }
        }
    }

    fn trace_id(&self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.span_id());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        id
    }
}

struct Exporter {
    flush: Arc<Flush>,
    transport: export::Transport,
    resource: Vec<u8>,
    scope: Vec<u8>,
    counters: Arc<SpanCounters>,
    /// The URL spans go to, for the log (never the headers).
    target: String,
}

impl Exporter {
    /// Sends batches until every [`Tracer`] is gone and the queue is empty.
    async fn run(mut self, mut spans: mpsc::Receiver<Vec<u8>>) {
        let mut failing = false;
        let mut rejecting = false;
        while let Some(first) = spans.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::sleep(BATCH_DELAY);
            tokio::pin!(deadline);
            while batch.len() < BATCH_SPANS {
                if self.flush.requested.load(Relaxed) {
                    // Draining: take what is queued now, wait for nothing.
                    while batch.len() < BATCH_SPANS {
                        match spans.try_recv() {
                            Ok(span) => batch.push(span),
                            Err(_) => break,
                        }
                    }
                    break;
                }
                tokio::select! {
                    span = spans.recv() => match span {
                        Some(span) => batch.push(span),
                        None => break,
                    },
                    () = &mut deadline => break,
                    () = self.flush.now.notified() => {}
                }
            }
            let n = batch.len() as u64;
            let result = self.export(batch).await;
            self.flush.unsent.fetch_sub(n, Relaxed);
            match result {
                Ok(accepted) => {
                    let rejected = accepted.rejected.min(n);
                    self.counters.exported.fetch_add(n - rejected, Relaxed);
                    self.counters.rejected.fetch_add(rejected, Relaxed);
                    if failing {
                        tracing::info!(endpoint = %self.target, "OTLP export works again");
                        failing = false;
                    }
                    if rejected > 0 && !rejecting {
                        tracing::warn!(endpoint = %self.target, rejected, message = %accepted.message, "the OTLP collector rejected spans");
                    } else if rejected == 0 && !accepted.message.is_empty() {
                        tracing::debug!(endpoint = %self.target, message = %accepted.message, "the OTLP collector warns");
                    }
                    rejecting = rejected > 0;
                }
                Err(e) => {
                    self.counters.export_failed.fetch_add(n, Relaxed);
                    if !failing {
                        tracing::warn!(endpoint = %self.target, error = %e, "OTLP export failed; dropping spans until it works");
                        failing = true;
                    }
                }
            }
        }
    }

    async fn export(&mut self, spans: Vec<Vec<u8>>) -> Result<export::Accepted, String> {
        let body = wire::export_request(&self.resource, &self.scope, &spans);
        match tokio::time::timeout(EXPORT_TIMEOUT, self.transport.send(body)).await {
            Err(_) => Err(format!("no answer within {EXPORT_TIMEOUT:?}")),
            Ok(result) => result,
        }
    }
}

#[cfg(test)]
mod tests;
