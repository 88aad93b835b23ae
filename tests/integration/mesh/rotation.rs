//! Certificate rotation on a live mesh under steady HTTP load: leaf renewal, issuer and
//! anchor rotation, resume after a kill, and the gate that refuses a premature anchor drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meshctl::identity::{TrustBundle, WorkloadIdentity, pem};

use super::{ECHO_PY, PATIENCE, Up, free_port};

/// Requests per second the load loop aims for (the debug build serves a few hundred).
const LOAD_RPS: u64 = 250;
/// Connections the load loop spreads its requests over.
const LOAD_CONNECTIONS: u64 = 5;
/// Hard bound on a load run, whatever the test does.
const LOAD_MAX: Duration = Duration::from_secs(120);
/// Each load connection is replaced after this many requests (new app→proxy connections).
const REQUESTS_PER_CONNECTION: u64 = 100;
/// Load before and after a rotation, so it covers the whole change.
const LOAD_MARGIN: Duration = Duration::from_secs(1);

/// `front` calls `api` through its proxy; both apps are Python HTTP servers.
fn two_services() -> String {
    let (front, api) = (free_port(), free_port());
    format!(
        "services:
  front:
    port: {front}
    protocol: http
    command: [\"python3\", \"echo.py\", \"{front}\"]
    upstreams: [api]
  api:
    port: {api}
    protocol: http
    command: [\"python3\", \"echo.py\", \"{api}\"]
"
    )
}

fn start(extra: &[&str]) -> Up {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echo.py"), ECHO_PY).unwrap();
    std::fs::write(dir.path().join("mesh.yaml"), two_services()).unwrap();
    let mut args = vec!["up"];
    args.extend_from_slice(extra);
    Up::run(dir, &args)
}

/// Steady HTTP load through `front`'s upstream listener for `api`, on its own threads.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

impl Load {
    fn start(addr: String) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let interval = Duration::from_micros(1_000_000 * LOAD_CONNECTIONS / LOAD_RPS);
        let started = Instant::now();
        let threads = (0..LOAD_CONNECTIONS)
            .map(|_| {
                let (stop, ok, failed, errors, addr) = (
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    errors.clone(),
                    addr.clone(),
                );
                std::thread::spawn(move || {
                    let mut conn: Option<(BufReader<TcpStream>, u64)> = None;
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < LOAD_MAX {
                        match request(&addr, &mut conn) {
                            Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                conn = None;
                                errors.lock().unwrap().push(e);
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                        next += interval;
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            errors,
            threads,
            started,
        }
    }

    /// Stops the load; returns (succeeded, failed, achieved rps, first errors).
    fn finish(self) -> (u64, u64, f64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let elapsed = self.started.elapsed().as_secs_f64();
        for t in self.threads {
            t.join().unwrap();
        }
        let ok = self.ok.load(Ordering::Relaxed);
        let errors = self
            .errors
            .lock()
            .unwrap()
            .iter()
            .take(5)
            .cloned()
            .collect();
        (
            ok,
            self.failed.load(Ordering::Relaxed),
            ok as f64 / elapsed,
            errors,
        )
    }

    fn assert_clean(self) {
        let (ok, failed, rps, errors) = self.finish();
        eprintln!("load: {ok} requests at {rps:.0} rps, {failed} failed");
        assert_eq!(
            failed,
            0,
            "{failed} failed requests of {}: {errors:?}",
            ok + failed
        );
        assert!(rps >= 200.0, "load ran at {rps:.0} rps ({ok} requests)");
    }
}

/// One GET on a keep-alive connection (replaced every `REQUESTS_PER_CONNECTION`).
fn request(addr: &str, conn: &mut Option<(BufReader<TcpStream>, u64)>) -> Result<(), String> {
    if conn.as_ref().is_none_or(|c| c.1 >= REQUESTS_PER_CONNECTION) {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
        stream.set_nodelay(true).ok();
        *conn = Some((BufReader::new(stream), 0));
    }
    let (reader, used) = conn.as_mut().ok_or("no connection")?;
    *used += 1;
    reader
        .get_mut()
        .write_all(b"GET /load HTTP/1.1\r\nhost: api\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|e| format!("read: {e}"))?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|e| format!("read: {e}"))?;
        if line.is_empty() {
            return Err("connection closed mid-response".into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| "bad content-length")?;
        }
    }
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| format!("body: {e}"))?;
    if status.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "{} {}",
            status.trim(),
            String::from_utf8_lossy(&body)
        ))
    }
}

/// Every proxy's reported certificate state, from the control plane.
fn reports(up: &Up) -> Vec<meshctl::api::proto::control::ProxyStatus> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut admin = meshctl::control::admin::MeshAdmin::open(
            &up.state(),
            meshctl::api::transport::DEFAULT_REQUEST_TIMEOUT,
        )
        .unwrap();
        admin.status().await.unwrap().proxies
    })
}

fn fingerprint_of(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    pem::fingerprint(&pem::first_cert(&text).unwrap())
}

fn anchor_fp(up: &Up) -> String {
    fingerprint_of(&up.state().join("identity/trust-anchor.crt"))
}

fn issuer_fp(up: &Up) -> String {
    fingerprint_of(&up.state().join("identity/issuer.crt"))
}

/// A fresh TLS handshake with `api`'s inbound listener, as `front` (a leaf from the current
/// issuer): the chain `api` presents.
fn handshake_with_api(up: &Up) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    let out = up.dir.path().join(format!("probe-{}", free_port()));
    up.cmd()
        .args([
            "certs",
            "issue",
            "spiffe://mesh.local/ns/local/sa/front",
            "--out",
        ])
        .arg(&out)
        .args(["--lifetime", "1h"])
        .assert()
        .success();
    let me = WorkloadIdentity::load_dir(&out).unwrap();
    let api_id = "spiffe://mesh.local/ns/local/sa/api".parse().unwrap();
    let config = me.client_config(api_id, &[b"h2"]).unwrap();
    let name = rustls_pki_types::ServerName::try_from("api.mesh").unwrap();
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(up.proxy_field("api", "inbound")).unwrap();
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp).unwrap();
    }
    tls.peer_certificates().unwrap().to_vec()
}

/// Every proxy serves a leaf from the current issuer and trusts the current anchor only; a
/// new handshake presents such a chain and it verifies against that anchor alone.
fn assert_everything_chains_to_the_current_anchor_only(up: &Up) {
    let (anchor, issuer) = (anchor_fp(up), issuer_fp(up));
    for p in reports(up) {
        let cert = p.certificate.unwrap();
        assert_eq!(cert.issuer_fingerprint, issuer, "{}", p.instance);
        assert_eq!(
            cert.bundle_fingerprints,
            vec![anchor.clone()],
            "{}",
            p.instance
        );
    }
    let bundle_pem = std::fs::read_to_string(up.state().join("identity/bundle.crt")).unwrap();
    let bundle = TrustBundle::from_pem(&bundle_pem).unwrap();
    assert_eq!(bundle.fingerprints(), vec![anchor]);
    let chain = handshake_with_api(up);
    assert_eq!(pem::fingerprint(&chain[1]), issuer);
    bundle
        .verify(
            &chain[0],
            &chain[1..],
            meshctl::identity::verify::Usage::Server,
            rustls_pki_types::UnixTime::now(),
        )
        .unwrap();
}

/// `api`'s proxy's count of accepted inbound (mTLS) connections.
fn api_inbound_connections(up: &Up) -> u64 {
    let admin = up.proxy_field("api", "admin");
    let metrics = super::curl(&[format!("http://{admin}/metrics")], &[]);
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("meshctl_tcp_connections_total{direction=\"inbound\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

fn warm(up: &Up) -> String {
    let api = up.upstream("front", "api");
    super::curl(&[format!("http://{api}/warm")], &[]);
    api
}

#[test]
fn issuer_and_anchor_rotation_under_load_fail_no_request() {
    let up = start(&[]);
    let load = Load::start(warm(&up));
    let (anchor0, issuer0) = (anchor_fp(&up), issuer_fp(&up));
    std::thread::sleep(LOAD_MARGIN);
    let connections0 = api_inbound_connections(&up);

    up.cmd()
        .args(["certs", "rotate", "issuer", "--timeout", "30s"])
        .assert()
        .success();
    assert_eq!(anchor_fp(&up), anchor0);
    assert_ne!(issuer_fp(&up), issuer0);
    assert_everything_chains_to_the_current_anchor_only(&up);

    let run = up
        .cmd()
        .args([
            "certs",
            "rotate",
            "anchor",
            "--timeout",
            "30s",
            "-o",
            "json",
        ])
        .assert()
        .success();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&run.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "step-done")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        done,
        [
            "add-anchor",
            "await-bundle",
            "new-issuer",
            "await-leaves",
            "drop-anchor",
            "await-dropped"
        ]
    );
    assert_eq!(events.last().unwrap()["event"], "done");
    assert_ne!(anchor_fp(&up), anchor0);
    assert!(!up.state().join("rotation.json").exists());
    std::thread::sleep(LOAD_MARGIN);
    load.assert_clean();
    // The one connection front's proxy holds to api's carried the whole load across both
    // rotations: the only new inbound connection is the probe handshake after the first.
    assert_eq!(api_inbound_connections(&up), connections0 + 1);
    assert_everything_chains_to_the_current_anchor_only(&up);

    // certs status and check see every proxy's leaf and bundle as current.
    let status = up
        .cmd()
        .args(["certs", "status", "-o", "json", "--fail-within", "10m"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    let proxies = json["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2, "{json}");
    for p in proxies {
        assert_eq!(p["state"], "valid", "{p}");
        assert_eq!(p["current_issuer"], true, "{p}");
        assert_eq!(p["current_bundle"], true, "{p}");
    }
    up.cmd()
        .arg("check")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "√ every proxy holds the current trust bundle (2 proxies)",
        ));
}

#[test]
fn short_lived_leaves_rotate_under_load_and_new_handshakes_see_new_serials() {
    let up = start(&["--leaf-lifetime", "15s"]);
    let load = Load::start(warm(&up));
    let start = Instant::now();
    let mut serials = std::collections::BTreeSet::new();
    // 15 s leaves renew every ~10 s (the floor): three distinct serials within 30 s.
    while serials.len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "serials seen: {serials:?}"
        );
        let chain = handshake_with_api(&up);
        serials.insert(pem::hex_serial(pem::parse(&chain[0]).unwrap().raw_serial()));
        std::thread::sleep(Duration::from_secs(1));
    }
    load.assert_clean();
}

#[test]
fn rotation_resumes_after_being_killed_between_steps() {
    let up = start(&[]);
    let anchor0 = anchor_fp(&up);
    let checkpoint = up.state().join("rotation.json");
    let mut child = std::process::Command::new(crate::support::meshctl_bin())
        .args(["certs", "rotate", "anchor", "--timeout", "30s"])
        .current_dir(up.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the new anchor is trusted everywhere (past step 2).
    let start = Instant::now();
    let staged = loop {
        assert!(
            start.elapsed() < PATIENCE,
            "rotation never reached new-issuer"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "rotation finished before the kill"
        );
        if let Ok(text) = std::fs::read_to_string(&checkpoint)
            && let Ok(cp) = serde_json::from_str::<serde_json::Value>(&text)
            && (cp["step"] == "new-issuer" || cp["step"] == "await-leaves")
        {
            child.kill().unwrap();
            child.wait().unwrap();
            break cp;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(staged["old_anchor"], anchor0.as_str());
    // Without --resume the unfinished rotation is named, not restarted.
    up.cmd()
        .args(["certs", "rotate", "anchor"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--resume"));
    up.cmd()
        .args(["certs", "rotate", "anchor", "--resume", "--timeout", "30s"])
        .assert()
        .success();
    assert_eq!(anchor_fp(&up), staged["new_anchor"].as_str().unwrap());
    assert!(!checkpoint.exists());
    assert_everything_chains_to_the_current_anchor_only(&up);
}

#[test]
fn dropping_the_old_anchor_before_every_leaf_is_reissued_is_refused() {
    let up = start(&[]);
    let anchor0 = anchor_fp(&up);
    up.cmd()
        .args(["certs", "rotate", "anchor", "--until", "await-bundle"])
        .assert()
        .success();
    let bundle = up.state().join("identity/bundle.crt");
    assert_eq!(
        pem::certs(&std::fs::read_to_string(&bundle).unwrap())
            .unwrap()
            .len(),
        2
    );
    // Half-way is healthy (every proxy trusts both anchors) but worth a warning.
    up.cmd()
        .arg("check")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "‼ no anchor rotation is left unfinished",
        ));
    up.cmd()
        .args(["check", "--fail-on", "warning"])
        .assert()
        .code(1);
    // Skip ahead to the drop, as if steps 3-4 had run: every leaf is still from the old chain.
    let path = up.state().join("rotation.json");
    let mut cp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let honest = cp.clone();
    cp["step"] = "drop-anchor".into();
    cp["new_issuer"] = "0123".into();
    std::fs::write(&path, cp.to_string()).unwrap();
    let refused = up
        .cmd()
        .args(["certs", "rotate", "anchor", "--resume", "--timeout", "5s"])
        .assert()
        .code(4);
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    for name in [
        "front (its leaf is from the old issuer)",
        "api (its leaf",
        "nothing was changed",
    ] {
        assert!(stderr.contains(name), "{stderr}");
    }
    assert_eq!(anchor_fp(&up), anchor0, "the old anchor stays");
    assert_eq!(
        pem::certs(&std::fs::read_to_string(&bundle).unwrap())
            .unwrap()
            .len(),
        2
    );

    std::fs::write(&path, honest.to_string()).unwrap();
    up.cmd()
        .args(["certs", "rotate", "anchor", "--resume", "--dry-run"])
        .assert()
        .success()
        .stdout(predicates::str::contains("3/6 new-issuer"));
    up.cmd()
        .args(["certs", "rotate", "anchor", "--resume", "--timeout", "30s"])
        .assert()
        .success();
    assert_ne!(anchor_fp(&up), anchor0);
    assert_everything_chains_to_the_current_anchor_only(&up);
}

/// The pid of `instance`'s proxy process (found by its admin address on the command line).
fn proxy_pid(up: &Up, instance: &str) -> nix::unistd::Pid {
    let admin = up.proxy_field(instance, "admin");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "proxy") && args.iter().any(|a| a.contains(&admin)) {
            return nix::unistd::Pid::from_raw(pid);
        }
    }
    panic!("no proxy process with admin {admin}");
}

#[test]
fn a_proxy_that_never_reports_stops_the_rotation_naming_it_and_nothing_is_dropped() {
    use nix::sys::signal::{Signal, kill};
    let up = start(&[]);
    let anchor0 = anchor_fp(&up);
    let frozen = proxy_pid(&up, "api");
    kill(frozen, Signal::SIGSTOP).unwrap();
    let stalled = up
        .cmd()
        .args(["certs", "rotate", "anchor", "--timeout", "2s"])
        .output()
        .unwrap();
    // Thawed before any assertion, so a failure never leaves a stopped process behind.
    kill(frozen, Signal::SIGCONT).unwrap();
    let stderr = String::from_utf8_lossy(&stalled.stderr).to_string();
    assert_eq!(stalled.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("step 2/6 await-bundle did not complete within 2s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("api (its bundle lacks the new anchor)"),
        "{stderr}"
    );
    assert!(!stderr.contains("front"), "{stderr}");
    assert!(stderr.contains("nothing was dropped"), "{stderr}");
    assert_eq!(anchor_fp(&up), anchor0);
    let bundle = std::fs::read_to_string(up.state().join("identity/bundle.crt")).unwrap();
    assert_eq!(
        pem::certs(&bundle).unwrap().len(),
        2,
        "both anchors still trusted"
    );

    up.cmd()
        .args(["certs", "rotate", "anchor", "--resume", "--timeout", "30s"])
        .assert()
        .success();
    assert_everything_chains_to_the_current_anchor_only(&up);
}
