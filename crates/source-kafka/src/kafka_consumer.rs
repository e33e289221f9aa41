//! Reads every partition of the configured topics from positions the caller owns: no consumer
//! group, no committed offsets, just fetches from where [`KafkaConsumer::seek`] said.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rskafka::client::Client;
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use tokio::time::Instant;

use crate::{KafkaError, KafkaMessage, KafkaUrl, TopicPartition, connect_client};

/// Tuning for [`KafkaConsumer::connect_with`]; [`Default`] suits a CDC loader.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Most bytes one fetch returns per partition (the broker still returns a first batch
    /// larger than this whole, so a big message never blocks a partition).
    pub max_partition_fetch_bytes: i32,
    /// How long rskafka retries a request that failed transiently (broker down, no leader)
    /// before the call returns [`KafkaError::Unavailable`]. rskafka nests its retries
    /// (reconnect inside request), so a call can take a few times this: 1 s gave up after
    /// about 5 s against a killed broker.
    pub retry_deadline: Duration,
    /// The longest single long poll within [`KafkaConsumer::poll`]. Apache Kafka answers a long
    /// poll as soon as a message arrives; some Kafka-protocol brokers (tansu) wait it out
    /// whatever arrives, so this bounds the added latency there.
    pub long_poll_round: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_partition_fetch_bytes: 1 << 20,
            retry_deadline: Duration::from_secs(10),
            long_poll_round: Duration::from_millis(500),
        }
    }
}

/// A partition being read.
struct PartitionReader {
    client: Arc<PartitionClient>,
    /// The next offset to read; `None` until resolved to the earliest retained offset.
    next: Option<i64>,
    /// `next` came from [`KafkaConsumer::seek`] and is not yet checked against the retained
    /// range (done on the next poll, where errors can be returned).
    unchecked: bool,
}

/// Reads raw messages from every partition of a [`KafkaUrl`]'s topics.
pub struct KafkaConsumer {
    partitions: BTreeMap<TopicPartition, PartitionReader>,
    config: ConsumerConfig,
    // Owns the connections the partition clients share.
    _client: Client,
}

/// How long to pause when a long poll came back early and empty (see [`KafkaConsumer::poll`]).
const EMPTY_FETCH_PAUSE: Duration = Duration::from_millis(50);

impl KafkaConsumer {
    /// [`KafkaConsumer::connect_with`] the default [`ConsumerConfig`].
    pub async fn connect(url: &KafkaUrl) -> Result<KafkaConsumer, KafkaError> {
        Self::connect_with(url, ConsumerConfig::default()).await
    }

    /// Connects to the brokers and finds every partition of every topic of `url`. A topic
    /// missing from the cluster is [`KafkaError::TopicNotFound`]. Every partition starts at its
    /// earliest retained offset until [`KafkaConsumer::seek`] says otherwise.
    pub async fn connect_with(
        url: &KafkaUrl,
        config: ConsumerConfig,
    ) -> Result<KafkaConsumer, KafkaError> {
        let brokers = url.brokers.join(",");
        let client = connect_client(&url.brokers, config.retry_deadline).await?;
        let listed = client
            .list_topics()
            .await
            .map_err(|e| KafkaError::from_client("list topics", brokers.as_str(), None, e))?;
        let mut partitions = BTreeMap::new();
        for topic in &url.topics {
            let found = listed.iter().find(|t| &t.name == topic).ok_or_else(|| {
                KafkaError::TopicNotFound {
                    topic: topic.clone(),
                }
            })?;
            for &partition in &found.partitions {
                let tp = TopicPartition::new(topic.clone(), partition);
                let pc = client
                    .partition_client(topic.clone(), partition, UnknownTopicHandling::Retry)
                    .await
                    .map_err(|e| {
                        KafkaError::from_client(
                            "find partition leader",
                            tp.to_string(),
                            Some(topic),
                            e,
                        )
                    })?;
                let reader = PartitionReader {
                    client: Arc::new(pc),
                    next: None,
                    unchecked: false,
                };
                partitions.insert(tp, reader);
            }
        }
        tracing::info!(brokers = %brokers, partitions = partitions.len(), "kafka consumer connected");
        Ok(KafkaConsumer {
            partitions,
            config,
            _client: client,
        })
    }

    /// Every partition being read, in order.
    pub fn partitions(&self) -> Vec<TopicPartition> {
        self.partitions.keys().cloned().collect()
    }

    /// Sets where each partition resumes: the next offset to read. Partitions not in the map
    /// start at their earliest retained offset. Positions are checked against what the broker
    /// retains on the next [`KafkaConsumer::poll`], which fails with
    /// [`KafkaError::OffsetOutOfRange`] rather than skip or replay. Entries for partitions this
    /// consumer does not read are ignored (logged).
    pub fn seek(&mut self, next_offsets: &BTreeMap<TopicPartition, i64>) {
        for (tp, reader) in &mut self.partitions {
            reader.next = next_offsets.get(tp).copied();
            reader.unchecked = reader.next.is_some();
        }
        for tp in next_offsets.keys() {
            if !self.partitions.contains_key(tp) {
                tracing::warn!(partition = %tp, "seek: not a partition of the configured topics; ignored");
            }
        }
    }

    /// The next offset to read per partition, as far as known: partitions still waiting to be
    /// resolved to their earliest offset are absent.
    pub fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.partitions
            .iter()
            .filter_map(|(tp, r)| r.next.map(|n| (tp.clone(), n)))
            .collect()
    }

    /// Waits up to `max_wait` for messages and returns those found, each partition's in offset
    /// order (partitions interleaved), and moves the positions past them. Returns an empty
    /// vector when nothing arrived in time.
    ///
    /// Cancel-safe: positions move only when the call returns its messages, so a dropped
    /// `poll` loses nothing (the next one fetches the same messages again).
    pub async fn poll(&mut self, max_wait: Duration) -> Result<Vec<KafkaMessage>, KafkaError> {
        let deadline = Instant::now() + max_wait;
        let positions = self.resolve_positions().await?;
        loop {
            // Everything available now, from every partition, so a busy partition cannot
            // starve the others.
            let messages = self.fetch_all(&positions).await?;
            if !messages.is_empty() {
                return Ok(self.advance(messages));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(Vec::new());
            }
            let wait = remaining.min(self.config.long_poll_round);
            let asked = Instant::now();
            let messages = self.fetch_first(&positions, wait).await?;
            if !messages.is_empty() {
                return Ok(self.advance(messages));
            }
            // A long poll answered early with no messages: the broker had something at our
            // position that is not a message (a transaction marker at the tail). Pause rather
            // than spin until `max_wait` is up.
            if asked.elapsed() < wait / 2 {
                let remaining = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(remaining.min(EMPTY_FETCH_PAUSE)).await;
            }
        }
    }

    /// Per partition, the high watermark: the offset the next message written will get. Lag is
    /// this minus the position.
    pub async fn high_watermarks(&mut self) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
        let lookups = self.partitions.iter().map(|(tp, r)| {
            let client = Arc::clone(&r.client);
            async move {
                let hw = offset_at(&client, tp, OffsetAt::Latest, "list high watermark").await?;
                Ok::<_, KafkaError>((tp.clone(), hw))
            }
        });
        futures::future::try_join_all(lookups)
            .await
            .map(|v| v.into_iter().collect())
    }

    /// Every partition's next offset: unresolved ones looked up (earliest retained), sought ones
    /// checked against the retained range. Writing the results back is idempotent, so this
    /// keeps [`KafkaConsumer::poll`] cancel-safe.
    async fn resolve_positions(&mut self) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
        for (tp, reader) in &mut self.partitions {
            match (reader.next, reader.unchecked) {
                (None, _) => {
                    let earliest = offset_at(
                        &reader.client,
                        tp,
                        OffsetAt::Earliest,
                        "list earliest offset",
                    )
                    .await?;
                    reader.next = Some(earliest);
                }
                (Some(requested), true) => {
                    check_in_range(&reader.client, tp, requested).await?;
                    reader.unchecked = false;
                }
                (Some(_), false) => {}
            }
        }
        Ok(self.positions())
    }

    /// One fetch per partition that returns at once, all concurrently.
    async fn fetch_all(
        &self,
        positions: &BTreeMap<TopicPartition, i64>,
    ) -> Result<Vec<KafkaMessage>, KafkaError> {
        let fetches = self.fetches(positions, Duration::ZERO);
        let batches = futures::future::try_join_all(fetches).await?;
        Ok(batches.into_iter().flatten().collect())
    }

    /// A long poll on every partition; returns the first answer that has messages, with any
    /// other answers already in. The rest are dropped (rskafka keeps its connections sound when
    /// a request is dropped).
    async fn fetch_first(
        &self,
        positions: &BTreeMap<TopicPartition, i64>,
        wait: Duration,
    ) -> Result<Vec<KafkaMessage>, KafkaError> {
        let mut pending: FuturesUnordered<_> = self.fetches(positions, wait).into_iter().collect();
        while let Some(answer) = pending.next().await {
            let mut messages = answer?;
            if messages.is_empty() {
                continue;
            }
            while let Some(Some(answer)) = futures::FutureExt::now_or_never(pending.next()) {
                messages.extend(answer?);
            }
            return Ok(messages);
        }
        Ok(Vec::new())
    }

    fn fetches(
        &self,
        positions: &BTreeMap<TopicPartition, i64>,
        wait: Duration,
    ) -> Vec<impl Future<Output = Result<Vec<KafkaMessage>, KafkaError>> + use<>> {
        let max_bytes = self.config.max_partition_fetch_bytes.max(1);
        let wait_ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        self.partitions
            .iter()
            .filter_map(|(tp, r)| {
                positions
                    .get(tp)
                    .map(|&next| (tp.clone(), Arc::clone(&r.client), next))
            })
            .map(move |(tp, client, next)| fetch_partition(tp, client, next, max_bytes, wait_ms))
            .collect()
    }

    /// Moves each partition's position past the messages being returned.
    fn advance(&mut self, messages: Vec<KafkaMessage>) -> Vec<KafkaMessage> {
        for m in &messages {
            if let Some(reader) = self.partitions.get_mut(&m.topic_partition()) {
                reader.next = Some(reader.next.map_or(m.offset + 1, |n| n.max(m.offset + 1)));
            }
        }
        messages
    }
}

/// One fetch from `next` on one partition.
async fn fetch_partition(
    tp: TopicPartition,
    client: Arc<PartitionClient>,
    next: i64,
    max_bytes: i32,
    wait_ms: i32,
) -> Result<Vec<KafkaMessage>, KafkaError> {
    // rskafka's byte range is min..max: answer as soon as one byte is there.
    match client.fetch_records(next, 1..max_bytes, wait_ms).await {
        Ok((records, _high_watermark)) => Ok(records
            .into_iter()
            // The broker returns whole batches; rskafka drops records before `next`, and this
            // keeps that promise whatever it does.
            .filter(|r| r.offset >= next)
            .map(|r| KafkaMessage {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: r.offset,
                key: r.record.key,
                value: r.record.value,
                timestamp_millis: r.record.timestamp.timestamp_millis(),
            })
            .collect()),
        Err(ClientError::ServerError {
            protocol_error: ProtocolError::OffsetOutOfRange,
            ..
        }) => {
            // Retention deleted messages before we read them (or the topic was recreated).
            let (earliest, high_watermark) = retained_range(&client, &tp).await?;
            Err(KafkaError::OffsetOutOfRange {
                partition: tp,
                requested: next,
                earliest,
                high_watermark,
            })
        }
        Err(e) => Err(KafkaError::from_client(
            "fetch",
            tp.to_string(),
            Some(&tp.topic),
            e,
        )),
    }
}

/// Fails with [`KafkaError::OffsetOutOfRange`] unless `earliest <= requested <= high watermark`
/// (resuming exactly at the high watermark is normal: everything was read).
async fn check_in_range(
    client: &PartitionClient,
    tp: &TopicPartition,
    requested: i64,
) -> Result<(), KafkaError> {
    let (earliest, high_watermark) = retained_range(client, tp).await?;
    match out_of_range(tp, requested, earliest, high_watermark) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The error for resuming at `requested` when the broker retains `earliest..high_watermark`.
fn out_of_range(
    tp: &TopicPartition,
    requested: i64,
    earliest: i64,
    high_watermark: i64,
) -> Option<KafkaError> {
    if (earliest..=high_watermark).contains(&requested) {
        return None;
    }
    Some(KafkaError::OffsetOutOfRange {
        partition: tp.clone(),
        requested,
        earliest,
        high_watermark,
    })
}

async fn retained_range(
    client: &PartitionClient,
    tp: &TopicPartition,
) -> Result<(i64, i64), KafkaError> {
    let earliest = offset_at(client, tp, OffsetAt::Earliest, "list earliest offset").await?;
    let latest = offset_at(client, tp, OffsetAt::Latest, "list high watermark").await?;
    Ok((earliest, latest))
}

async fn offset_at(
    client: &PartitionClient,
    tp: &TopicPartition,
    at: OffsetAt,
    operation: &'static str,
) -> Result<i64, KafkaError> {
    client
        .get_offset(at)
        .await
        .map_err(|e| KafkaError::from_client(operation, tp.to_string(), Some(&tp.topic), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_positions_must_be_retained() {
        let tp = TopicPartition::new("t", 3);
        // Retention deleted offsets 0..100; 1000 is the next to be written.
        for ok in [100, 500, 1000] {
            assert!(out_of_range(&tp, ok, 100, 1000).is_none(), "{ok}");
        }
        for bad in [0, 99, 1001] {
            let err = out_of_range(&tp, bad, 100, 1000).expect("out of range");
            assert!(!err.is_transient());
            let text = err.to_string();
            assert!(
                text.contains("t/3")
                    && text.contains(&bad.to_string())
                    && text.contains("100..1000"),
                "{text}"
            );
        }
    }
}
