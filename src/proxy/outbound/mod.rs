//! The outbound side: plaintext from the local app, mTLS to a peer proxy.
//!
//! Per connection: meter → detect (unless the protocol is configured) → HTTP/1 or h2c server
//! whose requests go onto the peer's shared HTTP/2 connection, or opaque TCP over its own
//! mTLS connection.

pub mod balance;
pub mod breaker;
pub mod fault;
pub mod mirror;
pub mod peer;
pub mod pin;
pub mod retry;
pub mod route;
pub mod rules;
pub mod timeout;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response, StatusCode, Version};
use http_body_util::Either;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::policy::split::{Backend, TOTAL_WEIGHT};
use crate::proxy::Shared;
use crate::proxy::config::UpstreamProtocol;
use crate::proxy::outbound::fault::{FAULT_HEADER, Injection};
use crate::proxy::outbound::peer::Peer;
use crate::proxy::outbound::route::Route;
use crate::proxy::protocol::cork::{Corked, Driven};
use crate::proxy::protocol::detect::{self, Detected};
use crate::proxy::protocol::drain::DrainWatch;
use crate::proxy::protocol::h1::server::{self as h1server, AppBody};
use crate::proxy::protocol::h2::server as h2server;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::http::{
    self as proxy_http, ORIG_PROTO, ORIG_PROTO_HTTP1, ProxyBody, Streamed,
};
use crate::proxy::protocol::io::{MeteredIo, PrefixedIo};
use crate::proxy::telemetry::limit_metrics::ConnectionLimit;
use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::telemetry::policy_metrics::PolicyCounters;
use crate::proxy::telemetry::responses::Counted;
use crate::proxy::telemetry::stats::NO_PEER;
use crate::proxy::telemetry::tap::{self, Hop, TapBody, TapRequest};
use crate::proxy::telemetry::trace::{Kind, Span};
use crate::proxy::telemetry::{self, Ending};

/// A destination's current split, swapped whole when the control plane sends a new one.
pub type RouteCell = ArcSwap<Route<Arc<Peer>>>;
/// Service name → its route: what the HTTP-proxy listener routes on.
pub type RouteTable = ArcSwap<HashMap<String, Arc<RouteCell>>>;

/// The answer sent instead of forwarding: status and reason.
/// A request answered by the proxy itself: status, the `x-meshctl-proxy-error` reason, and
/// the body (the reason, or words naming the fix).
type Refusal = (StatusCode, &'static str, String);

/// Response bodies to the app: a peer's, or one the proxy wrote.
type OutboundBody = Either<H2Body, ProxyBody>;
/// What [`Outbound::forward_http`] answers with: the body counted and tapped.
pub type OutboundAnswer = TapBody<Counted<OutboundBody>>;

/// Where an outbound listener sends traffic.
#[derive(Debug, Clone)]
pub enum Destination {
    /// Everything goes to one destination (an `--upstream` listener, or one upstream the
    /// control plane configured).
    Route(Arc<RouteCell>),
    /// The `HTTP_PROXY` listener: the request's authority (`http://api/...`) names the
    /// destination service. HTTP only.
    ByAuthority(Arc<RouteTable>),
}

/// What observability needs to know about a request after it was answered.
#[derive(Debug, Default)]
struct Observed {
    /// The peer it went to (none: the proxy answered itself).
    peer: Option<Arc<Peer>>,
    tap: Option<TapRequest>,
}

/// One outbound request on its way through the phases: what [`Outbound::finish`] needs once
/// it is answered.
struct Exchange {
    start: Instant,
    /// The local app's connection.
    remote: SocketAddr,
    span: Option<Span>,
    /// The request's head while a tap watches, for a request answered before any peer.
    head: Option<Request<()>>,
    /// The request body buffered for the tap.
    captured: Option<Bytes>,
    /// What the fault draws decided, and whether the request was aborted by one.
    injection: Injection,
    aborted: bool,
    seen: Observed,
    /// The name of the route the request matched, if it has one.
    route: Option<Arc<str>>,
}

impl Exchange {
    #[inline]
    fn new(remote: SocketAddr) -> Self {
        Exchange {
            start: Instant::now(),
            remote,
            span: None,
            head: None,
            captured: None,
            injection: Injection::default(),
            aborted: false,
            seen: Observed::default(),
            route: None,
        }
    }
}

/// One outbound listener and where it sends traffic.
#[derive(Debug)]
pub struct Outbound {
    protocol: UpstreamProtocol,
    destination: Destination,
    /// `:authority` for HTTP/1.0 requests without a Host header.
    fallback_authority: Authority,
    shared: Arc<Shared>,
}

/// A route to a single peer (standalone `--upstream`).
/// `counters`: the destination's policy counters (named after the peer's identity).
pub fn single_peer(peer: Arc<Peer>, counters: Arc<PolicyCounters>) -> Arc<RouteCell> {
    let route =
        Route::new(vec![Backend::new("", TOTAL_WEIGHT, vec![peer])]).with_counters(counters);
    Arc::new(ArcSwap::from_pointee(route))
}

/// The body of the answer to an HTTP_PROXY request for a service this one does not call:
/// what is wrong and the mesh.yaml line that fixes it.
fn not_an_upstream<'a>(host: &str, me: &str, upstreams: impl Iterator<Item = &'a str>) -> String {
    let mut known: Vec<&str> = upstreams.collect();
    known.sort_unstable();
    let known = if known.is_empty() {
        "it has none".to_string()
    } else {
        format!("its upstreams: {}", known.join(", "))
    };
    format!(
        "{host} is not an upstream of {me} ({known}); add it to services.{me}.upstreams in mesh.yaml\n"
    )
}

impl Outbound {
    pub fn new(
        protocol: UpstreamProtocol,
        destination: Destination,
        fallback_authority: Authority,
        shared: Arc<Shared>,
    ) -> Self {
        Outbound {
            protocol,
            destination,
            fallback_authority,
            shared,
        }
    }

    /// The destination of one request or connection: by authority on the HTTP-proxy
    /// listener, else the listener's own. `Err` is the answer to send instead.
    fn route(&self, authority: Option<&str>) -> Result<Arc<Route<Arc<Peer>>>, Refusal> {
        match &self.destination {
            Destination::Route(cell) => Ok(cell.load_full()),
            Destination::ByAuthority(table) => {
                const NO_AUTHORITY: &str = "no authority to route on";
                let host = authority
                    .map(|a| a.rsplit_once(':').map_or(a, |(h, _)| h))
                    .ok_or((
                        StatusCode::BAD_REQUEST,
                        NO_AUTHORITY,
                        NO_AUTHORITY.to_string(),
                    ))?;
                let table = table.load();
                let Some(cell) = table.get(host) else {
                    let me = self
                        .shared
                        .tls
                        .current()
                        .identity()
                        .id
                        .last_segment()
                        .to_string();
                    let body = not_an_upstream(host, &me, table.keys().map(String::as_str));
                    return Err((StatusCode::BAD_GATEWAY, "unknown service", body));
                };
                Ok(cell.load_full())
            }
        }
    }

    pub async fn serve(self: Arc<Self>, listener: TcpListener, watch: DrainWatch) {
        let shared = self.shared.clone();
        let handle = move |stream, remote, watch| self.clone().connection(stream, remote, watch);
        shared
            .accept(listener, Direction::Outbound, watch, handle)
            .await;
    }

    async fn connection(self: Arc<Self>, stream: TcpStream, remote: SocketAddr, watch: DrainWatch) {
        let accepted = tokio::time::Instant::now();
        let metrics = self.shared.metrics.clone();
        let _open = metrics.connection_opened(Direction::Outbound);
        let _ = stream.set_nodelay(true);
        let io = MeteredIo::new(stream, metrics.clone(), Direction::Outbound);
        let limits = &self.shared.limits;
        let closed = |why| metrics.limits.connection(Direction::Outbound, why);
        let (protocol, io) = match self.protocol {
            UpstreamProtocol::Detect => {
                // Silence becomes opaque TCP after the detect timeout (server-speaks-first
                // protocols); an HTTP start left unfinished gets the header read timeout and
                // is then closed, never carried as TCP.
                let detected =
                    detect::detect_within(io, limits.detect_timeout, limits.header_read_timeout);
                match detected.await {
                    Ok(found) => found,
                    Err(e) => {
                        if e.kind() == std::io::ErrorKind::TimedOut {
                            closed(ConnectionLimit::HeaderTimeout);
                        }
                        tracing::debug!(%remote, error = %e, "connection closed during detection");
                        return;
                    }
                }
            }
            UpstreamProtocol::Http => {
                match detect::detect(io, limits.header_read_timeout).await {
                    Ok((Detected::Opaque, io)) => {
                        if io.prefix().is_empty() {
                            // Silence until the timeout (not a client that closed at once).
                            if accepted.elapsed() >= limits.header_read_timeout {
                                closed(ConnectionLimit::HeaderTimeout);
                            }
                            tracing::debug!(%remote, "closed an outbound connection that sent no request");
                        } else {
                            closed(ConnectionLimit::NotHttp);
                            tracing::info!(
                                %remote,
                                "closed an outbound connection that sent no HTTP request: \
                                 this upstream is served as HTTP (declare it tcp for opaque TCP)"
                            );
                        }
                        return;
                    }
                    Ok(found) => found,
                    Err(e) => {
                        if e.kind() == std::io::ErrorKind::TimedOut {
                            closed(ConnectionLimit::HeaderTimeout);
                        }
                        tracing::debug!(%remote, error = %e, "connection closed during detection");
                        return;
                    }
                }
            }
            UpstreamProtocol::Http1 => (Detected::Http1, PrefixedIo::new(Bytes::new(), io)),
            UpstreamProtocol::Http2 => (Detected::H2c, PrefixedIo::new(Bytes::new(), io)),
            UpstreamProtocol::Tcp => (Detected::Opaque, PrefixedIo::new(Bytes::new(), io)),
        };
        if let Err(e) = (self.clone())
            .dispatch(protocol, io, remote, watch, accepted)
            .await
        {
            tracing::debug!(%remote, error = %e, "outbound connection ended with an error");
        }
    }

    async fn dispatch(
        self: Arc<Self>,
        protocol: Detected,
        io: PrefixedIo<MeteredIo<TcpStream>>,
        remote: SocketAddr,
        mut watch: DrainWatch,
        accepted: tokio::time::Instant,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match protocol {
            Detected::Http1 => {
                let this = &self;
                let forward = |req: Request<AppBody>| {
                    this.clone()
                        .forward_http(req.map(Either::Right), true, remote)
                };
                let io = h1server::Io::Plain(io);
                h1server::serve(io, &self.shared.http1, &watch, accepted, forward).await?;
            }
            Detected::H2c => {
                let this = &self;
                // The request's future goes to the stream's task as is: a wrapping async
                // block would be larger (it holds the request beside the future).
                let forward = |req: Request<H2Body>| {
                    this.clone()
                        .forward_http(req.map(Either::Left), false, remote)
                };
                let conn = (Direction::Outbound, accepted);
                let settings = &self.shared.http2;
                let served = h2server::serve(Corked::new(io), settings, &mut watch, conn, forward);
                // Boxed, like the TCP branch: a connection task is as large as its largest
                // branch, and most are HTTP/1 (half the size of these two).
                Box::pin(Driven::new(served)).await?;
            }
            Detected::Opaque => Box::pin(self.forward_tcp(io)).await?,
        }
        Ok(())
    }

    /// Contract: always answers; a failure to reach the peer becomes a 502/503 with the
    /// reason in `x-meshctl-proxy-error`. Every answer is counted.
    ///
    /// The phases: [`prepare`](Self::prepare) → [`send`](Self::send) (which selects the
    /// destination, version and fault, then sends) → [`finish`](Self::finish).
    pub(crate) async fn forward_http(
        self: Arc<Self>,
        mut req: Request<Streamed>,
        from_http1: bool,
        remote: SocketAddr,
    ) -> Response<OutboundAnswer> {
        let mut ex = Exchange::new(remote);
        let response = match self.prepare(&mut req, from_http1, &mut ex) {
            Ok(grpc) => self.send(req, grpc, from_http1, &mut ex).await,
            Err(reason) => {
                proxy_http::error_response(StatusCode::BAD_REQUEST, reason).map(Either::Right)
            }
        };
        self.finish(ex, response)
    }

    /// Makes the request fit to forward over HTTP/2 — HTTP/1's hop-by-hop headers stripped
    /// (HTTP/2 forbids them: h2 refuses them on receipt, so only HTTP/1 requests have any),
    /// an absolute URI, the original protocol marked — begins its span and keeps its head
    /// while a tap watches (requests answered here are tapped too). `Ok`: whether it is gRPC;
    /// `Err`: why the request is a bad request (a target that cannot be forwarded).
    #[inline]
    fn prepare(
        &self,
        req: &mut Request<Streamed>,
        from_http1: bool,
        ex: &mut Exchange,
    ) -> Result<bool, &'static str> {
        if from_http1 {
            proxy_http::strip_hop_by_hop(req.headers_mut());
            if proxy_http::make_absolute(req, &self.fallback_authority).is_err() {
                return Err("invalid request target");
            }
            req.headers_mut().insert(ORIG_PROTO, ORIG_PROTO_HTTP1);
        }
        ex.span = (self.shared.tracer.as_ref()).and_then(|t| t.begin(Kind::Client, req));
        *req.version_mut() = Version::HTTP_2;
        let grpc = proxy_http::is_grpc(req.headers());
        ex.head = self.shared.tap.is_watched().then(|| tap::head(req));
        Ok(grpc)
    }

    /// Selects — the destination (by authority on the HTTP-proxy listener), then by its header
    /// routes the version, timeout and fault, and whether the request is mirrored — and
    /// sends: an injected delay or abort first, then the request with retries, all within the
    /// timeout; a mirrored request's copy after the answer's head (`mirror.rs`).
    async fn send(
        &self,
        req: Request<Streamed>,
        grpc: bool,
        from_http1: bool,
        ex: &mut Exchange,
    ) -> Response<OutboundBody> {
        let route = match self.route(req.uri().authority().map(|a| a.as_str())) {
            Ok(route) => route,
            Err((status, reason, body)) => {
                return proxy_http::error_response_with(status, reason, body).map(Either::Right);
            }
        };
        let tap = &self.shared.tap;
        let (req, body) = match tap::buffer_for_tap(tap, req).await {
            Ok(buffered) => buffered,
            Err(e) => {
                tracing::debug!(error = %e, "reading a request body for the tap failed");
                let answer =
                    proxy_http::error_response(StatusCode::BAD_REQUEST, "request body read failed");
                return answer.map(Either::Right);
            }
        };
        ex.captured.clone_from(&body);
        let mut req = req;
        let mut selected = route.select(req.method(), req.uri().path(), req.headers());
        // A version pin from the local app (`meshctl replay`) overrides split and routes.
        let versions = route.backends().iter().map(|b| b.version.as_str());
        match pin::take(req.headers_mut(), versions) {
            Ok(None) => {}
            Ok(Some(version)) => selected.version = Some(version),
            Err((status, reason, body)) => {
                return proxy_http::error_response_with(status, reason, body).map(Either::Right);
            }
        }
        let counters = route.counters();
        let rules = route.rules();
        let injection = rules
            .fault(req.method(), req.uri().path(), req.headers())
            .map(|f| rules.faults().draw(f))
            .unwrap_or_default();
        ex.injection = injection;
        ex.route = selected.route.cloned();
        // Mirroring off costs this one `Option` check (`mirror.rs`).
        let (req, copy) = match rules.mirrors().draw() {
            None => (req, None),
            Some(rule) => {
                let counts = rules.mirrors().counts();
                match rule.copy(req, body.as_ref(), selected.route, counts).await {
                    Ok(taken) => taken,
                    Err(e) => {
                        tracing::debug!(error = %e, "reading a request body to mirror failed");
                        let answer = proxy_http::error_response(
                            StatusCode::BAD_REQUEST,
                            "request body read failed",
                        );
                        return answer.map(Either::Right);
                    }
                }
            }
        };
        let mirror_route = copy.as_ref().map(|_| route.clone());
        let remote = ex.remote;
        let seen = &mut ex.seen;
        let mut on_attempt = |peer: &Arc<Peer>, req: &Request<ProxyBody>| {
            if seen.peer.is_none() {
                let hop = Hop {
                    direction: Direction::Outbound,
                    src: remote,
                    dst: Some(peer.addr()),
                    peer_id: peer.id().as_str(),
                };
                seen.tap = tap.request(hop, req, body.as_ref());
            }
            seen.peer = Some(peer.clone());
        };
        let route = &route;
        // A delay and an abort happen before forwarding, inside the timeout.
        let call = async move {
            if let Some(delay) = injection.delay {
                rules.faults().counts().delayed();
                tokio::time::sleep(delay).await;
            }
            match injection.abort {
                Some(status) => {
                    rules.faults().counts().aborted();
                    Err(status)
                }
                None => Ok(retry::send(route, selected, req, counters, &mut on_attempt).await),
            }
        };
        let response = match timeout::within(selected.timeout, call).await {
            Err(e) => {
                tracing::debug!(error = %e, "request timed out");
                counters.timeout();
                timeout::timed_out_response(grpc).map(Either::Right)
            }
            Ok(Err(status)) => {
                ex.aborted = true;
                // Counted against the destination (its identity), so the caller's view
                // (`meshctl stat <caller> --to <service>`) shows the failure.
                ex.seen.peer = route
                    .backends()
                    .iter()
                    .filter(|b| selected.version.is_none_or(|v| b.version == v))
                    .find_map(|b| b.endpoints.first())
                    .cloned();
                fault::abort_response(status, grpc).map(Either::Right)
            }
            Ok(Ok(Ok(response))) => {
                // Arrived over HTTP/2 from the inbound proxy: no hop-by-hop headers.
                let (mut parts, body) = response.into_parts();
                if from_http1 {
                    parts.version = Version::HTTP_11;
                }
                Response::from_parts(parts, Either::Left(body))
            }
            Ok(Ok(Err(e))) => {
                tracing::debug!(error = %e, "forwarding to peer failed");
                let (status, reason) = e.response();
                proxy_http::error_response(status, reason).map(Either::Right)
            }
        };
        // The copy leaves once the real answer's head is in: it never delays the request.
        match (copy, mirror_route) {
            (Some(copy), Some(route)) => copy.launch(route, response),
            _ => response,
        }
    }

    /// Marks an injected fault on the answer, taps a request answered here (nothing tapped it
    /// on its way to a peer), then the ending both sides share: [`telemetry::finish`].
    #[inline]
    fn finish(
        &self,
        ex: Exchange,
        mut response: Response<OutboundBody>,
    ) -> Response<TapBody<Counted<OutboundBody>>> {
        if let Some(marker) = ex.injection.header(ex.aborted) {
            response.headers_mut().insert(FAULT_HEADER, marker);
        }
        let peer = ex.seen.peer.as_ref();
        let peer_id = peer.map_or(NO_PEER, |p| p.id().as_str());
        let mut tapped = ex.seen.tap;
        if tapped.is_none()
            && let Some(head) = &ex.head
        {
            let hop = Hop {
                direction: Direction::Outbound,
                src: ex.remote,
                dst: None,
                peer_id,
            };
            tapped = (self.shared.tap)
                .request(hop, head, ex.captured.as_ref())
                .map(|t| t.since(ex.start));
        }
        let ending = Ending {
            direction: Direction::Outbound,
            start: ex.start,
            peer_id,
            peer_version: peer.map_or("", |p| p.version()),
            route: ex.route.as_deref().unwrap_or(""),
            peer_addr: peer.map(|p| p.addr()),
        };
        telemetry::finish(&self.shared, ending, ex.span, tapped, response)
    }

    async fn forward_tcp<T>(&self, io: PrefixedIo<MeteredIo<T>>) -> std::io::Result<()>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let progress = io.get_ref().progress();
        let route = self
            .route(None)
            .map_err(|(_, reason, _)| std::io::Error::other(reason))?;
        let (peer, upstream) = retry::dial_tcp(&route).await?;
        // An open connection is load on the peer for the balancer (no latency sample).
        let _open = peer.load().start();
        crate::proxy::protocol::tcp::splice(
            io,
            upstream,
            progress,
            self.shared.limits.tcp_idle_timeout,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::not_an_upstream;

    #[test]
    fn an_unknown_authority_names_the_mesh_yaml_fix() {
        assert_eq!(
            not_an_upstream("nosuch", "front", ["quotes", "api"].into_iter()),
            "nosuch is not an upstream of front (its upstreams: api, quotes); add it to services.front.upstreams in mesh.yaml\n"
        );
        assert!(not_an_upstream("api", "load", std::iter::empty()).contains("(it has none)"));
    }
}
