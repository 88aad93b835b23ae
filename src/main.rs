//! `meshctl`: parse → logging and colour → run → exit code.

use clap::{CommandFactory as _, Parser};

use meshctl::cli::Cli;
use meshctl::exit::code;

fn main() {
    // `COMPLETE=bash meshctl`: a shell asking for completions (or their registration script);
    // answered here and exits. Without COMPLETE set this returns at once.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    // One crypto provider for every TLS client and server in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::try_parse().unwrap_or_else(|e| usage_failed(e));
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
                let line = meshctl::exit::one_line(err);
                eprintln!("{} {line}", colored::Colorize::red("error:"));
            }
            e.code
        }
    };
    std::process::exit(exit);
}

/// clap's own usage errors as one line (its message, tips included, without the usage block
/// and the "For more information" hint), exit code 2; help and version print as clap prints
/// them.
fn usage_failed(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    if e.kind() == ErrorKind::InvalidSubcommand
        && let Some(clap::error::ContextValue::String(verb)) =
            e.get(clap::error::ContextKind::InvalidSubcommand)
        && let Some(line) = meshctl::cli::unbuilt_verb(verb)
    {
        eprintln!("{line}");
        std::process::exit(code::USAGE);
    }
    let text = e.render().to_string();
    let line: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!("{}", line.join(" "));
    std::process::exit(code::USAGE);
}
