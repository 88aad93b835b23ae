//! meshctl in the wider ecosystem (issue #24): the admin HTTP client against real proxies'
//! admin listeners, the Prometheus `file_sd` targets `meshctl up` keeps, the scrape job
//! `meshctl prometheus-config` prints (checked by promtool when installed), and
//! `meshctl version` asking the running control plane.

use std::time::Duration;

use meshctl::api::admin_http::{AdminClient, AdminError};

use crate::mesh::{Up, curl, three_services, wait_until};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn up_keeps_file_sd_targets_the_admin_client_reads_and_promtool_accepts() {
    let up = Up::start(&three_services());
    let plan = up.plan();
    let proxies = plan["proxies"].as_array().unwrap();
    let targets_path = up.state().join("run/prometheus-targets.json");

    // Every proxy's admin listener, labelled service, version and instance, in plan order.
    let targets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&targets_path).unwrap()).unwrap();
    let groups = targets.as_array().unwrap();
    assert_eq!(groups.len(), proxies.len(), "{targets}");
    for (group, proxy) in groups.iter().zip(proxies) {
        // file_sd: an object with exactly `targets` (host:port strings) and `labels`.
        let keys: Vec<&String> = group.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["labels", "targets"], "{group}");
        assert_eq!(group["targets"], serde_json::json!([proxy["admin"]]));
        let mut labels = serde_json::json!({
            "service": proxy["service"],
            "instance": proxy["name"],
        });
        if let Some(v) = proxy["version"].as_str() {
            labels["version"] = v.into();
        }
        assert_eq!(group["labels"], labels, "{group}");
    }

    // The real admin listeners through the admin client: /ready, /config, /stats, and a
    // one-line error naming the URL for a path they do not serve.
    let client = AdminClient::local().unwrap();
    runtime().block_on(async {
        for proxy in proxies {
            let admin = proxy["admin"].as_str().unwrap().parse().unwrap();
            let base = AdminClient::local_base(admin).unwrap();
            client.ready(&base).await.unwrap();
            let config = client.config(&base).await.unwrap();
            assert!(config.is_object(), "{config}");
            let stats = client.stats(&base, Duration::from_secs(10)).await.unwrap();
            let _ = stats.peers;
            let err = client.get(&base, "nope").await.unwrap_err();
            assert!(matches!(err, AdminError::Status { .. }), "{err:?}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("GET http://{admin}/nope: answered 404 Not Found")),
                "{text}"
            );
            assert!(!text.contains('\n'), "{text}");
        }
    });

    // The printed scrape job reads exactly that file; promtool validates it (and the file).
    let out = up.cmd().arg("prometheus-config").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let config = String::from_utf8(out.stdout).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&config).unwrap();
    let files = &yaml["scrape_configs"][0]["file_sd_configs"][0]["files"][0];
    assert_eq!(
        std::path::Path::new(files.as_str().unwrap())
            .canonicalize()
            .unwrap(),
        targets_path.canonicalize().unwrap()
    );
    match which("promtool") {
        Some(promtool) => {
            let file = up.dir.path().join("prometheus.yml");
            std::fs::write(&file, &config).unwrap();
            let check = std::process::Command::new(promtool)
                .args(["check", "config"])
                .arg(&file)
                .output()
                .unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
            assert!(check.status.success(), "promtool: {said}");
            assert!(!said.contains("WARNING"), "promtool: {said}");
        }
        None => eprintln!("promtool is not installed: skipping `promtool check config`"),
    }

    // `meshctl version` gets the control plane's version through its status call.
    let out = up.cmd().args(["version", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = env!("CARGO_PKG_VERSION");
    assert_eq!(
        v,
        serde_json::json!({"client": {"version": mine}, "control_plane": {"version": mine}})
    );

    // A stopped mesh leaves an empty target list at the same path for Prometheus to follow.
    // (`stop` consumes the mesh and its temp dir: keep the dir to look inside afterwards.)
    let mut up = up;
    let dir = std::mem::replace(&mut up.dir, tempfile::tempdir().unwrap());
    assert_eq!(up.stop(), Some(0));
    let after =
        std::fs::read_to_string(dir.path().join(".meshctl/run/prometheus-targets.json")).unwrap();
    assert_eq!(after.trim(), "[]");
}

#[test]
fn admin_port_in_mesh_yaml_fixes_the_proxy_s_admin_listener_and_its_target() {
    let (app, admin) = (crate::mesh::free_port(), crate::mesh::free_port());
    // No command: meshctl only proxies an app started elsewhere (none here, which is fine).
    let up = Up::start(&format!(
        "services:\n  web:\n    port: {app}\n    admin_port: {admin}\n"
    ));
    let addr = format!("127.0.0.1:{admin}");
    assert_eq!(up.proxy_field("web", "admin"), addr);
    let targets: serde_json::Value = serde_json::from_slice(
        &std::fs::read(up.state().join("run/prometheus-targets.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        targets,
        serde_json::json!([{"targets": [addr], "labels": {"service": "web", "instance": "web"}}])
    );
    let base = AdminClient::local_base(addr.parse().unwrap()).unwrap();
    runtime().block_on(async { AdminClient::local().unwrap().ready(&base).await.unwrap() });
}

#[test]
fn version_without_a_mesh_shows_the_client_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::meshctl()
        .args(["version", "-o", "json"])
        .current_dir(dir.path())
        .env_remove("MESHCTL_STATE_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"client": {"version": env!("CARGO_PKG_VERSION")}})
    );
}

#[test]
fn completion_writes_the_same_script_generate_writes() {
    for (shell, file) in [
        ("bash", "meshctl.bash"),
        ("zsh", "_meshctl"),
        ("fish", "meshctl.fish"),
        ("powershell", "_meshctl.ps1"),
    ] {
        let out = crate::support::meshctl()
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let committed = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap();
        assert!(
            out.stdout == committed,
            "{shell}: differs from completions/{file}"
        );
    }
    let out = crate::support::meshctl()
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// Labelled response metrics on real proxies: the caller's proxy counts each response under
/// the version that answered, its status code, and a gRPC status read from the head
/// (trailers-only) or, for a streamed answer, from its trailers; the callee's proxy counts
/// the caller by identity. promtool accepts the exposition.
#[test]
fn response_metrics_carry_peer_version_status_code_and_grpc_status() {
    let yaml = three_services().replace(
        "  quotes:\n",
        "    policy: { routes: [{ match: { headers: { x-canary: \"1\" } }, version: v2 }] }\n  quotes:\n",
    );
    let up = Up::start(&yaml);
    let api = up.upstream("front", "api");
    let quotes = up.upstream("front", "quotes");
    let urls = |n: usize| vec![format!("http://{api}/hello"); n];
    curl(&urls(3), &[]);
    curl(&urls(2), &["-H", "x-canary: 1"]);
    crate::mesh::get_quote(&quotes, "MESH").unwrap();
    let bad = crate::mesh::get_quote(&quotes, "not valid").unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    let series = |admin: &str| -> Vec<String> {
        let text = curl(&[format!("http://{admin}/metrics")], &[]);
        crate::proxy::promtool_check(&text);
        text.lines()
            .filter(|l| l.starts_with("meshctl_responses_total{"))
            .map(str::to_string)
            .collect()
    };
    let front = up.proxy_field("front", "admin");
    let outbound = |labels: &str, n: u32| {
        format!(
            "meshctl_responses_total{{direction=\"outbound\",peer_namespace=\"local\",{labels}}} {n}"
        )
    };
    // A streamed gRPC answer is counted when its trailers arrive, just after the call returns.
    let mut seen = Vec::new();
    wait_until("the gRPC call's trailers are counted", || {
        seen = series(&front);
        seen.iter().any(|l| l.contains("grpc_status=\"0\""))
    });
    let expected = [
        outbound(
            "peer_service=\"api\",peer_version=\"v1\",status_code=\"200\",grpc_status=\"\",classification=\"success\"",
            3,
        ),
        outbound(
            "peer_service=\"api\",peer_version=\"v2\",status_code=\"200\",grpc_status=\"\",classification=\"success\"",
            2,
        ),
        outbound(
            "peer_service=\"quotes\",peer_version=\"\",status_code=\"200\",grpc_status=\"0\",classification=\"success\"",
            1,
        ),
        outbound(
            "peer_service=\"quotes\",peer_version=\"\",status_code=\"200\",grpc_status=\"3\",classification=\"failure\"",
            1,
        ),
    ];
    for line in &expected {
        assert!(seen.contains(line), "missing {line}\nin {seen:#?}");
    }
    assert_eq!(seen.len(), expected.len(), "{seen:#?}");

    // The callee's side: the caller by its verified identity (a caller has no version).
    let v2 = series(&up.proxy_field("api.v2", "admin"));
    assert_eq!(
        v2,
        [
            "meshctl_responses_total{direction=\"inbound\",peer_namespace=\"local\",peer_service=\"front\",peer_version=\"\",status_code=\"200\",grpc_status=\"\",classification=\"success\"} 2"
        ]
    );
}
