//! The tap contract beyond its gRPC messages (`proto/tap.proto`): limits both sides know, and
//! the events as JSON (what a cluster controller's `/tap` streams).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::proto::tap as pb;

/// The most body bytes a watcher gets per request and direction.
pub const MAX_BODY_CAPTURE: usize = 64 * 1024;
/// What a redacted header's value (or a credential field of a body) becomes.
pub const REDACTED: &str = "<redacted>";

/// A tap event as JSON: the `TapEvent` message field for field (bodies in standard base64),
/// what a cluster controller's `/tap` streams (one per NDJSON line, inside its envelope).
/// Exactly one of `request`, `response`, `end` is present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TapEventJson {
    pub id: u64,
    pub direction: String,
    pub src: String,
    pub dst: String,
    pub client_id: String,
    pub server_id: String,
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EndJson>,
}

/// `RequestInit` as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestJson {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub headers: Vec<HeaderJson>,
    /// Base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    #[serde(default)]
    pub body_truncated: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body_skipped: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// `ResponseInit` as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseJson {
    pub status: u32,
    pub latency_us: u64,
    pub headers: Vec<HeaderJson>,
}

/// `End` as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndJson {
    pub duration_us: u64,
    pub response_bytes: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub grpc_status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_body: String,
    #[serde(default)]
    pub response_body_truncated: bool,
}

/// A header (already redacted by the proxy that sent it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeaderJson {
    pub name: String,
    pub value: String,
}

/// A body field that is not base64.
#[derive(Debug, thiserror::Error)]
#[error("tap event {id}: {field} is not base64: {why}")]
pub struct BadBody {
    id: u64,
    field: &'static str,
    why: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn headers_json(headers: Vec<pb::Header>) -> Vec<HeaderJson> {
    headers
        .into_iter()
        .map(|h| HeaderJson {
            name: h.name,
            value: h.value,
        })
        .collect()
}

fn headers_pb(headers: Vec<HeaderJson>) -> Vec<pb::Header> {
    headers
        .into_iter()
        .map(|h| pb::Header {
            name: h.name,
            value: h.value,
        })
        .collect()
}

impl From<pb::TapEvent> for TapEventJson {
    fn from(e: pb::TapEvent) -> Self {
        use pb::tap_event::Event;
        let mut out = TapEventJson {
            id: e.id,
            direction: e.direction,
            src: e.src,
            dst: e.dst,
            client_id: e.client_id,
            server_id: e.server_id,
            tls: e.tls,
            ..TapEventJson::default()
        };
        match e.event {
            Some(Event::Request(q)) => {
                out.request = Some(RequestJson {
                    method: q.method,
                    authority: q.authority,
                    path: q.path,
                    headers: headers_json(q.headers),
                    body: b64(&q.body),
                    body_truncated: q.body_truncated,
                    body_skipped: q.body_skipped,
                    query: q.query,
                })
            }
            Some(Event::Response(r)) => {
                out.response = Some(ResponseJson {
                    status: r.status,
                    latency_us: r.latency_us,
                    headers: headers_json(r.headers),
                })
            }
            Some(Event::End(end)) => {
                out.end = Some(EndJson {
                    duration_us: end.duration_us,
                    response_bytes: end.response_bytes,
                    grpc_status: end.grpc_status,
                    error: end.error,
                    response_body: b64(&end.response_body),
                    response_body_truncated: end.response_body_truncated,
                })
            }
            None => {}
        }
        out
    }
}

impl TryFrom<TapEventJson> for pb::TapEvent {
    type Error = BadBody;

    fn try_from(e: TapEventJson) -> Result<Self, BadBody> {
        use pb::tap_event::Event;
        let id = e.id;
        let decode = |field: &'static str, text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|err| BadBody {
                    id,
                    field,
                    why: err.to_string(),
                })
        };
        let event = match (e.request, e.response, e.end) {
            (Some(q), _, _) => Some(Event::Request(pb::RequestInit {
                body: decode("request.body", &q.body)?,
                method: q.method,
                authority: q.authority,
                path: q.path,
                headers: headers_pb(q.headers),
                body_truncated: q.body_truncated,
                body_skipped: q.body_skipped,
                query: q.query,
            })),
            (None, Some(r), _) => Some(Event::Response(pb::ResponseInit {
                status: r.status,
                latency_us: r.latency_us,
                headers: headers_pb(r.headers),
            })),
            (None, None, Some(end)) => Some(Event::End(pb::End {
                response_body: decode("end.response_body", &end.response_body)?,
                duration_us: end.duration_us,
                response_bytes: end.response_bytes,
                grpc_status: end.grpc_status,
                error: end.error,
                response_body_truncated: end.response_body_truncated,
            })),
            (None, None, None) => None,
        };
        Ok(pb::TapEvent {
            id,
            direction: e.direction,
            src: e.src,
            dst: e.dst,
            client_id: e.client_id,
            server_id: e.server_id,
            tls: e.tls,
            event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::tap_event::Event;

    #[test]
    fn every_event_kind_round_trips_through_json() {
        let base = pb::TapEvent {
            id: 7,
            direction: "in".into(),
            src: "198.18.0.2:5000".into(),
            dst: "127.0.0.1:8080".into(),
            client_id: "spiffe://mesh.local/ns/shop/sa/web".into(),
            server_id: "spiffe://mesh.local/ns/shop/sa/api".into(),
            tls: true,
            event: None,
        };
        let events = [
            Event::Request(pb::RequestInit {
                method: "POST".into(),
                authority: "api".into(),
                path: "/login".into(),
                headers: vec![pb::Header {
                    name: "authorization".into(),
                    value: "<redacted>".into(),
                }],
                body: b"\0\x01binary".to_vec(),
                body_truncated: true,
                body_skipped: String::new(),
                query: "a=1&token=%3Credacted%3E".into(),
            }),
            Event::Response(pb::ResponseInit {
                status: 503,
                latency_us: 1200,
                headers: Vec::new(),
            }),
            Event::End(pb::End {
                duration_us: 1500,
                response_bytes: 42,
                grpc_status: "14".into(),
                error: "reset".into(),
                response_body: b"{}".to_vec(),
                response_body_truncated: false,
            }),
        ];
        for event in events {
            let e = pb::TapEvent {
                event: Some(event),
                ..base.clone()
            };
            let text = serde_json::to_string(&TapEventJson::from(e.clone())).unwrap();
            let back: TapEventJson = serde_json::from_str(&text).unwrap();
            assert_eq!(pb::TapEvent::try_from(back).unwrap(), e, "{text}");
        }
        let bad = TapEventJson {
            request: Some(RequestJson {
                body: "not base64!".into(),
                ..RequestJson::default()
            }),
            ..TapEventJson::default()
        };
        let e = pb::TapEvent::try_from(bad).unwrap_err().to_string();
        assert!(e.contains("request.body"), "{e}");
    }
}
