//! `meshctl status`: what runs in the local mesh and whether it is healthy.

use serde::Serialize;

use super::Context;
use super::StateFor;
use crate::control::admin::MeshAdmin;
use crate::control::launch::{proxy_ready, tcp_open};
use crate::duration::format_compact;
use crate::exit::{CliError, CliResult, code};
use crate::output::{self, color};

const STATUS_HELP: &str = "\
Healthy means: the app accepts connections, the proxy is ready, and the proxy is connected to
the control plane and has acknowledged the latest configuration.

Exit codes:
  0  everything is healthy
  1  no mesh is running, or something is unhealthy (named in the table)";

#[derive(Debug, clap::Args)]
#[command(after_help = STATUS_HELP)]
pub struct Args {}

/// One instance's health: the JSON/YAML shape of `meshctl status`.
#[derive(Debug, Serialize)]
struct InstanceHealth {
    name: String,
    service: String,
    version: Option<String>,
    app: String,
    app_up: bool,
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

pub fn run(ctx: &mut Context<'_>, _args: Args) -> CliResult {
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
        for p in &admin.plan.proxies {
            let cp = status
                .as_ref()
                .and_then(|s| s.proxies.iter().find(|x| x.instance == p.name));
            // A pure client (nobody calls it, like the demo's load generator) serves nothing.
            let serves = admin
                .plan
                .proxies
                .iter()
                .any(|q| q.upstreams.iter().any(|u| u.service == p.service));
            let app_up = tcp_open(p.app).await;
            let ready = proxy_ready(p.admin).await;
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
                healthy: (app_up || !serves) && ready && connected && current,
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
            if i.serves || i.app_up {
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
