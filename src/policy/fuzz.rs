//! Fuzz targets (docs/fuzzing.md): path normalisation, SPIFFE ID patterns, fault
//! percentages, split weights, OTLP endpoints and header lists.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::authz::IdPattern;
use super::fault::{PER_MILLION, format_percent, parse_percent};
use super::normalize::normalize_path;
use super::split::{SplitWeights, TOTAL_WEIGHT};
use super::tracing::{OtlpEndpoint, OtlpHeaders};
use crate::fuzzing::config;
use crate::identity::SpiffeId;

/// Paths built from the pieces path tricks are made of.
fn path_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/"),
        Just(".."),
        Just("."),
        Just("%2e"),
        Just("%2E%2e"),
        Just("%2f"),
        Just("%5C"),
        Just("\\"),
        Just(";"),
        Just("..;"),
        Just("%3b"),
        Just("%"),
        Just("%4"),
        Just("%41"),
        Just("%7e"),
        Just("%zz"),
        Just("%25"),
        Just("a"),
        Just("admin"),
        Just("~"),
        Just("é"),
        Just("?"),
    ];
    (
        prop_oneof![4 => Just("/"), 1 => Just("")],
        prop::collection::vec(piece, 0..12),
    )
        .prop_map(|(start, pieces)| start.to_string() + &pieces.concat())
}

/// One `name=value` member of an `OTEL_EXPORTER_OTLP_HEADERS` list, its value made of
/// plain characters and the escapes that matter: an encoded `,` `%` or blank, a broken
/// escape, a control character.
fn header_member() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[ -+\\--~]".prop_map(String::from),
        3 => prop::sample::select(&["%2C", "%25", "%20", "%3d", "%2", "%0A"][..])
            .prop_map(String::from),
    ];
    (
        "[a-zA-Z-]{0,6}",
        prop_oneof![Just("="), Just(" = "), Just("")],
        prop::collection::vec(piece, 0..6),
    )
        .prop_map(|(name, eq, value)| format!("{name}{eq}{}", value.concat()))
}

proptest! {
    #![proptest_config(config(1024))]

    /// A normalised path starts with `/`, holds no dot segment, and is its own normal form.
    #[test]
    fn normalize_path_properties(path in prop_oneof![path_like(), "\\PC{0,24}".prop_map(String::from)]) {
        if let Ok(normal) = normalize_path(&path) {
            prop_assert!(normal.starts_with('/'), "{normal:?}");
            for segment in normal.split('/') {
                prop_assert!(segment != ".." && segment != ".", "{normal:?} has a dot segment");
            }
            prop_assert!(!normal.contains("//"), "{normal:?} has an empty segment");
            prop_assert_eq!(normalize_path(&normal), Ok(normal.clone()), "not idempotent");
        }
    }

    /// A pattern accepts what it was written for, `*` takes any one segment and only one,
    /// and its text parses back to itself.
    #[test]
    fn id_pattern_parse_and_match(
        td in "[a-z0-9.-]{1,12}",
        segments in prop::collection::vec("[a-zA-Z0-9._-]{1,8}", 1..5),
        stars in prop::collection::vec(any::<bool>(), 5),
        other in "[a-zA-Z0-9_-]{1,8}",
        text in "\\PC{0,40}",
    ) {
        // Never panics on any text, and what parses prints back to itself.
        if let Ok(p) = text.parse::<IdPattern>() {
            prop_assert_eq!(p.to_string().parse::<IdPattern>(), Ok(p.clone()));
            prop_assert!(!p.matches(""));
        }
        let segments: Vec<String> = segments.into_iter().filter(|s| s != "." && s != "..").collect();
        prop_assume!(!segments.is_empty());
        let id = format!("spiffe://{td}/{}", segments.join("/"));
        prop_assume!(id.parse::<SpiffeId>().is_ok());
        let exact: IdPattern = id.parse().unwrap();
        prop_assert!(exact.matches(&id));
        prop_assert_eq!(exact.to_string(), id.clone());
        let wild: Vec<&str> = segments
            .iter()
            .zip(&stars)
            .map(|(s, star)| if *star { "*" } else { s.as_str() })
            .collect();
        let pattern: IdPattern = format!("spiffe://{td}/{}", wild.join("/")).parse().unwrap();
        prop_assert!(pattern.matches(&id));
        // A wildcard segment matches anything in its place; a literal one only itself.
        for (i, star) in stars.iter().enumerate().take(segments.len()) {
            let mut changed = segments.clone();
            if changed[i] == other {
                continue;
            }
            changed[i] = other.clone();
            let changed = format!("spiffe://{td}/{}", changed.join("/"));
            prop_assert_eq!(pattern.matches(&changed), *star);
        }
        // Never one segment more or less, nor another trust domain.
        // (Found here: `spiffe://td/*` matched `spiffe://td/`, an empty segment.)
        let longer = format!("{id}/{other}");
        let shorter = format!("spiffe://{td}/{}", segments[..segments.len() - 1].join("/"));
        let foreign = format!("spiffe://x{td}/{}", segments.join("/"));
        for id in [longer, shorter, foreign] {
            prop_assert!(!pattern.matches(&id), "{} matches {}", pattern, id);
        }
    }

    /// Every percentage prints and parses back exactly; nothing parses above 100%.
    #[test]
    fn percent_round_trip(per_million in 0..=PER_MILLION, text in "[0-9.% ]{0,10}|\\PC{0,12}") {
        let printed = format_percent(per_million);
        prop_assert_eq!(parse_percent(&printed), Ok(per_million), "{}", printed);
        if let Ok(p) = parse_percent(&text) {
            prop_assert!(p <= PER_MILLION);
            prop_assert_eq!(parse_percent(&format_percent(p)), Ok(p));
        }
    }

    /// Shifting any stored weights (`splits.json` may hold anything) never panics; a shift
    /// that succeeds sums to 100 over the service's versions, and `to` gets its weight.
    #[test]
    fn split_shift(
        stored in prop::collection::btree_map("v[0-4]", prop_oneof![0..=TOTAL_WEIGHT, any::<u32>()], 0..5),
        versions in prop::collection::btree_set("v[0-4]", 1..5),
        to in "v[0-4]",
        weight in prop_oneof![0..=TOTAL_WEIGHT, any::<u32>()],
    ) {
        let versions: Vec<String> = versions.into_iter().collect();
        let stored = SplitWeights(stored);
        let _ = stored.validate("api", &versions);
        if let Ok(shifted) = stored.shift("api", &versions, &to, weight) {
            prop_assert_eq!(shifted.validate("api", &versions), Ok(()));
            prop_assert_eq!(shifted.weight(&to), weight);
            prop_assert_eq!(shifted.0.len(), versions.len());
        }
        let _: BTreeMap<String, u32> = stored.0;
    }

    /// Any `OTEL_EXPORTER_OTLP_HEADERS` text parses or fails without a panic; what parses
    /// prints (`to_list`) and parses back to the same headers, and no error repeats a value.
    #[test]
    fn otlp_header_list_round_trip(
        text in prop_oneof![
            prop::collection::vec(header_member(), 0..5).prop_map(|members| members.join(",")),
            "\\PC{0,24}".prop_map(String::from),
        ],
    ) {
        match OtlpHeaders::parse_list(&text) {
            Ok(headers) => {
                let again = OtlpHeaders::parse_list(&headers.to_list());
                prop_assert_eq!(again, Ok(headers));
            }
            Err(e) => prop_assert!(!e.contains('\n'), "{e}"),
        }
    }

    /// Any endpoint text parses or fails without a panic; what parses prints a URL that
    /// parses back to the same endpoint.
    #[test]
    fn otlp_endpoint_round_trip(
        text in prop_oneof![
            "(https?|ftp)://[a-z.]{0,8}(:[0-9]{0,5})?(/[a-z/]{0,10})?(\\?x)?",
            "\\PC{0,24}".prop_map(String::from),
        ],
    ) {
        if let Ok(endpoint) = text.parse::<OtlpEndpoint>() {
            prop_assert_eq!(endpoint.to_string().parse::<OtlpEndpoint>(), Ok(endpoint));
        }
        let _ = OtlpEndpoint::traces_url(&text);
    }
}
