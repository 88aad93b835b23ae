//! Reads every proxy's `/stats` from its admin listener (loopback HTTP/1.0, all at once).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::stats::StatsSnapshot;
use crate::control::plan::MeshPlan;

/// How long one proxy may take to answer before it counts as not reporting.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest `/stats` body accepted (a proxy's peers are bounded by the mesh's identities).
const MAX_BODY: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("proxy admin {addr}: {source}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("proxy admin {addr} did not answer within {FETCH_TIMEOUT:?}")]
    Timeout { addr: SocketAddr },
    #[error("proxy admin {addr} answered `{status}` to /stats (is it an older meshctl?)")]
    Status { addr: SocketAddr, status: String },
    #[error("proxy admin {addr}: unreadable /stats: {source}")]
    Decode {
        addr: SocketAddr,
        #[source]
        source: serde_json::Error,
    },
}

/// One snapshot per proxy of the plan, in plan order; `Err` for a proxy that did not answer.
pub async fn all(plan: &MeshPlan, window: Duration) -> Vec<Result<StatsSnapshot, FetchError>> {
    let fetches = plan.proxies.iter().map(|p| stats(p.admin, window));
    futures_util::future::join_all(fetches).await
}

/// `GET /stats?window=SECS` on one admin listener.
pub async fn stats(addr: SocketAddr, window: Duration) -> Result<StatsSnapshot, FetchError> {
    let request = format!(
        "GET /stats?window={} HTTP/1.0\r\nHost: admin\r\n\r\n",
        window.as_secs()
    );
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        s.take(MAX_BODY).read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| FetchError::Timeout { addr })?
        .map_err(|source| FetchError::Io { addr, source })?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = split.map_or((&raw[..], &[][..]), |i| (&raw[..i], &raw[i + 4..]));
    let status =
        String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or(&[])).into_owned();
    if !status.contains(" 200 ") {
        return Err(FetchError::Status { addr, status });
    }
    serde_json::from_slice(body).map_err(|source| FetchError::Decode { addr, source })
}
