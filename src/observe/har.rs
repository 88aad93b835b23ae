//! HAR 1.2 (HTTP Archive): what `meshctl tap --har FILE` writes and `meshctl replay` reads.
//!
//! The tap's `req`/`rsp`/`end` records of one request (joined by their id) become one entry,
//! holding only what the tap received: headers and bodies as the proxy redacted them, bodies
//! only with `--body`. Meshctl's own view of the hop (proxy, direction, identities, version,
//! grpc-status, whether the request body was captured whole) is in each entry's `_meshctl`
//! field (HAR allows `_`-prefixed custom fields; viewers ignore it). A request whose `end`
//! never came before the tap stopped is still written, with what is known and a `comment`
//! saying so; one whose `req` came before the tap started is left out and counted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::tap::TapRecord;

/// The HAR version written (and the one `replay` reads).
pub const HAR_VERSION: &str = "1.2";
/// `mimeType` when the message had no content type (what browsers write).
const UNKNOWN_MIME: &str = "x-unknown";
/// The header a caller's proxy puts on a request its app sent over HTTP/1 (before it goes
/// on over HTTP/2 between proxies).
const ORIG_PROTO: &str = "x-meshctl-orig-proto";

/// A HAR file: `{"log": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Har {
    pub log: Log,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log {
    pub version: String,
    pub creator: Creator,
    pub entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Creator {
    pub name: String,
    pub version: String,
}

/// One request and its response. Read leniently (replay needs only the request): what a
/// HAR written elsewhere leaves out takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "startedDateTime", default)]
    pub started: String,
    /// Milliseconds from the request to the end of the response.
    #[serde(default)]
    pub time: f64,
    pub request: Request,
    #[serde(default)]
    pub response: Response,
    #[serde(default)]
    pub cache: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub timings: Timings,
    #[serde(
        rename = "serverIPAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "_meshctl", default, skip_serializing_if = "Option::is_none")]
    pub meshctl: Option<MeshHop>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub url: String,
    #[serde(rename = "httpVersion", default)]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(rename = "queryString", default)]
    pub query_string: Vec<NameValue>,
    #[serde(rename = "postData", default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    #[serde(rename = "headersSize", default = "unknown_size")]
    pub headers_size: i64,
    #[serde(rename = "bodySize", default = "unknown_size")]
    pub body_size: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// 0: no response was seen.
    pub status: u32,
    #[serde(rename = "statusText", default)]
    pub status_text: String,
    #[serde(rename = "httpVersion", default)]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub content: Content,
    #[serde(rename = "redirectURL", default)]
    pub redirect_url: String,
    #[serde(rename = "headersSize", default = "unknown_size")]
    pub headers_size: i64,
    #[serde(rename = "bodySize", default = "unknown_size")]
    pub body_size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

/// A request body (`postData`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostData {
    #[serde(rename = "mimeType", default)]
    pub mime_type: String,
    #[serde(flatten)]
    pub body: BodyText,
}

/// A response body (`content`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default)]
    pub size: i64,
    #[serde(rename = "mimeType", default)]
    pub mime_type: String,
    #[serde(flatten)]
    pub body: BodyText,
}

/// What `postData` and `content` share: `text` as it is, or base64 with `encoding: "base64"`
/// when it is not UTF-8 (or is gRPC); `comment` says when it was cut at the tap's `--body`
/// size, or not captured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BodyText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Milliseconds per phase; -1: does not apply (the proxy saw no DNS, connect or TLS of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    #[serde(default = "not_applicable")]
    pub blocked: f64,
    #[serde(default = "not_applicable")]
    pub dns: f64,
    #[serde(default = "not_applicable")]
    pub connect: f64,
    #[serde(default)]
    pub send: f64,
    #[serde(default)]
    pub wait: f64,
    #[serde(default)]
    pub receive: f64,
    #[serde(default = "not_applicable")]
    pub ssl: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            blocked: -1.0,
            dns: -1.0,
            connect: -1.0,
            send: 0.0,
            wait: 0.0,
            receive: 0.0,
            ssl: -1.0,
        }
    }
}

/// `_meshctl`: the hop as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshHop {
    /// The instance whose proxy saw the request (`api.v1`).
    pub proxy: String,
    /// `in`: a request the service received; `out`: one it sent.
    pub direction: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub src: String,
    pub dst: String,
    pub tls: bool,
    pub client_id: String,
    pub server_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether `request.postData` is the whole request body (what `replay` needs).
    pub request_body: BodyCapture,
}

impl MeshHop {
    /// The service the request was sent to: the tapped one for `in`, the server identity's
    /// service account for `out`.
    pub fn destination(&self) -> &str {
        if self.direction == "in" {
            &self.service
        } else {
            self.server_id.rsplit('/').next().unwrap_or_default()
        }
    }
}

/// How much of a request body the entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BodyCapture {
    /// The request had no body.
    None,
    /// All of it.
    Complete,
    /// The first `--body` bytes.
    Truncated,
    /// None of it: the tap ran without `--body`, or the body streamed past the proxy.
    NotCaptured,
}

/// What a finished recording holds besides its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub entries: usize,
    /// Entries written without their end (the tap stopped first).
    pub incomplete: usize,
    /// Requests left out: they began before the tap did (no `req` record).
    pub began_before: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("--har {}: is a directory", .0.display())]
    IsADirectory(PathBuf),
    #[error("--har {}: cannot create a file there: {}", .0.display(), .1)]
    Unwritable(PathBuf, #[source] std::io::Error),
    #[error("writing {}: {}", .0.display(), .1)]
    Write(PathBuf, #[source] std::io::Error),
}

/// A request seen so far: its `req` record, when it arrived, and its `rsp` once that came.
#[derive(Debug)]
struct Pending {
    seq: u64,
    started: SystemTime,
    req: TapRecord,
    rsp: Option<TapRecord>,
}

/// Joins the tap's records into HAR entries, in the order the requests began.
#[derive(Debug, Default)]
pub struct HarRecorder {
    /// The tap's `--body` size (`None`: bodies were not asked for).
    body_cap: Option<u32>,
    next_seq: u64,
    open: HashMap<String, Pending>,
    done: BTreeMap<u64, Entry>,
    began_before: usize,
}

impl HarRecorder {
    pub fn new(body_cap: Option<u32>) -> Self {
        HarRecorder {
            body_cap,
            ..HarRecorder::default()
        }
    }

    /// Takes one record the tap printed (after `--status`), received at `now`.
    pub fn push(&mut self, r: &TapRecord, now: SystemTime) {
        match r.kind {
            "req" => {
                let seq = self.next_seq;
                self.next_seq += 1;
                let pending = Pending {
                    seq,
                    started: now,
                    req: r.clone(),
                    rsp: None,
                };
                self.open.insert(r.id.clone(), pending);
            }
            "rsp" => match self.open.get_mut(&r.id) {
                Some(p) => p.rsp = Some(r.clone()),
                None => self.began_before += 1,
            },
            // An `end` without a `req` was counted once already, by its `rsp`.
            _ => {
                if let Some(p) = self.open.remove(&r.id) {
                    let seq = p.seq;
                    self.done.insert(seq, entry(p, Some(r), self.body_cap));
                }
            }
        }
    }

    /// The HAR of everything recorded: requests still open become entries without their end.
    pub fn finish(mut self) -> (Har, Recorded) {
        let incomplete = self.open.len();
        for (_, p) in std::mem::take(&mut self.open) {
            let seq = p.seq;
            self.done.insert(seq, entry(p, None, self.body_cap));
        }
        let recorded = Recorded {
            entries: self.done.len(),
            incomplete,
            began_before: self.began_before,
        };
        let har = Har {
            log: Log {
                version: HAR_VERSION.to_string(),
                creator: Creator {
                    name: "meshctl".to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                },
                entries: self.done.into_values().collect(),
                comment: Some(
                    "recorded by `meshctl tap --har`: headers and bodies as the proxies \
                     redacted them"
                        .to_string(),
                ),
            },
        };
        (har, recorded)
    }
}

/// Fails (before anything is tapped) when `path` cannot be written: a directory, or a
/// directory where no file can be created. Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<(), HarError> {
    if path.is_dir() {
        return Err(HarError::IsADirectory(path.to_path_buf()));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let probe = dir.join(format!(".{name}.probe.{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| HarError::Unwritable(path.to_path_buf(), e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The line `tap --har` ends with: what went into the file and what did not.
pub fn summary(path: &Path, r: &Recorded) -> String {
    let mut line = format!(
        "meshctl: wrote {} request{} to {}",
        r.entries,
        if r.entries == 1 { "" } else { "s" },
        path.display()
    );
    let mut notes = Vec::new();
    if r.incomplete > 0 {
        notes.push(format!("{} without their end", r.incomplete));
    }
    if r.began_before > 0 {
        notes.push(format!("{} left out: begun before the tap", r.began_before));
    }
    if !notes.is_empty() {
        line.push_str(&format!(" ({})", notes.join("; ")));
    }
    line
}

/// Writes `har` to `path` atomically (a temp file renamed over it), readable by its owner
/// alone: it holds captured traffic.
pub fn write(path: &Path, har: &Har) -> Result<(), HarError> {
    let body = serde_json::to_vec_pretty(har)
        .map_err(|e| HarError::Write(path.to_path_buf(), std::io::Error::other(e)))?;
    crate::fsutil::write_atomic(path, &body, crate::fsutil::PRIVATE_FILE_MODE)
        .map_err(|e| HarError::Write(path.to_path_buf(), e))
}

/// One entry from a request's records; `end` is `None` when the tap stopped first.
fn entry(p: Pending, end: Option<&TapRecord>, body_cap: Option<u32>) -> Entry {
    let req = &p.req;
    let headers = pairs(req.headers.as_ref());
    let http_version = http_version(req);
    let authority = req.authority.clone().unwrap_or_default();
    let path = req.path.clone().unwrap_or_default();
    let query = req.query.clone().unwrap_or_default();
    let capture = request_body(req, body_cap);
    let request = Request {
        method: req.method.clone().unwrap_or_default(),
        url: match query.as_str() {
            "" => format!("http://{authority}{path}"),
            q => format!("http://{authority}{path}?{q}"),
        },
        http_version: http_version.to_string(),
        cookies: Vec::new(),
        query_string: query_string(&query),
        post_data: post_data(req, capture, body_cap),
        headers,
        headers_size: -1,
        body_size: match capture {
            BodyCapture::None => 0,
            BodyCapture::Complete => body_len(req) as i64,
            _ => header(req, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1),
        },
    };
    let response = response(p.rsp.as_ref(), end, http_version, body_cap);
    let wait = p.rsp.as_ref().and_then(|r| r.latency_us).unwrap_or(0) as f64 / 1000.0;
    let time = end
        .and_then(|e| e.duration_us)
        .map_or(wait, |us| us as f64 / 1000.0);
    let comment = match (&p.rsp, end) {
        (_, Some(_)) => None,
        (Some(_), None) => Some("the tap stopped before the response ended".to_string()),
        (None, None) => Some("the tap stopped before the response came".to_string()),
    };
    Entry {
        started: crate::output::rfc3339(p.started),
        time,
        request,
        response,
        cache: serde_json::Map::new(),
        timings: Timings {
            wait,
            receive: (time - wait).max(0.0),
            ..Timings::default()
        },
        server_ip: req
            .dst
            .parse::<std::net::SocketAddr>()
            .ok()
            .map(|a| a.ip().to_string()),
        comment,
        meshctl: Some(MeshHop {
            proxy: req.proxy.clone(),
            direction: req.direction.clone(),
            service: req.service.clone(),
            version: req.version.clone(),
            src: req.src.clone(),
            dst: req.dst.clone(),
            tls: req.tls,
            client_id: req.client_id.clone(),
            server_id: req.server_id.clone(),
            grpc_status: end.and_then(|e| e.grpc_status.clone()),
            error: end.and_then(|e| e.error.clone()),
            request_body: capture,
        }),
    }
}

fn response(
    rsp: Option<&TapRecord>,
    end: Option<&TapRecord>,
    http_version: &str,
    body_cap: Option<u32>,
) -> Response {
    let Some(rsp) = rsp else {
        return Response {
            status: 0,
            status_text: String::new(),
            http_version: String::new(),
            cookies: Vec::new(),
            headers: Vec::new(),
            content: Content {
                size: 0,
                mime_type: UNKNOWN_MIME.to_string(),
                body: BodyText::default(),
            },
            redirect_url: String::new(),
            headers_size: -1,
            body_size: -1,
            comment: end.and_then(|e| e.error.clone()),
        };
    };
    let status = rsp.status.unwrap_or(0);
    let bytes = end.and_then(|e| e.response_bytes);
    let truncated = end.is_some_and(|e| e.body_truncated);
    let comment = match (truncated, body_cap) {
        (true, Some(cap)) => Some(format!("body cut at the tap's --body {cap} bytes")),
        _ => None,
    };
    let body = end.map_or_else(BodyText::default, |e| body_text(e, comment));
    Response {
        status,
        status_text: http::StatusCode::from_u16(status as u16)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default()
            .to_string(),
        http_version: http_version.to_string(),
        cookies: Vec::new(),
        headers: pairs(rsp.headers.as_ref()),
        content: Content {
            size: bytes.map_or(0, |b| b as i64),
            mime_type: header(rsp, "content-type")
                .unwrap_or(UNKNOWN_MIME)
                .to_string(),
            body,
        },
        redirect_url: header(rsp, "location").unwrap_or_default().to_string(),
        headers_size: -1,
        body_size: bytes.map_or(-1, |b| b as i64),
        comment: end.and_then(|e| e.error.clone()),
    }
}

/// How much of the request body `req` carries.
fn request_body(req: &TapRecord, body_cap: Option<u32>) -> BodyCapture {
    if body_cap.is_some() {
        if req.body_skipped.is_some() {
            return BodyCapture::NotCaptured;
        }
        if req.body_truncated {
            return BodyCapture::Truncated;
        }
        if req.body.is_some() || req.body_base64.is_some() {
            return BodyCapture::Complete;
        }
        return BodyCapture::None;
    }
    // No bodies asked for: only a request that declares none is known to have none.
    let declared_empty = match header(req, "content-length") {
        Some(len) => len.trim() == "0",
        None => {
            header(req, "transfer-encoding").is_none()
                && matches!(
                    req.method.as_deref(),
                    Some("GET" | "HEAD" | "DELETE" | "OPTIONS" | "TRACE")
                )
        }
    };
    if declared_empty {
        BodyCapture::None
    } else {
        BodyCapture::NotCaptured
    }
}

fn post_data(req: &TapRecord, capture: BodyCapture, body_cap: Option<u32>) -> Option<PostData> {
    let mime_type = header(req, "content-type").unwrap_or_default().to_string();
    let comment = match (capture, body_cap) {
        (BodyCapture::None, _) => return None,
        (BodyCapture::Complete, _) => None,
        (BodyCapture::Truncated, Some(cap)) => {
            Some(format!("body cut at the tap's --body {cap} bytes"))
        }
        (BodyCapture::Truncated, None) => Some("body cut by the tap".to_string()),
        (BodyCapture::NotCaptured, Some(_)) => Some(format!(
            "body not captured: {}",
            req.body_skipped.as_deref().unwrap_or("streamed")
        )),
        (BodyCapture::NotCaptured, None) => {
            Some("body not captured (tapped without --body)".to_string())
        }
    };
    Some(PostData {
        mime_type,
        body: body_text(req, comment),
    })
}

/// A record's captured body as HAR `text` (+ `encoding`), with `comment`.
fn body_text(r: &TapRecord, comment: Option<String>) -> BodyText {
    let (text, encoding) = match (&r.body, &r.body_base64) {
        (Some(text), _) => (Some(text.clone()), None),
        (None, Some(b64)) => (Some(b64.clone()), Some("base64".to_string())),
        (None, None) => (None, None),
    };
    BodyText {
        text,
        encoding,
        comment,
    }
}

fn body_len(r: &TapRecord) -> usize {
    use base64::Engine as _;
    match (&r.body, &r.body_base64) {
        (Some(text), _) => text.len(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_or(0, |b| b.len()),
        (None, None) => 0,
    }
}

/// `HTTP/1.1` when the outbound proxy marked the request as one from an HTTP/1 app, else
/// `HTTP/2` (how every tapped request travels between proxies).
fn http_version(req: &TapRecord) -> &'static str {
    if header(req, ORIG_PROTO).is_some() {
        "HTTP/1.1"
    } else {
        "HTTP/2"
    }
}

fn header<'a>(r: &'a TapRecord, name: &str) -> Option<&'a str> {
    r.headers.as_ref()?.get(name).map(String::as_str)
}

fn pairs(headers: Option<&BTreeMap<String, String>>) -> Vec<NameValue> {
    headers
        .into_iter()
        .flatten()
        .map(|(name, value)| NameValue {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// `a=1&b` as HAR `queryString` pairs (as sent: not percent-decoded).
fn query_string(query: &str) -> Vec<NameValue> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            NameValue {
                name: name.to_string(),
                value: value.to_string(),
            }
        })
        .collect()
}

fn unknown_size() -> i64 {
    -1
}

fn not_applicable() -> f64 {
    -1.0
}

#[cfg(test)]
mod tests;
