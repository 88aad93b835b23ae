//! `meshctl edges`: who talks to whom, with both verified identities and whether the hop was
//! mTLS.

use serde::Serialize;

use super::Context;
use super::target::KubeTargetArgs;
use crate::duration::HumanDuration;
use crate::exit::CliResult;
use crate::observe::edges::{self, Edge};
use crate::output::{self, color};

const EDGES_HELP: &str = "\
An edge is a client service that sent requests to a server service (and version: DST is
SERVICE/VERSION; replicas are one edge) during the window, as the server's proxies saw them: CLIENT is the identity from the client's certificate (verified in the
mTLS handshake), SERVER the identity of the certificate the server's proxy holds.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the meshed pods of the
namespace, read through the controller as `meshctl stat` does; a client from another namespace
keeps its SPIFFE ID as SRC.

Examples:
  meshctl edges
  meshctl edges -t 5m -o wide
  meshctl edges -n shop -o json

Exit codes:
  0  printed (also when there is no traffic)
  1  no mesh is running (on Kubernetes: the API server or controller cannot be reached)
  2  usage error (window outside 10s-5m)";

#[derive(Debug, clap::Args)]
#[command(after_help = EDGES_HELP)]
pub struct Args {
    /// Window to look back over (10s-5m)
    #[arg(
        short = 't',
        long = "window",
        default_value = "1m",
        value_name = "DURATION"
    )]
    window: HumanDuration,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

/// The JSON/YAML shape of `meshctl edges`.
#[derive(Debug, Serialize)]
struct EdgesReport {
    window_secs: u64,
    edges: Vec<Edge>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let window = super::check_window(args.window.0)?;
    let runtime = super::client_runtime()?;
    let mesh = super::target::open_mesh(ctx, &args.cluster, &runtime)?;
    let reading = runtime.block_on(mesh.read(window))?;
    let report = EdgesReport {
        window_secs: window.as_secs(),
        edges: edges::edges(&reading.fleet, &reading.snapshots),
    };
    output::render(ctx.out, ctx.global.output, &report, |wide| {
        let mut headers = vec!["SRC", "DST", "CLIENT", "SERVER", "SECURED"];
        if wide {
            headers.push("REQUESTS");
        }
        let mut t = output::table(headers);
        for e in &report.edges {
            let secured = if e.mtls {
                color::ok("√ mTLS").to_string()
            } else {
                color::bad("× plaintext").to_string()
            };
            let mut row = vec![
                e.src.clone(),
                e.dst_label(),
                e.client_id.clone(),
                e.server_id.clone(),
                secured,
            ];
            if wide {
                row.push(e.requests.to_string());
            }
            t.add_row(row);
        }
        t
    })?;
    Ok(())
}
