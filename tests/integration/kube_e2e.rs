//! Opt-in end-to-end test of `meshctl install`/`check --kube`/`uninstall` against a real
//! Kubernetes API server: runs only when MESHCTL_E2E_KUBECONFIG names a kubeconfig (kind,
//! k3d, any cluster you may install cluster-wide objects in; see docs/kubernetes.md), and
//! otherwise passes after saying it was skipped and why.

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use crate::support::Mesh;

const NAMESPACE: &str = "meshctl-e2e";

fn kubeconfig() -> Option<PathBuf> {
    match std::env::var_os("MESHCTL_E2E_KUBECONFIG") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            eprintln!(
                "kube_e2e: SKIPPED: MESHCTL_E2E_KUBECONFIG is not set (point it at a cluster's kubeconfig to run install/check/uninstall against it)"
            );
            None
        }
    }
}

fn client(kubeconfig: &PathBuf) -> (tokio::runtime::Runtime, kube::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    });
    (runtime, client)
}

#[test]
fn install_check_uninstall_against_a_real_api_server() {
    let Some(kc) = kubeconfig() else {
        return;
    };
    let _cluster = crate::support::cluster_lock();
    let mesh = Mesh::empty();
    let meshctl = |args: &[&str]| {
        let mut cmd = mesh.cmd();
        cmd.env("KUBECONFIG", &kc).args(args);
        cmd
    };
    let (rt, client) = client(&kc);

    meshctl(&["check", "--kube", "--pre", "--namespace", NAMESPACE])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "√ you may create everything install creates",
        ));

    // A server dry run stores nothing.
    meshctl(&[
        "install",
        "--discard-anchor-key",
        "--namespace",
        NAMESPACE,
        "--apply",
        "--dry-run",
        "server",
    ])
    .assert()
    .success()
    .stdout(predicates::str::contains("validated (server dry run)"));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    assert!(
        rt.block_on(deployments.get_opt("meshctl-controller"))
            .unwrap()
            .is_none()
    );

    let install = ["install", "--namespace", NAMESPACE, "--crds", "--apply"];
    meshctl(&install).assert().success();
    // Stored, owned by field manager `meshctl` through server-side apply.
    let d = rt.block_on(deployments.get("meshctl-controller")).unwrap();
    let managers: Vec<(String, String)> = d
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("meshctl".into(), "Apply".into())),
        "{managers:?}"
    );
    // Applying again changes nothing and succeeds.
    meshctl(&[
        "install",
        "--namespace",
        NAMESPACE,
        "--crds",
        "--apply",
        "--identity-dir",
        "meshctl-identity",
    ])
    .assert()
    .success();

    // Another field manager takes spec.replicas: a conflict naming it, until --force-conflicts.
    let other = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "meshctl-controller", "namespace": NAMESPACE},
        "spec": {"replicas": 2},
    });
    rt.block_on(deployments.patch(
        "meshctl-controller",
        &PatchParams::apply("e2e-other").force(),
        &Patch::Apply(&other),
    ))
    .unwrap();
    let again = [
        "install",
        "--namespace",
        NAMESPACE,
        "--crds",
        "--apply",
        "--identity-dir",
        "meshctl-identity",
    ];
    meshctl(&again)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("field manager e2e-other"))
        .stderr(predicates::str::contains("--force-conflicts"));
    let mut forced = again.to_vec();
    forced.push("--force-conflicts");
    meshctl(&forced).assert().success();

    // No kubelet necessarily: the controller is not Available; --wait says why, exit 4.
    let mut wait = again.to_vec();
    wait.extend(["--wait", "--timeout", "3s"]);
    meshctl(&wait)
        .assert()
        .code(4)
        .stderr(predicates::str::contains("is not Available after 3s"));

    // check: everything but the running controller is sound.
    meshctl(&["check", "--kube", "--namespace", NAMESPACE])
        .assert()
        .stdout(predicates::str::contains(
            "√ injection webhook points at the controller Service",
        ))
        .stdout(predicates::str::contains(
            "√ issuer Secret is present and chains to the trust bundle",
        ))
        .stdout(predicates::str::contains(
            "√ Gateway API HTTPRoute CRD is installed and established (installed by meshctl)",
        ));

    // A meshed pod blocks uninstall --apply, named, until it is gone.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "e2e-meshed", "labels": {"meshctl.io/sidecar": "injected"}},
        "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]},
    }))
    .unwrap();
    rt.block_on(pods.create(&PostParams::default(), &pod))
        .unwrap();
    meshctl(&["uninstall", "--apply"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("default/e2e-meshed"));
    rt.block_on(pods.delete("e2e-meshed", &DeleteParams::default().grace_period(0)))
        .unwrap();

    let listed = meshctl(&["uninstall", "--crds", "-o", "json"])
        .assert()
        .success();
    let listing: serde_json::Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    // What install created, plus what a controller made itself (the cluster-mode e2e's,
    // when it ran against this API server): the trust-bundle ConfigMaps it published into
    // meshed namespaces and its tap token Secret.
    let objects = listing["objects"].as_array().unwrap();
    let published = objects
        .iter()
        .filter(|o| {
            (o["kind"] == "ConfigMap"
                && o["name"] == "meshctl-trust-bundle"
                && o["namespace"] != NAMESPACE)
                || (o["kind"] == "Secret" && o["name"] == "meshctl-tap")
        })
        .count();
    assert_eq!(objects.len() - published, 12, "{listing}");
    let out = meshctl(&["uninstall", "--apply", "--crds", "--timeout", "60s"]).assert();
    let code = out.get_output().status.code();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    if code == Some(4) {
        // An API server without its controller manager never finalises namespaces.
        assert!(
            stderr.contains(&format!("Namespace {NAMESPACE} (finalizers: kubernetes)")),
            "{stderr}"
        );
        eprintln!(
            "kube_e2e: the namespace did not finish deleting (no kube-controller-manager?): {stderr}"
        );
    } else {
        assert_eq!(code, Some(0), "{stderr}");
        let listed = meshctl(&["uninstall", "--crds", "-o", "json"])
            .assert()
            .success();
        let listing: serde_json::Value =
            serde_json::from_slice(&listed.get_output().stdout).unwrap();
        assert_eq!(listing["objects"].as_array().unwrap().len(), 0, "{listing}");
    }
}
