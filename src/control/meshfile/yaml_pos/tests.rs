//! Position tests: where a mesh.yaml's block keys, sequence elements, flow mappings and quoted
//! keys are, repeated keys, nesting, and how paths display.

use super::*;

const DOC: &str = "\
# a comment
trust_domain: mesh.local
services:
  web:
    port: 8080
    upstreams:
      - api
      - { service: quotes, port: 9300 }
  \"api\":
    versions:
      v1: { port: 8081 }
";

fn at(path: &[&str], target: Target) -> Option<(usize, usize)> {
    let steps = path
        .iter()
        .map(|s| match s.parse::<usize>() {
            Ok(n) => Step::Index(n),
            Err(_) => Step::Key(s.to_string()),
        })
        .collect();
    locate(DOC, &YamlPath(steps), target).map(|p| (p.line, p.column))
}

#[test]
fn locates_block_keys_and_values() {
    assert_eq!(at(&["trust_domain"], Target::Key), Some((2, 1)));
    assert_eq!(at(&["trust_domain"], Target::Value), Some((2, 15)));
    assert_eq!(at(&["services", "web"], Target::Key), Some((4, 3)));
    assert_eq!(
        at(&["services", "web", "port"], Target::Value),
        Some((5, 11))
    );
}

#[test]
fn locates_sequence_elements_and_flow_mappings() {
    assert_eq!(
        at(&["services", "web", "upstreams", "0"], Target::Value),
        Some((7, 9))
    );
    assert_eq!(
        at(
            &["services", "web", "upstreams", "1", "port"],
            Target::Value
        ),
        Some((8, 34))
    );
    assert_eq!(
        at(&["services", "api", "versions", "v1", "port"], Target::Key),
        Some((11, 13))
    );
}

#[test]
fn quoted_keys_point_at_the_quote() {
    assert_eq!(at(&["services", "api"], Target::Key), Some((9, 3)));
}

#[test]
fn missing_nodes_are_none() {
    assert_eq!(at(&["services", "db"], Target::Key), None);
    assert_eq!(
        at(&["services", "web", "upstreams", "5"], Target::Value),
        None
    );
    assert_eq!(at(&["trust_domain", "x"], Target::Value), None);
}

#[test]
fn paths_display_like_serde_yaml() {
    let p = YamlPath::default()
        .key("services")
        .key("web")
        .key("upstreams")
        .index(1)
        .key("service");
    assert_eq!(p.to_string(), "services.web.upstreams[1].service");
    assert_eq!(YamlPath::default().to_string(), ".");
}

#[test]
fn finds_the_repeated_key() {
    let err = check_duplicate_keys("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
    let loc = err.location().unwrap();
    assert_eq!((loc.line(), loc.column()), (4, 3));
    assert!(err.to_string().starts_with("b: duplicate key `c`"), "{err}");
    assert!(check_duplicate_keys("a: [ {c: 1}, {c: 2} ]\n").is_ok());
}

#[test]
fn nesting_counts_flow_brackets_and_indentation_but_not_quotes_or_comments() {
    let ok = format!(
        "a: [{{b: [1, 2]}}]\nc: \"{q}\"\nd: '{q}'\ne: 1 # {q}\n",
        q = "[".repeat(100)
    );
    assert!(check_nesting(&ok).is_ok());
    let deep = format!("a: {}", "[".repeat(MAX_FLOW_DEPTH + 1));
    let (at, why) = check_nesting(&deep).unwrap_err();
    assert_eq!((at.line, at.column), (1, MAX_FLOW_DEPTH + 4));
    assert!(why.contains("nested"), "{why}");
    let indented = format!("a:\n{}b: 1\n", " ".repeat(MAX_INDENT_COLUMNS + 1));
    assert_eq!(check_nesting(&indented).unwrap_err().0.line, 2);
    // Closing brackets unwind the depth: many shallow collections are fine.
    assert!(check_nesting(&"[[1]], ".repeat(1000)).is_ok());
}
