//! Listener plumbing shared by every proxy listener: the bounded accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::proxy::limits;
use crate::proxy::protocol::drain::DrainWatch;

/// Accepts until the drain starts, with at most `max_connections` connections open: at the
/// limit the loop stops accepting and the kernel backlog holds new ones. Each connection
/// runs `handle` on its own task with its own drain watch.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    mut watch: DrainWatch,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr, DrainWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max_connections));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = watch.signaled() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = watch.signaled() => break,
        };
        match accepted {
            Ok((stream, remote)) => {
                // The permit is released when the connection ends. A combinator, not an
                // async block: that would hold the connection's future twice (captured, then
                // moved into its awaited slot), doubling each connection task's allocation.
                tokio::spawn(handle(stream, remote, watch.clone()).map(move |()| drop(permit)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(limits::ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
    // Dropping the listener here closes the port: new connections are refused from now on.
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::sync::mpsc;

    use super::*;
    use crate::proxy::protocol::drain::Drain;

    #[tokio::test]
    async fn a_connection_slot_is_freed_when_its_connection_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_drain, watch) = Drain::new();
        let (served, mut serving) = mpsc::unbounded_channel();
        // Each connection is served until its client closes it.
        let handle = move |mut stream: TcpStream, _: SocketAddr, _: DrainWatch| {
            let served = served.clone();
            async move {
                served.send(()).unwrap();
                let _ = stream.read(&mut [0u8; 1]).await;
            }
        };
        tokio::spawn(accept_loop(listener, 1, watch, handle));

        let first = TcpStream::connect(addr).await.unwrap();
        serving.recv().await.unwrap();
        // One slot: the second connection waits in the backlog while the first is open.
        let _second = TcpStream::connect(addr).await.unwrap();
        let early = tokio::time::timeout(Duration::from_millis(200), serving.recv()).await;
        assert!(early.is_err(), "served beyond max_connections");
        drop(first);
        let freed = tokio::time::timeout(Duration::from_secs(10), serving.recv()).await;
        assert!(freed.is_ok(), "the first connection's slot was never freed");
    }
}
