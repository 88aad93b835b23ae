//! The saved traffic state in `.meshctl/` (splits, faults, canary routes): a corrupt or partly
//! invalid file stops `meshctl up` with one line naming it, `--reset-state` moves it aside.

use crate::mesh::{Up, dir_with, nothing_started, three_services};
use crate::support::meshctl;

const GOOD_FAULT: &str =
    r#""quotes":{"spec":{"abort":{"status":503,"per_million":1000}},"set_unix_ms":1}"#;

#[test]
fn corrupt_or_partly_invalid_state_files_stop_up_naming_the_file() {
    let cases = [
        (
            "splits.json",
            "{\"api\": {\"v1\": 0, \"v2\":".to_string(),
            "invalid JSON",
        ),
        (
            "splits.json",
            r#"{"api":{"v1":0,"v2":100},"front":{"":50}}"#.to_string(),
            "sum to 50",
        ),
        (
            "splits.json",
            r#"{"api":{"v1":0,"v3":100}}"#.to_string(),
            "no version `v3`",
        ),
        (
            "faults.json",
            format!(
                r#"{{{GOOD_FAULT},"api":{{"spec":{{"abort":{{"status":503,"per_million":1}}}},"set_unix_ms":1,"sticky":true}}}}"#
            ),
            "unknown field `sticky`",
        ),
        (
            "faults.json",
            r#"{"api":{"spec":{"abort":{"status":200,"per_million":1}},"set_unix_ms":1}}"#
                .to_string(),
            "status 200",
        ),
        ("faults.json", "not json".to_string(), "invalid JSON"),
        (
            "canary-routes.json",
            r#"{"api":{"version":"v7","header":"x-canary","value":"1"}}"#.to_string(),
            "no version `v7`",
        ),
        (
            "canary-routes.json",
            r#"{"api":{"version":"v2","header":"x-canary","value":"1","weight":5}}"#.to_string(),
            "unknown field `weight`",
        ),
    ];
    for (file, body, problem) in cases {
        let dir = dir_with(&three_services());
        let state = dir.path().join(".meshctl");
        std::fs::create_dir(&state).unwrap();
        std::fs::write(state.join(file), &body).unwrap();
        let out = meshctl()
            .arg("up")
            .current_dir(dir.path())
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(1);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert_eq!(err.lines().count(), 1, "{file} {body}: one line: {err}");
        assert!(err.contains(file), "{file} {body}: names the file: {err}");
        assert!(
            err.contains(problem),
            "{file} {body}: says `{problem}`: {err}"
        );
        assert!(err.contains("--reset-state"), "{file}: hints: {err}");
        nothing_started(dir.path());
        // Left as it was, for the operator to inspect or fix.
        assert_eq!(std::fs::read_to_string(state.join(file)).unwrap(), body);
    }
}

#[test]
fn reset_state_moves_bad_files_aside_and_the_mesh_starts() {
    let dir = dir_with(&three_services());
    std::fs::write(dir.path().join("echo.py"), crate::mesh::ECHO_PY).unwrap();
    let state = dir.path().join(".meshctl");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("splits.json"), r#"{"api":{"v1":60,"v2":60}}"#).unwrap();
    meshctl().arg("up").current_dir(dir.path()).assert().code(1);
    let up = Up::run(dir, &["up", "--reset-state"]);
    let state = up.state();
    assert!(
        state.join("splits.json.discarded").exists(),
        "the bad file is kept aside"
    );
    let err = std::fs::read_to_string(up.dir.path().join("up.err")).unwrap();
    assert!(err.contains("splits.json.discarded"), "{err}");
    // The mesh runs from mesh.yaml's defaults, and `canary status` reads the state again.
    let out = up
        .cmd()
        .args(["canary", "status", "-o", "json"])
        .assert()
        .success();
    let status: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(status.to_string().contains("\"v1\":100"), "{status}");
    assert_eq!(up.stop(), Some(0));
}

#[test]
fn canary_status_refuses_a_corrupt_splits_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".meshctl");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("splits.json"), r#"{"api":{"v1":10}}"#).unwrap();
    let out = meshctl()
        .args(["canary", "status"])
        .current_dir(dir.path())
        .env_remove("MESHCTL_STATE_DIR")
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("splits.json") && err.contains("sum to 10"),
        "{err}"
    );
}

#[test]
fn certs_issue_removes_temp_files_a_killed_run_left_and_keeps_keys_private() {
    let mesh = crate::support::Mesh::initialised();
    let out = mesh.path().join("api");
    std::fs::create_dir(&out).unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    // What `kill -9` during a previous `certs issue` leaves: a half-written key.
    let stale_key = out.join(format!(".tls.key.tmp.{dead}"));
    std::fs::write(&stale_key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    mesh.cmd()
        .args([
            "certs",
            "issue",
            "spiffe://mesh.local/ns/local/sa/api",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    assert!(!stale_key.exists(), "the stale temp key was removed");
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("tls.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}
