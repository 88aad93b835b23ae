//! `meshctl check`'s local-mesh categories: the control plane (a mesh runs here and its
//! control plane answers), the proxies (ready, connected, configuration current) and the apps
//! (accepting connections). Gathered once, then judged by pure functions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::launch::probe_all;
use crate::control::plan::PlanError;
use crate::identity::checks::{Outcome, Severity};

/// One instance as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceFacts {
    pub name: String,
    pub app: String,
    pub app_up: bool,
    /// Whether other services call this one (a pure client need not listen).
    pub serves: bool,
    pub proxy_ready: bool,
    /// `None` when the control plane did not answer.
    pub connected: Option<bool>,
    pub acked_version: u64,
    /// The proxy's last refusal of a configuration, if any.
    pub last_error: String,
    /// Exchanges with the app failing although it accepted the connection (the proxy's
    /// `/config`, each inbound's `app_problems`), one line each.
    pub app_problems: Vec<String>,
}

/// What the checks know about the local mesh.
#[derive(Debug, Clone, PartialEq)]
pub enum MeshFacts {
    /// No mesh runs from this state dir.
    NotRunning { state_dir: PathBuf },
    /// A mesh runs (its plan is there) but its control plane did not answer in time.
    Unanswered {
        /// Says how long it waited and where.
        error: String,
        instances: Vec<InstanceFacts>,
    },
    Running {
        config_version: u64,
        instances: Vec<InstanceFacts>,
    },
}

impl MeshFacts {
    pub fn is_running(&self) -> bool {
        !matches!(self, MeshFacts::NotRunning { .. })
    }
}

/// Reads the plan, asks the control plane (Admin.Status, within `timeout`), and probes every
/// proxy's /ready and every app's port.
pub fn gather(state: &Path, timeout: Duration) -> anyhow::Result<MeshFacts> {
    let runtime = super::client_runtime()?;
    // The admin channel spawns its connection task: it must be opened inside the runtime.
    let _entered = runtime.enter();
    let mut admin = match MeshAdmin::open(state, timeout) {
        Ok(admin) => admin,
        Err(AdminError::Plan(PlanError::NotRunning(_))) => {
            return Ok(MeshFacts::NotRunning {
                state_dir: state.to_path_buf(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    Ok(runtime.block_on(async {
        let status = admin.status().await;
        let mut instances = Vec::new();
        let reported = super::status::proxy_statuses(status.as_ref().ok());
        let called = admin.plan.called_services();
        let probes = probe_all(&admin.plan.proxies).await;
        for (p, probe) in admin.plan.proxies.iter().zip(probes) {
            let cp = reported.get(p.name.as_str()).copied();
            let serves = called.contains(p.service.as_str());
            instances.push(InstanceFacts {
                name: p.name.clone(),
                app: p.app.to_string(),
                app_up: probe.app_up,
                serves,
                proxy_ready: probe.ready,
                connected: status
                    .as_ref()
                    .ok()
                    .map(|_| cp.is_some_and(|c| c.connected)),
                acked_version: cp.map_or(0, |c| c.acked_version),
                last_error: cp.map(|c| c.last_error.clone()).unwrap_or_default(),
                app_problems: probe.app_problems,
            });
        }
        match status {
            Ok(s) => MeshFacts::Running {
                config_version: s.version,
                instances,
            },
            Err(e) => MeshFacts::Unanswered {
                error: e.to_string(),
                instances,
            },
        }
    }))
}

/// `ok` when `bad` is empty (detail: how many were checked), else an error naming them.
fn every(total: usize, bad: Vec<String>) -> (Severity, String) {
    if bad.is_empty() {
        (Severity::Ok, format!("{total} checked"))
    } else {
        (Severity::Error, bad.join(", "))
    }
}

/// The control-plane, proxies and apps checks with their stable IDs, in the order shown.
/// Without a mesh only the first runs (and fails): the rest have nothing to look at.
pub fn run(facts: &MeshFacts) -> Vec<(&'static str, Outcome)> {
    const RUNNING: &str = "a mesh is running from this state directory";
    let (instances, version) = match facts {
        MeshFacts::NotRunning { state_dir } => {
            return vec![(
                "control-plane.running",
                Outcome::new(
                    "control-plane",
                    RUNNING,
                    Severity::Error,
                    format!("no mesh is running from {}", state_dir.display()),
                    "start one: `meshctl up` (mesh.yaml) or `meshctl demo`; or point --state-dir at a running mesh's .meshctl",
                ),
            )];
        }
        MeshFacts::Unanswered { instances, .. } => (instances, None),
        MeshFacts::Running {
            instances,
            config_version,
        } => (instances, Some(*config_version)),
    };
    let mut out = vec![(
        "control-plane.running",
        Outcome::new(
            "control-plane",
            RUNNING,
            Severity::Ok,
            format!("{} instances", instances.len()),
            "",
        ),
    )];
    let answers = match facts {
        MeshFacts::Unanswered { error, .. } => (Severity::Error, error.clone()),
        _ => (
            Severity::Ok,
            format!("configuration version {}", version.unwrap_or(0)),
        ),
    };
    out.push((
        "control-plane.answers",
        Outcome::new(
            "control-plane",
            "the control plane answers within --request-timeout",
            answers.0,
            answers.1,
            "`meshctl up` restarts it when it exits: see .meshctl/logs/ for why it does not answer, or raise --request-timeout on a busy machine",
        ),
    ));
    let n = instances.len();
    let (s, d) = every(
        n,
        instances
            .iter()
            .filter(|i| !i.proxy_ready)
            .map(|i| i.name.clone())
            .collect(),
    );
    out.push((
        "proxies.ready",
        Outcome::new(
            "proxies",
            "every proxy is ready (GET /ready on its admin address)",
            s,
            d,
            "a proxy is ready once it holds a leaf and its configuration: see `meshctl status` and the proxy's log in .meshctl/logs/",
        ),
    ));
    let (s, d) = match version {
        None => (
            Severity::Error,
            "unknown: the control plane did not answer".to_string(),
        ),
        Some(_) => every(
            n,
            instances
                .iter()
                .filter(|i| i.connected != Some(true))
                .map(|i| i.name.clone())
                .collect(),
        ),
    };
    out.push((
        "proxies.connected",
        Outcome::new(
            "proxies",
            "every proxy is connected to the control plane",
            s,
            d,
            "a proxy reconnects by itself; one that stays away is named in `meshctl status` and its log",
        ),
    ));
    let (s, d) = match version {
        None => (
            Severity::Error,
            "unknown: the control plane did not answer".to_string(),
        ),
        Some(v) => every(
            n,
            instances
                .iter()
                .filter(|i| i.acked_version < v)
                .map(|i| {
                    if i.last_error.is_empty() {
                        format!("{} (at {} of {v})", i.name, i.acked_version)
                    } else {
                        format!("{} (refused: {})", i.name, i.last_error)
                    }
                })
                .collect(),
        ),
    };
    out.push((
        "proxies.config-current",
        Outcome::new(
            "proxies",
            "every proxy applied the current configuration",
            s,
            d,
            "a refused configuration is named; otherwise the proxy is still catching up or disconnected (`meshctl status`)",
        ),
    ));
    let (s, d) = every(
        instances.iter().filter(|i| i.serves).count(),
        instances
            .iter()
            .filter(|i| i.serves && !i.app_up)
            .map(|i| format!("{} ({})", i.name, i.app))
            .collect(),
    );
    out.push((
        "apps.up",
        Outcome::new(
            "apps",
            "every app that is called accepts connections on its port",
            s,
            d,
            "the app is down or listens elsewhere: see its log in .meshctl/logs/ and its port in mesh.yaml",
        ),
    ));
    let (s, d) = every(
        instances.iter().filter(|i| i.serves).count(),
        instances
            .iter()
            .flat_map(|i| {
                i.app_problems
                    .iter()
                    .map(move |p| format!("{} ({}): {p}", i.name, i.app))
            })
            .collect(),
    );
    out.push((
        "apps.protocol",
        Outcome::new(
            "apps",
            "every app answers its proxy in the protocol it is spoken to",
            s,
            d,
            "the app accepts connections but not the protocol: declare what it speaks (protocol: http, grpc or h2c in mesh.yaml) and see its proxy's log",
        ),
    ));
    out
}

#[cfg(test)]
mod tests;
