//! The `authorization:` schema, shared by mesh.yaml (`policy.authorization`) and the proxy's
//! `--config` file (per inbound listener), and its translation to the wire form.
//!
//! Every leaf is checked while it is deserialised, so a bad pattern, path, method or header
//! fails with serde_yaml's `line:column` (and field path); `from: [{service: NAME}]` is
//! resolved against the mesh's trust domain in [`AuthorizationSpec::to_proto`].

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use http::{HeaderName, HeaderValue, Method};

use super::normalize::{BadPath, normalize_path};
use crate::api::proto::control as pb;
use crate::identity::spiffe::{LOCAL_NAMESPACE, validate_trust_domain};

/// Methods of an `exempt` entry that gives none.
pub const DEFAULT_EXEMPT_METHODS: [&str; 2] = ["GET", "HEAD"];

/// `authorization:` — allow rules and exempt probe paths.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationSpec {
    /// Omitted: nothing is allowed but `exempt`; an explicitly empty list is an error, as for
    /// every list in the schema (`authorization: {}` is the way to deny everything).
    #[serde(default, deserialize_with = "non_empty")]
    pub allow: Vec<AllowSpec>,
    #[serde(default)]
    pub exempt: Vec<ExemptSpec>,
}

/// One allow rule; an absent condition means "any".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub from: Vec<PeerSpec>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub paths: Vec<PathSpec>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_empty"
    )]
    pub methods: Vec<MethodSpec>,
    #[serde(default, skip_serializing_if = "HeadersSpec::is_empty")]
    pub headers: HeadersSpec,
}

/// `{ path: …, methods: [GET] }`: reachable by any caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemptSpec {
    pub path: PathSpec,
    #[serde(default = "default_exempt_methods", deserialize_with = "non_empty")]
    pub methods: Vec<MethodSpec>,
}

/// A caller: a SPIFFE ID pattern, or `{ service: NAME }` (that service's local identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSpec {
    Pattern(String),
    Service(String),
}

/// A path condition: `/x` or `{ exact: /x }`, or `{ prefix: /x/ }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSpec {
    Exact(String),
    Prefix(String),
}

/// A checked, upper-case method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSpec(pub String);

/// Header conditions in file order: lower-case name → allowed values (`x-role: admin` or
/// `x-role: [admin, ops]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeadersSpec(pub Vec<(String, Vec<String>)>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceRef {
    service: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathForm {
    exact: Option<String>,
    prefix: Option<String>,
}

impl AuthorizationSpec {
    /// The wire form; `{service: NAME}` becomes `spiffe://<trust_domain>/ns/local/sa/NAME`.
    pub fn to_proto(&self, trust_domain: &str) -> pb::AuthzPolicy {
        self.to_proto_in(trust_domain, LOCAL_NAMESPACE)
    }

    /// The wire form for a service in `namespace`: `{service: NAME}` is the service account
    /// NAME of that namespace (on Kubernetes), `spiffe://<trust_domain>/ns/<namespace>/sa/NAME`.
    pub fn to_proto_in(&self, trust_domain: &str, namespace: &str) -> pb::AuthzPolicy {
        pb::AuthzPolicy {
            allow: self
                .allow
                .iter()
                .map(|rule| pb::AuthzRule {
                    from: rule
                        .from
                        .iter()
                        .map(|p| p.pattern_in(trust_domain, namespace))
                        .collect(),
                    paths: rule.paths.iter().map(PathSpec::to_proto).collect(),
                    methods: rule.methods.iter().map(|m| m.0.clone()).collect(),
                    headers: rule
                        .headers
                        .0
                        .iter()
                        .map(|(name, values)| pb::AuthzHeader {
                            name: name.clone(),
                            values: values.clone(),
                        })
                        .collect(),
                })
                .collect(),
            exempt: self
                .exempt
                .iter()
                .map(|e| pb::AuthzExempt {
                    path: Some(e.path.to_proto()),
                    methods: e.methods.iter().map(|m| m.0.clone()).collect(),
                })
                .collect(),
        }
    }
}

impl AuthorizationSpec {
    /// The first `from` pattern outside `trust_domain` (where, and why it is refused): a peer
    /// of another trust domain is never accepted, so such a rule could never match.
    pub fn foreign_pattern(&self, trust_domain: &str) -> Option<(String, String)> {
        for (r, rule) in self.allow.iter().enumerate() {
            for (i, peer) in rule.from.iter().enumerate() {
                if let PeerSpec::Pattern(p) = peer {
                    let td = pattern_trust_domain(p);
                    if td != trust_domain {
                        return Some((
                            format!("allow[{r}].from[{i}]"),
                            foreign_pattern_message(p, trust_domain),
                        ));
                    }
                }
            }
        }
        None
    }
}

/// The trust domain a SPIFFE ID pattern names (`spiffe://<td>/…`).
pub fn pattern_trust_domain(pattern: &str) -> &str {
    pattern
        .strip_prefix("spiffe://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

/// Why a pattern in another trust domain is refused (mesh.yaml and `proxy --config` alike).
pub fn foreign_pattern_message(pattern: &str, trust_domain: &str) -> String {
    format!(
        "`{pattern}` is in trust domain `{}`, not this mesh's `{trust_domain}`: it could never match",
        pattern_trust_domain(pattern)
    )
}

impl PeerSpec {
    pub fn pattern(&self, trust_domain: &str) -> String {
        self.pattern_in(trust_domain, LOCAL_NAMESPACE)
    }

    /// The pattern for a policy of `namespace` (`{service: NAME}` = its service account NAME).
    pub fn pattern_in(&self, trust_domain: &str, namespace: &str) -> String {
        match self {
            PeerSpec::Pattern(p) => p.clone(),
            PeerSpec::Service(s) => format!("spiffe://{trust_domain}/ns/{namespace}/sa/{s}"),
        }
    }
}

impl PathSpec {
    fn to_proto(&self) -> pb::AuthzPath {
        pb::AuthzPath {
            r#match: Some(match self {
                PathSpec::Exact(p) => pb::authz_path::Match::Exact(p.clone()),
                PathSpec::Prefix(p) => pb::authz_path::Match::Prefix(p.clone()),
            }),
        }
    }
}

impl HeadersSpec {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn default_exempt_methods() -> Vec<MethodSpec> {
    DEFAULT_EXEMPT_METHODS
        .iter()
        .map(|m| MethodSpec(m.to_string()))
        .collect()
}

/// An explicitly empty list is a mistake (omitting the field says what is meant). Checked
/// inside the visitor, so the error carries the list's position.
fn non_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ListVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut list = Vec::new();
            while let Some(item) = seq.next_element()? {
                list.push(item);
            }
            if list.is_empty() {
                return Err(de::Error::custom(
                    "empty list: list at least one entry, or omit the field",
                ));
            }
            Ok(list)
        }
    }
    d.deserialize_seq(ListVisitor(std::marker::PhantomData))
}

/// A service name usable as the last segment of a local SPIFFE ID.
fn check_service_name(name: &str) -> Result<(), String> {
    if crate::identity::spiffe::is_dns_label(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid service name `{name}`: lowercase letters, digits and `-`"
        ))
    }
}

impl<'de> Deserialize<'de> for PeerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PeerVisitor;
        impl<'de> Visitor<'de> for PeerVisitor {
            type Value = PeerSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a SPIFFE ID pattern, or `{ service: NAME }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PeerSpec, E> {
                v.parse::<IdPattern>().map_err(E::custom)?;
                Ok(PeerSpec::Pattern(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PeerSpec, A::Error> {
                let r = ServiceRef::deserialize(de::value::MapAccessDeserializer::new(map))?;
                check_service_name(&r.service).map_err(de::Error::custom)?;
                Ok(PeerSpec::Service(r.service))
            }
        }
        d.deserialize_any(PeerVisitor)
    }
}

impl Serialize for PeerSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PeerSpec::Pattern(p) => s.serialize_str(p),
            PeerSpec::Service(name) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("service", name)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for PathSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PathVisitor;
        impl<'de> Visitor<'de> for PathVisitor {
            type Value = PathSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path, `{ exact: PATH }` or `{ prefix: PATH }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PathSpec, E> {
                check_rule_path(v).map_err(E::custom)?;
                Ok(PathSpec::Exact(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PathSpec, A::Error> {
                let form = PathForm::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let spec = match (form.exact, form.prefix) {
                    (Some(p), None) => PathSpec::Exact(p),
                    (None, Some(p)) => PathSpec::Prefix(p),
                    _ => {
                        return Err(de::Error::custom(
                            "give exactly one of `exact` and `prefix`",
                        ));
                    }
                };
                let (PathSpec::Exact(p) | PathSpec::Prefix(p)) = &spec;
                check_rule_path(p).map_err(de::Error::custom)?;
                Ok(spec)
            }
        }
        d.deserialize_any(PathVisitor)
    }
}

impl Serialize for PathSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (key, p) = match self {
            PathSpec::Exact(p) => ("exact", p),
            PathSpec::Prefix(p) => ("prefix", p),
        };
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(key, p)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for MethodSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MethodVisitor;
        impl Visitor<'_> for MethodVisitor {
            type Value = MethodSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP method in upper case")
            }
            // Checked inside the visitor, so the error carries this node's position.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MethodSpec, E> {
                check_method(v).map_err(E::custom)?;
                Ok(MethodSpec(v.to_string()))
            }
        }
        d.deserialize_str(MethodVisitor)
    }
}

impl Serialize for MethodSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// One value or a non-empty list of values.
struct HeaderValues(Vec<String>);

impl<'de> Deserialize<'de> for HeaderValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValuesVisitor;
        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = HeaderValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header value or a list of values")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderValues, E> {
                header_value(v).map_err(E::custom)?;
                Ok(HeaderValues(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HeaderValues, E> {
                Ok(HeaderValues(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HeaderValues, E> {
                Ok(HeaderValues(vec![v.to_string()]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<HeaderValues, E> {
                Ok(HeaderValues(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderValues, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    header_value(&v).map_err(de::Error::custom)?;
                    values.push(v);
                }
                if values.is_empty() {
                    return Err(de::Error::custom(
                        "empty list: give at least one allowed value",
                    ));
                }
                Ok(HeaderValues(values))
            }
        }
        d.deserialize_any(ValuesVisitor)
    }
}

impl<'de> Deserialize<'de> for HeadersSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = HeadersSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header name to value(s)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeadersSpec, A::Error> {
                let mut out: Vec<(String, Vec<String>)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let lower = header_name(&name)
                        .map_err(de::Error::custom)?
                        .as_str()
                        .to_string();
                    if out.iter().any(|(n, _)| *n == lower) {
                        return Err(de::Error::custom(format!(
                            "header `{lower}` is given twice (names are case-insensitive)"
                        )));
                    }
                    let values: HeaderValues = map.next_value()?;
                    out.push((lower, values.0));
                }
                Ok(HeadersSpec(out))
            }
        }
        d.deserialize_map(HeadersVisitor)
    }
}

impl Serialize for HeadersSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, values) in &self.0 {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

/// A client SPIFFE ID pattern: `spiffe://<trust-domain>/<segments>`, where a segment is a
/// literal or `*` (exactly one whole segment, any value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPattern {
    trust_domain: String,
    /// `None`: `*`.
    segments: Vec<Option<String>>,
}

impl std::str::FromStr for IdPattern {
    type Err = String;

    /// `spiffe://<trust-domain>/<seg>/…`: every segment a SPIFFE path segment (letters,
    /// digits, `.`, `-`, `_`; not `.` or `..`) or `*` alone. No other wildcard exists.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| Err(format!("invalid SPIFFE ID pattern `{s}`: {why}"));
        let Some(rest) = s.strip_prefix("spiffe://") else {
            return bad("it must start with `spiffe://`");
        };
        let (td, path) = rest.split_once('/').unwrap_or((rest, ""));
        if td.contains('*') {
            return bad("the trust domain cannot hold `*`");
        }
        if let Err(e) = validate_trust_domain(td) {
            return bad(&e.to_string());
        }
        if path.is_empty() {
            return bad("it needs a path, e.g. /ns/local/sa/web (or /ns/local/sa/*)");
        }
        let mut segments = Vec::new();
        for segment in path.split('/') {
            match segment {
                "*" => segments.push(None),
                "" => return bad("the path has an empty segment (`//` or a trailing `/`)"),
                "." | ".." => return bad("the path must not contain `.` or `..` segments"),
                seg if seg.contains('*') => {
                    return bad("`*` must be a whole segment (`/sa/*`, not `/sa/web-*`)");
                }
                seg if !seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
                {
                    return bad(
                        "path segments may hold only letters, digits, `.`, `-`, `_`, or be `*`",
                    );
                }
                seg => segments.push(Some(seg.to_string())),
            }
        }
        Ok(IdPattern {
            trust_domain: td.to_string(),
            segments,
        })
    }
}

impl IdPattern {
    /// Whether the verified SPIFFE ID `id` matches: same trust domain, same number of
    /// segments, each equal or `*`.
    pub fn matches(&self, id: &str) -> bool {
        let Some(rest) = id.strip_prefix("spiffe://") else {
            return false;
        };
        let Some((td, path)) = rest.split_once('/') else {
            return false;
        };
        if td != self.trust_domain {
            return false;
        }
        let mut segments = path.split('/');
        let all = self.segments.iter().all(|want| match segments.next() {
            // `*` is one whole segment: never an empty one.
            Some(got) => !got.is_empty() && want.as_deref().is_none_or(|w| w == got),
            None => false,
        });
        all && segments.next().is_none()
    }
}

/// As written in a policy: `spiffe://<trust-domain>/<seg>/…` with `*` segments.
impl std::fmt::Display for IdPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "spiffe://{}", self.trust_domain)?;
        for segment in &self.segments {
            write!(f, "/{}", segment.as_deref().unwrap_or("*"))?;
        }
        Ok(())
    }
}

/// Checks a rule's path: absolute and already normalised (a rule in any other form could
/// never match, since requests are matched normalised).
pub fn check_rule_path(p: &str) -> Result<(), String> {
    match normalize_path(p) {
        Ok(n) if n == p => Ok(()),
        Ok(n) => Err(format!(
            "path `{p}` is not in normalised form: write `{n}` (requests are matched normalised)"
        )),
        Err(BadPath::NotAbsolute) => Err(format!("path `{p}` must start with `/`")),
        Err(e) => Err(format!("path `{p}`: {e}")),
    }
}

/// An upper-case HTTP method token (`GET`, `POST`, `PURGE`).
pub fn check_method(m: &str) -> Result<Method, String> {
    let valid = !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "invalid method `{m}`: give it in upper case, e.g. `GET`"
        ));
    }
    Method::from_bytes(m.as_bytes()).map_err(|_| format!("invalid method `{m}`"))
}

pub fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name `{name}`"))
}

pub fn header_value(value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value)
        .map_err(|_| format!("invalid header value `{value}`: visible ASCII, spaces and tabs only"))
}
