//! `meshctl version` on Kubernetes against the fake API server: what it asks (the controller
//! Deployment, the ready controller pods, each one's /status through pods/proxy) and how a
//! refusal or an unreachable cluster is reported rather than failing.

use serde_json::json;

use super::*;
use crate::kube::controller::status::ControllerStatus;
use crate::kube::mock::{self, Answer, Seen};

const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/meshctl-system/deployments/meshctl-controller";
const PODS: &str = "/api/v1/namespaces/meshctl-system/pods";
const IMAGE: &str = "registry.example.com/meshctl:0.1.0";

fn deployment() -> Answer {
    mock::ok(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "meshctl-controller", "namespace": "meshctl-system"},
        "spec": {"replicas": 2, "selector": {},
                 "template": {"spec": {"containers": [
                     {"name": "controller", "image": IMAGE}]}}},
        "status": {"readyReplicas": 2},
    }))
}

fn controller_pods() -> Answer {
    let items: Vec<serde_json::Value> = ["meshctl-controller-a", "meshctl-controller-b"]
        .iter()
        .map(|name| {
            json!({"metadata": {"name": name}, "spec": {"containers": []},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        })
        .collect();
    mock::ok(json!({
        "kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
        "items": items,
    }))
}

/// A replica's /status document reporting `version` (`""`: a controller before the field).
fn status_doc(version: &str) -> Answer {
    mock::ok(
        serde_json::to_value(ControllerStatus {
            version: version.into(),
            ..ControllerStatus::default()
        })
        .unwrap(),
    )
}

fn proxy_status(pod: &str) -> String {
    format!("{PODS}/{pod}:9990/proxy/status")
}

/// A cluster whose replica a reports `a` and b reports `b`.
fn answering(a: &'static str, b: &'static str) -> impl Fn(&Seen) -> Answer {
    move |seen: &Seen| {
        let path = seen.uri.split('?').next().unwrap_or_default();
        match path {
            DEPLOYMENT => deployment(),
            PODS => controller_pods(),
            p if p == proxy_status("meshctl-controller-a") => status_doc(a),
            p if p == proxy_status("meshctl-controller-b") => status_doc(b),
            _ => mock::status(404, "NotFound", "not found"),
        }
    }
}

#[tokio::test]
async fn every_replicas_version_and_the_deployments_image_are_read() {
    let (client, log) = mock::client(answering("0.1.0", "0.1.0"));
    let cp = ask_cluster(&mock::cluster(client), "meshctl-system").await;
    assert_eq!(
        serde_json::to_value(&cp).unwrap(),
        json!({
            "version": "0.1.0",
            "context": "test-ctx",
            "server": "https://203.0.113.7:6443/",
            "namespace": "meshctl-system",
            "image": IMAGE,
            "replicas": [
                {"replica": "meshctl-system/meshctl-controller-a", "version": "0.1.0"},
                {"replica": "meshctl-system/meshctl-controller-b", "version": "0.1.0"},
            ],
        })
    );
    let seen: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0], format!("GET {DEPLOYMENT}"));
    assert!(seen[1].starts_with(&format!("GET {PODS}?")), "{}", seen[1]);
    assert!(seen[1].contains("labelSelector="), "{}", seen[1]);
    assert_eq!(
        seen[2],
        format!("GET {}", proxy_status("meshctl-controller-a"))
    );
    assert_eq!(
        seen[3],
        format!("GET {}", proxy_status("meshctl-controller-b"))
    );
}

#[tokio::test]
async fn replicas_that_differ_or_predate_the_field_are_shown_each() {
    let (client, _) = mock::client(answering("0.2.0", ""));
    let cp = ask_cluster(&mock::cluster(client), "meshctl-system").await;
    assert_eq!(cp.version, None);
    assert_eq!(cp.error, None);
    let replicas = &cp.kubernetes.as_ref().unwrap().replicas;
    assert_eq!(replicas[0].version.as_deref(), Some("0.2.0"));
    let older = replicas[1].error.as_deref().unwrap_or_default();
    assert!(older.contains("older than the field"), "{older}");
    let text = table(&Versions {
        client: Component {
            version: "0.2.0".into(),
        },
        control_plane: Some(cp),
    })
    .to_string();
    assert!(
        text.contains("replica meshctl-system/meshctl-controller-a"),
        "{text}"
    );
    assert!(text.contains(IMAGE), "{text}");
    assert!(text.contains("see the replicas below"), "{text}");

    let (client, _) = mock::client(answering("0.2.0", "0.1.0"));
    let cp = ask_cluster(&mock::cluster(client), "meshctl-system").await;
    assert_eq!(cp.version, None, "two versions are not one");
}

#[tokio::test]
async fn a_forbidden_deployment_is_reported_naming_the_permission() {
    let (client, log) = mock::client(|_: &Seen| {
        mock::status(
            403,
            "Forbidden",
            "deployments.apps \"meshctl-controller\" is forbidden: User \"dev\" cannot get resource \"deployments\"",
        )
    });
    let cp = ask_cluster(&mock::cluster(client), "meshctl-system").await;
    let error = cp.error.unwrap_or_default();
    assert!(
        error.contains("may not get deployments.apps in namespace meshctl-system"),
        "{error}"
    );
    assert_eq!(cp.version, None);
    assert_eq!(log.lock().unwrap().len(), 1, "nothing more is asked");
}

#[tokio::test]
async fn an_unreachable_cluster_is_reported_not_failed() {
    let (client, _) = mock::client(|_: &Seen| None);
    let cp = ask_cluster(&mock::cluster(client), "meshctl-system").await;
    let error = cp.error.clone().unwrap_or_default();
    assert!(
        error.contains("meshctl-system/meshctl-controller"),
        "{error}"
    );
    assert!(error.contains("203.0.113.7"), "names the server: {error}");
    let json = serde_json::to_value(&cp).unwrap();
    assert_eq!(json["replicas"], json!([]));
    assert!(json.get("version").is_none(), "{json}");
}

#[tokio::test]
async fn a_controller_without_ready_pods_says_so() {
    let (client, _) = mock::client(|seen: &Seen| match seen.uri.split('?').next() {
        Some(DEPLOYMENT) => deployment(),
        Some(PODS) => mock::empty_list("Pod"),
        _ => mock::status(404, "NotFound", "not found"),
    });
    let cp = ask_cluster(&mock::cluster(client), "meshctl-system").await;
    let error = cp.error.unwrap_or_default();
    assert!(
        error.contains("no ready controller pod in namespace meshctl-system"),
        "{error}"
    );
    assert_eq!(cp.kubernetes.and_then(|k| k.image).as_deref(), Some(IMAGE));
}
