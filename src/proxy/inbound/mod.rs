//! The inbound side: mTLS from peer proxies, plaintext to the local app.
//!
//! Per connection: meter → TLS 1.3 handshake with a mandatory mesh client certificate
//! (failures counted by reason) → by the app's declared protocol: opaque TCP to the app
//! (authorized once, per connection) only for an app declared `tcp`; otherwise an HTTP/2
//! server (ALPN `h2`) whose requests are authorized ([`crate::proxy::inbound::authz`], per request) and go to
//! the app (HTTP/1.1 or h2c, see [`Inbound::forward_http`]). An opaque (`meshctl/tcp`)
//! connection to an HTTP app is refused: every request an HTTP app receives was parsed here
//! and carries exactly the identity this proxy verified.

pub mod app;
pub mod authz;
pub mod health;
pub mod rate_limit;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::Either;
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::identity::verify::peer_id;
use crate::proxy::Shared;
use crate::proxy::config::{AppProtocol, InboundConfig};
use crate::proxy::inbound::app::{AppConnector, H2cClient, Http1Pool, PooledBody};
use crate::proxy::inbound::authz::{AuthzCell, GRPC_UNAVAILABLE, Verdict};
use crate::proxy::inbound::health::{AppHealth, Speaking};
use crate::proxy::limits;
use crate::proxy::protocol::cork::{Corked, Driven};
use crate::proxy::protocol::drain::DrainWatch;
use crate::proxy::protocol::h2::server as h2server;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::http::{
    self as proxy_http, BoxedRequest, CLIENT_ID, ORIG_PROTO, ProxyBody, is_grpc,
};
use crate::proxy::protocol::io::MeteredIo;
use crate::proxy::telemetry::limit_metrics::RequestLimit;
use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::telemetry::responses::Counted;
use crate::proxy::telemetry::stats::NO_PEER;
use crate::proxy::telemetry::tap::{self, Hop, TapBody, TapRequest};
use crate::proxy::telemetry::trace::{Kind, Span};
use crate::proxy::telemetry::{self, Ending};
use crate::proxy::tls::{self, ALPN_H2, ALPN_TCP};

/// One `--inbound` listener and the app behind it.
#[derive(Debug)]
pub struct Inbound {
    app: SocketAddr,
    protocol: AppProtocol,
    /// For requests the peer marked as HTTP/1 (and all, if there is no h2c client).
    http1: Option<Arc<Http1Pool>>,
    /// For requests that arrived as HTTP/2 (gRPC needs HTTP/2 end to end).
    h2c: Option<H2cClient>,
    /// For gRPC calls to an app served as HTTP/1.1 with no h2c address: gRPC exists only
    /// over HTTP/2, so such a call goes to the app's address as h2c (prior knowledge) —
    /// an app that answers gRPC speaks it there, whatever mesh.yaml did not say.
    grpc: Option<H2cClient>,
    /// Exchanges with the app that failed although it accepted the connection (the first
    /// since the last success is logged at info).
    health: Arc<AppHealth>,
    /// The authorization policy in force (swapped by the control plane's updates).
    authz: Arc<AuthzCell>,
    shared: Arc<Shared>,
}

impl Inbound {
    pub fn new(config: &InboundConfig, authz: Arc<AuthzCell>, shared: Arc<Shared>) -> Self {
        let (http1, h2c) = match config.protocol {
            AppProtocol::Http1 => (
                Some(Http1Pool::new(config.app)),
                config.app_h2c.map(app::h2c),
            ),
            AppProtocol::Http2 => (None, Some(app::h2c(config.app))),
            AppProtocol::Tcp => (None, None),
        };
        // Lazy: no connection is made until a gRPC call arrives.
        let grpc =
            (config.protocol == AppProtocol::Http1 && h2c.is_none()).then(|| app::h2c(config.app));
        Inbound {
            app: config.app,
            protocol: config.protocol,
            http1,
            h2c,
            grpc,
            health: Arc::default(),
            authz,
            shared,
        }
    }

    /// What this listener learned about speaking to its app (for the admin `/config`).
    pub fn health(&self) -> Arc<AppHealth> {
        self.health.clone()
    }

    pub async fn serve(self: Arc<Self>, listener: TcpListener, watch: DrainWatch) {
        if let Some(pool) = &self.http1 {
            tokio::spawn(Http1Pool::reap(Arc::downgrade(pool)));
        }
        let shared = self.shared.clone();
        let handle = move |stream, remote, watch| self.clone().connection(stream, remote, watch);
        shared
            .accept(listener, Direction::Inbound, watch, handle)
            .await;
    }

    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        remote: SocketAddr,
        mut watch: DrainWatch,
    ) {
        let metrics = self.shared.metrics.clone();
        let _open = metrics.connection_opened(Direction::Inbound);
        let _ = stream.set_nodelay(true);
        let io = MeteredIo::new(stream, metrics.clone(), Direction::Inbound);
        let progress = io.progress();
        let acceptor = TlsAcceptor::from(self.shared.tls.current().server.clone());
        let handshake = tokio::time::timeout(limits::TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io));
        let tls = match handshake.await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                let reason = tls::failure_reason(&e);
                metrics.handshake_failed(Direction::Inbound, reason);
                tracing::info!(%remote, reason, error = %e, "refused inbound connection");
                return;
            }
            Err(_) => {
                metrics.handshake_failed(Direction::Inbound, "timeout");
                tracing::info!(%remote, "refused inbound connection: TLS handshake timed out");
                return;
            }
        };
        let session = tls.get_ref().1;
        let client_id = session
            .peer_certificates()
            .and_then(peer_id)
            .and_then(|id| HeaderValue::from_str(id.as_str()).ok());
        let Some(client_id) = client_id else {
            metrics.handshake_failed(Direction::Inbound, "no_client_identity");
            return;
        };
        let alpn = session.alpn_protocol();
        if self.protocol != AppProtocol::Tcp && alpn == Some(ALPN_TCP) {
            // An app that speaks HTTP gets only requests this proxy parsed, each carrying the
            // identity it verified: opaque bytes could carry any `x-meshctl-client-id` (or
            // anything else) straight to the app. Opaque TCP needs the app declared `tcp`.
            metrics.handshake_failed(Direction::Inbound, "tcp_to_http_app");
            let peer = client_id.to_str().unwrap_or(NO_PEER);
            tracing::info!(
                %remote,
                peer,
                "refused inbound opaque TCP: the app is served as HTTP (declare it tcp to carry opaque TCP)"
            );
            let mut tls = tls;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
            return;
        }
        let result = if self.protocol == AppProtocol::Tcp {
            let peer = client_id.to_str().unwrap_or(NO_PEER);
            match self.authz.current().await.check_tcp(peer) {
                Verdict::Allow => self.forward_tcp(tls, progress).await,
                verdict => {
                    if let Verdict::Deny(reason) = verdict {
                        metrics.authz.denied(reason);
                    }
                    tracing::info!(%remote, peer, ?verdict, "refused inbound TCP connection");
                    // Closed right after the handshake: the app never sees the connection.
                    let mut tls = tls;
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
                    return;
                }
            }
        } else if alpn == Some(ALPN_H2) {
            let this = &self;
            // As on the outbound side: the request's future goes to its task unwrapped.
            let forward = |req| this.clone().forward_http(req, client_id.clone(), remote);
            // The header read timeout starts after the TLS handshake (it has its own).
            let conn = (Direction::Inbound, tokio::time::Instant::now());
            let settings = &self.shared.http2;
            let served = h2server::serve(Corked::new(tls), settings, &mut watch, conn, forward);
            Driven::new(served).await.map_err(std::io::Error::other)
        } else {
            metrics.handshake_failed(Direction::Inbound, "no_alpn");
            tracing::info!(%remote, "refused inbound connection: no mesh ALPN protocol");
            return;
        };
        if let Err(e) = result {
            tracing::debug!(%remote, error = %e, "inbound connection ended with an error");
        }
    }

    /// Contract: always answers. The identity header is set from the verified peer only (any
    /// client-supplied copy is replaced). With an authorization policy the path is normalised
    /// (the app gets the path that was checked) and a refused request is answered here
    /// (403 / 400 / gRPC status) without reaching the app. Requests the outbound side marked as HTTP/1 go to
    /// the app as HTTP/1.1 when it has an HTTP/1 address; the rest go over h2c when the app
    /// has one, else are sent as HTTP/1.1. An unreachable app is a 503, a failed exchange 502.
    async fn forward_http(
        self: Arc<Self>,
        mut req: Request<H2Body>,
        client_id: HeaderValue,
        remote: SocketAddr,
    ) -> Response<TapBody<Counted<InboundBody>>> {
        let start = Instant::now();
        // The request arrived over HTTP/2, which has no hop-by-hop headers to strip.
        let headers = req.headers_mut();
        headers.insert(CLIENT_ID, client_id.clone());
        let from_http1 = headers.remove(ORIG_PROTO).is_some();
        let span = (self.shared.tracer.as_ref()).and_then(|t| t.begin(Kind::Server, &mut req));
        let peer = client_id.to_str().unwrap_or(NO_PEER);
        let verdict = self.authz.current().await.check_request(&mut req, peer);
        let hop = Hop {
            direction: Direction::Inbound,
            src: remote,
            dst: Some(self.app),
            peer_id: peer,
        };
        // A refused request is answered here; its body is never read (nor buffered for tap).
        let limited = match verdict {
            Verdict::Allow => self.shared.inbound_limits.check(peer).err(),
            _ => None,
        };
        if let Some((reason, retry_after)) = limited {
            self.shared.metrics.inbound_limited.count(reason);
            tracing::debug!(peer, reason = ?reason, "rate limited");
            let tap = self.shared.tap.request(hop, &req, None);
            let response = written(rate_limit::refusal(retry_after, is_grpc(req.headers())));
            return self.finish(start, peer, span, tap, response);
        }
        if verdict != Verdict::Allow {
            if let Verdict::Deny(reason) = verdict {
                self.shared.metrics.authz.denied(reason);
                tracing::debug!(
                    peer,
                    path = req.uri().path(),
                    reason = reason.label(),
                    "denied"
                );
            }
            let tap = self.shared.tap.request(hop, &req, None);
            let response = written(authz::refusal(verdict, is_grpc(req.headers())));
            return self.finish(start, peer, span, tap, response);
        }
        let (tap, response) = match tap::buffer_for_tap(&self.shared.tap, req.map(Either::Left))
            .await
        {
            Err(e) => {
                tracing::debug!(error = %e, "reading a request body for the tap failed");
                let response = error(StatusCode::BAD_REQUEST, "request body read failed");
                (None, response)
            }
            Ok((req, body)) => {
                let tap = self.shared.tap.request(hop, &req, body.as_ref());
                let grpc = is_grpc(req.headers());
                let exchange = async {
                    match (&self.http1, &self.h2c) {
                        (Some(pool), _) if from_http1 => self.to_http1(pool, req).await,
                        (_, Some(h2c)) => self.to_h2c(h2c, req).await,
                        (Some(pool), None) => match &self.grpc {
                            Some(grpc) if is_grpc(req.headers()) => self.to_h2c(grpc, req).await,
                            _ => self.to_http1(pool, req).await,
                        },
                        (None, None) => error(StatusCode::BAD_GATEWAY, "app does not speak HTTP"),
                    }
                };
                // The response head only: a body (a stream) that has started is not cut.
                let limit = self.shared.limits.app_response_timeout;
                let response = match tokio::time::timeout(limit, exchange).await {
                    Ok(response) => response,
                    Err(_) => {
                        (self.shared.metrics.limits)
                            .request(Direction::Inbound, RequestLimit::AppResponse);
                        tracing::debug!(app = %self.app, ?limit, "no response head from the app in time");
                        written(app_timed_out(grpc))
                    }
                };
                (tap, response)
            }
        };
        self.finish(start, peer, span, tap, response)
    }

    /// The ending both sides share ([`telemetry::finish`]); `peer`: the verified caller.
    fn finish(
        &self,
        start: Instant,
        peer: &str,
        span: Option<Span>,
        tap: Option<TapRequest>,
        response: Response<InboundBody>,
    ) -> Response<TapBody<Counted<InboundBody>>> {
        let ending = Ending {
            direction: Direction::Inbound,
            start,
            peer_id: peer,
            // A caller's version is not part of its identity.
            peer_version: "",
            route: "",
            peer_addr: Some(self.app),
        };
        telemetry::finish(&self.shared, ending, span, tap, response)
    }

    async fn to_http1(
        &self,
        pool: &Arc<Http1Pool>,
        mut req: BoxedRequest,
    ) -> Response<InboundBody> {
        *req.version_mut() = Version::HTTP_11;
        proxy_http::to_origin_form(&mut req);
        match pool.send(*req).await {
            Ok(response) => {
                self.health.succeeded(Speaking::Http1);
                let (mut parts, body) = response.into_parts();
                proxy_http::strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Either::Left(body))
            }
            Err(e) => {
                if !e.is_connect() {
                    let reason = format!(
                        "an HTTP/1.1 exchange with the app failed: {e}; if it speaks only HTTP/2 there (gRPC, h2c), set its protocol: grpc or h2c"
                    );
                    if self.health.failed(Speaking::Http1, reason.clone()) {
                        // Once per spell at info: shows in the log without flooding it.
                        tracing::info!(app = %self.app, "{reason}");
                    }
                }
                tracing::debug!(error = %e, "forwarding to the app failed");
                app_failed(e.is_connect())
            }
        }
    }

    async fn to_h2c(&self, client: &H2cClient, mut req: BoxedRequest) -> Response<InboundBody> {
        *req.version_mut() = Version::HTTP_2;
        let grpc = is_grpc(req.headers());
        match client.request(*req).await {
            // HTTP/2 from the app: no hop-by-hop headers.
            Ok(response) => {
                self.health.succeeded(Speaking::H2c);
                response.map(|body| Either::Right(Either::Left(body)))
            }
            Err(e) => {
                let reason = format!(
                    "an HTTP/2 (h2c) exchange with the app failed: {e}; if it speaks only HTTP/1.1 there, gRPC cannot reach it (serve gRPC/h2c, or set its protocol)"
                );
                let first = !e.is_connect() && self.health.failed(Speaking::H2c, reason.clone());
                if first {
                    // Once per spell at info: a misconfigured protocol shows up in the log
                    // without flooding it; every later failure at debug.
                    tracing::info!(app = %self.app, "{reason}");
                } else {
                    tracing::debug!(app = %self.app, error = %e, "forwarding to the app over h2c failed");
                }
                if grpc {
                    return written(app_failed_grpc(e.is_connect()));
                }
                app_failed(e.is_connect())
            }
        }
    }

    async fn forward_tcp<T>(
        &self,
        tls: T,
        progress: Arc<std::sync::atomic::AtomicU64>,
    ) -> std::io::Result<()>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let app = AppConnector::connect(self.app).await?;
        crate::proxy::protocol::tcp::splice(
            tls,
            app,
            progress,
            self.shared.limits.tcp_idle_timeout,
        )
        .await?;
        Ok(())
    }
}

/// Responses to peers: from a pooled HTTP/1.1 connection, the h2c app (hyper's client), or
/// one the proxy wrote.
type InboundBody = Either<PooledBody, Either<Incoming, ProxyBody>>;

/// A response the proxy wrote itself.
fn written(response: Response<ProxyBody>) -> Response<InboundBody> {
    response.map(|body| Either::Right(Either::Right(body)))
}

fn error(status: StatusCode, reason: &'static str) -> Response<InboundBody> {
    written(proxy_http::error_response(status, reason))
}

/// The gRPC form of [`app_failed`]: trailers-only `grpc-status: 14` (UNAVAILABLE), which gRPC
/// clients treat as retryable, with the same reason.
fn app_failed_grpc(connect: bool) -> Response<ProxyBody> {
    let reason = if connect {
        "app unreachable"
    } else {
        "app connection failed"
    };
    proxy_http::grpc_error(HeaderValue::from_static(GRPC_UNAVAILABLE), reason)
}

/// Why a request the app did not answer in time was answered by the proxy.
const APP_TIMED_OUT: &str = "app response timeout";

/// The app sent no response head within the app response timeout: 504, or for gRPC a
/// trailers-only `grpc-status: 4` (DEADLINE_EXCEEDED).
fn app_timed_out(grpc: bool) -> Response<ProxyBody> {
    if grpc {
        let status =
            HeaderValue::from_static(crate::proxy::outbound::timeout::GRPC_DEADLINE_EXCEEDED);
        return proxy_http::grpc_error(status, APP_TIMED_OUT);
    }
    proxy_http::error_response(StatusCode::GATEWAY_TIMEOUT, APP_TIMED_OUT)
}

fn app_failed(connect: bool) -> Response<InboundBody> {
    if connect {
        error(StatusCode::SERVICE_UNAVAILABLE, "app unreachable")
    } else {
        error(StatusCode::BAD_GATEWAY, "app connection failed")
    }
}
