//! HTTP forwarding semantics shared by both directions: hop-by-hop headers, absolute URIs,
//! the mesh's own headers, proxy-generated error responses and the server limits.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{Either, Full};

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};

use crate::proxy::protocol::h1::server::AppBody;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::replay::ReplayBody;

/// Bodies being forwarded: a streamed one, or one the proxy sends itself.
pub type ProxyBody = Either<Streamed, Written>;

/// A body the proxy sends itself: a short one it wrote (or buffered) whole, or a streamed
/// request body replayed for a retry ([`ReplayBody`], boxed: it holds the original body, and
/// every request and response the proxy moves would otherwise carry its size).
#[derive(Debug)]
pub enum Written {
    Full(Full<Bytes>),
    Replay(Box<ReplayBody>),
    /// A peer's body the proxy watches on its way (a mirrored request's real answer, whose
    /// end the mirror compares with the copy's): boxed, it exists only while mirroring.
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

/// The error of a body the proxy forwards whole or watches.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Written {
    pub fn full(bytes: impl Into<Bytes>) -> Written {
        Written::Full(Full::new(bytes.into()))
    }
}

impl Body for Written {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Written::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Written::Replay(replay) => Pin::new(replay.as_mut()).poll_frame(cx),
            Written::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Written::Full(full) => full.is_end_stream(),
            Written::Replay(replay) => replay.is_end_stream(),
            Written::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Written::Full(full) => full.size_hint(),
            Written::Replay(replay) => replay.size_hint(),
            Written::Boxed(body) => body.size_hint(),
        }
    }
}

/// A body streamed from a client: HTTP/2 (a peer's or an h2c app's request) or, from the
/// outbound's HTTP/1 clients, [`AppBody`].
pub type Streamed = Either<H2Body, AppBody>;

/// A request being forwarded, boxed: every async layer it passes through (tap, timeout,
/// retry, attempt, peer, connection; on the inbound side the app client) keeps its own slot
/// for an argument it moves on (rustc lays an async fn's arguments out beside its locals),
/// so a 264-byte request took ~2.6 KB of the outbound's per-request future; boxed, it is
/// 8 bytes a slot for one allocation.
pub type BoxedRequest = Box<Request<ProxyBody>>;

/// Set by the outbound proxy on requests the app sent as HTTP/1.x, so the inbound proxy
/// speaks HTTP/1.1 to an HTTP/1 app (like linkerd's `l5d-orig-proto`). Never reaches the app.
pub const ORIG_PROTO: HeaderName = HeaderName::from_static("x-meshctl-orig-proto");
pub const ORIG_PROTO_HTTP1: HeaderValue = HeaderValue::from_static("HTTP/1.1");

/// The verified SPIFFE ID of the calling proxy, set by the inbound proxy only.
pub const CLIENT_ID: HeaderName = HeaderName::from_static("x-meshctl-client-id");

/// On responses the proxy generated itself: why (a short fixed text).
pub const PROXY_ERROR: HeaderName = HeaderName::from_static("x-meshctl-proxy-error");

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// Connection-specific headers removed whether or not `connection` names them.
const HOP_BY_HOP: [HeaderName; 4] = [KEEP_ALIVE, PROXY_CONNECTION, TRANSFER_ENCODING, UPGRADE];

/// A response that has no body whatever its headers say (RFC 9110 §6.4.1, RFC 9112 §6.3):
/// the answer to a HEAD request, 1xx, 204 and 304.
pub fn bodiless_response(head_request: bool, status: StatusCode) -> bool {
    head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// Removes connection-specific headers (RFC 9110 §7.6.1), including those the Connection
/// header names. `te: trailers` survives: gRPC needs it end to end.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names finds what there is to strip (usually nothing, or only
    // `connection`): removing an absent name still hashes and probes, ~130 instructions each.
    let (mut connection, mut listed, mut te) = (false, false, false);
    for name in headers.keys() {
        if name == CONNECTION {
            connection = true;
        } else if name == TE {
            te = true;
        } else if HOP_BY_HOP.contains(name) {
            listed = true;
        }
    }
    if connection {
        // `close` names no header and `keep-alive` goes below anyway: the usual values
        // (what nginx sends on every response) are skipped without parsing or allocating.
        let mut named = Vec::new();
        for value in headers.get_all(CONNECTION) {
            let tokens = value.to_str().unwrap_or_default().split(',').map(str::trim);
            for token in tokens {
                if token.eq_ignore_ascii_case("close") || token.eq_ignore_ascii_case("keep-alive") {
                    continue;
                }
                if let Ok(name) = HeaderName::from_bytes(token.as_bytes())
                    && name != TE
                {
                    named.push(name);
                }
            }
        }
        for name in named {
            headers.remove(name);
        }
        headers.remove(CONNECTION);
    }
    if listed {
        for name in HOP_BY_HOP {
            headers.remove(name);
        }
    }
    if te
        && let Some(value) = headers.get(TE)
        && !value.as_bytes().eq_ignore_ascii_case(b"trailers")
    {
        headers.remove(TE);
    }
}

/// HTTP/2 needs `:scheme` and `:authority`: turns an origin-form HTTP/1 request target into
/// an absolute URI using the Host header (or `fallback` when an HTTP/1.0 client sent none).
pub fn make_absolute<B>(req: &mut Request<B>, fallback: &Authority) -> Result<(), http::Error> {
    if req.uri().scheme().is_some() && req.uri().authority().is_some() {
        return Ok(());
    }
    let authority = req
        .headers()
        .get(HOST)
        .and_then(|h| Authority::try_from(h.as_bytes()).ok())
        .unwrap_or_else(|| fallback.clone());
    let mut parts = std::mem::take(req.uri_mut()).into_parts();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    *req.uri_mut() = Uri::from_parts(parts)?;
    Ok(())
}

/// The reverse of [`make_absolute`] for an HTTP/1.1 app: Host from `:authority` when the
/// request (from HTTP/2) has none, and an origin-form target (`/path?query`).
pub fn to_origin_form<B>(req: &mut Request<B>) {
    if !req.headers().contains_key(HOST)
        && let Some(host) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(HOST, host);
    }
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        let target = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::from(target);
    }
}

/// A response the proxy writes itself, with the reason in [`PROXY_ERROR`] and the body.
pub fn error_response(status: StatusCode, reason: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Written::full(Bytes::from_static(
        reason.as_bytes(),
    ))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(PROXY_ERROR, HeaderValue::from_static(reason));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// [`error_response`] with a body of its own (the reason stays in the header).
pub fn error_response_with(
    status: StatusCode,
    reason: &'static str,
    body: String,
) -> Response<ProxyBody> {
    let mut response = error_response(status, reason);
    *response.body_mut() = Either::Right(Written::full(body));
    response
}

/// Whether a request is a gRPC call (its errors are answered in gRPC terms).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// A response the proxy writes itself to a gRPC call: trailers-only (HTTP 200, no body) with
/// `grpc-status` and `grpc-message`, as gRPC clients expect, and the reason in [`PROXY_ERROR`].
pub fn grpc_error(grpc_status: HeaderValue, reason: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Written::full(Bytes::new())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", grpc_status);
    headers.insert("grpc-message", HeaderValue::from_static(reason));
    headers.insert(PROXY_ERROR, HeaderValue::from_static(reason));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayable_body_makes_no_request_or_response_larger() {
        // Every request and response the proxy forwards carries a ProxyBody, moved through
        // each layer: the replay variant must not widen it (it is boxed).
        let before = std::mem::size_of::<Either<Streamed, Full<Bytes>>>();
        assert!(std::mem::size_of::<ProxyBody>() <= before);
    }

    #[test]
    fn hop_by_hop_headers_go_named_ones_too() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["te", "x-kept"]);
        h.insert(TE, HeaderValue::from_static("gzip"));
        strip_hop_by_hop(&mut h);
        assert!(!h.contains_key(TE));
    }

    #[test]
    fn every_hop_by_hop_header_goes_in_any_case_and_repeated() {
        let mut h = HeaderMap::new();
        h.append(CONNECTION, HeaderValue::from_static("Upgrade"));
        h.append(CONNECTION, HeaderValue::from_static("X-Hop , te"));
        h.append("x-hop", HeaderValue::from_static("1"));
        h.append("x-hop", HeaderValue::from_static("2"));
        h.insert("Proxy-Connection", HeaderValue::from_static("keep-alive"));
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(TE, HeaderValue::from_static("TRAILERS"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert(HOST, HeaderValue::from_static("api"));
        strip_hop_by_hop(&mut h);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        // `te: trailers` stays even when Connection names it.
        assert_eq!(names, ["host", "te"]);
        assert_eq!(h.get_all("x-hop").iter().count(), 0);

        // Nothing to remove: nothing changes.
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }

    #[test]
    fn hop_by_hop_headers_go_without_a_connection_header_too() {
        for name in [
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            let mut h = HeaderMap::new();
            h.insert(HOST, HeaderValue::from_static("api"));
            h.insert(name, HeaderValue::from_static("x"));
            strip_hop_by_hop(&mut h);
            assert_eq!(h.len(), 1, "{name} survived");
        }
    }

    #[test]
    fn absolute_becomes_origin_form_with_host() {
        let mut req = Request::get("http://api.local:8080/a?b=1")
            .body(())
            .unwrap();
        to_origin_form(&mut req);
        assert_eq!(req.uri(), "/a?b=1");
        assert_eq!(req.headers()[HOST], "api.local:8080");
        let mut req = Request::get("http://x/")
            .header(HOST, "kept")
            .body(())
            .unwrap();
        to_origin_form(&mut req);
        assert_eq!(req.headers()[HOST], "kept");
    }

    #[test]
    fn origin_form_becomes_absolute_from_host() {
        let mut req = Request::get("/a?b=1")
            .header(HOST, "api.local:8080")
            .body(())
            .unwrap();
        make_absolute(&mut req, &Authority::from_static("fallback:1")).unwrap();
        assert_eq!(req.uri(), "http://api.local:8080/a?b=1");
        let mut req = Request::get("/").body(()).unwrap();
        make_absolute(&mut req, &Authority::from_static("fallback:1")).unwrap();
        assert_eq!(req.uri(), "http://fallback:1/");
    }
}
