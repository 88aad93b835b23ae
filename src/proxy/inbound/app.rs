//! Clients to the local app: a pool of keep-alive HTTP/1.1 connections, and one multiplexed
//! h2c connection, both dialing the configured app address whatever the request's
//! authority says.
//!
//! The HTTP/1.1 pool is hand-rolled rather than hyper-util's legacy client: that client
//! boxes every request future, hashes the authority into a pool key and spawns a task per
//! request to return the connection; here a connection goes back to a LIFO stack when its
//! response body ends. Its exchanges run on the request's own task (`proxy::exchange`), so
//! an idle connection is a socket only, and read buffers move from exchange to exchange
//! through a small spare stack instead of staying with every connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, Uri};
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::proxy::limits;
use crate::proxy::protocol::cork::{self, Corked};
use crate::proxy::protocol::h1::client::{Decoder, Exchange};
use crate::proxy::protocol::http::ProxyBody;

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
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    idle: Vec<IdleConnection>,
    /// Read buffers of finished exchanges, for the next ones.
    buffers: Vec<BytesMut>,
}

#[derive(Debug)]
struct IdleConnection {
    io: TcpStream,
    since: Instant,
}

/// A response body from a pooled connection: once its end is read, the connection goes
/// back to the pool; dropped early, the connection is closed (its unread bytes would
/// corrupt the next response).
#[derive(Debug)]
pub struct PooledBody {
    exchange: Option<Exchange<ProxyBody>>,
    decoder: Decoder,
    pool: Arc<Http1Pool>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("connecting to the app at {addr}: {error}")]
    Connect { addr: SocketAddr, error: io::Error },
    #[error("HTTP/1.1 exchange with the app at {addr}: {error}")]
    Exchange { addr: SocketAddr, error: io::Error },
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
            state: Mutex::new(PoolState::default()),
        })
    }

    /// Sends `req` (HTTP/1.1, origin-form target) on an idle connection, or a new one, and
    /// returns the response head; the body streams from the connection.
    /// Contract: a request is never retried once handed to a connection.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
    ) -> Result<Response<PooledBody>, AppError> {
        let addr = self.addr;
        let (io, buf) = self.checkout();
        let io = match io {
            Some(io) => io,
            None => Box::pin(AppConnector::connect(addr))
                .await
                .map_err(|error| AppError::Connect { addr, error })?,
        };
        let mut exchange = Exchange::start(io, buf, req);
        let (head, decoder) = std::future::poll_fn(|cx| exchange.poll_head(cx))
            .await
            .map_err(|error| AppError::Exchange { addr, error })?;
        let mut body = PooledBody {
            exchange: Some(exchange),
            decoder,
            pool: self.clone(),
        };
        body.release_if_done();
        let (parts, ()) = head.into_parts();
        Ok(Response::from_parts(parts, body))
    }

    /// The most recently used connection that is still open (stale and closed ones are
    /// dropped), and a read buffer.
    fn checkout(&self) -> (Option<TcpStream>, BytesMut) {
        let Ok(mut state) = self.state.lock() else {
            return (None, BytesMut::new());
        };
        let buf = state.buffers.pop().unwrap_or_default();
        while let Some(idle) = state.idle.pop() {
            if idle.since.elapsed() > limits::APP_POOL_IDLE_TIMEOUT {
                // Everything below is older still.
                state.idle.clear();
                break;
            }
            if is_open(&idle.io) {
                return (Some(idle.io), buf);
            }
        }
        (None, buf)
    }

    /// Closes idle connections unused for longer than [`limits::APP_POOL_IDLE_TIMEOUT`],
    /// every [`limits::APP_POOL_REAP_INTERVAL`], until the pool is dropped. Without it a
    /// burst's connections would stay open until the next request.
    pub async fn reap(pool: Weak<Self>) {
        loop {
            tokio::time::sleep(limits::APP_POOL_REAP_INTERVAL).await;
            let Some(pool) = pool.upgrade() else { return };
            pool.evict_idle(Instant::now());
        }
    }

    /// Closes the connections idle for longer than the timeout at `now`; once none is
    /// left, the spare read buffers go too. Returns how many connections.
    fn evict_idle(&self, now: Instant) -> usize {
        let Ok(mut state) = self.state.lock() else {
            return 0;
        };
        // Pushed in time order, so the stale ones are a prefix.
        let stale = state.idle.partition_point(|c| {
            now.saturating_duration_since(c.since) > limits::APP_POOL_IDLE_TIMEOUT
        });
        state.idle.drain(..stale);
        if state.idle.is_empty() {
            state.buffers = Vec::new();
        }
        stale
    }

    /// Takes a finished exchange's connection (if it can carry another) and read buffer.
    fn checkin(&self, exchange: Exchange<ProxyBody>, decoder: Decoder) {
        let (io, buf, reusable) = exchange.finish(decoder);
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if buf.is_empty()
            && buf.capacity() <= limits::APP_READ_BUFFER_KEPT
            && state.buffers.len() < limits::APP_POOL_SPARE_BUFFERS
        {
            state.buffers.push(buf);
        }
        if reusable && state.idle.len() < limits::APP_POOL_MAX_IDLE {
            state.idle.push(IdleConnection {
                io,
                since: Instant::now(),
            });
        }
    }
}

/// An idle connection the app has not closed (nor written to: unasked-for bytes would be
/// taken for the next response). Uses the readiness the runtime last saw: no system call
/// unless the socket became readable since the exchange's last read drained it (see
/// `Exchange::poll_read`).
fn is_open(io: &TcpStream) -> bool {
    matches!(io.try_read(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl AppError {
    pub fn is_connect(&self) -> bool {
        matches!(self, AppError::Connect { .. })
    }
}

impl PooledBody {
    /// Hands the connection back as soon as the body's end has been read.
    fn release_if_done(&mut self) {
        if self.decoder.is_done()
            && let Some(exchange) = self.exchange.take()
        {
            self.pool.checkin(exchange, self.decoder);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let Some(exchange) = this.exchange.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(exchange.poll_frame(&mut this.decoder, cx));
        if let Some(Err(_)) = frame {
            // The connection is in an unknown state: closed.
            this.exchange = None;
        }
        this.release_if_done();
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        self.decoder.size_hint()
    }
}

#[cfg(test)]
mod tests;
