//! `meshctl proxy`: run the sidecar (flags and config file → tokio runtime → `crate::proxy`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use super::Context;
use crate::exit::{CliError, CliResult};
use crate::identity::SpiffeId;
use crate::policy::tracing::{OtlpEndpoint, SampleRate};
use crate::proxy::config::{FlagConfig, InboundConfig, Limits, ProxyConfig, UpstreamConfig};
use crate::proxy::controlled::ControlledConfig;
use crate::proxy::limits;
use crate::proxy::telemetry::tap::TapListen;

const PROXY_HELP: &str = "\
Examples:
  meshctl proxy --identity-dir certs/api --inbound 127.0.0.1:4143=127.0.0.1:8080
  meshctl proxy --identity-dir certs/web \\
      --upstream 127.0.0.1:9191=127.0.0.1:4143#spiffe://mesh.local/ns/local/sa/api
  meshctl proxy --config examples/proxy-server.yaml

Protocol prefixes: --inbound LISTEN=h2c://APP (gRPC/HTTP/2 app), LISTEN=tcp://APP (opaque);
--upstream LISTEN=http1://PEER#ID, h2c://, tcp:// (default: detect from the first bytes).

Exit codes:
  0  drained and stopped after SIGTERM/SIGINT
  1  runtime failure (identity directory invalid, port in use, …)
  2  usage error (bad flags; a config or token file missing, unreadable or invalid; an
     authorization rule naming another trust domain)";

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
    /// Get the certificate and the upstreams from a control plane at this Unix socket
    /// (what `meshctl up` does) instead of --identity-dir and --upstream
    #[arg(long, value_name = "SOCKET", requires_all = ["token_file", "spiffe_id"], conflicts_with_all = ["identity_dir", "upstream"])]
    control_plane: Option<PathBuf>,
    /// File holding this proxy's bootstrap token (mode 0600) [control-plane mode]
    #[arg(long, value_name = "FILE", requires = "control_plane")]
    token_file: Option<PathBuf>,
    /// The SPIFFE ID this proxy asks the control plane for [control-plane mode]
    #[arg(long, value_name = "ID", requires = "control_plane")]
    spiffe_id: Option<String>,
    /// Plaintext HTTP proxy listener for the app's HTTP_PROXY: routes `http://<service>/…` to
    /// that upstream [control-plane mode]
    #[arg(long, value_name = "ADDR", requires = "control_plane")]
    http_proxy: Option<SocketAddr>,
    /// Serve the tap API (`meshctl tap`) on this loopback address
    #[arg(long, value_name = "ADDR", requires = "tap_token_sha256")]
    tap: Option<SocketAddr>,
    /// SHA-256 (hex) of the token tap callers must present as bearer (the mesh admin token)
    #[arg(long, value_name = "HEX", requires = "tap", value_parser = sha256_hex)]
    tap_token_sha256: Option<String>,
    /// Also redact this header in tap events (repeatable; authorization, proxy-authorization,
    /// cookie, set-cookie and x-api-key always are)
    #[arg(long, value_name = "HEADER", requires = "tap")]
    tap_redact: Vec<http::HeaderName>,
    /// Export a span per request to this OTLP/gRPC collector (http://HOST:PORT) and take
    /// part in W3C trace context; off by default
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<OtlpEndpoint>,
    /// Share of new traces (requests without a traceparent) recorded, in percent, up to 4
    /// decimals [default: 100]; a caller's sampling decision is always followed
    #[arg(long, value_name = "PERCENT", requires = "otlp_endpoint")]
    trace_sample: Option<SampleRate>,
}

pub fn run(_ctx: &mut Context<'_>, args: Args) -> CliResult {
    let tap = match (args.tap, args.tap_token_sha256) {
        (Some(addr), Some(token_sha256)) => Some(TapListen {
            addr,
            token_sha256,
            redact: args.tap_redact,
        }),
        _ => None,
    };
    if let Some(socket) = args.control_plane {
        return run_controlled(
            tap,
            socket,
            args.token_file,
            args.spiffe_id,
            args.inbound,
            args.http_proxy,
            args.admin,
            args.workers,
            args.otlp_endpoint,
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
        otlp_endpoint: args.otlp_endpoint,
        trace_sample: args.trace_sample,
    })
    .map_err(CliError::usage)?;
    runtime(config.workers)?
        .block_on(crate::proxy::run(config))
        .map_err(|e| match e {
            // A policy that cannot work with this identity: the config is wrong (exit 2).
            crate::proxy::ProxyError::Authz { .. } => CliError::usage(e),
            e => CliError::from(anyhow::Error::from(e)),
        })?;
    Ok(())
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

#[allow(clippy::too_many_arguments)] // one per flag, straight from `Args`
fn run_controlled(
    tap: Option<TapListen>,
    socket: PathBuf,
    token_file: Option<PathBuf>,
    spiffe_id: Option<String>,
    inbound: Vec<InboundConfig>,
    http_proxy: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    workers: Option<usize>,
    otlp_endpoint: Option<OtlpEndpoint>,
    trace_sample: Option<SampleRate>,
) -> CliResult {
    // clap's `requires` guarantees both are present.
    let (Some(token_file), Some(spiffe_id)) = (token_file, spiffe_id) else {
        return Err(CliError::usage(anyhow::anyhow!(
            "--control-plane needs --token-file and --spiffe-id"
        )));
    };
    let id: SpiffeId = spiffe_id
        .parse()
        .map_err(|e| CliError::usage(anyhow::Error::new(e)))?;
    // A missing or unreadable file named on the command line is a usage error (exit 2).
    let token = crate::identity::workload::read_private_key(&token_file).map_err(|e| {
        CliError::usage(anyhow::anyhow!(
            "reading the bootstrap token {}: {e}",
            token_file.display()
        ))
    })?;
    let config = ControlledConfig {
        control_socket: socket,
        token: token.trim().to_string(),
        id,
        inbound,
        http_proxy,
        admin: admin.unwrap_or(limits::DEFAULT_ADMIN_ADDR),
        drain_timeout: limits::DEFAULT_DRAIN_TIMEOUT,
        limits: Limits::default(),
        tap,
        otlp_endpoint,
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
