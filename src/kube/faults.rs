//! Live faults on Kubernetes (`meshctl fault inject|clear|list --target kubernetes`): the
//! `meshctl-faults` ConfigMap of a namespace, one key per service, each value a live fault
//! as JSON with absolute RFC 3339 times — written by the CLI, read by the controller.
//!
//! `inject` server-side applies (field manager `meshctl`, forced: a live fault replaces any
//! earlier one of the service) the keys meshctl owns plus the new one, with the ConfigMap's
//! `resourceVersion` as a precondition so two CLIs never drop each other's key (a 409 is
//! re-read and retried). `clear` removes exactly one key with a JSON merge patch setting it
//! to null: it works whoever wrote the key and leaves every other key, and every other
//! manager's ownership, untouched (an apply without the key would only drop it if meshctl
//! were its sole owner).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::anyhow;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};

use super::apply::api_error;
use super::controller::catalog::{Index, Objects};
use super::mesh::{Cluster, MeshError};
use super::{FAULTS_CONFIGMAP, FIELD_MANAGER, SIDECAR_LABEL};
use crate::output::rfc3339;
use crate::policy::fault::{FaultSpec, LiveFault, TCP_FAULT_REFUSED};

/// How often `inject` re-reads and re-applies when the ConfigMap changed under it.
const APPLY_ATTEMPTS: usize = 5;

/// A live fault as a `meshctl-faults` value: what to inject, when it was set and when it
/// ends (RFC 3339, milliseconds; `null`: until `fault clear`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFault {
    spec: FaultSpec,
    set_at: String,
    #[serde(default)]
    expires_at: Option<String>,
}

/// The JSON text of a live fault as the ConfigMap holds it.
pub fn encode(fault: &LiveFault) -> String {
    let at = |ms: u64| rfc3339(UNIX_EPOCH + Duration::from_millis(ms));
    let stored = StoredFault {
        spec: fault.spec,
        set_at: at(fault.set_unix_ms),
        expires_at: fault.expires_unix_ms.map(at),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// A ConfigMap value back into a live fault, checked as a proxy checks it; the error says
/// what is wrong (it is reported with the ConfigMap and key).
pub fn decode(text: &str) -> Result<LiveFault, String> {
    let stored: StoredFault = serde_json::from_str(text).map_err(|e| {
        format!("not a live fault ({e}); expected {{\"spec\": {{\"abort\": {{\"status\": 503, \"per_million\": 50000}}}}, \"set_at\": RFC 3339, \"expires_at\": RFC 3339 or null}}")
    })?;
    // The same check the proxies apply to what they are sent.
    FaultSpec::from_pb(&stored.spec.to_pb(None)).map_err(|e| format!("spec: {e}"))?;
    Ok(LiveFault {
        spec: stored.spec,
        set_unix_ms: unix_ms("set_at", &stored.set_at)?,
        expires_unix_ms: stored
            .expires_at
            .as_deref()
            .map(|t| unix_ms("expires_at", t))
            .transpose()?,
    })
}

fn unix_ms(field: &str, text: &str) -> Result<u64, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{field} `{text}` is not an RFC 3339 time ({e})"))?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("{field} `{text}` is before 1970"))
}

/// The meshed services of a namespace, as the controller sees them.
#[derive(Debug)]
pub struct Services {
    index: Index,
    namespace: String,
}

impl Services {
    /// Whether `service` selects meshed pods (the controller can route to it).
    pub fn known(&self, service: &str) -> bool {
        !self.index.service_versions(&self.key(service)).is_empty()
    }

    /// The services of the namespace's meshed pods, sorted.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .index
            .pods
            .values()
            .filter_map(|p| p.service.clone())
            .collect();
        names.into_iter().collect()
    }

    /// Whether it is opaque TCP (faults cannot act on it).
    pub fn is_opaque_tcp(&self, service: &str) -> bool {
        self.index
            .services
            .get(&self.key(service))
            .map(String::as_str)
            == Some("tcp")
    }

    /// The meshed pods calling `service` (their proxies apply its faults), by name.
    pub fn callers(&self, service: &str) -> Vec<String> {
        self.index
            .pods
            .values()
            .filter(|p| {
                p.upstreams
                    .as_ref()
                    .is_ok_and(|u| u.iter().any(|s| s == service))
            })
            .map(|p| p.name.clone())
            .collect()
    }

    /// A usage error unless `service` is known here and can be faulted.
    pub fn check(&self, service: &str, cluster: &Cluster) -> Result<(), MeshError> {
        if !self.known(service) {
            let names = self.names();
            return Err(MeshError::Usage(format!(
                "unknown service `{service}` in namespace {} (services: {}; {})",
                self.namespace,
                if names.is_empty() {
                    "none with meshed pods".to_string()
                } else {
                    names.join(", ")
                },
                cluster.target
            )));
        }
        if self.is_opaque_tcp(service) {
            return Err(MeshError::Usage(format!(
                "service `{service}` in namespace {}: {TCP_FAULT_REFUSED}",
                self.namespace
            )));
        }
        Ok(())
    }

    fn key(&self, service: &str) -> (String, String) {
        (self.namespace.clone(), service.to_string())
    }
}

fn in_ns(cluster: &Cluster) -> String {
    format!("in namespace {}", cluster.namespace)
}

fn maps(cluster: &Cluster) -> Api<ConfigMap> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

/// The namespace's Services and meshed pods, indexed with the controller's own code.
pub async fn services(cluster: &Cluster) -> Result<Services, MeshError> {
    let scope = in_ns(cluster);
    let list_err = |resource: &'static str| {
        let scope = scope.clone();
        move |e| {
            MeshError::from(api_error(
                e,
                &format!("listing {resource} {scope}"),
                "list",
                resource,
                &scope,
                &cluster.target,
            ))
        }
    };
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let services = services
        .list(&ListParams::default())
        .await
        .map_err(list_err("services"))?
        .items;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let pods = pods
        .list(&ListParams::default().labels(SIDECAR_LABEL))
        .await
        .map_err(list_err("pods"))?
        .items;
    let objects = Objects {
        pods: pods.into_iter().map(Arc::new).collect(),
        services: services.into_iter().map(Arc::new).collect(),
        ..Objects::default()
    };
    Ok(Services {
        index: Index::build("", &objects),
        namespace: cluster.namespace.clone(),
    })
}

/// The namespace's `meshctl-faults` ConfigMap, if there is one.
async fn read(cluster: &Cluster) -> Result<Option<ConfigMap>, MeshError> {
    maps(cluster).get_opt(FAULTS_CONFIGMAP).await.map_err(|e| {
        api_error(
            e,
            &format!("reading ConfigMap {}/{FAULTS_CONFIGMAP}", cluster.namespace),
            "get",
            "configmaps",
            &in_ns(cluster),
            &cluster.target,
        )
        .into()
    })
}

/// What the ConfigMap holds: the faults in force at `now_ms` by service, and the keys that
/// do not decode with why (expired faults are neither).
#[derive(Debug, Default)]
pub struct Stored {
    pub faults: BTreeMap<String, LiveFault>,
    pub invalid: Vec<(String, String)>,
}

fn stored(map: Option<&ConfigMap>, now_ms: u64) -> Stored {
    let mut out = Stored::default();
    for (service, text) in map.and_then(|m| m.data.as_ref()).into_iter().flatten() {
        match decode(text) {
            Ok(f) if f.in_force(now_ms) => {
                out.faults.insert(service.clone(), f);
            }
            Ok(_) => {}
            Err(e) => out.invalid.push((service.clone(), e)),
        }
    }
    out
}

/// The live faults of the namespace in force at `now_ms`.
pub async fn list(cluster: &Cluster, now_ms: u64) -> Result<Stored, MeshError> {
    Ok(stored(read(cluster).await?.as_ref(), now_ms))
}

/// The `data` keys the field manager `meshctl` owns by apply.
fn applied_keys(map: &ConfigMap) -> BTreeSet<String> {
    map.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| {
            m.manager.as_deref() == Some(FIELD_MANAGER) && m.operation.as_deref() == Some("Apply")
        })
        .filter_map(|m| m.fields_v1.as_ref()?.0.get("f:data")?.as_object().cloned())
        .flat_map(|data| {
            data.keys()
                .filter_map(|k| k.strip_prefix("f:").map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The ConfigMap `inject` applies: the faults meshctl applied before and still in force
/// (an expired or unreadable one is dropped), `service`'s new one, and the version read as a
/// precondition.
pub fn apply_manifest(
    namespace: &str,
    current: Option<&ConfigMap>,
    service: &str,
    fault: &LiveFault,
    now_ms: u64,
) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    if let Some(map) = current {
        let values = map.data.clone().unwrap_or_default();
        for key in applied_keys(map) {
            if let Some(text) = values
                .get(&key)
                .filter(|t| decode(t).is_ok_and(|f| f.in_force(now_ms)))
            {
                data.insert(key, text.clone().into());
            }
        }
    }
    data.insert(service.to_string(), encode(fault).into());
    let mut metadata = serde_json::json!({"name": FAULTS_CONFIGMAP, "namespace": namespace});
    if let Some(rv) = current.and_then(|m| m.metadata.resource_version.clone()) {
        metadata["resourceVersion"] = rv.into();
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data,
    })
}

/// Server-side applies `service`'s live fault, creating the ConfigMap when there is none.
pub async fn inject(
    cluster: &Cluster,
    service: &str,
    fault: &LiveFault,
    now_ms: u64,
) -> Result<(), MeshError> {
    let what = format!(
        "applying ConfigMap {}/{FAULTS_CONFIGMAP} (key {service})",
        cluster.namespace
    );
    for _ in 0..APPLY_ATTEMPTS {
        let current = read(cluster).await?;
        let manifest = apply_manifest(&cluster.namespace, current.as_ref(), service, fault, now_ms);
        // Forced: the key is the service's live fault, which a new one replaces whoever
        // set it (as `fault inject` does on a local mesh).
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match maps(cluster)
            .patch(FAULTS_CONFIGMAP, &params, &Patch::Apply(&manifest))
            .await
        {
            Ok(_) => return Ok(()),
            // The resourceVersion precondition failed: someone changed it meanwhile.
            Err(kube::Error::Api(s)) if s.is_conflict() => continue,
            Err(e) => {
                return Err(api_error(
                    e,
                    &what,
                    "patch",
                    "configmaps",
                    &in_ns(cluster),
                    &cluster.target,
                )
                .into());
            }
        }
    }
    Err(anyhow!(
        "{what}: the ConfigMap changed under every one of {APPLY_ATTEMPTS} attempts (something else keeps writing it; {})",
        cluster.target
    )
    .into())
}

/// Removes `service`'s key; whether a fault in force was there (an expired one is removed
/// too, without counting).
pub async fn clear(cluster: &Cluster, service: &str, now_ms: u64) -> Result<bool, MeshError> {
    let Some(current) = read(cluster).await? else {
        return Ok(false);
    };
    let Some(text) = current.data.as_ref().and_then(|d| d.get(service)) else {
        return Ok(false);
    };
    let was_in_force = decode(text).is_ok_and(|f| f.in_force(now_ms));
    let patch = serde_json::json!({"data": {service: null}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    match maps(cluster)
        .patch(FAULTS_CONFIGMAP, &params, &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(was_in_force),
        // Deleted meanwhile: nothing left to clear.
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(false),
        Err(e) => Err(api_error(
            e,
            &format!(
                "removing key {service} of ConfigMap {}/{FAULTS_CONFIGMAP}",
                cluster.namespace
            ),
            "patch",
            "configmaps",
            &in_ns(cluster),
            &cluster.target,
        )
        .into()),
    }
}

#[cfg(test)]
mod tests;
