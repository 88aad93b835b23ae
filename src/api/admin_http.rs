//! The CLI's HTTP client for proxies' admin listeners (`/stats`, `/config`, `/ready`): one
//! reqwest client with a deadline, a body limit and one-line errors naming the URL.
//!
//! A proxy is addressed by a base URL, not a socket address: locally
//! `http://127.0.0.1:PORT/` ([`AdminClient::local_base`]); in a cluster the same paths are
//! reachable through the Kubernetes API server's pod proxy
//! (`https://APISERVER/api/v1/namespaces/NS/pods/POD:PORT/proxy/`), which needs a bearer
//! token and the API server's CA — both options of [`AdminClientOptions`].

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use super::stats::StatsSnapshot;

/// How long one admin request may take, connect to last body byte, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest body accepted unless told otherwise (a proxy's `/stats` peers are bounded by
/// the mesh's identities; `/config` is smaller still).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;
/// How much of a non-200 answer's body an error quotes.
pub(crate) const ERROR_BODY_CHARS: usize = 200;

/// What went wrong with one admin request; every message is one line naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("GET {url}: {why}")]
    Connect { url: Url, why: String },
    #[error("GET {url}: no complete answer within {}", humanize(*.timeout))]
    Timeout { url: Url, timeout: Duration },
    #[error("GET {url}: body over the {limit}-byte limit")]
    TooLarge { url: Url, limit: usize },
    #[error("GET {url}: answered {status}{}{}", if .body.is_empty() { "" } else { ": " }, .body)]
    Status {
        url: Url,
        status: StatusCode,
        /// The start of the answer's body, on one line (what the server said was wrong).
        body: String,
    },
    #[error("GET {url}: bad JSON: {source}")]
    Decode {
        url: Url,
        #[source]
        source: serde_json::Error,
    },
    #[error("GET {url}: {why}")]
    Other { url: Url, why: String },
    #[error("admin HTTP client: {0}")]
    Setup(String),
}

impl AdminError {
    /// The HTTP status of a non-200 answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            AdminError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How an [`AdminClient`] reaches its proxies.
#[derive(Debug, Clone)]
pub struct AdminClientOptions {
    /// Deadline of each request, from connecting to the last body byte.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// Sent as `Authorization: Bearer …` (e.g. a Kubernetes service-account token).
    pub bearer_token: Option<String>,
    /// PEM certificates an https server must chain to (e.g. the API server's CA). Without
    /// them https is refused (no system roots: meshctl trusts what it is told to).
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for AdminClientOptions {
    fn default() -> Self {
        AdminClientOptions {
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            bearer_token: None,
            ca_pem: None,
        }
    }
}

/// A client for admin listeners. Cheap to clone (one connection setup shared).
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    timeout: Duration,
    max_body: usize,
    auth: Option<HeaderValue>,
}

impl AdminClient {
    pub fn new(opts: AdminClientOptions) -> Result<Self, AdminError> {
        let tls = tls_config(opts.ca_pem.as_deref())?;
        let http = reqwest::Client::builder()
            // rustls with ring, the provider the rest of meshctl uses, and only these roots.
            .tls_backend_preconfigured(tls)
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            // Admin listeners are on loopback or behind the API server: never via HTTP_PROXY.
            .no_proxy()
            // A new connection per request, like the HTTP/1.0 exchange this replaced: a
            // pooled connection outlives the Tokio runtime that made it (the CLI's, a test's)
            // and then fails on the next use; loopback connects cost microseconds.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("meshctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AdminError::Setup(chain(&e)))?;
        let auth = match opts.bearer_token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| {
                        AdminError::Setup("the bearer token is not a header value".into())
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(AdminClient {
            http,
            timeout: opts.timeout,
            max_body: opts.max_body,
            auth,
        })
    }

    /// The client for a local mesh's loopback admin listeners (default options), built once.
    pub fn local() -> Result<&'static AdminClient, AdminError> {
        static LOCAL: OnceLock<Result<AdminClient, String>> = OnceLock::new();
        LOCAL
            .get_or_init(|| {
                AdminClient::new(AdminClientOptions::default()).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| AdminError::Setup(e.clone()))
    }

    /// The same client with another per-request deadline.
    pub fn with_timeout(&self, timeout: Duration) -> AdminClient {
        AdminClient {
            timeout,
            ..self.clone()
        }
    }

    /// `http://ADDR/`: the base URL of a local proxy's admin listener.
    pub fn local_base(addr: SocketAddr) -> Result<Url, AdminError> {
        let text = format!("http://{addr}/");
        Url::parse(&text).map_err(|e| AdminError::Setup(format!("{text}: {e}")))
    }

    /// `GET /stats?window=SECS`.
    pub async fn stats(&self, base: &Url, window: Duration) -> Result<StatsSnapshot, AdminError> {
        self.get_json(base, &format!("stats?window={}", window.as_secs()))
            .await
    }

    /// `GET /config`: what the proxy runs with, as JSON.
    pub async fn config(&self, base: &Url) -> Result<serde_json::Value, AdminError> {
        self.get_json(base, "config").await
    }

    /// `GET /ready`: `Ok` when it answers 200; a [`AdminError::Status`] when it answers but
    /// is not ready.
    pub async fn ready(&self, base: &Url) -> Result<(), AdminError> {
        self.get(base, "ready").await.map(drop)
    }

    /// `GET PATH` (relative to `base`) decoded as JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        base: &Url,
        path: &str,
    ) -> Result<T, AdminError> {
        let (url, body) = self.get(base, path).await?;
        serde_json::from_slice(&body).map_err(|source| AdminError::Decode { url, source })
    }

    /// `GET PATH` (relative to `base`): the URL and the whole body of a 200 answer.
    pub async fn get(&self, base: &Url, path: &str) -> Result<(Url, Vec<u8>), AdminError> {
        let url = join(base, path)?;
        let exchange = self.exchange(&url);
        // reqwest's deadline covers the body too; this one also covers a body read slowly
        // chunk by chunk, whatever reqwest's version does.
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result.map(|body| (url, body)),
            Err(_) => Err(AdminError::Timeout {
                url,
                timeout: self.timeout,
            }),
        }
    }

    async fn exchange(&self, url: &Url) -> Result<Vec<u8>, AdminError> {
        let mut request = self.http.get(url.clone()).timeout(self.timeout);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let mut response = request.send().await.map_err(|e| self.error(url, &e))?;
        let status = response.status();
        let too_large = || AdminError::TooLarge {
            url: url.clone(),
            limit: self.max_body,
        };
        if status == StatusCode::OK
            && response
                .content_length()
                .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.error(url, &e))? {
            if body.len() + chunk.len() > self.max_body {
                if status != StatusCode::OK {
                    break;
                }
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if status != StatusCode::OK {
            return Err(AdminError::Status {
                url: url.clone(),
                status,
                body: one_line(&body),
            });
        }
        Ok(body)
    }

    fn error(&self, url: &Url, e: &reqwest::Error) -> AdminError {
        let url = url.clone();
        if e.is_timeout() {
            AdminError::Timeout {
                url,
                timeout: self.timeout,
            }
        } else if e.is_connect() {
            AdminError::Connect {
                url,
                why: connect_reason(e),
            }
        } else {
            AdminError::Other { url, why: chain(e) }
        }
    }
}

/// `base` + `path`, keeping `base`'s own path (the API server's `…/proxy/` prefix).
fn join(base: &Url, path: &str) -> Result<Url, AdminError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path.trim_start_matches('/'))
        .map_err(|e| AdminError::Other {
            url: base.clone(),
            why: format!("cannot add `{path}` to the URL: {e}"),
        })
}

/// rustls with ring; the roots are `ca_pem`'s certificates, none without it.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, AdminError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| AdminError::Setup(format!("CA certificates: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| AdminError::Setup(format!("CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(AdminError::Setup("no certificate in the CA PEM".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AdminError::Setup(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Why a connection failed, as its innermost I/O error says it ("Connection refused …").
fn connect_reason(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut innermost = None;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            innermost = Some(match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => io.to_string(),
            });
        }
        source = s.source();
    }
    innermost.unwrap_or_else(|| format!("cannot connect: {}", chain(e)))
}

/// An error and its sources on one line, each said once, without reqwest's repetition of
/// the URL (also the OTLP exporter's).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        let text = match s.downcast_ref::<reqwest::Error>() {
            Some(r) => match r.url() {
                Some(u) => text.replace(&format!(" ({u})"), ""),
                None => text,
            },
            None => text,
        };
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A response body as one line of at most [`ERROR_BODY_CHARS`] characters (for errors).
pub(crate) fn one_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > ERROR_BODY_CHARS {
        line = line.chars().take(ERROR_BODY_CHARS).collect::<String>() + "…";
    }
    line
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests;
