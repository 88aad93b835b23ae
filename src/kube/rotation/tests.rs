//! `kube::rotation` against the fake API server: what each step writes (patch types, field
//! manager, base64 data, the webhook's caBundle merged by name, trust before the issuer),
//! the checkpoint's life (created once, replaced, deleted), and how refusals read.

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use super::*;
use crate::identity::rotation::Step;
use crate::kube::controller::status::{CertificateReport, ProxyStatus};
use crate::kube::mesh::ControllerAdmin;
use crate::kube::mock::{self, Seen};

const CNS: &str = "meshctl-system";
const SECRET_PATH: &str = "/api/v1/namespaces/meshctl-system/secrets/meshctl-issuer";
const BUNDLE_PATH: &str = "/api/v1/namespaces/meshctl-system/configmaps/meshctl-trust-bundle";
const HOOK_PATH: &str =
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/meshctl-sidecar-injector";
const CHECKPOINT_PATH: &str = "/api/v1/namespaces/meshctl-system/configmaps/meshctl-rotation";
const CHECKPOINTS_PATH: &str = "/api/v1/namespaces/meshctl-system/configmaps";

fn cluster(client: kube::Client) -> Cluster {
    Cluster {
        client,
        target: mock::target(),
        namespace: "shop".into(),
        admin: ControllerAdmin::PodsProxy {
            namespace: CNS.into(),
        },
        request_timeout: Duration::from_secs(5),
    }
}

fn material(issuer: &str, bundle: &str) -> Material {
    Material {
        trust_domain: "mesh.local".into(),
        issuer_cert_pem: format!("ISSUER {issuer}\n"),
        issuer_key_pem: format!("KEY {issuer}\n"),
        bundle_pem: bundle.into(),
    }
}

fn path(seen: &Seen) -> &str {
    seen.uri.split('?').next().unwrap_or_default()
}

/// Each request as (method, path), in order.
fn order(seen: &[Seen]) -> Vec<(&str, &str)> {
    seen.iter().map(|s| (s.method.as_str(), path(s))).collect()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn hook() -> serde_json::Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "meshctl-sidecar-injector"},
        "webhooks": [
            {"name": "namespace.inject.meshctl.io", "sideEffects": "None",
             "admissionReviewVersions": ["v1"], "clientConfig": {"caBundle": b64("A1")}},
            {"name": "pod.inject.meshctl.io", "sideEffects": "None",
             "admissionReviewVersions": ["v1"], "clientConfig": {"caBundle": b64("A1")}},
        ],
    })
}

#[tokio::test]
async fn a_new_issuer_alone_applies_only_the_secret_as_install_renders_it() {
    let (client, log) = mock::client(mock::echo);
    let now = material("I1", "A1");
    let next = material("I2", "A1");
    publish(&cluster(client), CNS, &now, &next).await.unwrap();
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(path(&seen[0]), SECRET_PATH);
    assert!(
        seen[0].uri.contains("fieldManager=meshctl"),
        "{}",
        seen[0].uri
    );
    assert!(seen[0].uri.contains("force=true"), "{}", seen[0].uri);
    assert_eq!(seen[0].content_type, "application/apply-patch+yaml");
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    let rendered = serde_json::to_value(crate::kube::manifests::issuer_secret(CNS, &next)).unwrap();
    assert_eq!(body, rendered);
    assert_eq!(
        body["data"],
        json!({"tls.crt": b64("ISSUER I2\n"), "tls.key": b64("KEY I2\n"), "ca.crt": b64("A1")})
    );
    assert_eq!(
        body["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "meshctl"
    );
    // Nothing differs: nothing is written.
    let (client, log) = mock::client(mock::echo);
    publish(&cluster(client), CNS, &next, &next).await.unwrap();
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_new_bundle_goes_to_the_webhook_and_the_configmap_before_the_secret() {
    let (client, log) = mock::client(|seen| match (seen.method.as_str(), path(seen)) {
        ("GET", HOOK_PATH) => mock::ok(hook()),
        _ => mock::echo(seen),
    });
    let now = material("I1", "A1");
    let next = material("I1", "A1A2");
    publish(&cluster(client), CNS, &now, &next).await.unwrap();
    let seen = log.lock().unwrap().clone();
    let order = order(&seen);
    assert_eq!(
        order,
        [
            ("GET", HOOK_PATH),
            ("PATCH", HOOK_PATH),
            ("PATCH", BUNDLE_PATH),
            ("PATCH", SECRET_PATH)
        ]
    );
    for s in &seen[1..] {
        assert_eq!(s.content_type, "application/apply-patch+yaml");
        assert!(s.uri.contains("fieldManager=meshctl") && s.uri.contains("force=true"));
    }
    let body: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
    let webhooks = body["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), 2);
    for w in webhooks {
        assert_eq!(w["clientConfig"]["caBundle"], b64("A1A2"), "{w}");
        assert_eq!(w["clientConfig"]["service"]["namespace"], CNS, "{w}");
    }
    let body: serde_json::Value = serde_json::from_str(&seen[2].body).unwrap();
    assert_eq!(body["data"], json!({"ca-bundle.crt": "A1A2"}));
    assert_eq!(body["metadata"]["name"], "meshctl-trust-bundle");
}

#[tokio::test]
async fn a_mesh_without_the_injector_webhook_still_rotates() {
    let (client, log) = mock::client(|seen| match (seen.method.as_str(), path(seen)) {
        ("GET", HOOK_PATH) => mock::status(404, "NotFound", "not found"),
        _ => mock::echo(seen),
    });
    publish(
        &cluster(client),
        CNS,
        &material("I1", "A1"),
        &material("I1", "A2"),
    )
    .await
    .unwrap();
    let seen = log.lock().unwrap().clone();
    let order = order(&seen);
    assert_eq!(
        order,
        [
            ("GET", HOOK_PATH),
            ("PATCH", BUNDLE_PATH),
            ("PATCH", SECRET_PATH)
        ]
    );
}

#[tokio::test]
async fn a_forbidden_secret_names_the_permission_and_nothing_else_is_written() {
    let (client, log) = mock::client(|seen| match (seen.method.as_str(), path(seen)) {
        ("GET", SECRET_PATH) => mock::status(
            403,
            "Forbidden",
            "secrets \"meshctl-issuer\" is forbidden: User \"dev\" cannot get resource \"secrets\"",
        ),
        _ => mock::echo(seen),
    });
    let err = read_issuer(&cluster(client), CNS, "mesh.local")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reading Secret meshctl-system/meshctl-issuer: permission denied: the user of context test-ctx may not get secrets in namespace meshctl-system"),
        "{err}"
    );
    assert_eq!(log.lock().unwrap().len(), 1);
    // Missing: says what to check.
    let (client, _) = mock::client(|_| mock::status(404, "NotFound", "not found"));
    let err = read_issuer(&cluster(client), CNS, "mesh.local")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("it does not exist (is meshctl installed in namespace meshctl-system?"),
        "{err}"
    );
}

#[tokio::test]
async fn the_secret_is_read_back_as_material() {
    let (client, _) = mock::client(|_| {
        mock::ok(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "meshctl-issuer", "namespace": CNS},
            "data": {"tls.crt": b64("C"), "tls.key": b64("K"), "ca.crt": b64("B")},
        }))
    });
    let m = read_issuer(&cluster(client), CNS, "mesh.local")
        .await
        .unwrap();
    assert_eq!(
        (
            m.issuer_cert_pem.as_str(),
            m.issuer_key_pem.as_str(),
            m.bundle_pem.as_str()
        ),
        ("C", "K", "B")
    );
    assert_eq!(m.trust_domain, "mesh.local");
}

fn checkpoint(step: Step) -> Checkpoint {
    Checkpoint {
        step,
        old_anchor: "A1".into(),
        new_anchor: Some("A2".into()),
        new_issuer: None,
    }
}

#[tokio::test]
async fn the_checkpoint_is_created_once_replaced_after_each_step_and_deleted_when_done() {
    let (client, log) = mock::client(mock::echo);
    let c = cluster(client);
    save_checkpoint(&c, CNS, &checkpoint(Step::AddAnchor), true)
        .await
        .unwrap();
    save_checkpoint(&c, CNS, &checkpoint(Step::AwaitBundle), false)
        .await
        .unwrap();
    save_checkpoint(&c, CNS, &checkpoint(Step::Done), false)
        .await
        .unwrap();
    let seen = log.lock().unwrap().clone();
    let order = order(&seen);
    assert_eq!(
        order,
        [
            ("POST", CHECKPOINTS_PATH),
            ("PUT", CHECKPOINT_PATH),
            ("DELETE", CHECKPOINT_PATH)
        ]
    );
    let body: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
    let cp: Checkpoint =
        serde_json::from_str(body["data"]["rotation.json"].as_str().unwrap()).unwrap();
    assert_eq!(cp, checkpoint(Step::AwaitBundle));
    // Read back.
    let stored = body.clone();
    let (client, _) = mock::client(move |_| mock::ok(stored.clone()));
    assert_eq!(
        load_checkpoint(&cluster(client), CNS).await.unwrap(),
        Some(checkpoint(Step::AwaitBundle))
    );
    // None recorded; a deleted one deleted again is fine.
    let (client, _) = mock::client(|_| mock::status(404, "NotFound", "not found"));
    let c = cluster(client);
    assert_eq!(load_checkpoint(&c, CNS).await.unwrap(), None);
    save_checkpoint(&c, CNS, &checkpoint(Step::Done), false)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_rotation_cannot_start_and_a_bad_checkpoint_says_how_to_recover() {
    let (client, _) = mock::client(|_| mock::status(409, "AlreadyExists", "already exists"));
    let err = save_checkpoint(&cluster(client), CNS, &checkpoint(Step::AddAnchor), true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("an anchor rotation was started meanwhile"),
        "{err}"
    );
    assert!(err.contains("--resume"), "{err}");
    let (client, _) = mock::client(|_| {
        mock::ok(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "meshctl-rotation", "namespace": CNS},
            "data": {"rotation.json": "{\"step\": \"sideways\"}"},
        }))
    });
    let err = load_checkpoint(&cluster(client), CNS)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reading ConfigMap meshctl-system/meshctl-rotation: unreadable checkpoint"),
        "{err}"
    );
    assert!(err.contains("delete it to start over"), "{err}");
}

fn replica(issuer_pem: &str, error: &str, proxies: Vec<ProxyStatus>) -> ControllerStatus {
    ControllerStatus {
        issuer_pem: issuer_pem.into(),
        issuer_error: error.into(),
        proxies,
        ..Default::default()
    }
}

#[test]
fn replicas_not_signing_with_the_new_issuer_are_named_with_why() {
    let old = crate::identity::ca::new_anchor("mesh.local", Duration::from_secs(60)).unwrap();
    let new = crate::identity::ca::new_anchor("mesh.local", Duration::from_secs(60)).unwrap();
    let fp = |pem_text: &str| pem::fingerprint(&pem::first_cert(pem_text).unwrap());
    let replicas = [
        replica(&new.cert_pem, "", Vec::new()),
        replica(&old.cert_pem, "", Vec::new()),
        replica(&old.cert_pem, "the key does not belong", Vec::new()),
        replica("", "", Vec::new()),
    ];
    let behind = replicas_behind(&replicas, &fp(&new.cert_pem));
    assert_eq!(
        behind,
        [
            format!(
                "controller replica 2 (still signs with {})",
                fp(&old.cert_pem)
            ),
            "controller replica 3 (refuses the issuer Secret: the key does not belong)".to_string(),
            "controller replica 4 (reports no issuer: a controller older than this CLI?)"
                .to_string(),
        ]
    );
}

#[test]
fn the_gates_see_every_namespace_s_pods_merged_across_replicas() {
    let pod = |instance: &str, connected: bool, issuer: &str| ProxyStatus {
        instance: instance.into(),
        connected,
        certificate: Some(CertificateReport {
            leaf_serial: "01".into(),
            leaf_not_after_unix: 10,
            issuer_fingerprint: issuer.into(),
            bundle_fingerprints: vec!["A1".into()],
        }),
        ..Default::default()
    };
    let replicas = [
        replica(
            "",
            "",
            vec![pod("shop/web-0", true, "I2"), pod("pay/api-0", false, "I1")],
        ),
        replica("", "", vec![pod("pay/api-0", true, "I2")]),
    ];
    let views = views(&replicas);
    assert_eq!(views.len(), 2);
    let api = views.iter().find(|v| v.instance == "pay/api-0").unwrap();
    assert!(api.connected);
    assert_eq!(api.report.as_ref().unwrap().issuer, "I2");
    assert!(crate::identity::rotation::leaves_pending(&views, "I2").is_empty());
}
