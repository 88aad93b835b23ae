//! Running a local mesh: control plane, one proxy per instance, then the apps — each
//! supervised (restarted with backoff, output in `.meshctl/logs/`) — and draining it all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UnixStream};

use super::local::{self, LocalError, Prepared};
use super::meshfile::{
    GATEWAY_SERVICE, GatewaySpec, Instance, MeshFile, PORT_ENV, REPLICA_ENV, Tracing,
};
use super::plan::{MeshPlan, ProxyPlan};
use crate::api::admin_http::AdminClient;
use crate::identity::store::{CaStore, InitOptions};
use crate::identity::{IdentityError, ca};
use crate::supervise::{ProcessSpec, ProcessState, SuperviseError, Supervisor};

/// How long start-up waits for the control plane, then for every proxy to be ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long start-up waits for launched apps to listen before reporting them as starting.
pub const APP_LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace period for apps, proxies and the control plane on shutdown (each, in that order).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A stop phase still running after this long is reported with what it waits for (an idle
/// mesh stops in well under it; a proxy finishing in-flight requests may not).
pub const SLOW_STOP_NOTICE: Duration = Duration::from_secs(1);
/// The logs directory inside the state dir.
pub const LOGS_DIR: &str = "logs";
/// The output of a detached `meshctl up`, in [`LOGS_DIR`]; rotated like the processes' logs.
pub const UP_LOG: &str = "up.log";
/// The pid file of the process running the mesh (what `meshctl down` signals).
pub const PID_FILE: &str = "run/up.pid";
/// Proxies reach each other only over loopback; apps are told to bypass HTTP_PROXY for it.
const NO_PROXY: &str = "127.0.0.1,localhost,::1";

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error("initialising the mesh CA: {0}")]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Supervise(#[from] SuperviseError),
    #[error("{what} did not become ready within {timeout:?}{} (see {})",
        last_problem.as_ref().map(|l| format!("; its log last said: {l}")).unwrap_or_default(),
        log.display())]
    NotReady {
        what: String,
        timeout: Duration,
        log: PathBuf,
        /// The log's last warning or error, if any: usually why.
        last_problem: Option<String>,
    },
    #[error("{what} exited during start-up ({how}){} (see {})",
        last_problem.as_ref().map(|l| format!("; its log last said: {l}")).unwrap_or_default(),
        log.display())]
    Exited {
        what: String,
        /// How it ended (`exit status: 1`, …).
        how: String,
        log: PathBuf,
        last_problem: Option<String>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a launch needs besides mesh.yaml.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// This binary: the control plane, the proxies and demo apps run as its subcommands.
    pub exe: PathBuf,
    pub state_dir: PathBuf,
    /// Lifetime of proxy leaves (default 24 h).
    pub leaf_lifetime: Option<String>,
}

/// How an instance came out of start-up.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceReport {
    pub name: String,
    pub service: String,
    pub version: Option<String>,
    pub app: SocketAddr,
    /// Whether other services call this one (a pure client need not listen).
    pub serves: bool,
    /// false: launched but not listening yet (or not launched by meshctl and not listening).
    pub app_listening: bool,
    pub inbound: SocketAddr,
    pub http_proxy: SocketAddr,
    pub admin: SocketAddr,
    pub upstreams: BTreeMap<String, SocketAddr>,
    pub spiffe_id: String,
}

/// A stop phase that is taking a while: what [`LocalMesh::shutdown`] still waits for.
#[derive(Debug, Clone, Copy)]
pub struct SlowStop<'a> {
    /// `apps`, `proxies` or `the control plane`.
    pub phase: &'static str,
    /// The supervised processes not stopped yet (`proxy-api.v1`, `web`, …).
    pub waiting: &'a [String],
    /// Where each has its `<name>.log`.
    pub logs: &'a Path,
}

/// A running local mesh. Dropping it kills everything; [`LocalMesh::shutdown`] drains.
#[derive(Debug)]
pub struct LocalMesh {
    pub plan: MeshPlan,
    pub instances: Vec<InstanceReport>,
    /// From the start of [`LocalMesh::start`] until it returned: every proxy ready and every
    /// launched app that others call listening (or [`APP_LISTEN_TIMEOUT`] over for it).
    pub ready_after: Duration,
    controller: Supervisor,
    proxies: Supervisor,
    apps: Supervisor,
    state_dir: PathBuf,
}

impl LocalMesh {
    /// Starts everything and returns once every proxy is ready (or fails, having stopped
    /// whatever it started).
    pub async fn start(mesh: &MeshFile, opts: &LaunchOptions) -> Result<LocalMesh, LaunchError> {
        let started = Instant::now();
        let state = &opts.state_dir;
        let mut prepared = local::prepare(mesh, state)?;
        // Held until the proxies listen on them (and the apps are about to bind theirs).
        let ports = std::mem::take(&mut prepared.ports);
        ensure_ca(state, mesh.trust_domain())?;
        let tokens = local::write_tokens(&prepared, state)?;
        prepared.plan.save(state).map_err(LocalError::from)?;
        super::scrape::write(state, Some(&prepared.plan)).map_err(|source| LaunchError::Io {
            path: super::scrape::path(state),
            source,
        })?;
        let logs = state.join(LOGS_DIR);

        let controller = Supervisor::new(&logs)?;
        // A detached `up` writes its own output there (a foreground one leaves it absent).
        controller.rotate_log(logs.join(UP_LOG));
        let mut argv = vec![
            path_arg(&opts.exe),
            "--state-dir".into(),
            path_arg(state),
            "controller".into(),
        ];
        if let Some(l) = &opts.leaf_lifetime {
            argv.extend(["--leaf-lifetime".into(), l.clone()]);
        }
        controller.spawn(ProcessSpec {
            name: "control-plane".into(),
            argv,
            env: BTreeMap::new(),
            workdir: state.clone(),
        })?;
        wait_until(READY_TIMEOUT, || {
            socket_ready(&prepared.plan.control_socket)
        })
        .await
        .map_err(|()| not_ready("the control plane".into(), logs.join("control-plane.log")))?;

        let gateway = match mesh.gateway() {
            Some(spec) => Some(write_gateway(state, spec)?),
            None => None,
        };
        let proxies = Supervisor::new(&logs)?;
        let mut handles = Vec::with_capacity(prepared.plan.proxies.len());
        for p in &prepared.plan.proxies {
            let tap_token = &prepared.plan.admin_token_sha256;
            let token = &tokens[&p.name];
            let tracing = mesh.tracing();
            let mut spec = proxy_spec(p, tap_token, &opts.exe, token, state, tracing);
            if let Some(file) = gateway.as_ref().filter(|_| p.service == GATEWAY_SERVICE) {
                spec.argv.extend(["--gateway".into(), path_arg(file)]);
            }
            handles.push(proxies.spawn(spec)?);
        }
        for (p, handle) in prepared.plan.proxies.iter().zip(&handles) {
            let what = || format!("the proxy of {}", p.name);
            let log = || logs.join(format!("proxy-{}.log", p.name));
            // A proxy that exited during start-up (a port taken, a bad certificate) fails the
            // launch at once: its restarts would only fail the same way until the timeout.
            let ready = wait_until(READY_TIMEOUT, || {
                let gone = handle.status().last_exit.is_some();
                let admin = p.admin;
                async move { gone || proxy_ready(admin).await }
            })
            .await;
            if let Some(how) = handle.status().last_exit {
                return Err(LaunchError::Exited {
                    what: what(),
                    how,
                    last_problem: last_problem(&log()),
                    log: log(),
                });
            }
            ready.map_err(|()| not_ready(what(), log()))?;
        }
        ports.release();

        let apps = Supervisor::new(&logs)?;
        let mut launched = Vec::new();
        for inst in mesh.instances() {
            if let Some(spec) = app_spec(inst, &prepared, &opts.exe) {
                apps.spawn(spec)?;
                launched.push(inst.name().to_string());
            }
        }
        // Apps that meshctl launched and other services call must listen; wait for those
        // together. The rest are only probed: a pure client (like the demo's load generator)
        // never listens, and an app the user runs separately may start any time later —
        // waiting for it only delayed `up` by the whole timeout.
        let called: Vec<&str> = prepared
            .plan
            .proxies
            .iter()
            .flat_map(|p| p.upstreams.iter().map(|u| u.service.as_str()))
            .collect();
        let probes = prepared.plan.proxies.iter().map(|p| {
            let must_listen = called.contains(&p.service.as_str());
            let wait = must_listen && launched.contains(&p.name);
            async move {
                let timeout = if wait {
                    APP_LISTEN_TIMEOUT
                } else {
                    Duration::ZERO
                };
                report(
                    p,
                    must_listen,
                    wait_until(timeout, || tcp_open(p.app)).await.is_ok(),
                )
            }
        });
        let instances = futures_util::future::join_all(probes).await;
        let ready_after = started.elapsed();
        Ok(LocalMesh {
            plan: prepared.plan,
            instances,
            ready_after,
            controller,
            proxies,
            apps,
            state_dir: state.clone(),
        })
    }

    /// Graceful drain: apps first (they stop sending), then proxies (they finish in-flight
    /// requests), then the control plane. Removes the plan: nothing runs any more. A phase
    /// that takes longer than [`SLOW_STOP_NOTICE`] is reported to `slow` once, with the
    /// processes it still waits for (all stopping at once, so the last of them sets its time).
    pub async fn shutdown(self, mut slow: impl FnMut(SlowStop<'_>)) {
        for (phase, group) in [
            ("apps", &self.apps),
            ("proxies", &self.proxies),
            ("the control plane", &self.controller),
        ] {
            let stop = group.shutdown(SHUTDOWN_GRACE);
            tokio::pin!(stop);
            tokio::select! {
                () = &mut stop => continue,
                () = tokio::time::sleep(SLOW_STOP_NOTICE) => {}
            }
            let waiting: Vec<String> = group
                .status()
                .into_iter()
                .filter(|p| p.state != ProcessState::Exited)
                .map(|p| p.name)
                .collect();
            if !waiting.is_empty() {
                slow(SlowStop {
                    phase,
                    waiting: &waiting,
                    logs: &self.state_dir.join(LOGS_DIR),
                });
            }
            stop.await;
        }
        let _ = std::fs::remove_file(MeshPlan::path(&self.state_dir));
        // Emptied, not removed: Prometheus keeps watching the same path for the next `up`.
        let _ = super::scrape::write(&self.state_dir, None);
        let _ = std::fs::remove_file(self.state_dir.join(PID_FILE));
    }
}

fn not_ready(what: String, log: PathBuf) -> LaunchError {
    LaunchError::NotReady {
        what,
        timeout: READY_TIMEOUT,
        last_problem: last_problem(&log),
        log,
    }
}

/// How much of a log's end [`last_problem`] reads.
const LOG_TAIL: u64 = 64 * 1024;
/// How much of that line an error message quotes.
const PROBLEM_CHARS: usize = 300;

/// The last line of `log` reporting a problem: a warning or error of the process or its exit
/// error; failing those, the supervisor recording that it exited or could not start.
fn last_problem(log: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    let tail = String::from_utf8_lossy(&tail);
    let own = |l: &&str| l.contains(" WARN ") || l.contains(" ERROR ") || l.starts_with("error:");
    let supervisor = |l: &&str| {
        l.starts_with("--- meshctl") && (l.contains(": exited") || l.contains(": could not start"))
    };
    let line = (tail.lines().rev().find(own)).or_else(|| tail.lines().rev().find(supervisor))?;
    Some(line.trim().chars().take(PROBLEM_CHARS).collect())
}

fn report(p: &ProxyPlan, serves: bool, app_listening: bool) -> InstanceReport {
    InstanceReport {
        name: p.name.clone(),
        service: p.service.clone(),
        version: p.version.clone(),
        app: p.app,
        serves,
        app_listening,
        inbound: p.inbound,
        http_proxy: p.http_proxy,
        admin: p.admin,
        upstreams: p
            .upstreams
            .iter()
            .map(|u| (u.service.clone(), u.listen))
            .collect(),
        spiffe_id: p.spiffe_id.clone(),
    }
}

/// Creates the CA on first run (as `meshctl certs init` would).
fn ensure_ca(state: &Path, trust_domain: &str) -> Result<(), IdentityError> {
    let store = CaStore::new(state);
    if store.exists() {
        let meta = store.meta()?;
        if meta.trust_domain != trust_domain {
            return Err(IdentityError::ForeignTrustDomain {
                got: trust_domain.to_string(),
                mesh: meta.trust_domain,
            });
        }
        return Ok(());
    }
    store.init(&InitOptions {
        trust_domain: trust_domain.to_string(),
        anchor_lifetime: ca::DEFAULT_ANCHOR_LIFETIME,
        issuer_lifetime: ca::DEFAULT_ISSUER_LIFETIME,
        force: false,
    })?;
    Ok(())
}

/// Where the gateway's proxy reads its configuration (mesh.yaml's `gateway:` as JSON).
pub const GATEWAY_FILE: &str = "run/gateway.json";

/// Gives the running mesh's gateway the `gateway:` of `mesh` (`meshctl gateway reload`): its
/// proxy re-reads the file without dropping a connection. Refused, changing nothing, when the
/// change needs a restart of `up`: no gateway running, a route to a service the running
/// gateway does not call (its upstreams are fixed at start), another listen address or TLS on
/// or off.
pub fn reload_gateway(state: &Path, mesh: &MeshFile) -> Result<PathBuf, String> {
    let restart = "restart `meshctl up` for that";
    let spec = mesh
        .gateway()
        .ok_or_else(|| "mesh.yaml has no `gateway:` to reload".to_string())?;
    let plan = MeshPlan::load(state).map_err(|e| e.to_string())?;
    let running = plan
        .proxies
        .iter()
        .find(|p| p.service == GATEWAY_SERVICE)
        .ok_or_else(|| format!("the running mesh has no gateway: {restart}"))?;
    for r in &spec.routes {
        if !running.upstreams.iter().any(|u| u.service == r.service) {
            return Err(format!(
                "route `{}` sends to `{}`, which the running gateway does not call: {restart}",
                r.name, r.service
            ));
        }
    }
    let path = state.join(GATEWAY_FILE);
    if let Ok(text) = std::fs::read(&path)
        && let Ok(current) = serde_json::from_slice::<GatewaySpec>(&text)
    {
        if current.listen != spec.listen {
            return Err(format!(
                "the gateway listens on {}; moving it to {} needs a restart: {restart}",
                current.listen, spec.listen
            ));
        }
        if current.tls.is_some() != spec.tls.is_some() {
            return Err(format!("turning TLS on or off needs a restart: {restart}"));
        }
    }
    write_gateway(state, spec).map_err(|e| e.to_string())
}

/// Writes the gateway's configuration for its proxy (atomically: a running gateway re-reads
/// it when it changes).
fn write_gateway(state: &Path, spec: &GatewaySpec) -> Result<PathBuf, LaunchError> {
    let path = state.join(GATEWAY_FILE);
    let io = |source| LaunchError::Io {
        path: path.clone(),
        source,
    };
    let body = serde_json::to_vec_pretty(spec).map_err(|e| io(std::io::Error::other(e)))?;
    crate::fsutil::write_atomic(&path, &body, crate::fsutil::PRIVATE_FILE_MODE).map_err(io)?;
    Ok(path)
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// `tap_token_sha256`: the hash of the mesh admin token, which tap callers present;
/// `tracing`: where every proxy sends its spans (mesh.yaml's `otlp_endpoint`).
fn proxy_spec(
    p: &ProxyPlan,
    tap_token_sha256: &str,
    exe: &Path,
    token_file: &Path,
    state: &Path,
    tracing: Option<&Tracing>,
) -> ProcessSpec {
    let app = match p.protocol.as_deref() {
        Some("grpc") => format!("h2c://{}", p.app),
        Some("tcp") => format!("tcp://{}", p.app),
        _ => p.app.to_string(),
    };
    let mut argv = vec![
        path_arg(exe),
        "proxy".into(),
        "--control-plane".into(),
        path_arg(&state.join(local::CONTROL_SOCKET)),
        "--token-file".into(),
        path_arg(token_file),
        "--spiffe-id".into(),
        p.spiffe_id.clone(),
        "--inbound".into(),
        format!("{}={app}", p.inbound),
        "--http-proxy".into(),
        p.http_proxy.to_string(),
        "--admin".into(),
        p.admin.to_string(),
        "--tap".into(),
        p.tap.to_string(),
        "--tap-token-sha256".into(),
        tap_token_sha256.to_string(),
    ];
    if let Some(n) = p.workers {
        argv.extend(["--workers".into(), n.to_string()]);
    }
    let mut env = BTreeMap::new();
    if let Some(t) = tracing {
        let export = &t.export;
        argv.extend(["--otlp-endpoint".into(), export.endpoint.to_string()]);
        argv.extend(["--otlp-protocol".into(), export.protocol.to_string()]);
        if let Some(ca) = &export.ca_file {
            argv.extend(["--otlp-ca-file".into(), path_arg(ca)]);
        }
        argv.extend(["--trace-sample".into(), t.sample.to_string()]);
    }
    // Header values are credentials: in the proxy's environment, never its argv (which any
    // local user can read). Always set, so one inherited from `meshctl up` never applies.
    let headers = tracing
        .map(|t| t.export.headers.to_list())
        .unwrap_or_default();
    env.insert("MESHCTL_OTLP_HEADERS".to_string(), headers);
    // Proxies log what they do at info level into their log file.
    env.insert("RUST_LOG".to_string(), "info".to_string());
    ProcessSpec {
        name: format!("proxy-{}", p.name),
        argv,
        env,
        workdir: state.to_path_buf(),
    }
}

fn app_spec(inst: &Instance, prepared: &Prepared, exe: &Path) -> Option<ProcessSpec> {
    let proxy = prepared
        .plan
        .proxies
        .iter()
        .find(|p| p.name == inst.name())?;
    let port = proxy.app.port();
    let argv = inst.argv(port)?;
    let mut env = inst.env.clone();
    env.insert(PORT_ENV.into(), port.to_string());
    env.entry("PORT".into()).or_insert_with(|| port.to_string());
    env.insert(REPLICA_ENV.into(), inst.replica.to_string());
    let http_proxy = format!("http://{}", proxy.http_proxy);
    for key in ["HTTP_PROXY", "http_proxy"] {
        env.insert(key.into(), http_proxy.clone());
    }
    for key in ["NO_PROXY", "no_proxy"] {
        env.insert(key.into(), NO_PROXY.into());
    }
    for u in &proxy.upstreams {
        env.insert(
            super::meshfile::upstream_env_var(&u.service),
            u.listen.to_string(),
        );
    }
    env.insert("MESH_SERVICE".into(), inst.service.clone());
    if let Some(v) = &inst.version {
        env.insert("MESH_VERSION".into(), v.clone());
    }
    // `meshctl demo-app …` in mesh.yaml finds this very binary first.
    if let Some(dir) = exe.parent() {
        let path = std::env::var("PATH").unwrap_or_default();
        env.insert("PATH".into(), format!("{}:{path}", dir.display()));
    }
    Some(ProcessSpec {
        name: inst.name(),
        argv,
        env,
        workdir: inst.workdir.clone(),
    })
}

/// Polls `check` every 20 ms until it is true or `timeout` passes.
async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> Result<(), ()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn socket_ready(path: &Path) -> bool {
    UnixStream::connect(path).await.is_ok()
}

pub async fn tcp_open(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// How long one `/ready` probe may take.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /ready` on a proxy's admin listener answers 200.
pub async fn proxy_ready(admin: SocketAddr) -> bool {
    let Ok(client) = AdminClient::local() else {
        return false;
    };
    let Ok(base) = AdminClient::local_base(admin) else {
        return false;
    };
    client
        .with_timeout(READY_PROBE_TIMEOUT)
        .ready(&base)
        .await
        .is_ok()
}

/// What a proxy's `/config` says about speaking to its app, one line per problem (nothing
/// when it cannot be read: its readiness says that).
pub async fn app_problems(admin: std::net::SocketAddr) -> Vec<String> {
    let (Ok(client), Ok(base)) = (AdminClient::local(), AdminClient::local_base(admin)) else {
        return Vec::new();
    };
    let Ok(config) = client.config(&base).await else {
        return Vec::new();
    };
    let now = crate::policy::fault::now_unix_ms();
    config["inbound"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["app_problems"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            let ago = now.saturating_sub(p["last_unix_ms"].as_u64().unwrap_or(now)) / 1000;
            format!(
                "{} failed {} times, last {}s ago: {}",
                p["protocol"].as_str().unwrap_or("?"),
                p["failures"].as_u64().unwrap_or(0),
                ago,
                p["reason"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// How many proxies `status` and `check` probe at once (each probe: the app's port, the
/// proxy's `/ready` and `/config`). One at a time, 1,000 proxies took 0.6 s.
pub const PROBE_CONCURRENCY: usize = 32;

/// What [`probe_all`] learnt about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyProbe {
    /// The app accepts connections.
    pub app_up: bool,
    /// The proxy's `/ready` answers 200.
    pub ready: bool,
    /// What the proxy's `/config` reports about speaking to the app ([`app_problems`]).
    pub app_problems: Vec<String>,
}

/// Probes every proxy of `proxies` ([`PROBE_CONCURRENCY`] at a time); in their order.
pub async fn probe_all(proxies: &[ProxyPlan]) -> Vec<ProxyProbe> {
    use futures_util::StreamExt as _;
    futures_util::stream::iter(proxies)
        .map(|p| async move {
            let (app_up, ready, app_problems) =
                tokio::join!(tcp_open(p.app), proxy_ready(p.admin), app_problems(p.admin));
            ProxyProbe {
                app_up,
                ready,
                app_problems,
            }
        })
        .buffered(PROBE_CONCURRENCY)
        .collect()
        .await
}

/// The pid of the `meshctl up` running from `state_dir`, if it is alive (one that exited
/// and awaits its reaper is not: see [`crate::supervise::process_is_live`]).
pub fn running_pid(state_dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(state_dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    crate::supervise::process_is_live(pid).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_in(text: &str) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("proxy-web.log");
        std::fs::write(&log, text).unwrap();
        last_problem(&log)
    }

    #[test]
    fn the_last_problem_in_a_log_is_quoted_and_the_process_own_words_come_first() {
        let log = "--- meshctl 12:00:00: started, pid 7\n\
            2026-11-26T12:00:00Z  INFO meshctl::proxy: started\n\
            2026-11-26T12:00:01Z  WARN meshctl::proxy::agent: config refused error=upstream api listener 127.0.0.1:4000: Address in use\n\
            2026-11-26T12:00:02Z  INFO meshctl::proxy: still waiting\n\
            --- meshctl 12:00:03: exited (exit status: 1) after 3s\n\
            --- meshctl 12:00:03: restarting in 200ms\n";
        let got = problem_in(log).unwrap();
        assert!(
            got.contains("WARN") && got.ends_with("Address in use"),
            "{got}"
        );

        let crashed = "--- meshctl 12:00:00: started, pid 7\n--- meshctl 12:00:00: exited (signal: 9) after 1s\n";
        assert!(problem_in(crashed).unwrap().contains("exited (signal: 9)"));
        assert_eq!(
            problem_in("2026-11-26T12:00:00Z  INFO meshctl::proxy: started\n"),
            None
        );
        let long = format!("error: {}\n", "x".repeat(1000));
        assert_eq!(problem_in(&long).unwrap().chars().count(), PROBLEM_CHARS);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_problem(&dir.path().join("missing.log")), None);
    }
}
