//! `meshctl check`: the local mesh's health as a list of √ ‼ × checks in categories (control
//! plane, proxies, apps, identity), each with a hint and a stable ID; exit 1 when one fails.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;

use super::Context;
use super::StateFor;
use super::check_mesh::MeshFacts;
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::plan::PlanError;
use crate::exit::{CliError, CliResult, code};
use crate::identity::checks::{self, Facts, Outcome, Severity};
use crate::identity::pem;
use crate::identity::rotation::{Checkpoint, ProxyView};
use crate::identity::store::CaStore;
use crate::output::color;

const CHECK_HELP: &str = "\
Categories, in order (each check has a stable `id` in -o json, e.g. proxies.ready):
  control-plane  a mesh is running from this state dir (no mesh: ×, with a hint); its control
                 plane answers Admin.Status within --request-timeout
  proxies        every proxy is ready (GET /ready on its admin address), connected to the
                 control plane, has applied the current configuration (a refusal is named),
                 serves a valid leaf, holds the current trust bundle
  apps           every app that other services call accepts connections on its port
  identity       trust anchor and issuer expiry, the issuer chains to the bundle, no
                 unfinished anchor rotation
Warnings: trust anchor or issuer expiring within 60 days, an unfinished anchor rotation.
Errors: everything else that does not hold. --certs checks the identity alone (no mesh needed,
e.g. before `meshctl up`).

With --kube the cluster is checked instead (never chosen on its own): API server reachable
and 1.33 or newer, your permissions for install, the HTTPRoute CRD; with --pre a free
namespace; after install the controller, the webhook, the issuer Secret and their expiry.

Examples:
  meshctl check
  meshctl check --certs --fail-on warning      # in CI: certificates expiring within 60 days fail too
  meshctl check -o json | jq '.status'
  meshctl check --kube --pre                   # may meshctl install here?
  meshctl check --kube --context prod

Exit codes:
  0  no check reached --fail-on
  1  a check reached --fail-on (error by default), or the checks could not run
  2  usage error";

#[derive(Debug, clap::Args)]
#[command(after_help = CHECK_HELP)]
pub struct Args {
    /// Exit 1 when a check reaches this severity
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Only the certificate checks (the CA, and the proxies' leaves and bundles if a mesh
    /// runs): no mesh needed
    #[arg(long, conflicts_with = "kube")]
    certs: bool,
    /// Check the Kubernetes cluster's install instead of the local mesh
    #[arg(long)]
    kube: bool,
    /// With --kube: before install (permissions, a free namespace), not the running controller
    #[arg(long, requires = "kube")]
    pre: bool,
    /// With --kube: the mesh's namespace
    #[arg(long, value_name = "NAME", requires = "kube", default_value = crate::kube::DEFAULT_NAMESPACE)]
    namespace: String,
    #[command(flatten)]
    cluster: crate::kube::client::KubeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Warning,
    Error,
}

#[derive(Debug, Serialize)]
struct Report {
    checks: Vec<CheckView>,
    status: Severity,
}

/// One check as rendered: its outcome and, for the local checks, its stable ID.
#[derive(Debug, Serialize)]
struct CheckView {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(flatten)]
    outcome: Outcome,
}

/// Where a category is shown (unknown ones, the cluster's, keep their order at the end).
fn category_rank(category: &str) -> usize {
    ["control-plane", "proxies", "apps", "identity"]
        .iter()
        .position(|c| *c == category)
        .unwrap_or(usize::MAX)
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    if args.kube {
        let outcomes = super::check_kube::gather(&args.cluster, &args.namespace, args.pre)?;
        let views = outcomes
            .into_iter()
            .map(|outcome| CheckView { id: None, outcome })
            .collect();
        return report(ctx, views, args.fail_on);
    }
    if args.cluster.kubeconfig.is_some() || args.cluster.context.is_some() {
        return Err(CliError::usage(anyhow::anyhow!(
            "--kubeconfig and --context need --kube (check without it checks the local mesh)"
        )));
    }
    let state = ctx.state_dir(StateFor::Ca)?;
    let timeout = ctx.global.request_timeout.0;
    let mesh = if args.certs {
        None
    } else {
        Some(super::check_mesh::gather(&state, timeout)?)
    };
    // The proxies' certificate reports come from the control plane: only when it answers.
    let ask_proxies = match &mesh {
        None => true,
        Some(m) => matches!(m, MeshFacts::Running { .. }),
    };
    let facts = gather(&state, timeout, ask_proxies)?;
    let mut checks: Vec<(&'static str, Outcome)> = Vec::new();
    if let Some(m) = &mesh {
        checks.extend(super::check_mesh::run(m));
    }
    checks.extend(
        checks::run_all_with_ids(&facts)
            .into_iter()
            // Without a mesh (or an answer) the proxies' certificates are not known: not √.
            .filter(|(_, o)| o.category != "proxies" || ask_proxies),
    );
    checks.sort_by_key(|(_, o)| category_rank(o.category));
    let views = checks
        .into_iter()
        .map(|(id, outcome)| CheckView {
            id: Some(id),
            outcome,
        })
        .collect();
    report(ctx, views, args.fail_on)
}

fn report(ctx: &mut Context<'_>, outcomes: Vec<CheckView>, fail_on: FailOn) -> CliResult {
    let status = outcomes
        .iter()
        .map(|o| o.outcome.status)
        .max()
        .unwrap_or(Severity::Ok);
    let report = Report {
        checks: outcomes,
        status,
    };
    if ctx.global.output.is_structured() {
        crate::output::render(ctx.out, ctx.global.output, &report, |_| {
            crate::output::table(["-"])
        })?;
    } else {
        render(ctx.out, &report)?;
    }
    let threshold = match fail_on {
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
    };
    if status >= threshold {
        return Err(CliError::silent(code::FAILURE));
    }
    Ok(())
}

fn gather(
    state: &Path,
    request_timeout: std::time::Duration,
    ask_proxies: bool,
) -> anyhow::Result<Facts> {
    let store = CaStore::new(state);
    let not_after = |text: String| -> anyhow::Result<i64> {
        Ok(pem::unix_seconds(pem::not_after(&pem::first_cert(&text)?)?))
    };
    Ok(Facts {
        now_unix: pem::unix_seconds(SystemTime::now()),
        anchor_not_after_unix: not_after(store.anchor_pem()?).context("the trust anchor")?,
        issuer_not_after_unix: not_after(store.issuer_pem()?).context("the issuer")?,
        // An issuer too close to expiry to sign even the probe does not chain usefully.
        issuer_chains_to_bundle: store.issuer_chains_to_bundle().unwrap_or(false),
        bundle: store.bundle_fingerprints()?,
        proxies: if ask_proxies {
            mesh_proxies(state, request_timeout)?
        } else {
            None
        },
        rotation_in_progress: Checkpoint::path(state).exists(),
    })
}

/// Every proxy's reported certificate state, or `None` when no mesh runs from `state`.
pub(super) fn mesh_proxies(
    state: &Path,
    request_timeout: std::time::Duration,
) -> anyhow::Result<Option<Vec<ProxyView>>> {
    let runtime = super::client_runtime()?;
    // The admin channel spawns its connection task: it must be opened inside the runtime.
    runtime.block_on(async {
        let mut admin = match MeshAdmin::open(state, request_timeout) {
            Ok(admin) => admin,
            Err(AdminError::Plan(PlanError::NotRunning(_))) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(admin.proxy_views().await?))
    })
}

fn render(out: &mut dyn std::io::Write, report: &Report) -> std::io::Result<()> {
    let mut category = "";
    for o in report.checks.iter().map(|c| &c.outcome) {
        if o.category != category {
            if !category.is_empty() {
                writeln!(out)?;
            }
            category = o.category;
            writeln!(out, "{category}\n{}", "-".repeat(category.len()))?;
        }
        let mark = match o.status {
            Severity::Ok => color::ok("√"),
            Severity::Warning => color::warn("‼"),
            Severity::Error => color::bad("×"),
        };
        if o.detail.is_empty() {
            writeln!(out, "{mark} {}", o.description)?;
        } else {
            writeln!(out, "{mark} {} ({})", o.description, o.detail)?;
        }
        if !o.hint.is_empty() {
            writeln!(out, "    hint: {}", o.hint)?;
        }
    }
    let summary = match report.status {
        Severity::Ok => color::ok("√"),
        Severity::Warning => color::warn("‼"),
        Severity::Error => color::bad("×"),
    };
    writeln!(out, "\nStatus check results are {summary}")
}
