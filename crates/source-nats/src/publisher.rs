//! Streams and messages, for tests and benchmarks: create, delete, purge, publish.

use serde_json::json;

use crate::NatsError;
use crate::connection::Connection;

pub struct NatsPublisher {
    conn: tokio::sync::Mutex<Connection>,
}

impl NatsPublisher {
    pub async fn connect(server: &str) -> Result<NatsPublisher, NatsError> {
        Ok(NatsPublisher {
            conn: tokio::sync::Mutex::new(Connection::connect(server).await?),
        })
    }

    /// Creates a stream (in memory) capturing `subjects`.
    pub async fn create_stream(&self, stream: &str, subjects: &[&str]) -> Result<(), NatsError> {
        let config = json!({"name": stream, "subjects": subjects, "storage": "memory", "retention": "limits"});
        self.conn
            .lock()
            .await
            .api(&format!("$JS.API.STREAM.CREATE.{stream}"), &config)
            .await
            .map(|_| ())
    }

    pub async fn delete_stream(&self, stream: &str) -> Result<(), NatsError> {
        self.conn
            .lock()
            .await
            .api(&format!("$JS.API.STREAM.DELETE.{stream}"), &json!(null))
            .await
            .map(|_| ())
    }

    /// Removes every message (the sequence numbers go on).
    pub async fn purge_stream(&self, stream: &str) -> Result<(), NatsError> {
        self.conn
            .lock()
            .await
            .api(&format!("$JS.API.STREAM.PURGE.{stream}"), &json!(null))
            .await
            .map(|_| ())
    }

    /// Publishes and waits for the stream's acknowledgement; returns the stream sequence.
    pub async fn publish(&self, subject: &str, payload: Vec<u8>) -> Result<u64, NatsError> {
        let mut conn = self.conn.lock().await;
        let msg = conn.request(subject, &payload).await?;
        if msg.status() == Some(503) {
            return Err(NatsError::Api {
                operation: format!("publish to {subject}"),
                code: 503,
                description: "no stream captures this subject".into(),
            });
        }
        let ack: serde_json::Value = serde_json::from_slice(&msg.payload).map_err(|e| {
            NatsError::Protocol(format!("publish acknowledgement is not JSON: {e}"))
        })?;
        if let Some(error) = ack.get("error") {
            return Err(NatsError::Api {
                operation: format!("publish to {subject}"),
                code: error.get("code").and_then(|c| c.as_u64()).unwrap_or(0),
                description: error.to_string(),
            });
        }
        ack.get("seq").and_then(|s| s.as_u64()).ok_or_else(|| {
            NatsError::Protocol(format!("publish acknowledgement without seq: {ack}"))
        })
    }
}
