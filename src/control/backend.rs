//! Where the control plane's catalog comes from: one trait, the `local` backend (mesh.yaml +
//! `.meshctl/`) today; a Kubernetes backend implements the same trait later.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::canary_routes::{self, CanaryRoutes};
use super::meshfile::{HttpRoute, PathMatch, ServicePolicy};
use super::plan::{MeshPlan, ProxyPlan};
use super::state_files::{self, Catalog, StateFileError};
use crate::api::proto::control as pb;
use crate::api::token::token_hash;
use crate::identity::spiffe::LOCAL_NAMESPACE;
use crate::policy::fault::{FAULTS_FILE, LiveFault};
use crate::policy::split::{SplitError, SplitWeights};

/// A workload the backend vouches for: who a token (or service-account token) belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Unique per proxy instance (status and acks are kept per instance).
    pub instance: String,
    pub service: String,
    pub version: Option<String>,
    pub spiffe_id: String,
}

/// The catalog behind the control plane.
#[tonic::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Who presents `token`, if anyone. Local: per-proxy bootstrap tokens; Kubernetes: a
    /// projected service-account token, reviewed by the API server (hence async).
    async fn attest(&self, token: &str) -> Option<Workload>;
    /// Whether `token` is the mesh's admin credential.
    fn is_admin(&self, token: &str) -> bool;
    /// Every workload expected to connect (for status and ack gating).
    fn workloads(&self) -> Vec<Workload>;
    /// The versions of a service (empty if unknown).
    fn versions(&self, service: &str) -> Vec<String>;
    /// Whether a service is declared opaque TCP (faults cannot act on it).
    fn is_opaque_tcp(&self, _service: &str) -> bool {
        false
    }
    /// The configuration `who` should run, given the current splits.
    fn proxy_config(
        &self,
        who: &Workload,
        splits: &BTreeMap<String, SplitWeights>,
        version: u64,
    ) -> pb::ProxyConfig;
    /// Persisted splits (defaults for services without any); a bad file is an error.
    fn load_splits(&self) -> Result<BTreeMap<String, SplitWeights>, StateFileError>;
    /// Persists splits; called before a new config version is announced.
    fn save_splits(&self, splits: &BTreeMap<String, SplitWeights>) -> std::io::Result<()>;
    /// Persisted rollout header routes (`canary start --match-header`).
    fn load_canary_routes(&self) -> Result<CanaryRoutes, StateFileError>;
    /// Persists them; called before a new config version is announced.
    fn save_canary_routes(&self, routes: &CanaryRoutes) -> std::io::Result<()>;
    /// Persisted live faults (`meshctl fault inject`); none unless the backend keeps them.
    fn load_faults(&self) -> Result<BTreeMap<String, LiveFault>, StateFileError> {
        Ok(BTreeMap::new())
    }
    /// Persists live faults; called before a new config version is announced.
    fn save_faults(&self, _faults: &BTreeMap<String, LiveFault>) -> std::io::Result<()> {
        Ok(())
    }
    /// The key [`Backend::load_faults`] files the live fault of `service` under, as `who`
    /// calls it: the service name locally; on Kubernetes `namespace/service` (the same name
    /// in two namespaces is two services).
    fn fault_key(&self, _who: &Workload, service: &str) -> String {
        service.to_string()
    }
}

pub use super::state_files::SPLITS_FILE;

/// The local backend: a [`MeshPlan`] written by `meshctl up`, splits in `.meshctl/splits.json`.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    plan: MeshPlan,
    splits_path: PathBuf,
    canary_routes_path: PathBuf,
    faults_path: PathBuf,
}

impl LocalBackend {
    pub fn new(plan: MeshPlan, state_dir: &Path) -> Self {
        LocalBackend {
            plan,
            splits_path: state_dir.join(SPLITS_FILE),
            canary_routes_path: canary_routes::path(state_dir),
            faults_path: state_dir.join(FAULTS_FILE),
        }
    }

    pub fn plan(&self) -> &MeshPlan {
        &self.plan
    }

    /// The plan's services and versions, what the state files are checked against.
    fn catalog(&self) -> Catalog {
        catalog(&self.plan)
    }

    fn workload(p: &ProxyPlan) -> Workload {
        Workload {
            instance: p.name.clone(),
            service: p.service.clone(),
            version: p.version.clone(),
            spiffe_id: p.spiffe_id.clone(),
        }
    }
}

/// Reads the persisted splits of a state dir (what `canary status` shows without a mesh);
/// a corrupt file is an error naming it, never an empty default.
pub fn read_splits(state_dir: &Path) -> Result<BTreeMap<String, SplitWeights>, StateFileError> {
    state_files::load_splits(&state_dir.join(SPLITS_FILE), None).map(|l| l.value)
}

#[tonic::async_trait]
impl Backend for LocalBackend {
    async fn attest(&self, token: &str) -> Option<Workload> {
        let hash = token_hash(token);
        self.plan
            .proxies
            .iter()
            .find(|p| p.token_sha256 == hash)
            .map(Self::workload)
    }

    fn is_admin(&self, token: &str) -> bool {
        token_hash(token) == self.plan.admin_token_sha256
    }

    fn workloads(&self) -> Vec<Workload> {
        self.plan.proxies.iter().map(Self::workload).collect()
    }

    fn versions(&self, service: &str) -> Vec<String> {
        self.plan.versions(service)
    }

    fn is_opaque_tcp(&self, service: &str) -> bool {
        self.plan.is_opaque_tcp(service)
    }

    fn proxy_config(
        &self,
        who: &Workload,
        splits: &BTreeMap<String, SplitWeights>,
        version: u64,
    ) -> pb::ProxyConfig {
        let Some(me) = self.plan.proxies.iter().find(|p| p.name == who.instance) else {
            return pb::ProxyConfig {
                version,
                ..Default::default()
            };
        };
        let upstreams = me
            .upstreams
            .iter()
            .map(|u| {
                let targets: Vec<&ProxyPlan> = self
                    .plan
                    .proxies
                    .iter()
                    .filter(|p| p.service == u.service)
                    .collect();
                let versions = self.plan.versions(&u.service);
                let policy = self.plan.policies.get(&u.service);
                let split = splits
                    .get(&u.service)
                    .cloned()
                    .unwrap_or_else(|| SplitWeights::initial(&versions));
                let backends = versions
                    .iter()
                    .map(|v| pb::Backend {
                        version: v.clone(),
                        // A service without versions has one backend carrying all traffic.
                        weight: if versions.len() == 1 {
                            crate::policy::split::TOTAL_WEIGHT
                        } else {
                            split.weight(v)
                        },
                        endpoints: targets
                            .iter()
                            .filter(|t| t.version.clone().unwrap_or_default() == *v)
                            .map(|t| pb::Endpoint {
                                address: t.inbound.to_string(),
                                spiffe_id: t.spiffe_id.clone(),
                            })
                            .collect(),
                    })
                    .collect();
                upstream_config(
                    &u.service,
                    u.listen.to_string(),
                    targets
                        .first()
                        .and_then(|t| t.protocol.clone())
                        .unwrap_or_default(),
                    backends,
                    policy,
                )
            })
            .collect();
        pb::ProxyConfig {
            version,
            spiffe_id: me.spiffe_id.clone(),
            service: me.service.clone(),
            instance_version: me.version.clone().unwrap_or_default(),
            upstreams,
            // Enforced by the service's own proxy (inbound), whatever the version.
            authorization: self
                .plan
                .policies
                .get(&me.service)
                .and_then(|p| p.authorization.as_ref())
                .map(|a| a.to_proto(&self.plan.trust_domain)),
            rate_limit: self
                .plan
                .policies
                .get(&me.service)
                .and_then(|p| p.rate_limit.as_ref())
                .map(|r| r.to_proto_in(&self.plan.trust_domain, LOCAL_NAMESPACE)),
            // The control plane fills in the CA it serves (backends know nothing of it).
            ..Default::default()
        }
    }

    fn load_splits(&self) -> Result<BTreeMap<String, SplitWeights>, StateFileError> {
        let loaded = state_files::load_splits(&self.splits_path, Some(&self.catalog()))?;
        log_notes(&loaded.notes);
        let mut splits = loaded.value;
        // Services that were never shifted start on their default split.
        for svc in self.plan.services() {
            let versions = self.plan.versions(&svc);
            if versions.len() > 1 {
                splits
                    .entry(svc)
                    .or_insert_with(|| SplitWeights::initial(&versions));
            }
        }
        Ok(splits)
    }

    fn save_splits(&self, splits: &BTreeMap<String, SplitWeights>) -> std::io::Result<()> {
        let body = serde_json::to_vec_pretty(splits).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&self.splits_path, &body, crate::fsutil::PUBLIC_FILE_MODE)
    }

    fn load_canary_routes(&self) -> Result<CanaryRoutes, StateFileError> {
        let loaded =
            state_files::load_canary_routes(&self.canary_routes_path, Some(&self.catalog()))?;
        log_notes(&loaded.notes);
        Ok(loaded.value)
    }

    fn save_canary_routes(&self, routes: &CanaryRoutes) -> std::io::Result<()> {
        canary_routes::save(&self.canary_routes_path, routes)
    }
    fn load_faults(&self) -> Result<BTreeMap<String, LiveFault>, StateFileError> {
        // A service that left mesh.yaml takes its live fault with it (noted in the log).
        let loaded = state_files::load_faults(&self.faults_path, Some(&self.catalog()))?;
        log_notes(&loaded.notes);
        Ok(loaded.value)
    }

    fn save_faults(&self, faults: &BTreeMap<String, LiveFault>) -> std::io::Result<()> {
        let body = serde_json::to_vec_pretty(faults).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&self.faults_path, &body, crate::fsutil::PUBLIC_FILE_MODE)
    }
}

fn log_notes(notes: &[String]) {
    for note in notes {
        tracing::warn!("{note}");
    }
}

/// One upstream as the proxies receive it: the destination's backends (versions with their
/// weights and endpoints) and its policy — the same for every backend of the control plane.
pub fn upstream_config(
    service: &str,
    listen: String,
    protocol: String,
    backends: Vec<pb::Backend>,
    policy: Option<&ServicePolicy>,
) -> pb::Upstream {
    pb::Upstream {
        service: service.to_string(),
        listen,
        protocol,
        backends,
        routes: policy
            .map(|p| p.routes.iter().map(http_route).collect())
            .unwrap_or_default(),
        request_timeout_ms: policy.and_then(|p| p.timeout_ms).unwrap_or_default(),
        retry: policy
            .and_then(|p| p.retries.as_ref())
            .map(|r| pb::RetryPolicy {
                attempts: r.attempts,
                on: r.on.clone(),
                backoff_ms: r.backoff_ms,
            }),
        breaker_failures: policy.and_then(|p| p.breaker_failures).unwrap_or_default(),
        fault: policy.and_then(|p| p.fault).map(|f| f.to_pb(None)),
        // The control plane lays the live fault over this (backends know none).
        live_fault: None,
        load_balancer: policy
            .and_then(|p| p.load_balancer.clone())
            .unwrap_or_default(),
        connect_timeout_ms: policy
            .and_then(|p| p.connect_timeout_ms)
            .unwrap_or_default(),
    }
}

/// A mesh.yaml route as the proxies receive it.
fn http_route(route: &HttpRoute) -> pb::HttpRoute {
    pb::HttpRoute {
        path: route.path.as_ref().map(|p| match p {
            PathMatch::Exact(p) => pb::http_route::Path::PathExact(p.clone()),
            PathMatch::Prefix(p) => pb::http_route::Path::PathPrefix(p.clone()),
        }),
        method: route.method.clone().unwrap_or_default(),
        headers: route
            .headers
            .iter()
            .map(|(name, value)| pb::HeaderMatch {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        version: route.version.clone().unwrap_or_default(),
        timeout_ms: route.timeout_ms.unwrap_or_default(),
        retryable: route.retryable,
        name: route.name.clone().unwrap_or_default(),
        fault: route.fault.map(|f| f.to_pb(None)),
    }
}

/// The services and versions of a plan (`[""]` for a service without versions).
pub fn catalog(plan: &MeshPlan) -> Catalog {
    plan.services()
        .into_iter()
        .map(|svc| {
            let versions = plan.versions(&svc);
            (svc, versions)
        })
        .collect()
}

/// Validates a split request against the backend before anything changes.
pub fn check_split(
    backend: &dyn Backend,
    service: &str,
    weights: &SplitWeights,
) -> Result<(), SplitError> {
    weights.validate(service, &backend.versions(service))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `state_files_load` fuzz target: `{"api": {"spec": {}, …}}` (or a share
    /// above 100%) in faults.json was pushed to every caller of api, whose proxies then
    /// refused each new configuration. Such a file is refused as a whole now (it stops `up`,
    /// naming the problem), and its valid part alone loads.
    #[test]
    fn live_faults_the_proxies_would_refuse_are_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(fuzz::plan(dir.path()), dir.path());
        std::fs::write(
            dir.path().join(FAULTS_FILE),
            r#"{
              "api": {"spec": {}, "set_unix_ms": 0},
              "web": {"spec": {"abort": {"status": 503, "per_million": 2000000}}, "set_unix_ms": 0},
              "db": {"spec": {"delay": {"ms": 200, "per_million": 10000}}, "set_unix_ms": 0}
            }"#,
        )
        .unwrap();
        let err = backend.load_faults().unwrap_err().to_string();
        assert!(err.contains(FAULTS_FILE), "{err}");
        std::fs::write(
            dir.path().join(FAULTS_FILE),
            r#"{"db": {"spec": {"delay": {"ms": 200, "per_million": 10000}}, "set_unix_ms": 0}}"#,
        )
        .unwrap();
        let faults = backend.load_faults().unwrap();
        assert_eq!(faults.keys().collect::<Vec<_>>(), ["db"]);
    }
}
