//! State-file tests: splits, faults and routes under `.meshctl/` — missing, valid, bad (file
//! and problem named) — and a reset moving them aside.

use super::*;

fn catalog() -> Catalog {
    [
        ("api".to_string(), vec!["v1".to_string(), "v2".to_string()]),
        ("web".to_string(), vec![String::new()]),
    ]
    .into()
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn a_missing_file_is_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    assert!(check_all(dir.path(), &catalog()).unwrap().is_empty());
    let splits = load_splits(&dir.path().join(SPLITS_FILE), None).unwrap();
    assert!(splits.value.is_empty());
}

#[test]
fn valid_splits_load_and_departed_services_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        SPLITS_FILE,
        r#"{"api":{"v1":0,"v2":100},"gone":{"a":100}}"#,
    );
    let loaded = load_splits(&p, Some(&catalog())).unwrap();
    assert_eq!(loaded.value["api"].weight("v2"), 100);
    assert!(!loaded.value.contains_key("gone"));
    assert_eq!(loaded.notes.len(), 1);
    assert!(loaded.notes[0].contains("`gone`"));
}

#[test]
fn bad_splits_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    for (body, problem) in [
        ("{not json", "invalid JSON"),
        (r#"{"api":{"v1":50,"v2":40}}"#, "sum to 90"),
        (r#"{"api":{"v1":0,"v3":100}}"#, "no version `v3`"),
        (r#"{"api":{"v1":-1,"v2":101}}"#, "invalid JSON"),
        (r#"{"api":{"v1":0,"v2":101}}"#, "out of range"),
    ] {
        let p = write(dir.path(), SPLITS_FILE, body);
        let e = load_splits(&p, Some(&catalog())).unwrap_err().to_string();
        assert!(e.contains("splits.json"), "{e}");
        assert!(e.contains(problem), "{body}: {e}");
        assert!(e.contains("--reset-state"), "{e}");
    }
    // Without a catalog the sum is still checked.
    let p = write(dir.path(), SPLITS_FILE, r#"{"api":{"v1":50,"v2":40}}"#);
    assert!(load_splits(&p, None).is_err());
}

#[test]
fn bad_faults_and_routes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ok = r#"{"api":{"spec":{"abort":{"status":503,"per_million":1000}},"set_unix_ms":1}}"#;
    let p = write(dir.path(), FAULTS_FILE, ok);
    assert_eq!(load_faults(&p, Some(&catalog())).unwrap().value.len(), 1);
    for body in [
        r#"{"api":{"spec":{"abort":{"status":503,"per_million":1000}},"set_unix_ms":1,"extra":1}}"#,
        r#"{"api":{"spec":{"abort":{"status":200,"per_million":1000}},"set_unix_ms":1}}"#,
        r#"{"api":{"spec":{},"set_unix_ms":1}}"#,
        "[]",
    ] {
        let p = write(dir.path(), FAULTS_FILE, body);
        let e = load_faults(&p, Some(&catalog())).unwrap_err().to_string();
        assert!(e.contains("faults.json"), "{body}: {e}");
    }
    let name = canary_routes::CANARY_ROUTES_FILE;
    let ok = r#"{"api":{"version":"v2","header":"x-canary","value":"1"}}"#;
    let p = write(dir.path(), name, ok);
    assert_eq!(
        load_canary_routes(&p, Some(&catalog()))
            .unwrap()
            .value
            .len(),
        1
    );
    for body in [
        r#"{"api":{"version":"v9","header":"x-canary","value":"1"}}"#,
        r#"{"api":{"version":"v2","header":"x-canary","value":"1","weight":3}}"#,
        r#"{"api":{"version":"v2","header":"bad name","value":"1"}}"#,
    ] {
        let p = write(dir.path(), name, body);
        let e = load_canary_routes(&p, Some(&catalog()))
            .unwrap_err()
            .to_string();
        assert!(e.contains(name), "{body}: {e}");
    }
}

#[test]
fn reset_moves_the_files_aside() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), SPLITS_FILE, "{bad");
    write(dir.path(), FAULTS_FILE, "{}");
    let moved = reset(dir.path()).unwrap();
    assert_eq!(moved.len(), 2);
    assert!(!dir.path().join(SPLITS_FILE).exists());
    assert!(dir.path().join("splits.json.discarded").exists());
    assert!(check_all(dir.path(), &catalog()).unwrap().is_empty());
}
