//! `meshctl top`: the busiest routes through a service's proxies, live (full screen on a
//! terminal, `q` quits) or as one snapshot table when stdout is not a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::StreamExt;
use ratatui::Frame;
use ratatui::layout::Constraint;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Row, Table};

use super::Context;
use super::StateFor;
use super::target::{Chosen, KubeTargetArgs, cluster_mesh};
use crate::api::proto::tap as pb;
use crate::control::plan::MeshPlan;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::kube::controller::tap::TapQuery;
use crate::observe::fleet::Fleet;
use crate::observe::mesh::{MIN_WINDOW, Mesh};
use crate::observe::tap::{
    Events, TapSource, Tapped, admin_token, cluster_events, connect, known_target, not_reporting,
    record, select,
};
use crate::observe::top::{TopRow, TopTable};
use crate::output;

/// How often the live view redraws.
pub const REFRESH: Duration = Duration::from_millis(500);
/// Rows the live view and the snapshot show at most.
pub const MAX_ROWS: usize = 50;
/// Requests per second each proxy sends at most (top needs a sample, not every request).
pub const DEFAULT_MAX_RPS: u32 = 100;

const TOP_HELP: &str = "\
Routes are (source, destination, method, path), counted from the proxies' tap streams since
top started, one row per call: a call into a watched proxy is counted by that proxy (destination
SERVICE/VERSION), other calls by the caller's proxy (destination SERVICE): COUNT, BEST/WORST/LAST latency to the response head and SUCCESS (responses below
500). On a terminal the view refreshes in place (q, Esc or Ctrl-C quits); otherwise top watches
for --duration and prints one table (or JSON/YAML with -o).

On Kubernetes: the meshed pods of the namespace, tapped through a controller's /tap as for
`meshctl tap` (the Secret meshctl-tap's token; pods that cannot be tapped are named on stderr).

Examples:
  meshctl top
  meshctl top api
  meshctl top --duration 30s -o json > routes.json   # one snapshot, for a script
  meshctl top api -n shop

Exit codes:
  0  quit, or printed the snapshot
  1  no mesh is running, or a proxy refused or could not be reached (on Kubernetes: the API
     server or controller cannot be reached, or permission denied)
  2  usage error (unknown service or version)";

#[derive(Debug, clap::Args)]
#[command(after_help = TOP_HELP)]
pub struct Args {
    /// SERVICE or SERVICE/VERSION [default: every proxy]
    #[arg(add = super::complete::targets())]
    target: Option<String>,
    /// Requests per second each proxy reports at most
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RPS)]
    max_rps: u32,
    /// Without a terminal: how long to watch before printing the snapshot
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    duration: HumanDuration,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let runtime = super::client_runtime()?;
    let (fleet, watched, mut events) =
        if ctx.target(Some(&args.cluster))?.chosen == Chosen::Kubernetes {
            runtime.block_on(cluster_top(ctx, &args))?
        } else {
            local_top(ctx, &args, &runtime)?
        };
    let mut table = TopTable::watching(watched.iter().map(String::as_str));
    let mut silent = BTreeMap::new();
    let title = format!(
        " meshctl top {} — q quits ",
        args.target.as_deref().unwrap_or("(all)")
    );
    if !std::io::stdout().is_terminal() {
        let until = tokio::time::Instant::now() + args.duration.0;
        let result = runtime.block_on(collect(&mut events, &fleet, &mut table, &mut silent, until));
        tell_not_reporting(&silent);
        result?;
        let rows = table.top(MAX_ROWS);
        output::render(ctx.out, ctx.global.output, &rows, |_| snapshot_table(&rows))?;
        return Ok(());
    }
    let mut terminal = ratatui::init();
    let result = (|| -> CliResult {
        loop {
            let rows = table.top(MAX_ROWS);
            terminal.draw(|f| draw(f, &title, &rows))?;
            let until = tokio::time::Instant::now() + REFRESH;
            runtime.block_on(collect(&mut events, &fleet, &mut table, &mut silent, until))?;
            while event::poll(Duration::ZERO)? {
                if let Event::Key(key) = event::read()?
                    && quits(key)
                {
                    return Ok(());
                }
            }
        }
    })();
    ratatui::restore();
    // Not over the live view: once it is gone.
    tell_not_reporting(&silent);
    result
}

/// The local mesh: its proxies' taps, directly.
fn local_top(
    ctx: &Context<'_>,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> Result<(Fleet, Vec<String>, Events), CliError> {
    let state = ctx.state_dir(StateFor::Mesh)?;
    let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
    let fleet = Fleet::from_plan(&plan);
    let proxies: Vec<TapSource> = match &args.target {
        Some(t) => select(&plan, t)?,
        None => plan.proxies.iter().map(TapSource::from).collect(),
    };
    let token = admin_token(&state)?;
    let request = pb::WatchRequest {
        max_rps: args.max_rps,
        ..pb::WatchRequest::default()
    };
    let events = runtime.block_on(connect(&proxies, request, &token))?;
    let watched = proxies.iter().map(|p| p.service.clone()).collect();
    Ok((fleet, watched, events))
}

/// A cluster: the meshed pods of the namespace (all, or the target's), tapped through a
/// controller's `/tap`.
async fn cluster_top(
    ctx: &Context<'_>,
    args: &Args,
) -> Result<(Fleet, Vec<String>, Events), CliError> {
    let mesh = cluster_mesh(ctx, &args.cluster).await?;
    let Mesh::Kubernetes(cluster) = &mesh else {
        return Err(CliError::usage(anyhow::anyhow!("not a cluster")));
    };
    let fleet = mesh.read(MIN_WINDOW).await?.fleet;
    let (service, version) = match &args.target {
        Some(t) => {
            let (s, v) = known_target(&fleet, t, &mesh.scope())?;
            (Some(s), v)
        }
        None => (None, None),
    };
    let watched = fleet
        .members
        .iter()
        .filter(|m| service.as_ref().is_none_or(|s| *s == m.service))
        .filter(|m| {
            version
                .as_ref()
                .is_none_or(|v| m.version.as_ref() == Some(v))
        })
        .map(|m| m.service.clone())
        .collect();
    let query = TapQuery {
        namespace: Some(cluster.namespace.clone()),
        service,
        version,
        max_rps: Some(args.max_rps),
        ..TapQuery::default()
    };
    let events = cluster_events(cluster, &args.cluster.controller_namespace, &query).await?;
    Ok((fleet, watched, events))
}

fn tell_not_reporting(silent: &BTreeMap<String, String>) {
    for (proxy, reason) in silent {
        eprintln!("{}", not_reporting(proxy, reason));
    }
}

/// Folds events into `table` until `until` (or the streams end); proxies that cannot be
/// tapped are kept in `silent` with the reason.
async fn collect(
    events: &mut Events,
    fleet: &Fleet,
    table: &mut TopTable,
    silent: &mut BTreeMap<String, String>,
    until: tokio::time::Instant,
) -> Result<(), CliError> {
    loop {
        tokio::select! {
            next = events.next() => match next {
                Some(Ok(Tapped::Event(source, e))) => {
                    if let Some(r) = record(&source, e) {
                        table.add(fleet, &r);
                    }
                }
                Some(Ok(Tapped::NotReporting { proxy, reason })) => {
                    silent.insert(proxy, reason);
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            _ = tokio::time::sleep_until(until) => return Ok(()),
        }
    }
}

/// `q`, Esc and Ctrl-C (raw mode turns it into a key) quit.
fn quits(key: KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
}

const HEADERS: [&str; 9] = [
    "SOURCE",
    "DESTINATION",
    "METHOD",
    "PATH",
    "COUNT",
    "BEST",
    "WORST",
    "LAST",
    "SUCCESS",
];

fn cells(r: &TopRow) -> [String; 9] {
    [
        r.source.clone(),
        r.destination.clone(),
        r.method.clone(),
        r.path.clone(),
        r.count.to_string(),
        latency(r.best_us),
        latency(r.worst_us),
        latency(r.last_us),
        format!("{:.2}%", r.success_rate() * 100.0),
    ]
}

/// The live view: one table filling the frame.
fn draw(frame: &mut Frame<'_>, title: &str, rows: &[TopRow]) {
    let widths = [
        Constraint::Min(10),
        Constraint::Min(12),
        Constraint::Length(7),
        Constraint::Min(16),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    let table = Table::new(rows.iter().map(|r| Row::new(cells(r))), widths)
        .header(Row::new(HEADERS).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(title.to_string()),
        );
    frame.render_widget(table, frame.area());
}

fn snapshot_table(rows: &[TopRow]) -> comfy_table::Table {
    let mut t = output::table(HEADERS);
    for r in rows {
        t.add_row(cells(r).to_vec());
    }
    t
}

/// µs below 1 ms, ms (one decimal) above.
fn latency(us: u64) -> String {
    if us < 1000 {
        format!("{us}µs")
    } else {
        format!("{:.1}ms", us as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;

    fn rows() -> Vec<TopRow> {
        vec![
            TopRow {
                source: "web".into(),
                destination: "api/v1".into(),
                method: "GET".into(),
                path: "/users".into(),
                count: 42,
                successes: 40,
                best_us: 850,
                worst_us: 31_200,
                last_us: 1_830,
            },
            TopRow {
                source: "web".into(),
                destination: "api/v2".into(),
                method: "POST".into(),
                path: "/orders".into(),
                count: 7,
                successes: 7,
                best_us: 2_100,
                worst_us: 4_000,
                last_us: 2_500,
            },
        ]
    }

    #[test]
    fn the_live_view_renders() {
        let mut terminal = Terminal::new(TestBackend::new(100, 6)).unwrap();
        terminal
            .draw(|f| draw(f, " meshctl top api — q quits ", &rows()))
            .unwrap();
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn q_esc_and_ctrl_c_quit_other_keys_do_not() {
        assert!(quits(KeyEvent::from(KeyCode::Char('q'))));
        assert!(quits(KeyEvent::from(KeyCode::Esc)));
        assert!(quits(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        )));
        assert!(!quits(KeyEvent::from(KeyCode::Char('c'))));
        assert!(!quits(KeyEvent::from(KeyCode::Down)));
    }

    #[test]
    fn latencies_read_well() {
        assert_eq!(latency(999), "999µs");
        assert_eq!(latency(1830), "1.8ms");
    }
}
