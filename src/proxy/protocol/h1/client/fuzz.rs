//! Fuzz targets (docs/fuzzing.md): the HTTP/1 client's response-head parser and the body
//! decoder both HTTP/1 sides share (chunked and length-delimited).

use proptest::prelude::*;

use super::*;
use crate::fuzzing::config;

/// Runs the decoder over `pieces` arriving one after the other: (data, trailers, ended,
/// bytes left over). Stops at the end of the body or at an error.
fn decode_all(
    mut decoder: Decoder,
    pieces: &[Vec<u8>],
) -> io::Result<(Vec<u8>, Option<HeaderMap>, bool, BytesMut)> {
    let mut buf = BytesMut::new();
    let (mut data, mut trailers) = (Vec::new(), None);
    let mut pieces = pieces.iter();
    // Each step consumes input or ends: bounded by the input's size.
    let budget = pieces.len() * 4 + pieces.clone().map(Vec::len).sum::<usize>() * 4 + 8;
    for _ in 0..budget {
        match decoder.decode(&mut buf)? {
            Some(Step::Data(d)) => {
                assert!(!d.is_empty() || decoder.is_done(), "an empty data step");
                data.extend_from_slice(&d);
            }
            Some(Step::Trailers(t)) => trailers = Some(t),
            Some(Step::End) => return Ok((data, trailers, true, buf)),
            None => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => return Ok((data, trailers, false, buf)),
            },
        }
    }
    panic!("the decoder did not make progress");
}

/// `bytes` cut at the given points.
fn pieces(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

/// The chunks' data, the body on the wire, its trailers.
type ChunkedBody = (Vec<Vec<u8>>, Vec<u8>, Vec<(String, String)>);

/// A chunked body: its chunks, each with a size as written and an extension, and trailers.
fn chunked_body() -> impl Strategy<Value = ChunkedBody> {
    let chunk = (
        prop::collection::vec(any::<u8>(), 1..40),
        any::<bool>(),
        prop_oneof![
            Just(String::new()),
            ";[a-z]{1,4}(=[a-z0-9]{1,4})?",
            Just(" ".to_string())
        ],
    );
    (
        prop::collection::vec(chunk, 0..6),
        prop_oneof![Just(String::new()), ";ext=1".prop_map(String::from)],
        prop::collection::vec(("x-[a-z]{1,6}", "[a-z0-9 ]{0,8}"), 0..3),
    )
        .prop_map(|(chunks, last_ext, trailers)| {
            let mut wire = Vec::new();
            let mut data = Vec::new();
            for (chunk, upper, ext) in chunks {
                let size = if upper {
                    format!("{:X}", chunk.len())
                } else {
                    format!("{:x}", chunk.len())
                };
                wire.extend_from_slice(format!("{size}{ext}\r\n").as_bytes());
                wire.extend_from_slice(&chunk);
                wire.extend_from_slice(b"\r\n");
                data.push(chunk);
            }
            wire.extend_from_slice(format!("0{last_ext}\r\n").as_bytes());
            let trailers: Vec<(String, String)> = trailers
                .into_iter()
                .map(|(n, v)| (n, v.trim().to_string()))
                .collect();
            for (name, value) in &trailers {
                wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            (data, wire, trailers)
        })
}

proptest! {
    #![proptest_config(config(512))]

    /// A chunked body decodes to its data and trailers however it is cut into reads, and
    /// leaves the next message's bytes in the buffer untouched.
    #[test]
    fn chunked_decoder_round_trip(
        (chunks, wire, trailers) in chunked_body(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        next in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut input = wire.clone();
        input.extend_from_slice(&next);
        let (data, got_trailers, ended, left) =
            decode_all(Decoder::Chunked(Chunk::Size), &pieces(&input, &cuts)).unwrap();
        prop_assert!(ended);
        prop_assert_eq!(data, chunks.concat());
        let got: Vec<(String, String)> = got_trailers
            .iter()
            .flatten()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let mut want = trailers.clone();
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        prop_assert_eq!(got_sorted, want);
        // What follows the body is never consumed with it (left may not hold all of `next`
        // yet: decoding stops at the body's end, before later reads).
        prop_assert!(next.starts_with(&left));
    }

    /// Any bytes as a chunked or length-delimited body: no panic, no endless loop, and never
    /// more data out than bytes in.
    #[test]
    fn body_decoder_any_bytes(
        input in prop::collection::vec(any::<u8>(), 0..200),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        // From 1: the client never makes a `Length(0)` decoder (Content-Length: 0 is `Done`
        // before any read, see `decoder_for`), and one would wait for a byte it never needs.
        length in 1u64..300,
    ) {
        let pieces = pieces(&input, &cuts);
        for decoder in [Decoder::Chunked(Chunk::Size), Decoder::Length(length), Decoder::UntilClose] {
            if let Ok((data, _, ended, left)) = decode_all(decoder, &pieces) {
                prop_assert!(data.len() + left.len() <= input.len());
                if decoder == Decoder::Length(length) {
                    prop_assert!(data.len() as u64 <= length);
                    prop_assert_eq!(ended, data.len() as u64 == length);
                }
            }
        }
    }
}

/// A response head from the app: optional 1xx heads, then the final one.
fn response() -> impl Strategy<Value = (Vec<u16>, u16, Vec<(String, String)>, bool)> {
    let field = prop_oneof![
        ("x-[a-z0-9-]{1,10}", "[ -~]{0,16}"),
        (
            Just("content-length".to_string()),
            "[0-9]{1,4}|5, 5|5, 6|-1"
        ),
        (
            Just("transfer-encoding".to_string()),
            "chunked|gzip|gzip, chunked|chunked, gzip"
        ),
        (Just("connection".to_string()), "close|keep-alive"),
    ];
    (
        prop::collection::vec(prop::sample::select(vec![100u16, 102, 103]), 0..3),
        prop_oneof![200u16..600, Just(204u16), Just(304u16)],
        prop::collection::vec(field, 0..5),
        any::<bool>(),
    )
        .prop_map(|(informational, status, fields, http10)| {
            let fields = fields
                .into_iter()
                .map(|(n, v)| (n, v.trim().to_string()))
                .collect();
            (informational, status, fields, http10)
        })
}

fn head_bytes(
    informational: &[u16],
    status: u16,
    fields: &[(String, String)],
    http10: bool,
) -> Vec<u8> {
    let mut out = String::new();
    for code in informational {
        out.push_str(&format!("HTTP/1.1 {code} Info\r\n\r\n"));
    }
    let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    out.push_str(&format!("{version} {status} Reason\r\n"));
    for (name, value) in fields {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The invariants of an accepted response head.
fn check_head(
    response: &Response<()>,
    decoder: Decoder,
    head_request: bool,
    keep_alive: bool,
) -> Result<(), TestCaseError> {
    let headers = response.headers();
    prop_assert!(!response.status().is_informational());
    if proxy_http::bodiless_response(head_request, response.status()) {
        prop_assert_eq!(decoder, Decoder::Done);
        return Ok(());
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        prop_assert!(matches!(
            decoder,
            Decoder::Chunked(Chunk::Size) | Decoder::UntilClose
        ));
        if headers.contains_key(CONTENT_LENGTH) || decoder == Decoder::UntilClose {
            prop_assert!(!keep_alive);
        }
    } else {
        match content_length(headers) {
            Ok(Some(0)) => prop_assert_eq!(decoder, Decoder::Done),
            Ok(Some(n)) => prop_assert_eq!(decoder, Decoder::Length(n)),
            Ok(None) => prop_assert!(decoder == Decoder::UntilClose && !keep_alive),
            Err(_) => {
                return Err(TestCaseError::fail(
                    "an invalid content-length was accepted",
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// Any bytes: never a panic; an accepted head keeps every invariant.
    #[test]
    fn h1_response_head_any_bytes(raw in prop::collection::vec(any::<u8>(), 0..200), head_request: bool) {
        let mut buf = BytesMut::from(&raw[..]);
        let mut keep_alive = true;
        if let Ok(Some((response, decoder))) = parse_response_head(&mut buf, head_request, &mut keep_alive) {
            check_head(&response, decoder, head_request, keep_alive)?;
            prop_assert!(raw.ends_with(&buf));
        }
    }

    /// Generated heads (after any 1xx heads) parse to their status and fields, edited ones
    /// keep the invariants, and every prefix of a valid one is incomplete, never refused.
    #[test]
    fn h1_response_head_generated(
        (informational, status, fields, http10) in response(),
        head_request: bool,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        body in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let head = head_bytes(&informational, status, &fields, http10);
        let mut raw = head.clone();
        raw.extend_from_slice(&body);
        let mut keep_alive = true;
        let mut buf = BytesMut::from(&raw[..]);
        let whole = parse_response_head(&mut buf, head_request, &mut keep_alive);
        match &whole {
            Ok(Some((response, decoder))) => {
                check_head(response, *decoder, head_request, keep_alive)?;
                prop_assert_eq!(response.status().as_u16(), status);
                prop_assert_eq!(response.headers().len(), fields.len());
                prop_assert_eq!(&buf[..], &body[..]);
            }
            Ok(None) => return Err(TestCaseError::fail("a whole head was read as incomplete")),
            Err(_) => {}
        }
        for cut in 0..head.len() {
            let mut part = BytesMut::from(&head[..cut]);
            let mut keep = true;
            match parse_response_head(&mut part, head_request, &mut keep) {
                Ok(Some(_)) => return Err(TestCaseError::fail(format!("complete after {cut} bytes"))),
                Err(e) if whole.is_ok() => return Err(TestCaseError::fail(format!("prefix of {cut} bytes refused: {e}"))),
                _ => {}
            }
        }
        let mut edited = raw.clone();
        for (at, byte) in edits {
            let at = at.index(edited.len());
            edited[at] = byte;
        }
        let mut buf = BytesMut::from(&edited[..]);
        let mut keep_alive = true;
        if let Ok(Some((response, decoder))) = parse_response_head(&mut buf, head_request, &mut keep_alive) {
            check_head(&response, decoder, head_request, keep_alive)?;
        }
    }
}
