//! `kube::rollout` against the fake API server: the ConfigMap and Lease requests a rollout
//! sends (shape, resourceVersion on every replace), a conflicting write read again, a live
//! Lease refused and an expired one taken over, and how a refusal reads.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::canary::store::Phase;
use crate::kube::mock::{self, Answer, Seen};

const MAP_PATH: &str = "/api/v1/namespaces/shop/configmaps/meshctl-rollout-api";
const MAPS_PATH: &str = "/api/v1/namespaces/shop/configmaps";
const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/meshctl-rollout-api";
const LEASES_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/shop/leases";

fn state() -> RolloutState {
    RolloutState {
        weight: 5,
        steps: vec![5, 50, 100],
        step: 1,
        owner_pid: 42,
        ..crate::canary::store::sample_state()
    }
}

fn path(seen: &Seen) -> &str {
    seen.uri.split('?').next().unwrap_or_default()
}

fn map_answer(st: &RolloutState, rv: &str) -> Answer {
    mock::ok(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "meshctl-rollout-api", "namespace": "shop", "resourceVersion": rv,
                     "labels": {"meshctl.io/rollout": "api"}},
        "data": {"rollout.json": serde_json::to_string_pretty(st).unwrap()},
    }))
}

/// 200 with the request's body and `rv` as its resourceVersion.
fn stored(seen: &Seen, rv: &str) -> Answer {
    let mut body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    body["metadata"]["resourceVersion"] = rv.into();
    mock::ok(body)
}

fn lease_answer(holder: &str, renewed_secs_ago: i64, rv: &str) -> Answer {
    let renewed = Timestamp::now()
        .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(
            renewed_secs_ago,
        ))
        .unwrap();
    mock::ok(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "meshctl-rollout-api", "namespace": "shop", "resourceVersion": rv, "uid": "u-1"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30,
                 "acquireTime": renewed.to_string(), "renewTime": renewed.to_string(),
                 "leaseTransitions": 3},
    }))
}

#[tokio::test]
async fn the_state_is_a_configmap_created_once_then_replaced_at_the_version_read() {
    let (client, log) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        ("POST", MAPS_PATH) => stored(seen, "1"),
        _ => mock::status(404, "NotFound", "not found"),
    });
    let c = mock::cluster(client);
    let st = state();
    assert_eq!(save(&c, &st, None).await.unwrap().as_deref(), Some("1"));
    let seen = log.lock().unwrap().clone();
    let create = seen.last().unwrap();
    assert_eq!(create.method, "POST");
    let body: serde_json::Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(
        body,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "meshctl-rollout-api", "namespace": "shop",
                         "labels": {"app.kubernetes.io/managed-by": "meshctl", "meshctl.io/rollout": "api"}},
            // The same JSON as the local store's .meshctl/canary/api.json.
            "data": {"rollout.json": serde_json::to_string_pretty(&st).unwrap()},
        })
    );
}

#[tokio::test]
async fn an_update_carries_the_resource_version_and_a_conflict_is_read_again() {
    // The first replace loses to another writer (409); the second read sees its change
    // (a promote) and the change is decided again on it.
    let writes = Arc::new(Mutex::new(0));
    let w = writes.clone();
    let (client, log) = mock::client(
        move |seen: &Seen| match (seen.method.as_str(), path(seen)) {
            ("GET", MAP_PATH) => {
                let n = *w.lock().unwrap();
                let mut st = state();
                if n > 0 {
                    st.phase = Phase::Promoted;
                }
                map_answer(&st, &format!("{}", 7 + n))
            }
            ("PUT", MAP_PATH) => {
                *w.lock().unwrap() += 1;
                if seen.body.contains("\"resourceVersion\":\"7\"") {
                    mock::status(409, "Conflict", "the object has been modified")
                } else {
                    stored(seen, "9")
                }
            }
            _ => mock::status(404, "NotFound", "not found"),
        },
    );
    let c = mock::cluster(client);
    let mut decided_on = Vec::new();
    let left = update(&c, "api", |st| {
        decided_on.push(st.phase);
        st.weight = 50;
        true
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(decided_on, [Phase::Progressing, Phase::Promoted]);
    assert_eq!(left.weight, 50);
    let methods: Vec<(String, String)> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.method.clone(), path(s).to_string()))
        .collect();
    assert_eq!(
        methods,
        [
            ("GET".into(), MAP_PATH.into()),
            ("PUT".into(), MAP_PATH.into()),
            ("GET".into(), MAP_PATH.into()),
            ("PUT".into(), MAP_PATH.into()),
        ]
    );
    let last = log.lock().unwrap().last().unwrap().body.clone();
    assert!(last.contains("\"resourceVersion\":\"8\""), "{last}");
}

#[tokio::test]
async fn no_state_on_record_is_none() {
    let (client, _) = mock::client(|_: &Seen| {
        mock::status(
            404,
            "NotFound",
            "configmaps \"meshctl-rollout-api\" not found",
        )
    });
    let c = mock::cluster(client);
    assert_eq!(load(&c, "api").await.unwrap(), None);
    assert_eq!(update(&c, "api", |_| true).await.unwrap(), None);
}

#[tokio::test]
async fn a_free_lease_is_created_for_this_process() {
    let (client, log) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        ("POST", LEASES_PATH) => stored(seen, "1"),
        _ => mock::status(404, "NotFound", "not found"),
    });
    let c = mock::cluster(client);
    assert_eq!(acquire(&c, "api", "ci-runner/77").await.unwrap(), None);
    let create = log.lock().unwrap().last().unwrap().clone();
    assert_eq!(
        (create.method.as_str(), path(&create)),
        ("POST", LEASES_PATH)
    );
    let body: serde_json::Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(body["metadata"]["name"], "meshctl-rollout-api");
    assert_eq!(body["spec"]["holderIdentity"], "ci-runner/77");
    assert_eq!(body["spec"]["leaseDurationSeconds"], 30);
    assert!(body["spec"]["renewTime"].is_string(), "{body}");
    assert_eq!(body["spec"]["leaseTransitions"], 0);
}

#[tokio::test]
async fn a_live_lease_is_refused_naming_its_holder() {
    let (client, log) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        ("GET", LEASE_PATH) => lease_answer("laptop/1234", 5, "11"),
        _ => mock::status(500, "InternalError", "unexpected"),
    });
    let c = mock::cluster(client);
    let h = acquire(&c, "api", "ci-runner/77").await.unwrap().unwrap();
    assert_eq!(h.identity, "laptop/1234");
    assert!(h.live);
    // Nothing written.
    assert!(log.lock().unwrap().iter().all(|s| s.method == "GET"));
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_at_the_version_that_showed_it_expired() {
    let (client, log) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        // Not renewed for a minute (duration 30 s): its `start` died.
        ("GET", LEASE_PATH) => lease_answer("laptop/1234", 60, "11"),
        ("PUT", LEASE_PATH) => stored(seen, "12"),
        _ => mock::status(500, "InternalError", "unexpected"),
    });
    let c = mock::cluster(client);
    let before = holder(&c, "api").await.unwrap().unwrap();
    assert!(!before.live, "{before:?}");
    assert_eq!(acquire(&c, "api", "ci-runner/77").await.unwrap(), None);
    let put = log.lock().unwrap().last().unwrap().clone();
    assert_eq!(put.method, "PUT");
    let body: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(body["metadata"]["resourceVersion"], "11");
    assert_eq!(body["spec"]["holderIdentity"], "ci-runner/77");
    assert_eq!(body["spec"]["leaseTransitions"], 4);
}

#[tokio::test]
async fn renewal_notices_a_takeover_and_release_leaves_others_leases_alone() {
    let (client, log) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        ("GET", LEASE_PATH) => lease_answer("other-host/9", 1, "20"),
        _ => mock::status(500, "InternalError", "unexpected"),
    });
    let c = mock::cluster(client);
    match renew(&c, "api", "ci-runner/77").await.unwrap() {
        Renewal::Lost(why) => assert!(why.contains("taken over by other-host/9"), "{why}"),
        Renewal::Renewed => panic!("renewed someone else's lease"),
    }
    release(&c, "api", "ci-runner/77").await.unwrap();
    assert!(log.lock().unwrap().iter().all(|s| s.method == "GET"));
}

#[tokio::test]
async fn release_deletes_its_own_lease_with_preconditions() {
    let (client, log) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        ("GET", LEASE_PATH) => lease_answer("ci-runner/77", 1, "20"),
        ("DELETE", LEASE_PATH) => {
            mock::ok(json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}))
        }
        _ => mock::status(500, "InternalError", "unexpected"),
    });
    let c = mock::cluster(client);
    release(&c, "api", "ci-runner/77").await.unwrap();
    let delete = log.lock().unwrap().last().unwrap().clone();
    assert_eq!(delete.method, "DELETE");
    assert!(
        delete.body.contains("\"resourceVersion\":\"20\""),
        "{}",
        delete.body
    );
    assert!(delete.body.contains("\"uid\":\"u-1\""), "{}", delete.body);
}

#[tokio::test]
async fn a_refusal_names_the_permission_missing() {
    let (client, _) = mock::client(|seen: &Seen| match (seen.method.as_str(), path(seen)) {
        ("GET", _) => mock::status(404, "NotFound", "not found"),
        _ => mock::status(
            403,
            "Forbidden",
            "leases.coordination.k8s.io is forbidden: User \"dev\" cannot create resource",
        ),
    });
    let c = mock::cluster(client);
    let m = format!(
        "{:#}",
        anyhow::Error::new(acquire(&c, "api", "me/1").await.unwrap_err())
    );
    assert!(
        m.contains("may not create leases.coordination.k8s.io in namespace shop"),
        "{m}"
    );
    assert!(m.contains("test-ctx"), "{m}");
    let m = format!(
        "{:#}",
        anyhow::Error::new(save(&c, &state(), None).await.unwrap_err())
    );
    assert!(
        m.contains("may not create configmaps in namespace shop"),
        "{m}"
    );
}

#[test]
fn a_lease_is_live_while_renewed_within_its_duration() {
    let now = Timestamp::now();
    let ago = |secs: i64| {
        MicroTime(
            now.checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(secs))
                .unwrap(),
        )
    };
    let spec = |holder: Option<&str>, renewed: Option<MicroTime>| LeaseSpec {
        holder_identity: holder.map(Into::into),
        lease_duration_seconds: Some(30),
        renew_time: renewed,
        ..LeaseSpec::default()
    };
    assert!(lease_live(&spec(Some("h/1"), Some(ago(29))), now));
    assert!(!lease_live(&spec(Some("h/1"), Some(ago(31))), now));
    assert!(!lease_live(&spec(None, Some(ago(1))), now));
    assert!(!lease_live(&spec(Some(""), Some(ago(1))), now));
    assert!(!lease_live(&spec(Some("h/1"), None), now));
}
