//! Anchor rotation as a checkpointed state machine: which step comes next, and whether the
//! proxies' reported certificate state lets it run. Pure except for the checkpoint file.
//!
//! The order is what makes rotation safe: (1) trust the new anchor beside the old one and
//! wait until every proxy does; (2) sign leaves with a new issuer under the new anchor and
//! wait until every proxy serves one; (3) only then drop the old anchor. Every action step
//! re-checks the gate before it runs, so even a tampered checkpoint cannot drop an anchor
//! that a proxy's leaf still chains to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{self, PUBLIC_FILE_MODE};

/// The checkpoint file in the state dir; present only while an anchor rotation is unfinished.
pub const CHECKPOINT_FILE: &str = "rotation.json";

/// One step of an anchor rotation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Create the new anchor and push a bundle holding both anchors.
    AddAnchor,
    /// Wait until every proxy reports the new anchor in its bundle.
    AwaitBundle,
    /// Create a new issuer under the new anchor; proxies renew their leaves at once.
    NewIssuer,
    /// Wait until every proxy serves a leaf from the new issuer.
    AwaitLeaves,
    /// Push a bundle holding only the new anchor (it becomes the anchor).
    DropAnchor,
    /// Wait until every proxy reports the new bundle only.
    AwaitDropped,
    Done,
}

impl Step {
    /// Every step that does something, in order (`Done` excluded).
    pub const ALL: [Step; 6] = [
        Step::AddAnchor,
        Step::AwaitBundle,
        Step::NewIssuer,
        Step::AwaitLeaves,
        Step::DropAnchor,
        Step::AwaitDropped,
    ];

    pub fn next(self) -> Step {
        match self {
            Step::AddAnchor => Step::AwaitBundle,
            Step::AwaitBundle => Step::NewIssuer,
            Step::NewIssuer => Step::AwaitLeaves,
            Step::AwaitLeaves => Step::DropAnchor,
            Step::DropAnchor => Step::AwaitDropped,
            Step::AwaitDropped | Step::Done => Step::Done,
        }
    }

    /// Steps already completed before this one.
    pub fn index(self) -> usize {
        Step::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or(Step::ALL.len())
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::AddAnchor => "add-anchor",
            Step::AwaitBundle => "await-bundle",
            Step::NewIssuer => "new-issuer",
            Step::AwaitLeaves => "await-leaves",
            Step::DropAnchor => "drop-anchor",
            Step::AwaitDropped => "await-dropped",
            Step::Done => "done",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Step::AddAnchor => "create a new trust anchor and push a bundle with both anchors",
            Step::AwaitBundle => "wait until every proxy trusts the new anchor",
            Step::NewIssuer => "create a new issuer under the new anchor; proxies renew at once",
            Step::AwaitLeaves => "wait until every proxy serves a leaf from the new issuer",
            Step::DropAnchor => "drop the old anchor: the bundle holds the new anchor only",
            Step::AwaitDropped => "wait until every proxy trusts the new anchor only",
            Step::Done => "rotation complete",
        }
    }
}

impl std::str::FromStr for Step {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Step::ALL
            .into_iter()
            .find(|step| step.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                format!("unknown step `{s}` (one of: {})", names.join(", "))
            })
    }
}

/// Where an anchor rotation stands, persisted after every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The next step to run.
    pub step: Step,
    /// Fingerprint of the anchor being replaced.
    pub old_anchor: String,
    /// Fingerprint of the new anchor, once created.
    pub new_anchor: Option<String>,
    /// Fingerprint of the issuer under the new anchor, once created.
    pub new_issuer: Option<String>,
}

/// One proxy as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyView {
    pub instance: String,
    pub connected: bool,
    /// What the proxy last reported; `None` if it never did.
    pub report: Option<CertView>,
}

/// A proxy's reported certificate state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertView {
    /// The leaf it serves: serial and expiry (Unix seconds).
    pub serial: String,
    pub not_after_unix: i64,
    /// Fingerprint of the issuer of the leaf it serves.
    pub issuer: String,
    /// Fingerprints of the anchors it trusts.
    pub bundle: Vec<String>,
}

/// A proxy that does not satisfy a gate yet, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub instance: String,
    pub reason: String,
}

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.instance, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("step {step} cannot run yet: {}", list(.pending))]
    NotReady {
        step: &'static str,
        pending: Vec<Pending>,
    },
    #[error("the rotation checkpoint names no new {0}; it is corrupt (delete it to start over)")]
    Incomplete(&'static str),
    #[error("{}: {why}", path.display())]
    Checkpoint { path: PathBuf, why: String },
}

fn list(pending: &[Pending]) -> String {
    pending
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Checkpoint {
    /// A rotation that has not started, replacing `old_anchor`.
    pub fn start(old_anchor: String) -> Self {
        Checkpoint {
            step: Step::AddAnchor,
            old_anchor,
            new_anchor: None,
            new_issuer: None,
        }
    }

    /// The proxies that keep `step` from running or completing. Action steps are gated on
    /// the wait before them, so nothing can run out of order.
    pub fn pending(&self, step: Step, views: &[ProxyView]) -> Result<Vec<Pending>, RotationError> {
        let anchor = || {
            self.new_anchor
                .as_deref()
                .ok_or(RotationError::Incomplete("anchor"))
        };
        let issuer = || {
            self.new_issuer
                .as_deref()
                .ok_or(RotationError::Incomplete("issuer"))
        };
        Ok(match step {
            Step::AddAnchor | Step::Done => Vec::new(),
            Step::AwaitBundle | Step::NewIssuer => bundle_pending(views, anchor()?),
            Step::AwaitLeaves | Step::DropAnchor => {
                let anchor = anchor()?;
                let mut out = bundle_pending(views, anchor);
                out.extend(leaves_pending(views, issuer()?));
                dedup(out)
            }
            Step::AwaitDropped => only_pending(views, anchor()?),
        })
    }

    /// Fails naming every proxy that keeps the action `step` from running.
    pub fn ensure_ready(&self, step: Step, views: &[ProxyView]) -> Result<(), RotationError> {
        let pending = self.pending(step, views)?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(RotationError::NotReady {
                step: step.name(),
                pending,
            })
        }
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(CHECKPOINT_FILE)
    }

    /// The unfinished rotation in `state_dir`, if any.
    pub fn load(state_dir: &Path) -> Result<Option<Self>, RotationError> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| RotationError::Checkpoint {
                        path,
                        why: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RotationError::Checkpoint {
                path,
                why: e.to_string(),
            }),
        }
    }

    /// Persists the checkpoint atomically; a finished rotation removes it.
    pub fn save(&self, state_dir: &Path) -> Result<(), RotationError> {
        let path = Self::path(state_dir);
        let fail = |why: String| RotationError::Checkpoint {
            path: path.clone(),
            why,
        };
        if self.step == Step::Done {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail(e.to_string())),
                _ => Ok(()),
            };
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| fail(e.to_string()))?;
        fsutil::write_atomic(&path, &json, PUBLIC_FILE_MODE).map_err(|e| fail(e.to_string()))
    }
}

/// Proxies that do not trust `anchor` yet.
pub fn bundle_pending(views: &[ProxyView], anchor: &str) -> Vec<Pending> {
    gate(views, |c| {
        (!c.bundle.iter().any(|a| a == anchor))
            .then(|| "its bundle lacks the new anchor".to_string())
    })
}

/// Proxies not serving a leaf from `issuer` yet.
pub fn leaves_pending(views: &[ProxyView], issuer: &str) -> Vec<Pending> {
    gate(views, |c| {
        (c.issuer != issuer).then(|| "its leaf is from the old issuer".to_string())
    })
}

/// Proxies trusting anything besides `anchor`.
pub fn only_pending(views: &[ProxyView], anchor: &str) -> Vec<Pending> {
    gate(views, |c| {
        (c.bundle != [anchor]).then(|| format!("its bundle holds {} anchors", c.bundle.len()))
    })
}

fn gate(views: &[ProxyView], check: impl Fn(&CertView) -> Option<String>) -> Vec<Pending> {
    views
        .iter()
        .filter_map(|v| {
            let reason = match &v.report {
                None => Some("never reported its certificate".to_string()),
                Some(_) if !v.connected => Some("not connected".to_string()),
                Some(c) => check(c),
            }?;
            Some(Pending {
                instance: v.instance.clone(),
                reason,
            })
        })
        .collect()
}

/// Keeps the first reason per proxy.
fn dedup(pending: Vec<Pending>) -> Vec<Pending> {
    let mut out: Vec<Pending> = Vec::with_capacity(pending.len());
    for p in pending {
        if !out.iter().any(|o| o.instance == p.instance) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests;
