//! `meshctl generate`: completions and man pages, generated from the CLI definition itself.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;

use super::Context;
use crate::cli::Cli;
use crate::exit::CliResult;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Write completion scripts for bash, zsh, fish and powershell into DIR
    Completions {
        #[arg(long, value_name = "DIR", default_value = "completions")]
        dir: PathBuf,
    },
    /// Write one man page per command and subcommand into DIR
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

fn completions(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
        clap_complete::generate_to(shell, &mut Cli::command(), "meshctl", dir)
            .with_context(|| format!("writing {shell} completions to {}", dir.display()))?;
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
