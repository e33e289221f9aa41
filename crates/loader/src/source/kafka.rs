//! `kafka://host:port/TOPIC[,TOPIC]?group=G`: Debezium JSON events from Kafka. The position is
//! the next offset of every partition (in the cookie); Kafka's consumer-group offsets are not
//! used (`group` only names the consumer in logs): the cookie is the truth.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ctlstore_source_kafka::{KafkaConsumer, KafkaError, KafkaUrl, TopicPartition};

use super::{DebeziumStream, Next};
use crate::error::LoaderError;
use crate::position::{Mark, Position};
use crate::status::Status;

pub struct KafkaSource {
    consumer: KafkaConsumer,
    stream: DebeziumStream,
    status: Status,
    backlog_checked: Option<Instant>,
}

/// How often the brokers are asked how far behind the loader is.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);

pub fn kafka_error(e: KafkaError) -> LoaderError {
    if e.is_transient() {
        LoaderError::Source(e.to_string())
    } else {
        LoaderError::Halt(format!("Kafka source: {e}"))
    }
}

impl KafkaSource {
    pub async fn open(
        url: &KafkaUrl,
        position: Option<&Position>,
        status: &Status,
    ) -> Result<KafkaSource, LoaderError> {
        let mut consumer = KafkaConsumer::connect(url).await.map_err(kafka_error)?;
        if let Some(Position::Kafka(next)) = position {
            let mut offsets = BTreeMap::new();
            for (key, offset) in next {
                let parsed = key.rsplit_once('/').and_then(|(topic, partition)| {
                    Some(TopicPartition::new(topic, partition.parse().ok()?))
                });
                match parsed {
                    Some(tp) => {
                        offsets.insert(tp, *offset);
                    }
                    None => {
                        return Err(LoaderError::Halt(format!(
                            "the cookie names Kafka partition '{key}', which is not topic/partition"
                        )));
                    }
                }
            }
            consumer.seek(&offsets);
        }
        tracing::info!(topics = ?url.topics, partitions = consumer.partitions().len(), group = ?url.group, "reading Kafka");
        Ok(KafkaSource {
            consumer,
            stream: DebeziumStream::default(),
            status: status.clone(),
            backlog_checked: None,
        })
    }

    pub async fn next(&mut self, wait: Duration) -> Result<Next, LoaderError> {
        loop {
            if let Some(item) = self.stream.pop() {
                return Ok(Next::Item(item));
            }
            if self
                .backlog_checked
                .is_none_or(|t| t.elapsed() >= BACKLOG_EVERY)
            {
                self.backlog_checked = Some(Instant::now());
                // Messages in Kafka not yet read, plus those read and not yet applied.
                if let Ok(high) = self.consumer.high_watermarks().await {
                    let positions = self.consumer.positions();
                    let unread: i64 = high
                        .iter()
                        .map(|(tp, hw)| (hw - positions.get(tp).copied().unwrap_or(0)).max(0))
                        .sum();
                    self.status
                        .backlog(unread as u64 + self.stream.pending() as u64);
                }
            }
            let messages = self.consumer.poll(wait).await.map_err(kafka_error)?;
            if messages.is_empty() {
                self.stream.idle();
                if self.stream.pending() == 0 {
                    return Ok(Next::Idle);
                }
                continue;
            }
            for m in messages {
                let mark = Mark::Kafka {
                    topic: m.topic,
                    partition: m.partition,
                    offset: m.offset,
                };
                self.stream
                    .push(mark, m.key.as_deref(), m.value.as_deref())
                    .map_err(LoaderError::Halt)?;
            }
        }
    }
}
