//! What the consumer hands out: a partition's name and one raw message read from it.

use std::fmt;

/// One partition of one topic. Orders by topic, then partition; displays as `topic/partition`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// One message as stored in Kafka, with where it was read from. The next offset to read after
/// it is `offset + 1` (offsets may have gaps: compaction, transaction markers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone (Debezium sends one after each delete, for compaction).
    pub value: Option<Vec<u8>>,
    /// The record's timestamp (producer's create time, or the broker's log-append time).
    pub timestamp_millis: i64,
}

impl KafkaMessage {
    /// The partition this message was read from.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_order() {
        let a = TopicPartition::new("a", 10);
        let b = TopicPartition::new("a", 2);
        let c = TopicPartition::new("b", 0);
        assert_eq!(a.to_string(), "a/10");
        let mut v = vec![c.clone(), a.clone(), b.clone()];
        v.sort();
        assert_eq!(v, [b, a, c]);
    }
}
