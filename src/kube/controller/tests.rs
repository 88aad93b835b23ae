//! The Kubernetes backend over fabricated objects fed to real reflector stores, and a
//! TokenReview answered by the mock API server (`kube::mock`): no cluster is needed here;
//! the end-to-end test against a real API server is `tests/integration/kube_e2e.rs`.

use std::collections::BTreeMap;

use http::StatusCode;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use serde_json::json;

use super::*;
use crate::control::backend::LocalBackend;
use crate::control::canary_routes::CanaryRoute;
use crate::control::meshfile::MeshFile;
use crate::control::plan::MeshPlan;
use crate::kube::mock;

const TD: &str = "mesh.local";
const NS: &str = "shop";

struct Fixture {
    pods: Writer<Pod>,
    services: Writer<Service>,
    slices: Writer<EndpointSlice>,
    routes: Writer<HttpRoute>,
    maps: Writer<ConfigMap>,
    fault_maps: Writer<ConfigMap>,
    backend: KubeBackend,
    log: mock::Log,
}

fn apply<K>(writer: &mut Writer<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    let object: K = serde_json::from_value(value).unwrap();
    writer.apply_watcher_event(&watcher::Event::Apply(object));
}

fn delete<K>(writer: &mut Writer<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    let object: K = serde_json::from_value(value).unwrap();
    writer.apply_watcher_event(&watcher::Event::Delete(object));
}

/// A TokenReview answer for `token`: `pod:<name>:<uid>:<sa>` is a valid bound token of
/// namespace `shop`; `aud:…` is valid for another audience; anything else is refused.
fn review_answer(seen: &mock::Seen) -> mock::Answer {
    let body: serde_json::Value = serde_json::from_str(&seen.body).ok()?;
    let token = body["spec"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        body["spec"]["audiences"],
        json!(["meshctl"]),
        "{}",
        seen.body
    );
    let parts: Vec<&str> = token.split(':').collect();
    let status = match parts.as_slice() {
        ["pod", name, uid, sa] => json!({
            "authenticated": true, "audiences": ["meshctl"],
            "user": {"username": format!("system:serviceaccount:{NS}:{sa}"),
                     "extra": {"authentication.kubernetes.io/pod-name": [name],
                               "authentication.kubernetes.io/pod-uid": [uid]}}
        }),
        ["aud", ..] => json!({"authenticated": true, "audiences": [],
            "user": {"username": "system:serviceaccount:shop:web"}}),
        _ => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    Some((
        StatusCode::CREATED,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": body["spec"], "status": status}),
    ))
}

fn fixture() -> Fixture {
    let (pods_r, pods) = reflector::store();
    let (services_r, services) = reflector::store();
    let (slices_r, slices) = reflector::store();
    let (routes_r, routes) = reflector::store();
    let (maps_r, maps) = reflector::store();
    let (fault_maps_r, fault_maps) = reflector::store();
    let (client, log) = mock::client(review_answer);
    let stores = Stores {
        pods: pods_r,
        services: services_r,
        slices: slices_r,
        routes: Some(routes_r),
        policies: maps_r,
        faults: fault_maps_r,
    };
    Fixture {
        pods,
        services,
        slices,
        routes,
        maps,
        fault_maps,
        backend: KubeBackend::new(TD, stores, Reviewer::new(client)),
        log,
    }
}

fn pod(name: &str, app: &str, version: Option<&str>, upstreams: Option<&str>) -> serde_json::Value {
    let mut labels = json!({"app": app, "meshctl.io/sidecar": "proxy"});
    if let Some(v) = version {
        labels["app.kubernetes.io/version"] = v.into();
    }
    let mut annotations = json!({});
    if let Some(u) = upstreams {
        annotations["meshctl.io/upstreams"] = u.into();
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"),
                     "labels": labels, "annotations": annotations},
        "spec": {"serviceAccountName": app, "containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Running"}
    })
}

fn service(name: &str, selector: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"selector": selector, "ports": [{"port": 80}]}})
}

fn slice(service: &str, endpoints: &[(&str, &str, bool)]) -> serde_json::Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-abc"), "namespace": NS,
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4",
           "endpoints": endpoints.iter().map(|(pod, ip, ready)| json!({
               "addresses": [ip], "conditions": {"ready": ready},
               "targetRef": {"kind": "Pod", "name": pod, "namespace": NS}})).collect::<Vec<_>>()})
}

fn route(service: &str, backends: &[(&str, i32)]) -> serde_json::Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": {"name": service, "namespace": NS},
           "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": service}],
                    "rules": [{"backendRefs": backends.iter().map(|(n, w)| json!({"name": n, "port": 80, "weight": w})).collect::<Vec<_>>()}]}})
}

fn policy_map(entries: &[(&str, &str)]) -> serde_json::Value {
    let data: BTreeMap<&str, &str> = entries.iter().copied().collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "meshctl-policy", "namespace": NS}, "data": data})
}

const API_POLICY: &str = "timeout: 2s\nretries:\n  attempts: 3\n  on: [5xx]\ncircuit_breaker:\n  failures: 4\nload_balancer: round_robin\nroutes:\n  - match:\n      headers: {x-canary: \"1\"}\n    version: v2\nauthorization:\n  allow:\n    - from: [{ service: web }]\n      methods: [GET]\n";

/// web → api (v1, v2 behind api-v1 / api-v2 Services, 80/20), api's policy in the ConfigMap.
fn shop(f: &mut Fixture) {
    apply(&mut f.pods, pod("web-0", "web", None, Some("api")));
    apply(&mut f.pods, pod("api-v1-0", "api", Some("v1"), None));
    apply(&mut f.pods, pod("api-v2-0", "api", Some("v2"), None));
    apply(&mut f.services, service("web", json!({"app": "web"})));
    apply(&mut f.services, service("api", json!({"app": "api"})));
    apply(
        &mut f.services,
        service(
            "api-v1",
            json!({"app": "api", "app.kubernetes.io/version": "v1"}),
        ),
    );
    apply(
        &mut f.services,
        service(
            "api-v2",
            json!({"app": "api", "app.kubernetes.io/version": "v2"}),
        ),
    );
    apply(
        &mut f.slices,
        slice("web", &[("web-0", "198.18.0.10", true)]),
    );
    apply(
        &mut f.slices,
        slice(
            "api",
            &[
                ("api-v1-0", "198.18.0.11", true),
                ("api-v2-0", "198.18.0.12", true),
            ],
        ),
    );
    apply(
        &mut f.routes,
        route("api", &[("api-v1", 80), ("api-v2", 20)]),
    );
    apply(&mut f.maps, policy_map(&[("api", API_POLICY)]));
}

fn web(f: &Fixture) -> Workload {
    f.backend.index().pods[&(NS.to_string(), "web-0".to_string())].workload()
}

/// The same mesh as a local mesh.yaml, through the local backend.
fn local_equivalent() -> pb::ProxyConfig {
    let indented: String = API_POLICY.lines().map(|l| format!("      {l}\n")).collect();
    let text = format!(
        "services:\n  web:\n    port: 18080\n    upstreams: [api]\n  api:\n    versions:\n      v1: {{ port: 18081 }}\n      v2: {{ port: 18082 }}\n    policy:\n{indented}"
    );
    let file = MeshFile::parse(&text, std::path::Path::new("mesh.yaml")).unwrap();
    let policies = file
        .services()
        .map(|s| (s.name.clone(), s.policy.clone()))
        .filter(|(_, p)| *p != Default::default())
        .collect();
    let proxy = |name: &str,
                 service: &str,
                 version: Option<&str>,
                 port: u16,
                 upstreams: serde_json::Value| {
        json!({"name": name, "service": service, "version": version,
               "spiffe_id": format!("spiffe://{TD}/ns/local/sa/{service}"),
               "token_sha256": "00", "inbound": format!("127.0.0.1:{port}"),
               "app": "127.0.0.1:1", "protocol": null, "admin": "127.0.0.1:2",
               "http_proxy": "127.0.0.1:3", "tap": "127.0.0.1:4", "upstreams": upstreams})
    };
    let mut plan: MeshPlan = serde_json::from_value(json!({
        "trust_domain": TD, "control_socket": "/nonexistent", "admin_token_sha256": "00",
        "proxies": [
            proxy("web", "web", None, 10_000, json!([{"service": "api", "listen": "127.0.0.1:4150"}])),
            proxy("api.v1", "api", Some("v1"), 11_000, json!([])),
            proxy("api.v2", "api", Some("v2"), 12_000, json!([])),
        ]
    }))
    .unwrap();
    plan.policies = policies;
    let backend = LocalBackend::new(plan, std::path::Path::new("/nonexistent"));
    let who = Workload {
        instance: "web".into(),
        service: "web".into(),
        version: None,
        spiffe_id: format!("spiffe://{TD}/ns/local/sa/web"),
    };
    let splits = BTreeMap::from([(
        "api".to_string(),
        SplitWeights(BTreeMap::from([("v1".into(), 80), ("v2".into(), 20)])),
    )]);
    backend.proxy_config(&who, &splits, 7)
}

/// Addresses and identities differ between the two backends by design (loopback ports and
/// namespace `local` vs pod IPs and the pod's namespace); everything else must not.
fn normalised(mut config: pb::ProxyConfig) -> pb::ProxyConfig {
    config.spiffe_id = config.spiffe_id.replace("/ns/local/", "/ns/shop/");
    for u in &mut config.upstreams {
        for b in &mut u.backends {
            for (i, e) in b.endpoints.iter_mut().enumerate() {
                e.address = format!("endpoint-{i}");
                e.spiffe_id = e.spiffe_id.replace("/ns/local/", "/ns/shop/");
            }
        }
    }
    config
}

#[tokio::test]
async fn the_cluster_backend_configures_a_caller_exactly_as_the_local_backend_does() {
    let mut f = fixture();
    shop(&mut f);
    assert_eq!(f.backend.refresh(), vec![]);
    let kube = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 7);
    let local = local_equivalent();
    assert_eq!(normalised(kube.clone()), normalised(local));
    // And the parts that differ on purpose.
    assert_eq!(kube.spiffe_id, "spiffe://mesh.local/ns/shop/sa/web");
    let api = &kube.upstreams[0];
    assert_eq!(api.listen, "127.0.0.1:4150");
    let v2 = api.backends.iter().find(|b| b.version == "v2").unwrap();
    assert_eq!(v2.weight, 20);
    assert_eq!(v2.endpoints[0].address, "198.18.0.12:4143");
    assert_eq!(
        v2.endpoints[0].spiffe_id,
        "spiffe://mesh.local/ns/shop/sa/api"
    );
}

#[tokio::test]
async fn api_proxies_enforce_their_services_authorization_with_namespace_service_accounts() {
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    let api = f.backend.index().pods[&(NS.to_string(), "api-v1-0".to_string())].workload();
    assert_eq!(api.service, "api");
    assert_eq!(api.version.as_deref(), Some("v1"));
    let config = f.backend.proxy_config(&api, &BTreeMap::new(), 1);
    let authz = config.authorization.unwrap();
    assert_eq!(authz.allow[0].from, ["spiffe://mesh.local/ns/shop/sa/web"]);
}

#[tokio::test]
async fn endpoint_churn_and_weight_changes_reach_the_next_configuration() {
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    // api-v2-0 goes unready, a new v1 pod joins; the route moves to 50/50.
    apply(&mut f.pods, pod("api-v1-1", "api", Some("v1"), None));
    apply(
        &mut f.slices,
        slice(
            "api",
            &[
                ("api-v1-0", "198.18.0.11", true),
                ("api-v1-1", "198.18.0.13", true),
                ("api-v2-0", "198.18.0.12", false),
            ],
        ),
    );
    apply(&mut f.routes, route("api", &[("api-v1", 1), ("api-v2", 1)]));
    f.backend.refresh();
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 2);
    let backends = &config.upstreams[0].backends;
    let v1 = backends.iter().find(|b| b.version == "v1").unwrap();
    let v2 = backends.iter().find(|b| b.version == "v2").unwrap();
    let addresses: Vec<_> = v1.endpoints.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(addresses, ["198.18.0.11:4143", "198.18.0.13:4143"]);
    assert!(v2.endpoints.is_empty());
    assert_eq!((v1.weight, v2.weight), (50, 50));
    // The route is deleted: the default split (everything on the first version).
    delete(&mut f.routes, route("api", &[]));
    f.backend.refresh();
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 3);
    let weights: Vec<_> = config.upstreams[0]
        .backends
        .iter()
        .map(|b| (b.version.as_str(), b.weight))
        .collect();
    assert_eq!(weights, [("v1", 100), ("v2", 0)]);
}

#[tokio::test]
async fn an_invalid_policy_is_reported_once_and_the_last_good_one_stays() {
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    apply(&mut f.maps, policy_map(&[("api", "timeout: soon\n")]));
    let problems = f.backend.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(
        (p.kind, p.reason, p.name.as_str()),
        ("ConfigMap", "InvalidPolicy", "meshctl-policy")
    );
    assert!(
        p.message
            .starts_with("configmap shop/meshctl-policy key api:1:"),
        "{}",
        p.message
    );
    assert!(
        p.message.contains("the last valid policy stays in force"),
        "{}",
        p.message
    );
    // Not reported again while the text is unchanged; still in force.
    assert_eq!(f.backend.refresh(), vec![]);
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 2);
    assert_eq!(config.upstreams[0].request_timeout_ms, 2_000);
    assert_eq!(f.backend.policy_errors().len(), 1);
    // Fixed: applied, the error is gone.
    apply(&mut f.maps, policy_map(&[("api", "timeout: 5s\n")]));
    assert_eq!(f.backend.refresh(), vec![]);
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 3);
    assert_eq!(config.upstreams[0].request_timeout_ms, 5_000);
    assert!(f.backend.policy_errors().is_empty());
    // A foreign trust domain in `from` is refused as in mesh.yaml.
    apply(
        &mut f.maps,
        policy_map(&[(
            "api",
            "authorization:\n  allow:\n    - from: [\"spiffe://evil.example/ns/shop/sa/web\"]\n",
        )]),
    );
    let problems = f.backend.refresh();
    assert!(problems[0].message.contains("evil.example"), "{problems:?}");
}

/// The Gateway API CRD gives a rule without `matches` the default `path: PathPrefix /`
/// (what the API server stores): such a route still carries the split.
#[tokio::test]
async fn a_rule_with_the_crds_default_match_still_carries_the_split() {
    let mut f = fixture();
    shop(&mut f);
    let mut defaulted = route("api", &[("api-v1", 30), ("api-v2", 70)]);
    defaulted["spec"]["rules"][0]["matches"] =
        json!([{"path": {"type": "PathPrefix", "value": "/"}}]);
    apply(&mut f.routes, defaulted);
    assert_eq!(f.backend.refresh(), vec![]);
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 2);
    let weights: Vec<_> = config.upstreams[0]
        .backends
        .iter()
        .map(|b| b.weight)
        .collect();
    assert_eq!(weights, [30, 70]);
    // A rule that really narrows (a header match) is not a split.
    let mut narrowed = route("api", &[("api-v2", 70)]);
    narrowed["spec"]["rules"][0]["matches"] = json!([{"path": {"type": "PathPrefix", "value": "/"}, "headers": [{"name": "x", "value": "1"}]}]);
    apply(&mut f.routes, narrowed);
    let problems = f.backend.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("no rule that matches every request"),
        "{problems:?}"
    );
}

/// `canary start --match-header` on a cluster: the route's rule matching one exact header
/// sends those requests to its backend's version, ahead of the weights and the policy's
/// routes, in every caller's configuration.
#[tokio::test]
async fn a_rule_matching_one_header_is_the_services_header_route() {
    let mut f = fixture();
    shop(&mut f);
    let mut both = route("api", &[("api-v1", 90), ("api-v2", 10)]);
    let split_rule = both["spec"]["rules"][0].clone();
    both["spec"]["rules"] = json!([
        {"matches": [{"headers": [{"type": "Exact", "name": "X-Canary", "value": "1"}]}],
         "backendRefs": [{"name": "api-v2", "port": 80, "weight": 1}]},
        split_rule,
    ]);
    apply(&mut f.routes, both.clone());
    assert_eq!(f.backend.refresh(), vec![]);
    let index = f.backend.index();
    assert_eq!(
        index.header_routes[&(NS.to_string(), "api".to_string())],
        CanaryRoute {
            version: "v2".into(),
            header: "x-canary".into(),
            value: "1".into(),
        }
    );
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 2);
    let upstream = &config.upstreams[0];
    let weights: Vec<_> = upstream.backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, [90, 10]);
    let first = &upstream.routes[0];
    assert_eq!(first.version, "v2");
    assert_eq!(
        first.headers,
        [pb::HeaderMatch {
            name: "x-canary".into(),
            value: "1".into()
        }]
    );
    // The policy's own routes follow it.
    assert!(upstream.routes.len() > 1, "{:?}", upstream.routes);
    // A header rule to two versions is refused, not guessed; the split still holds.
    both["spec"]["rules"][0]["backendRefs"] =
        json!([{"name": "api-v1", "port": 80}, {"name": "api-v2", "port": 80}]);
    apply(&mut f.routes, both.clone());
    let problems = f.backend.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("sends to several versions (v1, v2"),
        "{problems:?}"
    );
    assert!(f.backend.index().header_routes.is_empty());
    // Two headers, or a regular expression, are not a header route (ignored as before).
    both["spec"]["rules"][0]["backendRefs"] = json!([{"name": "api-v2", "port": 80}]);
    both["spec"]["rules"][0]["matches"] = json!([{"headers": [
        {"type": "RegularExpression", "name": "x-canary", "value": "1|2"}]}]);
    apply(&mut f.routes, both);
    assert_eq!(f.backend.refresh(), vec![]);
    assert!(f.backend.index().header_routes.is_empty());
}

#[tokio::test]
async fn routes_whose_backends_cannot_be_mapped_to_one_version_are_reported_not_guessed() {
    let mut f = fixture();
    shop(&mut f);
    // `api` selects both versions: as a backendRef it is ambiguous.
    apply(&mut f.routes, route("api", &[("api", 50), ("api-v2", 50)]));
    let problems = f.backend.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].reason, "InvalidBackendRefs");
    assert!(
        problems[0].message.contains("several versions (v1, v2)"),
        "{}",
        problems[0].message
    );
    let config = f.backend.proxy_config(&web(&f), &BTreeMap::new(), 2);
    let weights: Vec<_> = config.upstreams[0]
        .backends
        .iter()
        .map(|b| b.weight)
        .collect();
    assert_eq!(weights, [100, 0], "the default split, not a guess");
}

fn token(name: &str, sa: &str) -> String {
    format!("pod:{name}:uid-{name}:{sa}")
}

#[tokio::test]
async fn a_pods_bound_token_attests_exactly_that_pods_identity() {
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    let who = f.backend.attest(&token("web-0", "web")).await.unwrap();
    assert_eq!(who.instance, "shop/web-0");
    assert_eq!(who.spiffe_id, "spiffe://mesh.local/ns/shop/sa/web");
    // Reviewed once, then answered from the cache.
    f.backend.attest(&token("web-0", "web")).await.unwrap();
    let reviews = f.log.lock().unwrap().clone();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].method, "POST");
    assert_eq!(
        reviews[0].uri,
        "/apis/authentication.k8s.io/v1/tokenreviews?"
    );
}

#[tokio::test]
async fn tokens_for_another_audience_a_deleted_pod_or_another_account_are_refused_and_counted() {
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    assert!(f.backend.attest("garbage").await.is_none());
    assert!(f.backend.attest("aud:web").await.is_none());
    // The token names web-0 but claims service account `api`: the pod runs as `web`.
    assert!(f.backend.attest(&token("web-0", "api")).await.is_none());
    // A pod that is gone (or replaced: another uid).
    assert!(f.backend.attest(&token("web-9", "web")).await.is_none());
    assert!(f.backend.attest("pod:web-0:uid-old:web").await.is_none());
    // Deleted after its token was reviewed and cached: refused at once.
    assert!(f.backend.attest(&token("api-v1-0", "api")).await.is_some());
    delete(&mut f.pods, pod("api-v1-0", "api", Some("v1"), None));
    f.backend.refresh();
    assert!(f.backend.attest(&token("api-v1-0", "api")).await.is_none());
    let refused = f.backend.refusals();
    assert_eq!(refused.get("unauthenticated"), Some(&1), "{refused:?}");
    assert_eq!(refused.get("wrong_audience"), Some(&1), "{refused:?}");
    assert_eq!(
        refused.get("service_account_mismatch"),
        Some(&1),
        "{refused:?}"
    );
    assert_eq!(refused.get("pod_gone"), Some(&3), "{refused:?}");
}

#[tokio::test]
async fn an_unreachable_api_server_refuses_for_now_without_caching() {
    let (client, log) = mock::client(|_| None);
    let reviewer = Reviewer::new(client);
    assert_eq!(
        reviewer.review("pod:a:b:c").await,
        Err(Refusal::ReviewFailed)
    );
    assert_eq!(
        reviewer.review("pod:a:b:c").await,
        Err(Refusal::ReviewFailed)
    );
    assert_eq!(log.lock().unwrap().len(), 2, "a failure is not cached");
    assert_eq!(reviewer.refusals().get("review_failed"), Some(&2));
}

/// `/status`: the control plane's view of each proxy, with its upstreams from the catalog
/// and the splits under the version that announced them.
#[tokio::test]
async fn the_status_document_carries_each_proxys_upstreams_and_the_announced_splits() {
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    assert_eq!(f.backend.last_announced().map(|(v, _)| v), None);
    f.backend.announced(41);
    let plane = pb::StatusResponse {
        version: 42,
        server_version: "9.8.7".into(),
        proxies: vec![pb::ProxyStatus {
            instance: "shop/web-0".into(),
            service: "web".into(),
            connected: true,
            acked_version: 41,
            leaf_not_after_unix: 1_700_000_000,
            ..Default::default()
        }],
    };
    let announced = f.backend.last_announced().unwrap();
    let doc = status::build(
        plane,
        Some((announced.0, announced.1.as_ref())),
        f.backend.last_announced_faults(),
        "",
    );
    assert_eq!(doc.config_version, 42);
    assert_eq!(doc.catalog_version, 41);
    // The replica's own version, for `meshctl version`.
    assert_eq!(doc.version, "9.8.7");
    assert_eq!(
        doc.splits["shop/api"],
        BTreeMap::from([("v1".to_string(), 80), ("v2".to_string(), 20)])
    );
    let web = &doc.proxies[0];
    assert_eq!((web.namespace(), web.pod()), ("shop", "web-0"));
    assert_eq!(web.upstreams, ["api"]);
    // What the CLI reads back is what was written.
    let text = serde_json::to_string(&doc).unwrap();
    assert_eq!(
        serde_json::from_str::<status::ControllerStatus>(&text).unwrap(),
        doc
    );
    // Merged across replicas: current against this replica's version (41 < 42: stale).
    let merged = status::merge(std::slice::from_ref(&doc));
    assert!(merged[0].proxy.connected && !merged[0].config_current);
}

fn faults_map(namespace: &str, entries: &[(&str, &str)]) -> serde_json::Value {
    let data: BTreeMap<&str, &str> = entries.iter().copied().collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "meshctl-faults", "namespace": namespace}, "data": data})
}

fn live(abort: &str, set_unix_ms: u64, expires_unix_ms: Option<u64>) -> LiveFault {
    LiveFault {
        spec: crate::policy::fault::FaultSpec::new(Some(abort.parse().unwrap()), None).unwrap(),
        set_unix_ms,
        expires_unix_ms,
    }
}

/// A control plane over the fixture's backend (the CA is a throw-away one).
fn plane(backend: Arc<KubeBackend>) -> crate::control::server::ControlPlane {
    use crate::identity::ca::{self, SigningCa};
    let anchor = ca::new_anchor(TD, std::time::Duration::from_secs(86_400)).unwrap();
    let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
    let issuer = anchor_ca
        .sign_issuer(TD, std::time::Duration::from_secs(3_600))
        .unwrap();
    let issuer = SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap();
    crate::control::server::ControlPlane::new(
        backend,
        issuer,
        anchor.cert_pem,
        std::time::Duration::from_secs(600),
    )
    .unwrap()
}

/// The configurations a pod's proxy is sent, as a stream (its first is sent at once).
async fn configs(
    plane: &crate::control::server::ControlPlane,
    pod: &str,
    sa: &str,
) -> impl futures_util::Stream<Item = Result<pb::ProxyConfig, tonic::Status>> {
    use crate::api::proto::control::discovery_server::Discovery as _;
    let mut req = tonic::Request::new(pb::WatchRequest::default());
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token(pod, sa)).parse().unwrap(),
    );
    plane.watch(req).await.unwrap().into_inner()
}

/// `meshctl-faults` → the backend's `load_faults` → the callers' configuration, keyed by
/// namespace (the same service name elsewhere is another service), and taken out at its
/// expiry by the control plane's timer without any other change.
#[tokio::test]
async fn live_faults_from_the_configmap_reach_the_callers_and_end_at_their_expiry() {
    use futures_util::StreamExt as _;
    let mut f = fixture();
    shop(&mut f);
    f.backend.refresh();
    let Fixture {
        backend,
        fault_maps: mut maps,
        ..
    } = f;
    let backend = Arc::new(backend);
    // Started before any fault exists, as the controller starts before its first list.
    let plane = plane(backend.clone());
    let now = crate::policy::fault::now_unix_ms();
    let fault = live("503@100%", now, Some(now + 1_500));
    // Another namespace's `api`, and an expired fault of `web`: neither reaches web-0.
    apply(
        &mut maps,
        faults_map(
            "other",
            &[(
                "api",
                &crate::kube::faults::encode(&live("500@1%", now, None)),
            )],
        ),
    );
    apply(
        &mut maps,
        faults_map(
            NS,
            &[
                ("api", &crate::kube::faults::encode(&fault)),
                (
                    "web",
                    &crate::kube::faults::encode(&live("500@1%", 0, Some(now - 1))),
                ),
            ],
        ),
    );
    assert_eq!(backend.refresh(), vec![]);
    let loaded = backend.load_faults().unwrap();
    assert_eq!(
        loaded.keys().collect::<Vec<_>>(),
        ["other/api", "shop/api"],
        "expired faults are not loaded"
    );
    assert!(plane.reload_faults().unwrap());
    assert!(!plane.reload_faults().unwrap(), "nothing changed");
    tokio::spawn(plane.clone().expire_faults());
    let mut web = std::pin::pin!(configs(&plane, "web-0", "web").await);
    let first = web.next().await.unwrap().unwrap();
    let api = &first.upstreams[0];
    assert_eq!(api.service, "api");
    assert_eq!(
        api.live_fault,
        Some(fault.spec.to_pb(fault.expires_unix_ms)),
        "{first:?}"
    );
    // At the expiry a new version goes out without it.
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), web.next())
        .await
        .expect("a new configuration at the fault's expiry")
        .unwrap()
        .unwrap();
    assert!(next.version > first.version);
    assert_eq!(next.upstreams[0].live_fault, None, "{next:?}");
    assert!(crate::policy::fault::now_unix_ms() >= now + 1_500);
}

#[tokio::test]
async fn an_invalid_fault_is_reported_once_and_the_last_good_one_stays() {
    let mut f = fixture();
    shop(&mut f);
    let good = live("503@5%", 1_000, None);
    apply(
        &mut f.fault_maps,
        faults_map(NS, &[("api", &crate::kube::faults::encode(&good))]),
    );
    assert_eq!(f.backend.refresh(), vec![]);
    // Over 100%: what a proxy would refuse never reaches one.
    let bad = r#"{"spec": {"abort": {"status": 503, "per_million": 2000000}}, "set_at": "2026-01-01T00:00:00Z"}"#;
    apply(&mut f.fault_maps, faults_map(NS, &[("api", bad)]));
    let problems = f.backend.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(
        (p.kind, p.reason, p.name.as_str(), p.namespace.as_str()),
        ("ConfigMap", "InvalidFault", "meshctl-faults", NS)
    );
    assert!(
        p.message
            .starts_with("configmap shop/meshctl-faults key api: spec: percent"),
        "{}",
        p.message
    );
    assert!(
        p.message.contains("the last valid fault stays in force"),
        "{}",
        p.message
    );
    // Once per distinct text; the last good one stays.
    assert_eq!(f.backend.refresh(), vec![]);
    assert_eq!(f.backend.load_faults().unwrap()["shop/api"], good);
    // A fault on an opaque TCP service is refused too.
    apply(
        &mut f.services,
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "db", "namespace": NS},
               "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432, "appProtocol": "tcp"}]}}),
    );
    apply(
        &mut f.fault_maps,
        faults_map(
            NS,
            &[("api", bad), ("db", &crate::kube::faults::encode(&good))],
        ),
    );
    let problems = f.backend.refresh();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("protocol: tcp"),
        "{problems:?}"
    );
    // The key removed: cleared, error and all.
    delete(&mut f.fault_maps, faults_map(NS, &[]));
    assert_eq!(f.backend.refresh(), vec![]);
    assert!(f.backend.load_faults().unwrap().is_empty());
}
