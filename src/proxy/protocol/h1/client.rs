//! One HTTP/1.1 request/response exchange with the local app, on a pooled keep-alive
//! connection, driven by the task that forwards the request (see `app::Http1Pool`).
//!
//! Why not hyper's client connection: it runs a task per connection, which a request
//! reaches over a channel and answers over a oneshot, so every request woke two tasks; and
//! every pooled connection held ~36 KiB while idle (two 9 KiB channel blocks, a read and a
//! write buffer). Here the request's own task writes the request, reads the response head
//! and, through the response body, the rest: an idle connection is its socket only.
//!
//! The wire rules (RFC 9112): the request body is sent with its Content-Length when known,
//! chunked otherwise; the response body is delimited by HEAD / 204 / 304 (none), a final
//! `chunked` coding, Content-Length, or the connection's end. 1xx responses are skipped
//! (the client already gets its own from the inbound's HTTP/2 server); 101 is an error,
//! since upgrade requests never reach the app.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use crate::proxy::limits;
use crate::proxy::protocol::http as proxy_http;

/// A request on its way to the app and, once its head is read, the response body's source.
/// `B`: the request body (the inbound proxy's is `http::ProxyBody`).
#[derive(Debug)]
pub struct Exchange<B> {
    io: TcpStream,
    buf: BytesMut,
    /// The request head and body still to be written; `None` once all of it is.
    upload: Option<Upload<B>>,
    /// Writing the request failed (the app may have answered early and closed): reported
    /// only if no response comes.
    write_failed: Option<io::Error>,
    head_request: bool,
    /// Bytes of free buffer to read into (see `poll_read`).
    read_size: usize,
    /// The connection may carry another exchange once this one ends.
    keep_alive: bool,
}

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
    /// At the connection's end.
    UntilClose,
    Done,
}

/// Where a chunked body's decoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// A message being written: its queued head and framed body. Also the outbound's HTTP/1
/// server's response writer (`h1server`).
#[derive(Debug)]
pub struct Upload<B> {
    /// `None` once its end (and the chunked terminator, if any) is queued.
    body: Option<B>,
    chunked: bool,
    queue: VecDeque<Bytes>,
    queued: usize,
    /// Body bytes queued so far.
    sent: u64,
    /// The most body bytes the message's head announced (`None`: unchecked).
    limit: Option<u64>,
}

/// Why an upload stopped: the message's body failed (the exchange cannot go on), or the
/// write to the peer did (for a request, a response may still come).
#[derive(Debug)]
pub enum UploadError {
    Body(io::Error),
    Write(io::Error),
}

/// One step of a message body.
#[derive(Debug)]
pub enum Step {
    Data(Bytes),
    Trailers(HeaderMap),
    End,
}

pub const CRLF: &[u8] = b"\r\n";
/// The last chunk and an empty trailer section.
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
/// Trailer fields of a chunked response.
const MAX_TRAILERS: usize = 32;
/// A chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;

/// What an exchange needs of a request body.
pub trait RequestBody: Body<Data = Bytes, Error: Into<BoxError>> + Unpin {}

impl<B> RequestBody for B where B: Body<Data = Bytes, Error: Into<BoxError>> + Unpin {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B: RequestBody> Exchange<B> {
    /// Queues `req`'s head (HTTP/1.1, origin-form target) and body for the app on `io`;
    /// `buf` is a read buffer to reuse (empty).
    pub fn start(io: TcpStream, buf: BytesMut, req: Request<B>) -> Exchange<B> {
        let (parts, body) = req.into_parts();
        let mut head = BytesMut::with_capacity(256);
        let chunked = encode_head(&parts, &body, &mut head);
        let has_body = chunked.is_some();
        Exchange {
            io,
            buf,
            upload: Some(Upload::new(
                head.freeze(),
                has_body.then_some(body),
                chunked.unwrap_or(false),
            )),
            write_failed: None,
            head_request: parts.method == Method::HEAD,
            read_size: limits::APP_READ_BUFFER,
            keep_alive: true,
        }
    }

    /// Contract: `Ready(Ok)` with the final response's head (1xx skipped) and how its body
    /// ends; `Ready(Err)` if the app closed, sent a malformed or oversized head, or the
    /// client's request body failed. The request body keeps being written meanwhile.
    pub fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Response<()>, Decoder)>> {
        loop {
            self.drive_upload(cx)?;
            if let Some(head) = self.parse_head()? {
                return Poll::Ready(Ok(head));
            }
            if self.buf.len() >= limits::APP_RESPONSE_MAX_HEAD_BYTES {
                return Poll::Ready(Err(head_too_large()));
            }
            if ready!(self.poll_read(cx))? == 0 {
                let closed = if self.buf.is_empty() {
                    "the app closed the connection without responding"
                } else {
                    "the app closed the connection in the middle of a response head"
                };
                let error = self.write_failed.take();
                return Poll::Ready(Err(
                    error.unwrap_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, closed))
                ));
            }
        }
    }

    /// The response body's next frame, as `decoder` delimits it; `Ready(None)` at its end.
    pub fn poll_frame(
        &mut self,
        decoder: &mut Decoder,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        loop {
            if let Err(e) = self.drive_upload(cx) {
                return Poll::Ready(Some(Err(e)));
            }
            match decoder.decode(&mut self.buf) {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Some(Step::Data(data))) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(Some(Step::Trailers(t))) => return Poll::Ready(Some(Ok(Frame::trailers(t)))),
                Ok(Some(Step::End)) => return Poll::Ready(None),
                Ok(None) => {}
            }
            let read = match ready!(self.poll_read(cx)) {
                Ok(read) => read,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if read == 0 {
                if *decoder == Decoder::UntilClose {
                    *decoder = Decoder::Done;
                    return Poll::Ready(None);
                }
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the app closed the connection in the middle of a response body",
                ))));
            }
        }
    }

    /// The connection and read buffer back, with whether the connection can carry another
    /// exchange: the response ended cleanly, all of the request was written, nothing
    /// unasked-for follows, and neither side asked to close.
    pub fn finish(self, decoder: Decoder) -> (TcpStream, BytesMut, bool) {
        let reusable = self.keep_alive
            && decoder == Decoder::Done
            && self.upload.is_none()
            && self.write_failed.is_none()
            && self.buf.is_empty();
        (self.io, self.buf, reusable)
    }

    /// Writes what the request has ready. Only a failure of the client's body is an error
    /// here: a failed write is kept for `poll_head` (the app may have answered and closed).
    fn drive_upload(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(upload) = &mut self.upload else {
            return Ok(());
        };
        match upload.poll_send(&mut self.io, cx) {
            Poll::Pending => Ok(()),
            Poll::Ready(Ok(())) => {
                self.upload = None;
                Ok(())
            }
            Poll::Ready(Err(UploadError::Write(e))) => {
                self.upload = None;
                self.write_failed = Some(e);
                Ok(())
            }
            Poll::Ready(Err(UploadError::Body(e))) => {
                self.upload = None;
                self.keep_alive = false;
                Err(e)
            }
        }
    }

    /// Reads what the socket has into the buffer's free space: at least half of
    /// `read_size`, which doubles (up to [`limits::APP_READ_BUFFER_MAX`]) whenever a read
    /// fills the space, so a large body takes few system calls and a small one little memory.
    ///
    /// Through `AsyncRead`, not `try_read_buf`: a read that leaves free space shows the
    /// socket drained, and only `AsyncRead` then clears the readiness the runtime holds for
    /// it. Kept, that readiness would cost the pool's liveness check (`app::is_open`) a
    /// system call per request that could only say "nothing to read".
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
            self.buf.reserve(self.read_size);
        }
        let space = self.buf.capacity() - self.buf.len();
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.buf
        ))?;
        if n == space {
            self.read_size = (self.read_size * 2).min(limits::APP_READ_BUFFER_MAX);
        }
        Poll::Ready(Ok(n))
    }

    /// The final response head, if the buffer holds one (1xx heads before it are consumed).
    fn parse_head(&mut self) -> io::Result<Option<(Response<()>, Decoder)>> {
        parse_response_head(&mut self.buf, self.head_request, &mut self.keep_alive)
    }
}

/// The final response head at the start of `buf`, if it holds one (1xx heads before it are
/// consumed). `head_request`: the request was HEAD; `keep_alive` is cleared when the
/// response ends the connection.
fn parse_response_head(
    buf: &mut BytesMut,
    head_request: bool,
    keep_alive: &mut bool,
) -> io::Result<Option<(Response<()>, Decoder)>> {
    loop {
        if buf.is_empty() {
            return Ok(None);
        }
        let mut fields = [httparse::EMPTY_HEADER; limits::APP_RESPONSE_MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        let len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) if len > limits::APP_RESPONSE_MAX_HEAD_BYTES => {
                return Err(head_too_large());
            }
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => {
                return Err(invalid(format!(
                    "malformed response head from the app: {e}"
                )));
            }
        };
        let status = parsed
            .code
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| invalid("invalid status code from the app"))?;
        let version = match parsed.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        // Where each field sits in the head, so names and values can share its bytes.
        let base = buf.as_ptr() as usize;
        let mut spans = [(0, 0, 0, 0); limits::APP_RESPONSE_MAX_HEADERS];
        let count = parsed.headers.len();
        for (span, field) in spans.iter_mut().zip(parsed.headers.iter()) {
            let name = field.name.as_ptr() as usize - base;
            let value = field.value.as_ptr() as usize - base;
            *span = (name, field.name.len(), value, field.value.len());
        }
        let head = buf.split_to(len).freeze();
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(invalid(
                    "the app switched protocols (upgrades are not proxied)",
                ));
            }
            continue;
        }
        let mut headers = HeaderMap::with_capacity(count);
        for &(name, name_len, value, value_len) in &spans[..count] {
            let name = HeaderName::from_bytes(&head[name..name + name_len])
                .map_err(|_| invalid("invalid header name from the app"))?;
            let value = HeaderValue::from_maybe_shared(head.slice(value..value + value_len))
                .map_err(|_| invalid("invalid header value from the app"))?;
            headers.append(name, value);
        }
        let decoder = decoder_for(head_request, keep_alive, status, version, &headers)?;
        let mut response = Response::new(());
        *response.status_mut() = status;
        *response.version_mut() = version;
        *response.headers_mut() = headers;
        return Ok(Some((response, decoder)));
    }
}

/// How the body of a response with this head ends (RFC 9112 §6.3).
fn decoder_for(
    head_request: bool,
    keep_alive: &mut bool,
    status: StatusCode,
    version: Version,
    headers: &HeaderMap,
) -> io::Result<Decoder> {
    *keep_alive &= persistent(version, headers);
    if proxy_http::bodiless_response(head_request, status) {
        return Ok(Decoder::Done);
    }
    if let Some(codings) = headers.get_all(TRANSFER_ENCODING).iter().next_back() {
        // Transfer-Encoding overrides Content-Length; such a message ends the connection.
        if headers.contains_key(CONTENT_LENGTH) {
            *keep_alive = false;
        }
        let last = codings
            .as_bytes()
            .rsplit(|&b| b == b',')
            .next()
            .unwrap_or_default();
        if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return Ok(Decoder::Chunked(Chunk::Size));
        }
        *keep_alive = false;
        return Ok(Decoder::UntilClose);
    }
    match content_length(headers)? {
        Some(0) => Ok(Decoder::Done),
        Some(n) => Ok(Decoder::Length(n)),
        None => {
            *keep_alive = false;
            Ok(Decoder::UntilClose)
        }
    }
}

impl<B: RequestBody> Upload<B> {
    /// `head` queued, then `body` (none: the message ends with its head), chunked or as is.
    pub fn new(head: Bytes, body: Option<B>, chunked: bool) -> Self {
        // Room for a chunk's size line, data and CRLF after the head without regrowing.
        let queued = head.len();
        let mut queue = VecDeque::with_capacity(4);
        queue.push_back(head);
        Upload {
            body,
            chunked,
            queued,
            queue,
            sent: 0,
            limit: None,
        }
    }

    /// Bytes to write before the rest (the outbound server's unfinished `100 Continue`).
    pub fn prepend(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.queue.push_front(bytes);
    }

    /// Fails the body (nothing more of it written) if it grows past `length` bytes: a
    /// length-delimited message cannot carry more, and the rest would be read as the next one.
    pub fn limited_to(mut self, length: u64) -> Self {
        self.limit = Some(length);
        self
    }

    /// The body's data bytes taken so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Writes the queued bytes and whatever the body has ready; `Ready(Ok)` once the whole
    /// message is written.
    pub fn poll_send<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            self.fill(cx).map_err(UploadError::Body)?;
            if self.queue.is_empty() {
                return match self.body {
                    None => Poll::Ready(Ok(())),
                    Some(_) => Poll::Pending,
                };
            }
            ready!(self.poll_write(io, cx)).map_err(UploadError::Write)?;
        }
    }

    /// Moves ready body frames into the queue (framed), up to [`limits::APP_UPLOAD_QUEUE`].
    fn fill(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while self.queued < limits::APP_UPLOAD_QUEUE {
            let Some(body) = self.body.as_mut() else {
                return Ok(());
            };
            let frame = match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Some(Err(e))) => return Err(io::Error::other(e.into())),
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(None) => {
                    if self.chunked {
                        self.push(Bytes::from_static(LAST_CHUNK));
                    }
                    self.body = None;
                    return Ok(());
                }
            };
            match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) if self.chunked => {
                    self.sent += data.len() as u64;
                    self.push(Bytes::from(format!("{:x}\r\n", data.len())));
                    self.push(data);
                    self.push(Bytes::from_static(CRLF));
                }
                Ok(data) => {
                    self.sent += data.len() as u64;
                    if self.limit.is_some_and(|limit| self.sent > limit) {
                        return Err(io::Error::other("body longer than its content-length"));
                    }
                    self.push(data);
                }
                Err(frame) => {
                    // Trailers end the body; a length-delimited body has no room for them.
                    if let (Ok(trailers), true) = (frame.into_trailers(), self.chunked) {
                        let mut last = BytesMut::from(&b"0\r\n"[..]);
                        encode_fields(&trailers, &mut last);
                        last.extend_from_slice(CRLF);
                        self.push(last.freeze());
                    }
                    self.body = None;
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.queue.push_back(bytes);
    }

    /// One vectored write of the queue's front.
    fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = slices
            .iter_mut()
            .zip(&self.queue)
            .map(|(s, b)| *s = IoSlice::new(b))
            .count();
        let mut written = match ready!(Pin::new(io).poll_write_vectored(cx, &slices[..n]))? {
            0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            written => written,
        };
        self.queued -= written;
        while let Some(front) = self.queue.front_mut() {
            if written < front.len() {
                front.advance(written);
                break;
            }
            written -= front.len();
            self.queue.pop_front();
        }
        Poll::Ready(Ok(()))
    }
}

impl Decoder {
    pub fn is_done(&self) -> bool {
        *self == Decoder::Done
    }

    pub fn size_hint(&self) -> SizeHint {
        match *self {
            Decoder::Length(n) => SizeHint::with_exact(n),
            Decoder::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }

    /// The next step the buffer holds, `None` if it needs more bytes. Framing that follows
    /// a body's last data (a chunk's CRLF, the last chunk, an empty trailer section) is
    /// consumed with it, so `is_done` is true as soon as the data is all out.
    pub fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Step>> {
        let step = match *self {
            Decoder::Done => return Ok(Some(Step::End)),
            Decoder::UntilClose if buf.is_empty() => return Ok(None),
            Decoder::UntilClose => Step::Data(buf.split().freeze()),
            Decoder::Length(left) => {
                let Some((data, left)) = take(buf, left) else {
                    return Ok(None);
                };
                *self = match left {
                    0 => Decoder::Done,
                    left => Decoder::Length(left),
                };
                Step::Data(data)
            }
            Decoder::Chunked(_) => match self.decode_chunked(buf)? {
                Some(step) => step,
                None => return Ok(None),
            },
        };
        if let Decoder::Chunked(_) = self {
            self.settle_chunked(buf)?;
        }
        Ok(Some(step))
    }

    fn decode_chunked(&mut self, buf: &mut BytesMut) -> io::Result<Option<Step>> {
        loop {
            let Decoder::Chunked(state) = *self else {
                return Ok(Some(Step::End));
            };
            match state {
                Chunk::Data(left) => {
                    let Some((data, left)) = take(buf, left) else {
                        return Ok(None);
                    };
                    *self = Decoder::Chunked(match left {
                        0 => Chunk::DataEnd,
                        left => Chunk::Data(left),
                    });
                    return Ok(Some(Step::Data(data)));
                }
                Chunk::Trailers => {
                    let Some(trailers) = trailers(buf)? else {
                        return Ok(None);
                    };
                    *self = Decoder::Done;
                    return Ok(Some(if trailers.is_empty() {
                        Step::End
                    } else {
                        Step::Trailers(trailers)
                    }));
                }
                Chunk::Size | Chunk::DataEnd => {
                    if !self.advance_framing(buf)? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// After data: consumes the framing the buffer already holds up to the next data, so
    /// that a body whose terminator has arrived is done without another poll.
    fn settle_chunked(&mut self, buf: &mut BytesMut) -> io::Result<()> {
        while let Decoder::Chunked(Chunk::Size | Chunk::DataEnd) = *self {
            if !self.advance_framing(buf)? {
                return Ok(());
            }
        }
        if *self == Decoder::Chunked(Chunk::Trailers) && buf.starts_with(CRLF) {
            buf.advance(CRLF.len());
            *self = Decoder::Done;
        }
        Ok(())
    }

    /// One step through a chunk's CRLF or size line; false if the buffer does not hold it.
    fn advance_framing(&mut self, buf: &mut BytesMut) -> io::Result<bool> {
        match *self {
            Decoder::Chunked(Chunk::DataEnd) => {
                if buf.len() < CRLF.len() {
                    return Ok(false);
                }
                if !buf.starts_with(CRLF) {
                    return Err(invalid(
                        "malformed chunked body from the app: no CRLF after a chunk",
                    ));
                }
                buf.advance(CRLF.len());
                *self = Decoder::Chunked(Chunk::Size);
            }
            Decoder::Chunked(Chunk::Size) => {
                let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                    if buf.len() > MAX_CHUNK_LINE {
                        return Err(invalid(
                            "malformed chunked body from the app: chunk-size line too long",
                        ));
                    }
                    return Ok(false);
                };
                let size = chunk_size(&buf[..end])?;
                buf.advance(end + 1);
                *self = Decoder::Chunked(if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                });
            }
            _ => {}
        }
        Ok(true)
    }
}

/// Up to `left` bytes from the buffer (`None` if it is empty), and how many are left then.
fn take(buf: &mut BytesMut, left: u64) -> Option<(Bytes, u64)> {
    if buf.is_empty() {
        return None;
    }
    let n = left.min(buf.len() as u64);
    // n <= buf.len(), a usize.
    Some((buf.split_to(n as usize).freeze(), left - n))
}

/// Writes the request line and fields; returns how the body is framed: `None` (no body),
/// `Some(false)` (Content-Length), `Some(true)` (chunked).
fn encode_head(parts: &http::request::Parts, body: &impl Body, out: &mut BytesMut) -> Option<bool> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    for piece in [parts.method.as_str(), " ", target, " HTTP/1.1\r\n"] {
        out.extend_from_slice(piece.as_bytes());
    }
    let headers = &parts.headers;
    encode_fields(headers, out);
    let has_length = headers.contains_key(CONTENT_LENGTH);
    let framing = if body.is_end_stream() {
        // A body-carrying method says its body is empty (what curl and hyper send).
        let expects_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
        if expects_body && !has_length {
            out.extend_from_slice(b"content-length: 0\r\n");
        }
        None
    } else if has_length {
        Some(false)
    } else if let Some(n) = body.size_hint().exact() {
        out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
        Some(false)
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Some(true)
    };
    out.extend_from_slice(CRLF);
    framing
}

/// `name: value` lines; Transfer-Encoding is the proxy's to set.
pub fn encode_fields(headers: &HeaderMap, out: &mut BytesMut) {
    for (name, value) in headers {
        if name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(CRLF);
    }
}

/// HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when told to keep it.
pub fn persistent(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &str| {
        headers.get_all(CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if version == Version::HTTP_10 {
        has("keep-alive")
    } else {
        !has("close")
    }
}

/// Content-Length, if present: every value (and list element) must be the same number.
pub fn content_length(headers: &HeaderMap) -> io::Result<Option<u64>> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let n = std::str::from_utf8(part.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| invalid("invalid content-length from the app"))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting content-length values from the app"));
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// The hexadecimal size of a chunk-size line (`line` without its LF); extensions ignored.
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let malformed = || invalid("malformed chunked body from the app: bad chunk size");
    if digits.is_empty() || digits.len() > 16 {
        return Err(malformed());
    }
    let digits = std::str::from_utf8(digits).map_err(|_| malformed())?;
    u64::from_str_radix(digits, 16).map_err(|_| malformed())
}

/// A complete trailer section (possibly empty), consumed from `buf`; `None` if incomplete.
fn trailers(buf: &mut BytesMut) -> io::Result<Option<HeaderMap>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILERS];
    let (len, parsed) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) if buf.len() > limits::APP_RESPONSE_MAX_HEAD_BYTES => {
            return Err(invalid("the app's trailer section is too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(format!("malformed trailers from the app: {e}"))),
    };
    let mut map = HeaderMap::with_capacity(parsed.len());
    for field in parsed {
        let name = HeaderName::from_bytes(field.name.as_bytes());
        let value = HeaderValue::from_bytes(field.value);
        if let (Ok(name), Ok(value)) = (name, value) {
            map.append(name, value);
        }
    }
    buf.advance(len);
    Ok(Some(map))
}

fn head_too_large() -> io::Error {
    invalid("the app's response head is too large")
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
