//! Traffic mirroring as configured: the version copies go to, the share of requests copied
//! and whether bodies are compared, from mesh.yaml (`policy.mirror`) or `meshctl canary
//! mirror`; checked once here for the file parser, the CLI, the control plane and the proxy.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::proto::control as pb;
use crate::policy::fault::{FaultError, PER_MILLION};

/// Marks every copy the proxy sends (`x-meshctl-mirror: 1`), so an app can skip side effects.
pub const MIRROR_HEADER: &str = "x-meshctl-mirror";
/// Largest request body a copy carries, and largest response body hashed for comparison: a
/// request with a larger or unknown-length body is not copied (counted `skipped`).
pub const MAX_MIRROR_BODY: u64 = 64 * 1024;
/// Copies in flight per proxy (all destinations together); beyond it a copy is dropped and
/// counted `dropped`, never queued.
pub const MAX_MIRROR_IN_FLIGHT: usize = 64;
/// How long a copy may take, its answer's body included; then it counts as `error`.
pub const MIRROR_TIMEOUT: Duration = Duration::from_secs(5);
/// File (in the state dir) holding the live mirrors set with `meshctl canary mirror`.
pub const MIRRORS_FILE: &str = "mirrors.json";
/// Why a mirror on a `protocol: tcp` service is refused: opaque TCP has no requests to copy.
pub const TCP_MIRROR_REFUSED: &str =
    "mirroring applies to HTTP and gRPC requests; this service has `protocol: tcp`";

/// What a caller's proxy mirrors for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorSpec {
    /// The version copies go to.
    pub version: String,
    /// Share of requests copied, in millionths (1 to [`PER_MILLION`]).
    pub per_million: u32,
    /// Compare SHA-256 of both bodies too (when both are at most [`MAX_MIRROR_BODY`]).
    #[serde(default)]
    pub compare_body: bool,
}

/// A mirror set with `meshctl canary mirror`, as the control plane keeps it (`mirrors.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveMirror {
    pub spec: MirrorSpec,
    /// When it was set (Unix ms).
    pub set_unix_ms: u64,
    /// When it stops (Unix ms); `None`: until cleared.
    #[serde(default)]
    pub expires_unix_ms: Option<u64>,
}

/// Why a mirror is refused; each message says what is wrong and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    #[error("a mirror needs a version to send copies to")]
    NoVersion,
    #[error("service `{service}` has no version `{version}` (its versions: {known})")]
    UnknownVersion {
        service: String,
        version: String,
        known: String,
    },
    #[error("percent must be above 0 (drop the mirror to stop mirroring)")]
    ZeroPercent,
    #[error(transparent)]
    Percent(#[from] FaultError),
}

impl MirrorSpec {
    /// A mirror of `per_million` of the requests to `version`, checked on its own (the
    /// version's existence is [`MirrorSpec::check_version`]'s).
    pub fn new(
        version: &str,
        per_million: u32,
        compare_body: bool,
    ) -> Result<MirrorSpec, MirrorError> {
        if version.is_empty() {
            return Err(MirrorError::NoVersion);
        }
        match per_million {
            0 => return Err(MirrorError::ZeroPercent),
            n if n > PER_MILLION => {
                return Err(FaultError::Percent(format!("{n} per million")).into());
            }
            _ => {}
        }
        Ok(MirrorSpec {
            version: version.to_string(),
            per_million,
            compare_body,
        })
    }

    /// Checks that `service` has the mirror's version among `versions`.
    pub fn check_version(&self, service: &str, versions: &[String]) -> Result<(), MirrorError> {
        if versions.contains(&self.version) {
            return Ok(());
        }
        let mut known: Vec<&str> = versions
            .iter()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect();
        known.sort_unstable();
        Err(MirrorError::UnknownVersion {
            service: service.to_string(),
            version: self.version.clone(),
            known: if known.is_empty() {
                "none declared".to_string()
            } else {
                known.join(", ")
            },
        })
    }

    /// The wire form; `expires_unix_ms`: when proxies stop mirroring (`None`: never).
    pub fn to_pb(&self, expires_unix_ms: Option<u64>) -> pb::Mirror {
        pb::Mirror {
            version: self.version.clone(),
            per_million: self.per_million,
            compare_body: self.compare_body,
            expires_unix_ms: expires_unix_ms.unwrap_or(0),
        }
    }

    /// Checks a mirror from the wire (a proxy re-checks what it is sent).
    pub fn from_pb(m: &pb::Mirror) -> Result<MirrorSpec, MirrorError> {
        MirrorSpec::new(&m.version, m.per_million, m.compare_body)
    }
}

impl LiveMirror {
    /// Still in force at `now_ms`.
    pub fn in_force(&self, now_ms: u64) -> bool {
        self.expires_unix_ms.is_none_or(|at| now_ms < at)
    }
}

/// The share of compared copies whose answer differed, in percent (0 with none compared).
pub fn mismatch_percent(matched: u64, mismatched: u64) -> f64 {
    let compared = matched.saturating_add(mismatched);
    if compared == 0 {
        return 0.0;
    }
    mismatched as f64 * 100.0 / compared as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_needs_a_version_and_a_share_above_zero_and_at_most_all() {
        assert_eq!(MirrorSpec::new("", 10, false), Err(MirrorError::NoVersion));
        assert_eq!(
            MirrorSpec::new("v2", 0, false),
            Err(MirrorError::ZeroPercent)
        );
        assert!(matches!(
            MirrorSpec::new("v2", PER_MILLION + 1, false),
            Err(MirrorError::Percent(_))
        ));
        let ok = MirrorSpec::new("v2", PER_MILLION, true).unwrap();
        assert_eq!(MirrorSpec::from_pb(&ok.to_pb(Some(5))).unwrap(), ok);
        assert_eq!(ok.to_pb(None).expires_unix_ms, 0);
    }

    #[test]
    fn the_version_must_be_one_of_the_services_and_the_error_names_them() {
        let spec = MirrorSpec::new("v3", 1, false).unwrap();
        let versions = ["v2".to_string(), "v1".to_string()];
        let err = spec
            .check_version("api", &versions)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "service `api` has no version `v3` (its versions: v1, v2)"
        );
        let err = spec
            .check_version("web", &[String::new()])
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("(its versions: none declared)"), "{err}");
        assert!(
            MirrorSpec::new("v2", 1, false)
                .unwrap()
                .check_version("api", &versions)
                .is_ok()
        );
    }

    #[test]
    fn a_live_mirror_is_in_force_until_its_expiry_and_the_rate_counts_compared_only() {
        let spec = MirrorSpec::new("v2", 1, false).unwrap();
        let timed = LiveMirror {
            spec: spec.clone(),
            set_unix_ms: 0,
            expires_unix_ms: Some(100),
        };
        assert!(timed.in_force(99));
        assert!(!timed.in_force(100));
        let forever = LiveMirror {
            expires_unix_ms: None,
            ..timed
        };
        assert!(forever.in_force(u64::MAX));
        assert_eq!(mismatch_percent(0, 0), 0.0);
        assert_eq!(mismatch_percent(3, 1), 25.0);
        assert_eq!(mismatch_percent(0, 2), 100.0);
    }
}
