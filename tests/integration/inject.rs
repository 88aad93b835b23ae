//! `meshctl inject` / `uninject` through the real binary: files and stdin, YAML and JSON,
//! the round trip, and bad input that writes nothing.

use crate::support::meshctl;

const DEPLOYMENT: &str = "# the shop's front end
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: {meshctl.io/upstreams: api}
    spec:
      containers:
        - name: web
          image: registry.example/web:1
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
";

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = meshctl().args(args).write_stdin(stdin).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn inject_adds_the_sidecar_to_workloads_and_uninject_takes_it_away() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, DEPLOYMENT).unwrap();
    let (code, injected, stderr) = run(&["inject", "-f", file.to_str().unwrap()], "");
    assert_eq!(code, 0, "{stderr}");
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&injected)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{injected}");
    let containers = docs[0]["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers[1]["name"], "meshctl-proxy");
    assert_eq!(docs[1]["kind"], "Service");

    // Idempotent through the binary, from stdin.
    let (code, again, _) = run(&["inject"], &injected);
    assert_eq!((code, again.as_str()), (0, injected.as_str()));

    // Uninject gives back the same objects (comments and layout are not kept, meaning is).
    let (code, back, _) = run(&["uninject", "-f", "-"], &injected);
    assert_eq!(code, 0);
    let original: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(DEPLOYMENT)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let restored: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&back)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(restored, original);
}

#[test]
fn json_in_is_json_out() {
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
                 "spec":{"containers":[{"name":"a","image":"x"}]}}"#;
    let (code, out, stderr) = run(&["inject"], pod);
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["spec"]["containers"][1]["name"], "meshctl-proxy");
}

#[test]
fn bad_input_is_one_line_exit_2_and_nothing_on_stdout() {
    let host_network = DEPLOYMENT.replace(
        "      containers:",
        "      hostNetwork: true\n      containers:",
    );
    for (input, needle) in [
        ("kind: [unclosed", "<stdin>: document 1:"),
        (
            host_network.as_str(),
            "<stdin>: document 1: Deployment/web: hostNetwork pods",
        ),
    ] {
        let (code, out, stderr) = run(&["inject"], input);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(out, "", "nothing written");
        assert!(stderr.contains(needle), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let (code, _, stderr) = run(&["inject", "-f", "/nonexistent/app.yaml"], "");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/app.yaml"), "{stderr}");
}
