//! `meshctl canary`: weighted traffic splits across a service's versions, and progressive
//! rollouts (`start|promote|abort`, in `rollout.rs`; on Kubernetes the cluster adapter in `kube.rs`).

use std::collections::BTreeMap;

use clap::Subcommand;
use serde::Serialize;

use self::rollout::{FINISH_HELP, Finish, START_HELP};
use super::Context;
use super::StateFor;
use super::target::{self, Chosen, KubeTargetArgs, mesh_error};
use crate::canary::store::{Phase, RolloutState, RolloutStore};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::backend::read_splits;
use crate::control::plan::MeshPlan;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::kube::controller::status::pending_acks;
use crate::kube::mesh;
use crate::output;
use crate::policy::split::SplitWeights;

mod kube;
pub mod mirror;
pub mod rollout;

/// `canary shift --wait` ran out of time before every proxy acknowledged.
pub const EXIT_TIMEOUT: i32 = 4;
/// How often the controller's `/status` is read while waiting for acknowledgements.
pub(super) const ACK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

const SHIFT_HELP: &str = "\
How weights spread: --to VERSION gets exactly --weight; the rest (100 - weight) is shared by the
other versions in proportion to their current weights (evenly if they all have 0). Weights
always sum to 100 and are persisted in .meshctl/splits.json.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the weights are
server-side applied (field manager `meshctl`) to the HTTPRoute named after the service,
parentRef the Service, one rule without matches whose backendRefs are the Services
`<service>-<version>`; the route is created when there is none. Fields another manager owns
are not taken over without --force-conflicts. --wait reads the controller's /status (through
the API server's pods/proxy, or --controller-admin) until every pod calling the service runs
the new weights. Refused while a `canary start` of the service runs (its Lease
meshctl-rollout-<service> is live), as on a local mesh.

Examples:
  meshctl canary shift api --to v2 --weight 20
  meshctl canary shift api --to v2 --weight 50 --wait --timeout 1m -o json
  meshctl canary shift api --to v1 --weight 100          # everything back on v1
  meshctl canary shift api --to v2 --weight 10 -n shop --force-conflicts

Exit codes:
  0  the split is set (and, with --wait, every proxy calling the service applied it)
  1  failure (no mesh running, control plane unreachable; on Kubernetes: permission denied,
     or the HTTPRoute's fields are owned by another manager, named)
  2  usage error (unknown service or version, weight outside 0-100)
  4  --wait timed out; the split is set but some proxies have not acknowledged it (named)";

const STATUS_HELP: &str = "\
A rollout whose phase is Progressing but whose `canary start` is gone shows as Failed. On
Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the splits of the
namespace's services with more than one version (from their HTTPRoutes), and the rollouts
recorded in its ConfigMaps meshctl-rollout-<service>; a rollout runs while its Lease
meshctl-rollout-<service> is renewed (`holder`: host/pid of its `canary start`).

Examples:
  meshctl canary status
  meshctl canary status api -o json
  meshctl canary status -n shop";

const CANARY_HELP: &str = "\
Examples:
  meshctl canary shift api --to v2 --weight 20 --wait
  meshctl canary start api --to v2 --interval 30s
  meshctl canary status
  meshctl canary abort api
  meshctl canary mirror api --to v2 --percent 10 --for 10m
  meshctl canary diff api --max-mismatch 1%";

#[derive(Debug, clap::Args)]
#[command(after_help = CANARY_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: Canary,
}

#[derive(Debug, Subcommand)]
enum Canary {
    /// Set the traffic split now: send --weight percent of SERVICE's traffic to --to VERSION
    #[command(after_help = SHIFT_HELP)]
    Shift(ShiftArgs),
    /// Roll --to VERSION out step by step, gated on its own error rate and p99; roll back on breach
    #[command(after_help = START_HELP)]
    Start(rollout::StartArgs),
    /// Give the rolling-out version 100% now and end its rollout
    #[command(after_help = FINISH_HELP)]
    Promote(rollout::FinishArgs),
    /// Send the rolling-out version back to 0% now and end its rollout
    #[command(after_help = FINISH_HELP)]
    Abort(rollout::FinishArgs),
    /// Show the configured split weights and every rollout (phase, weight, last check, history)
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Copy a share of a service's requests to a version and compare its answers, live
    #[command(after_help = mirror::MIRROR_HELP)]
    Mirror(mirror::MirrorArgs),
    /// Show how mirrored requests' answers compared with the real ones, per route
    #[command(after_help = mirror::DIFF_HELP)]
    Diff(mirror::DiffArgs),
}

#[derive(Debug, clap::Args)]
struct ShiftArgs {
    /// The service whose traffic is split
    #[arg(add = crate::cmd::complete::services())]
    service: String,
    /// The version that gets --weight
    #[arg(long, value_name = "VERSION", add = crate::cmd::complete::versions())]
    to: String,
    /// Percent of traffic for --to (0-100)
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100), allow_hyphen_values = true)]
    weight: u32,
    /// Return only once every proxy calling the service acknowledged the new split
    #[arg(long)]
    wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    timeout: HumanDuration,
    /// Kubernetes: take over the HTTPRoute fields another field manager owns
    #[arg(long)]
    force_conflicts: bool,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct StatusArgs {
    /// Only this service
    #[arg(add = crate::cmd::complete::services())]
    pub(super) service: Option<String>,
    #[command(flatten)]
    pub(super) cluster: KubeTargetArgs,
}

/// One service's split: the JSON/YAML shape of `canary shift` and `canary status`.
#[derive(Debug, Serialize)]
pub(super) struct SplitView {
    pub(super) service: String,
    pub(super) weights: BTreeMap<String, u32>,
}

#[derive(Debug, Serialize)]
struct ShiftReport {
    #[serde(flatten)]
    split: SplitView,
    /// The version that carries the split (on Kubernetes: the controller's, with --wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    config_version: Option<u64>,
    acknowledged: bool,
    /// Kubernetes: the HTTPRoute written, `namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<String>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    match args.command {
        Canary::Shift(a) => shift(ctx, a),
        Canary::Start(a) => rollout::start(ctx, a),
        Canary::Promote(a) => rollout::finish(ctx, a, Finish::Promote),
        Canary::Abort(a) => rollout::finish(ctx, a, Finish::Abort),
        Canary::Status(a) => status(ctx, a),
        Canary::Mirror(a) => mirror::mirror(ctx, a),
        Canary::Diff(a) => mirror::diff(ctx, a),
    }
}

fn admin_error(e: AdminError) -> CliError {
    match e {
        AdminError::Timeout { .. } => CliError::new(e.into(), EXIT_TIMEOUT),
        other => CliError::from(anyhow::Error::new(other)),
    }
}

fn shift(ctx: &mut Context<'_>, a: ShiftArgs) -> CliResult {
    let target = ctx.target(Some(&a.cluster))?;
    if target.chosen == Chosen::Kubernetes {
        return shift_kube(ctx, a, &target.why);
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    let runtime = crate::cmd::client_runtime()?;
    // The gRPC channel is created inside the runtime it will run on.
    let _entered = runtime.enter();
    let mut admin = MeshAdmin::open(&state, ctx.global.request_timeout.0).map_err(admin_error)?;
    let versions = known_versions(&admin.plan, &a.service)?;
    refuse_during_rollout(&state, &a.service)?;
    let current = read_splits(&state)
        .map_err(anyhow::Error::new)?
        .remove(&a.service)
        .unwrap_or_else(|| SplitWeights::initial(&versions));
    let next = current
        .shift(&a.service, &versions, &a.to, a.weight)
        .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;

    let (version, acknowledged) = runtime
        .block_on(async {
            let version = admin.set_split(&a.service, &next).await?;
            if a.wait {
                admin
                    .wait_for_acks(&a.service, version, a.timeout.0)
                    .await?;
            }
            Ok::<_, AdminError>((version, a.wait))
        })
        .map_err(admin_error)?;

    let report = ShiftReport {
        split: SplitView {
            service: a.service,
            weights: next.0,
        },
        config_version: Some(version),
        acknowledged,
        route: None,
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        split_table(std::slice::from_ref(&report.split))
    })?;
    Ok(())
}

/// `canary shift` on Kubernetes: the weights go to the service's HTTPRoute.
fn shift_kube(ctx: &mut Context<'_>, a: ShiftArgs, why: &str) -> CliResult {
    let runtime = crate::cmd::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let (cluster, next, version) = runtime.block_on(async {
        let cluster = target::cluster(&a.cluster, timeout, why).await?;
        let split = mesh::split_of(&cluster, &a.service)
            .await
            .map_err(mesh_error)?;
        refuse_during_kube_rollout(&cluster, &a.service).await?;
        let next = split
            .current
            .shift(&a.service, &split.versions(), &a.to, a.weight)
            .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;
        mesh::apply_split(&cluster, &a.service, &split, &next, a.force_conflicts)
            .await
            .map_err(mesh_error)?;
        let version = if a.wait {
            Some(wait_kube(&cluster, &a.service, &next, a.timeout.0).await?)
        } else {
            None
        };
        Ok::<_, CliError>((cluster, next, version))
    })?;
    let report = ShiftReport {
        split: SplitView {
            service: a.service.clone(),
            weights: next.0,
        },
        config_version: version,
        acknowledged: a.wait,
        route: Some(format!("{}/{}", cluster.namespace, a.service)),
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        split_table(std::slice::from_ref(&report.split))
    })?;
    Ok(())
}

/// What `canary shift --wait` and a cluster rollout wait for, in words.
const SPLIT_CHANGE: target::Change<'static> = target::Change {
    pending: "pods not acknowledging the new split",
    unread: "no controller replica has read the new HTTPRoute yet",
    done: "the split is set",
};

/// One look at the controller's `/status`: `Ok(version)` once every pod calling `service`
/// acknowledged a configuration carrying `weights` (the highest such version over
/// replicas), else `Err(what is pending, in words)`.
pub(super) async fn acks_kube(
    cluster: &mesh::Cluster,
    service: &str,
    weights: &SplitWeights,
) -> Result<Result<u64, String>, mesh::MeshError> {
    let key = format!("{}/{service}", cluster.namespace);
    target::acks_once(
        cluster,
        &SPLIT_CHANGE,
        |replicas| pending_acks(replicas, &cluster.namespace, service, &weights.0),
        |r| r.splits.get(&key) == Some(&weights.0),
    )
    .await
}

/// Polls the controller's `/status` until every pod calling `service` acknowledged a
/// configuration carrying `weights`; the version that does (the highest over replicas).
pub(super) async fn wait_kube(
    cluster: &mesh::Cluster,
    service: &str,
    weights: &SplitWeights,
    timeout: std::time::Duration,
) -> Result<u64, CliError> {
    let key = format!("{}/{service}", cluster.namespace);
    target::wait_for_acks(
        cluster,
        timeout,
        &SPLIT_CHANGE,
        |replicas| pending_acks(replicas, &cluster.namespace, service, &weights.0),
        |r| r.splits.get(&key) == Some(&weights.0),
    )
    .await
}

/// On Kubernetes too: a live Lease `meshctl-rollout-<service>` is a running `canary start`.
async fn refuse_during_kube_rollout(
    cluster: &mesh::Cluster,
    service: &str,
) -> Result<(), CliError> {
    let holder = crate::kube::rollout::holder(cluster, service)
        .await
        .map_err(mesh_error)?;
    match holder {
        Some(h) if h.live => Err(anyhow::anyhow!(
            "a rollout of `{service}` is running (held by {}, Lease {}/{}): end it with `meshctl canary promote|abort {service}` first",
            h.identity,
            cluster.namespace,
            crate::kube::rollout::object_name(service)
        )
        .into()),
        _ => Ok(()),
    }
}

/// A running `canary start` owns the service's split: `shift` would fight it.
fn refuse_during_rollout(state: &std::path::Path, service: &str) -> Result<(), CliError> {
    let store = RolloutStore::new(state);
    if store.owner_alive(service).map_err(anyhow::Error::new)? {
        let pid = store
            .load(service)
            .ok()
            .flatten()
            .map(|s| format!(" (pid {})", s.owner_pid))
            .unwrap_or_default();
        return Err(anyhow::anyhow!(
            "a rollout of `{service}` is running{pid}: end it with `meshctl canary promote|abort {service}` first"
        )
        .into());
    }
    Ok(())
}

pub(super) fn known_versions(plan: &MeshPlan, service: &str) -> Result<Vec<String>, CliError> {
    let versions = plan.versions(service);
    if versions.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "unknown service `{service}` (services: {})",
            plan.services().join(", ")
        )));
    }
    Ok(versions)
}

fn status(ctx: &mut Context<'_>, a: StatusArgs) -> CliResult {
    let target = ctx.target(Some(&a.cluster))?;
    if target.chosen == Chosen::Kubernetes {
        let runtime = crate::cmd::client_runtime()?;
        let (views, rollouts) =
            runtime.block_on(kube::status(&a, ctx.global.request_timeout.0, &target.why))?;
        return render_status(ctx, a.service.is_some(), &views, &rollouts);
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    let mut splits = read_splits(&state).map_err(anyhow::Error::new)?;
    // With a running mesh, services that were never shifted show their default split too.
    if let Ok(plan) = MeshPlan::load(&state) {
        for svc in plan.services() {
            let versions = plan.versions(&svc);
            if versions.len() > 1 {
                splits
                    .entry(svc)
                    .or_insert_with(|| SplitWeights::initial(&versions));
            }
        }
        if let Some(s) = &a.service {
            known_versions(&plan, s)?;
        }
    }
    let views: Vec<SplitView> = splits
        .into_iter()
        .filter(|(svc, _)| a.service.as_ref().is_none_or(|s| s == svc))
        .map(|(service, w)| SplitView {
            service,
            weights: w.0,
        })
        .collect();
    let rollouts = rollouts(&state, a.service.as_deref())?;
    render_status(ctx, a.service.is_some(), &views, &rollouts)
}

/// The splits, then the rollouts (and, for one service, its rollout's history).
fn render_status(
    ctx: &mut Context<'_>,
    one_service: bool,
    views: &[SplitView],
    rollouts: &[RolloutView],
) -> CliResult {
    #[derive(Serialize)]
    struct Status<'a> {
        splits: &'a [SplitView],
        rollouts: &'a [RolloutView],
    }
    let status = Status {
        splits: views,
        rollouts,
    };
    match ctx.global.output {
        output::OutputFormat::Json | output::OutputFormat::Yaml => {
            output::render(ctx.out, ctx.global.output, &status, |_| split_table(views))?;
        }
        output::OutputFormat::Table | output::OutputFormat::Wide => {
            writeln!(ctx.out, "{}", split_table(views))?;
            if !rollouts.is_empty() {
                writeln!(ctx.out)?;
                let wide = ctx.global.output == output::OutputFormat::Wide;
                writeln!(ctx.out, "{}", rollout_table(rollouts, wide))?;
            }
            // One service: its rollout's history too.
            if let (true, Some(r)) = (one_service, rollouts.first()) {
                writeln!(ctx.out)?;
                writeln!(ctx.out, "history:")?;
                for e in &r.state.history {
                    writeln!(ctx.out, "  {}", history_line(e))?;
                }
            }
        }
    }
    Ok(())
}

/// One rollout as `canary status` shows it: the state on disk, with `phase` Failed when it
/// says Progressing but its `canary start` is gone.
#[derive(Debug, Serialize)]
pub(super) struct RolloutView {
    #[serde(flatten)]
    pub(super) state: RolloutState,
    /// A live `canary start` runs it.
    pub(super) running: bool,
    /// On Kubernetes: the `host/pid` holding (or last holding) the rollout's Lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) holder: Option<String>,
}

impl RolloutView {
    pub(super) fn new(mut state: RolloutState, running: bool) -> Self {
        if state.phase == Phase::Progressing && !running {
            state.phase = Phase::Failed;
            state.reason = format!(
                "its `canary start` (pid {}) ended without finishing; the weight stays at {}% (`meshctl canary promote|abort {}`, or `start` again)",
                state.owner_pid, state.weight, state.service
            );
        }
        RolloutView {
            state,
            running,
            holder: None,
        }
    }
}

fn rollouts(state: &std::path::Path, only: Option<&str>) -> Result<Vec<RolloutView>, CliError> {
    let store = RolloutStore::new(state);
    let mut views = Vec::new();
    for service in store.services().map_err(anyhow::Error::new)? {
        if only.is_some_and(|s| s != service) {
            continue;
        }
        let Some(st) = store.load(&service).map_err(anyhow::Error::new)? else {
            continue;
        };
        let running = store.owner_alive(&service).map_err(anyhow::Error::new)?;
        views.push(RolloutView::new(st, running));
    }
    Ok(views)
}

/// `wide` adds the rollout's steps, interval, gates and timeout.
fn rollout_table(rollouts: &[RolloutView], wide: bool) -> comfy_table::Table {
    let mut headers = vec![
        "ROLLOUT",
        "TO",
        "PHASE",
        "WEIGHT",
        "STEP",
        "LAST CHECK",
        "UPDATED",
    ];
    if wide {
        headers.extend(["STEPS", "INTERVAL", "GATES", "TIMEOUT"]);
    }
    let mut t = output::table(headers);
    for r in rollouts {
        let s = &r.state;
        let last = s.last_analysis.as_ref().map_or("-".to_string(), |a| {
            format!(
                "{}: {} requests, {} errors, p99 {}",
                match a.decision {
                    crate::canary::engine::Decision::Pass => "pass",
                    crate::canary::engine::Decision::Hold => "hold",
                    crate::canary::engine::Decision::Fail => "fail",
                },
                a.requests,
                a.errors,
                a.p99_ms.map_or("-".to_string(), |ms| format!("{ms}ms"))
            )
        });
        let mut row = vec![
            s.service.clone(),
            s.to.clone(),
            format!("{:?}", s.phase),
            format!("{}%", s.weight),
            format!("{}/{}", s.step, s.steps.len()),
            last,
            // To the second: the JSON has the milliseconds.
            s.updated_at
                .get(..19)
                .map_or(s.updated_at.clone(), |t| format!("{t}Z")),
        ];
        if wide {
            row.extend(wide_cells(s));
        }
        t.add_row(row);
    }
    t
}

/// STEPS, INTERVAL, GATES and TIMEOUT of a rollout.
fn wide_cells(s: &RolloutState) -> [String; 4] {
    use crate::canary::gate::pct;
    let g = &s.gates;
    let mut gates = Vec::new();
    if let Some(inc) = g.max_error_rate_increase {
        gates.push(format!("errors ≤ baseline+{}", pct(inc)));
    }
    if g.max_error_rate < 1.0 {
        gates.push(format!("errors ≤ {}", pct(g.max_error_rate)));
    }
    gates.push(format!("p99 ≤ {}ms", g.max_p99_ms));
    gates.push(format!("≥ {} requests", g.min_requests));
    gates.push(format!("{} failed checks", s.failure_threshold));
    let steps: Vec<String> = s.steps.iter().map(|w| format!("{w}%")).collect();
    let secs = |ms: u64| crate::duration::format_compact((ms / 1000) as i64);
    [
        steps.join(","),
        secs(s.interval_ms),
        gates.join(", "),
        secs(s.timeout_ms),
    ]
}

/// One history entry in words.
fn history_line(e: &crate::canary::engine::Event) -> String {
    use crate::canary::engine::EventKind;
    let what = match &e.kind {
        EventKind::Started {
            to,
            from_weight,
            steps,
            ..
        } => {
            format!("started: {to} from {from_weight}%, steps {steps:?}")
        }
        EventKind::Step {
            step,
            steps,
            weight,
        } => format!("step {step}/{steps}: {weight}%"),
        EventKind::Analysis(a) => format!("check: {}", rollout::analysis_row(a)),
        EventKind::MirrorCheck(c) => format!("mirror check: {}", c.reason),
        EventKind::RolledBack { by, reason, .. } => format!("rolled back by {by}: {reason}"),
        EventKind::Promoted { by, .. } => format!("promoted by {by}"),
        EventKind::TimedOut { weight, reason } => format!("timed out at {weight}%: {reason}"),
    };
    format!("{} {what}", e.at)
}

fn split_table(views: &[SplitView]) -> comfy_table::Table {
    let mut t = output::table(["SERVICE", "VERSION", "WEIGHT"]);
    for v in views {
        for (version, weight) in &v.weights {
            t.add_row(vec![
                v.service.clone(),
                version.clone(),
                format!("{weight}%"),
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::kube::controller::status::{ControllerStatus, ProxyStatus};
    use crate::kube::mock::{self, Seen};

    /// A cluster whose one controller replica answers `doc` through pods/proxy.
    fn cluster(doc: ControllerStatus) -> mesh::Cluster {
        let answer = serde_json::to_value(&doc).unwrap();
        let (client, _) = mock::client(move |seen: &Seen| {
            if seen.uri.contains("/proxy/status") {
                mock::ok(answer.clone())
            } else {
                mock::ok(
                    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                    "items": [{"metadata": {"name": "meshctl-controller-a"}, "spec": {"containers": []},
                               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}),
                )
            }
        });
        mesh::Cluster {
            client,
            target: mock::target(),
            namespace: "shop".into(),
            admin: mesh::ControllerAdmin::PodsProxy {
                namespace: "meshctl-system".into(),
            },
            request_timeout: Duration::from_secs(5),
        }
    }

    fn doc(web: ProxyStatus) -> ControllerStatus {
        ControllerStatus {
            config_version: 6,
            catalog_version: 5,
            splits: BTreeMap::from([(
                "shop/api".to_string(),
                BTreeMap::from([("v1".to_string(), 50), ("v2".to_string(), 50)]),
            )]),
            faults: BTreeMap::new(),
            proxies: vec![web],
            ..ControllerStatus::default()
        }
    }

    fn half() -> SplitWeights {
        SplitWeights(BTreeMap::from([
            ("v1".to_string(), 50),
            ("v2".to_string(), 50),
        ]))
    }

    #[tokio::test]
    async fn wait_returns_the_version_carrying_the_split_once_callers_acknowledged_it() {
        let web = ProxyStatus {
            instance: "shop/web-0".into(),
            upstreams: vec!["api".into()],
            connected: true,
            acked_version: 5,
            ..Default::default()
        };
        let version = wait_kube(&cluster(doc(web)), "api", &half(), Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(version, 5);
    }

    #[tokio::test]
    async fn wait_times_out_with_exit_4_naming_the_pods_that_did_not_acknowledge() {
        let web = ProxyStatus {
            instance: "shop/web-0".into(),
            upstreams: vec!["api".into()],
            connected: false,
            ..Default::default()
        };
        let e = wait_kube(
            &cluster(doc(web)),
            "api",
            &half(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, EXIT_TIMEOUT);
        let message = format!("{:#}", e.error.unwrap());
        assert!(message.contains("shop/web-0 (not connected)"), "{message}");
    }
}
