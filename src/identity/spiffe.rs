//! SPIFFE IDs (`spiffe://<trust-domain>/<path>`), parsed strictly as the SPIFFE ID spec demands.

use std::fmt;
use std::str::FromStr;

/// Longest trust domain the SPIFFE spec allows, in bytes.
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;
/// Longest SPIFFE ID the SPIFFE spec allows, in bytes.
pub const MAX_SPIFFE_ID_LEN: usize = 2048;
/// The default trust domain of a new mesh.
pub const DEFAULT_TRUST_DOMAIN: &str = "mesh.local";

/// Whether `name` is a DNS-1123 label (lowercase letters, digits and `-`, 1–63 characters,
/// not starting or ending with `-`): what Kubernetes requires of namespace and Service names,
/// and what meshctl requires of service names (they end SPIFFE IDs and become host names).
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The namespace part of every local-mode SPIFFE ID.
pub const LOCAL_NAMESPACE: &str = "local";

/// A workload identity: `spiffe://<trust-domain>/<path>` with a non-root path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    uri: String,
    domain_end: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SpiffeIdError {
    #[error("`{0}` is not a SPIFFE ID: it must start with `spiffe://`")]
    Scheme(String),
    #[error("`{0}` is not a valid SPIFFE ID: {1}")]
    Invalid(String, &'static str),
    #[error("`{0}` is not a valid trust domain: {1}")]
    TrustDomain(String, &'static str),
}

impl SpiffeId {
    /// The local-mode identity of a service: `spiffe://<td>/ns/<namespace>/sa/<service-account>`.
    pub fn for_workload(
        trust_domain: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Self, SpiffeIdError> {
        format!("spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}").parse()
    }

    pub fn as_str(&self) -> &str {
        &self.uri
    }

    pub fn trust_domain(&self) -> &str {
        &self.uri["spiffe://".len()..self.domain_end]
    }

    pub fn path(&self) -> &str {
        &self.uri[self.domain_end..]
    }

    /// The last path segment — the service account in `…/ns/<ns>/sa/<sa>` IDs.
    pub fn last_segment(&self) -> &str {
        self.path().rsplit('/').next().unwrap_or_default()
    }
}

/// Validates a trust domain name: lowercase letters, digits, `.`, `-`, `_`; at most 255 bytes.
pub fn validate_trust_domain(td: &str) -> Result<(), SpiffeIdError> {
    let err = |why| Err(SpiffeIdError::TrustDomain(td.to_string(), why));
    if td.is_empty() {
        return err("it is empty");
    }
    if td.len() > MAX_TRUST_DOMAIN_LEN {
        return err("it is longer than 255 bytes");
    }
    if td.contains(':') {
        return err("it must not contain a port");
    }
    if td.contains('@') {
        return err("it must not contain userinfo");
    }
    if !td
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b))
    {
        return err("only lowercase letters, digits, `.`, `-` and `_` are allowed");
    }
    Ok(())
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why| Err(SpiffeIdError::Invalid(s.to_string(), why));
        let rest = s
            .strip_prefix("spiffe://")
            .ok_or_else(|| SpiffeIdError::Scheme(s.to_string()))?;
        if s.len() > MAX_SPIFFE_ID_LEN {
            return invalid("it is longer than 2048 bytes");
        }
        if s.contains('?') {
            return invalid("it must not have a query");
        }
        if s.contains('#') {
            return invalid("it must not have a fragment");
        }
        let slash = rest.find('/').unwrap_or(rest.len());
        let td = &rest[..slash];
        if td.contains('@') {
            return invalid("it must not have userinfo");
        }
        if td.contains(':') {
            return invalid("it must not have a port");
        }
        if validate_trust_domain(td).is_err() {
            return invalid(
                "the trust domain must be 1-255 bytes of lowercase letters, digits, `.`, `-` or `_`",
            );
        }
        let path = &rest[slash..];
        if path.is_empty() || path == "/" {
            return invalid("a workload ID needs a path (e.g. /ns/<namespace>/sa/<name>)");
        }
        for segment in path[1..].split('/') {
            if segment.is_empty() {
                return invalid("the path has an empty segment (`//` or a trailing `/`)");
            }
            if segment == "." || segment == ".." {
                return invalid("the path must not contain `.` or `..` segments");
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return invalid("path segments may hold only letters, digits, `.`, `-` and `_`");
            }
        }
        Ok(SpiffeId {
            uri: s.to_string(),
            domain_end: "spiffe://".len() + slash,
        })
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_workload_ids() {
        let id: SpiffeId = "spiffe://mesh.local/ns/local/sa/api".parse().unwrap();
        assert_eq!(id.trust_domain(), "mesh.local");
        assert_eq!(id.path(), "/ns/local/sa/api");
        assert_eq!(id.last_segment(), "api");
        assert_eq!(
            SpiffeId::for_workload("mesh.local", "local", "api").unwrap(),
            id
        );
    }

    #[test]
    fn rejects_every_malformed_shape() {
        for bad in [
            "http://mesh.local/ns/a",
            "SPIFFE://mesh.local/ns/a",
            "spiffe://mesh.local",
            "spiffe://mesh.local/",
            "spiffe://Mesh.Local/ns/a",
            "spiffe://mesh.local:8080/ns/a",
            "spiffe://user@mesh.local/ns/a",
            "spiffe://mesh.local/ns/a?x=1",
            "spiffe://mesh.local/ns/a#frag",
            "spiffe://mesh.local/ns//a",
            "spiffe://mesh.local/ns/a/",
            "spiffe://mesh.local/ns/../a",
            "spiffe://mesh.local/ns/%41",
            "spiffe:///ns/a",
        ] {
            assert!(bad.parse::<SpiffeId>().is_err(), "{bad} must be rejected");
        }
        let long_td = format!("spiffe://{}/a", "a".repeat(256));
        assert!(long_td.parse::<SpiffeId>().is_err());
        let long_path = format!("spiffe://td/{}", "a".repeat(2048));
        assert!(long_path.parse::<SpiffeId>().is_err());
    }
}
