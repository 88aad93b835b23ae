//! `meshctl stat`: golden metrics (success rate, RPS, latency percentiles, connections) per
//! service and version, straight from the proxies.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use super::Context;
use super::StateFor;
use super::target::{self, Chosen, KubeTargetArgs, mesh_error};
use crate::control::backend::read_splits;
use crate::control::plan::MeshPlan;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::kube::controller::proxies::{ProxiesStats, StatsQuery};
use crate::kube::mesh::{self, Cluster};
use crate::observe::fetch;
use crate::observe::fleet::{Fleet, Member};
use crate::observe::stat::{self, StatQuery, StatRow};
use crate::output::{self, OutputFormat};
use crate::policy::split::SplitWeights;
use crate::proxy::telemetry::stats::{MAX_WINDOW, StatsSnapshot};

/// Shortest window: below it a handful of requests swings every figure.
pub const MIN_WINDOW: Duration = Duration::from_secs(10);
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

Exit codes:
  0  printed (also when idle)
  1  no mesh is running (on Kubernetes: the API server or controller cannot be reached, or
     permission denied)
  2  usage error (unknown service or version, window outside 10s-5m)";

#[derive(Debug, clap::Args)]
#[command(after_help = STAT_HELP)]
pub struct Args {
    /// SERVICE or SERVICE/VERSION [default: every service]
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
    #[arg(long, value_name = "SERVICE", conflicts_with = "to")]
    from: Option<String>,
    /// Requests the selected services sent to this service (outbound view)
    #[arg(long, value_name = "SERVICE")]
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
    let window = check_window(args.window.0)?;
    let runtime = super::client_runtime()?;
    let mesh = Mesh::open(ctx, &args.cluster, &runtime)?;
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

/// The mesh `stat` and `edges` read: the local mesh's proxies, or a cluster's meshed pods
/// (their sidecars read by the controller inside the cluster, one request through the API
/// server).
pub(crate) enum Mesh {
    Local { state: PathBuf, plan: MeshPlan },
    Kubernetes(Box<Cluster>),
}

/// One reading of every proxy of the mesh.
pub(crate) struct Reading {
    pub fleet: Fleet,
    /// `snapshots[i]` is what `fleet.members[i]` answered (`None`: not reporting).
    pub snapshots: Vec<Option<StatsSnapshot>>,
    /// Configured weights per service with versions.
    pub splits: BTreeMap<String, SplitWeights>,
}

impl Mesh {
    /// The mesh the command's target selects (connected, for a cluster).
    pub(crate) fn open(
        ctx: &Context<'_>,
        cluster: &KubeTargetArgs,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Mesh, CliError> {
        let target = ctx.target(Some(cluster))?;
        if target.chosen == Chosen::Kubernetes {
            let timeout = ctx.global.request_timeout.0;
            let cluster = runtime.block_on(target::cluster(cluster, timeout, &target.why))?;
            return Ok(Mesh::Kubernetes(Box::new(cluster)));
        }
        let state = ctx.state_dir(StateFor::Mesh)?;
        let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
        Ok(Mesh::Local { state, plan })
    }

    /// Where services are looked up, for usage errors (` in namespace NS`, or nothing).
    pub(crate) fn scope(&self) -> String {
        match self {
            Mesh::Local { .. } => String::new(),
            Mesh::Kubernetes(c) => format!(" in namespace {}", c.namespace),
        }
    }

    pub(crate) async fn read(&self, window: Duration) -> Result<Reading, CliError> {
        match self {
            Mesh::Local { state, plan } => Ok(Reading {
                fleet: Fleet::from_plan(plan),
                snapshots: snapshots(plan, window).await,
                splits: read_splits(state).map_err(anyhow::Error::new)?,
            }),
            Mesh::Kubernetes(cluster) => {
                let query = StatsQuery {
                    namespace: Some(cluster.namespace.clone()),
                    service: None,
                    version: None,
                    window,
                };
                let answer = mesh::proxy_stats(cluster, &query)
                    .await
                    .map_err(mesh_error)?;
                Ok(cluster_reading(answer))
            }
        }
    }
}

/// A cluster's answer as a reading. A pod no Service selects is named by its service
/// account (what its identity says), so it still shows and still names its calls.
fn cluster_reading(answer: ProxiesStats) -> Reading {
    let mut fleet = Fleet::default();
    let mut snapshots = Vec::with_capacity(answer.proxies.len());
    for p in answer.proxies {
        if let Some(e) = &p.error {
            tracing::info!(instance = %p.instance, error = %e, "proxy not reporting");
        }
        let service = if p.service.is_empty() {
            p.spiffe_id
                .rsplit_once("/sa/")
                .map_or_else(|| p.instance.clone(), |(_, sa)| sa.to_string())
        } else {
            p.service
        };
        fleet.members.push(Member {
            instance: p.instance,
            service,
            version: (!p.version.is_empty()).then_some(p.version),
            spiffe_id: p.spiffe_id,
        });
        snapshots.push(p.stats);
    }
    let splits = answer
        .splits
        .into_iter()
        .map(|s| (s.service, s.weights))
        .collect();
    Reading {
        fleet,
        snapshots,
        splits,
    }
}

/// Every proxy's snapshot, `None` for those that did not answer (they show in MESHED).
pub(crate) async fn snapshots(plan: &MeshPlan, window: Duration) -> Vec<Option<StatsSnapshot>> {
    fetch::all(plan, window)
        .await
        .into_iter()
        .map(|r| {
            r.map_err(|e| tracing::info!(error = %e, "proxy not reporting"))
                .ok()
        })
        .collect()
}

pub(crate) fn check_window(window: Duration) -> Result<Duration, CliError> {
    if window < MIN_WINDOW || window > MAX_WINDOW {
        return Err(CliError::usage(anyhow::anyhow!(
            "window {} is outside {}-{} (proxies keep {} of history)",
            HumanDuration(window),
            HumanDuration(MIN_WINDOW),
            HumanDuration(MAX_WINDOW),
            HumanDuration(MAX_WINDOW)
        )));
    }
    Ok(window)
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
    fn windows_outside_the_kept_history_are_refused() {
        assert!(check_window(Duration::from_secs(9)).is_err());
        assert!(check_window(Duration::from_secs(10)).is_ok());
        assert!(check_window(MAX_WINDOW + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_clusters_answer_names_every_pod_even_those_not_reporting() {
        use crate::kube::controller::proxies::{ProxyStats, ServiceSplit};
        let pod = |instance: &str, service: &str, version: &str, sa: &str| ProxyStats {
            instance: instance.into(),
            service: service.into(),
            version: version.into(),
            spiffe_id: format!("spiffe://mesh.local/ns/shop/sa/{sa}"),
            stats: Some(StatsSnapshot::default()),
            error: None,
        };
        let answer = ProxiesStats {
            proxies: vec![
                pod("shop/api-v1-0", "api", "v1", "api"),
                ProxyStats {
                    stats: None,
                    error: Some("connection refused".into()),
                    ..pod("shop/api-v2-0", "api", "v2", "api")
                },
                // No Service selects it: named by its service account.
                pod("shop/loadgen-0", "", "", "loadgen"),
            ],
            splits: vec![ServiceSplit {
                namespace: "shop".into(),
                service: "api".into(),
                weights: SplitWeights([("v1".to_string(), 90), ("v2".to_string(), 10)].into()),
            }],
        };
        let r = cluster_reading(answer);
        assert_eq!(r.fleet.services(), ["api", "loadgen"]);
        assert_eq!(r.fleet.versions("api"), ["v1", "v2"]);
        assert_eq!(r.fleet.versions("loadgen"), [""]);
        assert_eq!(r.snapshots.len(), 3, "one snapshot slot per pod");
        assert!(
            r.snapshots[1].is_none(),
            "the unreachable pod is not reporting"
        );
        assert_eq!(r.splits["api"].weight("v2"), 10);
        let rows = stat::rows(&r.fleet, &r.snapshots, &r.splits, &StatQuery::default());
        assert_eq!(rows[0].meshed.reporting, 1);
        assert_eq!(rows[0].meshed.proxies, 2);
        assert_eq!(rows[0].versions[1].weight, Some(10));
    }

    #[test]
    fn latencies_round_for_reading() {
        assert_eq!(round(123.4), "123");
        assert_eq!(round(1.84), "1.8");
        assert_eq!(round(0.25), "0.250");
    }
}
