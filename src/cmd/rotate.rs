//! `meshctl certs rotate issuer|anchor`: zero-downtime CA rotation, each step gated on what
//! the proxies report to the control plane — the local mesh's, or a cluster's controllers
//! (the CA's working copy then is the directory `install` saved; each step's result is
//! written into the cluster, the checkpoint too).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;
use indicatif::ProgressBar;
use serde::Serialize;

use super::Context;
use super::StateFor;
use super::target::{self, Chosen, KubeTargetArgs, mesh_error};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::plan::PlanError;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult, code};
use crate::identity::rotation::{self, Checkpoint, Pending, ProxyView, Step};
use crate::identity::store::CaStore;
use crate::kube::identity::Material;
use crate::kube::mesh::{self, Cluster};
use crate::kube::rotation as cluster_rotation;

/// How often the proxies' reported state is polled while a step waits.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Margin kept between a new issuer's expiry and its anchor's (the cap is computed first).
pub const ISSUER_EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// `rotate issuer` runs two steps: new-issuer, await-leaves.
const ISSUER_STEPS: usize = 2;

const ROTATE_HELP: &str = "\
Exit codes:
  0  rotation complete (or, with --dry-run, the plan printed; with --until, stopped there)
  1  failure (no CA, unreadable files, control plane error, no rotation to resume)
  2  usage error
  4  a step could not complete within --timeout, or its gate refused it (a proxy never
     reported, or still serves the old chain); every such proxy is named on stderr and
     nothing was dropped: fix it and run the command again with --resume (anchor)

With -o json, progress is NDJSON on stdout: one object per event
  {\"event\":\"step\"|\"waiting\"|\"step-done\"|\"done\"|\"plan\", \"step\":…, …}

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the CA is the
directory `meshctl install` saved (--identity-dir, default ./meshctl-identity; it holds the
trust anchor's key, which never enters the cluster) and is updated as locally; each step
writes the issuer Secret (and, when the bundle changes, the bundle ConfigMap and the
injector webhook's caBundle) in the controller's namespace, every controller replica puts it
in force within seconds, and the gates read every meshed pod's report from the controllers.
An anchor rotation's checkpoint is the ConfigMap meshctl-rotation there.";

#[derive(Debug, clap::Args)]
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
    let runtime = super::client_runtime()?;
    let (state, plane) = runtime.block_on(open_plane(ctx, wait, chosen))?;
    runtime.block_on(async {
        match args.target {
            Target::Issuer(a) => rotate_issuer(ctx, &state, plane, a).await,
            Target::Anchor(a) => rotate_anchor(ctx, &state, plane, a).await,
        }
    })
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
            .await?;
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

async fn rotate_issuer(
    ctx: &mut Context<'_>,
    state: &Path,
    plane: Plane,
    a: IssuerArgs,
) -> CliResult {
    if let Some(cp) = plane.load_checkpoint(state).await? {
        return Err(anyhow::anyhow!(
            "an anchor rotation is in progress (next step {}): finish it first with `meshctl certs rotate anchor --resume`",
            cp.step.name()
        )
        .into());
    }
    let mut driver = Driver::open(ctx, state, plane, &a.wait, ISSUER_STEPS)?;
    driver.started(
        Step::NewIssuer,
        0,
        "create a new issuer under the current anchor",
    )?;
    let anchor = driver.store.anchor().context("loading the trust anchor")?;
    let issuer = driver
        .store
        .replace_issuer(&anchor, issuer_lifetime(&anchor, &a.wait))
        .context("creating the new issuer")?;
    driver.reload().await?;
    driver.completed(Step::NewIssuer, 0)?;
    driver.started(Step::AwaitLeaves, 1, Step::AwaitLeaves.describe())?;
    driver
        .wait(Step::AwaitLeaves, 1, |views| {
            Ok(rotation::leaves_pending(views, &issuer))
        })
        .await?;
    driver.completed(Step::AwaitLeaves, 1)?;
    let anchor = driver
        .store
        .anchor_fingerprint()
        .context("loading the trust anchor")?;
    driver.finish(&anchor, &issuer)
}

async fn rotate_anchor(
    ctx: &mut Context<'_>,
    state: &Path,
    plane: Plane,
    a: AnchorArgs,
) -> CliResult {
    let store = CaStore::new(state);
    let (mut cp, first) = match (plane.load_checkpoint(state).await?, a.resume) {
        (Some(cp), true) => (cp, false),
        (Some(cp), false) => {
            return Err(anyhow::anyhow!(
                "an anchor rotation is in progress (next step {}): continue it with --resume",
                cp.step.name()
            )
            .into());
        }
        (None, true) => return Err(anyhow::anyhow!("no anchor rotation to resume").into()),
        (None, false) => (
            Checkpoint::start(
                store
                    .anchor_fingerprint()
                    .context("loading the trust anchor")?,
            ),
            true,
        ),
    };
    if a.dry_run {
        return print_plan(ctx, cp.step);
    }
    let mut driver = Driver::open(ctx, state, plane, &a.wait, Step::ALL.len())?;
    if first {
        // Recorded before the first change: a second rotation cannot start beside this one,
        // and an interrupted first step is resumed (staging the anchor is idempotent).
        driver.plane.save_checkpoint(state, &cp, true).await?;
    }
    while cp.step != Step::Done {
        let step = cp.step;
        driver.started(step, step.index(), step.describe())?;
        match step {
            Step::AddAnchor => {
                let fp = driver
                    .store
                    .stage_next_anchor(a.anchor_lifetime.0)
                    .context("creating the new trust anchor")?;
                cp.new_anchor = Some(fp);
                driver.reload().await?;
            }
            Step::NewIssuer => {
                driver.gate(&cp, step).await?;
                let next = driver
                    .store
                    .next_anchor()
                    .context("loading the new trust anchor")?
                    .ok_or(rotation::RotationError::Incomplete("anchor file"))
                    .map_err(anyhow::Error::new)?;
                let fp = driver
                    .store
                    .replace_issuer(&next, issuer_lifetime(&next, &a.wait))
                    .context("creating the issuer under the new anchor")?;
                cp.new_issuer = Some(fp);
                driver.reload().await?;
            }
            Step::DropAnchor => {
                driver.gate(&cp, step).await?;
                driver
                    .store
                    .promote_next_anchor()
                    .context("dropping the old anchor")?;
                driver.reload().await?;
            }
            Step::AwaitBundle | Step::AwaitLeaves | Step::AwaitDropped => {
                let gate = cp.clone();
                driver
                    .wait(step, step.index(), |views| gate.pending(step, views))
                    .await?;
            }
            Step::Done => {}
        }
        cp.step = step.next();
        driver.plane.save_checkpoint(state, &cp, false).await?;
        driver.completed(step, step.index())?;
        if a.until == Some(step) && cp.step != Step::Done {
            driver.bar.finish_and_clear();
            writeln!(
                driver.out,
                "stopped after {}; continue with `meshctl certs rotate anchor --resume`",
                step.name()
            )?;
            return Ok(());
        }
    }
    let anchor = cp.new_anchor.unwrap_or_default();
    let issuer = cp.new_issuer.unwrap_or_default();
    driver.finish(&anchor, &issuer)
}

fn issuer_lifetime(signer: &crate::identity::ca::SigningCa, wait: &WaitArgs) -> Duration {
    let left = signer
        .not_after()
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    wait.issuer_lifetime
        .0
        .min(left.saturating_sub(ISSUER_EXPIRY_MARGIN))
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

/// Where the CA is put in force and the proxies' reports are read.
enum Plane {
    /// No local mesh runs: there is no proxy to wait for, only files to change.
    Files,
    /// The local mesh's control plane.
    Local(Box<MeshAdmin>),
    /// A cluster's controllers.
    Cluster(Box<ClusterPlane>),
}

/// A cluster being rotated: where its controller lives and what the CA directory is.
struct ClusterPlane {
    cluster: Cluster,
    /// The controller's namespace (the issuer Secret, the checkpoint).
    cns: String,
    trust_domain: String,
}

impl ClusterPlane {
    /// Checks that the CA in `store` is this mesh's (its anchor is in the cluster's bundle)
    /// before anything changes.
    async fn open(
        cluster: Cluster,
        cns: String,
        store: &CaStore,
        dir: &Path,
    ) -> Result<Self, CliError> {
        let meta = store.meta().context("reading the CA's trust domain")?;
        let plane = ClusterPlane {
            cluster,
            cns,
            trust_domain: meta.trust_domain,
        };
        let held = plane.held().await?;
        let anchor = store
            .anchor_fingerprint()
            .context("loading the trust anchor")?;
        let bundle: Vec<String> = crate::identity::pem::certs(&held.bundle_pem)
            .map(|ders| {
                ders.iter()
                    .map(|d| crate::identity::pem::fingerprint(d))
                    .collect()
            })
            .unwrap_or_default();
        if !bundle.contains(&anchor) {
            return Err(CliError::usage(anyhow::anyhow!(
                "the CA in {} is not this mesh's: its trust anchor {anchor} is not in the cluster's bundle (Secret {}/{}; {}); pass the --identity-dir `meshctl install` saved",
                dir.display(),
                plane.cns,
                crate::kube::ISSUER_SECRET,
                plane.cluster.target
            )));
        }
        Ok(plane)
    }

    /// What the cluster's issuer Secret holds now.
    async fn held(&self) -> Result<Material, CliError> {
        cluster_rotation::read_issuer(&self.cluster, &self.cns, &self.trust_domain)
            .await
            .map_err(mesh_error)
    }
}

impl Plane {
    async fn load_checkpoint(&self, state: &Path) -> Result<Option<Checkpoint>, CliError> {
        match self {
            Plane::Cluster(c) => cluster_rotation::load_checkpoint(&c.cluster, &c.cns)
                .await
                .map_err(mesh_error),
            Plane::Files | Plane::Local(_) => {
                Checkpoint::load(state).map_err(|e| anyhow::Error::new(e).into())
            }
        }
    }

    /// Records `cp` (`first`: the rotation starts, refused on a cluster where one is
    /// recorded already); a finished rotation's record is removed.
    async fn save_checkpoint(
        &self,
        state: &Path,
        cp: &Checkpoint,
        first: bool,
    ) -> Result<(), CliError> {
        match self {
            Plane::Cluster(c) => cluster_rotation::save_checkpoint(&c.cluster, &c.cns, cp, first)
                .await
                .map_err(mesh_error),
            Plane::Files | Plane::Local(_) => {
                cp.save(state).map_err(|e| anyhow::Error::new(e).into())
            }
        }
    }
}

/// Runs steps against the CA directory and the mesh (if any), reporting progress.
struct Driver<'a> {
    out: &'a mut dyn Write,
    json: bool,
    bar: ProgressBar,
    store: CaStore,
    plane: Plane,
    timeout: Duration,
    /// Steps in this rotation (for `index/total`).
    total: usize,
}

impl<'a> Driver<'a> {
    fn open(
        ctx: &'a mut Context<'_>,
        state: &Path,
        plane: Plane,
        wait: &WaitArgs,
        total: usize,
    ) -> Result<Self, CliError> {
        let json = ctx.global.output.is_structured();
        let bar = crate::output::step_bar(total as u64, json)?;
        Ok(Driver {
            out: ctx.out,
            json,
            bar,
            store: CaStore::new(state),
            plane,
            timeout: wait.timeout.0,
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

    fn started(&mut self, step: Step, index: usize, description: &str) -> std::io::Result<()> {
        self.bar.set_position(index as u64);
        self.bar.set_message(description.to_string());
        self.event("step", step, index, description, &[])
    }

    fn completed(&mut self, step: Step, index: usize) -> std::io::Result<()> {
        self.bar.set_position(index as u64 + 1);
        self.event("step-done", step, index, "", &[])
    }

    /// Every proxy as the control plane sees it (none without a mesh); `None` while it
    /// cannot be reached (a supervised control plane restarting, a controller rolling).
    async fn views(&mut self) -> Result<Option<Vec<ProxyView>>, CliError> {
        match &mut self.plane {
            Plane::Files => Ok(Some(Vec::new())),
            Plane::Local(admin) => match admin.proxy_views().await {
                Ok(views) => Ok(Some(views)),
                Err(AdminError::Unreachable { .. }) => Ok(None),
                Err(e) => Err(anyhow::Error::new(e).into()),
            },
            Plane::Cluster(c) => match mesh::controller_status(&c.cluster).await {
                Ok(replicas) if !replicas.is_empty() => {
                    Ok(Some(cluster_rotation::views(&replicas)))
                }
                Ok(_) => Ok(None),
                Err(e) => {
                    tracing::debug!(error = %mesh_error(e), "reading the controllers' status");
                    Ok(None)
                }
            },
        }
    }

    /// Puts the CA directory's issuer and bundle in force: the local control plane reloads
    /// them; a cluster gets them written and every controller replica must report signing
    /// with the new issuer (within --timeout).
    async fn reload(&mut self) -> Result<(), CliError> {
        match &mut self.plane {
            Plane::Files => Ok(()),
            Plane::Local(admin) => {
                admin
                    .reload_ca()
                    .await
                    .context("pushing the new CA to the control plane")?;
                Ok(())
            }
            Plane::Cluster(c) => {
                let next = crate::kube::identity::from_store(&self.store, Some(&c.trust_domain))
                    .context("reading the CA directory")?;
                crate::kube::identity::check(&next, std::time::SystemTime::now())
                    .context("the new issuer")?;
                let held = c.held().await?;
                cluster_rotation::publish(&c.cluster, &c.cns, &held, &next)
                    .await
                    .map_err(mesh_error)?;
                let fingerprint = self
                    .store
                    .issuer_fingerprint()
                    .context("reading the new issuer")?;
                let start = Instant::now();
                loop {
                    let behind = match mesh::controller_status(&c.cluster).await {
                        Ok(replicas) if !replicas.is_empty() => {
                            cluster_rotation::replicas_behind(&replicas, &fingerprint)
                        }
                        Ok(_) => vec!["no controller replica answers".to_string()],
                        Err(e) => vec![mesh_error(e).to_string()],
                    };
                    if behind.is_empty() {
                        return Ok(());
                    }
                    if start.elapsed() >= self.timeout {
                        self.bar.abandon();
                        return Err(CliError::new(
                            anyhow::anyhow!(
                                "the cluster holds the new CA (Secret {}/{}), but not every controller put it in force within {}: {}",
                                c.cns,
                                crate::kube::ISSUER_SECRET,
                                HumanDuration(self.timeout),
                                behind.join(", ")
                            ),
                            code::ROTATION_STALLED,
                        ));
                    }
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            }
        }
    }

    /// Refuses an action step whose gate is not satisfied (exit 4, proxies named).
    async fn gate(&mut self, cp: &Checkpoint, step: Step) -> Result<(), CliError> {
        let views = self.views().await?.ok_or_else(|| {
            anyhow::anyhow!(
                "step {}: the control plane is unreachable; nothing changed",
                step.name()
            )
        })?;
        cp.ensure_ready(step, &views).map_err(|e| {
            self.bar.abandon();
            CliError::new(
                anyhow::anyhow!(
                    "{e}\nrefused: nothing was changed or dropped; run `meshctl certs rotate anchor --resume` once they are"
                ),
                code::ROTATION_STALLED,
            )
        })
    }

    /// Polls until `pending` names no proxy, or the timeout passes (exit 4).
    async fn wait(
        &mut self,
        step: Step,
        index: usize,
        pending: impl Fn(&[ProxyView]) -> Result<Vec<Pending>, rotation::RotationError>,
    ) -> Result<(), CliError> {
        let start = Instant::now();
        let mut last: Option<Vec<Pending>> = None;
        loop {
            let now = match self.views().await? {
                Some(views) => pending(&views).map_err(anyhow::Error::new)?,
                None => vec![Pending {
                    instance: "control plane".into(),
                    reason: "unreachable".into(),
                }],
            };
            if now.is_empty() {
                return Ok(());
            }
            if last.as_ref() != Some(&now) {
                self.bar.set_message(format!(
                    "{}: waiting for {} proxies",
                    step.name(),
                    now.len()
                ));
                self.event("waiting", step, index, "", &now)?;
                last = Some(now.clone());
            }
            if start.elapsed() >= self.timeout {
                self.bar.abandon();
                let list: Vec<String> = now.iter().map(ToString::to_string).collect();
                return Err(CliError::new(
                    anyhow::anyhow!(
                        "step {}/{} {} did not complete within {}: {}\nnothing was dropped; fix them and run the rotation again{}",
                        index + 1,
                        self.total,
                        step.name(),
                        HumanDuration(self.timeout),
                        list.join(", "),
                        if self.total == Step::ALL.len() {
                            " with --resume"
                        } else {
                            ""
                        }
                    ),
                    code::ROTATION_STALLED,
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
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
