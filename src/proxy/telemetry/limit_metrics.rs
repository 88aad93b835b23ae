//! Counters for the proxy's resource limits (`proxy::limits`): connections closed because a
//! client was too slow, sent something other than HTTP to an HTTP listener, or arrived at a
//! full listener; requests failed because their body stalled or the app did not answer in
//! time. Labels are direction and a reason from the closed lists below.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::proxy::telemetry::metrics::Direction;

/// Why a connection was closed by a limit (`meshctl_connections_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionLimit {
    /// No complete request head (HTTP/1) or preface and first request (HTTP/2) within the
    /// header read timeout, or a detect-mode client that started an HTTP-looking head and
    /// did not finish it.
    HeaderTimeout,
    /// A keep-alive HTTP/1 connection idle between requests for the header read timeout.
    IdleTimeout,
    /// Bytes that are not HTTP on a listener that serves HTTP only.
    NotHttp,
    /// The listener already had its maximum of open connections.
    MaxConnections,
}

/// Why a request was answered by the proxy because of a limit
/// (`meshctl_requests_timed_out_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLimit {
    /// The request body made no progress for the body read timeout.
    RequestBody,
    /// The local app sent no response head within the app response timeout.
    AppResponse,
}

const CONNECTION_LIMITS: [ConnectionLimit; 4] = [
    ConnectionLimit::HeaderTimeout,
    ConnectionLimit::IdleTimeout,
    ConnectionLimit::NotHttp,
    ConnectionLimit::MaxConnections,
];
const REQUEST_LIMITS: [RequestLimit; 2] = [RequestLimit::RequestBody, RequestLimit::AppResponse];
const DIRECTIONS: [Direction; 2] = [Direction::Inbound, Direction::Outbound];

impl ConnectionLimit {
    fn label(self) -> &'static str {
        match self {
            ConnectionLimit::HeaderTimeout => "header_timeout",
            ConnectionLimit::IdleTimeout => "idle_timeout",
            ConnectionLimit::NotHttp => "not_http",
            ConnectionLimit::MaxConnections => "max_connections",
        }
    }
}

impl RequestLimit {
    fn label(self) -> &'static str {
        match self {
            RequestLimit::RequestBody => "request_body",
            RequestLimit::AppResponse => "app_response",
        }
    }
}

/// One atomic per (direction, reason): counting is one add, no lock.
#[derive(Debug, Default)]
pub struct LimitCounters {
    connections: [[AtomicU64; CONNECTION_LIMITS.len()]; 2],
    requests: [[AtomicU64; REQUEST_LIMITS.len()]; 2],
}

impl LimitCounters {
    pub fn connection(&self, direction: Direction, why: ConnectionLimit) {
        self.connections[direction.index()][why as usize].fetch_add(1, Relaxed);
    }

    pub fn request(&self, direction: Direction, why: RequestLimit) {
        self.requests[direction.index()][why as usize].fetch_add(1, Relaxed);
    }

    /// Appends both families in the Prometheus text format (every label set, zeros too).
    pub fn render(&self, out: &mut String) {
        let name = "meshctl_connections_limited_total";
        let _ = writeln!(
            out,
            "# HELP {name} Connections the proxy closed because of a limit, by direction and reason.\n# TYPE {name} counter"
        );
        for d in DIRECTIONS {
            for why in CONNECTION_LIMITS {
                let n = self.connections[d.index()][why as usize].load(Relaxed);
                let _ = writeln!(
                    out,
                    "{name}{{direction=\"{}\",reason=\"{}\"}} {n}",
                    d.label(),
                    why.label()
                );
            }
        }
        let name = "meshctl_requests_timed_out_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests the proxy failed because a limit ran out, by direction and reason.\n# TYPE {name} counter"
        );
        for d in DIRECTIONS {
            for why in REQUEST_LIMITS {
                let n = self.requests[d.index()][why as usize].load(Relaxed);
                let _ = writeln!(
                    out,
                    "{name}{{direction=\"{}\",reason=\"{}\"}} {n}",
                    d.label(),
                    why.label()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_per_direction_and_reason() {
        let c = LimitCounters::default();
        c.connection(Direction::Outbound, ConnectionLimit::MaxConnections);
        c.connection(Direction::Outbound, ConnectionLimit::MaxConnections);
        c.request(Direction::Inbound, RequestLimit::AppResponse);
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains(
            "meshctl_connections_limited_total{direction=\"outbound\",reason=\"max_connections\"} 2"
        ));
        assert!(out.contains(
            "meshctl_connections_limited_total{direction=\"inbound\",reason=\"header_timeout\"} 0"
        ));
        assert!(out.contains(
            "meshctl_requests_timed_out_total{direction=\"inbound\",reason=\"app_response\"} 1"
        ));
    }
}
