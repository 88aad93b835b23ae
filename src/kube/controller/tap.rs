//! The controller's `/tap` (admin listener): the live tap of every selected meshed pod's
//! sidecar, merged and streamed to one caller as NDJSON, so `meshctl tap` and `top` outside
//! the cluster make one streaming request through the API server (pods/proxy to a controller
//! pod) and need neither routes to pod IPs nor a credential for each sidecar.
//!
//! - **Who may tap**: the caller presents the token of the Secret `meshctl-tap` in the
//!   controller's namespace (header `x-meshctl-tap-token`; the API server strips
//!   `Authorization` before proxying). The Secret is read again for every request and the
//!   token compared in constant time; the controller creates it at start when missing.
//! - **Controller → sidecar**: the tap listener on the pod IP ([`TAP_PORT`]), mutual TLS 1.3:
//!   the controller presents a leaf it issues itself from the mesh issuer for its own SPIFFE
//!   ID (`spiffe://<td>/ns/<controller namespace>/sa/meshctl-controller`, the one identity
//!   injected sidecars accept) and requires the sidecar to present the pod's SPIFFE ID.
//! - **Answer**: one line per event (`pod` `namespace/pod`, `service`, `version`, `address`,
//!   `event`: [`TapEventJson`]); a pod that cannot be tapped (no IP yet, refused, gone
//!   silent, its stream broken) gets one line with `error` instead — never left out. The
//!   stream ends when the caller goes away (every sidecar stream is then closed).
//!
//! Query: `GET /tap?[namespace=NS][&service=SVC][&version=V][&max_rps=N][&method=M]
//! [&path=PREFIX][&authority=A][&to=SVC][&body=BYTES]` — the selection as for `/stats`, the
//! rest the sidecars' own filters (`to`: a service of the namespace, resolved here to its
//! pods' SPIFFE IDs).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::catalog::Index;
use super::proxies::{self, StatsQuery, percent_decode, percent_encode};
use crate::api::proto::tap::{self as pb, tap_client::TapClient};
use crate::api::tap::{MAX_BODY_CAPTURE, TapEventJson};
use crate::identity::ca::{SigningCa, issue_with_new_key};
use crate::identity::{SpiffeId, TrustBundle, WorkloadIdentity};
use crate::kube::inject::SIDECAR_TAP_PORT;
use crate::kube::{
    CONTROLLER_NAME, FIELD_MANAGER, PART_OF, PART_OF_LABEL, TAP_TOKEN_KEY, TAP_TOKEN_SECRET,
};

/// The port of the sidecars' tap listeners.
pub const TAP_PORT: u16 = SIDECAR_TAP_PORT as u16;
/// The request header carrying the tap token.
pub const TAP_TOKEN_HEADER: &str = "x-meshctl-tap-token";
/// Events per second each sidecar sends when the caller names no cap.
pub const DEFAULT_MAX_RPS: u32 = 100;
/// How long one sidecar may take to open its tap before it counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The controller's client leaf: issued per `/tap` request (it only has to be valid at the
/// handshakes, which happen at once).
pub const CLIENT_LEAF_LIFETIME: Duration = Duration::from_secs(3600);
/// Lines buffered towards a slow caller; beyond that the sidecar streams wait (and their
/// own buffers drop events, as for any slow watcher).
const LINE_BUFFER: usize = 1024;

/// What `/tap` selects and asks the sidecars for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapQuery {
    pub namespace: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
    pub max_rps: Option<u32>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    /// Only requests to this service (of the namespace).
    pub to: Option<String>,
    /// Body bytes per request and direction (0: none).
    pub body: Option<u32>,
}

/// One NDJSON line of `/tap`: an event of a pod's sidecar, or why that pod is not tapped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TapLine {
    /// `namespace/pod`.
    pub pod: String,
    /// The Service selecting it (`""`: none).
    pub service: String,
    /// `""`: unversioned.
    pub version: String,
    /// Its tap listener, when it has a pod IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<SocketAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<TapEventJson>,
    /// Why this pod is not (or no longer) tapped; one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TapQuery {
    /// Parses the query string of `/tap` (without the `?`); one line naming the bad
    /// parameter otherwise.
    pub fn parse(query: &str) -> Result<TapQuery, String> {
        let mut q = TapQuery::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| format!("{key}: bad escape"))?;
            if value.is_empty() {
                return Err(format!("{key}: empty"));
            }
            let number = |value: &str| {
                value
                    .parse::<u32>()
                    .map_err(|_| format!("{key}: `{value}` is not a number"))
            };
            match key {
                "namespace" => q.namespace = Some(value),
                "service" => q.service = Some(value),
                "version" => q.version = Some(value),
                "method" => q.method = Some(value),
                "path" => q.path = Some(value),
                "authority" => q.authority = Some(value),
                "to" => q.to = Some(value),
                "max_rps" => match number(&value)? {
                    0 => return Err("max_rps: 0 would send nothing".into()),
                    n => q.max_rps = Some(n),
                },
                "body" => match number(&value)? {
                    n if n as usize > MAX_BODY_CAPTURE => {
                        return Err(format!("body: {n} is over {MAX_BODY_CAPTURE} bytes"));
                    }
                    n => q.body = Some(n),
                },
                other => return Err(format!("unknown parameter `{other}`")),
            }
        }
        Ok(q)
    }

    /// The query string [`TapQuery::parse`] reads back.
    pub fn to_query(&self) -> String {
        let numbers = [("max_rps", self.max_rps), ("body", self.body)];
        let mut parts: Vec<String> = [
            ("namespace", &self.namespace),
            ("service", &self.service),
            ("version", &self.version),
            ("method", &self.method),
            ("path", &self.path),
            ("authority", &self.authority),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", percent_encode(v))))
        .collect();
        parts.extend(
            numbers
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}"))),
        );
        parts.join("&")
    }

    fn selection(&self) -> StatsQuery {
        StatsQuery {
            namespace: self.namespace.clone(),
            service: self.service.clone(),
            version: self.version.clone(),
            window: Duration::ZERO,
        }
    }

    /// The sidecars' filter; `to` resolved to the SPIFFE IDs of that service's pods.
    fn watch_request(&self, index: &Index) -> Result<pb::WatchRequest, String> {
        let destination_ids = match &self.to {
            None => Vec::new(),
            Some(to) => {
                let mut ids: Vec<String> = index
                    .pods
                    .values()
                    .filter(|p| {
                        p.service.as_ref() == Some(to)
                            && self.namespace.as_ref().is_none_or(|ns| *ns == p.namespace)
                    })
                    .map(|p| p.spiffe_id.clone())
                    .collect();
                if ids.is_empty() {
                    return Err(format!("to: no meshed pod of service `{to}`"));
                }
                ids.sort();
                ids.dedup();
                ids
            }
        };
        Ok(pb::WatchRequest {
            method: self.method.clone().unwrap_or_default(),
            path_prefix: self.path.clone().unwrap_or_default(),
            authority: self.authority.clone().unwrap_or_default(),
            destination_ids,
            max_rps: self.max_rps.unwrap_or(DEFAULT_MAX_RPS),
            body_bytes: self.body.unwrap_or(0),
        })
    }
}

/// Whether `given` is the tap token `expected`: compared in constant time (over their
/// SHA-256, so the length leaks nothing either).
pub fn token_matches(expected: &str, given: &str) -> bool {
    let a = crate::api::token::token_hash(expected.trim());
    let b = crate::api::token::token_hash(given.trim());
    !expected.trim().is_empty()
        && a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token of the Secret `meshctl-tap` in `namespace`, read now.
pub async fn read_token(client: &Client, namespace: &str) -> Result<String, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get_opt(TAP_TOKEN_SECRET)
        .await
        .map_err(|e| format!("reading Secret {namespace}/{TAP_TOKEN_SECRET}: {e}"))?
        .ok_or_else(|| format!("Secret {namespace}/{TAP_TOKEN_SECRET} does not exist"))?;
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(TAP_TOKEN_KEY))
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.trim().to_string())
        .ok_or_else(|| format!("Secret {namespace}/{TAP_TOKEN_SECRET} has no `{TAP_TOKEN_KEY}`"))
}

/// Creates the Secret `meshctl-tap` with a new random token when it does not exist (a
/// present one is never replaced: operators may hold its token). Created by server-side
/// apply, which RBAC authorises as `create` with the name (a POST could not be limited to
/// one name).
pub async fn ensure_token(client: &Client, namespace: &str) -> Result<(), String> {
    if read_token(client, namespace).await.is_ok() {
        return Ok(());
    }
    let token = crate::api::token::new_token().map_err(|e| e.to_string())?;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": TAP_TOKEN_SECRET,
            "namespace": namespace,
            "labels": {PART_OF_LABEL: PART_OF},
        },
        "stringData": {TAP_TOKEN_KEY: token},
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    secrets
        .patch(
            TAP_TOKEN_SECRET,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&secret),
        )
        .await
        .map_err(|e| format!("creating Secret {namespace}/{TAP_TOKEN_SECRET}: {e}"))?;
    Ok(())
}

/// What the controller taps sidecars with: the mesh issuer it holds, to issue itself a
/// client leaf for its own identity.
pub struct TapAuthority {
    issuer: SigningCa,
    /// The issuer's certificate (and chain), appended to each leaf.
    issuer_chain_pem: String,
    bundle: Arc<TrustBundle>,
    id: SpiffeId,
}

impl std::fmt::Debug for TapAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapAuthority")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl TapAuthority {
    /// The controller of `namespace` in `trust_domain` (the identity injection names in
    /// `--tap-client`).
    pub fn new(
        issuer: SigningCa,
        issuer_chain_pem: String,
        bundle_pem: &str,
        trust_domain: &str,
        namespace: &str,
    ) -> anyhow::Result<Self> {
        Ok(TapAuthority {
            issuer,
            issuer_chain_pem,
            bundle: Arc::new(TrustBundle::from_pem(bundle_pem)?),
            id: SpiffeId::for_workload(trust_domain, namespace, CONTROLLER_NAME)?,
        })
    }

    /// A fresh leaf and key for the controller's identity.
    fn client_identity(&self) -> Result<WorkloadIdentity, String> {
        let lifetime = CLIENT_LEAF_LIFETIME.min(
            self.issuer
                .not_after()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(Duration::from_secs(60)),
        );
        let leaf = issue_with_new_key(&self.issuer, &self.id, lifetime)
            .map_err(|e| format!("issuing the controller's tap certificate: {e}"))?;
        let chain = format!("{}{}", leaf.cert_pem, self.issuer_chain_pem);
        WorkloadIdentity::from_parts(&chain, &leaf.key_pem, self.bundle.clone())
            .map_err(|e| format!("the controller's tap certificate: {e}"))
    }
}

/// Opens the tap of every pod `query` selects (sidecars on `port`: [`TAP_PORT`]) and merges
/// them into the returned channel. `Err` (one line naming the parameter) when the query
/// cannot be served: nothing selected, an unknown `to`.
pub fn start(
    index: &Index,
    query: &TapQuery,
    authority: &TapAuthority,
    port: u16,
) -> Result<mpsc::Receiver<TapLine>, String> {
    let request = query.watch_request(index)?;
    let targets = proxies::targets(index, &query.selection(), port);
    if targets.is_empty() {
        return Err("no meshed pod matches (namespace, service, version)".into());
    }
    let identity = authority.client_identity()?;
    let (tx, rx) = mpsc::channel(LINE_BUFFER);
    let mut configs: BTreeMap<String, Result<Arc<rustls::ClientConfig>, String>> = BTreeMap::new();
    for (pod, addr) in targets {
        let head = TapLine {
            pod: pod.instance(),
            service: pod.service.clone().unwrap_or_default(),
            version: pod.version.clone(),
            address: addr,
            ..TapLine::default()
        };
        let config = configs
            .entry(pod.spiffe_id.clone())
            .or_insert_with(|| {
                let expected: SpiffeId = pod
                    .spiffe_id
                    .parse()
                    .map_err(|e| format!("no usable identity for the pod: {e}"))?;
                identity
                    .client_config(expected, &[b"h2"])
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone();
        tokio::spawn(follow(head, addr, config, request.clone(), tx.clone()));
    }
    Ok(rx)
}

/// One sidecar's tap, as lines on `tx`, until it ends or the caller goes away.
async fn follow(
    head: TapLine,
    addr: Option<SocketAddr>,
    config: Result<Arc<rustls::ClientConfig>, String>,
    request: pb::WatchRequest,
    tx: mpsc::Sender<TapLine>,
) {
    let failed = |why: String| TapLine {
        error: Some(why),
        ..head.clone()
    };
    let (addr, config) = match (addr, config) {
        (None, _) => {
            let _ = tx.send(failed("no pod IP yet (not running)".into())).await;
            return;
        }
        (_, Err(e)) => {
            let _ = tx.send(failed(e)).await;
            return;
        }
        (Some(addr), Ok(config)) => (addr, config),
    };
    let channel = crate::api::transport::mesh_channel(addr, config, CONNECT_TIMEOUT);
    let mut client = TapClient::new(channel);
    let opened = tokio::select! {
        opened = tokio::time::timeout(CONNECT_TIMEOUT, client.watch(request)) => opened,
        _ = tx.closed() => return,
    };
    let mut stream = match opened {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => {
            let why = format!("the tap at {addr} refused: {}", status_line(&status));
            let _ = tx.send(failed(why)).await;
            return;
        }
        Err(_) => {
            let why = format!("the tap at {addr} did not answer within {CONNECT_TIMEOUT:?}");
            let _ = tx.send(failed(why)).await;
            return;
        }
    };
    loop {
        let next = tokio::select! {
            next = stream.message() => next,
            _ = tx.closed() => return,
        };
        let line = match next {
            Ok(Some(event)) => TapLine {
                event: Some(TapEventJson::from(event)),
                ..head.clone()
            },
            Ok(None) => failed(format!("the tap at {addr} ended")),
            Err(status) => failed(format!(
                "the tap at {addr} failed: {}",
                status_line(&status)
            )),
        };
        let last = line.error.is_some();
        if tx.send(line).await.is_err() || last {
            return;
        }
    }
}

fn status_line(status: &tonic::Status) -> String {
    use std::error::Error as _;
    let mut text = format!("{} ({:?})", status.message(), status.code());
    let mut source = status.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests;
