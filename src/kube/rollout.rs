//! Progressive rollouts' state in a cluster (`canary start|promote|abort|status` with
//! `--target kubernetes`): per service, a ConfigMap `meshctl-rollout-<service>` holding the
//! same JSON the local store keeps in `.meshctl/canary/<service>.json` (key `rollout.json`),
//! and a `coordination.k8s.io/v1` Lease of the same name naming the `canary start` that runs
//! it (`holderIdentity` = `host/pid`, `renewTime` renewed while it runs).
//!
//! The local store serialises read-modify-writes with a file lock and tells a dead `start`
//! from a live one by a lock the kernel drops. Here both are the API server's:
//!
//! - every write of the state is a replace carrying the `resourceVersion` it was read at
//!   (optimistic concurrency): a `promote` from another shell and the running `start`
//!   recording a check cannot both succeed from the same read, and the loser reads again and
//!   re-decides (server-side apply would not do: both writers are the field manager
//!   `meshctl`, so the second apply would silently win);
//! - the Lease is taken by create (which fails when it exists) or by a replace at the
//!   resourceVersion that showed it expired, so two `start`s racing for it cannot both win;
//!   a Lease not renewed within its `leaseDurationSeconds` is a `start` that died.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams, Preconditions};

use super::apply::api_error;
use super::mesh::{Cluster, MeshError};
use crate::canary::store::RolloutState;

/// Name prefix of a rollout's ConfigMap and Lease: `meshctl-rollout-<service>`.
pub const OBJECT_PREFIX: &str = "meshctl-rollout-";
/// The ConfigMap key holding the rollout's JSON.
pub const STATE_KEY: &str = "rollout.json";
/// Label on both objects, valued with the service: how `canary status` lists rollouts.
pub const ROLLOUT_LABEL: &str = "meshctl.io/rollout";
/// How long a Lease stays held without renewal: a `start` silent for longer is dead.
pub const LEASE_DURATION: Duration = Duration::from_secs(30);
/// How often the running `start` renews its Lease (well inside [`LEASE_DURATION`]).
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(5);
/// Conflicting writes retried before giving up (each retry reads the object again).
const MAX_CONFLICT_RETRIES: usize = 20;

/// A rollout's state as read, with the resourceVersion a replace must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub state: RolloutState,
    pub resource_version: String,
}

/// Who holds a rollout's Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `host/pid` of the `canary start`.
    pub identity: String,
    /// Its last renewal (RFC 3339), if any.
    pub renewed: Option<String>,
    /// Renewed within the lease duration: that `start` is running.
    pub live: bool,
}

/// The outcome of a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    /// Another process holds the Lease now, or it was deleted: this one no longer runs the
    /// rollout (in words).
    Lost(String),
}

/// `meshctl-rollout-<service>`.
pub fn object_name(service: &str) -> String {
    format!("{OBJECT_PREFIX}{service}")
}

/// This process as a Lease holder: `host/pid`.
pub fn holder_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{host}/{}", std::process::id())
}

fn labels(service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            super::FIELD_MANAGER.to_string(),
        ),
        (ROLLOUT_LABEL.to_string(), service.to_string()),
    ])
}

/// The ConfigMap holding `state` (pure); `resource_version` for a replace.
pub fn state_config_map(
    namespace: &str,
    state: &RolloutState,
    resource_version: Option<&str>,
) -> Result<ConfigMap, MeshError> {
    let json = serde_json::to_string_pretty(state)
        .map_err(|e| anyhow::anyhow!("encoding the rollout state of `{}`: {e}", state.service))?;
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(object_name(&state.service)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels(&state.service)),
            resource_version: resource_version.map(str::to_string),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(STATE_KEY.to_string(), json)])),
        ..ConfigMap::default()
    })
}

fn config_maps(cluster: &Cluster) -> Api<ConfigMap> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

fn leases(cluster: &Cluster) -> Api<Lease> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

fn scope(cluster: &Cluster) -> String {
    format!("in namespace {}", cluster.namespace)
}

fn map_error(
    cluster: &Cluster,
    e: kube::Error,
    what: &str,
    verb: &str,
    resource: &str,
) -> MeshError {
    api_error(e, what, verb, resource, &scope(cluster), &cluster.target).into()
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

fn decode(cluster: &Cluster, service: &str, map: &ConfigMap) -> Result<RolloutState, MeshError> {
    let name = format!("ConfigMap {}/{}", cluster.namespace, object_name(service));
    let text = map
        .data
        .as_ref()
        .and_then(|d| d.get(STATE_KEY))
        .ok_or_else(|| anyhow::anyhow!("{name}: no key {STATE_KEY} (delete it to start over)"))?;
    serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!("{name}: unreadable rollout state: {e} (delete it to start over)").into()
    })
}

/// `service`'s rollout state, if it ever had one.
pub async fn load(cluster: &Cluster, service: &str) -> Result<Option<Stored>, MeshError> {
    let name = object_name(service);
    let found = config_maps(cluster).get_opt(&name).await.map_err(|e| {
        let what = format!("reading ConfigMap {}/{name}", cluster.namespace);
        map_error(cluster, e, &what, "get", "configmaps")
    })?;
    let Some(map) = found else {
        return Ok(None);
    };
    Ok(Some(Stored {
        state: decode(cluster, service, &map)?,
        resource_version: map.metadata.resource_version.clone().unwrap_or_default(),
    }))
}

/// Every rollout on record in the namespace, in service order.
pub async fn list(cluster: &Cluster) -> Result<Vec<RolloutState>, MeshError> {
    let found = config_maps(cluster)
        .list(&ListParams::default().labels(ROLLOUT_LABEL))
        .await
        .map_err(|e| {
            let what = format!("listing rollouts {}", scope(cluster));
            map_error(cluster, e, &what, "list", "configmaps")
        })?;
    let mut out = Vec::new();
    for map in &found.items {
        let Some(service) = map.labels().get(ROLLOUT_LABEL) else {
            continue;
        };
        out.push(decode(cluster, service, map)?);
    }
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
}

/// Writes `state`: a create when `read_at` is `None`, else a replace at that
/// resourceVersion. `Ok(None)`: another process wrote it first (read again and re-decide).
pub async fn save(
    cluster: &Cluster,
    state: &RolloutState,
    read_at: Option<&str>,
) -> Result<Option<String>, MeshError> {
    let map = state_config_map(&cluster.namespace, state, read_at)?;
    let name = object_name(&state.service);
    let api = config_maps(cluster);
    let written = match read_at {
        None => api.create(&PostParams::default(), &map).await,
        Some(_) => api.replace(&name, &PostParams::default(), &map).await,
    };
    match written {
        Ok(m) => Ok(Some(m.metadata.resource_version.unwrap_or_default())),
        Err(e) if is_conflict(&e) => Ok(None),
        Err(e) => {
            let (verb, what) = match read_at {
                None => ("create", "creating"),
                Some(_) => ("update", "updating"),
            };
            let what = format!("{what} ConfigMap {}/{name}", cluster.namespace);
            Err(map_error(cluster, e, &what, verb, "configmaps"))
        }
    }
}

/// Read-modify-write of `service`'s state: `change` decides on the latest state (and is
/// asked again after a conflicting write). `None` when there is no state; otherwise the
/// state as left (unchanged when `change` returned false).
pub async fn update(
    cluster: &Cluster,
    service: &str,
    mut change: impl FnMut(&mut RolloutState) -> bool,
) -> Result<Option<RolloutState>, MeshError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut stored) = load(cluster, service).await? else {
            return Ok(None);
        };
        if !change(&mut stored.state) {
            return Ok(Some(stored.state));
        }
        if save(cluster, &stored.state, Some(&stored.resource_version))
            .await?
            .is_some()
        {
            return Ok(Some(stored.state));
        }
    }
    Err(anyhow::anyhow!(
        "ConfigMap {}/{}: {MAX_CONFLICT_RETRIES} conflicting writes in a row ({})",
        cluster.namespace,
        object_name(service),
        cluster.target
    )
    .into())
}

/// Whether `spec` is held at `now`: a holder, renewed (or acquired) within its duration.
pub fn lease_live(spec: &LeaseSpec, now: Timestamp) -> bool {
    let held = spec
        .holder_identity
        .as_deref()
        .is_some_and(|h| !h.is_empty());
    let Some(MicroTime(last)) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return false;
    };
    let secs = spec
        .lease_duration_seconds
        .unwrap_or(LEASE_DURATION.as_secs() as i32);
    held && last.as_second().saturating_add(i64::from(secs)) > now.as_second()
}

fn holder_of(lease: &Lease, now: Timestamp) -> Option<Holder> {
    let spec = lease.spec.as_ref()?;
    let identity = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    Some(Holder {
        identity,
        renewed: spec.renew_time.as_ref().map(|t| t.0.to_string()),
        live: lease_live(spec, now),
    })
}

/// Who holds `service`'s Lease (live or not), if anyone.
pub async fn holder(cluster: &Cluster, service: &str) -> Result<Option<Holder>, MeshError> {
    Ok(get_lease(cluster, service)
        .await?
        .and_then(|l| holder_of(&l, Timestamp::now())))
}

async fn get_lease(cluster: &Cluster, service: &str) -> Result<Option<Lease>, MeshError> {
    let name = object_name(service);
    leases(cluster).get_opt(&name).await.map_err(|e| {
        let what = format!("reading Lease {}/{name}", cluster.namespace);
        map_error(cluster, e, &what, "get", "leases.coordination.k8s.io")
    })
}

/// The Lease held by `me` from `now` (pure); `previous` is the one it replaces.
pub fn lease_for(
    namespace: &str,
    service: &str,
    me: &str,
    now: Timestamp,
    previous: Option<&Lease>,
) -> Lease {
    let old = previous.and_then(|l| l.spec.as_ref());
    let same_holder = old.and_then(|s| s.holder_identity.as_deref()) == Some(me);
    let transitions = old.and_then(|s| s.lease_transitions).unwrap_or(0);
    Lease {
        metadata: ObjectMeta {
            name: Some(object_name(service)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels(service)),
            resource_version: previous.and_then(|l| l.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(me.to_string()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: if same_holder {
                old.and_then(|s| s.acquire_time.clone())
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(if previous.is_some() && !same_holder {
                transitions + 1
            } else {
                transitions
            }),
            ..LeaseSpec::default()
        }),
    }
}

/// Takes `service`'s Lease for `me`: `Ok(None)` when taken (free, expired, or already
/// `me`'s), `Ok(Some(holder))` when another live process holds it.
pub async fn acquire(
    cluster: &Cluster,
    service: &str,
    me: &str,
) -> Result<Option<Holder>, MeshError> {
    let name = object_name(service);
    let api = leases(cluster);
    for _ in 0..MAX_CONFLICT_RETRIES {
        let now = Timestamp::now();
        let current = get_lease(cluster, service).await?;
        if let Some(h) = current.as_ref().and_then(|l| holder_of(l, now))
            && h.live
            && h.identity != me
        {
            return Ok(Some(h));
        }
        let lease = lease_for(&cluster.namespace, service, me, now, current.as_ref());
        let written = match &current {
            None => api.create(&PostParams::default(), &lease).await,
            Some(_) => api.replace(&name, &PostParams::default(), &lease).await,
        };
        match written {
            Ok(_) => return Ok(None),
            // Someone else created or renewed it since the read: look again.
            Err(e) if is_conflict(&e) => continue,
            Err(e) => {
                let (verb, what) = match current {
                    None => ("create", "creating"),
                    Some(_) => ("update", "taking over"),
                };
                let what = format!("{what} Lease {}/{name}", cluster.namespace);
                return Err(map_error(
                    cluster,
                    e,
                    &what,
                    verb,
                    "leases.coordination.k8s.io",
                ));
            }
        }
    }
    Err(anyhow::anyhow!(
        "Lease {}/{name}: {MAX_CONFLICT_RETRIES} conflicting writes in a row ({})",
        cluster.namespace,
        cluster.target
    )
    .into())
}

/// Renews `me`'s hold on `service`'s Lease.
pub async fn renew(cluster: &Cluster, service: &str, me: &str) -> Result<Renewal, MeshError> {
    let name = object_name(service);
    let Some(current) = get_lease(cluster, service).await? else {
        return Ok(Renewal::Lost(format!(
            "its Lease {}/{name} was deleted",
            cluster.namespace
        )));
    };
    let holder = current
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default();
    if holder != me {
        return Ok(Renewal::Lost(format!(
            "the rollout was taken over by {holder} (Lease {}/{name})",
            cluster.namespace
        )));
    }
    let lease = lease_for(
        &cluster.namespace,
        service,
        me,
        Timestamp::now(),
        Some(&current),
    );
    match leases(cluster)
        .replace(&name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(Renewal::Renewed),
        // Written since the read: whoever wrote it is told apart at the next renewal.
        Err(e) if is_conflict(&e) => Ok(Renewal::Renewed),
        Err(e) => {
            let what = format!("renewing Lease {}/{name}", cluster.namespace);
            Err(map_error(
                cluster,
                e,
                &what,
                "update",
                "leases.coordination.k8s.io",
            ))
        }
    }
}

/// Gives up `me`'s Lease (deleted at the resourceVersion read, so never someone else's).
pub async fn release(cluster: &Cluster, service: &str, me: &str) -> Result<(), MeshError> {
    let name = object_name(service);
    let Some(current) = get_lease(cluster, service).await? else {
        return Ok(());
    };
    if current
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        != Some(me)
    {
        return Ok(());
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: current.metadata.resource_version.clone(),
            uid: current.metadata.uid.clone(),
        }),
        ..DeleteParams::default()
    };
    match leases(cluster).delete(&name, &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => {
            let what = format!("releasing Lease {}/{name}", cluster.namespace);
            Err(map_error(
                cluster,
                e,
                &what,
                "delete",
                "leases.coordination.k8s.io",
            ))
        }
    }
}

#[cfg(test)]
mod tests;
