//! `meshctl status`: what runs in the mesh (local, or on Kubernetes every meshed pod of the
//! namespace and the controller's replicas) and whether it is healthy.

use serde::Serialize;

use super::Context;
use super::StateFor;
use super::target::{self, Chosen, KubeTargetArgs, mesh_error};
use crate::control::admin::MeshAdmin;
use crate::control::launch::probe_all;
use crate::duration::format_compact;
use crate::exit::{CliError, CliResult, code};
use crate::kube::controller::status::merge;
use crate::kube::mesh;
use crate::output::{self, color};

const STATUS_HELP: &str = "\
Healthy means: the app accepts connections, the proxy is ready, and the proxy is connected to
the control plane and has acknowledged the latest configuration.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): every meshed pod of
the namespace, from the controller's /status (through the API server's pods/proxy, or
--controller-admin) and the pods' readiness, and the controller Deployment's replicas.

Examples:
  meshctl status
  meshctl status -o wide                       # with the app, proxy and admin addresses
  meshctl status -o json | jq -r '.instances[] | select(.healthy | not) | .name'
  meshctl status --target kubernetes -n shop

Exit codes:
  0  everything is healthy
  1  no mesh is running, or something is unhealthy (named in the table)";

#[derive(Debug, clap::Args)]
#[command(after_help = STATUS_HELP)]
pub struct Args {
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

/// One instance's health: the JSON/YAML shape of `meshctl status`.
#[derive(Debug, Serialize)]
struct InstanceHealth {
    name: String,
    service: String,
    version: Option<String>,
    app: String,
    app_up: bool,
    /// Exchanges the app refused in the protocol it is spoken to (the proxy's `/config`):
    /// one line each, absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    app_problems: Vec<String>,
    /// Whether other services call this one (a pure client need not listen).
    serves: bool,
    proxy_ready: bool,
    control_plane_connected: bool,
    config_current: bool,
    leaf_serial: String,
    leaf_not_after_unix: i64,
    healthy: bool,
    /// The proxy's listeners (as in `.meshctl/run/plan.json`): mTLS from peers, admin
    /// (/ready, /metrics, /config), the app's HTTP_PROXY, tap.
    inbound: String,
    admin: String,
    http_proxy: String,
    tap: String,
    /// Upstream service → the local listener the app calls it on.
    upstreams: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct MeshHealth {
    control_plane: bool,
    config_version: u64,
    instances: Vec<InstanceHealth>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let target = ctx.target(Some(&args.cluster))?;
    if target.chosen == Chosen::Kubernetes {
        return run_kube(ctx, &args, &target.why);
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    let runtime = super::client_runtime()?;
    // The gRPC channel is created inside the runtime it will run on.
    let _entered = runtime.enter();
    let mut admin =
        MeshAdmin::open(&state, ctx.global.request_timeout.0).map_err(anyhow::Error::new)?;
    let (health, unanswered) = runtime.block_on(async {
        let (status, unanswered) = match admin.status().await {
            Ok(status) => (Some(status), None),
            Err(e) => (None, Some(e)),
        };
        let mut instances = Vec::new();
        let reported = proxy_statuses(status.as_ref());
        let called = admin.plan.called_services();
        let probes = probe_all(&admin.plan.proxies).await;
        for (p, probe) in admin.plan.proxies.iter().zip(probes) {
            let cp = reported.get(p.name.as_str()).copied();
            let serves = called.contains(p.service.as_str());
            let (app_up, ready, problems) = (probe.app_up, probe.ready, probe.app_problems);
            let connected = cp.is_some_and(|c| c.connected);
            let current = match (cp, &status) {
                (Some(c), Some(s)) => c.acked_version >= s.version,
                _ => false,
            };
            instances.push(InstanceHealth {
                name: p.name.clone(),
                service: p.service.clone(),
                version: p.version.clone(),
                app: p.app.to_string(),
                app_up,
                serves,
                proxy_ready: ready,
                control_plane_connected: connected,
                config_current: current,
                leaf_serial: cp.map(|c| c.leaf_serial.clone()).unwrap_or_default(),
                leaf_not_after_unix: cp.map_or(0, |c| c.leaf_not_after_unix),
                healthy: (app_up || !serves)
                    && problems.is_empty()
                    && ready
                    && connected
                    && current,
                app_problems: problems,
                inbound: p.inbound.to_string(),
                admin: p.admin.to_string(),
                http_proxy: p.http_proxy.to_string(),
                tap: p.tap.to_string(),
                upstreams: p
                    .upstreams
                    .iter()
                    .map(|u| (u.service.clone(), u.listen.to_string()))
                    .collect(),
            });
        }
        let health = MeshHealth {
            control_plane: status.is_some(),
            config_version: status.map_or(0, |s| s.version),
            instances,
        };
        (health, unanswered)
    });
    let now = crate::identity::pem::unix_seconds(std::time::SystemTime::now());
    output::render(ctx.out, ctx.global.output, &health, |wide| {
        table(&health, now, wide)
    })?;
    if let Some(e) = unanswered {
        // The table shows what could be seen without it; the error says why the rest is not.
        return Err(CliError::new(anyhow::Error::new(e), code::FAILURE));
    }
    if health.control_plane && health.instances.iter().all(|i| i.healthy) {
        Ok(())
    } else {
        Err(CliError::new(
            anyhow::anyhow!("the mesh is not healthy (see the table)"),
            code::FAILURE,
        ))
    }
}

/// One meshed pod on Kubernetes: the JSON/YAML shape of `meshctl status --target kubernetes`.
#[derive(Debug, Serialize)]
struct PodHealth {
    pod: String,
    service: String,
    version: Option<String>,
    pod_ready: bool,
    proxy_ready: bool,
    control_plane_connected: bool,
    config_current: bool,
    /// Why the proxy refused its last configuration (absent: it did not).
    #[serde(skip_serializing_if = "String::is_empty")]
    last_error: String,
    leaf_serial: String,
    leaf_not_after_unix: i64,
    healthy: bool,
}

#[derive(Debug, Serialize)]
struct ControllerHealth {
    namespace: String,
    /// The Deployment's replicas (absent for a controller run out of cluster).
    desired_replicas: Option<i32>,
    ready_replicas: Option<i32>,
    /// Replicas whose /status was read.
    answering: usize,
}

#[derive(Debug, Serialize)]
struct ClusterHealth {
    context: String,
    server: String,
    namespace: String,
    controller: ControllerHealth,
    pods: Vec<PodHealth>,
}

/// The control plane's view of each proxy, by instance name (a lookup per proxy, not a scan).
pub(super) fn proxy_statuses(
    status: Option<&crate::api::proto::control::StatusResponse>,
) -> std::collections::HashMap<&str, &crate::api::proto::control::ProxyStatus> {
    (status.into_iter())
        .flat_map(|s| s.proxies.iter())
        .map(|p| (p.instance.as_str(), p))
        .collect()
}

fn run_kube(ctx: &mut Context<'_>, args: &Args, why: &str) -> CliResult {
    let runtime = super::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let (health, unanswered) = runtime.block_on(async {
        let cluster = target::cluster(&args.cluster, timeout, why).await?;
        let states = mesh::meshed_pod_states(&cluster)
            .await
            .map_err(mesh_error)?;
        let cns = &args.cluster.controller_namespace;
        let replicas = match &cluster.admin {
            // A controller reached directly may run out of cluster, without a Deployment.
            mesh::ControllerAdmin::Url(_) => mesh::controller_replicas(&cluster, cns)
                .await
                .ok()
                .flatten(),
            mesh::ControllerAdmin::PodsProxy { .. } => mesh::controller_replicas(&cluster, cns)
                .await
                .map_err(mesh_error)?,
        };
        let (statuses, unanswered) = match mesh::controller_status(&cluster).await {
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let merged = merge(&statuses);
        let mut pods = Vec::new();
        for (name, state) in &states {
            let instance = format!("{}/{name}", cluster.namespace);
            let seen = merged.iter().find(|m| m.proxy.instance == instance);
            let connected = seen.is_some_and(|m| m.proxy.connected);
            let current = seen.is_some_and(|m| m.config_current);
            pods.push(PodHealth {
                pod: name.clone(),
                service: seen.map(|m| m.proxy.service.clone()).unwrap_or_default(),
                version: seen
                    .map(|m| m.proxy.version.clone())
                    .filter(|v| !v.is_empty()),
                pod_ready: state.ready,
                proxy_ready: state.proxy_ready,
                control_plane_connected: connected,
                config_current: current,
                last_error: seen.map(|m| m.proxy.last_error.clone()).unwrap_or_default(),
                leaf_serial: seen
                    .map(|m| m.proxy.leaf_serial.clone())
                    .unwrap_or_default(),
                leaf_not_after_unix: seen.map_or(0, |m| m.proxy.leaf_not_after_unix),
                healthy: state.ready && state.proxy_ready && connected && current,
            });
        }
        let health = ClusterHealth {
            context: cluster.target.context.clone(),
            server: cluster.target.server.clone(),
            namespace: cluster.namespace.clone(),
            controller: ControllerHealth {
                namespace: cns.clone(),
                desired_replicas: replicas.map(|r| r.0),
                ready_replicas: replicas.map(|r| r.1),
                answering: statuses.len(),
            },
            pods,
        };
        Ok::<_, CliError>((health, unanswered))
    })?;
    let now = crate::identity::pem::unix_seconds(std::time::SystemTime::now());
    output::render(ctx.out, ctx.global.output, &health, |_| {
        kube_table(&health, now)
    })?;
    if matches!(
        ctx.global.output,
        output::OutputFormat::Table | output::OutputFormat::Wide
    ) {
        writeln!(ctx.out, "{}", controller_line(&health.controller))?;
    }
    if let Some(e) = unanswered {
        return Err(mesh_error(e));
    }
    let controller_ok = health
        .controller
        .ready_replicas
        .is_none_or(|ready| ready >= 1);
    if controller_ok && health.pods.iter().all(|p| p.healthy) {
        Ok(())
    } else {
        Err(CliError::new(
            anyhow::anyhow!("the mesh is not healthy (see the table)"),
            code::FAILURE,
        ))
    }
}

fn controller_line(c: &ControllerHealth) -> String {
    let deployment = match (c.desired_replicas, c.ready_replicas) {
        (Some(desired), Some(ready)) => format!(
            "{ready}/{desired} replicas ready (Deployment {}/{})",
            c.namespace,
            crate::kube::CONTROLLER_NAME
        ),
        _ => format!(
            "no Deployment {}/{}",
            c.namespace,
            crate::kube::CONTROLLER_NAME
        ),
    };
    format!(
        "controller: {deployment}, {} answering /status",
        c.answering
    )
}

fn kube_table(h: &ClusterHealth, now: i64) -> comfy_table::Table {
    let mut t = output::table([
        "POD",
        "SERVICE",
        "VERSION",
        "READY",
        "PROXY",
        "CONTROL PLANE",
        "CONFIG",
        "CERT",
        "HEALTHY",
    ]);
    let yes_no = |ok: bool, yes: &str, no: &str| {
        if ok {
            color::ok(yes).to_string()
        } else {
            color::bad(no).to_string()
        }
    };
    for p in &h.pods {
        t.add_row(vec![
            p.pod.clone(),
            if p.service.is_empty() {
                "-".to_string()
            } else {
                p.service.clone()
            },
            p.version.clone().unwrap_or_else(|| "-".to_string()),
            yes_no(p.pod_ready, "ready", "not ready"),
            yes_no(p.proxy_ready, "ready", "not ready"),
            yes_no(
                p.control_plane_connected,
                "connected",
                if h.controller.answering > 0 {
                    "disconnected"
                } else {
                    "unreachable"
                },
            ),
            if p.last_error.is_empty() {
                yes_no(p.config_current, "current", "stale")
            } else {
                color::bad("rejected").to_string()
            },
            cert_cell(p.leaf_not_after_unix, now),
            yes_no(p.healthy, "yes", "no"),
        ]);
    }
    t
}

/// The CERT column: time left on the leaf last issued to the instance's proxy (`now`: Unix
/// seconds); `-` before one was issued (`meshctl certs status` has the details).
fn cert_cell(not_after_unix: i64, now: i64) -> String {
    if not_after_unix == 0 {
        return "-".to_string();
    }
    let left = not_after_unix - now;
    if left <= 0 {
        color::bad(&format!("expired {} ago", format_compact(-left))).to_string()
    } else {
        format!("{} left", format_compact(left))
    }
}

/// `wide` adds the proxy's listeners and the app's upstream listeners.
fn table(h: &MeshHealth, now: i64, wide: bool) -> comfy_table::Table {
    let mut headers = vec![
        "INSTANCE",
        "APP",
        "PROXY",
        "CONTROL PLANE",
        "CONFIG",
        "CERT",
        "HEALTHY",
    ];
    if wide {
        headers.extend(["INBOUND", "ADMIN", "HTTP_PROXY", "TAP", "UPSTREAMS"]);
    }
    let mut t = output::table(headers);
    let yes_no = |ok: bool, yes: &str, no: &str| {
        if ok {
            color::ok(yes).to_string()
        } else {
            color::bad(no).to_string()
        }
    };
    for i in &h.instances {
        let mut row = vec![
            i.name.clone(),
            if !i.app_problems.is_empty() {
                // The detail is in -o json and `meshctl check`.
                color::bad(&format!("{} protocol errors", i.app)).to_string()
            } else if i.serves || i.app_up {
                yes_no(
                    i.app_up,
                    &format!("{} up", i.app),
                    &format!("{} down", i.app),
                )
            } else {
                "client".to_string()
            },
            yes_no(i.proxy_ready, "ready", "not ready"),
            yes_no(
                i.control_plane_connected,
                "connected",
                if h.control_plane {
                    "disconnected"
                } else {
                    "unreachable"
                },
            ),
            yes_no(i.config_current, "current", "stale"),
            cert_cell(i.leaf_not_after_unix, now),
            yes_no(i.healthy, "yes", "no"),
        ];
        if wide {
            let upstreams: Vec<String> = i
                .upstreams
                .iter()
                .map(|(s, a)| format!("{s}={a}"))
                .collect();
            for cell in [
                i.inbound.clone(),
                i.admin.clone(),
                i.http_proxy.clone(),
                i.tap.clone(),
                if upstreams.is_empty() {
                    "-".to_string()
                } else {
                    upstreams.join(" ")
                },
            ] {
                row.push(cell);
            }
        }
        t.add_row(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cert_column_says_time_left_or_how_long_ago_it_expired() {
        assert_eq!(cert_cell(0, 1_000), "-");
        assert_eq!(cert_cell(1_000 + 3 * 3600, 1_000), "3h0m left");
        // Red when colour is on; the text either way.
        assert!(cert_cell(1_000 - 90, 1_000).contains("expired 1m30s ago"));
    }
}
