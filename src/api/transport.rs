//! How clients (the CLI, the proxies' agents) reach the local control plane: gRPC over the
//! Unix socket in the state dir, every call carrying a bearer token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// How long one call may wait for the control plane's answer unless told otherwise
/// (`--request-timeout`): a Unix socket connects even to a stopped process, so without a
/// deadline a wedged control plane would hang every command.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to the socket may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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

/// Wraps a message with the bearer token every control-plane call needs.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}
