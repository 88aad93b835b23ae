//! Counters for traffic policy — retries, budget exhaustion, timeouts, ejections — kept
//! apart from the core metrics and rendered with them. Unlabelled: bounded by construction.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What traffic policy did on the outbound side.
#[derive(Debug, Default)]
pub struct PolicyCounters {
    retries: AtomicU64,
    budget_exhausted: AtomicU64,
    timeouts: AtomicU64,
    ejections: AtomicU64,
}

impl PolicyCounters {
    /// A request is being sent again.
    pub fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    /// A retry was wanted but the budget had none left.
    pub fn budget_exhausted(&self) {
        self.budget_exhausted.fetch_add(1, Relaxed);
    }

    /// A request ran out of time and was answered by the proxy.
    pub fn timeout(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    /// A circuit breaker ejected an endpoint.
    pub fn ejection(&self) {
        self.ejections.fetch_add(1, Relaxed);
    }

    /// Appends the counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let counters = [
            (
                "meshctl_retries_total",
                "Outbound requests sent again by a retry policy.",
                &self.retries,
            ),
            (
                "meshctl_retry_budget_exhausted_total",
                "Retries not sent because the destination's retry budget was spent.",
                &self.budget_exhausted,
            ),
            (
                "meshctl_request_timeouts_total",
                "Outbound requests answered 504 / DEADLINE_EXCEEDED by the proxy at their timeout.",
                &self.timeouts,
            ),
            (
                "meshctl_endpoint_ejections_total",
                "Endpoints ejected by circuit breaking (first ejections and failed probes).",
                &self.ejections,
            ),
        ];
        for (name, help, n) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                n.load(Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_counters() {
        let c = PolicyCounters::default();
        c.retry();
        c.retry();
        c.budget_exhausted();
        c.timeout();
        c.ejection();
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains("# TYPE meshctl_retries_total counter\nmeshctl_retries_total 2\n"));
        assert!(out.contains("meshctl_retry_budget_exhausted_total 1\n"));
        assert!(out.contains("meshctl_request_timeouts_total 1\n"));
        assert!(out.contains("meshctl_endpoint_ejections_total 1\n"));
    }
}
