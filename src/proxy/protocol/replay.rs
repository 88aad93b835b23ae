//! A streamed request body that can be sent again: the first attempt streams it as it
//! arrives (no wait for the end) while a copy of up to [`MAX_REPLAY`] bytes is kept; a later
//! attempt replays the copy and then goes on reading where the earlier one stopped. So a
//! request whose length is not known in advance — a gRPC call, a chunked upload — can be
//! retried when it fits, and is streamed as before when it does not.
//!
//! One attempt reads at a time: the body's state (the copy and the rest of the original)
//! moves into the attempt that polls it and back when that attempt ends or is dropped. A
//! replay is refused while an earlier attempt still holds it, after the copy outgrew
//! [`MAX_REPLAY`], or after the original body failed.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};

use crate::proxy::protocol::http::Streamed;

/// The most of a streamed body kept for a replay (the same bound as a buffered body's).
pub const MAX_REPLAY: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the attempts share: the copy so far and the rest of the original body.
#[derive(Debug)]
struct State<B> {
    chunks: Vec<Bytes>,
    kept: usize,
    /// Kept bytes outgrew [`MAX_REPLAY`] (the copy is dropped), or the original failed: no
    /// replay.
    spoiled: bool,
    /// The original body's unread part; `None` once it ended.
    rest: Option<B>,
    trailers: Option<HeaderMap>,
}

/// One attempt's view of a replayable body (`B`: the original's type).
#[derive(Debug)]
pub struct ReplayBody<B = Streamed> {
    shared: Arc<Mutex<Option<State<B>>>>,
    /// Taken from `shared` at the first poll, given back at the end or on drop.
    state: Option<State<B>>,
    /// The next kept chunk this attempt has not sent yet.
    next: usize,
    trailers_sent: bool,
    done: bool,
}

/// Makes further attempts of one body.
#[derive(Debug)]
pub struct Replay<B = Streamed> {
    shared: Arc<Mutex<Option<State<B>>>>,
}

impl<B> ReplayBody<B> {
    /// The first attempt's body, and what makes the later ones.
    pub fn new(body: B) -> (ReplayBody<B>, Replay<B>) {
        let state = State {
            chunks: Vec::new(),
            kept: 0,
            spoiled: false,
            rest: Some(body),
            trailers: None,
        };
        let shared = Arc::new(Mutex::new(Some(state)));
        (ReplayBody::on(shared.clone()), Replay { shared })
    }

    fn on(shared: Arc<Mutex<Option<State<B>>>>) -> ReplayBody<B> {
        ReplayBody {
            shared,
            state: None,
            next: 0,
            trailers_sent: false,
            done: false,
        }
    }

    /// Gives the state back for the next attempt.
    fn release(&mut self) {
        if let Some(state) = self.state.take() {
            *self.shared.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
        }
    }
}

impl<B> Replay<B> {
    /// A body for another attempt, when the whole body read so far was kept and no attempt
    /// holds it now; `None` otherwise (the request cannot be sent again).
    pub fn again(&self) -> Option<ReplayBody<B>> {
        let guard = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let state = guard.as_ref()?;
        (!state.spoiled).then(|| ReplayBody::on(self.shared.clone()))
    }

    /// No more attempts will be made: stop keeping a copy (the attempt in flight streams on).
    pub fn forget(&self) {
        let mut guard = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = guard.as_mut() {
            state.spoil();
        }
    }
}

impl<B> State<B> {
    fn spoil(&mut self) {
        self.spoiled = true;
        self.chunks = Vec::new();
    }
}

impl<B> Body for ReplayBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        if this.state.is_none() {
            let taken = this.shared.lock().unwrap_or_else(|p| p.into_inner()).take();
            match taken {
                Some(state) => this.state = Some(state),
                None => {
                    this.done = true;
                    return Poll::Ready(Some(Err(
                        "the request body is held by another attempt".into()
                    )));
                }
            }
        }
        let Some(state) = this.state.as_mut() else {
            return Poll::Ready(None);
        };
        if !state.spoiled && this.next < state.chunks.len() {
            let chunk = state.chunks[this.next].clone();
            this.next += 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(rest) = state.rest.as_mut() {
            match Pin::new(rest).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        if !state.spoiled {
                            if state.kept + data.len() <= MAX_REPLAY {
                                state.kept += data.len();
                                state.chunks.push(data.clone());
                                this.next = state.chunks.len();
                            } else {
                                state.spoil();
                            }
                        }
                    } else if let Some(trailers) = frame.trailers_ref() {
                        state.trailers = Some(trailers.clone());
                        this.trailers_sent = true;
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(e))) => {
                    state.spoil();
                    state.rest = None;
                    this.done = true;
                    this.release();
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => state.rest = None,
            }
        }
        // The original has ended and this attempt has sent every kept chunk.
        if !this.trailers_sent
            && let Some(trailers) = state.trailers.clone()
        {
            this.trailers_sent = true;
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        this.done = true;
        this.release();
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl<B> Drop for ReplayBody<B> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests;
