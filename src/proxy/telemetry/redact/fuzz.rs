//! Fuzz target (docs/fuzzing.md): body redaction for the tap. The property: a credential
//! field's value never reaches the output, whole or cut anywhere (a capture may end
//! mid-body), in JSON and in form bodies.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::fuzzing::config;

/// Secrets are written with letters nothing else in a generated body uses (`QXZJ`, upper
/// case), so any two of them side by side in the output are a leak.
fn secret() -> impl Strategy<Value = String> {
    (
        "[QXZJ]{2,6}",
        prop_oneof![
            Just(""),
            Just("\""),
            Just("\\"),
            Just("}"),
            Just("],"),
            Just(" : "),
            Just("\n")
        ],
        "[QXZJ]{2,6}",
    )
        .prop_map(|(a, mid, b)| format!("{a}{mid}{b}"))
}

/// A credential field name as apps spell it.
fn credential_name() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = BODY_FIELDS
        .iter()
        .copied()
        .chain(["x-api-key", "authorization"])
        .collect();
    (prop::sample::select(names), any::<bool>(), any::<bool>()).prop_map(|(name, upper, dash)| {
        let name = if upper {
            name.to_ascii_uppercase()
        } else {
            name.to_string()
        };
        if dash { name.replace('_', "-") } else { name }
    })
}

fn leaked(output: &[u8]) -> bool {
    output
        .windows(2)
        .any(|w| w.iter().all(|b| b"QXZJ".contains(b)))
}

/// A JSON value holding credential fields somewhere, each with a secret value: a string, a
/// number-like scalar, or a whole object or array of secrets.
fn json_with_secrets() -> impl Strategy<Value = Value> {
    let secret_value = prop_oneof![
        3 => secret().prop_map(Value::String),
        1 => prop::collection::vec(secret(), 1..3).prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
        1 => secret().prop_map(|s| {
            let mut m = Map::new();
            m.insert("value".into(), Value::String(s));
            Value::Object(m)
        }),
    ];
    let leaf = prop_oneof![
        "[a-z ]{0,8}".prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let plain = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    // Credentials at the top level and nested inside plain structure.
    (
        prop::collection::vec((credential_name(), secret_value), 1..3),
        plain,
        any::<bool>(),
    )
        .prop_map(|(credentials, plain, nest)| {
            let mut object = Map::new();
            object.insert("data".into(), plain);
            for (name, value) in credentials {
                object.insert(name, value);
            }
            let object = Value::Object(object);
            if nest {
                let mut outer = Map::new();
                outer.insert("items".into(), Value::Array(vec![object]));
                Value::Object(outer)
            } else {
                object
            }
        })
}

fn redaction() -> BodyRedaction {
    BodyRedaction::new(["authorization", "x-api-key"])
}

proptest! {
    #![proptest_config(config(512))]

    /// JSON, compact or pretty, typed or sniffed, whole or cut at any byte.
    #[test]
    fn redact_json_never_leaks(
        value in json_with_secrets(),
        pretty: bool,
        content_type in prop::sample::select(vec![Some("application/json"), Some("application/vnd.x+json; charset=utf-8"), Some("text/plain"), None]),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) }.unwrap();
        let out = redaction().apply(content_type, &body);
        prop_assert!(!leaked(&out), "{}", String::from_utf8_lossy(&out));
        // Redaction keeps the JSON valid.
        prop_assert!(serde_json::from_slice::<Value>(&out).is_ok(), "{}", String::from_utf8_lossy(&out));
        let cut = cut.index(body.len() + 1);
        let out = redaction().apply(content_type, &body[..cut]);
        prop_assert!(!leaked(&out), "cut at {}: {}", cut, String::from_utf8_lossy(&out));
    }

    /// Form bodies, with the key spelled as an app decodes it (`%XX`, `+`), whole or cut.
    #[test]
    fn redact_form_never_leaks(
        pairs in prop::collection::vec(
            prop_oneof![
                (credential_name(), secret(), any::<bool>()).prop_map(|(k, v, encode)| {
                    let key = if encode {
                        k.bytes().map(|b| format!("%{b:02x}")).collect()
                    } else {
                        k
                    };
                    let value: String = v.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }).collect();
                    format!("{key}={value}")
                }),
                ("[a-z]{1,6}", "[a-z0-9+%]{0,6}").prop_map(|(k, v)| format!("{k}={v}")),
                "[a-z]{0,4}".prop_map(String::from),
            ],
            1..6,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = pairs.join("&");
        let ct = Some("application/x-www-form-urlencoded");
        let out = redaction().apply(ct, body.as_bytes());
        prop_assert!(!leaked(&out), "{}", String::from_utf8_lossy(&out));
        let cut = cut.index(body.len() + 1);
        let out = redaction().apply(ct, &body.as_bytes()[..cut]);
        prop_assert!(!leaked(&out), "cut at {}: {}", cut, String::from_utf8_lossy(&out));
    }

    /// Any bytes, any type: never a panic.
    #[test]
    fn redact_any_bytes(
        body in prop::collection::vec(prop_oneof![any::<u8>(), prop::sample::select(b"{}[]\":,\\ ".to_vec())], 0..120),
        content_type in prop::sample::select(vec![Some("application/json"), Some("application/x-www-form-urlencoded"), None]),
    ) {
        let _ = redaction().apply(content_type, &body);
    }
}
