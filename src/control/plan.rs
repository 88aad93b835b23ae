//! The plan of a running local mesh: every proxy, its identity, token hash, ports and upstreams.
//!
//! `meshctl up` computes it from mesh.yaml (allocating ports), writes it to
//! `.meshctl/run/plan.json`, and the control plane serves configuration from it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::meshfile::ServicePolicy;

/// Where the plan lives inside the state dir.
pub const PLAN_FILE: &str = "run/plan.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshPlan {
    pub trust_domain: String,
    /// The control plane's Unix socket.
    pub control_socket: PathBuf,
    /// SHA-256 (hex) of the admin token the CLI presents.
    pub admin_token_sha256: String,
    pub proxies: Vec<ProxyPlan>,
    /// Destination service → its traffic policy (`policy` in mesh.yaml), when it has one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, ServicePolicy>,
}

/// One proxy: the sidecar of one instance (a service, or one version of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyPlan {
    /// Instance name: `web`, or `api.v2` for a version.
    pub name: String,
    pub service: String,
    pub version: Option<String>,
    pub spiffe_id: String,
    /// SHA-256 (hex) of this proxy's bootstrap token.
    pub token_sha256: String,
    /// mTLS listener other proxies connect to.
    pub inbound: SocketAddr,
    /// The app behind this proxy.
    pub app: SocketAddr,
    /// `http`, `grpc`, `tcp`, or none (detect).
    pub protocol: Option<String>,
    /// Admin listener (/metrics, /ready, /live).
    pub admin: SocketAddr,
    /// Outbound HTTP proxy listener (what `HTTP_PROXY` points the app at).
    pub http_proxy: SocketAddr,
    /// Tap API listener (loopback gRPC, `meshctl tap`; the admin token as bearer).
    pub tap: SocketAddr,
    pub upstreams: Vec<UpstreamPlan>,
    /// Worker threads (`--workers`); absent: the proxy's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

#[cfg(test)]
impl ProxyPlan {
    /// A proxy of `service` (identity `spiffe://t/ns/local/sa/SERVICE`) on fixed loopback
    /// ports, for tests that only read a plan.
    pub fn for_test(name: &str, service: &str, version: Option<&str>) -> ProxyPlan {
        ProxyPlan {
            name: name.into(),
            service: service.into(),
            version: version.map(Into::into),
            spiffe_id: format!("spiffe://t/ns/local/sa/{service}"),
            token_sha256: String::new(),
            inbound: "127.0.0.1:1".parse().unwrap(),
            app: "127.0.0.1:2".parse().unwrap(),
            protocol: None,
            admin: "127.0.0.1:3".parse().unwrap(),
            http_proxy: "127.0.0.1:4".parse().unwrap(),
            tap: "127.0.0.1:5".parse().unwrap(),
            upstreams: vec![],
            workers: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamPlan {
    pub service: String,
    /// Loopback listener on the caller's proxy for this upstream.
    pub listen: SocketAddr,
}

impl MeshPlan {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(PLAN_FILE)
    }

    pub fn load(state_dir: &Path) -> Result<Self, PlanError> {
        let path = Self::path(state_dir);
        let text = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PlanError::NotRunning(state_dir.to_path_buf()),
            _ => PlanError::Io(path.clone(), e),
        })?;
        serde_json::from_slice(&text).map_err(|e| PlanError::Corrupt(path, e.to_string()))
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), PlanError> {
        let path = Self::path(state_dir);
        if let Some(dir) = path.parent() {
            crate::fsutil::create_private_dir(dir)
                .map_err(|e| PlanError::Io(dir.to_path_buf(), e))?;
        }
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| PlanError::Corrupt(path.clone(), e.to_string()))?;
        crate::fsutil::write_atomic(&path, &body, crate::fsutil::PRIVATE_FILE_MODE)
            .map_err(|e| PlanError::Io(path, e))
    }

    /// The versions of `service`, sorted; empty when the service is unknown, `[""]` for a
    /// service without versions.
    pub fn versions(&self, service: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .proxies
            .iter()
            .filter(|p| p.service == service)
            .map(|p| p.version.clone().unwrap_or_default())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether `service` is declared `protocol: tcp` (opaque: no HTTP requests to act on).
    pub fn is_opaque_tcp(&self, service: &str) -> bool {
        let mut proxies = self
            .proxies
            .iter()
            .filter(|p| p.service == service)
            .peekable();
        proxies.peek().is_some() && proxies.all(|p| p.protocol.as_deref() == Some("tcp"))
    }

    /// Whether any proxy has `service` as an upstream (a pure client, like the demo's load
    /// generator, is called by nobody and serves nothing).
    pub fn is_called(&self, service: &str) -> bool {
        self.proxies
            .iter()
            .any(|q| q.upstreams.iter().any(|u| u.service == service))
    }

    /// Every service some proxy has as an upstream ([`MeshPlan::is_called`] for them all).
    pub fn called_services(&self) -> std::collections::HashSet<&str> {
        (self.proxies.iter())
            .flat_map(|p| p.upstreams.iter().map(|u| u.service.as_str()))
            .collect()
    }

    pub fn services(&self) -> Vec<String> {
        let mut s: Vec<String> = self.proxies.iter().map(|p| p.service.clone()).collect();
        s.sort();
        s.dedup();
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no mesh is running from {} (start one with `meshctl up`)", .0.display())]
    NotRunning(PathBuf),
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{path}: corrupt plan: {why}", path = .0.display(), why = .1)]
    Corrupt(PathBuf, String),
}

impl From<crate::api::token::NoRandomness> for PlanError {
    fn from(_: crate::api::token::NoRandomness) -> Self {
        PlanError::Corrupt(PathBuf::from("/dev/urandom"), "no system randomness".into())
    }
}
