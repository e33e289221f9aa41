//! The crate's one error type, and how rskafka's errors map onto it: what an operator reads, and
//! whether retrying can help ([`KafkaError::is_transient`]).

use rskafka::client::error::{Error as ClientError, ProtocolError, RequestError};

use crate::TopicPartition;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The `kafka://` URL is malformed. Permanent: fix the configuration.
    #[error("invalid Kafka URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// No broker answered, a connection broke, or the cluster had no leader for a partition
    /// within the retry deadline. Transient: retry later.
    #[error("Kafka unavailable during {operation} on {target}: {source}")]
    Unavailable {
        operation: &'static str,
        target: String,
        // Boxed: rskafka's error is large, and this type is in every Result.
        #[source]
        source: Box<ClientError>,
    },

    /// The topic does not exist on the cluster. Permanent until someone creates it.
    #[error("Kafka topic {topic:?} does not exist")]
    TopicNotFound { topic: String },

    /// The resume offset is not in the partition's retained range: below `earliest`, messages
    /// were deleted (retention) before they were read; above `high_watermark`, the topic was
    /// recreated or the position belongs to another cluster. Permanent: resuming anywhere else
    /// would silently lose or replay data.
    #[error(
        "offset {requested} is out of range for Kafka partition {partition}: the broker has \
         offsets {earliest}..{high_watermark} (earliest retained..next to be written); messages \
         before {earliest} were deleted before they were read, or the topic was recreated"
    )]
    OffsetOutOfRange {
        partition: TopicPartition,
        requested: i64,
        earliest: i64,
        high_watermark: i64,
    },

    /// The broker refused the request or answered something this client cannot read (e.g. a
    /// batch compressed with a codec this build lacks). Permanent as far as this client can tell.
    #[error("Kafka {operation} on {target} failed: {source}")]
    Broker {
        operation: &'static str,
        target: String,
        // Boxed: rskafka's error is large, and this type is in every Result.
        #[source]
        source: Box<ClientError>,
    },
}

impl KafkaError {
    /// Whether retrying the same call later may succeed (broker down, leader moving); `false`
    /// when it cannot without someone changing the configuration, the topic or the positions.
    pub fn is_transient(&self) -> bool {
        matches!(self, KafkaError::Unavailable { .. })
    }

    /// Maps an rskafka error from `operation` on `target` (a topic, a partition or the brokers).
    pub(crate) fn from_client(
        operation: &'static str,
        target: impl Into<String>,
        topic: Option<&str>,
        source: ClientError,
    ) -> KafkaError {
        let target = target.into();
        let protocol_error = match &source {
            ClientError::ServerError { protocol_error, .. } => Some(protocol_error),
            // rskafka retries some errors until its deadline, then wraps the last one.
            ClientError::RetryFailed(rskafka::BackoffError::DeadlineExceded { source, .. }) => {
                match source.downcast_ref::<ClientError>() {
                    Some(ClientError::ServerError { protocol_error, .. }) => Some(protocol_error),
                    _ => None,
                }
            }
            _ => None,
        };
        if let (Some(ProtocolError::UnknownTopicOrPartition), Some(topic)) = (protocol_error, topic)
        {
            return KafkaError::TopicNotFound {
                topic: topic.to_string(),
            };
        }
        let transient = match &source {
            // A broken or refused connection; a response that cannot be decoded (ReadError,
            // e.g. a codec this build lacks) is not, and retrying would fail the same way.
            ClientError::Connection(_)
            | ClientError::Request(RequestError::IO(_) | RequestError::Poisoned(_))
            | ClientError::RetryFailed(_)
            | ClientError::Timeout => true,
            ClientError::ServerError { protocol_error, .. } => is_retriable(protocol_error),
            _ => false,
        };
        if transient {
            KafkaError::Unavailable {
                operation,
                target,
                source: Box::new(source),
            }
        } else {
            KafkaError::Broker {
                operation,
                target,
                source: Box::new(source),
            }
        }
    }
}

/// Broker answers that mean "not now" rather than "never" (Kafka marks these retriable).
fn is_retriable(e: &ProtocolError) -> bool {
    matches!(
        e,
        ProtocolError::LeaderNotAvailable
            | ProtocolError::NotLeaderOrFollower
            | ProtocolError::RequestTimedOut
            | ProtocolError::NetworkException
            | ProtocolError::CoordinatorLoadInProgress
            | ProtocolError::CoordinatorNotAvailable
            | ProtocolError::NotEnoughReplicas
            | ProtocolError::NotEnoughReplicasAfterAppend
            | ProtocolError::KafkaStorageError
            | ProtocolError::OffsetNotAvailable
            | ProtocolError::ThrottlingQuotaExceeded
            | ProtocolError::UnknownLeaderEpoch
            | ProtocolError::FencedLeaderEpoch
            | ProtocolError::BrokerNotAvailable
            | ProtocolError::ReplicaNotAvailable
    )
}
