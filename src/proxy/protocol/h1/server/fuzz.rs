//! Fuzz targets (docs/fuzzing.md): the outbound's HTTP/1 request-head parser, on mutated
//! and on generated requests, whole and in pieces.

use proptest::prelude::*;

use super::*;
use crate::fuzzing::config;

fn settings() -> Settings {
    Settings {
        header_read_timeout: Duration::from_secs(10),
        max_headers: 100,
        max_head_bytes: 64 * 1024,
        drain_grace: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(30),
        counters: Arc::default(),
    }
}

/// A valid request head, as parts and as its bytes.
#[derive(Debug, Clone)]
struct Generated {
    method: &'static str,
    target: String,
    version: &'static str,
    fields: Vec<(String, String)>,
}

impl Generated {
    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version);
        for (name, value) in &self.fields {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

fn generated() -> impl Strategy<Value = Generated> {
    let method = prop::sample::select(vec![
        "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS",
    ]);
    let target = prop_oneof![
        "/[a-zA-Z0-9._~%/-]{0,30}(\\?[a-z0-9=&]{0,10})?",
        Just("*".to_string()),
        "http://[a-z]{1,8}(:[0-9]{2,4})?/[a-z]{0,8}",
    ];
    let version = prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0"]);
    let field = prop_oneof![
        ("x-[a-z0-9-]{1,10}", "[ -~]{0,20}"),
        (
            Just("content-length".to_string()),
            "[0-9]{1,4}|[0-9], [0-9]|x"
        ),
        (
            Just("transfer-encoding".to_string()),
            "chunked|gzip|gzip, chunked| chunked "
        ),
        (Just("connection".to_string()), "close|keep-alive|upgrade"),
        (Just("expect".to_string()), "100-continue|200-ok"),
    ];
    (
        method,
        target,
        version,
        "[a-z]{1,10}(:[0-9]{1,5})?",
        prop::collection::vec(field, 0..6),
    )
        .prop_map(|(method, target, version, host, mut fields)| {
            // Trim what the value grammar cannot carry (the line's own whitespace is OWS).
            for (_, value) in &mut fields {
                *value = value.trim().to_string();
            }
            fields.insert(0, ("host".to_string(), host));
            Generated {
                method,
                target,
                version,
                fields,
            }
        })
}

/// The invariants of any parse result for the input `raw`.
fn check(
    raw: &[u8],
    result: &Result<Option<(Head, usize)>, HeadError>,
) -> Result<(), TestCaseError> {
    let settings = settings();
    if let Ok(Some((head, len))) = result {
        prop_assert!(*len <= raw.len() && *len <= settings.max_head_bytes);
        prop_assert!(raw[..*len].ends_with(b"\n"));
        let headers = head.request.headers();
        let te = headers.contains_key(TRANSFER_ENCODING);
        // Never both framings; TE means chunked and only chunked, and never in HTTP/1.0.
        prop_assert!(!(te && headers.contains_key(CONTENT_LENGTH)));
        if te {
            prop_assert_eq!(head.decoder, Decoder::Chunked(Chunk::Size));
            prop_assert_eq!(head.request.version(), Version::HTTP_11);
        } else {
            let want = match exchange::content_length(headers) {
                Ok(None | Some(0)) => Decoder::Done,
                Ok(Some(n)) => Decoder::Length(n),
                Err(_) => {
                    return Err(TestCaseError::fail(
                        "an invalid content-length was accepted",
                    ));
                }
            };
            prop_assert_eq!(head.decoder, want);
        }
        prop_assert!(head.request.method() != Method::CONNECT);
        if head.expect_continue {
            prop_assert!(!head.decoder.is_done());
        }
        // Every part of the head is from the bytes it was parsed from.
        let text = &raw[..*len];
        let path = head.request.uri().path().as_bytes();
        prop_assert!(path.len() <= 1 || text.windows(path.len()).any(|w| w == path));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// Any bytes: never a panic, and the invariants of whatever is accepted.
    #[test]
    fn h1_request_head_any_bytes(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        let result = parse(&raw, &settings());
        check(&raw, &result)?;
    }

    /// Valid requests, edited byte by byte: what still parses keeps every invariant.
    #[test]
    fn h1_request_head_mutated(
        request in generated(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut raw = request.bytes();
        for (at, byte) in edits {
            let at = at.index(raw.len());
            raw[at] = byte;
        }
        let result = parse(&raw, &settings());
        check(&raw, &result)?;
    }

    /// A generated request parses to itself, followed by anything (its body), and every
    /// prefix of it parses as incomplete: a head that arrives in pieces is read the same.
    #[test]
    fn h1_request_head_round_trip(request in generated(), body in prop::collection::vec(any::<u8>(), 0..16)) {
        let head = request.bytes();
        let mut raw = head.clone();
        raw.extend_from_slice(&body);
        let result = parse(&raw, &settings());
        check(&raw, &result)?;
        match &result {
            Ok(Some((parsed, len))) => {
                prop_assert_eq!(*len, head.len());
                prop_assert_eq!(parsed.request.method().as_str(), request.method);
                let target = parsed.request.uri().to_string();
                prop_assert!(request.target == target || request.target == format!("{target}/") || target == format!("{}/", request.target), "{} != {}", request.target, target);
                prop_assert_eq!(parsed.request.headers().len(), request.fields.len());
                for (name, value) in &request.fields {
                    let values: Vec<&[u8]> = parsed.request.headers().get_all(name.as_str()).iter().map(|v| v.as_bytes()).collect();
                    prop_assert!(values.contains(&value.as_bytes()), "{name}: {value} lost");
                }
            }
            Ok(None) => return Err(TestCaseError::fail("a whole head was read as incomplete")),
            // Refused for its framing or target: deterministic, whatever follows.
            Err(_) => {}
        }
        let whole = result.as_ref().map(|r| r.is_some()).ok();
        for cut in 0..head.len() {
            let part = parse(&head[..cut], &settings());
            if let Ok(Some(_)) = part {
                return Err(TestCaseError::fail(format!("a head was complete after {cut} of {} bytes", head.len())));
            }
            if whole == Some(true) {
                prop_assert!(part.is_ok(), "a prefix of {} bytes of a valid head was refused", cut);
            }
        }
    }
}
