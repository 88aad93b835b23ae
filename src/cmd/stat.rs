//! `meshctl stat`: golden metrics (success rate, RPS, latency percentiles, connections) per
//! service and version, straight from the proxies.

use std::time::Duration;

use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use super::Context;
use super::target::{self, KubeTargetArgs};
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::observe::fleet::Fleet;
use crate::observe::stat::{self, StatQuery, StatRow};
use crate::output::{self, OutputFormat};

/// How often `--watch` refreshes.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

const STAT_HELP: &str = "\
Rows are what each service's proxies received (inbound), or with --to what they sent to that
service (outbound). SUCCESS counts responses below 500. RPS is requests over the time the window
covers. Percentiles come from the proxies' HDR histograms merged across proxies (2 significant
digits): never below the exact value, at most 1% above. `-` means no data (no requests in the
window, or no proxy reporting). A service with versions is a tree: each version's configured
WEIGHT beside its observed SHARE of requests.

On Kubernetes (--target kubernetes, or no local mesh and a kubeconfig): every meshed pod of
the namespace, its sidecar read by the controller from inside the cluster (one request through
the API server's pods/proxy to a controller pod). A pod whose sidecar cannot be read counts in
MESHED as not reporting (`-v` logs why).

Examples:
  meshctl stat                                 # every service and version, over the last minute
  meshctl stat api -t 5m                       # api and each of its versions over 5 minutes
  meshctl stat api/v2 -o json
  meshctl stat --from web                      # only what web sent
  meshctl stat --to quotes -w                  # what quotes' callers sent it, refreshed in place
  meshctl stat -n shop                         # the meshed pods of a cluster's namespace

Exit codes:
  0  printed (also when idle)
  1  no mesh is running (on Kubernetes: the API server or controller cannot be reached, or
     permission denied)
  2  usage error (unknown service or version, window outside 10s-5m)";

#[derive(Debug, clap::Args)]
#[command(after_help = STAT_HELP)]
pub struct Args {
    /// SERVICE or SERVICE/VERSION [default: every service]
    #[arg(add = super::complete::targets())]
    target: Option<String>,
    /// Window the figures cover (10s-5m)
    #[arg(
        short = 't',
        long = "window",
        default_value = "1m",
        value_name = "DURATION"
    )]
    window: HumanDuration,
    /// Only requests from this client service
    #[arg(long, value_name = "SERVICE", conflicts_with = "to", add = super::complete::services())]
    from: Option<String>,
    /// Requests the selected services sent to this service (outbound view)
    #[arg(long, value_name = "SERVICE", add = super::complete::services())]
    to: Option<String>,
    /// Refresh every 2 s until Ctrl-C (NDJSON with -o json)
    #[arg(short = 'w', long)]
    watch: bool,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

/// The JSON/YAML shape of `meshctl stat`.
#[derive(Debug, Serialize)]
struct StatReport {
    window_secs: u64,
    rows: Vec<StatRow>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let window = super::check_window(args.window.0)?;
    let runtime = super::client_runtime()?;
    let mesh = target::open_mesh(ctx, &args.cluster, &runtime)?;
    // Installed once, so a Ctrl-C during a fetch is not lost.
    let mut interrupt = runtime.block_on(async { signal(SignalKind::interrupt()) })?;
    let mut query = None;
    loop {
        let reading = runtime.block_on(mesh.read(window))?;
        // Checked against the first reading: a service scaled away later does not end --watch.
        let query = match &query {
            Some(q) => q,
            None => query.insert(stat_query(&reading.fleet, &args, &mesh.scope())?),
        };
        let report = StatReport {
            window_secs: window.as_secs(),
            rows: stat::rows(&reading.fleet, &reading.snapshots, &reading.splits, query),
        };
        if args.watch && ctx.global.output == OutputFormat::Json {
            output::json_line(ctx.out, &report)?;
        } else {
            output::render(ctx.out, ctx.global.output, &report, |wide| {
                table(&report.rows, wide)
            })?;
        }
        if !args.watch {
            return Ok(());
        }
        ctx.out.flush()?;
        let interrupted = runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => true,
                _ = tokio::time::sleep(WATCH_INTERVAL) => false,
            }
        });
        if interrupted {
            return Ok(());
        }
        // Separate snapshots: NDJSON needs nothing, YAML a document marker, tables a line.
        match ctx.global.output {
            OutputFormat::Json => {}
            OutputFormat::Yaml => writeln!(ctx.out, "---")?,
            OutputFormat::Table | OutputFormat::Wide => writeln!(ctx.out)?,
        }
    }
}

fn stat_query(fleet: &Fleet, args: &Args, scope: &str) -> Result<StatQuery, CliError> {
    let known = |service: &str| {
        if fleet.versions(service).is_empty() {
            Err(CliError::usage(anyhow::anyhow!(
                "unknown service `{service}`{scope} (services: {})",
                or_none(&fleet.services())
            )))
        } else {
            Ok(())
        }
    };
    let (service, version) = match args.target.as_deref().map(|t| t.split_once('/')) {
        None => (None, None),
        Some(None) => (args.target.clone(), None),
        Some(Some((s, v))) => (Some(s.to_string()), Some(v.to_string())),
    };
    if let Some(s) = &service {
        known(s)?;
        if let Some(v) = &version
            && !fleet.versions(s).contains(v)
        {
            return Err(CliError::usage(anyhow::anyhow!(
                "service `{s}`{scope} has no version `{v}` (versions: {})",
                or_none(&fleet.versions(s))
            )));
        }
    }
    for s in args.from.iter().chain(&args.to) {
        known(s)?;
    }
    Ok(StatQuery {
        service,
        version,
        from: args.from.clone(),
        to: args.to.clone(),
    })
}

fn or_none(names: &[String]) -> String {
    if names.iter().all(String::is_empty) {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn table(rows: &[StatRow], wide: bool) -> comfy_table::Table {
    let split = rows.iter().any(|r| !r.versions.is_empty());
    let mut headers = vec![
        "NAME",
        "MESHED",
        "SUCCESS",
        "RPS",
        "LATENCY_P50",
        "LATENCY_P95",
        "LATENCY_P99",
        "TCP_CONN",
    ];
    if split {
        headers.extend(["WEIGHT", "SHARE"]);
    }
    if wide {
        headers.extend(["READ_BYTES/SEC", "WRITE_BYTES/SEC"]);
    }
    let mut t = output::table(headers);
    for row in rows {
        t.add_row(cells(row, row.name.clone(), split, wide));
        let last = row.versions.len().saturating_sub(1);
        for (i, v) in row.versions.iter().enumerate() {
            let branch = if i == last { "└─" } else { "├─" };
            let version = v.name.rsplit('/').next().unwrap_or(&v.name);
            t.add_row(cells(v, format!("{branch} {version}"), split, wide));
        }
    }
    t
}

fn cells(r: &StatRow, name: String, split: bool, wide: bool) -> Vec<String> {
    let dash = || "-".to_string();
    let ms = |v: Option<f64>| v.map_or_else(dash, |ms| format!("{}ms", round(ms)));
    let mut c = vec![
        name,
        format!("{}/{}", r.meshed.reporting, r.meshed.proxies),
        r.success_rate
            .map_or_else(dash, |s| format!("{:.2}%", s * 100.0)),
        r.rps.map_or_else(dash, |v| format!("{:.1}rps", v)),
        ms(r.latency_ms_p50),
        ms(r.latency_ms_p95),
        ms(r.latency_ms_p99),
        r.tcp_connections.map_or_else(dash, |n| n.to_string()),
    ];
    if split {
        c.push(r.weight.map_or_else(String::new, |w| format!("{w}%")));
        c.push(if r.weight.is_some() {
            r.observed_share
                .map_or_else(dash, |s| format!("{:.1}%", s * 100.0))
        } else {
            String::new()
        });
    }
    if wide {
        let bps = |v: Option<f64>| v.map_or_else(dash, |b| format!("{b:.0}B/s"));
        c.push(bps(r.read_bytes_per_sec));
        c.push(bps(r.write_bytes_per_sec));
    }
    c
}

/// Latencies as people read them: whole ms from 10 ms, one decimal below, µs precision
/// under 1 ms.
fn round(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.0}")
    } else if ms >= 1.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_round_for_reading() {
        assert_eq!(round(123.4), "123");
        assert_eq!(round(1.84), "1.8");
        assert_eq!(round(0.25), "0.250");
    }
}
