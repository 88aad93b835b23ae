//! Shared set-up of the property-based fuzz targets: one `fuzz` test module beside each
//! parser or checker it drives (`cargo test fuzz::` runs them all; docs/fuzzing.md lists them).
//!
//! A normal `cargo test` runs each target for the small case count it names, so the suite
//! stays quick; `scripts/fuzz.sh` multiplies every count by `MESHCTL_FUZZ_SCALE`.

use proptest::prelude::*;
use proptest::test_runner::Config;

/// `cases` per run, times `MESHCTL_FUZZ_SCALE` (default 1; a slow target names fewer cases
/// and so keeps its share of a longer run); `PROPTEST_CASES` sets the count outright.
/// Failures are kept in `proptest-regressions/` (committed: each is replayed first on every
/// run).
pub(crate) fn config(cases: u32) -> Config {
    // `Config::default()` reads the PROPTEST_* variables.
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        let scale = std::env::var("MESHCTL_FUZZ_SCALE")
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(1);
        config.cases = cases.saturating_mul(scale.max(1));
    }
    // Shrinking a failure is worth the time; an unbounded one is not.
    config.max_shrink_time = 60_000;
    config
}

/// Values a YAML mutation puts in place of a field's value: types, limits, the shapes a
/// config field takes, and YAML's own odd corners.
const YAML_TOKENS: &[&str] = &[
    "",
    "~",
    "null",
    "[]",
    "{}",
    "0",
    "-1",
    "1",
    "65535",
    "65536",
    "4294967296",
    "99999999999999999999999",
    "1.5",
    "true",
    "\"\"",
    "'x'",
    "*a",
    "&a x",
    "!!binary aGk=",
    "{ a: 1 }",
    "[a, b]",
    "[[[[[[[[[[]]]]]]]]]]",
    "spiffe://mesh.local/ns/local/sa/*",
    "spiffe://evil.example/ns/local/sa/web",
    "{ service: web }",
    "/..",
    "/a/../b",
    "1ms",
    "0s",
    "30s",
    "100000d",
    "5%",
    "100.00001%",
    "101",
    "http",
    "http1",
    "tcp",
    "grpc",
    "127.0.0.1:0",
    "127.0.0.1:8080",
    "[::1]:80",
    "é",
    "\"\\t\"",
    "x: y",
    "- x",
    "? x",
    "|\n  text",
];

/// Values for a numeric field: zero, negative, the edges of u16, u32 and u64, a fraction.
const NUMBER_TOKENS: &[&str] = &[
    "0",
    "-1",
    "65536",
    "4294967296",
    "18446744073709551616",
    "0.5",
    "1e3",
];

/// One edit of a YAML document, line by line.
#[derive(Debug, Clone)]
pub(crate) enum YamlEdit {
    Delete(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    /// The value after a line's first `: ` (or the whole line) becomes a token.
    Value(prop::sample::Index, prop::sample::Index),
    Indent(prop::sample::Index, bool),
    Insert(prop::sample::Index, String),
    Truncate(prop::sample::Index),
}

/// Up to `max` edits of a document.
pub(crate) fn yaml_edits(max: usize) -> impl Strategy<Value = Vec<YamlEdit>> {
    let index = any::<prop::sample::Index>;
    let edit = prop_oneof![
        2 => index().prop_map(YamlEdit::Delete),
        1 => index().prop_map(YamlEdit::Duplicate),
        1 => (index(), index()).prop_map(|(a, b)| YamlEdit::Swap(a, b)),
        8 => (index(), index()).prop_map(|(a, b)| YamlEdit::Value(a, b)),
        1 => (index(), any::<bool>()).prop_map(|(a, b)| YamlEdit::Indent(a, b)),
        1 => (index(), "[ -~]{0,20}").prop_map(|(a, s)| YamlEdit::Insert(a, s)),
        1 => index().prop_map(YamlEdit::Truncate),
    ];
    prop::collection::vec(edit, 0..=max)
}

/// `seed` with `edits` applied in order.
pub(crate) fn apply_yaml_edits(seed: &str, edits: &[YamlEdit]) -> String {
    let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
    for edit in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match edit {
            YamlEdit::Delete(i) => {
                lines.remove(i.index(n));
            }
            YamlEdit::Duplicate(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            YamlEdit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            YamlEdit::Value(i, token) => {
                // A field's line (`key: value`) when there is one: that is where values are.
                let fields: Vec<usize> = (0..n)
                    .filter(|&l| lines[l].contains(": ") && !lines[l].trim_start().starts_with('#'))
                    .collect();
                let at = if fields.is_empty() {
                    i.index(n)
                } else {
                    fields[i.index(fields.len())]
                };
                let line = &mut lines[at];
                // A number is replaced by another number at the edges most of all.
                let numeric = line
                    .split_once(": ")
                    .is_some_and(|(_, v)| v.trim().bytes().all(|b| b.is_ascii_digit()));
                let pool = if numeric { NUMBER_TOKENS } else { YAML_TOKENS };
                let token = pool[token.index(pool.len())];
                match line.find(": ") {
                    Some(at) => line.replace_range(at + 2.., token),
                    None => *line = token.to_string(),
                }
            }
            YamlEdit::Indent(i, deeper) => {
                let line = &mut lines[i.index(n)];
                if *deeper {
                    line.insert_str(0, "  ");
                } else if let Some(rest) = line.strip_prefix("  ") {
                    *line = rest.to_string();
                }
            }
            YamlEdit::Insert(i, text) => lines.insert(i.index(n + 1), text.clone()),
            YamlEdit::Truncate(i) => lines.truncate(i.index(n)),
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
