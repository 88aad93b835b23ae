//! Tests of the Kubernetes install: golden manifests, their round trip through the
//! k8s-openapi types, the exact RBAC rules, and apply/wait/uninstall/check against a mock API
//! server.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::{self, ApplyOptions, NotReady};
use super::identity::{Material, Source};
use super::manifests::{self, InstallOptions, Manifests};
use super::mock::{self, Seen};
use super::*;

/// Fixed, fake identity material: the manifests only carry it, so goldens stay stable.
fn fake_material() -> Material {
    Material {
        trust_domain: "mesh.local".into(),
        issuer_cert_pem: "-----BEGIN CERTIFICATE-----\nISSUER\n-----END CERTIFICATE-----\n".into(),
        issuer_key_pem: "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n".into(),
        bundle_pem: "-----BEGIN CERTIFICATE-----\nANCHOR\n-----END CERTIFICATE-----\n".into(),
    }
}

fn render(opts: &InstallOptions) -> Manifests {
    manifests::render(opts, &fake_material()).unwrap()
}

#[test]
fn golden_default() {
    let objects = render(&InstallOptions::default()).objects().unwrap();
    insta::assert_snapshot!("install_default", manifests::to_yaml(&objects));
}

#[test]
fn golden_ha() {
    let opts = InstallOptions {
        ha: true,
        ..Default::default()
    };
    let objects = render(&opts).objects().unwrap();
    insta::assert_snapshot!("install_ha", manifests::to_yaml(&objects));
}

/// A CA made by `certs init` in a directory, through the same path as `--identity-dir`; the
/// generated PEM is redacted (it differs on every run), everything else is golden.
#[test]
fn golden_identity_dir() {
    let dir = tempfile::tempdir().unwrap();
    crate::identity::store::CaStore::new(dir.path())
        .init(&crate::identity::store::InitOptions {
            trust_domain: "example.org".into(),
            anchor_lifetime: crate::identity::ca::DEFAULT_ANCHOR_LIFETIME,
            issuer_lifetime: crate::identity::ca::DEFAULT_ISSUER_LIFETIME,
            force: false,
        })
        .unwrap();
    let resolved = identity::resolve(&Source::Dir(dir.path().to_path_buf()), None).unwrap();
    assert_eq!(resolved.material.trust_domain, "example.org");
    assert!(resolved.saved_anchor_key.is_none());
    let opts = InstallOptions {
        namespace: "mesh".into(),
        ..Default::default()
    };
    let objects = manifests::render(&opts, &resolved.material)
        .unwrap()
        .objects()
        .unwrap();
    insta::assert_yaml_snapshot!("install_identity_dir", manifests::to_json_list(&objects), {
        ".items[].data" => "[pem redacted]",
        ".items[].webhooks[].clientConfig.caBundle" => "[pem redacted]",
    });
}

/// Each object survives serialisation to JSON and YAML and back into its k8s-openapi type.
#[test]
fn every_object_round_trips_through_its_type() {
    fn round<K: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(k: &K) {
        let json: K = serde_json::from_value(serde_json::to_value(k).unwrap()).unwrap();
        assert_eq!(&json, k);
        let yaml: K = serde_yaml::from_str(&serde_yaml::to_string(k).unwrap()).unwrap();
        assert_eq!(&yaml, k);
    }
    let m = render(&InstallOptions {
        ha: true,
        crds: true,
        ..Default::default()
    });
    m.crds.iter().for_each(round);
    round(&m.namespace);
    round(&m.service_account);
    round(&m.cluster_role);
    round(&m.cluster_role_binding);
    round(&m.role);
    round(&m.role_binding);
    round(&m.issuer_secret);
    round(&m.trust_bundle);
    round(&m.service);
    round(&m.deployment);
    round(m.disruption_budget.as_ref().unwrap());
    round(&m.webhook);
    // The printed YAML is the same objects, in order.
    let objects = m.objects().unwrap();
    // Documents start at a line that is exactly `---` (block scalars indent theirs).
    let text = manifests::to_yaml(&objects);
    let mut texts: Vec<String> = Vec::new();
    for line in text.lines() {
        if line == "---" {
            texts.push(String::new());
        } else {
            let doc = texts.last_mut().unwrap();
            doc.push_str(line);
            doc.push('\n');
        }
    }
    let docs: Vec<serde_json::Value> = texts
        .iter()
        .map(|d| serde_yaml::from_str(d).unwrap())
        .collect();
    assert_eq!(docs.len(), objects.len());
    for (doc, o) in docs.iter().zip(&objects) {
        assert!(
            doc == &o.value,
            "the YAML of {} differs from its JSON",
            o.describe()
        );
    }
}

#[test]
fn order_is_crds_namespace_then_the_rest_webhook_last() {
    let objects = render(&InstallOptions {
        ha: true,
        crds: true,
        ..Default::default()
    })
    .objects()
    .unwrap();
    let kinds: Vec<&str> = objects.iter().map(|o| o.resource.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Secret",
            "ConfigMap",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
            "MutatingWebhookConfiguration",
        ]
    );
    let without = render(&InstallOptions::default()).objects().unwrap();
    assert_eq!(without[0].resource.kind, "Namespace");
    assert!(
        !without
            .iter()
            .any(|o| o.resource.kind == "CustomResourceDefinition"
                || o.resource.kind == "PodDisruptionBudget")
    );
}

#[test]
fn every_object_is_labelled_and_annotated_with_the_version() {
    let objects = render(&InstallOptions {
        ha: true,
        crds: true,
        ..Default::default()
    })
    .objects()
    .unwrap();
    for o in &objects {
        let meta = &o.value["metadata"];
        assert_eq!(meta["labels"][PART_OF_LABEL], PART_OF, "{}", o.describe());
        assert_eq!(meta["labels"]["app.kubernetes.io/version"], VERSION);
        assert!(meta["labels"]["app.kubernetes.io/name"].is_string());
        assert!(meta["labels"]["app.kubernetes.io/component"].is_string());
        assert_eq!(meta["annotations"][VERSION_ANNOTATION], VERSION);
    }
}

type Rule = (Vec<String>, Vec<String>, Vec<String>, Option<Vec<String>>);

/// A rule as (groups, resources, verbs, names).
fn rule_parts(r: k8s_openapi::api::rbac::v1::PolicyRule) -> Rule {
    (
        r.api_groups.unwrap(),
        r.resources.unwrap(),
        r.verbs,
        r.resource_names,
    )
}

/// The controller's permissions, exactly: anything added here must be argued for in
/// docs/kubernetes.md.
#[test]
fn cluster_role_rules_are_exactly_these() {
    let rules: Vec<Rule> = manifests::controller_rules()
        .into_iter()
        .map(rule_parts)
        .collect();
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let watch = s(&["list", "watch"]);
    assert_eq!(
        rules,
        vec![
            (s(&[""]), s(&["services"]), watch.clone(), None),
            (
                s(&["discovery.k8s.io"]),
                s(&["endpointslices"]),
                watch.clone(),
                None
            ),
            (s(&[""]), s(&["pods"]), watch.clone(), None),
            (s(&[""]), s(&["namespaces"]), watch.clone(), None),
            (
                s(&["gateway.networking.k8s.io"]),
                s(&["httproutes"]),
                watch.clone(),
                None
            ),
            (
                s(&[""]),
                s(&["configmaps"]),
                watch,
                Some(s(&[POLICY_CONFIGMAP, FAULTS_CONFIGMAP]))
            ),
            (
                s(&["authentication.k8s.io"]),
                s(&["tokenreviews"]),
                s(&["create"]),
                None
            ),
            (
                s(&["events.k8s.io"]),
                s(&["events"]),
                s(&["create", "patch"]),
                None
            ),
            (
                s(&[""]),
                s(&["configmaps"]),
                s(&["get", "create", "patch"]),
                Some(s(&[TRUST_BUNDLE_CONFIGMAP]))
            ),
        ]
    );
    // Secrets only in the controller's own namespace (a Role), each by name.
    let in_namespace: Vec<Rule> = manifests::controller_namespace_rules()
        .into_iter()
        .map(rule_parts)
        .collect();
    assert_eq!(
        in_namespace,
        vec![
            (
                s(&[""]),
                s(&["secrets"]),
                s(&["get", "create", "patch"]),
                Some(s(&[TAP_TOKEN_SECRET]))
            ),
            (
                s(&[""]),
                s(&["secrets"]),
                s(&["list", "watch"]),
                Some(s(&[ISSUER_SECRET]))
            ),
        ]
    );
    let m = render(&InstallOptions::default());
    assert_eq!(m.cluster_role.aggregation_rule, None);
    let subject = &m.cluster_role_binding.subjects.as_ref().unwrap()[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        ("ServiceAccount", CONTROLLER_NAME, Some(DEFAULT_NAMESPACE))
    );
    assert_eq!(
        m.role.metadata.namespace.as_deref(),
        Some(DEFAULT_NAMESPACE)
    );
    assert_eq!(m.role_binding.role_ref.kind, "Role");
    assert_eq!(m.role_binding.subjects, m.cluster_role_binding.subjects);
}

#[test]
fn controller_meets_pod_security_restricted() {
    let m = render(&InstallOptions::default());
    let spec = m.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(manifests::REPLICAS));
    let pod = spec.template.spec.as_ref().unwrap();
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop,
        Some(vec!["ALL".to_string()])
    );
    let res = c.resources.as_ref().unwrap();
    assert!(res.requests.as_ref().unwrap().contains_key("memory"));
    assert!(res.limits.as_ref().unwrap().contains_key("memory"));
    let args = c.args.as_ref().unwrap();
    assert_eq!(&args[..2], ["controller", "--kube"]);
    for p in [&c.readiness_probe, &c.liveness_probe] {
        let get = p.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(
            get.port,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                ADMIN_PORT_NAME.into()
            )
        );
    }
    let ports: BTreeMap<_, _> = c
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap(), p.container_port))
        .collect();
    assert_eq!(ports[CONTROLLER_GRPC_PORT_NAME], CONTROLLER_GRPC_PORT);
    assert_eq!(ports[WEBHOOK_PORT_NAME], WEBHOOK_PORT);
    assert_eq!(ports[ADMIN_PORT_NAME], ADMIN_PORT);
    assert_eq!(
        m.namespace.metadata.labels.as_ref().unwrap()["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
}

#[test]
fn ha_has_three_replicas_a_budget_and_anti_affinity() {
    let m = render(&InstallOptions {
        ha: true,
        ..Default::default()
    });
    let spec = m.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(manifests::HA_REPLICAS));
    let pod = spec.template.spec.as_ref().unwrap();
    let anti = pod
        .affinity
        .as_ref()
        .unwrap()
        .pod_anti_affinity
        .as_ref()
        .unwrap();
    let terms = anti
        .preferred_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap();
    assert_eq!(
        terms[0].pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );
    let pdb = m.disruption_budget.unwrap();
    assert_eq!(
        pdb.spec.unwrap().selector.unwrap().match_labels.unwrap(),
        manifests::controller_selector()
    );
    assert!(
        render(&InstallOptions::default())
            .disruption_budget
            .is_none()
    );
}

#[test]
fn webhook_selects_opted_in_pods_never_system_namespaces() {
    let m = render(&InstallOptions {
        namespace: "mesh".into(),
        ..Default::default()
    });
    let hooks = m.webhook.webhooks.unwrap();
    assert_eq!(hooks.len(), 2);
    for h in &hooks {
        let ns = h.namespace_selector.as_ref().unwrap();
        let excluded = ns
            .match_expressions
            .iter()
            .flatten()
            .find(|e| e.key == "kubernetes.io/metadata.name")
            .unwrap();
        assert_eq!(excluded.operator, "NotIn");
        assert_eq!(
            excluded.values.as_deref().unwrap(),
            ["kube-system".to_string(), "mesh".to_string()]
        );
        let svc = h.client_config.service.as_ref().unwrap();
        assert_eq!(
            (svc.namespace.as_str(), svc.name.as_str()),
            ("mesh", CONTROLLER_NAME)
        );
        assert_eq!(svc.port, Some(WEBHOOK_SERVICE_PORT));
        assert_eq!(
            h.client_config.ca_bundle.as_ref().unwrap().0,
            fake_material().bundle_pem.as_bytes()
        );
        assert_eq!(h.failure_policy.as_deref(), Some("Ignore"));
        assert_eq!(h.side_effects, "None");
    }
    // Namespace opt-in: the namespace label; pod opt-in: the pod label, elsewhere.
    let enabled = BTreeMap::from([(INJECT_LABEL.to_string(), INJECT_ENABLED.to_string())]);
    assert_eq!(
        hooks[0]
            .namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref(),
        Some(&enabled)
    );
    assert_eq!(
        hooks[1]
            .object_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref(),
        Some(&enabled)
    );
    // The Service exposes the webhook port and gRPC port by the container's port names.
    let ports = m.service.spec.unwrap().ports.unwrap();
    assert_eq!(
        ports
            .iter()
            .map(|p| (p.name.clone().unwrap(), p.port))
            .collect::<Vec<_>>(),
        [
            (CONTROLLER_GRPC_PORT_NAME.to_string(), CONTROLLER_GRPC_PORT),
            (WEBHOOK_PORT_NAME.to_string(), WEBHOOK_SERVICE_PORT)
        ]
    );
}

#[test]
fn issuer_secret_and_bundle_carry_the_material_and_never_an_anchor_key() {
    let m = render(&InstallOptions::default());
    let data = m.issuer_secret.data.unwrap();
    assert_eq!(m.issuer_secret.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(
        data["tls.crt"].0,
        fake_material().issuer_cert_pem.as_bytes()
    );
    assert_eq!(data["tls.key"].0, fake_material().issuer_key_pem.as_bytes());
    assert_eq!(data["ca.crt"].0, fake_material().bundle_pem.as_bytes());
    assert_eq!(data.len(), 3);
    assert_eq!(
        m.trust_bundle.data.unwrap()[TRUST_BUNDLE_KEY],
        fake_material().bundle_pem
    );
}

#[test]
fn httproute_crd_comes_from_the_gateway_api_types() {
    let crd = manifests::httproute_crd();
    assert_eq!(crd.metadata.name.as_deref(), Some(checks::HTTPROUTE_CRD));
    assert_eq!(crd.spec.group, "gateway.networking.k8s.io");
    assert!(
        crd.spec
            .versions
            .iter()
            .any(|v| v.name == "v1" && v.served && v.storage)
    );
    assert_eq!(crd.metadata.labels.unwrap()[PART_OF_LABEL], PART_OF);
    // Without it the API server refuses a CRD in a *.k8s.io group.
    assert_eq!(
        crd.metadata.annotations.unwrap()["api-approved.kubernetes.io"],
        manifests::GATEWAY_API_APPROVAL
    );
}

// ---- identity material ----

#[test]
fn generated_identity_is_saved_with_a_private_anchor_key_and_not_twice() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("ca");
    let source = Source::Generate {
        save_to: Some(save.clone()),
    };
    let resolved = identity::resolve(&source, Some("example.org")).unwrap();
    let key = resolved.saved_anchor_key.unwrap();
    assert_eq!(crate::fsutil::mode_of(&key).unwrap() & 0o777, 0o600);
    assert_eq!(resolved.material.trust_domain, "example.org");
    assert!(
        !resolved
            .material
            .issuer_key_pem
            .contains(&std::fs::read_to_string(&key).unwrap())
    );
    let again = identity::resolve(&source, None).unwrap_err();
    assert!(matches!(again, identity::MaterialError::Input(_)));
    assert!(again.to_string().contains("--identity-dir"), "{again}");
    // The saved CA is what --identity-dir reads back: the same issuer.
    let reread = identity::resolve(&Source::Dir(save), None).unwrap();
    assert_eq!(reread.material, resolved.material);
}

#[test]
fn discarded_anchor_key_is_written_nowhere() {
    let resolved = identity::resolve(&Source::Generate { save_to: None }, None).unwrap();
    assert!(resolved.saved_anchor_key.is_none());
    assert_eq!(
        resolved.material.trust_domain,
        crate::identity::spiffe::DEFAULT_TRUST_DOMAIN
    );
}

#[test]
fn identity_dir_with_another_trust_domain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    identity::resolve(
        &Source::Generate {
            save_to: Some(dir.path().into()),
        },
        Some("a.example"),
    )
    .unwrap();
    let err = identity::resolve(&Source::Dir(dir.path().into()), Some("b.example")).unwrap_err();
    assert!(
        err.to_string().contains("`a.example`, not `b.example`"),
        "{err}"
    );
    let err = identity::resolve(&Source::Dir(dir.path().join("nothing")), None).unwrap_err();
    assert!(err.to_string().contains("no mesh CA there"), "{err}");
    // The identity/ directory itself is accepted too.
    identity::resolve(&Source::Dir(dir.path().join("identity")), None).unwrap();
}

// ---- apply, wait, uninstall, check against a mock API server ----

fn objects() -> Vec<manifests::Object> {
    render(&InstallOptions::default()).objects().unwrap()
}

#[tokio::test]
async fn apply_sends_server_side_apply_patches_in_order() {
    let (client, log) = mock::client(mock::echo);
    let objs = objects();
    let mut done = Vec::new();
    apply::apply_all(
        &client,
        &mock::target(),
        &objs,
        ApplyOptions::default(),
        |o| done.push(o.name.clone()),
    )
    .await
    .unwrap();
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), objs.len());
    let paths: Vec<&str> = seen
        .iter()
        .map(|s| s.uri.split('?').next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/namespaces/meshctl-system",
            "/api/v1/namespaces/meshctl-system/serviceaccounts/meshctl-controller",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/meshctl-controller",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/meshctl-controller",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/meshctl-system/roles/meshctl-controller",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/meshctl-system/rolebindings/meshctl-controller",
            "/api/v1/namespaces/meshctl-system/secrets/meshctl-issuer",
            "/api/v1/namespaces/meshctl-system/configmaps/meshctl-trust-bundle",
            "/api/v1/namespaces/meshctl-system/services/meshctl-controller",
            "/apis/apps/v1/namespaces/meshctl-system/deployments/meshctl-controller",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/meshctl-sidecar-injector",
        ]
    );
    for (s, o) in seen.iter().zip(&objs) {
        assert_eq!(s.method, "PATCH");
        assert_eq!(s.content_type, "application/apply-patch+yaml");
        assert!(s.uri.contains("fieldManager=meshctl"), "{}", s.uri);
        assert!(!s.uri.contains("force"), "{}", s.uri);
        assert!(!s.uri.contains("dryRun"), "{}", s.uri);
        let body: serde_json::Value = serde_json::from_str(&s.body).unwrap();
        assert_eq!(body, o.value);
    }
    assert_eq!(done.len(), objs.len());
}

#[tokio::test]
async fn force_conflicts_and_server_dry_run_reach_the_server() {
    let (client, log) = mock::client(mock::echo);
    let opts = ApplyOptions {
        force_conflicts: true,
        dry_run: true,
    };
    apply::apply_all(&client, &mock::target(), &objects()[..1], opts, |_| {})
        .await
        .unwrap();
    let uri = log.lock().unwrap()[0].uri.clone();
    assert!(uri.contains("force=true"), "{uri}");
    assert!(uri.contains("dryRun=All"), "{uri}");
}

/// A server dry run "creates" the namespace without storing it: the objects in it cannot be
/// dry-run (404) and are reported as not validated; a 404 elsewhere is still an error.
#[tokio::test]
async fn server_dry_run_reports_objects_in_a_namespace_that_does_not_exist_yet() {
    let (client, _log) = mock::client(|s: &Seen| {
        if s.uri.contains("/namespaces/meshctl-system/") {
            mock::status(404, "NotFound", "namespaces \"meshctl-system\" not found")
        } else {
            mock::echo(s)
        }
    });
    let opts = ApplyOptions {
        force_conflicts: false,
        dry_run: true,
    };
    let report = apply::apply_all(&client, &mock::target(), &objects(), opts, |_| {})
        .await
        .unwrap();
    assert_eq!(report.applied, 4);
    assert_eq!(
        report.not_validated,
        [
            "ServiceAccount meshctl-system/meshctl-controller",
            "Role meshctl-system/meshctl-controller",
            "RoleBinding meshctl-system/meshctl-controller",
            "Secret meshctl-system/meshctl-issuer",
            "ConfigMap meshctl-system/meshctl-trust-bundle",
            "Service meshctl-system/meshctl-controller",
            "Deployment meshctl-system/meshctl-controller",
        ]
    );
    let (client, _log) = mock::client(|s: &Seen| {
        if s.uri.contains("/serviceaccounts/") {
            mock::status(404, "NotFound", "namespaces \"meshctl-system\" not found")
        } else {
            mock::echo(s)
        }
    });
    let err = apply::apply_all(
        &client,
        &mock::target(),
        &objects(),
        ApplyOptions::default(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("not found (NotFound, HTTP 404)"),
        "{err:#}"
    );
}

#[tokio::test]
async fn forbidden_names_the_missing_permission_and_stops() {
    let (client, log) = mock::client(|s: &Seen| {
        if s.uri.contains("/serviceaccounts/") {
            mock::status(
                403,
                "Forbidden",
                "serviceaccounts \"meshctl-controller\" is forbidden: User \"dev\" cannot patch resource \"serviceaccounts\" in API group \"\" in the namespace \"meshctl-system\"",
            )
        } else {
            mock::echo(s)
        }
    });
    let err = apply::apply_all(
        &client,
        &mock::target(),
        &objects(),
        ApplyOptions::default(),
        |_| {},
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.starts_with("applying ServiceAccount meshctl-system/meshctl-controller: permission denied: the user of context test-ctx may not patch serviceaccounts in namespace meshctl-system"),
        "{text}"
    );
    assert!(text.contains("https://203.0.113.7:6443/"), "{text}");
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "nothing after the refused object"
    );
}

#[tokio::test]
async fn conflict_names_the_other_field_manager_and_the_flag() {
    let (client, _log) = mock::client(|s: &Seen| {
        if s.uri.contains("/deployments/") {
            mock::status(
                409,
                "Conflict",
                "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
            )
        } else {
            mock::echo(s)
        }
    });
    let err = apply::apply_all(
        &client,
        &mock::target(),
        &objects(),
        ApplyOptions::default(),
        |_| {},
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("fields are owned by field manager kubectl-edit"),
        "{text}"
    );
    assert!(text.contains("rerun with --force-conflicts"), "{text}");
    assert!(
        text.starts_with("applying Deployment meshctl-system/meshctl-controller"),
        "{text}"
    );
    assert_eq!(
        apply::conflicting_managers(
            "conflict with \"a\" using v1: .x\nconflict with \"b\" using v1: .y, conflict with \"a\""
        ),
        ["a", "b"]
    );
}

#[tokio::test]
async fn unreachable_api_names_the_server_and_context() {
    let (client, _log) = mock::client(|_: &Seen| None);
    let err = apply::apply_all(
        &client,
        &mock::target(),
        &objects(),
        ApplyOptions::default(),
        |_| {},
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains(
            "cannot reach the Kubernetes API server at https://203.0.113.7:6443/ (context test-ctx)"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn other_api_errors_keep_the_servers_reason() {
    let (client, _log) = mock::client(|_: &Seen| {
        mock::status(
            422,
            "Invalid",
            "Namespace \"x\" is invalid: metadata.name: Invalid value",
        )
    });
    let err = apply::apply_all(
        &client,
        &mock::target(),
        &objects(),
        ApplyOptions::default(),
        |_| {},
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("is invalid") && text.contains("Invalid, HTTP 422"),
        "{text}"
    );
}

fn deployment(available: bool) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": CONTROLLER_NAME, "namespace": DEFAULT_NAMESPACE, "generation": 2},
        "spec": {"replicas": 1, "selector": {"matchLabels": manifests::controller_selector()},
                 "template": {"spec": {"containers": []}}},
        "status": {
            "observedGeneration": 2,
            "updatedReplicas": 1,
            "availableReplicas": if available { 1 } else { 0 },
            "conditions": [{"type": "Available", "status": if available { "True" } else { "False" },
                            "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."}],
        },
    })
}

#[tokio::test(start_paused = true)]
async fn wait_polls_until_the_deployment_is_available() {
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = polls.clone();
    let (client, log) = mock::client(move |_: &Seen| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        mock::ok(deployment(n >= 2))
    });
    apply::wait_available(
        &client,
        &mock::target(),
        DEFAULT_NAMESPACE,
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.method == "GET"
        && s.uri == "/apis/apps/v1/namespaces/meshctl-system/deployments/meshctl-controller"));
}

#[tokio::test(start_paused = true)]
async fn wait_times_out_naming_the_pods_waiting_reason() {
    let (client, _log) = mock::client(|s: &Seen| {
        if s.uri.starts_with("/api/v1/namespaces/meshctl-system/pods") {
            assert!(s.uri.contains("labelSelector="), "{}", s.uri);
            mock::ok(serde_json::json!({
                "kind": "PodList", "apiVersion": "v1", "metadata": {},
                "items": [{"metadata": {"name": "meshctl-controller-abc"},
                           "status": {"phase": "Pending", "containerStatuses": [{
                               "name": "controller", "ready": false, "restartCount": 0,
                               "image": "x", "imageID": "",
                               "state": {"waiting": {"reason": "ImagePullBackOff",
                                         "message": "Back-off pulling image \"x\""}}}]}}],
            }))
        } else {
            mock::ok(deployment(false))
        }
    });
    let err = apply::wait_available(
        &client,
        &mock::target(),
        DEFAULT_NAMESPACE,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(err.downcast_ref::<NotReady>().is_some());
    let text = err.to_string();
    assert!(text.contains("is not Available after 30s"), "{text}");
    assert!(
        text.contains("pod meshctl-controller-abc: container controller is ImagePullBackOff: Back-off pulling image"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn wait_without_pods_says_so_from_the_deployment() {
    let (client, _log) = mock::client(|s: &Seen| {
        if s.uri.contains("/pods") {
            mock::empty_list("Pod")
        } else {
            mock::ok(deployment(false))
        }
    });
    let err = apply::wait_available(
        &client,
        &mock::target(),
        DEFAULT_NAMESPACE,
        Duration::from_secs(10),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no controller pods; Deployment condition Available=False"),
        "{err}"
    );
}

fn labelled_list(kind: &str, api_version: &str, items: &[(&str, Option<&str>)]) -> mock::Answer {
    mock::ok(serde_json::json!({
        "kind": format!("{kind}List"), "apiVersion": api_version, "metadata": {},
        "items": items.iter().map(|(name, ns)| serde_json::json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": ns},
        })).collect::<Vec<_>>(),
    }))
}

fn cluster_with_install(s: &Seen) -> mock::Answer {
    if s.method != "GET" {
        return mock::ok(
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        );
    }
    if !s.uri.contains('?') {
        // A get of one object after its delete: gone.
        return mock::status(404, "NotFound", "not found");
    }
    let path = s.uri.split('?').next().unwrap();
    match path {
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations" => labelled_list(
            "MutatingWebhookConfiguration",
            "admissionregistration.k8s.io/v1",
            &[(WEBHOOK_CONFIGURATION, None)],
        ),
        "/apis/apps/v1/deployments" => labelled_list(
            "Deployment",
            "apps/v1",
            &[(CONTROLLER_NAME, Some("meshctl-system"))],
        ),
        "/api/v1/namespaces" => labelled_list("Namespace", "v1", &[("meshctl-system", None)]),
        "/api/v1/pods" => {
            assert!(
                s.uri.contains("labelSelector=meshctl.io%2Fsidecar"),
                "{}",
                s.uri
            );
            mock::empty_list("Pod")
        }
        _ => mock::empty_list("Any"),
    }
}

#[tokio::test]
async fn uninstall_finds_by_label_only_in_deletion_order() {
    let (client, log) = mock::client(cluster_with_install);
    let found = uninstall::find(&client, &mock::target(), false)
        .await
        .unwrap();
    let names: Vec<String> = found.iter().map(|f| f.describe()).collect();
    assert_eq!(
        names,
        [
            "MutatingWebhookConfiguration meshctl-sidecar-injector",
            "Deployment meshctl-system/meshctl-controller",
            "Namespace meshctl-system",
        ]
    );
    let seen = log.lock().unwrap().clone();
    assert!(seen.iter().all(|s| {
        s.uri
            .contains("labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl")
    }));
    assert!(
        !seen
            .iter()
            .any(|s| s.uri.contains("customresourcedefinitions"))
    );
    let (client, log) = mock::client(cluster_with_install);
    uninstall::find(&client, &mock::target(), true)
        .await
        .unwrap();
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|s| s.uri.contains("customresourcedefinitions"))
    );
}

#[tokio::test]
async fn uninstall_deletes_in_order_and_waits_until_gone() {
    let (client, log) = mock::client(cluster_with_install);
    let found = uninstall::find(&client, &mock::target(), false)
        .await
        .unwrap();
    assert!(
        uninstall::meshed_pods(&client, &mock::target())
            .await
            .unwrap()
            .is_empty()
    );
    log.lock().unwrap().clear();
    let mut done = Vec::new();
    uninstall::delete_all(
        &client,
        &mock::target(),
        &found,
        Duration::from_secs(5),
        Duration::from_millis(1),
        |f| done.push(f.name.clone()),
    )
    .await
    .unwrap();
    let seen: Vec<(String, String)> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.method.clone(),
                s.uri.split('?').next().unwrap().to_string(),
            )
        })
        .collect();
    let deletes: Vec<&str> = seen
        .iter()
        .filter(|(m, _)| m == "DELETE")
        .map(|(_, u)| u.as_str())
        .collect();
    assert_eq!(
        deletes,
        [
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/meshctl-sidecar-injector",
            "/apis/apps/v1/namespaces/meshctl-system/deployments/meshctl-controller",
            "/api/v1/namespaces/meshctl-system",
        ]
    );
    assert_eq!(seen.iter().filter(|(m, _)| m == "GET").count(), 3);
    assert_eq!(done.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn uninstall_times_out_naming_the_finalizers() {
    let (client, _log) = mock::client(|s: &Seen| {
        if s.method == "DELETE" {
            mock::ok(serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}))
        } else {
            mock::ok(serde_json::json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "meshctl-system", "finalizers": ["example.com/x"]},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Terminating"},
            }))
        }
    });
    let found = vec![uninstall::Found {
        kind: "Namespace".into(),
        resource: kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
        namespace: None,
        name: "meshctl-system".into(),
    }];
    let err = uninstall::delete_all(
        &client,
        &mock::target(),
        &found,
        Duration::from_secs(20),
        Duration::from_secs(1),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.downcast_ref::<NotReady>().is_some());
    assert!(
        err.to_string()
            .contains("Namespace meshctl-system (finalizers: example.com/x, kubernetes)"),
        "{err}"
    );
}

#[tokio::test]
async fn uninstall_refuses_naming_meshed_pods() {
    let (client, _log) = mock::client(|s: &Seen| {
        if s.uri.starts_with("/api/v1/pods") {
            labelled_list(
                "Pod",
                "v1",
                &[("web-1", Some("shop")), ("api-2", Some("shop"))],
            )
        } else {
            mock::empty_list("Any")
        }
    });
    let pods = uninstall::meshed_pods(&client, &mock::target())
        .await
        .unwrap();
    assert_eq!(pods, ["shop/web-1", "shop/api-2"]);
    let text = uninstall::refuse_meshed(&pods).to_string();
    assert!(
        text.contains("2 meshed pod(s) still run with a sidecar: shop/web-1, shop/api-2"),
        "{text}"
    );
    assert!(text.contains("--force"), "{text}");
    let many: Vec<String> = (0..12).map(|i| format!("ns/p{i}")).collect();
    assert!(
        uninstall::refuse_meshed(&many)
            .to_string()
            .contains("and 2 more")
    );
}

#[tokio::test]
async fn uninstall_delete_forbidden_names_the_permission() {
    let (client, _log) = mock::client(|_: &Seen| mock::status(403, "Forbidden", "nope"));
    let found = vec![uninstall::Found {
        kind: "ClusterRole".into(),
        resource: kube::core::ApiResource::erase::<k8s_openapi::api::rbac::v1::ClusterRole>(&()),
        namespace: None,
        name: CONTROLLER_NAME.into(),
    }];
    let err = uninstall::delete_all(
        &client,
        &mock::target(),
        &found,
        Duration::from_secs(5),
        Duration::from_secs(1),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("may not delete clusterroles.rbac.authorization.k8s.io cluster-wide"),
        "{err}"
    );
}

// ---- check --kube ----

use crate::identity::checks::Severity;

#[test]
fn version_support_starts_at_1_33() {
    for (major, minor, ok) in [
        ("1", "33", true),
        ("1", "36+", true),
        ("1", "32", false),
        ("2", "0", false),
        ("1", "x", false),
    ] {
        let o = checks::version_check(major, minor);
        assert_eq!(o.status == Severity::Ok, ok, "{major}.{minor}");
    }
}

#[test]
fn expiry_uses_the_local_checks_thresholds() {
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86_400);
    let status = |left: Duration| checks::expiry_outcome("x", Some(now + left), now, "h").status;
    assert_eq!(status(day * 90), Severity::Ok);
    assert_eq!(status(day * 30), Severity::Warning);
    assert_eq!(status(day * 3), Severity::Error);
    assert_eq!(
        checks::expiry_outcome("x", None, now, "h").status,
        Severity::Error
    );
}

fn version_answer() -> mock::Answer {
    mock::ok(serde_json::json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.2", "gitCommit": "", "gitTreeState": "",
        "buildDate": "", "goVersion": "", "compiler": "", "platform": "linux/amd64",
    }))
}

#[tokio::test]
async fn check_pre_names_missing_permissions_and_a_taken_namespace() {
    let (client, _log) = mock::client(|s: &Seen| match s.uri.split('?').next().unwrap() {
        "/version" => version_answer(),
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" => {
            let mut review: serde_json::Value = serde_json::from_str(&s.body).unwrap();
            let resource = review["spec"]["resourceAttributes"]["resource"]
                .as_str()
                .unwrap()
                .to_string();
            review["status"] =
                serde_json::json!({"allowed": resource != "mutatingwebhookconfigurations"});
            mock::ok(review)
        }
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io" => {
            mock::status(404, "NotFound", "not found")
        }
        "/api/v1/namespaces/meshctl-system" => mock::ok(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "meshctl-system"},
        })),
        other => panic!("unexpected request {other}"),
    });
    let outcomes = checks::run(
        &client,
        &checks::CheckOptions {
            namespace: "meshctl-system".into(),
            pre: true,
        },
    )
    .await;
    let by: BTreeMap<&str, (Severity, String)> = outcomes
        .iter()
        .map(|o| (o.description, (o.status, o.detail.clone())))
        .collect();
    assert_eq!(
        by["Kubernetes API is reachable"],
        (Severity::Ok, "v1.33.2".into())
    );
    assert_eq!(
        by["Kubernetes version is supported (1.33 or newer)"].0,
        Severity::Ok
    );
    assert_eq!(
        by["you may create everything install creates"],
        (
            Severity::Error,
            "missing: patch mutatingwebhookconfigurations.admissionregistration.k8s.io".into()
        )
    );
    assert_eq!(
        by["Gateway API HTTPRoute CRD is installed and established"],
        (Severity::Warning, "absent".into())
    );
    assert_eq!(
        by["the mesh namespace is free"],
        (
            Severity::Error,
            "meshctl-system exists and is not meshctl's".into()
        )
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == Severity::Ok || !o.hint.is_empty())
    );
}

#[tokio::test]
async fn check_unreachable_is_one_failed_check() {
    let (client, _log) = mock::client(|_: &Seen| None);
    let outcomes = checks::run(
        &client,
        &checks::CheckOptions {
            namespace: "m".into(),
            pre: false,
        },
    )
    .await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].status, Severity::Error);
}

/// After install: the cluster holds exactly what install rendered (a real CA), and the
/// controller is Available; then a broken caBundle and a missing Deployment are caught.
#[tokio::test]
async fn check_after_install_verifies_webhook_and_issuer() {
    let material = identity::resolve(&Source::Generate { save_to: None }, None)
        .unwrap()
        .material;
    let m = manifests::render(&InstallOptions::default(), &material).unwrap();
    let mut crd = manifests::httproute_crd();
    crd.status = Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionStatus {
        conditions: Some(vec![k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionCondition {
            type_: "Established".into(),
            status: "True".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let serve_with_policy = move |broken_ca: bool, deployment_present: bool, policy: &str| {
        let m = m.clone();
        let crd = crd.clone();
        let policy = policy.to_string();
        move |s: &Seen| -> mock::Answer {
            let v = |x: serde_json::Value| mock::ok(x);
            match s.uri.split('?').next().unwrap() {
                "/api/v1/configmaps" => {
                    assert!(
                        s.uri
                            .contains("fieldSelector=metadata.name%3Dmeshctl-policy"),
                        "{}",
                        s.uri
                    );
                    v(
                        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {},
                        "items": [{"metadata": {"name": "meshctl-policy", "namespace": "shop"},
                                   "data": {"api": policy}}]}),
                    )
                }
                "/api/v1/services" => v(
                    serde_json::json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {}, "items": []}),
                ),
                "/version" => version_answer(),
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" => {
                    let mut review: serde_json::Value = serde_json::from_str(&s.body).unwrap();
                    review["status"] = serde_json::json!({"allowed": true});
                    mock::ok(review)
                }
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io" => {
                    v(serde_json::to_value(&crd).unwrap())
                }
                "/apis/apps/v1/namespaces/meshctl-system/deployments/meshctl-controller" => {
                    if deployment_present {
                        v(deployment(true))
                    } else {
                        mock::status(404, "NotFound", "nf")
                    }
                }
                "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/meshctl-sidecar-injector" =>
                {
                    let mut w = serde_json::to_value(&m.webhook).unwrap();
                    if broken_ca {
                        w["webhooks"][1]["clientConfig"]["caBundle"] = serde_json::json!("Zm9v");
                    }
                    if !deployment_present && !broken_ca {
                        w["webhooks"] = serde_json::json!([]);
                    }
                    v(w)
                }
                "/api/v1/namespaces/meshctl-system/services/meshctl-controller" => {
                    v(serde_json::to_value(&m.service).unwrap())
                }
                "/api/v1/namespaces/meshctl-system/configmaps/meshctl-trust-bundle" => {
                    v(serde_json::to_value(&m.trust_bundle).unwrap())
                }
                "/api/v1/namespaces/meshctl-system/secrets/meshctl-issuer" => {
                    v(serde_json::to_value(&m.issuer_secret).unwrap())
                }
                other => panic!("unexpected request {other}"),
            }
        }
    };
    let serve = {
        let f = serve_with_policy.clone();
        move |broken_ca: bool, deployment_present: bool| {
            f(broken_ca, deployment_present, "timeout: 2s\n")
        }
    };
    let opts = checks::CheckOptions {
        namespace: DEFAULT_NAMESPACE.into(),
        pre: false,
    };
    let (client, _log) = mock::client(serve(false, true));
    let outcomes = checks::run(&client, &opts).await;
    for o in &outcomes {
        assert_eq!(o.status, Severity::Ok, "{o:?}");
    }
    assert_eq!(outcomes.len(), 10);
    assert!(outcomes.iter().any(|o| o.detail == "installed by meshctl"));
    assert!(outcomes.iter().any(|o| o.detail == "1 service policy"));
    // A policy the controller would refuse is an error naming the ConfigMap key and line.
    let (client, _log) = mock::client(serve_with_policy(false, true, "retries: {attempts: 99}\n"));
    let outcomes = checks::run(&client, &opts).await;
    let policy = outcomes
        .iter()
        .find(|o| o.description == "traffic policies are valid")
        .unwrap();
    assert_eq!(policy.status, Severity::Error, "{policy:?}");
    assert!(
        policy
            .detail
            .starts_with("configmap shop/meshctl-policy key api:1:"),
        "{policy:?}"
    );
    let (client, _log) = mock::client(serve(true, false));
    let outcomes = checks::run(&client, &opts).await;
    let failed: Vec<(&str, &str)> = outcomes
        .iter()
        .filter(|o| o.status == Severity::Error)
        .map(|o| (o.description, o.detail.as_str()))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0]
            .1
            .contains("no Deployment meshctl-system/meshctl-controller"),
        "{failed:?}"
    );
    assert!(
        failed[1]
            .1
            .contains("pod.inject.meshctl.io's caBundle is not the trust bundle"),
        "{failed:?}"
    );
    // A configuration without webhooks injects nothing: an error, not a vacuous pass.
    let (client, _log) = mock::client(serve(false, false));
    let outcomes = checks::run(&client, &opts).await;
    assert!(
        outcomes
            .iter()
            .any(|o| o.status == Severity::Error && o.detail.ends_with("has no webhooks")),
        "{outcomes:?}"
    );
}

// ---- which cluster ----

fn kubeconfig_file(dir: &std::path::Path, current: Option<&str>) -> std::path::PathBuf {
    let current = current
        .map(|c| format!("current-context: {c}\n"))
        .unwrap_or_default();
    let text = format!(
        "apiVersion: v1\nkind: Config\n{current}clusters:\n- name: a\n  cluster:\n    server: https://198.51.100.1:6443\n- name: b\n  cluster:\n    server: https://198.51.100.2:6443\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: one\n  context:\n    cluster: a\n    user: u\n- name: two\n  context:\n    cluster: b\n    user: u\n"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

async fn connect_err(args: client::KubeArgs) -> anyhow::Error {
    match client::connect(&args).await {
        Ok((_, target)) => panic!("connected to {target}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn the_context_chooses_the_server_and_names_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let path = kubeconfig_file(dir.path(), Some("one"));
    let args = |context: Option<&str>| client::KubeArgs {
        kubeconfig: Some(path.clone()),
        context: context.map(str::to_string),
    };
    let (_, target) = client::connect(&args(None)).await.unwrap();
    assert_eq!(target.context, "one");
    assert_eq!(target.server, "https://198.51.100.1:6443/");
    let (_, target) = client::connect(&args(Some("two"))).await.unwrap();
    assert_eq!(
        target.to_string(),
        "context two, server https://198.51.100.2:6443/"
    );
    let err = connect_err(args(Some("three"))).await;
    assert_eq!(
        err.to_string(),
        "context `three` is not in the kubeconfig (it has: one, two)"
    );
    // No current context and none asked for.
    let path = kubeconfig_file(dir.path(), None);
    let err = connect_err(client::KubeArgs {
        kubeconfig: Some(path),
        context: None,
    })
    .await;
    assert!(err.to_string().contains("pass --context NAME"), "{err}");
    // An unreadable kubeconfig is named.
    let err = connect_err(client::KubeArgs {
        kubeconfig: Some(dir.path().join("missing")),
        context: None,
    })
    .await;
    assert!(format!("{err:#}").starts_with("--kubeconfig "), "{err:#}");
    assert!(format!("{err:#}").contains("missing"), "{err:#}");
}
