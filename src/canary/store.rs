//! Rollout state on disk: `.meshctl/canary/<service>.json`, written atomically, with two
//! advisory locks beside it.
//!
//! - `<service>.lock` is held for each read-modify-write (and the split change it records), so
//!   `start`, `promote` and `abort` from different shells never interleave their changes.
//! - `<service>.owner` is held by the running `canary start` for its whole life. The kernel
//!   drops it when that process dies, however it dies, so a stale rollout is told from a live
//!   one without trusting a recorded pid (which may have been reused).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::engine::{Analysis, Event, EventKind};
use super::gate::GatesView;
use crate::fsutil;

/// Rollout files live here, inside the state dir.
pub const CANARY_DIR: &str = "canary";
/// Events kept in a rollout's history (the oldest are dropped first, `started` is kept).
pub const MAX_HISTORY: usize = 200;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// A `canary start` is shifting weight and checking the canary.
    Progressing,
    /// Stopped with the weight left where it was (`--timeout` ran out, or interrupted):
    /// `promote`, `abort` or another `start` continues from there.
    Paused,
    /// The canary has 100%.
    Promoted,
    /// The canary is back at 0%.
    RolledBack,
    /// The `canary start` running it died, or failed, mid-way; the weight is where it was.
    Failed,
}

impl Phase {
    /// Still open: `promote`/`abort` may finish it.
    pub fn is_open(self) -> bool {
        matches!(self, Phase::Progressing | Phase::Paused | Phase::Failed)
    }
}

/// One service's rollout: the JSON of `.meshctl/canary/<service>.json`, and what
/// `canary status` shows (`rollouts[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    pub service: String,
    /// The canary version.
    pub to: String,
    pub phase: Phase,
    /// The canary's weight as last applied.
    pub weight: u32,
    pub steps: Vec<u32>,
    /// 1-based index of the current step (0 before the first).
    pub step: usize,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub failure_threshold: u32,
    pub gates: GatesView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_header: Option<String>,
    /// The pid of the `canary start` that runs (or ran) it.
    pub owner_pid: u32,
    pub started_at: String,
    pub updated_at: String,
    /// Why it is in this phase (empty while progressing).
    #[serde(default)]
    pub reason: String,
    pub last_analysis: Option<Analysis>,
    pub history: Vec<Event>,
}

impl RolloutState {
    /// Appends an event and updates what it changes.
    pub fn record(&mut self, event: &Event) {
        self.updated_at = event.at.clone();
        match &event.kind {
            EventKind::Started { .. } | EventKind::MirrorCheck(_) => {}
            EventKind::Step { step, weight, .. } => {
                self.step = *step;
                self.weight = *weight;
            }
            EventKind::Analysis(a) => self.last_analysis = Some(a.clone()),
            EventKind::RolledBack { weight, by, reason } => {
                self.phase = Phase::RolledBack;
                self.weight = *weight;
                self.reason = format!("{by}: {reason}");
            }
            EventKind::Promoted { weight, by } => {
                self.phase = Phase::Promoted;
                self.weight = *weight;
                self.reason = by.clone();
            }
            EventKind::TimedOut { weight, reason } => {
                self.phase = Phase::Paused;
                self.weight = *weight;
                self.reason = reason.clone();
            }
        }
        self.history.push(event.clone());
        if self.history.len() > MAX_HISTORY {
            // Keep `started` (the first) and the most recent.
            self.history.remove(1);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: unreadable rollout state: {source} (remove it to start over)", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The rollout files of one state dir.
#[derive(Debug, Clone)]
pub struct RolloutStore {
    dir: PathBuf,
}

/// Held while a read-modify-write is in progress; released on drop.
#[derive(Debug)]
pub struct StateLock(#[allow(dead_code)] File);

/// Held by the running `canary start` for its whole life; released on drop or death.
#[derive(Debug)]
pub struct Ownership(#[allow(dead_code)] File);

impl RolloutStore {
    pub fn new(state_dir: &Path) -> Self {
        RolloutStore {
            dir: state_dir.join(CANARY_DIR),
        }
    }

    fn path(&self, service: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{service}.{ext}"))
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn open_lock_file(&self, service: &str, ext: &str) -> Result<File, StoreError> {
        fsutil::create_private_dir(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.path(service, ext);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Self::io(&path))
    }

    /// Waits for exclusive access to `service`'s state.
    pub fn lock(&self, service: &str) -> Result<StateLock, StoreError> {
        let file = self.open_lock_file(service, "lock")?;
        file.lock().map_err(Self::io(&self.path(service, "lock")))?;
        Ok(StateLock(file))
    }

    /// Becomes the running rollout of `service`; `None` if a live process already is.
    pub fn try_own(&self, service: &str) -> Result<Option<Ownership>, StoreError> {
        let file = self.open_lock_file(service, "owner")?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Ownership(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Self::io(&self.path(service, "owner"))(e)),
        }
    }

    /// Whether a live `canary start` owns `service`'s rollout.
    pub fn owner_alive(&self, service: &str) -> Result<bool, StoreError> {
        let path = self.path(service, "owner");
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Self::io(&path)(e)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(Self::io(&path)(e)),
        }
    }

    /// `service`'s rollout, if it ever had one.
    pub fn load(&self, service: &str) -> Result<Option<RolloutState>, StoreError> {
        let path = self.path(service, "json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Decode { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(&path)(e)),
        }
    }

    /// Writes `state` atomically (hold the [`StateLock`] around load-modify-save).
    pub fn save(&self, state: &RolloutState, _lock: &StateLock) -> Result<(), StoreError> {
        fsutil::create_private_dir(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.path(&state.service, "json");
        let body = serde_json::to_vec_pretty(state).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        fsutil::write_atomic(&path, &body, fsutil::PUBLIC_FILE_MODE).map_err(Self::io(&path))
    }

    /// Every service with a rollout on record, in name order.
    pub fn services(&self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::io(&self.dir)(e)),
        };
        let mut services: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let service = name.strip_suffix(".json")?;
                (!service.starts_with('.')).then(|| service.to_string())
            })
            .collect();
        services.sort();
        Ok(services)
    }
}

/// A rollout of `api` to `v2` in progress at 0% (steps 50, 100; the default gates): what the
/// tests of every adapter start from and change field by field.
#[cfg(test)]
pub fn sample_state() -> RolloutState {
    RolloutState {
        service: "api".into(),
        to: "v2".into(),
        phase: Phase::Progressing,
        weight: 0,
        steps: vec![50, 100],
        step: 0,
        interval_ms: 1000,
        timeout_ms: 60_000,
        failure_threshold: 2,
        gates: GatesView {
            max_error_rate: 1.0,
            max_error_rate_increase: Some(0.01),
            max_p99_ms: 500.0,
            min_requests: 20,
        },
        match_header: None,
        owner_pid: std::process::id(),
        started_at: "2026-12-07T12:00:00Z".into(),
        updated_at: "2026-12-07T12:00:00Z".into(),
        reason: String::new(),
        last_analysis: None,
        history: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> RolloutState {
        RolloutState {
            gates: GatesView {
                max_error_rate: 0.01,
                max_error_rate_increase: None,
                max_p99_ms: 500.0,
                min_requests: 20,
            },
            owner_pid: 1,
            started_at: "t0".into(),
            updated_at: "t0".into(),
            ..sample_state()
        }
    }

    #[test]
    fn state_round_trips_and_events_update_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = RolloutStore::new(dir.path());
        assert_eq!(store.load("api").unwrap(), None);
        let mut s = state();
        s.record(&Event {
            at: "t1".into(),
            elapsed_ms: 5,
            kind: EventKind::Step {
                step: 1,
                steps: 2,
                weight: 50,
            },
        });
        s.record(&Event {
            at: "t2".into(),
            elapsed_ms: 9,
            kind: EventKind::TimedOut {
                weight: 50,
                reason: "late".into(),
            },
        });
        assert_eq!((s.phase, s.weight, s.step), (Phase::Paused, 50, 1));
        let lock = store.lock("api").unwrap();
        store.save(&s, &lock).unwrap();
        drop(lock);
        assert_eq!(store.load("api").unwrap(), Some(s));
        assert_eq!(store.services().unwrap(), ["api"]);
    }

    #[test]
    fn history_is_bounded_and_keeps_the_start() {
        let mut s = state();
        for i in 0..(MAX_HISTORY + 10) {
            s.record(&Event {
                at: format!("t{i}"),
                elapsed_ms: i as u64,
                kind: EventKind::Step {
                    step: 1,
                    steps: 1,
                    weight: 1,
                },
            });
        }
        assert_eq!(s.history.len(), MAX_HISTORY);
        assert_eq!(s.history[0].at, "t0");
        assert_eq!(
            s.history.last().unwrap().at,
            format!("t{}", MAX_HISTORY + 9)
        );
    }

    #[test]
    fn one_owner_at_a_time_and_a_dropped_owner_is_seen_as_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = RolloutStore::new(dir.path());
        assert!(!store.owner_alive("api").unwrap());
        let owner = store.try_own("api").unwrap().expect("first owner");
        assert!(
            store.try_own("api").unwrap().is_none(),
            "second owner refused"
        );
        assert!(store.owner_alive("api").unwrap());
        drop(owner);
        assert!(!store.owner_alive("api").unwrap());
        assert!(store.try_own("api").unwrap().is_some());
    }

    #[test]
    fn an_unreadable_state_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(CANARY_DIR)).unwrap();
        std::fs::write(dir.path().join("canary/api.json"), "{").unwrap();
        let err = RolloutStore::new(dir.path()).load("api").unwrap_err();
        assert!(err.to_string().contains("canary/api.json"), "{err}");
    }
}
