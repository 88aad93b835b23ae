//! Connections to one peer proxy over mTLS: one shared HTTP/2 connection that every HTTP
//! request multiplexes onto (reconnected when it closes), and a fresh TLS connection per
//! opaque TCP stream.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::breaker::Breaker;
use super::http::ProxyBody;
use super::limits;
use super::metrics::{Direction, Metrics};
use super::tls::{ALPN_H2, ALPN_TCP, PeerProtocol, TlsStore};
use crate::identity::SpiffeId;

/// A peer proxy at `addr` that must present `id`.
#[derive(Debug)]
pub struct Peer {
    addr: SocketAddr,
    id: SpiffeId,
    tls: Arc<TlsStore>,
    metrics: Arc<Metrics>,
    h2: Mutex<Option<SendRequest<ProxyBody>>>,
    /// Serialises (re)connection so a burst of requests opens one connection, not many.
    connecting: tokio::sync::Mutex<()>,
    /// This endpoint's circuit (kept across config updates, like the peer).
    breaker: Breaker,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("connecting to peer {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("mTLS handshake with peer {addr} failed ({reason}): {source}")]
    Tls {
        addr: SocketAddr,
        reason: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("peer {addr} did not agree on ALPN {alpn}")]
    Alpn {
        addr: SocketAddr,
        alpn: &'static str,
    },
    #[error("HTTP/2 with peer {addr}: {source}")]
    Http2 {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("no TLS config for peer identity {0}")]
    NoConfig(SpiffeId),
}

impl Peer {
    pub fn new(addr: SocketAddr, id: SpiffeId, tls: Arc<TlsStore>, metrics: Arc<Metrics>) -> Self {
        Peer {
            addr,
            id,
            tls,
            metrics,
            h2: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            breaker: Breaker::default(),
        }
    }

    /// The SPIFFE ID this peer must present.
    pub fn id(&self) -> &SpiffeId {
        &self.id
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a request on the shared HTTP/2 connection. A request the old connection never
    /// started sending (it had just closed) is retried once on a new connection.
    pub async fn send(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, PeerError> {
        let mut req = req;
        let mut retried = false;
        loop {
            let mut sender = self.h2_sender().await?;
            match sender.try_send_request(req).await {
                Ok(response) => return Ok(response),
                Err(mut e) => {
                    self.forget(&sender);
                    match e.take_message() {
                        Some(unsent) if !retried => {
                            retried = true;
                            req = unsent;
                        }
                        _ => {
                            return Err(PeerError::Http2 {
                                addr: self.addr,
                                source: e.into_error(),
                            });
                        }
                    }
                }
            }
        }
    }

    /// A new mTLS connection for one opaque TCP stream.
    pub async fn connect_tcp(&self) -> Result<TlsStream<TcpStream>, PeerError> {
        self.connect_tls(PeerProtocol::Tcp).await
    }

    async fn h2_sender(&self) -> Result<SendRequest<ProxyBody>, PeerError> {
        if let Some(sender) = self.live_sender() {
            return Ok(sender);
        }
        // Boxed: the connect path's state (TLS and HTTP/2 handshakes) is large, and keeping
        // it out of every request's future saves copying it on each request.
        Box::pin(self.connect_h2()).await
    }

    async fn connect_h2(&self) -> Result<SendRequest<ProxyBody>, PeerError> {
        let _connecting = self.connecting.lock().await;
        // Another request may have connected while this one waited.
        if let Some(sender) = self.live_sender() {
            return Ok(sender);
        }
        let tls = self.connect_tls(PeerProtocol::H2).await?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .initial_stream_window_size(limits::H2_STREAM_WINDOW)
            .initial_connection_window_size(limits::H2_CONNECTION_WINDOW)
            .max_concurrent_reset_streams(limits::H2_MAX_LOCAL_ERROR_RESET_STREAMS)
            .keep_alive_interval(limits::H2_KEEPALIVE_INTERVAL)
            .keep_alive_timeout(limits::H2_KEEPALIVE_TIMEOUT)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|source| PeerError::Http2 {
                addr: self.addr,
                source,
            })?;
        let addr = self.addr;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %addr, error = %e, "HTTP/2 connection to peer ended");
            }
        });
        if let Ok(mut slot) = self.h2.lock() {
            *slot = Some(sender.clone());
        }
        Ok(sender)
    }

    fn live_sender(&self) -> Option<SendRequest<ProxyBody>> {
        let slot = self.h2.lock().ok()?;
        slot.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    /// Drops the shared connection if it is still `failed`, so the next request reconnects.
    fn forget(&self, failed: &SendRequest<ProxyBody>) {
        if failed.is_closed()
            && let Ok(mut slot) = self.h2.lock()
            && slot.as_ref().is_some_and(SendRequest::is_closed)
        {
            *slot = None;
        }
    }

    async fn connect_tls(&self, protocol: PeerProtocol) -> Result<TlsStream<TcpStream>, PeerError> {
        let config = self
            .tls
            .current()
            .client(&self.id, protocol)
            .ok_or_else(|| PeerError::NoConfig(self.id.clone()))?;
        let connect_error = |source| PeerError::Connect {
            addr: self.addr,
            source,
        };
        let tcp = tokio::time::timeout(limits::CONNECT_TIMEOUT, TcpStream::connect(self.addr))
            .await
            .map_err(|_| connect_error(io::ErrorKind::TimedOut.into()))?
            .map_err(connect_error)?;
        tcp.set_nodelay(true).map_err(connect_error)?;
        let handshake = TlsConnector::from(config).connect(ServerName::from(self.addr.ip()), tcp);
        let tls = match tokio::time::timeout(limits::TLS_HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(source)) => return Err(self.tls_failed(source)),
            Err(_) => return Err(self.tls_failed(io::ErrorKind::TimedOut.into())),
        };
        let want = match protocol {
            PeerProtocol::H2 => ALPN_H2,
            PeerProtocol::Tcp => ALPN_TCP,
        };
        if tls.get_ref().1.alpn_protocol() != Some(want) {
            return Err(PeerError::Alpn {
                addr: self.addr,
                alpn: if want == ALPN_H2 { "h2" } else { "meshctl/tcp" },
            });
        }
        Ok(tls)
    }

    fn tls_failed(&self, source: io::Error) -> PeerError {
        let reason = super::tls::failure_reason(&source);
        self.metrics.handshake_failed(Direction::Outbound, reason);
        tracing::warn!(peer = %self.addr, expected = %self.id, reason, error = %source, "mTLS handshake with peer failed");
        PeerError::Tls {
            addr: self.addr,
            reason,
            source,
        }
    }
}

impl PeerError {
    /// Nothing reached the peer: the connection could not be made.
    pub fn is_connect_failure(&self) -> bool {
        matches!(self, PeerError::Connect { .. })
    }

    /// The status and short reason the outbound proxy answers the app with.
    pub fn response(&self) -> (StatusCode, &'static str) {
        match self {
            PeerError::Tls {
                reason: "wrong_identity",
                ..
            } => (StatusCode::BAD_GATEWAY, "peer presented the wrong identity"),
            PeerError::Tls { .. } | PeerError::Alpn { .. } => {
                (StatusCode::BAD_GATEWAY, "mTLS handshake with peer failed")
            }
            PeerError::Connect { .. } => (StatusCode::SERVICE_UNAVAILABLE, "peer unreachable"),
            PeerError::Http2 { .. } => (StatusCode::BAD_GATEWAY, "peer connection failed"),
            PeerError::NoConfig(_) => (StatusCode::BAD_GATEWAY, "no TLS config for peer"),
        }
    }
}
