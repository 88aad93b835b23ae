//! Clients to the local app: pooled keep-alive HTTP/1.1 and one multiplexed h2c connection,
//! both dialing the configured app address whatever the request's authority says.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::limits;

/// A pooled client to the app.
pub type AppClient = Client<AppConnector, Incoming>;

/// Dials the app's address for every new pooled connection. The pool is still keyed by the
/// request's authority, so Host values never share a connection they should not.
#[derive(Debug, Clone, Copy)]
pub struct AppConnector {
    addr: SocketAddr,
}

/// HTTP/1.1 with keep-alive; requests must carry `Version::HTTP_11`.
pub fn http1(addr: SocketAddr) -> AppClient {
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(limits::APP_POOL_IDLE_TIMEOUT)
        .build(AppConnector { addr })
}

/// HTTP/2 with prior knowledge (h2c): one connection, many streams.
pub fn h2c(addr: SocketAddr) -> AppClient {
    Client::builder(TokioExecutor::new())
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
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let addr = self.addr;
        Box::pin(async move { AppConnector::connect(addr).await.map(TokioIo::new) })
    }
}
