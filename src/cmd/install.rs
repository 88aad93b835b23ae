//! `meshctl install`: renders the Kubernetes manifests of the mesh's control plane (stdout,
//! for `kubectl apply -f -`), or applies them itself with server-side apply and waits for
//! the controller.

use std::path::PathBuf;

use anyhow::anyhow;

use super::Context;
use crate::duration::HumanDuration;
use crate::exit::{CliError, CliResult, code};
use crate::kube::apply::{self, ApplyOptions, NotReady};
use crate::kube::client::{self, KubeArgs};
use crate::kube::identity::{self, MaterialError, Source};
use crate::kube::manifests::{self, InstallOptions};
use crate::kube::{DEFAULT_IMAGE, DEFAULT_NAMESPACE, EXIT_NOT_READY};
use crate::output::OutputFormat;

const INSTALL_HELP: &str = "\
Without --apply the manifests go to stdout (YAML; -o json for a v1 List).
With --apply they are server-side applied (field manager `meshctl`) in order: CRDs, the
Namespace, the controller's ServiceAccount and RBAC, the issuer Secret and trust bundle,
the Service, the Deployment (and PodDisruptionBudget with --ha), the injection webhook.

Identity: without --identity-dir or --issuer-cert, a new trust anchor and issuer are made
and saved under --save-identity (the anchor key, mode 0600, never goes into the cluster);
install again with --identity-dir DIR to keep the same mesh identity.

Examples:
  meshctl install | kubectl apply --server-side -f -
  meshctl install --apply --wait
  meshctl install --apply --ha --crds --identity-dir meshctl-identity   # the same mesh identity again
  meshctl install --image registry.example.com/meshctl:0.1.0 --namespace mesh-system -o json > install.json
  meshctl install --apply --dry-run server --context prod

Exit codes:
  0  rendered, or applied (and Available with --wait)
  1  the cluster refused or could not be reached, or a file could not be written
  2  usage error: bad flags, trust domain, namespace or issuer files
  4  --wait: the controller was not Available within --timeout";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DryRun {
    /// The API server validates and admits each object without storing it
    Server,
}

#[derive(Debug, clap::Args)]
#[command(after_help = INSTALL_HELP)]
pub struct Args {
    /// Namespace of the control plane
    #[arg(long, value_name = "NAME", default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// Image of the controller (meshctl's static binary; see the Containerfile)
    #[arg(long, default_value = DEFAULT_IMAGE)]
    image: String,
    /// Three controller replicas spread over nodes, with a PodDisruptionBudget
    #[arg(long)]
    ha: bool,
    /// Trust domain of a new CA (default mesh.local), or the one the given CA must have
    #[arg(long, value_name = "DOMAIN")]
    trust_domain: Option<String>,
    /// Use this CA (as `meshctl certs init` or a previous install wrote it: DIR holds identity/)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["issuer_cert", "discard_anchor_key", "save_identity"])]
    identity_dir: Option<PathBuf>,
    /// An organisation's issuer certificate (PEM; may be followed by its chain up to the root)
    #[arg(long, value_name = "FILE", requires = "issuer_key", conflicts_with_all = ["discard_anchor_key", "save_identity"])]
    issuer_cert: Option<PathBuf>,
    /// The issuer's private key (PEM)
    #[arg(long, value_name = "FILE", requires = "issuer_cert")]
    issuer_key: Option<PathBuf>,
    /// The root the issuer chains to (the mesh's trust anchor), unless --issuer-cert ends with it
    #[arg(long, value_name = "FILE", requires = "issuer_cert")]
    anchor_cert: Option<PathBuf>,
    /// Where a new CA is saved (its trust anchor key never goes into the cluster)
    #[arg(long, value_name = "DIR")]
    save_identity: Option<PathBuf>,
    /// Make a new CA without saving its anchor key: the issuer can never be renewed under it
    #[arg(long, conflicts_with = "save_identity")]
    discard_anchor_key: bool,
    /// Also install the Gateway API HTTPRoute CRD (skip it when Gateway API is installed)
    #[arg(long)]
    crds: bool,
    /// Apply the manifests to the cluster (server-side apply) instead of printing them
    #[arg(long)]
    apply: bool,
    /// Take over fields another field manager owns
    #[arg(long, requires = "apply")]
    force_conflicts: bool,
    /// Have the API server validate and admit without storing
    #[arg(
        long,
        value_enum,
        value_name = "server",
        requires = "apply",
        conflicts_with = "wait"
    )]
    dry_run: Option<DryRun>,
    /// Wait until the controller Deployment is Available
    #[arg(long, requires = "apply")]
    wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    timeout: HumanDuration,
    #[command(flatten)]
    kube: KubeArgs,
}

/// The default directory a new CA is saved to, relative to the working directory.
pub const DEFAULT_SAVE_DIR: &str = "meshctl-identity";

/// A DNS-1123 label, as Kubernetes requires of namespace names.
pub fn check_namespace(name: &str) -> anyhow::Result<()> {
    if crate::identity::spiffe::is_dns_label(name) {
        Ok(())
    } else {
        Err(anyhow!(
            "--namespace `{name}`: not a valid namespace name (lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit)"
        ))
    }
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    check_namespace(&args.namespace).map_err(CliError::usage)?;
    if args.image.trim().is_empty() {
        return Err(CliError::usage(anyhow!("--image is empty")));
    }
    let source = if let Some(dir) = &args.identity_dir {
        Source::Dir(dir.clone())
    } else if let (Some(cert), Some(key)) = (&args.issuer_cert, &args.issuer_key) {
        Source::Files {
            cert: cert.clone(),
            key: key.clone(),
            anchor: args.anchor_cert.clone(),
        }
    } else if args.discard_anchor_key {
        Source::Generate { save_to: None }
    } else {
        let dir = args
            .save_identity
            .clone()
            .unwrap_or_else(|| ctx.cwd.join(DEFAULT_SAVE_DIR));
        Source::Generate { save_to: Some(dir) }
    };
    let resolved =
        identity::resolve(&source, args.trust_domain.as_deref()).map_err(|e| match e {
            MaterialError::Input(e) => CliError::usage(e),
            MaterialError::Runtime(e) => CliError::new(e, code::FAILURE),
        })?;
    if let (Some(key), Source::Generate { save_to: Some(dir) }) =
        (&resolved.saved_anchor_key, &source)
    {
        eprintln!(
            "meshctl install: new mesh CA saved in {} (trust anchor key {}, mode 0600; it never goes into the cluster: keep it safe). Install again with --identity-dir {} to keep this identity.",
            dir.display(),
            key.display(),
            dir.display()
        );
    }
    let opts = InstallOptions {
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        ha: args.ha,
        crds: args.crds,
    };
    let objects = manifests::render(&opts, &resolved.material)?.objects()?;
    if !args.apply {
        let text = match ctx.global.output {
            OutputFormat::Json => {
                let mut s = serde_json::to_string_pretty(&manifests::to_json_list(&objects))
                    .map_err(anyhow::Error::from)?;
                s.push('\n');
                s
            }
            _ => manifests::to_yaml(&objects),
        };
        ctx.out.write_all(text.as_bytes())?;
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let apply_opts = ApplyOptions {
        force_conflicts: args.force_conflicts,
        dry_run: args.dry_run.is_some(),
    };
    let target = runtime.block_on(async {
        let (client, target) = client::connect(&args.kube).await?;
        let bar = crate::output::step_bar(objects.len() as u64, false)?;
        let suffix = if apply_opts.dry_run {
            " (server dry run)"
        } else {
            ""
        };
        let applied = apply::apply_all(&client, &target, &objects, apply_opts, |o| {
            bar.println(format!("√ applied {}{suffix}", o.describe()));
            bar.inc(1);
        })
        .await;
        bar.finish_and_clear();
        let applied = applied?;
        if args.wait {
            let bar = crate::output::step_bar(1, false)?;
            bar.set_message("waiting for the controller Deployment to be Available");
            let waited = apply::wait_available(
                &client,
                &target,
                &args.namespace,
                args.timeout.0,
                std::time::Duration::from_secs(2),
            )
            .await;
            bar.finish_and_clear();
            waited?;
        }
        Ok::<_, anyhow::Error>((target, applied))
    });
    let (target, applied) = runtime_result(target)?;
    let verb = if apply_opts.dry_run {
        "validated (server dry run)"
    } else {
        "applied"
    };
    writeln!(ctx.out, "{verb} {} objects ({target})", applied.applied)?;
    if !applied.not_validated.is_empty() {
        writeln!(
            ctx.out,
            "not validated, because their namespace does not exist yet (a dry run creates nothing): {}",
            applied.not_validated.join(", ")
        )?;
    }
    if args.wait {
        writeln!(
            ctx.out,
            "controller Deployment {}/meshctl-controller is Available",
            args.namespace
        )?;
    }
    Ok(())
}

/// A [`NotReady`] exits 4; anything else 1.
pub fn runtime_result<T>(r: anyhow::Result<T>) -> Result<T, CliError> {
    r.map_err(|e| {
        if e.downcast_ref::<NotReady>().is_some() {
            CliError::new(e, EXIT_NOT_READY)
        } else {
            CliError::new(e, code::FAILURE)
        }
    })
}
