//! `meshctl tap`: live requests through a service's proxies, three lines per request.

use std::net::SocketAddr;
use std::path::PathBuf;

use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};

use super::Context;
use super::StateFor;
use super::target::{self, Chosen, KubeTargetArgs};
use crate::api::proto::tap as pb;
use crate::control::plan::MeshPlan;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::kube::controller::tap::TapQuery;
use crate::observe::har::{self, HarRecorder};
use crate::observe::mesh::{MIN_WINDOW, Mesh};
use crate::observe::tap::{
    BodySize, Events, StatusFilter, StatusGate, TapRecord, TapSource, Tapped, admin_token,
    cluster_events, connect, known_target, not_reporting, read_token, record, select, text,
};
use crate::output::{self, OutputFormat};

/// `--max-rps` when not given: enough to follow, little enough not to flood a terminal.
pub const DEFAULT_MAX_RPS: u32 = 100;

const TAP_HELP: &str = "\
Each request prints three lines: `req` (method, authority, path), `rsp` (status, latency to the
response head) and `end` (duration, response bytes, grpc-status or why it ended early).
proxy=in is a request the service received, proxy=out one it sent. Filters run on the proxies;
--status runs here, on the response. Credential headers (authorization, proxy-authorization,
cookie, set-cookie, x-api-key) are redacted by the proxy before an event leaves it. The tap uses
the mesh admin token (.meshctl/run/admin.token): proxies refuse anyone else.

--body SIZE adds the first SIZE bytes of request bodies (to `req`) and response bodies (to
`end`); off by default, at most 64KiB. In JSON and form bodies the proxy redacts the values of
fields named like a redacted header or a usual credential (password, token, secret,
client_secret, api_key, ...); an untyped or text body that starts like JSON counts as JSON.
Other bodies (plain text, protobuf) are shown as they are. A request body is captured when its
length is known to be at most 64KiB; else `req` says it was streamed.

--har FILE also writes the requests to FILE as HAR 1.2 (for browser dev tools, HAR viewers and
`meshctl replay`) when the tap stops, whichever way: one entry per request, with headers and
bodies exactly as the tap received them (redacted), bodies only with --body (a body cut at the
--body size says so in its `comment`), and the hop in each entry's `_meshctl` field (proxy,
direction, identities, version, grpc-status, whether the request body is whole). A request
that had not ended when the tap stopped is written with what was seen and a `comment`; one
that began before the tap is left out; both are counted on stderr. The file is written
atomically (a temp file renamed), mode 0600; a path where no file can be created is refused
before anything is tapped.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): one streaming request
through the API server's pods/proxy to a controller pod's /tap (or --controller-admin), with
the token of the Secret meshctl-tap in the controller's namespace (you need `get` on it); the
controller taps the selected pods' sidecars over mutual TLS inside the cluster. A pod that
cannot be tapped is named on stderr as not reporting; the others go on.

Examples:
  meshctl tap api
  meshctl tap api/v2 --path /api/quote --status 5xx --max-events 20
  meshctl tap web --to api --method GET -o json
  meshctl tap api --body 1KiB --duration 30s
  meshctl tap api --body 4KiB --duration 1m --har api.har
  meshctl tap api -n shop                      # on Kubernetes, through the controller

Exit codes:
  0  stopped by Ctrl-C, --duration or --max-events
  1  no mesh is running, or a proxy refused or could not be reached (on Kubernetes: the API
     server or controller cannot be reached, or permission denied)
  2  usage error (unknown service or version, bad --status, --token-file missing or
     unreadable, --har FILE cannot be created)";

#[derive(Debug, clap::Args)]
#[command(after_help = TAP_HELP)]
pub struct Args {
    /// SERVICE or SERVICE/VERSION whose proxies to tap
    #[arg(required_unless_present = "proxy", add = super::complete::targets())]
    target: Option<String>,
    /// Tap one proxy at this tap address instead (a standalone `meshctl proxy --tap ADDR`,
    /// e.g. in benchmarks); needs --token-file
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["target", "to"], requires = "token_file")]
    proxy: Option<SocketAddr>,
    /// File with the token the proxy's --tap-token-sha256 was made from [with --proxy]
    #[arg(long, value_name = "FILE", requires = "proxy")]
    token_file: Option<PathBuf>,
    /// Only requests the service sends to this service
    #[arg(long, value_name = "SERVICE", add = super::complete::services())]
    to: Option<String>,
    /// Only this request method
    #[arg(long, value_name = "METHOD")]
    method: Option<String>,
    /// Only paths starting with this prefix
    #[arg(long, value_name = "PREFIX")]
    path: Option<String>,
    /// Only this :authority
    #[arg(long, value_name = "AUTHORITY")]
    authority: Option<String>,
    /// Only requests whose response has this status (503) or class (5xx)
    #[arg(long, value_name = "STATUS")]
    status: Option<StatusFilter>,
    /// Requests per second each proxy sends at most
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RPS)]
    max_rps: u32,
    /// Stop after this long
    #[arg(long, value_name = "DURATION")]
    duration: Option<HumanDuration>,
    /// Stop after printing this many events
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Show the first SIZE bytes of request and response bodies (512, 512B, 1KiB; at most 64KiB)
    #[arg(long, value_name = "SIZE")]
    body: Option<BodySize>,
    /// Also write what was tapped to FILE as HAR 1.2 when the tap stops (bodies with --body)
    #[arg(long, value_name = "FILE")]
    har: Option<PathBuf>,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    if let Some(path) = &args.har {
        har::check_writable(path).map_err(CliError::usage)?;
    }
    let runtime = super::client_runtime()?;
    let mut events =
        if args.proxy.is_none() && ctx.target(Some(&args.cluster))?.chosen == Chosen::Kubernetes {
            runtime.block_on(cluster_tap(ctx, &args))?
        } else {
            local_tap(ctx, &args, &runtime)?
        };
    let mut recorder = args
        .har
        .as_ref()
        .map(|_| HarRecorder::new(args.body.map(|b| b.0)));
    let followed = follow(ctx, &args, &runtime, &mut events, recorder.as_mut());
    // Written however the tap ended (Ctrl-C, --duration, --max-events, a proxy that failed).
    if let (Some(path), Some(recorder)) = (&args.har, recorder) {
        let (file, recorded) = recorder.finish();
        har::write(path, &file).map_err(anyhow::Error::new)?;
        eprintln!("{}", har::summary(path, &recorded));
    }
    followed
}

/// Prints (and records for `--har`) the tap's records until it is stopped.
fn follow(
    ctx: &mut Context<'_>,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    events: &mut Events,
    mut recorder: Option<&mut HarRecorder>,
) -> CliResult {
    // Installed once, so a Ctrl-C while printing is not lost.
    let mut interrupt = runtime.block_on(async { signal(SignalKind::interrupt()) })?;
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d.0);
    let mut gate = StatusGate::new(args.status);
    let mut printed = 0;
    let format = ctx.global.output;
    loop {
        let next = runtime.block_on(async {
            let until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                e = events.next() => e,
                _ = interrupt.recv() => None,
                _ = until => None,
            }
        });
        let (source, event) = match next.transpose()? {
            None => return Ok(()),
            Some(Tapped::NotReporting { proxy, reason }) => {
                eprintln!("{}", not_reporting(&proxy, &reason));
                continue;
            }
            Some(Tapped::Event(source, event)) => (source, event),
        };
        let Some(r) = record(&source, event) else {
            continue;
        };
        for r in gate.push(r) {
            if let Some(recorder) = recorder.as_deref_mut() {
                recorder.push(&r, std::time::SystemTime::now());
            }
            print(ctx, format, &r)?;
            printed += 1;
            if args.max_events.is_some_and(|max| printed >= max) {
                return Ok(());
            }
        }
    }
}

/// The tap of a cluster's pods: one streaming request to a controller's `/tap`, which
/// taps the selected sidecars inside the cluster.
async fn cluster_tap(ctx: &Context<'_>, args: &Args) -> Result<Events, CliError> {
    let Some(target) = &args.target else {
        return Err(CliError::usage(anyhow::anyhow!("name a SERVICE")));
    };
    let mesh = target::cluster_mesh(ctx, &args.cluster).await?;
    let Mesh::Kubernetes(cluster) = &mesh else {
        return Err(CliError::usage(anyhow::anyhow!("not a cluster")));
    };
    let fleet = mesh.read(MIN_WINDOW).await?.fleet;
    let (service, version) = known_target(&fleet, target, &mesh.scope())?;
    if let Some(to) = &args.to
        && fleet.versions(to).is_empty()
    {
        return Err(CliError::usage(anyhow::anyhow!(
            "unknown service `{to}` in --to{} (services: {})",
            mesh.scope(),
            fleet.services().join(", ")
        )));
    }
    let query = TapQuery {
        namespace: Some(cluster.namespace.clone()),
        service: Some(service),
        version,
        max_rps: Some(args.max_rps),
        method: args.method.clone(),
        path: args.path.clone(),
        authority: args.authority.clone(),
        to: args.to.clone(),
        body: args.body.map(|b| b.0),
    };
    cluster_events(cluster, &args.cluster.controller_namespace, &query).await
}

/// The local mesh's proxies (or one standalone proxy), tapped directly.
fn local_tap(
    ctx: &mut Context<'_>,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> Result<Events, CliError> {
    let (proxies, request, token) = match (&args.proxy, &args.token_file, &args.target) {
        (Some(addr), Some(file), _) => {
            let source = TapSource {
                name: addr.to_string(),
                service: String::new(),
                version: None,
                tap: *addr,
            };
            (vec![source], watch_request(None, args)?, read_token(file)?)
        }
        (_, _, Some(target)) => {
            let state = ctx.state_dir(StateFor::Mesh)?;
            let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
            let proxies = select(&plan, target)?;
            let request = watch_request(Some(&plan), args)?;
            (proxies, request, admin_token(&state)?)
        }
        _ => {
            return Err(CliError::usage(anyhow::anyhow!(
                "name a SERVICE, or --proxy ADDR with --token-file"
            )));
        }
    };
    runtime.block_on(connect(&proxies, request, &token))
}

fn print(ctx: &mut Context<'_>, format: OutputFormat, r: &TapRecord) -> CliResult {
    match format {
        OutputFormat::Json => output::json_line(ctx.out, r)?,
        OutputFormat::Yaml => {
            writeln!(
                ctx.out,
                "---\n{}",
                serde_yaml::to_string(r).map_err(anyhow::Error::new)?
            )?;
        }
        OutputFormat::Table | OutputFormat::Wide => {
            writeln!(ctx.out, "{}", text(r, format == OutputFormat::Wide))?;
            ctx.out.flush()?;
        }
    }
    Ok(())
}

/// The proxy-side filter; `plan` resolves `--to` (which `--proxy` excludes).
fn watch_request(plan: Option<&MeshPlan>, args: &Args) -> Result<pb::WatchRequest, CliError> {
    let destination_ids = match &args.to {
        None => Vec::new(),
        Some(to) => {
            let mut ids: Vec<String> = plan
                .iter()
                .flat_map(|plan| plan.proxies.iter())
                .filter(|p| &p.service == to)
                .map(|p| p.spiffe_id.clone())
                .collect();
            if ids.is_empty() {
                return Err(CliError::usage(anyhow::anyhow!(
                    "unknown service `{to}` in --to"
                )));
            }
            ids.sort();
            ids.dedup();
            ids
        }
    };
    Ok(pb::WatchRequest {
        method: args.method.clone().unwrap_or_default(),
        path_prefix: args.path.clone().unwrap_or_default(),
        authority: args.authority.clone().unwrap_or_default(),
        destination_ids,
        max_rps: args.max_rps,
        body_bytes: args.body.map_or(0, |b| b.0),
    })
}
