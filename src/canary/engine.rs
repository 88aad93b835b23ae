//! The rollout state machine: shift the canary's weight step by step, check its own traffic
//! (accumulated over the step) every interval against the gates, advance, hold, roll back or
//! time out (then pause or roll back, as `--on-timeout` says).
//!
//! It does no I/O itself: [`Ports`] applies weights, reads metrics, reports whether another
//! process ended the rollout (`canary promote|abort`) and receives every [`Event`]. Time is
//! tokio's clock, so the unit tests run on a paused clock with fake ports.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::gate::{GatesView, Observation, Verdict};
use super::spec::{OnTimeout, RolloutSpec, window_for};

/// How often the engine looks for a `promote`/`abort` from another process while it waits.
pub const EXTERNAL_POLL: Duration = Duration::from_millis(100);
/// How long a rollback or the final promotion may wait for the proxies to acknowledge it
/// (it is applied even if the rollout's own time budget ran out).
pub const FINAL_ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// One event of a rollout: an NDJSON line of `canary start -o json`, and an entry of the
/// history `canary status` shows. A stable contract: fields are only ever added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time (RFC 3339, UTC).
    pub at: String,
    /// Milliseconds since the rollout started.
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// The rollout began (the canary had `from_weight`).
    Started {
        service: String,
        to: String,
        from_weight: u32,
        steps: Vec<u32>,
        interval_ms: u64,
        timeout_ms: u64,
        failure_threshold: u32,
        gates: GatesView,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        match_header: Option<String>,
        /// `pause` or `rollback`; absent in rollouts recorded before the flag existed.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        on_timeout: Option<String>,
        /// `--gate-mirror`: the mismatch share (0-1) the mirror phase allows; absent without.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        max_mismatch: Option<f64>,
    },
    /// One check of the mirror phase (`--gate-mirror`), before the first step.
    MirrorCheck(MirrorCheck),
    /// A step's weight is applied: every proxy calling the service acknowledged it.
    Step {
        step: usize,
        steps: usize,
        weight: u32,
    },
    /// One check of the canary's traffic over the last interval.
    Analysis(Analysis),
    /// The canary is back at 0%.
    RolledBack {
        weight: u32,
        /// `gate`, `abort` or `timeout` (`--on-timeout rollback`).
        by: String,
        reason: String,
    },
    /// The canary has 100%.
    Promoted { weight: u32, by: String },
    /// `--timeout` ran out; the weight stays where it was.
    TimedOut { weight: u32, reason: String },
}

/// A check's inputs and decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub step: usize,
    pub weight: u32,
    /// The canary's requests in the window (the step so far, or since its last failed check).
    pub requests: u64,
    pub errors: u64,
    /// Errors ÷ requests (0-1); `null` without requests.
    pub error_rate: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The stats window the check read: from the step's start (or its last failed check) to
    /// now, in whole seconds plus at most one, at most five minutes.
    pub window_ms: u64,
    /// Canary proxies that answered / canary proxies.
    pub proxies_reporting: usize,
    pub proxies: usize,
    /// `pass` (advance), `hold` (too few requests: check again) or `fail`.
    pub decision: Decision,
    /// Why, in words.
    pub reason: String,
    /// Failed checks so far in this rollout.
    pub failed_checks: u32,
    /// The stable versions' requests and errors over the same window (the baseline-relative
    /// gate's comparison; when they had none, the last baseline this rollout saw).
    #[serde(default)]
    pub baseline_requests: u64,
    #[serde(default)]
    pub baseline_errors: u64,
    #[serde(default)]
    pub baseline_error_rate: Option<f64>,
    /// The canary's requests per second over the window.
    #[serde(default)]
    pub rps: f64,
}

/// A mirror-phase check: the copies compared since the phase began (or its last failed
/// check) and the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorCheck {
    /// Copies whose answer matched / differed from the real one.
    pub matched: u64,
    pub mismatched: u64,
    /// Mismatched ÷ compared (0-1); `null` with none compared.
    pub mismatch_rate: Option<f64>,
    pub decision: Decision,
    pub reason: String,
    pub failed_checks: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Hold,
    Fail,
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The canary has 100% (by the engine, or by `canary promote` elsewhere).
    Promoted { by: String },
    /// The canary is back at 0% (by the gate, the timeout, or `canary abort` elsewhere).
    RolledBack { by: String, reason: String },
    /// Time ran out with the canary at `weight`.
    TimedOut { weight: u32, reason: String },
    /// The rollout's state was taken over or removed by another process: this one stopped
    /// without changing anything more.
    Lost(String),
}

/// A rollout ended by another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Promoted {
        by: String,
    },
    RolledBack {
        by: String,
        reason: String,
    },
    /// The state was taken over or removed: stop without touching anything.
    Lost(String),
}

/// What applying a weight came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Set and acknowledged by every proxy calling the service.
    Done,
    /// Another process ended the rollout first; nothing was changed.
    Ended(Ended),
    /// Set, but not acknowledged everywhere before the deadline (who is pending, in words).
    Unacknowledged(String),
}

/// The engine's I/O.
#[allow(async_fn_in_trait)] // used with concrete types on one thread; no Send bound needed
pub trait Ports {
    type Error;
    /// Gives the canary `weight` percent, unless the rollout was ended elsewhere, and waits
    /// until `deadline` for every caller's proxy to acknowledge it.
    async fn set_weight(&mut self, weight: u32, deadline: Instant) -> Result<Applied, Self::Error>;
    /// The canary's own traffic over the last `window`.
    async fn observe(&mut self, window: Duration) -> Result<super::gate::Observation, Self::Error>;
    /// Whether another process promoted or aborted the rollout.
    async fn ended_elsewhere(&mut self) -> Result<Option<Ended>, Self::Error>;
    /// Records and shows an event.
    fn emit(&mut self, event: &Event) -> Result<(), Self::Error>;
    /// The copies mirrored to the canary so far, summed over the callers' proxies: (matched,
    /// mismatched). Only asked with `--gate-mirror`.
    async fn mirror_counts(&mut self) -> Result<(u64, u64), Self::Error>;
}

/// Runs `spec` from the canary's current weight `from_weight` to an [`Outcome`]. It begins
/// at the first step at or above `from_weight` (so a rollout stopped at 25% resumes there,
/// and analyses 25% again), or at the last step if every step is below it.
pub async fn run<P: Ports>(
    spec: &RolloutSpec,
    from_weight: u32,
    ports: &mut P,
) -> Result<Outcome, P::Error> {
    let mut engine = Engine {
        spec,
        ports,
        started: Instant::now(),
        failed_checks: 0,
        weight: from_weight,
        baseline: None,
        rps: None,
    };
    engine.run(from_weight).await
}

/// Where a rollout goes after one check.
enum AfterCheck {
    Advance,
    Again,
    Ended(Outcome),
}

struct Engine<'a, P> {
    spec: &'a RolloutSpec,
    ports: &'a mut P,
    started: Instant,
    failed_checks: u32,
    /// The canary's weight as last applied.
    weight: u32,
    /// The last baseline with requests (requests, errors): the comparison when the stable
    /// versions get no traffic (the canary at 100%).
    baseline: Option<(u64, u64)>,
    /// The canary's requests per second at the last check: the timeout's hint.
    rps: Option<f64>,
}

impl<P: Ports> Engine<'_, P> {
    async fn run(&mut self, from_weight: u32) -> Result<Outcome, P::Error> {
        let spec = self.spec;
        let deadline = self.started + spec.timeout;
        self.emit(EventKind::Started {
            service: spec.service.clone(),
            to: spec.to.clone(),
            from_weight,
            steps: spec.steps.0.clone(),
            interval_ms: millis(spec.interval),
            timeout_ms: millis(spec.timeout),
            failure_threshold: spec.failure_threshold,
            gates: spec.gates.view(),
            match_header: spec.match_header.as_ref().map(ToString::to_string),
            on_timeout: Some(spec.on_timeout.as_str().to_string()),
            max_mismatch: spec.mirror_gate.map(|g| g.max_mismatch),
        })?;
        if let Some(gate) = spec.mirror_gate
            && from_weight == 0
            && let Some(outcome) = self.mirror_phase(gate, deadline).await?
        {
            return Ok(outcome);
        }
        let steps = &spec.steps.0;
        let first = steps
            .iter()
            .position(|&w| w >= from_weight)
            .unwrap_or(steps.len() - 1);
        for (index, &weight) in steps.iter().enumerate().skip(first) {
            match self.ports.set_weight(weight, deadline).await? {
                Applied::Done => {}
                Applied::Ended(e) => return self.ended(e),
                Applied::Unacknowledged(who) => {
                    self.weight = weight;
                    return self
                        .timed_out(format!("proxies did not acknowledge {weight}%: {who}"))
                        .await;
                }
            }
            self.weight = weight;
            self.emit(EventKind::Step {
                step: index + 1,
                steps: steps.len(),
                weight,
            })?;
            if let Some(outcome) = self.analyse_step(index + 1, deadline).await? {
                return Ok(outcome);
            }
        }
        if self.weight < 100 {
            let until = Instant::now() + FINAL_ACK_TIMEOUT;
            match self.ports.set_weight(100, until).await? {
                Applied::Done => {}
                Applied::Ended(e) => return self.ended(e),
                Applied::Unacknowledged(who) => {
                    self.weight = 100;
                    return self
                        .timed_out(format!("proxies did not acknowledge 100%: {who}"))
                        .await;
                }
            }
            self.weight = 100;
        }
        self.emit(EventKind::Promoted {
            weight: 100,
            by: "gate".into(),
        })?;
        Ok(Outcome::Promoted { by: "gate".into() })
    }

    /// Checks every interval until one passes (`None`: advance), or the rollout ends. Each
    /// check reads the canary's traffic since the step began (since its last failed check,
    /// after one), so `--min-requests` accumulates over the step.
    async fn analyse_step(
        &mut self,
        step: usize,
        deadline: Instant,
    ) -> Result<Option<Outcome>, P::Error> {
        let spec = self.spec;
        let mut since = Instant::now();
        self.rps = None;
        loop {
            let next = Instant::now() + spec.interval;
            if next > deadline {
                if let Some(e) = self.wait_until(deadline).await? {
                    return self.ended(e).map(Some);
                }
                let reason = format!(
                    "--timeout {:?} ran out at step {step} ({}%) before a passing check{}",
                    spec.timeout,
                    self.weight,
                    self.traffic_hint()
                );
                return self.timed_out(reason).await.map(Some);
            }
            if let Some(e) = self.wait_until(next).await? {
                return self.ended(e).map(Some);
            }
            // The scheduled time, not the (slightly later) wake-up: whole intervals.
            let window = window_for(next.saturating_duration_since(since));
            let mut observed = self.ports.observe(window).await?;
            self.fill_baseline(&mut observed);
            let rps = observed.requests as f64 / window.as_secs_f64().max(1.0);
            self.rps = Some(rps);
            let verdict = spec.gates.evaluate(&observed);
            let (decision, reason) = match &verdict {
                Verdict::Pass => (Decision::Pass, "every gate held".to_string()),
                Verdict::Hold => (
                    Decision::Hold,
                    format!(
                        "{} requests in {}s at this step ({:.1}/s), fewer than --min-requests {}",
                        observed.requests,
                        window.as_secs(),
                        rps,
                        spec.gates.min_requests
                    ),
                ),
                Verdict::Fail(breaches) => {
                    self.failed_checks += 1;
                    // The next check judges the traffic after this one.
                    since = Instant::now();
                    let list: Vec<String> = breaches.iter().map(ToString::to_string).collect();
                    (Decision::Fail, list.join("; "))
                }
            };
            self.emit(EventKind::Analysis(Analysis {
                step,
                weight: self.weight,
                requests: observed.requests,
                errors: observed.errors,
                error_rate: observed.error_rate(),
                p99_ms: observed.p99_ms(),
                window_ms: millis(window),
                proxies_reporting: observed.reporting,
                proxies: observed.proxies,
                decision,
                reason: reason.clone(),
                failed_checks: self.failed_checks,
                baseline_requests: observed.baseline_requests,
                baseline_errors: observed.baseline_errors,
                baseline_error_rate: observed.baseline_error_rate(),
                rps: (rps * 100.0).round() / 100.0,
            }))?;
            match self.after_check(decision, &reason, "checks").await? {
                AfterCheck::Advance => return Ok(None),
                AfterCheck::Ended(outcome) => return Ok(Some(outcome)),
                AfterCheck::Again => {}
            }
        }
    }

    /// `--gate-mirror`: before the first step, checks every interval the copies compared
    /// since the phase began (since its last failed check, after one) until one check
    /// passes (`None`: take the first step) — at least `--min-requests` compared, at most
    /// `max_mismatch` of them differing — or the rollout ends: rolled back after
    /// `--failure-threshold` failed checks, or timed out with the canary still at 0%.
    async fn mirror_phase(
        &mut self,
        gate: super::spec::MirrorGate,
        deadline: Instant,
    ) -> Result<Option<Outcome>, P::Error> {
        let spec = self.spec;
        let min = spec.gates.min_requests;
        let mut base = self.ports.mirror_counts().await?;
        loop {
            let next = Instant::now() + spec.interval;
            if next > deadline {
                if let Some(e) = self.wait_until(deadline).await? {
                    return self.ended(e).map(Some);
                }
                let reason = format!(
                    "--timeout {:?} ran out in the mirror phase (--gate-mirror) before a passing check: is `meshctl canary mirror {} --to {}` running?",
                    spec.timeout, spec.service, spec.to
                );
                return self.timed_out(reason).await.map(Some);
            }
            if let Some(e) = self.wait_until(next).await? {
                return self.ended(e).map(Some);
            }
            let now = self.ports.mirror_counts().await?;
            // A proxy that restarted counts from 0 again: never below the base.
            let matched = now.0.saturating_sub(base.0);
            let mismatched = now.1.saturating_sub(base.1);
            let compared = matched + mismatched;
            let rate = (compared > 0).then(|| mismatched as f64 / compared as f64);
            let (decision, reason) = match rate {
                Some(r) if compared >= min && r > gate.max_mismatch => {
                    self.failed_checks += 1;
                    base = now;
                    (
                        Decision::Fail,
                        format!(
                            "{mismatched} of {compared} mirrored answers differed ({:.2}%), over --max-mismatch {}%",
                            r * 100.0,
                            gate.max_mismatch * 100.0
                        ),
                    )
                }
                _ if compared < min => (
                    Decision::Hold,
                    format!(
                        "{compared} mirrored answers compared, fewer than --min-requests {min}"
                    ),
                ),
                _ => (
                    Decision::Pass,
                    format!("{mismatched} of {compared} mirrored answers differed"),
                ),
            };
            self.emit(EventKind::MirrorCheck(MirrorCheck {
                matched,
                mismatched,
                mismatch_rate: rate,
                decision,
                reason: reason.clone(),
                failed_checks: self.failed_checks,
            }))?;
            match self.after_check(decision, &reason, "mirror checks").await? {
                AfterCheck::Advance => return Ok(None),
                AfterCheck::Ended(outcome) => return Ok(Some(outcome)),
                AfterCheck::Again => {}
            }
        }
    }

    /// What a check's decision leads to: a pass advances, a hold checks again, and so does a
    /// failure until `--failure-threshold` failed `checks`, which rolls the canary back.
    async fn after_check(
        &mut self,
        decision: Decision,
        reason: &str,
        checks: &str,
    ) -> Result<AfterCheck, P::Error> {
        match decision {
            Decision::Pass => Ok(AfterCheck::Advance),
            Decision::Fail if self.failed_checks >= self.spec.failure_threshold => {
                let why = format!(
                    "{} failed {checks} (--failure-threshold {}); last: {reason}",
                    self.failed_checks, self.spec.failure_threshold
                );
                self.roll_back("gate", why).await.map(AfterCheck::Ended)
            }
            Decision::Hold | Decision::Fail => Ok(AfterCheck::Again),
        }
    }

    /// Without baseline traffic in the window, compares with the last baseline seen.
    fn fill_baseline(&mut self, o: &mut Observation) {
        if o.baseline_requests > 0 {
            self.baseline = Some((o.baseline_requests, o.baseline_errors));
        } else if let Some((requests, errors)) = self.baseline {
            o.baseline_requests = requests;
            o.baseline_errors = errors;
        }
    }

    /// What the timeout's reason adds: the traffic seen and what to change.
    fn traffic_hint(&self) -> String {
        let min = self.spec.gates.min_requests;
        match self.rps {
            None => String::new(),
            Some(rps) if rps <= 0.0 => ": the canary saw no requests (is traffic reaching the service? `meshctl stat`); send traffic, or raise --timeout".to_string(),
            Some(rps) => format!(
                ": the canary saw {rps:.1} requests/s, so --min-requests {min} takes about {}s per step; raise --timeout, lower --min-requests, or send more traffic",
                (min as f64 / rps).ceil()
            ),
        }
    }

    async fn roll_back(&mut self, by: &str, reason: String) -> Result<Outcome, P::Error> {
        let until = Instant::now() + FINAL_ACK_TIMEOUT;
        match self.ports.set_weight(0, until).await? {
            Applied::Ended(e) => return self.ended(e),
            // Unacknowledged: the split is set; the proxies that lag will apply it.
            Applied::Done | Applied::Unacknowledged(_) => {}
        }
        self.weight = 0;
        self.emit(EventKind::RolledBack {
            weight: 0,
            by: by.into(),
            reason: reason.clone(),
        })?;
        Ok(Outcome::RolledBack {
            by: by.into(),
            reason,
        })
    }

    /// `--timeout` ran out: pause at the weight, or roll back (`--on-timeout`).
    async fn timed_out(&mut self, reason: String) -> Result<Outcome, P::Error> {
        if self.spec.on_timeout == OnTimeout::Rollback {
            return self.roll_back("timeout", reason).await;
        }
        self.emit(EventKind::TimedOut {
            weight: self.weight,
            reason: reason.clone(),
        })?;
        Ok(Outcome::TimedOut {
            weight: self.weight,
            reason,
        })
    }

    /// The other process recorded its own event; this one only reports the outcome.
    fn ended(&mut self, e: Ended) -> Result<Outcome, P::Error> {
        Ok(match e {
            Ended::Promoted { by } => Outcome::Promoted { by },
            Ended::RolledBack { by, reason } => Outcome::RolledBack { by, reason },
            Ended::Lost(reason) => Outcome::Lost(reason),
        })
    }

    /// Sleeps until `until`, looking for a promote/abort from elsewhere meanwhile.
    async fn wait_until(&mut self, until: Instant) -> Result<Option<Ended>, P::Error> {
        loop {
            if let Some(e) = self.ports.ended_elsewhere().await? {
                return Ok(Some(e));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(None);
            }
            tokio::time::sleep((until - now).min(EXTERNAL_POLL)).await;
        }
    }

    fn emit(&mut self, kind: EventKind) -> Result<(), P::Error> {
        let event = Event {
            at: rfc3339(SystemTime::now()),
            elapsed_ms: millis(self.started.elapsed()),
            kind,
        };
        self.ports.emit(&event)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub use crate::output::rfc3339;

#[cfg(test)]
mod tests;
