//! Opaque TCP: copies bytes both ways unchanged (half-closes propagate) and closes the pair
//! after a stretch with no bytes in either direction.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

/// Idle is judged in quarters of the timeout: closed after four quiet checks in a row.
const IDLE_CHECKS: u32 = 4;

/// Copies between `client` and `server` until both sides close, or until `progress` (bumped
/// by the client side's metering) stands still for `idle`. Returns the bytes copied
/// client→server and server→client.
pub async fn splice<A, B>(
    mut client: A,
    mut server: B,
    progress: Arc<AtomicU64>,
    idle: Duration,
) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
    tokio::pin!(copy);
    let period = idle / IDLE_CHECKS;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut last = progress.load(Relaxed);
    let mut quiet = 0;
    loop {
        tokio::select! {
            result = &mut copy => return result,
            _ = ticker.tick() => {
                let now = progress.load(Relaxed);
                if now == last {
                    quiet += 1;
                    if quiet >= IDLE_CHECKS {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
                    }
                } else {
                    quiet = 0;
                    last = now;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn copies_both_ways_and_propagates_eof() {
        let (mut app, proxy_client) = tokio::io::duplex(1024);
        let (proxy_server, mut upstream) = tokio::io::duplex(1024);
        let progress = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(splice(
            proxy_client,
            proxy_server,
            progress,
            Duration::from_secs(60),
        ));
        app.write_all(b"ping").await.unwrap();
        app.shutdown().await.unwrap();
        let mut got = Vec::new();
        upstream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ping");
        upstream.write_all(b"pong").await.unwrap();
        drop(upstream);
        let mut back = Vec::new();
        app.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"pong");
        assert_eq!(task.await.unwrap().unwrap(), (4, 4));
    }

    #[tokio::test]
    async fn idle_pairs_are_closed() {
        let (_app, proxy_client) = tokio::io::duplex(64);
        let (proxy_server, _upstream) = tokio::io::duplex(64);
        let progress = Arc::new(AtomicU64::new(0));
        let err = splice(
            proxy_client,
            proxy_server,
            progress,
            Duration::from_millis(40),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
