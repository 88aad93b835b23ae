//! The proxy driven by a control plane: it gets its certificate by CSR (renewed before
//! expiry) and its upstreams, endpoints and split weights from the config watch stream.
//!
//! Assembly: certify → TLS store → inbound listeners (static, from flags) → HTTP-proxy
//! listener → watch stream (binds upstream listeners as they appear, swaps routes) → ready
//! → wait for SIGTERM/SIGINT → drain. Losing the control plane changes nothing that is
//! running: the last good config and the current certificate stay in force.
//!
//! Cluster mode (`--control-plane https://…`): the identity is the one the control plane
//! assigns (adopted from the first leaf), and the app's loopback listener for an upstream is
//! pinned by `--upstream-service LISTEN=SERVICE` ([`PinnedUpstream`]) rather than sent.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::http::uri::Authority;
use arc_swap::ArcSwap;
use tokio::sync::{Notify, watch};

use crate::api::proto::control as pb;
use crate::api::transport::ControlPlaneAddr;
use crate::identity::{SpiffeId, TrustBundle, WorkloadIdentity};
use crate::policy::split::Backend;
use crate::proxy::admin::dump::{ConfigDump, Mode};
use crate::proxy::agent::{Agent, Refused, TokenSource};
use crate::proxy::config::{InboundConfig, Limits, UpstreamProtocol};
use crate::proxy::gateway::{self, Gateway};
use crate::proxy::inbound::authz::{AuthzCell, InboundAuthz};
use crate::proxy::inbound::rate_limit;
use crate::proxy::outbound::balance::LoadBalancer;
use crate::proxy::outbound::peer::Peer;
use crate::proxy::outbound::route::Route;
use crate::proxy::outbound::rules::RouteRules;
use crate::proxy::outbound::{Destination, Outbound, RouteCell, RouteTable};
use crate::proxy::protocol::drain::{Drain, DrainSource};
use crate::proxy::telemetry::metrics::Metrics;
use crate::proxy::telemetry::{tap, tap_mtls};
use crate::proxy::tls::TlsStore;
use crate::proxy::{Assembly, ProxyError, Shared, admin, bind, drain_on_signal};

/// How long to wait between attempts to get the first certificate.
pub const CERTIFY_RETRY: Duration = Duration::from_millis(200);
/// How long to wait before re-sending a certificate report the control plane did not take.
pub const REPORT_RETRY: Duration = Duration::from_millis(500);

/// A control-plane-driven proxy's start-up settings.
#[derive(Debug, Clone)]
pub struct ControlledConfig {
    /// The control plane: its Unix socket, or an https URL and the bundle to verify it.
    pub control_plane: ControlPlaneAddr,
    /// This proxy's bootstrap token: read once from a 0600 file, or re-read from its file
    /// for every call.
    pub token: TokenSource,
    /// The identity this proxy asks for; `None`: the one its token attests (cluster mode).
    pub id: Option<SpiffeId>,
    pub inbound: Vec<InboundConfig>,
    /// Upstream listeners fixed here whatever the control plane sends (cluster mode).
    pub upstream_services: Vec<PinnedUpstream>,
    /// Listener the app's `HTTP_PROXY` points at (routes on `http://<service>/`).
    pub http_proxy: Option<SocketAddr>,
    /// The gateway this proxy also serves, if any (a caller's proxy with an external front).
    pub gateway: Option<crate::proxy::gateway::GatewayOptions>,
    pub admin: SocketAddr,
    pub drain_timeout: Duration,
    pub limits: Limits,
    /// The tap server, if this proxy serves one.
    pub tap: Option<tap::TapListen>,
    /// The cluster tap listener (mTLS, for the controller only), if this proxy serves one.
    pub cluster_tap: Option<ClusterTap>,
    /// Where and how to export spans (`None`: tracing off).
    pub otlp: Option<crate::proxy::telemetry::trace::OtlpExport>,
    /// The share of new traces recorded.
    pub trace_sample: crate::proxy::telemetry::trace::SampleRate,
}

/// `--tap-mtls ADDR --tap-client NAMESPACE/SERVICEACCOUNT`: the controller's identity is
/// completed with this proxy's trust domain (the control plane's to assign).
#[derive(Debug, Clone)]
pub struct ClusterTap {
    pub addr: SocketAddr,
    pub client_namespace: String,
    pub client_service_account: String,
    /// Header names redacted on top of [`tap::ALWAYS_REDACTED`].
    pub redact: Vec<::http::HeaderName>,
}

/// Runs until SIGTERM/SIGINT, then drains.
pub async fn run(config: ControlledConfig) -> Result<(), ProxyError> {
    let metrics = Arc::new(Metrics::default());
    let draining = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    // The admin listener comes up first so `/ready` can say what the proxy waits for.
    let admin_listener = bind(config.admin, "admin").await?;
    let dump = ConfigDump::new(Mode::ControlPlane, config.limits.clone());
    if let Some(export) = &config.otlp {
        dump.set_tracing(export, config.trace_sample);
    }
    tokio::spawn(admin::serve(
        admin_listener,
        metrics.clone(),
        draining.clone(),
        ready.clone(),
        dump.clone(),
    ));

    let agent = Agent::connect(
        &config.control_plane,
        config.token.clone(),
        config.id.clone(),
    );
    let identity = first_certificate(&agent).await;
    // Asked for, or assigned by the control plane (and asked for from now on).
    let id = identity.id.clone();
    metrics.cert_expires(identity.not_after);
    let identity = Arc::new(identity);
    let tls = Arc::new(TlsStore::from_identity(identity.clone()).map_err(|error| {
        ProxyError::Identity {
            dir: PathBuf::from(config.control_plane.to_string()),
            error,
        }
    })?);
    dump.set_tls(tls.clone());
    let (current, renewed) = watch::channel(identity);
    let (wanted_issuer, issuer_watch) = watch::channel(String::new());
    let report_now = Arc::new(Notify::new());
    tokio::spawn(agent.clone().renew_forever(current, issuer_watch));
    tokio::spawn(install_renewals(
        renewed,
        tls.clone(),
        metrics.clone(),
        report_now.clone(),
    ));
    tokio::spawn(report_forever(
        agent.clone(),
        tls.clone(),
        report_now.clone(),
    ));

    let hub = match (&config.tap, &config.cluster_tap) {
        (None, Some(cluster)) => Arc::new(tap::TapHub::new(id.to_string(), &cluster.redact)),
        _ => tap::start(config.tap.as_ref(), id.to_string()).await?,
    };
    if let Some(cluster) = &config.cluster_tap {
        let client = SpiffeId::for_workload(
            id.trust_domain(),
            &cluster.client_namespace,
            &cluster.client_service_account,
        )
        .map_err(|e| ProxyError::TapClient(e.to_string()))?;
        let listen = tap_mtls::TapMtls {
            addr: cluster.addr,
            client: client.clone(),
        };
        let addr = tap_mtls::start(&listen, hub.clone(), tls.clone()).await?;
        tracing::info!(%addr, %client, "cluster tap listening");
    }
    let tracer = crate::proxy::tracer(config.otlp.as_ref(), config.trace_sample, &id, &metrics)?;
    let shared = Shared::new(&config.limits, metrics.clone(), hub, tls.clone(), tracer);
    let (drain, drain_watch) = Drain::new();
    let mut assembly = Assembly {
        shared: shared.clone(),
        dump,
        bound: Vec::new(),
    };
    // Until the first configuration says whether this service has a policy, inbound
    // requests wait for it (fail closed): a protected service is never briefly open.
    let authz = AuthzCell::new(InboundAuthz::Pending);
    for c in &config.inbound {
        let (listener, serving) = assembly.inbound(c, authz.clone()).await?;
        tokio::spawn(serving.serve(listener, drain_watch.clone()));
    }
    let table: Arc<RouteTable> = Arc::new(ArcSwap::from_pointee(HashMap::new()));
    if let Some(addr) = config.http_proxy {
        let (listener, serving) = assembly.http_proxy(addr, table.clone()).await?;
        tokio::spawn(serving.serve(listener, drain_watch.clone()));
    }
    // Kept for the process's life: dropping it stops the gateway's reloads.
    let mut _gateway_watch = None;
    if let Some(options) = &config.gateway {
        let outbound = Arc::new(Outbound::new(
            UpstreamProtocol::Http1,
            Destination::ByAuthority(table.clone()),
            Authority::from_static("localhost"),
            shared.clone(),
        ));
        let (listener, gateway) = Gateway::bind(options, outbound, shared.clone()).await?;
        let scheme = if gateway.is_tls() { "https" } else { "http" };
        (assembly.bound).push(format!(
            "gateway {scheme}://{}",
            crate::proxy::local(&listener)
        ));
        _gateway_watch = Some(
            gateway::watch(gateway.clone())
                .map_err(|e| ProxyError::Gateway(format!("watching the gateway's files: {e}")))?,
        );
        tokio::spawn(gateway.serve(listener, drain_watch.clone()));
    }

    let tracer = shared.tracer.clone();
    // Listeners started later take their watches from the source; this one is not kept
    // (the config watcher below lives as long as the process: a watch in it would hold
    // every drain up until its deadline).
    drop(drain_watch);
    let bound = std::mem::take(&mut assembly.bound);
    let mut upstreams = Upstreams {
        assembly,
        table,
        drain: drain.source(),
        listeners: HashMap::new(),
        peers: HashMap::new(),
        pinned: config
            .upstream_services
            .iter()
            .map(|p| (p.service.clone(), p.listen))
            .collect(),
        skipped: HashSet::new(),
    };
    let configured = ready.clone();
    let limits_shared = shared.clone();
    tokio::spawn(agent.watch_forever(move |cfg| {
        // Checked before anything of the configuration is applied, installed after.
        let limits = rate_limit::parse(cfg.rate_limit.as_ref())?;
        apply_with_authz(cfg, &authz, |cfg| upstreams.apply(cfg))?;
        limits_shared.inbound_limits.install(limits);
        if !cfg.issuer_fingerprint.is_empty() {
            wanted_issuer.send_replace(cfg.issuer_fingerprint.clone());
        }
        // Every config (the first after each reconnect included) re-reports the certificate
        // state, so a restarted control plane learns it again.
        report_now.notify_one();
        configured.store(true, Ordering::Relaxed);
        Ok(())
    }));
    tracing::info!(identity = %id, control_plane = %config.control_plane, listeners = %bound.join(", "), "started; waiting for configuration");

    drain_on_signal(&draining, drain, config.drain_timeout, tracer).await
}

/// Retries until the control plane issues a certificate (it may start after the proxy).
/// Each new error is logged once (a wrong trust bundle, then a refused token, …).
async fn first_certificate(agent: &Agent) -> WorkloadIdentity {
    let mut logged = String::new();
    loop {
        match agent.certify().await {
            Ok(identity) => {
                tracing::info!(identity = %identity.id, serial = %identity.serial, "obtained workload certificate");
                return identity;
            }
            Err(e) => {
                let error = e.to_string();
                if error != logged {
                    tracing::warn!(error = %error, "waiting for a certificate from the control plane");
                    logged = error;
                }
                tokio::time::sleep(CERTIFY_RETRY).await;
            }
        }
    }
}

/// Applies a config: its authorization policy is checked first (an invalid one rejects the
/// whole update before anything changes), then `rest` applies the other parts, and only when
/// all of it succeeded is the new policy swapped in (atomically; requests in flight keep the
/// one they were checked with).
fn apply_with_authz(
    cfg: &pb::ProxyConfig,
    authz: &AuthzCell,
    rest: impl FnOnce(&pb::ProxyConfig) -> Result<(), Refused>,
) -> Result<(), Refused> {
    let policy = InboundAuthz::from_proto(cfg.authorization.as_ref()).map_err(|e| e.to_string())?;
    rest(cfg)?;
    authz.store(policy);
    Ok(())
}

/// The trust bundle a config carries, parsed but not installed (`None`: an empty one keeps
/// the current bundle).
fn parse_trust(cfg: &pb::ProxyConfig) -> Result<Option<TrustBundle>, String> {
    if cfg.trust_bundle_pem.is_empty() {
        return Ok(None);
    }
    TrustBundle::from_pem(&cfg.trust_bundle_pem)
        .map(Some)
        .map_err(|e| format!("trust bundle: {e}"))
}

/// Trusts `bundle` from now on; refused, changing nothing, when this proxy's own leaf does
/// not chain to it.
fn install_trust(tls: &TlsStore, bundle: TrustBundle, version: u64) -> Result<(), String> {
    match tls.install_bundle(Arc::new(bundle)) {
        Ok(true) => {
            tracing::info!(version, "installed a new trust bundle");
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(format!("trust bundle refused: {e}")),
    }
}

/// Reports the certificate state whenever `report_now` fires; a failed report is retried
/// after `REPORT_RETRY` (rotation waits on these reports), always with the state current then.
async fn report_forever(agent: Agent, tls: Arc<TlsStore>, report_now: Arc<Notify>) {
    loop {
        report_now.notified().await;
        let configs = tls.current();
        let identity = configs.identity();
        let report = pb::CertificateReport {
            leaf_serial: identity.serial.clone(),
            leaf_not_after_unix: crate::identity::pem::unix_seconds(identity.not_after),
            issuer_fingerprint: identity.issuer_fingerprint(),
            bundle_fingerprints: identity.bundle.fingerprints(),
        };
        if let Err(e) = agent.report(report).await {
            tracing::debug!(error = %e, retry_in = ?REPORT_RETRY, "certificate report failed");
            tokio::time::sleep(REPORT_RETRY).await;
            report_now.notify_one();
        }
    }
}

async fn install_renewals(
    mut renewed: watch::Receiver<Arc<WorkloadIdentity>>,
    tls: Arc<TlsStore>,
    metrics: Arc<Metrics>,
    report_now: Arc<Notify>,
) {
    while renewed.changed().await.is_ok() {
        let identity = renewed.borrow_and_update().clone();
        let not_after = identity.not_after;
        match tls.install(identity) {
            Ok(_) => {
                metrics.reload(true);
                metrics.cert_expires(not_after);
                report_now.notify_one();
            }
            Err(e) => {
                metrics.reload(false);
                tracing::warn!(error = %e, "refused a renewed certificate; keeping the current one");
            }
        }
    }
}

/// The upstream side as the control plane describes it: one listener per upstream (bound
/// on first sight, kept across updates), routes swapped atomically, one `Peer` (one shared
/// HTTP/2 connection) per endpoint address and identity, reused across updates.
struct Upstreams {
    /// The proxy's shared state and `/config`, and how listeners are put together.
    assembly: Assembly,
    table: Arc<RouteTable>,
    drain: DrainSource,
    listeners: HashMap<SocketAddr, Arc<RouteCell>>,
    /// By address, identity and version (an endpoint that changes version is a new peer).
    peers: HashMap<(SocketAddr, SpiffeId, String), Arc<Peer>>,
    /// Service → the listener `--upstream-service` fixes for it.
    pinned: HashMap<String, SocketAddr>,
    /// Upstreams skipped for want of a listener (logged once each).
    skipped: HashSet<String>,
}

/// `--upstream-service LISTEN=SERVICE`: the app reaches SERVICE on LISTEN, whatever
/// listener the control plane names for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedUpstream {
    pub listen: SocketAddr,
    pub service: String,
}

impl std::str::FromStr for PinnedUpstream {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((listen, service)) = text.split_once('=') else {
            return Err(format!("`{text}`: expected LISTEN=SERVICE"));
        };
        let listen = listen
            .parse()
            .map_err(|e| format!("`{text}`: listen address `{listen}`: {e}"))?;
        if !crate::identity::spiffe::is_dns_label(service) {
            return Err(format!(
                "`{text}`: service `{service}` is not a DNS label (lower-case letters, digits, \
                 '-', at most 63)"
            ));
        }
        Ok(PinnedUpstream {
            listen,
            service: service.to_string(),
        })
    }
}

/// One upstream of a config, parsed and checked.
#[derive(Debug)]
struct ParsedUpstream {
    service: String,
    listen: SocketAddr,
    protocol: UpstreamProtocol,
    backends: Vec<Backend<Endpoint>>,
    routes: RouteRules,
    balancer: LoadBalancer,
    /// `None`: the proxy's default.
    connect_timeout: Option<Duration>,
}

/// An endpoint as a config names it: where it listens and the identity it must present.
#[derive(Debug)]
struct Endpoint {
    addr: SocketAddr,
    id: SpiffeId,
}

impl Upstreams {
    /// Applies the trust bundle and upstreams of a config. Everything that can be refused —
    /// the bundle's PEM, every upstream, every new listener's port — is checked before
    /// anything changes, so an invalid update changes nothing (the bundle last: a leaf that
    /// does not chain to it refuses it, and the bound listeners are dropped again). A port
    /// some other process holds is the one refusal worth retrying.
    fn apply(&mut self, cfg: &pb::ProxyConfig) -> Result<(), Refused> {
        let bundle = parse_trust(cfg)?;
        let mut parsed = Vec::with_capacity(cfg.upstreams.len());
        for u in &cfg.upstreams {
            match self.pinned.get(&u.service) {
                Some(listen) => {
                    let mut u = u.clone();
                    u.listen = listen.to_string();
                    parsed.push(parse_upstream(&u)?);
                }
                None if u.listen.is_empty() => {
                    if self.skipped.insert(u.service.clone()) {
                        tracing::info!(service = %u.service, "upstream without a listener (no --upstream-service for it); skipped");
                    }
                }
                None => parsed.push(parse_upstream(u)?),
            }
        }
        let fresh = self.bind_new(&parsed)?;
        if let Some(bundle) = bundle {
            install_trust(&self.assembly.shared.tls, bundle, cfg.version)?;
        }
        let ids: Vec<SpiffeId> = parsed
            .iter()
            .flat_map(|u| u.backends.iter())
            .flat_map(|b| b.endpoints.iter().map(|e| e.id.clone()))
            .collect();
        (self.assembly.shared.tls)
            .add_peers(ids.iter())
            .map_err(|e| format!("building TLS configs: {e}"))?;
        self.swap_routes(parsed, fresh, cfg.version);
        Ok(())
    }

    /// Binds the listeners `parsed` names that are not open yet (a busy port refuses the
    /// update before anything changed, to be retried).
    fn bind_new(
        &self,
        parsed: &[ParsedUpstream],
    ) -> Result<Vec<(SocketAddr, tokio::net::TcpListener)>, Refused> {
        let mut fresh = Vec::new();
        for u in parsed {
            if !self.listeners.contains_key(&u.listen) {
                let std = std::net::TcpListener::bind(u.listen).map_err(|e| Refused {
                    message: format!("upstream {} listener {}: {e}", u.service, u.listen),
                    retry: e.kind() == std::io::ErrorKind::AddrInUse,
                })?;
                std.set_nonblocking(true).map_err(|e| e.to_string())?;
                fresh.push((
                    u.listen,
                    tokio::net::TcpListener::from_std(std).map_err(|e| e.to_string())?,
                ));
            }
        }
        Ok(fresh)
    }

    /// Installs the new route table; new listeners start serving.
    fn swap_routes(
        &mut self,
        parsed: Vec<ParsedUpstream>,
        mut fresh: Vec<(SocketAddr, tokio::net::TcpListener)>,
        version: u64,
    ) {
        let mut table = HashMap::new();
        for u in parsed {
            let connect_timeout = u
                .connect_timeout
                .unwrap_or(crate::proxy::limits::CONNECT_TIMEOUT);
            let backends = u
                .backends
                .into_iter()
                .map(|b| {
                    let version = b.version.clone();
                    b.map(|e| {
                        let peer = self.peer(e.addr, e.id, &version);
                        peer.set_connect_timeout(connect_timeout);
                        peer
                    })
                })
                .collect();
            let rules = u
                .routes
                .count_faults_in(self.assembly.shared.metrics.faults.service(&u.service))
                .count_mirrors_in(self.assembly.shared.metrics.mirrors.service(&u.service));
            let route = Route::new(backends)
                .with_rules(rules)
                .with_balancer(u.balancer)
                .with_counters(self.assembly.shared.metrics.policy.service(&u.service));
            let cell = match self.listeners.get(&u.listen) {
                Some(cell) => {
                    cell.store(Arc::new(route));
                    cell.clone()
                }
                None => {
                    let cell: Arc<RouteCell> = Arc::new(ArcSwap::from_pointee(route));
                    if let Some(pos) = fresh.iter().position(|(a, _)| *a == u.listen) {
                        let (_, listener) = fresh.swap_remove(pos);
                        let fallback = Authority::try_from(u.service.as_str())
                            .unwrap_or_else(|_| Authority::from_static("localhost"));
                        let serving = self.assembly.outbound(
                            &listener,
                            u.listen,
                            &u.service,
                            u.protocol,
                            cell.clone(),
                            fallback,
                        );
                        tokio::spawn(serving.serve(listener, self.drain.watch()));
                        tracing::info!(service = %u.service, listen = %u.listen, "upstream listener ready");
                    }
                    self.listeners.insert(u.listen, cell.clone());
                    cell
                }
            };
            table.insert(u.service, cell);
        }
        self.table.store(Arc::new(table));
        self.assembly.dump.applied(version);
        tracing::info!(version, "applied configuration");
    }

    fn peer(&mut self, addr: SocketAddr, id: SpiffeId, version: &str) -> Arc<Peer> {
        self.peers
            .entry((addr, id.clone(), version.to_string()))
            .or_insert_with(|| {
                Arc::new(Peer::new(
                    addr,
                    id,
                    version,
                    self.assembly.shared.tls.clone(),
                    self.assembly.shared.metrics.clone(),
                ))
            })
            .clone()
    }
}

fn parse_upstream(u: &pb::Upstream) -> Result<ParsedUpstream, String> {
    let listen: SocketAddr = u
        .listen
        .parse()
        .map_err(|e| format!("upstream {}: listen `{}`: {e}", u.service, u.listen))?;
    let protocol = match u.protocol.as_str() {
        // Undeclared means HTTP (HTTP/1.1 or HTTP/2): opaque TCP needs `tcp` declared.
        "" | "http" => UpstreamProtocol::Http,
        "grpc" => UpstreamProtocol::Http2,
        "tcp" => UpstreamProtocol::Tcp,
        other => {
            return Err(format!(
                "upstream {}: unknown protocol `{other}`",
                u.service
            ));
        }
    };
    let mut total = 0;
    let mut backends = Vec::with_capacity(u.backends.len());
    for b in &u.backends {
        if b.weight > crate::policy::split::TOTAL_WEIGHT {
            return Err(format!(
                "upstream {}: weight {} of {} is over 100",
                u.service, b.weight, b.version
            ));
        }
        total += b.weight;
        let endpoints = b
            .endpoints
            .iter()
            .map(|e| {
                let addr: SocketAddr = e
                    .address
                    .parse()
                    .map_err(|err| format!("endpoint `{}`: {err}", e.address))?;
                let id: SpiffeId = e
                    .spiffe_id
                    .parse()
                    .map_err(|err| format!("endpoint {}: {err}", e.address))?;
                Ok(Endpoint { addr, id })
            })
            .collect::<Result<Vec<_>, String>>()?;
        backends.push(Backend::new(b.version.clone(), b.weight, endpoints));
    }
    if !u.backends.is_empty() && total != crate::policy::split::TOTAL_WEIGHT {
        return Err(format!(
            "upstream {}: weights sum to {total}, not 100",
            u.service
        ));
    }
    let routes = RouteRules::parse(u).map_err(|e| format!("upstream {}: {e}", u.service))?;
    let balancer = u
        .load_balancer
        .parse()
        .map_err(|e| format!("upstream {}: {e}", u.service))?;
    let connect_timeout =
        (u.connect_timeout_ms > 0).then(|| Duration::from_millis(u.connect_timeout_ms));
    Ok(ParsedUpstream {
        service: u.service.clone(),
        listen,
        protocol,
        backends,
        routes,
        balancer,
        connect_timeout,
    })
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests;
