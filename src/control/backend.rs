//! Where the control plane's catalog comes from: one trait, the `local` backend (mesh.yaml +
//! `.meshctl/`) today; a Kubernetes backend implements the same trait later.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::canary_routes::{self, CanaryRoutes};
use super::meshfile::{HttpRoute, PathMatch, ServicePolicy};
use super::plan::{MeshPlan, ProxyPlan};
use super::state_files::{self, Catalog, StateFileError};
use crate::api::proto::control as pb;
use crate::api::token::token_hash;
use crate::identity::spiffe::LOCAL_NAMESPACE;
use crate::policy::fault::{FAULTS_FILE, LiveFault};
use crate::policy::mirror::{LiveMirror, MIRRORS_FILE};
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
    /// Persisted live mirrors (`meshctl canary mirror`); none unless the backend keeps them
    /// (the Kubernetes backend does not: live mirrors are a local-mesh feature).
    fn load_mirrors(&self) -> Result<BTreeMap<String, LiveMirror>, StateFileError> {
        Ok(BTreeMap::new())
    }
    /// Persists live mirrors; called before a new config version is announced. `Err` where
    /// the backend cannot keep them.
    fn save_mirrors(&self, _mirrors: &BTreeMap<String, LiveMirror>) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "live mirrors are kept by the local mesh only; use `policy.mirror` in the service's policy",
        ))
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
    index: PlanIndex,
    splits_path: PathBuf,
    canary_routes_path: PathBuf,
    faults_path: PathBuf,
    mirrors_path: PathBuf,
}

/// The plan's lookups, made once: every acknowledgement attests a token and every change
/// renders one configuration per proxy, so scanning the plan's proxies in each (as this
/// backend once did) cost O(N²) per change for N proxies — 1,000 callers of one service
/// measured in bench/SCALE.md.
#[derive(Debug, Clone, Default)]
struct PlanIndex {
    /// SHA-256 (hex) of a bootstrap token → its proxy (a position in `plan.proxies`).
    by_token: HashMap<String, usize>,
    /// Instance name → its proxy.
    by_name: HashMap<String, usize>,
    /// Service → its proxies, in plan order.
    by_service: HashMap<String, Vec<usize>>,
    /// Service → its versions, sorted (as [`MeshPlan::versions`]).
    versions: HashMap<String, Vec<String>>,
}

impl PlanIndex {
    fn new(plan: &MeshPlan) -> Self {
        let mut index = PlanIndex::default();
        for (i, p) in plan.proxies.iter().enumerate() {
            // The first wins, as a scan would find it (names and tokens are unique anyway).
            index.by_token.entry(p.token_sha256.clone()).or_insert(i);
            index.by_name.entry(p.name.clone()).or_insert(i);
            index
                .by_service
                .entry(p.service.clone())
                .or_default()
                .push(i);
            let versions = index.versions.entry(p.service.clone()).or_default();
            versions.push(p.version.clone().unwrap_or_default());
        }
        for v in index.versions.values_mut() {
            v.sort();
            v.dedup();
        }
        index
    }
}

impl LocalBackend {
    pub fn new(plan: MeshPlan, state_dir: &Path) -> Self {
        LocalBackend {
            index: PlanIndex::new(&plan),
            plan,
            splits_path: state_dir.join(SPLITS_FILE),
            canary_routes_path: canary_routes::path(state_dir),
            faults_path: state_dir.join(FAULTS_FILE),
            mirrors_path: state_dir.join(MIRRORS_FILE),
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
        let i = *self.index.by_token.get(&token_hash(token))?;
        self.plan.proxies.get(i).map(Self::workload)
    }

    fn is_admin(&self, token: &str) -> bool {
        token_hash(token) == self.plan.admin_token_sha256
    }

    fn workloads(&self) -> Vec<Workload> {
        self.plan.proxies.iter().map(Self::workload).collect()
    }

    fn versions(&self, service: &str) -> Vec<String> {
        self.index
            .versions
            .get(service)
            .cloned()
            .unwrap_or_default()
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
        let me = self.index.by_name.get(&who.instance);
        let Some(me) = me.and_then(|&i| self.plan.proxies.get(i)) else {
            return pb::ProxyConfig {
                version,
                ..Default::default()
            };
        };
        let no_versions = Vec::new();
        let upstreams = me
            .upstreams
            .iter()
            .map(|u| {
                let targets: Vec<&ProxyPlan> = (self.index.by_service.get(&u.service))
                    .into_iter()
                    .flatten()
                    .filter_map(|&i| self.plan.proxies.get(i))
                    .collect();
                let versions = self.index.versions.get(&u.service).unwrap_or(&no_versions);
                let policy = self.plan.policies.get(&u.service);
                let split = splits
                    .get(&u.service)
                    .cloned()
                    .unwrap_or_else(|| SplitWeights::initial(versions));
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
                            .filter(|t| t.version.as_deref().unwrap_or_default() == v)
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

    fn load_mirrors(&self) -> Result<BTreeMap<String, LiveMirror>, StateFileError> {
        let loaded = state_files::load_mirrors(&self.mirrors_path, Some(&self.catalog()))?;
        log_notes(&loaded.notes);
        Ok(loaded.value)
    }

    fn save_mirrors(&self, mirrors: &BTreeMap<String, LiveMirror>) -> std::io::Result<()> {
        let body = serde_json::to_vec_pretty(mirrors).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&self.mirrors_path, &body, crate::fsutil::PUBLIC_FILE_MODE)
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
        mirror: policy
            .and_then(|p| p.mirror.as_ref())
            .map(|m| m.to_pb(None)),
        // The control plane lays the live mirror over this, as the live fault.
        live_mirror: None,
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

    /// web → api (v1 in two replicas, v2), each proxy with its own token and inbound port.
    fn indexed_plan(dir: &Path) -> LocalBackend {
        let proxy = |name: &str, service: &str, version: Option<&str>, port: u16| {
            let mut p = ProxyPlan::for_test(name, service, version);
            p.token_sha256 = token_hash(&format!("token-{name}"));
            p.inbound = format!("127.0.0.1:{port}").parse().unwrap();
            p
        };
        let mut web = proxy("web", "web", None, 1000);
        web.upstreams = vec![super::super::plan::UpstreamPlan {
            service: "api".into(),
            listen: "127.0.0.1:2000".parse().unwrap(),
        }];
        let mut plan = fuzz::plan(dir);
        plan.proxies = vec![
            web,
            proxy("api.v2", "api", Some("v2"), 1003),
            proxy("api.v1.r0", "api", Some("v1"), 1001),
            proxy("api.v1.r1", "api", Some("v1"), 1002),
        ];
        LocalBackend::new(plan, dir)
    }

    /// The backend answers from its index what a scan of the plan would: the proxy a token
    /// belongs to, a service's versions, and each caller's upstreams with every version's
    /// endpoints (in plan order) and weight.
    #[tokio::test]
    async fn the_plan_index_answers_what_a_scan_of_the_plan_would() {
        let dir = tempfile::tempdir().unwrap();
        let backend = indexed_plan(dir.path());
        for p in &backend.plan().proxies {
            let who = backend.attest(&format!("token-{}", p.name)).await.unwrap();
            assert_eq!(who, LocalBackend::workload(p));
        }
        assert_eq!(backend.attest("token-nobody").await, None);
        assert_eq!(backend.versions("api"), ["v1", "v2"]);
        assert_eq!(backend.versions("web"), [""]);
        assert!(backend.versions("gone").is_empty());

        let web = backend.attest("token-web").await.unwrap();
        let splits = BTreeMap::from([(
            "api".to_string(),
            SplitWeights(BTreeMap::from([("v1".into(), 70), ("v2".into(), 30)])),
        )]);
        let config = backend.proxy_config(&web, &splits, 7);
        assert_eq!((config.version, config.service.as_str()), (7, "web"));
        let [api] = &config.upstreams[..] else {
            panic!("{:?}", config.upstreams)
        };
        assert_eq!(
            (api.service.as_str(), api.listen.as_str()),
            ("api", "127.0.0.1:2000")
        );
        let backends: Vec<(&str, u32, Vec<&str>)> = (api.backends.iter())
            .map(|b| {
                let addrs = b.endpoints.iter().map(|e| e.address.as_str()).collect();
                (b.version.as_str(), b.weight, addrs)
            })
            .collect();
        assert_eq!(
            backends,
            [
                ("v1", 70, vec!["127.0.0.1:1001", "127.0.0.1:1002"]),
                ("v2", 30, vec!["127.0.0.1:1003"]),
            ]
        );
        // Without a saved split a service starts on its first version.
        let config = backend.proxy_config(&web, &BTreeMap::new(), 8);
        let weights: Vec<u32> = config.upstreams[0]
            .backends
            .iter()
            .map(|b| b.weight)
            .collect();
        assert_eq!(weights, [crate::policy::split::TOTAL_WEIGHT, 0]);
        // An instance the plan does not know gets an empty configuration.
        let stranger = Workload {
            instance: "ghost".into(),
            ..web
        };
        assert_eq!(
            backend.proxy_config(&stranger, &splits, 9),
            pb::ProxyConfig {
                version: 9,
                ..Default::default()
            }
        );
    }

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
