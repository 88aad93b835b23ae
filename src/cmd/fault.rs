//! `meshctl fault`: inject aborts and delays into a service's traffic live, clear them, and
//! list every fault in force (live and from mesh.yaml); on Kubernetes in `fault_kube.rs`.

use std::time::{Duration, UNIX_EPOCH};

use clap::Subcommand;
use serde::Serialize;

use super::Context;
use super::StateFor;
use super::target::{Chosen, KubeTargetArgs};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::plan::MeshPlan;
use crate::duration::{HumanDuration, format_compact};
use crate::exit::{CliError, CliResult};
use crate::output;
use crate::output::rfc3339;
use crate::policy::fault::{Abort, Delay, FaultSpec, format_percent, now_unix_ms};

/// `--wait` ran out of time before every proxy acknowledged.
pub const EXIT_TIMEOUT: i32 = 4;

const INJECT_HELP: &str = "\
The caller's proxy injects the fault into every request to SERVICE, drawing independently per
request: a delay holds the request before forwarding (it counts against the request timeout),
an abort answers at once without contacting SERVICE (never retried; gRPC calls get a
trailers-only answer with the matching grpc-status, e.g. 503 -> 14 UNAVAILABLE). Injected
answers carry `x-meshctl-fault: abort|delay`. HTTP and gRPC only: opaque TCP is never faulted.

A live fault replaces any earlier one of SERVICE and, while in force, every mesh.yaml fault of
SERVICE (routes included). It is persisted in .meshctl/faults.json; with --for it ends at an
absolute time, which each proxy enforces even if the control plane is gone.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the fault is the key
SERVICE of the namespace's ConfigMap `meshctl-faults` (JSON, absolute RFC 3339 expiry),
server-side applied with field manager `meshctl`; the controller pushes it to the callers'
sidecars. --wait reads the controller's /status (through the API server's pods/proxy, or
--controller-admin) until every pod calling SERVICE acknowledged it.

Examples:
  meshctl fault inject api --abort 503@5%
  meshctl fault inject api --delay 200ms@10% --abort 503@1% --for 2m --wait
  meshctl fault inject quotes --delay 1s@50% --for 10m -n shop

Exit codes:
  0  the fault is set (and, with --wait, every proxy calling SERVICE applied it)
  1  failure (no mesh running, control plane unreachable; on Kubernetes: permission denied)
  2  usage error (unknown service, bad --abort/--delay/--for, neither --abort nor --delay)
  4  --wait timed out; the fault is set but some proxies have not acknowledged it (named)";

const CLEAR_HELP: &str = "\
Removes SERVICE's live fault; the faults in mesh.yaml (if any) apply again. Clearing a service
without a live fault changes nothing and succeeds. On Kubernetes: removes the key SERVICE of
the namespace's ConfigMap `meshctl-faults` (a JSON merge patch; other keys stay as they are).

Examples:
  meshctl fault clear api
  meshctl fault clear api --wait --timeout 30s
  meshctl fault clear api -n shop

Exit codes:
  0  no live fault remains (and, with --wait, every proxy calling SERVICE applied that)
  1  failure (no mesh running, control plane unreachable; on Kubernetes: permission denied)
  2  usage error (unknown service)
  4  --wait timed out (the proxies not acknowledging are named)";

/// How long an injected fault lasts without `--for`: long enough for an experiment, short
/// enough that a forgotten one ends by itself (`--for 0` keeps it until `fault clear`).
pub const DEFAULT_FAULT_DURATION: std::time::Duration = std::time::Duration::from_secs(600);

const LIST_HELP: &str = "\
On Kubernetes: the live faults of the namespace's ConfigMap `meshctl-faults` that are in force
(faults in the `meshctl-policy` ConfigMap are not listed); -o wide adds the pods calling each.

Examples:
  meshctl fault list
  meshctl fault list api -o json
  meshctl fault list -n shop -o wide";

const FAULT_HELP: &str = "\
Examples:
  meshctl fault inject api --abort 503@5% --for 2m
  meshctl fault list
  meshctl fault clear api";

#[derive(Debug, clap::Args)]
#[command(after_help = FAULT_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: Fault,
}

#[derive(Debug, Subcommand)]
pub(super) enum Fault {
    /// Inject aborts and/or delays into requests to a service, now
    #[command(after_help = INJECT_HELP)]
    Inject(InjectArgs),
    /// Remove a service's live fault
    #[command(after_help = CLEAR_HELP)]
    Clear(ClearArgs),
    /// Show every fault: live ones and those in mesh.yaml, and which are in force
    #[command(after_help = LIST_HELP)]
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub(super) struct InjectArgs {
    /// The destination service
    #[arg(add = super::complete::services())]
    pub(super) service: String,
    /// Answer STATUS (400-599) to PERCENT of requests (0-100, up to 4 decimals), e.g. 503@5%
    #[arg(long, value_name = "STATUS@PERCENT", allow_hyphen_values = true)]
    abort: Option<String>,
    /// Hold PERCENT of requests for DURATION (1ms-60s) before forwarding, e.g. 200ms@10%
    #[arg(long, value_name = "DURATION@PERCENT", allow_hyphen_values = true)]
    delay: Option<String>,
    /// End the fault after this long (e.g. 30s, 2m); 0 keeps it until `fault clear`
    /// [default: 10m, so a forgotten fault does not outlive the experiment]
    #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
    for_: Option<String>,
    #[command(flatten)]
    pub(super) wait: WaitArgs,
    #[command(flatten)]
    pub(super) cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct ClearArgs {
    /// The destination service
    #[arg(add = super::complete::services())]
    pub(super) service: String,
    #[command(flatten)]
    pub(super) wait: WaitArgs,
    #[command(flatten)]
    pub(super) cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct WaitArgs {
    /// Return only once every proxy calling the service acknowledged the change
    #[arg(long)]
    pub(super) wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    pub(super) timeout: HumanDuration,
}

#[derive(Debug, clap::Args)]
pub(super) struct ListArgs {
    /// Only this service
    #[arg(add = super::complete::services())]
    pub(super) service: Option<String>,
    #[command(flatten)]
    pub(super) cluster: KubeTargetArgs,
}

/// One fault: the JSON/YAML shape of `fault list` rows and of `fault inject`.
#[derive(Debug, Serialize)]
pub(super) struct FaultView {
    service: String,
    /// `live`, `policy.fault` or `policy.routes[N].fault` (where in mesh.yaml).
    source: String,
    abort: Option<AbortView>,
    delay: Option<DelayView>,
    /// Unix ms; `null`: no end.
    expires_unix_ms: Option<u64>,
    /// RFC 3339; `null`: no end.
    expires_at: Option<String>,
    /// False for a mesh.yaml fault while a live fault of the service is in force.
    active: bool,
}

#[derive(Debug, Serialize)]
struct AbortView {
    status: u16,
    percent: f64,
}

#[derive(Debug, Serialize)]
struct DelayView {
    duration_ms: u64,
    percent: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct InjectReport {
    #[serde(flatten)]
    pub(super) fault: FaultView,
    /// The version that carries the fault (on Kubernetes: the controller's, with --wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) config_version: Option<u64>,
    pub(super) acknowledged: bool,
    /// Kubernetes: the ConfigMap written, `namespace/meshctl-faults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) configmap: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ClearReport {
    pub(super) service: String,
    /// Whether there was a live fault to remove.
    pub(super) cleared: bool,
    /// The version without the fault (on Kubernetes: the controller's, with --wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) config_version: Option<u64>,
    pub(super) acknowledged: bool,
    /// Kubernetes: the ConfigMap written, `namespace/meshctl-faults`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) configmap: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ListReport<'a> {
    pub(super) faults: &'a [FaultView],
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let cluster = match &args.command {
        Fault::Inject(a) => &a.cluster,
        Fault::Clear(a) => &a.cluster,
        Fault::List(a) => &a.cluster,
    };
    let target = ctx.target(Some(cluster))?;
    if target.chosen == Chosen::Kubernetes {
        return super::fault_kube::run(ctx, args.command, &target.why);
    }
    match args.command {
        Fault::Inject(a) => inject(ctx, a),
        Fault::Clear(a) => clear(ctx, a),
        Fault::List(a) => list(ctx, a),
    }
}

/// The fault and its duration from the flags, checked before anything is contacted.
pub(super) fn parse_inject(a: &InjectArgs) -> Result<(FaultSpec, Option<Duration>), CliError> {
    let usage =
        |flag: &str, e: &dyn std::fmt::Display| CliError::usage(anyhow::anyhow!("{flag}: {e}"));
    let abort = a
        .abort
        .as_deref()
        .map(str::parse::<Abort>)
        .transpose()
        .map_err(|e| usage("--abort", &e))?;
    let delay = a
        .delay
        .as_deref()
        .map(str::parse::<Delay>)
        .transpose()
        .map_err(|e| usage("--delay", &e))?;
    let spec = FaultSpec::new(abort, delay).map_err(|_| {
        CliError::usage(anyhow::anyhow!(
            "nothing to inject: give --abort STATUS@PERCENT, --delay DURATION@PERCENT or both"
        ))
    })?;
    let for_ = parse_for(a.for_.as_deref(), DEFAULT_FAULT_DURATION)?;
    Ok((spec, for_))
}

/// `--for DURATION` of a live change: `default` when absent, `None` for `0` (any unit: until
/// removed).
pub(super) fn parse_for(
    text: Option<&str>,
    default: Duration,
) -> Result<Option<Duration>, CliError> {
    match text.map(str::trim) {
        None => Ok(Some(default)),
        Some(t) if t.trim_end_matches(char::is_alphabetic).parse() == Ok(0u64) => Ok(None),
        Some(t) => match t.parse::<HumanDuration>() {
            Ok(d) => Ok(Some(d.0)),
            Err(e) => Err(CliError::usage(anyhow::anyhow!("--for: {e}"))),
        },
    }
}

fn known_service(plan: &MeshPlan, service: &str) -> Result<(), CliError> {
    if plan.versions(service).is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "unknown service `{service}` (services: {})",
            plan.services().join(", ")
        )));
    }
    Ok(())
}

fn admin_error(e: AdminError) -> CliError {
    match e {
        AdminError::Timeout { .. } => CliError::new(e.into(), EXIT_TIMEOUT),
        other => CliError::from(anyhow::Error::new(other)),
    }
}

/// A current-thread runtime entered for the admin channel, and the session.
fn session(ctx: &Context<'_>) -> Result<(tokio::runtime::Runtime, MeshAdmin), CliError> {
    let state = ctx.state_dir(StateFor::Mesh)?;
    let runtime = super::client_runtime()?;
    // The gRPC channel is created inside the runtime it will run on.
    let admin = {
        let _entered = runtime.enter();
        MeshAdmin::open(&state, ctx.global.request_timeout.0).map_err(admin_error)?
    };
    Ok((runtime, admin))
}

fn inject(ctx: &mut Context<'_>, a: InjectArgs) -> CliResult {
    let (spec, for_) = parse_inject(&a)?;
    let (runtime, mut admin) = session(ctx)?;
    known_service(&admin.plan, &a.service)?;
    if admin.plan.is_opaque_tcp(&a.service) {
        return Err(CliError::usage(anyhow::anyhow!(
            "service `{}`: {}",
            a.service,
            crate::policy::fault::TCP_FAULT_REFUSED
        )));
    }
    let for_ms = for_.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let (set, acknowledged) = runtime
        .block_on(async {
            let set = admin
                .set_fault(&a.service, spec.to_pb(None), for_ms)
                .await?;
            if a.wait.wait {
                admin
                    .wait_for_acks(&a.service, set.version, a.wait.timeout.0)
                    .await?;
            }
            Ok::<_, AdminError>((set, a.wait.wait))
        })
        .map_err(admin_error)?;
    let expires = Some(set.expires_unix_ms).filter(|ms| *ms > 0);
    let report = InjectReport {
        fault: view(&a.service, "live".into(), &spec, expires, true),
        config_version: Some(set.version),
        acknowledged,
        configmap: None,
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        fault_table(std::slice::from_ref(&report.fault), None)
    })?;
    Ok(())
}

pub(super) fn clear_table(report: &ClearReport) -> comfy_table::Table {
    let mut t = output::table(["SERVICE", "LIVE FAULT"]);
    let what = if report.cleared {
        "cleared"
    } else {
        "none (nothing to clear)"
    };
    t.add_row(vec![report.service.clone(), what.to_string()]);
    t
}

fn clear(ctx: &mut Context<'_>, a: ClearArgs) -> CliResult {
    let (runtime, mut admin) = session(ctx)?;
    known_service(&admin.plan, &a.service)?;
    let (cleared, acknowledged) = runtime
        .block_on(async {
            let cleared = admin.clear_fault(&a.service).await?;
            if a.wait.wait {
                admin
                    .wait_for_acks(&a.service, cleared.version, a.wait.timeout.0)
                    .await?;
            }
            Ok::<_, AdminError>((cleared, a.wait.wait))
        })
        .map_err(admin_error)?;
    let report = ClearReport {
        service: a.service,
        cleared: cleared.cleared,
        config_version: Some(cleared.version),
        acknowledged,
        configmap: None,
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        clear_table(&report)
    })?;
    Ok(())
}

fn list(ctx: &mut Context<'_>, a: ListArgs) -> CliResult {
    let (runtime, mut admin) = session(ctx)?;
    if let Some(s) = &a.service {
        known_service(&admin.plan, s)?;
    }
    let live = runtime.block_on(admin.list_faults()).map_err(admin_error)?;
    let now = now_unix_ms();
    let mut views = Vec::new();
    for service in admin.plan.services() {
        if a.service.as_ref().is_some_and(|s| *s != service) {
            continue;
        }
        let live = live.iter().find(|l| l.service == service).and_then(|l| {
            let wire = l.fault.as_ref()?;
            let spec = FaultSpec::from_pb(wire).ok()?;
            let expires = Some(wire.expires_unix_ms).filter(|ms| *ms > 0);
            expires.is_none_or(|at| now < at).then_some((spec, expires))
        });
        let overridden = live.is_some();
        if let Some((spec, expires)) = live {
            views.push(view(&service, "live".into(), &spec, expires, true));
        }
        if let Some(policy) = admin.plan.policies.get(&service) {
            if let Some(spec) = &policy.fault {
                views.push(view(
                    &service,
                    "policy.fault".into(),
                    spec,
                    None,
                    !overridden,
                ));
            }
            for (i, r) in policy.routes.iter().enumerate() {
                if let Some(spec) = &r.fault {
                    let source = format!("policy.routes[{i}].fault");
                    views.push(view(&service, source, spec, None, !overridden));
                }
            }
        }
    }
    output::render(
        ctx.out,
        ctx.global.output,
        &ListReport { faults: &views },
        |wide| {
            let callers = |service: &str| {
                admin
                    .plan
                    .proxies
                    .iter()
                    .filter(|p| p.upstreams.iter().any(|u| u.service == service))
                    .map(|p| p.name.clone())
                    .collect()
            };
            fault_table(&views, wide.then_some(&callers))
        },
    )?;
    Ok(())
}

pub(super) fn view(
    service: &str,
    source: String,
    spec: &FaultSpec,
    expires_unix_ms: Option<u64>,
    active: bool,
) -> FaultView {
    let percent = |ppm: u32| f64::from(ppm) / 10_000.0;
    FaultView {
        service: service.to_string(),
        source,
        abort: spec.abort.map(|a| AbortView {
            status: a.status,
            percent: percent(a.per_million),
        }),
        delay: spec.delay.map(|d| DelayView {
            duration_ms: d.ms,
            percent: percent(d.per_million),
        }),
        expires_unix_ms,
        expires_at: expires_unix_ms.map(|ms| rfc3339(UNIX_EPOCH + Duration::from_millis(ms))),
        active,
    }
}

/// Who calls a service: the instances (pods) whose proxies apply its faults.
pub(super) type Callers<'a> = &'a dyn Fn(&str) -> Vec<String>;

/// With `wide` (who calls a service), a CALLERS column: the instances (pods) whose proxies
/// apply the fault (a fault acts on the calling side).
pub(super) fn fault_table(views: &[FaultView], wide: Option<Callers<'_>>) -> comfy_table::Table {
    let mut headers = vec!["SERVICE", "SOURCE", "ABORT", "DELAY", "EXPIRES", "STATE"];
    if wide.is_some() {
        headers.push("CALLERS");
    }
    let mut t = output::table(headers);
    let now = now_unix_ms();
    for v in views {
        let abort = v.abort.as_ref().map_or("-".to_string(), |a| {
            format!("{}@{}", a.status, format_percent(ppm(a.percent)))
        });
        let delay = v.delay.as_ref().map_or("-".to_string(), |d| {
            format!("{}ms@{}", d.duration_ms, format_percent(ppm(d.percent)))
        });
        let expires = match (&v.expires_at, v.expires_unix_ms) {
            (Some(at), Some(ms)) => {
                let left = i64::try_from(ms.saturating_sub(now) / 1_000).unwrap_or(i64::MAX);
                format!("{at} (in {})", format_compact(left))
            }
            _ => "never".to_string(),
        };
        let state = if v.active {
            "active"
        } else {
            "overridden (live)"
        };
        let mut row = vec![
            v.service.clone(),
            v.source.clone(),
            abort,
            delay,
            expires,
            state.to_string(),
        ];
        if let Some(callers) = wide {
            let callers = callers(&v.service);
            row.push(if callers.is_empty() {
                "-".to_string()
            } else {
                callers.join(",")
            });
        }
        t.add_row(row);
    }
    t
}

/// Back from the view's percent to millionths (exact: the view came from millionths).
fn ppm(percent: f64) -> u32 {
    (percent * 10_000.0).round() as u32
}
