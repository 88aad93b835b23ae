//! What an inbound listener learned about speaking to its app: per protocol (HTTP/1.1, h2c),
//! the exchanges that failed although the app accepted the connection — the sign of a
//! protocol the app does not speak (a gRPC server asked HTTP/1.1, an HTTP/1.1-only server
//! asked h2c) — until one in that protocol succeeds again. A refused connection is not
//! recorded here: that is the app being down, which `meshctl check` sees by connecting.
//!
//! Shown in the proxy's `/config` (each inbound's `app_problems`) and by `meshctl check`
//! (`apps.protocol`). Free while healthy: a success only touches the lock when a failure is
//! on record.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use serde::Serialize;

/// The protocols the inbound speaks to an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaking {
    Http1,
    H2c,
}

/// Failed exchanges in one protocol since its last success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppProblem {
    pub protocol: Speaking,
    /// The last failure, with what to do about it.
    pub reason: String,
    pub failures: u64,
    pub first_unix_ms: u64,
    pub last_unix_ms: u64,
}

#[derive(Debug, Default)]
struct Slot {
    /// Whether `problem` holds something (read without the lock on every success).
    troubled: AtomicBool,
    problem: Mutex<Option<AppProblem>>,
}

/// One app's record, shared by its inbound listener and the admin `/config`.
#[derive(Debug, Default)]
pub struct AppHealth {
    http1: Slot,
    h2c: Slot,
}

impl AppHealth {
    fn slot(&self, protocol: Speaking) -> &Slot {
        match protocol {
            Speaking::Http1 => &self.http1,
            Speaking::H2c => &self.h2c,
        }
    }

    /// Records a failed exchange; whether it is the first since the last success (the one
    /// worth logging at info).
    pub fn failed(&self, protocol: Speaking, reason: String) -> bool {
        self.failed_at(protocol, reason, now_unix_ms())
    }

    fn failed_at(&self, protocol: Speaking, reason: String, now: u64) -> bool {
        let slot = self.slot(protocol);
        let mut problem = slot.problem.lock().unwrap_or_else(|p| p.into_inner());
        let first = problem.is_none();
        let next = match problem.take() {
            Some(p) => AppProblem {
                reason,
                failures: p.failures + 1,
                last_unix_ms: now,
                ..p
            },
            None => AppProblem {
                protocol,
                reason,
                failures: 1,
                first_unix_ms: now,
                last_unix_ms: now,
            },
        };
        *problem = Some(next);
        slot.troubled.store(true, Relaxed);
        first
    }

    /// Records a successful exchange: the protocol's problem, if any, is over.
    pub fn succeeded(&self, protocol: Speaking) {
        let slot = self.slot(protocol);
        if slot.troubled.load(Relaxed) {
            let mut problem = slot.problem.lock().unwrap_or_else(|p| p.into_inner());
            *problem = None;
            slot.troubled.store(false, Relaxed);
        }
    }

    /// The problems on record now (HTTP/1.1 first).
    pub fn problems(&self) -> Vec<AppProblem> {
        [&self.http1, &self.h2c]
            .into_iter()
            .filter_map(|s| s.problem.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_accumulate_per_protocol_until_one_succeeds() {
        let health = AppHealth::default();
        assert!(health.problems().is_empty());
        assert!(health.failed_at(Speaking::H2c, "first".into(), 10));
        assert!(!health.failed_at(Speaking::H2c, "second".into(), 20));
        // HTTP/1.1 working says nothing about h2c.
        health.succeeded(Speaking::Http1);
        assert_eq!(
            health.problems(),
            [AppProblem {
                protocol: Speaking::H2c,
                reason: "second".into(),
                failures: 2,
                first_unix_ms: 10,
                last_unix_ms: 20,
            }]
        );
        health.succeeded(Speaking::H2c);
        assert!(health.problems().is_empty());
        assert!(health.failed_at(Speaking::H2c, "again".into(), 30));
    }
}
