//! Every proxy limit and default in one place, each with the reason for its value.
//!
//! Nothing here is left to a library default: hyper, h2 and rustls defaults change between
//! releases, and a sidecar's limits are part of its contract with the workload.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Admin listener (`/metrics`, `/ready`, `/live`): loopback only by default.
pub const DEFAULT_ADMIN_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4191);

/// Worker threads per proxy. One is enough for a sidecar next to one app and keeps RSS low;
/// `--workers` raises it.
pub const DEFAULT_WORKERS: usize = 1;
/// The most worker threads a proxy may ask for (see the shared bound's reason).
pub const MAX_WORKERS: usize = crate::policy::traffic::MAX_PROXY_WORKERS;

/// How long SIGTERM/SIGINT waits for in-flight requests and connections before exiting.
/// Below Kubernetes' default 30 s termination grace period.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// Open connections per listener (config: `limits.max_connections`), so a flood — or a
/// client that opens connections and never uses them — cannot exhaust file descriptors:
/// each proxied connection costs up to two, and 4096 per listener stays far below the
/// usual `nofile` limits of a sidecar container (1M in Kubernetes). At the limit a new
/// connection is accepted and closed at once, counted in
/// `meshctl_connections_limited_total{reason="max_connections"}`: the client fails fast and
/// visibly instead of waiting in the kernel backlog behind connections that may never end.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// HTTP/1 request header count (hyper's default is 100; stated here on purpose).
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// Bytes of request head (HTTP/1 read buffer) and of an HTTP/2 header list.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;

/// A client must send a complete HTTP/1 request head within this (slowloris), counted from
/// when the connection starts waiting for one — for a new connection, from its accept, so
/// protocol detection is inside it: a keep-alive connection idle this long closes too
/// (`reason="idle_timeout"`), one that started a head and did not finish it is closed with
/// `reason="header_timeout"`. An HTTP/2 client must send its connection preface and its
/// first request's HEADERS within it. Applies to every listener that serves HTTP: outbound
/// listeners declared (or controlled as) `http`, `http1`, `h2c`/`grpc`, the HTTP-proxy
/// listener, and inbound listeners of HTTP apps (after the TLS handshake, which has its own
/// [`TLS_HANDSHAKE_TIMEOUT`]). Such a connection is closed, never carried as opaque TCP.
/// 10 s: a real client sends its head in one write, so this only has to outlast a slow
/// network, and a slowloris client holds a connection for at most this long.
/// Config: `limits.header_read_timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Protocol detection on a plaintext (`detect`) listener gives up after this and forwards
/// the connection as opaque TCP (server-speaks-first protocols such as SMTP or MySQL land
/// here; they send nothing, so silence stays TCP). The exception: a client whose first
/// bytes are an unfinished HTTP method or HTTP/2 preface (`GE`, `PRI * HT`) is not given up
/// on — it is HTTP arriving slowly, so it gets the rest of the header read timeout to
/// finish its head and is closed (`reason="header_timeout"`) if it does not, instead of
/// becoming an opaque TCP connection (and an mTLS connection to the peer) that a trickle of
/// bytes keeps open for the TCP idle timeout. Config: `limits.detect_timeout`.
pub const DEFAULT_DETECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A request body that makes no progress — not one byte — for this long while the proxy
/// waits for it fails: answered 408 (`x-meshctl-proxy-error: request body timeout`) if its
/// response has not started, else the stream is reset or the HTTP/1 connection closed;
/// counted in `meshctl_requests_timed_out_total{reason="request_body"}`. The clock runs
/// only while the proxy is waiting for the client's bytes, not while the body waits for the
/// other side to take them (a slow reader is not the client's fault). 30 s: a client on
/// loopback or a LAN that sends nothing for that long mid-body is stuck or hostile.
/// Not applied to gRPC request streams (`content-type: application/grpc*`), whose client
/// and bidirectional streams legitimately go quiet between messages.
/// Config: `limits.body_read_timeout`.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the inbound proxy waits for the local app's response head (connecting and
/// sending the request included): a frozen app (SIGSTOP, a deadlock) is answered 504 —
/// for gRPC a trailers-only `grpc-status: 4` (DEADLINE_EXCEEDED) — counted in
/// `meshctl_requests_timed_out_total{reason="app_response"}`, instead of holding the
/// request until the client gives up. The head only: a response that has started (a gRPC
/// server stream sends its headers first, a download or SSE stream its head) is never cut
/// off. 60 s: longer than the 30 s most long-polling APIs hold a request before answering,
/// still bounded. An app that holds requests longer before its head (e.g. Consul blocking
/// queries up to 10 min) needs `limits.app_response_timeout` raised in the proxy's config.
pub const DEFAULT_APP_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// An opaque TCP connection with no bytes in either direction for this long is closed.
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Concurrent streams per HTTP/2 connection. Every request from an app to one peer shares
/// one connection between the proxies, so this is the per-peer concurrency.
pub const DEFAULT_H2_MAX_CONCURRENT_STREAMS: u32 = 1024;

/// Streams a client may reset before the server accepts them, per connection: the HTTP/2
/// Rapid Reset (CVE-2023-44487) budget. Beyond it the connection gets GOAWAY.
pub const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// Streams this side may reset because the peer misbehaved before the connection is closed.
pub const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 256;

/// HTTP/2 flow-control windows. Large enough that one stream fills loopback and LAN
/// bandwidth, small enough that a stalled consumer pins little memory.
pub const H2_STREAM_WINDOW: u32 = 1024 * 1024;
pub const H2_CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// HTTP/2 PINGs detect dead peers on idle connections.
pub const H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
pub const H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Streams a new connection to a peer may open before the peer's SETTINGS (and its real
/// concurrency limit) arrive: a burst on a fresh connection beyond what the peer allows
/// would be refused. Below [`DEFAULT_H2_MAX_CONCURRENT_STREAMS`]; hyper's default.
pub const H2_INITIAL_MAX_SEND_STREAMS: usize = 100;

/// Request-body bytes one stream to a peer may have queued for sending (hyper's default).
pub const H2_MAX_SEND_BUFFER: usize = 1024 * 1024;

/// Response-body bytes one stream of the proxies' HTTP/2 server may have queued for sending
/// (hyper's server default, kept when the server became the proxies' own).
pub const H2_SERVER_MAX_SEND_BUFFER: usize = 400 * 1024;

/// HTTP/2 writes wait in a connection's buffer for the end of the scheduler's round
/// (`proxy::cork`), up to this many bytes; a burst's buffer shrinks back to the second
/// figure once written.
pub const CORK_BUFFER: usize = 64 * 1024;
pub const CORK_BUFFER_KEPT: usize = 16 * 1024;

/// Pooled keep-alive connections to the local app are closed after this long unused.
/// Shorter than the usual app-side keep-alive timeouts (Node.js closes idle connections
/// after 5 s), so the proxy closes first instead of sending a request down a connection the
/// app is closing; and a burst's connections, with their buffers, are gone seconds later.
pub const APP_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// How often idle pooled app connections are checked against [`APP_POOL_IDLE_TIMEOUT`].
pub const APP_POOL_REAP_INTERVAL: Duration = Duration::from_secs(1);

/// Idle keep-alive HTTP/1.1 connections kept to the local app; more concurrent requests
/// open more connections, which close after their response instead of being kept.
pub const APP_POOL_MAX_IDLE: usize = 256;

/// Read buffers kept between HTTP/1.1 exchanges with the app, whatever the number of
/// pooled connections: enough for the concurrency one core serves, while a burst's extra
/// buffers are freed with its exchanges.
pub const APP_POOL_SPARE_BUFFERS: usize = 16;

/// An exchange with the app reads into this much free buffer at first (a response head and
/// a small body in one read), doubling up to the second figure while reads fill it (a large
/// body); buffers grown past the third figure are not kept for the next exchange.
pub const APP_READ_BUFFER: usize = 4 * 1024;
pub const APP_READ_BUFFER_MAX: usize = 64 * 1024;
pub const APP_READ_BUFFER_KEPT: usize = 16 * 1024;

/// Request-body bytes queued for one write to the app: a stalled app pins no more.
pub const APP_UPLOAD_QUEUE: usize = 64 * 1024;

/// Limits on a response head from the app (hyper's client defaults: 100 fields; the head
/// size matches what the proxy accepts from clients, [`DEFAULT_MAX_HEADER_BYTES`]).
pub const APP_RESPONSE_MAX_HEADERS: usize = 100;
pub const APP_RESPONSE_MAX_HEAD_BYTES: usize = DEFAULT_MAX_HEADER_BYTES;

/// Once the drain starts, HTTP/1 clients get this long to send more requests on their open
/// keep-alive connections (answered with `connection: close`) before idle ones are closed:
/// closing at once would fail a request already on its way (see `h1server`).
pub const HTTP1_DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Dialing a peer proxy or the local app.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS handshake (either side) must finish within this.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Certificate-directory events are coalesced for this long before one reload, so that a
/// rotation writing three files reloads once.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(250);

/// Back-off after `accept` fails (e.g. out of file descriptors) so the loop does not spin.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Seconds since the first call: the clock of every token bucket in the proxy (the gateway's
/// and the inbound's rate limits).
pub fn bucket_clock() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}
