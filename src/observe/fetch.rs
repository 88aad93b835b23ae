//! Reads every proxy's `/stats` from its admin listener (all at once), through the admin
//! HTTP client ([`crate::api::admin_http`]).

use std::net::SocketAddr;
use std::time::Duration;

use crate::api::admin_http::AdminClient;
use crate::api::stats::StatsSnapshot;
use crate::control::plan::MeshPlan;

/// How long one proxy may take to answer before it counts as not reporting.
pub const FETCH_TIMEOUT: Duration = crate::api::admin_http::DEFAULT_TIMEOUT;

/// Why one proxy's `/stats` could not be read (one line naming the URL).
pub use crate::api::admin_http::AdminError as FetchError;

/// One snapshot per proxy of the plan, in plan order; `Err` for a proxy that did not answer.
pub async fn all(plan: &MeshPlan, window: Duration) -> Vec<Result<StatsSnapshot, FetchError>> {
    let fetches = plan.proxies.iter().map(|p| stats(p.admin, window));
    futures_util::future::join_all(fetches).await
}

/// `GET /stats?window=SECS` on one local admin listener.
pub async fn stats(addr: SocketAddr, window: Duration) -> Result<StatsSnapshot, FetchError> {
    let client = AdminClient::local()?;
    client.stats(&AdminClient::local_base(addr)?, window).await
}
