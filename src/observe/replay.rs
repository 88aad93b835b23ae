//! `meshctl replay`: the requests of a HAR file sent again through a meshed caller's proxy
//! (its outbound listener for the target service: never around the mesh), one at a time at a
//! bounded rate; with a second version (`--diff`), each request goes to both and the answers
//! are compared ([`diff`]).
//!
//! A version is reached with the outbound proxy's version pin (`x-meshctl-version`), which
//! overrides the split and header routes for that one request.

pub mod diff;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use self::diff::{Comparison, Difference};
use super::har::{BodyCapture, Entry, Har};
use crate::control::plan::MeshPlan;

/// Requests per second when `--rate` is not given.
pub const DEFAULT_RATE: u32 = 10;
/// The highest `--rate`: replay is for checking a version, not for load.
pub const MAX_RATE: u32 = 100;
/// The most entries one replay sends (a larger file is refused: split it).
pub const MAX_ENTRIES: usize = 10_000;
/// The largest HAR file read.
pub const MAX_HAR_BYTES: u64 = 64 * 1024 * 1024;
/// How long one request may take, answer and body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most response body bytes kept per answer (compared, not shown).
pub const MAX_RESPONSE_BODY: usize = 8 * 1024 * 1024;

/// Request headers never sent again: hop-by-hop ones, what the client sets itself, and the
/// mesh's own (`x-meshctl-*`, trace context: the replayed request gets its own).
const NOT_REPLAYED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "traceparent",
    "tracestate",
];

/// `SERVICE` or `SERVICE/VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: String,
    pub version: Option<String>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}/{v}", self.service),
            None => f.write_str(&self.service),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (service, version) = match s.split_once('/') {
            Some((svc, v)) => (svc, Some(v.to_string())),
            None => (s, None),
        };
        if service.is_empty() || version.as_deref().is_some_and(str::is_empty) {
            return Err(format!("`{s}`: expected SERVICE or SERVICE/VERSION"));
        }
        Ok(Target {
            service: service.to_string(),
            version,
        })
    }
}

/// The proxy listener requests are sent to: `instance`'s outbound listener for the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub instance: String,
    pub listen: SocketAddr,
}

/// One request to send again.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayable {
    /// The entry's position in the file, from 1.
    pub entry: usize,
    pub method: Method,
    pub authority: String,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// The status the file recorded (0: none).
    pub recorded_status: u32,
    /// Headers whose value was redacted in the file: not sent.
    pub redacted: Vec<String>,
}

/// An entry not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub reason: String,
}

/// What one send got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub elapsed: Duration,
}

/// One send's outcome: an answer, or why there was none (timed out, reset).
pub type Outcome = Result<Answer, String>;

/// An answer as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub ms: u64,
    pub bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One replayed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    pub entry: usize,
    pub method: String,
    pub path: String,
    /// The status the file recorded (none: it recorded no response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_status: Option<u32>,
    /// The answer from `--to`.
    pub to: AnswerSummary,
    /// The answer from `--diff`'s version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<AnswerSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// Headers the file had redacted, not sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redacted_headers: Vec<String>,
}

/// What `replay` reports (`-o json`: this object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub file: String,
    /// The caller instance whose proxy sent the requests.
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub rate: u32,
    /// Entries in the file.
    pub entries: usize,
    pub replayed: usize,
    /// With `--diff`: entries whose two answers differ.
    pub differing: usize,
    pub skipped: Vec<Skipped>,
    pub requests: Vec<Replayed>,
    /// With `--diff`: the response headers not compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_headers: Vec<String>,
    /// With `--diff`: JSON body fields not compared (JSON pointers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_fields: Vec<String>,
}

/// A replay to run: where from, to what, how fast.
#[derive(Debug, Clone)]
pub struct Plan {
    pub file: PathBuf,
    pub caller: Caller,
    pub to: Target,
    pub diff: Option<Target>,
    pub rate: u32,
    pub comparison: Comparison,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{}: {}", .0.display(), .1)]
    BadFile(PathBuf, String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}: no mesh is running there, or its plan is unreadable: {1}")]
    NoMesh(PathBuf, String),
    #[error("sending to {caller}'s proxy at {addr}: {why} (is the mesh running? `meshctl status`)")]
    Unreachable {
        caller: String,
        addr: SocketAddr,
        why: String,
    },
}

impl ReplayError {
    /// Bad input (the file, a name, a flag) rather than a mesh that cannot be reached.
    pub fn is_usage(&self) -> bool {
        matches!(self, ReplayError::BadFile(..) | ReplayError::Usage(_))
    }
}

/// Reads a HAR file: at most [`MAX_HAR_BYTES`], HAR 1.x, at most [`MAX_ENTRIES`] entries.
pub fn load(path: &Path) -> Result<Har, ReplayError> {
    let bad = |why: String| ReplayError::BadFile(path.to_path_buf(), why);
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_HAR_BYTES {
        return Err(bad(format!(
            "{} bytes: larger than the {MAX_HAR_BYTES} bytes replay reads",
            meta.len()
        )));
    }
    let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let har: Har =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not a HAR file: {e}")))?;
    if !har.log.version.starts_with("1.") {
        return Err(bad(format!(
            "HAR version `{}`: replay reads HAR 1.x",
            har.log.version
        )));
    }
    if har.log.entries.len() > MAX_ENTRIES {
        return Err(bad(format!(
            "{} entries: replay sends at most {MAX_ENTRIES} (split the file)",
            har.log.entries.len()
        )));
    }
    Ok(har)
}

/// Checks `target` names a service of the plan (and one of its versions), served over HTTP.
pub fn check_target(plan: &MeshPlan, target: &Target, flag: &str) -> Result<(), ReplayError> {
    let versions = plan.versions(&target.service);
    if versions.is_empty() {
        return Err(ReplayError::Usage(format!(
            "{flag} {target}: no service `{}` in the mesh (services: {})",
            target.service,
            plan.services().join(", ")
        )));
    }
    if plan.is_opaque_tcp(&target.service) {
        return Err(ReplayError::Usage(format!(
            "{flag} {target}: `{}` is declared protocol: tcp (no HTTP requests to replay)",
            target.service
        )));
    }
    if let Some(v) = &target.version
        && !versions.contains(v)
    {
        let known: Vec<&str> = (versions.iter().map(String::as_str))
            .filter(|v| !v.is_empty())
            .collect();
        return Err(ReplayError::Usage(format!(
            "{flag} {target}: service `{}` has no version `{v}` ({})",
            target.service,
            if known.is_empty() {
                "it has no versions".to_string()
            } else {
                format!("versions: {}", known.join(", "))
            }
        )));
    }
    Ok(())
}

/// The caller whose proxy sends to `service`: `from` (`SERVICE` or an instance like
/// `api.v1`), else the one service that has `service` as an upstream.
pub fn caller(plan: &MeshPlan, service: &str, from: Option<&str>) -> Result<Caller, ReplayError> {
    let callers: Vec<_> = plan
        .proxies
        .iter()
        .filter_map(|p| {
            let u = p.upstreams.iter().find(|u| u.service == service)?;
            Some((p, u.listen))
        })
        .collect();
    let mut services: Vec<&str> = callers.iter().map(|(p, _)| p.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let chosen = match from {
        Some(from) => callers
            .iter()
            .find(|(p, _)| p.name == from || p.service == from)
            .ok_or_else(|| {
                ReplayError::Usage(format!(
                    "--from {from}: not a caller of `{service}` (its callers: {})",
                    or_none(&services)
                ))
            })?,
        None => match services[..] {
            [] => {
                return Err(ReplayError::Usage(format!(
                    "no service calls `{service}` (no proxy has it as an upstream): replay \
                     sends through a caller's proxy; add `{service}` to a service's upstreams \
                     in mesh.yaml"
                )));
            }
            [_] => &callers[0],
            _ => {
                return Err(ReplayError::Usage(format!(
                    "`{service}` has several callers ({}): choose one with --from",
                    services.join(", ")
                )));
            }
        },
    };
    Ok(Caller {
        instance: chosen.0.name.clone(),
        listen: chosen.1,
    })
}

fn or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The entries to send to `service`, and those skipped with why.
pub fn select(har: &Har, service: &str) -> (Vec<Replayable>, Vec<Skipped>) {
    let mut send = Vec::new();
    let mut skipped = Vec::new();
    for (i, e) in har.log.entries.iter().enumerate() {
        match replayable(i + 1, e, service) {
            Ok(r) => send.push(r),
            Err(reason) => skipped.push(Skipped {
                entry: i + 1,
                method: e.request.method.clone(),
                url: e.request.url.clone(),
                reason,
            }),
        }
    }
    (send, skipped)
}

/// Entry `n` as a request to send, or why it is not sent.
fn replayable(n: usize, e: &Entry, service: &str) -> Result<Replayable, String> {
    if let Some(hop) = &e.meshctl
        && hop.destination() != service
    {
        return Err(format!("sent to {}, not {service}", hop.destination()));
    }
    let method = Method::from_bytes(e.request.method.as_bytes())
        .map_err(|_| format!("invalid method `{}`", e.request.method))?;
    if method == Method::CONNECT {
        return Err("CONNECT is not replayed".to_string());
    }
    let uri: http::Uri = e
        .request
        .url
        .parse()
        .map_err(|err| format!("invalid url: {err}"))?;
    let header = |name: &str| {
        (e.request.headers.iter())
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    };
    if header("content-type").is_some_and(|c| c.starts_with("application/grpc")) {
        return Err("gRPC is not replayed".to_string());
    }
    if header("upgrade").is_some() {
        return Err("a protocol upgrade is not replayed".to_string());
    }
    let body = request_body(e)?;
    let mut headers = Vec::new();
    let mut redacted = Vec::new();
    for h in &e.request.headers {
        let name = h.name.to_ascii_lowercase();
        if name.starts_with(':') || name.starts_with("x-meshctl-") {
            continue;
        }
        if NOT_REPLAYED.contains(&name.as_str()) {
            continue;
        }
        if h.value == crate::api::tap::REDACTED {
            redacted.push(name);
            continue;
        }
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&h.value),
        ) else {
            return Err(format!("header `{}` cannot be sent", h.name));
        };
        headers.push((n, v));
    }
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .or_else(|| header("host").map(str::to_string))
        .unwrap_or_default();
    Ok(Replayable {
        entry: n,
        method,
        authority,
        path: uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.to_string()),
        headers,
        body,
        recorded_status: e.response.status,
        redacted,
    })
}

/// The entry's whole request body, or why it does not have it.
fn request_body(e: &Entry) -> Result<Bytes, String> {
    let capture = e.meshctl.as_ref().map(|m| m.request_body);
    match capture {
        Some(BodyCapture::None) => return Ok(Bytes::new()),
        Some(BodyCapture::Truncated) => {
            return Err("request body cut at the tap's --body size".to_string());
        }
        Some(BodyCapture::NotCaptured) => {
            return Err(
                "request body not captured (tap with --body, at most 64KiB per body)".to_string(),
            );
        }
        Some(BodyCapture::Complete) | None => {}
    }
    match &e.request.post_data {
        Some(post) => match (&post.body.text, post.body.encoding.as_deref()) {
            (Some(text), Some("base64")) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|err| format!("postData.text is not base64: {err}")),
            (Some(text), _) => Ok(Bytes::from(text.clone())),
            (None, _) => Err("request body not in the file (postData without text)".to_string()),
        },
        None if e.request.body_size > 0 => {
            Err("request body not in the file (no postData)".to_string())
        }
        None => Ok(Bytes::new()),
    }
}

/// Sends every request through `plan.caller`'s proxy, one at a time, at most `plan.rate` per
/// second (with `--diff` each entry is two requests). `Err`: the proxy could not be reached.
pub async fn run(
    plan: &Plan,
    har: &Har,
    mut progress: impl FnMut(&Replayed),
) -> Result<Report, ReplayError> {
    let (requests, skipped) = select(har, &plan.to.service);
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut pace = tokio::time::interval(Duration::from_secs(1) / plan.rate.clamp(1, MAX_RATE));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut replayed = Vec::with_capacity(requests.len());
    for r in &requests {
        pace.tick().await;
        let to = send(&client, &plan.caller, r, plan.to.version.as_deref()).await?;
        let against = match &plan.diff {
            Some(d) => {
                pace.tick().await;
                Some(send(&client, &plan.caller, r, d.version.as_deref()).await?)
            }
            None => None,
        };
        let differences = match &against {
            Some(right) => plan.comparison.compare(&to, right),
            None => Vec::new(),
        };
        let one = Replayed {
            entry: r.entry,
            method: r.method.to_string(),
            path: r.path.clone(),
            recorded_status: (r.recorded_status != 0).then_some(r.recorded_status),
            to: summary(&to),
            diff: against.as_ref().map(summary),
            differences,
            redacted_headers: r.redacted.clone(),
        };
        progress(&one);
        replayed.push(one);
    }
    let differing = replayed
        .iter()
        .filter(|r| !r.differences.is_empty())
        .count();
    let diffing = plan.diff.is_some();
    Ok(Report {
        file: plan.file.display().to_string(),
        from: plan.caller.instance.clone(),
        to: plan.to.to_string(),
        diff: plan.diff.as_ref().map(ToString::to_string),
        rate: plan.rate,
        entries: har.log.entries.len(),
        replayed: replayed.len(),
        differing,
        skipped,
        requests: replayed,
        ignored_headers: if diffing {
            plan.comparison.ignored_headers()
        } else {
            Vec::new()
        },
        ignored_fields: if diffing {
            plan.comparison.ignored_fields()
        } else {
            Vec::new()
        },
    })
}

fn summary(o: &Outcome) -> AnswerSummary {
    match o {
        Ok(a) => AnswerSummary {
            status: Some(a.status),
            ms: a.elapsed.as_millis() as u64,
            bytes: a.body.len(),
            error: None,
        },
        Err(e) => AnswerSummary {
            status: None,
            ms: 0,
            bytes: 0,
            error: Some(e.clone()),
        },
    }
}

/// One request to the caller's outbound listener (pinned to `version` when given). `Ok(Err)`:
/// the request failed after the proxy took it (timeout, reset); `Err`: no proxy there.
async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    caller: &Caller,
    r: &Replayable,
    version: Option<&str>,
) -> Result<Outcome, ReplayError> {
    let mut builder = http::Request::builder()
        .method(r.method.clone())
        .uri(format!("http://{}{}", caller.listen, r.path));
    if !r.authority.is_empty() {
        builder = builder.header(http::header::HOST, r.authority.as_str());
    }
    for (name, value) in &r.headers {
        builder = builder.header(name, value);
    }
    if let Some(v) = version {
        builder = builder.header(crate::api::VERSION_PIN_HEADER, v);
    }
    let request = builder
        .body(Full::new(r.body.clone()))
        .map_err(|e| ReplayError::Usage(format!("entry {}: {e}", r.entry)))?;
    let start = Instant::now();
    let call = async {
        let response = client.request(request).await;
        let response = match response {
            Ok(response) => response,
            Err(e) if e.is_connect() => {
                return Err(ReplayError::Unreachable {
                    caller: caller.instance.clone(),
                    addr: caller.listen,
                    why: crate::exit::one_line(&anyhow::Error::new(e)),
                });
            }
            Err(e) => return Ok(Err(crate::exit::one_line(&anyhow::Error::new(e)))),
        };
        let status = response.status().as_u16();
        let headers = (response.headers().iter())
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), value)
            })
            .collect();
        let body = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BODY);
        match body.collect().await {
            Ok(b) => Ok(Ok(Answer {
                status,
                headers,
                body: b.to_bytes(),
                elapsed: start.elapsed(),
            })),
            Err(e) => Ok(Err(format!("reading the response body: {e}"))),
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(outcome) => outcome,
        Err(_) => Ok(Err(format!(
            "no answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests;
