//! Write coalescing for HTTP/2 connections: the frames of many streams leave in one write.
//!
//! `h2` flushes its connection after every DATA frame above 256 bytes (it hands the payload
//! to the socket instead of copying it), and on top of TLS every flush is a TLS record and a
//! `writev`. On a busy connection that was one system call per response: the inbound proxy
//! made two writes per request (one to the app, one to the peer), where HAProxy makes 1.1.
//!
//! [`Corked`] sits between `h2` and the socket. Writes land in its buffer; the first flush
//! of a poll of the connection's task is put off: the task wakes itself, which queues it
//! behind every task already ready to run, and the next poll writes whatever all of them
//! produced meanwhile, at once. With nothing else ready the next poll comes right away, so
//! an idle proxy adds no latency. Which poll is which comes from [`Driven`], the wrapper of
//! every future that drives a corked connection (the HTTP/2 server's connection futures
//! (`h2server.rs`), the task of each connection to a peer proxy (`peer/mux.rs`), and the
//! connection tasks hyper's HTTP/2 client to h2c apps spawns through [`Executor`]). Outside one, a
//! flush writes through, so a corked stream can never hold bytes nobody will send.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, ready};

use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::proxy::limits;

/// Polls of [`Driven`] futures, process-wide: every poll gets its own number.
static POLLS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The number of the [`Driven`] poll running on this thread, 0 outside one.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

fn current_poll() -> Option<u64> {
    Some(CURRENT.with(Cell::get)).filter(|&n| n != 0)
}

pin_project_lite::pin_project! {
    /// A future whose every poll is numbered, so that [`Corked`] streams it drives can tell
    /// one poll from the next.
    #[derive(Debug)]
    pub struct Driven<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Driven<F> {
    pub fn new(inner: F) -> Self {
        Driven { inner }
    }
}

impl<F: Future> Future for Driven<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        /// Puts back the outer number (0 unless nested) however the poll ends.
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let number = POLLS.fetch_add(1, Relaxed) + 1;
        let _restore = Restore(CURRENT.with(|c| c.replace(number)));
        self.project().inner.poll(cx)
    }
}

/// hyper's executor for its HTTP/2 client to h2c apps: spawns on tokio, each task
/// [`Driven`]. The client's connection task is among them and is the one that writes to the
/// corked stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Executor;

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        tokio::spawn(Driven::new(future));
    }
}

/// A stream whose writes are buffered and whose flushes wait for the end of the current
/// round of ready tasks (see the module docs). At most [`limits::CORK_BUFFER`] bytes wait.
#[derive(Debug)]
pub struct Corked<T> {
    io: T,
    buf: Vec<u8>,
    /// How much of `buf` has reached `io`.
    sent: usize,
    /// The poll in which a flush was put off, if one is.
    put_off: Option<u64>,
}

impl<T> Corked<T> {
    pub fn new(io: T) -> Self {
        Corked {
            io,
            buf: Vec::new(),
            sent: 0,
            put_off: None,
        }
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }
}

impl<T: AsyncWrite + Unpin> Corked<T> {
    /// Writes out everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.buf.clear();
        self.sent = 0;
        // A burst may have grown the buffer; an idle connection keeps a small one.
        self.buf.shrink_to(limits::CORK_BUFFER_KEPT);
        Poll::Ready(Ok(()))
    }

    /// Makes room for `len` more bytes, writing out the buffer if they would not fit.
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if self.pending() + len > limits::CORK_BUFFER {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Corked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Corked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_room(cx, data.len()))?;
        if data.len() > limits::CORK_BUFFER {
            // Too big to be worth copying: the buffer is empty now, so order is kept.
            return Pin::new(&mut this.io).poll_write(cx, data);
        }
        this.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let len: usize = slices.iter().map(|s| s.len()).sum();
        ready!(this.poll_room(cx, len))?;
        if len > limits::CORK_BUFFER {
            return Pin::new(&mut this.io).poll_write_vectored(cx, slices);
        }
        for slice in slices {
            this.buf.extend_from_slice(slice);
        }
        Poll::Ready(Ok(len))
    }

    /// Vectored writes are taken (and copied) whole, so `h2` hands over large DATA payloads
    /// without copying them into its own buffer first.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending() > 0 {
            match (current_poll(), this.put_off) {
                // First flush of this poll: come back after the tasks ready now have run.
                (Some(now), None) => {
                    this.put_off = Some(now);
                    cx.waker().wake_by_ref();
                    return Poll::Ready(Ok(()));
                }
                // Put off already in this poll, and the wake-up is queued.
                (Some(now), Some(then)) if now == then => return Poll::Ready(Ok(())),
                _ => ready!(this.poll_drain(cx))?,
            }
        }
        this.put_off = None;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        this.put_off = None;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// hyper's pooled client asks its connector's streams what they are.
impl<T: Connection> Connection for Corked<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

#[cfg(test)]
mod tests;
