//! Header routes a running rollout adds (`canary start --match-header x-canary=1`): requests
//! carrying the header go to the canary version at every step. Held by the control plane,
//! persisted in `.meshctl/canary-routes.json` so a restarted control plane keeps pushing them,
//! and put in front of the service's own `policy.routes` in every caller's config.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::proto::control as pb;

/// Inside the state dir (not in `canary/`, where any file name may be a service's).
pub const CANARY_ROUTES_FILE: &str = "canary-routes.json";

/// service → its rollout's route.
pub type CanaryRoutes = BTreeMap<String, CanaryRoute>;

/// Requests with header `name: value` go to `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryRoute {
    pub version: String,
    pub header: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanaryRouteError {
    #[error("service `{service}` has no version `{version}`")]
    UnknownVersion { service: String, version: String },
    #[error("invalid header `{0}`")]
    Header(String),
}

impl CanaryRoute {
    /// Checks the route against the service's versions and HTTP's header syntax.
    pub fn validate(&self, service: &str, versions: &[String]) -> Result<(), CanaryRouteError> {
        if !versions.contains(&self.version) {
            return Err(CanaryRouteError::UnknownVersion {
                service: service.to_string(),
                version: self.version.clone(),
            });
        }
        let name_ok = http::HeaderName::from_bytes(self.header.as_bytes()).is_ok();
        if !name_ok || self.value.is_empty() || http::HeaderValue::from_str(&self.value).is_err() {
            return Err(CanaryRouteError::Header(format!(
                "{}: {}",
                self.header, self.value
            )));
        }
        Ok(())
    }

    /// The route as a caller's proxy runs it (the header name lowercased).
    pub fn to_proto(&self) -> pb::HttpRoute {
        pb::HttpRoute {
            path: None,
            method: String::new(),
            headers: vec![pb::HeaderMatch {
                name: self.header.to_ascii_lowercase(),
                value: self.value.clone(),
            }],
            version: self.version.clone(),
            timeout_ms: 0,
            retryable: false,
            fault: None,
            name: String::new(),
        }
    }
}

/// Puts each upstream's canary route first, ahead of its mesh.yaml routes.
pub fn apply(config: &mut pb::ProxyConfig, routes: &CanaryRoutes) {
    for upstream in &mut config.upstreams {
        if let Some(route) = routes.get(&upstream.service) {
            upstream.routes.insert(0, route.to_proto());
        }
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(CANARY_ROUTES_FILE)
}

/// The persisted routes (none when the file is missing), checked: see [`super::state_files`].
pub fn load(path: &Path) -> Result<CanaryRoutes, super::state_files::StateFileError> {
    super::state_files::load_canary_routes(path, None).map(|l| l.value)
}

/// Persists `routes` atomically.
pub fn save(path: &Path, routes: &CanaryRoutes) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::fsutil::create_private_dir(dir)?;
    }
    let body = serde_json::to_vec_pretty(routes).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, &body, crate::fsutil::PUBLIC_FILE_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> CanaryRoute {
        CanaryRoute {
            version: "v2".into(),
            header: "x-canary".into(),
            value: "1".into(),
        }
    }

    #[test]
    fn the_canary_route_goes_first_for_its_service_only() {
        let mut config = pb::ProxyConfig {
            upstreams: vec![
                pb::Upstream {
                    service: "api".into(),
                    routes: vec![pb::HttpRoute {
                        version: "v1".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                pb::Upstream {
                    service: "db".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        apply(&mut config, &[("api".to_string(), route())].into());
        let api = &config.upstreams[0].routes;
        assert_eq!(api.len(), 2);
        assert_eq!(api[0].version, "v2");
        assert_eq!(api[0].headers[0].name, "x-canary");
        assert!(config.upstreams[1].routes.is_empty());
    }

    #[test]
    fn routes_are_checked_and_persisted() {
        let versions = vec!["v1".to_string(), "v2".to_string()];
        assert!(route().validate("api", &versions).is_ok());
        let bad = CanaryRoute {
            version: "v9".into(),
            ..route()
        };
        assert!(matches!(
            bad.validate("api", &versions),
            Err(CanaryRouteError::UnknownVersion { .. })
        ));
        let bad = CanaryRoute {
            header: "bad name".into(),
            ..route()
        };
        assert!(bad.validate("api", &versions).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        assert!(load(&p).unwrap().is_empty());
        let routes: CanaryRoutes = [("api".to_string(), route())].into();
        save(&p, &routes).unwrap();
        assert_eq!(load(&p).unwrap(), routes);
    }
}
