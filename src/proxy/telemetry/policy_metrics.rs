//! Counters for traffic policy — retries, budget exhaustion, timeouts, ejections — per
//! destination service, kept apart from the core metrics and rendered with them. The
//! `service` label comes from configuration (a destination's name), never from traffic, so
//! its cardinality is bounded by the mesh's services.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::proxy::telemetry::metrics::escape_label;

/// What traffic policy did on the outbound side for one destination service. A route holds
/// its destination's counters, so counting is one atomic add, with no lookup or lock.
#[derive(Debug, Default)]
pub struct PolicyCounters {
    retries: AtomicU64,
    budget_exhausted: AtomicU64,
    timeouts: AtomicU64,
    ejections: AtomicU64,
}

/// Every destination's [`PolicyCounters`], by service name. A destination dropped from the
/// configuration keeps its counters (Prometheus counters never go back).
#[derive(Debug, Default)]
pub struct PolicyMetrics {
    by_service: Mutex<BTreeMap<String, Arc<PolicyCounters>>>,
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
}

impl PolicyMetrics {
    /// The counters of destination `service` (created on first use).
    pub fn service(&self, service: &str) -> Arc<PolicyCounters> {
        let Ok(mut map) = self.by_service.lock() else {
            return Arc::default();
        };
        map.entry(service.to_string()).or_default().clone()
    }

    /// Appends the counters in the Prometheus text format, one sample per destination.
    pub fn render(&self, out: &mut String) {
        type Pick = fn(&PolicyCounters) -> &AtomicU64;
        let counters: [(&str, &str, Pick); 4] = [
            (
                "meshctl_retries_total",
                "Outbound requests sent again by a retry policy, by destination service.",
                |c| &c.retries,
            ),
            (
                "meshctl_retry_budget_exhausted_total",
                "Retries not sent because the destination's retry budget was spent.",
                |c| &c.budget_exhausted,
            ),
            (
                "meshctl_request_timeouts_total",
                "Outbound requests answered 504 / DEADLINE_EXCEEDED by the proxy at their timeout, by destination service.",
                |c| &c.timeouts,
            ),
            (
                "meshctl_endpoint_ejections_total",
                "Endpoints ejected by circuit breaking (first ejections and failed probes), by destination service.",
                |c| &c.ejections,
            ),
        ];
        let Ok(map) = self.by_service.lock() else {
            return;
        };
        for (name, help, pick) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (service, c) in map.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{service=\"{}\"}} {}",
                    escape_label(service),
                    pick(c).load(Relaxed)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_per_destination_service() {
        let m = PolicyMetrics::default();
        let api = m.service("api");
        api.retry();
        api.retry();
        api.budget_exhausted();
        m.service("quotes").timeout();
        m.service("api").ejection();
        assert!(Arc::ptr_eq(&api, &m.service("api")), "one set per service");
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "# TYPE meshctl_retries_total counter\nmeshctl_retries_total{service=\"api\"} 2\nmeshctl_retries_total{service=\"quotes\"} 0\n"
        ), "{out}");
        assert!(out.contains("meshctl_retry_budget_exhausted_total{service=\"api\"} 1\n"));
        assert!(out.contains("meshctl_request_timeouts_total{service=\"quotes\"} 1\n"));
        assert!(out.contains("meshctl_endpoint_ejections_total{service=\"api\"} 1\n"));
    }

    #[test]
    fn no_destination_yet_renders_headers_only_and_labels_are_escaped() {
        let m = PolicyMetrics::default();
        let mut out = String::new();
        m.render(&mut out);
        assert_eq!(out.lines().count(), 8, "{out}");
        m.service("a\"b\\c").retry();
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("meshctl_retries_total{service=\"a\\\"b\\\\c\"} 1\n"),
            "{out}"
        );
    }
}
