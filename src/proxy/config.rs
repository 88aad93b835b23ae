//! Proxy configuration: the `--inbound`/`--upstream` flag syntax and the `--config` YAML schema.
//!
//! Flags and file merge into one [`ProxyConfig`]: the file is the base, `--inbound` and
//! `--upstream` add listeners, and `--identity-dir`, `--admin`, `--workers` override.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::duration::HumanDuration;
use crate::identity::SpiffeId;
use crate::policy::authz::AuthorizationSpec;
use crate::policy::tracing::{OtlpHeaders, OtlpProtocol};
use crate::proxy::inbound::authz::AuthzPolicy;
use crate::proxy::limits;
use crate::proxy::telemetry::tap::TapListen;
use crate::proxy::telemetry::trace::{OtlpEndpoint, OtlpExport, SampleRate};

/// Everything the proxy needs to start, validated.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub identity_dir: PathBuf,
    pub inbound: Vec<InboundConfig>,
    pub upstreams: Vec<UpstreamConfig>,
    pub admin: SocketAddr,
    pub workers: usize,
    pub drain_timeout: Duration,
    pub limits: Limits,
    /// The tap server, if this proxy serves one.
    pub tap: Option<TapListen>,
    /// Where and how to export spans (`None`: tracing off).
    pub otlp: Option<OtlpExport>,
    /// The share of new traces recorded (100% unless set).
    pub trace_sample: SampleRate,
}

/// The OTLP settings flags or a config file give, each optional; [`OtlpSettings::export`]
/// checks them together.
#[derive(Debug, Clone, Default)]
pub struct OtlpSettings {
    pub endpoint: Option<OtlpEndpoint>,
    pub protocol: Option<OtlpProtocol>,
    pub ca_file: Option<PathBuf>,
    /// Empty: none given.
    pub headers: OtlpHeaders,
}

/// What the local app speaks behind an inbound listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppProtocol {
    /// HTTP/1.1 (requests that arrived as HTTP/2 are sent as HTTP/1.1 unless `app_h2c` is set).
    Http1,
    /// HTTP/2 with prior knowledge (h2c), e.g. a gRPC server.
    #[serde(alias = "h2c", alias = "grpc")]
    Http2,
    /// Opaque TCP: every mTLS connection is copied byte for byte to the app.
    Tcp,
}

/// What the local app sends to an outbound listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamProtocol {
    /// Peek at the first bytes: HTTP/2 preface, an HTTP/1 method, else (or on timeout) TCP.
    Detect,
    /// HTTP/1.1 or HTTP/2, told apart by the first bytes; anything else — or no request
    /// within the header read timeout — is closed, never carried as opaque TCP (the
    /// destination serves HTTP only, so it would refuse opaque TCP anyway).
    Http,
    Http1,
    #[serde(alias = "h2c")]
    Http2,
    Tcp,
}

/// `--inbound LISTEN=[PROTO://]APP`: mTLS from peers on `listen`, plaintext to the app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundConfig {
    pub listen: SocketAddr,
    pub app: SocketAddr,
    #[serde(default = "default_app_protocol")]
    pub protocol: AppProtocol,
    /// An h2c address of the same app for requests that arrived as HTTP/2 (gRPC) when
    /// `protocol` is `http1`.
    #[serde(default)]
    pub app_h2c: Option<SocketAddr>,
    /// Who may call this listener's app (`docs/proxy.md#authorization`); `None`: every
    /// verified mesh identity.
    #[serde(default)]
    pub authorization: Option<AuthorizationSpec>,
}

/// `--upstream LISTEN=[PROTO://]PEER#SPIFFE_ID`: plaintext from the app on `listen`, mTLS to
/// `peer`, which must present exactly `identity`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub listen: SocketAddr,
    pub peer: SocketAddr,
    #[serde(deserialize_with = "spiffe_id")]
    pub identity: SpiffeId,
    #[serde(default = "default_upstream_protocol")]
    pub protocol: UpstreamProtocol,
    /// How long dialing `peer` may take (config file only); `None`: the default,
    /// [`limits::CONNECT_TIMEOUT`].
    #[serde(default, deserialize_with = "optional_duration")]
    pub connect_timeout: Option<Duration>,
}

/// Limits the config file may change; defaults in [`limits`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
    pub h2_max_concurrent_streams: u32,
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub detect_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub tcp_idle_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub body_read_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub app_response_timeout: Duration,
}

/// The flags that `--config` can also set (`None`/empty: not given on the command line).
#[derive(Debug, Clone, Default)]
pub struct FlagConfig {
    pub identity_dir: Option<PathBuf>,
    pub inbound: Vec<InboundConfig>,
    pub upstreams: Vec<UpstreamConfig>,
    pub admin: Option<SocketAddr>,
    pub workers: Option<usize>,
    pub config_file: Option<PathBuf>,
    /// The tap server (flags only).
    pub tap: Option<TapListen>,
    pub otlp: OtlpSettings,
    pub trace_sample: Option<SampleRate>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(
        "no identity directory: pass --identity-dir DIR or set `identity_dir` in the config file"
    )]
    NoIdentityDir,
    #[error("nothing to proxy: pass --inbound LISTEN=APP and/or --upstream LISTEN=PEER#SPIFFE_ID")]
    NothingToProxy,
    #[error("{addr} is configured for two listeners")]
    DuplicateListen { addr: SocketAddr },
    #[error("`workers` must be 1 to {max} (got {0})", max = limits::MAX_WORKERS)]
    Workers(usize),
    #[error("limit `{0}` must be at least 1")]
    ZeroLimit(&'static str),
    #[error("{0}")]
    Otlp(String),
    #[error("inbound {listen}: {error}")]
    Authz {
        listen: SocketAddr,
        error: crate::proxy::inbound::authz::AuthzError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    identity_dir: Option<PathBuf>,
    admin: Option<SocketAddr>,
    workers: Option<usize>,
    #[serde(default, deserialize_with = "optional_duration")]
    drain_timeout: Option<Duration>,
    #[serde(default)]
    inbound: Vec<InboundConfig>,
    #[serde(default)]
    upstreams: Vec<UpstreamConfig>,
    #[serde(default)]
    limits: Limits,
    otlp_endpoint: Option<OtlpEndpoint>,
    otlp_protocol: Option<OtlpProtocol>,
    otlp_ca_file: Option<PathBuf>,
    #[serde(default)]
    otlp_headers: OtlpHeaders,
    trace_sample: Option<SampleRate>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: limits::DEFAULT_MAX_CONNECTIONS,
            max_headers: limits::DEFAULT_MAX_HEADERS,
            max_header_bytes: limits::DEFAULT_MAX_HEADER_BYTES,
            h2_max_concurrent_streams: limits::DEFAULT_H2_MAX_CONCURRENT_STREAMS,
            header_read_timeout: limits::DEFAULT_HEADER_READ_TIMEOUT,
            detect_timeout: limits::DEFAULT_DETECT_TIMEOUT,
            tcp_idle_timeout: limits::DEFAULT_TCP_IDLE_TIMEOUT,
            body_read_timeout: limits::DEFAULT_BODY_READ_TIMEOUT,
            app_response_timeout: limits::DEFAULT_APP_RESPONSE_TIMEOUT,
        }
    }
}

impl ProxyConfig {
    /// Merges the flags over the config file (if any) and validates the result.
    pub fn build(flags: FlagConfig) -> Result<Self, ConfigError> {
        let file = match &flags.config_file {
            Some(path) => Some(read_file(path)?),
            None => None,
        };
        let mut config = ProxyConfig {
            identity_dir: PathBuf::new(),
            inbound: Vec::new(),
            upstreams: Vec::new(),
            admin: limits::DEFAULT_ADMIN_ADDR,
            workers: limits::DEFAULT_WORKERS,
            drain_timeout: limits::DEFAULT_DRAIN_TIMEOUT,
            limits: Limits::default(),
            tap: flags.tap,
            otlp: None,
            trace_sample: SampleRate::ALL,
        };
        let mut otlp = OtlpSettings::default();
        let mut identity_dir = None;
        if let Some(file) = file {
            identity_dir = file.identity_dir;
            config.admin = file.admin.unwrap_or(config.admin);
            config.workers = file.workers.unwrap_or(config.workers);
            config.drain_timeout = file.drain_timeout.unwrap_or(config.drain_timeout);
            config.inbound = file.inbound;
            config.upstreams = file.upstreams;
            config.limits = file.limits;
            otlp = OtlpSettings {
                endpoint: file.otlp_endpoint,
                protocol: file.otlp_protocol,
                ca_file: file.otlp_ca_file,
                headers: file.otlp_headers,
            };
            config.trace_sample = file.trace_sample.unwrap_or(config.trace_sample);
        }
        config.identity_dir = flags
            .identity_dir
            .or(identity_dir)
            .ok_or(ConfigError::NoIdentityDir)?;
        config.admin = flags.admin.unwrap_or(config.admin);
        config.workers = flags.workers.unwrap_or(config.workers);
        config.otlp = flags.otlp.over(otlp).export().map_err(ConfigError::Otlp)?;
        config.trace_sample = flags.trace_sample.unwrap_or(config.trace_sample);
        config.inbound.extend(flags.inbound);
        config.upstreams.extend(flags.upstreams);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.inbound.is_empty() && self.upstreams.is_empty() {
            return Err(ConfigError::NothingToProxy);
        }
        check_workers(self.workers)?;
        let l = &self.limits;
        for (name, value) in [
            ("max_connections", l.max_connections),
            ("max_headers", l.max_headers),
            ("max_header_bytes", l.max_header_bytes),
            (
                "h2_max_concurrent_streams",
                l.h2_max_concurrent_streams as usize,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        for i in &self.inbound {
            if let Some(spec) = &i.authorization {
                // The trust domain only fills in `{service: NAME}`; any valid one checks the rest.
                AuthzPolicy::from_proto(
                    &spec.to_proto(crate::identity::spiffe::DEFAULT_TRUST_DOMAIN),
                )
                .map_err(|error| ConfigError::Authz {
                    listen: i.listen,
                    error,
                })?;
            }
        }
        let mut seen = vec![self.admin];
        let listens = self.inbound.iter().map(|i| i.listen);
        for addr in listens.chain(self.upstreams.iter().map(|u| u.listen)) {
            if seen.contains(&addr) {
                return Err(ConfigError::DuplicateListen { addr });
            }
            seen.push(addr);
        }
        Ok(())
    }
}

impl OtlpSettings {
    /// These settings where given, `base`'s elsewhere (flags over a config file); headers
    /// given here replace all of `base`'s.
    pub fn over(self, base: OtlpSettings) -> OtlpSettings {
        OtlpSettings {
            endpoint: self.endpoint.or(base.endpoint),
            protocol: self.protocol.or(base.protocol),
            ca_file: self.ca_file.or(base.ca_file),
            headers: if self.headers.is_empty() {
                base.headers
            } else {
                self.headers
            },
        }
    }

    /// The checked export (`None`: no endpoint, tracing off unless the environment says
    /// otherwise). Another OTLP setting without an endpoint is an error.
    pub fn export(self) -> Result<Option<OtlpExport>, String> {
        let Some(endpoint) = self.endpoint else {
            let given = [
                ("--otlp-protocol", "otlp_protocol", self.protocol.is_some()),
                ("--otlp-ca-file", "otlp_ca_file", self.ca_file.is_some()),
                ("--otlp-header", "otlp_headers", !self.headers.is_empty()),
            ];
            return match given.iter().find(|(_, _, set)| *set) {
                Some((flag, key, _)) => Err(format!(
                    "{flag} (`{key}`) needs an OTLP endpoint: --otlp-endpoint (`otlp_endpoint`)"
                )),
                None => Ok(None),
            };
        };
        OtlpExport::new(
            endpoint,
            self.protocol.unwrap_or_default(),
            self.ca_file,
            self.headers,
        )
        .map(Some)
    }
}

/// Parses `LISTEN=[PROTO://]APP`, PROTO one of `http1` (default), `h2c`/`http2`, `tcp`.
impl FromStr for InboundConfig {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (listen, app) = s
            .split_once('=')
            .ok_or("expected LISTEN=APP, e.g. 127.0.0.1:4143=127.0.0.1:8080")?;
        let (protocol, app) = match app.split_once("://") {
            Some((proto, rest)) => (app_protocol(proto)?, rest),
            None => (AppProtocol::Http1, app),
        };
        Ok(InboundConfig {
            listen: socket_addr("LISTEN", listen)?,
            app: socket_addr("APP", app)?,
            protocol,
            app_h2c: None,
            authorization: None,
        })
    }
}

/// Parses `LISTEN=[PROTO://]PEER#SPIFFE_ID`, PROTO one of `detect` (default), `http` (HTTP/1.1
/// or HTTP/2, detected; nothing else), `http1`, `h2c`/`http2`, `tcp`.
impl FromStr for UpstreamConfig {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "expected LISTEN=PEER#SPIFFE_ID, e.g. \
                     127.0.0.1:9191=127.0.0.1:4143#spiffe://mesh.local/ns/local/sa/api";
        let (listen, rest) = s.split_once('=').ok_or(usage)?;
        let (peer, id) = rest.split_once('#').ok_or(usage)?;
        let (protocol, peer) = match peer.split_once("://") {
            Some((proto, rest)) => (upstream_protocol(proto)?, rest),
            None => (UpstreamProtocol::Detect, peer),
        };
        Ok(UpstreamConfig {
            listen: socket_addr("LISTEN", listen)?,
            peer: socket_addr("PEER", peer)?,
            identity: id.parse().map_err(|e| format!("SPIFFE_ID `{id}`: {e}"))?,
            protocol,
            connect_timeout: None,
        })
    }
}

/// `workers` within 1..=[`limits::MAX_WORKERS`].
pub fn check_workers(workers: usize) -> Result<usize, ConfigError> {
    if (1..=limits::MAX_WORKERS).contains(&workers) {
        Ok(workers)
    } else {
        Err(ConfigError::Workers(workers))
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let mut file: FileConfig = serde_yaml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // A relative identity_dir is relative to the config file, not to the working directory.
    if let (Some(dir), Some(base)) = (&file.identity_dir, path.parent())
        && dir.is_relative()
    {
        file.identity_dir = Some(base.join(dir));
    }
    // So is a relative CA file.
    if let (Some(ca), Some(base)) = (&file.otlp_ca_file, path.parent())
        && ca.is_relative()
    {
        file.otlp_ca_file = Some(base.join(ca));
    }
    Ok(file)
}

fn socket_addr(what: &str, text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("{what} `{text}` is not an IP:PORT address"))
}

fn app_protocol(text: &str) -> Result<AppProtocol, String> {
    match text {
        "http1" | "http" => Ok(AppProtocol::Http1),
        "h2c" | "http2" | "grpc" => Ok(AppProtocol::Http2),
        "tcp" => Ok(AppProtocol::Tcp),
        other => Err(format!(
            "unknown app protocol `{other}://` (expected http1://, h2c:// (or grpc://) or tcp://)"
        )),
    }
}

fn upstream_protocol(text: &str) -> Result<UpstreamProtocol, String> {
    match text {
        "detect" => Ok(UpstreamProtocol::Detect),
        "http" => Ok(UpstreamProtocol::Http),
        "tcp" => Ok(UpstreamProtocol::Tcp),
        other => app_protocol(other)
            .map(|p| match p {
                AppProtocol::Http1 => UpstreamProtocol::Http1,
                AppProtocol::Http2 => UpstreamProtocol::Http2,
                AppProtocol::Tcp => UpstreamProtocol::Tcp,
            })
            .map_err(|_| {
                format!(
                    "unknown protocol `{other}://` (expected detect://, http://, http1://, h2c:// or tcp://)"
                )
            }),
    }
}

fn default_app_protocol() -> AppProtocol {
    AppProtocol::Http1
}

fn default_upstream_protocol() -> UpstreamProtocol {
    UpstreamProtocol::Detect
}

fn spiffe_id<'de, D: Deserializer<'de>>(d: D) -> Result<SpiffeId, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<HumanDuration>()
        .map(|h| h.0)
        .map_err(serde::de::Error::custom)
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests;
