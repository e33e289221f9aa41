//! The sources: where changes come from (`--source URL`), each turned into [`Item`]s in
//! source order with their [`Mark`]s and transaction ends.

mod debezium_stream;
mod file;
mod kafka;
mod nats;
mod postgres;

use std::time::Duration;

pub use debezium_stream::DebeziumStream;
pub use postgres::PostgresSpec;

use crate::change::Item;
use crate::error::LoaderError;
use crate::position::Position;
use crate::status::Status;

/// `--source`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `file:PATH`, or `None` for stdin (`-`).
    File(Option<std::path::PathBuf>),
    Postgres(PostgresSpec),
    Kafka(ctlstore_source_kafka::KafkaUrl),
    Nats(ctlstore_source_nats::NatsUrl),
}

impl SourceSpec {
    pub fn parse(text: &str) -> Result<SourceSpec, String> {
        if text == "-" {
            return Ok(SourceSpec::File(None));
        }
        if let Some(path) = text.strip_prefix("file:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("file: needs a path (file:PATH, or - for stdin)".into());
            }
            return Ok(SourceSpec::File(Some(path.into())));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return PostgresSpec::parse(text).map(SourceSpec::Postgres);
        }
        if text.starts_with("kafka://") {
            return text
                .parse()
                .map(SourceSpec::Kafka)
                .map_err(|e: ctlstore_source_kafka::KafkaError| e.to_string());
        }
        if text.starts_with("nats://") {
            return text
                .parse()
                .map(SourceSpec::Nats)
                .map_err(|e: ctlstore_source_nats::NatsError| e.to_string());
        }
        Err(format!(
            "'{text}' is not a source: use postgres://…?publication=P&slot=S, kafka://host:port/TOPIC?group=G, nats://host:port/STREAM?subject=S&durable=D, file:PATH or -"
        ))
    }

    /// The source kind, for `/status` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::File(_) => "file",
            SourceSpec::Postgres(_) => "postgres",
            SourceSpec::Kafka(_) => "kafka",
            SourceSpec::Nats(_) => "nats",
        }
    }
}

/// What a source has next.
#[derive(Debug)]
pub enum Next {
    Item(Item),
    /// Nothing arrived within the wait.
    Idle,
    /// The source has no more (the end of a file).
    End,
}

pub enum Source {
    File(Box<file::FileSource>),
    Postgres(Box<postgres::PostgresSource>),
    Kafka(Box<kafka::KafkaSource>),
    Nats(Box<nats::NatsSource>),
}

impl Source {
    /// Opens the source to resume after `position` (from the start when `None`).
    pub async fn open(
        spec: &SourceSpec,
        position: Option<&Position>,
        status: &Status,
    ) -> Result<Source, LoaderError> {
        match spec {
            SourceSpec::File(path) => Ok(Source::File(Box::new(
                file::FileSource::open(path.as_deref(), position).await?,
            ))),
            SourceSpec::Nats(url) => Ok(Source::Nats(Box::new(
                nats::NatsSource::open(url, position, status).await?,
            ))),
            SourceSpec::Kafka(url) => Ok(Source::Kafka(Box::new(
                kafka::KafkaSource::open(url, position, status).await?,
            ))),
            SourceSpec::Postgres(spec) => Ok(Source::Postgres(Box::new(
                postgres::PostgresSource::open(spec, position, status).await?,
            ))),
        }
    }

    /// The next change, waiting at most `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Next, LoaderError> {
        match self {
            Source::File(s) => s.next(wait).await,
            Source::Postgres(s) => s.next(wait).await,
            Source::Kafka(s) => s.next(wait).await,
            Source::Nats(s) => s.next(wait).await,
        }
    }

    /// Everything up to `position` is applied; `idle` when nothing read is pending. Sources
    /// that keep their own bookmark (a PostgreSQL slot, a JetStream consumer) advance it.
    pub async fn applied(&mut self, position: &Position, idle: bool) -> Result<(), LoaderError> {
        match self {
            Source::File(_) | Source::Kafka(_) => {}
            Source::Nats(s) => s.applied(position).await?,
            Source::Postgres(s) => s.applied(position, idle),
        }
        Ok(())
    }
}
