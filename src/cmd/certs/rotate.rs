//! `meshctl certs rotate issuer|anchor`: zero-downtime CA rotation, each step gated on what
//! the proxies report to the control plane — the local mesh's, or a cluster's controllers
//! (the CA's working copy then is the directory `install` saved; each step's result is
//! written into the cluster, the checkpoint too). The steps run in `control::rotation`; this
//! file picks the plane, parses the flags and renders the progress.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use indicatif::ProgressBar;
use serde::Serialize;

use crate::cmd::Context;
use crate::cmd::StateFor;
use crate::cmd::target::{self, Chosen, KubeTargetArgs};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::plan::PlanError;
use crate::control::rotation::{
    self as rotation, CaPlane, Files, ISSUER_STEPS, Limits, Rotated, RotationView, RunError,
};
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult, code};
use crate::identity::rotation::{Pending, Step};
use crate::kube::rotation::ClusterPlane;

const ROTATE_HELP: &str = "\
With -o json, progress is NDJSON on stdout: one object per event
  {\"event\":\"step\"|\"waiting\"|\"step-done\"|\"done\"|\"plan\", \"step\":…, …}

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the CA is the
directory `meshctl install` saved (--identity-dir, default ./meshctl-identity; it holds the
trust anchor's key, which never enters the cluster) and is updated as locally; each step
writes the issuer Secret (and, when the bundle changes, the bundle ConfigMap and the
injector webhook's caBundle) in the controller's namespace, every controller replica puts it
in force within seconds, and the gates read every meshed pod's report from the controllers.
An anchor rotation's checkpoint is the ConfigMap meshctl-rotation there.

Examples:
  meshctl certs rotate issuer
  meshctl certs rotate issuer --identity-dir ./meshctl-identity -n shop   # on Kubernetes
  meshctl certs rotate anchor --dry-run
  meshctl certs rotate anchor --until new-issuer && meshctl certs rotate anchor --resume
  meshctl certs rotate anchor --timeout 10m -o json

Exit codes:
  0  rotation complete (or, with --dry-run, the plan printed; with --until, stopped there)
  1  failure (no CA, unreadable files, control plane error, no rotation to resume)
  2  usage error
  4  a step could not complete within --timeout, or its gate refused it (a proxy never
     reported, or still serves the old chain); every such proxy is named on stderr and
     nothing was dropped: fix it and run the command again with --resume (anchor)";

const ROTATE_GROUP_HELP: &str = "\
Examples:
  meshctl certs rotate issuer
  meshctl certs rotate anchor --dry-run";

#[derive(Debug, clap::Args)]
#[command(after_help = ROTATE_GROUP_HELP)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// New issuer under the current anchor; every proxy renews its leaf from it at once
    #[command(after_help = ROTATE_HELP)]
    Issuer(IssuerArgs),
    /// New trust anchor: add it, re-issue every leaf under it, drop the old one (resumable)
    #[command(after_help = ROTATE_HELP)]
    Anchor(AnchorArgs),
}

#[derive(Debug, clap::Args)]
struct WaitArgs {
    /// How long each waiting step may take before the rotation stops (exit 4)
    #[arg(long, default_value = "5m", allow_hyphen_values = true)]
    timeout: HumanDuration,
    /// Lifetime of the new issuer (capped at what is left of its anchor)
    #[arg(long, default_value = "90d", allow_hyphen_values = true)]
    issuer_lifetime: HumanDuration,
    /// On Kubernetes: the CA `meshctl install` saved (the directory holding identity/, with
    /// the trust anchor's key) [default: ./meshctl-identity]
    #[arg(long, value_name = "DIR")]
    identity_dir: Option<PathBuf>,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
struct IssuerArgs {
    #[command(flatten)]
    wait: WaitArgs,
}

#[derive(Debug, clap::Args)]
struct AnchorArgs {
    #[command(flatten)]
    wait: WaitArgs,
    /// Lifetime of the new trust anchor
    #[arg(long, default_value = "365d", allow_hyphen_values = true)]
    anchor_lifetime: HumanDuration,
    /// Print the steps that would run (from the checkpoint with --resume) and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Continue the interrupted rotation from its checkpoint (.meshctl/rotation.json; on
    /// Kubernetes the ConfigMap meshctl-rotation)
    #[arg(long)]
    resume: bool,
    /// Stop after this step and continue later with --resume: add-anchor, await-bundle,
    /// new-issuer, await-leaves or drop-anchor
    #[arg(long, value_name = "STEP")]
    until: Option<Step>,
}

/// One NDJSON progress event.
#[derive(Debug, Serialize)]
struct Event<'a> {
    event: &'a str,
    step: &'a str,
    index: usize,
    total: usize,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pending: &'a [Pending],
    #[serde(skip_serializing_if = "Option::is_none")]
    anchor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let wait = match &args.target {
        Target::Issuer(a) => &a.wait,
        Target::Anchor(a) => &a.wait,
    };
    let chosen = ctx.target(Some(&wait.cluster))?;
    let runtime = crate::cmd::client_runtime()?;
    let (state, plane) = runtime.block_on(open_plane(ctx, wait, chosen))?;
    runtime.block_on(async {
        match plane {
            Plane::Files => rotate(ctx, &state, Files, args.target).await,
            Plane::Local(admin) => rotate(ctx, &state, *admin, args.target).await,
            Plane::Cluster(cluster) => rotate(ctx, &state, *cluster, args.target).await,
        }
    })
}

/// Where the CA is put in force and the proxies' reports are read.
enum Plane {
    /// No local mesh runs: there is no proxy to wait for, only files to change.
    Files,
    /// The local mesh's control plane.
    Local(Box<MeshAdmin>),
    /// A cluster's controllers.
    Cluster(Box<ClusterPlane>),
}

/// The CA directory (the state dir holding `identity/`) and where it is put in force.
async fn open_plane(
    ctx: &Context<'_>,
    wait: &WaitArgs,
    chosen: target::Resolved,
) -> Result<(PathBuf, Plane), CliError> {
    match chosen.chosen {
        Chosen::Kubernetes => {
            let cluster =
                target::cluster(&wait.cluster, ctx.global.request_timeout.0, &chosen.why).await?;
            let dir = wait
                .identity_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(crate::cmd::install::DEFAULT_SAVE_DIR));
            let flag = if wait.identity_dir.is_some() {
                "--identity-dir"
            } else {
                "the default --identity-dir"
            };
            let store = crate::kube::identity::ca_store(&dir, flag).map_err(|e| {
                CliError::usage(anyhow::anyhow!(
                    "{e:#}; rotating a cluster's CA needs the directory `meshctl install` saved (--identity-dir DIR)"
                ))
            })?;
            let plane = ClusterPlane::open(
                cluster,
                wait.cluster.controller_namespace.clone(),
                &store,
                &dir,
            )
            .await
            .map_err(run_error)?;
            let root = store.dir().parent().unwrap_or(&dir).to_path_buf();
            Ok((root, Plane::Cluster(Box::new(plane))))
        }
        Chosen::Local(_) => {
            if wait.identity_dir.is_some() {
                return Err(CliError::usage(anyhow::anyhow!(
                    "--identity-dir is for a mesh in a cluster; a local mesh's CA is in its state directory (--state-dir)"
                )));
            }
            let state = ctx.state_dir(StateFor::Ca)?;
            let plane = match MeshAdmin::open(&state, ctx.global.request_timeout.0) {
                Ok(admin) => Plane::Local(Box::new(admin)),
                Err(AdminError::Plan(PlanError::NotRunning(_))) => Plane::Files,
                Err(e) => return Err(anyhow::Error::new(e).into()),
            };
            Ok((state, plane))
        }
    }
}

/// Runs the rotation `target` asks for on `plane`, rendering its progress and its end.
async fn rotate<P: CaPlane>(
    ctx: &mut Context<'_>,
    state: &Path,
    plane: P,
    target: Target,
) -> CliResult {
    let (limits, total) = match &target {
        Target::Issuer(a) => (limits(&a.wait), ISSUER_STEPS),
        Target::Anchor(a) => (limits(&a.wait), Step::ALL.len()),
    };
    match target {
        Target::Issuer(_) => {
            let mut view = Progress::new(ctx, total)?;
            let rotated = rotation::rotate_issuer(plane, state, &mut view, limits).await;
            view.end(rotated)
        }
        Target::Anchor(a) => {
            let (cp, first) = rotation::anchor_checkpoint(&plane, state, a.resume)
                .await
                .map_err(run_error)?;
            if a.dry_run {
                return print_plan(ctx, cp.step);
            }
            let mut view = Progress::new(ctx, total)?;
            let rotated = rotation::rotate_anchor(
                plane,
                state,
                &mut view,
                cp,
                first,
                limits,
                a.anchor_lifetime.0,
                a.until,
            )
            .await;
            view.end(rotated)
        }
    }
}

fn limits(wait: &WaitArgs) -> Limits {
    Limits {
        timeout: wait.timeout.0,
        issuer_lifetime: wait.issuer_lifetime.0,
    }
}

/// A rotation's error as the CLI exits with it: stalled 4, usage 2, else 1.
fn run_error(e: RunError) -> CliError {
    match e {
        RunError::Stalled(m) => CliError::new(anyhow::anyhow!("{m}"), code::ROTATION_STALLED),
        RunError::Usage(m) => CliError::usage(anyhow::anyhow!("{m}")),
        RunError::Output(e) => CliError::from(e),
        RunError::Failed(e) => CliError::from(e),
    }
}

fn print_plan(ctx: &mut Context<'_>, from: Step) -> CliResult {
    let total = Step::ALL.len();
    for step in Step::ALL.into_iter().skip(from.index()) {
        if ctx.global.output.is_structured() {
            crate::output::json_line(
                ctx.out,
                &Event {
                    event: "plan",
                    step: step.name(),
                    index: step.index() + 1,
                    total,
                    description: step.describe(),
                    pending: &[],
                    anchor: None,
                    issuer: None,
                },
            )?;
        } else {
            writeln!(
                ctx.out,
                "{}/{total} {:<14} {}",
                step.index() + 1,
                step.name(),
                step.describe()
            )?;
        }
    }
    Ok(())
}

/// Renders a rotation: NDJSON events (`-o json`) or a step bar (stderr, TTY only).
struct Progress<'a> {
    out: &'a mut dyn Write,
    json: bool,
    bar: ProgressBar,
    /// Steps in this rotation (for `index/total`).
    total: usize,
}

impl<'a> Progress<'a> {
    fn new(ctx: &'a mut Context<'_>, total: usize) -> Result<Self, CliError> {
        let json = ctx.global.output.is_structured();
        let bar = crate::output::step_bar(total as u64, json)?;
        Ok(Progress {
            out: ctx.out,
            json,
            bar,
            total,
        })
    }

    /// One NDJSON event (only with `-o json`); `index` counts from 0.
    fn event(
        &mut self,
        event: &str,
        step: Step,
        index: usize,
        description: &str,
        pending: &[Pending],
    ) -> std::io::Result<()> {
        if !self.json {
            return Ok(());
        }
        crate::output::json_line(
            self.out,
            &Event {
                event,
                step: step.name(),
                index: index + 1,
                total: self.total,
                description,
                pending,
                anchor: None,
                issuer: None,
            },
        )
    }

    /// The rotation's end: done, stopped by `--until`, or an error (a stalled step leaves
    /// the bar where it stopped).
    fn end(self, rotated: Result<Rotated, RunError>) -> CliResult {
        match rotated {
            Ok(Rotated::Done { anchor, issuer }) => self.finish(&anchor, &issuer),
            Ok(Rotated::Stopped(step)) => {
                self.bar.finish_and_clear();
                writeln!(
                    self.out,
                    "stopped after {}; continue with `meshctl certs rotate anchor --resume`",
                    step.name()
                )?;
                Ok(())
            }
            Err(e) => {
                if matches!(e, RunError::Stalled(_)) {
                    self.bar.abandon();
                }
                Err(run_error(e))
            }
        }
    }

    fn finish(self, anchor: &str, issuer: &str) -> CliResult {
        self.bar.finish_and_clear();
        if self.json {
            crate::output::json_line(
                self.out,
                &Event {
                    event: "done",
                    step: Step::Done.name(),
                    index: self.total,
                    total: self.total,
                    description: Step::Done.describe(),
                    pending: &[],
                    anchor: Some(anchor),
                    issuer: Some(issuer),
                },
            )?;
        } else {
            writeln!(
                self.out,
                "rotation complete: trust anchor {anchor}, issuer {issuer}"
            )?;
        }
        Ok(())
    }
}

impl RotationView for Progress<'_> {
    fn started(&mut self, step: Step, index: usize, description: &str) -> std::io::Result<()> {
        self.bar.set_position(index as u64);
        self.bar.set_message(description.to_string());
        self.event("step", step, index, description, &[])
    }

    fn completed(&mut self, step: Step, index: usize) -> std::io::Result<()> {
        self.bar.set_position(index as u64 + 1);
        self.event("step-done", step, index, "", &[])
    }

    fn waiting(&mut self, step: Step, index: usize, pending: &[Pending]) -> std::io::Result<()> {
        self.bar.set_message(format!(
            "{}: waiting for {} proxies",
            step.name(),
            pending.len()
        ));
        self.event("waiting", step, index, "", pending)
    }
}
