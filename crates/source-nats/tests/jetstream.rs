//! Against the NATS server with JetStream on 127.0.0.1:4222 (each test makes its own stream
//! and deletes it). Fails, not skips, when the server is not there.

use std::time::Duration;

use ctlstore_source_nats::{JetStreamConsumer, NatsError, NatsPublisher, NatsUrl};

const SERVER: &str = "127.0.0.1:4222";

async fn stream(name: &str) -> (NatsPublisher, String) {
    let publisher = NatsPublisher::connect(SERVER)
        .await
        .expect("a NATS server with JetStream must listen on 127.0.0.1:4222");
    let stream = format!("{name}_{}", std::process::id());
    let _ = publisher.delete_stream(&stream).await;
    publisher
        .create_stream(&stream, &[&format!("{stream}.>")])
        .await
        .expect("create the stream");
    (publisher, stream)
}

fn url(stream: &str, query: &str) -> NatsUrl {
    format!("nats://{SERVER}/{stream}{query}")
        .parse()
        .expect("URL")
}

async fn drain(consumer: &mut JetStreamConsumer) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    loop {
        let batch = consumer
            .poll(7, Duration::from_millis(300))
            .await
            .expect("poll");
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.into_iter().map(|m| {
            (
                m.stream_seq,
                String::from_utf8_lossy(&m.payload).into_owned(),
            )
        }));
    }
}

#[tokio::test]
async fn delivers_in_order_from_a_position_filtered_by_subject() {
    let (publisher, stream) = stream("CONSUME").await;
    for i in 1..=20u64 {
        let subject = if i % 2 == 0 { "even" } else { "odd" };
        let seq = publisher
            .publish(&format!("{stream}.{subject}"), format!("m{i}").into_bytes())
            .await
            .expect("publish");
        assert_eq!(seq, i);
    }
    let mut all = JetStreamConsumer::connect(&url(&stream, ""), 0)
        .await
        .expect("consumer");
    let got = drain(&mut all).await;
    assert_eq!(
        got,
        (1..=20).map(|i| (i, format!("m{i}"))).collect::<Vec<_>>()
    );
    assert_eq!(all.stream_bounds().await.expect("bounds"), (1, 20));
    all.ack_through(20).await.expect("ack");

    let mut rest = JetStreamConsumer::connect(&url(&stream, ""), 15)
        .await
        .expect("consumer");
    assert_eq!(drain(&mut rest).await.first().map(|m| m.0), Some(16));

    let filtered = format!("?subject={stream}.even&durable=evens");
    let mut evens = JetStreamConsumer::connect(&url(&stream, &filtered), 10)
        .await
        .expect("consumer");
    let seqs: Vec<u64> = drain(&mut evens).await.into_iter().map(|m| m.0).collect();
    assert_eq!(seqs, [12, 14, 16, 18, 20]);
    // The durable is re-created at the given position, whatever it had delivered.
    let mut again = JetStreamConsumer::connect(&url(&stream, &filtered), 2)
        .await
        .expect("consumer");
    assert_eq!(drain(&mut again).await.first().map(|m| m.0), Some(4));

    // A message published while a poll waits arrives in that poll.
    let name = stream.clone();
    let waiting = tokio::spawn(async move {
        let mut c = JetStreamConsumer::connect(&url(&name, ""), 20)
            .await
            .expect("consumer");
        c.poll(1, Duration::from_secs(10)).await.expect("poll")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    publisher
        .publish(&format!("{stream}.odd"), b"late".to_vec())
        .await
        .expect("publish");
    let late = waiting.await.expect("task");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].stream_seq, 21);
    publisher.delete_stream(&stream).await.expect("delete");
}

#[tokio::test]
async fn missing_streams_and_lost_positions_are_errors() {
    let missing = JetStreamConsumer::connect(&url("NO_SUCH_STREAM_CTL", ""), 0).await;
    assert!(
        matches!(missing, Err(NatsError::StreamNotFound { .. })),
        "{:?}",
        missing.err()
    );
    let (publisher, stream) = stream("PURGED").await;
    for i in 0..5 {
        publisher
            .publish(&format!("{stream}.x"), vec![i])
            .await
            .expect("publish");
    }
    publisher.purge_stream(&stream).await.expect("purge");
    publisher
        .publish(&format!("{stream}.x"), vec![9])
        .await
        .expect("publish");
    // Sequences 1..=5 are gone: resuming after 2 would skip 3..=5 silently.
    let lost = JetStreamConsumer::connect(&url(&stream, ""), 2).await;
    match lost {
        Err(e @ NatsError::PositionGone { .. }) => {
            assert!(e.to_string().contains("resuming after 2"), "{e}");
            assert!(!e.is_transient());
        }
        other => panic!("expected PositionGone, got {:?}", other.err()),
    }
    // After 5, everything retained follows on.
    let mut ok = JetStreamConsumer::connect(&url(&stream, ""), 5)
        .await
        .expect("consumer");
    assert_eq!(drain(&mut ok).await, vec![(6, "\u{9}".to_string())]);
    publisher.delete_stream(&stream).await.expect("delete");
    let refused = JetStreamConsumer::connect(&url(&stream, ""), 0).await;
    assert!(matches!(refused, Err(NatsError::StreamNotFound { .. })));
    let down = JetStreamConsumer::connect(&"nats://127.0.0.1:1/S".parse().expect("URL"), 0).await;
    assert!(down.err().is_some_and(|e| e.is_transient()));
}
