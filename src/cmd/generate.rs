//! `meshctl generate`: completions and man pages, generated from the CLI definition itself;
//! and `meshctl completion SHELL`, one completion script on stdout.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{CommandFactory, Subcommand};
use clap_complete::{Generator as _, Shell};

use super::Context;
use crate::cli::Cli;
use crate::exit::CliResult;

const GENERATE_HELP: &str = "\
Examples:
  meshctl generate completions --dir completions
  meshctl generate man --dir man";

#[derive(Debug, clap::Args)]
#[command(after_help = GENERATE_HELP)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Write completion scripts for bash, zsh, fish and powershell into DIR
    #[command(after_help = "Examples:\n  meshctl generate completions --dir completions")]
    Completions {
        #[arg(long, value_name = "DIR", default_value = "completions")]
        dir: PathBuf,
    },
    /// Write one man page per command and subcommand into DIR
    #[command(after_help = "Examples:\n  meshctl generate man --dir man")]
    Man {
        #[arg(long, value_name = "DIR", default_value = "man")]
        dir: PathBuf,
    },
}

pub fn run(_ctx: &mut Context<'_>, args: Args) -> CliResult {
    match args.what {
        What::Completions { dir } => completions(&dir)?,
        What::Man { dir } => man_pages(&dir)?,
    }
    Ok(())
}

/// The shells meshctl has completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl CompletionShell {
    fn shell(self) -> Shell {
        match self {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

const COMPLETION_HELP: &str = "\
These scripts complete commands, flags and their fixed values. Registered with COMPLETE=SHELL
instead, completion calls back into meshctl on each TAB and also offers the service and
version names of the local mesh (found from the current directory upward, or
MESHCTL_STATE_DIR) to stat, tap, top, fault and canary; source it anew in each shell, so that
it always matches the installed meshctl.

Examples:
  # bash, this shell only
  source <(meshctl completion bash)
  # bash, every new shell
  meshctl completion bash > ~/.local/share/bash-completion/completions/meshctl
  # zsh (a directory on $fpath)
  meshctl completion zsh > \"${fpath[1]}/_meshctl\"
  # fish
  meshctl completion fish > ~/.config/fish/completions/meshctl.fish
  # PowerShell
  meshctl completion powershell | Out-String | Invoke-Expression
  # with the mesh's service and version names (bash, zsh; fish: COMPLETE=fish meshctl | source)
  source <(COMPLETE=bash meshctl)
  source <(COMPLETE=zsh meshctl)";

/// `meshctl completion SHELL`.
#[derive(Debug, clap::Args)]
#[command(after_help = COMPLETION_HELP)]
pub struct CompletionArgs {
    /// The shell to write the completion script for
    #[arg(value_enum)]
    shell: CompletionShell,
}

/// `meshctl completion SHELL`: the script on stdout (the same one `generate completions`
/// writes to a file).
pub fn run_completion(ctx: &mut Context<'_>, args: CompletionArgs) -> CliResult {
    completion(args.shell, ctx.out)?;
    Ok(())
}

/// The completion script for `shell`, generated from the CLI definition.
fn completion(shell: CompletionShell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell.shell(), &mut Cli::command(), "meshctl", &mut script);
    out.write_all(&script)
}

fn completions(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for shell in [
        CompletionShell::Bash,
        CompletionShell::Zsh,
        CompletionShell::Fish,
        CompletionShell::Powershell,
    ] {
        let path = dir.join(shell.shell().file_name("meshctl"));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&path)?;
            completion(shell, &mut file)
        };
        write().with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn man_pages(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    write_pages(&cmd, "meshctl", dir)
}

/// One page per visible command, named like git's: `meshctl-certs-issue.1`.
fn write_pages(cmd: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<()> {
    let page = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
