//! `meshctl tap`'s records: proxy events turned into the stable NDJSON shape and the
//! three-line text form, and the client-side `--status` filter; and the taps themselves, for
//! `tap` and `top`: a local mesh's proxies watched directly (the mesh admin token), or a
//! cluster's pods through a controller's `/tap`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::pin::Pin;

use anyhow::Context as _;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use tonic::metadata::MetadataValue;

use super::fleet::Fleet;
use crate::api::proto::tap::{self as pb, tap_client::TapClient, tap_event::Event};
use crate::control::admin::ADMIN_TOKEN_FILE;
use crate::control::plan::{MeshPlan, ProxyPlan};
use crate::exit::CliError;
use crate::kube::controller::tap::{TapLine, TapQuery};
use crate::kube::mesh::{self, Cluster};

/// One event as `meshctl tap` prints it (`-o json`: one per line; fields that do not apply to
/// the event's type are left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TapRecord {
    /// `req`, `rsp` or `end`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `<proxy instance>:<request number>`: the three records of a request share it.
    pub id: String,
    pub proxy: String,
    pub service: String,
    pub version: Option<String>,
    /// `in` or `out`.
    pub direction: String,
    pub src: String,
    pub dst: String,
    pub tls: bool,
    pub client_id: String,
    pub server_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The query string (without `?`), credential parameters redacted; absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Request headers (`req`) or response headers (`rsp`); credentials are `<redacted>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// `--body`: the request body (`req`) or response body (`end`) as text when it is UTF-8…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// … else base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The body went on beyond what was captured.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// Why a request body asked for was not captured (it streamed past the proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_skipped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A proxy being tapped: what the records say about where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapSource {
    /// Instance name (`api.v1`), or the tap address for a proxy outside a plan.
    pub name: String,
    pub service: String,
    pub version: Option<String>,
    pub tap: std::net::SocketAddr,
}

impl From<&ProxyPlan> for TapSource {
    fn from(p: &ProxyPlan) -> Self {
        TapSource {
            name: p.name.clone(),
            service: p.service.clone(),
            version: p.version.clone(),
            tap: p.tap,
        }
    }
}

/// `--status`: `5xx` (a class) or `503` (one code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Class(u32),
    Code(u32),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid status `{0}` (expected a code like 503 or a class like 5xx)")]
pub struct StatusFilterError(String);

/// `--body`: how many body bytes to capture, 1 B to 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySize(pub u32);

#[derive(Debug, thiserror::Error)]
#[error("invalid body size `{0}` (expected 1 to 64KiB, like 512, 512B or 1KiB)")]
pub struct BodySizeError(String);

impl std::str::FromStr for BodySize {
    type Err = BodySizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BodySizeError(s.to_string());
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let scale = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kib" => 1024,
            _ => return Err(bad()),
        };
        let max = crate::api::tap::MAX_BODY_CAPTURE as u64;
        match n.checked_mul(scale) {
            Some(bytes @ 1..) if bytes <= max => Ok(BodySize(bytes as u32)),
            _ => Err(bad()),
        }
    }
}

/// Holds back a request's `req` record until its `rsp` says whether it passes `--status`;
/// then lets its records (and its `end`) through, or drops them.
#[derive(Debug, Default)]
pub struct StatusGate {
    filter: Option<StatusFilter>,
    held: HashMap<String, TapRecord>,
    passed: HashSet<String>,
}

impl std::str::FromStr for StatusFilter {
    type Err = StatusFilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || StatusFilterError(s.to_string());
        let t = s.trim().to_ascii_lowercase();
        if let Some(class) = t.strip_suffix("xx") {
            let c: u32 = class.parse().map_err(|_| bad())?;
            return (1..=5)
                .contains(&c)
                .then_some(StatusFilter::Class(c))
                .ok_or_else(bad);
        }
        let code: u32 = t.parse().map_err(|_| bad())?;
        (100..=599)
            .contains(&code)
            .then_some(StatusFilter::Code(code))
            .ok_or_else(bad)
    }
}

impl StatusFilter {
    pub fn matches(self, status: u32) -> bool {
        match self {
            StatusFilter::Class(c) => status / 100 == c,
            StatusFilter::Code(c) => status == c,
        }
    }
}

impl StatusGate {
    pub fn new(filter: Option<StatusFilter>) -> Self {
        StatusGate {
            filter,
            ..StatusGate::default()
        }
    }

    /// The records to print now, in order.
    pub fn push(&mut self, r: TapRecord) -> Vec<TapRecord> {
        let Some(filter) = self.filter else {
            return vec![r];
        };
        match r.kind {
            "req" => {
                self.held.insert(r.id.clone(), r);
                Vec::new()
            }
            "rsp" => {
                let req = self.held.remove(&r.id);
                if r.status.is_some_and(|s| filter.matches(s)) {
                    self.passed.insert(r.id.clone());
                    req.into_iter().chain([r]).collect()
                } else {
                    Vec::new()
                }
            }
            _ => {
                self.held.remove(&r.id);
                if self.passed.remove(&r.id) {
                    vec![r]
                } else {
                    Vec::new()
                }
            }
        }
    }
}

/// The record of one proxy event; `None` for an event without a body (never sent).
pub fn record(proxy: &TapSource, e: pb::TapEvent) -> Option<TapRecord> {
    let mut r = TapRecord {
        kind: "req",
        id: format!("{}:{}", proxy.name, e.id),
        proxy: proxy.name.clone(),
        service: proxy.service.clone(),
        version: proxy.version.clone(),
        direction: e.direction,
        src: e.src,
        dst: e.dst,
        tls: e.tls,
        client_id: e.client_id,
        server_id: e.server_id,
        ..TapRecord::default()
    };
    let headers = |h: Vec<pb::Header>| Some(h.into_iter().map(|h| (h.name, h.value)).collect());
    match e.event? {
        Event::Request(q) => {
            r.method = Some(q.method);
            r.authority = Some(q.authority);
            r.path = Some(q.path);
            r.query = (!q.query.is_empty()).then_some(q.query);
            r.headers = headers(q.headers);
            let grpc = r
                .headers
                .as_ref()
                .and_then(|h| h.get("content-type"))
                .is_some_and(|c| c.starts_with("application/grpc"));
            r.set_body(q.body, q.body_truncated, grpc);
            r.body_skipped = (!q.body_skipped.is_empty()).then_some(q.body_skipped);
        }
        Event::Response(s) => {
            r.kind = "rsp";
            r.status = Some(s.status);
            r.latency_us = Some(s.latency_us);
            r.headers = headers(s.headers);
        }
        Event::End(end) => {
            r.kind = "end";
            r.duration_us = Some(end.duration_us);
            r.response_bytes = Some(end.response_bytes);
            r.grpc_status = (!end.grpc_status.is_empty()).then_some(end.grpc_status);
            r.error = (!end.error.is_empty()).then_some(end.error);
            let grpc = r.grpc_status.is_some();
            r.set_body(end.response_body, end.response_body_truncated, grpc);
        }
    }
    Some(r)
}

impl TapRecord {
    /// A captured body: text when it is UTF-8, else base64; nothing when none was captured.
    /// gRPC bodies (`grpc`: the content type or grpc-status says so, or the bytes are
    /// length-prefixed gRPC messages) are always base64: protobuf that happens to be UTF-8
    /// is not text.
    fn set_body(&mut self, body: Vec<u8>, truncated: bool, grpc: bool) {
        use base64::Engine as _;
        self.body_truncated = truncated;
        if body.is_empty() {
            return;
        }
        if grpc || grpc_frames(&body, truncated) {
            self.body_base64 = Some(base64::engine::general_purpose::STANDARD.encode(&body));
            return;
        }
        match String::from_utf8(body) {
            Ok(text) => self.body = Some(text),
            Err(e) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(e.as_bytes());
                self.body_base64 = Some(encoded);
            }
        }
    }
}

/// Whether `body` is a sequence of gRPC length-prefixed messages (a flag byte 0 or 1, a
/// big-endian u32 length, the message), the last one possibly cut when `truncated`.
fn grpc_frames(body: &[u8], truncated: bool) -> bool {
    let mut at = 0usize;
    while at < body.len() {
        let Some(prefix) = body.get(at..at + 5) else {
            return truncated;
        };
        if prefix[0] > 1 {
            return false;
        }
        let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        at = at.saturating_add(5).saturating_add(len);
        if at > body.len() {
            return truncated;
        }
    }
    true
}

/// The text form: `req id=… proxy=in|out src=… dst=… tls=true :method=GET …`; `wide` adds
/// the service, version and both identities.
pub fn text(r: &TapRecord, wide: bool) -> String {
    let mut line = format!(
        "{} id={} proxy={} src={} dst={} tls={}",
        r.kind, r.id, r.direction, r.src, r.dst, r.tls
    );
    if wide {
        let service = match &r.version {
            Some(v) => format!("{}/{v}", r.service),
            None => r.service.clone(),
        };
        line.push_str(&format!(
            " service={service} client_id={} server_id={}",
            r.client_id, r.server_id
        ));
    }
    let mut field = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            line.push_str(&format!(" {name}={v}"));
        }
    };
    field(":method", r.method.clone());
    field(":authority", r.authority.clone());
    field(":path", r.path.clone());
    field(":status", r.status.map(|s| s.to_string()));
    field("latency", r.latency_us.map(|us| format!("{us}µs")));
    field("duration", r.duration_us.map(|us| format!("{us}µs")));
    field("response-length", r.response_bytes.map(|b| format!("{b}B")));
    field("grpc-status", r.grpc_status.clone());
    field("error", r.error.as_ref().map(|e| format!("{e:?}")));
    field("body", r.body.as_ref().map(|b| format!("{b:?}")));
    field("body-base64", r.body_base64.clone());
    field(
        "body-truncated",
        r.body_truncated.then(|| "true".to_string()),
    );
    field(
        "body-skipped",
        r.body_skipped.as_ref().map(|b| format!("{b:?}")),
    );
    line
}

/// The line naming a proxy that is not tapped (the tap goes on with the others).
pub fn not_reporting(proxy: &str, reason: &str) -> String {
    format!("meshctl: {proxy}: not reporting: {reason}")
}

/// What a tap yields: an event of one proxy, or a proxy that cannot be tapped (a cluster's
/// pod; locally a proxy that refuses ends the tap instead).
// Events are the common case: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Tapped {
    Event(TapSource, pb::TapEvent),
    NotReporting { proxy: String, reason: String },
}

pub type Events = Pin<Box<dyn Stream<Item = Result<Tapped, CliError>> + Send>>;

/// `SERVICE` or `SERVICE/VERSION`, checked against the cluster's meshed pods.
pub fn known_target(
    fleet: &Fleet,
    target: &str,
    scope: &str,
) -> Result<(String, Option<String>), CliError> {
    let (service, version) = match target.split_once('/') {
        Some((s, v)) => (s.to_string(), Some(v.to_string())),
        None => (target.to_string(), None),
    };
    let versions = fleet.versions(&service);
    if versions.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no meshed pod for `{target}`{scope} (services: {})",
            fleet.services().join(", ")
        )));
    }
    if let Some(v) = &version
        && !versions.contains(v)
    {
        return Err(CliError::usage(anyhow::anyhow!(
            "service `{service}`{scope} has no version `{v}` (versions: {})",
            versions.join(", ")
        )));
    }
    Ok((service, version))
}

/// Opens `/tap` with the token of the Secret `meshctl-tap`; its lines as events.
pub async fn cluster_events(
    cluster: &Cluster,
    controller_namespace: &str,
    query: &TapQuery,
) -> Result<Events, CliError> {
    let token = mesh::tap_token(cluster, controller_namespace)
        .await
        .map_err(CliError::from)?;
    let lines = mesh::tap_stream(cluster, query, &token)
        .await
        .map_err(CliError::from)?;
    Ok(lines
        .map(|line| tapped(line.map_err(CliError::from)?))
        .boxed())
}

/// One line of `/tap` as what the tap yields.
fn tapped(line: TapLine) -> Result<Tapped, CliError> {
    let source = TapSource {
        name: line.pod,
        service: line.service,
        version: (!line.version.is_empty()).then_some(line.version),
        tap: line
            .address
            .unwrap_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
    };
    match (line.event, line.error) {
        (Some(event), _) => {
            let event = pb::TapEvent::try_from(event)
                .map_err(|e| CliError::from(anyhow::anyhow!("{}: {e}", source.name)))?;
            Ok(Tapped::Event(source, event))
        }
        (None, error) => Ok(Tapped::NotReporting {
            proxy: source.name,
            reason: error.unwrap_or_else(|| "no event and no reason (an older controller?)".into()),
        }),
    }
}

/// The mesh admin token taps present.
pub fn admin_token(state: &Path) -> Result<String, CliError> {
    read_token(&state.join(ADMIN_TOKEN_FILE))
}

/// A token file named on the command line (`--token-file`) or the mesh's: a file that is
/// missing or unreadable is a usage error, exit 2, as every input file.
pub fn read_token(path: &Path) -> Result<String, CliError> {
    let token = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(anyhow::anyhow!(
            "reading the tap token {}: {e}",
            path.display()
        ))
    })?;
    Ok(token.trim().to_string())
}

/// The proxies of `SERVICE` or `SERVICE/VERSION`.
pub fn select(plan: &MeshPlan, target: &str) -> Result<Vec<TapSource>, CliError> {
    let (service, version) = match target.split_once('/') {
        Some((s, v)) => (s, Some(v)),
        None => (target, None),
    };
    let proxies: Vec<TapSource> = plan
        .proxies
        .iter()
        .filter(|p| p.service == service && version.is_none_or(|v| p.version.as_deref() == Some(v)))
        .map(TapSource::from)
        .collect();
    if proxies.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no proxy for `{target}` (services: {})",
            plan.services().join(", ")
        )));
    }
    Ok(proxies)
}

/// Opens a watch on every proxy; their events merge into one stream tagged by proxy.
pub async fn connect(
    proxies: &[TapSource],
    request: pb::WatchRequest,
    token: &str,
) -> Result<Events, CliError> {
    let bearer: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .context("the admin token is not a valid header value")?;
    let mut streams = Vec::with_capacity(proxies.len());
    for p in proxies {
        let mut client = TapClient::connect(format!("http://{}", p.tap))
            .await
            .with_context(|| format!("connecting to the tap of {} at {}", p.name, p.tap))?;
        let mut req = tonic::Request::new(request.clone());
        req.metadata_mut().insert("authorization", bearer.clone());
        let stream = client
            .watch(req)
            .await
            .map_err(|s| refused(p, &s))?
            .into_inner();
        let source = p.clone();
        streams.push(
            stream
                .map(move |e| match e {
                    Ok(e) => Ok(Tapped::Event(source.clone(), e)),
                    Err(s) => Err(refused(&source, &s)),
                })
                .boxed(),
        );
    }
    Ok(futures_util::stream::select_all(streams).boxed())
}

/// A proxy's tap that refused or failed, named with its address.
pub fn refused(p: &TapSource, s: &tonic::Status) -> CliError {
    CliError::from(anyhow::anyhow!(
        "the tap of {} at {} failed: {} ({:?})",
        p.name,
        p.tap,
        s.message(),
        s.code()
    ))
}

#[cfg(test)]
mod tests;
