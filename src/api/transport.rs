//! How clients (the CLI, the proxies' agents) reach the control plane: gRPC over the Unix
//! socket in the state dir (local mode), or over TCP + TLS 1.3 to `https://HOST:PORT`
//! verified against a trust-bundle file (cluster mode); every call carries a bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::{TcpStream, UnixStream};
use tonic::transport::{Channel, Endpoint, Uri};

/// How long one call may wait for the control plane's answer unless told otherwise
/// (`--request-timeout`): a Unix socket connects even to a stopped process, so without a
/// deadline a wedged control plane would hang every command.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to the socket may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// HTTP/2 pings on an https channel: every this often…
pub const HTTPS_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// …and the connection is dropped (and re-made) when one is not answered within this.
pub const HTTPS_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to the control plane's socket. It connects lazily and reconnects by itself.
/// `request_timeout`: the deadline for each call's answer (its response head; a stream then
/// flows for as long as it lasts); `None` for clients that wait on purpose.
pub fn channel(socket: &Path, request_timeout: Option<Duration>) -> Channel {
    let path: PathBuf = socket.to_path_buf();
    // The URI is required by tonic but unused: the connector dials the socket.
    let mut endpoint =
        Endpoint::from_static("http://control-plane.local").connect_timeout(CONNECT_TIMEOUT);
    if let Some(timeout) = request_timeout {
        endpoint = endpoint.timeout(timeout);
    }
    endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { UnixStream::connect(path).await.map(TokioIo::new) }
    }))
}

/// Where a proxy reaches its control plane: the `--control-plane` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlPlaneAddr {
    /// A Unix socket path (local mode, `meshctl up`).
    Socket(PathBuf),
    /// `https://HOST:PORT` (cluster mode); the server's certificate must chain to the
    /// anchors in `bundle_path` and name HOST.
    Https { url: Uri, bundle_path: PathBuf },
}

impl ControlPlaneAddr {
    /// Parses a `--control-plane` value: `https://…` is a URL (the bundle path is set
    /// later, [`ControlPlaneAddr::with_bundle`]); `http://…` is refused (the control plane
    /// hands out certificates: never in the clear); anything else is a socket path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") {
            return Err(format!(
                "`{text}`: plain http:// is refused; the control plane is reached over \
                 https://HOST:PORT or a Unix socket path"
            ));
        }
        if !lower.starts_with("https://") {
            if text.is_empty() {
                return Err("an empty control-plane socket path".into());
            }
            return Ok(ControlPlaneAddr::Socket(PathBuf::from(text)));
        }
        let url: Uri = text.parse().map_err(|e| format!("`{text}`: {e}"))?;
        let Some(host) = url.host().filter(|h| !h.is_empty()) else {
            return Err(format!("`{text}`: no host"));
        };
        server_name(host).map_err(|e| format!("`{text}`: {e}"))?;
        if url.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "`{text}`: expected https://HOST[:PORT], without a path"
            ));
        }
        Ok(ControlPlaneAddr::Https {
            url,
            bundle_path: PathBuf::new(),
        })
    }

    /// The same address verified against `bundle` (no change to a socket address).
    pub fn with_bundle(self, bundle: PathBuf) -> Self {
        match self {
            ControlPlaneAddr::Https { url, .. } => ControlPlaneAddr::Https {
                url,
                bundle_path: bundle,
            },
            socket => socket,
        }
    }

    /// A channel to this address ([`channel`] or [`https_channel`]).
    pub fn channel(&self, request_timeout: Option<Duration>) -> Channel {
        match self {
            ControlPlaneAddr::Socket(path) => channel(path, request_timeout),
            ControlPlaneAddr::Https { url, bundle_path } => {
                https_channel(url, bundle_path, request_timeout)
            }
        }
    }
}

impl std::fmt::Display for ControlPlaneAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlPlaneAddr::Socket(path) => write!(f, "{}", path.display()),
            ControlPlaneAddr::Https { url, .. } => write!(f, "{url}"),
        }
    }
}

/// The TLS name of a URL's host: a DNS name or an IP address (`[v6]` without brackets).
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| format!("host `{host}`: {e}"))
}

/// A channel to a control plane at `url` (`https://HOST:PORT`, 443 when no port) over
/// TCP + TLS 1.3 (ALPN `h2`). The server's certificate must chain to an anchor in
/// `bundle_path` and be valid for HOST (a DNS name or an IP address). The bundle file is
/// read again for every (re)connection, so a rotated bundle is followed. Connects lazily and
/// reconnects by itself; `request_timeout` as for [`channel`].
pub fn https_channel(url: &Uri, bundle_path: &Path, request_timeout: Option<Duration>) -> Channel {
    // Across a cluster network (a Service, a node that disappears) a silent peer is noticed
    // only by pings: the long-lived watch stream then fails and is re-established.
    let mut endpoint = Endpoint::from(url.clone())
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(HTTPS_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(HTTPS_KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    if let Some(timeout) = request_timeout {
        endpoint = endpoint.timeout(timeout);
    }
    let bundle_path: Arc<Path> = Arc::from(bundle_path);
    endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: Uri| {
        let bundle_path = bundle_path.clone();
        async move { tls_connect(&uri, &bundle_path).await.map(TokioIo::new) }
    }))
}

/// A channel to a mesh peer at `addr` over TCP + TLS 1.3 with `config` (a mesh client
/// config: it presents the caller's SVID and checks the server's SPIFFE ID itself, so the
/// TLS server name is only a placeholder). Connects lazily; `connect_timeout` bounds the
/// TCP connect and the handshake. The cluster tap: a controller to a sidecar's tap listener.
pub fn mesh_channel(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap_or_else(|_| Endpoint::from_static("http://127.0.0.1"))
        .connect_timeout(connect_timeout)
        .http2_keep_alive_interval(HTTPS_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(HTTPS_KEEPALIVE_TIMEOUT);
    endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        let config = config.clone();
        async move {
            let exchange = async {
                let tcp =
                    TcpStream::connect(addr)
                        .await
                        .map_err(|source| TlsConnectError::Connect {
                            addr: addr.to_string(),
                            source,
                        })?;
                let _ = tcp.set_nodelay(true);
                let name = ServerName::IpAddress(addr.ip().into());
                tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(|source| TlsConnectError::Handshake {
                        addr: addr.to_string(),
                        source,
                    })
            };
            match tokio::time::timeout(connect_timeout, exchange).await {
                Ok(done) => done.map(TokioIo::new),
                Err(_) => Err(TlsConnectError::Handshake {
                    addr: addr.to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no TLS session within {connect_timeout:?}"),
                    ),
                }),
            }
        }
    }))
}

/// A server-side TLS connection, as tonic's server takes it from `serve_with_incoming`
/// (tonic implements `Connected` for rustls streams only with its own TLS feature).
pub struct TlsConn(pub tokio_rustls::server::TlsStream<TcpStream>);

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn").finish_non_exhaustive()
    }
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for TlsConn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsConn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Why a TLS connection to the control plane could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsConnectError {
    #[error("trust bundle {}: {why}", path.display())]
    Bundle { path: PathBuf, why: String },
    #[error("control plane address {0}")]
    Address(String),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS handshake with {addr}: {source}")]
    Handshake {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A client TLS config trusting exactly the anchors of the PEM bundle at `path`.
pub fn bundle_client_config(path: &Path) -> Result<rustls::ClientConfig, TlsConnectError> {
    let bundle_error = |why: String| TlsConnectError::Bundle {
        path: path.to_path_buf(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bundle_error(e.to_string()))?;
    let ders = crate::identity::pem::certs(&text).map_err(|e| bundle_error(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for der in ders {
        roots
            .add(der)
            .map_err(|e| bundle_error(format!("not a usable trust anchor: {e}")))?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| bundle_error(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

async fn tls_connect(
    uri: &Uri,
    bundle_path: &Path,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TlsConnectError> {
    let config = bundle_client_config(bundle_path)?;
    let host = uri
        .host()
        .ok_or_else(|| TlsConnectError::Address(format!("{uri}: no host")))?;
    let name = server_name(host).map_err(TlsConnectError::Address)?;
    let port = uri.port_u16().unwrap_or(443);
    let addr = format!("{}:{port}", host);
    let tcp = TcpStream::connect(&addr)
        .await
        .map_err(|source| TlsConnectError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|source| TlsConnectError::Handshake { addr, source })
}

/// Wraps a message with the bearer token every control-plane call needs.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}
