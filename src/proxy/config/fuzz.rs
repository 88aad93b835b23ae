//! Fuzz target (docs/fuzzing.md): the proxy's `--config` file, on edits of the shipped
//! examples and on any text, through the whole load (read, parse, merge, validate).

use proptest::prelude::*;

use super::*;
use crate::fuzzing::{apply_yaml_edits, config, yaml_edits};

const EXAMPLES: [&str; 2] = [
    include_str!("../../../examples/proxy-server.yaml"),
    include_str!("../../../examples/proxy-client.yaml"),
];

/// Loads `text` as a config file; checks what a loaded config promises.
fn check(dir: &Path, text: &str) -> Result<(), TestCaseError> {
    let path = dir.join("proxy.yaml");
    std::fs::write(&path, text).unwrap();
    let loaded = ProxyConfig::build(FlagConfig {
        config_file: Some(path),
        ..FlagConfig::default()
    });
    if let Ok(config) = loaded {
        prop_assert!(config.identity_dir.starts_with(dir) || config.identity_dir.is_absolute());
        prop_assert!(check_workers(config.workers).is_ok());
        prop_assert!(!config.inbound.is_empty() || !config.upstreams.is_empty());
        let mut listens: Vec<SocketAddr> = config.inbound.iter().map(|i| i.listen).collect();
        listens.extend(config.upstreams.iter().map(|u| u.listen));
        listens.push(config.admin);
        let count = listens.len();
        listens.sort();
        listens.dedup();
        prop_assert_eq!(listens.len(), count, "two listeners share an address");
        prop_assert!(config.limits.max_headers > 0 && config.limits.max_header_bytes > 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn proxy_config_edited_examples(which in 0..EXAMPLES.len(), edits in yaml_edits(6)) {
        let dir = tempfile::tempdir().unwrap();
        check(dir.path(), &apply_yaml_edits(EXAMPLES[which], &edits))?;
    }

    #[test]
    fn proxy_config_any_text(text in "\\PC{0,160}|[a-z_:{}\\[\\], \n0-9.]{0,160}") {
        let dir = tempfile::tempdir().unwrap();
        check(dir.path(), &text)?;
    }
}
