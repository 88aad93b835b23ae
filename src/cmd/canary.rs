//! `meshctl canary`: weighted traffic splits across a service's versions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use super::Context;
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::backend::read_splits;
use crate::control::plan::MeshPlan;
use crate::control::split::SplitWeights;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::output;

/// `canary shift --wait` ran out of time before every proxy acknowledged.
pub const EXIT_TIMEOUT: i32 = 4;

const SHIFT_HELP: &str = "\
How weights spread: --to VERSION gets exactly --weight; the rest (100 - weight) is shared by the
other versions in proportion to their current weights (evenly if they all have 0). Weights
always sum to 100 and are persisted in .meshctl/splits.json.

Exit codes:
  0  the split is set (and, with --wait, every proxy calling the service applied it)
  1  failure (no mesh running, control plane unreachable)
  2  usage error (unknown service or version, weight outside 0-100)
  4  --wait timed out; the split is set but some proxies have not acknowledged it (named)";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Canary,
}

#[derive(Debug, Subcommand)]
enum Canary {
    /// Set the traffic split now: send --weight percent of SERVICE's traffic to --to VERSION
    #[command(after_help = SHIFT_HELP)]
    Shift(ShiftArgs),
    /// Show the configured split weights
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
struct ShiftArgs {
    /// The service whose traffic is split
    service: String,
    /// The version that gets --weight
    #[arg(long, value_name = "VERSION")]
    to: String,
    /// Percent of traffic for --to (0-100)
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100), allow_hyphen_values = true)]
    weight: u32,
    /// Return only once every proxy calling the service acknowledged the new split
    #[arg(long)]
    wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    timeout: HumanDuration,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// Only this service
    service: Option<String>,
}

/// One service's split: the JSON/YAML shape of `canary shift` and `canary status`.
#[derive(Debug, Serialize)]
struct SplitView {
    service: String,
    weights: BTreeMap<String, u32>,
}

#[derive(Debug, Serialize)]
struct ShiftReport {
    #[serde(flatten)]
    split: SplitView,
    config_version: u64,
    acknowledged: bool,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    match args.command {
        Canary::Shift(a) => shift(ctx, a),
        Canary::Status(a) => status(ctx, a),
    }
}

fn state_dir(ctx: &Context<'_>) -> Result<PathBuf, CliError> {
    crate::state::find(ctx.global.state_dir.as_deref(), &ctx.cwd).ok_or_else(|| {
        CliError::from(anyhow::anyhow!(
            "no mesh is running: no .meshctl/ in {} or above (start one with `meshctl up`)",
            ctx.cwd.display()
        ))
    })
}

fn admin_error(e: AdminError) -> CliError {
    match e {
        AdminError::Timeout { .. } => CliError::new(e.into(), EXIT_TIMEOUT),
        other => CliError::from(anyhow::Error::new(other)),
    }
}

fn shift(ctx: &mut Context<'_>, a: ShiftArgs) -> CliResult {
    let state = state_dir(ctx)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The gRPC channel is created inside the runtime it will run on.
    let _entered = runtime.enter();
    let mut admin = MeshAdmin::open(&state).map_err(admin_error)?;
    let versions = known_versions(&admin.plan, &a.service)?;
    let current = read_splits(&state)
        .remove(&a.service)
        .unwrap_or_else(|| SplitWeights::initial(&versions));
    let next = current
        .shift(&a.service, &versions, &a.to, a.weight)
        .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;

    let (version, acknowledged) = runtime
        .block_on(async {
            let version = admin.set_split(&a.service, &next).await?;
            if a.wait {
                admin
                    .wait_for_acks(&a.service, version, a.timeout.0)
                    .await?;
            }
            Ok::<_, AdminError>((version, a.wait))
        })
        .map_err(admin_error)?;

    let report = ShiftReport {
        split: SplitView {
            service: a.service,
            weights: next.0,
        },
        config_version: version,
        acknowledged,
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        split_table(std::slice::from_ref(&report.split))
    })?;
    Ok(())
}

fn known_versions(plan: &MeshPlan, service: &str) -> Result<Vec<String>, CliError> {
    let versions = plan.versions(service);
    if versions.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "unknown service `{service}` (services: {})",
            plan.services().join(", ")
        )));
    }
    Ok(versions)
}

fn status(ctx: &mut Context<'_>, a: StatusArgs) -> CliResult {
    let state = state_dir(ctx)?;
    let mut splits = read_splits(&state);
    // With a running mesh, services that were never shifted show their default split too.
    if let Ok(plan) = MeshPlan::load(&state) {
        for svc in plan.services() {
            let versions = plan.versions(&svc);
            if versions.len() > 1 {
                splits
                    .entry(svc)
                    .or_insert_with(|| SplitWeights::initial(&versions));
            }
        }
        if let Some(s) = &a.service {
            known_versions(&plan, s)?;
        }
    }
    let views: Vec<SplitView> = splits
        .into_iter()
        .filter(|(svc, _)| a.service.as_ref().is_none_or(|s| s == svc))
        .map(|(service, w)| SplitView {
            service,
            weights: w.0,
        })
        .collect();
    #[derive(Serialize)]
    struct Status<'a> {
        splits: &'a [SplitView],
    }
    output::render(
        ctx.out,
        ctx.global.output,
        &Status { splits: &views },
        |_| split_table(&views),
    )?;
    Ok(())
}

fn split_table(views: &[SplitView]) -> comfy_table::Table {
    let mut t = output::table(["SERVICE", "VERSION", "WEIGHT"]);
    for v in views {
        for (version, weight) in &v.weights {
            t.add_row(vec![
                v.service.clone(),
                version.clone(),
                format!("{weight}%"),
            ]);
        }
    }
    t
}
