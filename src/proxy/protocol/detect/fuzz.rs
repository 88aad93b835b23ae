//! Fuzz target (docs/fuzzing.md): protocol detection.

use proptest::prelude::*;

use super::*;
use crate::fuzzing::config;

/// First bytes that are often the start of something detection knows.
fn first_bytes() -> impl Strategy<Value = Vec<u8>> {
    let known = prop::sample::select(vec![
        H2_PREFACE.to_vec(),
        b"GET / HTTP/1.1\r\n".to_vec(),
        b"CONNECT x:1 HTTP/1.1\r\n".to_vec(),
        b"PRI * HTTP/1.1\r\n".to_vec(),
        b"\x16\x03\x01\x00".to_vec(),
    ]);
    prop_oneof![
        (
            known,
            0..=MAX_DETECT_BYTES + 4,
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(k, cut, tail)| {
                let mut out = k[..cut.min(k.len())].to_vec();
                out.extend(tail);
                out
            }),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// A decision is final: once a prefix decides, every longer input decides the same;
    /// detection decides within MAX_DETECT_BYTES; and it never says HTTP/2 or HTTP/1 for
    /// bytes that do not start with the preface or a method.
    #[test]
    fn detect_classify(bytes in first_bytes()) {
        let whole = classify(&bytes);
        if bytes.len() >= MAX_DETECT_BYTES {
            prop_assert!(whole.is_some());
        }
        match whole {
            Some(Detected::H2c) => prop_assert!(bytes.starts_with(H2_PREFACE)),
            Some(Detected::Http1) => prop_assert!(HTTP1_METHODS.iter().any(|m| bytes.starts_with(m))),
            _ => {}
        }
        for cut in 0..bytes.len() {
            if let Some(early) = classify(&bytes[..cut]) {
                prop_assert_eq!(Some(early), whole, "decided {:?} after {} bytes", early, cut);
            }
        }
    }

    /// Whatever arrives, in whatever pieces, the bytes read while detecting are replayed in
    /// order and nothing is lost or repeated.
    #[test]
    fn detect_replays_every_byte(
        bytes in first_bytes(),
        cuts in prop::collection::vec(1usize..8, 0..6),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (detected, replayed) = runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(64);
            let data = bytes.clone();
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut rest = &data[..];
                for n in cuts {
                    let n = n.min(rest.len());
                    client.write_all(&rest[..n]).await.unwrap();
                    rest = &rest[n..];
                    tokio::task::yield_now().await;
                }
                client.write_all(rest).await.unwrap();
                // Closing the stream ends detection (as silence does) and the replay.
            });
            let (detected, mut io) = detect(server, Duration::from_secs(5)).await.unwrap();
            let mut replayed = Vec::new();
            io.read_to_end(&mut replayed).await.unwrap();
            writer.await.unwrap();
            (detected, replayed)
        });
        prop_assert_eq!(&replayed, &bytes);
        prop_assert_eq!(Some(detected), classify(&bytes).or(Some(Detected::Opaque)));
    }
}
