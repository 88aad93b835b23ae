//! The cluster adapter against the fake API server: what a check reads and how it sums it,
//! and a weight recorded before it is applied, with a `promote` from elsewhere winning.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::api::stats::{PeerStats, StatsSnapshot};
use crate::canary::engine::EventKind;
use crate::kube::controller::proxies::{ProxiesStats, ProxyStats};
use crate::kube::controller::status::{ControllerStatus, ProxyStatus};
use crate::kube::mesh::ControllerAdmin;
use crate::kube::mock::{self, Answer, Seen};
use crate::proxy::telemetry::metrics::Direction;

const MAP_PATH: &str = "/api/v1/namespaces/shop/configmaps/meshctl-rollout-api";
const ROUTE_PATH: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/api";
const CONTROLLER: &str = "/api/v1/namespaces/meshctl-system/pods/meshctl-controller-a:9990/proxy";

/// Another process acting while the route is applied.
type OnApply = Box<dyn FnMut(&mut World) + Send>;

/// What the fake cluster holds: the rollout's state (and its resourceVersion) and the
/// HTTPRoute's weights.
struct World {
    state: RolloutState,
    rv: u64,
    weights: BTreeMap<String, u32>,
    /// Run when the route is applied (another process acting in between).
    on_apply: Option<OnApply>,
}

fn state() -> RolloutState {
    crate::canary::store::sample_state()
}

fn list(kind: &str, items: Vec<serde_json::Value>) -> Answer {
    mock::ok(json!({"kind": format!("{kind}List"), "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"}, "items": items}))
}

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

fn inbound(requests: u64, successes: u64) -> StatsSnapshot {
    StatsSnapshot {
        covered_ms: 30_000,
        peers: vec![
            PeerStats {
                direction: Direction::Inbound,
                peer: "spiffe://mesh.local/ns/shop/sa/web".into(),
                requests,
                successes,
                latency_us: vec![(10_000, requests)],
            },
            // Its own calls out are not the canary's traffic.
            PeerStats {
                direction: Direction::Outbound,
                peer: "spiffe://mesh.local/ns/shop/sa/db".into(),
                requests: 1000,
                successes: 0,
                latency_us: vec![(900_000, 1000)],
            },
        ],
        ..StatsSnapshot::default()
    }
}

fn proxy(pod: &str, version: &str, stats: Option<StatsSnapshot>) -> ProxyStats {
    ProxyStats {
        instance: format!("shop/{pod}"),
        service: "api".into(),
        version: version.into(),
        spiffe_id: "spiffe://mesh.local/ns/shop/sa/api".into(),
        error: stats.is_none().then(|| "connection refused".to_string()),
        stats,
    }
}

fn answer(world: &Arc<Mutex<World>>, seen: &Seen) -> Answer {
    let mut w = world.lock().unwrap();
    let path = seen.uri.split('?').next().unwrap_or_default().to_string();
    match (seen.method.as_str(), path.as_str()) {
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
        ("GET", ROUTE_PATH) => {
            let weights = crate::policy::split::SplitWeights(w.weights.clone());
            let backends = ["v1", "v2"]
                .iter()
                .map(|v| {
                    (
                        v.to_string(),
                        mesh::Backend {
                            service: format!("api-{v}"),
                            port: 80,
                        },
                    )
                })
                .collect();
            mock::ok(mesh::route_manifest(
                "shop", "api", &backends, &weights, None,
            ))
        }
        ("PATCH", ROUTE_PATH) => {
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
            for r in body["spec"]["rules"][0]["backendRefs"].as_array().unwrap() {
                let v = r["name"].as_str().unwrap().trim_start_matches("api-");
                w.weights
                    .insert(v.to_string(), r["weight"].as_u64().unwrap() as u32);
            }
            if let Some(mut f) = w.on_apply.take() {
                f(&mut w);
            }
            mock::echo(seen)
        }
        ("GET", MAP_PATH) => mock::ok(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "meshctl-rollout-api", "namespace": "shop", "resourceVersion": w.rv.to_string()},
            "data": {"rollout.json": serde_json::to_string(&w.state).unwrap()},
        })),
        ("PUT", MAP_PATH) => {
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
            let read_at = body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            if read_at != w.rv.to_string() {
                return mock::status(409, "Conflict", "the object has been modified");
            }
            w.state = serde_json::from_str(body["data"]["rollout.json"].as_str().unwrap()).unwrap();
            w.rv += 1;
            mock::echo(seen)
        }
        ("GET", "/api/v1/namespaces/meshctl-system/pods") => list(
            "Pod",
            vec![
                json!({"metadata": {"name": "meshctl-controller-a"}, "spec": {"containers": []},
                        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            ],
        ),
        ("GET", p) if p == format!("{CONTROLLER}/status") => {
            let doc = ControllerStatus {
                config_version: 9,
                catalog_version: 8,
                splits: BTreeMap::from([("shop/api".to_string(), w.weights.clone())]),
                proxies: vec![ProxyStatus {
                    instance: "shop/web-0".into(),
                    upstreams: vec!["api".into()],
                    connected: true,
                    acked_version: 8,
                    ..Default::default()
                }],
                ..ControllerStatus::default()
            };
            mock::ok(serde_json::to_value(&doc).unwrap())
        }
        ("GET", p) if p == format!("{CONTROLLER}/stats") => {
            let doc = ProxiesStats {
                proxies: vec![
                    proxy("api-v1-0", "v1", Some(inbound(200, 198))),
                    proxy("api-v2-0", "v2", Some(inbound(100, 90))),
                    proxy("api-v2-1", "v2", None),
                ],
                splits: Vec::new(),
            };
            mock::ok(serde_json::to_value(&doc).unwrap())
        }
        _ => mock::status(404, "NotFound", "not found"),
    }
}

fn ports<'a>(world: &Arc<Mutex<World>>, out: &'a mut Vec<u8>) -> (KubePorts<'a>, mock::Log) {
    let w = world.clone();
    let (client, log) = mock::client(move |seen: &Seen| answer(&w, seen));
    let cluster = Cluster {
        client,
        target: mock::target(),
        namespace: "shop".into(),
        admin: ControllerAdmin::PodsProxy {
            namespace: "meshctl-system".into(),
        },
        request_timeout: Duration::from_secs(5),
    };
    let ports = KubePorts {
        cluster,
        service: "api".into(),
        to: "v2".into(),
        versions: vec!["v1".into(), "v2".into()],
        me: "test/1".into(),
        pid: std::process::id(),
        view: Progress::new(out, crate::output::OutputFormat::Json, 2).unwrap(),
        external_event: None,
        unrecorded: Vec::new(),
        // Renewed just now: no Lease traffic in these tests.
        renewed: Instant::now(),
        looked: None,
        lost: None,
    };
    (ports, log)
}

fn world() -> Arc<Mutex<World>> {
    Arc::new(Mutex::new(World {
        state: state(),
        rv: 1,
        weights: BTreeMap::from([("v1".into(), 100), ("v2".into(), 0)]),
        on_apply: None,
    }))
}

#[tokio::test]
async fn a_check_sums_the_canarys_inbound_traffic_and_counts_a_silent_pod_as_not_reporting() {
    let w = world();
    let mut out = Vec::new();
    let (mut p, log) = ports(&w, &mut out);
    let o = p.observe(Duration::from_secs(30)).await.unwrap();
    assert_eq!((o.proxies, o.reporting), (2, 1));
    assert_eq!((o.requests, o.errors), (100, 10));
    assert_eq!((o.baseline_requests, o.baseline_errors), (200, 2));
    assert_eq!(o.p99_us, Some(10_000));
    // One read for the service's pods, through the controller.
    let reads: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.uri.contains("/proxy/stats"))
        .map(|s| s.uri.clone())
        .collect();
    assert_eq!(
        reads,
        [format!(
            "{CONTROLLER}/stats?window=30&namespace=shop&service=api"
        )]
    );
}

#[tokio::test]
async fn a_weight_is_recorded_then_applied_and_acknowledged() {
    let w = world();
    let mut out = Vec::new();
    let (mut p, log) = ports(&w, &mut out);
    let applied = p
        .set_weight(50, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(applied, Applied::Done);
    let world = w.lock().unwrap();
    assert_eq!(world.state.weight, 50);
    assert_eq!(
        world.weights,
        BTreeMap::from([("v1".into(), 50), ("v2".into(), 50)])
    );
    let order: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method != "GET")
        .map(|s| {
            format!(
                "{} {}",
                s.method,
                s.uri.split('?').next().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        order,
        [format!("PUT {MAP_PATH}"), format!("PATCH {ROUTE_PATH}")]
    );
}

#[tokio::test]
async fn a_promote_recorded_while_a_weight_is_applied_wins_the_route() {
    let w = world();
    // Another shell's `canary promote` records itself just as this weight is applied (and
    // applied its own 100% before that).
    w.lock().unwrap().on_apply = Some(Box::new(|w: &mut World| {
        w.state.record(&Finish::Promote.event());
        w.rv += 1;
    }));
    let mut out = Vec::new();
    let (mut p, _) = ports(&w, &mut out);
    let applied = p
        .set_weight(50, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        applied,
        Applied::Ended(Ended::Promoted {
            by: "promote".into()
        })
    );
    assert_eq!(
        w.lock().unwrap().weights,
        BTreeMap::from([("v1".into(), 0), ("v2".into(), 100)])
    );
    let shown = p.take_external_event().unwrap();
    assert!(
        matches!(shown.kind, EventKind::Promoted { .. }),
        "{shown:?}"
    );
}

#[tokio::test]
async fn events_are_written_once_the_engine_may_wait_and_not_after_a_takeover() {
    let w = world();
    let mut out = Vec::new();
    let (mut p, _) = ports(&w, &mut out);
    let step = Event {
        at: "2026-12-07T12:00:01Z".into(),
        elapsed_ms: 1,
        kind: EventKind::Step {
            step: 1,
            steps: 2,
            weight: 50,
        },
    };
    p.emit(&step).unwrap();
    p.flush().await.unwrap();
    assert_eq!(w.lock().unwrap().state.history, std::slice::from_ref(&step));
    assert_eq!(w.lock().unwrap().state.step, 1);
    // Another `start` took the rollout over: nothing more is written, and the engine is told.
    w.lock().unwrap().state.owner_pid = std::process::id() + 1;
    p.emit(&step).unwrap();
    assert!(matches!(
        p.ended_elsewhere().await.unwrap(),
        Some(Ended::Lost(why)) if why.contains("taken over")
    ));
    assert_eq!(w.lock().unwrap().state.history.len(), 1);
    drop(p);
    let lines = String::from_utf8(out).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}
