//! `meshctl proxy`: run the sidecar (flags and config file → tokio runtime → `crate::proxy`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use super::Context;
use crate::exit::{CliError, CliResult};
use crate::proxy::config::{FlagConfig, InboundConfig, ProxyConfig, UpstreamConfig};

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
  2  usage error (bad flags or config file)";

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
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn run(_ctx: &mut Context<'_>, args: Args) -> CliResult {
    let config = ProxyConfig::build(FlagConfig {
        identity_dir: args.identity_dir,
        inbound: args.inbound,
        upstreams: args.upstream,
        admin: args.admin,
        workers: args.workers,
        config_file: args.config,
    })
    .map_err(CliError::usage)?;
    let runtime = if config.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers)
            .enable_all()
            .build()
    }
    .context("starting the proxy runtime")?;
    runtime
        .block_on(crate::proxy::run(config))
        .map_err(anyhow::Error::from)?;
    Ok(())
}
