//! `meshctl`: parse → logging and colour → run → exit code.

use clap::Parser;

use meshctl::cli::Cli;
use meshctl::exit::code;

fn main() {
    // One crypto provider for every TLS client and server in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // The proxy is a daemon: its start-up, reload and drain lines (info) show by default.
    let verbose = match cli.command {
        meshctl::cli::Command::Proxy(_) => cli.global.verbose.max(1),
        _ => cli.global.verbose,
    };
    meshctl::cli::init_logging(verbose);
    meshctl::output::color::init(cli.global.no_color);
    let exit = match meshctl::cmd::run(cli) {
        Ok(()) => code::OK,
        Err(e) if e.is_broken_pipe() => code::OK,
        Err(e) => {
            if let Some(err) = &e.error {
                eprintln!("{} {err:#}", colored::Colorize::red("error:"));
            }
            e.code
        }
    };
    std::process::exit(exit);
}
