//! Runs the local mesh's child processes: output appended to `<log_dir>/<name>.log` (rotated
//! at 10 MiB to `<name>.log.1`, see [`rotate`]), crashes
//! restarted with exponential backoff, and every child (with its whole process group) stopped
//! by [`Supervisor::shutdown`] — SIGTERM, then SIGKILL at the deadline.
//!
//! A child never outlives the supervisor while meshctl runs: `shutdown` waits until no live
//! member of any child's process group is left, and dropping the supervisor (or its runtime)
//! SIGKILLs every group. Only if meshctl itself is SIGKILLed can children survive it: the
//! kernel's parent-death signal needs `prctl` between fork and exec, which is `unsafe`, and
//! the crate denies unsafe code outside one measured exception (`proxy::memory`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fsutil::{self, PRIVATE_FILE_MODE};

pub use self::backoff::{BackoffPolicy, INITIAL_BACKOFF, MAX_BACKOFF, STABLE_UPTIME};
pub use self::group::process_is_live;
pub use self::rotate::{LogLimit, rotated_path};

mod backoff;
mod group;
mod monitor;
pub mod rotate;

/// File name suffix of a process's log in the log directory.
pub const LOG_SUFFIX: &str = ".log";
/// Longest process name (it is a file name).
pub const MAX_NAME_LEN: usize = 100;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Unique among the supervisor's processes; names the log file. Letters, digits, `.`,
    /// `_`, `-`; not starting with `.`.
    pub name: String,
    /// Program and arguments; the program is looked up in `PATH`.
    pub argv: Vec<String>,
    /// Added to (and overriding) the environment meshctl inherited.
    pub env: BTreeMap<String, String>,
    pub workdir: PathBuf,
}

/// Where a process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    Running,
    /// It exited (or could not be started) and waits for its restart.
    Restarting,
    /// Stopped by [`Supervisor::shutdown`]; it is not restarted.
    Exited,
}

/// A snapshot of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStatus {
    pub name: String,
    /// The current child's pid, while it runs.
    pub pid: Option<u32>,
    pub state: ProcessState,
    /// How many times it was restarted.
    pub restarts: u32,
    /// Time since the current child started, while it runs.
    pub uptime: Option<Duration>,
    /// How the last run ended (`exit status: 1`, `signal: 9 (SIGKILL)`, or why it could not
    /// start), if it ended.
    pub last_exit: Option<String>,
    pub log: PathBuf,
}

/// Runs and supervises child processes; see the module docs. Needs a tokio runtime.
#[derive(Debug)]
pub struct Supervisor {
    log_dir: PathBuf,
    backoff: BackoffPolicy,
    /// `Some(deadline)` once shutdown started.
    stop: watch::Sender<Option<Instant>>,
    processes: Mutex<Vec<ProcessHandle>>,
    /// One watcher task per process; taken by `shutdown`.
    watchers: Mutex<Vec<JoinHandle<()>>>,
    /// Every process's log, for the rotation task (started with the first process).
    logs: Arc<Mutex<Vec<PathBuf>>>,
    log_limit: LogLimit,
    rotation: Mutex<Option<JoinHandle<()>>>,
}

/// One supervised process, to read its status; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProcessHandle {
    name: String,
    log: PathBuf,
    tracked: Arc<Mutex<Tracked>>,
}

/// Why a process could not be supervised.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("creating the log directory {}: {source}", dir.display())]
    LogDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("opening the log {}: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "invalid process name `{0}`: use letters, digits, `.`, `_` and `-` (not starting with `.`), at most 100"
    )]
    InvalidName(String),
    #[error("a process named `{0}` is already supervised")]
    Duplicate(String),
    #[error("process `{0}` has an empty command")]
    EmptyCommand(String),
    #[error("starting `{name}`: working directory {} is not a directory", workdir.display())]
    Workdir { name: String, workdir: PathBuf },
    #[error("starting `{name}` ({program} in {}): {source}", workdir.display())]
    Spawn {
        name: String,
        program: String,
        workdir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the supervisor is shutting down")]
    ShuttingDown,
}

/// What the watching task knows about its process, read by `status()`.
#[derive(Debug, Clone)]
struct Tracked {
    pid: Option<u32>,
    state: ProcessState,
    restarts: u32,
    started: Option<Instant>,
    last_exit: Option<String>,
}

/// Everything a (re)start needs.
#[derive(Debug)]
struct Launch {
    spec: ProcessSpec,
    log_path: PathBuf,
}

impl Supervisor {
    /// A supervisor writing logs into `log_dir` (created with mode 0700 if missing), with the
    /// default restart backoff (100 ms doubling to 10 s, reset after 10 s of uptime).
    pub fn new(log_dir: &Path) -> Result<Supervisor, SuperviseError> {
        Supervisor::with_backoff(log_dir, BackoffPolicy::default())
    }

    /// As [`Supervisor::new`], with another restart backoff.
    pub fn with_backoff(
        log_dir: &Path,
        backoff: BackoffPolicy,
    ) -> Result<Supervisor, SuperviseError> {
        fsutil::create_private_dir(log_dir).map_err(|source| SuperviseError::LogDir {
            dir: log_dir.to_path_buf(),
            source,
        })?;
        Ok(Supervisor {
            log_dir: log_dir.to_path_buf(),
            backoff,
            stop: watch::channel(None).0,
            processes: Mutex::new(Vec::new()),
            watchers: Mutex::new(Vec::new()),
            logs: Arc::default(),
            log_limit: LogLimit::default(),
            rotation: Mutex::new(None),
        })
    }

    /// Rotates logs at another size or check interval than [`LogLimit::default`].
    pub fn with_log_limit(mut self, limit: LogLimit) -> Supervisor {
        self.log_limit = limit;
        self
    }

    /// Starts `spec` and supervises it until [`Supervisor::shutdown`]. An error means nothing
    /// was started: a bad name, an unopenable log, or a program that cannot be executed.
    /// Later restarts that fail are retried with backoff (see `last_exit` in the status).
    pub fn spawn(&self, spec: ProcessSpec) -> Result<ProcessHandle, SuperviseError> {
        check_name(&spec.name)?;
        if spec.argv.is_empty() {
            return Err(SuperviseError::EmptyCommand(spec.name));
        }
        let mut processes = lock(&self.processes);
        if self.stop.borrow().is_some() {
            return Err(SuperviseError::ShuttingDown);
        }
        if processes.iter().any(|p| p.name == spec.name) {
            return Err(SuperviseError::Duplicate(spec.name));
        }
        let launch = Launch {
            log_path: self.log_dir.join(format!("{}{LOG_SUFFIX}", spec.name)),
            spec,
        };
        let child = launch.start()?;
        let launch_log = launch.log_path.clone();
        let handle = ProcessHandle {
            name: launch.spec.name.clone(),
            log: launch.log_path.clone(),
            tracked: Arc::new(Mutex::new(Tracked {
                pid: child.id(),
                state: ProcessState::Running,
                restarts: 0,
                started: Some(Instant::now()),
                last_exit: None,
            })),
        };
        let watcher = tokio::spawn(monitor::watch(
            launch,
            child,
            handle.tracked.clone(),
            self.backoff,
            self.stop.subscribe(),
        ));
        lock(&self.watchers).push(watcher);
        self.rotate_log(launch_log);
        processes.push(handle.clone());
        Ok(handle)
    }

    /// Rotates `log` with the processes' logs (the rotation task starts with the first): for
    /// a log another process writes in append mode, such as a detached `meshctl up`'s own.
    pub fn rotate_log(&self, log: PathBuf) {
        lock(&self.logs).push(log);
        lock(&self.rotation).get_or_insert_with(|| {
            tokio::spawn(rotate::run(
                self.logs.clone(),
                self.log_limit,
                self.stop.subscribe(),
            ))
        });
    }

    /// Every process, in the order they were spawned.
    pub fn status(&self) -> Vec<ProcessStatus> {
        lock(&self.processes)
            .iter()
            .map(ProcessHandle::status)
            .collect()
    }

    /// Stops every process: SIGTERM to each process group, SIGKILL to what is left after
    /// `grace`. Returns once no live member of any group remains (`grace` plus a moment for
    /// SIGKILL to land). Later `spawn`s fail.
    pub async fn shutdown(&self, grace: Duration) {
        self.stop.send_replace(Some(Instant::now() + grace));
        let rotation = lock(&self.rotation).take();
        if let Some(rotation) = rotation {
            let _ = rotation.await;
        }
        let watchers = std::mem::take(&mut *lock(&self.watchers));
        for watcher in watchers {
            if let Err(e) = watcher.await {
                tracing::warn!("a process watcher failed: {e}");
            }
        }
    }
}

impl ProcessHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A snapshot of the process's state.
    pub fn status(&self) -> ProcessStatus {
        let t = lock(&self.tracked).clone();
        ProcessStatus {
            name: self.name.clone(),
            pid: t.pid,
            state: t.state,
            restarts: t.restarts,
            uptime: t.started.map(|s| s.elapsed()),
            last_exit: t.last_exit,
            log: self.log.clone(),
        }
    }
}

impl Launch {
    /// Starts the program in its own process group, stdout and stderr appended to the log.
    fn start(&self) -> Result<Child, SuperviseError> {
        let spec = &self.spec;
        // Checked first: exec's ENOENT would not say whether the program or the dir is missing.
        if !spec.workdir.is_dir() {
            return Err(SuperviseError::Workdir {
                name: spec.name.clone(),
                workdir: spec.workdir.clone(),
            });
        }
        let log = self.open_log()?;
        let log_err = log.try_clone().map_err(|source| SuperviseError::Log {
            path: self.log_path.clone(),
            source,
        })?;
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| SuperviseError::EmptyCommand(spec.name.clone()))?;
        Command::new(program)
            .args(args)
            .envs(&spec.env)
            .current_dir(&spec.workdir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SuperviseError::Spawn {
                name: spec.name.clone(),
                program: program.clone(),
                workdir: spec.workdir.clone(),
                source,
            })
    }

    fn open_log(&self) -> Result<File, SuperviseError> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(PRIVATE_FILE_MODE)
            .open(&self.log_path)
            .map_err(|source| SuperviseError::Log {
                path: self.log_path.clone(),
                source,
            })
    }

    /// Appends one `--- meshctl: …` line to the log, so restarts show in context; a failed
    /// write loses only that line.
    fn note(&self, event: &str) {
        let stamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        // One write: the child appends to the same file at the same time (its first lines
        // come right as "started" is noted), and `writeln!` on a File writes piece by piece,
        // so the child's line could land inside this one.
        let line = format!("--- meshctl {stamp}: {event}\n");
        if let Ok(mut log) = self.open_log() {
            let _ = log.write_all(line.as_bytes());
        }
    }
}

/// Names become file names: no separators, no hidden files, nothing odd.
fn check_name(name: &str) -> Result<(), SuperviseError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SuperviseError::InvalidName(name.to_string()))
    }
}

/// A poisoned lock only means a watcher panicked mid-update; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
