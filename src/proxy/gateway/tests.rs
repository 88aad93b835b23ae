//! The gateway's request-cleaning helpers (the whole gateway is tested through real clients
//! in the integration tests).

use super::*;

#[test]
fn a_query_key_is_taken_out_and_the_rest_kept() {
    let mut q = Some("a=1&key=mk_a%2Bb&b=2&key=second".to_string());
    assert_eq!(take_query_param(&mut q, "key").as_deref(), Some("mk_a+b"));
    assert_eq!(q.as_deref(), Some("a=1&b=2"));
    let mut none = None;
    assert_eq!(take_query_param(&mut none, "key"), None);
    let mut bad = Some("key=%zz&key=second".to_string());
    assert_eq!(
        take_query_param(&mut bad, "key"),
        None,
        "a malformed first key is no key"
    );
    assert_eq!(bad.as_deref(), Some(""));
    let mut only = Some("key=x".to_string());
    assert_eq!(take_query_param(&mut only, "key").as_deref(), Some("x"));
    assert_eq!(only.as_deref(), Some(""));
}

#[test]
fn mesh_headers_from_outside_are_removed() {
    let mut h = http::HeaderMap::new();
    h.insert("x-meshctl-api-key-name", HeaderValue::from_static("admin"));
    h.insert("x-meshctl-fault", HeaderValue::from_static("abort"));
    h.insert("x-other", HeaderValue::from_static("kept"));
    strip_mesh_headers(&mut h);
    assert_eq!(h.len(), 1);
    assert!(h.contains_key("x-other"));
}

#[test]
fn forwarding_headers_trust_only_a_configured_proxy() {
    let remote: SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let mut req = Request::new(());
    let h = req.headers_mut();
    h.insert(X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
    h.insert(X_REQUEST_ID, HeaderValue::from_static("client-chosen"));
    h.insert(FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
    // Untrusted: the client's claims are discarded.
    let client = client_ip(&req, remote, false);
    assert_eq!(client, remote.ip());
    let mut headers = req.headers().clone();
    set_forwarding(&mut headers, client, remote, "api.example.com", true, false);
    assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.9");
    assert_eq!(headers[FORWARDED], "for=10.0.0.9;proto=https");
    assert_eq!(headers[X_FORWARDED_HOST], "api.example.com");
    assert_eq!(headers[X_FORWARDED_PROTO], "https");
    let id = headers[X_REQUEST_ID].to_str().unwrap();
    assert!(id != "client-chosen" && id.len() == 32, "{id}");
    // Trusted: the last entry is the client, and the chain grows.
    let client = client_ip(&req, remote, true);
    assert_eq!(client.to_string(), "1.2.3.4");
    let mut headers = req.headers().clone();
    set_forwarding(&mut headers, client, remote, "h", false, true);
    assert_eq!(headers[X_FORWARDED_FOR], "1.2.3.4, 10.0.0.9");
    assert_eq!(headers[X_REQUEST_ID], "client-chosen");
}

#[test]
fn the_host_comes_from_the_authority_or_the_host_header_without_port() {
    let req = Request::builder()
        .uri("https://API.Example.com:8443/x")
        .body(())
        .unwrap();
    assert_eq!(request_host(&req), "api.example.com");
    let req = Request::builder()
        .uri("/x")
        .header(HOST, "Shop.example.com:80")
        .body(())
        .unwrap();
    assert_eq!(request_host(&req), "shop.example.com");
}
