//! `meshctl version`: this binary's version and, when a local mesh answers within the
//! request timeout, its control plane's.

use serde::Serialize;

use super::{Context, StateFor};
use crate::control::admin::MeshAdmin;
use crate::exit::CliResult;
use crate::output;

const VERSION_HELP: &str = "\
The control plane is the one of the local mesh found like every command finds it
(--state-dir, else the nearest .meshctl/ upward); it is asked through its status call and may
take --request-timeout to answer. Without a running mesh only the client's version shows.

Examples:
  meshctl version
  meshctl version -o json
  meshctl version --client

Exit codes:
  0  always when the client's version could be printed (an unreachable control plane is
     reported, not an error)";

#[derive(Debug, clap::Args)]
#[command(after_help = VERSION_HELP)]
pub struct Args {
    /// Only the client's version: do not look for a control plane
    #[arg(long)]
    client: bool,
}

#[derive(Debug, Serialize)]
struct Versions {
    client: Component,
    /// Absent with --client or when no local mesh runs here.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<ControlPlane>,
}

#[derive(Debug, Serialize)]
struct Component {
    version: String,
}

#[derive(Debug, Serialize)]
struct ControlPlane {
    /// The control plane's meshctl version; absent when it did not answer or is too old to
    /// say.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// Why there is no version.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let control_plane = if args.client {
        None
    } else {
        control_plane(ctx)
    };
    let versions = Versions {
        client: Component {
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        control_plane,
    };
    output::render(ctx.out, ctx.global.output, &versions, |_| {
        let mut t = output::table(["COMPONENT", "VERSION"]);
        t.add_row(["client", versions.client.version.as_str()]);
        if let Some(cp) = &versions.control_plane {
            let text = match (&cp.version, &cp.error) {
                (Some(v), _) => v.clone(),
                (None, Some(e)) => format!("unknown: {e}"),
                (None, None) => "unknown".to_string(),
            };
            t.add_row(["control plane", text.as_str()]);
        }
        t
    })?;
    Ok(())
}

/// The local control plane's version; `None` when no mesh runs here.
fn control_plane(ctx: &Context<'_>) -> Option<ControlPlane> {
    let state = ctx.state_dir(StateFor::Mesh).ok()?;
    crate::control::launch::running_pid(&state)?;
    let failed = |e: String| ControlPlane {
        version: None,
        error: Some(e),
    };
    let runtime = match super::client_runtime() {
        Ok(r) => r,
        Err(e) => return Some(failed(e.to_string())),
    };
    // The gRPC channel is created inside the runtime it will run on.
    let _entered = runtime.enter();
    let mut admin = match MeshAdmin::open(&state, ctx.global.request_timeout.0) {
        Ok(a) => a,
        Err(e) => return Some(failed(e.to_string())),
    };
    Some(match runtime.block_on(admin.status()) {
        Ok(status) if status.server_version.is_empty() => {
            failed("the control plane is older than its version field".into())
        }
        Ok(status) => ControlPlane {
            version: Some(status.server_version),
            error: None,
        },
        Err(e) => failed(e.to_string()),
    })
}
