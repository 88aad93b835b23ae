//! `meshctl version`: this binary's version and, when its control plane answers within the
//! request timeout, the control plane's: the local mesh's, or on Kubernetes every controller
//! replica's and the controller Deployment's image.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use super::target::{self, Chosen, KubeTargetArgs};
use super::{Context, StateFor};
use crate::control::admin::MeshAdmin;
use crate::exit::CliResult;
use crate::kube::mesh::{self, Cluster};
use crate::output;

const VERSION_HELP: &str = "\
The control plane is the one of the mesh every command acts on: the local mesh found from the
current directory upward (or --state-dir), asked through its status call; on Kubernetes
(--target kubernetes, or no local mesh and a kubeconfig) every ready controller replica, asked
for its /status through the API server's pods/proxy (or --controller-admin), and the image of
the controller Deployment. Each call may take --request-timeout. Without a mesh only the
client's version shows.

Examples:
  meshctl version
  meshctl version --client
  meshctl version -o json | jq -r '.control_plane.version'
  meshctl version --target kubernetes --context prod
  meshctl version --controller-namespace mesh-system -o json

Exit codes:
  0  always when the client's version could be printed (an unreachable control plane or
     cluster is reported, not an error)
  2  usage error (--target contradicting --state-dir or the cluster flags)";

#[derive(Debug, clap::Args)]
#[command(after_help = VERSION_HELP)]
pub struct Args {
    /// Only the client's version: do not look for a control plane
    #[arg(long)]
    client: bool,
    #[command(flatten)]
    cluster: KubeTargetArgs,
}

#[derive(Debug, Serialize)]
struct Versions {
    client: Component,
    /// Absent with --client or when there is no mesh to ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<ControlPlane>,
}

#[derive(Debug, Serialize)]
struct Component {
    version: String,
}

#[derive(Debug, Default, Serialize)]
struct ControlPlane {
    /// The control plane's meshctl version (on Kubernetes: the one every replica reports);
    /// absent when it did not answer, is too old to say, or the replicas differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// Why there is no version.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// On Kubernetes: where and what was asked.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    kubernetes: Option<ClusterControlPlane>,
}

/// The controller of a cluster.
#[derive(Debug, Default, Serialize)]
struct ClusterControlPlane {
    context: String,
    server: String,
    /// The controller's namespace.
    namespace: String,
    /// The controller Deployment's image; absent when there is no Deployment (a controller
    /// run out of the cluster) or it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    /// Every ready replica asked.
    replicas: Vec<ReplicaView>,
}

#[derive(Debug, Serialize)]
struct ReplicaView {
    /// `namespace/pod`, or the --controller-admin URL.
    replica: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let control_plane = if args.client {
        None
    } else {
        let target = ctx.target(Some(&args.cluster))?;
        match target.chosen {
            Chosen::Kubernetes => Some(cluster_control_plane(ctx, &args.cluster, &target.why)),
            Chosen::Local(_) => local_control_plane(ctx),
        }
    };
    let versions = Versions {
        client: Component {
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        control_plane,
    };
    output::render(ctx.out, ctx.global.output, &versions, |_| table(&versions))?;
    Ok(())
}

fn table(versions: &Versions) -> comfy_table::Table {
    let mut t = output::table(["COMPONENT", "VERSION"]);
    t.add_row(["client", versions.client.version.as_str()]);
    let Some(cp) = &versions.control_plane else {
        return t;
    };
    let text = match (&cp.version, &cp.error, &cp.kubernetes) {
        (Some(v), _, _) => v.clone(),
        (None, Some(e), _) => format!("unknown: {e}"),
        (None, None, Some(_)) => "see the replicas below".to_string(),
        (None, None, None) => "unknown".to_string(),
    };
    t.add_row(["control plane", text.as_str()]);
    if let Some(k) = &cp.kubernetes {
        for r in &k.replicas {
            let text = match (&r.version, &r.error) {
                (Some(v), _) => v.clone(),
                (None, e) => format!("unknown: {}", e.as_deref().unwrap_or("no answer")),
            };
            t.add_row([format!("  replica {}", r.replica), text]);
        }
        if let Some(image) = &k.image {
            t.add_row([
                format!(
                    "  image (Deployment {}/{})",
                    k.namespace,
                    crate::kube::CONTROLLER_NAME
                ),
                image.clone(),
            ]);
        }
    }
    t
}

/// The local control plane's version; `None` when no mesh runs here.
fn local_control_plane(ctx: &Context<'_>) -> Option<ControlPlane> {
    let state = ctx.state_dir(StateFor::Mesh).ok()?;
    crate::control::launch::running_pid(&state)?;
    let failed = |e: String| ControlPlane {
        error: Some(e),
        ..ControlPlane::default()
    };
    let runtime = match super::client_runtime() {
        Ok(r) => r,
        Err(e) => return Some(failed(e.to_string())),
    };
    // The gRPC channel is created inside the runtime it will run on.
    let _entered = runtime.enter();
    let mut admin = match MeshAdmin::open(&state, ctx.global.request_timeout.0) {
        Ok(a) => a,
        Err(e) => return Some(failed(e.to_string())),
    };
    Some(match runtime.block_on(admin.status()) {
        Ok(status) if status.server_version.is_empty() => {
            failed("the control plane is older than its version field".into())
        }
        Ok(status) => ControlPlane {
            version: Some(status.server_version),
            ..ControlPlane::default()
        },
        Err(e) => failed(e.to_string()),
    })
}

/// The cluster's controller: connect, then [`ask_cluster`]; every failure is reported in the
/// result, never returned.
fn cluster_control_plane(ctx: &Context<'_>, args: &KubeTargetArgs, why: &str) -> ControlPlane {
    let failed = |e: String| ControlPlane {
        error: Some(e),
        ..ControlPlane::default()
    };
    let runtime = match super::client_runtime() {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let timeout = ctx.global.request_timeout.0;
    runtime.block_on(async {
        let connect = within(timeout, "connecting to the cluster", async {
            target::cluster(args, timeout, why)
                .await
                .map_err(|e| e.to_string())
        });
        match connect.await {
            Ok(cluster) => ask_cluster(&cluster, &args.controller_namespace).await,
            Err(e) => failed(e),
        }
    })
}

/// Every ready controller replica's version and the controller Deployment's image. The
/// Deployment is read first: when the API server does not answer it (unreachable, or the
/// permission is missing) that is the error and nothing more is asked.
async fn ask_cluster(cluster: &Cluster, controller_namespace: &str) -> ControlPlane {
    let timeout = cluster.request_timeout;
    let mut k = ClusterControlPlane {
        context: cluster.target.context.clone(),
        server: cluster.target.server.clone(),
        namespace: controller_namespace.to_string(),
        ..ClusterControlPlane::default()
    };
    let what = format!(
        "reading Deployment {controller_namespace}/{}",
        crate::kube::CONTROLLER_NAME
    );
    let deployment = within(timeout, &what, async {
        mesh::controller_deployment(cluster, controller_namespace)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let mut error = None;
    match deployment {
        Ok(d) => k.image = d.map(|d| d.image).filter(|i| !i.is_empty()),
        // A controller reached directly may run out of the cluster: its replicas still say.
        Err(_) if matches!(cluster.admin, mesh::ControllerAdmin::Url(_)) => {}
        Err(e) => error = Some(e),
    }
    if error.is_none() {
        let replicas = within(timeout, "listing the controller replicas", async {
            mesh::controller_versions(cluster)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        match replicas {
            Ok(replicas) => {
                k.replicas = replicas
                    .into_iter()
                    .map(|r| {
                        let (version, error) = match r.version {
                            Ok(v) => (Some(v), None),
                            Err(e) => (None, Some(e)),
                        };
                        ReplicaView {
                            replica: r.replica,
                            version,
                            error,
                        }
                    })
                    .collect();
            }
            Err(e) => error = Some(e),
        }
    }
    ControlPlane {
        version: common_version(&k.replicas),
        error,
        kubernetes: Some(k),
    }
}

/// The version every replica reported, when all answered and agree.
fn common_version(replicas: &[ReplicaView]) -> Option<String> {
    let first = replicas.first()?.version.clone()?;
    replicas
        .iter()
        .all(|r| r.version.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// `work`, or an error naming `what` when it takes longer than `timeout`.
async fn within<T>(
    timeout: Duration,
    what: &str,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{what}: no answer within {}",
                crate::duration::HumanDuration(timeout)
            ))
        })
}

#[cfg(test)]
mod tests;
