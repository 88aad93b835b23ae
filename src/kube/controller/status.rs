//! The controller's `/status` (admin listener, JSON): every meshed pod's proxy as this
//! replica sees it, the configuration version it sends now, and the catalog version that
//! carries its current splits. `meshctl status` and `canary shift --wait` read it (through
//! the API server's pods/proxy, or `--controller-admin`), one document per replica, merged
//! with [`merge`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalog::Index;
use crate::api::proto::control as pb;
use crate::control::canary_routes::CanaryRoute;
use crate::policy::fault::LiveFault;

/// What `GET /status` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerStatus {
    /// This replica's meshctl version (`meshctl version`); absent from controllers before it
    /// existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The configuration version proxies are sent now (per replica: each counts its own).
    pub config_version: u64,
    /// The version announced with the catalog `splits` were read from: a proxy that
    /// acknowledged it (or a later one) runs with those splits.
    pub catalog_version: u64,
    /// `namespace/service` → version → weight, from the services' HTTPRoutes (services
    /// without one are absent).
    pub splits: BTreeMap<String, BTreeMap<String, u32>>,
    /// `namespace/service` → the live fault (`meshctl-faults`) in force when the catalog was
    /// announced under `catalog_version` (absent from controllers before it existed).
    #[serde(default)]
    pub faults: BTreeMap<String, LiveFault>,
    /// `namespace/service` → its HTTPRoute's header route, in the catalog announced under
    /// `catalog_version` (absent: none, or a controller before they existed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header_routes: BTreeMap<String, CanaryRoute>,
    pub proxies: Vec<ProxyStatus>,
    /// The issuer this replica signs leaves with (its certificate, PEM; public), from the
    /// issuer Secret (followed live): `certs status` shows it without needing the Secret's key.
    #[serde(default)]
    pub issuer_pem: String,
    /// Why the issuer Secret's current content is refused (the issuer above stays in force);
    /// absent when it is not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer_error: String,
}

/// One meshed pod's proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// `namespace/pod`.
    pub instance: String,
    pub service: String,
    /// `""`: unversioned.
    pub version: String,
    /// The services it calls (its upstreams annotation).
    pub upstreams: Vec<String>,
    /// It has a configuration stream open to this replica.
    pub connected: bool,
    pub acked_version: u64,
    /// Why it refused the last configuration (`""`: it did not).
    pub last_error: String,
    pub leaf_serial: String,
    /// notAfter of the last leaf this replica issued it (0: none yet).
    pub leaf_not_after_unix: i64,
    /// What the proxy last reported it serves with (absent until it reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateReport>,
}

/// A proxy's own report of the certificate state it serves with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateReport {
    pub leaf_serial: String,
    pub leaf_not_after_unix: i64,
    /// SHA-256 of the issuer certificate in its leaf's chain.
    pub issuer_fingerprint: String,
    /// SHA-256 of each anchor in its trust bundle, in bundle order.
    pub bundle_fingerprints: Vec<String>,
}

impl ProxyStatus {
    pub fn namespace(&self) -> &str {
        self.instance.split_once('/').map_or("", |(ns, _)| ns)
    }

    pub fn pod(&self) -> &str {
        self.instance
            .split_once('/')
            .map_or(self.instance.as_str(), |(_, pod)| pod)
    }
}

/// The document from the control plane's status and the catalog last announced (with the
/// version it was announced under), the live faults announced with it, and the issuer this
/// replica signs with.
pub fn build(
    plane: pb::StatusResponse,
    announced: Option<(u64, &Index)>,
    faults: BTreeMap<String, LiveFault>,
    issuer_pem: &str,
) -> ControllerStatus {
    let (catalog_version, index) = match announced {
        Some((v, index)) => (v, Some(index)),
        None => (0, None),
    };
    let splits = index
        .map(|index| {
            index
                .splits
                .iter()
                .map(|((ns, svc), w)| (format!("{ns}/{svc}"), w.0.clone()))
                .collect()
        })
        .unwrap_or_default();
    let header_routes = index
        .map(|index| {
            index
                .header_routes
                .iter()
                .map(|((ns, svc), r)| (format!("{ns}/{svc}"), r.clone()))
                .collect()
        })
        .unwrap_or_default();
    let proxies = plane
        .proxies
        .into_iter()
        .map(|p| {
            let upstreams = index
                .and_then(|index| {
                    let (ns, pod) = p.instance.split_once('/')?;
                    let meshed = index.pods.get(&(ns.to_string(), pod.to_string()))?;
                    meshed.upstreams.clone().ok()
                })
                .unwrap_or_default();
            ProxyStatus {
                instance: p.instance,
                service: p.service,
                version: p.instance_version,
                upstreams,
                connected: p.connected,
                acked_version: p.acked_version,
                last_error: p.last_error,
                leaf_serial: p.leaf_serial,
                leaf_not_after_unix: p.leaf_not_after_unix,
                certificate: p.certificate.map(|c| CertificateReport {
                    leaf_serial: c.leaf_serial,
                    leaf_not_after_unix: c.leaf_not_after_unix,
                    issuer_fingerprint: c.issuer_fingerprint,
                    bundle_fingerprints: c.bundle_fingerprints,
                }),
            }
        })
        .collect();
    ControllerStatus {
        version: plane.server_version,
        config_version: plane.version,
        catalog_version,
        splits,
        faults,
        header_routes,
        proxies,
        issuer_pem: issuer_pem.to_string(),
        issuer_error: String::new(),
    }
}

/// One proxy across the replicas: the replica it is connected to (each proxy streams from
/// one), and whether it runs that replica's current configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merged {
    #[serde(flatten)]
    pub proxy: ProxyStatus,
    /// It acknowledged the current configuration of the replica it is connected to.
    pub config_current: bool,
}

/// Merges the replicas' documents: per proxy, the entry of a replica it is connected to
/// (else the one with the latest leaf), `config_current` against that replica's version.
/// Versions are per replica, so they are only ever compared within one document.
pub fn merge(replicas: &[ControllerStatus]) -> Vec<Merged> {
    let mut out: BTreeMap<String, Merged> = BTreeMap::new();
    for replica in replicas {
        for p in &replica.proxies {
            let candidate = Merged {
                proxy: p.clone(),
                config_current: p.connected && p.acked_version >= replica.config_version,
            };
            let better = match out.get(&p.instance) {
                None => true,
                Some(seen) => {
                    (p.connected && !seen.proxy.connected)
                        || (p.connected == seen.proxy.connected
                            && p.leaf_not_after_unix > seen.proxy.leaf_not_after_unix)
                }
            };
            if better {
                out.insert(p.instance.clone(), candidate);
            }
        }
    }
    out.into_values().collect()
}

/// The callers of `namespace/service` that do not run `weights` yet: for each replica whose
/// catalog carries those weights, its connected callers must have acknowledged its catalog
/// version; a caller connected to no such replica is pending too. Each entry names the pod
/// and why. `None` while no replica's catalog carries the weights yet.
pub fn pending_acks(
    replicas: &[ControllerStatus],
    namespace: &str,
    service: &str,
    weights: &BTreeMap<String, u32>,
) -> Option<Vec<String>> {
    let key = format!("{namespace}/{service}");
    pending_callers(replicas, namespace, service, |r| {
        r.splits.get(&key) == Some(weights)
    })
}

/// The callers of `namespace/service` that do not run its live fault `fault` yet (`None`:
/// that it has none), as [`pending_acks`] does for weights: `None` while no replica's
/// announced catalog carries it yet.
pub fn pending_fault_acks(
    replicas: &[ControllerStatus],
    namespace: &str,
    service: &str,
    fault: Option<&LiveFault>,
) -> Option<Vec<String>> {
    let key = format!("{namespace}/{service}");
    pending_callers(replicas, namespace, service, |r| {
        r.faults.get(&key) == fault
    })
}

/// The callers of `namespace/service` that do not run its header route `route` yet (`None`:
/// that it has none), as [`pending_acks`] does for weights.
pub fn pending_header_acks(
    replicas: &[ControllerStatus],
    namespace: &str,
    service: &str,
    route: Option<&CanaryRoute>,
) -> Option<Vec<String>> {
    let key = format!("{namespace}/{service}");
    pending_callers(replicas, namespace, service, |r| {
        r.header_routes.get(&key) == route
    })
}

/// The callers of `namespace/service` not acknowledging the catalog of a replica that
/// `carries` the change (each named, with why); `None` while no replica carries it.
fn pending_callers(
    replicas: &[ControllerStatus],
    namespace: &str,
    service: &str,
    carries: impl Fn(&ControllerStatus) -> bool,
) -> Option<Vec<String>> {
    let carries = &carries;
    if !replicas.iter().any(carries) {
        return None;
    }
    let callers = merge(replicas)
        .into_iter()
        .filter(|m| {
            m.proxy.namespace() == namespace && m.proxy.upstreams.iter().any(|u| u == service)
        })
        .map(|m| m.proxy.instance);
    let mut pending = Vec::new();
    for instance in callers {
        let done = replicas.iter().filter(|r| carries(r)).any(|r| {
            r.proxies.iter().any(|p| {
                p.instance == instance && p.connected && p.acked_version >= r.catalog_version
            })
        });
        if done {
            continue;
        }
        let seen: Vec<&ProxyStatus> = replicas
            .iter()
            .flat_map(|r| r.proxies.iter().filter(|p| p.instance == instance))
            .collect();
        let why = if !seen.iter().any(|p| p.connected) {
            " (not connected)"
        } else if seen.iter().any(|p| !p.last_error.is_empty()) {
            " (rejected)"
        } else {
            ""
        };
        pending.push(format!("{instance}{why}"));
    }
    Some(pending)
}
