//! `meshctl tap`: live requests through a service's proxies, three lines per request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::Context as _;
use futures_util::{Stream, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tonic::metadata::MetadataValue;

use super::Context;
use super::StateFor;
use super::stat::{MIN_WINDOW, Mesh};
use super::target::{self, Chosen, KubeTargetArgs, mesh_error};
use crate::api::proto::tap::{self as pb, tap_client::TapClient};
use crate::control::admin::ADMIN_TOKEN_FILE;
use crate::control::plan::MeshPlan;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::kube::controller::tap::{TapLine, TapQuery};
use crate::kube::mesh::{self, Cluster};
use crate::observe::fleet::Fleet;
use crate::observe::tap::{BodySize, StatusFilter, StatusGate, TapRecord, TapSource, record, text};
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

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): one streaming request
through the API server's pods/proxy to a controller pod's /tap (or --controller-admin), with
the token of the Secret meshctl-tap in the controller's namespace (you need `get` on it); the
controller taps the selected pods' sidecars over mutual TLS inside the cluster. A pod that
cannot be tapped is named on stderr as not reporting; the others go on.

Exit codes:
  0  stopped by Ctrl-C, --duration or --max-events
  1  no mesh is running, or a proxy refused or could not be reached (on Kubernetes: the API
     server or controller cannot be reached, or permission denied)
  2  usage error (unknown service or version, bad --status, --token-file missing or
     unreadable)";

#[derive(Debug, clap::Args)]
#[command(after_help = TAP_HELP)]
pub struct Args {
    /// SERVICE or SERVICE/VERSION whose proxies to tap
    #[arg(required_unless_present = "proxy")]
    target: Option<String>,
    /// Tap one proxy at this tap address instead (a standalone `meshctl proxy --tap ADDR`,
    /// e.g. in benchmarks); needs --token-file
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["target", "to"], requires = "token_file")]
    proxy: Option<SocketAddr>,
    /// File with the token the proxy's --tap-token-sha256 was made from [with --proxy]
    #[arg(long, value_name = "FILE", requires = "proxy")]
    token_file: Option<PathBuf>,
    /// Only requests the service sends to this service
    #[arg(long, value_name = "SERVICE")]
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
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

/// What a tap yields: an event of one proxy, or a proxy that cannot be tapped (a cluster's
/// pod; locally a proxy that refuses ends the tap instead).
// Events are the common case: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Tapped {
    Event(TapSource, pb::TapEvent),
    NotReporting { proxy: String, reason: String },
}

pub(crate) type Events = Pin<Box<dyn Stream<Item = Result<Tapped, CliError>> + Send>>;

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let runtime = super::client_runtime()?;
    let mut events =
        if args.proxy.is_none() && ctx.target(Some(&args.cluster))?.chosen == Chosen::Kubernetes {
            runtime.block_on(cluster_tap(ctx, &args))?
        } else {
            local_tap(ctx, &args, &runtime)?
        };
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
                not_reporting(&proxy, &reason);
                continue;
            }
            Some(Tapped::Event(source, event)) => (source, event),
        };
        let Some(r) = record(&source, event) else {
            continue;
        };
        for r in gate.push(r) {
            print(ctx, format, &r)?;
            printed += 1;
            if args.max_events.is_some_and(|max| printed >= max) {
                return Ok(());
            }
        }
    }
}

/// A proxy that is not tapped, on stderr (the tap goes on with the others).
pub(crate) fn not_reporting(proxy: &str, reason: &str) {
    eprintln!("meshctl: {proxy}: not reporting: {reason}");
}

/// The tap of a cluster's pods: one streaming request to a controller's `/tap`, which
/// taps the selected sidecars inside the cluster.
async fn cluster_tap(ctx: &Context<'_>, args: &Args) -> Result<Events, CliError> {
    let Some(target) = &args.target else {
        return Err(CliError::usage(anyhow::anyhow!("name a SERVICE")));
    };
    let mesh = cluster_mesh(ctx, &args.cluster).await?;
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

/// The cluster the command targets, connected.
pub(crate) async fn cluster_mesh(
    ctx: &Context<'_>,
    flags: &KubeTargetArgs,
) -> Result<Mesh, CliError> {
    let why = ctx.target(Some(flags))?.why;
    let cluster = target::cluster(flags, ctx.global.request_timeout.0, &why).await?;
    Ok(Mesh::Kubernetes(Box::new(cluster)))
}

/// `SERVICE` or `SERVICE/VERSION`, checked against the cluster's meshed pods.
pub(crate) fn known_target(
    fleet: &Fleet,
    target: &str,
    scope: &str,
) -> Result<(String, Option<String>), CliError> {
    let (service, version) = match target.split_once('/') {
        Some((s, v)) => (s.to_string(), Some(v.to_string())),
        None => (target.to_string(), None),
    };
    let versions = fleet.versions(&service);
    if versions.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no meshed pod for `{target}`{scope} (services: {})",
            fleet.services().join(", ")
        )));
    }
    if let Some(v) = &version
        && !versions.contains(v)
    {
        return Err(CliError::usage(anyhow::anyhow!(
            "service `{service}`{scope} has no version `{v}` (versions: {})",
            versions.join(", ")
        )));
    }
    Ok((service, version))
}

/// Opens `/tap` with the token of the Secret `meshctl-tap`; its lines as events.
pub(crate) async fn cluster_events(
    cluster: &Cluster,
    controller_namespace: &str,
    query: &TapQuery,
) -> Result<Events, CliError> {
    let token = mesh::tap_token(cluster, controller_namespace)
        .await
        .map_err(mesh_error)?;
    let lines = mesh::tap_stream(cluster, query, &token)
        .await
        .map_err(mesh_error)?;
    Ok(lines.map(|line| tapped(line.map_err(mesh_error)?)).boxed())
}

/// One line of `/tap` as what the tap yields.
fn tapped(line: TapLine) -> Result<Tapped, CliError> {
    let source = TapSource {
        name: line.pod,
        service: line.service,
        version: (!line.version.is_empty()).then_some(line.version),
        tap: line
            .address
            .unwrap_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
    };
    match (line.event, line.error) {
        (Some(event), _) => {
            let event = pb::TapEvent::try_from(event)
                .map_err(|e| CliError::from(anyhow::anyhow!("{}: {e}", source.name)))?;
            Ok(Tapped::Event(source, event))
        }
        (None, error) => Ok(Tapped::NotReporting {
            proxy: source.name,
            reason: error.unwrap_or_else(|| "no event and no reason (an older controller?)".into()),
        }),
    }
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

/// The mesh admin token taps present.
pub(crate) fn admin_token(state: &Path) -> Result<String, CliError> {
    read_token(&state.join(ADMIN_TOKEN_FILE))
}

fn read_token(path: &Path) -> Result<String, CliError> {
    let token = super::read_input_file("the tap token ", path)?;
    Ok(token.trim().to_string())
}

/// The proxies of `SERVICE` or `SERVICE/VERSION`.
pub(crate) fn select(plan: &MeshPlan, target: &str) -> Result<Vec<TapSource>, CliError> {
    let (service, version) = match target.split_once('/') {
        Some((s, v)) => (s, Some(v)),
        None => (target, None),
    };
    let proxies: Vec<TapSource> = plan
        .proxies
        .iter()
        .filter(|p| p.service == service && version.is_none_or(|v| p.version.as_deref() == Some(v)))
        .map(TapSource::from)
        .collect();
    if proxies.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no proxy for `{target}` (services: {})",
            plan.services().join(", ")
        )));
    }
    Ok(proxies)
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

/// Opens a watch on every proxy; their events merge into one stream tagged by proxy.
pub(crate) async fn connect(
    proxies: &[TapSource],
    request: pb::WatchRequest,
    token: &str,
) -> Result<Events, CliError> {
    let bearer: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .context("the admin token is not a valid header value")?;
    let mut streams = Vec::with_capacity(proxies.len());
    for p in proxies {
        let mut client = TapClient::connect(format!("http://{}", p.tap))
            .await
            .with_context(|| format!("connecting to the tap of {} at {}", p.name, p.tap))?;
        let mut req = tonic::Request::new(request.clone());
        req.metadata_mut().insert("authorization", bearer.clone());
        let stream = client
            .watch(req)
            .await
            .map_err(|s| refused(p, &s))?
            .into_inner();
        let source = p.clone();
        streams.push(
            stream
                .map(move |e| match e {
                    Ok(e) => Ok(Tapped::Event(source.clone(), e)),
                    Err(s) => Err(refused(&source, &s)),
                })
                .boxed(),
        );
    }
    Ok(futures_util::stream::select_all(streams).boxed())
}

pub(crate) fn refused(p: &TapSource, s: &tonic::Status) -> CliError {
    CliError::from(anyhow::anyhow!(
        "the tap of {} at {} failed: {} ({:?})",
        p.name,
        p.tap,
        s.message(),
        s.code()
    ))
}
