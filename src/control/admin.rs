//! The CLI's handle on a running local mesh: its plan, admin token and admin gRPC client.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::plan::{MeshPlan, PlanError};
use crate::api::proto::control as pb;
use crate::api::transport::{authed, channel};
use crate::identity::rotation::{CertView, ProxyView};

/// The admin token file inside the state dir (0600).
pub const ADMIN_TOKEN_FILE: &str = "run/admin.token";

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{}: {source}", path.display())]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the control plane at {} did not answer: {status} (is `meshctl up` still running?)", socket.display())]
    Unreachable { socket: PathBuf, status: String },
    #[error(
        "the control plane at {} did not answer within {after:?} (stopped or overloaded? \
         try `meshctl status`, or restart the mesh with `meshctl down` and `meshctl up`; \
         --request-timeout sets the deadline)",
        socket.display()
    )]
    NoAnswer { socket: PathBuf, after: Duration },
    #[error("control plane refused: {0}")]
    Refused(String),
    #[error("timed out after {waited:?}: {pending}")]
    Timeout { waited: Duration, pending: String },
}

/// A connected admin session.
#[derive(Debug)]
pub struct MeshAdmin {
    pub plan: MeshPlan,
    client: pb::admin_client::AdminClient<tonic::transport::Channel>,
    token: String,
    request_timeout: Duration,
}

impl MeshAdmin {
    /// Loads the plan and admin token of the mesh running from `state_dir`; every call then
    /// waits at most `request_timeout` for its answer.
    pub fn open(state_dir: &Path, request_timeout: Duration) -> Result<Self, AdminError> {
        let plan = MeshPlan::load(state_dir)?;
        let path = state_dir.join(ADMIN_TOKEN_FILE);
        let token =
            std::fs::read_to_string(&path).map_err(|source| AdminError::Token { path, source })?;
        let channel = channel(&plan.control_socket, Some(request_timeout));
        let client = pb::admin_client::AdminClient::new(channel);
        Ok(MeshAdmin {
            plan,
            client,
            token: token.trim().to_string(),
            request_timeout,
        })
    }

    fn map(&self, s: tonic::Status) -> AdminError {
        match s.code() {
            // tonic answers an expired request deadline with `Cancelled`.
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded => AdminError::NoAnswer {
                socket: self.plan.control_socket.clone(),
                after: self.request_timeout,
            },
            tonic::Code::Unavailable | tonic::Code::Unknown => AdminError::Unreachable {
                socket: self.plan.control_socket.clone(),
                status: s.message().to_string(),
            },
            _ => AdminError::Refused(s.message().to_string()),
        }
    }

    pub async fn status(&mut self) -> Result<pb::StatusResponse, AdminError> {
        let req = authed(pb::StatusRequest {}, &self.token);
        match self.client.status(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.map(s)),
        }
    }

    pub async fn set_split(
        &mut self,
        service: &str,
        weights: &crate::policy::split::SplitWeights,
    ) -> Result<u64, AdminError> {
        let req = authed(
            pb::SetSplitRequest {
                service: service.to_string(),
                weights: weights.0.clone().into_iter().collect(),
            },
            &self.token,
        );
        match self.client.set_split(req).await {
            Ok(r) => Ok(r.into_inner().version),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Sends requests carrying `name: value` to `version` of `service` until cleared.
    pub async fn set_canary_route(
        &mut self,
        service: &str,
        version: &str,
        name: &str,
        value: &str,
    ) -> Result<u64, AdminError> {
        let req = authed(
            pb::CanaryRouteRequest {
                service: service.to_string(),
                version: version.to_string(),
                header: Some(pb::HeaderMatch {
                    name: name.to_string(),
                    value: value.to_string(),
                }),
            },
            &self.token,
        );
        match self.client.set_canary_route(req).await {
            Ok(r) => Ok(r.into_inner().version),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Removes `service`'s canary route (none is fine).
    pub async fn clear_canary_route(&mut self, service: &str) -> Result<u64, AdminError> {
        let req = authed(
            pb::CanaryClearRequest {
                service: service.to_string(),
            },
            &self.token,
        );
        match self.client.clear_canary_route(req).await {
            Ok(r) => Ok(r.into_inner().version),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Every proxy in the plan with the certificate state it last reported.
    pub async fn proxy_views(&mut self) -> Result<Vec<ProxyView>, AdminError> {
        Ok(self
            .status()
            .await?
            .proxies
            .into_iter()
            .map(|p| ProxyView {
                instance: p.instance,
                connected: p.connected,
                report: p.certificate.map(|c| CertView {
                    serial: c.leaf_serial,
                    not_after_unix: c.leaf_not_after_unix,
                    issuer: c.issuer_fingerprint,
                    bundle: c.bundle_fingerprints,
                }),
            })
            .collect())
    }

    /// Makes the control plane re-read the CA from the state dir and push it to every proxy.
    pub async fn reload_ca(&mut self) -> Result<pb::ReloadCaResponse, AdminError> {
        let req = authed(pb::ReloadCaRequest {}, &self.token);
        match self.client.reload_ca(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Sets (replaces) `service`'s live fault for `for_ms` (0: until cleared).
    pub async fn set_fault(
        &mut self,
        service: &str,
        fault: pb::Fault,
        for_ms: u64,
    ) -> Result<pb::FaultSetResponse, AdminError> {
        let req = authed(
            pb::FaultSetRequest {
                service: service.to_string(),
                fault: Some(fault),
                for_ms,
            },
            &self.token,
        );
        match self.client.set_fault(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Removes `service`'s live fault.
    pub async fn clear_fault(
        &mut self,
        service: &str,
    ) -> Result<pb::FaultClearResponse, AdminError> {
        let req = authed(
            pb::FaultClearRequest {
                service: service.to_string(),
            },
            &self.token,
        );
        match self.client.clear_fault(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Sets (replaces) `service`'s live mirror for `for_ms` (0: until cleared).
    pub async fn set_mirror(
        &mut self,
        service: &str,
        mirror: pb::Mirror,
        for_ms: u64,
    ) -> Result<pb::MirrorSetResponse, AdminError> {
        let req = authed(
            pb::MirrorSetRequest {
                service: service.to_string(),
                mirror: Some(mirror),
                for_ms,
            },
            &self.token,
        );
        match self.client.set_mirror(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Removes `service`'s live mirror.
    pub async fn clear_mirror(
        &mut self,
        service: &str,
    ) -> Result<pb::MirrorClearResponse, AdminError> {
        let req = authed(
            pb::MirrorClearRequest {
                service: service.to_string(),
            },
            &self.token,
        );
        match self.client.clear_mirror(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(self.map(s)),
        }
    }

    /// The live faults in force.
    pub async fn list_faults(&mut self) -> Result<Vec<pb::FaultLive>, AdminError> {
        let req = authed(pb::FaultListRequest {}, &self.token);
        match self.client.list_faults(req).await {
            Ok(r) => Ok(r.into_inner().faults),
            Err(s) => Err(self.map(s)),
        }
    }

    /// Waits until every proxy that calls `service` acknowledged `version` (or a later one).
    pub async fn wait_for_acks(
        &mut self,
        service: &str,
        version: u64,
        timeout: Duration,
    ) -> Result<(), AdminError> {
        // A set: with N callers, `contains` on a list made every poll O(N²).
        let callers: std::collections::HashSet<String> = self
            .plan
            .proxies
            .iter()
            .filter(|p| p.upstreams.iter().any(|u| u.service == service))
            .map(|p| p.name.clone())
            .collect();
        let start = Instant::now();
        loop {
            let status = self.status().await?;
            let pending: Vec<String> = status
                .proxies
                .iter()
                .filter(|st| callers.contains(&st.instance) && st.acked_version < version)
                .map(|st| {
                    let why = if !st.connected {
                        " (not connected)"
                    } else if !st.last_error.is_empty() {
                        " (rejected)"
                    } else {
                        ""
                    };
                    format!("{}{why}", st.instance)
                })
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(AdminError::Timeout {
                    waited: timeout,
                    pending: format!(
                        "proxies not acknowledging version {version}: {}",
                        pending.join(", ")
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
