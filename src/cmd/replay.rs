//! `meshctl replay`: a HAR file's requests sent again through a meshed caller's proxy, to one
//! version or to two with their answers compared.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::target::Chosen;
use super::{Context, StateFor};
use crate::control::plan::MeshPlan;
use crate::exit::{CliError, CliResult};
use crate::observe::replay::diff::Comparison;
use crate::observe::replay::{
    self, DEFAULT_RATE, MAX_RATE, Plan, ReplayError, Replayed, Report, Target,
};
use crate::output;

/// `--diff` found differences ("check failed" style, as `certs status --fail-within`).
const DIFFERENCES_FOUND: i32 = 3;

const REPLAY_HELP: &str = "\
Sends the requests of a HAR file (from `meshctl tap --har`, or a browser's) again, through a
meshed caller's proxy: its outbound listener for the --to service, so the mesh's identity,
mTLS, policies, metrics and tap apply as for any call (never around the mesh). The caller is
--from, else the one service that has the target as an upstream. --to SERVICE/VERSION pins
the version with the `x-meshctl-version` request header, which the caller's proxy honours
over the split and header routes (and removes).

Requests go one at a time, at most --rate per second (at most 100). Entries the file
recorded as sent to another service, gRPC calls, and requests whose body was not captured
whole (tap with --body) are skipped and counted with their reason. Headers the tap redacted
are not sent (the request goes without them); redacted body fields are sent as recorded.

--diff SERVICE/VERSION sends each request to that version too and compares the two answers:
status, headers (except per-request ones: date, x-request-id, traceparent, server-timing,
content-length, ...; add more with --ignore-header) and bodies (JSON-equal when both are
JSON, less --ignore-field JSON pointers; else byte for byte). The table lists each
difference; -o json is one object with every request and its differences.

Not on Kubernetes: replay sends through a local mesh's proxies.

Examples:
  meshctl replay api.har --to api/v1
  meshctl replay api.har --to api/v1 --diff api/v2 --ignore-field /price_cents
  meshctl replay api.har --to api --from web --rate 50 -o json
  meshctl replay api.har --to api/v1 --diff api/v2 --ignore-header etag

Exit codes:
  0  every request replayed (with --diff: every pair of answers the same)
  1  no mesh is running, or the caller's proxy could not be reached
  2  usage error: the file unreadable or not HAR, an unknown service or version, no caller
     or several (--from), a Kubernetes target
  3  --diff: some answers differ";

#[derive(Debug, clap::Args)]
#[command(after_help = REPLAY_HELP)]
pub struct Args {
    /// The HAR file whose requests to send
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// SERVICE or SERVICE/VERSION to send the requests to
    #[arg(long, value_name = "SERVICE[/VERSION]", add = super::complete::targets())]
    to: Target,
    /// The caller whose proxy sends them: a service, or an instance (`api.v1`)
    #[arg(long, value_name = "CALLER")]
    from: Option<String>,
    /// Requests per second at most
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RATE,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RATE)))]
    rate: u32,
    /// Also send each request to this version of the service and compare the answers
    #[arg(long, value_name = "SERVICE/VERSION", add = super::complete::targets())]
    diff: Option<Target>,
    /// A response header not to compare (repeatable; added to the per-request defaults)
    #[arg(long, value_name = "NAME", requires = "diff")]
    ignore_header: Vec<String>,
    /// A JSON body field not to compare, as a JSON pointer like /price_cents (repeatable)
    #[arg(long, value_name = "POINTER", requires = "diff")]
    ignore_field: Vec<String>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let resolved = ctx.target(None)?;
    if resolved.chosen == Chosen::Kubernetes {
        return Err(CliError::usage(anyhow::anyhow!(
            "replay sends through a local mesh's proxies; the target is Kubernetes ({})",
            resolved.why
        )));
    }
    let comparison = Comparison::new(&args.ignore_header, &args.ignore_field)
        .map_err(|e| CliError::usage(anyhow::anyhow!(e)))?;
    let har = replay::load(&args.file).map_err(replay_error)?;
    let state = ctx.state_dir(StateFor::Mesh)?;
    let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
    replay::check_target(&plan, &args.to, "--to").map_err(replay_error)?;
    if let Some(diff) = &args.diff {
        check_diff(&args.to, diff)?;
        replay::check_target(&plan, diff, "--diff").map_err(replay_error)?;
    }
    let caller =
        replay::caller(&plan, &args.to.service, args.from.as_deref()).map_err(replay_error)?;
    let plan = Plan {
        file: args.file.clone(),
        caller,
        to: args.to.clone(),
        diff: args.diff.clone(),
        rate: args.rate,
        comparison,
    };
    let runtime = super::client_runtime()?;
    let progress = std::io::stderr().is_terminal() && !ctx.global.output.is_structured();
    let report = runtime
        .block_on(replay::run(&plan, &har, |r: &Replayed| {
            if progress {
                eprint!("\rreplayed entry {}", r.entry);
            }
        }))
        .map_err(replay_error)?;
    if progress {
        eprint!("\r\x1b[K");
    }
    let format = ctx.global.output;
    output::render(ctx.out, format, &report, |wide| table(&report, wide))?;
    if !format.is_structured() {
        writeln!(ctx.out, "{}", summary(&report))?;
    }
    if report.differing > 0 {
        return Err(CliError::silent(DIFFERENCES_FOUND));
    }
    Ok(())
}

/// `--diff` names another version of the `--to` service.
fn check_diff(to: &Target, diff: &Target) -> CliResult {
    if diff.service != to.service || diff.version.is_none() {
        return Err(CliError::usage(anyhow::anyhow!(
            "--diff {diff}: expected a version of the --to service, like {}/v2",
            to.service
        )));
    }
    Ok(())
}

fn replay_error(e: ReplayError) -> CliError {
    if e.is_usage() {
        CliError::usage(e)
    } else {
        CliError::from(anyhow::Error::new(e))
    }
}

/// Without --diff: one row per request; with it: one row per difference.
fn table(r: &Report, wide: bool) -> comfy_table::Table {
    match &r.diff {
        None => {
            let mut headers = vec!["ENTRY", "METHOD", "PATH", "RECORDED", "STATUS", "TIME"];
            if wide {
                headers.extend(["BYTES", "NOT SENT"]);
            }
            let mut t = output::table(headers);
            for q in &r.requests {
                let mut row = vec![
                    q.entry.to_string(),
                    q.method.clone(),
                    q.path.clone(),
                    q.recorded_status.map_or("-".into(), |s| s.to_string()),
                    answer(&q.to),
                    format!("{}ms", q.to.ms),
                ];
                if wide {
                    row.push(q.to.bytes.to_string());
                    row.push(q.redacted_headers.join(","));
                }
                t.add_row(row);
            }
            t
        }
        Some(diff) => {
            let (to, diff) = (r.to.to_uppercase(), diff.to_uppercase());
            let mut t = output::table(["ENTRY", "METHOD", "PATH", "WHAT", &to, &diff]);
            for q in &r.requests {
                for d in &q.differences {
                    let what = match &d.name {
                        Some(name) => format!("{} {name}", d.what),
                        None => d.what.to_string(),
                    };
                    t.add_row([
                        q.entry.to_string(),
                        q.method.clone(),
                        q.path.clone(),
                        what,
                        d.to.clone(),
                        d.diff.clone(),
                    ]);
                }
            }
            t
        }
    }
}

fn answer(a: &replay::AnswerSummary) -> String {
    match (a.status, &a.error) {
        (Some(s), _) => s.to_string(),
        (None, Some(e)) => format!("error: {e}"),
        (None, None) => "-".into(),
    }
}

/// The line under the table: what was sent, what differed, what was skipped and why.
fn summary(r: &Report) -> String {
    let mut line = format!(
        "replayed {} of {} entries through {}'s proxy to {}",
        r.replayed, r.entries, r.from, r.to
    );
    if let Some(diff) = &r.diff {
        line.push_str(&format!(
            " and {diff}: {}",
            match r.differing {
                0 => "no differences".to_string(),
                n => format!("{n} differ"),
            }
        ));
    }
    if !r.skipped.is_empty() {
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &r.skipped {
            *reasons.entry(s.reason.as_str()).or_default() += 1;
        }
        let reasons: Vec<String> = reasons
            .into_iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        line.push_str(&format!(
            "; skipped {}: {}",
            r.skipped.len(),
            reasons.join("; ")
        ));
    }
    line
}
