//! How the control plane is reached locally: gRPC over a Unix socket in the state dir (0600),
//! so only the mesh's owner can talk to it; every call also carries a bearer token.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::{Channel, Endpoint, Server, Uri};

use super::server::ControlPlane;
use crate::proto::control as pb;

/// Serves the three services on `socket` until `shutdown` resolves.
pub async fn serve(
    plane: ControlPlane,
    socket: &Path,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // A socket left by a crashed control plane would make bind fail.
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    Server::builder()
        .add_service(pb::identity_server::IdentityServer::new(plane.clone()))
        .add_service(pb::discovery_server::DiscoveryServer::new(plane.clone()))
        .add_service(pb::admin_server::AdminServer::new(plane))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await
        .map_err(std::io::Error::other)
}

/// A channel to the control plane's socket. It connects lazily and reconnects by itself.
pub fn channel(socket: &Path) -> Channel {
    let path: PathBuf = socket.to_path_buf();
    // The URI is required by tonic but unused: the connector dials the socket.
    Endpoint::from_static("http://control-plane.local")
        .connect_timeout(std::time::Duration::from_secs(2))
        .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
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
