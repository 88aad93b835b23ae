//! `meshctl demo-app`: the demo roles as real processes on loopback, chained directly
//! (web → api → quotes, no proxies), and the load generator's rate and stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::support::meshctl;

/// A demo server started on a free port (`--listen 127.0.0.1:0`), killed when dropped.
struct DemoApp {
    child: Child,
    addr: String,
}

impl DemoApp {
    fn start(args: &[&str], env: &[(&str, &str)]) -> DemoApp {
        let mut child = demo_command(args, env)
            .stdout(Stdio::piped())
            .spawn()
            .expect("meshctl demo-app starts");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first_line)
            .expect("reading the bound address");
        let addr = first_line.trim().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "bound address: {addr:?}");
        DemoApp { child, addr }
    }
}

impl Drop for DemoApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `meshctl demo-app ARGS` with no demo settings leaking in from the environment.
fn demo_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(crate::support::meshctl_bin());
    cmd.arg("demo-app").args(args).stdin(Stdio::null());
    for var in [
        "MESH_UPSTREAM_API",
        "MESH_UPSTREAM_QUOTES",
        "DEMO_LATENCY_MS",
        "DEMO_ERROR_RATE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// A minimal HTTP/1.1 GET: (status, body).
fn get(addr: &str, path: &str, accept: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// quotes ← api (version `version`, no injected errors) ← web.
fn chain(version: &str, api_env: &[(&str, &str)]) -> (DemoApp, DemoApp, DemoApp) {
    let quotes = DemoApp::start(&["quotes", "--listen", "127.0.0.1:0"], &[]);
    let mut env = vec![("MESH_UPSTREAM_QUOTES", quotes.addr.as_str())];
    env.extend_from_slice(api_env);
    let api = DemoApp::start(
        &["api", "--listen", "127.0.0.1:0", "--version", version],
        &env,
    );
    let web = DemoApp::start(
        &["web", "--listen", "127.0.0.1:0"],
        &[("MESH_UPSTREAM_API", api.addr.as_str())],
    );
    (quotes, api, web)
}

#[test]
fn web_shows_the_api_version_and_a_quote() {
    let (_quotes, api, web) = chain("v2", &[("DEMO_ERROR_RATE", "0")]);
    let (status, body) = get(&web.addr, "/", "application/json");
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["api_version"], "v2");
    assert_eq!(page["api_served_by"], "api v2");
    assert_eq!(page["quote_served_by"], "quotes");
    assert!(page["price_cents"].as_i64().unwrap() > 0, "{page}");

    let (status, html) = get(&web.addr, "/", "text/html");
    assert_eq!(status, 200);
    assert!(html.contains("<b>api v2</b> (version v2)"), "{html}");

    let (status, body) = get(&api.addr, "/api/quote?symbol=ACME", "*/*");
    assert_eq!(status, 200);
    let quote: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(quote["symbol"], "ACME");
    assert_eq!(quote["version"], "v2");

    assert_eq!(get(&web.addr, "/healthz", "*/*").0, 200);
    assert_eq!(get(&api.addr, "/healthz", "*/*").0, 200);
    assert_eq!(get(&web.addr, "/nope", "*/*").0, 404);
    let (status, body) = get(&api.addr, "/api/quote?symbol=bad!", "*/*");
    assert_eq!(status, 400, "{body}");
}

#[test]
fn injected_errors_reach_the_frontend_as_bad_gateway() {
    let (_quotes, api, web) = chain("v1", &[("DEMO_ERROR_RATE", "1")]);
    let (status, body) = get(&api.addr, "/api/quote", "*/*");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("injected failure"), "{body}");
    let (status, body) = get(&web.addr, "/", "text/html");
    assert_eq!(status, 502);
    assert!(body.contains("500"), "{body}");
}

#[test]
fn api_without_quotes_answers_bad_gateway() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let api = DemoApp::start(
        &["api", "--error-rate", "0"],
        &[("MESH_UPSTREAM_QUOTES", closed.as_str())],
    );
    let (status, body) = get(&api.addr, "/api/quote", "*/*");
    assert_eq!(status, 502, "{body}");
}

#[test]
fn load_sends_about_the_requested_rate_then_stops() {
    let quotes = DemoApp::start(&["quotes"], &[]);
    let api = DemoApp::start(
        &["api", "--error-rate", "0"],
        &[("MESH_UPSTREAM_QUOTES", quotes.addr.as_str())],
    );
    let target = format!("http://{}/api/quote", api.addr);
    let out = meshctl()
        .args([
            "demo-app",
            "load",
            "--url",
            &target,
            "--rps",
            "20",
            "--duration",
            "2s",
        ])
        .timeout(Duration::from_secs(30))
        .assert()
        .success()
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // `load: 41 requests to … in 2.0s (20.5/s): 41 ok, 0 failed`
    let sent: u64 = stderr
        .strip_prefix("load: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {stderr:?}"));
    assert!(
        (25..=45).contains(&sent),
        "20/s for 2s sent {sent}: {stderr}"
    );
    assert!(stderr.contains(&format!("{sent} ok, 0 failed")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one summary line: {stderr}");

    meshctl()
        .args(["demo-app", "load", "--url", &target, "--requests", "3"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success()
        .stderr(predicate::str::starts_with("load: 3 requests"));
}

#[test]
fn load_stops_on_sigterm() {
    let target = DemoApp::start(&["web", "--api", "127.0.0.1:9"], &[]);
    let mut load = demo_command(
        &[
            "load",
            "--url",
            &format!("http://{}/healthz", target.addr),
            "--rps",
            "5",
        ],
        &[],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let pid = nix::unistd::Pid::from_raw(load.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = load.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = load.kill();
            panic!("load still running 10s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    load.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.starts_with("load: "), "{stderr}");
    assert!(stderr.contains(" ok, 0 failed"), "{stderr}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let cases: &[&[&str]] = &[
        &["web", "--api", "127.0.0.1:1", "--listen", "10.1.2.3:80"],
        &["web"],
        &["api", "--quotes", "127.0.0.1:1", "--error-rate", "2"],
        &["load", "--url", "http://example.com/"],
        &["load", "--url", "http://127.0.0.1:1/", "--rps", "0"],
    ];
    for args in cases {
        meshctl()
            .env_remove("MESH_UPSTREAM_API")
            .arg("demo-app")
            .args(*args)
            .assert()
            .code(2);
    }
}

#[test]
fn a_port_in_use_is_a_runtime_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    meshctl()
        .args(["demo-app", "quotes", "--listen", &addr])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("listening on {addr}")));
}
