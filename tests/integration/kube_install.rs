//! `meshctl install`, `uninstall` and `check --kube` through the real binary: the rendered
//! manifests, the saved anchor key, and every bad input or unreachable cluster failing with
//! one line on stderr, the right exit code and nothing on stdout.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use predicates::prelude::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::support::Mesh;

/// The `kind`s of a multi-document YAML stream, in order.
fn kinds(yaml: &str) -> Vec<String> {
    let mut docs: Vec<String> = Vec::new();
    for line in yaml.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .map(|d| {
            let v: serde_yaml::Value = serde_yaml::from_str(d).unwrap();
            v["kind"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Asserts a failed run: `code`, one line on stderr containing each of `needles`, empty stdout.
fn fails(assert: assert_cmd::assert::Assert, code: i32, needles: &[&str]) {
    let out = assert.code(code).get_output().clone();
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
}

#[test]
fn install_prints_manifests_and_keeps_the_anchor_key_out_of_them() {
    let mesh = Mesh::empty();
    let out = mesh
        .cmd()
        .args(["install", "--ha", "--crds"])
        .assert()
        .success();
    let out = out.get_output();
    let yaml = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        kinds(&yaml),
        [
            "CustomResourceDefinition",
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Secret",
            "ConfigMap",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
            "MutatingWebhookConfiguration",
        ]
    );
    let key = mesh
        .path()
        .join("meshctl-identity/identity/trust-anchor.key");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&key.display().to_string()), "{stderr}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let anchor_key = std::fs::read_to_string(&key).unwrap();
    let body = anchor_key.lines().nth(1).unwrap();
    assert!(!yaml.contains(body));
    // Nor base64-encoded in any Secret or caBundle: decode every value that decodes.
    use base64::Engine as _;
    for word in yaml.split_whitespace() {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(word) {
            assert!(!String::from_utf8_lossy(&bytes).contains(body));
        }
    }

    // A second run would make a second CA: refused, pointing at the saved one.
    fails(
        mesh.cmd().arg("install").assert(),
        2,
        &["already holds a mesh CA", "--identity-dir"],
    );
    // ... which installs with the same identity.
    let again = mesh
        .cmd()
        .args([
            "install",
            "--identity-dir",
            "meshctl-identity",
            "-o",
            "json",
        ])
        .assert()
        .success();
    let list: serde_json::Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let secret = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Secret")
        .unwrap();
    let bundle =
        std::fs::read_to_string(mesh.path().join("meshctl-identity/identity/bundle.crt")).unwrap();
    assert_eq!(secret["data"]["ca.crt"], base64_of(&bundle));
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn install_uses_a_certs_init_ca_and_its_trust_domain() {
    let mesh = Mesh::empty();
    mesh.cmd()
        .args(["certs", "init", "--trust-domain", "corp.example"])
        .assert()
        .success();
    mesh.cmd()
        .args([
            "install",
            "--identity-dir",
            ".meshctl",
            "--discard-anchor-key",
        ])
        .assert()
        .code(2);
    mesh.cmd()
        .args(["install", "--identity-dir", ".meshctl"])
        .assert()
        .success()
        .stdout(predicate::str::contains("- corp.example"))
        .stderr("");
    fails(
        mesh.cmd()
            .args([
                "install",
                "--identity-dir",
                ".meshctl",
                "--trust-domain",
                "other.example",
            ])
            .assert(),
        2,
        &["`corp.example`, not `other.example`"],
    );
    fails(
        mesh.cmd()
            .args(["install", "--identity-dir", "nowhere"])
            .assert(),
        2,
        &["--identity-dir nowhere", "no mesh CA there"],
    );
}

#[test]
fn bad_flags_are_usage_errors_and_write_nothing() {
    let mesh = Mesh::empty();
    fails(
        mesh.cmd()
            .args(["install", "--trust-domain", "Bad_Domain"])
            .assert(),
        2,
        &["--trust-domain", "Bad_Domain"],
    );
    fails(
        mesh.cmd()
            .args(["install", "--namespace", "Mesh_System"])
            .assert(),
        2,
        &["--namespace `Mesh_System`"],
    );
    fails(
        mesh.cmd().args(["install", "--wait"]).assert(),
        2,
        &["--apply"],
    );
    fails(
        mesh.cmd().args(["install", "--no-such-flag"]).assert(),
        2,
        &["--no-such-flag"],
    );
    fails(
        mesh.cmd().args(["check", "--context", "x"]).assert(),
        2,
        &["need --kube"],
    );
    assert!(crate::support::tree(mesh.path()).is_empty());
}

/// A CA (or leaf) certificate with explicit validity, signed by `signer` or self-signed.
fn cert(
    name: &str,
    ca: bool,
    validity: (SystemTime, SystemTime),
    signer: Option<(&str, &KeyPair)>,
) -> (String, KeyPair) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = validity.0.into();
    params.not_after = validity.1.into();
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    let pem = match signer {
        Some((signer_pem, signer_key)) => {
            let issuer = Issuer::from_ca_cert_pem(signer_pem, signer_key).unwrap();
            params.signed_by(&key, &issuer).unwrap().pem()
        }
        None => params.self_signed(&key).unwrap().pem(),
    };
    (pem, key)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn install_with_files(
    mesh: &Mesh,
    cert: &Path,
    key: &Path,
    anchor: Option<&Path>,
) -> assert_cmd::assert::Assert {
    let mut cmd = mesh.cmd();
    cmd.args(["install", "--issuer-cert"])
        .arg(cert)
        .arg("--issuer-key")
        .arg(key);
    if let Some(a) = anchor {
        cmd.arg("--anchor-cert").arg(a);
    }
    cmd.assert()
}

#[test]
fn an_organisations_issuer_is_checked_before_anything_is_rendered() {
    let mesh = Mesh::empty();
    let dir = mesh.path();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let valid = (now - day, now + day * 300);
    let (root, root_key) = cert("org root", true, valid, None);
    let (issuer, issuer_key) = cert(
        "org issuer",
        true,
        (now - day, now + day * 90),
        Some((&root, &root_key)),
    );
    let root_path = write(dir, "root.crt", &root);
    let issuer_path = write(dir, "issuer.crt", &issuer);
    let issuer_key_path = write(dir, "issuer.key", &issuer_key.serialize_pem());

    // The good case, with the root given and appended to the issuer file.
    install_with_files(&mesh, &issuer_path, &issuer_key_path, Some(&root_path)).success();
    let chain = write(dir, "chain.crt", &format!("{issuer}{root}"));
    install_with_files(&mesh, &chain, &issuer_key_path, None).success();
    // Without the root, it cannot know the anchor.
    fails(
        install_with_files(&mesh, &issuer_path, &issuer_key_path, None),
        2,
        &["--anchor-cert"],
    );

    // Unreadable files are named.
    let missing = dir.join("missing.crt");
    fails(
        install_with_files(&mesh, &missing, &issuer_key_path, Some(&root_path)),
        2,
        &["--issuer-cert", "missing.crt"],
    );
    fails(
        install_with_files(
            &mesh,
            &issuer_path,
            &dir.join("missing.key"),
            Some(&root_path),
        ),
        2,
        &["--issuer-key", "missing.key"],
    );
    // A key that is not the certificate's.
    let other_key = write(
        dir,
        "other.key",
        &KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem(),
    );
    fails(
        install_with_files(&mesh, &issuer_path, &other_key, Some(&root_path)),
        2,
        &["other.key", "does not belong to the certificate"],
    );
    // A leaf is no issuer.
    let (leaf, leaf_key) = cert("a leaf", false, valid, Some((&root, &root_key)));
    let leaf_path = write(dir, "leaf.crt", &leaf);
    let leaf_key_path = write(dir, "leaf.key", &leaf_key.serialize_pem());
    fails(
        install_with_files(&mesh, &leaf_path, &leaf_key_path, Some(&root_path)),
        2,
        &["not a CA certificate"],
    );
    // An expired anchor.
    let (old_root, old_root_key) = cert("old root", true, (now - day * 400, now - day), None);
    let (issuer2, issuer2_key) = cert("issuer2", true, valid, Some((&old_root, &old_root_key)));
    let old_root_path = write(dir, "old-root.crt", &old_root);
    let issuer2_path = write(dir, "issuer2.crt", &issuer2);
    let issuer2_key_path = write(dir, "issuer2.key", &issuer2_key.serialize_pem());
    fails(
        install_with_files(
            &mesh,
            &issuer2_path,
            &issuer2_key_path,
            Some(&old_root_path),
        ),
        2,
        &["the trust anchor (CN=old root) expired"],
    );
    // A root the issuer does not chain to.
    let (stranger, _) = cert("stranger", true, valid, None);
    let stranger_path = write(dir, "stranger.crt", &stranger);
    fails(
        install_with_files(&mesh, &issuer_path, &issuer_key_path, Some(&stranger_path)),
        2,
        &["does not chain to the trust anchor"],
    );
    assert!(!dir.join("meshctl-identity").exists());
}

/// A kubeconfig for a server nothing listens on (port 1 on loopback).
fn dead_kubeconfig(dir: &Path) -> PathBuf {
    write(
        dir,
        "kubeconfig",
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: dead\n  context:\n    cluster: dead\n    user: u\n",
    )
}

#[test]
fn an_unreachable_cluster_is_named_and_nothing_is_printed() {
    let mesh = Mesh::empty();
    let kc = dead_kubeconfig(mesh.path());
    fails(
        mesh.cmd()
            .args(["install", "--discard-anchor-key", "--apply", "--kubeconfig"])
            .arg(&kc)
            .assert(),
        1,
        &[
            "applying Namespace meshctl-system",
            "cannot reach the Kubernetes API server at https://127.0.0.1:1/",
            "(context dead)",
        ],
    );
    fails(
        mesh.cmd()
            .args(["uninstall", "--kubeconfig"])
            .arg(&kc)
            .assert(),
        1,
        &["cannot reach the Kubernetes API server at https://127.0.0.1:1/"],
    );
    fails(
        mesh.cmd()
            .args([
                "install",
                "--discard-anchor-key",
                "--apply",
                "--context",
                "nope",
                "--kubeconfig",
            ])
            .arg(&kc)
            .assert(),
        1,
        &["context `nope` is not in the kubeconfig (it has: dead)"],
    );
    // KUBECONFIG is read like kubectl reads it.
    fails(
        mesh.cmd()
            .env("KUBECONFIG", &kc)
            .args(["install", "--discard-anchor-key", "--apply"])
            .assert(),
        1,
        &["(context dead)"],
    );
    mesh.cmd()
        .args(["check", "--kube", "--kubeconfig"])
        .arg(&kc)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("× Kubernetes API is reachable"))
        .stdout(predicate::str::contains("context dead"));
    let json = mesh
        .cmd()
        .args(["check", "--kube", "-o", "json", "--kubeconfig"])
        .arg(&kc)
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(report["status"], "error");
    assert_eq!(report["checks"][0]["category"], "kubernetes");
}
