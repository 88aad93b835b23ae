//! `meshctl down`: stop the mesh `meshctl up --detach` started (drains it first).

use std::time::{Duration, Instant};

use super::Context;
use super::StateFor;
use crate::exit::CliResult;

/// How long `down` waits for the mesh to drain and exit.
pub const DOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `down` checks whether the mesh has exited.
const DOWN_POLL: Duration = Duration::from_millis(20);

const DOWN_HELP: &str = "\
Idempotent, for CI teardown: with no mesh running here it says so and exits 0.
Returns as soon as the mesh's process has exited (an idle mesh: well under a second), not
when whatever adopted it (PID 1, often slow to reap in a container) has reaped it.

Examples:
  meshctl down
  meshctl down --state-dir /tmp/ci/.meshctl    # the mesh another directory started

Exit codes:
  0  the mesh drained and stopped, or none was running
  1  it did not stop within 60 s, or could not be signalled";

#[derive(Debug, clap::Args)]
#[command(after_help = DOWN_HELP)]
pub struct Args {}

pub fn run(ctx: &mut Context<'_>, _args: Args) -> CliResult {
    let Ok(state) = ctx.state_dir(StateFor::Mesh) else {
        writeln!(
            ctx.out,
            "no mesh is running: no .meshctl/ in {} or above (nothing to stop)",
            ctx.cwd.display()
        )?;
        return Ok(());
    };
    let Some(pid) = crate::control::launch::running_pid(&state) else {
        writeln!(
            ctx.out,
            "no mesh is running from {} (nothing to stop)",
            state.display()
        )?;
        return Ok(());
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
        .map_err(|e| anyhow::anyhow!("signalling the mesh (pid {pid}): {e}"))?;
    let start = Instant::now();
    // Until it has exited, not until it is reaped: its parent is whoever adopted the
    // detached `up` (PID 1 or a subreaper), which may reap it late or never.
    while crate::supervise::process_is_live(pid.as_raw()) {
        if start.elapsed() > DOWN_TIMEOUT {
            return Err(anyhow::anyhow!(
                "the mesh (pid {pid}) did not stop within {DOWN_TIMEOUT:?}"
            )
            .into());
        }
        std::thread::sleep(DOWN_POLL);
    }
    writeln!(ctx.out, "stopped the mesh in {}", state.display())?;
    Ok(())
}
