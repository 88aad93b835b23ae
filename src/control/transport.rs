//! The control plane's side of its local transport: gRPC over a Unix socket in the state dir
//! (0600), so only the mesh's owner can talk to it; every call also carries a bearer token
//! (the clients' side: `api::transport`).

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use super::server::ControlPlane;
use crate::api::proto::control as pb;

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
