//! The checks of a service's `policy.authorization` that need the whole file: callers named
//! with `{service: NAME}` are declared services, and SPIFFE ID patterns name this mesh's
//! trust domain (any other could never match). Everything else is checked while parsing
//! (`src/policy/authz.rs`).

use super::yaml_pos::YamlPath;
use super::{Issue, ServicePolicy};
use crate::policy::authz::{PeerSpec, foreign_pattern_message, pattern_trust_domain};

/// `path`: the service's path (`services.<name>`); `services`: the declared services, or
/// `None` where callers are not declared up front (a Kubernetes namespace's service accounts).
pub(super) fn check(
    path: &YamlPath,
    policy: &ServicePolicy,
    trust_domain: &str,
    services: Option<&[&str]>,
) -> Result<(), Issue> {
    if let Some(spec) = &policy.authorization {
        let allow = path.key("policy").key("authorization").key("allow");
        for (r, rule) in spec.allow.iter().enumerate() {
            for (i, peer) in rule.from.iter().enumerate() {
                let at = allow.index(r).key("from").index(i);
                check_peer(at, peer, trust_domain, services)?;
            }
        }
    }
    // `policy.rate_limit.callers[].from` names callers the same way.
    if let Some(limit) = &policy.rate_limit {
        let callers = path.key("policy").key("rate_limit").key("callers");
        for (i, c) in limit.callers.iter().enumerate() {
            check_peer(
                callers.index(i).key("from"),
                &c.from,
                trust_domain,
                services,
            )?;
        }
    }
    Ok(())
}

/// A caller named in a policy: a declared service, or a pattern of this trust domain.
fn check_peer(
    at: YamlPath,
    peer: &PeerSpec,
    trust_domain: &str,
    services: Option<&[&str]>,
) -> Result<(), Issue> {
    match peer {
        PeerSpec::Service(name) if services.is_some_and(|s| !s.contains(&name.as_str())) => {
            Err(Issue::value(
                at.key("service"),
                format!(
                    "unknown service `{name}` (declared: {})",
                    services.unwrap_or_default().join(", ")
                ),
            ))
        }
        PeerSpec::Pattern(p) if pattern_trust_domain(p) != trust_domain => {
            Err(Issue::value(at, foreign_pattern_message(p, trust_domain)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::MeshFile;
    use crate::policy::authz::PathSpec;

    fn err(policy: &str) -> String {
        let text = format!(
            "services:\n  web:\n    port: 18080\n  api:\n    port: 18081\n    policy:\n      authorization:\n{policy}"
        );
        MeshFile::parse(&text, Path::new("mesh.yaml"))
            .expect_err("should be rejected")
            .to_string()
    }

    #[test]
    fn a_valid_policy_is_kept_on_the_service() {
        let text = "services:\n  web:\n    port: 18080\n  api:\n    port: 18081\n    policy:\n      authorization:\n        allow:\n          - from: [{ service: web }]\n            paths: [{ prefix: /api/ }]\n        exempt: [{ path: /healthz }]\n";
        let mesh = MeshFile::parse(text, Path::new("mesh.yaml")).unwrap();
        let api = mesh.services().find(|s| s.name == "api").unwrap();
        let spec = api.policy.authorization.as_ref().unwrap();
        assert_eq!(spec.allow[0].paths, [PathSpec::Prefix("/api/".into())]);
        assert_eq!(spec.exempt[0].methods.len(), 2);
    }

    /// The example under `### Authorization` in docs/mesh-yaml.md is valid as written.
    #[test]
    fn the_documented_example_parses() {
        let docs = include_str!("../../../docs/mesh-yaml.md");
        let section = &docs[docs.find("### Authorization").unwrap()..];
        let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
        let block = &section[start..start + section[start..].find("```").unwrap()];
        let text = format!("services:\n  web:\n    port: 18080\n{block}");
        let mesh = MeshFile::parse(&text, Path::new("mesh.yaml")).unwrap();
        let api = mesh.services().find(|s| s.name == "api").unwrap();
        assert_eq!(api.policy.authorization.as_ref().unwrap().allow.len(), 2);
    }

    #[test]
    fn bad_policies_name_file_line_column_and_field() {
        let cases = [
            (
                "        allow: [{ from: [\"spiffe://mesh.local/ns/local/sa/web-*\"] }]\n",
                "mesh.yaml:8:26: services.api.policy.authorization.allow[0].from[0]: invalid SPIFFE ID pattern",
            ),
            (
                "        allow: [{ from: [{ service: nope }] }]\n",
                "mesh.yaml:8:37: services.api.policy.authorization.allow[0].from[0].service: unknown service `nope` (declared: web, api)",
            ),
            (
                "        allow: [{ from: [\"spiffe://other.td/ns/local/sa/web\"] }]\n",
                "mesh.yaml:8:26: services.api.policy.authorization.allow[0].from[0]: `spiffe://other.td/ns/local/sa/web` is in trust domain `other.td`",
            ),
            (
                "        allow: [{ paths: [\"/a/../b\"] }]\n",
                "mesh.yaml:8:27: services.api.policy.authorization.allow[0].paths[0]: path `/a/../b` is not in normalised form: write `/b`",
            ),
            (
                "        allow: [{ methods: [get] }]\n",
                "mesh.yaml:8:29: services.api.policy.authorization.allow[0].methods[0]: invalid method `get`",
            ),
            (
                "        allow: [{ from: [{ service: web }], ports: [1] }]\n",
                "mesh.yaml:8:45: services.api.policy.authorization.allow[0]: unknown field `ports`",
            ),
            (
                "        exempt: [{ path: /healthz, methods: [] }]\n",
                "mesh.yaml:8:45: services.api.policy.authorization.exempt[0].methods: empty list",
            ),
        ];
        for (policy, want) in cases {
            let got = err(policy);
            assert!(got.starts_with(want), "\n got: {got}\nwant: {want}…");
        }
    }
}
