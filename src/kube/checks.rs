//! `meshctl check --kube`: the cluster's side of the mesh as √ ‼ × checks with a hint each,
//! before install (`--pre`: may we, and is the place free) and after (is it running, is the
//! identity sound).

use std::time::SystemTime;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};

use super::apply::{diagnose, is_available};
use super::identity::{self, Material};
use super::{
    CONTROLLER_NAME, ISSUER_SECRET, PART_OF, PART_OF_LABEL, TRUST_BUNDLE_CONFIGMAP,
    TRUST_BUNDLE_KEY, WEBHOOK_CONFIGURATION, WEBHOOK_SERVICE_PORT,
};
use crate::identity::checks::{ERROR_WITHIN, Outcome, Severity, WARN_WITHIN};
use crate::identity::pem;

/// The oldest Kubernetes minor version supported (the k8s-openapi feature built against).
pub const MIN_MINOR: u32 = 33;
/// The name of the Gateway API HTTPRoute CRD.
pub const HTTPROUTE_CRD: &str = "httproutes.gateway.networking.k8s.io";

const CATEGORY: &str = "kubernetes";

fn outcome(
    description: &'static str,
    status: Severity,
    detail: String,
    hint: &'static str,
) -> Outcome {
    Outcome::new(CATEGORY, description, status, detail, hint)
}

/// What `check --kube` looks at.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub namespace: String,
    /// Before install: permissions and a free namespace, not the running controller.
    pub pre: bool,
}

/// (verb, group, resource, namespaced) that install applies.
pub const INSTALL_PERMISSIONS: &[(&str, &str, &str, bool)] = &[
    ("patch", "", "namespaces", false),
    ("patch", "", "serviceaccounts", true),
    ("patch", "rbac.authorization.k8s.io", "clusterroles", false),
    (
        "patch",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        false,
    ),
    ("patch", "rbac.authorization.k8s.io", "roles", true),
    ("patch", "rbac.authorization.k8s.io", "rolebindings", true),
    ("patch", "", "secrets", true),
    ("patch", "", "configmaps", true),
    ("patch", "", "services", true),
    ("patch", "apps", "deployments", true),
    ("patch", "policy", "poddisruptionbudgets", true),
    (
        "patch",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        false,
    ),
];

/// Runs every check against the cluster; the first (API reachable) gates the rest.
pub async fn run(client: &Client, opts: &CheckOptions) -> Vec<Outcome> {
    let mut out = Vec::new();
    let version = match client.apiserver_version().await {
        Ok(v) => v,
        Err(e) => {
            out.push(outcome(
                "Kubernetes API is reachable",
                Severity::Error,
                one_line(&e),
                "check --context/--kubeconfig and that `kubectl version` answers",
            ));
            return out;
        }
    };
    out.push(outcome(
        "Kubernetes API is reachable",
        Severity::Ok,
        version.git_version.clone(),
        "",
    ));
    out.push(version_check(&version.major, &version.minor));
    out.push(permissions(client, &opts.namespace).await);
    out.push(httproute_crd(client).await);
    if opts.pre {
        out.push(namespace_free(client, &opts.namespace).await);
        return out;
    }
    out.push(controller(client, &opts.namespace).await);
    out.push(webhook(client, &opts.namespace).await);
    let trust_domain = cluster_material(client, &opts.namespace)
        .await
        .map(|m| m.trust_domain)
        .unwrap_or_else(|_| crate::identity::spiffe::DEFAULT_TRUST_DOMAIN.to_string());
    out.push(policies(client, &trust_domain).await);
    out.extend(identity_checks(client, &opts.namespace).await);
    out
}

/// Every `meshctl-policy` ConfigMap in the cluster, parsed with the controller's own code:
/// what the controller refuses (and keeps the last valid policy for) is an error here.
async fn policies(client: &Client, trust_domain: &str) -> Outcome {
    const DESCRIPTION: &str = "traffic policies are valid";
    const HINT: &str = "fix the named key of the namespace's meshctl-policy ConfigMap (the controller keeps the last valid policy in force meanwhile; `kubectl get events -A --field-selector reason=InvalidPolicy`)";
    let maps: Api<ConfigMap> = Api::all(client.clone());
    let services: Api<Service> = Api::all(client.clone());
    let params = kube::api::ListParams::default()
        .fields(&format!("metadata.name={}", super::POLICY_CONFIGMAP));
    let (maps, services) = match (
        maps.list(&params).await,
        services.list(&Default::default()).await,
    ) {
        (Ok(m), Ok(s)) => (m.items, s.items),
        (Err(e), _) | (_, Err(e)) => {
            return outcome(DESCRIPTION, Severity::Error, one_line(&e), HINT);
        }
    };
    let tcp: std::collections::HashSet<(String, String)> = services
        .iter()
        .filter(|s| super::controller::catalog::service_protocol(s) == "tcp")
        .map(|s| {
            (
                s.metadata.namespace.clone().unwrap_or_default(),
                s.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    let maps: Vec<std::sync::Arc<ConfigMap>> = maps.into_iter().map(std::sync::Arc::new).collect();
    let mut checked = super::controller::policies::Policies::default();
    let problems = checked.update(trust_domain, &maps, |k| tcp.contains(k));
    if problems.is_empty() {
        let n = checked.good.len();
        return outcome(
            DESCRIPTION,
            Severity::Ok,
            format!("{n} service polic{}", if n == 1 { "y" } else { "ies" }),
            HINT,
        );
    }
    let mut errors: Vec<String> = checked.errors.values().cloned().collect();
    errors.sort();
    outcome(DESCRIPTION, Severity::Error, errors.join("; "), HINT)
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

/// Supported: Kubernetes 1.MIN_MINOR or newer ("33+" minors from managed clusters count).
pub fn version_check(major: &str, minor: &str) -> Outcome {
    let minor_num: Option<u32> = minor.trim_end_matches('+').parse().ok();
    let supported = major == "1" && minor_num.is_some_and(|m| m >= MIN_MINOR);
    outcome(
        "Kubernetes version is supported (1.33 or newer)",
        if supported {
            Severity::Ok
        } else {
            Severity::Error
        },
        format!("{major}.{minor}"),
        "upgrade the cluster to Kubernetes 1.33 or newer",
    )
}

async fn permissions(client: &Client, namespace: &str) -> Outcome {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut missing = Vec::new();
    for &(verb, group, resource, namespaced) in INSTALL_PERMISSIONS {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.into()),
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    namespace: namespaced.then(|| namespace.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let full = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        match api.create(&PostParams::default(), &review).await {
            Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => {}
            Ok(_) => missing.push(format!("{verb} {full}")),
            Err(e) => {
                return outcome(
                    "you may create everything install creates",
                    Severity::Error,
                    format!("SelfSubjectAccessReview failed: {}", one_line(&e)),
                    "ask a cluster admin to run install, or for the permissions it lists",
                );
            }
        }
    }
    if missing.is_empty() {
        outcome(
            "you may create everything install creates",
            Severity::Ok,
            String::new(),
            "",
        )
    } else {
        outcome(
            "you may create everything install creates",
            Severity::Error,
            format!("missing: {}", missing.join(", ")),
            "ask a cluster admin to run install, or for the permissions it lists",
        )
    }
}

/// Which HTTPRoute CRD the cluster has: none, meshctl's (`install --crds`), or Gateway API's
/// own install (any other).
async fn httproute_crd(client: &Client) -> Outcome {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    const DESCRIPTION: &str = "Gateway API HTTPRoute CRD is installed and established";
    const HINT: &str = "traffic splits need HTTPRoutes: meshctl install --crds, or install Gateway API (standard channel)";
    match api.get_opt(HTTPROUTE_CRD).await {
        Ok(None) => outcome(DESCRIPTION, Severity::Warning, "absent".into(), HINT),
        Ok(Some(crd)) => {
            let ours = crd
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(PART_OF_LABEL))
                .is_some_and(|v| v == PART_OF);
            let bundle = crd
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("gateway.networking.k8s.io/bundle-version"))
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            let source = if ours {
                "installed by meshctl".to_string()
            } else {
                format!("Gateway API's own{bundle}")
            };
            let established = crd
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            let serves_v1 = crd.spec.versions.iter().any(|v| v.name == "v1" && v.served);
            let status = if established && serves_v1 {
                Severity::Ok
            } else {
                Severity::Warning
            };
            let mut detail = source;
            if !serves_v1 {
                detail.push_str("; does not serve v1");
            }
            if !established {
                detail.push_str("; not established");
            }
            outcome(DESCRIPTION, status, detail, HINT)
        }
        Err(e) => outcome(DESCRIPTION, Severity::Warning, one_line(&e), HINT),
    }
}

async fn namespace_free(client: &Client, namespace: &str) -> Outcome {
    const DESCRIPTION: &str = "the mesh namespace is free";
    const HINT: &str = "pick another --namespace, or uninstall what is there";
    let api: Api<Namespace> = Api::all(client.clone());
    match api.get_opt(namespace).await {
        Ok(None) => outcome(
            DESCRIPTION,
            Severity::Ok,
            format!("{namespace} does not exist"),
            HINT,
        ),
        Ok(Some(ns)) => {
            let ours = ns
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(PART_OF_LABEL))
                .is_some_and(|v| v == PART_OF);
            if ours {
                outcome(
                    DESCRIPTION,
                    Severity::Warning,
                    format!(
                        "{namespace} holds a meshctl install already: install again updates it"
                    ),
                    HINT,
                )
            } else {
                outcome(
                    DESCRIPTION,
                    Severity::Error,
                    format!("{namespace} exists and is not meshctl's"),
                    HINT,
                )
            }
        }
        Err(e) => outcome(DESCRIPTION, Severity::Error, one_line(&e), HINT),
    }
}

async fn controller(client: &Client, namespace: &str) -> Outcome {
    const DESCRIPTION: &str = "controller Deployment is Available";
    const HINT: &str = "see `kubectl -n <namespace> describe deployment meshctl-controller`; install with meshctl install --apply";
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(CONTROLLER_NAME).await {
        Ok(Some(d)) if is_available(&d) => outcome(DESCRIPTION, Severity::Ok, String::new(), HINT),
        Ok(Some(_)) => outcome(
            DESCRIPTION,
            Severity::Error,
            diagnose(client, namespace).await,
            HINT,
        ),
        Ok(None) => outcome(
            DESCRIPTION,
            Severity::Error,
            format!("no Deployment {namespace}/{CONTROLLER_NAME}"),
            HINT,
        ),
        Err(e) => outcome(DESCRIPTION, Severity::Error, one_line(&e), HINT),
    }
}

/// The trust bundle and issuer as the cluster holds them.
async fn cluster_material(client: &Client, namespace: &str) -> Result<Material, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get_opt(ISSUER_SECRET)
        .await
        .map_err(|e| one_line(&e))?
        .ok_or_else(|| format!("no Secret {namespace}/{ISSUER_SECRET}"))?;
    let field = |key: &str| -> Result<String, String> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .ok_or_else(|| format!("Secret {namespace}/{ISSUER_SECRET} has no {key}"))
    };
    let bundle = maps
        .get_opt(TRUST_BUNDLE_CONFIGMAP)
        .await
        .map_err(|e| one_line(&e))?
        .and_then(|c| c.data.and_then(|d| d.get(TRUST_BUNDLE_KEY).cloned()))
        .ok_or_else(|| {
            format!("no {TRUST_BUNDLE_KEY} in ConfigMap {namespace}/{TRUST_BUNDLE_CONFIGMAP}")
        })?;
    if field("ca.crt")? != bundle {
        return Err(format!(
            "the Secret's ca.crt differs from ConfigMap {TRUST_BUNDLE_CONFIGMAP}"
        ));
    }
    let issuer_cert_pem = field("tls.crt")?;
    let trust_domain = trust_domain_of(&issuer_cert_pem);
    Ok(Material {
        trust_domain,
        issuer_cert_pem,
        issuer_key_pem: field("tls.key")?,
        bundle_pem: bundle,
    })
}

/// The trust domain is the first word of the issuer's common name ("<td> issuer"); the
/// chain check only needs a valid one.
fn trust_domain_of(issuer_pem: &str) -> String {
    let parsed = pem::first_cert(issuer_pem).ok().and_then(|der| {
        pem::parse(&der).ok().and_then(|c| {
            c.subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .and_then(|s| s.split_whitespace().next())
                .map(str::to_string)
        })
    });
    parsed
        .filter(|td| crate::identity::spiffe::validate_trust_domain(td).is_ok())
        .unwrap_or_else(|| crate::identity::spiffe::DEFAULT_TRUST_DOMAIN.to_string())
}

async fn webhook(client: &Client, namespace: &str) -> Outcome {
    const DESCRIPTION: &str =
        "injection webhook points at the controller Service with the trust bundle";
    const HINT: &str = "re-apply the manifests: meshctl install --identity-dir DIR --apply";
    let result = async {
        let api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
        let config = api
            .get_opt(WEBHOOK_CONFIGURATION)
            .await
            .map_err(|e| one_line(&e))?
            .ok_or_else(|| format!("no MutatingWebhookConfiguration {WEBHOOK_CONFIGURATION}"))?;
        let services: Api<Service> = Api::namespaced(client.clone(), namespace);
        let service = services
            .get_opt(CONTROLLER_NAME)
            .await
            .map_err(|e| one_line(&e))?
            .ok_or_else(|| format!("no Service {namespace}/{CONTROLLER_NAME}"))?;
        let has_port = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .is_some_and(|ports| ports.iter().any(|p| p.port == WEBHOOK_SERVICE_PORT));
        if !has_port {
            return Err(format!("Service {namespace}/{CONTROLLER_NAME} has no port {WEBHOOK_SERVICE_PORT}"));
        }
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let bundle = maps
            .get_opt(TRUST_BUNDLE_CONFIGMAP)
            .await
            .map_err(|e| one_line(&e))?
            .and_then(|c| c.data.and_then(|d| d.get(TRUST_BUNDLE_KEY).cloned()))
            .unwrap_or_default();
        let webhooks = config.webhooks.unwrap_or_default();
        if webhooks.is_empty() {
            return Err(format!("MutatingWebhookConfiguration {WEBHOOK_CONFIGURATION} has no webhooks"));
        }
        for w in &webhooks {
            let svc = w.client_config.service.as_ref();
            if !svc.is_some_and(|s| s.namespace == namespace && s.name == CONTROLLER_NAME) {
                return Err(format!("webhook {} does not call Service {namespace}/{CONTROLLER_NAME}", w.name));
            }
            let ca = w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()).unwrap_or_default();
            if ca.is_empty() || ca != bundle.as_bytes() {
                return Err(format!(
                    "webhook {}'s caBundle is not the trust bundle (the controller's serving certificate, issued by the mesh issuer, would not verify)",
                    w.name
                ));
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => outcome(DESCRIPTION, Severity::Ok, String::new(), HINT),
        Err(why) => outcome(DESCRIPTION, Severity::Error, why, HINT),
    }
}

async fn identity_checks(client: &Client, namespace: &str) -> Vec<Outcome> {
    const CHAINS: &str = "issuer Secret is present and chains to the trust bundle";
    const CHAINS_HINT: &str =
        "re-install with a sound CA: meshctl install --identity-dir DIR --apply";
    let material = match cluster_material(client, namespace).await {
        Ok(m) => m,
        Err(why) => return vec![outcome(CHAINS, Severity::Error, why, CHAINS_HINT)],
    };
    let now = SystemTime::now();
    let mut out = vec![match identity::check(&material, now) {
        Ok(()) => outcome(CHAINS, Severity::Ok, String::new(), CHAINS_HINT),
        Err(e) => outcome(CHAINS, Severity::Error, format!("{e:#}"), CHAINS_HINT),
    }];
    let first = |pem_text: &str| {
        pem::first_cert(pem_text)
            .ok()
            .and_then(|d| pem::not_after(&d).ok())
    };
    out.push(expiry_outcome(
        "issuer is valid for more than 60 days",
        first(&material.issuer_cert_pem),
        now,
        "rotate it: meshctl certs rotate issuer --target kubernetes --identity-dir DIR (the CA install saved)",
    ));
    out.push(expiry_outcome(
        "trust anchor is valid for more than 60 days",
        first(&material.bundle_pem),
        now,
        "rotate it: meshctl certs rotate anchor --target kubernetes --identity-dir DIR (the CA install saved)",
    ));
    out
}

/// The local `check`'s thresholds: warning within 60 days, error within 7 days.
pub fn expiry_outcome(
    description: &'static str,
    not_after: Option<SystemTime>,
    now: SystemTime,
    hint: &'static str,
) -> Outcome {
    let Some(not_after) = not_after else {
        return outcome(
            description,
            Severity::Error,
            "unreadable certificate".into(),
            hint,
        );
    };
    let left = not_after.duration_since(now).unwrap_or_default();
    let status = if left <= ERROR_WITHIN {
        Severity::Error
    } else if left <= WARN_WITHIN {
        Severity::Warning
    } else {
        Severity::Ok
    };
    let detail = if left.is_zero() {
        "expired".to_string()
    } else {
        format!(
            "expires in {}",
            crate::duration::format_compact(left.as_secs() as i64)
        )
    };
    outcome(description, status, detail, hint)
}
