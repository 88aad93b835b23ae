//! The admin listener's `/config`: what this proxy runs with right now, as JSON — its
//! certificate and trust bundle, every listener, and per destination the versions and
//! weights, each endpoint's circuit and load, the routes, retries, timeouts and faults, and
//! each inbound listener's authorization policy.
//!
//! Read from the live objects the data path uses at the moment of the request (the route
//! cells, authorization cells and TLS store), never from a copy of what was asked for, so
//! it shows what traffic gets. No key material, no tokens, no OTLP header values (their names
//! only). Schema: docs/proxy.md#config-dump.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde::Serialize;

use crate::identity::pem::unix_seconds;
use crate::policy::tracing::{OtlpExport, SampleRate};
use crate::proxy::config::{AppProtocol, Limits, UpstreamProtocol};
use crate::proxy::inbound::authz::{AuthzCell, AuthzView};
use crate::proxy::inbound::health::{AppHealth, AppProblem};
use crate::proxy::outbound::peer::EndpointView;
use crate::proxy::outbound::rules::RulesView;
use crate::proxy::outbound::{RouteCell, RouteTable};
use crate::proxy::tls::TlsStore;

/// Everything `/config` reads, registered as the proxy sets itself up.
#[derive(Debug)]
pub struct ConfigDump {
    mode: Mode,
    limits: Limits,
    /// Set once the proxy has its certificate (at once standalone; after the CSR otherwise).
    tls: OnceLock<Arc<TlsStore>>,
    /// The control-plane configuration version applied last (0: none yet).
    version: AtomicU64,
    listeners: Mutex<Vec<Listener>>,
    /// Span export, when on.
    tracing: OnceLock<TracingView>,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Configured by flags or `--config`.
    Standalone,
    /// Configured by the control plane's watch stream.
    ControlPlane,
}

#[derive(Debug)]
pub(super) enum Listener {
    Inbound {
        listen: SocketAddr,
        app: SocketAddr,
        protocol: AppProtocol,
        authz: Arc<AuthzCell>,
        health: Arc<AppHealth>,
    },
    Outbound {
        listen: SocketAddr,
        service: String,
        protocol: UpstreamProtocol,
        route: Arc<RouteCell>,
    },
    HttpProxy {
        listen: SocketAddr,
        table: Arc<RouteTable>,
    },
}

/// The document `/config` answers with.
#[derive(Debug, Serialize)]
pub struct ConfigView {
    mode: Mode,
    /// `None` until the first certificate arrived.
    identity: Option<IdentityView>,
    /// The control-plane configuration in force (`None`: standalone, or none yet).
    config_version: Option<u64>,
    inbound: Vec<InboundView>,
    outbound: Vec<OutboundView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_proxy: Option<HttpProxyView>,
    limits: LimitsView,
    /// Where spans go (absent: tracing off).
    #[serde(skip_serializing_if = "Option::is_none")]
    tracing: Option<TracingView>,
}

/// The span export: the URL called, never a header's value.
#[derive(Debug, Clone, Serialize)]
pub struct TracingView {
    /// What the exporter calls: `scheme://host:port` (gRPC) or the full traces URL (HTTP).
    endpoint: String,
    protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    /// Names of the extra headers sent; values redacted.
    headers: std::collections::BTreeMap<String, &'static str>,
    /// Share of new traces recorded, e.g. `10%`.
    sample: String,
}

#[derive(Debug, Serialize)]
struct IdentityView {
    spiffe_id: String,
    serial: String,
    not_after_unix: i64,
    /// SHA-256 of the issuer certificate that signed the leaf.
    issuer_fingerprint: String,
    /// SHA-256 of every trust anchor peers are verified against.
    trust_bundle_fingerprints: Vec<String>,
}

#[derive(Debug, Serialize)]
struct InboundView {
    listen: SocketAddr,
    app: SocketAddr,
    protocol: AppProtocol,
    authorization: AuthzView,
    /// Exchanges with the app failing although it accepted the connection, per protocol,
    /// since that protocol last worked (absent: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    app_problems: Vec<AppProblem>,
}

#[derive(Debug, Serialize)]
struct OutboundView {
    listen: SocketAddr,
    service: String,
    protocol: UpstreamProtocol,
    #[serde(flatten)]
    destination: DestinationView,
}

#[derive(Debug, Serialize)]
struct HttpProxyView {
    listen: SocketAddr,
    /// The services `http://<service>/` reaches (their routes are under `outbound`).
    services: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DestinationView {
    load_balancer: &'static str,
    backends: Vec<BackendView>,
    policy: RulesView,
}

#[derive(Debug, Serialize)]
struct BackendView {
    /// Empty for a standalone `--upstream` (one unversioned backend).
    version: String,
    /// Share of the split, out of 100.
    weight: u32,
    endpoints: Vec<EndpointView>,
}

#[derive(Debug, Serialize)]
struct LimitsView {
    max_connections: usize,
    max_headers: usize,
    max_header_bytes: usize,
    h2_max_concurrent_streams: u32,
    header_read_timeout_ms: u64,
    detect_timeout_ms: u64,
    tcp_idle_timeout_ms: u64,
    body_read_timeout_ms: u64,
    app_response_timeout_ms: u64,
}

impl ConfigDump {
    pub fn new(mode: Mode, limits: Limits) -> Arc<Self> {
        Arc::new(ConfigDump {
            mode,
            limits,
            tls: OnceLock::new(),
            version: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
            tracing: OnceLock::new(),
        })
    }

    /// The span export `/config` shows (header names only).
    pub fn set_tracing(&self, export: &OtlpExport, sample: SampleRate) {
        let _ = self.tracing.set(TracingView {
            endpoint: export.endpoint.target(export.protocol),
            protocol: export.protocol.to_string(),
            ca_file: export.ca_file.as_ref().map(|p| p.display().to_string()),
            headers: export
                .headers
                .names()
                .into_iter()
                .map(|n| (n, "<redacted>"))
                .collect(),
            sample: sample.to_string(),
        });
    }

    /// The TLS store whose current certificate `/config` shows.
    pub fn set_tls(&self, tls: Arc<TlsStore>) {
        let _ = self.tls.set(tls);
    }

    /// Records that control-plane configuration `version` is in force.
    pub fn applied(&self, version: u64) {
        self.version.store(version, Relaxed);
    }

    pub fn inbound(
        &self,
        listen: SocketAddr,
        app: SocketAddr,
        protocol: AppProtocol,
        authz: Arc<AuthzCell>,
        health: Arc<AppHealth>,
    ) {
        self.push(Listener::Inbound {
            listen,
            app,
            protocol,
            authz,
            health,
        });
    }

    /// An outbound listener sending everything to `route` (the destination `service`).
    pub fn outbound(
        &self,
        listen: SocketAddr,
        service: String,
        protocol: UpstreamProtocol,
        route: Arc<RouteCell>,
    ) {
        self.push(Listener::Outbound {
            listen,
            service,
            protocol,
            route,
        });
    }

    pub fn http_proxy(&self, listen: SocketAddr, table: Arc<RouteTable>) {
        self.push(Listener::HttpProxy { listen, table });
    }

    /// The listeners registered so far.
    pub(super) fn listeners(&self) -> std::sync::MutexGuard<'_, Vec<Listener>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The proxy's SPIFFE ID, once it has a certificate.
    pub(super) fn identity(&self) -> Option<String> {
        self.tls
            .get()
            .map(|tls| tls.current().identity().id.to_string())
    }

    /// The control-plane configuration in force (`None`: standalone, or none yet).
    pub(super) fn config_version(&self) -> Option<u64> {
        Some(self.version.load(Relaxed)).filter(|v| *v > 0)
    }

    fn push(&self, listener: Listener) {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    /// The Prometheus family `meshctl_split_weight{dst_service,dst_version}`: each destination's
    /// split as this proxy holds it (percent; the control plane's weights), the configured
    /// side of a canary panel beside the observed share of `meshctl_responses_total`. A
    /// service appears once however many listeners reach it. (`dst_`: a scrape target's own
    /// `service`/`version` labels would otherwise rename these to `exported_*`.)
    pub fn render_split(&self, out: &mut String) {
        use std::fmt::Write as _;
        let mut weights = std::collections::BTreeMap::new();
        let listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        let mut add = |service: &str, route: &RouteCell| {
            for b in route.load().backends() {
                weights.insert((service.to_string(), b.version.clone()), b.weight);
            }
        };
        for listener in listeners.iter() {
            match listener {
                Listener::Outbound { service, route, .. } => add(service, route),
                Listener::HttpProxy { table, .. } => {
                    for (service, route) in table.load().iter() {
                        add(service, route);
                    }
                }
                Listener::Inbound { .. } => {}
            }
        }
        let _ = writeln!(
            out,
            "# HELP meshctl_split_weight The configured share of a destination's traffic per \
             version (percent; the weights sum to 100), as this proxy holds it.\n\
             # TYPE meshctl_split_weight gauge"
        );
        for ((service, version), weight) in weights {
            let _ = writeln!(
                out,
                "meshctl_split_weight{{dst_service=\"{service}\",dst_version=\"{version}\"}} {weight}"
            );
        }
    }

    /// The document as of now.
    pub fn view(&self) -> ConfigView {
        let now = Instant::now();
        let listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        let mut view = ConfigView {
            mode: self.mode,
            identity: self.tls.get().map(|tls| identity_view(tls)),
            config_version: Some(self.version.load(Relaxed)).filter(|v| *v > 0),
            inbound: Vec::new(),
            outbound: Vec::new(),
            http_proxy: None,
            limits: limits_view(&self.limits),
            tracing: self.tracing.get().cloned(),
        };
        for listener in listeners.iter() {
            match listener {
                Listener::Inbound {
                    listen,
                    app,
                    protocol,
                    authz,
                    health,
                } => view.inbound.push(InboundView {
                    listen: *listen,
                    app: *app,
                    protocol: *protocol,
                    authorization: authz.now().view(),
                    app_problems: health.problems(),
                }),
                Listener::Outbound {
                    listen,
                    service,
                    protocol,
                    route,
                } => view.outbound.push(OutboundView {
                    listen: *listen,
                    service: service.clone(),
                    protocol: *protocol,
                    destination: destination_view(&route.load(), now),
                }),
                Listener::HttpProxy { listen, table } => {
                    let mut services: Vec<String> = table.load().keys().cloned().collect();
                    services.sort();
                    view.http_proxy = Some(HttpProxyView {
                        listen: *listen,
                        services,
                    });
                }
            }
        }
        view.outbound.sort_by_key(|o| o.listen);
        view
    }
}

fn identity_view(tls: &TlsStore) -> IdentityView {
    let current = tls.current();
    let identity = current.identity();
    IdentityView {
        spiffe_id: identity.id.to_string(),
        serial: identity.serial.clone(),
        not_after_unix: unix_seconds(identity.not_after),
        issuer_fingerprint: identity.issuer_fingerprint(),
        trust_bundle_fingerprints: identity.bundle.fingerprints(),
    }
}

fn destination_view(
    route: &crate::proxy::outbound::route::Route<Arc<crate::proxy::outbound::peer::Peer>>,
    now: Instant,
) -> DestinationView {
    DestinationView {
        load_balancer: route.balancer().name(),
        backends: route
            .backends()
            .iter()
            .map(|b| BackendView {
                version: b.version.clone(),
                weight: b.weight,
                endpoints: b.endpoints.iter().map(|p| p.view(now)).collect(),
            })
            .collect(),
        policy: route.rules().view(),
    }
}

fn limits_view(l: &Limits) -> LimitsView {
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    LimitsView {
        max_connections: l.max_connections,
        max_headers: l.max_headers,
        max_header_bytes: l.max_header_bytes,
        h2_max_concurrent_streams: l.h2_max_concurrent_streams,
        header_read_timeout_ms: ms(l.header_read_timeout),
        detect_timeout_ms: ms(l.detect_timeout),
        tcp_idle_timeout_ms: ms(l.tcp_idle_timeout),
        body_read_timeout_ms: ms(l.body_read_timeout),
        app_response_timeout_ms: ms(l.app_response_timeout),
    }
}
