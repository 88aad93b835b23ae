//! Log rotation for supervised processes: a log over its limit is copied to `<name>.log.1`
//! (replacing the previous copy) and emptied in place ("copytruncate"). Children hold their
//! log open in append mode, so after the truncation they simply write at the new end; only
//! lines written between the copy and the truncation are lost. Each process therefore keeps
//! at most about twice the limit on disk.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// A log is rotated once it is larger than this.
pub const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;
/// How often the logs' sizes are checked.
pub const LOG_CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// Suffix of the rotated copy.
pub const ROTATED_SUFFIX: &str = ".1";

/// When to rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimit {
    pub max_bytes: u64,
    pub check_every: Duration,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit {
            max_bytes: MAX_LOG_BYTES,
            check_every: LOG_CHECK_INTERVAL,
        }
    }
}

/// The rotated copy of `log`.
pub fn rotated_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(ROTATED_SUFFIX);
    PathBuf::from(name)
}

/// Rotates `log` if it is over `max_bytes`; whether it did.
pub fn rotate_if_over(log: &Path, max_bytes: u64) -> io::Result<bool> {
    if fs::metadata(log)?.len() <= max_bytes {
        return Ok(false);
    }
    // fs::copy keeps the source's mode (0600).
    fs::copy(log, rotated_path(log))?;
    OpenOptions::new().write(true).open(log)?.set_len(0)?;
    Ok(true)
}

/// Checks every log in `logs` each `limit.check_every` until `stop` says shutdown started
/// (or the supervisor is gone).
pub async fn run(
    logs: Arc<Mutex<Vec<PathBuf>>>,
    limit: LogLimit,
    mut stop: watch::Receiver<Option<Instant>>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(limit.check_every) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        if stop.borrow().is_some() {
            return;
        }
        let paths = logs.lock().map(|l| l.clone()).unwrap_or_default();
        let sweep = tokio::task::spawn_blocking(move || {
            for path in paths {
                match rotate_if_over(&path, limit.max_bytes) {
                    Ok(true) => tracing::info!(log = %path.display(), "log rotated"),
                    Ok(false) => {}
                    // A log not created yet (or removed by hand) is reopened by the next start.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(log = %path.display(), error = %e, "rotating a log failed")
                    }
                }
            }
        });
        let _ = sweep.await;
    }
}
