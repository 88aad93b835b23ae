//! `kube::faults` against the fake API server: the requests `fault inject|clear|list` send
//! on Kubernetes (server-side apply of `meshctl-faults`, the merge patch removing one key)
//! and how failures read.

use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::kube::mock::{self, Answer, Seen};
use crate::policy::fault::FaultSpec;

const MAP_PATH: &str = "/api/v1/namespaces/shop/configmaps/meshctl-faults";
/// 2026-12-07T12:00:00Z.
const NOW: u64 = 1_796_644_800_000;

fn fault(abort: &str, expires_unix_ms: Option<u64>) -> LiveFault {
    LiveFault {
        spec: FaultSpec::new(Some(abort.parse().unwrap()), None).unwrap(),
        set_unix_ms: NOW,
        expires_unix_ms,
    }
}

/// The ConfigMap with `data`, of which `meshctl` applied `ours` (and `kubectl` the rest).
fn map(data: &[(&str, String)], ours: &[&str]) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone().into()))
        .collect();
    let owned: serde_json::Map<String, serde_json::Value> =
        ours.iter().map(|k| (format!("f:{k}"), json!({}))).collect();
    let theirs: serde_json::Map<String, serde_json::Value> = data
        .keys()
        .filter(|k| !ours.contains(&k.as_str()))
        .map(|k| (format!("f:{k}"), json!({})))
        .collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "meshctl-faults", "namespace": "shop", "resourceVersion": "7",
                        "managedFields": [
                            {"manager": "meshctl", "operation": "Apply", "apiVersion": "v1",
                             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": owned}},
                            {"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": theirs}}]},
           "data": data})
}

fn list(kind: &str, items: Vec<serde_json::Value>) -> Answer {
    mock::ok(json!({"kind": format!("{kind}List"), "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"}, "items": items}))
}

/// `web` calling `api` (v1, v2) and a TCP `db`, all meshed; `get`/`patch` answer the
/// ConfigMap's requests.
fn shop(
    get: impl Fn(&Seen) -> Answer + Send + 'static,
    patch: impl Fn(&Seen) -> Answer + Send + 'static,
) -> impl Fn(&Seen) -> Answer {
    move |seen: &Seen| {
        let path = seen.uri.split('?').next().unwrap_or_default();
        let svc = |name: &str, app: &str, proto: Option<&str>| {
            json!({"metadata": {"name": name, "namespace": "shop"},
                   "spec": {"selector": {"app": app},
                            "ports": [{"port": 80, "appProtocol": proto}]}})
        };
        let pod = |name: &str, app: &str, upstreams: Option<&str>| {
            json!({"metadata": {"name": name, "namespace": "shop",
                                "labels": {"app": app, "meshctl.io/sidecar": "proxy"},
                                "annotations": {"meshctl.io/upstreams": upstreams.unwrap_or("")}},
                   "spec": {"containers": []}, "status": {"phase": "Running"}})
        };
        match (seen.method.as_str(), path) {
            ("GET", "/api/v1/namespaces/shop/services") => list(
                "Service",
                vec![
                    svc("api", "api", None),
                    svc("db", "db", Some("tcp")),
                    svc("web", "web", None),
                ],
            ),
            ("GET", "/api/v1/namespaces/shop/pods") => list(
                "Pod",
                vec![
                    pod("api-0", "api", None),
                    pod("db-0", "db", None),
                    pod("web-0", "web", Some("api")),
                ],
            ),
            ("GET", MAP_PATH) => get(seen),
            ("PATCH", MAP_PATH) => patch(seen),
            _ => mock::status(404, "NotFound", "not found"),
        }
    }
}

fn not_found(_: &Seen) -> Answer {
    mock::status(404, "NotFound", "configmaps \"meshctl-faults\" not found")
}

#[test]
fn a_live_fault_round_trips_through_its_configmap_text_with_rfc3339_times() {
    let f = fault("503@5%", Some(NOW + 600_123));
    let text = encode(&f);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value,
        json!({"spec": {"abort": {"status": 503, "per_million": 50000}},
               "set_at": "2026-12-07T12:00:00Z", "expires_at": "2026-12-07T12:10:00.123Z"})
    );
    assert_eq!(decode(&text), Ok(f));
    let forever = fault("503@5%", None);
    assert_eq!(decode(&encode(&forever)), Ok(forever));
    for (bad, why) in [
        ("{", "not a live fault"),
        (
            r#"{"spec": {}, "set_at": "2026-12-07T12:00:00Z"}"#,
            "spec: a fault needs an abort",
        ),
        (
            r#"{"spec": {"delay": {"ms": 61000, "per_million": 1}}, "set_at": "2026-12-07T12:00:00Z"}"#,
            "spec: delay 61000ms is over the maximum",
        ),
        (
            r#"{"spec": {"abort": {"status": 503, "per_million": 1}}, "set_at": "yesterday"}"#,
            "set_at `yesterday` is not an RFC 3339 time",
        ),
        (
            r#"{"spec": {"abort": {"status": 503, "per_million": 1}}, "set_at": "2026-12-07T12:00:00Z", "until": 5}"#,
            "unknown field `until`",
        ),
    ] {
        let e = decode(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[tokio::test]
async fn inject_creates_the_configmap_with_server_side_apply() {
    let (client, log) = mock::client(shop(not_found, mock::echo));
    let c = mock::cluster(client);
    let f = fault("503@100%", Some(NOW + 60_000));
    inject(&c, "api", &f, NOW).await.unwrap();
    let seen = log.lock().unwrap().clone();
    let apply = seen.last().unwrap();
    assert_eq!(apply.method, "PATCH");
    assert_eq!(apply.content_type, "application/apply-patch+yaml");
    assert!(apply.uri.contains("fieldManager=meshctl"), "{}", apply.uri);
    assert!(apply.uri.contains("force=true"), "{}", apply.uri);
    let body: serde_json::Value = serde_json::from_str(&apply.body).unwrap();
    assert_eq!(
        body,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "meshctl-faults", "namespace": "shop"},
               "data": {"api": encode(&f)}})
    );
}

#[tokio::test]
async fn inject_keeps_meshctls_faults_in_force_and_leaves_other_managers_keys_alone() {
    let kept = fault("500@1%", None);
    let expired = fault("500@1%", Some(NOW - 1));
    let existing = map(
        &[
            ("web", encode(&kept)),
            ("db", encode(&expired)),
            ("api", encode(&fault("502@2%", None))),
            ("theirs", "written by hand".to_string()),
        ],
        &["web", "db", "api"],
    );
    let (client, log) = mock::client(shop(move |_| mock::ok(existing.clone()), mock::echo));
    let f = fault("503@100%", None);
    inject(&mock::cluster(client), "api", &f, NOW)
        .await
        .unwrap();
    let seen = log.lock().unwrap().clone();
    let body: serde_json::Value = serde_json::from_str(&seen.last().unwrap().body).unwrap();
    // The version read is the precondition; the expired `db` goes; `theirs` is not claimed.
    assert_eq!(
        body,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "meshctl-faults", "namespace": "shop", "resourceVersion": "7"},
               "data": {"api": encode(&f), "web": encode(&kept)}})
    );
}

#[tokio::test]
async fn inject_rereads_and_retries_when_the_configmap_changed_meanwhile() {
    let conflicts = Mutex::new(1);
    let (client, log) = mock::client(shop(
        move |_| mock::ok(map(&[], &[])),
        move |seen| {
            let mut left = conflicts.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return mock::status(
                    409,
                    "Conflict",
                    "Operation cannot be fulfilled on configmaps \"meshctl-faults\": the object has been modified",
                );
            }
            mock::echo(seen)
        },
    ));
    inject(&mock::cluster(client), "api", &fault("503@1%", None), NOW)
        .await
        .unwrap();
    let seen = log.lock().unwrap().clone();
    let methods: Vec<&str> = seen
        .iter()
        .filter(|s| s.uri.starts_with(MAP_PATH))
        .map(|s| s.method.as_str())
        .collect();
    assert_eq!(methods, ["GET", "PATCH", "GET", "PATCH"]);
}

#[tokio::test]
async fn a_forbidden_apply_names_the_verb_the_resource_and_the_namespace() {
    let (client, _) = mock::client(shop(not_found, |_| {
        mock::status(
            403,
            "Forbidden",
            "configmaps \"meshctl-faults\" is forbidden: User \"dev\" cannot patch resource \"configmaps\" in API group \"\" in the namespace \"shop\"",
        )
    }));
    let e = inject(&mock::cluster(client), "api", &fault("503@1%", None), NOW)
        .await
        .unwrap_err();
    assert!(matches!(e, MeshError::Failed(_)), "{e:?}");
    let message = format!("{e:#}");
    assert!(
        message.contains("permission denied: the user of context test-ctx may not patch configmaps in namespace shop"),
        "{message}"
    );
    assert!(message.contains("key api"), "{message}");
}

#[tokio::test]
async fn unknown_and_tcp_services_are_usage_errors_naming_the_services() {
    let (client, _) = mock::client(shop(not_found, mock::echo));
    let c = mock::cluster(client);
    let services = services(&c).await.unwrap();
    assert_eq!(services.names(), ["api", "db", "web"]);
    assert_eq!(services.callers("api"), ["web-0"]);
    let e = services.check("nope", &c).unwrap_err();
    assert!(
        matches!(&e, MeshError::Usage(m)
        if m.contains("unknown service `nope` in namespace shop (services: api, db, web;")),
        "{e:?}"
    );
    let e = services.check("db", &c).unwrap_err();
    assert!(
        matches!(&e, MeshError::Usage(m) if m.contains("protocol: tcp")),
        "{e:?}"
    );
    services.check("api", &c).unwrap();
}

#[tokio::test]
async fn clear_removes_one_key_with_a_merge_patch_and_nothing_when_there_is_none() {
    let existing = map(
        &[
            ("api", encode(&fault("503@1%", None))),
            ("web", encode(&fault("503@1%", None))),
        ],
        &["api", "web"],
    );
    let after = map(&[("web", encode(&fault("503@1%", None)))], &["web"]);
    let (client, log) = mock::client(shop(
        move |_| mock::ok(existing.clone()),
        move |_| mock::ok(after.clone()),
    ));
    let c = mock::cluster(client);
    assert!(clear(&c, "api", NOW).await.unwrap());
    let seen = log.lock().unwrap().clone();
    let patch = seen.last().unwrap();
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.content_type, "application/merge-patch+json");
    assert!(patch.uri.contains("fieldManager=meshctl"), "{}", patch.uri);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&patch.body).unwrap(),
        json!({"data": {"api": null}})
    );
    // A service without a key, or no ConfigMap at all: nothing is written.
    assert!(!clear(&c, "db", NOW).await.unwrap());
    let (client, log) = mock::client(shop(not_found, mock::echo));
    assert!(!clear(&mock::cluster(client), "api", NOW).await.unwrap());
    assert!(log.lock().unwrap().iter().all(|s| s.method == "GET"));
}

#[tokio::test]
async fn list_gives_the_faults_in_force_and_names_unreadable_keys() {
    let api = fault("503@100%", Some(NOW + 1_000));
    let existing = map(
        &[
            ("api", encode(&api)),
            ("web", encode(&fault("500@1%", Some(NOW)))),
            ("db", "{not json".to_string()),
        ],
        &["api", "web"],
    );
    let (client, log) = mock::client(shop(move |_| mock::ok(existing.clone()), mock::echo));
    let listed = super::list(&mock::cluster(client), NOW).await.unwrap();
    assert_eq!(
        listed.faults.into_iter().collect::<Vec<_>>(),
        [("api".to_string(), api)]
    );
    assert_eq!(listed.invalid.len(), 1);
    assert_eq!(listed.invalid[0].0, "db");
    let get = log.lock().unwrap().last().unwrap().clone();
    assert_eq!((get.method.as_str(), get.uri.as_str()), ("GET", MAP_PATH));
}
