//! `meshctl down`: stop the mesh `meshctl up --detach` started (drains it first).

use std::time::{Duration, Instant};

use super::Context;
use super::StateFor;
use crate::exit::CliResult;

/// How long `down` waits for the mesh to drain and exit.
pub const DOWN_TIMEOUT: Duration = Duration::from_secs(60);

const DOWN_HELP: &str = "\
Exit codes:
  0  the mesh drained and stopped
  1  no mesh is running here, or it did not stop within 60 s";

#[derive(Debug, clap::Args)]
#[command(after_help = DOWN_HELP)]
pub struct Args {}

pub fn run(ctx: &mut Context<'_>, _args: Args) -> CliResult {
    let state = ctx.state_dir(StateFor::Mesh)?;
    let Some(pid) = crate::control::launch::running_pid(&state) else {
        return Err(anyhow::anyhow!("no mesh is running from {}", state.display()).into());
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
        .map_err(|e| anyhow::anyhow!("signalling the mesh (pid {pid}): {e}"))?;
    let start = Instant::now();
    while nix::sys::signal::kill(pid, None).is_ok() {
        if start.elapsed() > DOWN_TIMEOUT {
            return Err(anyhow::anyhow!(
                "the mesh (pid {pid}) did not stop within {DOWN_TIMEOUT:?}"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    writeln!(ctx.out, "stopped the mesh in {}", state.display())?;
    Ok(())
}
