//! What the proxy tells about its traffic: Prometheus metrics, windowed `/stats`, live tap
//! (with credential redaction) and OTLP spans.

pub mod limit_metrics;
pub mod metrics;
pub mod policy_metrics;
pub mod redact;
pub mod stats;
pub mod tap;
pub mod tap_mtls;
pub mod trace;
