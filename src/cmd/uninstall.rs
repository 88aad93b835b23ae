//! `meshctl uninstall`: lists (or with `--apply` deletes, waiting until each is gone)
//! everything `meshctl install` created, found by its `app.kubernetes.io/part-of=meshctl`
//! label.

use serde::Serialize;

use super::Context;
use super::install::runtime_result;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::kube::client::{self, KubeArgs};
use crate::kube::uninstall::{self, Found};

const UNINSTALL_HELP: &str = "\
Objects are found by the label app.kubernetes.io/part-of=meshctl only, never by name. The
Gateway API HTTPRoute CRD is deleted only with --crds (deleting it deletes every HTTPRoute).
--apply refuses while pods with a sidecar (label meshctl.io/sidecar) exist, unless --force.

Examples:
  meshctl uninstall                            # list what --apply would delete
  meshctl uninstall --apply
  meshctl uninstall --apply --force --crds --timeout 5m

Exit codes:
  0  listed, or deleted and gone
  1  meshed pods exist (without --force), or the cluster refused or could not be reached
  2  usage error
  4  --apply: something was not gone within --timeout (its finalizers are named)";

#[derive(Debug, clap::Args)]
#[command(after_help = UNINSTALL_HELP)]
pub struct Args {
    /// Delete the objects (default: only list them)
    #[arg(long)]
    apply: bool,
    /// Delete even while meshed pods exist
    #[arg(long, requires = "apply")]
    force: bool,
    /// Also delete the HTTPRoute CRD if meshctl installed it
    #[arg(long)]
    crds: bool,
    /// How long to wait for the deleted objects to be gone
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    timeout: HumanDuration,
    #[command(flatten)]
    kube: KubeArgs,
}

#[derive(Debug, Serialize)]
struct Listing<'a> {
    objects: &'a [Found],
    meshed_pods: &'a [String],
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (found, meshed, target) = runtime_result(runtime.block_on(async {
        let (client, target) = client::connect(&args.kube).await?;
        let found = uninstall::find(&client, &target, args.crds).await?;
        let meshed = uninstall::meshed_pods(&client, &target).await?;
        if args.apply {
            if !meshed.is_empty() && !args.force {
                return Err(uninstall::refuse_meshed(&meshed));
            }
            let bar = crate::output::step_bar(found.len() as u64, false)?;
            let deleted = uninstall::delete_all(
                &client,
                &target,
                &found,
                args.timeout.0,
                std::time::Duration::from_secs(1),
                |f| {
                    bar.println(format!("√ deleted {}", f.describe()));
                    bar.inc(1);
                },
            )
            .await;
            bar.finish_and_clear();
            deleted?;
        }
        Ok((found, meshed, target))
    }))?;
    if args.apply {
        writeln!(ctx.out, "deleted {} objects ({target})", found.len())?;
        return Ok(());
    }
    if !meshed.is_empty() {
        eprintln!(
            "meshctl uninstall: {} meshed pod(s) exist; --apply refuses until their sidecars are removed (or --force)",
            meshed.len()
        );
    }
    let listing = Listing {
        objects: &found,
        meshed_pods: &meshed,
    };
    crate::output::render(ctx.out, ctx.global.output, &listing, |_| {
        let mut t = crate::output::table(["KIND", "NAMESPACE", "NAME"]);
        for f in &found {
            t.add_row([
                f.kind.as_str(),
                f.namespace.as_deref().unwrap_or(""),
                f.name.as_str(),
            ]);
        }
        t
    })
    .map_err(CliError::from)
}
