//! The reflectors behind the Kubernetes backend: one watch per kind, no polling. Every change
//! wakes one refresher, which rebuilds the index, reports new problems and announces a new
//! configuration version (changes arriving together are folded into one).

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::super::{FAULTS_CONFIGMAP, POLICY_CONFIGMAP, SIDECAR_LABEL};
use super::Stores;

/// Changes closer together than this are folded into one rebuild and one new version.
pub const COALESCE: Duration = Duration::from_millis(50);

/// Starts a reflector for `api`; `changed` is notified on every change after the first list.
pub(super) fn reflect<K>(api: Api<K>, config: watcher::Config, changed: Arc<Notify>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&K::DynamicType::default()).to_string();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut failing = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))
                | Ok(watcher::Event::InitDone) => {
                    if failing {
                        tracing::info!(%kind, "watch resumed");
                        failing = false;
                    }
                    changed.notify_one();
                }
                Ok(_) => {}
                Err(e) => {
                    // The watcher backs off and resumes by itself; what the proxies run
                    // meanwhile is the last configuration built.
                    if !failing {
                        tracing::warn!(%kind, error = %e, "watch failed; retrying with backoff");
                        failing = true;
                    }
                }
            }
        }
    });
    reader
}

/// Watches everything the mesh is made of, cluster-wide. HTTPRoutes are watched only when
/// the API server serves them (the Gateway API CRDs may be absent: splits then stay at their
/// defaults, which is said once in the log).
pub async fn start(client: &Client, changed: Arc<Notify>) -> Stores {
    let pods = reflect(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default().labels(SIDECAR_LABEL),
        changed.clone(),
    );
    let services = reflect(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
    );
    let slices = reflect(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
    );
    let policies = reflect(
        Api::<ConfigMap>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={POLICY_CONFIGMAP}")),
        changed.clone(),
    );
    // A second reflector: a field selector names one object, and RBAC allows these two
    // ConfigMap names only.
    let faults = reflect(
        Api::<ConfigMap>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={FAULTS_CONFIGMAP}")),
        changed.clone(),
    );
    let route_api = Api::<HttpRoute>::all(client.clone());
    let routes = match route_api.list(&ListParams::default().limit(1)).await {
        Err(kube::Error::Api(e)) if e.code == 404 => {
            tracing::warn!(
                "the API server has no HTTPRoute resource (Gateway API CRDs not installed): every service keeps its default split"
            );
            None
        }
        _ => Some(reflect(route_api, watcher::Config::default(), changed)),
    };
    Stores {
        pods,
        services,
        slices,
        routes,
        policies,
        faults,
    }
}

impl Stores {
    /// Resolves once every store has its first full list.
    pub async fn ready(&self) {
        let _ = self.pods.wait_until_ready().await;
        let _ = self.services.wait_until_ready().await;
        let _ = self.slices.wait_until_ready().await;
        let _ = self.policies.wait_until_ready().await;
        let _ = self.faults.wait_until_ready().await;
        if let Some(routes) = &self.routes {
            let _ = routes.wait_until_ready().await;
        }
    }
}
