//! Certificate rotation in a cluster (`meshctl certs rotate issuer|anchor --target
//! kubernetes`): what the CLI reads and writes there. The CA's working copy stays on the
//! operator's machine (the directory `install` saved: the anchor key never enters the
//! cluster); each step writes its result into the cluster:
//!
//! - the issuer Secret (`tls.crt`, `tls.key`, `ca.crt`), which every controller replica
//!   watches and puts in force within seconds (new leaves and bundle for every proxy);
//! - when the bundle changes: the trust-bundle ConfigMap in the controller's namespace (the
//!   controller copies the bundle into every meshed namespace itself) and the injector
//!   webhook's `caBundle` (the API server verifies the controller's serving certificate
//!   with it, and that certificate follows the issuer) — each object as `install` renders
//!   it, server-side applied with install's field manager;
//! - an anchor rotation's checkpoint: the ConfigMap `meshctl-rotation` in the controller's
//!   namespace (fingerprints only, no key), created when the rotation starts — so a second
//!   rotation cannot start beside it — replaced after every step, deleted when done.
//!
//! The gates read what every proxy reports through the controllers' `/status`. [`ClusterPlane`]
//! is the cluster as the rotation's plane (`control::rotation` runs the steps).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};

use super::apply::api_error;
use super::controller::issuer::{BUNDLE_KEY, CERT_KEY, KEY_KEY};
use super::controller::status::{ControllerStatus, ProxyStatus, merge};
use super::identity::Material;
use super::manifests::{issuer_secret, trust_bundle, webhook};
use super::mesh::{Cluster, MeshError, controller_status};
use super::{
    FIELD_MANAGER, ISSUER_SECRET, PART_OF, PART_OF_LABEL, TRUST_BUNDLE_CONFIGMAP,
    WEBHOOK_CONFIGURATION,
};
use crate::control::rotation::{CaPlane, POLL_INTERVAL, RunError};
use crate::duration::HumanDuration;
use crate::exit::CliError;
use crate::identity::pem;
use crate::identity::rotation::{CertView, Checkpoint, ProxyView};
use crate::identity::store::CaStore;

/// The ConfigMap holding an unfinished anchor rotation's checkpoint.
pub const CHECKPOINT_CONFIGMAP: &str = "meshctl-rotation";
/// Its key: the same JSON `.meshctl/rotation.json` holds for a local mesh.
pub const CHECKPOINT_KEY: &str = "rotation.json";

fn scope(ns: &str) -> String {
    format!("in namespace {ns}")
}

/// The issuer and bundle the cluster holds now (the Secret, key included: who rotates must
/// be able to read it). `trust_domain` is the CA's own.
pub async fn read_issuer(
    cluster: &Cluster,
    cns: &str,
    trust_domain: &str,
) -> Result<Material, MeshError> {
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), cns);
    let what = format!("reading Secret {cns}/{ISSUER_SECRET}");
    let found = secrets
        .get_opt(ISSUER_SECRET)
        .await
        .map_err(|e| api_error(e, &what, "get", "secrets", &scope(cns), &cluster.target))?;
    let secret = found.ok_or_else(|| {
        anyhow!(
            "{what}: it does not exist (is meshctl installed in namespace {cns}? `meshctl install`, --controller-namespace; {})",
            cluster.target
        )
    })?;
    let key = |name: &str| -> Result<String, MeshError> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(name))
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
            .ok_or_else(|| anyhow!("{what}: no `{name}` in it ({})", cluster.target).into())
    };
    Ok(Material {
        trust_domain: trust_domain.to_string(),
        issuer_cert_pem: key(CERT_KEY)?,
        issuer_key_pem: key(KEY_KEY)?,
        bundle_pem: key(BUNDLE_KEY)?,
    })
}

/// Writes `next` into the cluster, given what it holds now (`now`): the issuer Secret when
/// anything differs; the bundle ConfigMap and the webhook configuration (its `caBundle`)
/// when the bundle does. Each is server-side applied exactly as `install` renders it, with
/// install's field manager `meshctl`, forced: the fields stay owned by one apply, so a later
/// `install --apply` with the rotated CA directory changes nothing and conflicts with nothing.
pub async fn publish(
    cluster: &Cluster,
    cns: &str,
    now: &Material,
    next: &Material,
) -> Result<(), MeshError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    if now.bundle_pem != next.bundle_pem {
        // Trust first: the webhook and the ConfigMap must hold a new anchor before anything
        // is signed under it, and keep an old one until nothing is.
        let webhooks: Api<MutatingWebhookConfiguration> = Api::all(cluster.client.clone());
        let resource = "mutatingwebhookconfigurations.admissionregistration.k8s.io";
        let what = format!(
            "updating the caBundle of MutatingWebhookConfiguration {WEBHOOK_CONFIGURATION}"
        );
        let found = webhooks
            .get_opt(WEBHOOK_CONFIGURATION)
            .await
            .map_err(|e| api_error(e, &what, "get", resource, "(cluster-wide)", &cluster.target))?;
        match found {
            // A mesh whose pods are injected from manifests (`meshctl inject`) has no webhook.
            None => tracing::warn!(
                "no MutatingWebhookConfiguration {WEBHOOK_CONFIGURATION}: no injector caBundle to update"
            ),
            Some(_) => {
                let object = webhook(cns, &next.bundle_pem);
                webhooks
                    .patch(WEBHOOK_CONFIGURATION, &params, &Patch::Apply(&object))
                    .await
                    .map_err(|e| {
                        api_error(
                            e,
                            &what,
                            "patch",
                            resource,
                            "(cluster-wide)",
                            &cluster.target,
                        )
                    })?;
            }
        }
        let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), cns);
        let what = format!("applying ConfigMap {cns}/{TRUST_BUNDLE_CONFIGMAP}");
        maps.patch(
            TRUST_BUNDLE_CONFIGMAP,
            &params,
            &Patch::Apply(&trust_bundle(cns, &next.bundle_pem)),
        )
        .await
        .map_err(|e| {
            api_error(
                e,
                &what,
                "patch",
                "configmaps",
                &scope(cns),
                &cluster.target,
            )
        })?;
    }
    if now != next {
        let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), cns);
        let what = format!("applying Secret {cns}/{ISSUER_SECRET}");
        secrets
            .patch(
                ISSUER_SECRET,
                &params,
                &Patch::Apply(&issuer_secret(cns, next)),
            )
            .await
            .map_err(|e| api_error(e, &what, "patch", "secrets", &scope(cns), &cluster.target))?;
    }
    Ok(())
}

/// Every meshed pod's proxy as the gates see it (all namespaces: the whole mesh rotates),
/// from every controller replica, merged.
pub fn views(replicas: &[ControllerStatus]) -> Vec<ProxyView> {
    merge(replicas).into_iter().map(|m| view(m.proxy)).collect()
}

/// One pod's proxy as the rotation gates (and `certs status`) see it.
pub fn view(proxy: ProxyStatus) -> ProxyView {
    ProxyView {
        instance: proxy.instance,
        connected: proxy.connected,
        report: proxy.certificate.map(|c| CertView {
            serial: c.leaf_serial,
            not_after_unix: c.leaf_not_after_unix,
            issuer: c.issuer_fingerprint,
            bundle: c.bundle_fingerprints,
        }),
    }
}

/// The controller replicas that do not sign with the issuer `fingerprint` yet, each named
/// with why (the issuer it signs with, or why it refused the Secret).
pub fn replicas_behind(replicas: &[ControllerStatus], fingerprint: &str) -> Vec<String> {
    replicas
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let signs = pem::first_cert(&r.issuer_pem)
                .map(|der| pem::fingerprint(&der))
                .unwrap_or_default();
            if signs == fingerprint {
                return None;
            }
            let name = format!("controller replica {}", i + 1);
            Some(if !r.issuer_error.is_empty() {
                format!("{name} (refuses the issuer Secret: {})", r.issuer_error)
            } else if signs.is_empty() {
                format!("{name} (reports no issuer: a controller older than this CLI?)")
            } else {
                format!("{name} (still signs with {signs})")
            })
        })
        .collect()
}

fn checkpoints(cluster: &Cluster, cns: &str) -> Api<ConfigMap> {
    Api::namespaced(cluster.client.clone(), cns)
}

/// The unfinished anchor rotation recorded in the cluster, if any.
pub async fn load_checkpoint(
    cluster: &Cluster,
    cns: &str,
) -> Result<Option<Checkpoint>, MeshError> {
    let what = format!("reading ConfigMap {cns}/{CHECKPOINT_CONFIGMAP}");
    let found = checkpoints(cluster, cns)
        .get_opt(CHECKPOINT_CONFIGMAP)
        .await
        .map_err(|e| api_error(e, &what, "get", "configmaps", &scope(cns), &cluster.target))?;
    let Some(map) = found else {
        return Ok(None);
    };
    let text = map
        .data
        .as_ref()
        .and_then(|d| d.get(CHECKPOINT_KEY))
        .ok_or_else(|| anyhow!("{what}: no key {CHECKPOINT_KEY} (delete it to start over)"))?;
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| anyhow!("{what}: unreadable checkpoint: {e} (delete it to start over)").into())
}

/// Records `cp`: created when `first` (refused when a rotation is already recorded),
/// replaced otherwise; a finished rotation's record is deleted.
pub async fn save_checkpoint(
    cluster: &Cluster,
    cns: &str,
    cp: &Checkpoint,
    first: bool,
) -> Result<(), MeshError> {
    let api = checkpoints(cluster, cns);
    let name = CHECKPOINT_CONFIGMAP;
    if cp.step == crate::identity::rotation::Step::Done {
        let what = format!("deleting ConfigMap {cns}/{name}");
        return match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(api_error(
                e,
                &what,
                "delete",
                "configmaps",
                &scope(cns),
                &cluster.target,
            )
            .into()),
        };
    }
    let json = serde_json::to_string_pretty(cp).map_err(|e| anyhow!("{e}"))?;
    let map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(cns.to_string()),
            labels: Some(BTreeMap::from([(
                PART_OF_LABEL.to_string(),
                PART_OF.to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(CHECKPOINT_KEY.to_string(), json)])),
        ..Default::default()
    };
    let written = if first {
        api.create(&PostParams::default(), &map).await
    } else {
        api.replace(name, &PostParams::default(), &map).await
    };
    match written {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if first && s.code == 409 => Err(anyhow!(
            "an anchor rotation was started meanwhile (ConfigMap {cns}/{name} appeared): continue it with --resume"
        )
        .into()),
        Err(e) => {
            let (verb, what) = if first { ("create", "creating") } else { ("update", "updating") };
            let what = format!("{what} ConfigMap {cns}/{name}");
            Err(api_error(e, &what, verb, "configmaps", &scope(cns), &cluster.target).into())
        }
    }
}

/// A cluster being rotated: the controllers put the CA in force, and their `/status` says
/// what every meshed pod holds.
#[derive(Debug)]
pub struct ClusterPlane {
    cluster: Cluster,
    /// The controller's namespace (the issuer Secret, the checkpoint).
    cns: String,
    trust_domain: String,
}

impl ClusterPlane {
    /// Checks that the CA in `store` (from `dir`) is this mesh's — its anchor is in the
    /// cluster's bundle — before anything changes.
    pub async fn open(
        cluster: Cluster,
        cns: String,
        store: &CaStore,
        dir: &Path,
    ) -> Result<Self, RunError> {
        let meta = store.meta().context("reading the CA's trust domain")?;
        let plane = ClusterPlane {
            cluster,
            cns,
            trust_domain: meta.trust_domain,
        };
        let held = plane.held().await?;
        let anchor = store
            .anchor_fingerprint()
            .context("loading the trust anchor")?;
        let bundle: Vec<String> = pem::certs(&held.bundle_pem)
            .map(|ders| ders.iter().map(|d| pem::fingerprint(d)).collect())
            .unwrap_or_default();
        if !bundle.contains(&anchor) {
            return Err(RunError::Usage(format!(
                "the CA in {} is not this mesh's: its trust anchor {anchor} is not in the cluster's bundle (Secret {}/{}; {}); pass the --identity-dir `meshctl install` saved",
                dir.display(),
                plane.cns,
                ISSUER_SECRET,
                plane.cluster.target
            )));
        }
        Ok(plane)
    }

    /// What the cluster's issuer Secret holds now.
    async fn held(&self) -> Result<Material, RunError> {
        Ok(read_issuer(&self.cluster, &self.cns, &self.trust_domain).await?)
    }
}

impl CaPlane for ClusterPlane {
    async fn load_checkpoint(&self, _: &Path) -> Result<Option<Checkpoint>, RunError> {
        Ok(load_checkpoint(&self.cluster, &self.cns).await?)
    }

    async fn save_checkpoint(
        &self,
        _: &Path,
        cp: &Checkpoint,
        first: bool,
    ) -> Result<(), RunError> {
        Ok(save_checkpoint(&self.cluster, &self.cns, cp, first).await?)
    }

    async fn views(&mut self) -> Result<Option<Vec<ProxyView>>, RunError> {
        match controller_status(&self.cluster).await {
            Ok(replicas) if !replicas.is_empty() => Ok(Some(views(&replicas))),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::debug!(error = %CliError::from(e), "reading the controllers' status");
                Ok(None)
            }
        }
    }

    /// Writes the CA directory's issuer and bundle into the cluster; every controller replica
    /// must report signing with the new issuer within `timeout`.
    async fn reload(&mut self, store: &CaStore, timeout: Duration) -> Result<(), RunError> {
        let next = super::identity::from_store(store, Some(&self.trust_domain))
            .context("reading the CA directory")?;
        super::identity::check(&next, std::time::SystemTime::now()).context("the new issuer")?;
        let held = self.held().await?;
        publish(&self.cluster, &self.cns, &held, &next).await?;
        let fingerprint = store
            .issuer_fingerprint()
            .context("reading the new issuer")?;
        let start = Instant::now();
        loop {
            let behind = match controller_status(&self.cluster).await {
                Ok(replicas) if !replicas.is_empty() => replicas_behind(&replicas, &fingerprint),
                Ok(_) => vec!["no controller replica answers".to_string()],
                Err(e) => vec![CliError::from(e).to_string()],
            };
            if behind.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(RunError::Stalled(format!(
                    "the cluster holds the new CA (Secret {}/{}), but not every controller put it in force within {}: {}",
                    self.cns,
                    ISSUER_SECRET,
                    HumanDuration(timeout),
                    behind.join(", ")
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl From<MeshError> for RunError {
    fn from(e: MeshError) -> Self {
        match e {
            MeshError::Usage(m) => RunError::Usage(m),
            MeshError::Failed(e) => RunError::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests;
