//! Injection tests: golden output per workload kind, idempotence, the uninject round trip,
//! refusals, and the webhook's patch checked against `meshctl inject`'s output.

use super::*;

fn opts() -> InjectOptions {
    InjectOptions {
        image: "registry.example/meshctl:test".into(),
        control_plane_namespace: "meshctl-system".into(),
    }
}

const POD_SPEC: &str = "
    containers:
      - name: app
        image: registry.example/web:1
        ports:
          - containerPort: 8080
        env:
          - name: LOG_LEVEL
            value: info";

/// One manifest per kind that has pods, each with the same pod spec.
fn workloads() -> Vec<(&'static str, String)> {
    let template = |indent: usize| {
        let pad = " ".repeat(indent);
        let spec: String = POD_SPEC
            .lines()
            .skip(1)
            .map(|l| format!("{pad}  {}\n", &l[4..]))
            .collect();
        format!(
            "{pad}metadata:\n{pad}  labels:\n{pad}    app: web\n{pad}  annotations:\n{pad}    meshctl.io/upstreams: api,quote-svc\n{pad}spec:\n{spec}"
        )
    };
    let controller = |kind: &str| {
        format!(
            "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n{}",
            template(4)
        )
    };
    vec![
        (
            "pod",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    meshctl.io/upstreams: api\nspec:\n{}",
                POD_SPEC
                    .lines()
                    .skip(1)
                    .map(|l| format!("{}\n", &l[2..]))
                    .collect::<String>()
            ),
        ),
        ("deployment", controller("Deployment")),
        ("statefulset", controller("StatefulSet")),
        ("daemonset", controller("DaemonSet")),
        ("replicaset", controller("ReplicaSet")),
        (
            "job",
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  template:\n{}",
                template(4)
            ),
        ),
        (
            "cronjob",
            format!(
                "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: report\nspec:\n  schedule: \"0 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n{}",
                template(8)
            ),
        ),
    ]
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap()
}

fn injected(text: &str) -> Value {
    let mut value = yaml(text);
    assert_eq!(inject(&mut value, &opts()).unwrap(), 1, "{text}");
    value
}

#[test]
fn every_workload_kind_gets_the_sidecar_golden() {
    for (name, text) in workloads() {
        let value = injected(&text);
        insta::assert_snapshot!(
            format!("inject_{name}"),
            serde_yaml::to_string(&value).unwrap()
        );
    }
}

#[test]
fn injecting_twice_is_injecting_once_and_uninject_restores_the_original() {
    for (name, text) in workloads() {
        let original = yaml(&text);
        let once = injected(&text);
        let mut twice = once.clone();
        assert_eq!(inject(&mut twice, &opts()).unwrap(), 0, "{name}");
        assert_eq!(twice, once, "{name}: a second injection changed it");
        let mut back = once.clone();
        assert_eq!(uninject(&mut back).unwrap(), 1, "{name}");
        assert_eq!(back, original, "{name}: uninject did not restore it");
        // Key order survives too (serialised text equal, not just equal values).
        assert_eq!(
            serde_yaml::to_string(&back).unwrap(),
            serde_yaml::to_string(&original).unwrap(),
            "{name}"
        );
        assert_eq!(
            uninject(&mut back).unwrap(),
            0,
            "{name}: nothing left to remove"
        );
    }
}

#[test]
fn lists_are_walked_and_other_objects_pass_untouched() {
    let text = format!(
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata:\n      name: web\n    spec:\n      ports: [{{port: 80}}]\n  - {}\n",
        workloads()[1].1.replace('\n', "\n    ")
    );
    let original = yaml(&text);
    let mut value = original.clone();
    assert_eq!(inject(&mut value, &opts()).unwrap(), 1);
    assert_eq!(
        value["items"][0], original["items"][0],
        "the Service is untouched"
    );
    let containers = value["items"][1]["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers.len(), 2);
    let mut config = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n");
    let before = config.clone();
    assert_eq!(inject(&mut config, &opts()).unwrap(), 0);
    assert_eq!(config, before);
}

#[test]
fn the_app_gets_the_mesh_environment_without_losing_its_own() {
    let text = workloads()[1].1.replace(
        "value: info",
        "value: info\n            - name: HTTP_PROXY\n              value: http://corporate:3128",
    );
    let value = injected(&text);
    let pod = &value["spec"]["template"];
    let env = pod["spec"]["containers"][0]["env"].as_sequence().unwrap();
    let get = |name: &str| {
        env.iter()
            .filter(|e| e["name"] == name)
            .map(|e| e["value"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        get("HTTP_PROXY"),
        ["http://corporate:3128"],
        "the app's own value wins"
    );
    assert_eq!(get("MESH_UPSTREAM_API"), ["127.0.0.1:4150"]);
    assert_eq!(get("MESH_UPSTREAM_QUOTE_SVC"), ["127.0.0.1:4151"]);
    assert_eq!(get("LOG_LEVEL"), ["info"]);
    assert_eq!(
        pod["metadata"]["annotations"][INJECTED_ENV_ANNOTATION],
        "MESH_UPSTREAM_API,MESH_UPSTREAM_QUOTE_SVC,NO_PROXY"
    );
    // Uninject keeps the app's own HTTP_PROXY.
    let mut back = value.clone();
    uninject(&mut back).unwrap();
    assert_eq!(back, yaml(&text));
}

#[test]
fn the_sidecar_meets_pod_security_restricted_and_names_the_controller() {
    let value = injected(&workloads()[0].1);
    let proxy = value["spec"]["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == PROXY_CONTAINER)
        .unwrap()
        .clone();
    let sc = &proxy["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    let args: Vec<&str> = proxy["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.windows(2).any(|w| w
        == [
            "--control-plane",
            "https://meshctl-controller.meshctl-system.svc:8443"
        ]));
    assert!(
        args.windows(2)
            .any(|w| w == ["--inbound", "0.0.0.0:4143=127.0.0.1:8080"])
    );
    assert!(
        args.windows(2)
            .any(|w| w == ["--upstream-service", "127.0.0.1:4150=api"])
    );
    assert_eq!(
        proxy["readinessProbe"]["httpGet"]["port"],
        SIDECAR_ADMIN_PORT
    );
    let volumes = value["spec"]["volumes"].as_sequence().unwrap();
    let token = &volumes[0]["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(token["audience"], TOKEN_AUDIENCE);
    assert_eq!(value["metadata"]["labels"][SIDECAR_LABEL], "proxy");
}

#[test]
fn a_pod_without_ports_gets_no_inbound_and_the_annotation_picks_the_port() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: batch}\nspec:\n  containers: [{name: job, image: x}]\n";
    let value = injected(text);
    let args = format!("{:?}", value["spec"]["containers"][1]["args"]);
    assert!(!args.contains("--inbound"), "{args}");
    let annotated = text.replace(
        "metadata: {name: batch}",
        "metadata: {name: batch, annotations: {meshctl.io/app-port: \"9000\"}}",
    );
    let value = injected(&annotated);
    let args = format!("{:?}", value["spec"]["containers"][1]["args"]);
    assert!(args.contains("0.0.0.0:4143=127.0.0.1:9000"), "{args}");
}

#[test]
fn pods_that_cannot_be_injected_are_refused_with_a_reason() {
    let base =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: ANN\nspec:\n  SPEC\n";
    let case = |ann: &str, spec: &str| base.replace("ANN", ann).replace("SPEC", spec);
    let one = "containers: [{name: a, image: x, ports: [{containerPort: 8080}]}]";
    for (text, needle) in [
        (case("{}", "containers: []"), "no containers"),
        (
            case("{}", &format!("hostNetwork: true\n  {one}")),
            "hostNetwork",
        ),
        (
            case("{meshctl.io/upstreams: \"api,API\"}", one),
            "`API` is not a service name",
        ),
        (
            case("{meshctl.io/upstreams: \"api,api\"}", one),
            "named twice",
        ),
        (
            case("{meshctl.io/app-port: \"4143\"}", one),
            "the sidecar's own",
        ),
        (
            case("{meshctl.io/app-port: \"http\"}", one),
            "is not a port",
        ),
        (
            case(
                "{}",
                "containers: [{name: a, image: x, ports: [{containerPort: 4191}]}]",
            ),
            "one of the sidecar's",
        ),
        (
            case("{}", &format!("volumes: oops\n  {one}")),
            "spec.volumes",
        ),
    ] {
        let mut value = yaml(&text);
        let before = value.clone();
        let err = inject(&mut value, &opts()).expect_err(&text);
        assert_eq!(err.at, "Pod/p");
        assert!(err.message.contains(needle), "{needle}: {err}");
        assert_eq!(value, before, "a refused pod is left as it was: {text}");
    }
}

/// Applies the webhook's answer to `pod` the way the API server does.
fn admitted(pod: &serde_json::Value, review: &serde_json::Value) -> serde_json::Value {
    use base64::Engine as _;
    let response = &review["response"];
    assert_eq!(response["allowed"], true);
    let mut pod = pod.clone();
    if let Some(patch) = response["patch"].as_str() {
        assert_eq!(response["patchType"], "JSONPatch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
        json_patch::patch(&mut pod, &patch).unwrap();
    }
    pod
}

#[test]
fn the_webhook_patch_produces_exactly_what_meshctl_inject_writes() {
    let pod_yaml = yaml(&workloads()[0].1);
    let pod: serde_json::Value = serde_json::to_value(&pod_yaml).unwrap();
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "0b5e-42", "kind": {"kind": "Pod"}, "object": pod},
    });
    let answer = admission_review(&review, &opts());
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], "0b5e-42");
    let patched = admitted(&pod, &answer);
    let expected = serde_json::to_value(injected(&workloads()[0].1)).unwrap();
    assert_eq!(patched, expected);

    // An injected pod needs no patch; one that cannot be injected is allowed with a warning.
    let again = serde_json::json!({"request": {"uid": "2", "object": patched}});
    let answer = admission_review(&again, &opts());
    assert!(answer["response"]["patch"].is_null(), "{answer}");
    let host = serde_json::json!({"request": {"uid": "3", "object": {
        "kind": "Pod", "metadata": {"name": "h"},
        "spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "x"}]}
    }}});
    let answer = admission_review(&host, &opts());
    assert!(answer["response"]["patch"].is_null());
    let warning = answer["response"]["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("not injected") && warning.contains("hostNetwork"),
        "{warning}"
    );
}

#[test]
fn upstream_listeners_never_reach_the_admin_port() {
    let names = |n: usize| {
        (0..n)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let most = parse_upstreams(&names(MAX_UPSTREAMS)).unwrap();
    let last = upstream_port(most.len() - 1);
    assert_eq!(last, 4190);
    assert!(i32::from(last) < SIDECAR_ADMIN_PORT);
    let e = parse_upstreams(&names(MAX_UPSTREAMS + 1)).unwrap_err();
    assert!(e.contains("42 upstreams, at most 41"), "{e}");
}
