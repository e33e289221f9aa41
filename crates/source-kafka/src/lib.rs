//! Reads Kafka topics for the loader: partitions, offsets, fetches, over a pure-Rust client
//! (rskafka; no librdkafka, so `cargo test` needs no system library).
//!
//! It knows nothing of ctlstore or Debezium: [`KafkaConsumer`] delivers raw messages with their
//! `(topic, partition, offset)`. There is no consumer group and no committed offset: the caller
//! stores positions with the data it derives from them (exactly-once) and hands them back to
//! [`KafkaConsumer::seek`] on start. Every partition of every configured topic is read.
//! A resume position that Kafka no longer retains is [`KafkaError::OffsetOutOfRange`], never a
//! silent jump. [`KafkaProducer`] writes to explicit partitions, for tests and benchmarks.
//!
//! Limits:
//! - No TLS, no SASL, no compression codecs by default; the `compression-*` features add codecs
//!   (a batch compressed with a missing codec fails the fetch with [`KafkaError::Broker`]).
//! - Partitions added to a topic after [`KafkaConsumer::connect`] are not read until the next
//!   connect.
//! - Fetches are read-committed, but records of aborted transactions are not filtered out
//!   (rskafka does not apply the aborted-transactions list): topics written by transactional
//!   producers (Kafka Connect exactly-once source) may deliver aborted records.

mod kafka_consumer;
mod kafka_error;
mod kafka_message;
mod kafka_producer;
mod kafka_url;

use std::time::Duration;

pub use kafka_consumer::{ConsumerConfig, KafkaConsumer};
pub use kafka_error::KafkaError;
pub use kafka_message::{KafkaMessage, TopicPartition};
pub use kafka_producer::{KafkaProducer, KeyValue};
pub use kafka_url::KafkaUrl;

/// Identifies this client in the brokers' logs and metrics.
const CLIENT_ID: &str = "ctlstore";

/// An rskafka client bootstrapped from `brokers`, retrying transient failures for at most
/// `retry_deadline` (rskafka's default is to retry forever, which would hide a dead cluster).
async fn connect_client(
    brokers: &[String],
    retry_deadline: Duration,
) -> Result<rskafka::client::Client, KafkaError> {
    let backoff = rskafka::BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
        deadline: Some(retry_deadline),
    };
    rskafka::client::ClientBuilder::new(brokers.to_vec())
        .client_id(CLIENT_ID)
        .backoff_config(backoff)
        .build()
        .await
        .map_err(|e| KafkaError::from_client("connect", brokers.join(","), None, e))
}
