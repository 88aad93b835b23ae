//! `meshctl check --kube`: connects to the cluster and runs the Kubernetes checks; the
//! rendering and exit status are `check`'s own.

use crate::exit::CliError;
use crate::identity::checks::{Outcome, Severity};
use crate::kube::checks::{self, CheckOptions};
use crate::kube::client::{self, KubeArgs};

/// The outcomes of every cluster check. A cluster that cannot even be configured (no
/// kubeconfig, unknown context) is an error of the command, not a check.
pub fn gather(args: &KubeArgs, namespace: &str, pre: bool) -> Result<Vec<Outcome>, CliError> {
    super::install::check_namespace(namespace).map_err(CliError::usage)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (client, target) = client::connect(args).await?;
        let mut outcomes = checks::run(
            &client,
            &CheckOptions {
                namespace: namespace.to_string(),
                pre,
            },
        )
        .await;
        if let Some(first) = outcomes.first_mut()
            && first.status != Severity::Error
        {
            first.detail = format!(
                "{} at {} (context {})",
                first.detail, target.server, target.context
            );
        } else if let Some(first) = outcomes.first_mut() {
            first.detail = format!("{} ({target})", first.detail);
        }
        Ok(outcomes)
    })
}
