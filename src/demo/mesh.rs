//! The demo mesh `meshctl up --demo` runs: web → api (v1, v2) → quotes (gRPC), plus a
//! meshed load generator calling web, all on free loopback ports.

use std::net::TcpListener;
use std::path::Path;

use super::gateway::DemoGateway;

/// Requests per second the demo's load generator sends to web.
pub const DEMO_RPS: u32 = 20;

/// Ports the demo's apps listen on, found free at start-up.
#[derive(Debug, Clone, Copy)]
pub struct DemoPorts {
    pub web: u16,
    pub api_v1: u16,
    pub api_v2: u16,
    pub quotes: u16,
    /// The load generator serves nothing, but every meshed instance declares an app port.
    pub load: u16,
    /// web's listener on the load generator's proxy (its target).
    pub load_to_web: u16,
    /// The gateway's listener (HTTPS, in front of web).
    pub gateway: u16,
}

impl DemoPorts {
    /// Seven distinct free ports (held together while choosing, so none repeats).
    pub fn free() -> std::io::Result<Self> {
        let held: Vec<TcpListener> = (0..7)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()?;
        let p: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        Ok(DemoPorts {
            web: p[0],
            api_v1: p[1],
            api_v2: p[2],
            quotes: p[3],
            load: p[4],
            load_to_web: p[5],
            gateway: p[6],
        })
    }
}

/// The demo as mesh.yaml text, running `exe demo-app …` for every app; api v2 fails
/// `v2_error_rate` (0-1) of its requests when given, else the api's default. With `gateway`,
/// an HTTPS gateway in front of web: `/public/…` open (rate-limited per client address,
/// rewritten to `/…`), everything else needing an API key (rate-limited per key).
pub fn mesh_yaml(
    exe: &Path,
    ports: DemoPorts,
    v2_error_rate: Option<f64>,
    gateway: Option<&DemoGateway>,
) -> String {
    let exe = exe.display().to_string();
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let argv = |args: &[&str]| {
        let mut v = vec![q(&exe)];
        v.extend(args.iter().map(|a| q(a)));
        format!("[{}]", v.join(", "))
    };
    let web_listen = format!("127.0.0.1:{}", ports.web);
    let v1_listen = format!("127.0.0.1:{}", ports.api_v1);
    let v2_listen = format!("127.0.0.1:{}", ports.api_v2);
    let quotes_listen = format!("127.0.0.1:{}", ports.quotes);
    let target = format!("http://127.0.0.1:{}/", ports.load_to_web);
    let rps = DEMO_RPS.to_string();
    let v2_rate = v2_error_rate.map(|r| r.clamp(0.0, 1.0).to_string());
    let mut v2_args = vec!["demo-app", "api", "--listen", &v2_listen, "--version", "v2"];
    if let Some(rate) = &v2_rate {
        v2_args.extend(["--error-rate", rate.as_str()]);
    }
    let gateway = gateway
        .map(|g| gateway_yaml(g, ports.gateway))
        .unwrap_or_default();
    let mesh = format!(
        "# The built-in demo (`meshctl up --demo`), generated with free ports.\n\
         trust_domain: mesh.local\n\
         services:\n\
         \x20 web:\n\
         \x20   port: {web}\n\
         \x20   protocol: http\n\
         \x20   command: {web_cmd}\n\
         \x20   upstreams: [api]\n\
         \x20 api:\n\
         \x20   protocol: http\n\
         \x20   upstreams: [quotes]\n\
         \x20   versions:\n\
         \x20     v1:\n\
         \x20       port: {v1}\n\
         \x20       command: {v1_cmd}\n\
         \x20     v2:\n\
         \x20       port: {v2}\n\
         \x20       command: {v2_cmd}\n\
         \x20 quotes:\n\
         \x20   port: {quotes}\n\
         \x20   protocol: grpc\n\
         \x20   command: {quotes_cmd}\n\
         \x20 load:\n\
         \x20   port: {load}\n\
         \x20   protocol: http\n\
         \x20   command: {load_cmd}\n\
         \x20   upstreams:\n\
         \x20     - {{ service: web, port: {load_to_web} }}\n",
        web = ports.web,
        web_cmd = argv(&["demo-app", "web", "--listen", &web_listen]),
        v1 = ports.api_v1,
        v1_cmd = argv(&["demo-app", "api", "--listen", &v1_listen, "--version", "v1"]),
        v2 = ports.api_v2,
        v2_cmd = argv(&v2_args),
        quotes = ports.quotes,
        quotes_cmd = argv(&["demo-app", "quotes", "--listen", &quotes_listen]),
        load = ports.load,
        load_cmd = argv(&["demo-app", "load", "--url", &target, "--rps", &rps]),
        load_to_web = ports.load_to_web,
    );
    format!("{mesh}{gateway}")
}

fn gateway_yaml(g: &DemoGateway, port: u16) -> String {
    let q = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
    format!(
        "gateway:\n\
         \x20 listen: 127.0.0.1:{port}\n\
         \x20 tls: {{ cert: {cert}, key: {key} }}\n\
         \x20 keys_file: {keys}\n\
         \x20 routes:\n\
         \x20   - name: public\n\
         \x20     path: {{ prefix: /public }}\n\
         \x20     rewrite_prefix: /\n\
         \x20     service: web\n\
         \x20     rate_limit: {{ rps: 5, burst: 10 }}\n\
         \x20   - name: web\n\
         \x20     service: web\n\
         \x20     api_key: {{ header: x-api-key }}\n\
         \x20     rate_limit: {{ rps: 20, burst: 40 }}\n",
        cert = q(&g.cert),
        key = q(&g.key),
        keys = q(&g.keys_file),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_mesh_is_a_valid_mesh_file() {
        let ports = DemoPorts::free().unwrap();
        let text = mesh_yaml(Path::new("/opt/meshctl"), ports, None, None);
        let mesh =
            crate::control::meshfile::MeshFile::parse(&text, Path::new("demo.yaml")).unwrap();
        let names: Vec<String> = mesh.instances().map(|i| i.name()).collect();
        assert_eq!(names, ["web", "api.v1", "api.v2", "quotes", "load"]);
        assert!(text.contains("\"/opt/meshctl\", \"demo-app\", \"quotes\""));
        assert!(!text.contains("--error-rate"));
    }

    #[test]
    fn the_demo_gateway_fronts_web_with_a_keyed_rate_limited_route() {
        let dir = tempfile::tempdir().unwrap();
        let files = crate::demo::gateway::ensure(dir.path()).unwrap();
        let key = std::fs::read_to_string(&files.demo_key).unwrap();
        // Made once: a second call keeps the same key.
        crate::demo::gateway::ensure(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&files.demo_key).unwrap(), key);
        let ports = DemoPorts::free().unwrap();
        let text = mesh_yaml(Path::new("/opt/meshctl"), ports, None, Some(&files));
        let path = dir.path().join("mesh.yaml");
        let mesh = crate::control::meshfile::MeshFile::parse(&text, &path).unwrap();
        let names: Vec<String> = mesh.instances().map(|i| i.name()).collect();
        assert_eq!(
            names,
            ["web", "api.v1", "api.v2", "quotes", "load", "gateway"]
        );
        let gateway = mesh.gateway().unwrap();
        assert_eq!(gateway.listen.port(), ports.gateway);
        let keyed = &gateway.routes[1];
        assert!(keyed.api_key.is_some() && keyed.rate_limit.is_some());
        let keys = crate::api::api_keys::KeyFile::load(&files.keys_file).unwrap();
        assert!(matches!(
            keys.key_set().lookup(key.trim()),
            crate::api::api_keys::Lookup::Valid("demo")
        ));
    }

    #[test]
    fn the_v2_error_rate_reaches_v2_alone() {
        let ports = DemoPorts::free().unwrap();
        let text = mesh_yaml(Path::new("/opt/meshctl"), ports, Some(0.3), None);
        let v2_line = text
            .lines()
            .find(|l| l.contains("\"--version\", \"v2\""))
            .unwrap();
        assert!(v2_line.contains("\"--error-rate\", \"0.3\""), "{v2_line}");
        assert_eq!(text.matches("--error-rate").count(), 1);
        crate::control::meshfile::MeshFile::parse(&text, Path::new("demo.yaml")).unwrap();
    }
}
