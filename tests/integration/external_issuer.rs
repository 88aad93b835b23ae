//! `certs init --issuer-cert/--issuer-key`: an organisation's CA as the mesh issuer.

use crate::support::Mesh;

#[test]
fn an_external_issuer_signs_leaves_that_chain_to_its_root_and_refuses_rotation() {
    // The "organisation": another CA whose issuer and root we hand over (not the root key).
    let org = Mesh::initialised();
    let id = org.state_dir().join("identity");
    let mesh = Mesh::empty();
    let init = |extra: &[&str]| {
        let mut cmd = mesh.cmd();
        cmd.args(["certs", "init", "--force", "--issuer-cert"])
            .arg(id.join("issuer.crt"))
            .arg("--issuer-key")
            .arg(id.join("issuer.key"))
            .args(extra);
        cmd
    };
    // Without the root it cannot know the anchor.
    init(&[])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--anchor-cert"));
    // A root the issuer does not chain to is refused, and nothing is written.
    let other = Mesh::initialised();
    init(&["--anchor-cert"])
        .arg(other.state_dir().join("identity/trust-anchor.crt"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("does not chain"));
    assert!(!mesh.state_dir().join("identity").exists());

    init(&["--anchor-cert"])
        .arg(id.join("trust-anchor.crt"))
        .assert()
        .success();
    assert!(!mesh.state_dir().join("identity/trust-anchor.key").exists());
    let out = mesh.issue("spiffe://mesh.local/ns/local/sa/web", "web", "1h");
    let ca = std::fs::read_to_string(out.join("ca.crt")).unwrap();
    assert_eq!(
        ca,
        std::fs::read_to_string(id.join("trust-anchor.crt")).unwrap()
    );
    meshctl::identity::WorkloadIdentity::load_dir(&out).unwrap();
    mesh.cmd().args(["check", "--certs"]).assert().success();

    for target in ["issuer", "anchor"] {
        mesh.cmd()
            .args(["certs", "rotate", target])
            .assert()
            .code(1)
            .stderr(predicates::str::contains("external issuer"));
    }
}
