//! Tests of credential redaction in tapped headers and bodies.

use super::*;

fn redaction() -> BodyRedaction {
    BodyRedaction::new(["authorization", "x-internal-token"])
}

fn json(body: &str) -> String {
    let r = redaction();
    String::from_utf8(
        r.apply(Some("application/json"), body.as_bytes())
            .into_owned(),
    )
    .unwrap()
}

#[test]
fn json_credentials_lose_their_values_whatever_their_type() {
    assert_eq!(
        json(r#"{"user":"ann","password":"hunter2","n":1}"#),
        r#"{"user":"ann","password":"<redacted>","n":1}"#
    );
    assert_eq!(
        json(r#"{"Access-Token": 12345, "x_internal_token": {"a": ["}", 1]}, "ok": true}"#),
        r#"{"Access-Token": "<redacted>", "x_internal_token": "<redacted>", "ok": true}"#
    );
    assert_eq!(
        json(r#"[{"nested":{"authorization":"Bearer abc"}},"token"]"#),
        r#"[{"nested":{"authorization":"<redacted>"}},"token"]"#
    );
    // An escaped key is still recognised; a value that merely says "password" is kept.
    assert_eq!(
        json(r#"{"pass\u0077ord":"x","note":"password"}"#),
        r#"{"pass\u0077ord":"<redacted>","note":"password"}"#
    );
}

#[test]
fn a_cut_json_body_never_shows_the_start_of_a_secret() {
    assert_eq!(
        json(r#"{"a":1,"secret":"abcd"#),
        r#"{"a":1,"secret":"<redacted>""#
    );
    assert_eq!(json(r#"{"secret": {"k": "v"#), r#"{"secret": "<redacted>""#);
    assert_eq!(json(r#"{"a":"unterminated"#), r#"{"a":"unterminated"#);
}

#[test]
fn form_fields_are_matched_decoded() {
    let r = redaction();
    let form = |b: &str| {
        String::from_utf8(
            r.apply(
                Some("application/x-www-form-urlencoded; charset=utf-8"),
                b.as_bytes(),
            )
            .into_owned(),
        )
        .unwrap()
    };
    assert_eq!(
        form("user=ann&pass%77ord=hunter2&Token=t&x"),
        "user=ann&pass%77ord=<redacted>&Token=<redacted>&x"
    );
    assert_eq!(form("a=1&b=2"), "a=1&b=2");
}

#[test]
fn a_body_typed_json_that_is_not_json_is_redacted_whole() {
    let r = redaction();
    for body in [
        "password=hunter2",
        "{\"password\" hunter2}",
        "{\"a\": 1} password: hunter2",
        "<xml>hunter2</xml>",
    ] {
        let out = r.apply(Some("application/json"), body.as_bytes());
        assert_eq!(out.as_ref(), NOT_JSON.as_bytes(), "{body}");
    }
    // A prefix of JSON (a capture cut short) is still scanned, not dropped.
    let out = r.apply(Some("application/json"), b"{\"user\": \"ann\", \"pass");
    assert_eq!(out.as_ref(), b"{\"user\": \"ann\", \"pass");
    let out = r.apply(Some("application/problem+json"), b"[1, 2");
    assert_eq!(out.as_ref(), b"[1, 2");
}

#[test]
fn other_content_types_pass_unchanged() {
    let r = redaction();
    let body = br#"{"password":"x"}"#;
    assert!(matches!(
        r.apply(Some("application/grpc"), body),
        Cow::Borrowed(_)
    ));
    assert!(matches!(
        r.apply(Some("text/plain"), b"password=x"),
        Cow::Borrowed(_)
    ));
    // Untyped or text bodies that look like JSON are redacted as JSON.
    for untyped in [None, Some("text/plain")] {
        assert_eq!(
            r.apply(untyped, b" {\"password\":\"x\"}").as_ref(),
            b" {\"password\":\"<redacted>\"}"
        );
    }
    assert_eq!(
        r.apply(Some("application/problem+json"), body).as_ref(),
        br#"{"password":"<redacted>"}"#
    );
}

#[test]
fn query_credentials_are_redacted_and_the_query_stays_a_valid_uri_part() {
    let r = BodyRedaction::new(["x-api-key"]);
    let q = r.query("symbol=MESH&api_key=k1&X-Api-Key=k2&access%5Ftoken=t&flag");
    assert_eq!(
        q,
        "symbol=MESH&api_key=%3Credacted%3E&X-Api-Key=%3Credacted%3E&access%5Ftoken=%3Credacted%3E&flag"
    );
    assert!(format!("/x?{q}").parse::<http::Uri>().is_ok());
    assert!(matches!(r.query("a=1&b=2"), Cow::Borrowed("a=1&b=2")));
}
