//! `meshctl stat` and `meshctl edges` on a real mesh: known traffic in, the right figures out.

use std::process::Command;
use std::time::Instant;

use crate::mesh::{Up, three_services};

/// `curl` every URL over one keep-alive connection, whatever the status; returns the statuses.
fn statuses(urls: &[String]) -> Vec<u16> {
    let out = Command::new("curl")
        .args(["-s", "-m", "60", "-w", "\\nstatus=%{http_code}\\n"])
        .args(urls)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("status="))
        .map(|l| l.parse().unwrap())
        .collect()
}

fn json(up: &Up, args: &[&str]) -> serde_json::Value {
    let out = up.cmd().args(args).args(["-o", "json"]).assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn stat_shows_the_success_rate_rps_and_percentiles_of_a_known_mix() {
    let up = Up::start(&three_services());

    // Idle: rows, but no figures.
    let idle = json(&up, &["stat", "api"]);
    assert_eq!(idle["rows"][0]["requests"], 0);
    assert!(idle["rows"][0]["rps"].is_null());
    let table = up.cmd().args(["stat", "api"]).assert().success();
    let table = String::from_utf8(table.get_output().stdout.clone()).unwrap();
    let api = table.lines().nth(1).unwrap().trim_start();
    assert!(api.starts_with("api") && api.contains(" - "), "{table}");

    // 200 requests, every tenth a 500, each delayed 20 ms by the app.
    let api = up.upstream("front", "api");
    let urls: Vec<String> = (0..200)
        .map(|i| {
            let status = if i % 10 == 0 { 500 } else { 200 };
            format!("http://{api}/r{i}?status={status}&delay_ms=20")
        })
        .collect();
    let start = Instant::now();
    let got = statuses(&urls);
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(got.iter().filter(|&&s| s == 500).count(), 20);

    let stat = json(&up, &["stat", "api", "-t", "10s"]);
    let row = &stat["rows"][0];
    assert_eq!(row["requests"], 200);
    assert_eq!(row["success_rate"], 0.9);
    assert_eq!(row["meshed"]["reporting"], 2);
    // All 200 fall in the window: RPS is between 200 over the whole window and 200 over the
    // time the load took.
    let rps = row["rps"].as_f64().unwrap();
    assert!(
        (200.0 / 10.0 * 0.99..=200.0 / elapsed * 1.01).contains(&rps),
        "rps {rps}, load took {elapsed:.2}s"
    );
    let p = |q: &str| row[format!("latency_ms_{q}")].as_f64().unwrap();
    assert!(p("p50") >= 20.0 && p("p50") < 100.0, "p50 {}", p("p50"));
    assert!(p("p50") <= p("p95") && p("p95") <= p("p99"), "{row}");
    assert_eq!(row["versions"][0]["weight"], 100);
    assert_eq!(row["versions"][0]["observed_share"], 1.0);
    insta::assert_json_snapshot!("stat_api_json", stat, {
        ".rows[].rps" => "[rps]",
        ".rows[].latency_ms_p50" => "[ms]",
        ".rows[].latency_ms_p95" => "[ms]",
        ".rows[].latency_ms_p99" => "[ms]",
        ".rows[].tcp_connections" => "[n]",
        ".rows[].read_bytes_per_sec" => "[B/s]",
        ".rows[].write_bytes_per_sec" => "[B/s]",
        ".rows[].versions[].rps" => "[rps]",
        ".rows[].versions[].latency_ms_p50" => "[ms]",
        ".rows[].versions[].latency_ms_p95" => "[ms]",
        ".rows[].versions[].latency_ms_p99" => "[ms]",
        ".rows[].versions[].tcp_connections" => "[n]",
        ".rows[].versions[].read_bytes_per_sec" => "[B/s]",
        ".rows[].versions[].write_bytes_per_sec" => "[B/s]",
    });

    let table = up
        .cmd()
        .args(["stat", "api", "-t", "10s"])
        .assert()
        .success();
    let table = String::from_utf8(table.get_output().stdout.clone()).unwrap();
    assert!(table.contains("90.00%"), "{table}");
    assert!(table.contains("└─ v2"), "{table}");

    // --from / --to pick the peers.
    assert_eq!(
        json(&up, &["stat", "api", "--from", "front"])["rows"][0]["requests"],
        200
    );
    assert_eq!(
        json(&up, &["stat", "api", "--from", "quotes"])["rows"][0]["requests"],
        0
    );
    assert_eq!(
        json(&up, &["stat", "front", "--to", "api"])["rows"][0]["requests"],
        200
    );

    // Edges: front → api.v1 over mTLS, with both identities.
    let edges = json(&up, &["edges"]);
    let edge = edges["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["dst"] == "api")
        .unwrap()
        .clone();
    // Both ends by service name (the server's version alongside), not an instance name.
    assert_eq!(edge["dst_version"], "v1");
    assert_eq!(edge["src"], "front");
    assert_eq!(edge["client_id"], "spiffe://mesh.local/ns/local/sa/front");
    assert_eq!(edge["server_id"], "spiffe://mesh.local/ns/local/sa/api");
    assert_eq!(edge["mtls"], true);
    assert_eq!(edge["requests"], 200);

    // --watch: a snapshot every 2 s as NDJSON until Ctrl-C, then exit 0.
    let watch = Command::new(crate::support::meshctl_bin())
        .args(["stat", "api", "-w", "-o", "json"])
        .current_dir(up.dir.path())
        .env_remove("MESHCTL_STATE_DIR")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let pid = nix::unistd::Pid::from_raw(watch.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = watch.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines.iter().all(|l| l["rows"][0]["name"] == "api"));

    up.cmd().args(["stat", "-t", "5s"]).assert().code(2);
    up.cmd().args(["stat", "nope"]).assert().code(2);
    up.cmd().args(["stat", "api/v9"]).assert().code(2);
}

#[test]
fn stat_shows_configured_weights_beside_observed_shares_after_a_shift() {
    let up = Up::start(&three_services());
    up.cmd()
        .args([
            "canary", "shift", "api", "--to", "v2", "--weight", "20", "--wait",
        ])
        .assert()
        .success();
    let api = up.upstream("front", "api");
    let urls: Vec<String> = (0..1000).map(|i| format!("http://{api}/s{i}")).collect();
    assert!(statuses(&urls).iter().all(|&s| s == 200));
    let stat = json(&up, &["stat", "api", "-t", "30s"]);
    let versions = &stat["rows"][0]["versions"];
    assert_eq!(versions[0]["weight"], 80);
    assert_eq!(versions[1]["weight"], 20);
    // Binomial(1000, 0.2): sd ≈ 0.0126; ±5 sd.
    let share = versions[1]["observed_share"].as_f64().unwrap();
    assert!((share - 0.2).abs() < 0.063, "v2 share {share}");
    let table = up.cmd().args(["stat", "api"]).assert().success();
    let table = String::from_utf8(table.get_output().stdout.clone()).unwrap();
    assert!(table.contains("WEIGHT") && table.contains("80%"), "{table}");
}

/// Never in any tap output or log.
const SECRET: &str = "s3cr3t-t0ken-value";

pub(crate) fn spawn_tap(up: &Up, args: &[&str]) -> std::process::Child {
    Command::new(crate::support::meshctl_bin())
        .arg("tap")
        .args(args)
        .current_dir(up.dir.path())
        .env("NO_COLOR", "1")
        .env_remove("MESHCTL_STATE_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn finish(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tap_streams_redacted_filtered_events_of_real_requests() {
    let up = Up::start(&three_services());
    let api = up.upstream("front", "api");
    let bounded = vec![
        (
            "json",
            spawn_tap(
                &up,
                &["api", "--path", "/tapme", "--max-events", "3", "-o", "json"],
            ),
        ),
        (
            "text",
            spawn_tap(&up, &["api", "--path", "/tapme", "--max-events", "3"]),
        ),
        (
            "5xx",
            spawn_tap(
                &up,
                &["api", "--status", "5xx", "--max-events", "3", "-o", "json"],
            ),
        ),
        (
            "out",
            spawn_tap(
                &up,
                &["front", "--to", "api", "--max-events", "3", "-o", "json"],
            ),
        ),
        (
            "authority",
            spawn_tap(
                &up,
                &[
                    "api",
                    "--authority",
                    &api,
                    "--max-events",
                    "3",
                    "-o",
                    "json",
                ],
            ),
        ),
    ];
    let top = Command::new(crate::support::meshctl_bin())
        .args(["top", "api", "--duration", "4s", "-o", "json"])
        .current_dir(up.dir.path())
        .env_remove("MESHCTL_STATE_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Every proxy: front's outbound and api's inbound both see each call.
    let top_all = Command::new(crate::support::meshctl_bin())
        .args(["top", "--duration", "4s", "-o", "json"])
        .current_dir(up.dir.path())
        .env_remove("MESHCTL_STATE_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let timed = vec![
        ("top", top),
        ("top-all", top_all),
        (
            "post",
            spawn_tap(&up, &["api", "--method", "POST", "--duration", "4s"]),
        ),
        (
            "quotes",
            spawn_tap(&up, &["front", "--to", "quotes", "--duration", "4s"]),
        ),
        (
            "path",
            spawn_tap(&up, &["api", "--path", "/nothing", "--duration", "4s"]),
        ),
        (
            "other-authority",
            spawn_tap(
                &up,
                &["api", "--authority", "elsewhere", "--duration", "4s"],
            ),
        ),
    ];
    // Traffic until every bounded tap has its events (and the timed ones have run out).
    let mut bounded: Vec<_> = bounded.into_iter().map(|(n, c)| (n, Some(c))).collect();
    let start = Instant::now();
    while bounded
        .iter_mut()
        .any(|(_, c)| c.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none()))
        || start.elapsed() < std::time::Duration::from_secs(5)
    {
        assert!(
            start.elapsed() < crate::mesh::PATIENCE,
            "taps saw too little"
        );
        for status in [200, 500] {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-m", "10"])
                .args(["-H", &format!("authorization: Bearer {SECRET}")])
                .args(["-H", &format!("cookie: session={SECRET}")])
                .arg(format!("http://{api}/tapme?status={status}&delay_ms=20"))
                .status()
                .unwrap();
            assert!(out.success());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut outputs = std::collections::HashMap::new();
    for (name, child) in bounded
        .into_iter()
        .chain(timed.into_iter().map(|(n, c)| (n, Some(c))))
    {
        outputs.insert(name, finish(child.unwrap()));
    }
    for (name, out) in &outputs {
        assert!(!out.contains(SECRET), "{name} leaked the secret: {out}");
    }

    // JSON: req, rsp, end of one request, in order, redacted, with status and latency.
    let events = json_lines(&outputs["json"]);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["req", "rsp", "end"], "{}", outputs["json"]);
    assert!(events.iter().all(|e| e["id"] == events[0]["id"]));
    let (req, rsp, end) = (&events[0], &events[1], &events[2]);
    assert_eq!(
        (req["direction"].as_str(), req["tls"].as_bool()),
        (Some("in"), Some(true))
    );
    assert_eq!(req["method"], "GET");
    assert_eq!(req["path"], "/tapme");
    assert_eq!(req["headers"]["authorization"], "<redacted>");
    assert_eq!(req["headers"]["cookie"], "<redacted>");
    assert_eq!(req["client_id"], "spiffe://mesh.local/ns/local/sa/front");
    assert_eq!(req["server_id"], "spiffe://mesh.local/ns/local/sa/api");
    assert_eq!(req["service"], "api");
    let status = rsp["status"].as_u64().unwrap();
    assert!(status == 200 || status == 500);
    let latency = rsp["latency_us"].as_u64().unwrap();
    assert!(
        (20_000..2_000_000).contains(&latency),
        "latency {latency}µs"
    );
    assert!(end["duration_us"].as_u64().unwrap() >= latency);
    assert!(end["response_bytes"].as_u64().unwrap() > 0);

    // Text: the three documented lines (req, rsp, end).
    let text: Vec<&str> = outputs["text"].lines().collect();
    assert_eq!(text.len(), 3, "{}", outputs["text"]);
    assert!(text[0].starts_with("req id=api.") && text[0].contains("proxy=in"));
    assert!(
        text[0].contains("tls=true :method=GET :authority=") && text[0].contains(":path=/tapme")
    );
    assert!(text[1].starts_with("rsp ") && text[1].contains(":status=") && text[1].contains("µs"));
    assert!(text[2].starts_with("end ") && text[2].contains("response-length="));

    // Filters.
    let errors = json_lines(&outputs["5xx"]);
    assert_eq!(errors[1]["status"], 500, "{}", outputs["5xx"]);
    let out = json_lines(&outputs["out"]);
    assert_eq!(out[0]["direction"], "out");
    assert_eq!(out[0]["proxy"], "front");
    assert_eq!(
        json_lines(&outputs["authority"])[0]["authority"],
        api.as_str()
    );
    // top without a terminal: one snapshot of the busiest routes.
    let top: serde_json::Value = serde_json::from_str(&outputs["top"]).unwrap();
    let route = &top[0];
    assert_eq!(
        (route["source"].as_str(), route["path"].as_str()),
        (Some("front"), Some("/tapme"))
    );
    assert!(route["count"].as_u64().unwrap() >= 2, "{top}");
    assert!(route["worst_us"].as_u64().unwrap() >= route["best_us"].as_u64().unwrap());
    // Watching every proxy, a call is one row (counted by the callee), not one per direction.
    let all: serde_json::Value = serde_json::from_str(&outputs["top-all"]).unwrap();
    let tapme: Vec<&serde_json::Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/tapme")
        .collect();
    assert_eq!(tapme.len(), 1, "{all:#}");
    assert_eq!(
        (
            tapme[0]["source"].as_str(),
            tapme[0]["destination"].as_str()
        ),
        (Some("front"), route["destination"].as_str()),
        "{all:#}"
    );
    assert_eq!(route["destination"], "api/v1", "{top}");
    // Same traffic, same 4 s: about the api-only count, not twice it.
    let (all_count, api_count) = (
        tapme[0]["count"].as_u64().unwrap(),
        route["count"].as_u64().unwrap(),
    );
    assert!(
        all_count * 2 < api_count * 3,
        "{all_count} calls counted watching every proxy, {api_count} watching api"
    );

    for name in ["post", "quotes", "path", "other-authority"] {
        assert_eq!(outputs[name], "", "{name} should have matched nothing");
    }

    // Nothing secret in any log of the mesh.
    for entry in std::fs::read_dir(up.state().join("logs")).unwrap() {
        let path = entry.unwrap().path();
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(!log.contains(SECRET), "{} has the secret", path.display());
    }
}

#[test]
fn tap_refuses_callers_without_the_admin_token() {
    let up = Up::start(&three_services());
    let tap = up.proxy_field("api.v1", "tap");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use meshctl::api::proto::tap::{WatchRequest, tap_client::TapClient};
        let mut client = TapClient::connect(format!("http://{tap}")).await.unwrap();
        let anonymous = client.watch(WatchRequest::default()).await.unwrap_err();
        assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
        let mut wrong = tonic::Request::new(WatchRequest::default());
        wrong
            .metadata_mut()
            .insert("authorization", "Bearer not-the-token".parse().unwrap());
        let refused = client.watch(wrong).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    });
}

/// POSTs `body` with `content_type` to `url` (chunked: without a length), carrying the secret
/// in its credential headers too.
fn post(url: &str, content_type: &str, body: &str, chunked: bool) {
    let mut curl = Command::new("curl");
    curl.args(["-s", "-o", "/dev/null", "-m", "10", "-f"])
        .args(["-H", &format!("content-type: {content_type}")])
        .args(["-H", &format!("authorization: Bearer {SECRET}")])
        .args(["--data-binary", body]);
    if chunked {
        curl.args(["-H", "transfer-encoding: chunked"]);
    }
    assert!(curl.arg(url).status().unwrap().success(), "POST {url}");
}

#[test]
fn tap_body_capture_is_off_by_default_cut_to_size_and_redacted() {
    let up = Up::start(&three_services());
    let api = up.upstream("front", "api");
    let json_body = format!(r#"{{"user":"ann","password":"{SECRET}","n":1}}"#);
    let form_body = format!("user=ann&client_secret={SECRET}");
    let tap = |path: &str, extra: &[&str]| {
        let mut args = vec!["api", "--path", path, "--max-events", "3", "-o", "json"];
        args.extend_from_slice(extra);
        spawn_tap(&up, &args)
    };
    let taps = vec![
        ("json", "/json", tap("/json", &["--body", "1KiB"])),
        ("cut", "/json", tap("/json", &["--body", "16"])),
        ("off", "/json", tap("/json", &[])),
        ("form", "/form", tap("/form", &["--body", "1KiB"])),
        ("notjson", "/notjson", tap("/notjson", &["--body", "1KiB"])),
        (
            "streamed",
            "/streamed",
            tap("/streamed", &["--body", "1KiB"]),
        ),
    ];
    let mut outputs = std::collections::HashMap::new();
    let start = Instant::now();
    for (name, path, mut child) in taps {
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < crate::mesh::PATIENCE,
                "{name} saw too little"
            );
            let url = format!("http://{api}{path}");
            match path {
                "/json" => post(&url, "application/json", &json_body, false),
                "/form" => post(&url, "application/x-www-form-urlencoded", &form_body, false),
                // Typed JSON, not JSON (the app echoes only exact application/json).
                "/notjson" => post(
                    &url,
                    "application/json; charset=utf-8",
                    &format!("user=ann password: {SECRET}"),
                    false,
                ),
                _ => post(&url, "application/json", &json_body, true),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        outputs.insert(name, json_lines(&finish(child)));
    }
    for (name, events) in &outputs {
        let text = format!("{events:?}");
        assert!(!text.contains(SECRET), "{name} leaked the secret: {text}");
        assert_eq!(events.len(), 3, "{name}: {text}");
    }

    // The whole request body, redacted; the response body (the echo) redacted too: the
    // password it echoes and the authorization header it reports.
    let (req, end) = (&outputs["json"][0], &outputs["json"][2]);
    assert_eq!(
        req["body"], r#"{"user":"ann","password":"<redacted>","n":1}"#,
        "{req}"
    );
    assert!(req.get("body_truncated").is_none());
    let echoed: serde_json::Value =
        serde_json::from_str(end["body"].as_str().expect("a response body")).unwrap();
    assert_eq!(echoed["json"]["password"], "<redacted>");
    assert_eq!(echoed["json"]["user"], "ann");
    assert_eq!(echoed["headers"]["authorization"], "<redacted>");

    // --body 16: cut, and said so.
    let (req, end) = (&outputs["cut"][0], &outputs["cut"][2]);
    assert_eq!(req["body"], r#"{"user":"ann","p"#);
    assert_eq!(req["body_truncated"], true);
    assert_eq!(end["body"].as_str().unwrap().len(), 16);
    assert_eq!(end["body_truncated"], true);

    // Off by default: no body at all.
    for e in &outputs["off"] {
        assert!(
            e.get("body").is_none() && e.get("body_skipped").is_none(),
            "{e}"
        );
    }

    // A form body: its credential field redacted.
    assert_eq!(
        outputs["form"][0]["body"],
        "user=ann&client_secret=<redacted>"
    );

    // A body typed as JSON that is not JSON: redacted whole, never shown raw.
    assert_eq!(
        outputs["notjson"][0]["body"],
        "<redacted: the content type says JSON but the body is not JSON>"
    );

    // A body of unknown length streams past the proxy: the event says so.
    let req = &outputs["streamed"][0];
    assert!(req.get("body").is_none(), "{req}");
    assert!(
        req["body_skipped"]
            .as_str()
            .unwrap()
            .starts_with("streamed"),
        "{req}"
    );
    assert!(outputs["streamed"][2]["body"].as_str().is_some());
}

#[test]
fn tap_shows_requests_the_proxy_answers_itself() {
    let yaml = three_services().replacen(
        "  api:\n    protocol: http\n",
        "  api:\n    protocol: http\n    policy:\n      routes:\n        - match: { path: { prefix: /aborted } }\n          fault: { abort: { status: 503, percent: 100 } }\n",
        1,
    );
    let up = Up::start(&yaml);
    let api = up.upstream("front", "api");
    let http_proxy = up.proxy_field("front", "http_proxy");
    let aborted = spawn_tap(
        &up,
        &[
            "front",
            "--to",
            "api",
            "--path",
            "/aborted",
            "--max-events",
            "3",
            "-o",
            "json",
        ],
    );
    let no_route = spawn_tap(
        &up,
        &[
            "front",
            "--authority",
            "nosuch",
            "--max-events",
            "3",
            "-o",
            "json",
        ],
    );
    let start = Instant::now();
    for mut child in [aborted, no_route] {
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > crate::mesh::PATIENCE {
                child.kill().unwrap();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "the tap saw too little: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            for args in [
                vec![format!("http://{api}/aborted")],
                vec![
                    "-x".to_string(),
                    format!("http://{http_proxy}"),
                    "http://nosuch/".to_string(),
                ],
            ] {
                Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-m", "10"])
                    .args(&args)
                    .status()
                    .unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let events = json_lines(&finish(child));
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["req", "rsp", "end"], "{events:?}");
        let (req, rsp) = (&events[0], &events[1]);
        assert_eq!(req["dst"], "-", "answered by the proxy: {req}");
        assert_eq!(req["direction"], "out");
        match req["path"].as_str() {
            // The fault's answer, attributed to the destination it stood in for.
            Some("/aborted") => {
                assert_eq!(rsp["status"], 503);
                assert_eq!(rsp["headers"]["x-meshctl-fault"], "abort");
                assert_eq!(req["server_id"], "spiffe://mesh.local/ns/local/sa/api");
            }
            _ => {
                assert_eq!(req["authority"], "nosuch");
                assert!(rsp["status"].as_u64().unwrap() >= 500, "{rsp}");
                assert_eq!(req["server_id"], "");
            }
        }
    }
    // The answer to a service front does not call names the fix.
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-x", &format!("http://{http_proxy}")])
        .args(["-w", "%{http_code}", "http://nosuch/"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "nosuch is not an upstream of front (its upstreams: api, quotes); \
         add it to services.front.upstreams in mesh.yaml\n502"
    );
}
