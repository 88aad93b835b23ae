//! Tests of the proxy's flag parsing and configuration checks.

use super::*;

#[test]
fn inbound_flag_with_and_without_protocol() {
    let plain: InboundConfig = "127.0.0.1:4143=127.0.0.1:8080".parse().unwrap();
    assert_eq!(plain.protocol, AppProtocol::Http1);
    assert_eq!(plain.app, "127.0.0.1:8080".parse().unwrap());
    let h2: InboundConfig = "127.0.0.1:4143=h2c://127.0.0.1:8080".parse().unwrap();
    assert_eq!(h2.protocol, AppProtocol::Http2);
    let err = "127.0.0.1:4143".parse::<InboundConfig>().unwrap_err();
    assert!(err.contains("LISTEN=APP"), "{err}");
    let err = "127.0.0.1:4143=ftp://1.2.3.4:1"
        .parse::<InboundConfig>()
        .unwrap_err();
    assert!(err.contains("ftp://"), "{err}");
}

#[test]
fn upstream_flag() {
    let u: UpstreamConfig = "127.0.0.1:9191=tcp://127.0.0.1:4143#spiffe://mesh.local/ns/a/sa/b"
        .parse()
        .unwrap();
    assert_eq!(u.protocol, UpstreamProtocol::Tcp);
    assert_eq!(u.identity.as_str(), "spiffe://mesh.local/ns/a/sa/b");
    let err = "127.0.0.1:9191=127.0.0.1:4143"
        .parse::<UpstreamConfig>()
        .unwrap_err();
    assert!(err.contains("PEER#SPIFFE_ID"), "{err}");
    let err = "127.0.0.1:9191=127.0.0.1:4143#http://x"
        .parse::<UpstreamConfig>()
        .unwrap_err();
    assert!(err.contains("SPIFFE_ID"), "{err}");
}

#[test]
fn yaml_unknown_field_is_named() {
    let err = serde_yaml::from_str::<FileConfig>("identity_dir: x\nlimitz: {}\n").unwrap_err();
    assert!(err.to_string().contains("limitz"), "{err}");
}

#[test]
fn otlp_settings_come_from_the_file_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proxy.yaml");
    std::fs::write(
        &file,
        "identity_dir: certs\ninbound: [{ listen: 127.0.0.1:4143, app: 127.0.0.1:8080 }]\n\
             otlp_endpoint: https://collector:4318/base\notlp_protocol: http/protobuf\n\
             otlp_ca_file: ca.pem\notlp_headers: { Authorization: Bearer file-token }\n",
    )
    .unwrap();
    let build = |otlp: OtlpSettings| {
        ProxyConfig::build(FlagConfig {
            config_file: Some(file.clone()),
            otlp,
            ..FlagConfig::default()
        })
    };
    let export = build(OtlpSettings::default()).unwrap().otlp.unwrap();
    assert_eq!(
        export.endpoint.http_traces_url(),
        "https://collector:4318/base/v1/traces"
    );
    assert_eq!(
        export.ca_file,
        Some(dir.path().join("ca.pem")),
        "beside the file"
    );
    assert_eq!(export.headers.names(), ["authorization"]);

    let mut headers = OtlpHeaders::default();
    headers.push("x-team", b"blue").unwrap();
    let flags = OtlpSettings {
        protocol: Some(OtlpProtocol::Grpc),
        endpoint: Some("https://other:4317".parse().unwrap()),
        headers,
        ..OtlpSettings::default()
    };
    let export = build(flags).unwrap().otlp.unwrap();
    assert_eq!(export.protocol, OtlpProtocol::Grpc);
    assert_eq!(export.endpoint.origin(), "https://other:4317");
    assert_eq!(
        export.headers.names(),
        ["x-team"],
        "the flags' headers replace the file's"
    );

    let only_header = OtlpSettings {
        headers: OtlpHeaders::parse_list("x-key=1").unwrap(),
        ..OtlpSettings::default()
    };
    let err = only_header.export().unwrap_err();
    assert!(
        err.starts_with("--otlp-header (`otlp_headers`) needs an OTLP endpoint"),
        "{err}"
    );
    assert_eq!(OtlpSettings::default().export(), Ok(None));
}

#[test]
fn shipped_examples_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for name in ["proxy-server.yaml", "proxy-client.yaml"] {
        let config = ProxyConfig::build(FlagConfig {
            config_file: Some(dir.join(name)),
            ..FlagConfig::default()
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(config.identity_dir.starts_with(&dir), "{name}");
    }
}

#[test]
fn duplicate_listeners_are_refused() {
    let inbound: InboundConfig = "127.0.0.1:4143=127.0.0.1:8080".parse().unwrap();
    let flags = FlagConfig {
        identity_dir: Some("d".into()),
        inbound: vec![inbound.clone(), inbound],
        ..FlagConfig::default()
    };
    let err = ProxyConfig::build(flags).unwrap_err();
    assert!(matches!(err, ConfigError::DuplicateListen { .. }), "{err}");
}
