//! The mesh the observe commands read (`stat`, `edges`, `tap`, `top`): a local mesh's
//! proxies, or a cluster's meshed pods (their sidecars read by the controller inside the
//! cluster, one request through the API server); one reading of every proxy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::fetch;
use super::fleet::{Fleet, Member};
use crate::api::stats::StatsSnapshot;
use crate::control::backend::read_splits;
use crate::control::plan::MeshPlan;
use crate::kube::controller::proxies::{ProxiesStats, StatsQuery};
use crate::kube::mesh::{self, Cluster, MeshError};
use crate::policy::split::SplitWeights;

/// Shortest window: below it a handful of requests swings every figure (also what `tap` and
/// `top` read to learn the fleet).
pub const MIN_WINDOW: Duration = Duration::from_secs(10);

/// The mesh `stat`, `edges`, `tap` and `top` read: the local mesh's proxies, or a cluster's meshed pods
/// (their sidecars read by the controller inside the cluster, one request through the API
/// server).
#[derive(Debug)]
pub enum Mesh {
    Local { state: PathBuf, plan: MeshPlan },
    Kubernetes(Box<Cluster>),
}

/// One reading of every proxy of the mesh.
#[derive(Debug)]
pub struct Reading {
    pub fleet: Fleet,
    /// `snapshots[i]` is what `fleet.members[i]` answered (`None`: not reporting).
    pub snapshots: Vec<Option<StatsSnapshot>>,
    /// Configured weights per service with versions.
    pub splits: BTreeMap<String, SplitWeights>,
}

impl Mesh {
    /// Where services are looked up, for usage errors (` in namespace NS`, or nothing).
    pub fn scope(&self) -> String {
        match self {
            Mesh::Local { .. } => String::new(),
            Mesh::Kubernetes(c) => format!(" in namespace {}", c.namespace),
        }
    }

    /// Every proxy's statistics over `window`, and the configured splits.
    pub async fn read(&self, window: Duration) -> Result<Reading, MeshError> {
        match self {
            Mesh::Local { state, plan } => Ok(Reading {
                fleet: Fleet::from_plan(plan),
                snapshots: snapshots(plan, window).await,
                splits: read_splits(state).map_err(|e| MeshError::Failed(anyhow::Error::new(e)))?,
            }),
            Mesh::Kubernetes(cluster) => {
                let query = StatsQuery {
                    namespace: Some(cluster.namespace.clone()),
                    service: None,
                    version: None,
                    window,
                };
                let answer = mesh::proxy_stats(cluster, &query).await?;
                Ok(cluster_reading(answer))
            }
        }
    }
}

/// A cluster's answer as a reading. A pod no Service selects is named by its service
/// account (what its identity says), so it still shows and still names its calls.
fn cluster_reading(answer: ProxiesStats) -> Reading {
    let mut fleet = Fleet::default();
    let mut snapshots = Vec::with_capacity(answer.proxies.len());
    for p in answer.proxies {
        if let Some(e) = &p.error {
            tracing::info!(instance = %p.instance, error = %e, "proxy not reporting");
        }
        let service = if p.service.is_empty() {
            p.spiffe_id
                .rsplit_once("/sa/")
                .map_or_else(|| p.instance.clone(), |(_, sa)| sa.to_string())
        } else {
            p.service
        };
        fleet.members.push(Member {
            instance: p.instance,
            service,
            version: (!p.version.is_empty()).then_some(p.version),
            spiffe_id: p.spiffe_id,
        });
        snapshots.push(p.stats);
    }
    let splits = answer
        .splits
        .into_iter()
        .map(|s| (s.service, s.weights))
        .collect();
    Reading {
        fleet,
        snapshots,
        splits,
    }
}

/// Every proxy's snapshot, `None` for those that did not answer (they show in MESHED).
pub async fn snapshots(plan: &MeshPlan, window: Duration) -> Vec<Option<StatsSnapshot>> {
    fetch::all(plan, window)
        .await
        .into_iter()
        .map(|r| {
            r.map_err(|e| tracing::info!(error = %e, "proxy not reporting"))
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::stat::StatQuery;

    #[test]
    fn a_clusters_answer_names_every_pod_even_those_not_reporting() {
        use crate::kube::controller::proxies::{ProxyStats, ServiceSplit};
        let pod = |instance: &str, service: &str, version: &str, sa: &str| ProxyStats {
            instance: instance.into(),
            service: service.into(),
            version: version.into(),
            spiffe_id: format!("spiffe://mesh.local/ns/shop/sa/{sa}"),
            stats: Some(StatsSnapshot::default()),
            error: None,
        };
        let answer = ProxiesStats {
            proxies: vec![
                pod("shop/api-v1-0", "api", "v1", "api"),
                ProxyStats {
                    stats: None,
                    error: Some("connection refused".into()),
                    ..pod("shop/api-v2-0", "api", "v2", "api")
                },
                // No Service selects it: named by its service account.
                pod("shop/loadgen-0", "", "", "loadgen"),
            ],
            splits: vec![ServiceSplit {
                namespace: "shop".into(),
                service: "api".into(),
                weights: SplitWeights([("v1".to_string(), 90), ("v2".to_string(), 10)].into()),
            }],
        };
        let r = cluster_reading(answer);
        assert_eq!(r.fleet.services(), ["api", "loadgen"]);
        assert_eq!(r.fleet.versions("api"), ["v1", "v2"]);
        assert_eq!(r.fleet.versions("loadgen"), [""]);
        assert_eq!(r.snapshots.len(), 3, "one snapshot slot per pod");
        assert!(
            r.snapshots[1].is_none(),
            "the unreachable pod is not reporting"
        );
        assert_eq!(r.splits["api"].weight("v2"), 10);
        let rows =
            crate::observe::stat::rows(&r.fleet, &r.snapshots, &r.splits, &StatQuery::default());
        assert_eq!(rows[0].meshed.reporting, 1);
        assert_eq!(rows[0].meshed.proxies, 2);
        assert_eq!(rows[0].versions[1].weight, Some(10));
    }
}
