//! `meshctl fault inject|clear|list` on Kubernetes: the live faults are keys of the
//! namespace's `meshctl-faults` ConfigMap (`kube::faults`), which the controller pushes to
//! the calling sidecars; same flags, output and exit codes as on a local mesh.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Context;
use super::fault::{
    ClearArgs, ClearReport, Fault, FaultView, InjectArgs, InjectReport, ListArgs, ListReport,
    clear_table, fault_table, parse_inject, view,
};
use super::target::{self, Change, mesh_error};
use crate::exit::{CliError, CliResult};
use crate::kube::controller::status::pending_fault_acks;
use crate::kube::faults as store;
use crate::kube::mesh::Cluster;
use crate::kube::{FAULTS_CONFIGMAP, controller::faults::fault_key};
use crate::output;
use crate::policy::fault::{LiveFault, now_unix_ms};

pub(super) fn run(ctx: &mut Context<'_>, command: Fault, why: &str) -> CliResult {
    match command {
        Fault::Inject(a) => inject(ctx, a, why),
        Fault::Clear(a) => clear(ctx, a, why),
        Fault::List(a) => list(ctx, a, why),
    }
}

fn configmap(cluster: &Cluster) -> String {
    format!("{}/{FAULTS_CONFIGMAP}", cluster.namespace)
}

fn inject(ctx: &mut Context<'_>, a: InjectArgs, why: &str) -> CliResult {
    let (spec, for_) = parse_inject(&a)?;
    let runtime = super::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let (cluster, live, version) = runtime.block_on(async {
        let cluster = target::cluster(&a.cluster, timeout, why).await?;
        let services = store::services(&cluster).await.map_err(mesh_error)?;
        services.check(&a.service, &cluster).map_err(mesh_error)?;
        let now = now_unix_ms();
        let live = LiveFault {
            spec,
            set_unix_ms: now,
            expires_unix_ms: for_.map(|d| now.saturating_add(millis(d))),
        };
        store::inject(&cluster, &a.service, &live, now)
            .await
            .map_err(mesh_error)?;
        let version = if a.wait.wait {
            let change = Change {
                pending: "pods not acknowledging the fault",
                unread: "no controller replica has read the fault yet",
                done: "the fault is set",
            };
            Some(wait(&cluster, &a.service, Some(&live), a.wait.timeout.0, &change).await?)
        } else {
            None
        };
        Ok::<_, CliError>((cluster, live, version))
    })?;
    let report = InjectReport {
        fault: view(&a.service, "live".into(), &spec, live.expires_unix_ms, true),
        config_version: version,
        acknowledged: a.wait.wait,
        configmap: Some(configmap(&cluster)),
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        fault_table(std::slice::from_ref(&report.fault), None)
    })?;
    Ok(())
}

fn clear(ctx: &mut Context<'_>, a: ClearArgs, why: &str) -> CliResult {
    let runtime = super::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let (cluster, cleared, version) = runtime.block_on(async {
        let cluster = target::cluster(&a.cluster, timeout, why).await?;
        let services = store::services(&cluster).await.map_err(mesh_error)?;
        services.check(&a.service, &cluster).map_err(mesh_error)?;
        let cleared = store::clear(&cluster, &a.service, now_unix_ms())
            .await
            .map_err(mesh_error)?;
        let version = if a.wait.wait {
            let change = Change {
                pending: "pods still running the cleared fault",
                unread: "no controller replica has read that the fault is cleared yet",
                done: "the fault is cleared",
            };
            Some(wait(&cluster, &a.service, None, a.wait.timeout.0, &change).await?)
        } else {
            None
        };
        Ok::<_, CliError>((cluster, cleared, version))
    })?;
    let report = ClearReport {
        service: a.service,
        cleared,
        config_version: version,
        acknowledged: a.wait.wait,
        configmap: Some(configmap(&cluster)),
    };
    output::render(ctx.out, ctx.global.output, &report, |_| {
        clear_table(&report)
    })?;
    Ok(())
}

fn list(ctx: &mut Context<'_>, a: ListArgs, why: &str) -> CliResult {
    let runtime = super::client_runtime()?;
    let timeout = ctx.global.request_timeout.0;
    let (services, stored) = runtime.block_on(async {
        let cluster = target::cluster(&a.cluster, timeout, why).await?;
        let services = store::services(&cluster).await.map_err(mesh_error)?;
        // An unknown service fails the check (a TCP one is listed: it has no faults).
        if let Some(s) = a.service.as_deref().filter(|s| !services.known(s)) {
            services.check(s, &cluster).map_err(mesh_error)?;
        }
        let stored = store::list(&cluster, now_unix_ms())
            .await
            .map_err(mesh_error)?;
        for (service, why) in &stored.invalid {
            tracing::warn!(
                "ConfigMap {} key {service} is not a live fault, skipped: {why}",
                configmap(&cluster)
            );
        }
        Ok::<_, CliError>((services, stored))
    })?;
    let views = live_views(&stored.faults, a.service.as_deref());
    output::render(
        ctx.out,
        ctx.global.output,
        &ListReport { faults: &views },
        |wide| {
            let callers = |service: &str| services.callers(service);
            fault_table(&views, wide.then_some(&callers))
        },
    )?;
    Ok(())
}

/// `fault list`'s rows: the live faults (of `only`, when given).
fn live_views(faults: &BTreeMap<String, LiveFault>, only: Option<&str>) -> Vec<FaultView> {
    faults
        .iter()
        .filter(|(service, _)| only.is_none_or(|s| s == service.as_str()))
        .map(|(service, f)| view(service, "live".into(), &f.spec, f.expires_unix_ms, true))
        .collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Waits until every pod calling `service` runs a configuration carrying `fault` (`None`:
/// no live fault); the controller's version that does.
async fn wait(
    cluster: &Cluster,
    service: &str,
    fault: Option<&LiveFault>,
    timeout: Duration,
    change: &Change<'_>,
) -> Result<u64, CliError> {
    let key = fault_key(&cluster.namespace, service);
    target::wait_for_acks(
        cluster,
        timeout,
        change,
        |replicas| pending_fault_acks(replicas, &cluster.namespace, service, fault),
        |r| r.faults.get(&key) == fault,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::OutputFormat;
    use crate::policy::fault::FaultSpec;

    fn render(views: &[FaultView], format: OutputFormat) -> String {
        let mut out = Vec::new();
        let callers = |service: &str| {
            if service == "api" {
                vec!["web-0".to_string(), "web-1".to_string()]
            } else {
                Vec::new()
            }
        };
        output::render(&mut out, format, &ListReport { faults: views }, |wide| {
            fault_table(views, wide.then_some(&callers))
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The rows `fault list` prints on Kubernetes: the same shape as locally (source `live`,
    /// percentages, absolute expiry), filtered by service, the callers with `-o wide`.
    #[test]
    fn the_list_renders_live_faults_as_locally() {
        let faults = BTreeMap::from([
            (
                "api".to_string(),
                LiveFault {
                    spec: FaultSpec::new(Some("503@5%".parse().unwrap()), None).unwrap(),
                    set_unix_ms: 0,
                    expires_unix_ms: Some(1_796_645_400_000),
                },
            ),
            (
                "db".to_string(),
                LiveFault {
                    spec: FaultSpec::new(None, Some("200ms@0.5%".parse().unwrap())).unwrap(),
                    set_unix_ms: 0,
                    expires_unix_ms: None,
                },
            ),
        ]);
        let json: serde_json::Value =
            serde_json::from_str(&render(&live_views(&faults, None), OutputFormat::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"faults": [
                {"service": "api", "source": "live", "abort": {"status": 503, "percent": 5.0},
                 "delay": null, "expires_unix_ms": 1_796_645_400_000_u64,
                 "expires_at": "2026-12-07T12:10:00Z", "active": true},
                {"service": "db", "source": "live", "abort": null,
                 "delay": {"duration_ms": 200, "percent": 0.5},
                 "expires_unix_ms": null, "expires_at": null, "active": true},
            ]})
        );
        let only_api = live_views(&faults, Some("api"));
        assert_eq!(only_api.len(), 1);
        let wide = render(&only_api, OutputFormat::Wide);
        for cell in [
            "CALLERS",
            "api",
            "live",
            "503@5%",
            "2026-12-07T12:10:00Z",
            "web-0,web-1",
        ] {
            assert!(wide.contains(cell), "{cell}: {wide}");
        }
        let table = render(&live_views(&faults, Some("db")), OutputFormat::Table);
        assert!(!table.contains("CALLERS"), "{table}");
        assert!(
            table.contains("200ms@0.5%") && table.contains("never"),
            "{table}"
        );
    }
}
