//! Tests of the tracing settings: endpoint forms, protocols, headers and the OTEL_* variables.

use std::collections::HashMap;

use super::*;

#[test]
fn endpoints_are_http_with_a_port_or_https() {
    let plain: OtlpEndpoint = "http://127.0.0.1:4317".parse().unwrap();
    assert_eq!(plain.to_string(), "http://127.0.0.1:4317");
    assert!(!plain.is_tls());
    assert_eq!(plain.target(OtlpProtocol::Grpc), "http://127.0.0.1:4317");
    assert_eq!(
        plain.target(OtlpProtocol::HttpProtobuf),
        "http://127.0.0.1:4317/v1/traces"
    );
    let slash: OtlpEndpoint = "http://collector:4317/".parse().unwrap();
    assert_eq!(slash.to_string(), "http://collector:4317");

    // https: the port may be left to the scheme (443), as hosted collectors are reached.
    let hosted: OtlpEndpoint = "https://otlp.example.com/base/".parse().unwrap();
    assert!(hosted.is_tls());
    assert_eq!(hosted.origin(), "https://otlp.example.com");
    assert_eq!(
        hosted.http_traces_url(),
        "https://otlp.example.com/base/v1/traces"
    );

    // The signal URL from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is.
    let full = OtlpEndpoint::traces_url("https://c.example:4318/custom/traces").unwrap();
    assert_eq!(
        full.http_traces_url(),
        "https://c.example:4318/custom/traces"
    );
    let full = OtlpEndpoint::traces_url("http://c:4318/v1/traces").unwrap();
    assert_eq!(full.http_traces_url(), "http://c:4318/v1/traces");

    for (bad, why) in [
        ("127.0.0.1:4317", "expected http://HOST:PORT"),
        ("ftp://127.0.0.1:4317", "expected http://HOST:PORT"),
        ("http://127.0.0.1", "name the port"),
        (
            "http://127.0.0.1:4318/v1/traces",
            "`/v1/traces` is appended",
        ),
        ("http://127.0.0.1:4318/v1/traces/", "drop it"),
        ("http://127.0.0.1:4318/?x=1", "no query"),
        (
            "https://user:secret@c:4318",
            "credentials do not go in the URL",
        ),
        ("not a url", "not a URL"),
        ("", "not a URL"),
    ] {
        let err = bad.parse::<OtlpEndpoint>().unwrap_err();
        assert!(
            err.contains(&format!("`{bad}`")) && err.contains(why),
            "{bad}: {err}"
        );
    }
}

#[test]
fn protocols_are_grpc_or_http_protobuf() {
    assert_eq!("grpc".parse(), Ok(OtlpProtocol::Grpc));
    assert_eq!("http/protobuf".parse(), Ok(OtlpProtocol::HttpProtobuf));
    assert_eq!(OtlpProtocol::HttpProtobuf.to_string(), "http/protobuf");
    assert_eq!(OtlpProtocol::default(), OtlpProtocol::Grpc);
    let err = "http/json".parse::<OtlpProtocol>().unwrap_err();
    assert!(err.contains("`http/json` is not supported"), "{err}");
    for bad in ["GRPC", "http", "", "grpc "] {
        let err = bad.parse::<OtlpProtocol>().unwrap_err();
        assert!(
            err.contains("expected grpc or http/protobuf"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn settings_are_checked_together() {
    let https: OtlpEndpoint = "https://c:4318".parse().unwrap();
    let http: OtlpEndpoint = "http://c:4318/prefix".parse().unwrap();
    let ca = Some(PathBuf::from("ca.pem"));
    let none = OtlpHeaders::default;
    assert!(OtlpExport::new(https.clone(), OtlpProtocol::Grpc, ca.clone(), none()).is_ok());
    assert!(OtlpExport::new(http.clone(), OtlpProtocol::HttpProtobuf, None, none()).is_ok());
    for (endpoint, protocol, ca_file, why) in [
        (&http, OtlpProtocol::Grpc, None, "OTLP/gRPC takes no path"),
        (&https, OtlpProtocol::Grpc, None, "https needs a CA file"),
        (
            &http,
            OtlpProtocol::HttpProtobuf,
            ca.clone(),
            "a CA file is for an https:// endpoint",
        ),
    ] {
        let err = OtlpExport::new(endpoint.clone(), protocol, ca_file, none()).unwrap_err();
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn headers_are_checked_and_never_shown() {
    let (name, value) = parse_header_flag("Authorization=Bearer s3cret=").unwrap();
    assert_eq!(name, "authorization");
    assert_eq!(value, "Bearer s3cret=");
    assert!(value.is_sensitive());

    let mut headers = OtlpHeaders::default();
    headers.push("x-team", b"blue").unwrap();
    headers.push("Authorization", b"Bearer s3cret").unwrap();
    let shown = format!("{headers:?}");
    assert!(
        !shown.contains("s3cret") && shown.contains("authorization"),
        "{shown}"
    );
    assert_eq!(headers.names(), ["x-team", "authorization"]);

    for (bad, why) in [
        ("novalue", "expected NAME=VALUE"),
        ("bad name=x", "not a valid header name"),
        ("content-type=text/plain", "set by the exporter"),
        ("grpc-timeout=1S", "set by the exporter"),
        ("x-a=line\nbreak", "not a valid header value"),
    ] {
        let err = parse_header_flag(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
        assert!(!err.contains("break"), "the value is never repeated: {err}");
    }
    let err = headers.push("x-team", b"red").unwrap_err();
    assert!(err.contains("`x-team` is given twice"), "{err}");
}

#[test]
fn header_lists_are_percent_decoded_and_round_trip() {
    let headers =
        OtlpHeaders::parse_list(" api-key = a%20b%2Cc== , , Authorization=Basic%20dXNlcg==,")
            .unwrap();
    let pairs: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("api-key".to_string(), b"a b,c==".to_vec()),
            ("authorization".to_string(), b"Basic dXNlcg==".to_vec()),
        ]
    );
    assert_eq!(
        OtlpHeaders::parse_list(&headers.to_list()).unwrap(),
        headers
    );
    assert!(OtlpHeaders::parse_list("").unwrap().is_empty());

    for (bad, why) in [
        ("a=b,justakey", "`justakey…`: expected key=value"),
        (
            "a=%zz",
            "OTLP header `a`: a `%` not followed by two hex digits",
        ),
        ("a=%2", "two hex digits"),
        ("a=%0A", "not a valid header value"),
        ("=v", "not a valid header name"),
        ("a=1,A=2", "given twice"),
    ] {
        let err = OtlpHeaders::parse_list(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

fn env(vars: &[(&str, &str)]) -> Result<Option<OtlpExport>, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    OtlpExport::from_env(|name| vars.get(name).cloned())
}

#[test]
fn the_otel_variables_configure_the_export_when_set() {
    // No endpoint: off, and the other variables (set for the app, say) are not read.
    assert_eq!(env(&[]), Ok(None));
    assert_eq!(
        env(&[(ENV_PROTOCOL, "http/json"), (ENV_ENDPOINT, "")]),
        Ok(None)
    );

    let export = env(&[
        (ENV_ENDPOINT, "https://c.example:4318/otlp"),
        (ENV_PROTOCOL, "http/protobuf"),
        (ENV_HEADERS, "authorization=Bearer%20t0ken"),
        (ENV_CERTIFICATE, "/etc/collector-ca.pem"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(export.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(
        export.endpoint.http_traces_url(),
        "https://c.example:4318/otlp/v1/traces"
    );
    assert_eq!(export.ca_file, Some(PathBuf::from("/etc/collector-ca.pem")));
    assert_eq!(export.headers.names(), ["authorization"]);

    // The TRACES_ variants win, and the traces endpoint is used as it is.
    let export = env(&[
        (ENV_ENDPOINT, "http://general:4317"),
        (ENV_TRACES_ENDPOINT, "http://traces:4318/v1/traces"),
        (ENV_PROTOCOL, "grpc"),
        (ENV_TRACES_PROTOCOL, "http/protobuf"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(
        export.endpoint.http_traces_url(),
        "http://traces:4318/v1/traces"
    );
    assert_eq!(export.protocol, OtlpProtocol::HttpProtobuf);

    // gRPC is the default protocol.
    let export = env(&[(ENV_ENDPOINT, "http://c:4317")]).unwrap().unwrap();
    assert_eq!(export.protocol, OtlpProtocol::Grpc);
}

#[test]
fn a_bad_otel_variable_is_an_error_naming_it() {
    for (vars, needle) in [
        (
            &[(ENV_ENDPOINT, "c:4317")][..],
            "OTEL_EXPORTER_OTLP_ENDPOINT: OTLP endpoint `c:4317`",
        ),
        (
            &[(ENV_TRACES_ENDPOINT, "http://c")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: OTLP endpoint `http://c`: name the port",
        ),
        (
            &[(ENV_ENDPOINT, "http://c:4317"), (ENV_PROTOCOL, "http/json")],
            "OTEL_EXPORTER_OTLP_PROTOCOL: OTLP protocol `http/json` is not supported",
        ),
        (
            &[(ENV_ENDPOINT, "http://c:4317"), (ENV_HEADERS, "a")],
            "OTEL_EXPORTER_OTLP_HEADERS: `a…`: expected key=value",
        ),
        (
            &[(ENV_ENDPOINT, "https://c:4317")],
            "OTEL_EXPORTER_OTLP_* variables: OTLP endpoint `https://c:4317`: https needs a CA file",
        ),
        (
            &[(ENV_ENDPOINT, "http://c:4317/x")],
            "OTLP/gRPC takes no path",
        ),
    ] {
        let err = env(vars).unwrap_err();
        assert!(err.contains(needle), "{vars:?}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}
