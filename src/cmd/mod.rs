//! One module per subcommand: each has `Args` (clap) and `run`; the only code that prints.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::observe::mesh::MIN_WINDOW;
use crate::proxy::telemetry::stats::MAX_WINDOW;

pub mod canary;
pub mod certs;
pub mod check;
pub mod check_kube;
pub mod check_mesh;
pub mod complete;
pub mod controller;
pub mod demo_app;
pub mod down;
pub mod edges;
pub mod explain;
pub mod fault;
mod fault_kube;
pub mod gateway;
pub mod generate;
pub mod inject;
pub mod install;
pub mod prometheus_config;
pub mod proxy;
pub mod stat;
pub mod status;
pub mod tap;
pub mod target;
pub mod top;
pub mod uninstall;
pub mod up;
pub mod version;

/// What every command gets: the global flags, the working directory and stdout.
pub struct Context<'a> {
    pub global: GlobalArgs,
    pub cwd: PathBuf,
    pub out: &'a mut dyn Write,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("global", &self.global)
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

/// What a command needs the state directory for, which decides the hint when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFor {
    /// A running local mesh (`meshctl up`).
    Mesh,
    /// The mesh's certificate authority (`meshctl certs init`), running or not.
    Ca,
}

impl Context<'_> {
    /// The state directory: `--state-dir` / `MESHCTL_STATE_DIR`, else the nearest `.meshctl/`
    /// from the working directory upward; an error with a hint when there is none.
    pub fn state_dir(&self, purpose: StateFor) -> Result<PathBuf, CliError> {
        crate::state::find(self.global.state_dir.as_deref(), &self.cwd).ok_or_else(|| {
            let cwd = self.cwd.display();
            CliError::from(match purpose {
                StateFor::Mesh => anyhow::anyhow!(
                    "no mesh is running: no .meshctl/ in {cwd} or above \
                     (start one with `meshctl up`, or pass --state-dir)"
                ),
                StateFor::Ca => anyhow::anyhow!(
                    "no state directory: no .meshctl/ in {cwd} or above \
                     (run `meshctl certs init`, or pass --state-dir)"
                ),
            })
        })
    }
}

/// Reads an input file named on the command line (`up -f`, `certs inspect FILE`, `--config`,
/// `--token-file`, `--issuer-cert` …). One rule for all of them: a file that is missing or
/// unreadable is a usage error, exit 2 — the argument is wrong — like an invalid one.
pub fn read_input_file(what: &str, path: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(anyhow::anyhow!("reading {what}{}: {e}", path.display())))
}

/// Checks `--window` (stat, edges): proxies keep [`MAX_WINDOW`] of history, and below
/// [`MIN_WINDOW`] a handful of requests swings every figure. Out of range is a usage error.
pub fn check_window(window: std::time::Duration) -> Result<std::time::Duration, CliError> {
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

/// The runtime a command's client calls (control plane, proxies' admin listeners) run on:
/// one thread, timers and I/O enabled.
pub fn client_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs the parsed command line, writing data to stdout.
pub fn run(cli: Cli) -> CliResult {
    let cwd = std::env::current_dir()?;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let mut ctx = Context {
        global: cli.global,
        cwd,
        out: &mut lock,
    };
    let result = match cli.command {
        Command::Canary(args) => canary::run(&mut ctx, args),
        Command::Fault(args) => fault::run(&mut ctx, args),
        Command::Certs(args) => certs::run(&mut ctx, args),
        Command::Check(args) => check::run(&mut ctx, args),
        Command::Controller(args) => controller::run(&mut ctx, args),
        Command::Proxy(args) => proxy::run(&mut ctx, *args),
        Command::Generate(args) => generate::run(&mut ctx, args),
        Command::Completion(args) => generate::run_completion(&mut ctx, args),
        Command::Version(args) => version::run(&mut ctx, args),
        Command::PrometheusConfig(args) => prometheus_config::run(&mut ctx, args),
        Command::Gateway(args) => gateway::run(&mut ctx, args),
        Command::DemoApp(args) => demo_app::run(&mut ctx, args),
        Command::Up(args) => up::run(&mut ctx, args),
        Command::Demo(args) => up::run(&mut ctx, up::Args::demo(args)),
        Command::Down(args) => ctx
            .local_only("down")
            .and_then(|()| down::run(&mut ctx, args)),
        Command::Status(args) => status::run(&mut ctx, args),
        Command::Stat(args) => stat::run(&mut ctx, args),
        Command::Edges(args) => edges::run(&mut ctx, args),
        Command::Explain(args) => explain::run(&mut ctx, args),
        Command::Tap(args) => tap::run(&mut ctx, args),
        Command::Top(args) => top::run(&mut ctx, args),
        Command::Install(args) => install::run(&mut ctx, *args),
        Command::Uninstall(args) => uninstall::run(&mut ctx, args),
        Command::Inject(args) => inject::run_inject(&mut ctx, args),
        Command::Uninject(args) => inject::run_uninject(&mut ctx, args),
    };
    // A failed flush of stdout is a failure too (and a broken pipe exits 0 in main).
    result.and_then(|()| ctx.out.flush().map_err(Into::into))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn windows_outside_the_kept_history_are_refused() {
        assert!(check_window(Duration::from_secs(9)).is_err());
        assert!(check_window(Duration::from_secs(10)).is_ok());
        assert!(check_window(MAX_WINDOW + Duration::from_secs(1)).is_err());
    }
}
