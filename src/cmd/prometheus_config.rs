//! `meshctl prometheus-config`: a Prometheus scrape job for the local mesh's proxies, reading
//! the `file_sd` targets file `meshctl up` keeps current.

use super::{Context, StateFor};
use crate::control::scrape;
use crate::exit::{CliError, CliResult};

const PROMETHEUS_CONFIG_HELP: &str = "\
Prints a complete prometheus.yml (one scrape job) on stdout; merge its job into your own
configuration or run Prometheus with it as is. The job reads .meshctl/run/prometheus-targets.json
(Prometheus file_sd): `meshctl up` writes every proxy's admin listener there, labelled
service, version and instance, rewrites it when a mesh starts and empties it when it stops,
so Prometheus follows the mesh without a reload. The mesh need not be running.

Examples:
  meshctl prometheus-config > prometheus.yml && prometheus --config.file=prometheus.yml
  meshctl prometheus-config --job-name dev-mesh --interval 5s";

#[derive(Debug, clap::Args)]
#[command(after_help = PROMETHEUS_CONFIG_HELP)]
pub struct Args {
    /// The scrape job's name (Prometheus' `job` label)
    #[arg(long, value_name = "NAME", default_value = scrape::DEFAULT_JOB)]
    job_name: String,
    /// How often Prometheus scrapes each proxy (whole seconds)
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    interval: crate::duration::HumanDuration,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let interval = args.interval.0.as_secs();
    if interval == 0 {
        return Err(CliError::usage(anyhow::anyhow!(
            "--interval must be at least 1s"
        )));
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    // Prometheus resolves a relative path against its own config file: always absolute.
    let state = if state.is_absolute() {
        state
    } else {
        ctx.cwd.join(state)
    };
    let text = scrape::scrape_config(&scrape::path(&state), &args.job_name, interval);
    ctx.out.write_all(text.as_bytes())?;
    Ok(())
}
