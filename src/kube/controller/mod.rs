//! The control plane's Kubernetes backend (`meshctl controller --kube`): the catalog from
//! reflectors over Pods, Services, EndpointSlices, HTTPRoutes, the policy and the live-fault
//! ConfigMaps, and workload identity from projected service-account tokens reviewed by the API server.
//!
//! The control-plane core (`control::server`) is the same as on the local mesh; only where
//! the catalog and the credentials come from differs (`control::backend::Backend`).

pub mod catalog;
pub mod faults;
pub mod issuer;
pub mod keyed;
pub mod policies;
pub mod proxies;
pub mod review;
pub mod run;
pub mod serve;
pub mod status;
pub mod tap;
pub mod watch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::Store;

use crate::api::proto::control as pb;
use crate::control::backend::{Backend, Workload};
use crate::control::canary_routes::CanaryRoutes;
use crate::control::meshfile::ServicePolicy;
use crate::control::state_files::StateFileError;
use crate::policy::fault::{LiveFault, now_unix_ms};
use crate::policy::split::SplitWeights;
use catalog::{Index, Key, Objects, Problem};
use faults::{Faults, fault_key};
use policies::Policies;
use review::{Refusal, Reviewer};

/// The reflectors' stores the backend reads (HTTPRoutes only when the CRD is installed).
#[derive(Clone)]
pub struct Stores {
    pub pods: Store<Pod>,
    pub services: Store<Service>,
    pub slices: Store<EndpointSlice>,
    pub routes: Option<Store<HttpRoute>>,
    pub policies: Store<ConfigMap>,
    /// The `meshctl-faults` ConfigMaps (live faults).
    pub faults: Store<ConfigMap>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("pods", &self.pods.state().len())
            .field("services", &self.services.state().len())
            .finish_non_exhaustive()
    }
}

impl Stores {
    fn objects(&self) -> Objects {
        Objects {
            pods: self.pods.state(),
            services: self.services.state(),
            slices: self.slices.state(),
            routes: self.routes.as_ref().map(Store::state).unwrap_or_default(),
        }
    }
}

/// Why splits and rollout routes are not kept by this backend.
const SPLITS_ARE_HTTPROUTES: &str = "on Kubernetes a split is the weights of the service's HTTPRoute backendRefs: change the HTTPRoute (kubectl apply)";

/// The Kubernetes backend. [`KubeBackend::refresh`] folds the stores into a new index; the
/// caller announces a new configuration version afterwards.
pub struct KubeBackend {
    trust_domain: String,
    stores: Stores,
    reviewer: Reviewer,
    index: Mutex<Arc<Index>>,
    policies: Mutex<Policies>,
    /// The policies in force, as of the last refresh (what every config is built with).
    in_force: Mutex<Arc<HashMap<Key, ServicePolicy>>>,
    /// The catalog's problems at the last refresh: one that persists is reported once.
    reported: Mutex<HashSet<Problem>>,
    /// The catalog last announced to proxies and the version it was announced under.
    announced: Mutex<Option<(u64, Arc<Index>)>>,
    /// Live faults from the `meshctl-faults` ConfigMaps (last good per service).
    faults: Mutex<Faults>,
    /// The live faults in force when the catalog was last announced, by `namespace/service`.
    announced_faults: Mutex<BTreeMap<String, LiveFault>>,
}

impl std::fmt::Debug for KubeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeBackend")
            .field("trust_domain", &self.trust_domain)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data: a panic while holding the lock cannot leave it inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl KubeBackend {
    pub fn new(trust_domain: &str, stores: Stores, reviewer: Reviewer) -> Self {
        KubeBackend {
            trust_domain: trust_domain.to_string(),
            stores,
            reviewer,
            index: Mutex::new(Arc::new(Index::default())),
            policies: Mutex::new(Policies::default()),
            in_force: Mutex::new(Arc::default()),
            reported: Mutex::new(HashSet::new()),
            announced: Mutex::new(None),
            faults: Mutex::new(Faults::default()),
            announced_faults: Mutex::new(BTreeMap::new()),
        }
    }

    /// Rebuilds the index from the stores; returns what could not be used and was not so at
    /// the previous refresh (a route that stays unusable is reported once, not on every
    /// change anywhere in the cluster).
    pub fn refresh(&self) -> Vec<Problem> {
        let index = Index::build(&self.trust_domain, &self.stores.objects());
        let current: HashSet<Problem> = index.problems.iter().cloned().collect();
        let mut reported = lock(&self.reported);
        let mut problems: Vec<Problem> = index
            .problems
            .iter()
            .filter(|p| !reported.contains(*p))
            .cloned()
            .collect();
        *reported = current;
        drop(reported);
        let maps = self.stores.policies.state();
        let mut policies = lock(&self.policies);
        problems.extend(policies.update(&self.trust_domain, &maps, |k| {
            index.services.get(k).is_some_and(|p| p == "tcp")
        }));
        *lock(&self.in_force) = Arc::new(policies.good.clone());
        drop(policies);
        let fault_maps = self.stores.faults.state();
        problems.extend(lock(&self.faults).update(&fault_maps, |k| {
            index.services.get(k).is_some_and(|p| p == "tcp")
        }));
        *lock(&self.index) = Arc::new(index);
        problems
    }

    pub fn index(&self) -> Arc<Index> {
        lock(&self.index).clone()
    }

    /// Records that the current catalog went out to proxies as `version` (`/status` reports
    /// the splits with the version that carries them).
    pub fn announced(&self, version: u64) {
        *lock(&self.announced) = Some((version, self.index()));
        *lock(&self.announced_faults) = lock(&self.faults).in_force(now_unix_ms());
    }

    /// The live faults in force when the catalog was last announced (`namespace/service`).
    pub fn last_announced_faults(&self) -> BTreeMap<String, LiveFault> {
        lock(&self.announced_faults).clone()
    }

    /// The catalog last announced and its version.
    pub fn last_announced(&self) -> Option<(u64, Arc<Index>)> {
        lock(&self.announced).clone()
    }

    /// Services whose policy text is refused now, with why (for `check --kube` and logs).
    pub fn policy_errors(&self) -> Vec<(Key, String)> {
        let mut errors: Vec<_> = lock(&self.policies)
            .errors
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        errors.sort();
        errors
    }

    /// Attestations refused so far, by reason.
    pub fn refusals(&self) -> BTreeMap<&'static str, u64> {
        self.reviewer.refusals()
    }

    /// `name.namespace`, or a bare name looked up in every namespace (the first in order).
    fn service_key(&self, index: &Index, service: &str) -> Option<Key> {
        match service.split_once('.') {
            Some((name, ns)) => Some((ns.to_string(), name.to_string())),
            None => index
                .services
                .keys()
                .find(|(_, name)| name == service)
                .cloned(),
        }
    }
}

#[tonic::async_trait]
impl Backend for KubeBackend {
    async fn attest(&self, token: &str) -> Option<Workload> {
        let reviewed = self.reviewer.review(token).await.ok()?;
        let index = self.index();
        let pod = index
            .pods
            .get(&(reviewed.namespace.clone(), reviewed.pod_name.clone()));
        let checked = match pod {
            None => Err(Refusal::PodGone),
            Some(p) if p.uid != reviewed.pod_uid || !p.live => Err(Refusal::PodGone),
            Some(p) if p.service_account != reviewed.service_account => {
                Err(Refusal::ServiceAccount)
            }
            Some(p) => Ok(p.workload()),
        };
        checked
            .inspect_err(|r| {
                self.reviewer.count(*r);
                tracing::warn!(namespace = %reviewed.namespace, pod = %reviewed.pod_name, reason = r.reason(), "refused a proxy's token");
            })
            .ok()
    }

    fn is_admin(&self, _token: &str) -> bool {
        // The cluster's operators act through the API server (RBAC), not an admin token.
        false
    }

    fn workloads(&self) -> Vec<Workload> {
        self.index()
            .pods
            .values()
            .filter(|p| p.live)
            .map(|p| p.workload())
            .collect()
    }

    fn versions(&self, service: &str) -> Vec<String> {
        let index = self.index();
        self.service_key(&index, service)
            .map(|k| index.service_versions(&k))
            .unwrap_or_default()
    }

    fn is_opaque_tcp(&self, service: &str) -> bool {
        let index = self.index();
        self.service_key(&index, service)
            .and_then(|k| index.services.get(&k).cloned())
            .is_some_and(|p| p == "tcp")
    }

    fn proxy_config(
        &self,
        who: &Workload,
        _splits: &BTreeMap<String, SplitWeights>,
        version: u64,
    ) -> pb::ProxyConfig {
        let index = self.index();
        let pod = who
            .instance
            .split_once('/')
            .and_then(|(ns, name)| index.pods.get(&(ns.to_string(), name.to_string())));
        match pod {
            Some(pod) => {
                let policies = lock(&self.in_force).clone();
                index.proxy_config(pod, &policies, version)
            }
            None => pb::ProxyConfig {
                version,
                ..Default::default()
            },
        }
    }

    fn load_splits(&self) -> Result<BTreeMap<String, SplitWeights>, StateFileError> {
        Ok(BTreeMap::new())
    }

    fn save_splits(&self, _splits: &BTreeMap<String, SplitWeights>) -> std::io::Result<()> {
        Err(std::io::Error::other(SPLITS_ARE_HTTPROUTES))
    }

    fn load_canary_routes(&self) -> Result<CanaryRoutes, StateFileError> {
        Ok(CanaryRoutes::default())
    }

    fn save_canary_routes(&self, _routes: &CanaryRoutes) -> std::io::Result<()> {
        Err(std::io::Error::other(SPLITS_ARE_HTTPROUTES))
    }

    fn load_faults(&self) -> Result<BTreeMap<String, LiveFault>, StateFileError> {
        Ok(lock(&self.faults).in_force(now_unix_ms()))
    }

    fn save_faults(&self, _faults: &BTreeMap<String, LiveFault>) -> std::io::Result<()> {
        // The ConfigMaps are the CLI's (the controller may only read them): an expired
        // entry stays there, never in force again, until the next `fault inject` drops it.
        Ok(())
    }

    fn fault_key(&self, who: &Workload, service: &str) -> String {
        let namespace = who.instance.split_once('/').map_or("", |(ns, _)| ns);
        fault_key(namespace, service)
    }
}

#[cfg(test)]
mod tests;
