//! `meshctl check` and `certs status --fail-within` against expiring anchor, issuer and leaf.

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
fn check_passes_a_fresh_ca_and_renders_every_check() {
    let mesh = Mesh::initialised();
    let (code, out) = check(&mesh, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("√ trust anchor is valid for more than 60 days"),
        "{out}"
    );
    assert!(out.contains("√ issuer chains to the trust bundle"), "{out}");
    assert!(out.contains("Status check results are √"), "{out}");
    let (code, json) = check(&mesh, &["-o", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["checks"].as_array().unwrap().len(), 6);
}

#[test]
fn an_issuer_under_60_days_warns_and_fails_only_with_fail_on_warning() {
    let mesh = mesh_with("365d", "30d");
    let (code, out) = check(&mesh, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("‼ issuer is valid for more than 60 days (issuer expires in"),
        "{out}"
    );
    assert!(
        out.contains("hint: rotate it: meshctl certs rotate issuer"),
        "{out}"
    );
    assert_eq!(check(&mesh, &["--fail-on", "warning"]).0, 1);
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
    let (code, out) = check(&mesh, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("× trust anchor is valid for more than 60 days"),
        "{out}"
    );
    assert!(out.contains("× issuer is valid"), "{out}");
    let (_, json) = check(&mesh, &["-o", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["status"], "error");
    assert_eq!(json["checks"][0]["status"], "error");
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
    assert_eq!(check(&mesh, &[]).0, 0);
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
