//! Dynamic shell completion (`source <(COMPLETE=bash meshctl)`): service and version names
//! of the local mesh, found as every command finds it (`MESHCTL_STATE_DIR`, else the nearest
//! `.meshctl/` from the working directory upward) and read from its plan file
//! (`.meshctl/run/plan.json`): no control-plane call, so a completion never waits, and no
//! names when there is no local mesh. The static scripts (`meshctl completion SHELL`,
//! `completions/`) do not call back and are unchanged by it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use crate::control::plan::MeshPlan;

/// What an argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// `api`.
    Services,
    /// `api` or `api/v2` (`stat`, `tap`, `top`).
    Targets,
    /// `v2`, of any service (`canary … --to`).
    Versions,
}

/// Completes a SERVICE argument.
pub fn services() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| complete(Names::Services, current))
}

/// Completes a SERVICE or SERVICE/VERSION argument.
pub fn targets() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| complete(Names::Targets, current))
}

/// Completes a VERSION argument.
pub fn versions() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| complete(Names::Versions, current))
}

fn complete(names: Names, current: &OsStr) -> Vec<CompletionCandidate> {
    let (Some(current), Ok(cwd)) = (current.to_str(), std::env::current_dir()) else {
        return Vec::new();
    };
    let explicit = std::env::var_os("MESHCTL_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let Some(state) = crate::state::find(explicit.as_deref(), &cwd) else {
        return Vec::new();
    };
    candidates(&state, names, current)
}

/// The names of the mesh planned in `state` that start with `current`, with what each is;
/// none when there is no readable plan.
fn candidates(state: &Path, names: Names, current: &str) -> Vec<CompletionCandidate> {
    let Ok(plan) = MeshPlan::load(state) else {
        return Vec::new();
    };
    // Service → its versions (empty: unversioned).
    let mut services: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &plan.proxies {
        let versions = services.entry(p.service.as_str()).or_default();
        if let Some(v) = p.version.as_deref()
            && !versions.contains(&v)
        {
            versions.push(v);
        }
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (service, versions) in &services {
        if names != Names::Versions {
            let what = match versions.as_slice() {
                [] => "service".to_string(),
                v => format!("service ({})", v.join(", ")),
            };
            out.push((service.to_string(), what));
        }
        for version in versions {
            match names {
                Names::Targets => out.push((
                    format!("{service}/{version}"),
                    format!("version {version} of {service}"),
                )),
                Names::Versions => out.push((version.to_string(), format!("of {service}"))),
                Names::Services => {}
            }
        }
    }
    // A version several services have is offered once.
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out.into_iter()
        .filter(|(value, _)| value.starts_with(current))
        .map(|(value, what)| CompletionCandidate::new(value).help(Some(what.into())))
        .collect()
}

#[cfg(test)]
mod tests;
