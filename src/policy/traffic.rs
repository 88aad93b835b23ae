//! Traffic-policy knobs the proxy enforces and mesh.yaml names: load balancers, retry
//! conditions and limits, circuit-breaker defaults. The behaviour lives in the proxy
//! (`proxy::balance`, `proxy::retry`, `proxy::breaker`); the names and bounds live here.

/// Consecutive failures that eject an endpoint unless the policy says otherwise.
pub const DEFAULT_FAILURES: u32 = 7;
/// The most worker threads a proxy may run (`--workers`, mesh.yaml `proxy_workers`): far
/// beyond what a sidecar can use, and low enough that a typo (`100000`) is refused instead of
/// spawning threads until the system says no.
pub const MAX_PROXY_WORKERS: usize = 128;

/// Most attempts (the first included) a policy may ask for.
pub const MAX_ATTEMPTS: u32 = 10;

/// How a version's endpoints share its requests (`policy.load_balancer` in mesh.yaml).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadBalancer {
    /// Power of two choices over peak-EWMA latency × (requests in flight + 1).
    #[default]
    PeakEwma,
    /// Each endpoint in turn.
    RoundRobin,
}

/// Why a load balancer name in a config update is refused.
#[derive(Debug, thiserror::Error)]
#[error("unknown load balancer `{0}` (expected p2c or round_robin)")]
pub struct UnknownLoadBalancer(pub String);

impl std::str::FromStr for LoadBalancer {
    type Err = UnknownLoadBalancer;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "p2c" => Ok(LoadBalancer::PeakEwma),
            "round_robin" => Ok(LoadBalancer::RoundRobin),
            other => Err(UnknownLoadBalancer(other.to_string())),
        }
    }
}

impl LoadBalancer {
    /// The name in mesh.yaml and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            LoadBalancer::PeakEwma => "p2c",
            LoadBalancer::RoundRobin => "round_robin",
        }
    }
}

/// An outcome that makes a request worth sending again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCondition {
    /// Any 5xx response.
    ServerError,
    /// 502, 503 or 504.
    GatewayError,
    /// The peer could not be reached (nothing was sent).
    ConnectFailure,
    /// A trailers-only gRPC answer with this `grpc-status`.
    Grpc(u8),
}

/// Why a retry policy in a config update is refused.
#[derive(Debug, thiserror::Error)]
pub enum RetryPolicyError {
    #[error("retry attempts {0}: give 2 to {MAX_ATTEMPTS}")]
    Attempts(u32),
    #[error(
        "unknown retry condition `{0}` (expected 5xx, gateway-error, connect-failure, cancelled, deadline-exceeded, internal, resource-exhausted or unavailable)"
    )]
    Condition(String),
}

impl std::str::FromStr for RetryCondition {
    type Err = RetryPolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "5xx" => RetryCondition::ServerError,
            "gateway-error" => RetryCondition::GatewayError,
            "connect-failure" => RetryCondition::ConnectFailure,
            "cancelled" => RetryCondition::Grpc(1),
            "deadline-exceeded" => RetryCondition::Grpc(4),
            "resource-exhausted" => RetryCondition::Grpc(8),
            "internal" => RetryCondition::Grpc(13),
            "unavailable" => RetryCondition::Grpc(14),
            other => return Err(RetryPolicyError::Condition(other.to_string())),
        })
    }
}

/// The name [`FromStr`](std::str::FromStr) reads.
impl std::fmt::Display for RetryCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RetryCondition::ServerError => "5xx",
            RetryCondition::GatewayError => "gateway-error",
            RetryCondition::ConnectFailure => "connect-failure",
            RetryCondition::Grpc(1) => "cancelled",
            RetryCondition::Grpc(4) => "deadline-exceeded",
            RetryCondition::Grpc(8) => "resource-exhausted",
            RetryCondition::Grpc(13) => "internal",
            RetryCondition::Grpc(14) => "unavailable",
            RetryCondition::Grpc(other) => return write!(f, "grpc-status-{other}"),
        })
    }
}
