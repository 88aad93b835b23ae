//! `meshctl proxy`: run the sidecar (flags and config file → tokio runtime → `crate::proxy`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use super::Context;
use crate::api::transport::ControlPlaneAddr;
use crate::exit::{CliError, CliResult};
use crate::identity::SpiffeId;
use crate::policy::tracing::{
    OtlpEndpoint, OtlpExport, OtlpHeaders, OtlpProtocol, SampleRate, parse_header_flag,
};
use crate::proxy::agent::TokenSource;
use crate::proxy::config::{
    FlagConfig, InboundConfig, Limits, OtlpSettings, ProxyConfig, UpstreamConfig,
};
use crate::proxy::controlled::{ClusterTap, ControlledConfig, PinnedUpstream};
use crate::proxy::limits;
use crate::proxy::telemetry::tap::TapListen;

const PROXY_HELP: &str = "\
Examples:
  meshctl proxy --identity-dir certs/api --inbound 127.0.0.1:4143=127.0.0.1:8080
  meshctl proxy --identity-dir certs/web \\
      --upstream 127.0.0.1:9191=127.0.0.1:4143#spiffe://mesh.local/ns/local/sa/api
  meshctl proxy --config examples/proxy-server.yaml
  meshctl proxy --control-plane https://meshctl-controller.meshctl.svc:8443 \\
      --token-file /var/run/secrets/meshctl.io/token \\
      --trust-bundle /var/run/meshctl/trust-bundle/ca-bundle.crt \\
      --inbound 0.0.0.0:4143=127.0.0.1:8080 --upstream-service 127.0.0.1:4150=api

Protocol prefixes: --inbound LISTEN=h2c://APP (gRPC/HTTP/2 app), LISTEN=tcp://APP (opaque);
--upstream LISTEN=http1://PEER#ID, h2c://, tcp:// (default: detect from the first bytes).

Tracing: --otlp-endpoint http://127.0.0.1:4317 (OTLP/gRPC), or
  --otlp-endpoint https://collector:4318 --otlp-protocol http/protobuf \\
      --otlp-ca-file collector-ca.pem --otlp-header authorization=Bearer…
When no --otlp-endpoint (nor `otlp_endpoint` in --config) is given, the standard
OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _PROTOCOL, _HEADERS and _CERTIFICATE variables are read.

Exit codes:
  0  drained and stopped after SIGTERM/SIGINT
  1  runtime failure (identity directory invalid, port in use, …)
  2  usage error (bad flags; a config, token, trust-bundle or OTLP CA file missing,
     unreadable or invalid; a bad OTEL_EXPORTER_OTLP_* variable; an authorization rule
     naming another trust domain)";

/// Run the sidecar: mTLS between proxies, plaintext to the local app
#[derive(Debug, clap::Args)]
#[command(after_help = PROXY_HELP)]
pub struct Args {
    /// Directory with tls.crt, tls.key and ca.crt (as `meshctl certs issue` writes them);
    /// watched, and reloaded when they change
    #[arg(long, value_name = "DIR")]
    identity_dir: Option<PathBuf>,
    /// Accept mTLS on LISTEN and forward to the local app: LISTEN=[PROTO://]APP
    #[arg(long, value_name = "LISTEN=APP")]
    inbound: Vec<InboundConfig>,
    /// Accept plaintext from the app on LISTEN, forward over mTLS to PEER, which must present
    /// SPIFFE_ID: LISTEN=[PROTO://]PEER#SPIFFE_ID
    #[arg(long, value_name = "LISTEN=PEER#SPIFFE_ID")]
    upstream: Vec<UpstreamConfig>,
    /// Admin listener (/metrics, /ready, /live) [default: 127.0.0.1:4191]
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Worker threads (1 = a single-threaded runtime) [default: 1]
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// YAML config file (see examples/); flags add listeners and override its settings
    #[arg(long, value_name = "FILE", conflicts_with = "control_plane")]
    config: Option<PathBuf>,
    /// Get the certificate and the upstreams from a control plane instead of --identity-dir
    /// and --upstream: a Unix socket path (what `meshctl up` does), or https://HOST:PORT in a
    /// cluster (with --trust-bundle; plain http:// is refused)
    #[arg(long, value_name = "SOCKET|URL", value_parser = ControlPlaneAddr::parse, requires = "token_file", conflicts_with_all = ["identity_dir", "upstream"])]
    control_plane: Option<ControlPlaneAddr>,
    /// File holding this proxy's bootstrap token: read once, mode 0600 (socket); read again
    /// for every call, so a rotated service-account token is followed (https)
    /// [control-plane mode]
    #[arg(long, value_name = "FILE", requires = "control_plane")]
    token_file: Option<PathBuf>,
    /// The SPIFFE ID this proxy asks the control plane for: required with a socket; with
    /// https the identity the token attests is assigned when this is absent
    /// [control-plane mode]
    #[arg(long, value_name = "ID", requires = "control_plane")]
    spiffe_id: Option<String>,
    /// PEM bundle the https control plane's certificate must chain to (re-read at every
    /// reconnection) [https control plane only]
    #[arg(long, value_name = "FILE", requires = "control_plane")]
    trust_bundle: Option<PathBuf>,
    /// Serve the upstream SERVICE to the app on LISTEN, whatever listener the control plane
    /// names for it (repeatable); an upstream with no listener from either is skipped
    /// [https control plane only]
    #[arg(long, value_name = "LISTEN=SERVICE", requires = "control_plane")]
    upstream_service: Vec<PinnedUpstream>,
    /// Plaintext HTTP proxy listener for the app's HTTP_PROXY: routes `http://<service>/…` to
    /// that upstream [control-plane mode]
    #[arg(long, value_name = "ADDR", requires = "control_plane")]
    http_proxy: Option<SocketAddr>,
    /// Also serve the gateway — external clients into mesh services — that FILE describes
    /// (JSON; `meshctl up` writes it from mesh.yaml's `gateway:`); re-read with its key file
    /// and certificate when they change [control-plane mode]
    #[arg(long, value_name = "FILE", requires = "control_plane")]
    gateway: Option<PathBuf>,
    /// Serve the tap API (`meshctl tap`) on this loopback address
    #[arg(long, value_name = "ADDR", requires = "tap_token_sha256")]
    tap: Option<SocketAddr>,
    /// SHA-256 (hex) of the token tap callers must present as bearer (the mesh admin token)
    #[arg(long, value_name = "HEX", requires = "tap", value_parser = sha256_hex)]
    tap_token_sha256: Option<String>,
    /// Serve the tap API on ADDR over mutual TLS 1.3 with this proxy's certificate, to the
    /// --tap-client identity only (how the cluster controller taps sidecars; no token)
    /// [https control plane only]
    #[arg(long, value_name = "ADDR", requires_all = ["control_plane", "tap_client"])]
    tap_mtls: Option<SocketAddr>,
    /// The one client of --tap-mtls: NAMESPACE/SERVICEACCOUNT of the controller, in this
    /// proxy's trust domain
    #[arg(long, value_name = "NAMESPACE/SERVICEACCOUNT", requires = "tap_mtls", value_parser = namespace_and_account)]
    tap_client: Option<(String, String)>,
    /// Also redact this header in tap events (repeatable; authorization, proxy-authorization,
    /// cookie, set-cookie and x-api-key always are)
    #[arg(long, value_name = "HEADER")]
    tap_redact: Vec<http::HeaderName>,
    /// Export a span per request to this OTLP collector and take part in W3C trace context:
    /// http://HOST:PORT, or https://HOST[:PORT] with --otlp-ca-file; for http/protobuf a
    /// base path may follow (/v1/traces is appended). Off by default
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<OtlpEndpoint>,
    /// How spans travel to --otlp-endpoint: grpc or http/protobuf [default: grpc]
    #[arg(long, value_name = "PROTOCOL")]
    otlp_protocol: Option<OtlpProtocol>,
    /// PEM file with the CA certificate(s) an https collector's certificate must chain to
    /// (and name its host); no public CAs are trusted otherwise
    #[arg(long, value_name = "FILE")]
    otlp_ca_file: Option<PathBuf>,
    /// Send this header with every export, e.g. authorization=Bearer… (repeatable). Seen in
    /// the process list: MESHCTL_OTLP_HEADERS=name=value,… (values percent-encoded) or
    /// `otlp_headers` in --config keep it out
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_header_flag)]
    otlp_header: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Share of new traces (requests without a traceparent) recorded, in percent, up to 4
    /// decimals [default: 100]; a caller's sampling decision is always followed
    #[arg(long, value_name = "PERCENT")]
    trace_sample: Option<SampleRate>,
}

pub fn run(_ctx: &mut Context<'_>, args: Args) -> CliResult {
    let otlp = otlp_flags(
        args.otlp_endpoint,
        args.otlp_protocol,
        args.otlp_ca_file,
        args.otlp_header,
    )?;
    if !args.tap_redact.is_empty() && args.tap.is_none() && args.tap_mtls.is_none() {
        return Err(CliError::usage(anyhow::anyhow!(
            "--tap-redact needs --tap or --tap-mtls"
        )));
    }
    let cluster_tap = match (args.tap_mtls, args.tap_client) {
        (Some(addr), Some((namespace, account))) => Some(ClusterTap {
            addr,
            client_namespace: namespace,
            client_service_account: account,
            redact: args.tap_redact.clone(),
        }),
        _ => None,
    };
    if cluster_tap.is_some() && !matches!(args.control_plane, Some(ControlPlaneAddr::Https { .. }))
    {
        return Err(CliError::usage(anyhow::anyhow!(
            "--tap-mtls is for an https:// control plane (its certificate is the proxy's SVID)"
        )));
    }
    let tap = match (args.tap, args.tap_token_sha256) {
        (Some(addr), Some(token_sha256)) => Some(TapListen {
            addr,
            token_sha256,
            redact: args.tap_redact,
        }),
        _ => None,
    };
    if let Some(control_plane) = args.control_plane {
        return run_controlled(
            Taps {
                local: tap,
                cluster: cluster_tap,
            },
            control_plane,
            Credentials {
                token_file: args.token_file,
                spiffe_id: args.spiffe_id,
                trust_bundle: args.trust_bundle,
            },
            args.upstream_service,
            args.inbound,
            (args.http_proxy, args.gateway),
            args.admin,
            args.workers,
            otlp,
            args.trace_sample,
        );
    }
    let config = ProxyConfig::build(FlagConfig {
        identity_dir: args.identity_dir,
        inbound: args.inbound,
        upstreams: args.upstream,
        admin: args.admin,
        workers: args.workers,
        config_file: args.config,
        tap,
        otlp,
        trace_sample: args.trace_sample,
    });
    let mut config = config.map_err(CliError::usage)?;
    config.otlp = otlp_export(config.otlp.take(), args.trace_sample.is_some())?;
    runtime(config.workers)?
        .block_on(crate::proxy::run(config))
        .map_err(|e| match e {
            // A policy that cannot work with this identity: the config is wrong (exit 2).
            crate::proxy::ProxyError::Authz { .. } => CliError::usage(e),
            e => CliError::from(anyhow::Error::from(e)),
        })?;
    Ok(())
}

/// The variable `meshctl up` hands mesh.yaml's `otlp_headers` to its proxies in, kept out of
/// the process list; the same as `--otlp-header` (which wins), in
/// OTEL_EXPORTER_OTLP_HEADERS's `name=value,…` form.
const HEADERS_ENV: &str = "MESHCTL_OTLP_HEADERS";

/// The OTLP flags, with the headers from [`HEADERS_ENV`] when no `--otlp-header` is given.
fn otlp_flags(
    endpoint: Option<OtlpEndpoint>,
    protocol: Option<OtlpProtocol>,
    ca_file: Option<PathBuf>,
    header_flags: Vec<(http::HeaderName, http::HeaderValue)>,
) -> Result<OtlpSettings, CliError> {
    let usage = |m: String| CliError::usage(anyhow::anyhow!(m));
    let mut headers = OtlpHeaders::default();
    for (name, value) in &header_flags {
        headers
            .push(name.as_str(), value.as_bytes())
            .map_err(|e| usage(format!("--otlp-header: {e}")))?;
    }
    if headers.is_empty()
        && let Ok(list) = std::env::var(HEADERS_ENV)
    {
        headers =
            OtlpHeaders::parse_list(&list).map_err(|e| usage(format!("{HEADERS_ENV}: {e}")))?;
    }
    Ok(OtlpSettings {
        endpoint,
        protocol,
        ca_file,
        headers,
    })
}

/// The span export: the proxy's own settings, else the OTEL_EXPORTER_OTLP_* variables (as a
/// whole: none of them is read once an endpoint is configured). The CA file is read now, so
/// a bad one is a usage error naming it rather than a failure later.
fn otlp_export(
    own: Option<OtlpExport>,
    sample_given: bool,
) -> Result<Option<OtlpExport>, CliError> {
    let usage = |m: String| CliError::usage(anyhow::anyhow!(m));
    let from_env = own.is_none();
    let export = match own {
        Some(export) => Some(export),
        None => OtlpExport::from_env(|name| std::env::var(name).ok()).map_err(usage)?,
    };
    if let Some(file) = export.as_ref().and_then(|e| e.ca_file.as_ref()) {
        crate::proxy::telemetry::trace::export::collector_tls(file).map_err(usage)?;
    }
    if sample_given && export.is_none() {
        return Err(usage(
            "--trace-sample: an OTLP endpoint is required (--otlp-endpoint, or \
             OTEL_EXPORTER_OTLP_ENDPOINT)"
                .into(),
        ));
    }
    if let Some(e) = export.as_ref().filter(|_| from_env) {
        let endpoint = e.endpoint.target(e.protocol);
        tracing::info!(%endpoint, protocol = %e.protocol, "span export from the OTEL_EXPORTER_OTLP_* variables");
    }
    Ok(export)
}

/// A single-threaded runtime for one worker (the sidecar default), else a pool.
fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, CliError> {
    let runtime = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    };
    Ok(runtime.context("starting the proxy runtime")?)
}

/// How a proxy proves itself to the control plane and checks the control plane.
struct Credentials {
    token_file: Option<PathBuf>,
    spiffe_id: Option<String>,
    trust_bundle: Option<PathBuf>,
}

/// The tap listeners a controlled proxy serves.
struct Taps {
    local: Option<TapListen>,
    cluster: Option<ClusterTap>,
}

#[allow(clippy::too_many_arguments)] // one per flag, straight from `Args`
fn run_controlled(
    taps: Taps,
    control_plane: ControlPlaneAddr,
    credentials: Credentials,
    upstream_services: Vec<PinnedUpstream>,
    inbound: Vec<InboundConfig>,
    (http_proxy, gateway): (Option<SocketAddr>, Option<PathBuf>),
    admin: Option<SocketAddr>,
    workers: Option<usize>,
    otlp: OtlpSettings,
    trace_sample: Option<SampleRate>,
) -> CliResult {
    let Credentials {
        token_file,
        spiffe_id,
        trust_bundle,
    } = credentials;
    let usage = |message: String| CliError::usage(anyhow::anyhow!(message));
    // clap's `requires` guarantees it is present.
    let Some(token_file) = token_file else {
        return Err(usage("--control-plane needs --token-file".into()));
    };
    let id: Option<SpiffeId> = spiffe_id
        .map(|s| s.parse())
        .transpose()
        .map_err(|e| CliError::usage(anyhow::Error::new(e)))?;
    let (control_plane, token) = match control_plane {
        ControlPlaneAddr::Socket(socket) => {
            if id.is_none() {
                return Err(usage(format!(
                    "--control-plane {} (a socket) needs --spiffe-id",
                    socket.display()
                )));
            }
            if trust_bundle.is_some() {
                return Err(usage(
                    "--trust-bundle is for an https:// control plane, not a socket".into(),
                ));
            }
            if !upstream_services.is_empty() {
                return Err(usage(
                    "--upstream-service is for an https:// control plane, not a socket".into(),
                ));
            }
            // A missing or unreadable file named on the command line is a usage error (exit 2).
            let token = crate::identity::workload::read_private_key(&token_file).map_err(|e| {
                usage(format!(
                    "reading the bootstrap token {}: {e}",
                    token_file.display()
                ))
            })?;
            (
                ControlPlaneAddr::Socket(socket),
                TokenSource::Fixed(token.trim().into()),
            )
        }
        https => {
            let Some(bundle) = trust_bundle else {
                return Err(usage(format!(
                    "--control-plane {https} needs --trust-bundle FILE"
                )));
            };
            // Checked now (exit 2 naming the file), and again at every connection.
            crate::api::transport::bundle_client_config(&bundle)
                .map_err(|e| usage(e.to_string()))?;
            for (i, p) in upstream_services.iter().enumerate() {
                if let Some(q) = upstream_services[..i]
                    .iter()
                    .find(|q| q.service == p.service || q.listen == p.listen)
                {
                    return Err(usage(format!(
                        "--upstream-service {}={} repeats the service or listener of {}={}",
                        p.listen, p.service, q.listen, q.service
                    )));
                }
            }
            // The kubelet rewrites the token file: read at every call, never only here.
            (https.with_bundle(bundle), TokenSource::file(token_file))
        }
    };
    let config = ControlledConfig {
        control_plane,
        token,
        id,
        upstream_services,
        inbound,
        http_proxy,
        gateway: gateway.map(|file| crate::proxy::gateway::GatewayOptions { file }),
        admin: admin.unwrap_or(limits::DEFAULT_ADMIN_ADDR),
        drain_timeout: limits::DEFAULT_DRAIN_TIMEOUT,
        limits: Limits::default(),
        tap: taps.local,
        cluster_tap: taps.cluster,
        otlp: otlp_export(otlp.export().map_err(usage)?, trace_sample.is_some())?,
        trace_sample: trace_sample.unwrap_or_default(),
    };
    let workers = crate::proxy::config::check_workers(workers.unwrap_or(limits::DEFAULT_WORKERS))
        .map_err(CliError::usage)?;
    runtime(workers)?
        .block_on(crate::proxy::controlled::run(config))
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// A SHA-256 digest in hex (64 digits, either case), kept in lower case as tokens are hashed.
fn sha256_hex(text: &str) -> Result<String, String> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "expected a SHA-256 digest: 64 hex digits, got {} character(s)",
            text.len()
        ))
    }
}

/// `NAMESPACE/SERVICEACCOUNT`, both DNS labels (what a SPIFFE ID in a cluster is made of).
fn namespace_and_account(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((ns, sa))
            if crate::identity::spiffe::is_dns_label(ns)
                && !sa.is_empty()
                && sa.split('.').all(crate::identity::spiffe::is_dns_label) =>
        {
            Ok((ns.to_string(), sa.to_string()))
        }
        _ => Err(format!(
            "expected NAMESPACE/SERVICEACCOUNT (e.g. meshctl-system/meshctl-controller), got `{text}`"
        )),
    }
}
