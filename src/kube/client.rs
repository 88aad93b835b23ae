//! Which cluster: kubeconfig like kubectl (`--kubeconfig`, else `KUBECONFIG`, else
//! ~/.kube/config; `--context`, else the current context), in-cluster config when there is no
//! kubeconfig; and errors that name the context and the server.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The flags every command that talks to a cluster takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeArgs {
    /// Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: the current context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// The cluster a command talks to, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub context: String,
    pub server: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "context {}, server {}", self.context, self.server)
    }
}

/// A client for the cluster `args` select.
pub async fn connect(args: &KubeArgs) -> anyhow::Result<(Client, Target)> {
    let kubeconfig = match &args.kubeconfig {
        Some(path) => Some(
            Kubeconfig::read_from(path)
                .with_context(|| format!("--kubeconfig {}", path.display()))?,
        ),
        None => read_default()?,
    };
    let (config, context) = match kubeconfig {
        Some(kc) => {
            let context = match &args.context {
                Some(c) => c.clone(),
                None => kc.current_context.clone().ok_or_else(|| {
                    anyhow!("the kubeconfig has no current context: pass --context NAME")
                })?,
            };
            if !kc.contexts.iter().any(|c| c.name == context) {
                let known: Vec<_> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
                return Err(anyhow!(
                    "context `{context}` is not in the kubeconfig (it has: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            let options = KubeConfigOptions {
                context: Some(context.clone()),
                ..Default::default()
            };
            let config = Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("kubeconfig context `{context}`"))?;
            (config, context)
        }
        None => {
            if let Some(c) = &args.context {
                return Err(anyhow!(
                    "--context {c}: no kubeconfig (set KUBECONFIG or pass --kubeconfig FILE)"
                ));
            }
            let config = Config::incluster().map_err(|e| {
                anyhow!(
                    "no kubeconfig ($KUBECONFIG unset, no ~/.kube/config) and not running in a cluster: {e}"
                )
            })?;
            (config, "in-cluster".to_string())
        }
    };
    let target = Target {
        context,
        server: config.cluster_url.to_string(),
    };
    let client =
        Client::try_from(config).map_err(|e| anyhow!("building a client for {target}: {e}"))?;
    Ok((client, target))
}

/// `$KUBECONFIG` (a list, merged) or ~/.kube/config; `None` when neither exists.
fn read_default() -> anyhow::Result<Option<Kubeconfig>> {
    let env_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"));
    if !env_set && !home.as_ref().is_some_and(|p| p.exists()) {
        return Ok(None);
    }
    Kubeconfig::read().map(Some).map_err(|e| {
        if env_set {
            anyhow!("KUBECONFIG: {e}")
        } else {
            anyhow!("~/.kube/config: {e}")
        }
    })
}
