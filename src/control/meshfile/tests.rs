//! mesh.yaml: the shipped example parses, and every error names the exact `file:line:column`.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<MeshFile, MeshFileError> {
    MeshFile::parse(text, Path::new("/srv/mesh/mesh.yaml"))
}

/// The error message, with the directory dropped so the tests read like what users see.
fn err(text: &str) -> String {
    parse(text)
        .expect_err("mesh.yaml should be rejected")
        .to_string()
        .replacen("/srv/mesh/", "", 1)
}

fn assert_err(text: &str, expected: &str) {
    let got = err(text);
    assert!(
        got.starts_with(expected),
        "\n got: {got}\nwant: {expected}…"
    );
}

#[test]
fn the_shipped_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mesh.yaml");
    let mesh = MeshFile::load(&path).unwrap();
    assert_eq!(mesh.trust_domain(), "mesh.local");
    let units: Vec<(&str, Option<&str>, u16)> = mesh
        .instances()
        .map(|i| {
            (
                i.service.as_str(),
                i.version.as_deref(),
                i.port.unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        units,
        [
            ("web", None, 8080),
            ("api", Some("v1"), 8081),
            ("api", Some("v2"), 8082),
            ("quotes", None, 0),
            ("quotes", None, 0)
        ]
    );
    let services: Vec<_> = mesh.services().map(|s| s.name.as_str()).collect();
    assert_eq!(services, ["web", "api", "quotes"]);
    let api = mesh.services().nth(1).unwrap();
    assert_eq!(api.versions, ["v1", "v2"]);
    assert_eq!(api.protocol, Some(Protocol::Http));
    let quotes = mesh.instances().nth(3).unwrap();
    assert_eq!(quotes.protocol, Some(Protocol::Grpc));
    assert_eq!(quotes.name(), "quotes.r0");
    assert_eq!(
        quotes.argv(9999).unwrap()[4],
        "127.0.0.1:9999",
        "{{port}} is replaced"
    );
    let api = &api.policy;
    assert_eq!(
        (api.load_balancer.as_deref(), api.connect_timeout_ms),
        (Some("p2c"), Some(1_000))
    );
}

#[test]
fn instances_carry_commands_env_workdir_and_upstreams() {
    let mesh = parse(
        "\
trust_domain: example.org
services:
  web:
    port: 8080
    command: python3 -m http.server 8080
    env: { GREETING: hello, PORT: 8080 }
    workdir: web/
    upstreams:
      - api
      - { service: quotes, port: 9300 }
  api:
    env: { A: service, B: service }
    workdir: api
    versions:
      v1: { port: 8081, command: [\"./api\", 8081], env: { B: v1 } }
      v2: { port: 8082, command: [\"./api\"], workdir: /opt/api2 }
  quotes:
    port: 9090
",
    )
    .unwrap();
    assert_eq!(mesh.trust_domain(), "example.org");
    let all: Vec<&Instance> = mesh.instances().collect();
    let web = all[0];
    assert_eq!(
        web.command.as_ref().unwrap().argv(),
        ["sh", "-c", "python3 -m http.server 8080"]
    );
    assert_eq!(web.env["PORT"], "8080");
    assert_eq!(web.workdir, Path::new("/srv/mesh/web/"));
    assert_eq!(web.protocol, None);
    assert_eq!(
        web.upstreams,
        [
            Upstream {
                service: "api".into(),
                port: None
            },
            Upstream {
                service: "quotes".into(),
                port: Some(9300)
            }
        ]
    );
    assert_eq!(web.upstreams[1].env_var(), "MESH_UPSTREAM_QUOTES");
    let v1 = all[1];
    assert_eq!(v1.version.as_deref(), Some("v1"));
    assert_eq!(
        (web.name(), v1.name()),
        ("web".to_string(), "api.v1".to_string())
    );
    assert_eq!(v1.command.as_ref().unwrap().argv(), ["./api", "8081"]);
    assert_eq!(v1.env["A"], "service");
    assert_eq!(v1.env["B"], "v1", "a version's env overrides the service's");
    assert_eq!(v1.workdir, Path::new("/srv/mesh/api"));
    assert_eq!(all[2].workdir, Path::new("/opt/api2"));
    let quotes = all[3];
    assert_eq!(quotes.command, None);
    assert_eq!(quotes.workdir, Path::new("/srv/mesh"));
}

#[test]
fn env_var_names_of_upstreams() {
    assert_eq!(upstream_env_var("user-db"), "MESH_UPSTREAM_USER_DB");
}

/// A service `api` with versions v1 and v2 and the given `policy:` block (indented 4).
fn with_policy(policy: &str) -> String {
    format!(
        "services:\n  api:\n    versions:\n      v1: {{ port: 1 }}\n      v2: {{ port: 2 }}\n    policy:\n{policy}"
    )
}

#[test]
fn header_routes_parse_in_order() {
    parse("services:\n  web:\n    port: 1\n    policy: {}\n").unwrap();
    let mesh = parse(&with_policy(
        "      timeout: 2s\n      routes:\n        - match: { headers: { X-Canary: 1 } }\n          version: v2\n        - match: { path: { prefix: /admin }, method: POST }\n          timeout: 150ms\n",
    ))
    .unwrap();
    let api = mesh.services().next().unwrap();
    assert_eq!(api.policy.timeout_ms, Some(2_000));
    assert_eq!(
        api.policy.routes,
        [
            HttpRoute {
                path: None,
                method: None,
                headers: vec![("x-canary".into(), "1".into())],
                version: Some("v2".into()),
                timeout_ms: None,
                retryable: false,
                fault: None,
                name: None,
            },
            HttpRoute {
                path: Some(PathMatch::Prefix("/admin".into())),
                method: Some("POST".into()),
                headers: vec![],
                version: None,
                timeout_ms: Some(150),
                retryable: false,
                fault: None,
                name: None,
            },
        ]
    );
}

#[test]
fn retries_take_defaults_and_bounds() {
    let mesh = parse(&with_policy("      retries: {}\n")).unwrap();
    let api = mesh.services().next().unwrap();
    assert_eq!(
        api.policy.retries,
        Some(Retries {
            attempts: DEFAULT_RETRY_ATTEMPTS,
            on: vec!["connect-failure".into(), "gateway-error".into()],
            backoff_ms: 25,
        })
    );
    let mesh = parse(&with_policy("      circuit_breaker: {}\n")).unwrap();
    let api = mesh.services().next().unwrap();
    assert_eq!(api.policy.breaker_failures, Some(7));
    assert_err(
        &with_policy("      circuit_breaker: { failures: 0 }\n"),
        "mesh.yaml:7:36: services.api.policy.circuit_breaker.failures: 0 failures",
    );
    assert_err(
        &with_policy("      retries: { attempts: 11 }\n"),
        "mesh.yaml:7:28: services.api.policy.retries.attempts: 11 attempts: give 2 to 10",
    );
    assert_err(
        &with_policy("      retries: { on: [5xx, 4xx] }\n"),
        "mesh.yaml:7:28: services.api.policy.retries.on[1]: unknown retry condition `4xx`",
    );
}

#[test]
fn bad_routes_are_located() {
    let route = |r: &str| with_policy(&format!("      routes:\n        - {r}\n"));
    assert_err(
        &with_policy("      retry: 3\n"),
        "mesh.yaml:7:7: services.api.policy: unknown field `retry`",
    );
    assert_err(
        &route("{ version: v3 }"),
        "mesh.yaml:8:22: services.api.policy.routes[0].version: unknown version `v3` (declared: v1, v2)",
    );
    assert_err(
        &route("{ version: v2, match: { path: { prefix: a } } }"),
        "mesh.yaml:8:51: services.api.policy.routes[0].match.path.prefix: path `a` must start with `/`",
    );
    assert_err(
        &route("{ version: v2, match: { path: { prefix: /a, exact: /b } } }"),
        "mesh.yaml:8:41: services.api.policy.routes[0].match.path: give exactly one of",
    );
    assert_err(
        &route("{ version: v2, match: { method: get } }"),
        "mesh.yaml:8:43: services.api.policy.routes[0].match.method: invalid method `get`",
    );
    assert_err(
        &route("{ version: v2, match: { headers: { \"a b\": 1 } } }"),
        "mesh.yaml:8:46: services.api.policy.routes[0].match.headers.a b: invalid header name",
    );
    assert_err(
        &route("{ version: v2, match: { host: x } }"),
        "mesh.yaml:8:35: services.api.policy.routes[0].match: unknown field `host`",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    policy:\n      routes: [{ version: v1 }]\n",
        "mesh.yaml:5:27: services.web.policy.routes[0].version: a route can pick a version only on a service with `versions`",
    );
    parse("services:\n  web:\n    port: 1\n    policy:\n      routes: [{ timeout: 1s }]\n")
        .unwrap();
    assert_err(
        &route("{ match: { method: GET } }"),
        "mesh.yaml:8:11: services.api.policy.routes[0]: a route needs at least one of `version`, `timeout`, `retryable` and `fault`",
    );
    assert_err(
        &route("{ name: Canary, version: v2 }"),
        "mesh.yaml:8:19: services.api.policy.routes[0].name: `Canary` is not a route name",
    );
    assert_err(
        &with_policy(
            "      routes:\n        - { name: beta, version: v2 }\n        - { name: beta, timeout: 1s }\n",
        ),
        "mesh.yaml:9:19: services.api.policy.routes[1].name: route name `beta` is used twice",
    );
    assert_err(
        &route("{ timeout: 5 }"),
        "mesh.yaml:8:22: services.api.policy.routes[0].timeout: invalid duration `5`",
    );
    assert_err(
        &with_policy("      timeout: 0s\n"),
        "mesh.yaml:7:16: services.api.policy.timeout: duration `0s` is zero",
    );
}

#[test]
fn an_otlp_endpoint_is_checked_where_written() {
    let mesh =
        parse("otlp_endpoint: http://127.0.0.1:4317\nservices:\n  web: { port: 1 }\n").unwrap();
    assert_eq!(
        mesh.tracing()
            .map(|t| t.export.endpoint.to_string())
            .as_deref(),
        Some("http://127.0.0.1:4317")
    );
    assert_eq!(
        parse("services:\n  web: { port: 1 }\n").unwrap().tracing(),
        None
    );
    assert_err(
        "services:\n  web: { port: 1 }\notlp_endpoint: https://collector:4317\n",
        "mesh.yaml:3:16: otlp_endpoint: OTLP endpoint `https://collector:4317`: https needs a CA file",
    );
    assert_eq!(mesh.tracing().unwrap().sample.to_string(), "100%");
    let sampled = parse(
        "otlp_endpoint: http://127.0.0.1:4317\ntrace_sample: 2.5\nservices:\n  web: { port: 1 }\n",
    )
    .unwrap();
    assert_eq!(sampled.tracing().unwrap().sample.to_string(), "2.5%");
    assert_err(
        "otlp_endpoint: http://127.0.0.1:4317\ntrace_sample: 120\nservices:\n  web: { port: 1 }\n",
        "mesh.yaml:2:15: trace_sample: trace sample rate: percent `120` is not a number from 0 to 100 with at most 4 decimals",
    );
    assert_err(
        "trace_sample: 10\nservices:\n  web: { port: 1 }\n",
        "mesh.yaml:1:1: trace_sample: `trace_sample` needs `otlp_endpoint`, where the spans go",
    );
}

#[test]
fn otlp_protocol_ca_file_and_headers_are_checked_where_written() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["collector".into()]).unwrap();
    std::fs::write(dir.path().join("collector-ca.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("not-pem.txt"), "hello\n").unwrap();
    let at = |text: &str| MeshFile::parse(text, &dir.path().join("mesh.yaml"));
    let services = "services:\n  web: { port: 1 }\n";

    let mesh = at(&format!(
        "otlp_endpoint: https://collector:4318/otlp\notlp_protocol: http/protobuf\n\
         otlp_ca_file: collector-ca.pem\notlp_headers:\n  Authorization: Bearer t0ken\n\
         {services}"
    ))
    .unwrap();
    let export = &mesh.tracing().unwrap().export;
    assert_eq!(export.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(
        export.endpoint.http_traces_url(),
        "https://collector:4318/otlp/v1/traces"
    );
    assert_eq!(export.ca_file, Some(dir.path().join("collector-ca.pem")));
    assert_eq!(export.headers.names(), ["authorization"]);

    let dir_text = dir.path().display().to_string();
    for (yaml, want) in [
        (
            "otlp_endpoint: http://c:4317\notlp_protocol: http/json\n",
            "mesh.yaml:2:16: otlp_protocol: OTLP protocol `http/json` is not supported",
        ),
        (
            "otlp_endpoint: http://c:4317/base\n",
            "mesh.yaml:1:16: otlp_endpoint: OTLP endpoint `http://c:4317/base`: OTLP/gRPC takes no path",
        ),
        (
            "otlp_endpoint: https://c:4317\notlp_ca_file: missing.pem\n",
            &format!("mesh.yaml:2:15: otlp_ca_file: {dir_text}/missing.pem: "),
        ),
        (
            "otlp_endpoint: https://c:4317\notlp_ca_file: not-pem.txt\n",
            &format!("mesh.yaml:2:15: otlp_ca_file: {dir_text}/not-pem.txt: "),
        ),
        (
            "otlp_endpoint: http://c:4317\notlp_ca_file: collector-ca.pem\n",
            "mesh.yaml:2:15: otlp_ca_file: OTLP CA file",
        ),
        (
            "otlp_endpoint: http://c:4317\notlp_headers:\n  content-type: text/plain\n",
            "mesh.yaml:3:3: otlp_headers.content-type: OTLP header `content-type`: set by the exporter",
        ),
        (
            "otlp_headers:\n  x-key: v\n",
            "mesh.yaml:1:1: otlp_headers: `otlp_headers` needs `otlp_endpoint`",
        ),
    ] {
        let got = at(&format!("{yaml}{services}")).unwrap_err().to_string();
        let got = got.replace(&format!("{dir_text}/mesh.yaml"), "mesh.yaml");
        assert!(got.starts_with(want), "\n got: {got}\nwant: {want}…");
        assert!(!got.contains("t0ken"));
    }
}

#[test]
fn unknown_fields() {
    assert_err(
        "services:\n  web:\n    port: 8080\n    prot: http\n",
        "mesh.yaml:4:5: services.web: unknown field `prot`, expected one of `port`, `protocol`",
    );
    assert_err(
        "trust_domain: a\nservice: {}\n",
        "mesh.yaml:2:1: unknown field `service`, expected one of `trust_domain`, `otlp_endpoint`, `otlp_protocol`, `otlp_ca_file`, `otlp_headers`, `trace_sample`, `services`",
    );
    assert_err(
        "services:\n  web:\n    versions:\n      v1: { port: 1, protocol: http }\n",
        "mesh.yaml:4:22: services.web.versions.v1: unknown field `protocol`",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams:\n      - { service: api, prt: 2 }\n",
        "mesh.yaml:5:25: services.web.upstreams[0]: unknown field `prt`, expected `service` or `port`",
    );
}

#[test]
fn syntax_errors() {
    assert_err(
        "services:\n  web:\n    port: 8080\n   bad\n",
        "mesh.yaml:4:4: did not find expected key, while parsing a block mapping at line 2 column 3",
    );
    assert_err(
        "services:\n  web: { port: 1\n",
        "mesh.yaml:3:1: did not find expected ',' or '}'",
    );
    assert_err("# nothing yet\n", "mesh.yaml:2:1: missing field `services`");
    assert_err("", "mesh.yaml:1:1: missing field `services`");
}

#[test]
fn type_errors() {
    assert_err(
        "services:\n  web:\n    port: abc\n",
        "mesh.yaml:3:11: services.web.port: invalid type: string \"abc\", expected u16",
    );
    assert_err(
        "services:\n  web:\n    port: 70000\n",
        "mesh.yaml:3:11: services.web.port: invalid value: integer `70000`, expected u16",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    protocol: udp\n",
        "mesh.yaml:4:15: services.web.protocol: unknown variant `udp`, expected one of `http`, `grpc`, `tcp`",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    command: { run: x }\n",
        "mesh.yaml:4:14: services.web.command: invalid type: map, expected a command",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams: [ 7 ]\n",
        "mesh.yaml:4:18: services.web.upstreams[0]: invalid type: integer `7`, expected a service name",
    );
    assert_err(
        "services: [web]\n",
        "mesh.yaml:1:11: services: invalid type: sequence, expected a map",
    );
    assert_err(
        "trust_domain: mesh.local\n",
        "mesh.yaml:1:1: missing field `services`",
    );
}

#[test]
fn duplicate_keys() {
    assert_err(
        "services:\n  web:\n    port: 1\n  web:\n    port: 2\n",
        "mesh.yaml:4:3: services: duplicate key `web`",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    port: 2\n",
        "mesh.yaml:4:5: services.web: duplicate key `port`",
    );
    assert_err(
        "services:\n  web:\n    versions:\n      v1: { port: 1 }\n      v1: { port: 2 }\n",
        "mesh.yaml:5:7: services.web.versions: duplicate key `v1`",
    );
}

#[test]
fn upstream_errors() {
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams: [api]\n",
        "mesh.yaml:4:17: services.web.upstreams[0]: unknown service `api` (declared: web)",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams:\n      - { service: apj, port: 9 }\n  api:\n    port: 2\n",
        "mesh.yaml:5:20: services.web.upstreams[0].service: unknown service `apj` (declared: web, api)",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams:\n      - web\n",
        "mesh.yaml:5:9: services.web.upstreams[0]: `web` cannot call itself through the mesh",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams: [api, api]\n  api:\n    port: 2\n",
        "mesh.yaml:4:22: services.web.upstreams[1]: `api` is listed twice",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    upstreams:\n      - { service: api, port: 0 }\n  api:\n    port: 2\n",
        "mesh.yaml:5:31: services.web.upstreams[0].port: port 0 is not a port",
    );
}

#[test]
fn fixed_upstream_port_with_versions_is_rejected() {
    assert_err(
        "services:\n  api:\n    upstreams:\n      - { service: q, port: 9300 }\n    versions:\n      v1: { port: 1 }\n      v2: { port: 2 }\n  q:\n    port: 3\n",
        "mesh.yaml:4:29: services.api.upstreams[0].port: a fixed upstream port cannot be shared by the 2 instances (versions or replicas) of `api`",
    );
}

#[test]
fn port_errors() {
    assert_err(
        "services:\n  web:\n    port: 0\n",
        "mesh.yaml:3:11: services.web.port: port 0 is not a port",
    );
    assert_err(
        "services:\n  web:\n    port: 8080\n  api:\n    versions:\n      v1: { port: 8081 }\n      v2: { port: 8080 }\n",
        "mesh.yaml:7:19: services.api.versions.v2.port: port 8080 is already used by services.web.port",
    );
    assert_err(
        "services:\n  web:\n    port: 8080\n    upstreams:\n      - { service: api, port: 8081 }\n  api:\n    port: 8081\n",
        "mesh.yaml:7:11: services.api.port: port 8081 is already used by services.web.upstreams[0].port",
    );
}

#[test]
fn port_and_versions() {
    assert_err(
        "services:\n  web:\n    port: 1\n    versions:\n      v1: { port: 2 }\n",
        "mesh.yaml:4:5: services.web.versions: `port` and `versions` exclude each other",
    );
    assert_err(
        "services:\n  web:\n    protocol: http\n",
        "mesh.yaml:2:3: services.web: no `port`",
    );
    assert_err(
        "services:\n  web:\n    versions: {}\n",
        "mesh.yaml:3:15: services.web.versions: no versions",
    );
    assert_err(
        "services:\n  web:\n    command: x\n    versions:\n      v1: { port: 2 }\n",
        "mesh.yaml:3:5: services.web.command: `command` with `versions`",
    );
    assert_err(
        "services:\n  web:\n    versions:\n      v1: { command: x }\n",
        "mesh.yaml:4:7: services.web.versions.v1: no `port`: give this version's port",
    );
}

#[test]
fn name_errors() {
    assert_err(
        "services:\n  Web:\n    port: 1\n",
        "mesh.yaml:2:3: services.Web: invalid service name `Web`: only lowercase letters, digits and `-` are allowed",
    );
    assert_err(
        "services:\n  -web:\n    port: 1\n",
        "mesh.yaml:2:3: services.-web: invalid service name `-web`: it must not start or end with `-`",
    );
    let long = "a".repeat(MAX_NAME_LEN + 1);
    assert_err(
        &format!("services:\n  {long}:\n    port: 1\n"),
        &format!(
            "mesh.yaml:2:3: services.{long}: invalid service name `{long}`: it is longer than 63"
        ),
    );
    assert_err(
        "services:\n  web:\n    versions:\n      v_1: { port: 1 }\n",
        "mesh.yaml:4:7: services.web.versions.v_1: invalid version name `v_1`",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    env:\n      1X: y\n",
        "mesh.yaml:5:7: services.web.env.1X: invalid environment variable name `1X`",
    );
    assert_err(
        "trust_domain: Mesh:8080\nservices:\n  web:\n    port: 1\n",
        "mesh.yaml:1:15: trust_domain: `Mesh:8080` is not a valid trust domain",
    );
}

#[test]
fn empty_things() {
    assert_err(
        "services:\n  web:\n    port: 1\n    command: \"  \"\n",
        "mesh.yaml:4:14: services.web.command: empty command",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    command: []\n",
        "mesh.yaml:4:14: services.web.command: empty command",
    );
    assert_err(
        "services:\n  web:\n    versions:\n      v1:\n        port: 1\n        command: ['']\n",
        "mesh.yaml:6:18: services.web.versions.v1.command: empty command",
    );
    assert_err(
        "services:\n  web:\n    port: 1\n    workdir: ''\n",
        "mesh.yaml:4:14: services.web.workdir: empty `workdir`",
    );
    assert_err("services: {}\n", "mesh.yaml:1:11: services: no services");
}

#[test]
fn unreadable_file() {
    let e = MeshFile::load(Path::new("/nonexistent/mesh.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("reading /nonexistent/mesh.yaml: No such file"),
        "{e}"
    );
}

#[test]
fn faults_parse_for_the_service_and_its_routes() {
    use crate::policy::fault::{Abort, Delay};
    let mesh = parse(&with_policy(
        "      fault:\n        abort: { status: 503, percent: 5 }\n        delay: { duration: 200ms, percent: 0.5 }\n      routes:\n        - match: { path: { prefix: /slow } }\n          fault: { delay: { duration: 2s, percent: 100% } }\n",
    ))
    .unwrap();
    let api = mesh.services().next().unwrap();
    let fault = api.policy.fault.unwrap();
    assert_eq!(
        fault.abort,
        Some(Abort {
            status: 503,
            per_million: 50_000
        })
    );
    assert_eq!(
        fault.delay,
        Some(Delay {
            ms: 200,
            per_million: 5_000
        })
    );
    let route = api.policy.routes[0].fault.unwrap();
    assert_eq!(route.abort, None);
    assert_eq!(
        route.delay,
        Some(Delay {
            ms: 2_000,
            per_million: 1_000_000
        })
    );
}

#[test]
fn bad_faults_name_their_location() {
    let fault = |f: &str| with_policy(&format!("      fault: {f}\n"));
    assert_err(
        &fault("{ abort: { status: 700, percent: 5 } }"),
        "mesh.yaml:7:33: services.api.policy.fault.abort.status: status 700 is outside 400-599",
    );
    assert_err(
        &fault("{ abort: { status: 503, percent: 150 } }"),
        "mesh.yaml:7:47: services.api.policy.fault.abort.percent: percent `150` is not a number from 0 to 100",
    );
    assert_err(
        &fault("{ abort: { status: 503, percent: -1 } }"),
        "mesh.yaml:7:47: services.api.policy.fault.abort.percent: percent `-1`",
    );
    assert_err(
        &fault("{ abort: { status: 503 } }"),
        "mesh.yaml:7:16: services.api.policy.fault.abort: give `percent`",
    );
    assert_err(
        &fault("{ delay: { duration: 0ms, percent: 10 } }"),
        "mesh.yaml:7:35: services.api.policy.fault.delay.duration: duration `0ms` is zero",
    );
    assert_err(
        &fault("{ delay: { duration: 2m, percent: 10 } }"),
        "mesh.yaml:7:35: services.api.policy.fault.delay.duration: delay 120000ms is over the maximum of 60s",
    );
    assert_err(
        &fault("{ delay: { percent: 10 } }"),
        "mesh.yaml:7:16: services.api.policy.fault.delay: a delay needs `duration`",
    );
    assert_err(
        &fault("{}"),
        "mesh.yaml:7:14: services.api.policy.fault: a fault needs an abort, a delay or both",
    );
    assert_err(
        &fault("{ abort: { status: 503, percent: 5, grpc: 14 } }"),
        "mesh.yaml:7:50: services.api.policy.fault.abort: unknown field `grpc`",
    );
    assert_err(
        &with_policy("      routes:\n        - fault: { delay: { duration: 1s, percent: 1e3 } }\n"),
        "mesh.yaml:8:52: services.api.policy.routes[0].fault.delay.percent: percent `1000`",
    );
}

#[test]
fn faults_on_an_opaque_tcp_service_are_refused_where_written() {
    let tcp = |policy: &str| {
        format!("services:\n  db:\n    port: 1\n    protocol: tcp\n    policy:\n{policy}")
    };
    assert_err(
        &tcp("      fault: { abort: { status: 503, percent: 5 } }\n"),
        "mesh.yaml:6:14: services.db.policy.fault: faults apply to HTTP and gRPC requests; this service has `protocol: tcp`",
    );
    assert_err(
        &tcp("      routes:\n        - fault: { delay: { duration: 1s, percent: 5 } }\n"),
        "mesh.yaml:7:18: services.db.policy.routes[0].fault: faults apply to HTTP and gRPC requests",
    );
    // The same fault on a detected or HTTP service is fine.
    parse(&with_policy(
        "      fault: { abort: { status: 503, percent: 5 } }\n",
    ))
    .unwrap();
}

#[test]
fn replicas_are_instances_with_allocated_ports_and_their_own_names() {
    let mesh = parse(
        "\
services:
  web:
    replicas: 2
    command: [\"./web\", \"--port\", \"{port}\", \"--id={replica}\"]
  api:
    replicas: 3
    versions:
      v1: { command: ./api }
      v2: { port: 8082, replicas: 1, command: ./api }
      v3: { replicas: 2, command: ./api }
",
    )
    .unwrap();
    let names: Vec<(String, Option<u16>, u32, u32)> = mesh
        .instances()
        .map(|i| (i.name(), i.port, i.replica, i.replicas))
        .collect();
    let want = [
        ("web.r0", None, 0, 2),
        ("web.r1", None, 1, 2),
        ("api.v1.r0", None, 0, 3),
        ("api.v1.r1", None, 1, 3),
        ("api.v1.r2", None, 2, 3),
        ("api.v2", Some(8082), 0, 1),
        ("api.v3.r0", None, 0, 2),
        ("api.v3.r1", None, 1, 2),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(n, p, r, rs)| (n.to_string(), *p, *r, *rs))
        .collect();
    assert_eq!(names, want);
    let web1 = mesh.instances().nth(1).unwrap();
    assert_eq!(
        web1.argv(20001).unwrap(),
        ["./web", "--port", "20001", "--id=1"]
    );
    let v1 = mesh.instances().nth(2).unwrap();
    assert_eq!(v1.argv(7).unwrap(), ["sh", "-c", "./api"]);
}

#[test]
fn replica_errors() {
    assert_err(
        "services:\n  web:\n    replicas: 0\n    command: x\n",
        "mesh.yaml:3:15: services.web.replicas: 0 replicas: give 1 to 16",
    );
    assert_err(
        "services:\n  web:\n    replicas: 17\n    command: x\n",
        "mesh.yaml:3:15: services.web.replicas: 17 replicas: give 1 to 16",
    );
    assert_err(
        "services:\n  web:\n    replicas: -1\n",
        "mesh.yaml:3:15: services.web.replicas: invalid type: integer `-1`, expected u32",
    );
    assert_err(
        "services:\n  web:\n    port: 8080\n    replicas: 2\n    command: x\n",
        "mesh.yaml:3:5: services.web.port: `port` with 2 replicas: each replica gets its own port (MESH_PORT and `{port}` in `command`); drop `port`",
    );
    assert_err(
        "services:\n  web:\n    replicas: 2\n",
        "mesh.yaml:3:15: services.web.replicas: 2 replicas of `web` need a `command`: meshctl starts each replica on its own port",
    );
    assert_err(
        "services:\n  api:\n    replicas: 2\n    versions:\n      v1: { port: 1, command: x }\n",
        "mesh.yaml:5:13: services.api.versions.v1.port: `port` with 2 replicas",
    );
    assert_err(
        "services:\n  api:\n    versions:\n      v1: { replicas: 3 }\n",
        "mesh.yaml:4:23: services.api.versions.v1.replicas: 3 replicas of `api.v1` need a `command`",
    );
    assert_err(
        "services:\n  api:\n    replicas: 2\n    versions:\n      v1: { command: x }\n      v2: { replicas: 1 }\n",
        "mesh.yaml:6:7: services.api.versions.v2: no `port`",
    );
    assert_err(
        "services:\n  api:\n    replicas: 2\n    command: x\n    upstreams:\n      - { service: q, port: 9300 }\n  q:\n    port: 3\n",
        "mesh.yaml:6:29: services.api.upstreams[0].port: a fixed upstream port cannot be shared by the 2 instances (versions or replicas) of `api`",
    );
}

#[test]
fn load_balancer_and_connect_timeout_policy() {
    let mesh = parse(&with_policy(
        "      load_balancer: round_robin\n      connect_timeout: 250ms\n",
    ))
    .unwrap();
    let api = mesh.services().next().unwrap();
    assert_eq!(api.policy.load_balancer.as_deref(), Some("round_robin"));
    assert_eq!(api.policy.connect_timeout_ms, Some(250));
    let p2c = parse(&with_policy("      load_balancer: p2c\n")).unwrap();
    let p2c = p2c.services().next().unwrap();
    assert_eq!(p2c.policy.load_balancer.as_deref(), Some("p2c"));
    assert_eq!(p2c.policy.connect_timeout_ms, None);
    assert_err(
        &with_policy("      load_balancer: random\n"),
        "mesh.yaml:7:22: services.api.policy.load_balancer: unknown load balancer `random` (expected p2c or round_robin)",
    );
    assert_err(
        &with_policy("      load_balancer: \"\"\n"),
        "mesh.yaml:7:22: services.api.policy.load_balancer: unknown load balancer ``",
    );
    assert_err(
        &with_policy("      connect_timeout: 0s\n"),
        "mesh.yaml:7:24: services.api.policy.connect_timeout: duration `0s` is zero",
    );
    assert_err(
        &with_policy("      connect_timeout: soon\n"),
        "mesh.yaml:7:24: services.api.policy.connect_timeout:",
    );
}

#[test]
fn admin_port_fixes_one_proxy_s_admin_listener() {
    let mesh = parse(
        "services:\n  web:\n    port: 8080\n    admin_port: 9901\n  api:\n    versions:\n      v1: { port: 8081, admin_port: 9902 }\n      v2: { port: 8082 }\n",
    )
    .unwrap();
    let ports: Vec<(String, Option<u16>)> =
        mesh.instances().map(|i| (i.name(), i.admin_port)).collect();
    assert_eq!(
        ports,
        [
            ("web".to_string(), Some(9901)),
            ("api.v1".to_string(), Some(9902)),
            ("api.v2".to_string(), None),
        ]
    );
}

#[test]
fn admin_port_errors() {
    assert_err(
        "services:\n  api:\n    admin_port: 9901\n    versions:\n      v1: { port: 1 }\n",
        "mesh.yaml:3:5: services.api.admin_port: `admin_port` with `versions`: each version's proxy needs its own",
    );
    assert_err(
        "services:\n  web:\n    replicas: 2\n    command: ./web\n    admin_port: 9901\n",
        "mesh.yaml:5:5: services.web.admin_port: `admin_port` with 2 replicas",
    );
    assert_err(
        "services:\n  web:\n    port: 8080\n    admin_port: 8080\n",
        "mesh.yaml:4:17: services.web.admin_port: port 8080 is already used by services.web.port",
    );
    assert_err(
        "services:\n  web:\n    port: 8080\n    admin_port: 0\n",
        "mesh.yaml:4:17: services.web.admin_port: port 0 is not a port",
    );
}

#[test]
fn a_mirror_parses_and_reaches_the_callers_config() {
    let mesh = parse(&with_policy(
        "      mirror: { version: v2, percent: 10, compare_body: true }\n",
    ))
    .unwrap();
    let api = mesh.services().next().unwrap();
    let mirror = api.policy.mirror.as_ref().unwrap();
    assert_eq!(mirror.version, "v2");
    assert_eq!(mirror.per_million, 100_000);
    assert!(mirror.compare_body);
    let upstream = crate::control::backend::upstream_config(
        "api",
        String::new(),
        String::new(),
        vec![],
        Some(&api.policy),
    );
    assert_eq!(upstream.mirror, Some(mirror.to_pb(None)));
    assert_eq!(upstream.live_mirror, None);
}

#[test]
fn bad_mirrors_name_their_location() {
    let mirror = |m: &str| with_policy(&format!("      mirror: {m}\n"));
    assert_err(
        &mirror("{ version: v3, percent: 10 }"),
        "mesh.yaml:7:26: services.api.policy.mirror.version: no version `v3` to mirror to (its versions: v1, v2)",
    );
    assert_err(
        &mirror("{ version: v2, percent: 0 }"),
        "mesh.yaml:7:39: services.api.policy.mirror.percent: percent must be above 0",
    );
    assert_err(
        &mirror("{ version: v2, percent: 101% }"),
        "mesh.yaml:7:39: services.api.policy.mirror.percent: percent `101%` is not a number from 0 to 100",
    );
    assert_err(
        &mirror("{ percent: 10 }"),
        "mesh.yaml:7:7: services.api.policy.mirror: a mirror needs `version`",
    );
    assert_err(
        &mirror("{ version: v2 }"),
        "mesh.yaml:7:7: services.api.policy.mirror: give `percent`",
    );
    assert_err(
        &mirror("{ version: v2, percent: 5, to: v1 }"),
        "mesh.yaml:7:42: services.api.policy.mirror: unknown field `to`",
    );
    assert_err(
        "services:\n  db:\n    protocol: tcp\n    versions:\n      v1: { port: 1 }\n      v2: { port: 2 }\n    policy:\n      mirror: { version: v2, percent: 5 }\n",
        "mesh.yaml:8:15: services.db.policy.mirror: mirroring applies to HTTP and gRPC requests; this service has `protocol: tcp`",
    );
}
