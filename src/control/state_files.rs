//! The control plane's saved traffic state in the state dir — `splits.json`, `faults.json`,
//! `canary-routes.json`, `mirrors.json` — read back with every check the API applies when they were written.
//! A corrupt or partly invalid file is an error naming the file and the problem, never an
//! empty default: a silently ignored `splits.json` would put a canary's traffic back on v1.
//! `meshctl up --reset-state` moves the files aside ([`reset`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::canary_routes::{self, CanaryRoute, CanaryRoutes};
use crate::policy::fault::{FAULTS_FILE, FaultSpec, LiveFault};
use crate::policy::mirror::{LiveMirror, MIRRORS_FILE, MirrorSpec};
use crate::policy::split::SplitWeights;

/// File (in the state dir) holding the configured split weights.
pub const SPLITS_FILE: &str = "splits.json";
/// Suffix `--reset-state` gives the files it moves aside (`splits.json.discarded`).
pub const DISCARDED_SUFFIX: &str = ".discarded";
/// What to do about a bad state file, appended to every [`StateFileError`].
pub const HINT: &str = "fix the file, or discard the saved state with `meshctl up --reset-state`";

/// Every state file `meshctl up` checks and `--reset-state` discards.
pub const FILES: [&str; 4] = [
    SPLITS_FILE,
    FAULTS_FILE,
    canary_routes::CANARY_ROUTES_FILE,
    MIRRORS_FILE,
];

/// A state file that cannot be used as it is.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem} ({HINT})", path.display())]
pub struct StateFileError {
    pub path: PathBuf,
    pub problem: String,
}

/// The services and versions of the mesh (service → versions, `[""]` for a service without
/// versions): entries are checked against them.
pub type Catalog = BTreeMap<String, Vec<String>>;

/// The services and versions mesh.yaml declares.
pub fn catalog_of(mesh: &super::meshfile::MeshFile) -> Catalog {
    mesh.services()
        .map(|s| {
            let mut versions = s.versions.clone();
            if versions.is_empty() {
                versions.push(String::new());
            }
            versions.sort();
            (s.name.clone(), versions)
        })
        .collect()
}

/// A loaded file, and what was dropped from it because mesh.yaml no longer declares the
/// service (said, not silent: the caller prints or logs each note).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    pub value: T,
    pub notes: Vec<String>,
}

fn fail(path: &Path, problem: impl Into<String>) -> StateFileError {
    StateFileError {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Reads and parses `path`; a missing file is `None`, anything else unreadable an error.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(path, format!("cannot be read: {e}"))),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| fail(path, format!("invalid JSON: {e}")))
}

/// Drops entries for services the catalog does not know (with a note); `None`: keep all.
fn drop_departed<T>(
    path: &Path,
    entries: &mut BTreeMap<String, T>,
    catalog: Option<&Catalog>,
    notes: &mut Vec<String>,
) {
    let Some(catalog) = catalog else { return };
    entries.retain(|svc, _| {
        let known = catalog.contains_key(svc);
        if !known {
            notes.push(format!(
                "{}: ignoring the entry for service `{svc}`, which mesh.yaml no longer declares",
                path.display()
            ));
        }
        known
    });
}

/// The saved splits: weights 0–100 summing to 100, on versions the service has (when a
/// catalog is given). Missing file: none.
pub fn load_splits(
    path: &Path,
    catalog: Option<&Catalog>,
) -> Result<Loaded<BTreeMap<String, SplitWeights>>, StateFileError> {
    let mut splits: BTreeMap<String, SplitWeights> = read_json(path)?.unwrap_or_default();
    let mut notes = Vec::new();
    drop_departed(path, &mut splits, catalog, &mut notes);
    for (svc, weights) in &splits {
        let checked = match catalog.and_then(|c| c.get(svc)) {
            Some(versions) => weights.validate(svc, versions),
            // Without a catalog the versions cannot be checked, the weights can.
            None => {
                let versions: Vec<String> = weights.0.keys().cloned().collect();
                weights.validate(svc, &versions)
            }
        };
        checked.map_err(|e| fail(path, format!("service `{svc}`: {e}")))?;
    }
    Ok(Loaded {
        value: splits,
        notes,
    })
}

/// The saved live faults, each re-checked as `meshctl fault inject` checks it.
pub fn load_faults(
    path: &Path,
    catalog: Option<&Catalog>,
) -> Result<Loaded<BTreeMap<String, LiveFault>>, StateFileError> {
    let mut faults: BTreeMap<String, LiveFault> = read_json(path)?.unwrap_or_default();
    let mut notes = Vec::new();
    drop_departed(path, &mut faults, catalog, &mut notes);
    for (svc, fault) in &faults {
        FaultSpec::from_pb(&fault.spec.to_pb(None))
            .map_err(|e| fail(path, format!("service `{svc}`: {e}")))?;
    }
    Ok(Loaded {
        value: faults,
        notes,
    })
}

/// The saved live mirrors (`meshctl canary mirror`), each to a version its service has.
pub fn load_mirrors(
    path: &Path,
    catalog: Option<&Catalog>,
) -> Result<Loaded<BTreeMap<String, LiveMirror>>, StateFileError> {
    let mut mirrors: BTreeMap<String, LiveMirror> = read_json(path)?.unwrap_or_default();
    let mut notes = Vec::new();
    drop_departed(path, &mut mirrors, catalog, &mut notes);
    for (svc, mirror) in &mirrors {
        MirrorSpec::from_pb(&mirror.spec.to_pb(None))
            .and_then(|spec| match catalog.and_then(|c| c.get(svc)) {
                Some(versions) => spec.check_version(svc, versions),
                None => Ok(()),
            })
            .map_err(|e| fail(path, format!("service `{svc}`: {e}")))?;
    }
    Ok(Loaded {
        value: mirrors,
        notes,
    })
}

/// The saved rollout header routes, each on a version its service has.
pub fn load_canary_routes(
    path: &Path,
    catalog: Option<&Catalog>,
) -> Result<Loaded<CanaryRoutes>, StateFileError> {
    let mut routes: CanaryRoutes = read_json(path)?.unwrap_or_default();
    let mut notes = Vec::new();
    drop_departed(path, &mut routes, catalog, &mut notes);
    for (svc, route) in &routes {
        let versions = match catalog.and_then(|c| c.get(svc)) {
            Some(v) => v.clone(),
            None => vec![route.version.clone()],
        };
        CanaryRoute::validate(route, svc, &versions)
            .map_err(|e| fail(path, format!("service `{svc}`: {e}")))?;
    }
    Ok(Loaded {
        value: routes,
        notes,
    })
}

/// Checks every state file of `state_dir` against `catalog`; the notes of all of them.
pub fn check_all(state_dir: &Path, catalog: &Catalog) -> Result<Vec<String>, StateFileError> {
    let mut notes = load_splits(&state_dir.join(SPLITS_FILE), Some(catalog))?.notes;
    notes.extend(load_faults(&state_dir.join(FAULTS_FILE), Some(catalog))?.notes);
    notes.extend(load_canary_routes(&canary_routes::path(state_dir), Some(catalog))?.notes);
    notes.extend(load_mirrors(&state_dir.join(MIRRORS_FILE), Some(catalog))?.notes);
    Ok(notes)
}

/// `--reset-state`: moves each state file that exists aside to `<file>.discarded` (replacing
/// an older one), so the next start begins from mesh.yaml alone. Returns (from, to) per file.
pub fn reset(state_dir: &Path) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    let mut moved = Vec::new();
    for name in FILES {
        let from = state_dir.join(name);
        let to = state_dir.join(format!("{name}{DISCARDED_SUFFIX}"));
        match std::fs::rename(&from, &to) {
            Ok(()) => moved.push((from, to)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests;
