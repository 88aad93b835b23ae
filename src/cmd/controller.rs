//! `meshctl controller`: the control plane of a local mesh (started by `meshctl up`), or with
//! `--kube` the control plane of a cluster (what `meshctl install` deploys).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use super::Context;
use super::StateFor;
use crate::control::backend::LocalBackend;
use crate::control::plan::MeshPlan;
use crate::control::server::ControlPlane;
use crate::control::transport;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult};
use crate::identity::store::CaStore;

const CONTROLLER_HELP: &str = "\
You rarely run it yourself: `meshctl up` starts the local one, `meshctl install` deploys the
cluster's (its Deployment runs `controller --kube` with the issuer Secret mounted).

Examples:
  meshctl --state-dir .meshctl controller        # what meshctl up starts
  meshctl controller --kube --trust-domain mesh.local --issuer-dir /var/run/meshctl/issuer
  meshctl controller --kube --trust-domain mesh.local --issuer-dir ./issuer \\
      --context dev --tls-san 192.0.2.10         # out of the cluster, with its kubeconfig";

#[derive(Debug, clap::Args)]
#[command(after_help = CONTROLLER_HELP)]
pub struct Args {
    /// Lifetime of the workload certificates it issues to proxies
    #[arg(long, default_value = "24h", allow_hyphen_values = true)]
    leaf_lifetime: HumanDuration,
    /// Serve a Kubernetes cluster: the catalog from the API server, proxies authenticated by
    /// service-account tokens (what `meshctl install` runs)
    #[arg(long, requires_all = ["trust_domain", "issuer_dir"])]
    kube: bool,
    /// The mesh's trust domain [--kube]
    #[arg(long, value_name = "DOMAIN", requires = "kube")]
    trust_domain: Option<String>,
    /// Directory with the issuer: tls.crt, tls.key and ca.crt (the mounted issuer Secret)
    /// [--kube]
    #[arg(long, value_name = "DIR", requires = "kube")]
    issuer_dir: Option<PathBuf>,
    /// The controller's own namespace [--kube]
    #[arg(long, value_name = "NS", env = "MESHCTL_NAMESPACE", default_value = crate::kube::DEFAULT_NAMESPACE)]
    namespace: String,
    /// gRPC-over-TLS listener proxies connect to [--kube]
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    grpc_listen: SocketAddr,
    /// Admission webhook listener (HTTPS) [--kube]
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9443")]
    webhook_listen: SocketAddr,
    /// Admin listener: /live, /ready, /metrics [--kube]
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9990")]
    admin_listen: SocketAddr,
    /// Another DNS name or IP address for the serving certificate, beyond the controller
    /// Service's names (repeatable) [--kube]
    #[arg(long, value_name = "NAME", requires = "kube")]
    tls_san: Vec<String>,
    /// The sidecar image the webhook injects [--kube]
    #[arg(long, value_name = "IMAGE", env = "MESHCTL_IMAGE", default_value = crate::kube::DEFAULT_IMAGE)]
    image: String,
    #[command(flatten)]
    cluster: crate::kube::client::KubeArgs,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    if args.kube {
        return run_kube(args);
    }
    let state = ctx.state_dir(StateFor::Ca)?;
    let plan = MeshPlan::load(&state).map_err(anyhow::Error::new)?;
    let store = CaStore::new(&state);
    let issuer = store.issuer().context("loading the mesh CA")?;
    let bundle = store.bundle_pem().context("loading the trust bundle")?;
    let socket = plan.control_socket.clone();
    let backend = Arc::new(LocalBackend::new(plan, &state));
    let plane = ControlPlane::new(backend, issuer, bundle, args.leaf_lifetime.0)
        .map_err(anyhow::Error::new)?
        .reloads_from(store);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime
        .block_on(async {
            tokio::spawn(plane.clone().expire_faults());
            tracing::info!(socket = %socket.display(), "control plane serving");
            until_stopped(transport::serve(plane, &socket, shutdown_signal())).await
        })
        .with_context(|| format!("serving the control plane on {}", socket.display()))?;
    Ok(())
}

fn run_kube(args: Args) -> CliResult {
    let (Some(trust_domain), Some(issuer_dir)) = (args.trust_domain, args.issuer_dir) else {
        return Err(CliError::usage(anyhow::anyhow!(
            "--kube needs --trust-domain and --issuer-dir"
        )));
    };
    crate::identity::spiffe::validate_trust_domain(&trust_domain)
        .map_err(|e| CliError::usage(anyhow::anyhow!("--trust-domain: {e}")))?;
    for name in &args.tls_san {
        if name.parse::<std::net::IpAddr>().is_err()
            && rustls_pki_types::DnsName::try_from(name.as_str()).is_err()
        {
            return Err(CliError::usage(anyhow::anyhow!(
                "--tls-san {name}: neither an IP address nor a DNS name"
            )));
        }
    }
    let options = crate::kube::controller::run::Options {
        trust_domain,
        issuer_dir,
        namespace: args.namespace,
        grpc: args.grpc_listen,
        webhook: args.webhook_listen,
        admin: args.admin_listen,
        extra_names: args.tls_san,
        leaf_lifetime: args.leaf_lifetime.0,
        image: args.image,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (client, target) = crate::kube::client::connect(&args.cluster).await?;
        tracing::info!(%target, "watching the cluster");
        until_stopped(crate::kube::controller::run::run(
            client,
            options,
            shutdown_signal(),
        ))
        .await
        .with_context(|| format!("the controller for {target}"))
    })?;
    Ok(())
}

/// How long calls in flight may finish after SIGTERM or SIGINT. A proxy's configuration
/// watch never ends by itself, so a graceful shutdown that waited for every call would wait
/// forever (and the supervisor would never restart the control plane); the proxies keep
/// their configuration and reconnect to the next one.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs `serve` (which stops accepting at the signal) until it ends, or until
/// [`SHUTDOWN_GRACE`] after the signal.
async fn until_stopped<T, E>(
    serve: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(), E> {
    tokio::select! {
        result = serve => result.map(|_| ()),
        () = async {
            shutdown_signal().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::info!("stopped (calls still open after the grace period were cut)");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
