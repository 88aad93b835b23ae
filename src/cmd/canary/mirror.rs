//! `meshctl canary mirror|diff`: send copies of a share of a service's requests to a version
//! live (or stop), and show how the copies' answers compared with the real ones
//! (`crate::observe::mirror`). Local mesh only.

use std::time::Duration;

use serde::Serialize;

use super::admin_error;
use crate::canary::gate::Percent;
use crate::cmd::Context;
use crate::cmd::StateFor;
use crate::cmd::target::{Chosen, KubeTargetArgs};
use crate::control::admin::{AdminError, MeshAdmin};
use crate::control::plan::MeshPlan;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::observe::mirror::{self as observed, MirrorDiff};
use crate::output;
use crate::output::rfc3339;
use crate::policy::fault::{format_percent, parse_percent};
use crate::policy::mirror::MirrorSpec;

/// `canary diff`: the mismatch rate is over `--max-mismatch`.
pub const EXIT_MISMATCH: i32 = 3;
/// How long a live mirror lasts without `--for`: mirroring doubles the mirrored share's load
/// on the target version, so a forgotten one ends by itself (`--for 0`: until `--off`).
pub const DEFAULT_MIRROR_DURATION: Duration = Duration::from_secs(600);

pub const MIRROR_HELP: &str = "\
Every proxy calling SERVICE sends a copy of --percent of its requests to an endpoint of --to
(chosen by the service's load balancer), marked `x-meshctl-mirror: 1` so the app can skip side
effects. Copies are fire-and-forget: sent once the real answer's head is in, never retried,
given up after 5s, never delaying or failing the real request; at most 64 per proxy in flight
(beyond, dropped and counted). A request whose body is of unknown length or over 64 KiB is not
copied (counted `skipped`). Each copy's answer is compared with the real one: status class
(2xx, 4xx, 5xx…), gRPC status, and with --compare-body a SHA-256 of both bodies when both fit
64 KiB. `meshctl canary diff SERVICE` shows the counts. Copies are not the caller's traffic:
they appear in no split, `meshctl stat` of the caller or its response metrics (SERVICE's
--to proxies do see them arrive, as any request).

A live mirror replaces any earlier one of SERVICE and, while in force, SERVICE's mesh.yaml
`policy.mirror`. It is persisted in .meshctl/mirrors.json; with --for it ends at an absolute
time, which each proxy enforces even if the control plane is gone. --off removes it.
HTTP and gRPC only; local mesh only (on Kubernetes put `mirror:` in the service's policy).

Examples:
  meshctl canary mirror api --to v2 --percent 10
  meshctl canary mirror api --to v2 --percent 100 --for 2m --compare-body --wait
  meshctl canary mirror api --off

Exit codes:
  0  the mirror is set (or removed; with --wait, every proxy calling SERVICE applied it)
  1  failure (no mesh running, control plane unreachable)
  2  usage error (unknown service or version, bad --percent/--for, --to without --percent,
     a tcp service, Kubernetes)
  4  --wait timed out; the change is made but some proxies have not acknowledged it (named)";

pub const DIFF_HELP: &str = "\
Reads every proxy calling SERVICE (its admin /config) and sums, per route, what became of the
copies since each proxy started: match, mismatch (status class, gRPC status, or with
--compare-body the body's hash differed), dropped (too many in flight), skipped (body not
copyable), error (no answer: no endpoint of the version, failure, timeout). The mismatch rate
is mismatch / (match + mismatch). With --max-mismatch, exits 3 when it is over the limit;
with fewer than --min-compared compared copies it never does (too few to tell), and says so.

Examples:
  meshctl canary diff api
  meshctl canary diff api -o json
  meshctl canary diff api --max-mismatch 1% --min-compared 50   # a CI gate

Exit codes:
  0  read (and the mismatch rate is within --max-mismatch, when given)
  1  failure (no mesh running, no calling proxy answered)
  2  usage error (unknown service, bad --max-mismatch, Kubernetes)
  3  the mismatch rate is over --max-mismatch";

#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// The service whose requests are copied
    #[arg(add = crate::cmd::complete::services())]
    service: String,
    /// The version copies go to
    #[arg(long, value_name = "VERSION", add = crate::cmd::complete::versions(), required_unless_present = "off")]
    to: Option<String>,
    /// Share of requests copied: above 0 up to 100 (up to 4 decimals), e.g. 10 or 0.5%
    #[arg(
        long,
        value_name = "PERCENT",
        allow_hyphen_values = true,
        required_unless_present = "off"
    )]
    percent: Option<String>,
    /// Also compare a SHA-256 of both bodies (when both are at most 64 KiB)
    #[arg(long)]
    compare_body: bool,
    /// End the mirror after this long (e.g. 30s, 10m); 0 keeps it until --off [default: 10m]
    #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
    for_: Option<String>,
    /// Remove SERVICE's live mirror (its mesh.yaml `policy.mirror`, if any, applies again)
    #[arg(long, conflicts_with_all = ["to", "percent", "compare_body", "for_"])]
    off: bool,
    /// Return only once every proxy calling the service acknowledged the change
    #[arg(long)]
    wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    timeout: HumanDuration,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The service whose mirroring is shown
    #[arg(add = crate::cmd::complete::services())]
    service: String,
    /// Exit 3 when the mismatch rate is over this, e.g. 1% or 0%
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    max_mismatch: Option<Percent>,
    /// Compared copies --max-mismatch needs before it can fail
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    min_compared: u64,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

#[derive(Debug, Serialize)]
struct MirrorReport {
    service: String,
    /// `null` after --off.
    version: Option<String>,
    percent: Option<f64>,
    compare_body: bool,
    /// Unix ms; `null`: no end (or removed).
    expires_unix_ms: Option<u64>,
    expires_at: Option<String>,
    /// --off: whether there was a live mirror to remove.
    #[serde(skip_serializing_if = "Option::is_none")]
    cleared: Option<bool>,
    config_version: u64,
    acknowledged: bool,
}

#[derive(Debug, Serialize)]
struct DiffReport {
    #[serde(flatten)]
    diff: MirrorDiff,
    /// The limit given (percent); `null`: none.
    max_mismatch_percent: Option<f64>,
    /// `pass`, `fail`, `too-few` (fewer than --min-compared) or `null` without a limit.
    verdict: Option<&'static str>,
}

/// Local mesh only: a cluster has no live mirrors (use `policy.mirror` there).
fn local_only(ctx: &Context<'_>, cluster: &KubeTargetArgs, what: &str) -> CliResult {
    let target = ctx.target(Some(cluster))?;
    if target.chosen == Chosen::Kubernetes {
        return Err(CliError::usage(anyhow::anyhow!(
            "`canary {what}` works on a local mesh only ({}); on Kubernetes put `mirror:` in the service's policy ConfigMap",
            target.why
        )));
    }
    Ok(())
}

fn known_service(plan: &MeshPlan, service: &str) -> CliResult {
    super::known_versions(plan, service).map(drop)
}

pub fn mirror(ctx: &mut Context<'_>, a: MirrorArgs) -> CliResult {
    local_only(ctx, &a.cluster, "mirror")?;
    let spec = match (&a.to, &a.percent, a.off) {
        (Some(to), Some(percent), false) => {
            let per_million = parse_percent(percent)
                .map_err(|e| CliError::usage(anyhow::anyhow!("--percent {e}")))?;
            Some(
                MirrorSpec::new(to, per_million, a.compare_body)
                    .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?,
            )
        }
        // clap requires --to and --percent without --off and refuses them with it.
        _ => None,
    };
    let for_ms = crate::cmd::fault::parse_for(a.for_.as_deref(), DEFAULT_MIRROR_DURATION)?
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let state = ctx.state_dir(StateFor::Mesh)?;
    let runtime = crate::cmd::client_runtime()?;
    let _entered = runtime.enter();
    let mut admin = MeshAdmin::open(&state, ctx.global.request_timeout.0).map_err(admin_error)?;
    known_service(&admin.plan, &a.service)?;
    if admin.plan.is_opaque_tcp(&a.service) {
        return Err(CliError::usage(anyhow::anyhow!(
            "service `{}`: {}",
            a.service,
            crate::policy::mirror::TCP_MIRROR_REFUSED
        )));
    }
    if let Some(spec) = &spec {
        spec.check_version(&a.service, &admin.plan.versions(&a.service))
            .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;
    }
    let (version, expires, cleared) = runtime
        .block_on(async {
            let (version, expires, cleared) = match &spec {
                Some(spec) => {
                    let set = admin
                        .set_mirror(&a.service, spec.to_pb(None), for_ms)
                        .await?;
                    (
                        set.version,
                        Some(set.expires_unix_ms).filter(|ms| *ms > 0),
                        None,
                    )
                }
                None => {
                    let gone = admin.clear_mirror(&a.service).await?;
                    (gone.version, None, Some(gone.cleared))
                }
            };
            if a.wait {
                admin
                    .wait_for_acks(&a.service, version, a.timeout.0)
                    .await?;
            }
            Ok::<_, AdminError>((version, expires, cleared))
        })
        .map_err(admin_error)?;
    let report = MirrorReport {
        service: a.service,
        version: spec.as_ref().map(|s| s.version.clone()),
        percent: spec.as_ref().map(|s| f64::from(s.per_million) / 10_000.0),
        compare_body: spec.as_ref().is_some_and(|s| s.compare_body),
        expires_unix_ms: expires,
        expires_at: expires.map(rfc3339_ms),
        cleared,
        config_version: version,
        acknowledged: a.wait,
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        mirror_table(&report, spec.as_ref())
    })?;
    Ok(())
}

fn rfc3339_ms(ms: u64) -> String {
    rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(ms))
}

fn mirror_table(report: &MirrorReport, spec: Option<&MirrorSpec>) -> comfy_table::Table {
    let mut t = output::table(["SERVICE", "MIRROR", "UNTIL"]);
    let what = match (spec, report.cleared) {
        (Some(s), _) => format!(
            "{} of requests to {}{}",
            format_percent(s.per_million),
            s.version,
            if s.compare_body {
                " (bodies compared)"
            } else {
                ""
            }
        ),
        (None, Some(true)) => "live mirror removed".to_string(),
        (None, _) => "none (nothing to remove)".to_string(),
    };
    let until = report.expires_at.clone().unwrap_or_else(|| {
        if spec.is_some() {
            "--off".into()
        } else {
            "-".into()
        }
    });
    t.add_row(vec![report.service.clone(), what, until]);
    t
}

pub fn diff(ctx: &mut Context<'_>, a: DiffArgs) -> CliResult {
    local_only(ctx, &a.cluster, "diff")?;
    let state = ctx.state_dir(StateFor::Mesh)?;
    let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
    known_service(&plan, &a.service)?;
    let runtime = crate::cmd::client_runtime()?;
    let diff = runtime.block_on(observed::read(&plan, &a.service));
    if diff.proxies_read == 0 {
        let why = if diff.proxies_unreachable.is_empty() {
            "no proxy calls it".to_string()
        } else {
            format!(
                "no calling proxy answered ({})",
                diff.proxies_unreachable.join(", ")
            )
        };
        return Err(anyhow::anyhow!("cannot read the mirroring of `{}`: {why}", a.service).into());
    }
    let verdict = a.max_mismatch.map(|max| {
        if diff.compared < a.min_compared {
            "too-few"
        } else if diff.mismatch_percent > max.fraction() * 100.0 {
            "fail"
        } else {
            "pass"
        }
    });
    let report = DiffReport {
        max_mismatch_percent: a.max_mismatch.map(|m| m.fraction() * 100.0),
        verdict,
        diff,
    };
    output::render(ctx.out, ctx.global.output, &report, |_| diff_table(&report))?;
    match verdict {
        Some("fail") => Err(CliError::new(
            anyhow::anyhow!(
                "`{}`: {:.2}% of {} compared copies mismatched, over --max-mismatch {}",
                report.diff.service,
                report.diff.mismatch_percent,
                report.diff.compared,
                a.max_mismatch.map(|m| m.to_string()).unwrap_or_default()
            ),
            EXIT_MISMATCH,
        )),
        Some("too-few") => {
            eprintln!(
                "note: {} compared copies, fewer than --min-compared {}: --max-mismatch not applied",
                report.diff.compared, a.min_compared
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

fn diff_table(report: &DiffReport) -> comfy_table::Table {
    let mut t = output::table([
        "ROUTE",
        "MATCH",
        "MISMATCH",
        "MISMATCH%",
        "DROPPED",
        "SKIPPED",
        "ERROR",
    ]);
    let row = |route: &str, c: &observed::MirrorCounts, pct: f64| {
        vec![
            route.to_string(),
            c.matched.to_string(),
            c.mismatched.to_string(),
            format!("{pct:.2}%"),
            c.dropped.to_string(),
            c.skipped.to_string(),
            c.errors.to_string(),
        ]
    };
    for r in &report.diff.routes {
        let name = if r.route.is_empty() {
            "(none)"
        } else {
            &r.route
        };
        t.add_row(row(name, &r.counts, r.mismatch_percent));
    }
    let d = &report.diff;
    let mirror = match &d.mirror {
        Some(m) => format!("TOTAL ({}: {}% to {})", m.source, m.percent, m.version),
        None => "TOTAL (not mirroring now)".to_string(),
    };
    t.add_row(row(&mirror, &d.total, d.mismatch_percent));
    t
}
