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
        // No ~/.kube/config to fall back on either (it would make the cluster the target).
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"client": {"version": env!("CARGO_PKG_VERSION")}})
    );
}

/// On Kubernetes an API server that does not answer is reported with the client's version,
/// exit 0, like a local control plane that does not.
#[test]
fn version_reports_an_unreachable_cluster_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\n\
             clusters: [{{name: gone, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\n\
             contexts: [{{name: gone, context: {{cluster: gone, user: dev}}}}]\n\
             users: [{{name: dev, user: {{token: t}}}}]\n"
        ),
    )
    .unwrap();
    let out = crate::support::meshctl()
        .args([
            "version",
            "-o",
            "json",
            "--target",
            "kubernetes",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .args(["--request-timeout", "5s"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["client"]["version"], env!("CARGO_PKG_VERSION"), "{v}");
    let cp = &v["control_plane"];
    assert_eq!(cp["context"], "gone", "{v}");
    assert!(cp.get("version").is_none(), "{v}");
    let error = cp["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{v}");
    assert!(error.contains("meshctl-system/meshctl-controller"), "{v}");
}

/// `COMPLETE=SHELL meshctl`: dynamic completion offers the local mesh's services and
/// versions (from its plan file), as the shell would ask for them.
#[test]
fn dynamic_completion_offers_the_local_mesh_s_services_and_versions() {
    let (web, v1, v2) = (
        crate::mesh::free_port(),
        crate::mesh::free_port(),
        crate::mesh::free_port(),
    );
    let up = Up::start(&format!(
        "services:\n  web:\n    port: {web}\n  api:\n    versions:\n      v1: {{ port: {v1} }}\n      v2: {{ port: {v2} }}\n"
    ));
    let complete = |words: &[&str]| -> Vec<String> {
        let out = up
            .cmd()
            .env("COMPLETE", "fish")
            .arg("--")
            .args(words)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            // An empty word is offered the flags too.
            .filter(|v| !v.starts_with('-'))
            .collect()
    };
    assert_eq!(
        complete(&["meshctl", "stat", "a"]),
        ["api", "api/v1", "api/v2"]
    );
    assert_eq!(
        complete(&["meshctl", "fault", "inject", ""]),
        ["api", "web"]
    );
    assert_eq!(complete(&["meshctl", "tap", "web", "--to", "a"]), ["api"]);
    assert_eq!(
        complete(&["meshctl", "canary", "shift", "api", "--to", ""]),
        ["v1", "v2"]
    );
    // Outside the mesh's directory: no names (and no error).
    let elsewhere = tempfile::tempdir().unwrap();
    let out = crate::support::meshctl()
        .current_dir(elsewhere.path())
        .env("HOME", elsewhere.path())
        .env("COMPLETE", "fish")
        .args(["--", "meshctl", "stat", "a"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // The registration script calls back into meshctl.
    let out = up.cmd().env("COMPLETE", "bash").output().unwrap();
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("COMPLETE=\"bash\""), "{script}");
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

/// [`three_services`] with `x-canary: 1` routed to api v2 by a route named `canary`.
fn canary_by_header() -> String {
    three_services().replace(
        "  quotes:\n",
        "    policy: { routes: [{ name: canary, match: { headers: { x-canary: \"1\" } }, version: v2 }] }\n  quotes:\n",
    )
}

/// Through front's proxy: `v1` GETs to api, `v2` with `x-canary: 1`, one good gRPC call to
/// quotes and one it refuses (INVALID_ARGUMENT). Returns how many answers came from each
/// api version.
fn traffic(up: &Up, v1: usize, v2: usize) -> (usize, usize) {
    let api = up.upstream("front", "api");
    let quotes = up.upstream("front", "quotes");
    let urls = |n: usize| vec![format!("http://{api}/hello"); n];
    let plain = curl(&urls(v1), &[]);
    let canary = curl(&urls(v2), &["-H", "x-canary: 1"]);
    crate::mesh::get_quote(&quotes, "MESH").unwrap();
    let bad = crate::mesh::get_quote(&quotes, "not valid").unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let count =
        |text: &str, version: &str| text.matches(&format!("\"version\": \"{version}\"")).count();
    (
        count(&plain, "v1") + count(&canary, "v1"),
        count(&plain, "v2") + count(&canary, "v2"),
    )
}

/// Labelled response metrics on real proxies: the caller's proxy counts each response under
/// the version that answered, its status code, and a gRPC status read from the head
/// (trailers-only) or, for a streamed answer, from its trailers; the callee's proxy counts
/// the caller by identity. promtool accepts the exposition.
#[test]
fn response_metrics_carry_peer_version_status_code_and_grpc_status() {
    let up = Up::start(&canary_by_header());
    let (v1, v2) = traffic(&up, 3, 2);
    assert_eq!((v1, v2), (3, 2));

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
            "peer_service=\"api\",peer_version=\"v1\",route=\"\",status_code=\"200\",grpc_status=\"\",classification=\"success\"",
            3,
        ),
        outbound(
            "peer_service=\"api\",peer_version=\"v2\",route=\"canary\",status_code=\"200\",grpc_status=\"\",classification=\"success\"",
            2,
        ),
        outbound(
            "peer_service=\"quotes\",peer_version=\"\",route=\"\",status_code=\"200\",grpc_status=\"0\",classification=\"success\"",
            1,
        ),
        outbound(
            "peer_service=\"quotes\",peer_version=\"\",route=\"\",status_code=\"200\",grpc_status=\"3\",classification=\"failure\"",
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
            "meshctl_responses_total{direction=\"inbound\",peer_namespace=\"local\",peer_service=\"front\",peer_version=\"\",route=\"\",status_code=\"200\",grpc_status=\"\",classification=\"success\"} 2"
        ]
    );
}

/// The Grafana dashboard (dashboards/meshctl.json) against a real Prometheus — Debian's
/// package, which the test script installs — scraping a running mesh through the job
/// `meshctl prometheus-config` prints: every expression runs, names only metrics the proxies
/// export, and returns data (per version where the panel is per version).
#[test]
fn the_grafana_dashboard_queries_a_prometheus_scraping_the_mesh() {
    let prometheus = which("prometheus").unwrap_or_else(|| {
        panic!(
            "prometheus not found: run the project's test script, which installs the Debian \
             `prometheus` package"
        )
    });
    let dashboard: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/meshctl.json"
    )))
    .unwrap();
    let up = Up::start(&canary_by_header());
    let out = (up.cmd())
        .args(["prometheus-config", "--interval", "1s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let config = up.dir.path().join("prometheus.yml");
    std::fs::write(&config, &out.stdout).unwrap();
    let port = crate::mesh::free_port();
    let log = std::fs::File::create(up.dir.path().join("prometheus.log")).unwrap();
    let server = std::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            up.dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _server = KillOnDrop(server);
    let query = |expr: &str| -> serde_json::Value {
        let body = curl(
            &[format!("http://127.0.0.1:{port}/api/v1/query")],
            &["--data-urlencode", &format!("query={expr}")],
        );
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"].clone()
    };
    let proxies = up.plan()["proxies"].as_array().unwrap().len();
    wait_until("Prometheus scrapes every proxy", || {
        std::process::Command::new("curl")
            // --fail: Prometheus answers 503 until it is ready (curl alone exits 0 on it).
            .args([
                "-s",
                "--fail",
                "-o",
                "/dev/null",
                &format!("http://127.0.0.1:{port}/-/ready"),
            ])
            .status()
            .is_ok_and(|s| s.success())
            && query("sum(up)")
                .as_array()
                .and_then(|r| r.first())
                .and_then(|s| s["value"][1].as_str())
                == Some(&proxies.to_string())
    });

    let per_version = "sum by (peer_version) (rate(meshctl_responses_total{direction=\"outbound\",peer_service=\"api\"}[15s]))";
    wait_until("rates for both api versions", || {
        traffic(&up, 4, 2);
        let result = query(per_version);
        let rated = |v: &str| {
            result.as_array().unwrap().iter().any(|s| {
                s["metric"]["peer_version"] == v
                    && s["value"][1].as_str().and_then(|n| n.parse::<f64>().ok()) > Some(0.0)
            })
        };
        rated("v1") && rated("v2")
    });

    // What the proxies export, to check every name an expression uses.
    let mut exported = String::new();
    for p in up.plan()["proxies"].as_array().unwrap() {
        exported += &curl(
            &[format!("http://{}/metrics", p["admin"].as_str().unwrap())],
            &[],
        );
    }
    let name = regex_lite_names();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        let Some(targets) = panel["targets"].as_array() else {
            continue;
        };
        let title = panel["title"].as_str().unwrap();
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            for metric in name(expr) {
                // A series, or at least its family (one without series yet has HELP/TYPE).
                let family = metric.strip_suffix("_bucket").unwrap_or(&metric);
                assert!(
                    exported.contains(&format!("\n{metric}{{"))
                        || exported.contains(&format!("\n{metric} "))
                        || exported.contains(&format!("# TYPE {family} ")),
                    "{title}: {metric} is not exported by any proxy"
                );
            }
            let concrete = expr
                // Every sample since the mesh started: a 15 s window could miss the demo's
                // sparse failures on a loaded machine.
                .replace("$__rate_interval", "5m")
                .replace("$service", ".+");
            // Nothing failed a TLS handshake here: that panel alone may be empty.
            let may_be_empty = title == "mTLS handshake failures";
            let per_version = title.ends_with("by version") || title == "Split: observed share";
            // Prometheus scrapes each proxy on its own schedule: a rate needs two samples of
            // that proxy's series, so poll (with more traffic) instead of asking once.
            let start = std::time::Instant::now();
            loop {
                let result = query(&concrete);
                let series = result.as_array().unwrap();
                let missing = if series.is_empty() && !may_be_empty {
                    Some("nothing".to_string())
                } else if per_version {
                    ["v1", "v2"]
                        .into_iter()
                        .find(|v| !series.iter().any(|s| s["metric"]["peer_version"] == *v))
                        .map(|v| format!("no {v} series in {result}"))
                } else {
                    None
                };
                let Some(missing) = missing else { break };
                assert!(
                    start.elapsed() < crate::mesh::PATIENCE,
                    "{title}: `{concrete}` returned {missing}"
                );
                traffic(&up, 1, 1);
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} expressions checked");
    // The configured split is the one the callers' proxies hold: v1 100, v2 0.
    let split = query("max by (dst_version) (meshctl_split_weight{dst_service=\"api\"})");
    let weight = |v: &str| {
        split
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["metric"]["dst_version"] == v)
            .map(|s| s["value"][1].clone())
    };
    assert_eq!(
        (weight("v1"), weight("v2")),
        (Some("100".into()), Some("0".into())),
        "{split}"
    );
}

/// The metric names an expression uses (`meshctl_…`, `identity_…`).
fn regex_lite_names() -> impl Fn(&str) -> Vec<String> {
    |expr: &str| {
        let mut names = Vec::new();
        let bytes = expr.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &expr[i..];
            let boundary =
                i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            if boundary && (rest.starts_with("meshctl_") || rest.starts_with("identity_")) {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                names.push(rest[..end].to_string());
                i += end;
            } else {
                i += 1;
            }
        }
        names
    }
}

/// A child process killed (and reaped) when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
