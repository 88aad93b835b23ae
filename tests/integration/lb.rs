//! Replicas and load balancing end to end: `replicas: 3` in mesh.yaml starts three app
//! processes and proxies, the caller's proxy spreads requests over them by P2C over
//! peak-EWMA latency (or round-robin), and a connect timeout from the config reaches a
//! standalone proxy.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::mesh::{
    PATIENCE, Up, assert_up_rejects, curl, dir_with, free_port, logged_pid, wait_until,
};
use crate::support::meshctl;

/// A replica app: checks that `{port}` in its argv and MESH_PORT agree (exits 3 otherwise),
/// answers every GET with `r<MESH_REPLICA>` on a line, replica 0 only after 100 ms.
const REPLICA_PY: &str = python_app!(
    r#"
import os, time
port, replica = int(sys.argv[1]), os.environ["MESH_REPLICA"]
if port != int(os.environ["MESH_PORT"]) or os.environ["PORT"] != os.environ["MESH_PORT"]:
    sys.exit(3)
class H(App):
    def do_GET(self):
        if replica == "0":
            time.sleep(0.1)
        self.answer(200, f"r{replica}\n".encode())
serve(H, port)
"#
);

/// `front` (its proxy only) calls `api`: three replicas of REPLICA_PY with `policy`.
fn replicated_api(policy: &str) -> String {
    let front = free_port();
    format!(
        "services:
  front:
    port: {front}
    upstreams: [api]
  api:
    protocol: http
    versions:
      v1:
        replicas: 3
        command: [\"python3\", \"replica.py\", \"{{port}}\"]
    policy: {policy}
"
    )
}

fn start(policy: &str) -> Up {
    Up::start_with(&replicated_api(policy), &[("replica.py", REPLICA_PY)])
}

/// `n` GETs to `addr` from `clients` concurrent curls (one keep-alive connection each);
/// every one must succeed. Returns how many each replica answered.
fn spread(addr: &str, n: usize, clients: usize) -> HashMap<String, usize> {
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let urls: Vec<String> = (0..n / clients)
                .map(|i| format!("http://{addr}/c{c}/{i}"))
                .collect();
            std::thread::spawn(move || curl(&urls, &[]))
        })
        .collect();
    let mut got = HashMap::new();
    for h in handles {
        for line in h.join().unwrap().lines() {
            *got.entry(line.to_string()).or_default() += 1;
        }
    }
    assert_eq!(got.values().sum::<usize>(), n, "{got:?}");
    got
}

/// Waits until all three replicas answer through `front` (they start after their proxies).
fn wait_for_replicas(up: &Up) {
    for r in 0..3 {
        let app = up.proxy_field(&format!("api.v1.r{r}"), "app");
        wait_until(&format!("replica {r} never listened on {app}"), || {
            std::net::TcpStream::connect(&app).is_ok()
        });
    }
}

#[test]
fn p2c_sends_a_slow_replica_far_less_than_its_share() {
    let up = start("{}");
    wait_for_replicas(&up);
    let api = up.upstream("front", "api");
    let got = spread(&api, 300, 4);
    let slow = got.get("r0").copied().unwrap_or(0);
    // Round-robin would give it 100; P2C avoids it after its first 100 ms answer.
    assert!(slow < 45, "the 100 ms replica got {slow} of 300: {got:?}");
    assert!(
        got.contains_key("r1") && got.contains_key("r2"),
        "both fast replicas serve: {got:?}"
    );
    assert_eq!(up.stop(), Some(0));
}

#[test]
fn round_robin_gives_every_replica_a_third_whatever_its_latency() {
    let up = start("{ load_balancer: round_robin }");
    wait_for_replicas(&up);
    let api = up.upstream("front", "api");
    let got = spread(&api, 300, 4);
    // Binomial(300, ⅓): sd ≈ 8.2; ±5 sd.
    for r in ["r0", "r1", "r2"] {
        let n = got.get(r).copied().unwrap_or(0);
        assert!((59..=141).contains(&n), "{r} got {n} of 300: {got:?}");
    }
    // `stat` adds the replicas' proxies up into the version's row.
    let out = up
        .cmd()
        .args(["stat", "api/v1", "-o", "json"])
        .assert()
        .success();
    let stat: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let row = &stat["rows"][0];
    assert_eq!(row["name"], "api/v1");
    assert_eq!(row["meshed"]["proxies"], 3, "{row}");
    assert_eq!(row["meshed"]["reporting"], 3, "{row}");
    assert_eq!(row["requests"], 300, "{row}");
    assert_eq!(up.stop(), Some(0));
}

#[test]
fn replicas_run_as_separate_instances_in_status_and_down_stops_them_all() {
    let dir = dir_with(&replicated_api("{ connect_timeout: 2s }"));
    std::fs::write(dir.path().join("replica.py"), REPLICA_PY).unwrap();
    meshctl()
        .args(["up", "--detach"])
        .current_dir(dir.path())
        .timeout(PATIENCE)
        .assert()
        .success();
    let state = dir.path().join(".meshctl");
    let names = ["api.v1.r0", "api.v1.r1", "api.v1.r2"];
    // Status is healthy once every replica listens; each is its own row.
    let start = std::time::Instant::now();
    let status = loop {
        let out = meshctl()
            .args(["status", "-o", "json"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        if out.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        }
        assert!(start.elapsed() < PATIENCE, "never healthy: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let instances = status["instances"].as_array().unwrap();
    let mut apps = Vec::new();
    for name in names {
        let i = instances.iter().find(|i| i["name"] == name).unwrap();
        assert_eq!(i["service"], "api");
        assert_eq!(i["version"], "v1");
        assert_eq!(i["healthy"], true, "{i}");
        apps.push(i["app"].as_str().unwrap().to_string());
    }
    apps.sort();
    apps.dedup();
    assert_eq!(apps.len(), 3, "a port per replica: {apps:?}");
    // Each replica has its own app and proxy process and log.
    let mut pids = Vec::new();
    for name in names {
        for log in [format!("{name}.log"), format!("proxy-{name}.log")] {
            pids.push(logged_pid(&state.join("logs").join(log)));
        }
    }
    // All replicas share the version's identity.
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("run/plan.json")).unwrap()).unwrap();
    let ids: Vec<&str> = plan["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["service"] == "api")
        .map(|p| p["spiffe_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["spiffe://mesh.local/ns/local/sa/api"; 3]);

    meshctl()
        .arg("down")
        .current_dir(dir.path())
        .timeout(PATIENCE)
        .assert()
        .success();
    for pid in pids {
        assert!(
            kill(Pid::from_raw(pid), None).is_err(),
            "process {pid} still runs after down"
        );
    }
}

#[test]
fn bad_replicas_and_balancer_settings_are_rejected_before_anything_starts() {
    let cases = [
        (
            "services:\n  api:\n    replicas: 17\n    command: x\n",
            "mesh.yaml:3:15: services.api.replicas: 17 replicas: give 1 to 16",
        ),
        (
            "services:\n  api:\n    port: 18080\n    replicas: 2\n    command: x\n",
            "mesh.yaml:3:5: services.api.port: `port` with 2 replicas",
        ),
        (
            "services:\n  api:\n    replicas: 2\n",
            "mesh.yaml:3:15: services.api.replicas: 2 replicas of `api` need a `command`",
        ),
        (
            "services:\n  api:\n    port: 18080\n    policy: { load_balancer: least_request }\n",
            "mesh.yaml:4:30: services.api.policy.load_balancer: unknown load balancer `least_request`",
        ),
        (
            "services:\n  api:\n    port: 18080\n    policy: { connect_timeout: 0ms }\n",
            "mesh.yaml:4:32: services.api.policy.connect_timeout: duration `0ms` is zero",
        ),
    ];
    for (yaml, needle) in cases {
        assert_up_rejects(yaml, needle);
    }
}

/// A standalone proxy whose upstream peer never answers the dial: with `connect_timeout:
/// 300ms` in its config file the request fails with 503 `peer unreachable` long before
/// the 5 s default would give up (curl allows 4 s).
#[test]
fn a_configured_connect_timeout_ends_a_dial_that_gets_no_answer() {
    use crate::proxy_support::{Mesh, Proxy, WEB_ID, free_addr};
    // A listener that never accepts, its one-slot accept queue filled: further SYNs are
    // dropped, so dialing it hangs (loopback only).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let peer = listener.local_addr().unwrap();
    let held = fill_accept_queue(peer);
    let mesh = Mesh::new();
    let web = mesh.issue(WEB_ID, "web");
    let listen = free_addr();
    let config = mesh.path().join("client.yaml");
    std::fs::write(
        &config,
        format!(
            "identity_dir: {}\nupstreams:\n  - listen: {listen}\n    peer: {peer}\n    identity: spiffe://mesh.local/ns/local/sa/api\n    connect_timeout: 300ms\n",
            web.display()
        ),
    )
    .unwrap();
    let _proxy = Proxy::start(
        &["--config".into(), config.display().to_string()],
        mesh.path(),
    );
    let out = Command::new("curl")
        .args(["-s", "-m", "4", "-D", "-", "-o", "/dev/null"])
        .arg(format!("http://{listen}/"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head} {out:?}");
    assert!(
        head.contains("x-meshctl-proxy-error: peer unreachable"),
        "{head}"
    );
    drop((held, listener));
}

/// Connects to `addr` (a listener that never accepts) until a dial gets no answer within 300 ms;
/// the connections that did complete are returned to be held open.
fn fill_accept_queue(addr: std::net::SocketAddr) -> Vec<std::net::TcpStream> {
    let mut held = Vec::new();
    for _ in 0..64 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
                return held;
            }
        }
    }
    panic!("the accept queue of {addr} never filled");
}

#[test]
fn tcp_connections_fail_over_from_an_endpoint_that_refuses_and_its_circuit_opens() {
    let echo = free_port();
    let yaml = format!(
        "services:
  web:
    port: {web}
    upstreams: [store]
  store:
    protocol: tcp
    replicas: 2
    command: [python3, tcp_echo.py, \"{{port}}\", /dev/null]
    policy:
      circuit_breaker: {{ failures: 2 }}
",
        web = echo
    );
    let up = Up::start_with(&yaml, &[("tcp_echo.py", crate::authz::TCP_ECHO_PY)]);
    let state = up.dir.path().join(".meshctl");
    // store.r1's proxy goes away for good: without its bootstrap token it cannot restart.
    std::fs::remove_file(state.join("run/tokens/store.r1.token")).unwrap();
    let r1_proxy = logged_pid(&state.join("logs/proxy-store.r1.log"));
    kill(Pid::from_raw(r1_proxy), nix::sys::signal::Signal::SIGKILL).unwrap();
    let r1_inbound = up.proxy_field("store.r1", "inbound");
    wait_until("store.r1's inbound port refuses connections", || {
        std::net::TcpStream::connect(&r1_inbound).is_err()
    });

    // Every connection gets an echo: a refused dial fails over to store.r0.
    let store = up.upstream("web", "store");
    for i in 0..20 {
        let mut conn = std::net::TcpStream::connect(&store).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let line = format!("ping {i}\n");
        conn.write_all(line.as_bytes()).unwrap();
        let mut echoed = vec![0; line.len()];
        conn.read_exact(&mut echoed)
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(echoed, line.as_bytes());
    }

    // The caller's proxy ejected the dead endpoint (the config dump shows its circuit).
    let config = crate::mesh::admin_json(&up.proxy_field("web", "admin"), "/config");
    let endpoints: Vec<(String, String)> = config["outbound"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["service"] == "store")
        .unwrap()["backends"][0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let address = e["address"].as_str().unwrap().to_string();
            (address, e["circuit"]["state"].as_str().unwrap().to_string())
        })
        .collect();
    let r1 = endpoints.iter().find(|(a, _)| *a == r1_inbound).unwrap();
    assert_ne!(r1.1, "closed", "{config:#}");
    let r0 = endpoints.iter().find(|(a, _)| *a != r1_inbound).unwrap();
    assert_eq!(r0.1, "closed", "{config:#}");
    let metrics = curl(
        &[format!("http://{}/metrics", up.proxy_field("web", "admin"))],
        &[],
    );
    let ejections: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("meshctl_endpoint_ejections_total{service=\"store\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(ejections >= 1, "{metrics}");
}
