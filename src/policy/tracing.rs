//! Tracing settings: where spans go (an OTLP/gRPC collector) and the share of new traces
//! that are recorded. The proxy's tracer (`proxy::trace`) runs them.

use std::str::FromStr;

use crate::policy::fault::{PER_MILLION, format_percent, parse_percent};

/// Where spans go: an OTLP/gRPC collector, `http://HOST:PORT` (no TLS: collectors beside
/// the proxy, on loopback or the node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint(pub(crate) String);

impl FromStr for OtlpEndpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| Err(format!("OTLP endpoint `{s}`: {why}"));
        let Ok(uri) = s.parse::<http::Uri>() else {
            return bad("not a URL; expected http://HOST:PORT");
        };
        if uri.scheme_str() != Some("http") {
            return bad("expected http://HOST:PORT (OTLP/gRPC without TLS)");
        }
        let Some(authority) = uri.authority() else {
            return bad("expected http://HOST:PORT");
        };
        if authority.port_u16().is_none() {
            return bad("name the port (the OTLP/gRPC default is 4317)");
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return bad("OTLP/gRPC takes no path; expected http://HOST:PORT");
        }
        Ok(OtlpEndpoint(format!("http://{authority}")))
    }
}

impl std::fmt::Display for OtlpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for OtlpEndpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The share of new traces (requests without a `traceparent`) that are recorded, in
/// millionths: `--trace-sample 10` (percent, up to 4 decimals) is 100 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRate(pub(crate) u32);

impl SampleRate {
    pub const ALL: SampleRate = SampleRate(PER_MILLION);
}

impl Default for SampleRate {
    fn default() -> Self {
        SampleRate::ALL
    }
}

impl FromStr for SampleRate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_percent(s)
            .map(SampleRate)
            .map_err(|e| format!("trace sample rate: {e}"))
    }
}

impl<'de> serde::Deserialize<'de> for SampleRate {
    /// `10`, `10%` or `0.5` (a YAML number or string).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        let text = match &value {
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::String(s) => s.clone(),
            _ => {
                return Err(serde::de::Error::custom(
                    "trace sample rate: expected a percentage",
                ));
            }
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for SampleRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_percent(self.0))
    }
}
