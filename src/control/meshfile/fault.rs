//! `fault:` in a service's `policy` or in one of its routes: an abort and/or a delay, each
//! with the share of requests it hits (schema: `docs/mesh-yaml.md#faults`).

use serde::Deserialize;

use super::yaml_pos::YamlPath;
use super::{Issue, ScalarString};
use crate::policy::fault::{self, Abort, Delay, FaultError, FaultSpec};

/// `fault:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    abort: Option<RawAbort>,
    delay: Option<RawDelay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAbort {
    status: Option<u64>,
    percent: Option<ScalarString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelay {
    duration: Option<String>,
    percent: Option<ScalarString>,
}

/// Checks a `fault:` block at `path` (the `fault` key itself).
pub(super) fn fault(path: &YamlPath, raw: &RawFault) -> Result<FaultSpec, Issue> {
    let abort = match &raw.abort {
        None => None,
        Some(a) => {
            let at = path.key("abort");
            let status = a
                .status
                .ok_or_else(|| Issue::key(at.clone(), "an abort needs `status` (400-599)"))?;
            let status = fault::abort_status(status)
                .map_err(|e| Issue::value(at.key("status"), e.to_string()))?;
            Some(Abort {
                status,
                per_million: percent(&at, a.percent.as_ref())?,
            })
        }
    };
    let delay = match &raw.delay {
        None => None,
        Some(d) => {
            let at = path.key("delay");
            let duration = d.duration.as_deref().ok_or_else(|| {
                Issue::key(
                    at.clone(),
                    "a delay needs `duration` (e.g. 200ms, at most 60s)",
                )
            })?;
            let ms = fault::parse_delay(duration).map_err(|e| {
                let why = match e {
                    FaultError::Duration(_, why) => why,
                    other => other.to_string(),
                };
                Issue::value(at.key("duration"), why)
            })?;
            Some(Delay {
                ms,
                per_million: percent(&at, d.percent.as_ref())?,
            })
        }
    };
    FaultSpec::new(abort, delay).map_err(|e| {
        Issue::value(
            path.clone(),
            format!(
                "{e}: give `abort: {{ status, percent }}` and/or `delay: {{ duration, percent }}`"
            ),
        )
    })
}

/// The required `percent` of an abort or delay at `at`.
fn percent(at: &YamlPath, raw: Option<&ScalarString>) -> Result<u32, Issue> {
    let raw = raw.ok_or_else(|| {
        Issue::key(
            at.clone(),
            "give `percent`: the share of requests hit, 0 to 100",
        )
    })?;
    fault::parse_percent(&raw.0).map_err(|e| Issue::value(at.key("percent"), e.to_string()))
}
