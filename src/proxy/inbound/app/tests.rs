//! Tests of the app connection pool and h2c client against real local servers.

use std::time::Duration;

use http_body_util::{BodyExt, Either};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;

/// A keep-alive HTTP/1.1 app answering every request with "ok"; reports each connection's
/// end (EOF from the proxy) on the channel.
async fn app() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let closed = closed.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(reply).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = closed.send(());
            });
        }
    });
    (addr, rx)
}

async fn get(pool: &Arc<Http1Pool>) {
    let req = Request::get("/")
        .header("host", "app")
        .body(Either::Right(crate::proxy::protocol::http::Written::full(
            Bytes::new(),
        )))
        .unwrap();
    let body = pool.send(req).await.unwrap().into_body();
    assert_eq!(body.collect().await.unwrap().to_bytes(), "ok");
}

fn idle(pool: &Http1Pool) -> usize {
    pool.state.lock().unwrap().idle.len()
}

#[tokio::test]
async fn idle_connections_past_the_timeout_are_closed_and_fresh_ones_kept() {
    let (addr, mut closed) = app().await;
    let pool = Http1Pool::new(addr);
    // Two requests at once need two connections; both go back to the pool.
    tokio::join!(get(&pool), get(&pool));
    assert_eq!(idle(&pool), 2);

    assert_eq!(pool.evict_idle(Instant::now()), 0, "nothing is stale yet");
    assert_eq!(idle(&pool), 2);

    let later = Instant::now() + limits::APP_POOL_IDLE_TIMEOUT + Duration::from_secs(1);
    assert_eq!(pool.evict_idle(later), 2);
    assert_eq!(idle(&pool), 0);
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(5), closed.recv())
            .await
            .expect("the app saw the evicted connection close")
            .unwrap();
    }

    // The pool still works: a new connection, pooled again.
    get(&pool).await;
    assert_eq!(idle(&pool), 1);
}

#[tokio::test]
async fn a_connection_the_app_closed_while_idle_is_not_used_again() {
    // The app answers one request per connection, then closes it without saying so.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            let _ = stream.write_all(reply).await;
        }
    });
    let pool = Http1Pool::new(addr);
    get(&pool).await;
    assert_eq!(idle(&pool), 1);
    // Let the close reach the proxy's side of the socket.
    tokio::time::sleep(Duration::from_millis(100)).await;
    get(&pool).await;
    assert_eq!(
        idle(&pool),
        1,
        "the closed one was dropped, the new one pooled"
    );
    assert_eq!(
        pool.state.lock().unwrap().buffers.len(),
        1,
        "one read buffer kept"
    );
}

#[tokio::test]
async fn the_reaper_stops_when_the_pool_is_dropped() {
    let (addr, _closed) = app().await;
    let pool = Http1Pool::new(addr);
    let reaper = tokio::spawn(Http1Pool::reap(Arc::downgrade(&pool)));
    drop(pool);
    tokio::time::timeout(limits::APP_POOL_REAP_INTERVAL * 3, reaper)
        .await
        .expect("the reaper ended within a few intervals")
        .unwrap();
}
