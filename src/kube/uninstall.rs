//! `meshctl uninstall`: finds everything install created by its `app.kubernetes.io/part-of`
//! label (never by guessing names), refuses while meshed pods exist, deletes in the reverse
//! of install's order and waits until each object is gone.

use std::time::Duration;

use anyhow::anyhow;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams};
use kube::core::ApiResource;
use serde::Serialize;

use super::apply::{NotReady, api_error, dynamic_api};
use super::client::Target;
use super::{PART_OF_SELECTOR, SIDECAR_LABEL};

/// One object found by the label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub kind: String,
    #[serde(skip)]
    pub resource: ApiResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl Found {
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The kinds install creates, in deletion order: the webhook first (no pod creation may
/// depend on a controller being deleted), the Namespace last. CRDs only when asked: deleting
/// the HTTPRoute CRD deletes every HTTPRoute in the cluster.
pub fn kinds(include_crds: bool) -> Vec<(ApiResource, bool)> {
    let mut kinds = vec![
        (
            ApiResource::erase::<MutatingWebhookConfiguration>(&()),
            false,
        ),
        (ApiResource::erase::<Deployment>(&()), true),
        (ApiResource::erase::<PodDisruptionBudget>(&()), true),
        (ApiResource::erase::<Service>(&()), true),
        (ApiResource::erase::<ConfigMap>(&()), true),
        (ApiResource::erase::<Secret>(&()), true),
        (ApiResource::erase::<ServiceAccount>(&()), true),
        (ApiResource::erase::<RoleBinding>(&()), true),
        (ApiResource::erase::<Role>(&()), true),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false),
        (ApiResource::erase::<ClusterRole>(&()), false),
    ];
    if include_crds {
        kinds.push((ApiResource::erase::<CustomResourceDefinition>(&()), false));
    }
    kinds.push((ApiResource::erase::<Namespace>(&()), false));
    kinds
}

fn resource_name(r: &ApiResource) -> String {
    if r.group.is_empty() {
        r.plural.clone()
    } else {
        format!("{}.{}", r.plural, r.group)
    }
}

/// Everything labelled `app.kubernetes.io/part-of=meshctl`, in deletion order.
pub async fn find(
    client: &Client,
    target: &Target,
    include_crds: bool,
) -> anyhow::Result<Vec<Found>> {
    let params = ListParams::default().labels(PART_OF_SELECTOR);
    let mut out = Vec::new();
    for (resource, namespaced) in kinds(include_crds) {
        let api = dynamic_api(client, &resource, None);
        let scope = if namespaced {
            "in all namespaces"
        } else {
            "cluster-wide"
        };
        let list = api.list(&params).await.map_err(|e| {
            api_error(
                e,
                &format!("listing {}", resource_name(&resource)),
                "list",
                &resource_name(&resource),
                scope,
                target,
            )
        })?;
        for item in list.items {
            out.push(Found {
                kind: resource.kind.clone(),
                resource: resource.clone(),
                namespace: item.metadata.namespace.clone(),
                name: item.metadata.name.clone().unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// Pods that carry a sidecar (`namespace/name`), in every namespace.
pub async fn meshed_pods(client: &Client, target: &Target) -> anyhow::Result<Vec<String>> {
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods
        .list(&ListParams::default().labels(SIDECAR_LABEL))
        .await
        .map_err(|e| {
            api_error(
                e,
                "listing meshed pods",
                "list",
                "pods",
                "in all namespaces",
                target,
            )
        })?;
    Ok(list
        .items
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or(""),
                p.metadata.name.as_deref().unwrap_or("")
            )
        })
        .collect())
}

/// The refusal when meshed pods exist, naming (at most ten of) them.
pub fn refuse_meshed(pods: &[String]) -> anyhow::Error {
    let shown: Vec<&str> = pods.iter().take(10).map(String::as_str).collect();
    let more = if pods.len() > shown.len() {
        format!(" and {} more", pods.len() - shown.len())
    } else {
        String::new()
    };
    anyhow!(
        "{} meshed pod(s) still run with a sidecar: {}{more}; remove their sidecars first (label {SIDECAR_LABEL}), or pass --force to uninstall anyway (they lose their control plane and stop getting certificates)",
        pods.len(),
        shown.join(", ")
    )
}

/// Deletes `found` in order, calling `done` after each delete, then waits until every object
/// is gone (finalisers run), at most `timeout`, polling every `poll`.
pub async fn delete_all(
    client: &Client,
    target: &Target,
    found: &[Found],
    timeout: Duration,
    poll: Duration,
    mut done: impl FnMut(&Found),
) -> anyhow::Result<()> {
    let params = DeleteParams::background();
    for f in found {
        let api = dynamic_api(client, &f.resource, f.namespace.as_deref());
        match api.delete(&f.name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => {
                let scope = match &f.namespace {
                    Some(ns) => format!("in namespace {ns}"),
                    None => "cluster-wide".to_string(),
                };
                return Err(api_error(
                    e,
                    &format!("deleting {}", f.describe()),
                    "delete",
                    &resource_name(&f.resource),
                    &scope,
                    target,
                ));
            }
        }
        done(f);
    }
    let gone = async {
        for f in found {
            let api = dynamic_api(client, &f.resource, f.namespace.as_deref());
            loop {
                match api.get_opt(&f.name).await {
                    Ok(None) => break,
                    Ok(Some(_)) => tokio::time::sleep(poll).await,
                    Err(e) => {
                        return Err(api_error(
                            e,
                            &format!("reading {}", f.describe()),
                            "get",
                            &resource_name(&f.resource),
                            "",
                            target,
                        ));
                    }
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, gone).await {
        Ok(result) => result,
        Err(_) => {
            let mut left = Vec::new();
            for f in found {
                let api = dynamic_api(client, &f.resource, f.namespace.as_deref());
                if let Ok(Some(obj)) = api.get_opt(&f.name).await {
                    // Namespaces keep theirs in spec.finalizers (the namespace controller's).
                    let mut finalizers = obj.metadata.finalizers.clone().unwrap_or_default();
                    let spec_finalizers = obj.data["spec"]["finalizers"].as_array();
                    finalizers.extend(
                        spec_finalizers
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str().map(str::to_string)),
                    );
                    left.push(if finalizers.is_empty() {
                        f.describe()
                    } else {
                        format!("{} (finalizers: {})", f.describe(), finalizers.join(", "))
                    });
                }
            }
            Err(NotReady(format!(
                "not gone after {}: {} ({target})",
                crate::duration::format_compact(timeout.as_secs() as i64),
                if left.is_empty() {
                    "(gone now)".to_string()
                } else {
                    left.join(", ")
                }
            ))
            .into())
        }
    }
}
