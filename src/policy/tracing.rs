//! Tracing settings: where spans go (an OTLP collector over gRPC or HTTP/protobuf, plain or
//! TLS, with extra headers), the standard `OTEL_EXPORTER_OTLP_*` variables that can say it
//! instead, and the share of new traces that are recorded. The proxy's tracer
//! (`proxy::telemetry::trace`) runs them. Pure: reading the variables and the CA file is the
//! caller's.

use std::path::PathBuf;
use std::str::FromStr;

use http::{HeaderName, HeaderValue};

use crate::policy::fault::{PER_MILLION, format_percent, parse_percent};

/// The path OTLP/HTTP appends to a base endpoint for traces (the OpenTelemetry spec's rule
/// for `OTEL_EXPORTER_OTLP_ENDPOINT`).
pub const TRACES_PATH: &str = "/v1/traces";

/// Headers the exporter sets itself (or the transport owns): never taken from the user.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where spans go: `http://HOST:PORT` or `https://HOST[:PORT]`, for OTLP/HTTP optionally with
/// a base path (`/v1/traces` is appended). A URL from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
/// the traces URL itself ([`OtlpEndpoint::traces_url`]): nothing is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    /// `scheme://authority[/path]`, without a trailing slash.
    url: String,
    tls: bool,
    /// A path is written (`url` has more than scheme and authority).
    has_path: bool,
    /// `url` is the full traces URL (used as it is).
    full: bool,
}

/// Which OTLP transport carries the spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (`/opentelemetry.proto.collector.trace.v1.TraceService/Export`).
    #[default]
    Grpc,
    /// OTLP/HTTP: `POST {endpoint}/v1/traces`, `application/x-protobuf`.
    HttpProtobuf,
}

/// Extra request headers for the collector (auth tokens): values are secrets, never shown
/// (`Debug` and [`OtlpHeaders::names`] give the names only) and marked sensitive so HTTP/2
/// never indexes them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OtlpHeaders(Vec<(HeaderName, HeaderValue)>);

/// Everything the exporter needs, checked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpExport {
    pub endpoint: OtlpEndpoint,
    pub protocol: OtlpProtocol,
    /// PEM file with the CA certificate(s) the collector's certificate must chain to
    /// (https only, and then required: no public roots are trusted implicitly).
    pub ca_file: Option<PathBuf>,
    pub headers: OtlpHeaders,
}

/// The standard variables the proxy reads when its own settings name no endpoint.
pub const ENV_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const ENV_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub const ENV_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub const ENV_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
pub const ENV_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub const ENV_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub const ENV_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
pub const ENV_TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";

impl OtlpEndpoint {
    /// A full traces URL, used as it is (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub fn traces_url(s: &str) -> Result<Self, String> {
        let mut endpoint: OtlpEndpoint = parse_url(s, true)?;
        endpoint.full = true;
        Ok(endpoint)
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `scheme://authority`: what a gRPC channel connects to.
    pub fn origin(&self) -> &str {
        let after_scheme = self.url.find("://").map_or(0, |i| i + 3);
        match self.url[after_scheme..].find('/') {
            Some(slash) => &self.url[..after_scheme + slash],
            None => &self.url,
        }
    }

    /// Where OTLP/HTTP posts: the base with [`TRACES_PATH`] appended, or the full URL as given.
    pub fn http_traces_url(&self) -> String {
        if self.full {
            self.url.clone()
        } else {
            format!("{}{TRACES_PATH}", self.url)
        }
    }

    /// The endpoint's URL for `protocol`: what the exporter calls, for logs and `/config`.
    pub fn target(&self, protocol: OtlpProtocol) -> String {
        match protocol {
            OtlpProtocol::Grpc => self.origin().to_string(),
            OtlpProtocol::HttpProtobuf => self.http_traces_url(),
        }
    }
}

/// Parses `http[s]://HOST[:PORT][/PATH]`; `full`: the URL names the traces resource itself.
fn parse_url(s: &str, full: bool) -> Result<OtlpEndpoint, String> {
    let bad = |why: &str| Err(format!("OTLP endpoint `{s}`: {why}"));
    let expected = "expected http://HOST:PORT or https://HOST[:PORT]";
    let Ok(uri) = s.parse::<http::Uri>() else {
        return bad(&format!("not a URL; {expected}"));
    };
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return bad(expected),
    };
    let Some(authority) = uri.authority() else {
        return bad(expected);
    };
    if authority.as_str().contains('@') {
        return bad("credentials do not go in the URL; send them as a header (otlp_headers)");
    }
    if authority.host().is_empty() {
        return bad(expected);
    }
    if !tls && authority.port_u16().is_none() {
        // A collector beside the proxy never listens on 80: a forgotten port, not a choice.
        return bad("name the port (OTLP's defaults: 4317 for gRPC, 4318 for HTTP)");
    }
    if uri.query().is_some() {
        return bad("takes no query");
    }
    let path = uri.path().trim_end_matches('/');
    if !full && path.ends_with(TRACES_PATH) {
        return bad(&format!(
            "this is the base URL and `{TRACES_PATH}` is appended to it; drop it (only \
             {ENV_TRACES_ENDPOINT} takes the full URL)"
        ));
    }
    let scheme = if tls { "https" } else { "http" };
    Ok(OtlpEndpoint {
        url: format!("{scheme}://{authority}{path}"),
        tls,
        has_path: !path.is_empty(),
        full,
    })
}

impl FromStr for OtlpEndpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_url(s, false)
    }
}

impl std::fmt::Display for OtlpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl<'de> serde::Deserialize<'de> for OtlpEndpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for OtlpProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => Err(format!(
                "OTLP protocol `{s}` is not supported; expected grpc or http/protobuf"
            )),
            _ => Err(format!(
                "OTLP protocol `{s}`: expected grpc or http/protobuf"
            )),
        }
    }
}

impl std::fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        })
    }
}

impl<'de> serde::Deserialize<'de> for OtlpProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl OtlpHeaders {
    /// Adds one header; the name is checked (and lower-cased), the value must be a valid
    /// header value. Errors name the header, never the value.
    pub fn push(&mut self, name: &str, value: &[u8]) -> Result<(), String> {
        let header = header(name, value)?;
        if self.0.iter().any(|(n, _)| *n == header.0) {
            return Err(format!("OTLP header `{}` is given twice", header.0));
        }
        self.0.push(header);
        Ok(())
    }

    /// `k=v,k2=v2` as `OTEL_EXPORTER_OTLP_HEADERS` writes them (W3C baggage-like): members
    /// split at `,`, each at its first `=`, blanks around both trimmed, the value
    /// percent-decoded; empty members are skipped.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        let mut headers = OtlpHeaders::default();
        for member in list.split(',') {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            let Some((name, value)) = member.split_once('=') else {
                let name: String = member.chars().take(40).collect();
                return Err(format!("`{name}…`: expected key=value"));
            };
            let name = name.trim();
            let value = percent_decode(value.trim())
                .map_err(|why| format!("OTLP header `{name}`: {why}"))?;
            headers.push(name, &value)?;
        }
        Ok(headers)
    }

    /// `(name, value)` pairs, for the exporter.
    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter()
    }

    /// The header names, in order (what may be shown).
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|(n, _)| n.to_string()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers as `k=v,…` with every value percent-encoded: what [`Self::parse_list`]
    /// reads back (how `meshctl up` hands mesh.yaml's headers to its proxies).
    pub fn to_list(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.0 {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(name.as_str());
            out.push('=');
            for &b in value.as_bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
        out
    }
}

impl<'de> serde::Deserialize<'de> for OtlpHeaders {
    /// A map of header names to string values (`otlp_headers:` in a proxy config file).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        let mut headers = OtlpHeaders::default();
        for (name, value) in &map {
            headers
                .push(name, value.as_bytes())
                .map_err(serde::de::Error::custom)?;
        }
        Ok(headers)
    }
}

impl std::fmt::Debug for OtlpHeaders {
    /// Names only: the values are credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, _)| (n.as_str(), "<redacted>")))
            .finish()
    }
}

/// One checked header, its value marked sensitive.
fn header(name: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), String> {
    let lower = name.to_ascii_lowercase();
    let Ok(header_name) = HeaderName::from_bytes(lower.as_bytes()) else {
        return Err(format!("OTLP header `{name}`: not a valid header name"));
    };
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("grpc-") {
        return Err(format!(
            "OTLP header `{name}`: set by the exporter itself, not configurable"
        ));
    }
    let Ok(mut header_value) = HeaderValue::from_bytes(value) else {
        return Err(format!(
            "OTLP header `{name}`: the value is not a valid header value (control characters?)"
        ));
    };
    header_value.set_sensitive(true);
    Ok((header_name, header_value))
}

/// `K=V`, one `--otlp-header`.
pub fn parse_header_flag(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err("expected NAME=VALUE, e.g. authorization=Bearer …".into());
    };
    header(name.trim(), value.trim().as_bytes())
}

/// `%XX` escapes decoded (others left as they are); a `%` not followed by two hex digits is
/// an error.
fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => out.push(b),
                None => return Err("a `%` not followed by two hex digits".into()),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl OtlpExport {
    /// Checks the settings together: a path only for OTLP/HTTP, a CA file exactly when the
    /// endpoint is https.
    pub fn new(
        endpoint: OtlpEndpoint,
        protocol: OtlpProtocol,
        ca_file: Option<PathBuf>,
        headers: OtlpHeaders,
    ) -> Result<Self, String> {
        if protocol == OtlpProtocol::Grpc && endpoint.has_path {
            return Err(format!(
                "OTLP endpoint `{endpoint}`: OTLP/gRPC takes no path; expected \
                 http[s]://HOST:PORT (a path is for the http/protobuf protocol)"
            ));
        }
        match (&ca_file, endpoint.tls) {
            (Some(file), false) => {
                return Err(format!(
                    "OTLP CA file {}: the endpoint `{endpoint}` is plain http; a CA file is \
                     for an https:// endpoint",
                    file.display()
                ));
            }
            (None, true) => {
                return Err(format!(
                    "OTLP endpoint `{endpoint}`: https needs a CA file to verify the collector \
                     (no public CAs are trusted by default; the system's bundle is e.g. \
                     /etc/ssl/certs/ca-certificates.crt)"
                ));
            }
            _ => {}
        }
        Ok(OtlpExport {
            endpoint,
            protocol,
            ca_file,
            headers,
        })
    }

    /// The settings `OTEL_EXPORTER_OTLP_*` give (`var` reads one; empty counts as unset):
    /// `None` when neither endpoint variable is set (then the others are not read). The
    /// `TRACES_` variant of each variable wins over the general one. Errors name the
    /// variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let get = |name: &'static str| {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (name, v))
        };
        let either =
            |traces: &'static str, general: &'static str| get(traces).or_else(|| get(general));
        let endpoint = match (get(ENV_TRACES_ENDPOINT), get(ENV_ENDPOINT)) {
            (Some((name, url)), _) => {
                OtlpEndpoint::traces_url(url.trim()).map_err(|e| format!("{name}: {e}"))?
            }
            (None, Some((name, url))) => url.trim().parse().map_err(|e| format!("{name}: {e}"))?,
            (None, None) => return Ok(None),
        };
        let protocol = match either(ENV_TRACES_PROTOCOL, ENV_PROTOCOL) {
            Some((name, p)) => p.trim().parse().map_err(|e| format!("{name}: {e}"))?,
            None => OtlpProtocol::default(),
        };
        let headers = match either(ENV_TRACES_HEADERS, ENV_HEADERS) {
            Some((name, list)) => {
                OtlpHeaders::parse_list(&list).map_err(|e| format!("{name}: {e}"))?
            }
            None => OtlpHeaders::default(),
        };
        let ca_file = either(ENV_TRACES_CERTIFICATE, ENV_CERTIFICATE)
            .map(|(_, path)| PathBuf::from(path.trim()));
        OtlpExport::new(endpoint, protocol, ca_file, headers)
            .map(Some)
            .map_err(|e| format!("OTEL_EXPORTER_OTLP_* variables: {e}"))
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

#[cfg(test)]
mod tests;
