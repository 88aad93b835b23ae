//! Clients to the local app: a pool of keep-alive HTTP/1.1 connections, and one multiplexed
//! h2c connection, both dialing the configured app address whatever the request's
//! authority says.
//!
//! The HTTP/1.1 pool is hand-rolled rather than hyper-util's legacy client: that client
//! boxes every request future, hashes the authority into a pool key and spawns a task per
//! request to return the connection; here a connection goes back to a LIFO stack when its
//! response body ends, which measured cheaper on the proxy's hottest path.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::cork::{self, Corked};
use super::http::ProxyBody;
use super::limits;

/// One multiplexed h2c connection to the app (hyper-util's pool keeps it alive).
pub type H2cClient = Client<AppConnector, ProxyBody>;

/// Dials the app's address for every new connection.
#[derive(Debug, Clone, Copy)]
pub struct AppConnector {
    addr: SocketAddr,
}

/// Keep-alive HTTP/1.1 connections to the app, reused most-recent-first.
#[derive(Debug)]
pub struct Http1Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<IdleConnection>>,
}

#[derive(Debug)]
struct IdleConnection {
    sender: http1::SendRequest<ProxyBody>,
    since: Instant,
}

/// A response body from a pooled connection: when it is dropped after its end, the
/// connection goes back to the pool; dropped early, the connection is closed (its unread
/// bytes would corrupt the next response).
#[derive(Debug)]
pub struct PooledBody {
    body: Incoming,
    /// Seen the end (chunked bodies only say so by returning `None`).
    ended: bool,
    release: Option<(Arc<Http1Pool>, http1::SendRequest<ProxyBody>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("connecting to the app at {addr}: {error}")]
    Connect { addr: SocketAddr, error: io::Error },
    #[error("HTTP/1.1 handshake with the app at {addr}: {error}")]
    Handshake {
        addr: SocketAddr,
        error: hyper::Error,
    },
    #[error("HTTP/1.1 exchange with the app at {addr}: {error}")]
    Exchange {
        addr: SocketAddr,
        error: hyper::Error,
    },
}

/// HTTP/2 with prior knowledge (h2c): one connection, many streams.
pub fn h2c(addr: SocketAddr) -> H2cClient {
    Client::builder(cork::Executor)
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(limits::APP_POOL_IDLE_TIMEOUT)
        .http2_only(true)
        .http2_initial_stream_window_size(limits::H2_STREAM_WINDOW)
        .http2_initial_connection_window_size(limits::H2_CONNECTION_WINDOW)
        .http2_keep_alive_interval(limits::H2_KEEPALIVE_INTERVAL)
        .http2_keep_alive_timeout(limits::H2_KEEPALIVE_TIMEOUT)
        .build(AppConnector { addr })
}

impl AppConnector {
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = tokio::time::timeout(limits::CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl tower_service::Service<Uri> for AppConnector {
    type Response = TokioIo<Corked<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let addr = self.addr;
        Box::pin(async move {
            let stream = AppConnector::connect(addr).await?;
            Ok(TokioIo::new(Corked::new(stream)))
        })
    }
}

impl Http1Pool {
    pub fn new(addr: SocketAddr) -> Arc<Self> {
        Arc::new(Http1Pool {
            addr,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `req` (which must be `Version::HTTP_11`) on an idle connection, or a new one.
    /// Contract: a request is never retried once handed to a connection.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
    ) -> Result<Response<PooledBody>, AppError> {
        let mut sender = match self.checkout().await {
            Some(sender) => sender,
            None => Box::pin(self.connect()).await?,
        };
        let response = sender
            .send_request(req)
            .await
            .map_err(|error| AppError::Exchange {
                addr: self.addr,
                error,
            })?;
        Ok(response.map(|body| PooledBody {
            body,
            ended: false,
            release: Some((self.clone(), sender)),
        }))
    }

    /// The most recently used connection that is still open; stale ones are dropped.
    async fn checkout(&self) -> Option<http1::SendRequest<ProxyBody>> {
        loop {
            let idle = self.idle.lock().ok()?.pop()?;
            if idle.since.elapsed() > limits::APP_POOL_IDLE_TIMEOUT {
                // Everything below is older still.
                if let Ok(mut stack) = self.idle.lock() {
                    stack.clear();
                }
                return None;
            }
            let mut sender = idle.sender;
            // Ready at once, or right after the connection task finishes the last response;
            // an error means the app closed the connection.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<http1::SendRequest<ProxyBody>, AppError> {
        let addr = self.addr;
        let stream = AppConnector::connect(addr)
            .await
            .map_err(|error| AppError::Connect { addr, error })?;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| AppError::Handshake { addr, error })?;
        // A combinator, not an async block, so the task holds the connection once (see
        // `listen::accept_loop`): up to one per concurrent request stays pooled.
        tokio::spawn(connection.map(move |result| {
            if let Err(e) = result {
                tracing::debug!(app = %addr, error = %e, "HTTP/1.1 connection to the app ended");
            }
        }));
        Ok(sender)
    }

    /// Closes idle connections unused for longer than [`limits::APP_POOL_IDLE_TIMEOUT`],
    /// every [`limits::APP_POOL_REAP_INTERVAL`], until the pool is dropped. Without it a
    /// burst's connections (and their buffers) would stay open until the next request.
    pub async fn reap(pool: Weak<Self>) {
        loop {
            tokio::time::sleep(limits::APP_POOL_REAP_INTERVAL).await;
            let Some(pool) = pool.upgrade() else { return };
            pool.evict_idle(Instant::now());
        }
    }

    /// Drops the connections idle for longer than the timeout at `now` (the connection
    /// task closes a connection when its last sender is gone). Returns how many.
    fn evict_idle(&self, now: Instant) -> usize {
        let Ok(mut stack) = self.idle.lock() else {
            return 0;
        };
        // Pushed in time order, so the stale ones are a prefix.
        let stale = stack.partition_point(|c| {
            now.saturating_duration_since(c.since) > limits::APP_POOL_IDLE_TIMEOUT
        });
        stack.drain(..stale);
        stale
    }

    fn checkin(&self, sender: http1::SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut stack) = self.idle.lock()
            && stack.len() < limits::APP_POOL_MAX_IDLE
        {
            stack.push(IdleConnection {
                sender,
                since: Instant::now(),
            });
        }
    }
}

impl AppError {
    pub fn is_connect(&self) -> bool {
        matches!(self, AppError::Connect { .. })
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let poll = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = poll {
            self.ended = true;
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if let Some((pool, sender)) = self.release.take()
            && (self.ended || self.body.is_end_stream())
        {
            pool.checkin(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::{BodyExt, Either, Full};
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
            .body(Either::Right(Full::new(Bytes::new())))
            .unwrap();
        let body = pool.send(req).await.unwrap().into_body();
        assert_eq!(body.collect().await.unwrap().to_bytes(), "ok");
    }

    fn idle(pool: &Http1Pool) -> usize {
        pool.idle.lock().unwrap().len()
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
}
