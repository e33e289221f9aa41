//! Reads a PostgreSQL publication for the loader: logical replication with the built-in
//! `pgoutput` plugin, the initial copy from the replication slot's exported snapshot, and the
//! published tables' schema. It knows nothing about ctlstore.
//!
//! It is a small, self-contained client speaking the frontend/backend protocol 3.0 directly
//! over tokio TCP:
//!
//! - [`PgConnection`], login (trust, cleartext, MD5, SCRAM-SHA-256 without channel binding)
//!   and the simple query protocol, for ordinary SQL.
//! - [`SnapshotReader`], a repeatable-read transaction on the slot's snapshot that lists the
//!   publication's tables and streams their rows with `COPY ... TO STDOUT`.
//! - [`ReplicationClient`] and [`ReplicationStream`], slot management and the CopyBoth stream,
//!   decoded into [`Event`]s, with keepalives answered and the consumer's confirmed position
//!   reported so the server can recycle WAL.
//!
//! The usual sequence: `ReplicationClient::create_slot` (exports a snapshot) →
//! `SnapshotReader::begin(Some(snapshot))`, copy every table, `finish` →
//! `ReplicationClient::start` on the same client → `next`/`confirm` forever. On restart, skip
//! the copy and `start` from the slot.
//!
//! Consistency of the copy: rows come from the slot's exported snapshot, so the copy plus the
//! stream from the slot is the table exactly once. One PostgreSQL caveat: `TRUNCATE` is not
//! MVCC-safe, so a table truncated between `create_slot` and its copy copies as empty; the
//! stream then delivers the `Truncate` and later rows, so the end state is still right.
//! `TRUNCATE` and schema changes on a table wait for its copy to finish (the copy holds a lock).
//!
//! Values are text, exactly as PostgreSQL's output functions print them. Both connection
//! kinds set the same session parameters (`client_encoding=UTF8`, `DateStyle=ISO, YMD`,
//! `IntervalStyle=postgres`, `TimeZone=UTC`), so the copy and the stream print a value the
//! same way.
//!
//! Limits: no TLS (`sslmode` stronger than `prefer` is refused); pgoutput protocol version 1
//! only (no streamed in-progress transactions, no two-phase, no binary tuples); the extended
//! query protocol is not implemented (statements are built with quoted literals); publication
//! column lists and row filters are honoured on PostgreSQL 15+; generated columns are skipped
//! on 12+ (older servers have none).

mod auth;
mod config;
mod connection;
mod copy_text;
mod error;
mod lsn;
mod pgoutput;
mod replication;
mod snapshot;
mod table;
mod wire;

pub use config::{ConnectConfig, query_params};
pub use connection::PgConnection;
pub use error::SourceError;
pub use lsn::Lsn;
pub use pgoutput::{Event, decode as decode_pgoutput};
pub use replication::{CreatedSlot, ReplicationClient, ReplicationStream, SlotInfo};
pub use snapshot::{SnapshotReader, TableCopy};
pub use table::{
    Column, Table, Tuple, Value, builtin_type_name, format_builtin_type, quote_ident, quote_literal,
};
