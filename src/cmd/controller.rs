//! `meshctl controller`: the control plane of a local mesh (started by `meshctl up`).

use std::sync::Arc;

use anyhow::Context as _;

use super::Context;
use super::StateFor;
use crate::control::backend::LocalBackend;
use crate::control::plan::MeshPlan;
use crate::control::server::ControlPlane;
use crate::control::transport;
use crate::duration::HumanDuration;
use crate::exit::CliResult;
use crate::identity::store::CaStore;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lifetime of the workload certificates it issues to proxies
    #[arg(long, default_value = "24h", allow_hyphen_values = true)]
    leaf_lifetime: HumanDuration,
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
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
            transport::serve(plane, &socket, shutdown_signal()).await
        })
        .with_context(|| format!("serving the control plane on {}", socket.display()))?;
    Ok(())
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
