//! `meshctl up`: run a whole mesh from mesh.yaml on this machine (`--demo`: the built-in one).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::Context;
use crate::control::launch::{InstanceReport, LaunchError, LaunchOptions, LocalMesh, PID_FILE};
use crate::control::local::LocalError;
use crate::control::meshfile::{DEFAULT_FILE_NAME, GATEWAY_SERVICE, GatewaySpec, MeshFile};
use crate::control::plan::MeshPlan;
use crate::control::state_files;
use crate::demo::mesh::{DemoPorts, mesh_yaml};
use crate::exit::{CliError, CliResult};
use crate::output;

/// Set in the environment of the background copy `--detach` starts.
const DETACHED_ENV: &str = "MESHCTL_UP_DETACHED";
/// Written once the mesh is ready (what a detaching parent waits for and prints).
const READY_FILE: &str = "run/ready.json";
/// How long a background `up` that did not get ready in time has to stop what it started
/// after SIGTERM, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long `--detach` waits for the background mesh to be ready.
const DETACH_TIMEOUT: Duration = Duration::from_secs(60);

const UP_HELP: &str = "\
Starts the control plane, one sidecar proxy per service instance and the commands mesh.yaml
declares (restarted with backoff; output in .meshctl/logs/), then prints where everything
listens. Launched commands get HTTP_PROXY (their outbound proxy: http://<service>/ works),
MESH_UPSTREAM_<NAME>=host:port per upstream, MESH_SERVICE, MESH_VERSION, MESH_PORT (and
PORT) with the app's port, and MESH_REPLICA (0-based); `{port}` and `{replica}` in a command
are replaced too. A version with `replicas: N` runs N instances (api.v1.r0 …), each with its
own port and proxy.
Ctrl-C or SIGTERM drains everything and exits 0; with --detach, `meshctl down` does.

Examples:
  meshctl up                                   # mesh.yaml of the current directory, in the foreground
  meshctl up -f deploy/mesh.yaml --detach && meshctl status
  meshctl up --demo --v2-error-rate 30%        # the demo with an api v2 that fails 30% of requests
  meshctl up --detach --leaf-lifetime 1h       # shorter-lived workload certificates
  meshctl up --reset-state                     # start over when a saved state file is corrupt

Exit codes:
  0  the mesh ran and was stopped cleanly (or, with --detach, is running)
  1  failure (a mesh already runs here, a port is in use, something did not become ready,
     a saved state file in .meshctl/ is corrupt: fix it or start with --reset-state)
  2  usage error (mesh.yaml missing, unreadable or invalid: the message names the file, and
     file:line:column and the field when it is invalid)";

#[derive(Debug, clap::Args)]
#[command(after_help = UP_HELP)]
pub struct Args {
    /// The mesh description
    #[arg(short = 'f', long = "file", value_name = "FILE", default_value = DEFAULT_FILE_NAME, conflicts_with = "demo")]
    file: PathBuf,
    /// Run the built-in demo (web → api v1/v2 → quotes over gRPC, with a load generator)
    #[arg(long)]
    demo: bool,
    /// With --demo: the share of requests api v2 fails (both versions fail 2% by default),
    /// e.g. 30% to watch `canary start` roll a broken v2 back
    #[arg(
        long,
        requires = "demo",
        value_name = "PERCENT",
        allow_hyphen_values = true
    )]
    v2_error_rate: Option<crate::canary::gate::Percent>,
    /// Start in the background and return once ready (`meshctl down` stops it)
    #[arg(long)]
    detach: bool,
    /// Lifetime of the proxies' workload certificates (renewed at 70%)
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    leaf_lifetime: Option<crate::duration::HumanDuration>,
    /// Discard the saved traffic state (splits.json, faults.json, canary-routes.json are
    /// moved aside to <file>.discarded) and start from mesh.yaml alone
    #[arg(long)]
    reset_state: bool,
}

/// `meshctl demo`'s flags.
const DEMO_HELP: &str = "\
The demo: web -> api (v1 and v2, HTTP) -> quotes (gRPC), and a load generator calling web.

Examples:
  meshctl demo
  meshctl demo --v2-error-rate 30%   # a broken api v2: `meshctl canary start api --to v2` rolls it back
  meshctl demo --state-dir /tmp/demo/.meshctl";

#[derive(Debug, clap::Args)]
#[command(after_help = DEMO_HELP)]
pub struct DemoArgs {
    /// The share of requests api v2 fails (both versions fail 2% by default), e.g. 30% to
    /// watch `canary start` roll a broken v2 back
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    v2_error_rate: Option<crate::canary::gate::Percent>,
}

impl Args {
    /// `meshctl demo`: the same as `meshctl up --demo`.
    pub fn demo(a: DemoArgs) -> Self {
        Args {
            file: PathBuf::from(DEFAULT_FILE_NAME),
            demo: true,
            v2_error_rate: a.v2_error_rate,
            detach: false,
            leaf_lifetime: None,
            reset_state: false,
        }
    }
}

/// The readiness summary: printed as a table, or as JSON/YAML with `-o`.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Summary {
    state_dir: PathBuf,
    /// Milliseconds until every proxy was ready and every launched app others call
    /// listened; with `--detach`, counted by the command that waited, from starting the
    /// background mesh.
    ready_ms: u128,
    instances: Vec<InstanceView>,
    /// Where external clients reach the mesh (`https://127.0.0.1:8443`), when it has a
    /// gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
struct InstanceView {
    name: String,
    service: String,
    version: Option<String>,
    app: String,
    serves: bool,
    app_listening: bool,
    inbound: String,
    http_proxy: String,
    admin: String,
    upstreams: std::collections::BTreeMap<String, String>,
    spiffe_id: String,
}

impl From<&InstanceReport> for InstanceView {
    fn from(r: &InstanceReport) -> Self {
        InstanceView {
            name: r.name.clone(),
            service: r.service.clone(),
            version: r.version.clone(),
            app: r.app.to_string(),
            serves: r.serves,
            app_listening: r.app_listening,
            inbound: r.inbound.to_string(),
            http_proxy: r.http_proxy.to_string(),
            admin: r.admin.to_string(),
            upstreams: r
                .upstreams
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            spiffe_id: r.spiffe_id.clone(),
        }
    }
}

pub fn run(ctx: &mut Context<'_>, args: Args) -> CliResult {
    let exe = std::env::current_exe().context("locating the meshctl binary")?;
    let (mesh_path, state_dir) = locate(ctx, &args, &exe)?;
    // Invalid, too large, missing or unreadable: the file named by -f is wrong (exit 2; the
    // rule for every input file, see `cmd::read_input_file`).
    let mesh = MeshFile::load(&mesh_path).map_err(CliError::usage)?;
    refuse_if_running(&state_dir)?;
    check_state_files(&state_dir, &mesh, args.reset_state)?;
    if args.detach && std::env::var_os(DETACHED_ENV).is_none() {
        return detach(ctx, &exe, &mesh_path, &state_dir, &args);
    }
    let opts = LaunchOptions {
        exe,
        state_dir: state_dir.clone(),
        leaf_lifetime: args.leaf_lifetime.map(|d| d.to_string()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mesh_file = &mesh;
        // SIGTERM or Ctrl-C during start-up drops the launch: its supervisors kill what it
        // started (without this the signal killed only `up`, leaving the rest running).
        let started = tokio::select! {
            started = LocalMesh::start(&mesh, &opts) => started.map_err(launch_error),
            () = crate::cmd::controller::shutdown_signal() => Err(CliError::from(anyhow::anyhow!(
                "interrupted during start-up: everything it started was stopped"
            ))),
        };
        let mesh = match started {
            Ok(m) => m,
            Err(e) => {
                // Nothing keeps running (the supervisors killed what they started); remove
                // the run files so no later command thinks a mesh is up.
                let _ = std::fs::remove_file(MeshPlan::path(&state_dir));
                return Err(e);
            }
        };
        let summary = Summary {
            state_dir: state_dir.clone(),
            ready_ms: mesh.ready_after.as_millis(),
            instances: mesh.instances.iter().map(InstanceView::from).collect(),
            gateway: mesh_file.gateway().map(gateway_url),
        };
        write_run_file(
            &state_dir.join(PID_FILE),
            std::process::id().to_string().as_bytes(),
        )?;
        write_run_file(
            &state_dir.join(READY_FILE),
            &serde_json::to_vec(&summary).map_err(anyhow::Error::new)?,
        )?;
        print_summary(ctx, &summary, args.demo)?;
        crate::cmd::controller::shutdown_signal().await;
        eprintln!("draining the mesh…");
        let _ = std::fs::remove_file(state_dir.join(READY_FILE));
        mesh.shutdown(|slow| {
            let what = if slow.phase == "proxies" {
                "finishing in-flight requests"
            } else {
                "stopping"
            };
            eprintln!(
                "still waiting for {}: {} ({what}; SIGKILL after {:?}; logs: {}/<name>.log)",
                slow.phase,
                slow.waiting.join(", "),
                crate::control::launch::SHUTDOWN_GRACE,
                slow.logs.display()
            );
        })
        .await;
        eprintln!("stopped");
        Ok(())
    })
}

/// Where mesh.yaml and the state dir are: `--demo` writes its generated mesh.yaml into the
/// state dir; otherwise the state dir sits beside mesh.yaml.
fn locate(ctx: &Context<'_>, args: &Args, exe: &Path) -> Result<(PathBuf, PathBuf), CliError> {
    if args.demo {
        let state = ctx
            .global
            .state_dir
            .clone()
            .unwrap_or_else(|| ctx.cwd.join(crate::state::STATE_DIR_NAME));
        let dir = state.join("demo");
        crate::fsutil::create_private_dir(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(DEFAULT_FILE_NAME);
        let ports = DemoPorts::free().context("finding free ports for the demo")?;
        let gateway = crate::demo::gateway::ensure(&dir)?;
        let rate = args.v2_error_rate.map(|p| p.fraction());
        crate::fsutil::write_atomic(
            &path,
            mesh_yaml(exe, ports, rate, Some(&gateway)).as_bytes(),
            crate::fsutil::PUBLIC_FILE_MODE,
        )
        .with_context(|| format!("writing {}", path.display()))?;
        return Ok((path, state));
    }
    let file = if args.file.is_absolute() {
        args.file.clone()
    } else {
        ctx.cwd.join(&args.file)
    };
    let state = ctx.global.state_dir.clone().unwrap_or_else(|| {
        file.parent()
            .unwrap_or(&ctx.cwd)
            .join(crate::state::STATE_DIR_NAME)
    });
    Ok((file, state))
}

fn refuse_if_running(state_dir: &Path) -> Result<(), CliError> {
    if let Some(pid) = crate::control::launch::running_pid(state_dir) {
        return Err(CliError::from(anyhow::anyhow!(
            "a mesh is already running from {} (pid {pid}): stop it with `meshctl down`",
            state_dir.display()
        )));
    }
    Ok(())
}

/// Checks the saved traffic state before anything starts: a corrupt file stops `up` with one
/// line naming it (exit 1) instead of the control plane starting from defaults. With
/// `--reset-state` the files are moved aside first.
fn check_state_files(state_dir: &Path, mesh: &MeshFile, reset: bool) -> Result<(), CliError> {
    if reset {
        let moved = state_files::reset(state_dir)
            .with_context(|| format!("discarding the saved state in {}", state_dir.display()))?;
        for (from, to) in moved {
            eprintln!("reset: moved {} to {}", from.display(), to.display());
        }
    }
    let notes = state_files::check_all(state_dir, &state_files::catalog_of(mesh))
        .map_err(anyhow::Error::new)?;
    for note in notes {
        eprintln!("warning: {note}");
    }
    Ok(())
}

fn write_run_file(path: &Path, body: &[u8]) -> Result<(), CliError> {
    if let Some(dir) = path.parent() {
        crate::fsutil::create_private_dir(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::fsutil::write_atomic(path, body, crate::fsutil::PRIVATE_FILE_MODE)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn launch_error(e: LaunchError) -> CliError {
    match e {
        LaunchError::Local(LocalError::PortInUse { .. }) => CliError::from(anyhow::Error::new(e)),
        other => CliError::from(anyhow::Error::new(other)),
    }
}

/// Starts this command again in the background (own process group, output to
/// `.meshctl/logs/up.log`) and waits for it to be ready.
fn detach(
    ctx: &mut Context<'_>,
    exe: &Path,
    mesh_path: &Path,
    state_dir: &Path,
    args: &Args,
) -> CliResult {
    use std::os::unix::process::CommandExt;
    let logs = state_dir.join(crate::control::launch::LOGS_DIR);
    crate::fsutil::create_private_dir(&logs)
        .with_context(|| format!("creating {}", logs.display()))?;
    let log_path = logs.join(crate::control::launch::UP_LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let _ = std::fs::remove_file(state_dir.join(READY_FILE));
    let start = Instant::now();
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--state-dir")
        .arg(state_dir)
        .arg("up")
        .arg("-f")
        .arg(mesh_path);
    if let Some(l) = &args.leaf_lifetime {
        cmd.arg("--leaf-lifetime").arg(l.to_string());
    }
    let mut child = cmd
        .env(DETACHED_ENV, "1")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().context("log file")?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting the background mesh")?;
    loop {
        if let Ok(body) = std::fs::read(state_dir.join(READY_FILE))
            && let Ok(mut summary) = serde_json::from_slice::<Summary>(&body)
        {
            // What this command waited for: the background mesh's own start-up included.
            summary.ready_ms = start.elapsed().as_millis();
            print_summary(ctx, &summary, args.demo)?;
            return Ok(());
        }
        if let Some(status) = child.try_wait().context("watching the background mesh")? {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .find(|l| l.contains("error"))
                .unwrap_or("")
                .to_string();
            return Err(CliError::from(anyhow::anyhow!(
                "the background mesh exited ({status}) before it was ready: {last} (see {})",
                log_path.display()
            )));
        }
        if start.elapsed() > DETACH_TIMEOUT {
            stop_background(&mut child);
            return Err(CliError::from(anyhow::anyhow!(
                "the background mesh was not ready within {DETACH_TIMEOUT:?} (see {})",
                log_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Stops a background `up` that is still starting: SIGTERM (it stops everything it started),
/// then SIGKILL after [`STOP_GRACE`].
fn stop_background(child: &mut std::process::Child) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(child.id()) else {
        let _ = child.kill();
        return;
    };
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The URL external clients use: the scheme the gateway speaks and its listen address.
fn gateway_url(spec: &GatewaySpec) -> String {
    let scheme = if spec.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{}", spec.listen)
}

fn print_summary(ctx: &mut Context<'_>, s: &Summary, demo: bool) -> CliResult {
    output::render(ctx.out, ctx.global.output, s, |wide| summary_table(s, wide))?;
    ctx.out.flush()?;
    if !ctx.global.output.is_structured() {
        eprintln!(
            "mesh ready in {} ms (state: {})",
            s.ready_ms,
            s.state_dir.display()
        );
        if demo && let Some(web) = s.instances.iter().find(|i| i.service == "web") {
            eprintln!(
                "try:  curl http://{}/   ·   meshctl canary shift api --to v2 --weight 20 --wait",
                web.app
            );
            if let Some(url) = &s.gateway {
                let demo = s.state_dir.join("demo");
                eprintln!(
                    "      curl --cacert {} -H \"x-api-key: $(cat {})\" {url}/   (the gateway, into web through the mesh)",
                    demo.join(crate::demo::gateway::CERT_FILE).display(),
                    demo.join(crate::demo::gateway::DEMO_KEY_FILE).display(),
                );
            }
        }
    }
    Ok(())
}

fn summary_table(s: &Summary, wide: bool) -> comfy_table::Table {
    let mut headers = vec![
        "INSTANCE",
        "VERSION",
        "APP",
        "INBOUND",
        "UPSTREAMS",
        "ADMIN",
    ];
    if wide {
        headers.extend(["HTTP_PROXY", "IDENTITY"]);
    }
    let mut t = output::table(headers);
    for i in &s.instances {
        let app = match (i.app_listening, i.serves) {
            _ if i.service == GATEWAY_SERVICE => s.gateway.clone().unwrap_or_default(),
            (true, _) => i.app.clone(),
            (false, true) => format!("{} (starting)", i.app),
            (false, false) => format!("{} (client)", i.app),
        };
        let ups: Vec<String> = i
            .upstreams
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut row = vec![
            i.name.clone(),
            i.version.clone().unwrap_or_else(|| "-".into()),
            app,
            i.inbound.clone(),
            if ups.is_empty() {
                "-".into()
            } else {
                ups.join(" ")
            },
            i.admin.clone(),
        ];
        if wide {
            row.extend([i.http_proxy.clone(), i.spiffe_id.clone()]);
        }
        t.add_row(row);
    }
    t
}
