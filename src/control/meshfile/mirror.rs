//! `mirror:` in a service's `policy`: copies of a share of its requests sent to one version,
//! their answers compared with the real ones (schema: `docs/mesh-yaml.md#mirroring`).

use serde::Deserialize;

use super::yaml_pos::YamlPath;
use super::{Issue, ScalarString};
use crate::policy::fault;
use crate::policy::mirror::{MirrorError, MirrorSpec};

/// `mirror:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMirror {
    version: Option<String>,
    percent: Option<ScalarString>,
    #[serde(default)]
    compare_body: bool,
}

/// Checks a `mirror:` block at `path` (the `mirror` key itself) against the service's
/// declared `versions` (`None`: not declared up front, any name).
pub(super) fn mirror(
    path: &YamlPath,
    raw: &RawMirror,
    versions: Option<&[String]>,
) -> Result<MirrorSpec, Issue> {
    let version = raw.version.as_deref().ok_or_else(|| {
        Issue::key(
            path.clone(),
            "a mirror needs `version`: the version copies go to",
        )
    })?;
    let percent = raw.percent.as_ref().ok_or_else(|| {
        Issue::key(
            path.clone(),
            "give `percent`: the share of requests copied, above 0 up to 100",
        )
    })?;
    let per_million = fault::parse_percent(&percent.0)
        .map_err(|e| Issue::value(path.key("percent"), e.to_string()))?;
    let spec = MirrorSpec::new(version, per_million, raw.compare_body).map_err(|e| {
        let at = match e {
            MirrorError::NoVersion => path.key("version"),
            _ => path.key("percent"),
        };
        Issue::value(at, e.to_string())
    })?;
    if let Some(versions) = versions
        && let Err(MirrorError::UnknownVersion { version, known, .. }) =
            spec.check_version("", versions)
    {
        return Err(Issue::value(
            path.key("version"),
            format!("no version `{version}` to mirror to (its versions: {known})"),
        ));
    }
    Ok(spec)
}
