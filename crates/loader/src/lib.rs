//! The loader: change data capture from a system of record into ctlstore, exactly once.
//!
//! A source (PostgreSQL logical replication, Debezium events from Kafka or NATS JetStream, or a
//! file of them) yields row changes in order with their positions ([`change`], [`source`]).
//! The runner packs whole source transactions into batches of at most `batch_rows` rows
//! (splitting only a transaction larger than that), maps them onto ctlstore tables
//! ([`table_map`], [`types`]) and applies each batch through the executive with the source
//! position as the writer's cookie, compare-and-set against the previous one ([`sink`]). So a
//! batch and its position commit together, a restart resumes exactly after the last applied
//! change, and two loaders on one writer cannot both apply a change. docs/loader.md explains
//! it step by step.

pub mod change;
pub mod debezium;
mod error;
mod metrics;
pub mod position;
mod runner;
pub mod sink;
pub mod source;
pub mod status;
pub mod table_map;
pub mod types;

use std::net::SocketAddr;
use std::time::Duration;

pub use error::LoaderError;
pub use runner::run;
pub use source::SourceSpec;
pub use table_map::TableMap;

/// The section of the `--config` file that maps source tables (`[tables.NAME]`).
pub const TABLES_SECTION: &str = "tables";

/// ctlstore's per-request maximum, and the default batch size.
pub const DEFAULT_BATCH_ROWS: usize = 100;
/// How long a batch waits for more transactions before it is sent.
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(50);

/// Everything the loader needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub executive_url: String,
    pub admin_token: Option<String>,
    pub writer_name: String,
    pub writer_secret: String,
    pub family: String,
    pub source: SourceSpec,
    pub tables: TableMap,
    pub batch_rows: usize,
    pub batch_window: Duration,
    pub create_tables: bool,
    pub metrics_bind: Option<SocketAddr>,
    /// TLS for `metrics_bind` (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub metrics_tls: Option<ctlstore_tls::ServerTls>,
    /// TLS to the executive (`--tls-ca`, `--tls-client-cert`, `--tls-client-key`).
    pub tls: ctlstore_tls::ClientTls,
}
