//! `meshctl proxy`: run the sidecar.

use super::Context;
use crate::exit::CliResult;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &mut Context<'_>, _args: Args) -> CliResult {
    Err(anyhow::anyhow!("the proxy is being built").into())
}
