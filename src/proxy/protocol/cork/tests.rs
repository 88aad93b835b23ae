//! Tests of write corking: what is coalesced, and that nothing waits.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use futures_util::task::{ArcWake, waker};
use tokio::io::{AsyncReadExt, DuplexStream};

use super::*;

/// Counts the writes that reach the stream under the cork.
struct Counting {
    io: DuplexStream,
    writes: usize,
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes += 1;
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[derive(Default)]
struct Wakes(AtomicUsize);

impl ArcWake for Wakes {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Relaxed);
    }
}

fn corked() -> (Corked<Counting>, DuplexStream) {
    let (near, far) = tokio::io::duplex(1 << 20);
    (
        Corked::new(Counting {
            io: near,
            writes: 0,
        }),
        far,
    )
}

/// Polls `step` once inside a [`Driven`] future, as a task would.
fn driven_poll<T>(wakes: &Arc<Wakes>, step: impl FnOnce(&mut Context<'_>) -> T) -> T {
    let waker = waker(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut step = Some(step);
    let future = Driven::new(std::future::poll_fn(|cx| {
        Poll::Ready(step.take().expect("polled once")(cx))
    }));
    match std::pin::pin!(future).poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the step is ready at once"),
    }
}

fn write(io: &mut Corked<Counting>, cx: &mut Context<'_>, data: &[u8]) {
    assert_eq!(
        Pin::new(io).poll_write(cx, data).map_err(|e| e.kind()),
        Poll::Ready(Ok(data.len()))
    );
}

fn flush(io: &mut Corked<Counting>, cx: &mut Context<'_>) {
    assert!(matches!(Pin::new(io).poll_flush(cx), Poll::Ready(Ok(()))));
}

async fn read_exact(far: &mut DuplexStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    far.read_exact(&mut got).await.expect("read");
    got
}

#[tokio::test]
async fn the_flushes_of_one_poll_leave_in_one_write_on_the_next_poll() {
    let (mut io, mut far) = corked();
    let wakes = Arc::new(Wakes::default());
    driven_poll(&wakes, |cx| {
        write(&mut io, cx, b"frame one ");
        flush(&mut io, cx);
        let vectored = [io::IoSlice::new(b"frame "), io::IoSlice::new(b"two")];
        let written = Pin::new(&mut io).poll_write_vectored(cx, &vectored);
        assert!(matches!(written, Poll::Ready(Ok(9))));
        flush(&mut io, cx);
    });
    assert_eq!(
        io.io.writes, 0,
        "nothing is written in the poll that flushed"
    );
    assert_eq!(
        wakes.0.load(Relaxed),
        1,
        "the task is woken once to come back"
    );

    driven_poll(&wakes, |cx| flush(&mut io, cx));
    assert_eq!(io.io.writes, 1, "the next poll writes both frames at once");
    assert_eq!(wakes.0.load(Relaxed), 1);
    assert_eq!(read_exact(&mut far, 19).await, b"frame one frame two");
    assert_eq!(io.pending(), 0);
}

#[tokio::test]
async fn a_flush_outside_a_driven_task_writes_through() {
    let (mut io, mut far) = corked();
    let wakes = Arc::new(Wakes::default());
    let waker = waker(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    write(&mut io, &mut cx, b"hello");
    assert_eq!(io.io.writes, 0, "writes wait for the flush");
    flush(&mut io, &mut cx);
    assert_eq!(io.io.writes, 1);
    assert_eq!(wakes.0.load(Relaxed), 0);
    assert_eq!(read_exact(&mut far, 5).await, b"hello");
}

#[tokio::test]
async fn at_most_the_cork_buffer_waits_and_larger_writes_go_straight_through() {
    let (mut io, mut far) = corked();
    let wakes = Arc::new(Wakes::default());
    let chunk = [7u8; 1000];
    let chunks = limits::CORK_BUFFER / chunk.len() + 1;
    driven_poll(&wakes, |cx| {
        for _ in 0..chunks {
            write(&mut io, cx, &chunk);
            flush(&mut io, cx);
            assert!(io.pending() <= limits::CORK_BUFFER);
        }
    });
    assert_eq!(
        io.io.writes, 1,
        "the full buffer was written out within the poll"
    );
    driven_poll(&wakes, |cx| flush(&mut io, cx));
    assert_eq!(io.io.writes, 2);
    assert_eq!(
        read_exact(&mut far, chunks * chunk.len()).await.len(),
        chunks * chunk.len()
    );

    let big = vec![1u8; limits::CORK_BUFFER + 1];
    driven_poll(&wakes, |cx| write(&mut io, cx, &big));
    assert_eq!(
        (io.io.writes, io.pending()),
        (3, 0),
        "not copied into the buffer"
    );
    assert_eq!(read_exact(&mut far, big.len()).await, big);
}

#[tokio::test]
async fn shutdown_writes_out_what_waits_first() {
    let (mut io, mut far) = corked();
    let wakes = Arc::new(Wakes::default());
    driven_poll(&wakes, |cx| {
        write(&mut io, cx, b"goaway");
        flush(&mut io, cx);
        assert!(matches!(
            Pin::new(&mut io).poll_shutdown(cx),
            Poll::Ready(Ok(()))
        ));
    });
    let mut got = Vec::new();
    far.read_to_end(&mut got).await.expect("read to the end");
    assert_eq!(got, b"goaway");
}

/// The contract the HTTP/2 connections rely on, on a real runtime: a task that flushes
/// on every poll (as `h2` does) gets its put-off bytes out without anyone else waking it.
#[tokio::test]
async fn a_task_that_flushes_on_every_poll_gets_its_bytes_out() {
    let (mut io, mut far) = corked();
    let task = tokio::spawn(Driven::new(std::future::poll_fn(move |cx| {
        if io.io.writes == 0 && io.pending() == 0 {
            write(&mut io, cx, b"ping");
        }
        flush(&mut io, cx);
        if io.io.writes == 0 {
            Poll::Pending
        } else {
            Poll::Ready(io.io.writes)
        }
    })));
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), read_exact(&mut far, 4));
    assert_eq!(got.await.expect("sent without outside help"), b"ping");
    assert_eq!(task.await.expect("task"), 1);
}
