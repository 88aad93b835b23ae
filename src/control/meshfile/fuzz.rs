//! Fuzz target (docs/fuzzing.md): mesh.yaml loading, on edits of the shipped example and
//! on any text.

use std::path::Path;

use proptest::prelude::*;

use super::{MeshFile, MeshFileError};
use crate::fuzzing::{apply_yaml_edits, config, yaml_edits};
use crate::identity::spiffe::validate_trust_domain;

const EXAMPLE: &str = include_str!("../../../examples/mesh.yaml");

/// The invariants of any answer to `text`.
fn check(text: &str) -> Result<(), TestCaseError> {
    match MeshFile::parse(text, Path::new("mesh.yaml")) {
        Ok(mesh) => {
            prop_assert!(validate_trust_domain(mesh.trust_domain()).is_ok());
            prop_assert!(mesh.services().next().is_some());
            for instance in mesh.instances() {
                prop_assert!(!instance.name().is_empty());
            }
        }
        Err(MeshFileError::Invalid {
            file,
            line,
            column,
            detail,
        }) => {
            // The position names a place in the file, for an editor to jump to. Lines as YAML
            // counts them: a lone CR ends one too (the AFL harness found the difference).
            let lines = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .lines()
                .count();
            prop_assert_eq!(file, "mesh.yaml");
            prop_assert!(
                line >= 1 && line <= lines + 1,
                "line {} of {}: {}",
                line,
                lines,
                detail
            );
            prop_assert!(column >= 1, "{}", detail);
            prop_assert!(!detail.is_empty());
        }
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "unexpected error kind: {other}"
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// The shipped example, edited line by line: never a panic; an error points into the file.
    #[test]
    fn meshfile_edited_example(edits in yaml_edits(6)) {
        check(&apply_yaml_edits(EXAMPLE, &edits))?;
    }

    /// Any text, and deep or wide structures.
    #[test]
    fn meshfile_any_text(
        text in prop_oneof![
            "\\PC{0,200}",
            "[\\[\\]{}:,\\- a\n\r#]{0,200}",
            (1usize..300).prop_map(|n| "[".repeat(n)),
            (1usize..100).prop_map(|n| "services:\n".to_string() + &(0..n).map(|i| format!("  s{i}: {{ port: {i} }}\n")).collect::<String>()),
        ]
    ) {
        check(&text)?;
    }
}

#[test]
fn the_example_parses_unedited() {
    assert!(MeshFile::parse(EXAMPLE, Path::new("mesh.yaml")).is_ok());
}
