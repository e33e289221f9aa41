//! Reads a NATS JetStream stream for the loader, from a given stream sequence, and publishes to
//! one (for tests and benchmarks). A small client of its own over tokio TCP
//! (docs/decisions/0007-nats-client.md): the NATS protocol is a handful of text operations, and
//! JetStream is JSON requests on `$JS.API.*` subjects.
//!
//! It knows nothing of ctlstore or Debezium: [`JetStreamConsumer`] delivers raw messages with
//! their stream sequence. The caller stores positions with what it derives from them and passes
//! the last applied sequence to [`JetStreamConsumer::connect`]; the consumer is (re)created to
//! start right after it, so the server's acknowledgement state is never trusted over the
//! caller's position. A position the stream no longer holds is an error, never a silent jump.
//!
//! Limits: no TLS, no authentication (token, user/password, NKEYs), one server address (no
//! cluster discovery). Requests on one connection are sequential: it is a consumer, not a
//! general client.

mod connection;
mod consumer;
mod error;
mod publisher;
mod url;

pub use consumer::{JetStreamConsumer, NatsMessage};
pub use error::NatsError;
pub use publisher::NatsPublisher;
pub use url::NatsUrl;
