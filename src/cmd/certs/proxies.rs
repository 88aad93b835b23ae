//! The proxies' half of `meshctl certs status`: each running proxy's leaf and trust bundle,
//! as the proxy itself reported them to the control plane.

use std::path::Path;

use serde::Serialize;

use crate::duration::format_compact;
use crate::identity::pem;
use crate::identity::rotation::ProxyView;
use crate::output::{self, color};

/// One proxy's row; also its JSON/YAML shape (a stable contract).
#[derive(Debug, Serialize)]
pub struct ProxyCertRow {
    pub instance: String,
    pub connected: bool,
    /// Empty (and the times 0) when the proxy never reported.
    pub serial: String,
    pub not_after: String,
    pub seconds_left: i64,
    /// Whether the leaf comes from the issuer in the state dir.
    pub current_issuer: bool,
    /// Fingerprints of the anchors the proxy trusts.
    pub bundle: Vec<String>,
    /// Whether that is exactly the bundle in the state dir.
    pub current_bundle: bool,
    pub state: ProxyCertState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyCertState {
    Valid,
    Expired,
    /// Trusts another bundle than the state dir's (an anchor rotation is under way or stuck).
    StaleBundle,
    NoReport,
}

/// Rows for every proxy of the mesh running from `state`; empty when none runs.
pub fn rows(
    state: &Path,
    issuer: &str,
    bundle: &[String],
    now: i64,
    request_timeout: std::time::Duration,
) -> anyhow::Result<Vec<ProxyCertRow>> {
    let Some(views) = crate::cmd::check::mesh_proxies(state, request_timeout)? else {
        return Ok(Vec::new());
    };
    Ok(views
        .into_iter()
        .map(|v| row(v, issuer, bundle, now))
        .collect())
}

/// One proxy's row: `issuer` and `bundle` are the fingerprints the mesh holds now.
pub fn row(v: ProxyView, issuer: &str, bundle: &[String], now: i64) -> ProxyCertRow {
    let Some(c) = v.report else {
        return ProxyCertRow {
            instance: v.instance,
            connected: v.connected,
            serial: String::new(),
            not_after: String::new(),
            seconds_left: 0,
            current_issuer: false,
            bundle: Vec::new(),
            current_bundle: false,
            state: ProxyCertState::NoReport,
        };
    };
    let left = c.not_after_unix - now;
    let current_bundle = c.bundle == bundle;
    let state = if left <= 0 {
        ProxyCertState::Expired
    } else if !current_bundle {
        ProxyCertState::StaleBundle
    } else {
        ProxyCertState::Valid
    };
    ProxyCertRow {
        instance: v.instance,
        connected: v.connected,
        serial: c.serial,
        not_after: crate::output::rfc3339(pem::to_system_time(c.not_after_unix)),
        seconds_left: left,
        current_issuer: c.issuer == issuer,
        bundle: c.bundle,
        current_bundle,
        state,
    }
}

pub fn table(rows: &[ProxyCertRow]) -> comfy_table::Table {
    let mut t = output::table([
        "PROXY",
        "LEAF SERIAL",
        "NOT AFTER",
        "TIME LEFT",
        "ISSUER",
        "BUNDLE",
        "STATUS",
    ]);
    for r in rows {
        let state = match r.state {
            ProxyCertState::Valid => color::ok("valid"),
            ProxyCertState::Expired => color::bad("expired"),
            ProxyCertState::StaleBundle => color::warn("stale-bundle"),
            ProxyCertState::NoReport => color::bad("no-report"),
        };
        let mark = |current: bool| if current { "current" } else { "old" };
        t.add_row(vec![
            r.instance.clone(),
            r.serial.clone(),
            r.not_after.clone(),
            format_compact(r.seconds_left),
            mark(r.current_issuer).to_string(),
            format!("{} ({} anchors)", mark(r.current_bundle), r.bundle.len()),
            state.to_string(),
        ]);
    }
    t
}
