//! Which mesh a command acts on: the local mesh found from the working directory upward (or
//! `--state-dir`), else the current kubeconfig context; `--target local|kubernetes`
//! (`MESHCTL_TARGET`) makes it explicit. The choice is never silently switched: an explicit
//! target that is not there is an error, not a fall-back. `-v` logs the choice and why.

use std::path::{Path, PathBuf};

use super::{Context, StateFor};
use crate::control::plan::MeshPlan;
use crate::exit::CliError;
use crate::kube::client::KubeArgs;
use crate::kube::controller::status::ControllerStatus;
use crate::observe::mesh::Mesh;

/// Exit code when `--wait` runs out before every calling pod acknowledged a change.
pub const EXIT_ACK_TIMEOUT: i32 = 4;
/// How often `--wait` reads the controller's `/status` again.
const ACK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    /// The mesh `meshctl up` runs from a .meshctl/ state directory
    Local,
    /// The mesh `meshctl install` runs in the kubeconfig's cluster
    Kubernetes,
}

/// The cluster flags of commands that work on Kubernetes (as kubectl has them).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Kubernetes (--target kubernetes)")]
pub struct KubeTargetArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Namespace of the services and pods [default: the context's namespace]
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The controller's admin listener (http://HOST:PORT), for when the API server cannot
    /// proxy to it [default: the controller pods, through the API server's pods/proxy]
    #[arg(long, env = "MESHCTL_CONTROLLER_ADMIN", value_name = "URL")]
    pub controller_admin: Option<String>,
    /// The namespace `meshctl install` put the controller in
    #[arg(
        long,
        env = "MESHCTL_CONTROLLER_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = crate::kube::DEFAULT_NAMESPACE
    )]
    pub controller_namespace: String,
}

impl KubeTargetArgs {
    /// Whether a flag selecting a cluster was given.
    fn selects_cluster(&self) -> bool {
        self.kube.kubeconfig.is_some() || self.kube.context.is_some() || self.namespace.is_some()
    }
}

/// The chosen target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// The local mesh; `None` when there is no state directory (the command's own error
    /// then says how to start one).
    Local(Option<PathBuf>),
    Kubernetes,
}

/// A target and why it was chosen (logged with `-v`, quoted in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub chosen: Chosen,
    pub why: String,
}

/// What resolution looks at, gathered once so the rule is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--target` / `MESHCTL_TARGET`.
    pub explicit: Option<TargetKind>,
    /// `--state-dir` / `MESHCTL_STATE_DIR`.
    pub state_dir: Option<PathBuf>,
    /// `--kubeconfig`, `--context` or `-n` given.
    pub cluster_flags: bool,
    /// The nearest .meshctl/ from the working directory upward.
    pub found: Option<PathBuf>,
    /// A kubeconfig exists ($KUBECONFIG, ~/.kube/config) or this runs in a pod.
    pub kubeconfig: bool,
    pub cwd: PathBuf,
}

/// The rule: an explicit `--target` wins and is never switched; `--state-dir` means local
/// and cluster flags mean Kubernetes; else the local mesh found upward, else the kubeconfig's
/// current context; else local (whose error says how to start a mesh).
pub fn resolve(i: &Inputs) -> Result<Resolved, CliError> {
    let cwd = i.cwd.display();
    let local = |dir: Option<PathBuf>, why: String| Resolved {
        chosen: Chosen::Local(dir),
        why,
    };
    let kube = |why: String| Resolved {
        chosen: Chosen::Kubernetes,
        why,
    };
    match i.explicit {
        Some(TargetKind::Local) => {
            if i.cluster_flags {
                return Err(usage(
                    "--kubeconfig, --context and -n select a cluster, but the target is local (--target/MESHCTL_TARGET): drop one of them",
                ));
            }
            let dir = i.state_dir.clone().or_else(|| i.found.clone());
            Ok(local(
                dir,
                "--target local (or MESHCTL_TARGET=local)".into(),
            ))
        }
        Some(TargetKind::Kubernetes) => {
            if let Some(dir) = &i.state_dir {
                return Err(usage(&format!(
                    "--state-dir/MESHCTL_STATE_DIR ({}) names a local mesh, but the target is kubernetes (--target/MESHCTL_TARGET): drop one of them",
                    dir.display()
                )));
            }
            let ignored = i
                .found
                .as_ref()
                .map(|d| format!("; the local mesh at {} is not used", d.display()))
                .unwrap_or_default();
            Ok(kube(format!(
                "--target kubernetes (or MESHCTL_TARGET=kubernetes){ignored}"
            )))
        }
        None => {
            if let Some(dir) = &i.state_dir {
                if i.cluster_flags {
                    return Err(usage(
                        "--state-dir/MESHCTL_STATE_DIR names a local mesh and --kubeconfig/--context/-n a cluster: pick one with --target local|kubernetes",
                    ));
                }
                return Ok(local(
                    Some(dir.clone()),
                    format!("--state-dir/MESHCTL_STATE_DIR {}", dir.display()),
                ));
            }
            if i.cluster_flags {
                return Ok(kube("--kubeconfig, --context or -n given".into()));
            }
            if let Some(dir) = &i.found {
                return Ok(local(
                    Some(dir.clone()),
                    format!(
                        "found the local mesh's {} (from {cwd} upward)",
                        dir.display()
                    ),
                ));
            }
            if i.kubeconfig {
                return Ok(kube(format!(
                    "no .meshctl/ in {cwd} or above, so the kubeconfig's current context"
                )));
            }
            Ok(local(
                None,
                format!("no .meshctl/ in {cwd} or above and no kubeconfig"),
            ))
        }
    }
}

fn usage(message: &str) -> CliError {
    CliError::usage(anyhow::anyhow!("{message}"))
}

/// Whether a kubeconfig is there to fall back on: $KUBECONFIG, ~/.kube/config, or a pod's
/// service account (KUBERNETES_SERVICE_HOST).
fn kubeconfig_present() -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    set("KUBECONFIG")
        || set("KUBERNETES_SERVICE_HOST")
        || std::env::var_os("HOME")
            .is_some_and(|h| Path::new(&h).join(".kube").join("config").exists())
}

/// Connects to the cluster the flags select; logs (with `-v`) which one and why.
pub async fn cluster(
    args: &KubeTargetArgs,
    request_timeout: std::time::Duration,
    why: &str,
) -> Result<crate::kube::mesh::Cluster, CliError> {
    use crate::kube::mesh::{Cluster, ControllerAdmin};
    let (client, target) = crate::kube::client::connect(&args.kube).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let admin = match &args.controller_admin {
        Some(url) => ControllerAdmin::Url(url.clone()),
        None => ControllerAdmin::PodsProxy {
            namespace: args.controller_namespace.clone(),
        },
    };
    tracing::info!("target kubernetes: {target}, namespace {namespace} ({why})");
    Ok(Cluster {
        client,
        target,
        namespace,
        admin,
        request_timeout,
    })
}

/// How [`wait_for_acks`] words what it waits for.
#[derive(Debug)]
pub struct Change<'a> {
    /// Leads the list of pods still pending ("pods not acknowledging the new split").
    pub pending: &'a str,
    /// While no replica has read the change yet.
    pub unread: &'a str,
    /// What holds already when the wait runs out ("the split is set").
    pub done: &'a str,
}

/// One look at every ready controller replica's `/status`: `Ok(version)` once `pending` finds
/// no caller left to acknowledge the change (the highest catalog version among the replicas
/// that `carries` it), else `Err(what is still pending, in words)` (`pending` says `None`
/// while no replica has read the change yet).
pub async fn acks_once(
    cluster: &crate::kube::mesh::Cluster,
    change: &Change<'_>,
    pending: impl Fn(&[ControllerStatus]) -> Option<Vec<String>>,
    carries: impl Fn(&ControllerStatus) -> bool,
) -> Result<Result<u64, String>, crate::kube::mesh::MeshError> {
    let replicas = crate::kube::mesh::controller_status(cluster).await?;
    Ok(match pending(&replicas) {
        Some(p) if p.is_empty() => Ok(replicas
            .iter()
            .filter(|r| carries(r))
            .map(|r| r.catalog_version)
            .max()
            .unwrap_or(0)),
        Some(p) => Err(format!("{}: {}", change.pending, p.join(", "))),
        None => Err(change.unread.to_string()),
    })
}

/// Polls [`acks_once`] until the change is acknowledged; exit 4 after `timeout`, naming the
/// pods.
pub async fn wait_for_acks(
    cluster: &crate::kube::mesh::Cluster,
    timeout: std::time::Duration,
    change: &Change<'_>,
    pending: impl Fn(&[ControllerStatus]) -> Option<Vec<String>>,
    carries: impl Fn(&ControllerStatus) -> bool,
) -> Result<u64, CliError> {
    let start = std::time::Instant::now();
    let mut first = true;
    loop {
        let waiting = match acks_once(cluster, change, &pending, &carries).await {
            Ok(Ok(version)) => return Ok(version),
            Ok(Err(waiting)) => waiting,
            // The first answer says whether the controller can be read at all (permissions,
            // address); later failures may be a replica restarting: retried.
            Err(e) if first => return Err(mesh_error(e)),
            Err(e) => format!("the controller's /status: {e:#}"),
        };
        first = false;
        if start.elapsed() >= timeout {
            return Err(CliError::new(
                anyhow::anyhow!(
                    "timed out after {}: {}, but {waiting}",
                    crate::duration::HumanDuration(timeout),
                    change.done
                ),
                EXIT_ACK_TIMEOUT,
            ));
        }
        tokio::time::sleep(ACK_POLL).await;
    }
}

/// The mesh an observe command's target selects: the local mesh's plan, or the cluster,
/// connected.
pub fn open_mesh(
    ctx: &Context<'_>,
    cluster: &KubeTargetArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Mesh, CliError> {
    let target = ctx.target(Some(cluster))?;
    if target.chosen == Chosen::Kubernetes {
        let timeout = ctx.global.request_timeout.0;
        let cluster = runtime.block_on(self::cluster(cluster, timeout, &target.why))?;
        return Ok(Mesh::Kubernetes(Box::new(cluster)));
    }
    let state = ctx.state_dir(StateFor::Mesh)?;
    let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
    Ok(Mesh::Local { state, plan })
}

/// The cluster the command targets, connected, as the mesh an observe command reads.
pub async fn cluster_mesh(ctx: &Context<'_>, flags: &KubeTargetArgs) -> Result<Mesh, CliError> {
    let why = ctx.target(Some(flags))?.why;
    let cluster = self::cluster(flags, ctx.global.request_timeout.0, &why).await?;
    Ok(Mesh::Kubernetes(Box::new(cluster)))
}

/// A cluster operation's error as the CLI exits with it.
pub fn mesh_error(e: crate::kube::mesh::MeshError) -> CliError {
    CliError::from(e)
}

impl Context<'_> {
    /// The target of a command; `kube` is its cluster flags (`None` for a command that has
    /// none because it only works on a local mesh).
    pub fn target(&self, kube: Option<&KubeTargetArgs>) -> Result<Resolved, CliError> {
        let inputs = Inputs {
            explicit: self.global.target,
            state_dir: self.global.state_dir.clone(),
            cluster_flags: kube.is_some_and(KubeTargetArgs::selects_cluster),
            found: crate::state::find(None, &self.cwd),
            kubeconfig: kubeconfig_present(),
            cwd: self.cwd.clone(),
        };
        let resolved = resolve(&inputs)?;
        // Kubernetes is logged once connected, naming the context and server.
        if let Chosen::Local(dir) = &resolved.chosen {
            let dir = dir.as_ref().map_or("no state directory".to_string(), |d| {
                d.display().to_string()
            });
            tracing::info!("target local: {dir} ({})", resolved.why);
        }
        Ok(resolved)
    }

    /// For a command that works on a local mesh only: exit 2 when the target is Kubernetes,
    /// never acting on a local mesh instead.
    pub fn local_only(&self, command: &str) -> Result<(), CliError> {
        match self.target(None)? {
            Resolved {
                chosen: Chosen::Kubernetes,
                why,
            } => Err(usage(&format!(
                "`meshctl {command}` is not available on Kubernetes yet (target kubernetes: {why}; --target local or --state-dir DIR for a local mesh)"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            cwd: PathBuf::from("/work/app"),
            ..Default::default()
        }
    }

    #[test]
    fn a_local_mesh_found_upward_is_the_target() {
        let r = resolve(&Inputs {
            found: Some("/work/.meshctl".into()),
            kubeconfig: true,
            ..inputs()
        })
        .unwrap();
        assert_eq!(r.chosen, Chosen::Local(Some("/work/.meshctl".into())));
        assert!(r.why.contains("/work/.meshctl"), "{}", r.why);
    }

    #[test]
    fn without_a_local_mesh_the_kubeconfig_context_is_the_target() {
        let r = resolve(&Inputs {
            kubeconfig: true,
            ..inputs()
        })
        .unwrap();
        assert_eq!(r.chosen, Chosen::Kubernetes);
        assert!(r.why.contains("no .meshctl/ in /work/app"), "{}", r.why);
        // Neither: local, whose error says how to start a mesh.
        assert_eq!(resolve(&inputs()).unwrap().chosen, Chosen::Local(None));
    }

    #[test]
    fn an_explicit_target_wins_and_is_never_switched() {
        // Kubernetes although a local mesh is right there.
        let r = resolve(&Inputs {
            explicit: Some(TargetKind::Kubernetes),
            found: Some("/work/.meshctl".into()),
            ..inputs()
        })
        .unwrap();
        assert_eq!(r.chosen, Chosen::Kubernetes);
        assert!(r.why.contains("not used"), "{}", r.why);
        // Local although there is none and a kubeconfig is there: no fall-back.
        let r = resolve(&Inputs {
            explicit: Some(TargetKind::Local),
            kubeconfig: true,
            ..inputs()
        })
        .unwrap();
        assert_eq!(r.chosen, Chosen::Local(None));
        // Flags pick too: --state-dir local, --context kubernetes.
        let r = resolve(&Inputs {
            state_dir: Some("/x/.meshctl".into()),
            kubeconfig: true,
            ..inputs()
        })
        .unwrap();
        assert_eq!(r.chosen, Chosen::Local(Some("/x/.meshctl".into())));
        let r = resolve(&Inputs {
            cluster_flags: true,
            found: Some("/work/.meshctl".into()),
            ..inputs()
        })
        .unwrap();
        assert_eq!(r.chosen, Chosen::Kubernetes);
    }

    #[test]
    fn a_conflicting_explicit_target_is_a_usage_error() {
        for i in [
            Inputs {
                explicit: Some(TargetKind::Kubernetes),
                state_dir: Some("/x/.meshctl".into()),
                ..inputs()
            },
            Inputs {
                explicit: Some(TargetKind::Local),
                cluster_flags: true,
                ..inputs()
            },
            Inputs {
                state_dir: Some("/x/.meshctl".into()),
                cluster_flags: true,
                ..inputs()
            },
        ] {
            let e = resolve(&i).unwrap_err();
            assert_eq!(e.code, crate::exit::code::USAGE, "{i:?}");
        }
    }
}
