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
        .find(|e| e["dst"] == "api.v1")
        .unwrap()
        .clone();
    assert_eq!(edge["src"], "front");
    assert_eq!(edge["client_id"], "spiffe://mesh.local/ns/local/sa/front");
    assert_eq!(edge["server_id"], "spiffe://mesh.local/ns/local/sa/api");
    assert_eq!(edge["mtls"], true);
    assert_eq!(edge["requests"], 200);

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
