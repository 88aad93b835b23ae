//! The rollout engine's ports on a live local mesh: the split and the `--match-header` route
//! set through the control plane (retried while it restarts, acknowledged by every caller),
//! the canary's and the baseline's traffic from their proxies' `/stats`, the rollout's state
//! in `.meshctl/canary/` (locked, checked for another owner). Shared with the Kubernetes
//! adapter: how a stored state says the rollout ended, how a stop is recorded, and how the
//! proxies' `/stats` add up to one observation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tokio::time::Instant;

use crate::api::stats::{Direction, StatsSnapshot};
use crate::canary::engine::{Applied, Ended, Event, EventKind, Ports, rfc3339};
use crate::canary::gate::Observation;
use crate::canary::spec::{HeaderMatch, RolloutSpec};
use crate::canary::store::{Phase, RolloutState, RolloutStore, StateLock};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::backend::read_splits;
use crate::observe::latency::LatencyDistribution;
use crate::policy::split::SplitWeights;

/// How long a call to the control plane is retried while it restarts (it is supervised).
const CONTROL_PLANE_PATIENCE: Duration = Duration::from_secs(10);

/// Where the live adapter shows an event once it is recorded: the command's renderer.
pub trait EventView {
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
}

/// The engine's ports on a live local mesh, showing events through `V`.
pub struct LivePorts<V> {
    admin: MeshAdmin,
    state: PathBuf,
    store: RolloutStore,
    service: String,
    to: String,
    versions: Vec<String>,
    /// Admin listeners of the canary version's proxies.
    canary_admins: Vec<SocketAddr>,
    /// Admin listeners of the service's other versions' proxies (the baseline).
    baseline_admins: Vec<SocketAddr>,
    pid: u32,
    /// The renderer of the events.
    pub view: V,
    /// The event another process recorded when it promoted or aborted the rollout.
    external_event: Option<Event>,
}

impl<V> std::fmt::Debug for LivePorts<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePorts")
            .field("service", &self.service)
            .field("to", &self.to)
            .field("canary_admins", &self.canary_admins)
            .field("baseline_admins", &self.baseline_admins)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl<V> LivePorts<V> {
    /// The ports of the rollout of `spec` on the mesh `admin` talks to, its state in `state`
    /// (rollouts in `store`), between the service's `versions`; owned by this process.
    pub fn new(
        admin: MeshAdmin,
        state: PathBuf,
        store: RolloutStore,
        spec: &RolloutSpec,
        versions: Vec<String>,
        view: V,
    ) -> Self {
        let mut ports = LivePorts {
            admin,
            state,
            store,
            service: spec.service.clone(),
            to: spec.to.clone(),
            canary_admins: Vec::new(),
            baseline_admins: Vec::new(),
            versions,
            pid: std::process::id(),
            view,
            external_event: None,
        };
        for p in ports
            .admin
            .plan
            .proxies
            .iter()
            .filter(|p| p.service == spec.service)
        {
            if p.version.as_deref() == Some(spec.to.as_str()) {
                ports.canary_admins.push(p.admin);
            } else {
                ports.baseline_admins.push(p.admin);
            }
        }
        ports
    }

    /// The event another process recorded when it promoted or aborted the rollout.
    pub fn take_external_event(&mut self) -> Option<Event> {
        self.external_event.take()
    }

    /// Whether the state on disk still says this process runs a progressing rollout.
    fn ended(&mut self) -> anyhow::Result<Option<Ended>> {
        let Some(st) = self.store.load(&self.service)? else {
            return Ok(Some(Ended::Lost(format!(
                "the rollout state of `{}` was removed",
                self.service
            ))));
        };
        Ok(ended_by(&st, self.pid, &mut self.external_event))
    }

    /// Records a final phase without an engine event (failure, interruption), if still ours;
    /// the weight is what the split says now.
    pub fn stop_now(&mut self, phase: Phase, reason: &str) -> anyhow::Result<()> {
        let lock = self.store.lock(&self.service)?;
        let Some(mut st) = self.store.load(&self.service)? else {
            return Ok(());
        };
        let weight = current_split(&self.state, &self.service, &self.versions)?.weight(&self.to);
        if record_stop(&mut st, self.pid, phase, reason, Some(weight)) {
            self.store.save(&st, &lock)?;
        }
        Ok(())
    }

    /// Routes requests carrying `h` to the canary, acknowledged by every caller (a
    /// restarting control plane is waited for).
    pub async fn set_route(&mut self, h: &HeaderMatch) -> anyhow::Result<()> {
        let deadline = Instant::now() + CONTROL_PLANE_PATIENCE;
        let version = loop {
            match self
                .admin
                .set_canary_route(&self.service, &self.to, &h.name, &h.value)
                .await
            {
                Err(AdminError::Unreachable { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                r => break r.context("setting the --match-header route")?,
            }
        };
        self.acks(version, deadline).await?.map_or(Ok(()), |who| {
            Err(anyhow::anyhow!("--match-header route: {who}"))
        })
    }

    /// Removes that route, acknowledged by every caller.
    pub async fn clear_route(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + CONTROL_PLANE_PATIENCE;
        let version = loop {
            match self.admin.clear_canary_route(&self.service).await {
                Err(AdminError::Unreachable { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                r => break r.context("removing the --match-header route")?,
            }
        };
        self.acks(version, deadline).await?.map_or(Ok(()), |who| {
            Err(anyhow::anyhow!("removing the route: {who}"))
        })
    }

    /// Waits until every caller acknowledged `version`: `Some(pending)` at the deadline.
    /// A restarting control plane is waited for.
    async fn acks(&mut self, version: u64, deadline: Instant) -> anyhow::Result<Option<String>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.admin.wait_for_acks(&self.service, version, left).await {
                Ok(()) => return Ok(None),
                Err(AdminError::Timeout { pending, .. }) => return Ok(Some(pending)),
                Err(AdminError::Unreachable { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl<V: EventView> Ports for LivePorts<V> {
    type Error = anyhow::Error;

    async fn set_weight(&mut self, weight: u32, deadline: Instant) -> anyhow::Result<Applied> {
        let patience = Instant::now() + CONTROL_PLANE_PATIENCE;
        let version = {
            let lock: StateLock = self.store.lock(&self.service)?;
            if let Some(e) = self.ended()? {
                return Ok(Applied::Ended(e));
            }
            let next = current_split(&self.state, &self.service, &self.versions)?.shift(
                &self.service,
                &self.versions,
                &self.to,
                weight,
            )?;
            let version = loop {
                match self.admin.set_split(&self.service, &next).await {
                    Err(AdminError::Unreachable { .. }) if Instant::now() < patience => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    r => break r.with_context(|| format!("setting {}% on {}", weight, self.to))?,
                }
            };
            if let Some(mut st) = self.store.load(&self.service)? {
                st.weight = weight;
                st.updated_at = rfc3339(SystemTime::now());
                self.store.save(&st, &lock)?;
            }
            version
        };
        Ok(match self.acks(version, deadline.max(patience)).await? {
            None => Applied::Done,
            Some(pending) => Applied::Unacknowledged(pending),
        })
    }

    async fn observe(&mut self, window: Duration) -> anyhow::Result<Observation> {
        let fetches = self
            .canary_admins
            .iter()
            .chain(&self.baseline_admins)
            .map(|a| crate::observe::fetch::stats(*a, window));
        let mut snapshots: Vec<Option<StatsSnapshot>> = futures_util::future::join_all(fetches)
            .await
            .into_iter()
            .map(Result::ok)
            .collect();
        let baseline = snapshots.split_off(self.canary_admins.len());
        Ok(observation(snapshots, baseline))
    }

    async fn ended_elsewhere(&mut self) -> anyhow::Result<Option<Ended>> {
        self.ended()
    }

    fn emit(&mut self, event: &Event) -> anyhow::Result<()> {
        {
            let lock = self.store.lock(&self.service)?;
            if let Some(mut st) = self.store.load(&self.service)?
                && st.owner_pid == self.pid
                && st.phase == Phase::Progressing
            {
                st.record(event);
                self.store.save(&st, &lock)?;
            }
        }
        self.view.event(event)?;
        Ok(())
    }

    /// Copies compared so far over the callers' proxies, while the mirror in force targets
    /// the canary (copies to another version say nothing about it: none then).
    async fn mirror_counts(&mut self) -> anyhow::Result<(u64, u64)> {
        let diff = crate::observe::mirror::read(&self.admin.plan, &self.service).await;
        if diff.mirror.as_ref().is_some_and(|m| m.version != self.to) {
            return Ok((0, 0));
        }
        Ok((diff.total.matched, diff.total.mismatched))
    }
}

/// The service's split on record in the state directory, or its initial split (all on the
/// first version) when none was set.
pub fn current_split(
    state: &Path,
    service: &str,
    versions: &[String],
) -> anyhow::Result<SplitWeights> {
    Ok(read_splits(state)?
        .remove(service)
        .unwrap_or_else(|| SplitWeights::initial(versions)))
}

/// Whether the rollout state `st` says this process (`pid`) no longer runs a progressing
/// rollout, and why; a promote/abort recorded elsewhere is kept in `external` to be shown.
pub fn ended_by(st: &RolloutState, pid: u32, external: &mut Option<Event>) -> Option<Ended> {
    if st.owner_pid != pid {
        return Some(Ended::Lost(format!(
            "the rollout of `{}` was taken over by pid {}",
            st.service, st.owner_pid
        )));
    }
    let last = st.history.last().map(|e| &e.kind);
    if matches!(st.phase, Phase::Promoted | Phase::RolledBack) {
        *external = st.history.last().cloned();
    }
    match (st.phase, last) {
        (Phase::Progressing, _) => None,
        (Phase::Promoted, Some(EventKind::Promoted { by, .. })) => {
            Some(Ended::Promoted { by: by.clone() })
        }
        (Phase::RolledBack, Some(EventKind::RolledBack { by, reason, .. })) => {
            Some(Ended::RolledBack {
                by: by.clone(),
                reason: reason.clone(),
            })
        }
        (phase, _) => Some(Ended::Lost(format!(
            "the rollout of `{}` is {phase:?}: {}",
            st.service, st.reason
        ))),
    }
}

/// Records a final phase without an engine event (failure, interruption) on `st` if it is
/// still this process's progressing rollout; `weight` is the canary's weight now. Whether
/// it changed anything.
pub fn record_stop(
    st: &mut RolloutState,
    pid: u32,
    phase: Phase,
    reason: &str,
    weight: Option<u32>,
) -> bool {
    if st.owner_pid != pid || st.phase != Phase::Progressing {
        return false;
    }
    st.phase = phase;
    st.reason = reason.to_string();
    if let Some(w) = weight {
        st.weight = w;
    }
    st.updated_at = rfc3339(SystemTime::now());
    true
}

/// The canary's own traffic and the baseline's, summed from each proxy's `/stats` over the
/// window (`None`: that proxy did not answer, so it counts as not reporting): requests,
/// errors (answers >= 500) and the latency distribution of every inbound peer.
pub fn observation(
    canary: impl IntoIterator<Item = Option<StatsSnapshot>>,
    baseline: impl IntoIterator<Item = Option<StatsSnapshot>>,
) -> Observation {
    let mut o = Observation::default();
    let mut latency = LatencyDistribution::default();
    for snap in canary {
        o.proxies += 1;
        let Some(snap) = snap else { continue };
        o.reporting += 1;
        for p in snap
            .peers
            .iter()
            .filter(|p| p.direction == Direction::Inbound)
        {
            o.requests += p.requests;
            o.errors += p.requests.saturating_sub(p.successes);
            latency.add(&p.latency_us);
        }
    }
    o.p99_us = latency.quantile(0.99);
    for snap in baseline.into_iter().flatten() {
        for p in snap
            .peers
            .iter()
            .filter(|p| p.direction == Direction::Inbound)
        {
            o.baseline_requests += p.requests;
            o.baseline_errors += p.requests.saturating_sub(p.successes);
        }
    }
    o
}
