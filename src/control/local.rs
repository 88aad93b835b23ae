//! Planning a local mesh from mesh.yaml: instance names, identities, tokens and ports.
//!
//! Pure except for port checks and allocation (binding 127.0.0.1), and [`write_tokens`].
//!
//! Allocated ports stay *held* (see [`PortHolds`]) until the processes meant to listen on
//! them have bound them: a port released any earlier could be handed by the kernel to
//! another process — a second mesh starting beside this one, or any outgoing connection —
//! and the proxy planned on it would then never come up.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use super::admin::ADMIN_TOKEN_FILE;
use super::meshfile::{MeshFile, ServicePolicy};
use super::plan::{MeshPlan, PlanError, ProxyPlan, UpstreamPlan};
use crate::api::token::{new_token, token_hash};
use crate::fsutil::{self, PRIVATE_FILE_MODE};
use crate::identity::SpiffeId;
use crate::identity::spiffe::LOCAL_NAMESPACE;

/// Where per-proxy bootstrap tokens live inside the state dir (files 0600).
pub const TOKENS_DIR: &str = "run/tokens";
/// The control plane's socket inside the state dir.
pub const CONTROL_SOCKET: &str = "run/control.sock";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "port {port} ({what}) is already in use on 127.0.0.1: stop what holds it or change mesh.yaml"
    )]
    PortInUse { port: u16, what: String },
    #[error("allocating a free port on 127.0.0.1: {0}")]
    Allocate(std::io::Error),
    #[error("service `{service}`: {source}")]
    Identity {
        service: String,
        #[source]
        source: crate::identity::spiffe::SpiffeIdError,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A plan plus the secrets that go with it (never stored in the plan itself).
#[derive(Debug)]
pub struct Prepared {
    pub plan: MeshPlan,
    /// instance name → bootstrap token.
    pub tokens: BTreeMap<String, String>,
    pub admin_token: String,
    /// Every allocated port, held until [`PortHolds::release`].
    pub ports: PortHolds,
}

/// Sockets bound to the allocated ports with `SO_REUSEADDR` but never listening. While one
/// exists the kernel hands its port to no other `bind(port 0)` and no outgoing connection,
/// yet a listener that also sets `SO_REUSEADDR` (the proxies', and most servers') can bind
/// it: Linux refuses that only when the existing socket listens. No connection ever reaches
/// a holder, since only listening sockets accept.
///
/// The sockets live in a thread of their own with its own file descriptor table
/// (`unshare(CLONE_FILES)`), never in the table the rest of `up` shares: every process `up`
/// starts copies the spawning thread's table and closes its close-on-exec entries on exec,
/// so 5–6 held sockets per proxy made each spawn cost O(N) and starting N proxies O(N²):
/// 1.7 ms per spawn with none held, 12 ms with 18,000 (N = 3,000); at N = 2,000 start-up
/// went from 44 s to 22 s (bench/SCALE.md). Should `unshare` fail the thread holds them in
/// the shared table: slower, as before, but the same holds.
#[derive(Debug, Default)]
pub struct PortHolds(Option<Holder>);

/// The holding thread: each `()` on `ask` holds one more port, answered on `answer`; closing
/// `ask` drops every socket it holds.
#[derive(Debug)]
struct Holder {
    ask: std::sync::mpsc::Sender<()>,
    answer: std::sync::mpsc::Receiver<std::io::Result<SocketAddr>>,
    thread: std::thread::JoinHandle<()>,
}

impl Holder {
    fn start() -> std::io::Result<Holder> {
        let (ask, asked) = std::sync::mpsc::channel::<()>();
        let (answered, answer) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("port-holds".into())
            .spawn(move || {
                // Its table starts as a copy of the process's (stdio, the runtime's): those
                // files stay referenced until the thread ends, i.e. during start-up only.
                let _ = nix::sched::unshare(nix::sched::CloneFlags::CLONE_FILES);
                let mut held = Vec::new();
                while asked.recv().is_ok() {
                    let addr = hold_one().map(|(socket, addr)| {
                        held.push(socket);
                        addr
                    });
                    if answered.send(addr).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Holder {
            ask,
            answer,
            thread,
        })
    }
}

/// One socket bound to a free port of 127.0.0.1 with `SO_REUSEADDR`, and its address.
fn hold_one() -> std::io::Result<(tokio::net::TcpSocket, SocketAddr)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(loopback(0))?;
    let addr = socket.local_addr()?;
    Ok((socket, addr))
}

impl PortHolds {
    /// Holds a free port of 127.0.0.1 and returns its address.
    fn hold(&mut self) -> std::io::Result<SocketAddr> {
        let holder = match &mut self.0 {
            Some(h) => h,
            None => self.0.insert(Holder::start()?),
        };
        let gone = || std::io::Error::other("the port-holding thread ended");
        holder.ask.send(()).map_err(|_| gone())?;
        holder.answer.recv().map_err(|_| gone())?
    }

    /// Lets the ports go (returning once they are free): call once whatever was planned on
    /// them listens.
    pub fn release(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(Holder { ask, thread, .. }) = self.0.take() {
            drop(ask);
            let _ = thread.join();
        }
    }
}

impl Drop for PortHolds {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Plans every proxy of `mesh`: checks fixed ports are free, allocates the rest, creates
/// tokens. Nothing is written.
pub fn prepare(mesh: &MeshFile, state_dir: &Path) -> Result<Prepared, LocalError> {
    check_fixed_ports(mesh)?;
    // Ports mesh.yaml names (apps, fixed upstream listeners) may be free right now but are
    // spoken for: never hand one to a proxy listener.
    let reserved = mesh
        .instances()
        .flat_map(|i| {
            i.port
                .into_iter()
                .chain(i.admin_port)
                .chain(i.upstreams.iter().filter_map(|u| u.port))
        })
        .chain(mesh.gateway().map(|g| g.listen.port()))
        .collect();
    let mut ports = PortPool {
        holds: PortHolds::default(),
        reserved,
    };
    let mut proxies = Vec::new();
    let mut tokens = BTreeMap::new();
    for inst in mesh.instances() {
        let name = inst.name();
        let id = SpiffeId::for_workload(mesh.trust_domain(), LOCAL_NAMESPACE, &inst.service)
            .map_err(|source| LocalError::Identity {
                service: inst.service.clone(),
                source,
            })?;
        let token = new_token().map_err(PlanError::from)?;
        let upstreams = inst
            .upstreams
            .iter()
            .map(|u| {
                let listen = match u.port {
                    Some(p) => Ok(loopback(p)),
                    None => ports.take(),
                }?;
                Ok(UpstreamPlan {
                    service: u.service.clone(),
                    listen,
                })
            })
            .collect::<Result<Vec<_>, LocalError>>()?;
        proxies.push(ProxyPlan {
            name: name.clone(),
            service: inst.service.clone(),
            version: inst.version.clone(),
            spiffe_id: id.to_string(),
            token_sha256: token_hash(&token),
            inbound: ports.take()?,
            // Replicas get their app port from the pool too (told it in MESH_PORT).
            app: match inst.port {
                Some(p) => loopback(p),
                None => ports.take()?,
            },
            protocol: inst.protocol.map(|p| p.to_string()),
            admin: match inst.admin_port {
                Some(p) => loopback(p),
                None => ports.take()?,
            },
            http_proxy: ports.take()?,
            tap: ports.take()?,
            upstreams,
            workers: inst.proxy_workers,
        });
        tokens.insert(name, token);
    }
    let admin_token = new_token().map_err(PlanError::from)?;
    let plan = MeshPlan {
        trust_domain: mesh.trust_domain().to_string(),
        control_socket: state_dir.join(CONTROL_SOCKET),
        admin_token_sha256: token_hash(&admin_token),
        proxies,
        policies: mesh
            .services()
            .filter(|s| s.policy != ServicePolicy::default())
            .map(|s| (s.name.clone(), s.policy.clone()))
            .collect(),
    };
    Ok(Prepared {
        plan,
        tokens,
        admin_token,
        ports: ports.holds,
    })
}

/// Writes the tokens: one file (0600) per instance in a fresh [`TOKENS_DIR`] (0700), and the
/// admin token. Returns each instance's token file.
///
/// The instance tokens are not written like state files (temp file, fsync, rename, directory
/// fsync, after scanning the directory for stale temps): only the proxies this `up` starts
/// read them, after this returns, and the next `up` writes new ones, so a crash loses
/// nothing durability would have kept. Each file is created with `O_EXCL` in a directory
/// created empty just now, so none exists with a wider mode or older contents. Done the
/// state-file way, 1,000 proxies took 7 s here (2 fsyncs per file, and each scan reading
/// every file written before it): see bench/SCALE.md.
pub fn write_tokens(
    prepared: &Prepared,
    state_dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, LocalError> {
    let dir = state_dir.join(TOKENS_DIR);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LocalError::Io { path, source }
    };
    // A previous run's tokens (some perhaps of instances mesh.yaml no longer has) go.
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&dir)(e)),
        _ => {}
    }
    fsutil::create_private_dir(&dir).map_err(io(&dir))?;
    let mut files = BTreeMap::new();
    for (name, token) in &prepared.tokens {
        let path = dir.join(format!("{name}.token"));
        write_new_private(&path, token.as_bytes()).map_err(io(&path))?;
        files.insert(name.clone(), path);
    }
    let admin = state_dir.join(ADMIN_TOKEN_FILE);
    fsutil::write_atomic(&admin, prepared.admin_token.as_bytes(), PRIVATE_FILE_MODE)
        .map_err(io(&admin))?;
    Ok(files)
}

/// Creates `path` (which must not exist) with mode 0600 and writes `body` to it.
fn write_new_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?
        .write_all(body)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// App ports of instances meshctl launches, and fixed upstream listener ports, must be free.
fn check_fixed_ports(mesh: &MeshFile) -> Result<(), LocalError> {
    for inst in mesh.instances() {
        let field = match &inst.version {
            Some(v) => format!("services.{}.versions.{v}.port", inst.service),
            None => format!("services.{}.port", inst.service),
        };
        if let Some(port) = inst.port.filter(|_| inst.command.is_some()) {
            ensure_free(port, field)?;
        }
        if let Some(port) = inst.admin_port {
            let field = match &inst.version {
                Some(v) => format!("services.{}.versions.{v}.admin_port", inst.service),
                None => format!("services.{}.admin_port", inst.service),
            };
            ensure_free(port, field)?;
        }
        for u in &inst.upstreams {
            if let Some(p) = u.port {
                ensure_free(
                    p,
                    format!(
                        "upstream listener for {} in services.{}",
                        u.service, inst.service
                    ),
                )?;
            }
        }
    }
    if let Some(g) = mesh.gateway()
        && g.listen.port() != 0
        && std::net::TcpListener::bind(g.listen).is_err()
    {
        return Err(LocalError::PortInUse {
            port: g.listen.port(),
            what: "gateway.listen".into(),
        });
    }
    Ok(())
}

fn ensure_free(port: u16, what: String) -> Result<(), LocalError> {
    TcpListener::bind(loopback(port))
        .map(drop)
        .map_err(|_| LocalError::PortInUse { port, what })
}

/// Allocates distinct free ports, skipping ports mesh.yaml reserves; every port it returns
/// stays held (so no two allocations collide either).
#[derive(Debug)]
struct PortPool {
    holds: PortHolds,
    reserved: std::collections::HashSet<u16>,
}

impl PortPool {
    fn take(&mut self) -> Result<SocketAddr, LocalError> {
        loop {
            // A reserved port stays held too, so the next allocation cannot return it again.
            let addr = self.holds.hold().map_err(LocalError::Allocate)?;
            if !self.reserved.contains(&addr.port()) {
                return Ok(addr);
            }
        }
    }
}

#[cfg(test)]
mod tests;
