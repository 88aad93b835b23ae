//! Rotating the mesh's CA step by step (`meshctl certs rotate issuer|anchor`): the steps of
//! `identity::rotation` run against a [`CaPlane`] — where the CA directory's issuer and bundle
//! are put in force and the proxies' reports are read: no mesh ([`Files`]), the local control
//! plane ([`MeshAdmin`]) or a cluster's controllers (`kube::rotation::ClusterPlane`) — with
//! each action step's gate, the waits (until the timeout) and the checkpoint after every step.
//! Progress goes to a [`RotationView`] (the command's renderer); nothing here prints.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::admin::{AdminError, MeshAdmin};
use crate::duration::HumanDuration;
use crate::identity::ca::SigningCa;
use crate::identity::rotation::{self, Checkpoint, Pending, ProxyView, Step};
use crate::identity::store::CaStore;

/// How often the proxies' reported state is polled while a step waits.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Margin kept between a new issuer's expiry and its anchor's (the cap is computed first).
pub const ISSUER_EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// `rotate issuer` runs two steps: new-issuer, await-leaves.
pub const ISSUER_STEPS: usize = 2;

/// Why a rotation stopped short.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A step did not complete within the timeout, or its gate refused it; nothing was
    /// dropped (exit 4).
    #[error("{0}")]
    Stalled(String),
    /// The inputs are wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Writing the progress failed.
    #[error(transparent)]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Where the CA is put in force and the proxies' reports are read. The checkpoint defaults
/// to the file in the CA's state directory.
#[allow(async_fn_in_trait)] // used with concrete types on one thread; no Send bound needed
pub trait CaPlane {
    /// The anchor rotation in progress, if any (`state`: the directory holding `identity/`).
    async fn load_checkpoint(&self, state: &Path) -> Result<Option<Checkpoint>, RunError> {
        Checkpoint::load(state).map_err(|e| anyhow::Error::new(e).into())
    }

    /// Records `cp` (`first`: the rotation starts, refused where one is recorded already —
    /// a cluster); a finished rotation's record is removed.
    async fn save_checkpoint(
        &self,
        state: &Path,
        cp: &Checkpoint,
        _first: bool,
    ) -> Result<(), RunError> {
        cp.save(state).map_err(|e| anyhow::Error::new(e).into())
    }

    /// Every proxy as the plane sees it (none without a mesh); `None` while it cannot be
    /// reached (a supervised control plane restarting, a controller rolling).
    async fn views(&mut self) -> Result<Option<Vec<ProxyView>>, RunError>;

    /// Puts the issuer and bundle of `store` in force, within `timeout`.
    async fn reload(&mut self, store: &CaStore, timeout: Duration) -> Result<(), RunError>;
}

/// What a rotation shows as it goes (indices count from 0).
pub trait RotationView {
    fn started(&mut self, step: Step, index: usize, description: &str) -> std::io::Result<()>;
    fn completed(&mut self, step: Step, index: usize) -> std::io::Result<()>;
    /// The step still waits for `pending` (called when the list changes).
    fn waiting(&mut self, step: Step, index: usize, pending: &[Pending]) -> std::io::Result<()>;
}

/// No local mesh runs: there is no proxy to wait for, only files to change.
#[derive(Debug)]
pub struct Files;

impl CaPlane for Files {
    async fn views(&mut self) -> Result<Option<Vec<ProxyView>>, RunError> {
        Ok(Some(Vec::new()))
    }

    async fn reload(&mut self, _: &CaStore, _: Duration) -> Result<(), RunError> {
        Ok(())
    }
}

/// The local mesh's control plane: it reloads the CA directory when asked.
impl CaPlane for MeshAdmin {
    async fn views(&mut self) -> Result<Option<Vec<ProxyView>>, RunError> {
        match self.proxy_views().await {
            Ok(views) => Ok(Some(views)),
            Err(AdminError::Unreachable { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).into()),
        }
    }

    async fn reload(&mut self, _: &CaStore, _: Duration) -> Result<(), RunError> {
        self.reload_ca()
            .await
            .context("pushing the new CA to the control plane")?;
        Ok(())
    }
}

/// How a rotation ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// Every step ran: the fingerprints of the anchor and issuer now in force.
    Done { anchor: String, issuer: String },
    /// Stopped after this step (`--until`); `--resume` continues.
    Stopped(Step),
}

/// The limits of a rotation's steps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long each waiting step may take.
    pub timeout: Duration,
    /// The new issuer's lifetime (capped at what is left of its anchor).
    pub issuer_lifetime: Duration,
}

/// `rotate issuer`: a new issuer under the current anchor, then every proxy's leaf from it.
pub async fn rotate_issuer<P: CaPlane, V: RotationView>(
    plane: P,
    state: &Path,
    view: &mut V,
    limits: Limits,
) -> Result<Rotated, RunError> {
    if let Some(cp) = plane.load_checkpoint(state).await? {
        return Err(anyhow::anyhow!(
            "an anchor rotation is in progress (next step {}): finish it first with `meshctl certs rotate anchor --resume`",
            cp.step.name()
        )
        .into());
    }
    let mut run = Run::new(state, plane, view, limits.timeout, ISSUER_STEPS);
    run.view.started(
        Step::NewIssuer,
        0,
        "create a new issuer under the current anchor",
    )?;
    let anchor = run.store.anchor().context("loading the trust anchor")?;
    let issuer = run
        .store
        .replace_issuer(&anchor, issuer_lifetime(&anchor, limits.issuer_lifetime))
        .context("creating the new issuer")?;
    run.reload().await?;
    run.view.completed(Step::NewIssuer, 0)?;
    run.view
        .started(Step::AwaitLeaves, 1, Step::AwaitLeaves.describe())?;
    run.wait(Step::AwaitLeaves, 1, |views| {
        Ok(rotation::leaves_pending(views, &issuer))
    })
    .await?;
    run.view.completed(Step::AwaitLeaves, 1)?;
    let anchor = run
        .store
        .anchor_fingerprint()
        .context("loading the trust anchor")?;
    Ok(Rotated::Done { anchor, issuer })
}

/// The anchor rotation to run: the one recorded (`resume`), else a new one; `true` when it
/// is new (nothing recorded yet).
pub async fn anchor_checkpoint<P: CaPlane>(
    plane: &P,
    state: &Path,
    resume: bool,
) -> Result<(Checkpoint, bool), RunError> {
    match (plane.load_checkpoint(state).await?, resume) {
        (Some(cp), true) => Ok((cp, false)),
        (Some(cp), false) => Err(anyhow::anyhow!(
            "an anchor rotation is in progress (next step {}): continue it with --resume",
            cp.step.name()
        )
        .into()),
        (None, true) => Err(anyhow::anyhow!("no anchor rotation to resume").into()),
        (None, false) => {
            let anchor = CaStore::new(state)
                .anchor_fingerprint()
                .context("loading the trust anchor")?;
            Ok((Checkpoint::start(anchor), true))
        }
    }
}

/// `rotate anchor` from checkpoint `cp` (`first`: not recorded yet): add the new anchor,
/// wait for every bundle, a new issuer under it, wait for every leaf, drop the old anchor,
/// wait until it is gone — recording the checkpoint after each step, stopping after `until`.
#[allow(clippy::too_many_arguments)] // one rotation's inputs, each named at the call
pub async fn rotate_anchor<P: CaPlane, V: RotationView>(
    plane: P,
    state: &Path,
    view: &mut V,
    mut cp: Checkpoint,
    first: bool,
    limits: Limits,
    anchor_lifetime: Duration,
    until: Option<Step>,
) -> Result<Rotated, RunError> {
    let mut run = Run::new(state, plane, view, limits.timeout, Step::ALL.len());
    if first {
        // Recorded before the first change: a second rotation cannot start beside this one,
        // and an interrupted first step is resumed (staging the anchor is idempotent).
        run.plane.save_checkpoint(state, &cp, true).await?;
    }
    while cp.step != Step::Done {
        let step = cp.step;
        run.view.started(step, step.index(), step.describe())?;
        match step {
            Step::AddAnchor => {
                let fp = run
                    .store
                    .stage_next_anchor(anchor_lifetime)
                    .context("creating the new trust anchor")?;
                cp.new_anchor = Some(fp);
                run.reload().await?;
            }
            Step::NewIssuer => {
                run.gate(&cp, step).await?;
                let next = run
                    .store
                    .next_anchor()
                    .context("loading the new trust anchor")?
                    .ok_or(rotation::RotationError::Incomplete("anchor file"))
                    .map_err(anyhow::Error::new)?;
                let fp = run
                    .store
                    .replace_issuer(&next, issuer_lifetime(&next, limits.issuer_lifetime))
                    .context("creating the issuer under the new anchor")?;
                cp.new_issuer = Some(fp);
                run.reload().await?;
            }
            Step::DropAnchor => {
                run.gate(&cp, step).await?;
                run.store
                    .promote_next_anchor()
                    .context("dropping the old anchor")?;
                run.reload().await?;
            }
            Step::AwaitBundle | Step::AwaitLeaves | Step::AwaitDropped => {
                let gate = cp.clone();
                run.wait(step, step.index(), |views| gate.pending(step, views))
                    .await?;
            }
            Step::Done => {}
        }
        cp.step = step.next();
        run.plane.save_checkpoint(state, &cp, false).await?;
        run.view.completed(step, step.index())?;
        if until == Some(step) && cp.step != Step::Done {
            return Ok(Rotated::Stopped(step));
        }
    }
    Ok(Rotated::Done {
        anchor: cp.new_anchor.unwrap_or_default(),
        issuer: cp.new_issuer.unwrap_or_default(),
    })
}

/// An issuer signed by `signer` lives `wanted`, or less: it ends a margin before `signer`.
fn issuer_lifetime(signer: &SigningCa, wanted: Duration) -> Duration {
    let left = signer
        .not_after()
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    wanted.min(left.saturating_sub(ISSUER_EXPIRY_MARGIN))
}

/// One rotation under way: the CA directory, the plane, the renderer.
struct Run<'v, P, V> {
    store: CaStore,
    plane: P,
    view: &'v mut V,
    timeout: Duration,
    /// Steps in this rotation (for `index/total`).
    total: usize,
}

impl<'v, P: CaPlane, V: RotationView> Run<'v, P, V> {
    fn new(state: &Path, plane: P, view: &'v mut V, timeout: Duration, total: usize) -> Self {
        Run {
            store: CaStore::new(state),
            plane,
            view,
            timeout,
            total,
        }
    }

    async fn reload(&mut self) -> Result<(), RunError> {
        self.plane.reload(&self.store, self.timeout).await
    }

    /// Refuses an action step whose gate is not satisfied (stalled, proxies named).
    async fn gate(&mut self, cp: &Checkpoint, step: Step) -> Result<(), RunError> {
        let views = self.plane.views().await?.ok_or_else(|| {
            anyhow::anyhow!(
                "step {}: the control plane is unreachable; nothing changed",
                step.name()
            )
        })?;
        cp.ensure_ready(step, &views).map_err(|e| {
            RunError::Stalled(format!(
                "{e}\nrefused: nothing was changed or dropped; run `meshctl certs rotate anchor --resume` once they are"
            ))
        })
    }

    /// Polls until `pending` names no proxy, or the timeout passes (stalled).
    async fn wait(
        &mut self,
        step: Step,
        index: usize,
        pending: impl Fn(&[ProxyView]) -> Result<Vec<Pending>, rotation::RotationError>,
    ) -> Result<(), RunError> {
        let start = Instant::now();
        let mut last: Option<Vec<Pending>> = None;
        loop {
            let now = match self.plane.views().await? {
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
                self.view.waiting(step, index, &now)?;
                last = Some(now.clone());
            }
            if start.elapsed() >= self.timeout {
                let list: Vec<String> = now.iter().map(ToString::to_string).collect();
                return Err(RunError::Stalled(format!(
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
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}
