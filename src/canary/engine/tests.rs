//! The rollout decisions on tokio's paused clock with scripted metrics.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::canary::gate::{Gates, Observation};
use crate::canary::spec::{OnTimeout, Steps};

/// Scripted ports: observations in order (the last one repeats), every applied weight,
/// every event, and an optional promote/abort that "arrives" at a given time.
struct Fake {
    observations: VecDeque<Observation>,
    weights: Vec<u32>,
    events: Vec<Event>,
    external: Option<(Instant, Ended)>,
    /// The weight whose acknowledgement never comes.
    unacked: Option<u32>,
    windows: Vec<Duration>,
    /// Instead of the script: a canary answering this many healthy requests per second, so
    /// an observation is as large as its window.
    per_second: Option<u64>,
    /// Mirror counts (matched, mismatched) in order (the last one repeats).
    mirror: VecDeque<(u64, u64)>,
}

impl Fake {
    fn new(observations: Vec<Observation>) -> Self {
        Fake {
            observations: observations.into(),
            weights: Vec::new(),
            events: Vec::new(),
            external: None,
            unacked: None,
            windows: Vec::new(),
            per_second: None,
            mirror: VecDeque::new(),
        }
    }

    fn decisions(&self) -> Vec<Decision> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Analysis(a) => Some(a.decision),
                _ => None,
            })
            .collect()
    }
}

impl Ports for Fake {
    type Error = std::convert::Infallible;

    async fn set_weight(&mut self, weight: u32, deadline: Instant) -> Result<Applied, Self::Error> {
        if let Some(e) = self.ended_elsewhere().await? {
            return Ok(Applied::Ended(e));
        }
        self.weights.push(weight);
        if self.unacked == Some(weight) {
            tokio::time::sleep_until(deadline).await;
            return Ok(Applied::Unacknowledged("web (not connected)".into()));
        }
        Ok(Applied::Done)
    }

    async fn observe(&mut self, window: Duration) -> Result<Observation, Self::Error> {
        self.windows.push(window);
        if let Some(rps) = self.per_second {
            return Ok(Observation {
                requests: rps * window.as_secs(),
                ..healthy()
            });
        }
        let o = if self.observations.len() > 1 {
            self.observations.pop_front()
        } else {
            self.observations.front().cloned()
        };
        Ok(o.unwrap_or_default())
    }

    async fn ended_elsewhere(&mut self) -> Result<Option<Ended>, Self::Error> {
        Ok(self
            .external
            .as_ref()
            .filter(|(at, _)| Instant::now() >= *at)
            .map(|(_, e)| e.clone()))
    }

    fn emit(&mut self, event: &Event) -> Result<(), Self::Error> {
        self.events.push(event.clone());
        Ok(())
    }

    async fn mirror_counts(&mut self) -> Result<(u64, u64), Self::Error> {
        let counts = if self.mirror.len() > 1 {
            self.mirror.pop_front()
        } else {
            self.mirror.front().copied()
        };
        Ok(counts.unwrap_or_default())
    }
}

fn spec(steps: &[u32]) -> RolloutSpec {
    RolloutSpec {
        service: "api".into(),
        to: "v2".into(),
        steps: Steps(steps.to_vec()),
        interval: Duration::from_secs(10),
        gates: Gates {
            max_error_rate: Some("1%".parse().unwrap()),
            max_error_rate_increase: "1%".parse().unwrap(),
            max_p99: Duration::from_millis(500),
            min_requests: 20,
        },
        failure_threshold: 2,
        timeout: Duration::from_secs(600),
        on_timeout: OnTimeout::Pause,
        match_header: None,
        mirror_gate: None,
    }
}

fn healthy() -> Observation {
    Observation {
        requests: 100,
        errors: 0,
        p99_us: Some(20_000),
        reporting: 1,
        proxies: 1,
        ..Observation::default()
    }
}

fn failing() -> Observation {
    Observation {
        errors: 50,
        ..healthy()
    }
}

fn slow() -> Observation {
    Observation {
        p99_us: Some(900_000),
        ..healthy()
    }
}

fn idle() -> Observation {
    Observation {
        requests: 3,
        errors: 0,
        p99_us: Some(1_000),
        reporting: 1,
        proxies: 1,
        ..Observation::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_healthy_canary_walks_every_step_and_is_promoted() {
    let mut ports = Fake::new(vec![healthy()]);
    let started = Instant::now();
    let outcome = run(&spec(&[5, 25, 50, 100]), 0, &mut ports).await.unwrap();
    assert_eq!(outcome, Outcome::Promoted { by: "gate".into() });
    assert_eq!(ports.weights, [5, 25, 50, 100]);
    assert_eq!(ports.decisions(), [Decision::Pass; 4]);
    // One interval per step, nothing more.
    assert_eq!(started.elapsed(), Duration::from_secs(40));
    assert_eq!(ports.windows[0], Duration::from_secs(11));
    let kinds: Vec<&str> = ports.events.iter().map(|e| event_name(&e.kind)).collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"promoted"));
}

#[tokio::test(start_paused = true)]
async fn steps_short_of_100_end_with_a_promotion_to_100() {
    let mut ports = Fake::new(vec![healthy()]);
    let outcome = run(&spec(&[10, 50]), 0, &mut ports).await.unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }));
    assert_eq!(ports.weights, [10, 50, 100]);
}

#[tokio::test(start_paused = true)]
async fn failed_checks_up_to_the_threshold_roll_back_to_zero() {
    // Healthy at the first step, then 50% errors.
    let mut ports = Fake::new(vec![healthy(), failing()]);
    let outcome = run(&spec(&[10, 50, 100]), 0, &mut ports).await.unwrap();
    match outcome {
        Outcome::RolledBack { by, reason } => {
            assert_eq!(by, "gate");
            assert!(reason.contains("2 failed checks"), "{reason}");
            assert!(reason.contains("error rate 50%"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ports.weights, [10, 50, 0]);
    assert_eq!(
        ports.decisions(),
        [Decision::Pass, Decision::Fail, Decision::Fail]
    );
}

#[tokio::test(start_paused = true)]
async fn failed_checks_count_over_the_whole_rollout() {
    // fail, pass (advance), fail: the second failure reaches the threshold of 2.
    let mut ports = Fake::new(vec![failing(), healthy(), failing(), healthy()]);
    let outcome = run(&spec(&[10, 50, 100]), 0, &mut ports).await.unwrap();
    assert!(matches!(outcome, Outcome::RolledBack { .. }));
    assert_eq!(ports.weights, [10, 50, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_canary_is_rolled_back_for_latency_not_errors() {
    let mut ports = Fake::new(vec![slow()]);
    let outcome = run(&spec(&[10, 100]), 0, &mut ports).await.unwrap();
    let Outcome::RolledBack { reason, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("p99 900ms over the 500ms gate"), "{reason}");
    assert!(!reason.contains("error rate"), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn too_little_traffic_holds_the_step_until_the_timeout() {
    let mut ports = Fake::new(vec![idle()]);
    let s = RolloutSpec {
        timeout: Duration::from_secs(35),
        ..spec(&[10, 100])
    };
    let started = Instant::now();
    let outcome = run(&s, 0, &mut ports).await.unwrap();
    match outcome {
        Outcome::TimedOut { weight, .. } => assert_eq!(weight, 10, "left where it was"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ports.weights, [10]);
    assert_eq!(ports.decisions(), [Decision::Hold; 3]);
    assert_eq!(started.elapsed(), Duration::from_secs(35));
    assert!(matches!(
        ports.events.last().unwrap().kind,
        EventKind::TimedOut { weight: 10, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn min_requests_accumulate_over_the_step() {
    // 1 request/s, --min-requests 20, checks every 10s: no single interval has 20 requests,
    // the step's traffic so far does by the second check.
    let mut ports = Fake::new(vec![]);
    ports.per_second = Some(1);
    let s = RolloutSpec {
        timeout: Duration::from_secs(100),
        ..spec(&[10, 100])
    };
    let outcome = run(&s, 0, &mut ports).await.unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }), "{outcome:?}");
    assert_eq!(
        ports.decisions(),
        [
            Decision::Hold,
            Decision::Pass,
            Decision::Hold,
            Decision::Pass
        ]
    );
    // Each step's windows grow from its start, and start again at the next step.
    assert_eq!(
        ports.windows,
        [11, 21, 11, 21].map(Duration::from_secs).to_vec()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_check_restarts_the_accumulation() {
    let mut ports = Fake::new(vec![failing(), healthy()]);
    let outcome = run(&spec(&[100]), 0, &mut ports).await.unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }), "{outcome:?}");
    assert_eq!(ports.windows, [11, 11].map(Duration::from_secs).to_vec());
}

#[tokio::test(start_paused = true)]
async fn the_canary_is_judged_against_its_baseline() {
    // Both versions fail 2%: the default gate passes; 30% against 2% fails.
    let like_baseline = Observation {
        requests: 200,
        errors: 4,
        baseline_requests: 800,
        baseline_errors: 16,
        ..healthy()
    };
    let relative = |mut s: RolloutSpec| {
        s.gates.max_error_rate = None;
        s
    };
    let mut ports = Fake::new(vec![like_baseline.clone()]);
    let outcome = run(&relative(spec(&[50, 100])), 0, &mut ports)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }), "{outcome:?}");
    let worse = Observation {
        errors: 60,
        ..like_baseline
    };
    let mut ports = Fake::new(vec![worse]);
    let outcome = run(&relative(spec(&[50, 100])), 0, &mut ports)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    let EventKind::Analysis(a) = &ports.events[2].kind else {
        panic!("{:?}", ports.events[2]);
    };
    assert_eq!((a.baseline_requests, a.baseline_errors), (800, 16));
    assert_eq!(a.baseline_error_rate, Some(0.02));
    assert!(a.reason.contains("stable versions' 2%"), "{}", a.reason);
}

#[tokio::test(start_paused = true)]
async fn without_baseline_traffic_the_last_baseline_is_used() {
    let with = Observation {
        baseline_requests: 500,
        baseline_errors: 10,
        ..healthy()
    };
    let mut ports = Fake::new(vec![with, healthy()]);
    run(&spec(&[50, 100]), 0, &mut ports).await.unwrap();
    let baselines: Vec<u64> = ports
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Analysis(a) => Some(a.baseline_requests),
            _ => None,
        })
        .collect();
    assert_eq!(baselines, [500, 500]);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_names_the_traffic_and_what_to_change() {
    let mut ports = Fake::new(vec![idle()]);
    let s = RolloutSpec {
        timeout: Duration::from_secs(35),
        ..spec(&[10, 100])
    };
    let Outcome::TimedOut { reason, .. } = run(&s, 0, &mut ports).await.unwrap() else {
        panic!("not a timeout");
    };
    assert!(reason.contains("step 1 (10%)"), "{reason}");
    assert!(
        reason.contains("saw 0.1 requests/s, so --min-requests 20 takes about 207s"),
        "{reason}"
    );
    assert!(
        reason.contains("raise --timeout, lower --min-requests"),
        "{reason}"
    );
    let EventKind::Analysis(a) = &ports.events[2].kind else {
        panic!("{:?}", ports.events[2]);
    };
    assert!(
        a.reason.contains("/s), fewer than --min-requests 20"),
        "{}",
        a.reason
    );
}

#[tokio::test(start_paused = true)]
async fn on_timeout_rollback_sends_the_canary_back_to_zero() {
    let mut ports = Fake::new(vec![idle()]);
    let s = RolloutSpec {
        timeout: Duration::from_secs(35),
        on_timeout: OnTimeout::Rollback,
        ..spec(&[10, 100])
    };
    let outcome = run(&s, 0, &mut ports).await.unwrap();
    match outcome {
        Outcome::RolledBack { by, reason } => {
            assert_eq!(by, "timeout");
            assert!(reason.contains("--timeout 35s ran out"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ports.weights, [10, 0]);
    assert!(matches!(
        &ports.events.last().unwrap().kind,
        EventKind::RolledBack { weight: 0, by, .. } if by == "timeout"
    ));
}

#[tokio::test(start_paused = true)]
async fn a_hold_then_enough_traffic_advances() {
    let mut ports = Fake::new(vec![idle(), idle(), healthy()]);
    let outcome = run(&spec(&[100]), 0, &mut ports).await.unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }));
    assert_eq!(
        ports.decisions(),
        [Decision::Hold, Decision::Hold, Decision::Pass]
    );
}

#[tokio::test(start_paused = true)]
async fn an_abort_elsewhere_ends_the_rollout_without_touching_the_weight() {
    let mut ports = Fake::new(vec![healthy()]);
    ports.external = Some((
        Instant::now() + Duration::from_secs(15),
        Ended::RolledBack {
            by: "abort".into(),
            reason: "operator".into(),
        },
    ));
    let started = Instant::now();
    let outcome = run(&spec(&[10, 50, 100]), 0, &mut ports).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::RolledBack {
            by: "abort".into(),
            reason: "operator".into()
        }
    );
    assert_eq!(ports.weights, [10, 50], "no rollback of its own");
    // Noticed within one poll, not at the next check.
    assert!(started.elapsed() <= Duration::from_secs(15) + EXTERNAL_POLL);
}

#[tokio::test(start_paused = true)]
async fn a_promote_elsewhere_ends_the_rollout_promoted() {
    let mut ports = Fake::new(vec![idle()]);
    ports.external = Some((
        Instant::now() + Duration::from_secs(3),
        Ended::Promoted {
            by: "promote".into(),
        },
    ));
    let outcome = run(&spec(&[10, 100]), 0, &mut ports).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Promoted {
            by: "promote".into()
        }
    );
    assert_eq!(ports.weights, [10]);
}

#[tokio::test(start_paused = true)]
async fn a_weight_never_acknowledged_times_out_at_that_weight() {
    let mut ports = Fake::new(vec![healthy()]);
    ports.unacked = Some(50);
    let s = RolloutSpec {
        timeout: Duration::from_secs(60),
        ..spec(&[10, 50, 100])
    };
    let outcome = run(&s, 0, &mut ports).await.unwrap();
    match outcome {
        Outcome::TimedOut { weight, reason } => {
            assert_eq!(weight, 50);
            assert!(reason.contains("web (not connected)"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_resumed_rollout_starts_at_the_current_step() {
    let mut ports = Fake::new(vec![healthy()]);
    run(&spec(&[5, 25, 50, 100]), 25, &mut ports).await.unwrap();
    assert_eq!(ports.weights, [25, 50, 100]);
    let mut ports = Fake::new(vec![healthy()]);
    run(&spec(&[5, 25, 50, 100]), 30, &mut ports).await.unwrap();
    assert_eq!(ports.weights, [50, 100]);
}

#[test]
fn events_serialise_as_flat_tagged_objects_and_read_back() {
    let event = Event {
        at: "2026-11-26T19:30:00Z".into(),
        elapsed_ms: 1500,
        kind: EventKind::Analysis(Analysis {
            step: 2,
            weight: 50,
            requests: 40,
            errors: 20,
            error_rate: Some(0.5),
            p99_ms: Some(12.5),
            window_ms: 2000,
            proxies_reporting: 1,
            proxies: 1,
            decision: Decision::Fail,
            reason: "error rate 50% over the 1% gate".into(),
            failed_checks: 1,
            baseline_requests: 100,
            baseline_errors: 2,
            baseline_error_rate: Some(0.02),
            rps: 20.0,
        }),
    };
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(
        json,
        r#"{"at":"2026-11-26T19:30:00Z","elapsed_ms":1500,"event":"analysis","step":2,"weight":50,"requests":40,"errors":20,"error_rate":0.5,"p99_ms":12.5,"window_ms":2000,"proxies_reporting":1,"proxies":1,"decision":"fail","reason":"error rate 50% over the 1% gate","failed_checks":1,"baseline_requests":100,"baseline_errors":2,"baseline_error_rate":0.02,"rps":20.0}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    let done = Event {
        at: "x".into(),
        elapsed_ms: 1,
        kind: EventKind::RolledBack {
            weight: 0,
            by: "gate".into(),
            reason: "r".into(),
        },
    };
    let json = serde_json::to_string(&done).unwrap();
    assert_eq!(
        json,
        r#"{"at":"x","elapsed_ms":1,"event":"rolled-back","weight":0,"by":"gate","reason":"r"}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), done);
}

fn event_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Started { .. } => "started",
        EventKind::Step { .. } => "step",
        EventKind::Analysis(_) => "analysis",
        EventKind::MirrorCheck(_) => "mirror-check",
        EventKind::RolledBack { .. } => "rolled-back",
        EventKind::Promoted { .. } => "promoted",
        EventKind::TimedOut { .. } => "timed-out",
    }
}

fn mirror_decisions(ports: &Fake) -> Vec<Decision> {
    ports
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MirrorCheck(c) => Some(c.decision),
            _ => None,
        })
        .collect()
}

fn gated(max_mismatch: f64) -> RolloutSpec {
    RolloutSpec {
        mirror_gate: Some(crate::canary::spec::MirrorGate { max_mismatch }),
        ..spec(&[50, 100])
    }
}

#[tokio::test(start_paused = true)]
async fn the_mirror_gate_holds_the_first_step_until_enough_copies_compare_clean() {
    let mut ports = Fake::new(vec![healthy()]);
    // Counts since the proxies started: 100 matched before the rollout, then 10, then 30.
    ports.mirror = vec![(100, 0), (110, 0), (130, 0)].into();
    let outcome = run(&gated(0.01), 0, &mut ports).await.unwrap();
    assert_eq!(outcome, Outcome::Promoted { by: "gate".into() });
    assert_eq!(mirror_decisions(&ports), [Decision::Hold, Decision::Pass]);
    assert_eq!(ports.weights, [50, 100]);
    // The first weight came after the passing mirror check.
    let first_step = ports
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Step { .. }))
        .unwrap();
    let pass = ports
        .events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::MirrorCheck(c) if c.decision == Decision::Pass))
        .unwrap();
    assert!(pass < first_step);
}

#[tokio::test(start_paused = true)]
async fn mismatches_over_the_limit_refuse_the_first_step_and_roll_back_at_the_threshold() {
    let mut ports = Fake::new(vec![healthy()]);
    // 5 of 25 differ at each check: 20% > 1%.
    ports.mirror = vec![(0, 0), (20, 5), (40, 10)].into();
    let outcome = run(&gated(0.01), 0, &mut ports).await.unwrap();
    let Outcome::RolledBack { by, reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(by, "gate");
    assert!(reason.contains("2 failed mirror checks"), "{reason}");
    assert!(
        reason.contains("5 of 25 mirrored answers differed (20.00%)"),
        "{reason}"
    );
    assert_eq!(mirror_decisions(&ports), [Decision::Fail, Decision::Fail]);
    // Never a canary weight above 0.
    assert_eq!(ports.weights, [0]);
}

#[tokio::test(start_paused = true)]
async fn without_copies_the_mirror_phase_times_out_with_the_canary_at_zero() {
    let mut ports = Fake::new(vec![healthy()]);
    ports.mirror = vec![(0, 0)].into();
    let s = RolloutSpec {
        timeout: Duration::from_secs(35),
        ..gated(0.01)
    };
    let outcome = run(&s, 0, &mut ports).await.unwrap();
    let Outcome::TimedOut { weight, reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(weight, 0);
    assert!(
        reason.contains("meshctl canary mirror api --to v2"),
        "{reason}"
    );
    assert!(ports.weights.is_empty());
}
