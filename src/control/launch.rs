//! Running a local mesh: control plane, one proxy per instance, then the apps — each
//! supervised (restarted with backoff, output in `.meshctl/logs/`) — and draining it all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::local::{self, LocalError, Prepared};
use super::meshfile::{Instance, MeshFile, PORT_ENV, REPLICA_ENV};
use super::plan::{MeshPlan, ProxyPlan};
use crate::identity::store::{CaStore, InitOptions};
use crate::identity::{IdentityError, ca};
use crate::supervise::{ProcessSpec, SuperviseError, Supervisor};

/// How long start-up waits for the control plane, then for every proxy to be ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long start-up waits for launched apps to listen before reporting them as starting.
pub const APP_LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace period for apps, proxies and the control plane on shutdown (each, in that order).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The logs directory inside the state dir.
pub const LOGS_DIR: &str = "logs";
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
    #[error("{what} did not become ready within {timeout:?} (see {})", log.display())]
    NotReady {
        what: String,
        timeout: Duration,
        log: PathBuf,
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

/// A running local mesh. Dropping it kills everything; [`LocalMesh::shutdown`] drains.
#[derive(Debug)]
pub struct LocalMesh {
    pub plan: MeshPlan,
    pub instances: Vec<InstanceReport>,
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
        let prepared = local::prepare(mesh, state)?;
        ensure_ca(state, mesh.trust_domain())?;
        let tokens = local::write_tokens(&prepared, state)?;
        prepared.plan.save(state).map_err(LocalError::from)?;
        let logs = state.join(LOGS_DIR);

        let controller = Supervisor::new(&logs)?;
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
        .map_err(|()| LaunchError::NotReady {
            what: "the control plane".into(),
            timeout: READY_TIMEOUT,
            log: logs.join("control-plane.log"),
        })?;

        let proxies = Supervisor::new(&logs)?;
        for p in &prepared.plan.proxies {
            let tap_token = &prepared.plan.admin_token_sha256;
            proxies.spawn(proxy_spec(p, tap_token, &opts.exe, &tokens[&p.name], state))?;
        }
        for p in &prepared.plan.proxies {
            wait_until(READY_TIMEOUT, || proxy_ready(p.admin))
                .await
                .map_err(|()| LaunchError::NotReady {
                    what: format!("the proxy of {}", p.name),
                    timeout: READY_TIMEOUT,
                    log: logs.join(format!("proxy-{}.log", p.name)),
                })?;
        }

        let apps = Supervisor::new(&logs)?;
        for inst in mesh.instances() {
            if let Some(spec) = app_spec(inst, &prepared, &opts.exe) {
                apps.spawn(spec)?;
            }
        }
        let ready_after = started.elapsed();
        // Apps that other services call must listen; wait for those together. A pure client
        // (like the demo's load generator) is only probed.
        let called: Vec<&str> = prepared
            .plan
            .proxies
            .iter()
            .flat_map(|p| p.upstreams.iter().map(|u| u.service.as_str()))
            .collect();
        let probes = prepared.plan.proxies.iter().map(|p| {
            let must_listen = called.contains(&p.service.as_str());
            async move {
                let timeout = if must_listen {
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
    /// requests), then the control plane. Removes the plan: nothing runs any more.
    pub async fn shutdown(self) {
        self.apps.shutdown(SHUTDOWN_GRACE).await;
        self.proxies.shutdown(SHUTDOWN_GRACE).await;
        self.controller.shutdown(SHUTDOWN_GRACE).await;
        let _ = std::fs::remove_file(MeshPlan::path(&self.state_dir));
        let _ = std::fs::remove_file(self.state_dir.join(PID_FILE));
    }
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

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// `tap_token_sha256`: the hash of the mesh admin token, which tap callers present.
fn proxy_spec(
    p: &ProxyPlan,
    tap_token_sha256: &str,
    exe: &Path,
    token_file: &Path,
    state: &Path,
) -> ProcessSpec {
    let app = match p.protocol.as_deref() {
        Some("grpc") => format!("h2c://{}", p.app),
        Some("tcp") => format!("tcp://{}", p.app),
        _ => p.app.to_string(),
    };
    let argv = vec![
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
    let mut env = BTreeMap::new();
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

/// `GET /ready` on a proxy's admin listener answers 200.
pub async fn proxy_ready(admin: SocketAddr) -> bool {
    let check = async {
        let mut s = TcpStream::connect(admin).await.ok()?;
        s.write_all(b"GET /ready HTTP/1.0\r\nHost: admin\r\n\r\n")
            .await
            .ok()?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"HTTP/1.1 200") || buf[..n].starts_with(b"HTTP/1.0 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), check).await,
        Ok(Some(true))
    )
}
