//! What every source turns its input into: row changes of source tables, each with its
//! [`Mark`], in source order, with transaction ends marked. The rest of the loader (batching,
//! mapping, applying) knows nothing about where a change came from.

use std::sync::Arc;
use std::time::SystemTime;

use crate::position::Mark;

/// A table in the source (`schema.name`; Debezium's `source.schema`/`source.table`, or
/// `source.db` for MySQL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceTable {
    pub schema: Option<String>,
    pub name: String,
}

impl std::fmt::Display for SourceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// How a source column's values are spelled, which decides how they are read and which
/// ctlstore type they land in (`types.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer,
    Boolean,
    /// Floating point and PostgreSQL `numeric`.
    Float,
    Text,
    /// PostgreSQL `bytea` (text `\x...`), Debezium `bytes` (base64).
    Bytes,
    /// Kafka Connect's `Decimal`: base64 of a big-endian unscaled integer.
    ConnectDecimal {
        scale: i32,
    },
    /// Structured values (Debezium structs, arrays, maps): kept as JSON text.
    Json,
    /// A schemaless column seen only as null so far.
    Unknown,
}

/// One column of a source table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    pub name: String,
    pub kind: ValueKind,
    /// The declared length of a bounded text type (`varchar(20)`): up to 191 fits `string`.
    pub max_chars: Option<u32>,
    /// The source's own name for the type, for messages (`character varying(20)`, `int64`).
    pub type_name: String,
    pub is_key: bool,
}

/// A source table's columns as the source describes them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    pub table: SourceTable,
    pub columns: Vec<SourceColumn>,
    /// The shape lists every column of the table (a PostgreSQL relation, a Debezium schema);
    /// schemaless events list only the values they carry.
    pub complete: bool,
}

/// A value as the source spelled it.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Null,
    /// PostgreSQL left a TOASTed value out of an update because it did not change.
    Unchanged,
    /// PostgreSQL's text output.
    Text(String),
    /// A Debezium JSON value.
    Json(serde_json::Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    /// By key: only the key columns' values matter.
    Delete,
}

/// One row changed.
#[derive(Debug, Clone)]
pub struct RowChange {
    pub shape: Arc<TableShape>,
    pub op: Op,
    /// By column of `shape`.
    pub values: Vec<Raw>,
}

#[derive(Debug, Clone)]
pub enum Change {
    Row(RowChange),
    /// Every row of the table removed (PostgreSQL `TRUNCATE`).
    Truncate(SourceTable),
    /// The end of the initial copy: rows of these tables that the copy did not send are
    /// deleted (they were deleted in the source before its snapshot).
    /// The tables' shapes, so that empty tables are created too.
    CopyFinished {
        tables: Vec<Arc<TableShape>>,
    },
}

/// A change with where it sits in the source.
#[derive(Debug, Clone)]
pub struct Item {
    pub change: Change,
    pub mark: Mark,
    /// The last change of its source transaction.
    pub ends_transaction: bool,
    /// When the source committed it, if it says.
    pub committed_at: Option<SystemTime>,
}
