//! One module per subcommand: each has `Args` (clap) and `run`; the only code that prints.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::CliResult;

pub mod canary;
pub mod canary_rollout;
pub mod certs;
pub mod check;
pub mod check_kube;
pub mod controller;
pub mod demo_app;
pub mod down;
pub mod edges;
pub mod fault;
pub mod generate;
pub mod install;
pub mod proxy;
pub mod proxy_certs;
pub mod rotate;
pub mod stat;
pub mod status;
pub mod tap;
pub mod top;
pub mod uninstall;
pub mod up;

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
        Command::DemoApp(args) => demo_app::run(&mut ctx, args),
        Command::Up(args) => up::run(&mut ctx, args),
        Command::Demo => up::run(&mut ctx, up::Args::demo()),
        Command::Down(args) => down::run(&mut ctx, args),
        Command::Status(args) => status::run(&mut ctx, args),
        Command::Stat(args) => stat::run(&mut ctx, args),
        Command::Edges(args) => edges::run(&mut ctx, args),
        Command::Tap(args) => tap::run(&mut ctx, args),
        Command::Top(args) => top::run(&mut ctx, args),
        Command::Install(args) => install::run(&mut ctx, *args),
        Command::Uninstall(args) => uninstall::run(&mut ctx, args),
    };
    // A failed flush of stdout is a failure too (and a broken pipe exits 0 in main).
    result.and_then(|()| ctx.out.flush().map_err(Into::into))
}
