//! The sidecar proxy: mTLS data plane for HTTP/1.1, HTTP/2, gRPC and opaque TCP.
//!
//! [`run`] (standalone) and [`controlled::run`] (driven by the control plane, through
//! [`agent`]) assemble it top to bottom: identity → TLS configs (reloaded on change) →
//! metrics → `Shared::new` → listeners (inbound, outbound, admin; both through
//! `Assembly`) → wait for SIGTERM/SIGINT → drain.
//!
//! The request path, file by file:
//! - **outbound** (plaintext from the local app → mTLS to a peer proxy):
//!   `protocol/listen.rs` (accept, connection limit) → `protocol/detect.rs` (HTTP/1, h2c or
//!   opaque, unless the protocol is declared) → `protocol/h1/server.rs` or
//!   `protocol/h2/server.rs` (our own servers) → `outbound/mod.rs` (`forward_http` in
//!   phases: `prepare` → `send`, which selects by authority → `outbound/route.rs` (weighted
//!   split) + `outbound/rules.rs` (header routes) → `outbound/fault.rs` (injected
//!   aborts/delays) → `outbound/timeout.rs` → `outbound/retry.rs` (budgeted retries) →
//!   `outbound/balance.rs` (P2C over peak-EWMA) + `outbound/breaker.rs` (circuit per
//!   endpoint) → `outbound/peer.rs` + `outbound/peer/mux.rs` (one HTTP/2 connection per peer
//!   over mTLS, `tls/`) → `finish`); opaque TCP: `protocol/tcp.rs`.
//! - **inbound** (mTLS from a peer proxy → plaintext to the local app): `protocol/listen.rs`
//!   → TLS 1.3 with a mandatory mesh client certificate (`tls/`, verifiers in `identity/`) →
//!   ALPN: `protocol/h2/server.rs` → `inbound/mod.rs` (`forward_http`: identity header) →
//!   `inbound/authz.rs` (authorization) → `inbound/app.rs` (pool) + `protocol/h1/client.rs`
//!   (HTTP/1.1 to the app) or h2c; opaque TCP only for apps declared `tcp`.
//! - **both**: one ending, `telemetry::finish` (metrics, `/stats`, span end, tap);
//!   `telemetry/` (metrics, `/stats`, tap, redaction, OTLP spans), `admin/`
//!   (`/metrics`, `/stats`, `/ready`, `/live`, `/config`), `protocol/drain.rs` (graceful
//!   drain), `limits.rs` (every limit, named and explained), `config.rs`, `memory.rs`.

pub mod admin;
pub mod agent;
pub mod config;
pub mod controlled;
pub mod gateway;
pub mod inbound;
pub mod limits;
pub mod memory;
pub mod outbound;
pub mod protocol;
pub mod telemetry;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ::http::uri::Authority;
use tokio::net::TcpListener;

use self::admin::dump;
use self::admin::dump::ConfigDump;
use self::config::{InboundConfig, Limits, ProxyConfig, UpstreamProtocol};
use self::inbound::Inbound;
use self::inbound::authz;
use self::inbound::authz::{AuthzCell, InboundAuthz};
use self::outbound::peer::Peer;
use self::outbound::{Destination, Outbound, RouteCell, RouteTable};
use self::protocol::drain::Drain;
use self::protocol::h1::server as h1server;
use self::protocol::h2::server as h2server;
use self::telemetry::metrics::Metrics;
use self::telemetry::{tap, trace};
use self::tls::TlsStore;
use self::tls::reload;
use crate::identity::IdentityError;

/// What every connection handler shares; built once, never cloned per request.
#[derive(Debug)]
pub struct Shared {
    pub metrics: Arc<Metrics>,
    /// Live request events for `meshctl tap` (one atomic load per request when unwatched).
    pub tap: Arc<tap::TapHub>,
    pub tls: Arc<TlsStore>,
    pub limits: Limits,
    /// Spans for each request when an OTLP endpoint is configured (`None`: tracing off).
    pub tracer: Option<Arc<trace::Tracer>>,
    /// The outbound's HTTP/1 server's limits.
    pub http1: h1server::Settings,
    /// The HTTP/2 server's (inbound peers, outbound h2c apps).
    pub http2: h2server::Settings,
    /// The service's own rate limits (`policy.rate_limit`), set by the control plane.
    pub inbound_limits: inbound::rate_limit::LimitCell,
}

impl Shared {
    /// The one `Shared` of a proxy process (standalone or control-plane driven).
    pub(crate) fn new(
        limits: &Limits,
        metrics: Arc<Metrics>,
        tap: Arc<tap::TapHub>,
        tls: Arc<TlsStore>,
        tracer: Option<Arc<trace::Tracer>>,
    ) -> Arc<Self> {
        Arc::new(Shared {
            http1: h1server::Settings::new(limits).counting(metrics.limits.clone()),
            http2: h2server::Settings::new(limits).counting(metrics.limits.clone()),
            metrics,
            tap,
            tls,
            limits: limits.clone(),
            tracer,
            inbound_limits: Default::default(),
        })
    }
}

impl Shared {
    /// Serves `listener` with `handle` per connection, at most `max_connections` open at once
    /// (a refusal counted under `direction`): every proxy listener's accept loop.
    pub(crate) async fn accept<F, Fut>(
        &self,
        listener: TcpListener,
        direction: telemetry::metrics::Direction,
        watch: protocol::drain::DrainWatch,
        handle: F,
    ) where
        F: Fn(tokio::net::TcpStream, SocketAddr, protocol::drain::DrainWatch) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let counters = self.metrics.limits.clone();
        let max = self.limits.max_connections;
        protocol::listen::accept_counted(listener, max, counters, direction, watch, handle).await;
    }
}

/// How both start-ups (standalone [`run`] and [`controlled::run`]) put listeners together:
/// each listener is bound, named in the start-up log line and shown in `/config`; the
/// caller decides when it starts serving.
pub(crate) struct Assembly {
    pub shared: Arc<Shared>,
    pub dump: Arc<ConfigDump>,
    /// "role address→target" of every listener bound so far, for the start-up log line.
    pub bound: Vec<String>,
}

impl Assembly {
    /// Binds the inbound listener `c` describes, enforcing `authz`.
    pub async fn inbound(
        &mut self,
        c: &InboundConfig,
        authz: Arc<AuthzCell>,
    ) -> Result<(TcpListener, Arc<Inbound>), ProxyError> {
        let listener = bind(c.listen, "inbound").await?;
        self.bound.push(format!(
            "inbound {}→{} ({:?})",
            local(&listener),
            c.app,
            c.protocol
        ));
        let listen = listener.local_addr().unwrap_or(c.listen);
        let serving = Arc::new(Inbound::new(c, authz.clone(), self.shared.clone()));
        self.dump
            .inbound(listen, c.app, c.protocol, authz, serving.health());
        Ok((listener, serving))
    }

    /// What serves `listener` (bound for `configured`) as `service`'s upstream listener,
    /// sending to `route`; `fallback` is the `:authority` of HTTP/1.0 requests without Host.
    pub fn outbound(
        &mut self,
        listener: &TcpListener,
        configured: SocketAddr,
        service: &str,
        protocol: UpstreamProtocol,
        route: Arc<RouteCell>,
        fallback: Authority,
    ) -> Arc<Outbound> {
        self.bound.push(format!(
            "upstream {}→{service} ({protocol:?})",
            local(listener)
        ));
        let listen = listener.local_addr().unwrap_or(configured);
        self.dump
            .outbound(listen, service.to_string(), protocol, route.clone());
        Arc::new(Outbound::new(
            protocol,
            Destination::Route(route),
            fallback,
            self.shared.clone(),
        ))
    }

    /// Binds the `HTTP_PROXY` listener at `addr`: it routes on each request's authority
    /// through `table`.
    pub async fn http_proxy(
        &mut self,
        addr: SocketAddr,
        table: Arc<RouteTable>,
    ) -> Result<(TcpListener, Arc<Outbound>), ProxyError> {
        let listener = bind(addr, "http-proxy").await?;
        self.bound.push(format!("http-proxy {}", local(&listener)));
        (self.dump).http_proxy(listener.local_addr().unwrap_or(addr), table.clone());
        let outbound = Outbound::new(
            UpstreamProtocol::Http1,
            Destination::ByAuthority(table),
            Authority::from_static("localhost"),
            self.shared.clone(),
        );
        Ok((listener, Arc::new(outbound)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    // Causes are part of each message (not `#[source]`), so `{:#}` prints them once.
    #[error("identity directory {}: {error}", dir.display())]
    Identity { dir: PathBuf, error: IdentityError },
    #[error("cannot listen on {addr} ({role} listener): {error}")]
    Bind {
        addr: SocketAddr,
        role: &'static str,
        error: std::io::Error,
    },
    #[error("watching identity directory {} for certificate rotation: {error}", dir.display())]
    Watch { dir: PathBuf, error: notify::Error },
    #[error("installing the signal handler: {0}")]
    Signal(std::io::Error),
    #[error("{0}")]
    Tracing(String),
    #[error("--tap-client: {0}")]
    TapClient(String),
    #[error("{0}")]
    Gateway(String),
    #[error("inbound {listen}: {error}")]
    Authz {
        listen: SocketAddr,
        error: authz::AuthzError,
    },
}

/// Runs the proxy until SIGTERM or SIGINT, then drains. Returns once drained (or the drain
/// deadline passed).
pub async fn run(config: ProxyConfig) -> Result<(), ProxyError> {
    let peers: Vec<_> = config
        .upstreams
        .iter()
        .map(|u| u.identity.clone())
        .collect();
    let tls =
        TlsStore::load(&config.identity_dir, peers).map_err(|error| ProxyError::Identity {
            dir: config.identity_dir.clone(),
            error,
        })?;
    let tls = Arc::new(tls);
    let metrics = Arc::new(Metrics::default());
    let current = tls.current();
    metrics.cert_expires(current.not_after);
    let _watcher =
        reload::watch(&config.identity_dir, tls.clone(), metrics.clone()).map_err(|error| {
            ProxyError::Watch {
                dir: config.identity_dir.clone(),
                error,
            }
        })?;
    let hub = tap::start(config.tap.as_ref(), current.id.to_string()).await?;
    let tracer = tracer(
        config.otlp.as_ref(),
        config.trace_sample,
        &current.id,
        &metrics,
    )?;
    let shared = Shared::new(&config.limits, metrics.clone(), hub, tls.clone(), tracer);

    let dump = ConfigDump::new(dump::Mode::Standalone, config.limits.clone());
    dump.set_tls(tls.clone());
    if let Some(export) = &config.otlp {
        dump.set_tracing(export, config.trace_sample);
    }

    // A `from:` in another trust domain could never match (peers of other trust domains are
    // refused): an error, as in mesh.yaml, before anything is bound.
    for c in &config.inbound {
        if let Some((at, message)) = c
            .authorization
            .as_ref()
            .and_then(|spec| spec.foreign_pattern(current.id.trust_domain()))
        {
            return Err(ProxyError::Authz {
                listen: c.listen,
                error: authz::AuthzError::Invalid { at, message },
            });
        }
    }
    // Bind everything before serving anything, so a busy port fails start-up cleanly.
    let admin = bind(config.admin, "admin").await?;
    let mut assembly = Assembly {
        shared: shared.clone(),
        dump: dump.clone(),
        bound: Vec::new(),
    };
    let mut inbound = Vec::with_capacity(config.inbound.len());
    for c in &config.inbound {
        let authz = match &c.authorization {
            None => InboundAuthz::Open,
            Some(spec) => {
                let policy = spec.to_proto(current.id.trust_domain());
                InboundAuthz::from_proto(Some(&policy)).map_err(|error| ProxyError::Authz {
                    listen: c.listen,
                    error,
                })?
            }
        };
        inbound.push(assembly.inbound(c, AuthzCell::new(authz)).await?);
    }
    // One peer (one shared HTTP/2 connection) per peer address and identity, however many
    // listeners point at it.
    let mut peers: HashMap<_, Arc<Peer>> = HashMap::new();
    let mut outbound = Vec::with_capacity(config.upstreams.len());
    for u in &config.upstreams {
        let peer = peers
            .entry((u.peer, u.identity.clone()))
            .or_insert_with(|| {
                // A standalone upstream has no declared version.
                Arc::new(Peer::new(
                    u.peer,
                    u.identity.clone(),
                    "",
                    tls.clone(),
                    metrics.clone(),
                ))
            })
            .clone();
        if let Some(timeout) = u.connect_timeout {
            peer.set_connect_timeout(timeout);
        }
        let listener = bind(u.listen, "upstream").await?;
        let fallback = Authority::try_from(u.peer.to_string().as_str())
            .unwrap_or_else(|_| Authority::from_static("localhost"));
        let service = u.identity.last_segment();
        let route = outbound::single_peer(peer, metrics.policy.service(service));
        let serving = assembly.outbound(&listener, u.listen, service, u.protocol, route, fallback);
        outbound.push((listener, serving));
    }
    let mut bound = assembly.bound;
    bound.push(format!("admin {}", local(&admin)));

    let draining = Arc::new(AtomicBool::new(false));
    tokio::spawn(admin::serve(
        admin,
        metrics.clone(),
        draining.clone(),
        Arc::new(AtomicBool::new(true)),
        dump,
    ));
    let (drain, watch) = Drain::new();
    for (listener, target) in inbound {
        tokio::spawn(target.serve(listener, watch.clone()));
    }
    for (listener, target) in outbound {
        tokio::spawn(target.serve(listener, watch.clone()));
    }
    drop(watch);
    tracing::info!(identity = %current.id, listeners = %bound.join(", "), "ready");

    drain_on_signal(
        &draining,
        drain,
        config.drain_timeout,
        shared.tracer.clone(),
    )
    .await
}

/// The tracer for `export`, if one is configured.
pub(crate) fn tracer(
    export: Option<&trace::OtlpExport>,
    sample: trace::SampleRate,
    id: &crate::identity::SpiffeId,
    metrics: &Metrics,
) -> Result<Option<Arc<trace::Tracer>>, ProxyError> {
    export
        .map(|e| trace::Tracer::start(e, sample, id.as_str(), metrics.spans.clone()))
        .transpose()
        .map_err(ProxyError::Tracing)
}

/// Waits for SIGTERM/SIGINT, then drains: `/ready` turns 503, listeners stop accepting,
/// connections finish within `deadline`; then the spans still queued are sent (within
/// [`trace::FLUSH_TIMEOUT`]).
pub(crate) async fn drain_on_signal(
    draining: &AtomicBool,
    drain: Drain,
    deadline: std::time::Duration,
    tracer: Option<Arc<trace::Tracer>>,
) -> Result<(), ProxyError> {
    let signal = wait_for_signal().await?;
    draining.store(true, Ordering::Relaxed);
    tracing::info!(signal, pending = drain.pending(), ?deadline, "draining");
    if drain.drain(deadline).await {
        tracing::info!("drained");
    } else {
        tracing::warn!(
            ?deadline,
            "drain deadline passed; closing the remaining connections"
        );
    }
    if let Some(tracer) = tracer
        && !tracer.flush(trace::FLUSH_TIMEOUT).await
    {
        tracing::warn!(limit = ?trace::FLUSH_TIMEOUT, "exiting with spans not yet sent");
    }
    Ok(())
}

pub(crate) async fn bind(addr: SocketAddr, role: &'static str) -> Result<TcpListener, ProxyError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| ProxyError::Bind { addr, role, error })
}

/// The address a listener actually got (port 0 picks one).
pub(crate) fn local(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string())
}

async fn wait_for_signal() -> Result<&'static str, ProxyError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(ProxyError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ProxyError::Signal)?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
