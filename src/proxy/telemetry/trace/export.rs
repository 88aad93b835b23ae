//! The two OTLP transports an encoded export request goes out on: OTLP/gRPC (tonic, over
//! plain TCP or TLS through our own rustls connector) and OTLP/HTTP with protobuf bodies
//! (reqwest with rustls). Both send the configured headers and report how many spans the
//! collector rejected (its partial success).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::wire;
use crate::api::admin_http::{chain, one_line};
use crate::api::proto::otlp as pb;
use crate::policy::tracing::{OtlpExport, OtlpProtocol};

/// How long connecting to the collector (TCP and the TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Sent as `User-Agent` on both transports (the OTLP spec asks exporters to name themselves).
const USER_AGENT: &str = concat!("meshctl-proxy/", env!("CARGO_PKG_VERSION"));

/// What a collector answered to an accepted export.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Spans the collector says it rejected (`partial_success.rejected_spans`).
    pub rejected: u64,
    /// The collector's message about them (or a warning), if any.
    pub message: String,
}

/// One configured transport.
pub enum Transport {
    Grpc {
        client: tonic::client::Grpc<tonic::transport::Channel>,
        metadata: tonic::metadata::MetadataMap,
    },
    Http {
        client: reqwest::Client,
        url: reqwest::Url,
        headers: HeaderMap,
    },
}

/// A client TLS config trusting exactly the CA certificates in `ca_file` (TLS 1.2 and 1.3,
/// ring): the collector's certificate must chain to one of them and name the endpoint's
/// host. Errors name the file.
pub fn collector_tls(ca_file: &Path) -> Result<rustls::ClientConfig, String> {
    let bad = |why: String| format!("OTLP CA file {}: {why}", ca_file.display());
    let text = std::fs::read_to_string(ca_file).map_err(|e| bad(e.to_string()))?;
    let ders = crate::identity::pem::certs(&text).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for der in ders {
        roots
            .add(der)
            .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

impl std::fmt::Debug for Transport {
    /// The transport and where it sends; never the headers (credentials).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Grpc { .. } => f.write_str("Transport::Grpc"),
            Transport::Http { url, .. } => write!(f, "Transport::Http({url})"),
        }
    }
}

impl Transport {
    /// The transport for `export`; connects lazily (nothing is dialled here). Errors: the CA
    /// file, or a URL the client libraries refuse.
    pub fn new(export: &OtlpExport, timeout: Duration) -> Result<Self, String> {
        let tls = match &export.ca_file {
            Some(file) => Some(collector_tls(file)?),
            None => None,
        };
        let target = export.endpoint.target(export.protocol);
        let bad = |e: &dyn std::fmt::Display| format!("OTLP endpoint {target}: {e}");
        match export.protocol {
            OtlpProtocol::Grpc => {
                let endpoint = tonic::transport::Endpoint::from_shared(target.clone())
                    .and_then(|e| e.user_agent(USER_AGENT))
                    .map_err(|e| bad(&e))?
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(timeout);
                let channel = match tls {
                    None => endpoint.connect_lazy(),
                    Some(mut config) => {
                        config.alpn_protocols = vec![b"h2".to_vec()];
                        let config = Arc::new(config);
                        endpoint.connect_with_connector_lazy(tower::service_fn(
                            move |uri: http::Uri| tls_connect(uri, config.clone()),
                        ))
                    }
                };
                let headers: HeaderMap = export.headers.iter().cloned().collect();
                Ok(Transport::Grpc {
                    client: tonic::client::Grpc::new(channel),
                    metadata: tonic::metadata::MetadataMap::from_headers(headers),
                })
            }
            OtlpProtocol::HttpProtobuf => {
                let url = reqwest::Url::parse(&target).map_err(|e| bad(&e))?;
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(timeout)
                    // Not through HTTP(S)_PROXY (the gRPC transport never is either), and a
                    // collector that redirects is misconfigured: its answer is the error.
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(USER_AGENT);
                if let Some(mut config) = tls {
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    builder = builder.tls_backend_preconfigured(config);
                }
                let client = builder.build().map_err(|e| bad(&chain(&e)))?;
                let mut headers: HeaderMap = export.headers.iter().cloned().collect();
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-protobuf"),
                );
                Ok(Transport::Http {
                    client,
                    url,
                    headers,
                })
            }
        }
    }

    /// Sends one encoded `ExportTraceServiceRequest`. `Ok`: the collector took it (minus
    /// what it says it rejected); `Err`: nothing was accepted, and why, on one line.
    pub async fn send(&mut self, body: Vec<u8>) -> Result<Accepted, String> {
        let response = match self {
            Transport::Grpc { client, metadata } => {
                client.ready().await.map_err(|e| chain(&e))?;
                let path = http::uri::PathAndQuery::from_static(wire::EXPORT_PATH);
                let request = tonic::Request::from_parts(
                    metadata.clone(),
                    tonic::Extensions::default(),
                    body,
                );
                let call = client.unary(request, path, wire::ExportCodec);
                call.await
                    .map_err(|status| status.to_string())?
                    .into_inner()
            }
            Transport::Http {
                client,
                url,
                headers,
            } => post(client, url, headers, body).await?,
        };
        let partial = response.partial_success.unwrap_or_default();
        Ok(Accepted {
            rejected: u64::try_from(partial.rejected_spans).unwrap_or(0),
            message: partial.error_message,
        })
    }
}

/// OTLP/HTTP: `POST` the body; 2xx is success (its body, if any, an
/// `ExportTraceServiceResponse`), anything else an error carrying the collector's message
/// (a `google.rpc.Status` body, or text).
async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> Result<pb::ExportTraceServiceResponse, String> {
    let response = client
        .post(url.clone())
        .headers(headers.clone())
        .body(body)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let status = response.status();
    let protobuf = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/x-protobuf"));
    let bytes: Bytes = response.bytes().await.map_err(|e| chain(&e))?;
    if status.is_success() {
        // An unreadable success body still means the spans were taken.
        return Ok(prost::Message::decode(bytes).unwrap_or_default());
    }
    let message = if protobuf {
        <RpcStatus as prost::Message>::decode(bytes.clone())
            .map(|s| s.message)
            .unwrap_or_default()
    } else {
        one_line(&bytes)
    };
    Err(match message.is_empty() {
        true => format!("HTTP {status}"),
        false => format!("HTTP {status}: {message}"),
    })
}

/// `google.rpc.Status`, what an OTLP/HTTP collector's error body holds: only the message is
/// read.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// TCP to the URI's host and port (443 when none), then TLS with `config`, checking the
/// certificate names that host.
async fn tls_connect(
    uri: http::Uri,
    config: Arc<rustls::ClientConfig>,
) -> Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>, std::io::Error> {
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let host = uri
        .host()
        .ok_or_else(|| invalid(format!("{uri}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let name = ServerName::try_from(host.clone()).map_err(|e| invalid(e.to_string()))?;
    let port = uri.port_u16().unwrap_or(443);
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    let _ = tcp.set_nodelay(true);
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(TokioIo::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::admin_http::ERROR_BODY_CHARS;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = collector_tls(&missing).unwrap_err();
        assert!(
            err.starts_with(&format!("OTLP CA file {}", missing.display())),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let err = collector_tls(&empty).unwrap_err();
        assert!(
            err.contains("empty.pem") && err.contains("no CERTIFICATE"),
            "{err}"
        );
    }

    #[test]
    fn collector_error_bodies_shrink_to_one_line() {
        assert_eq!(one_line(b"  bad\n  token \n"), "bad token");
        let long = "x".repeat(500);
        assert_eq!(
            one_line(long.as_bytes()).chars().count(),
            ERROR_BODY_CHARS + 1
        );
        let status = RpcStatus {
            code: 16,
            message: "unauthenticated".into(),
        };
        let decoded = <RpcStatus as prost::Message>::decode(
            prost::Message::encode_to_vec(&status).as_slice(),
        )
        .unwrap();
        assert_eq!(decoded.message, "unauthenticated");
    }
}
