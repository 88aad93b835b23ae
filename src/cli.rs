//! The command line: top-level `Cli`, the `Command` enum and the flags every command shares.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;
use crate::output::OutputFormat;

/// The heading `--help` shows the flags every command accepts under.
pub const GLOBAL_OPTIONS: &str = "Global options";

/// `meshctl --help`'s closing text: a first session, then the exit codes every command
/// shares (commands add their own, 3+, in their `--help`).
const ROOT_HELP: &str = "\
Examples:
  meshctl up --demo                                # a local mesh: web -> api (v1, v2) -> quotes
  meshctl status                                   # every instance and whether it is healthy
  meshctl stat api                                 # success rate, RPS and latency per version
  meshctl canary start api --to v2 --interval 10s  # a gated rollout of api's v2
  meshctl install --apply --wait                   # the control plane in the current kubeconfig context

Exit codes:
  0  success
  1  runtime failure or failed check
  2  usage error (bad flags, arguments or input)
  3+ command-specific, see the command's --help";

#[derive(Debug, Parser)]
#[command(
    name = "meshctl",
    version,
    about = "A service mesh in one binary: mTLS sidecars, identities, traffic policy and live metrics",
    long_about = "meshctl runs a service mesh from one binary: `meshctl proxy` is the mTLS sidecar, \
                  `meshctl certs` manages the mesh's certificate authority and workload identities.",
    after_help = ROOT_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Output format of read commands
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table, help_heading = GLOBAL_OPTIONS)]
    pub output: OutputFormat,
    /// Disable colour (also when NO_COLOR is set or stdout is not a terminal)
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS)]
    pub no_color: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL_OPTIONS)]
    pub verbose: u8,
    /// State directory [default: nearest .meshctl/ from the current directory upward]
    #[arg(long, global = true, env = "MESHCTL_STATE_DIR", value_name = "DIR", help_heading = GLOBAL_OPTIONS)]
    pub state_dir: Option<PathBuf>,
    /// Which mesh commands act on [default: the local mesh found from the current directory
    /// upward (or --state-dir), else the current kubeconfig context; never switched once given]
    // Its own id: `stat` and `tap` have a positional called `target`.
    #[arg(
        id = "mesh_target",
        long = "target",
        global = true,
        help_heading = GLOBAL_OPTIONS,
        env = "MESHCTL_TARGET",
        value_enum,
        value_name = "TARGET"
    )]
    pub target: Option<cmd::target::TargetKind>,
    /// How long one call to the control plane may wait for its answer before the command
    /// fails, naming the socket (like kubectl's --request-timeout)
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL_OPTIONS,
        env = "MESHCTL_REQUEST_TIMEOUT",
        value_name = "DURATION",
        default_value_t = crate::duration::HumanDuration(crate::api::transport::DEFAULT_REQUEST_TIMEOUT)
    )]
    pub request_timeout: crate::duration::HumanDuration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole mesh from mesh.yaml on this machine: control plane, proxies, apps
    Up(cmd::up::Args),
    /// Run the built-in demo mesh (the same as `meshctl up --demo`)
    Demo(cmd::up::DemoArgs),
    /// Stop the mesh `meshctl up --detach` started
    Down(cmd::down::Args),
    /// Show what runs in the mesh (local, or the meshed pods on Kubernetes) and whether it is healthy
    Status(cmd::status::Args),
    /// Golden metrics per service and version: success rate, RPS, latency percentiles
    Stat(cmd::stat::Args),
    /// Live requests through a service's proxies: request, response and end of each
    Tap(cmd::tap::Args),
    /// The busiest routes (source, destination, method, path), live; q quits
    Top(cmd::top::Args),
    /// Who talks to whom: client and server identities and whether the hop was mTLS
    Edges(cmd::edges::Args),
    /// What the mesh would do with one request, and why (a dry run on the live proxies)
    Explain(cmd::explain::Args),
    /// Shift traffic between a service's versions (weighted splits)
    Canary(cmd::canary::Args),
    /// Inject aborts and delays into a service's traffic (chaos testing), clear and list them
    Fault(cmd::fault::Args),
    /// The mesh's entry for external clients (declared in mesh.yaml): manage its API keys
    Gateway(cmd::gateway::Args),
    /// Manage the mesh certificate authority and workload certificates
    Certs(cmd::certs::Args),
    /// Install the mesh's control plane in a Kubernetes cluster (print or apply the manifests)
    Install(Box<cmd::install::Args>),
    /// Remove what `meshctl install` created from a Kubernetes cluster
    Uninstall(cmd::uninstall::Args),
    /// Add the sidecar to Kubernetes manifests (Pods, Deployments, Jobs, …) read from a file or stdin
    Inject(cmd::inject::InjectArgs),
    /// Remove what `meshctl inject` added
    Uninject(cmd::inject::UninjectArgs),
    /// Check the local mesh's health: control plane, proxies, apps, certificates (or with --kube the cluster's): √ ‼ ×, with a hint each
    Check(cmd::check::Args),
    /// Run the control plane of a local mesh (started for you by `meshctl up`), or with --kube of a cluster (what `meshctl install` deploys)
    Controller(cmd::controller::Args),
    /// Print a Prometheus scrape job for the local mesh's proxies (file_sd, kept current by `up`)
    PrometheusConfig(cmd::prometheus_config::Args),
    /// Print the shell completion script for bash, zsh, fish or powershell
    Completion(cmd::generate::CompletionArgs),
    /// Print the client's version and the control plane's (the local mesh's, or every controller replica's on Kubernetes)
    Version(cmd::version::Args),
    /// Run the sidecar proxy (mTLS data plane)
    Proxy(Box<cmd::proxy::Args>),
    /// Generate shell completions and man pages (for packagers)
    #[command(hide = true)]
    Generate(cmd::generate::Args),
    /// Run one role of the built-in demo application (launched by `meshctl up --demo`)
    #[command(hide = true)]
    DemoApp(cmd::demo_app::Args),
}

/// Verbs other meshes' CLIs have that meshctl does not (yet), with what to use meanwhile: an
/// unknown subcommand that is one of them is answered with this rather than clap's "unrecognized".
const UNBUILT_VERBS: &[(&str, &str)] = &[
    (
        "dashboard",
        "for live figures use `meshctl stat`, `meshctl top` or `meshctl edges`",
    ),
    (
        "viz",
        "for live figures use `meshctl stat`, `meshctl top` or `meshctl edges`",
    ),
    ("routes", "`meshctl top` shows the busiest routes"),
    ("profile", "route policies go in mesh.yaml (`policy:`)"),
    (
        "authz",
        "authorization policies go in mesh.yaml (`policy:`)",
    ),
    ("policy", "policies go in mesh.yaml (`policy:`)"),
    ("diagnostics", "use `meshctl check` and `meshctl status`"),
    ("analyze", "use `meshctl check`"),
    ("proxy-status", "use `meshctl status`"),
    (
        "proxy-config",
        "a proxy serves its configuration at http://<admin>/config (addresses: `meshctl status -o wide`)",
    ),
    ("identity", "certificates are `meshctl certs`"),
    ("logs", "the mesh's logs are in .meshctl/logs/"),
    ("rollout", "progressive rollouts are `meshctl canary start`"),
    ("split", "traffic splits are `meshctl canary shift`"),
    (
        "scale",
        "set `replicas:` in mesh.yaml and restart `meshctl up`",
    ),
    (
        "multicluster",
        "a mesh spans one machine or one cluster today",
    ),
    ("mirror", "traffic mirroring is not available"),
    (
        "jaeger",
        "proxies export spans to mesh.yaml's `otlp_endpoint`",
    ),
];

/// For an unknown subcommand that is a known mesh verb: the one-line answer saying so.
pub fn unbuilt_verb(name: &str) -> Option<String> {
    UNBUILT_VERBS
        .iter()
        .find(|(verb, _)| *verb == name)
        .map(|(verb, instead)| format!("error: `meshctl {verb}` is not built yet; {instead}"))
}

/// Logs go to stderr; `-v` raises the level, `RUST_LOG` wins when set.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        // kube's client logs each failed request at ERROR; the command's own error already
        // names the request, the server and the cause in one line.
        0 => "warn,kube_client=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests;
