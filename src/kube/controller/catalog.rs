//! The mesh as the cluster describes it: meshed pods, Services, EndpointSlices, HTTPRoute
//! weights and policy ConfigMaps folded into one index the controller answers proxies from.
//! Pure: built from object lists, so tests feed fabricated objects and compare the result
//! with what the local backend produces for the same mesh.
//!
//! The mapping (docs/kubernetes.md, "How the cluster maps to the mesh"):
//! - a meshed workload is a Pod carrying the sidecar label injection sets; its identity is
//!   `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`;
//! - its version is the pod label `app.kubernetes.io/version`, else `version`, else none;
//! - a service is a Service of the same namespace; its endpoints are the ready addresses of
//!   its EndpointSlices that are meshed pods, reached on the sidecar's inbound port;
//! - its split is the HTTPRoute whose parentRef is the Service (GAMMA): each backendRef names
//!   a Service whose meshed pods all carry one version, and that version gets its weight;
//!   the route's first rule matching one exact header (and nothing else) is a header route:
//!   requests carrying that header go to its backends' version, ahead of the split
//!   (`canary start --match-header` writes one);
//! - its policy is the key named after it in the namespace's `meshctl-policy` ConfigMap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gateway_api::apis::standard::httproutes::{
    HttpRoute, HttpRouteRules, HttpRouteRulesMatchesHeadersType, HttpRouteRulesMatchesPathType,
};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::super::inject::{UPSTREAMS_ANNOTATION, parse_upstreams, upstream_port};
use super::super::{SIDECAR_INBOUND_PORT, SIDECAR_LABEL};
use crate::api::proto::control as pb;
use crate::control::backend::{Workload, upstream_config};
use crate::control::canary_routes::CanaryRoute;
use crate::control::meshfile::ServicePolicy;
use crate::policy::split::{SplitWeights, TOTAL_WEIGHT};

/// The pod labels a version is read from, in order.
pub const VERSION_LABELS: [&str; 2] = ["app.kubernetes.io/version", "version"];
/// The label EndpointSlices carry naming their Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A namespaced name: `(namespace, name)`.
pub type Key = (String, String);

/// A meshed pod as the mesh sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshedPod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub service_account: String,
    pub spiffe_id: String,
    /// `""`: unversioned.
    pub version: String,
    /// The first Service (by name) of its namespace whose selector matches it.
    pub service: Option<String>,
    /// The services it calls (its upstreams annotation), or why that annotation is invalid.
    pub upstreams: Result<Vec<String>, String>,
    /// Neither Succeeded nor Failed: it may still run a proxy.
    pub live: bool,
    /// `status.podIP`: where its sidecar's admin listener answers (none until it runs).
    pub ip: Option<std::net::IpAddr>,
}

impl MeshedPod {
    /// The instance name status and acknowledgements are kept under.
    pub fn instance(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn workload(&self) -> Workload {
        Workload {
            instance: self.instance(),
            service: self.service.clone().unwrap_or_default(),
            version: (!self.version.is_empty()).then(|| self.version.clone()),
            spiffe_id: self.spiffe_id.clone(),
        }
    }
}

/// Something in the cluster the controller could not use, and why (logged, and recorded as
/// an Event on the object).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    /// `HTTPRoute`, `ConfigMap`, `Pod`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub reason: &'static str,
    pub message: String,
}

/// Everything proxies are configured from, at one moment.
#[derive(Debug, Default)]
pub struct Index {
    pub trust_domain: String,
    pub pods: BTreeMap<Key, MeshedPod>,
    /// Service → its protocol for the proxies (`http`, `grpc`, `tcp` or `""` = detect).
    pub services: BTreeMap<Key, String>,
    /// Service → version → endpoints.
    pub endpoints: HashMap<Key, BTreeMap<String, Vec<pb::Endpoint>>>,
    /// Service → the versions of the meshed pods it selects (ready or not).
    pub versions: HashMap<Key, Vec<String>>,
    /// Service → weights from its HTTPRoute (services without one: the initial split).
    pub splits: HashMap<Key, SplitWeights>,
    /// Service → the header route of its HTTPRoute, if it has one.
    pub header_routes: HashMap<Key, CanaryRoute>,
    pub problems: Vec<Problem>,
}

/// The objects an index is built from (the reflectors' contents).
#[derive(Debug, Default, Clone)]
pub struct Objects {
    pub pods: Vec<Arc<Pod>>,
    pub services: Vec<Arc<Service>>,
    pub slices: Vec<Arc<EndpointSlice>>,
    pub routes: Vec<Arc<HttpRoute>>,
}

fn key(namespace: Option<&String>, name: Option<&String>) -> Key {
    (
        namespace.cloned().unwrap_or_default(),
        name.cloned().unwrap_or_default(),
    )
}

/// A pod's version label (`""` when it has none).
pub fn pod_version(pod: &Pod) -> String {
    let labels = pod.metadata.labels.as_ref();
    VERSION_LABELS
        .iter()
        .find_map(|l| labels.and_then(|m| m.get(*l)))
        .cloned()
        .unwrap_or_default()
}

/// Whether injection gave the pod a sidecar.
pub fn is_meshed(pod: &Pod) -> bool {
    pod.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(SIDECAR_LABEL))
}

fn selects(service: &Service, pod: &Pod) -> bool {
    let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    let labels = pod.metadata.labels.as_ref();
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The protocol the proxies use for a Service: from its first port's `appProtocol`.
pub fn service_protocol(service: &Service) -> String {
    let app_protocol = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first())
        .and_then(|p| p.app_protocol.as_deref())
        .unwrap_or_default();
    match app_protocol.to_ascii_lowercase().as_str() {
        "http" | "kubernetes.io/http" => "http",
        "grpc" | "kubernetes.io/h2c" => "grpc",
        "tcp" => "tcp",
        _ => "",
    }
    .to_string()
}

impl Index {
    pub fn build(trust_domain: &str, objects: &Objects) -> Index {
        let mut index = Index {
            trust_domain: trust_domain.to_string(),
            ..Default::default()
        };
        let mut by_ns: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
        for svc in &objects.services {
            let k = key(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
            index.services.insert(k, service_protocol(svc));
            by_ns
                .entry(svc.metadata.namespace.as_deref().unwrap_or_default())
                .or_default()
                .push(svc);
        }
        for services in by_ns.values_mut() {
            services.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        }
        for pod in objects.pods.iter().filter(|p| is_meshed(p)) {
            index.add_pod(pod, &by_ns);
        }
        // Versions per Service: what its selector picks among meshed pods.
        let mut versions: HashMap<Key, BTreeSet<String>> = HashMap::new();
        for pod in &objects.pods {
            let Some(meshed) = index.pods.get(&key(
                pod.metadata.namespace.as_ref(),
                pod.metadata.name.as_ref(),
            )) else {
                continue;
            };
            for svc in by_ns.get(meshed.namespace.as_str()).into_iter().flatten() {
                if selects(svc, pod) {
                    versions
                        .entry(key(
                            svc.metadata.namespace.as_ref(),
                            svc.metadata.name.as_ref(),
                        ))
                        .or_default()
                        .insert(meshed.version.clone());
                }
            }
        }
        index.versions = versions
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        for slice in &objects.slices {
            index.add_slice(slice);
        }
        let mut routes: Vec<&Arc<HttpRoute>> = objects.routes.iter().collect();
        // GAMMA: of several routes for one Service, the oldest wins; name order here.
        routes.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        for route in routes {
            index.add_route(route);
        }
        index
    }

    fn add_pod(&mut self, pod: &Pod, services: &BTreeMap<&str, Vec<&Service>>) {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let service_account = spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".to_string());
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let upstreams = match pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(UPSTREAMS_ANNOTATION))
        {
            Some(text) => parse_upstreams(text),
            None => Ok(Vec::new()),
        };
        if let Err(message) = &upstreams {
            self.problems.push(Problem {
                kind: "Pod",
                namespace: namespace.clone(),
                name: name.clone(),
                reason: "InvalidUpstreams",
                message: message.clone(),
            });
        }
        let service = services
            .get(namespace.as_str())
            .and_then(|list| list.iter().find(|s| selects(s, pod)))
            .and_then(|s| s.metadata.name.clone());
        let meshed = MeshedPod {
            spiffe_id: format!(
                "spiffe://{}/ns/{namespace}/sa/{service_account}",
                self.trust_domain
            ),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            version: pod_version(pod),
            service,
            upstreams,
            live: !matches!(phase, Some("Succeeded" | "Failed")),
            ip: pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse().ok()),
            namespace: namespace.clone(),
            name: name.clone(),
            service_account,
        };
        self.pods.insert((namespace, name), meshed);
    }

    fn add_slice(&mut self, slice: &EndpointSlice) {
        let namespace = slice.metadata.namespace.clone().unwrap_or_default();
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
        else {
            return;
        };
        let entry = self
            .endpoints
            .entry((namespace.clone(), service.clone()))
            .or_default();
        for ep in &slice.endpoints {
            // Absent `ready` means ready (the EndpointSlice API's rule).
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            let Some(target) = ep
                .target_ref
                .as_ref()
                .filter(|t| t.kind.as_deref() == Some("Pod"))
            else {
                continue;
            };
            let pod_key = (
                target
                    .namespace
                    .clone()
                    .unwrap_or_else(|| namespace.clone()),
                target.name.clone().unwrap_or_default(),
            );
            let Some(pod) = self.pods.get(&pod_key) else {
                // Not meshed: it has no proxy to speak mTLS to.
                continue;
            };
            let Some(ip) = ep.addresses.first() else {
                continue;
            };
            let address = if ip.contains(':') {
                format!("[{ip}]:{SIDECAR_INBOUND_PORT}")
            } else {
                format!("{ip}:{SIDECAR_INBOUND_PORT}")
            };
            let list = entry.entry(pod.version.clone()).or_default();
            if !list.iter().any(|e| e.address == address) {
                list.push(pb::Endpoint {
                    address,
                    spiffe_id: pod.spiffe_id.clone(),
                });
            }
        }
        for list in entry.values_mut() {
            list.sort_by(|a, b| a.address.cmp(&b.address));
        }
    }

    fn add_route(&mut self, route: &HttpRoute) {
        let namespace = route.metadata.namespace.clone().unwrap_or_default();
        let name = route.metadata.name.clone().unwrap_or_default();
        let problem = |reason: &'static str, message: String| Problem {
            kind: "HTTPRoute",
            namespace: namespace.clone(),
            name: name.clone(),
            reason,
            message,
        };
        for parent in route.spec.parent_refs.iter().flatten() {
            let is_service = parent.kind.as_deref() == Some("Service")
                && matches!(parent.group.as_deref(), None | Some("") | Some("core"));
            if !is_service {
                continue;
            }
            let parent_ns = parent
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.clone());
            if parent_ns != namespace {
                self.problems.push(problem(
                    "Unsupported",
                    format!(
                        "parentRef Service {parent_ns}/{}: only Services of the route's own namespace are supported",
                        parent.name
                    ),
                ));
                continue;
            }
            let service = (namespace.clone(), parent.name.clone());
            if self.splits.contains_key(&service) {
                self.problems.push(problem(
                    "Conflict",
                    format!(
                        "Service {} already has its split from another HTTPRoute; this one is ignored",
                        parent.name
                    ),
                ));
                continue;
            }
            match self.route_weights(route, &namespace) {
                Ok(Some(weights)) => {
                    self.splits.insert(service.clone(), weights);
                }
                Ok(None) => {}
                Err(message) => self.problems.push(problem("InvalidBackendRefs", message)),
            }
            match self.header_route(route, &namespace) {
                Ok(Some(header)) => {
                    self.header_routes.insert(service, header);
                }
                Ok(None) => {}
                Err(message) => self.problems.push(problem("InvalidBackendRefs", message)),
            }
        }
    }

    /// The route's first rule that matches exactly one header by exact value (no path but
    /// `/`, no method, no query): requests carrying it go to the version of its backendRefs
    /// (which must all be that one version).
    fn header_route(
        &self,
        route: &HttpRoute,
        namespace: &str,
    ) -> Result<Option<CanaryRoute>, String> {
        let rules = route.spec.rules.as_deref().unwrap_or_default();
        let Some((rule, header)) = rules.iter().find_map(|r| Some((r, one_header(r)?))) else {
            return Ok(None);
        };
        let mut versions = BTreeSet::new();
        for backend in rule.backend_refs.iter().flatten() {
            if backend.weight == Some(0) {
                continue;
            }
            for v in self.backend_versions(backend, namespace)? {
                versions.insert(v);
            }
        }
        let mut versions = versions.into_iter();
        match (versions.next(), versions.next()) {
            (Some(version), None) => Ok(Some(CanaryRoute {
                version,
                header: header.0,
                value: header.1,
            })),
            (None, _) => Err(format!(
                "the rule matching header {}: {} has no backendRef with a weight",
                header.0, header.1
            )),
            (Some(a), Some(b)) => Err(format!(
                "the rule matching header {}: {} sends to several versions ({a}, {b}, …); a header route goes to one",
                header.0, header.1
            )),
        }
    }

    /// The versions behind one backendRef (a Service of the route's namespace whose meshed
    /// pods carry exactly one version).
    fn backend_versions(
        &self,
        backend: &gateway_api::apis::standard::httproutes::HttpRouteRulesBackendRefs,
        namespace: &str,
    ) -> Result<Vec<String>, String> {
        if backend.kind.as_deref().is_some_and(|k| k != "Service") {
            return Err(format!(
                "backendRef {}: only Services are supported",
                backend.name
            ));
        }
        if backend.namespace.as_deref().is_some_and(|n| n != namespace) {
            return Err(format!(
                "backendRef {}: only Services of the route's own namespace are supported",
                backend.name
            ));
        }
        let key = (namespace.to_string(), backend.name.clone());
        let versions = self
            .versions
            .get(&key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match versions {
            [version] => Ok(vec![version.clone()]),
            [] => Err(format!(
                "backendRef {}: no meshed pods behind it yet (its version is read from them)",
                backend.name
            )),
            several => Err(format!(
                "backendRef {}: its pods carry several versions ({}); give each version its own Service",
                backend.name,
                several.join(", ")
            )),
        }
    }

    /// The weights a route's backendRefs give per version, scaled to [`TOTAL_WEIGHT`].
    fn route_weights(
        &self,
        route: &HttpRoute,
        namespace: &str,
    ) -> Result<Option<SplitWeights>, String> {
        let mut raw: BTreeMap<String, u64> = BTreeMap::new();
        let rules = route.spec.rules.as_deref().unwrap_or_default();
        let Some(rule) = rules.iter().find(|r| matches_everything(r)) else {
            return Err(
                "no rule that matches every request (no `matches`, or only `path: PathPrefix /`): the mesh takes its weights from such a rule (beside it, one rule matching one exact header is the service's header route; other routes belong in the meshctl-policy ConfigMap)"
                    .to_string(),
            );
        };
        for backend in rule.backend_refs.iter().flatten() {
            let weight = u64::try_from(backend.weight.unwrap_or(1)).unwrap_or(0);
            for version in self.backend_versions(backend, namespace)? {
                *raw.entry(version).or_default() += weight;
            }
        }
        Ok(scale(&raw))
    }

    /// The versions of a service (`[""]` for one whose pods carry no version label).
    pub fn service_versions(&self, service: &Key) -> Vec<String> {
        self.versions.get(service).cloned().unwrap_or_default()
    }

    /// The configuration the proxy of `pod` runs.
    pub fn proxy_config(
        &self,
        pod: &MeshedPod,
        policies: &HashMap<Key, ServicePolicy>,
        version: u64,
    ) -> pb::ProxyConfig {
        let namespace = &pod.namespace;
        let upstreams = pod
            .upstreams
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, service)| {
                let key = (namespace.clone(), service.clone());
                let versions = self.service_versions(&key);
                let split = self
                    .splits
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| SplitWeights::initial(&versions));
                let endpoints = self.endpoints.get(&key);
                let backends = versions
                    .iter()
                    .map(|v| pb::Backend {
                        version: v.clone(),
                        weight: if versions.len() == 1 {
                            TOTAL_WEIGHT
                        } else {
                            split.weight(v)
                        },
                        endpoints: endpoints
                            .and_then(|e| e.get(v))
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect();
                let mut upstream = upstream_config(
                    service,
                    format!("127.0.0.1:{}", upstream_port(i)),
                    self.services.get(&key).cloned().unwrap_or_default(),
                    backends,
                    policies.get(&key),
                );
                // The header route goes first, ahead of the policy's routes (as a local
                // rollout's `--match-header` route does).
                if let Some(route) = self.header_routes.get(&key) {
                    upstream.routes.insert(0, route.to_proto());
                }
                upstream
            })
            .collect();
        let policy =
            (pod.service.as_ref()).and_then(|s| policies.get(&(namespace.clone(), s.clone())));
        let authorization = policy
            .and_then(|p| p.authorization.as_ref())
            .map(|a| a.to_proto_in(&self.trust_domain, namespace));
        let rate_limit = policy
            .and_then(|p| p.rate_limit.as_ref())
            .map(|r| r.to_proto_in(&self.trust_domain, namespace));
        pb::ProxyConfig {
            version,
            spiffe_id: pod.spiffe_id.clone(),
            service: pod.service.clone().unwrap_or_default(),
            instance_version: pod.version.clone(),
            upstreams,
            authorization,
            rate_limit,
            ..Default::default()
        }
    }
}

/// The header a rule matches, when that is all it matches: one match, one header compared
/// exactly (the default type), no method or query, no path but `PathPrefix /`.
fn one_header(rule: &HttpRouteRules) -> Option<(String, String)> {
    let [m] = rule.matches.as_deref()? else {
        return None;
    };
    let [h] = m.headers.as_deref()? else {
        return None;
    };
    let exact = h
        .r#type
        .as_ref()
        .is_none_or(|t| *t == HttpRouteRulesMatchesHeadersType::Exact);
    let path_ok = m.path.as_ref().is_none_or(|p| {
        p.r#type
            .as_ref()
            .is_none_or(|t| *t == HttpRouteRulesMatchesPathType::PathPrefix)
            && p.value.as_deref().is_none_or(|v| v == "/")
    });
    (exact && path_ok && m.method.is_none() && m.query_params.as_ref().is_none_or(Vec::is_empty))
        .then(|| (h.name.to_ascii_lowercase(), h.value.clone()))
}

/// Whether a rule matches every request: no `matches`, or only the one the Gateway API CRD
/// fills in by default (`path: PathPrefix /`, nothing else).
fn matches_everything(rule: &HttpRouteRules) -> bool {
    let Some(matches) = rule.matches.as_deref() else {
        return true;
    };
    matches.is_empty()
        || matches.iter().any(|m| {
            m.headers.as_ref().is_none_or(Vec::is_empty)
                && m.query_params.as_ref().is_none_or(Vec::is_empty)
                && m.method.is_none()
                && m.path.as_ref().is_none_or(|p| {
                    p.r#type
                        .as_ref()
                        .is_none_or(|t| *t == HttpRouteRulesMatchesPathType::PathPrefix)
                        && p.value.as_deref().is_none_or(|v| v == "/")
                })
        })
}

/// Relative weights scaled to sum to [`TOTAL_WEIGHT`] (largest remainder, ties to the
/// version first in name order); `None` when they are all zero.
fn scale(raw: &BTreeMap<String, u64>) -> Option<SplitWeights> {
    let sum: u64 = raw.values().sum();
    if sum == 0 {
        return None;
    }
    let total = u64::from(TOTAL_WEIGHT);
    let mut out: BTreeMap<String, u32> = BTreeMap::new();
    let mut rest: Vec<(u64, &String)> = Vec::new();
    let mut given = 0;
    for (v, w) in raw {
        let share = w * total / sum;
        given += share;
        out.insert(v.clone(), share as u32);
        rest.push((w * total % sum, v));
    }
    rest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    for (_, v) in rest.into_iter().take((total - given) as usize) {
        if let Some(w) = out.get_mut(v) {
            *w += 1;
        }
    }
    Some(SplitWeights(out))
}

#[cfg(test)]
mod tests;
