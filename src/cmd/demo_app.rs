//! `meshctl demo-app <role>` (hidden): one process of the built-in demo application, as
//! `meshctl up --demo` launches it. Servers print their bound address as stdout's first line.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use super::Context;
use crate::demo::faults::Faults;
use crate::demo::load::{self, LoadPlan, LoadStats};
use crate::demo::{api, quotes, web};
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};

/// Default `--listen`: loopback, any free port.
const DEFAULT_LISTEN: &str = "127.0.0.1:0";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// HTTP frontend: `GET /` asks api for a quote and names the api version that answered
    Web {
        #[command(flatten)]
        listen: Listen,
        /// Where api listens (the caller's outbound proxy listener in a mesh)
        #[arg(long, env = "MESH_UPSTREAM_API", value_name = "HOST:PORT")]
        api: String,
    },
    /// HTTP JSON API: `GET /api/quote?symbol=X` calls quotes over gRPC
    #[command(disable_version_flag = true)]
    Api {
        #[command(flatten)]
        listen: Listen,
        /// Version this instance reports (`served_by`, `version`)
        #[arg(long, default_value = api::DEFAULT_VERSION)]
        version: String,
        /// Where quotes listens (gRPC over h2c)
        #[arg(long, env = "MESH_UPSTREAM_QUOTES", value_name = "HOST:PORT")]
        quotes: String,
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// gRPC Quotes server (GetQuote, StreamQuotes)
    #[command(disable_version_flag = true)]
    Quotes {
        #[command(flatten)]
        listen: Listen,
        /// Version this instance reports in `served_by`
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// Steady HTTP GET traffic to a loopback URL; a summary on stderr every 10 s and at the end
    Load {
        /// URL to GET (loopback only), e.g. http://127.0.0.1:8080/
        // `--url`, not `--target`: that is the global flag choosing the mesh.
        #[arg(long = "url", value_parser = load::parse_target)]
        target: http::Uri,
        /// Requests per second
        #[arg(long, default_value_t = load::DEFAULT_RPS,
              value_parser = clap::value_parser!(u32).range(1..=i64::from(load::MAX_RPS)))]
        rps: u32,
        /// Stop after this long [default: until SIGTERM or Ctrl-C]
        #[arg(long)]
        duration: Option<HumanDuration>,
        /// Stop after this many requests
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        requests: Option<u64>,
    },
}

#[derive(Debug, clap::Args)]
struct Listen {
    /// Address to listen on, loopback only; port 0 picks a free port. The bound address is
    /// printed as the first line on stdout
    #[arg(long, default_value = DEFAULT_LISTEN, value_parser = parse_loopback)]
    listen: SocketAddr,
}

#[derive(Debug, clap::Args)]
struct FaultArgs {
    /// Typical latency added to each request, in milliseconds (1% take ten times longer)
    #[arg(long, env = "DEMO_LATENCY_MS", value_name = "MS")]
    latency_ms: Option<u64>,
    /// Share of requests that fail, from 0 to 1
    #[arg(long, env = "DEMO_ERROR_RATE", value_name = "RATE", value_parser = parse_rate)]
    error_rate: Option<f64>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_role(ctx, args.role))
}

async fn run_role(ctx: &mut Context<'_>, role: Role) -> CliResult {
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    match role {
        Role::Web { listen, api } => {
            let listener = bind(ctx, listen.listen).await?;
            web::serve(listener, web::Web::new(api), shutdown).await;
        }
        Role::Api {
            listen,
            version,
            quotes,
            faults,
        } => {
            let faults = faults.resolve(api::DEFAULT_LATENCY, api::DEFAULT_ERROR_RATE);
            let app = api::Api::new(version, faults, &quotes).map_err(CliError::usage)?;
            let listener = bind(ctx, listen.listen).await?;
            api::serve(listener, app, shutdown).await;
        }
        Role::Quotes {
            listen,
            version,
            faults,
        } => {
            let faults = faults.resolve(quotes::DEFAULT_LATENCY, quotes::DEFAULT_ERROR_RATE);
            let served_by = match version {
                Some(v) => format!("{} {v}", quotes::SERVICE_NAME),
                None => quotes::SERVICE_NAME.to_string(),
            };
            let listener = bind(ctx, listen.listen).await?;
            quotes::serve(
                listener,
                quotes::QuoteService::new(served_by, faults),
                shutdown,
            )
            .await
            .context("serving gRPC")?;
        }
        Role::Load {
            target,
            rps,
            duration,
            requests,
        } => {
            let plan = LoadPlan {
                target,
                rps,
                duration: duration.map(|d| d.0),
                requests,
            };
            let stats = plan
                .run(shutdown, |s| eprintln!("{}", summary(&plan, s)))
                .await;
            eprintln!("{}", summary(&plan, &stats));
        }
    }
    Ok(())
}

impl FaultArgs {
    fn resolve(&self, latency: Duration, error_rate: f64) -> Faults {
        Faults::new(
            self.latency_ms.map_or(latency, Duration::from_millis),
            self.error_rate.unwrap_or(error_rate),
        )
    }
}

/// Binds, then tells whoever started us where we listen (stdout's first line).
async fn bind(ctx: &mut Context<'_>, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    writeln!(ctx.out, "{}", listener.local_addr()?)?;
    ctx.out.flush()?;
    Ok(listener)
}

/// Completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// `load: 200 requests to http://…/ in 10.0s (20.0/s): 196 ok, 4 failed`
fn summary(plan: &LoadPlan, s: &LoadStats) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.sent as f64 / secs
    } else {
        0.0
    };
    let skipped = if s.skipped > 0 {
        format!(
            ", {} skipped ({} requests in flight)",
            s.skipped,
            load::MAX_IN_FLIGHT
        )
    } else {
        String::new()
    };
    format!(
        "load: {} requests to {} in {secs:.1}s ({rate:.1}/s): {} ok, {} failed{skipped}",
        s.sent, plan.target, s.ok, s.failed
    )
}

fn parse_loopback(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|e| format!("`{text}` is not an IP:PORT address: {e}"))?;
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "`{text}`: the demo listens on loopback only (e.g. 127.0.0.1:0)"
        ))
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("`{text}` is not a rate from 0 to 1 (e.g. 0.02)")),
    }
}
