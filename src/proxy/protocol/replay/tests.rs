//! Tests of replayable streamed bodies: the copy, replays after a full or partial first
//! attempt, the size bound, trailers, and one attempt at a time.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::*;

type Frames = StreamBody<UnboundedReceiverStream<Result<Frame<Bytes>, Infallible>>>;

/// A body whose frames the test sends when it wants.
fn body() -> (
    mpsc::UnboundedSender<Result<Frame<Bytes>, Infallible>>,
    Frames,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, StreamBody::new(UnboundedReceiverStream::new(rx)))
}

fn data(s: &'static str) -> Result<Frame<Bytes>, Infallible> {
    Ok(Frame::data(Bytes::from_static(s.as_bytes())))
}

async fn all(body: ReplayBody<Frames>) -> (Bytes, Option<HeaderMap>) {
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    (collected.to_bytes(), trailers)
}

#[tokio::test]
async fn a_finished_body_is_replayed_whole_with_its_trailers() {
    let (tx, original) = body();
    let (first, replay) = ReplayBody::new(original);
    tx.send(data("hello ")).unwrap();
    tx.send(data("world")).unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-timeout", HeaderValue::from_static("1S"));
    tx.send(Ok(Frame::trailers(trailers.clone()))).unwrap();
    drop(tx);
    assert_eq!(
        all(first).await,
        (Bytes::from("hello world"), Some(trailers.clone()))
    );
    for _ in 0..2 {
        let again = replay.again().expect("kept whole");
        assert_eq!(
            all(again).await,
            (Bytes::from("hello world"), Some(trailers.clone()))
        );
    }
}

#[tokio::test]
async fn a_replay_after_a_partial_attempt_sends_the_copy_then_the_rest() {
    let (tx, original) = body();
    let (mut first, replay) = ReplayBody::new(original);
    let mut early = replay.again().expect("nobody reads it yet");
    tx.send(data("ab")).unwrap();
    let frame = first.frame().await.unwrap().unwrap();
    // Two attempts never read at once: the one that came second gets an error.
    assert!(early.frame().await.unwrap().is_err());
    drop(early);
    assert_eq!(frame.into_data().unwrap(), "ab");
    // While the first attempt holds the body, no replay.
    assert!(replay.again().is_none(), "held by the first attempt");
    // The first attempt is dropped (its stream was reset): the next one resends what it
    // read, then goes on with the rest.
    drop(first);
    let again = replay.again().unwrap();
    tx.send(data("cd")).unwrap();
    drop(tx);
    assert_eq!(all(again).await, (Bytes::from("abcd"), None));
}

#[tokio::test]
async fn a_body_past_the_bound_streams_on_but_cannot_be_replayed() {
    let (tx, original) = body();
    let (first, replay) = ReplayBody::new(original);
    let big = Bytes::from(vec![b'x'; MAX_REPLAY]);
    tx.send(Ok(Frame::data(big.clone()))).unwrap();
    tx.send(data("y")).unwrap();
    drop(tx);
    let (sent, _) = all(first).await;
    assert_eq!(sent.len(), MAX_REPLAY + 1, "the attempt got every byte");
    assert!(replay.again().is_none());
}

#[tokio::test]
async fn forget_stops_keeping_the_copy() {
    let (tx, original) = body();
    let (first, replay) = ReplayBody::new(original);
    replay.forget();
    tx.send(data("z")).unwrap();
    drop(tx);
    assert_eq!(all(first).await.0, "z");
    assert!(replay.again().is_none());
}
