//! Fuzz target (docs/fuzzing.md): authorization from the wire policy to the verdict,
//! against a reference model of the documented rules.

use http::{HeaderMap, HeaderValue, Request};
use proptest::prelude::*;

use super::*;
use crate::fuzzing::config;
use crate::policy::normalize::normalize_path;

const PEERS: [&str; 5] = [
    "spiffe://mesh.local/ns/local/sa/web",
    "spiffe://mesh.local/ns/local/sa/batch",
    "spiffe://mesh.local/ns/ops/sa/admin",
    "spiffe://evil.example/ns/local/sa/web",
    "spiffe://mesh.local/ns/local/sa/web/x",
];
const PATTERNS: [&str; 5] = [
    "spiffe://mesh.local/ns/local/sa/web",
    "spiffe://mesh.local/ns/local/sa/*",
    "spiffe://mesh.local/ns/*/sa/admin",
    "spiffe://mesh.local/*/*/*/*",
    "spiffe://evil.example/ns/local/sa/web",
];
const BAD_PATTERNS: [&str; 3] = ["spiffe://mesh.local/ns/local/sa/w*", "web", ""];
const RULE_PATHS: [&str; 6] = ["/", "/public", "/public/", "/admin", "/a/b", "/a/"];
const BAD_RULE_PATHS: [&str; 3] = ["/a/../b", "rel", "/%2e%2e"];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const BAD_METHODS: [&str; 2] = ["get", "BAD METHOD"];
const HEADER_NAMES: [&str; 2] = ["x-canary", "x-user"];
const BAD_HEADER_NAMES: [&str; 1] = ["Bad Name"];
const HEADER_VALUES: [&str; 3] = ["1", "2", "a b"];

fn pick<T: Clone + std::fmt::Debug + 'static>(pool: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(pool)
}

/// Mostly from `valid`, now and then from `invalid` (a policy with one bad entry is refused
/// whole, so invalid entries must be rare for the rules to be exercised).
fn mostly<T: Clone + std::fmt::Debug + 'static>(
    valid: &'static [T],
    invalid: &'static [T],
) -> impl Strategy<Value = T> {
    prop_oneof![30 => pick(valid), 1 => pick(invalid)]
}

fn path_rule() -> impl Strategy<Value = pb::AuthzPath> {
    (mostly(&RULE_PATHS, &BAD_RULE_PATHS), any::<bool>()).prop_map(|(p, exact)| pb::AuthzPath {
        r#match: Some(if exact {
            pb::authz_path::Match::Exact(p.to_string())
        } else {
            pb::authz_path::Match::Prefix(p.to_string())
        }),
    })
}

fn policy() -> impl Strategy<Value = pb::AuthzPolicy> {
    let header = (
        mostly(&HEADER_NAMES, &BAD_HEADER_NAMES),
        prop::collection::vec(pick(&HEADER_VALUES), 0..3),
    )
        .prop_map(|(name, values)| pb::AuthzHeader {
            name: name.to_string(),
            values: values.into_iter().map(String::from).collect(),
        });
    let rule = (
        prop::collection::vec(mostly(&PATTERNS, &BAD_PATTERNS), 0..3),
        prop::collection::vec(path_rule(), 0..3),
        prop::collection::vec(mostly(&METHODS, &BAD_METHODS), 0..2),
        prop::collection::vec(header, 0..2),
    )
        .prop_map(|(from, paths, methods, headers)| pb::AuthzRule {
            from: from.into_iter().map(String::from).collect(),
            paths,
            methods: methods.into_iter().map(String::from).collect(),
            headers,
        });
    let exempt = (
        prop::option::of(path_rule()),
        prop::collection::vec(mostly(&METHODS, &BAD_METHODS), 0..2),
    )
        .prop_map(|(path, methods)| pb::AuthzExempt {
            path,
            methods: methods.into_iter().map(String::from).collect(),
        });
    (
        prop::collection::vec(rule, 0..4),
        prop::collection::vec(exempt, 0..2),
    )
        .prop_map(|(allow, exempt)| pb::AuthzPolicy { allow, exempt })
}

fn request_path() -> impl Strategy<Value = String> {
    let piece = pick(&[
        "/", "public", "admin", "a", "b", "..", ".", "%2e", "%2F", ";", "%70ublic", "%41",
    ]);
    prop::collection::vec(piece, 0..7).prop_map(|p| format!("/{}", p.concat()))
}

/// The documented rules, written out independently of the code under test.
mod model {
    use super::*;

    pub fn id_matches(pattern: &str, id: &str) -> bool {
        let (Some(p), Some(i)) = (
            pattern.strip_prefix("spiffe://"),
            id.strip_prefix("spiffe://"),
        ) else {
            return false;
        };
        let (p, i): (Vec<&str>, Vec<&str>) = (p.split('/').collect(), i.split('/').collect());
        p.len() == i.len()
            && p[0] == i[0]
            && p.iter()
                .zip(&i)
                .skip(1)
                .all(|(p, i)| !i.is_empty() && (*p == "*" || p == i))
    }

    pub fn path_matches(rule: &pb::AuthzPath, path: &str) -> bool {
        match &rule.r#match {
            Some(pb::authz_path::Match::Exact(p)) => path == p,
            Some(pb::authz_path::Match::Prefix(p)) => {
                path == p
                    || (path.starts_with(p.as_str())
                        && (p.ends_with('/') || path[p.len()..].starts_with('/')))
            }
            None => false,
        }
    }

    pub fn rule_allows(
        r: &pb::AuthzRule,
        peer: &str,
        method: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> bool {
        (r.from.is_empty() || r.from.iter().any(|p| id_matches(p, peer)))
            && (r.paths.is_empty() || r.paths.iter().any(|p| path_matches(p, path)))
            && (r.methods.is_empty() || r.methods.iter().any(|m| m == method))
            && r.headers.iter().all(|h| {
                let got: Vec<&HeaderValue> = headers.get_all(h.name.as_str()).iter().collect();
                !got.is_empty()
                    && got
                        .iter()
                        .all(|v| h.values.iter().any(|w| v.as_bytes() == w.as_bytes()))
            })
    }

    pub fn allows(
        p: &pb::AuthzPolicy,
        peer: &str,
        method: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> bool {
        let exempt = p.exempt.iter().any(|e| {
            e.path.as_ref().is_some_and(|r| path_matches(r, path))
                && e.methods.iter().any(|m| m == method)
        });
        exempt
            || p.allow
                .iter()
                .any(|r| rule_allows(r, peer, method, path, headers))
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Any wire policy compiles or is refused without a panic; a compiled one decides every
    /// request exactly as the documented rules say, on the normalised path, and the request
    /// it lets through carries that path.
    #[test]
    fn authz_matches_the_documented_rules(
        wire in policy(),
        peer in pick(&PEERS),
        method in pick(&METHODS),
        path in request_path(),
        query in prop::option::of("[a-z=&]{0,6}"),
        fields in prop::collection::vec((pick(&["x-canary", "x-user", "x-other"]), pick(&HEADER_VALUES)), 0..3),
    ) {
        let Ok(authz) = InboundAuthz::from_proto(Some(&wire)) else {
            // Refused: something in it is invalid (rare by construction).
            let bad = |s: &str| BAD_PATTERNS.contains(&s) || BAD_RULE_PATHS.contains(&s) || BAD_METHODS.contains(&s) || BAD_HEADER_NAMES.contains(&s);
            let path_bad = |p: &pb::AuthzPath| match &p.r#match {
                Some(pb::authz_path::Match::Exact(s) | pb::authz_path::Match::Prefix(s)) => bad(s),
                None => true,
            };
            let refusable = wire.allow.iter().any(|r| {
                r.from.iter().any(|f| bad(f))
                    || r.paths.iter().any(path_bad)
                    || r.methods.iter().any(|m| bad(m))
                    || r.headers.iter().any(|h| bad(&h.name) || h.values.is_empty())
                    || r.headers.iter().enumerate().any(|(i, h)| r.headers[..i].iter().any(|o| o.name == h.name))
            }) || wire.exempt.iter().any(|e| e.path.as_ref().is_none_or(path_bad) || e.methods.is_empty() || e.methods.iter().any(|m| bad(m)));
            prop_assert!(refusable, "a valid policy was refused: {:?}", wire);
            return Ok(());
        };
        let target = match &query {
            Some(q) => format!("http://api{path}?{q}"),
            None => format!("http://api{path}"),
        };
        let mut req = Request::builder().method(method).uri(&target).body(()).unwrap();
        for (name, value) in &fields {
            req.headers_mut().append(*name, HeaderValue::from_static(value));
        }
        let verdict = authz.check_request(&mut req, peer);
        let normal = normalize_path(&path);
        match &normal {
            Err(_) => prop_assert_eq!(verdict, Verdict::Deny(DenyReason::BadPath)),
            Ok(normal) => {
                let want = model::allows(&wire, peer, method, normal, req.headers());
                prop_assert_eq!(verdict == Verdict::Allow, want, "{:?} for {} {} as {}", verdict, method, path, normal);
                // The app gets exactly the path that was checked, and the query as sent.
                prop_assert_eq!(req.uri().path(), normal.as_str());
                prop_assert_eq!(req.uri().query(), query.as_deref());
            }
        }
        // Opaque TCP: only a rule with no HTTP condition lets a peer through.
        let tcp = authz.check_tcp(peer) == Verdict::Allow;
        let want = wire.allow.iter().any(|r| {
            (r.from.is_empty() || r.from.iter().any(|p| model::id_matches(p, peer)))
                && r.paths.is_empty() && r.methods.is_empty() && r.headers.is_empty()
        });
        prop_assert_eq!(tcp, want);
    }
}
