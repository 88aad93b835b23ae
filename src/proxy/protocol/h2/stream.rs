//! Bodies on HTTP/2 streams, both ways, for the proxies' own HTTP/2 client (`peer/mux.rs`)
//! and server (`h2server.rs`): [`H2Body`] reads one off a stream, [`pump`] / [`poll_pump`]
//! send one.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::{Reason, RecvStream, SendStream};
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::proxy::telemetry::limit_metrics::{LimitCounters, RequestLimit};
use crate::proxy::telemetry::metrics::Direction;

/// What a body's send can fail with: its own error or the stream's.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sends `body` on `stream` (see [`poll_pump`]); a failed body resets the stream with
/// `CANCEL`.
pub async fn pump<B>(mut body: B, mut stream: SendStream<Bytes>)
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    if let Err(e) = poll_fn(|cx| poll_pump(&mut body, &mut stream, cx)).await {
        tracing::debug!(error = %e, "body sent on an HTTP/2 stream ended early");
        stream.send_reset(Reason::CANCEL);
    }
}

/// Sends `body` on `stream`: data as it comes (h2 queues it until the peer's window has
/// room), then trailers or the end of the stream. Stops when the peer resets the stream (it
/// may answer, or give up, before reading the whole body).
pub fn poll_pump<B>(
    body: &mut B,
    stream: &mut SendStream<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), BoxError>>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    loop {
        // Room for at least one byte before taking the next chunk from the body, so a
        // peer that reads nothing holds back the sender (h2 buffers the chunk itself).
        stream.reserve_capacity(1);
        if stream.capacity() == 0 {
            loop {
                match ready!(stream.poll_capacity(cx)) {
                    Some(Ok(0)) => {}
                    Some(Ok(_)) => break,
                    Some(Err(e)) => return Poll::Ready(Err(e.into())),
                    None => return Poll::Ready(Err("the peer closed the stream".into())),
                }
            }
        } else if let Poll::Ready(reason) = stream.poll_reset(cx)? {
            return Poll::Ready(Err(h2::Error::from(reason).into()));
        }
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    stream.send_data(data, end)?;
                    if end {
                        return Poll::Ready(Ok(()));
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        stream.reserve_capacity(0);
                        stream.send_trailers(trailers)?;
                        return Poll::Ready(Ok(()));
                    }
                }
            },
            Some(Err(e)) => return Poll::Ready(Err(e.into())),
            None => {
                stream.reserve_capacity(0);
                stream.send_data(Bytes::new(), true)?;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// A body arriving on an HTTP/2 stream: a response from a peer proxy, or a request from a
/// peer proxy or an h2c app.
#[derive(Debug)]
pub struct H2Body {
    recv: RecvStream,
    /// What `content-length` announced, less what has arrived.
    content_length: Option<u64>,
    data_done: bool,
    /// A `NO_ERROR` / `CANCEL` reset ends the body instead of failing it.
    reset_ends: bool,
    /// The body read timeout, on request bodies it applies to ([`H2Body::stall_after`]).
    stall: Option<Box<Stall>>,
}

/// A request body's progress timeout: runs while a read waits for the client's data.
#[derive(Debug)]
struct Stall {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
    fired: Arc<StallFired>,
}

/// Set once a request body stalled: the stream's task answers 408 instead of whatever the
/// forwarding made of the failed body.
#[derive(Debug)]
pub struct StallFired {
    fired: AtomicBool,
    counters: Arc<LimitCounters>,
    direction: Direction,
}

impl StallFired {
    pub fn fired(&self) -> bool {
        self.fired.load(Relaxed)
    }
}

impl H2Body {
    /// A response body (head: `headers`). A server may answer before reading the whole
    /// request and then reset the stream with `NO_ERROR` (RFC 9113 §8.1): a reset without an
    /// error after the data counts as the body's end, as hyper's client has it.
    pub fn response(recv: RecvStream, headers: &HeaderMap) -> Self {
        Self::new(recv, headers, true)
    }

    /// A request body (head: `headers`). Any reset fails it: a client that gave up must not
    /// look like a complete upload to the app.
    pub fn request(recv: RecvStream, headers: &HeaderMap) -> Self {
        Self::new(recv, headers, false)
    }

    fn new(recv: RecvStream, headers: &HeaderMap, reset_ends: bool) -> Self {
        // h2 itself refuses data longer or shorter than the content-length.
        let content_length =
            (headers.get(CONTENT_LENGTH)).and_then(|v| v.to_str().ok()?.parse().ok());
        H2Body {
            recv,
            content_length,
            data_done: false,
            reset_ends,
            stall: None,
        }
    }

    /// Fails the body (counted in `counters`) when a read waits `timeout` for data; the
    /// returned flag says whether it did.
    pub fn stall_after(
        &mut self,
        timeout: Duration,
        counters: Arc<LimitCounters>,
        direction: Direction,
    ) -> Arc<StallFired> {
        let fired = Arc::new(StallFired {
            fired: AtomicBool::new(false),
            counters,
            direction,
        });
        self.stall = Some(Box::new(Stall {
            timeout,
            sleep: None,
            armed: false,
            fired: fired.clone(),
        }));
        fired
    }

    /// A read is waiting for the client: runs the stall timer; `Ready` once it ran out.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(stall) = self.stall.as_deref_mut() else {
            return Poll::Pending;
        };
        let deadline = Instant::now() + stall.timeout;
        let sleep = stall
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !stall.armed {
            sleep.as_mut().reset(deadline);
            stall.armed = true;
        }
        ready!(sleep.as_mut().poll(cx));
        stall.armed = false;
        let fired = &stall.fired;
        fired.fired.store(true, Relaxed);
        fired
            .counters
            .request(fired.direction, RequestLimit::RequestBody);
        tracing::debug!(timeout = ?stall.timeout, "the request body made no progress");
        self.stall = None;
        Poll::Ready(())
    }
}

impl Body for H2Body {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = self.get_mut();
        if !this.data_done {
            let polled = this.recv.poll_data(cx);
            if polled.is_pending() {
                ready!(this.poll_stalled(cx));
                // The error fails the forwarding; the stream's task answers 408 (or resets
                // the stream if its response had started).
                return Poll::Ready(Some(Err(h2::Error::from(Reason::CANCEL))));
            }
            if let Some(stall) = this.stall.as_deref_mut() {
                stall.armed = false;
            }
            match ready!(polled) {
                Some(Ok(data)) => {
                    // Read: the peer may send that much more.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    if let Some(left) = &mut this.content_length {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                // The peer ended the stream without an error after sending what it had.
                Some(Err(e))
                    if this.reset_ends
                        && matches!(e.reason(), Some(Reason::NO_ERROR | Reason::CANCEL)) =>
                {
                    return Poll::Ready(None);
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.data_done = true,
            }
        }
        match ready!(this.recv.poll_trailers(cx)) {
            Ok(trailers) => Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t)))),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.content_length
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}
