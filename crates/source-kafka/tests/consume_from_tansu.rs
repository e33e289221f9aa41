//! The consumer and producer against a real Kafka-protocol broker (tansu, in-memory storage).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ctlstore_source_kafka::{
    ConsumerConfig, KafkaConsumer, KafkaError, KafkaMessage, KafkaProducer, KafkaUrl, KeyValue,
    TopicPartition,
};
use ctlstore_testkit::TansuBroker;

const TOPIC: &str = "db.public.flags";

/// Per partition, what was written, in offset order.
type Written = BTreeMap<i32, Vec<KeyValue>>;
/// Per partition, (offset, key, value) read.
type Read = BTreeMap<i32, Vec<(i64, Option<Vec<u8>>, Option<Vec<u8>>)>>;

fn url(broker: &TansuBroker, topics: &str) -> KafkaUrl {
    format!("{}/{topics}", broker.url)
        .parse()
        .expect("a valid URL")
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, partition)
}

/// Writes `per_partition[p]` keyed messages to partition p, then a tombstone to partition 1.
/// Returns what each partition holds, in offset order, as (key, value).
async fn produce_fixture(producer: &KafkaProducer, per_partition: [i64; 2]) -> Written {
    producer.create_topic(TOPIC, 2).await.expect("create topic");
    let mut written: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    let most = per_partition.iter().copied().max().unwrap_or(0);
    // Interleave the partitions, as a real producer would.
    for i in 0..most {
        for (partition, &count) in per_partition.iter().enumerate() {
            if i >= count {
                continue;
            }
            let partition = partition as i32;
            let key = Some(format!("key-{partition}-{i}").into_bytes());
            let value = Some(format!("{{\"p\":{partition},\"i\":{i}}}").into_bytes());
            let offset = producer
                .send(TOPIC, partition, key.clone(), value.clone())
                .await
                .expect("send");
            let held = written.entry(partition).or_default();
            assert_eq!(offset, held.len() as i64, "offsets are dense from 0");
            held.push((key, value));
        }
    }
    let key = Some(b"key-1-deleted".to_vec());
    let offset = producer
        .send(TOPIC, 1, key.clone(), None)
        .await
        .expect("send tombstone");
    let held = written.entry(1).or_default();
    assert_eq!(offset, held.len() as i64);
    held.push((key, None));
    written
}

/// Polls until `want` messages arrived (fails after 20 s).
async fn consume(consumer: &mut KafkaConsumer, want: usize) -> Vec<KafkaMessage> {
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < want {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} of {want} messages after 20 s",
            got.len()
        );
        got.extend(
            consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll"),
        );
    }
    assert_eq!(got.len(), want, "no more messages than were written");
    got
}

/// Each partition's messages as (offset, key, value), checking they come in offset order.
fn by_partition(messages: &[KafkaMessage]) -> Read {
    let mut out: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    for m in messages {
        assert_eq!(m.topic, TOPIC);
        assert!(
            m.timestamp_millis > 1_600_000_000_000,
            "a real timestamp: {m:?}"
        );
        let list = out.entry(m.partition).or_default();
        if let Some((last, _, _)) = list.last() {
            assert!(
                m.offset > *last,
                "offset order within {}: {m:?}",
                m.partition
            );
        }
        list.push((m.offset, m.key.clone(), m.value.clone()));
    }
    out
}

fn expected_from(written: &Written, start: &BTreeMap<i32, i64>) -> Read {
    written
        .iter()
        .map(|(&p, msgs)| {
            let from = start.get(&p).copied().unwrap_or(0);
            let rows = (0i64..)
                .zip(msgs)
                .filter(|(o, _)| *o >= from)
                .map(|(o, (k, v))| (o, k.clone(), v.clone()))
                .collect();
            (p, rows)
        })
        .filter(|(_, rows): &(i32, Vec<_>)| !rows.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumes_everything_then_resumes_from_a_seek() {
    let broker = TansuBroker::start();
    let producer = KafkaProducer::connect(&broker.bootstrap)
        .await
        .expect("producer connects");
    let written = produce_fixture(&producer, [12, 7]).await;
    let total: usize = written.values().map(Vec::len).sum();

    let mut consumer = KafkaConsumer::connect(&url(&broker, TOPIC))
        .await
        .expect("consumer connects");
    assert_eq!(consumer.partitions(), [tp(0), tp(1)]);

    // From the start: everything, in order, the tombstone as a None value.
    let got = consume(&mut consumer, total).await;
    assert_eq!(
        by_partition(&got),
        expected_from(&written, &BTreeMap::new())
    );
    let tombstone = got
        .iter()
        .find(|m| m.value.is_none())
        .expect("the tombstone");
    assert_eq!(tombstone.key.as_deref(), Some(&b"key-1-deleted"[..]));
    assert_eq!((tombstone.partition, tombstone.offset), (1, 7));

    let hw = consumer.high_watermarks().await.expect("high watermarks");
    assert_eq!(hw, BTreeMap::from([(tp(0), 12), (tp(1), 8)]));
    assert_eq!(
        consumer.positions(),
        hw,
        "positions are past every message read"
    );

    // Caught up: a poll waits about max_wait and returns nothing.
    let started = Instant::now();
    let nothing = consumer
        .poll(Duration::from_millis(400))
        .await
        .expect("poll");
    assert!(nothing.is_empty(), "{nothing:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );

    // A message written while a poll waits ends the wait.
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let got = consumer.poll(Duration::from_secs(10)).await.expect("poll");
        (got, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let offset = producer
        .send(TOPIC, 0, Some(b"late".to_vec()), Some(b"v".to_vec()))
        .await
        .expect("send");
    assert_eq!(offset, 12);
    let (got, waited) = waiting.await.expect("the poll task");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].partition, got[0].offset), (0, 12));
    // Within one long-poll round (500 ms by default) plus slack for a loaded machine.
    assert!(waited < Duration::from_secs(2), "woke up after {waited:?}");

    // A new consumer resumes where the caller says: partition 0 from offset 5; partition 1 is
    // not in the map, so from its earliest offset.
    let mut resumed = KafkaConsumer::connect(&url(&broker, TOPIC))
        .await
        .expect("consumer connects");
    resumed.seek(&BTreeMap::from([(tp(0), 5)]));
    let mut written = written;
    written
        .entry(0)
        .or_default()
        .push((Some(b"late".to_vec()), Some(b"v".to_vec())));
    let got = consume(&mut resumed, (13 - 5) + 8).await;
    assert_eq!(
        by_partition(&got),
        expected_from(&written, &BTreeMap::from([(0, 5)]))
    );

    // Seeking to the high watermark reads nothing more; seeking back re-reads.
    resumed.seek(&BTreeMap::from([(tp(0), 13), (tp(1), 6)]));
    let got = consume(&mut resumed, 2).await;
    assert_eq!(
        by_partition(&got),
        expected_from(&written, &BTreeMap::from([(0, 13), (1, 6)]))
    );
    assert!(
        resumed
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_several_topics() {
    let broker = TansuBroker::start();
    let producer = KafkaProducer::connect(&broker.bootstrap)
        .await
        .expect("producer connects");
    producer.create_topic("a", 1).await.expect("create a");
    producer.create_topic("b", 3).await.expect("create b");
    producer
        .create_topic("b", 3)
        .await
        .expect("creating again is a no-op");
    producer
        .send("a", 0, None, Some(b"1".to_vec()))
        .await
        .expect("send");
    producer
        .send("b", 2, None, Some(b"2".to_vec()))
        .await
        .expect("send");

    let mut consumer = KafkaConsumer::connect(&url(&broker, "a,b"))
        .await
        .expect("consumer connects");
    let names: Vec<String> = consumer
        .partitions()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(names, ["a/0", "b/0", "b/1", "b/2"]);
    let got = consume(&mut consumer, 2).await;
    let mut seen: Vec<(String, i32, i64, Option<Vec<u8>>)> = got
        .into_iter()
        .map(|m| (m.topic, m.partition, m.offset, m.value))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("a".to_string(), 0, 0, Some(b"1".to_vec())),
            ("b".to_string(), 2, 0, Some(b"2".to_vec())),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_is_named() {
    let broker = TansuBroker::start();
    let producer = KafkaProducer::connect(&broker.bootstrap)
        .await
        .expect("producer connects");
    producer.create_topic(TOPIC, 1).await.expect("create topic");

    let err = KafkaConsumer::connect(&url(&broker, &format!("{TOPIC},db.public.nope")))
        .await
        .err()
        .expect("connecting to a missing topic fails");
    assert!(
        matches!(&err, KafkaError::TopicNotFound { topic } if topic == "db.public.nope"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert!(err.to_string().contains("db.public.nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_offset_outside_the_log_halts() {
    let broker = TansuBroker::start();
    let producer = KafkaProducer::connect(&broker.bootstrap)
        .await
        .expect("producer connects");
    produce_fixture(&producer, [3, 2]).await;

    // tansu's in-memory storage cannot delete records (DeleteRecords panics the broker), so the
    // log always starts at 0: the out-of-range position here is past the end, as after a topic
    // was recreated. Below the earliest offset goes through the same check.
    let mut consumer = KafkaConsumer::connect(&url(&broker, TOPIC))
        .await
        .expect("consumer connects");
    consumer.seek(&BTreeMap::from([(tp(0), 1), (tp(1), 40)]));
    let err = consumer
        .poll(Duration::from_millis(200))
        .await
        .expect_err("a position past the end must fail");
    match &err {
        KafkaError::OffsetOutOfRange {
            partition,
            requested,
            earliest,
            high_watermark,
        } => {
            assert_eq!(
                (partition, *requested, *earliest, *high_watermark),
                (&tp(1), 40, 0, 3)
            );
        }
        other => panic!("expected OffsetOutOfRange, got {other:?}"),
    }
    assert!(!err.is_transient());
    let text = err.to_string();
    for part in [format!("{TOPIC}/1"), "40".into(), "0..3".into()] {
        assert!(text.contains(&part), "{text:?} should mention {part}");
    }
    // It stays failed: the loader must not read past it by polling again.
    assert!(matches!(
        consumer.poll(Duration::from_millis(100)).await,
        Err(KafkaError::OffsetOutOfRange { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_transient() {
    let port = ctlstore_testkit::free_port();
    let url: KafkaUrl = format!("kafka://127.0.0.1:{port}/{TOPIC}")
        .parse()
        .expect("a valid URL");
    let config = ConsumerConfig {
        retry_deadline: Duration::from_millis(500),
        ..ConsumerConfig::default()
    };
    let started = Instant::now();
    let err = KafkaConsumer::connect_with(&url, config)
        .await
        .err()
        .expect("nothing listens there");
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_gone_mid_stream_is_transient() {
    let broker = TansuBroker::start();
    let producer = KafkaProducer::connect(&broker.bootstrap)
        .await
        .expect("producer connects");
    produce_fixture(&producer, [2, 1]).await;
    let config = ConsumerConfig {
        retry_deadline: Duration::from_secs(1),
        ..ConsumerConfig::default()
    };
    let mut consumer = KafkaConsumer::connect_with(&url(&broker, TOPIC), config)
        .await
        .expect("consumer connects");
    consume(&mut consumer, 4).await;
    let positions = consumer.positions();

    drop(broker); // SIGKILL
    let started = Instant::now();
    let err = consumer
        .poll(Duration::from_millis(200))
        .await
        .expect_err("no broker to fetch from");
    eprintln!("poll failed after {:?}: {err}", started.elapsed());
    assert!(err.is_transient(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        consumer.positions(),
        positions,
        "a failed poll moves nothing"
    );
    let err = consumer
        .high_watermarks()
        .await
        .expect_err("no broker to ask");
    eprintln!(
        "high_watermarks failed after {:?}: {err}",
        started.elapsed()
    );
    assert!(err.is_transient(), "{err:?}");
}
