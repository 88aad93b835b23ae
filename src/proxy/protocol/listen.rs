//! Listener plumbing shared by every proxy listener: the bounded accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::proxy::limits;
use crate::proxy::protocol::drain::DrainWatch;
use crate::proxy::telemetry::limit_metrics::{ConnectionLimit, LimitCounters};
use crate::proxy::telemetry::metrics::Direction;

/// [`accept_loop`] for a proxy listener: a refusal at `max_connections` is counted under
/// `direction` in `counters` and logged at debug.
pub async fn accept_counted<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    counters: Arc<LimitCounters>,
    direction: Direction,
    watch: DrainWatch,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr, DrainWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let refused = move |remote| {
        counters.connection(direction, ConnectionLimit::MaxConnections);
        tracing::debug!(%remote, max = max_connections, "connection refused: the listener is at max_connections");
    };
    accept_loop(listener, max_connections, watch, refused, handle).await;
}

/// Accepts until the drain starts, with at most `max_connections` connections open: at the
/// limit a new connection is closed as soon as it is accepted and `refused` is called (the
/// client fails fast, and the refusal is counted, rather than waiting unseen in the kernel
/// backlog). Each connection runs `handle` on its own task with its own drain watch.
pub async fn accept_loop<F, Fut, R>(
    listener: TcpListener,
    max_connections: usize,
    mut watch: DrainWatch,
    refused: R,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr, DrainWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    R: Fn(SocketAddr),
{
    let permits = Arc::new(Semaphore::new(max_connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = watch.signaled() => break,
        };
        match accepted {
            Ok((stream, remote)) => {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    // Dropped: closed at once. Linger 0 would send RST; a plain close is
                    // enough (and leaves no TIME_WAIT on the client's side to wonder about).
                    drop(stream);
                    refused(remote);
                    continue;
                };
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
        let (refusals, mut refused) = mpsc::unbounded_channel();
        let refuse = move |_: SocketAddr| refusals.send(()).unwrap();
        tokio::spawn(accept_loop(listener, 1, watch, refuse, handle));

        let first = TcpStream::connect(addr).await.unwrap();
        serving.recv().await.unwrap();
        // One slot: the second connection is closed while the first is open.
        let mut second = TcpStream::connect(addr).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(10), second.read(&mut [0u8; 1]))
            .await
            .expect("the connection beyond max_connections was closed");
        assert!(matches!(n, Ok(0) | Err(_)), "closed without data");
        refused.recv().await.unwrap();
        let early = tokio::time::timeout(Duration::from_millis(200), serving.recv()).await;
        assert!(early.is_err(), "served beyond max_connections");
        drop(first);
        // The slot is freed once the first connection's task ends: a later one is served.
        let served = async {
            loop {
                let _next = TcpStream::connect(addr).await.unwrap();
                tokio::select! {
                    Some(()) = serving.recv() => return,
                    Some(()) = refused.recv() => {}
                }
            }
        };
        let freed = tokio::time::timeout(Duration::from_secs(10), served).await;
        assert!(freed.is_ok(), "the first connection's slot was never freed");
    }
}
