//! Talking to the API server: server-side apply of the rendered objects (field manager
//! `meshctl`), waiting for the controller Deployment, and turning API errors into one line
//! that says what failed, on which cluster, and what to do.

use std::time::Duration;

use anyhow::anyhow;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;

use super::client::Target;
use super::manifests::{Object, controller_selector};
use super::{CONTROLLER_NAME, FIELD_MANAGER};

/// How `apply` sends its patches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Take over fields another field manager owns (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Let the API server validate and admit without storing (`--dry-run=server`).
    pub dry_run: bool,
}

/// The dynamic API for `resource` in `namespace` (cluster-wide when `None`).
pub fn dynamic_api(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// What `apply_all` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub applied: usize,
    /// Server dry run only: objects in a namespace the same dry run "created" (which the API
    /// server therefore cannot find), so they were not validated.
    pub not_validated: Vec<String>,
}

/// Server-side applies `objects` in order, calling `done` after each one; stops at the first
/// failure, which names the object, the cluster and the cause.
pub async fn apply_all(
    client: &Client,
    target: &Target,
    objects: &[Object],
    opts: ApplyOptions,
    mut done: impl FnMut(&Object),
) -> anyhow::Result<Applied> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = opts.force_conflicts;
    params.dry_run = opts.dry_run;
    let mut report = Applied::default();
    let mut dry_run_namespaces: Vec<&str> = Vec::new();
    for o in objects {
        let api = dynamic_api(client, &o.resource, o.namespace.as_deref());
        match api.patch(&o.name, &params, &Patch::Apply(&o.value)).await {
            Ok(_) => {
                // An apply creates what is missing, so a 404 for an object in this namespace
                // can only mean the namespace exists in this dry run alone.
                if opts.dry_run && o.resource.kind == "Namespace" {
                    dry_run_namespaces.push(&o.name);
                }
                report.applied += 1;
                done(o);
            }
            Err(kube::Error::Api(status))
                if status.is_not_found()
                    && o.namespace
                        .as_deref()
                        .is_some_and(|ns| dry_run_namespaces.contains(&ns)) =>
            {
                report.not_validated.push(o.describe());
            }
            Err(e) => return Err(explain(e, "patch", o, target)),
        }
    }
    Ok(report)
}

/// `verb` on `o` failed: one line naming the object, the cluster and what to do.
pub fn explain(e: kube::Error, verb: &str, o: &Object, target: &Target) -> anyhow::Error {
    let what = format!("{} {}", verb_ing(verb), o.describe());
    let resource = if o.resource.group.is_empty() {
        o.resource.plural.clone()
    } else {
        format!("{}.{}", o.resource.plural, o.resource.group)
    };
    let scope = match &o.namespace {
        Some(ns) => format!("in namespace {ns}"),
        None => "cluster-wide".to_string(),
    };
    api_error(e, &what, verb, &resource, &scope, target)
}

fn verb_ing(verb: &str) -> &'static str {
    match verb {
        "patch" => "applying",
        "delete" => "deleting",
        "get" => "reading",
        "list" => "listing",
        _ => "requesting",
    }
}

/// The shared part of error explanations: `resource` is `plural[.group]`, `scope` says where.
pub fn api_error(
    e: kube::Error,
    what: &str,
    verb: &str,
    resource: &str,
    scope: &str,
    target: &Target,
) -> anyhow::Error {
    match e {
        kube::Error::Api(status) if status.is_forbidden() => anyhow!(
            "{what}: permission denied: the user of context {} may not {verb} {resource} {scope} (server {}; the API server said: {})",
            target.context,
            target.server,
            status.message
        ),
        kube::Error::Api(status) if status.is_conflict() && verb == "patch" => {
            let managers = conflicting_managers(&status.message);
            let owners = if managers.is_empty() {
                "another field manager".to_string()
            } else {
                format!("field manager {}", managers.join(", "))
            };
            anyhow!(
                "{what}: fields are owned by {owners} ({}); rerun with --force-conflicts to take them over ({target})",
                status.message
            )
        }
        kube::Error::Api(status) => anyhow!(
            "{what}: {} ({}, HTTP {}) ({target})",
            status.message,
            if status.reason.is_empty() {
                "no reason"
            } else {
                status.reason.as_str()
            },
            status.code
        ),
        kube::Error::HyperError(err) => unreachable_server(what, target, &err),
        kube::Error::Service(err) => unreachable_server(what, target, &*err),
        other => anyhow!("{what}: {other} ({target})"),
    }
}

fn unreachable_server(what: &str, target: &Target, err: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow!(
        "{what}: cannot reach the Kubernetes API server at {} (context {}): {err}",
        target.server,
        target.context
    )
}

/// The field managers a server-side apply conflict names: `conflict with "kubectl-edit"`.
pub fn conflicting_managers(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in message.split("conflict with \"").skip(1) {
        if let Some(end) = part.find('"') {
            let name = part[..end].to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The controller was not Available in time: what is not ready and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

/// Polls the controller Deployment every `poll` until it is Available with every replica
/// updated, or `timeout` passes ([`NotReady`], naming what is missing and why).
pub async fn wait_available(
    client: &Client,
    target: &Target,
    namespace: &str,
    timeout: Duration,
    poll: Duration,
) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let what = format!("reading Deployment {namespace}/{CONTROLLER_NAME}");
    let poll_loop = async {
        loop {
            let d = deployments.get(CONTROLLER_NAME).await.map_err(|e| {
                api_error(
                    e,
                    &what,
                    "get",
                    "deployments.apps",
                    &format!("in namespace {namespace}"),
                    target,
                )
            })?;
            if is_available(&d) {
                return Ok::<_, anyhow::Error>(());
            }
            tokio::time::sleep(poll).await;
        }
    };
    match tokio::time::timeout(timeout, poll_loop).await {
        Ok(result) => result,
        Err(_) => {
            let why = diagnose(client, namespace).await;
            Err(NotReady(format!(
                "Deployment {namespace}/{CONTROLLER_NAME} is not Available after {}: {why} ({target})",
                crate::duration::format_compact(timeout.as_secs() as i64)
            ))
            .into())
        }
    }
}

/// Available, the newest generation observed, and every replica on the current template.
pub fn is_available(d: &Deployment) -> bool {
    let Some(status) = &d.status else {
        return false;
    };
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let observed = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let available = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Available" && c.status == "True");
    observed
        && available
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
}

/// Why the controller is not ready, from its pods (a waiting container's reason, an
/// unscheduled pod) or, without pods, from the Deployment's conditions.
pub async fn diagnose(client: &Client, namespace: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = controller_selector()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let lookup = async {
        let list = pods.list(&ListParams::default().labels(&selector)).await?;
        let mut reasons: Vec<String> = list.items.iter().filter_map(pod_reason).collect();
        if reasons.is_empty() && list.items.is_empty() {
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            let d = deployments.get(CONTROLLER_NAME).await?;
            reasons.push(deployment_reason(&d));
        } else if reasons.is_empty() {
            reasons.push(format!(
                "{} pod(s) exist but are not ready yet",
                list.items.len()
            ));
        }
        Ok::<_, kube::Error>(reasons.join("; "))
    };
    match tokio::time::timeout(Duration::from_secs(10), lookup).await {
        Ok(Ok(why)) => why,
        Ok(Err(e)) => format!("its pods could not be read: {e}"),
        Err(_) => "its pods could not be read in 10s".to_string(),
    }
}

/// Why one pod is not ready, if it says.
pub fn pod_reason(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    for c in status.container_statuses.iter().flatten() {
        if let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.as_deref().unwrap_or("waiting");
            return Some(match waiting.message.as_deref() {
                Some(m) if !m.is_empty() => {
                    format!("pod {name}: container {} is {reason}: {m}", c.name)
                }
                _ => format!("pod {name}: container {} is {reason}", c.name),
            });
        }
        if let Some(term) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            return Some(format!(
                "pod {name}: container {} terminated ({}, exit code {})",
                c.name,
                term.reason.as_deref().unwrap_or("no reason"),
                term.exit_code
            ));
        }
        if !c.ready {
            return Some(format!(
                "pod {name}: container {} is not ready (readiness probe)",
                c.name
            ));
        }
    }
    for cond in status.conditions.iter().flatten() {
        if cond.type_ == "PodScheduled" && cond.status == "False" {
            return Some(format!(
                "pod {name} is not scheduled: {}",
                cond.message
                    .as_deref()
                    .or(cond.reason.as_deref())
                    .unwrap_or("no node fits")
            ));
        }
    }
    match status.phase.as_deref() {
        Some("Pending") | None => Some(format!("pod {name} is Pending (no node has started it)")),
        _ => None,
    }
}

fn deployment_reason(d: &Deployment) -> String {
    let conditions = d.status.as_ref().and_then(|s| s.conditions.as_ref());
    for c in conditions.into_iter().flatten() {
        if c.status == "False" || c.type_ == "ReplicaFailure" {
            return format!(
                "no controller pods; Deployment condition {}={}: {}",
                c.type_,
                c.status,
                c.message
                    .as_deref()
                    .or(c.reason.as_deref())
                    .unwrap_or("no message")
            );
        }
    }
    "no controller pods exist yet (is the kube-controller-manager running?)".to_string()
}
