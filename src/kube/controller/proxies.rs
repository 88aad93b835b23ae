//! The controller's `/stats` (admin listener): every selected meshed pod's sidecar `/stats`,
//! read by the controller from inside the cluster (pod IP, the sidecar's admin port) and
//! answered as one JSON document, so the CLI outside the cluster needs one request through
//! the API server (pods/proxy to a controller pod) instead of one per meshed pod, and needs
//! no route to pod IPs. A pod whose sidecar cannot be read is in the answer with the reason,
//! never left out: `meshctl stat` shows it as not reporting.
//!
//! Query: `GET /stats?window=SECS[&namespace=NS][&service=SVC][&version=V]` — the pods of
//! `service` (the Service selecting them), of `version`, in `namespace`; each filter absent
//! means all. Every replica sees every meshed pod, so any one replica answers for all.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalog::{Index, MeshedPod};
use crate::api::admin_http::AdminClient;
use crate::api::stats::StatsSnapshot;
use crate::kube::inject::SIDECAR_ADMIN_PORT;
use crate::policy::split::SplitWeights;

/// The longest window a caller may ask for (the proxies keep at most this much history).
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);
/// How long one sidecar may take to answer before it counts as not reporting.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(2);

/// Which proxies `/stats` reads, and over what window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsQuery {
    pub namespace: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
    pub window: Duration,
}

impl StatsQuery {
    /// Parses the query string of `/stats` (without the `?`); one line naming the bad
    /// parameter otherwise.
    pub fn parse(query: &str) -> Result<StatsQuery, String> {
        let mut q = StatsQuery::default();
        let mut window = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| format!("{key}: bad escape"))?;
            let slot = match key {
                "namespace" => &mut q.namespace,
                "service" => &mut q.service,
                "version" => &mut q.version,
                "window" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("window: `{value}` is not a number of seconds"))?;
                    let asked = Duration::from_secs(secs);
                    if asked.is_zero() || asked > MAX_WINDOW {
                        return Err(format!(
                            "window: {secs}s is outside 1s..={}s",
                            MAX_WINDOW.as_secs()
                        ));
                    }
                    window = Some(asked);
                    continue;
                }
                other => return Err(format!("unknown parameter `{other}`")),
            };
            if value.is_empty() {
                return Err(format!("{key}: empty"));
            }
            *slot = Some(value);
        }
        q.window = window.ok_or("window: missing (seconds)")?;
        Ok(q)
    }

    /// The query string [`StatsQuery::parse`] reads back.
    pub fn to_query(&self) -> String {
        let mut out = format!("window={}", self.window.as_secs().max(1));
        for (key, value) in [
            ("namespace", &self.namespace),
            ("service", &self.service),
            ("version", &self.version),
        ] {
            if let Some(v) = value {
                out.push_str(&format!("&{key}={}", percent_encode(v)));
            }
        }
        out
    }

    fn selects(&self, pod: &MeshedPod) -> bool {
        pod.live
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == pod.namespace)
            && self
                .service
                .as_ref()
                .is_none_or(|s| pod.service.as_ref() == Some(s))
            && self.version.as_ref().is_none_or(|v| *v == pod.version)
    }
}

/// What `GET /stats` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxiesStats {
    /// One per selected meshed pod, in `namespace/pod` order.
    pub proxies: Vec<ProxyStats>,
    /// The weights the controller serves for the selected services that have versions
    /// (from their HTTPRoutes, else the initial split), in `namespace/service` order.
    #[serde(default)]
    pub splits: Vec<ServiceSplit>,
}

/// One service's split as the controller serves it to the proxies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSplit {
    pub namespace: String,
    pub service: String,
    pub weights: SplitWeights,
}

/// One meshed pod's sidecar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProxyStats {
    /// `namespace/pod`.
    pub instance: String,
    /// The Service selecting it (`""`: none).
    pub service: String,
    /// `""`: unversioned.
    pub version: String,
    /// The identity its sidecar holds (what peers' statistics name it by).
    pub spiffe_id: String,
    /// Its `/stats`, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsSnapshot>,
    /// Why it could not be read (one line), when it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The port sidecars' admin listeners answer on in a pod.
pub const ADMIN_PORT: u16 = SIDECAR_ADMIN_PORT as u16;

/// The admin addresses (pod IP, `port`) of the pods `query` selects, with the pod (no
/// address: the pod has no IP yet).
pub fn targets<'a>(
    index: &'a Index,
    query: &StatsQuery,
    port: u16,
) -> Vec<(&'a MeshedPod, Option<SocketAddr>)> {
    index
        .pods
        .values()
        .filter(|p| query.selects(p))
        .map(|p| (p, p.ip.map(|ip| SocketAddr::new(ip, port))))
        .collect()
}

/// Reads every selected sidecar's `/stats` (admin listener on `port`: [`ADMIN_PORT`]) at
/// once.
pub async fn collect(
    index: &Index,
    query: &StatsQuery,
    client: &AdminClient,
    port: u16,
) -> ProxiesStats {
    let reads = targets(index, query, port).into_iter().map(|(pod, addr)| {
        let window = query.window;
        async move {
            let mut out = ProxyStats {
                instance: pod.instance(),
                service: pod.service.clone().unwrap_or_default(),
                version: pod.version.clone(),
                spiffe_id: pod.spiffe_id.clone(),
                ..ProxyStats::default()
            };
            let read = match addr {
                None => Err("no pod IP yet (not running)".to_string()),
                Some(addr) => match AdminClient::local_base(addr) {
                    Ok(base) => client.stats(&base, window).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
            };
            match read {
                Ok(stats) => out.stats = Some(stats),
                Err(e) => out.error = Some(e),
            }
            out
        }
    });
    let mut splits: Vec<ServiceSplit> = index
        .splits
        .iter()
        .filter(|((ns, service), weights)| {
            weights.0.len() > 1
                && query.namespace.as_ref().is_none_or(|n| n == ns)
                && query.service.as_ref().is_none_or(|s| s == service)
        })
        .map(|((namespace, service), weights)| ServiceSplit {
            namespace: namespace.clone(),
            service: service.clone(),
            weights: weights.clone(),
        })
        .collect();
    splits.sort_by(|a, b| (&a.namespace, &a.service).cmp(&(&b.namespace, &b.service)));
    ProxiesStats {
        proxies: futures_util::future::join_all(reads).await,
        splits,
    }
}

pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) use crate::policy::normalize::decode_form_value as percent_decode;

#[cfg(test)]
mod tests;
