//! `kube::mesh` against the fake API server: the requests `canary shift` and `status` send
//! (server-side apply of the HTTPRoute, pods/proxy to the controller) and how failures read.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::kube::controller::status::{ControllerStatus, ProxyStatus, merge, pending_acks};
use crate::kube::mock::{self, Answer, Seen};

const ROUTE_PATH: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/api";

fn service(name: &str, selector: serde_json::Value) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": "shop"},
           "spec": {"selector": selector, "ports": [{"port": 80}]}})
}

fn pod(name: &str, version: &str) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": "shop",
                        "labels": {"app": "api", "app.kubernetes.io/version": version, "meshctl.io/sidecar": "proxy"}},
           "spec": {"containers": []},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn list(kind: &str, items: Vec<serde_json::Value>) -> Answer {
    mock::ok(json!({"kind": format!("{kind}List"), "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"}, "items": items}))
}

/// A namespace `shop` with service `api` (v1, v2), `api-v1`, `api-v2`; `route` answers the
/// HTTPRoute GET, `patch` the apply.
fn shop(
    route: Answer,
    patch: impl Fn(&Seen) -> Answer + Send + 'static,
) -> impl Fn(&Seen) -> Answer {
    move |seen: &Seen| {
        let path = seen.uri.split('?').next().unwrap_or_default();
        match (seen.method.as_str(), path) {
            ("GET", "/api/v1/namespaces/shop/services") => list(
                "Service",
                vec![
                    service("api", json!({"app": "api"})),
                    service(
                        "api-v1",
                        json!({"app": "api", "app.kubernetes.io/version": "v1"}),
                    ),
                    service(
                        "api-v2",
                        json!({"app": "api", "app.kubernetes.io/version": "v2"}),
                    ),
                ],
            ),
            ("GET", "/api/v1/namespaces/shop/pods") => {
                list("Pod", vec![pod("api-v1-0", "v1"), pod("api-v2-0", "v2")])
            }
            ("GET", ROUTE_PATH) => route.clone(),
            ("PATCH", ROUTE_PATH) => patch(seen),
            _ => mock::status(404, "NotFound", "not found"),
        }
    }
}

/// api's two versions behind `api-v1` / `api-v2` on port 80.
fn api_backends() -> BTreeMap<String, Backend> {
    ["v1", "v2"]
        .into_iter()
        .map(|v| {
            let backend = Backend {
                service: format!("api-{v}"),
                port: 80,
            };
            (v.to_string(), backend)
        })
        .collect()
}

fn weights(pairs: &[(&str, u32)]) -> SplitWeights {
    SplitWeights(pairs.iter().map(|(v, w)| (v.to_string(), *w)).collect())
}

#[tokio::test]
async fn shift_creates_the_services_httproute_with_server_side_apply() {
    let (client, log) = mock::client(shop(
        mock::status(
            404,
            "NotFound",
            "httproutes.gateway.networking.k8s.io \"api\" not found",
        ),
        mock::echo,
    ));
    let c = mock::cluster(client);
    let split = split_of(&c, "api").await.unwrap();
    assert_eq!(split.versions(), ["v1", "v2"]);
    // No route yet: the initial split, everything on the first version.
    assert_eq!(split.current, weights(&[("v1", 100), ("v2", 0)]));
    let next = split
        .current
        .shift("api", &split.versions(), "v2", 50)
        .unwrap();
    apply_split(&c, "api", &split, &next, false).await.unwrap();

    let seen = log.lock().unwrap().clone();
    let pods = seen
        .iter()
        .find(|s| s.uri.starts_with("/api/v1/namespaces/shop/pods"))
        .unwrap();
    assert!(
        pods.uri.contains("labelSelector=meshctl.io%2Fsidecar"),
        "{}",
        pods.uri
    );
    let apply = seen.last().unwrap();
    assert_eq!(apply.method, "PATCH");
    assert_eq!(apply.content_type, "application/apply-patch+yaml");
    assert!(apply.uri.contains("fieldManager=meshctl"), "{}", apply.uri);
    assert!(!apply.uri.contains("force=true"), "{}", apply.uri);
    let body: serde_json::Value = serde_json::from_str(&apply.body).unwrap();
    assert_eq!(
        body,
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "parentRefs": [{"group": "", "kind": "Service", "name": "api"}],
                "rules": [{"backendRefs": [
                    {"group": "", "kind": "Service", "name": "api-v1", "port": 80, "weight": 50},
                    {"group": "", "kind": "Service", "name": "api-v2", "port": 80, "weight": 50},
                ]}],
            },
        })
    );
}

#[tokio::test]
async fn shift_starts_from_the_weights_of_the_existing_route() {
    let existing = mock::ok(route_manifest(
        "shop",
        "api",
        &api_backends(),
        &weights(&[("v1", 80), ("v2", 20)]),
        None,
    ));
    let (client, _) = mock::client(shop(existing, mock::echo));
    let split = split_of(&mock::cluster(client), "api").await.unwrap();
    assert_eq!(split.current, weights(&[("v1", 80), ("v2", 20)]));
    assert_eq!(split.header, None);
    // An unknown version is the split's usage error, listing the known ones.
    let e = split
        .current
        .shift("api", &split.versions(), "v9", 10)
        .unwrap_err();
    assert!(e.to_string().contains("v1, v2"), "{e}");
}

#[tokio::test]
async fn an_unknown_service_is_a_usage_error_listing_the_namespaces_services() {
    let (client, _) = mock::client(shop(mock::status(404, "NotFound", "x"), mock::echo));
    match split_of(&mock::cluster(client), "cart").await {
        Err(MeshError::Usage(m)) => {
            assert!(
                m.contains("unknown service `cart` in namespace shop"),
                "{m}"
            );
            assert!(m.contains("api, api-v1, api-v2"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_forbidden_list_names_the_missing_permission_and_the_context() {
    let (client, _) = mock::client(|_: &Seen| {
        mock::status(
            403,
            "Forbidden",
            "services is forbidden: User \"dev\" cannot list resource \"services\" in API group \"\" in the namespace \"shop\"",
        )
    });
    let e = split_of(&mock::cluster(client), "api")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("may not list services in namespace shop"), "{e}");
    assert!(e.contains("context test-ctx"), "{e}");
}

#[tokio::test]
async fn a_conflict_names_the_other_field_manager_and_force_takes_over() {
    let conflict = |seen: &Seen| {
        if seen.uri.contains("force=true") {
            mock::echo(seen)
        } else {
            mock::status(
                409,
                "Conflict",
                "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using gateway.networking.k8s.io/v1: .spec.rules",
            )
        }
    };
    let (client, log) = mock::client(shop(mock::status(404, "NotFound", "x"), conflict));
    let c = mock::cluster(client);
    let split = split_of(&c, "api").await.unwrap();
    let next = weights(&[("v1", 50), ("v2", 50)]);
    let e = apply_split(&c, "api", &split, &next, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("field manager kubectl-edit"), "{e}");
    assert!(e.contains("--force-conflicts"), "{e}");
    apply_split(&c, "api", &split, &next, true).await.unwrap();
    assert!(
        log.lock()
            .unwrap()
            .last()
            .unwrap()
            .uri
            .contains("force=true")
    );
}

#[tokio::test]
async fn a_missing_httproute_crd_says_so() {
    let (client, _) = mock::client(shop(
        mock::status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        |_: &Seen| {
            mock::status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        },
    ));
    let c = mock::cluster(client);
    let split = split_of(&c, "api").await.unwrap();
    let e = apply_split(&c, "api", &split, &split.current, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("meshctl install --crds"), "{e}");
}

fn doc(version: u64, proxies: Vec<ProxyStatus>) -> ControllerStatus {
    ControllerStatus {
        config_version: version,
        catalog_version: version,
        splits: BTreeMap::from([(
            "shop/api".to_string(),
            BTreeMap::from([("v1".to_string(), 50), ("v2".to_string(), 50)]),
        )]),
        faults: BTreeMap::new(),
        proxies,
        ..ControllerStatus::default()
    }
}

fn proxy(instance: &str, connected: bool, acked: u64) -> ProxyStatus {
    ProxyStatus {
        instance: instance.into(),
        service: "web".into(),
        upstreams: vec!["api".into()],
        connected,
        acked_version: acked,
        ..Default::default()
    }
}

#[tokio::test]
async fn controller_status_is_read_from_each_ready_replica_through_pods_proxy() {
    let document = doc(7, vec![proxy("shop/web-0", true, 7)]);
    let answer = serde_json::to_value(&document).unwrap();
    let (client, log) = mock::client(move |seen: &Seen| {
        let path = seen.uri.split('?').next().unwrap_or_default();
        match path {
            "/api/v1/namespaces/meshctl-system/pods" => list(
                "Pod",
                vec![
                    json!({"metadata": {"name": "meshctl-controller-a"}, "spec": {"containers": []},
                           "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
                    // Not ready: not asked.
                    json!({"metadata": {"name": "meshctl-controller-b"}, "spec": {"containers": []},
                           "status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
                ],
            ),
            "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-a:9990/proxy/status" => {
                mock::ok(answer.clone())
            }
            _ => mock::status(404, "NotFound", "not found"),
        }
    });
    let got = controller_status(&mock::cluster(client)).await.unwrap();
    assert_eq!(got, vec![document]);
    let seen = log.lock().unwrap().clone();
    assert!(seen[0].uri.contains("labelSelector="), "{}", seen[0].uri);
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[tokio::test]
async fn a_forbidden_pods_proxy_names_the_permission() {
    let (client, _) = mock::client(|seen: &Seen| {
        if seen.uri.contains("/proxy/") {
            mock::status(
                403,
                "Forbidden",
                "pods \"meshctl-controller-a\" is forbidden: User \"dev\" cannot get resource \"pods/proxy\"",
            )
        } else {
            list(
                "Pod",
                vec![
                    json!({"metadata": {"name": "meshctl-controller-a"}, "spec": {"containers": []},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
                ],
            )
        }
    });
    let e = controller_status(&mock::cluster(client))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("may not get pods/proxy in namespace meshctl-system"),
        "{e}"
    );
}

fn two_ready_controllers() -> Answer {
    list(
        "Pod",
        ["meshctl-controller-a", "meshctl-controller-b"]
            .iter()
            .map(|name| {
                json!({"metadata": {"name": name}, "spec": {"containers": []},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
            })
            .collect(),
    )
}

#[tokio::test]
async fn proxy_stats_asks_one_replica_and_falls_back_to_the_next() {
    use crate::api::stats::StatsSnapshot;
    use crate::kube::controller::proxies::{ProxyStats, ServiceSplit};
    use crate::policy::split::SplitWeights;
    let answer = ProxiesStats {
        proxies: vec![
            ProxyStats {
                instance: "shop/api-v2-0".into(),
                service: "api".into(),
                version: "v2".into(),
                spiffe_id: "spiffe://mesh.local/ns/shop/sa/api".into(),
                stats: Some(StatsSnapshot {
                    covered_ms: 30_000,
                    ..StatsSnapshot::default()
                }),
                error: None,
            },
            ProxyStats {
                instance: "shop/api-v2-1".into(),
                service: "api".into(),
                version: "v2".into(),
                spiffe_id: "spiffe://mesh.local/ns/shop/sa/api".into(),
                stats: None,
                error: Some(
                    "GET http://198.18.0.3:4191/stats?window=30: connection refused".into(),
                ),
            },
        ],
        splits: vec![ServiceSplit {
            namespace: "shop".into(),
            service: "api".into(),
            weights: SplitWeights([("v1".to_string(), 90), ("v2".to_string(), 10)].into()),
        }],
    };
    let body = serde_json::to_value(&answer).unwrap();
    let (client, log) = mock::client(move |seen: &Seen| {
        let path = seen.uri.split('?').next().unwrap_or_default();
        match path {
            "/api/v1/namespaces/meshctl-system/pods" => two_ready_controllers(),
            // The first replica fails (restarting); the second answers.
            "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-a:9990/proxy/stats" => {
                mock::status(503, "ServiceUnavailable", "no endpoints available")
            }
            "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-b:9990/proxy/stats" => {
                mock::ok(body.clone())
            }
            _ => mock::status(404, "NotFound", "not found"),
        }
    });
    let query = StatsQuery {
        namespace: Some("shop".into()),
        service: Some("api".into()),
        version: Some("v2".into()),
        window: Duration::from_secs(30),
    };
    let got = proxy_stats(&mock::cluster(client), &query).await.unwrap();
    assert_eq!(got, answer);
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        seen[2].uri,
        "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-b:9990/proxy/stats?window=30&namespace=shop&service=api&version=v2"
    );
}

#[tokio::test]
async fn proxy_stats_names_the_last_failure_when_no_replica_answers() {
    let (client, _) = mock::client(|seen: &Seen| {
        if seen.uri.contains("/proxy/") {
            mock::status(
                403,
                "Forbidden",
                "pods \"meshctl-controller-b\" is forbidden: User \"dev\" cannot get resource \"pods/proxy\"",
            )
        } else {
            two_ready_controllers()
        }
    });
    let query = StatsQuery {
        window: Duration::from_secs(10),
        ..StatsQuery::default()
    };
    let e = proxy_stats(&mock::cluster(client), &query)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("reading /stats of the controller pod meshctl-system/meshctl-controller-b"),
        "{e}"
    );
    assert!(
        e.contains("may not get pods/proxy in namespace meshctl-system"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreadable_stats_document_names_the_replica() {
    let (client, _) = mock::client(|seen: &Seen| {
        if seen.uri.contains("/proxy/") {
            mock::ok(json!({"proxies": "not a list"}))
        } else {
            two_ready_controllers()
        }
    });
    let query = StatsQuery {
        window: Duration::from_secs(10),
        ..StatsQuery::default()
    };
    let e = proxy_stats(&mock::cluster(client), &query)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the controller pod meshctl-system/meshctl-controller-a: unreadable /stats"),
        "{e}"
    );
}

#[test]
fn acknowledgements_are_judged_per_replica() {
    let want = BTreeMap::from([("v1".to_string(), 50), ("v2".to_string(), 50)]);
    // No replica carries the weights yet.
    let mut stale = doc(3, vec![proxy("shop/web-0", true, 3)]);
    stale.splits.clear();
    assert_eq!(pending_acks(&[stale.clone()], "shop", "api", &want), None);
    // Two replicas with their own version counters: web-0 on A acked A's version, web-1 on B
    // not yet B's.
    let a = doc(
        100,
        vec![
            proxy("shop/web-0", true, 100),
            proxy("shop/web-1", false, 0),
        ],
    );
    let b = doc(
        5000,
        vec![
            proxy("shop/web-0", false, 0),
            proxy("shop/web-1", true, 4999),
        ],
    );
    assert_eq!(
        pending_acks(&[a.clone(), b.clone()], "shop", "api", &want),
        Some(vec!["shop/web-1".to_string()])
    );
    let b = doc(5000, vec![proxy("shop/web-1", true, 5000)]);
    assert_eq!(
        pending_acks(&[a.clone(), b.clone()], "shop", "api", &want),
        Some(vec![])
    );
    // Merged: each proxy from the replica it is connected to.
    let merged = merge(&[a, b]);
    assert!(
        merged.iter().all(|m| m.proxy.connected && m.config_current),
        "{merged:?}"
    );
    // A caller connected nowhere is pending, saying so.
    let lone = doc(9, vec![proxy("shop/web-0", false, 0)]);
    assert_eq!(
        pending_acks(&[lone], "shop", "api", &want),
        Some(vec!["shop/web-0 (not connected)".to_string()])
    );
}

#[tokio::test]
async fn the_trust_bundle_is_read_from_installs_configmap_and_failures_say_what() {
    let (client, log) = mock::client(|seen: &Seen| match seen.uri.as_str() {
        "/api/v1/namespaces/meshctl-system/configmaps/meshctl-trust-bundle" => mock::ok(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "meshctl-trust-bundle", "namespace": "meshctl-system"},
            "data": {"ca-bundle.crt": "-----BEGIN CERTIFICATE-----\n"}
        })),
        "/api/v1/namespaces/elsewhere/configmaps/meshctl-trust-bundle" => mock::status(
            404,
            "NotFound",
            "configmaps \"meshctl-trust-bundle\" not found",
        ),
        _ => mock::status(
            403,
            "Forbidden",
            "configmaps \"meshctl-trust-bundle\" is forbidden: User \"dev\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"locked\"",
        ),
    });
    let c = mock::cluster(client);
    let pem = trust_bundle(&c, "meshctl-system").await.unwrap();
    assert_eq!(pem, "-----BEGIN CERTIFICATE-----\n");
    assert_eq!(log.lock().unwrap()[0].method, "GET");
    let missing = trust_bundle(&c, "elsewhere").await.unwrap_err().to_string();
    assert!(
        missing.contains("no ca-bundle.crt in ConfigMap elsewhere/meshctl-trust-bundle")
            && missing.contains("meshctl install"),
        "{missing}"
    );
    let denied = trust_bundle(&c, "locked").await.unwrap_err().to_string();
    assert!(
        denied.contains("may not get configmaps in namespace locked"),
        "{denied}"
    );
}

#[tokio::test]
async fn the_tap_token_is_read_from_its_secret_and_a_refusal_names_the_permission() {
    let secret = "/api/v1/namespaces/meshctl-system/secrets/meshctl-tap";
    let (client, _) = mock::client(move |seen: &Seen| {
        if seen.uri == secret {
            mock::ok(json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "meshctl-tap"},
                            "data": {"token": "czNjcmV0Cg=="}}))
        } else {
            mock::status(404, "NotFound", "not found")
        }
    });
    let token = tap_token(&mock::cluster(client), "meshctl-system")
        .await
        .unwrap();
    assert_eq!(token, "s3cret");

    let (client, _) = mock::client(|_: &Seen| {
        mock::status(
            403,
            "Forbidden",
            "secrets \"meshctl-tap\" is forbidden: User \"dev\" cannot get resource \"secrets\"",
        )
    });
    let e = tap_token(&mock::cluster(client), "meshctl-system")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("may not get secrets in namespace meshctl-system")
            && e.contains("`get` on Secret meshctl-tap"),
        "{e}"
    );

    let (client, _) = mock::client(|_: &Seen| mock::status(404, "NotFound", "not found"));
    let e = tap_token(&mock::cluster(client), "meshctl-system")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

#[tokio::test]
async fn the_tap_streams_through_pods_proxy_with_the_token_header() {
    use crate::kube::controller::tap::{TAP_TOKEN_HEADER, TapLine, TapQuery};
    use futures_util::StreamExt as _;
    let line = TapLine {
        pod: "shop/api-v1-0".into(),
        service: "api".into(),
        version: "v1".into(),
        error: Some("no pod IP yet (not running)".into()),
        ..TapLine::default()
    };
    let body = serde_json::to_value(&line).unwrap();
    let (client, log) = mock::client(move |seen: &Seen| {
        let path = seen.uri.split('?').next().unwrap_or_default();
        match path {
            "/api/v1/namespaces/meshctl-system/pods" => two_ready_controllers(),
            "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-a:9990/proxy/tap" => {
                mock::ok(body.clone())
            }
            _ => mock::status(404, "NotFound", "not found"),
        }
    });
    let query = TapQuery {
        namespace: Some("shop".into()),
        service: Some("api".into()),
        max_rps: Some(5),
        ..TapQuery::default()
    };
    let lines: Vec<TapLine> = tap_stream(&mock::cluster(client), &query, "s3cret")
        .await
        .unwrap()
        .map(|l| l.unwrap())
        .collect()
        .await;
    assert_eq!(lines, vec![line]);
    let seen = log.lock().unwrap().clone();
    assert_eq!(
        seen[1].uri,
        "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-a:9990/proxy/tap?namespace=shop&service=api&max_rps=5"
    );
    assert_eq!(seen[1].headers[TAP_TOKEN_HEADER], "s3cret");

    // The API server refusing pods/proxy: named, after trying every replica.
    let (client, _) = mock::client(|seen: &Seen| {
        if seen.uri.contains("/proxy/") {
            mock::status(
                403,
                "Forbidden",
                "pods \"meshctl-controller-a\" is forbidden: User \"dev\" cannot get resource \"pods/proxy\"",
            )
        } else {
            two_ready_controllers()
        }
    });
    let e = match tap_stream(&mock::cluster(client), &query, "s3cret").await {
        Ok(_) => panic!("a refused pods/proxy opened"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("may not get pods/proxy in namespace meshctl-system"),
        "{e}"
    );
}

#[tokio::test]
async fn a_header_route_is_read_back_and_kept_by_the_next_apply() {
    let backends = api_backends();
    let header = crate::control::canary_routes::CanaryRoute {
        version: "v2".into(),
        header: "x-canary".into(),
        value: "1".into(),
    };
    let existing = mock::ok(route_manifest(
        "shop",
        "api",
        &backends,
        &weights(&[("v1", 90), ("v2", 10)]),
        Some(&header),
    ));
    let (client, log) = mock::client(shop(existing, mock::echo));
    let c = mock::cluster(client);
    let split = split_of(&c, "api").await.unwrap();
    assert_eq!(split.header, Some(header.clone()));
    assert_eq!(split.current, weights(&[("v1", 90), ("v2", 10)]));
    let next = weights(&[("v1", 50), ("v2", 50)]);
    apply_split(&c, "api", &split, &next, false).await.unwrap();
    let applied = log
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s.method == "PATCH")
        .cloned()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&applied.body).unwrap();
    let rules = body["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{body}");
    assert_eq!(
        rules[0],
        json!({
            "matches": [{"headers": [{"type": "Exact", "name": "x-canary", "value": "1"}]}],
            "backendRefs": [{"group": "", "kind": "Service", "name": "api-v2", "port": 80, "weight": 1}],
        })
    );
    assert_eq!(rules[1]["backendRefs"][1]["weight"], 50);
    // Without it, one rule again.
    let cleared = Split {
        header: None,
        ..split
    };
    apply_split(&c, "api", &cleared, &next, false)
        .await
        .unwrap();
    let applied = log.lock().unwrap().last().cloned().unwrap();
    let body: serde_json::Value = serde_json::from_str(&applied.body).unwrap();
    assert_eq!(body["spec"]["rules"].as_array().unwrap().len(), 1, "{body}");
}
