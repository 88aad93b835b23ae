//! Connections to one peer proxy over mTLS: one shared HTTP/2 connection that every HTTP
//! request multiplexes onto (reconnected when it closes), and a fresh TLS connection per
//! opaque TCP stream.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Response, StatusCode};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::identity::SpiffeId;
use crate::proxy::limits;
use crate::proxy::outbound::balance::PeakEwma;
use crate::proxy::outbound::breaker::Breaker;
use crate::proxy::outbound::route::Weighed;
use crate::proxy::protocol::cork::Corked;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::http::BoxedRequest;
use crate::proxy::telemetry::metrics::{Direction, Metrics};
use crate::proxy::tls::{ALPN_H2, ALPN_TCP, PeerProtocol, TlsStore};

mod mux;

use mux::{KeepAlive, Mux};

/// A peer proxy at `addr` that must present `id`.
#[derive(Debug)]
pub struct Peer {
    addr: SocketAddr,
    id: SpiffeId,
    /// The version this endpoint serves (as the control plane declared it; empty when not
    /// known): a label of the response metrics.
    version: Arc<str>,
    tls: Arc<TlsStore>,
    metrics: Arc<Metrics>,
    h2: Mutex<Option<Mux>>,
    /// Serialises (re)connection so a burst of requests opens one connection, not many.
    connecting: tokio::sync::Mutex<()>,
    /// This endpoint's circuit (kept across config updates, like the peer).
    breaker: Breaker,
    /// Latency estimate and requests in flight, for the load balancer (kept likewise).
    load: PeakEwma,
    /// How long dialing may take, in milliseconds (the destination's `connect_timeout`).
    connect_timeout_ms: AtomicU64,
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
        source: h2::Error,
    },
    #[error("no TLS config for peer identity {0}")]
    NoConfig(SpiffeId),
}

/// An endpoint as the admin `/config` shows it.
#[derive(Debug, serde::Serialize)]
pub struct EndpointView {
    address: SocketAddr,
    /// The SPIFFE ID it must present.
    identity: String,
    circuit: crate::proxy::outbound::breaker::CircuitView,
    in_flight: u64,
    /// The load balancer's latency estimate (`None`: no answer yet).
    latency_ewma_ms: Option<f64>,
    connect_timeout_ms: u64,
}

impl Peer {
    pub fn view(&self, now: Instant) -> EndpointView {
        EndpointView {
            address: self.addr,
            identity: self.id.to_string(),
            circuit: self.breaker.view(now),
            in_flight: self.load.in_flight(),
            latency_ewma_ms: self.load.latency_ms(now),
            connect_timeout_ms: self.connect_timeout_ms.load(Relaxed),
        }
    }

    pub fn new(
        addr: SocketAddr,
        id: SpiffeId,
        version: &str,
        tls: Arc<TlsStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Peer {
            addr,
            id,
            version: Arc::from(version),
            tls,
            metrics,
            h2: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            breaker: Breaker::default(),
            load: PeakEwma::default(),
            connect_timeout_ms: AtomicU64::new(millis(limits::CONNECT_TIMEOUT)),
        }
    }

    /// Sets how long dialing this peer may take (the destination's policy; applies to the
    /// next connection).
    pub fn set_connect_timeout(&self, timeout: Duration) {
        self.connect_timeout_ms.store(millis(timeout), Relaxed);
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.load(Relaxed))
    }

    /// Latency estimate and requests in flight (what the load balancer weighs).
    pub fn load(&self) -> &PeakEwma {
        &self.load
    }

    /// The SPIFFE ID this peer must present.
    pub fn id(&self) -> &SpiffeId {
        &self.id
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a request on the shared HTTP/2 connection. A request the old connection never
    /// started sending (it had just closed) is retried once on a new connection.
    ///
    /// The request counts as in flight to this peer until it returns; the time from leaving
    /// on a ready connection to the response head is a latency sample, and a failure a slow
    /// one (`balance.rs`).
    pub async fn send(&self, mut req: BoxedRequest) -> Result<Response<H2Body>, PeerError> {
        let mut in_flight = self.load.start();
        let mut retried = false;
        loop {
            let mux = match self.mux().await {
                Ok(mux) => mux,
                Err(e) => {
                    in_flight.failed(Instant::now());
                    return Err(e);
                }
            };
            in_flight.sent(Instant::now());
            match mux.send(req).await {
                Ok(response) => {
                    in_flight.responded(Instant::now());
                    return Ok(response);
                }
                Err(e) => {
                    if e.ends_connection() {
                        self.forget(&mux);
                    }
                    match e.unsent {
                        Some(unsent) if !retried => {
                            retried = true;
                            req = unsent;
                        }
                        _ => {
                            in_flight.failed(Instant::now());
                            return Err(PeerError::Http2 {
                                addr: self.addr,
                                source: e.error,
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

    async fn mux(&self) -> Result<Mux, PeerError> {
        if let Some(mux) = self.live_mux() {
            return Ok(mux);
        }
        // Boxed: the connect path's state (TLS and HTTP/2 handshakes) is large, and keeping
        // it out of every request's future saves copying it on each request.
        Box::pin(self.connect_h2()).await
    }

    async fn connect_h2(&self) -> Result<Mux, PeerError> {
        let _connecting = self.connecting.lock().await;
        // Another request may have connected while this one waited.
        if let Some(mux) = self.live_mux() {
            return Ok(mux);
        }
        let tls = self.connect_tls(PeerProtocol::H2).await?;
        let mux = mux::handshake(
            Corked::new(tls),
            KeepAlive::default(),
            self.addr.to_string(),
        )
        .await
        .map_err(|source| PeerError::Http2 {
            addr: self.addr,
            source,
        })?;
        if let Ok(mut slot) = self.h2.lock() {
            *slot = Some(mux.clone());
        }
        Ok(mux)
    }

    fn live_mux(&self) -> Option<Mux> {
        let slot = self.h2.lock().ok()?;
        slot.as_ref().filter(|m| !m.is_closed()).cloned()
    }

    /// Drops the shared connection if it is still the `failed` one, so the next request
    /// reconnects (the connection may not have ended yet: after the peer's GOAWAY it only
    /// finishes the streams it has).
    fn forget(&self, failed: &Mux) {
        if let Ok(mut slot) = self.h2.lock()
            && slot.as_ref().is_some_and(|m| m.same_connection(failed))
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
        let tcp = connect_within(self.addr, self.connect_timeout())
            .await
            .map_err(connect_error)?;
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
        let reason = crate::proxy::tls::failure_reason(&source);
        self.metrics.handshake_failed(Direction::Outbound, reason);
        tracing::warn!(peer = %self.addr, expected = %self.id, reason, error = %source, "mTLS handshake with peer failed");
        PeerError::Tls {
            addr: self.addr,
            reason,
            source,
        }
    }
}

impl Weighed for Arc<Peer> {
    fn load(&self) -> &PeakEwma {
        &self.load
    }
}

/// Dials `addr` (TCP_NODELAY set), giving up after `timeout` with `TimedOut` — which, like
/// any dial failure, is a connect failure to retries and the circuit breaker.
pub async fn connect_within(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {timeout:?}"),
            )
        })??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use http::Request;
    use http_body_util::Either;
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    use super::*;
    use crate::proxy::outbound::balance::FAILURE_RTT;

    /// A loopback address whose connects get no answer: a listener that never accepts,
    /// with its accept queue filled, so the kernel drops further SYNs. Keep both returned
    /// values alive while using it.
    async fn blackhole() -> (SocketAddr, (TcpListener, Vec<TcpStream>)) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        for _ in 0..64 {
            match connect_within(addr, Duration::from_millis(200)).await {
                Ok(s) => queued.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                    return (addr, (listener, queued));
                }
            }
        }
        panic!("the accept queue of {addr} never filled");
    }

    fn tls_store(peer: &SpiffeId) -> Arc<TlsStore> {
        crate::proxy::tls::testing::store(peer).0
    }

    #[tokio::test]
    async fn a_dial_that_gets_no_answer_gives_up_at_the_connect_timeout() {
        let (addr, _hold) = blackhole().await;
        let start = Instant::now();
        let err = connect_within(addr, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_peer_that_cannot_be_dialled_in_time_is_a_connect_failure_and_looks_slow() {
        let (addr, _hold) = blackhole().await;
        let id: SpiffeId = "spiffe://mesh.local/ns/local/sa/api".parse().unwrap();
        let peer = Peer::new(
            addr,
            id.clone(),
            "v1",
            tls_store(&id),
            Arc::new(Metrics::default()),
        );
        assert_eq!(peer.connect_timeout(), limits::CONNECT_TIMEOUT);
        peer.set_connect_timeout(Duration::from_millis(250));
        assert_eq!(peer.connect_timeout(), Duration::from_millis(250));
        let req = Box::new(Request::new(Either::Right(
            crate::proxy::protocol::http::Written::full(Bytes::new()),
        )));
        let err = tokio::time::timeout(Duration::from_secs(20), peer.send(req))
            .await
            .expect("the connect timeout ends the attempt")
            .unwrap_err();
        assert!(err.is_connect_failure(), "{err}");
        assert!(err.to_string().contains("no answer within 250ms"), "{err}");
        assert_eq!(err.response().0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(peer.load().in_flight(), 0);
        assert!(peer.load().estimate(Instant::now()) >= FAILURE_RTT.as_nanos() as f64 * 0.99);
    }
}
