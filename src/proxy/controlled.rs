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
use crate::proxy::admin::dump::{ConfigDump, Mode};
use crate::proxy::agent::{Agent, Refused, TokenSource};
use crate::proxy::config::{InboundConfig, Limits, UpstreamProtocol};
use crate::proxy::inbound::Inbound;
use crate::proxy::inbound::authz::{AuthzCell, InboundAuthz};
use crate::proxy::outbound::balance::LoadBalancer;
use crate::proxy::outbound::peer::Peer;
use crate::proxy::outbound::route::Route;
use crate::proxy::outbound::rules::RouteRules;
use crate::proxy::outbound::{Destination, Outbound, RouteCell, RouteTable};
use crate::proxy::protocol::drain::{Drain, DrainSource};
use crate::proxy::telemetry::metrics::Metrics;
use crate::proxy::telemetry::{tap, tap_mtls};
use crate::proxy::tls::TlsStore;
use crate::proxy::{ProxyError, Shared, admin, bind, drain_on_signal, local};

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
    let shared = Arc::new(Shared {
        http1: crate::proxy::protocol::h1::server::Settings::new(&config.limits)
            .counting(metrics.limits.clone()),
        http2: crate::proxy::protocol::h2::server::Settings::new(&config.limits)
            .counting(metrics.limits.clone()),
        metrics: metrics.clone(),
        tap: hub,
        tls: tls.clone(),
        limits: config.limits.clone(),
        tracer: crate::proxy::tracer(config.otlp.as_ref(), config.trace_sample, &id, &metrics)?,
    });
    let (drain, drain_watch) = Drain::new();
    let mut bound = Vec::new();
    // Until the first configuration says whether this service has a policy, inbound
    // requests wait for it (fail closed): a protected service is never briefly open.
    let authz = AuthzCell::new(InboundAuthz::Pending);
    for c in &config.inbound {
        let listener = bind(c.listen, "inbound").await?;
        bound.push(format!("inbound {}→{}", local(&listener), c.app));
        let listen = listener.local_addr().unwrap_or(c.listen);
        let serving = Arc::new(Inbound::new(c, authz.clone(), shared.clone()));
        dump.inbound(listen, c.app, c.protocol, authz.clone(), serving.health());
        tokio::spawn(serving.serve(listener, drain_watch.clone()));
    }
    let table: Arc<RouteTable> = Arc::new(ArcSwap::from_pointee(HashMap::new()));
    if let Some(addr) = config.http_proxy {
        let listener = bind(addr, "http-proxy").await?;
        bound.push(format!("http-proxy {}", local(&listener)));
        dump.http_proxy(listener.local_addr().unwrap_or(addr), table.clone());
        let outbound = Outbound::new(
            UpstreamProtocol::Http1,
            Destination::ByAuthority(table.clone()),
            Authority::from_static("localhost"),
            shared.clone(),
        );
        tokio::spawn(Arc::new(outbound).serve(listener, drain_watch.clone()));
    }

    let tracer = shared.tracer.clone();
    // Listeners started later take their watches from the source; this one is not kept
    // (the config watcher below lives as long as the process: a watch in it would hold
    // every drain up until its deadline).
    drop(drain_watch);
    let mut upstreams = Upstreams {
        shared,
        table,
        drain: drain.source(),
        listeners: HashMap::new(),
        peers: HashMap::new(),
        dump,
        pinned: config
            .upstream_services
            .iter()
            .map(|p| (p.service.clone(), p.listen))
            .collect(),
        skipped: HashSet::new(),
    };
    let configured = ready.clone();
    tokio::spawn(agent.watch_forever(move |cfg| {
        apply_with_authz(cfg, &authz, |cfg| upstreams.apply(cfg))?;
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
    shared: Arc<Shared>,
    table: Arc<RouteTable>,
    drain: DrainSource,
    listeners: HashMap<SocketAddr, Arc<RouteCell>>,
    peers: HashMap<(SocketAddr, SpiffeId), Arc<Peer>>,
    /// What `/config` shows.
    dump: Arc<ConfigDump>,
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
    backends: Vec<ParsedBackend>,
    routes: RouteRules,
    balancer: LoadBalancer,
    /// `None`: the proxy's default.
    connect_timeout: Option<Duration>,
}

/// (version, weight, endpoints as address + expected identity)
type ParsedBackend = (String, u32, Vec<(SocketAddr, SpiffeId)>);

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
            install_trust(&self.shared.tls, bundle, cfg.version)?;
        }
        let ids: Vec<SpiffeId> = parsed
            .iter()
            .flat_map(|u| u.backends.iter())
            .flat_map(|b| b.2.iter().map(|e| e.1.clone()))
            .collect();
        self.shared
            .tls
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
            let backends = u
                .backends
                .into_iter()
                .map(|(version, weight, endpoints)| {
                    let peers = endpoints
                        .into_iter()
                        .map(|(addr, id)| {
                            let peer = self.peer(addr, id);
                            peer.set_connect_timeout(
                                u.connect_timeout
                                    .unwrap_or(crate::proxy::limits::CONNECT_TIMEOUT),
                            );
                            peer
                        })
                        .collect();
                    (version, weight, peers)
                })
                .collect();
            let rules = u
                .routes
                .count_faults_in(self.shared.metrics.faults.service(&u.service));
            let route = Route::new(backends)
                .with_rules(rules)
                .with_balancer(u.balancer)
                .with_counters(self.shared.metrics.policy.service(&u.service));
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
                        let listen = listener.local_addr().unwrap_or(u.listen);
                        let service = u.service.clone();
                        self.dump
                            .outbound(listen, service, u.protocol, cell.clone());
                        let outbound = Outbound::new(
                            u.protocol,
                            Destination::Route(cell.clone()),
                            fallback,
                            self.shared.clone(),
                        );
                        tokio::spawn(Arc::new(outbound).serve(listener, self.drain.watch()));
                        tracing::info!(service = %u.service, listen = %u.listen, "upstream listener ready");
                    }
                    self.listeners.insert(u.listen, cell.clone());
                    cell
                }
            };
            table.insert(u.service, cell);
        }
        self.table.store(Arc::new(table));
        self.dump.applied(version);
        tracing::info!(version, "applied configuration");
    }

    fn peer(&mut self, addr: SocketAddr, id: SpiffeId) -> Arc<Peer> {
        self.peers
            .entry((addr, id.clone()))
            .or_insert_with(|| {
                Arc::new(Peer::new(
                    addr,
                    id,
                    self.shared.tls.clone(),
                    self.shared.metrics.clone(),
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
                Ok((addr, id))
            })
            .collect::<Result<Vec<_>, String>>()?;
        backends.push((b.version.clone(), b.weight, endpoints));
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
mod tests {
    use super::*;
    use crate::identity::ca;

    fn upstream(weights: &[(&str, u32, &str, &str)]) -> pb::Upstream {
        pb::Upstream {
            service: "api".into(),
            listen: "127.0.0.1:9000".into(),
            protocol: "http".into(),
            backends: weights
                .iter()
                .map(|(v, w, addr, id)| pb::Backend {
                    version: v.to_string(),
                    weight: *w,
                    endpoints: vec![pb::Endpoint {
                        address: addr.to_string(),
                        spiffe_id: id.to_string(),
                    }],
                })
                .collect(),
            ..Default::default()
        }
    }

    const ID: &str = "spiffe://mesh.local/ns/local/sa/api";

    fn with_authz(from: &str) -> pb::ProxyConfig {
        pb::ProxyConfig {
            authorization: Some(pb::AuthzPolicy {
                allow: vec![pb::AuthzRule {
                    from: vec![from.to_string()],
                    ..Default::default()
                }],
                exempt: vec![],
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_invalid_update_leaves_the_last_good_policy_in_force() {
        let cell = AuthzCell::new(InboundAuthz::Pending);
        let web = "spiffe://mesh.local/ns/local/sa/web";
        apply_with_authz(&with_authz(web), &cell, |_| Ok(())).unwrap();
        let good = cell.current().await;
        assert_eq!(
            good.check_tcp(web),
            crate::proxy::inbound::authz::Verdict::Allow
        );

        // A bad pattern: rejected before the rest of the update is even looked at.
        let mut rest_ran = false;
        let err = apply_with_authz(&with_authz("spiffe://mesh.local/sa/we*"), &cell, |_| {
            rest_ran = true;
            Ok(())
        })
        .unwrap_err();
        assert!(err.message.contains("allow[0].from[0]"), "{err}");
        assert!(!err.retry, "an invalid policy is never retried");
        assert!(!rest_ran);
        assert_eq!(cell.current().await, good);

        // A valid policy in an update whose other parts fail is not installed either.
        let other = "spiffe://mesh.local/ns/local/sa/batch";
        let busy = Refused {
            message: "busy port".into(),
            retry: true,
        };
        let err = apply_with_authz(&with_authz(other), &cell, |_| Err(busy.clone()));
        assert_eq!(err.unwrap_err(), busy);
        assert_eq!(cell.current().await, good);

        // No policy in a good update: open again.
        apply_with_authz(&pb::ProxyConfig::default(), &cell, |_| Ok(())).unwrap();
        assert_eq!(*cell.current().await, InboundAuthz::Open);
    }

    /// Upstreams of a proxy whose TLS store trusts a fresh CA; that CA's bundle PEM.
    async fn upstreams() -> (Upstreams, String) {
        let id: SpiffeId = ID.parse().unwrap();
        let (tls, bundle_pem) = crate::proxy::tls::testing::store(&id);
        let limits = Limits::default();
        let shared = Arc::new(Shared {
            http1: crate::proxy::protocol::h1::server::Settings::new(&limits),
            http2: crate::proxy::protocol::h2::server::Settings::new(&limits),
            metrics: Arc::new(Metrics::default()),
            tap: tap::start(None, "spiffe://mesh.local/ns/local/sa/front".into())
                .await
                .unwrap(),
            tls,
            limits,
            tracer: None,
        });
        let (drain, _watch) = Drain::new();
        let upstreams = Upstreams {
            shared,
            table: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            drain: drain.source(),
            listeners: HashMap::new(),
            peers: HashMap::new(),
            dump: ConfigDump::new(Mode::ControlPlane, Limits::default()),
            pinned: HashMap::new(),
            skipped: HashSet::new(),
        };
        (upstreams, bundle_pem)
    }

    fn fingerprints(u: &Upstreams) -> Vec<String> {
        u.shared.tls.current().identity().bundle.fingerprints()
    }

    #[tokio::test]
    async fn an_update_refused_for_its_upstreams_does_not_install_its_trust_bundle() {
        let (mut upstreams, bundle_pem) = upstreams().await;
        let before = fingerprints(&upstreams);
        // A bundle the proxy's leaf still chains to, with a second anchor (a CA rotation).
        let extra = ca::new_anchor("mesh.local", ca::DEFAULT_ANCHOR_LIFETIME).unwrap();
        let rotated = format!("{bundle_pem}{}", extra.cert_pem);
        let mut bad = upstream(&[("v1", 80, "127.0.0.1:1", ID)]);
        bad.listen = "127.0.0.1:0".into();
        let cfg = pb::ProxyConfig {
            version: 7,
            trust_bundle_pem: rotated.clone(),
            upstreams: vec![bad],
            ..Default::default()
        };
        let err = upstreams.apply(&cfg).unwrap_err();
        assert!(err.message.contains("sum to 80") && !err.retry, "{err}");
        assert_eq!(
            fingerprints(&upstreams),
            before,
            "the bundle was not installed"
        );
        assert!(upstreams.table.load().is_empty());

        // The same bundle in a valid update is installed, with the upstream.
        let mut good = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        good.listen = "127.0.0.1:0".into();
        let cfg = pb::ProxyConfig {
            version: 8,
            trust_bundle_pem: rotated,
            upstreams: vec![good],
            ..Default::default()
        };
        upstreams.apply(&cfg).unwrap();
        assert_eq!(fingerprints(&upstreams).len(), before.len() + 1);
        assert!(upstreams.table.load().contains_key("api"));
    }

    #[tokio::test]
    async fn the_config_dump_shows_the_applied_split_routes_and_policy_and_not_a_refused_one() {
        let (mut upstreams, _) = upstreams().await;
        let mut u = upstream(&[("v1", 80, "127.0.0.1:1", ID), ("v2", 20, "127.0.0.1:2", ID)]);
        u.listen = "127.0.0.1:0".into();
        u.request_timeout_ms = 1500;
        u.retry = Some(pb::RetryPolicy {
            attempts: 3,
            on: vec!["gateway-error".into(), "unavailable".into()],
            backoff_ms: 25,
        });
        u.routes.push(pb::HttpRoute {
            path: Some(pb::http_route::Path::PathPrefix("/beta/".into())),
            headers: vec![pb::HeaderMatch {
                name: "X-Canary".into(),
                value: "1".into(),
            }],
            version: "v2".into(),
            ..Default::default()
        });
        let cfg = |version, upstream: pb::Upstream| pb::ProxyConfig {
            version,
            upstreams: vec![upstream],
            ..Default::default()
        };
        upstreams.apply(&cfg(3, u.clone())).unwrap();
        let view = serde_json::to_value(upstreams.dump.view()).unwrap();
        assert_eq!(view["mode"], "control_plane");
        assert_eq!(view["config_version"], 3);
        let out = &view["outbound"][0];
        assert_eq!(out["service"], "api");
        assert_ne!(out["listen"], "127.0.0.1:0", "the bound port is shown");
        assert_eq!(out["protocol"], "http");
        assert_eq!(out["load_balancer"], "p2c");
        let backends = out["backends"].as_array().unwrap();
        assert_eq!(
            (
                backends[0]["version"].as_str(),
                backends[0]["weight"].as_u64()
            ),
            (Some("v1"), Some(80))
        );
        assert_eq!(
            (
                backends[1]["version"].as_str(),
                backends[1]["weight"].as_u64()
            ),
            (Some("v2"), Some(20))
        );
        let endpoint = &backends[1]["endpoints"][0];
        assert_eq!(endpoint["address"], "127.0.0.1:2");
        assert_eq!(endpoint["identity"], ID);
        assert_eq!(endpoint["circuit"]["state"], "closed");
        assert_eq!(endpoint["latency_ewma_ms"], serde_json::Value::Null);
        let policy = &out["policy"];
        assert_eq!(policy["timeout_ms"], 1500);
        assert_eq!(
            policy["retry"]["on"],
            serde_json::json!(["gateway-error", "unavailable"])
        );
        let route = &policy["routes"][0];
        assert_eq!(route["path_prefix"], "/beta/");
        assert_eq!(route["headers"], serde_json::json!([["x-canary", "1"]]));
        assert_eq!(route["version"], "v2");

        // A shift swaps the split behind the same listener.
        u.backends[0].weight = 0;
        u.backends[1].weight = 100;
        upstreams.apply(&cfg(4, u.clone())).unwrap();
        let view = serde_json::to_value(upstreams.dump.view()).unwrap();
        assert_eq!(view["config_version"], 4);
        assert_eq!(view["outbound"].as_array().unwrap().len(), 1);
        assert_eq!(view["outbound"][0]["backends"][1]["weight"], 100);

        // A refused update changes nothing that is shown.
        u.backends[0].weight = 50;
        assert!(upstreams.apply(&cfg(5, u)).is_err());
        let view = serde_json::to_value(upstreams.dump.view()).unwrap();
        assert_eq!(view["config_version"], 4);
        assert_eq!(view["outbound"][0]["backends"][0]["weight"], 0);
    }

    #[tokio::test]
    async fn a_port_another_process_holds_refuses_the_update_for_a_retry_that_succeeds_later() {
        let (mut upstreams, _) = upstreams().await;
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap();
        let mut u = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        u.listen = port.to_string();
        let cfg = pb::ProxyConfig {
            version: 3,
            upstreams: vec![u],
            ..Default::default()
        };
        let err = upstreams.apply(&cfg).unwrap_err();
        assert!(err.retry, "{err}");
        assert!(err.message.contains(&port.to_string()), "{err}");
        assert!(upstreams.table.load().is_empty());

        drop(holder);
        upstreams.apply(&cfg).unwrap();
        assert!(upstreams.listeners.contains_key(&port));
        assert!(upstreams.table.load().contains_key("api"));
    }

    #[tokio::test]
    async fn a_bad_trust_bundle_refuses_the_update_before_any_listener_is_bound() {
        let (mut upstreams, _) = upstreams().await;
        // A port that is free now: the refused update must not have bound it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut u = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        u.listen = port.to_string();
        let cfg = pb::ProxyConfig {
            trust_bundle_pem: "-----BEGIN CERTIFICATE-----\nnot base64\n".into(),
            upstreams: vec![u],
            ..Default::default()
        };
        let err = upstreams.apply(&cfg).unwrap_err();
        assert!(
            err.message.starts_with("trust bundle") && !err.retry,
            "{err}"
        );
        assert!(upstreams.listeners.is_empty());
        std::net::TcpListener::bind(port).expect("the port is still free");
    }

    #[tokio::test]
    async fn a_pinned_upstream_binds_its_own_listener_and_one_without_a_listener_is_skipped() {
        let (mut upstreams, _) = upstreams().await;
        let pinned = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        upstreams.pinned.insert("api".into(), pinned);
        // Sent with another listener: bound where the flag says.
        let api = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        // Sent without a listener and not pinned: skipped, the rest applied.
        let mut db = upstream(&[("v1", 100, "127.0.0.1:2", ID)]);
        db.service = "db".into();
        db.listen = String::new();
        let cfg = pb::ProxyConfig {
            version: 3,
            upstreams: vec![api, db],
            ..Default::default()
        };
        upstreams.apply(&cfg).unwrap();
        assert_eq!(
            upstreams.listeners.keys().copied().collect::<Vec<_>>(),
            vec![pinned]
        );
        assert!(upstreams.table.load().contains_key("api"));
        assert!(!upstreams.table.load().contains_key("db"));
        assert!(upstreams.skipped.contains("db"));
        // The same again: still accepted, nothing new bound.
        upstreams.apply(&cfg).unwrap();
        assert_eq!(upstreams.listeners.len(), 1);
    }

    #[test]
    fn an_upstream_service_flag_is_a_listener_and_a_dns_label() {
        let p: PinnedUpstream = "127.0.0.1:4150=api".parse().unwrap();
        assert_eq!(p.listen.port(), 4150);
        assert_eq!(p.service, "api");
        for bad in [
            "127.0.0.1:4150",
            "localhost:1=api",
            "127.0.0.1:1=Api",
            "127.0.0.1:1=a.b",
        ] {
            let err = bad.parse::<PinnedUpstream>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_valid_upstream_parses() {
        let u = parse_upstream(&upstream(&[
            ("v1", 80, "127.0.0.1:1", ID),
            ("v2", 20, "127.0.0.1:2", ID),
        ]))
        .unwrap();
        assert_eq!(u.backends.len(), 2);
        assert_eq!(u.protocol, UpstreamProtocol::Http);
    }

    #[test]
    fn invalid_updates_are_rejected_with_a_reason() {
        let cases = [
            (upstream(&[("v1", 80, "127.0.0.1:1", ID)]), "sum to 80"),
            (upstream(&[("v1", 101, "127.0.0.1:1", ID)]), "over 100"),
            (
                upstream(&[("v1", 100, "not-an-address", ID)]),
                "not-an-address",
            ),
            (
                upstream(&[("v1", 100, "127.0.0.1:1", "https://x/y")]),
                "SPIFFE",
            ),
        ];
        for (u, needle) in cases {
            let err = parse_upstream(&u).err().unwrap();
            assert!(err.contains(needle), "expected `{needle}` in {err}");
        }
        let mut bad_listen = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        bad_listen.listen = "nowhere".into();
        assert!(parse_upstream(&bad_listen).is_err());
        let mut bad_route = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        bad_route.routes.push(pb::HttpRoute {
            version: "v2".into(),
            ..Default::default()
        });
        assert!(
            parse_upstream(&bad_route)
                .unwrap_err()
                .contains("unknown version `v2`")
        );
        let mut bad_fault = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        bad_fault.live_fault = Some(pb::Fault {
            abort_status: 503,
            abort_per_million: 1_000_001,
            ..Default::default()
        });
        assert!(
            parse_upstream(&bad_fault)
                .unwrap_err()
                .contains("fault: percent")
        );
        let mut bad_proto = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        bad_proto.protocol = "smtp".into();
        assert!(parse_upstream(&bad_proto).unwrap_err().contains("smtp"));
        let mut bad_lb = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        bad_lb.load_balancer = "random".into();
        assert!(
            parse_upstream(&bad_lb)
                .unwrap_err()
                .contains("unknown load balancer `random`")
        );
    }

    #[test]
    fn the_balancer_and_connect_timeout_default_unless_set() {
        let mut u = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
        let parsed = parse_upstream(&u).unwrap();
        assert_eq!(parsed.balancer, LoadBalancer::PeakEwma);
        assert_eq!(parsed.connect_timeout, None);
        u.load_balancer = "round_robin".into();
        u.connect_timeout_ms = 250;
        let parsed = parse_upstream(&u).unwrap();
        assert_eq!(parsed.balancer, LoadBalancer::RoundRobin);
        assert_eq!(parsed.connect_timeout, Some(Duration::from_millis(250)));
    }
}
