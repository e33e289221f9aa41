//! The crate's one error type: what an operator reads, and whether retrying can help.

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("invalid NATS URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The connection failed, broke, or the server stopped answering. Transient.
    #[error("NATS connection to {server}: {reason}")]
    Connection { server: String, reason: String },
    /// The server sent something this client does not understand.
    #[error("NATS protocol: {0}")]
    Protocol(String),
    /// The server refused an operation (`-ERR`).
    #[error("NATS server error: {0}")]
    Server(String),
    #[error("JetStream stream {stream:?} does not exist")]
    StreamNotFound { stream: String },
    /// A JetStream API request failed.
    #[error("JetStream {operation}: {description} (code {code})")]
    Api {
        operation: String,
        code: u64,
        description: String,
    },
    /// The position to resume after is no longer (or not yet) in the stream: resuming would
    /// silently skip or replay messages.
    #[error(
        "JetStream stream {stream:?} holds sequences {first}..={last}; resuming after {after} is impossible: messages were removed before they were read (retention), or the stream was recreated"
    )]
    PositionGone {
        stream: String,
        after: u64,
        first: u64,
        last: u64,
    },
}

impl NatsError {
    /// Whether retrying later may succeed (the server or the network is away).
    pub fn is_transient(&self) -> bool {
        matches!(self, NatsError::Connection { .. })
    }
}
