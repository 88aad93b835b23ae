//! Prometheus scrape targets of a local mesh: `meshctl up` keeps a `file_sd` file listing
//! every proxy's admin listener (`/metrics`) with its service, version and instance, and
//! `meshctl prometheus-config` prints a scrape job reading it.
//!
//! The file's path is stable (`.meshctl/run/prometheus-targets.json`), so Prometheus is
//! configured once: `up` rewrites it (atomically) with the new ports every time a mesh starts
//! and empties it (`[]`) when the mesh stops; a proxy restarted by its supervisor keeps its
//! address, so it needs no rewrite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::MeshPlan;
use crate::fsutil;

/// Where the targets live inside the state dir.
pub const TARGETS_FILE: &str = "run/prometheus-targets.json";
/// The scrape job's name unless told otherwise.
pub const DEFAULT_JOB: &str = "meshctl";

/// One `file_sd` target group: one proxy's admin listener and its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(TARGETS_FILE)
}

/// One group per proxy, in plan order: `service`, `version` (when the instance has one) and
/// `instance` (the instance's name, e.g. `api.v1.r0`, instead of Prometheus' default of
/// host:port, which changes with every `up`).
pub fn target_groups(plan: &MeshPlan) -> Vec<TargetGroup> {
    plan.proxies
        .iter()
        .map(|p| {
            let mut labels = BTreeMap::from([
                ("service".to_string(), p.service.clone()),
                ("instance".to_string(), p.name.clone()),
            ]);
            if let Some(v) = &p.version {
                labels.insert("version".to_string(), v.clone());
            }
            TargetGroup {
                targets: vec![p.admin.to_string()],
                labels,
            }
        })
        .collect()
}

/// Writes the targets of `plan` (none for `None`: the mesh stopped). Readable by all
/// (addresses only): Prometheus often runs as another user.
pub fn write(state_dir: &Path, plan: Option<&MeshPlan>) -> std::io::Result<()> {
    let groups = plan.map(target_groups).unwrap_or_default();
    let mut body = serde_json::to_vec_pretty(&groups).map_err(std::io::Error::other)?;
    body.push(b'\n');
    let path = path(state_dir);
    if let Some(dir) = path.parent() {
        fsutil::create_private_dir(dir)?;
    }
    fsutil::write_atomic(&path, &body, fsutil::PUBLIC_FILE_MODE)
}

/// A complete Prometheus configuration with one scrape job reading `targets` (an absolute
/// path): what `meshctl prometheus-config` prints, `promtool check config` accepts it.
pub fn scrape_config(targets: &Path, job: &str, interval_secs: u64) -> String {
    // JSON strings are valid YAML scalars: paths with spaces or quotes stay intact.
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "# Prometheus scrape job for the proxies of the local mesh in {dir}.
# `meshctl up` keeps the targets file current (one target per proxy's admin listener,
# labelled service, version and instance); merge this job into your prometheus.yml.
scrape_configs:
  - job_name: {job}
    scrape_interval: {interval_secs}s
    metrics_path: /metrics
    file_sd_configs:
      - files:
          - {file}
",
        dir = targets
            .parent()
            .and_then(Path::parent)
            .unwrap_or(targets)
            .display(),
        job = quote(job),
        file = quote(&targets.display().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::control::plan::ProxyPlan;

    fn proxy(name: &str, service: &str, version: Option<&str>, admin: u16) -> ProxyPlan {
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        ProxyPlan {
            name: name.into(),
            service: service.into(),
            version: version.map(Into::into),
            spiffe_id: format!("spiffe://mesh.local/{service}"),
            token_sha256: String::new(),
            inbound: addr(1),
            app: addr(2),
            protocol: None,
            admin: addr(admin),
            http_proxy: addr(3),
            tap: addr(4),
            upstreams: Vec::new(),
            workers: None,
        }
    }

    #[test]
    fn one_group_per_proxy_with_service_version_and_instance() {
        let plan = MeshPlan {
            trust_domain: "mesh.local".into(),
            control_socket: PathBuf::from("/s"),
            admin_token_sha256: String::new(),
            proxies: vec![
                proxy("web", "web", None, 15000),
                proxy("api.v1.r0", "api", Some("v1"), 15001),
            ],
            policies: BTreeMap::new(),
        };
        let json = serde_json::to_value(target_groups(&plan)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"targets": ["127.0.0.1:15000"], "labels": {"service": "web", "instance": "web"}},
                {"targets": ["127.0.0.1:15001"],
                 "labels": {"service": "api", "version": "v1", "instance": "api.v1.r0"}},
            ])
        );
    }

    #[test]
    fn a_stopped_mesh_leaves_an_empty_list_at_the_same_path() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), None).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(text.trim(), "[]");
        assert_eq!(
            fsutil::mode_of(&path(dir.path())).unwrap(),
            fsutil::PUBLIC_FILE_MODE
        );
    }

    #[test]
    fn the_scrape_config_names_the_file_quoted() {
        let text = scrape_config(
            Path::new("/home/me/my mesh/.meshctl/run/prometheus-targets.json"),
            "meshctl",
            15,
        );
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let job = &yaml["scrape_configs"][0];
        assert_eq!(job["job_name"], "meshctl");
        assert_eq!(
            job["file_sd_configs"][0]["files"][0],
            "/home/me/my mesh/.meshctl/run/prometheus-targets.json"
        );
        assert!(text.starts_with("# Prometheus scrape job for the proxies of the local mesh in /home/me/my mesh/.meshctl.\n"), "{text}");
    }
}
