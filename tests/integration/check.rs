//! `meshctl check` on a running mesh and without one, and `check --certs` / `certs status
//! --fail-within` against expiring anchor, issuer and leaf.

use crate::support::Mesh;

/// A CA whose anchor and issuer live for the given durations.
fn mesh_with(anchor: &str, issuer: &str) -> Mesh {
    let mesh = Mesh::empty();
    mesh.cmd()
        .args([
            "certs",
            "init",
            "--anchor-lifetime",
            anchor,
            "--issuer-lifetime",
            issuer,
        ])
        .assert()
        .success();
    mesh
}

fn check(mesh: &Mesh, args: &[&str]) -> (i32, String) {
    let out = mesh.cmd().arg("check").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_passes_a_running_mesh_in_every_category_and_fails_without_one() {
    let up = crate::mesh::Up::start(&crate::mesh::three_services());
    let out = up.cmd().args(["check", "-o", "json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    let ids: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "control-plane.running",
        "control-plane.answers",
        "proxies.ready",
        "proxies.connected",
        "proxies.config-current",
        "proxies.leaf-valid",
        "proxies.bundle-current",
        "apps.up",
        "identity.anchor-valid",
    ] {
        assert!(ids.contains(&id), "{id} missing: {json:#}");
    }
    assert_eq!(json["status"], "ok");
    let table = up.cmd().arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout).into_owned();
    for heading in ["control-plane\n", "proxies\n", "apps\n", "identity\n"] {
        assert!(text.contains(heading), "{text}");
    }
    let dir = up.stop_keeping_dir();
    // The same directory without a running mesh: ×, a hint, exit 1 (not a √ list).
    let out = meshctl_in(dir.path()).arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("× a mesh is running from this state directory (no mesh is running from"),
        "{text}"
    );
    assert!(text.contains("hint: start one: `meshctl up`"), "{text}");
    assert!(!text.contains("Status check results are √"), "{text}");
}

fn meshctl_in(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(crate::support::meshctl_bin());
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("MESHCTL_STATE_DIR");
    cmd
}

#[test]
fn check_certs_passes_a_fresh_ca_and_renders_every_check() {
    let mesh = Mesh::initialised();
    // Without --certs: no mesh runs, so check fails.
    assert_eq!(check(&mesh, &[]).0, 1);
    let (code, out) = check(&mesh, &["--certs"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("√ trust anchor is valid for more than 60 days"),
        "{out}"
    );
    assert!(out.contains("√ issuer chains to the trust bundle"), "{out}");
    assert!(out.contains("Status check results are √"), "{out}");
    let (code, json) = check(&mesh, &["--certs", "-o", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["checks"].as_array().unwrap().len(), 6);
    assert_eq!(json["checks"][0]["id"], "proxies.leaf-valid");
}

#[test]
fn an_issuer_under_60_days_warns_and_fails_only_with_fail_on_warning() {
    let mesh = mesh_with("365d", "30d");
    let (code, out) = check(&mesh, &["--certs"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("‼ issuer is valid for more than 60 days (issuer expires in"),
        "{out}"
    );
    assert!(
        out.contains("hint: rotate it: meshctl certs rotate issuer"),
        "{out}"
    );
    assert_eq!(check(&mesh, &["--certs", "--fail-on", "warning"]).0, 1);
    mesh.cmd()
        .args(["certs", "status", "--fail-within", "31d"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("Issuer"));
    mesh.cmd()
        .args(["certs", "status", "--fail-within", "29d"])
        .assert()
        .success();
}

#[test]
fn an_anchor_under_7_days_is_an_error_for_check_and_status() {
    let mesh = mesh_with("6d", "5d");
    let (code, out) = check(&mesh, &["--certs"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("× trust anchor is valid for more than 60 days"),
        "{out}"
    );
    assert!(out.contains("× issuer is valid"), "{out}");
    let (_, json) = check(&mesh, &["--certs", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"], "error");
    assert_eq!(json["checks"][2]["id"], "identity.anchor-valid");
    assert_eq!(json["checks"][2]["status"], "error");
    mesh.cmd()
        .args(["certs", "status", "--fail-within", "30d"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("Anchor"));
    // Rotating the anchor fixes both.
    mesh.cmd()
        .args(["certs", "rotate", "anchor"])
        .assert()
        .success();
    assert_eq!(check(&mesh, &["--certs"]).0, 0);
    mesh.cmd()
        .args(["certs", "status", "--fail-within", "30d"])
        .assert()
        .success();
}

#[test]
fn an_expiring_leaf_fails_status_within_its_window() {
    let mesh = Mesh::initialised();
    mesh.issue("spiffe://mesh.local/ns/local/sa/web", "web", "2h");
    mesh.cmd()
        .args(["certs", "status", "--fail-within", "3h"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains(
            "spiffe://mesh.local/ns/local/sa/web",
        ));
    mesh.cmd()
        .args(["certs", "status", "--fail-within", "1h"])
        .assert()
        .success();
}
