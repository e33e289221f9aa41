//! `nats://host:port/STREAM?subject=SUBJ&durable=NAME`: Debezium JSON events from a JetStream
//! stream (Debezium Server's NATS JetStream sink). The position is the stream sequence (in the
//! cookie); the consumer is created at it on every start, and its acknowledgements are hints.

use std::time::{Duration, Instant};

use ctlstore_source_nats::{JetStreamConsumer, NatsError, NatsUrl};

use super::{DebeziumStream, Next};
use crate::error::LoaderError;
use crate::position::{Mark, Position};
use crate::status::Status;

/// Messages asked for per pull.
const PULL: usize = 500;

pub struct NatsSource {
    consumer: JetStreamConsumer,
    stream: DebeziumStream,
    status: Status,
    /// The newest stream sequence read.
    read: u64,
    backlog_checked: Option<Instant>,
}

/// How often the server is asked how far behind the loader is.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);

fn nats_error(e: NatsError) -> LoaderError {
    if e.is_transient() {
        LoaderError::Source(e.to_string())
    } else {
        LoaderError::Halt(format!("NATS source: {e}"))
    }
}

impl NatsSource {
    pub async fn open(
        url: &NatsUrl,
        position: Option<&Position>,
        status: &Status,
    ) -> Result<NatsSource, LoaderError> {
        let after = match position {
            Some(Position::Nats(seq)) => *seq,
            _ => 0,
        };
        let consumer = JetStreamConsumer::connect(url, after)
            .await
            .map_err(nats_error)?;
        tracing::info!(stream = %url.stream, subject = ?url.subject, durable = ?url.durable, after, "reading NATS JetStream");
        Ok(NatsSource {
            consumer,
            stream: DebeziumStream::default(),
            status: status.clone(),
            read: after,
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
                if let Ok((_, last)) = self.consumer.stream_bounds().await {
                    self.status
                        .backlog(last.saturating_sub(self.read) + self.stream.pending() as u64);
                }
            }
            let messages = self.consumer.poll(PULL, wait).await.map_err(nats_error)?;
            if messages.is_empty() {
                self.stream.idle();
                if self.stream.pending() == 0 {
                    return Ok(Next::Idle);
                }
                continue;
            }
            for m in messages {
                self.read = self.read.max(m.stream_seq);
                let mark = Mark::Nats { seq: m.stream_seq };
                if m.payload.is_empty() {
                    continue;
                }
                // Debezium Server publishes the value alone; a `{"key", "value"}` wrapper (as
                // in replay files) carries the key too.
                let json: serde_json::Value = serde_json::from_slice(&m.payload)
                    .map_err(|e| LoaderError::Halt(format!("{mark}: not JSON: {e}")))?;
                let (key, value) = crate::debezium::split_line(&json);
                self.stream
                    .push_json(mark, key, value)
                    .map_err(LoaderError::Halt)?;
            }
        }
    }

    /// Acknowledges what is applied (a hint for `nats consumer info`; the cookie is the truth).
    pub async fn applied(&mut self, position: &Position) -> Result<(), LoaderError> {
        if let Position::Nats(seq) = position
            && let Err(e) = self.consumer.ack_through(*seq).await
        {
            tracing::debug!(error = %e, "JetStream acknowledgement not sent (a hint only)");
        }
        Ok(())
    }
}
