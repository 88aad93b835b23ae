//! `meshctl canary start|promote|abort`: progressive rollouts run from the CLI. The state
//! machine is `crate::canary::engine`, its ports on a running mesh `crate::canary::live`
//! (splits and routes through the control plane, metrics from the canary's proxies, state in
//! `.meshctl/canary/`); this file parses the flags, drives the engine and renders its events.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use indicatif::ProgressBar;

use crate::canary::engine::{self, Analysis, Decision, Event, EventKind, Outcome, Ports, rfc3339};
use crate::canary::gate::{Gates, Percent, pct};
use crate::canary::live::{EventView, LivePorts, current_split};
use crate::canary::spec::{HeaderMatch, MirrorGate, OnTimeout, RolloutSpec, Steps};
use crate::canary::store::{Ownership, Phase, RolloutState, RolloutStore};
use crate::cmd::Context;
use crate::cmd::StateFor;
use crate::cmd::target::{Chosen, KubeTargetArgs};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::output;

/// `canary start`: the gate rolled the canary back (or `canary abort` did).
pub const EXIT_ROLLED_BACK: i32 = 3;
/// `canary start`: `--timeout` ran out; the weight stays where it was.
pub const EXIT_TIMED_OUT: i32 = 4;

pub const START_HELP: &str = "\
How it runs: the canary (--to) gets each --steps weight in turn (the other versions share the
rest, as with `canary shift`); once every proxy calling the service applied it, the canary's
own traffic is checked every --interval. A check reads the step's traffic so far (since its
last failed check, after one; at most the last five minutes) from the canary's proxies, and the
stable versions' over the same window (the baseline). It
  passes  with at least --min-requests requests (counted over the step so far) and every gate
          held: go to the next step;
  holds   with fewer requests: check again at the same weight (the reason names the requests
          per second seen);
  fails   when a gate is breached; after --failure-threshold failed checks (counted over the
          whole rollout) the canary goes back to 0%.
Gates:
  --max-error-rate-increase (default 1%)  the default gate: fails when the canary's error rate
          (answers >= 500) is above the baseline's by more than this many percentage points,
          with 95% confidence (Wilson score intervals, so one unlucky error in a trickle does
          not fail a canary as good as its baseline); with no baseline traffic in the window
          (the canary at 100%) the last baseline seen is used, or 0% if none
  --max-error-rate (no default)  an absolute limit as well, whatever the baseline does (with
          fewer than --min-requests it fails at once when the errors seen already breach it
          even counting the missing requests as successes)
  --max-p99 (default 500ms)  the canary's p99 latency
After the last step passes the canary gets 100% (promoted). Steps below the canary's current
weight are skipped: a start after a timeout resumes there. --interval may be as short as 1s.
When --timeout runs out, --on-timeout pause (the default) leaves the weight where it is, and
--on-timeout rollback sends the canary back to 0%; either way the reason names the canary's
requests per second and what to change.
--match-header NAME=VALUE sends requests carrying that header to the canary at every step, until
the rollout ends (the control plane keeps the route across restarts).
--gate-mirror adds a mirror phase before the first step (when the canary starts at 0%): every
--interval it reads the copies of the service's requests mirrored to the canary (run `canary
mirror SERVICE --to VERSION` first, or have `policy.mirror`) that were compared since the phase
began; it passes with at least --min-requests compared and at most --max-mismatch (default 1%)
of them differing (status class, gRPC status, or body hash), holds with fewer, and fails over
the limit (counted toward --failure-threshold; then rolled back, the canary never having had
traffic). Local mesh only.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): the same steps and
gates; weights go to the service's HTTPRoute as with `canary shift` (acknowledged through the
controller's /status), checks read the service's sidecars through the controller's /stats,
the state is the ConfigMap meshctl-rollout-<service> and the running `start` holds the Lease
meshctl-rollout-<service> (renewed every 5s; one not renewed for 30s is a `start` that died,
taken over). --match-header adds a rule to the same HTTPRoute, matching that header exactly and
sending it to the canary's Service, ahead of the weights; it goes when the rollout ends.

State: .meshctl/canary/<service>.json; `meshctl canary status` shows it from any shell,
`canary promote` / `canary abort` end the rollout at once (this command then exits 0 / 3). A
second `start` for the same service is refused while this one runs; a rollout whose `start`
died is taken over (and said so). Ctrl-C leaves the weight where it is (phase Paused).

Examples:
  meshctl canary start api --to v2
  meshctl canary start api --to v2 --steps 10,50,100 --interval 30s --max-p99 300ms
  meshctl canary start api --to v2 --max-error-rate 5% --timeout 15m --on-timeout rollback
  meshctl canary start api --to v2 --match-header x-canary=1   # requests with the header first
  meshctl canary start api --to v2 --gate-mirror --max-mismatch 0.5%   # after `canary mirror`
  meshctl canary start api --to v2 -n shop -o json > rollout.ndjson

Exit codes:
  0  promoted: the canary has 100% (by the gates or by `canary promote`)
  1  failure (no mesh running, control plane unreachable, another rollout running, interrupted;
     on Kubernetes: permission denied, named)
  2  usage error (bad steps or gate syntax, unknown service or version); nothing changed
  3  rolled back to 0% (by the gates, by `canary abort`, or by --on-timeout rollback)
  4  --timeout ran out with --on-timeout pause: the weight stays where it was (phase Paused)

With -o json, stdout is NDJSON, one event per line (-o yaml: one YAML document per event), each
with `event`, `at` (RFC 3339) and `elapsed_ms`:
  started      service, to, from_weight, steps, interval_ms, timeout_ms, failure_threshold,
               gates {max_error_rate (0-1; 1: no absolute limit), max_error_rate_increase
               (0-1), max_p99_ms, min_requests}, match_header, on_timeout (pause|rollback),
               max_mismatch (0-1, with --gate-mirror)
  mirror-check matched, mismatched, mismatch_rate, decision (pass|hold|fail), reason,
               failed_checks                                    (--gate-mirror, before step 1)
  step         step (1-based), steps, weight                    (applied and acknowledged)
  analysis     step, weight, requests, errors, error_rate, p99_ms, window_ms,
               proxies_reporting, proxies, decision (pass|hold|fail), reason, failed_checks,
               baseline_requests, baseline_errors, baseline_error_rate, rps
  promoted     weight (100), by (gate|promote)                   last line, exit 0
  rolled-back  weight (0), by (gate|abort|timeout), reason       last line, exit 3
  timed-out    weight, reason                                    last line, exit 4";

pub const FINISH_HELP: &str = "\
Works on a running rollout (its `canary start` then exits: 0 after promote, 3 after abort) and
on one that stopped (Paused after a timeout, or Failed). The --match-header route is removed.
On Kubernetes the end is recorded in the ConfigMap meshctl-rollout-<service> and the weight
written to the service's HTTPRoute.

Examples:
  meshctl canary promote api
  meshctl canary abort api
  meshctl canary abort api -n shop --timeout 1m

Exit codes:
  0  done (and every proxy calling the service applied it)
  1  failure (no mesh, no open rollout for the service)
  2  usage error
  4  the split is set but some proxies did not acknowledge it within --timeout (named)";

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The service to roll out
    #[arg(add = crate::cmd::complete::services())]
    service: String,
    /// The canary version
    #[arg(long, value_name = "VERSION", add = crate::cmd::complete::versions())]
    to: String,
    /// Canary weights in percent, increasing, each 1-100
    #[arg(long, default_value = "5,25,50,100", value_name = "W,W,…")]
    steps: Steps,
    /// Time between checks (at least 1s, at most 4m)
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    interval: HumanDuration,
    /// How far the canary's error rate (answers >= 500) may exceed the stable versions' over
    /// the same window, in percentage points: 1%, 0.5% (the default gate)
    #[arg(
        long,
        default_value = "1%",
        allow_hyphen_values = true,
        value_name = "PERCENT"
    )]
    max_error_rate_increase: Percent,
    /// An absolute limit on the canary's error rate as well, whatever the baseline does: 1%
    #[arg(long, allow_hyphen_values = true, value_name = "PERCENT")]
    max_error_rate: Option<Percent>,
    /// Largest p99 latency the canary may show
    #[arg(long, default_value = "500ms", allow_hyphen_values = true)]
    max_p99: HumanDuration,
    /// Requests a check needs to pass, counted over the step so far (fewer: the step holds)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    min_requests: u64,
    /// Failed checks that roll the canary back
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    failure_threshold: u32,
    /// Time budget of the whole rollout (then --on-timeout applies)
    #[arg(long, default_value = "10m", allow_hyphen_values = true)]
    timeout: HumanDuration,
    /// When --timeout runs out: leave the weight (pause, exit 4) or send the canary back to 0%
    /// (rollback, exit 3)
    #[arg(long, value_enum, default_value_t = OnTimeout::Pause)]
    on_timeout: OnTimeout,
    /// Send requests with this header to the canary at every step, e.g. x-canary=1 (local
    /// mesh only)
    #[arg(long, value_name = "NAME=VALUE")]
    match_header: Option<HeaderMatch>,
    /// Before the first step, require mirrored copies to the canary (`canary mirror`,
    /// `policy.mirror`) to compare clean: at least --min-requests compared, at most
    /// --max-mismatch of them differing (local mesh only)
    #[arg(long)]
    gate_mirror: bool,
    /// With --gate-mirror: the share of compared copies that may differ, e.g. 1% or 0%
    #[arg(
        long,
        default_value = "1%",
        allow_hyphen_values = true,
        value_name = "PERCENT",
        requires = "gate_mirror"
    )]
    max_mismatch: Percent,
    #[command(flatten)]
    pub(super) cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
pub struct FinishArgs {
    /// The service whose rollout ends
    #[arg(add = crate::cmd::complete::services())]
    pub(super) service: String,
    /// How long to wait for every proxy calling the service to apply it
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    pub(super) timeout: HumanDuration,
    #[command(flatten)]
    pub(super) cluster: KubeTargetArgs,
}

/// Whether `finish` promotes or aborts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Promote,
    Abort,
}

/// The service's versions, checked to hold `to` and more than one version.
fn versions_for(admin: &MeshAdmin, service: &str, to: &str) -> Result<Vec<String>, CliError> {
    let versions = super::known_versions(&admin.plan, service)?;
    if !versions.iter().any(|v| v == to) {
        return Err(CliError::usage(anyhow::anyhow!(
            "service `{service}` has no version `{to}` (versions: {})",
            versions.join(", ")
        )));
    }
    if versions.len() < 2 {
        return Err(CliError::usage(anyhow::anyhow!(
            "service `{service}` has a single version: there is nothing to roll out"
        )));
    }
    Ok(versions)
}

/// The validated rollout the flags describe (exit 2 when they contradict each other).
fn spec_of(a: StartArgs) -> Result<RolloutSpec, CliError> {
    let spec = RolloutSpec {
        service: a.service,
        to: a.to,
        steps: a.steps,
        interval: a.interval.0,
        gates: Gates {
            max_error_rate: a.max_error_rate,
            max_error_rate_increase: a.max_error_rate_increase,
            max_p99: a.max_p99.0,
            min_requests: a.min_requests,
        },
        failure_threshold: a.failure_threshold,
        timeout: a.timeout.0,
        on_timeout: a.on_timeout,
        match_header: a.match_header,
        mirror_gate: a.gate_mirror.then(|| MirrorGate {
            max_mismatch: a.max_mismatch.fraction(),
        }),
    };
    spec.validate().map_err(CliError::usage)?;
    Ok(spec)
}

pub fn start(ctx: &mut Context<'_>, a: StartArgs) -> CliResult {
    let target = ctx.target(Some(&a.cluster))?;
    let cluster = a.cluster.clone();
    let spec = spec_of(a)?;
    if target.chosen == Chosen::Kubernetes {
        if spec.mirror_gate.is_some() {
            return Err(CliError::usage(anyhow::anyhow!(
                "--gate-mirror works on a local mesh only ({})",
                target.why
            )));
        }
        return super::kube::start(ctx, spec, &cluster, &target.why);
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    let runtime = crate::cmd::client_runtime()?;
    let _entered = runtime.enter();
    let admin = MeshAdmin::open(&state, ctx.global.request_timeout.0)
        .map_err(|e| CliError::from(anyhow::Error::new(e)))?;
    let versions = versions_for(&admin, &spec.service, &spec.to)?;
    let store = RolloutStore::new(&state);
    let (ownership, from_weight, stale_route) = take_ownership(&store, &state, &spec, &versions)?;
    let view = Progress::new(ctx.out, ctx.global.output, spec.steps.0.len())?;
    let mut ports = LivePorts::new(admin, state.clone(), store, &spec, versions, view);
    let result = runtime.block_on(drive(&spec, from_weight, stale_route, &mut ports));
    drop(ownership);
    result
}

/// Becomes the rollout's owner and records it as Progressing; returns the canary's weight and
/// whether an earlier rollout of the service left a `--match-header` route.
fn take_ownership(
    store: &RolloutStore,
    state: &Path,
    spec: &RolloutSpec,
    versions: &[String],
) -> Result<(Ownership, u32, bool), CliError> {
    let lock = store.lock(&spec.service).map_err(anyhow::Error::new)?;
    let previous = store.load(&spec.service).map_err(anyhow::Error::new)?;
    let Some(ownership) = store.try_own(&spec.service).map_err(anyhow::Error::new)? else {
        let detail = previous
            .map(|p| {
                format!(
                    " (to {}, pid {}, started {}, canary at {}%)",
                    p.to, p.owner_pid, p.started_at, p.weight
                )
            })
            .unwrap_or_default();
        return Err(anyhow::anyhow!(
            "a rollout of `{}` is already running{detail}: wait for it, or end it with `meshctl canary promote|abort {}`",
            spec.service,
            spec.service
        )
        .into());
    };
    announce_takeover(previous.as_ref());
    let from_weight = current_split(state, &spec.service, versions)?.weight(&spec.to);
    let fresh = fresh_state(spec, from_weight);
    store.save(&fresh, &lock).map_err(anyhow::Error::new)?;
    let stale_route = previous.is_some_and(|p| p.phase.is_open() && p.match_header.is_some());
    Ok((ownership, from_weight, stale_route))
}

/// Says so when the rollout on record was Progressing: its `start` died (taken over).
pub(super) fn announce_takeover(previous: Option<&RolloutState>) {
    if let Some(p) = previous
        && p.phase == Phase::Progressing
    {
        eprintln!(
            "taking over: the rollout of `{}` to {} by pid {} (started {}) ended without finishing, with the canary at {}%",
            p.service, p.to, p.owner_pid, p.started_at, p.weight
        );
    }
}

/// The state a rollout starts with: Progressing, owned by this process, no history yet.
pub(super) fn fresh_state(spec: &RolloutSpec, from_weight: u32) -> RolloutState {
    let now = rfc3339(SystemTime::now());
    RolloutState {
        service: spec.service.clone(),
        to: spec.to.clone(),
        phase: Phase::Progressing,
        weight: from_weight,
        steps: spec.steps.0.clone(),
        step: 0,
        interval_ms: spec.interval.as_millis() as u64,
        timeout_ms: spec.timeout.as_millis() as u64,
        failure_threshold: spec.failure_threshold,
        gates: spec.gates.view(),
        match_header: spec.match_header.as_ref().map(ToString::to_string),
        owner_pid: std::process::id(),
        started_at: now.clone(),
        updated_at: now,
        reason: String::new(),
        last_analysis: None,
        history: Vec::new(),
    }
}

/// Sets the route, runs the engine (until it ends or a signal arrives), cleans up, and maps
/// the outcome to the exit code.
pub(super) async fn drive<'a, P: Adapter<'a>>(
    spec: &RolloutSpec,
    from_weight: u32,
    stale_route: bool,
    ports: &mut P,
) -> CliResult {
    let prepared = async {
        match &spec.match_header {
            Some(h) => ports.set_route(h).await,
            // A route left by an unfinished earlier rollout of this service goes.
            None if stale_route => ports.clear_route().await,
            None => Ok(()),
        }
    };
    if let Err(e) = prepared.await {
        ports.stop(Phase::Failed, &format!("{e:#}")).await;
        return Err(e.into());
    }
    let outcome = tokio::select! {
        r = engine::run(spec, from_weight, ports) => r,
        s = signalled() => {
            let why = format!("interrupted by {s}; the weight stays where it was");
            ports.stop(Phase::Paused, &why).await;
            ports.view().abandon();
            return Err(anyhow::anyhow!("{why} (`meshctl canary status {}`)", spec.service).into());
        }
    };
    let outcome = match outcome {
        Ok(o) => {
            if let Err(e) = ports.flush().await {
                eprintln!("warning: recording the rollout's end: {e:#}");
            }
            o
        }
        Err(e) => {
            ports.stop(Phase::Failed, &format!("{e:#}")).await;
            ports.view().abandon();
            return Err(e.into());
        }
    };
    if matches!(&outcome, Outcome::Promoted { by } | Outcome::RolledBack { by, .. } if by == "gate" || by == "timeout")
        && spec.match_header.is_some()
        && let Err(e) = ports.clear_route().await
    {
        eprintln!("warning: removing the --match-header route: {e:#}");
    }
    // Ended by `promote`/`abort` elsewhere: show its event as this stream's last.
    if let Some(e) = ports.take_external_event() {
        ports.view().event(&e)?;
    }
    ports.view().finish(&outcome, spec)?;
    match outcome {
        Outcome::Promoted { .. } => Ok(()),
        Outcome::RolledBack { .. } => Err(CliError::silent(EXIT_ROLLED_BACK)),
        Outcome::TimedOut { .. } => Err(CliError::silent(EXIT_TIMED_OUT)),
        Outcome::Lost(why) => Err(anyhow::anyhow!("{why}").into()),
    }
}

/// Resolves on Ctrl-C or SIGTERM (a cancelled CI job), naming it.
async fn signalled() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

/// What `drive` needs of a live adapter besides the engine's [`Ports`]: the
/// `--match-header` route, recording an end the engine did not decide, and the renderer.
#[allow(async_fn_in_trait)] // used with concrete types on one thread; no Send bound needed
pub(super) trait Adapter<'a>: Ports<Error = anyhow::Error> {
    /// Writes whatever `emit` could not write at once (the engine ended).
    async fn flush(&mut self) -> anyhow::Result<()>;
    /// Routes requests carrying `h` to the canary, acknowledged by every caller.
    async fn set_route(&mut self, h: &HeaderMatch) -> anyhow::Result<()>;
    /// Removes that route.
    async fn clear_route(&mut self) -> anyhow::Result<()>;
    /// Records `phase` (Paused, Failed) with `reason` if the rollout is still this
    /// process's; a failure to record is a warning.
    async fn stop(&mut self, phase: Phase, reason: &str);
    fn view(&mut self) -> &mut Progress<'a>;
    /// The event another process recorded when it promoted or aborted the rollout.
    fn take_external_event(&mut self) -> Option<Event>;
}

impl<'a> Adapter<'a> for LivePorts<Progress<'a>> {
    /// `emit` writes the state at once here.
    async fn flush(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn set_route(&mut self, h: &HeaderMatch) -> anyhow::Result<()> {
        LivePorts::set_route(self, h).await
    }

    async fn clear_route(&mut self) -> anyhow::Result<()> {
        LivePorts::clear_route(self).await
    }

    async fn stop(&mut self, phase: Phase, reason: &str) {
        if let Err(e) = self.stop_now(phase, reason) {
            eprintln!("warning: recording the rollout's end: {e:#}");
        }
    }

    fn view(&mut self) -> &mut Progress<'a> {
        &mut self.view
    }

    fn take_external_event(&mut self) -> Option<Event> {
        LivePorts::take_external_event(self)
    }
}

impl EventView for Progress<'_> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        Progress::event(self, event)
    }
}

/// Renders events: NDJSON, or a table row per check (stdout) and a bar (stderr, TTY only).
pub(super) struct Progress<'a> {
    out: &'a mut dyn Write,
    format: output::OutputFormat,
    json: bool,
    bar: ProgressBar,
    header: bool,
}

impl<'a> Progress<'a> {
    pub(super) fn new(
        out: &'a mut dyn Write,
        format: output::OutputFormat,
        steps: usize,
    ) -> Result<Self, CliError> {
        let json = format.is_structured();
        let bar = output::step_bar(steps as u64, json)?;
        Ok(Progress {
            out,
            format,
            json,
            bar,
            header: false,
        })
    }

    fn line(&mut self, text: &str) -> std::io::Result<()> {
        let out = &mut self.out;
        self.bar.suspend(|| {
            writeln!(out, "{text}")?;
            out.flush()
        })
    }

    pub(super) fn event(&mut self, event: &Event) -> std::io::Result<()> {
        if self.format == output::OutputFormat::Yaml {
            // A stream of YAML documents, one per event.
            let text = serde_yaml::to_string(event).map_err(std::io::Error::other)?;
            write!(self.out, "---\n{text}")?;
            return self.out.flush();
        }
        if self.json {
            return output::json_line(self.out, event);
        }
        match &event.kind {
            EventKind::Started {
                service,
                to,
                from_weight,
                steps,
                interval_ms,
                gates,
                match_header,
                max_mismatch,
                ..
            } => {
                let steps: Vec<String> = steps.iter().map(|s| format!("{s}%")).collect();
                let header = match_header
                    .as_ref()
                    .map(|h| format!("; {h} → {to} at every step"))
                    .unwrap_or_default();
                let mirror = max_mismatch
                    .map(|m| {
                        format!(
                            "; first a mirror phase: ≤ {} of mirrored answers differing",
                            pct(m)
                        )
                    })
                    .unwrap_or_default();
                let mut errors = Vec::new();
                if let Some(inc) = gates.max_error_rate_increase {
                    errors.push(format!("errors ≤ the stable versions' + {}", pct(inc)));
                }
                if gates.max_error_rate < 1.0 {
                    errors.push(format!("errors ≤ {}", pct(gates.max_error_rate)));
                }
                self.line(&format!(
                    "rolling out {service} {to} (now {from_weight}%): {} every {}; gates: {}, p99 ≤ {}ms, ≥ {} requests per step{header}{mirror}",
                    steps.join(" → "),
                    human_ms(*interval_ms),
                    errors.join(", "),
                    gates.max_p99_ms,
                    gates.min_requests,
                ))?;
            }
            EventKind::Step { step, weight, .. } => {
                self.bar.set_position(*step as u64 - 1);
                self.bar
                    .set_message(format!("{weight}%: waiting for the first check"));
            }
            EventKind::Analysis(a) => {
                if !self.header {
                    self.header = true;
                    self.line(&format!(
                        "{:<5} {:>6} {:>8} {:>6} {:>7} {:>9}  {:<8} REASON",
                        "STEP", "WEIGHT", "REQUESTS", "ERRORS", "ERR%", "P99", "DECISION"
                    ))?;
                }
                self.line(&analysis_row(a))?;
                let done = u64::from(a.decision == Decision::Pass);
                self.bar.set_position(a.step as u64 - 1 + done);
                self.bar.set_message(format!(
                    "step {} at {}%: {} ({})",
                    a.step,
                    a.weight,
                    decision_name(a.decision),
                    a.reason
                ));
            }
            EventKind::MirrorCheck(c) => {
                self.line(&format!(
                    "mirror check: {} ({})",
                    decision_name(c.decision),
                    c.reason
                ))?;
                self.bar.set_message(format!(
                    "mirror phase: {} ({})",
                    decision_name(c.decision),
                    c.reason
                ));
            }
            EventKind::Promoted { .. }
            | EventKind::RolledBack { .. }
            | EventKind::TimedOut { .. } => {}
        }
        Ok(())
    }

    fn abandon(&self) {
        self.bar.abandon();
    }

    /// The closing line (table mode; JSON's last event says it all).
    fn finish(&mut self, outcome: &Outcome, spec: &RolloutSpec) -> std::io::Result<()> {
        self.bar.finish_and_clear();
        if self.json {
            return Ok(());
        }
        let (svc, to) = (&spec.service, &spec.to);
        let text = match outcome {
            Outcome::Promoted { by } if by == "gate" => {
                format!("promoted: {svc} {to} has 100% of the traffic")
            }
            Outcome::Promoted { by } => {
                format!("promoted by `meshctl canary {by}`: {svc} {to} has 100% of the traffic")
            }
            Outcome::RolledBack { by, reason } if by == "gate" => {
                format!("rolled back: {svc} {to} has 0% ({reason})")
            }
            Outcome::RolledBack { by, reason } if by == "timeout" => {
                format!("rolled back (--on-timeout rollback): {svc} {to} has 0% ({reason})")
            }
            Outcome::RolledBack { by, .. } => {
                format!("rolled back by `meshctl canary {by}`: {svc} {to} has 0%")
            }
            Outcome::TimedOut { weight, reason } => format!(
                "timed out: {reason}; {svc} {to} stays at {weight}% (`meshctl canary promote|abort {svc}`, or `start` again to resume)"
            ),
            Outcome::Lost(_) => return Ok(()),
        };
        self.line(&text)
    }
}

/// `30s`, `1m30s`, or `1500ms` when not whole seconds.
fn human_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        crate::duration::format_compact((ms / 1000) as i64)
    } else {
        format!("{ms}ms")
    }
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Pass => "pass",
        Decision::Hold => "hold",
        Decision::Fail => "fail",
    }
}

/// One row of the per-check table.
pub fn analysis_row(a: &Analysis) -> String {
    let rate = a.error_rate.map_or("-".to_string(), pct);
    let p99 = a.p99_ms.map_or("-".to_string(), |ms| format!("{ms}ms"));
    format!(
        "{:<5} {:>5}% {:>8} {:>6} {:>7} {:>9}  {:<8} {}",
        a.step,
        a.weight,
        a.requests,
        a.errors,
        rate,
        p99,
        decision_name(a.decision),
        a.reason
    )
}

/// `canary promote` / `canary abort`.
pub fn finish(ctx: &mut Context<'_>, a: FinishArgs, how: Finish) -> CliResult {
    let target = ctx.target(Some(&a.cluster))?;
    if target.chosen == Chosen::Kubernetes {
        return super::kube::finish(ctx, a, how, &target.why);
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    let runtime = crate::cmd::client_runtime()?;
    let _entered = runtime.enter();
    let mut admin = MeshAdmin::open(&state, ctx.global.request_timeout.0)
        .map_err(|e| CliError::from(anyhow::Error::new(e)))?;
    super::known_versions(&admin.plan, &a.service)?;
    let store = RolloutStore::new(&state);
    let lock = store.lock(&a.service).map_err(anyhow::Error::new)?;
    let Some(mut st) = store.load(&a.service).map_err(anyhow::Error::new)? else {
        return Err(not_on_record(&a.service));
    };
    closable(&st, how)?;
    let versions = versions_for(&admin, &a.service, &st.to)?;
    let weight = how.weight();
    let next = current_split(&state, &a.service, &versions)?
        .shift(&a.service, &versions, &st.to, weight)
        .map_err(anyhow::Error::new)?;
    let result = runtime.block_on(async {
        let version = admin.set_split(&a.service, &next).await?;
        st.record(&how.event());
        store.save(&st, &lock)?;
        drop(lock);
        let mut latest = version;
        if st.match_header.is_some() {
            latest = admin.clear_canary_route(&a.service).await?;
        }
        Ok::<_, anyhow::Error>(admin.wait_for_acks(&a.service, latest, a.timeout.0).await)
    })?;
    match result {
        Ok(()) => {}
        Err(e @ AdminError::Timeout { .. }) => {
            return Err(CliError::new(e.into(), EXIT_TIMED_OUT));
        }
        Err(e) => return Err(anyhow::Error::new(e).into()),
    }
    render_finished(ctx, st)
}

/// No rollout state for `service`.
pub(super) fn not_on_record(service: &str) -> CliError {
    anyhow::anyhow!(
        "no rollout of `{service}` on record (start one with `meshctl canary start {service} --to VERSION`)"
    )
    .into()
}

/// `promote`/`abort` need an open rollout.
pub(super) fn closable(st: &RolloutState, how: Finish) -> Result<(), CliError> {
    if st.phase.is_open() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "the rollout of `{}` to {} is already {:?} ({}): nothing to {}",
        st.service,
        st.to,
        st.phase,
        st.updated_at,
        if how == Finish::Promote {
            "promote"
        } else {
            "abort"
        }
    )
    .into())
}

impl Finish {
    /// The canary's weight afterwards.
    pub(super) fn weight(self) -> u32 {
        match self {
            Finish::Promote => 100,
            Finish::Abort => 0,
        }
    }

    /// The event recorded in the rollout's history.
    pub(super) fn event(self) -> Event {
        let kind = match self {
            Finish::Promote => EventKind::Promoted {
                weight: 100,
                by: "promote".into(),
            },
            Finish::Abort => EventKind::RolledBack {
                weight: 0,
                by: "abort".into(),
                reason: format!("`meshctl canary abort` (pid {})", std::process::id()),
            },
        };
        Event {
            at: rfc3339(SystemTime::now()),
            elapsed_ms: 0,
            kind,
        }
    }
}

/// The finished rollout: `SERVICE TO PHASE WEIGHT`, or its state as JSON/YAML.
pub(super) fn render_finished(ctx: &mut Context<'_>, st: RolloutState) -> CliResult {
    let view = super::RolloutView::new(st, false);
    output::render(ctx.out, ctx.global.output, &view, |_| {
        let mut t = output::table(["SERVICE", "TO", "PHASE", "WEIGHT"]);
        t.add_row(vec![
            view.state.service.clone(),
            view.state.to.clone(),
            format!("{:?}", view.state.phase),
            format!("{}%", view.state.weight),
        ]);
        t
    })?;
    Ok(())
}
