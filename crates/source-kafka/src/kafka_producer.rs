//! Writes messages to chosen partitions: how tests and benchmarks feed the loader. Not meant for
//! production writes (no batching across calls, no idempotent producer).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rskafka::client::Client;
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;
use tokio::sync::Mutex;

use crate::{KafkaError, TopicPartition, connect_client};

/// How long rskafka retries a transient failure before a call gives up.
const RETRY_DEADLINE: Duration = Duration::from_secs(10);
/// How long the broker may take to create a topic.
const CREATE_TOPIC_TIMEOUT_MS: i32 = 5_000;

/// A message to write: key and value (`None` value: a tombstone).
pub type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Produces to explicit partitions (no partitioner: tests say where each message goes).
pub struct KafkaProducer {
    client: Client,
    bootstrap: String,
    partitions: Mutex<BTreeMap<TopicPartition, Arc<PartitionClient>>>,
}

impl KafkaProducer {
    /// Connects to `bootstrap`: `host:port`, or several separated by commas.
    pub async fn connect(bootstrap: &str) -> Result<Self, KafkaError> {
        let brokers: Vec<String> = bootstrap.split(',').map(str::to_string).collect();
        let client = connect_client(&brokers, RETRY_DEADLINE).await?;
        Ok(KafkaProducer {
            client,
            bootstrap: bootstrap.to_string(),
            partitions: Mutex::new(BTreeMap::new()),
        })
    }

    /// Creates `topic` with `partitions` partitions (replication factor 1). A topic that
    /// already exists is left as it is, whatever its partition count.
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        let controller = self.client.controller_client().map_err(|e| {
            KafkaError::from_client("create topic", self.bootstrap.as_str(), None, e)
        })?;
        match controller
            .create_topic(topic, partitions, 1, CREATE_TOPIC_TIMEOUT_MS)
            .await
        {
            Ok(()) => Ok(()),
            Err(ClientError::ServerError {
                protocol_error: ProtocolError::TopicAlreadyExists,
                ..
            }) => Ok(()),
            Err(e) => Err(KafkaError::from_client("create topic", topic, None, e)),
        }
    }

    /// Writes one message; returns its offset. `value: None` writes a tombstone.
    pub async fn send(
        &self,
        topic: &str,
        partition: i32,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> Result<i64, KafkaError> {
        let offsets = self
            .send_batch(topic, partition, vec![(key, value)])
            .await?;
        offsets.first().copied().ok_or_else(|| KafkaError::Broker {
            operation: "produce",
            target: TopicPartition::new(topic, partition).to_string(),
            source: Box::new(ClientError::InvalidResponse(
                "no offset for the message written".into(),
            )),
        })
    }

    /// Writes `(key, value)` messages in one request, in order; returns their offsets.
    pub async fn send_batch(
        &self,
        topic: &str,
        partition: i32,
        messages: Vec<KeyValue>,
    ) -> Result<Vec<i64>, KafkaError> {
        let tp = TopicPartition::new(topic, partition);
        let client = self.partition_client(&tp).await?;
        let timestamp = now();
        let records = messages
            .into_iter()
            .map(|(key, value)| Record {
                key,
                value,
                headers: BTreeMap::new(),
                timestamp,
            })
            .collect();
        client
            .produce(records, Compression::NoCompression)
            .await
            .map_err(|e| KafkaError::from_client("produce", tp.to_string(), Some(topic), e))
    }

    async fn partition_client(
        &self,
        tp: &TopicPartition,
    ) -> Result<Arc<PartitionClient>, KafkaError> {
        let mut cache = self.partitions.lock().await;
        if let Some(client) = cache.get(tp) {
            return Ok(Arc::clone(client));
        }
        // Retry: a topic just created may be unknown to the broker for a moment.
        let client = self
            .client
            .partition_client(tp.topic.clone(), tp.partition, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| {
                KafkaError::from_client("find partition leader", tp.to_string(), Some(&tp.topic), e)
            })?;
        let client = Arc::new(client);
        cache.insert(tp.clone(), Arc::clone(&client));
        Ok(client)
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}
