//! `meshctl canary start|promote|abort|status` on Kubernetes: the same engine and gates as on
//! a local mesh (`crate::canary::engine`, driven by `rollout::drive`), with the
//! cluster as its ports — weights in the service's HTTPRoute (acknowledged through the
//! controller's `/status`), the canary's traffic from its sidecars' `/stats` (through the
//! controller's `/stats`), the rollout's state in a ConfigMap and its runner in a Lease
//! (`crate::kube::rollout`).

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tokio::time::Instant;

use super::rollout::{
    Adapter, Finish, FinishArgs, Progress, announce_takeover, closable, drive, fresh_state,
    not_on_record, render_finished,
};
use super::{RolloutView, SplitView, acks_kube};
use crate::canary::engine::{Applied, Ended, Event, Ports, rfc3339};
use crate::canary::gate::Observation;
use crate::canary::live::{ended_by, observation, record_stop};
use crate::canary::spec::{HeaderMatch, RolloutSpec};
use crate::canary::store::{Phase, RolloutState};
use crate::cmd::Context;
use crate::cmd::target::{self, KubeTargetArgs, mesh_error};
use crate::control::canary_routes::CanaryRoute;
use crate::exit::{CliError, CliResult};
use crate::kube::controller::proxies::StatsQuery;
use crate::kube::controller::status::pending_header_acks;
use crate::kube::mesh::{self, Cluster, MeshError};
use crate::kube::rollout::{self, LEASE_DURATION, LEASE_RENEW_EVERY, Renewal};

/// How often the running `start` reads its state for a `promote`/`abort` from elsewhere (the
/// engine asks every 100 ms; once a second is enough for the API server).
const STATE_POLL: Duration = Duration::from_secs(1);
/// How long a failing call to the controller (restarting, or a replica going away) is
/// retried before the rollout fails.
const CONTROLLER_PATIENCE: Duration = Duration::from_secs(10);
/// How long every caller has to run a new `--match-header` route (or its removal) before the
/// rollout fails: the HTTPRoute's watch, the controller's refresh and the proxies' acks.
const ROUTE_PATIENCE: Duration = Duration::from_secs(30);
/// What the header route's acknowledgements are called in messages.
const HEADER_CHANGE: target::Change<'static> = target::Change {
    pending: "pods not running the --match-header route",
    unread: "no controller replica has read the HTTPRoute's header route yet",
    done: "the header route is set",
};

/// `canary start` on Kubernetes.
pub fn start(
    ctx: &mut Context<'_>,
    spec: RolloutSpec,
    args: &KubeTargetArgs,
    why: &str,
) -> CliResult {
    let runtime = crate::cmd::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    runtime.block_on(async {
        let cluster = target::cluster(args, timeout, why).await?;
        let split = mesh::split_of(&cluster, &spec.service)
            .await
            .map_err(mesh_error)?;
        let versions = split.versions();
        if !versions.contains(&spec.to) {
            return Err(CliError::usage(anyhow::anyhow!(
                "service `{}` in namespace {} has no version `{}` (versions: {})",
                spec.service,
                cluster.namespace,
                spec.to,
                versions.join(", ")
            )));
        }
        let me = rollout::holder_identity();
        let (from_weight, stale_route) =
            take_ownership(&cluster, &spec, &me, split.current.weight(&spec.to))
                .await
                .map_err(mesh_error)?;
        let run = async {
            let mut ports = KubePorts {
                cluster: cluster.clone(),
                service: spec.service.clone(),
                to: spec.to.clone(),
                versions,
                me: me.clone(),
                pid: std::process::id(),
                view: Progress::new(ctx.out, ctx.global.output, spec.steps.0.len())?,
                external_event: None,
                unrecorded: Vec::new(),
                renewed: Instant::now(),
                looked: None,
                lost: None,
            };
            drive(&spec, from_weight, stale_route, &mut ports).await
        };
        let result = run.await;
        if let Err(e) = rollout::release(&cluster, &spec.service, &me).await {
            eprintln!("warning: {e:#}");
        }
        result
    })
}

/// Takes the rollout's Lease (refused while another live `start` holds it; taken over when
/// it expired) and records a fresh Progressing state; the canary's weight now, and whether
/// an unfinished earlier rollout left a `--match-header` route.
async fn take_ownership(
    cluster: &Cluster,
    spec: &RolloutSpec,
    me: &str,
    from_weight: u32,
) -> Result<(u32, bool), MeshError> {
    let service = &spec.service;
    if let Some(h) = rollout::acquire(cluster, service, me).await? {
        let previous = rollout::load(cluster, service).await.ok().flatten();
        let detail = previous
            .map(|p| {
                format!(
                    " (to {}, pid {}, started {}, canary at {}%)",
                    p.state.to, p.state.owner_pid, p.state.started_at, p.state.weight
                )
            })
            .unwrap_or_default();
        return Err(anyhow::anyhow!(
            "a rollout of `{service}` is already running{detail}, held by {} (Lease {}/{}, renewed {}): wait for it, or end it with `meshctl canary promote|abort {service}`",
            h.identity,
            cluster.namespace,
            rollout::object_name(service),
            h.renewed.as_deref().unwrap_or("never")
        )
        .into());
    }
    let recorded = async {
        let previous = rollout::load(cluster, service).await?;
        announce_takeover(previous.as_ref().map(|p| &p.state));
        // An unfinished earlier rollout's --match-header route goes (as locally).
        let stale_route = previous
            .as_ref()
            .is_some_and(|p| p.state.phase.is_open() && p.state.match_header.is_some());
        let fresh = fresh_state(spec, from_weight);
        let read_at = previous.as_ref().map(|p| p.resource_version.as_str());
        if rollout::save(cluster, &fresh, read_at).await?.is_none() {
            return Err(anyhow::anyhow!(
                "ConfigMap {}/{}: written by another process while this one took the rollout over; try again",
                cluster.namespace,
                rollout::object_name(service)
            )
            .into());
        }
        Ok((from_weight, stale_route))
    };
    let result = recorded.await;
    if result.is_err() {
        // Not started after all: the Lease goes, rather than blocking others for 30 s.
        let _ = rollout::release(cluster, service, me).await;
    }
    result
}

/// The engine's ports on a cluster.
struct KubePorts<'a> {
    cluster: Cluster,
    service: String,
    to: String,
    versions: Vec<String>,
    /// This process as the Lease's holder (`host/pid`).
    me: String,
    pid: u32,
    view: Progress<'a>,
    external_event: Option<Event>,
    /// Events emitted and not yet written to the state.
    unrecorded: Vec<Event>,
    /// The last successful renewal of the Lease.
    renewed: Instant,
    /// The last read of the state for `ended_elsewhere`.
    looked: Option<Instant>,
    /// Why the Lease is no longer ours, once a renewal found out.
    lost: Option<String>,
}

impl KubePorts<'_> {
    /// Renews the Lease when due. A failed renewal is retried at the next call until the
    /// Lease would have expired; then the rollout fails (another `start` may take it).
    async fn keep_lease(&mut self) -> anyhow::Result<()> {
        if self.lost.is_some() || self.renewed.elapsed() < LEASE_RENEW_EVERY {
            return Ok(());
        }
        match rollout::renew(&self.cluster, &self.service, &self.me).await {
            Ok(Renewal::Renewed) => self.renewed = Instant::now(),
            Ok(Renewal::Lost(why)) => self.lost = Some(why),
            Err(e) if self.renewed.elapsed() < LEASE_DURATION => {
                tracing::warn!("renewing the rollout's Lease (retried): {e:#}");
            }
            Err(e) => return Err(anyhow::Error::new(e).context("the rollout's Lease expired")),
        }
        Ok(())
    }

    /// Whether the cluster's state still says this process runs a progressing rollout.
    async fn ended(&mut self) -> anyhow::Result<Option<Ended>> {
        self.keep_lease().await?;
        self.looked = Some(Instant::now());
        if let Some(why) = &self.lost {
            return Ok(Some(Ended::Lost(why.clone())));
        }
        let Some(stored) = rollout::load(&self.cluster, &self.service).await? else {
            return Ok(Some(Ended::Lost(format!(
                "the rollout state of `{}` (ConfigMap {}/{}) was removed",
                self.service,
                self.cluster.namespace,
                rollout::object_name(&self.service)
            ))));
        };
        Ok(ended_by(&stored.state, self.pid, &mut self.external_event))
    }

    /// Records what `change` does to the state if the rollout is still this process's and
    /// progressing; whether it was.
    async fn record(&mut self, mut change: impl FnMut(&mut RolloutState)) -> anyhow::Result<bool> {
        let pid = self.pid;
        let mut ours = false;
        rollout::update(&self.cluster, &self.service, |st| {
            ours = st.owner_pid == pid && st.phase == Phase::Progressing;
            if ours {
                change(st);
            }
            ours
        })
        .await?;
        Ok(ours && self.lost.is_none())
    }

    /// Records the events emitted since the last write, if the rollout is still ours.
    async fn write_events(&mut self) -> anyhow::Result<()> {
        if self.unrecorded.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.unrecorded);
        self.record(|st| {
            for e in &events {
                st.record(e);
            }
        })
        .await?;
        Ok(())
    }

    /// Waits until every caller acknowledged `weights`, renewing the Lease meanwhile:
    /// `Some(pending)` at the deadline. The controller failing is retried until then.
    async fn acks(
        &mut self,
        weights: &crate::policy::split::SplitWeights,
        deadline: Instant,
    ) -> anyhow::Result<Option<String>> {
        loop {
            self.keep_lease().await?;
            let pending = match acks_kube(&self.cluster, &self.service, weights).await {
                Ok(Ok(_)) => return Ok(None),
                Ok(Err(pending)) => pending,
                Err(e) => format!("the controller's /status: {e:#}"),
            };
            if Instant::now() >= deadline {
                return Ok(Some(pending));
            }
            tokio::time::sleep(super::ACK_POLL).await;
        }
    }

    /// Writes the HTTPRoute's header route (`None`: removes it), keeping its weights, and
    /// waits until every caller of the service runs it (renewing the Lease meanwhile).
    async fn write_header(&mut self, header: Option<CanaryRoute>) -> anyhow::Result<()> {
        let split = mesh::split_of(&self.cluster, &self.service).await?;
        let weights = split.current.clone();
        let split = mesh::Split {
            header: header.clone(),
            ..split
        };
        mesh::apply_split(&self.cluster, &self.service, &split, &weights, false).await?;
        let deadline = Instant::now() + ROUTE_PATIENCE;
        let key = format!("{}/{}", self.cluster.namespace, self.service);
        loop {
            self.keep_lease().await?;
            let (namespace, service) = (&self.cluster.namespace, &self.service);
            let pending = match target::acks_once(
                &self.cluster,
                &HEADER_CHANGE,
                |replicas| pending_header_acks(replicas, namespace, service, header.as_ref()),
                |r| r.header_routes.get(&key) == header.as_ref(),
            )
            .await
            {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(pending)) => pending,
                Err(e) => format!("the controller's /status: {e:#}"),
            };
            if Instant::now() >= deadline {
                anyhow::bail!("{pending} (after {}s)", ROUTE_PATIENCE.as_secs());
            }
            tokio::time::sleep(super::ACK_POLL).await;
        }
    }

    /// The canary's weight in the HTTPRoute now (`None` when it cannot be read).
    async fn current_weight(&self) -> Option<u32> {
        mesh::split_of(&self.cluster, &self.service)
            .await
            .ok()
            .map(|s| s.current.weight(&self.to))
    }

    /// Gives the canary `weight`: the HTTPRoute's weights as `canary shift` writes them.
    async fn apply_weight(
        &self,
        weight: u32,
    ) -> anyhow::Result<crate::policy::split::SplitWeights> {
        let split = mesh::split_of(&self.cluster, &self.service).await?;
        let next = split
            .current
            .shift(&self.service, &self.versions, &self.to, weight)?;
        mesh::apply_split(&self.cluster, &self.service, &split, &next, false)
            .await
            .with_context(|| format!("setting {weight}% on {}", self.to))?;
        Ok(next)
    }
}

impl Ports for KubePorts<'_> {
    type Error = anyhow::Error;

    /// The weight is recorded in the state first (a write at the resourceVersion read, so a
    /// `promote`/`abort` recorded meanwhile wins and nothing is applied), then applied. A
    /// `promote`/`abort` recorded between the two is applied again after it: the last word
    /// on the route is the one that ended the rollout.
    async fn set_weight(&mut self, weight: u32, deadline: Instant) -> anyhow::Result<Applied> {
        self.write_events().await?;
        let patience = Instant::now() + CONTROLLER_PATIENCE;
        let now = rfc3339(SystemTime::now());
        let ours = self
            .record(|st| {
                st.weight = weight;
                st.updated_at = now.clone();
            })
            .await?;
        if !ours {
            let ended = self.ended().await?.unwrap_or_else(|| {
                Ended::Lost(format!("the rollout of `{}` ended elsewhere", self.service))
            });
            return Ok(Applied::Ended(ended));
        }
        let next = self.apply_weight(weight).await?;
        if let Some(e) = self.ended().await? {
            let restore = match &e {
                Ended::Promoted { .. } => Some(100),
                Ended::RolledBack { .. } => Some(0),
                Ended::Lost(_) => None,
            };
            if let Some(w) = restore {
                self.apply_weight(w).await?;
            }
            return Ok(Applied::Ended(e));
        }
        Ok(match self.acks(&next, deadline.max(patience)).await? {
            None => Applied::Done,
            Some(pending) => Applied::Unacknowledged(pending),
        })
    }

    /// One read of the controller's `/stats` for the service's pods: the canary's (version
    /// `--to`) and the baseline's (every other version) from the same moment, summed as on
    /// a local mesh; a pod whose sidecar did not answer counts as not reporting.
    async fn observe(&mut self, window: Duration) -> anyhow::Result<Observation> {
        self.write_events().await?;
        self.keep_lease().await?;
        let query = StatsQuery {
            namespace: Some(self.cluster.namespace.clone()),
            service: Some(self.service.clone()),
            version: None,
            window,
        };
        let patience = Instant::now() + CONTROLLER_PATIENCE;
        let stats = loop {
            match mesh::proxy_stats(&self.cluster, &query).await {
                Ok(s) => break s,
                Err(MeshError::Failed(_)) if Instant::now() < patience => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(anyhow::Error::new(e).context("reading the canary's /stats")),
            }
        };
        let (canary, baseline): (Vec<_>, Vec<_>) = stats
            .proxies
            .into_iter()
            .partition(|p| p.version == self.to);
        Ok(observation(
            canary.into_iter().map(|p| p.stats),
            baseline.into_iter().map(|p| p.stats),
        ))
    }

    async fn ended_elsewhere(&mut self) -> anyhow::Result<Option<Ended>> {
        self.write_events().await?;
        if self.looked.is_some_and(|t| t.elapsed() < STATE_POLL) {
            return Ok(None);
        }
        self.ended().await
    }

    /// Shown at once; written to the state at the next call that may wait (the engine's
    /// `emit` cannot), or by `flush` once the engine ended.
    fn emit(&mut self, event: &Event) -> anyhow::Result<()> {
        self.unrecorded.push(event.clone());
        self.view.event(event)?;
        Ok(())
    }

    /// `--gate-mirror` is refused on Kubernetes before a rollout starts: never asked.
    async fn mirror_counts(&mut self) -> anyhow::Result<(u64, u64)> {
        anyhow::bail!("--gate-mirror works on a local mesh only")
    }
}

impl<'a> Adapter<'a> for KubePorts<'a> {
    async fn flush(&mut self) -> anyhow::Result<()> {
        self.write_events().await
    }

    async fn set_route(&mut self, h: &HeaderMatch) -> anyhow::Result<()> {
        let route = CanaryRoute {
            version: self.to.clone(),
            header: h.name.to_ascii_lowercase(),
            value: h.value.clone(),
        };
        route
            .validate(&self.service, &self.versions)
            .map_err(|e| anyhow::anyhow!("--match-header {h}: {e}"))?;
        self.write_header(Some(route))
            .await
            .context("setting the --match-header route")
    }

    async fn clear_route(&mut self) -> anyhow::Result<()> {
        self.write_header(None)
            .await
            .context("removing the --match-header route")
    }

    async fn stop(&mut self, phase: Phase, reason: &str) {
        if let Err(e) = self.write_events().await {
            eprintln!("warning: recording the rollout's events: {e:#}");
        }
        let weight = self.current_weight().await;
        let pid = self.pid;
        let result = rollout::update(&self.cluster, &self.service, |st| {
            record_stop(st, pid, phase, reason, weight)
        })
        .await;
        if let Err(e) = result {
            eprintln!("warning: recording the rollout's end: {e:#}");
        }
    }

    fn view(&mut self) -> &mut Progress<'a> {
        &mut self.view
    }

    fn take_external_event(&mut self) -> Option<Event> {
        self.external_event.take()
    }
}

/// `canary promote` / `canary abort` on Kubernetes: the event is recorded in the state (at
/// the resourceVersion read), then the weight applied and waited for.
pub fn finish(ctx: &mut Context<'_>, a: FinishArgs, how: Finish, why: &str) -> CliResult {
    let runtime = crate::cmd::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let st = runtime.block_on(async {
        let cluster = target::cluster(&a.cluster, timeout, why).await?;
        let split = mesh::split_of(&cluster, &a.service)
            .await
            .map_err(mesh_error)?;
        let mut refused = None;
        let mut to = String::new();
        let recorded = rollout::update(&cluster, &a.service, |st| {
            refused = closable(st, how).err();
            to = st.to.clone();
            if refused.is_none() {
                st.record(&how.event());
            }
            refused.is_none()
        })
        .await
        .map_err(mesh_error)?;
        let Some(st) = recorded else {
            return Err(not_on_record(&a.service));
        };
        if let Some(e) = refused {
            return Err(e);
        }
        let next = split
            .current
            .shift(&a.service, &split.versions(), &to, how.weight())
            .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;
        // The rollout's --match-header route ends with it (as locally).
        let split = mesh::Split {
            header: if st.match_header.is_some() {
                None
            } else {
                split.header
            },
            ..split
        };
        mesh::apply_split(&cluster, &a.service, &split, &next, false)
            .await
            .map_err(mesh_error)?;
        // Not acknowledged within --timeout: exit 4, as locally.
        super::wait_kube(&cluster, &a.service, &next, a.timeout.0).await?;
        Ok::<_, CliError>(st)
    })?;
    render_finished(ctx, st)
}

/// `canary status` on Kubernetes: the namespace's splits (or one service's) and its
/// rollouts, each Progressing one checked against its Lease.
pub async fn status(
    a: &super::StatusArgs,
    request_timeout: Duration,
    why: &str,
) -> Result<(Vec<SplitView>, Vec<RolloutView>), CliError> {
    let cluster = target::cluster(&a.cluster, request_timeout, why).await?;
    let splits = match &a.service {
        Some(s) => {
            let split = mesh::split_of(&cluster, s).await.map_err(mesh_error)?;
            [(s.clone(), split.current)].into_iter().collect()
        }
        None => mesh::splits(&cluster).await.map_err(mesh_error)?,
    };
    let views = splits
        .into_iter()
        .map(|(service, w)| SplitView {
            service,
            weights: w.0,
        })
        .collect();
    let states = match &a.service {
        Some(s) => rollout::load(&cluster, s)
            .await
            .map_err(mesh_error)?
            .map(|st| st.state)
            .into_iter()
            .collect(),
        None => rollout::list(&cluster).await.map_err(mesh_error)?,
    };
    let mut rollouts = Vec::new();
    for st in states {
        let holder = rollout::holder(&cluster, &st.service)
            .await
            .map_err(mesh_error)?;
        let running = holder.as_ref().is_some_and(|h| h.live);
        let mut view = RolloutView::new(st, running);
        view.holder = holder.map(|h| h.identity);
        rollouts.push(view);
    }
    Ok((views, rollouts))
}

#[cfg(test)]
mod tests;
