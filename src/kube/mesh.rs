//! The CLI's operations on a mesh in a cluster (`--target kubernetes`): a service's versions
//! as the controller discovers them, its split written as the weights of its HTTPRoute
//! (server-side apply, field manager `meshctl`), the controller's `/status` per replica, the
//! meshed pods' readiness and the controller Deployment's replicas.
//!
//! The HTTPRoute `canary shift` writes (docs/kubernetes.md, "canary shift"): named after the
//! service, `parentRefs: [{group: "", kind: Service, name: <svc>}]`, one rule without
//! `matches` whose `backendRefs` are the Services `<svc>-<version>` (each selecting that
//! version's pods only) with the weights. `rules` is one atomic field: when another manager
//! owns it the apply is refused (409) unless forced.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use futures_util::{StreamExt as _, TryStreamExt as _};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;

use super::apply::api_error;
use super::client::Target;
use super::controller::catalog::{Index, Objects};
use super::controller::proxies::{ProxiesStats, StatsQuery};
use super::controller::status::ControllerStatus;
use super::controller::tap::{TAP_TOKEN_HEADER, TapLine, TapQuery};
use super::manifests::{controller_selector, httproute_gvk};
use super::{
    ADMIN_PORT, CONTROLLER_CONTAINER, CONTROLLER_NAME, FIELD_MANAGER, SIDECAR_LABEL, TAP_TOKEN_KEY,
    TAP_TOKEN_SECRET, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY,
};
use crate::control::canary_routes::CanaryRoute;
use crate::policy::split::SplitWeights;

/// The largest `/status` or `/stats` document read from the controller.
const MAX_STATUS_BYTES: usize = 16 << 20;

/// A failure, sorted by whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The arguments are wrong (unknown service or version): exit 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// The CLI's error for `e`: a usage error exits 2, a failure 1.
impl From<MeshError> for crate::exit::CliError {
    fn from(e: MeshError) -> Self {
        match e {
            MeshError::Usage(m) => crate::exit::CliError::usage(anyhow!("{m}")),
            MeshError::Failed(e) => crate::exit::CliError::from(e),
        }
    }
}

/// Where the controller's admin listener is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerAdmin {
    /// `--controller-admin http://HOST:PORT`.
    Url(String),
    /// Through the API server: `pods/<pod>:9990/proxy/status` of every ready controller pod
    /// in this namespace (each replica knows only the proxies connected to it).
    PodsProxy { namespace: String },
}

/// A cluster, the namespace commands act in, and where its controller answers.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub target: Target,
    pub namespace: String,
    pub admin: ControllerAdmin,
    pub request_timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("target", &self.target)
            .field("namespace", &self.namespace)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

/// One version of a service and the Service its traffic goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub service: String,
    pub port: i32,
}

/// A service's split as the cluster has it now.
#[derive(Debug, Clone)]
pub struct Split {
    /// Version → its Service.
    pub backends: BTreeMap<String, Backend>,
    /// From the HTTPRoute, else the initial split.
    pub current: SplitWeights,
    /// The HTTPRoute's header route (`canary start --match-header`), kept by every apply
    /// unless changed.
    pub header: Option<CanaryRoute>,
}

impl Split {
    pub fn versions(&self) -> Vec<String> {
        self.backends.keys().cloned().collect()
    }
}

fn routes(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &ApiResource::from_gvk(&httproute_gvk()),
    )
}

fn in_ns(cluster: &Cluster) -> String {
    format!("in namespace {}", cluster.namespace)
}

/// The meshed pods of the namespace.
async fn meshed_pods(cluster: &Cluster) -> Result<Vec<Pod>, MeshError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let list = pods
        .list(&ListParams::default().labels(SIDECAR_LABEL))
        .await
        .map_err(|e| {
            api_error(
                e,
                &format!("listing meshed pods {}", in_ns(cluster)),
                "list",
                "pods",
                &in_ns(cluster),
                &cluster.target,
            )
        })?;
    Ok(list.items)
}

/// The Services of the namespace.
async fn list_services(cluster: &Cluster) -> Result<Vec<Service>, MeshError> {
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    Ok(services
        .list(&ListParams::default())
        .await
        .map_err(|e| {
            api_error(
                e,
                &format!("listing services {}", in_ns(cluster)),
                "list",
                "services",
                &in_ns(cluster),
                &cluster.target,
            )
        })?
        .items)
}

/// An HTTPRoute read as a dynamic object, typed (`None` when it does not parse).
fn typed_route(route: DynamicObject) -> Option<HttpRoute> {
    serde_json::to_value(&route)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// Every service of the namespace with more than one version, and its split (from its
/// HTTPRoute, else everything on the first version): what `canary status` lists.
pub async fn splits(cluster: &Cluster) -> Result<BTreeMap<String, SplitWeights>, MeshError> {
    let services = list_services(cluster).await?;
    let pods = meshed_pods(cluster).await?;
    let routes = match routes(cluster).list(&ListParams::default()).await {
        Ok(list) => list.items.into_iter().filter_map(typed_route).collect(),
        // No HTTPRoute CRD: no routes either.
        Err(kube::Error::Api(s)) if s.is_not_found() => Vec::new(),
        Err(e) => {
            return Err(api_error(
                e,
                &format!("listing HTTPRoutes {}", in_ns(cluster)),
                "list",
                "httproutes.gateway.networking.k8s.io",
                &in_ns(cluster),
                &cluster.target,
            )
            .into());
        }
    };
    let names: Vec<String> = services
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    let objects = Objects {
        pods: pods.into_iter().map(Arc::new).collect(),
        services: services.into_iter().map(Arc::new).collect(),
        slices: Vec::new(),
        routes: routes.into_iter().map(Arc::new).collect(),
    };
    let index = Index::build("", &objects);
    let mut out = BTreeMap::new();
    for name in names {
        let key = (cluster.namespace.clone(), name.clone());
        let versions: Vec<String> = index
            .service_versions(&key)
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        if versions.len() > 1 {
            let split = index
                .splits
                .get(&key)
                .cloned()
                .unwrap_or_else(|| SplitWeights::initial(&versions));
            out.insert(name, split);
        }
    }
    Ok(out)
}

/// `service`'s versions (those of the meshed pods it selects), their `<service>-<version>`
/// Services and the current weights: the same discovery as the controller's catalog.
pub async fn split_of(cluster: &Cluster, service: &str) -> Result<Split, MeshError> {
    let services = list_services(cluster).await?;
    let names: Vec<String> = services
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    if !names.iter().any(|n| n == service) {
        return Err(MeshError::Usage(format!(
            "unknown service `{service}` in namespace {} (services: {}; {})",
            cluster.namespace,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            },
            cluster.target
        )));
    }
    let pods = meshed_pods(cluster).await?;
    let route = match routes(cluster).get_opt(service).await {
        Ok(route) => route,
        // No HTTPRoute CRD: no route either (the apply says what is missing).
        Err(kube::Error::Api(s)) if s.is_not_found() => None,
        Err(e) => {
            return Err(api_error(
                e,
                &format!("reading HTTPRoute {}/{service}", cluster.namespace),
                "get",
                "httproutes.gateway.networking.k8s.io",
                &in_ns(cluster),
                &cluster.target,
            )
            .into());
        }
    };
    let route: Option<HttpRoute> = route.and_then(typed_route);
    let ports: BTreeMap<String, i32> = services
        .iter()
        .filter_map(|s| {
            let port = s.spec.as_ref()?.ports.as_ref()?.first()?.port;
            Some((s.metadata.name.clone()?, port))
        })
        .collect();
    let objects = Objects {
        pods: pods.into_iter().map(Arc::new).collect(),
        services: services.into_iter().map(Arc::new).collect(),
        slices: Vec::new(),
        routes: route.into_iter().map(Arc::new).collect(),
    };
    let index = Index::build("", &objects);
    let key = (cluster.namespace.clone(), service.to_string());
    let versions: Vec<String> = index
        .service_versions(&key)
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    if versions.len() < 2 {
        return Err(MeshError::Usage(format!(
            "service `{service}` in namespace {} has {}: there is nothing to split (versions are the `app.kubernetes.io/version` labels of the meshed pods it selects)",
            cluster.namespace,
            match versions.as_slice() {
                [] => "no versioned meshed pods".to_string(),
                [v] => format!("a single version ({v})"),
                _ => String::new(),
            }
        )));
    }
    let mut backends = BTreeMap::new();
    for v in &versions {
        let name = format!("{service}-{v}");
        let selects = index.service_versions(&(cluster.namespace.clone(), name.clone()));
        let port = ports.get(&name).copied();
        match (selects.as_slice(), port) {
            ([only], Some(port)) if only == v => {
                backends.insert(
                    v.clone(),
                    Backend {
                        service: name,
                        port,
                    },
                );
            }
            _ => {
                return Err(MeshError::Usage(format!(
                    "version {v} of `{service}` needs a Service `{name}` with a port, selecting only that version's pods (the HTTPRoute's backendRef for it; docs/kubernetes.md)"
                )));
            }
        }
    }
    let current = index
        .splits
        .get(&key)
        .cloned()
        .unwrap_or_else(|| SplitWeights::initial(&versions));
    let header = index.header_routes.get(&key).cloned();
    Ok(Split {
        backends,
        current,
        header,
    })
}

/// The HTTPRoute `canary shift` applies for `weights`; with a header route, its rule first
/// (requests carrying the header go to that version's Service).
pub fn route_manifest(
    namespace: &str,
    service: &str,
    backends: &BTreeMap<String, Backend>,
    weights: &SplitWeights,
    header: Option<&CanaryRoute>,
) -> serde_json::Value {
    let refs: Vec<serde_json::Value> = backends
        .iter()
        .map(|(v, b)| {
            serde_json::json!({
                "group": "", "kind": "Service", "name": b.service, "port": b.port,
                "weight": weights.weight(v),
            })
        })
        .collect();
    let mut rules = Vec::new();
    if let Some(h) = header
        && let Some(b) = backends.get(&h.version)
    {
        rules.push(serde_json::json!({
            "matches": [{"headers": [{"type": "Exact", "name": h.header, "value": h.value}]}],
            "backendRefs": [{"group": "", "kind": "Service", "name": b.service, "port": b.port, "weight": 1}],
        }));
    }
    rules.push(serde_json::json!({"backendRefs": refs}));
    serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": service, "namespace": namespace},
        "spec": {
            "parentRefs": [{"group": "", "kind": "Service", "name": service}],
            "rules": rules,
        },
    })
}

/// Server-side applies the route (creating it when there is none); `force` takes over
/// fields another manager owns.
pub async fn apply_split(
    cluster: &Cluster,
    service: &str,
    split: &Split,
    weights: &SplitWeights,
    force: bool,
) -> Result<(), MeshError> {
    let manifest = route_manifest(
        &cluster.namespace,
        service,
        &split.backends,
        weights,
        split.header.as_ref(),
    );
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if force {
        params = params.force();
    }
    routes(cluster)
        .patch(service, &params, &Patch::Apply(&manifest))
        .await
        .map_err(|e| {
            let missing_crd = matches!(&e, kube::Error::Api(s) if s.is_not_found());
            let err = api_error(
                e,
                &format!("applying HTTPRoute {}/{service}", cluster.namespace),
                "patch",
                "httproutes.gateway.networking.k8s.io",
                &in_ns(cluster),
                &cluster.target,
            );
            if missing_crd {
                anyhow!("{err:#} (is the HTTPRoute CRD installed? `meshctl install --crds`)")
            } else {
                err
            }
        })?;
    Ok(())
}

/// The API server path of a controller pod's `/status`.
pub fn pod_status_path(namespace: &str, pod: &str) -> String {
    pod_admin_path(namespace, pod, "status")
}

/// The API server path of `PATH` (may carry a query) on a controller pod's admin listener.
pub fn pod_admin_path(namespace: &str, pod: &str, path: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{ADMIN_PORT}/proxy/{path}")
}

/// Where one controller replica's admin listener is asked.
enum Replica<'a> {
    Url(&'a str),
    Pod { namespace: &'a str, pod: String },
}

impl Replica<'_> {
    fn describe(&self) -> String {
        match self {
            Replica::Url(url) => format!("the controller admin {url} (--controller-admin)"),
            Replica::Pod { namespace, pod } => format!("the controller pod {namespace}/{pod}"),
        }
    }

    /// `namespace/pod`, or the URL.
    fn name(&self) -> String {
        match self {
            Replica::Url(url) => (*url).to_string(),
            Replica::Pod { namespace, pod } => format!("{namespace}/{pod}"),
        }
    }
}

/// Every ready controller replica (one for `--controller-admin`).
async fn replicas(cluster: &Cluster) -> Result<Vec<Replica<'_>>, MeshError> {
    let namespace = match &cluster.admin {
        ControllerAdmin::Url(url) => return Ok(vec![Replica::Url(url)]),
        ControllerAdmin::PodsProxy { namespace } => namespace,
    };
    let scope = format!("in namespace {namespace}");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let selector: Vec<String> = controller_selector()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let list = pods
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(|e| {
            api_error(
                e,
                &format!("listing the controller pods {scope}"),
                "list",
                "pods",
                &scope,
                &cluster.target,
            )
        })?;
    let ready: Vec<Replica<'_>> = list
        .items
        .iter()
        .filter(|p| pod_ready(p))
        .filter_map(|p| p.metadata.name.clone())
        .map(|pod| Replica::Pod { namespace, pod })
        .collect();
    if ready.is_empty() {
        return Err(anyhow!(
            "no ready controller pod in namespace {namespace} ({}; is meshctl installed there? `meshctl install`, --controller-namespace)",
            cluster.target
        )
        .into());
    }
    Ok(ready)
}

/// `GET PATH` (may carry a query) on one replica's admin listener: the body of a 2xx answer.
async fn replica_get(
    cluster: &Cluster,
    replica: &Replica<'_>,
    path: &str,
) -> Result<String, MeshError> {
    match replica {
        Replica::Url(url) => fetch_url(url, path, cluster.request_timeout).await,
        Replica::Pod { namespace, pod } => {
            let scope = format!("in namespace {namespace}");
            let api_path = pod_admin_path(namespace, pod, path);
            let request = http::Request::get(&api_path)
                .body(Vec::new())
                .map_err(|e| anyhow!("{api_path}: {e}"))?;
            let shown = path.split('?').next().unwrap_or(path);
            let text = tokio::time::timeout(cluster.request_timeout, cluster.client.request_text(request))
                .await
                .map_err(|_| {
                    anyhow!(
                        "the controller pod {namespace}/{pod} did not answer /{shown} within {:?} (through the API server, {})",
                        cluster.request_timeout,
                        cluster.target
                    )
                })?
                .map_err(|e| {
                    api_error(
                        e,
                        &format!("reading /{shown} of the controller pod {namespace}/{pod}"),
                        "get",
                        "pods/proxy",
                        &scope,
                        &cluster.target,
                    )
                })?;
            Ok(text)
        }
    }
}

/// One controller replica's meshctl version, from its `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaVersion {
    /// `namespace/pod`, or the `--controller-admin` URL.
    pub replica: String,
    /// Its version, or why there is none (no answer, or a controller older than the field).
    pub version: Result<String, String>,
}

/// Every ready controller replica's version: one that cannot be read is named with why and
/// the others are still read. `Err` when the replicas cannot be listed or none is ready.
pub async fn controller_versions(cluster: &Cluster) -> Result<Vec<ReplicaVersion>, MeshError> {
    let mut out = Vec::new();
    for replica in replicas(cluster).await? {
        let version = match replica_get(cluster, &replica, "status").await {
            Ok(text) => parse_json::<ControllerStatus>(&text, &replica.describe(), "/status")
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    if s.version.is_empty() {
                        Err("its /status has no version: a controller older than the field".into())
                    } else {
                        Ok(s.version)
                    }
                }),
            Err(e) => Err(e.to_string()),
        };
        out.push(ReplicaVersion {
            replica: replica.name(),
            version,
        });
    }
    Ok(out)
}

/// Every ready controller replica's `/status`.
pub async fn controller_status(cluster: &Cluster) -> Result<Vec<ControllerStatus>, MeshError> {
    let mut out = Vec::new();
    for replica in replicas(cluster).await? {
        let text = replica_get(cluster, &replica, "status").await?;
        out.push(parse_json(&text, &replica.describe(), "/status")?);
    }
    Ok(out)
}

/// The sidecars' `/stats` the query selects, as a controller reads them inside the cluster
/// ([`super::controller::proxies`]): one replica answers for all; the next is tried when
/// one fails.
pub async fn proxy_stats(cluster: &Cluster, query: &StatsQuery) -> Result<ProxiesStats, MeshError> {
    let path = format!("stats?{}", query.to_query());
    let mut last = None;
    for replica in replicas(cluster).await? {
        match replica_get(cluster, &replica, &path).await {
            Ok(text) => return parse_json(&text, &replica.describe(), "/stats"),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no controller replica to ask ({})", cluster.target).into()))
}

/// A cluster's merged tap: one line per event or per pod not reporting.
pub type TapLines =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<TapLine, MeshError>> + Send>>;

/// The tap token from the Secret `meshctl-tap` in the controller's namespace (who may read
/// it may tap).
pub async fn tap_token(cluster: &Cluster, controller_namespace: &str) -> Result<String, MeshError> {
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), controller_namespace);
    let scope = format!("in namespace {controller_namespace}");
    let what = format!("reading the tap token (Secret {controller_namespace}/{TAP_TOKEN_SECRET})");
    let secret = secrets.get_opt(TAP_TOKEN_SECRET).await.map_err(|e| {
        let forbidden = matches!(&e, kube::Error::Api(s) if s.is_forbidden());
        let err = api_error(e, &what, "get", "secrets", &scope, &cluster.target);
        if forbidden {
            anyhow!("{err:#}; tapping needs `get` on Secret {TAP_TOKEN_SECRET} in namespace {controller_namespace} (granted to mesh admins only)")
        } else {
            err
        }
    })?;
    let Some(secret) = secret else {
        return Err(anyhow!(
            "{what}: it does not exist (the controller creates it when it starts: is meshctl installed in namespace {controller_namespace}? --controller-namespace; {})",
            cluster.target
        )
        .into());
    };
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(TAP_TOKEN_KEY))
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| anyhow!("{what}: it has no `{TAP_TOKEN_KEY}` ({})", cluster.target).into())
}

/// Opens a controller replica's `/tap` (the next replica when one fails to open) and reads
/// its NDJSON lines as they come; the stream ends when the controller ends it.
pub async fn tap_stream(
    cluster: &Cluster,
    query: &TapQuery,
    token: &str,
) -> Result<TapLines, MeshError> {
    let path = format!("tap?{}", query.to_query());
    let mut last = None;
    for replica in replicas(cluster).await? {
        match open_stream(cluster, &replica, &path, token).await {
            Ok(lines) => return Ok(lines),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no controller replica to ask ({})", cluster.target).into()))
}

async fn open_stream(
    cluster: &Cluster,
    replica: &Replica<'_>,
    path: &str,
    token: &str,
) -> Result<TapLines, MeshError> {
    use http_body_util::BodyExt as _;
    let from = replica.describe();
    let (uri, via_api) = match replica {
        Replica::Url(url) => {
            let full = format!("{}/{path}", url.trim_end_matches('/'));
            if !full.starts_with("http://") {
                return Err(MeshError::Usage(format!(
                    "--controller-admin {url}: must be http://HOST:PORT (the admin listener is plain HTTP)"
                )));
            }
            (full, false)
        }
        Replica::Pod { namespace, pod } => (pod_admin_path(namespace, pod, path), true),
    };
    let request = http::Request::get(&uri)
        .header(TAP_TOKEN_HEADER, token)
        .body(Vec::new())
        .map_err(|e| anyhow!("{uri}: {e}"))?;
    let opened = async {
        if via_api {
            let response = cluster
                .client
                .send(request.map(kube::client::Body::from))
                .await
                .map_err(|e| anyhow!("{from}: {e}"))?;
            let (parts, body) = response.into_parts();
            let body = body.into_data_stream().map_err(|e| anyhow!("{e}")).boxed();
            Ok::<_, anyhow::Error>((parts.status, body))
        } else {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<http_body_util::Full<bytes::Bytes>>();
            let response = client
                .request(request.map(|b| http_body_util::Full::new(bytes::Bytes::from(b))))
                .await
                .map_err(|e| anyhow!("{from}: {e}"))?;
            let (parts, body) = response.into_parts();
            let body = body.into_data_stream().map_err(|e| anyhow!("{e}")).boxed();
            Ok((parts.status, body))
        }
    };
    let (status, mut body) = tokio::time::timeout(cluster.request_timeout, opened)
        .await
        .map_err(|_| {
            anyhow!(
                "{from} did not answer /tap within {:?} ({})",
                cluster.request_timeout,
                cluster.target
            )
        })??;
    if !status.is_success() {
        let mut text = Vec::new();
        while let Ok(Some(Ok(chunk))) =
            tokio::time::timeout(cluster.request_timeout, body.next()).await
        {
            text.extend_from_slice(&chunk);
            if text.len() > 64 << 10 {
                break;
            }
        }
        return Err(tap_refused(
            cluster,
            &from,
            status,
            &String::from_utf8_lossy(&text),
        ));
    }
    Ok(ndjson(body, from))
}

/// Why `/tap` did not open: the API server's own refusal (pods/proxy), or the controller's.
fn tap_refused(cluster: &Cluster, from: &str, status: http::StatusCode, text: &str) -> MeshError {
    let api: Option<kube::core::Status> = serde_json::from_str(text)
        .ok()
        .filter(|s: &kube::core::Status| s.message.len() + s.reason.len() > 0);
    if let (Some(s), ControllerAdmin::PodsProxy { namespace }) = (api, &cluster.admin) {
        let scope = format!("in namespace {namespace}");
        let e = kube::Error::Api(Box::new(s));
        return api_error(
            e,
            &format!("opening /tap of {from}"),
            "get",
            "pods/proxy",
            &scope,
            &cluster.target,
        )
        .into();
    }
    let text = text.trim();
    match status.as_u16() {
        400 => MeshError::Usage(format!("{from}: {text}")),
        401 | 403 => anyhow!("{from} refused the tap token ({status}: {text}; was Secret {TAP_TOKEN_SECRET} replaced while the command ran?)").into(),
        _ => anyhow!("{from} answered /tap with {status}: {text}").into(),
    }
}

/// NDJSON lines of a byte stream, each parsed as a [`TapLine`].
fn ndjson(
    body: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, anyhow::Error>>,
    from: String,
) -> TapLines {
    let state = (body, Vec::<u8>::new(), from);
    futures_util::stream::unfold(state, |(mut body, mut buf, from)| async move {
        loop {
            if let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let parsed = serde_json::from_slice::<TapLine>(&line).map_err(|e| {
                    MeshError::from(anyhow!(
                        "{from}: unreadable /tap line ({e}; is it an older meshctl controller?)"
                    ))
                });
                return Some((parsed, (body, buf, from)));
            }
            match body.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    let e = MeshError::from(anyhow!("{from}: the /tap stream broke: {e:#}"));
                    return Some((
                        Err(e),
                        (futures_util::stream::empty().boxed(), Vec::new(), from),
                    ));
                }
                // A last line without its newline still counts.
                None if buf.iter().all(u8::is_ascii_whitespace) => return None,
                None => buf.push(b'\n'),
            }
        }
    })
    .boxed()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    text: &str,
    from: &str,
    what: &str,
) -> Result<T, MeshError> {
    serde_json::from_str(text).map_err(|e| {
        anyhow!("{from}: unreadable {what} ({e}; is it an older meshctl controller?)").into()
    })
}

/// `GET <url>/PATH` over plain HTTP (the admin listener has no TLS).
async fn fetch_url(url: &str, path: &str, timeout: Duration) -> Result<String, MeshError> {
    use http_body_util::BodyExt as _;
    let full = format!("{}/{path}", url.trim_end_matches('/'));
    let uri: http::Uri = full
        .parse()
        .map_err(|e| MeshError::Usage(format!("--controller-admin {url}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(MeshError::Usage(format!(
            "--controller-admin {url}: must be http://HOST:PORT (the admin listener is plain HTTP)"
        )));
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let exchange = async {
        let response = client.get(uri).await.map_err(anyhow::Error::new)?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_STATUS_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow!(e))?
            .to_bytes();
        Ok::<_, anyhow::Error>((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow!("the controller admin {full} did not answer within {timeout:?}"))?
        .map_err(|e| anyhow!("the controller admin {full} (--controller-admin): {e:#}"))?;
    if !status.is_success() {
        return Err(anyhow!(
            "the controller admin {full} answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The pod's Ready condition.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A meshed pod as the API server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodState {
    /// Its Ready condition.
    pub ready: bool,
    /// The sidecar container's readiness (the pod's Ready condition when no container
    /// statuses are reported).
    pub proxy_ready: bool,
}

/// The meshed pods of the namespace by name.
pub async fn meshed_pod_states(cluster: &Cluster) -> Result<BTreeMap<String, PodState>, MeshError> {
    Ok(meshed_pods(cluster)
        .await?
        .iter()
        .filter_map(|p| {
            let ready = pod_ready(p);
            let proxy_ready = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .filter(|c| !c.is_empty())
                .map_or(ready, |c| {
                    c.iter()
                        .any(|c| c.name == super::inject::PROXY_CONTAINER && c.ready)
                });
            Some((p.metadata.name.clone()?, PodState { ready, proxy_ready }))
        })
        .collect())
}

/// The controller Deployment's replicas: `(desired, ready)`; `None` when there is none
/// (a controller run out of cluster).
pub async fn controller_replicas(
    cluster: &Cluster,
    namespace: &str,
) -> Result<Option<(i32, i32)>, MeshError> {
    Ok(controller_deployment(cluster, namespace)
        .await?
        .map(|d| (d.desired, d.ready)))
}

/// The controller Deployment as the API server has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerDeployment {
    /// The controller container's image (the first container's when none is named
    /// `controller`).
    pub image: String,
    pub desired: i32,
    pub ready: i32,
}

/// The controller Deployment of `namespace`; `None` when there is none (a controller run out
/// of cluster, or meshctl not installed there).
pub async fn controller_deployment(
    cluster: &Cluster,
    namespace: &str,
) -> Result<Option<ControllerDeployment>, MeshError> {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    let scope = format!("in namespace {namespace}");
    let found = deployments.get_opt(CONTROLLER_NAME).await.map_err(|e| {
        api_error(
            e,
            &format!("reading Deployment {namespace}/{CONTROLLER_NAME}"),
            "get",
            "deployments.apps",
            &scope,
            &cluster.target,
        )
    })?;
    Ok(found.map(|d| {
        let spec = d.spec.unwrap_or_default();
        let containers = spec.template.spec.map(|s| s.containers).unwrap_or_default();
        let image = containers
            .iter()
            .find(|c| c.name == CONTROLLER_CONTAINER)
            .or(containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        ControllerDeployment {
            image,
            desired: spec.replicas.unwrap_or(1),
            ready: d.status.and_then(|s| s.ready_replicas).unwrap_or(0),
        }
    }))
}

/// The trust bundle (PEM) the cluster publishes: the ConfigMap install wrote in the
/// controller's namespace, the one the controller copies into every meshed namespace.
pub async fn trust_bundle(cluster: &Cluster, namespace: &str) -> Result<String, MeshError> {
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), namespace);
    let scope = format!("in namespace {namespace}");
    let found = maps.get_opt(TRUST_BUNDLE_CONFIGMAP).await.map_err(|e| {
        api_error(
            e,
            &format!("reading ConfigMap {namespace}/{TRUST_BUNDLE_CONFIGMAP}"),
            "get",
            "configmaps",
            &scope,
            &cluster.target,
        )
    })?;
    found
        .and_then(|m| m.data?.remove(TRUST_BUNDLE_KEY))
        .ok_or_else(|| {
            MeshError::Failed(anyhow!(
                "no {TRUST_BUNDLE_KEY} in ConfigMap {namespace}/{TRUST_BUNDLE_CONFIGMAP} ({}; is meshctl installed there? `meshctl install`, --controller-namespace)",
                cluster.target
            ))
        })
}

#[cfg(test)]
mod tests;
