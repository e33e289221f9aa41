//! The ctldb's error type. Each variant says what the caller can do: fix the request (names,
//! schema, values, sizes), retry later (conflicts on the cookie), or report an outage
//! (`Database`).

use ctlstore_schema::{NameError, SchemaError};

#[derive(Debug, thiserror::Error)]
pub enum CtldbError {
    #[error("invalid ctldb URL: {0}")]
    InvalidUrl(String),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("Family not found: {0}")]
    FamilyNotFound(String),
    #[error("Family already exists")]
    FamilyExists,
    #[error("Table not found: {0}")]
    TableNotFound(String),
    #[error("Table already exists")]
    TableExists,
    #[error("Column already exists: {0}")]
    ColumnExists(String),
    #[error("Writer not found")]
    WriterNotFound,
    #[error("Writer already exists with different credentials")]
    WriterExists,
    #[error("Cookie conflict")]
    CookieConflict,
    #[error("Maximum cookie length is 1024 bytes")]
    CookieTooLong,
    #[error("Number of requests exceeds maximum ({max})")]
    TooManyMutations { max: usize },
    #[error("at least one mutation is required")]
    NoMutations,
    #[error(
        "Request generated too large of a DML statement (table {table}: {len} bytes, limit {limit})"
    )]
    DmlTooLarge {
        table: String,
        len: usize,
        limit: usize,
    },
    #[error("rate limit exceeded: at most {allowed} rows per {period_seconds} s")]
    RateLimited { allowed: i64, period_seconds: i64 },
    #[error("{0}")]
    LimitNotFound(String),
    #[error("field '{field}': {reason}")]
    Unsupported { field: String, reason: String },
    #[error("ctldb schema version {found} is newer than this binary understands ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("the ctldb could not commit: {0}")]
    Commit(String),
    #[error("ctldb error: {0}")]
    Database(#[from] sqlx::Error),
}

impl CtldbError {
    /// The request field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            CtldbError::Name(e) => Some(e.kind.as_str()),
            CtldbError::Schema(e) => e.field(),
            CtldbError::Unsupported { field, .. } => Some(field),
            CtldbError::CookieTooLong => Some("cookie"),
            CtldbError::TooManyMutations { .. } | CtldbError::NoMutations => Some("mutations"),
            CtldbError::FamilyNotFound(_) | CtldbError::FamilyExists => Some("family"),
            CtldbError::TableNotFound(_) | CtldbError::TableExists => Some("table"),
            CtldbError::ColumnExists(f) => Some(f),
            CtldbError::WriterNotFound | CtldbError::WriterExists => Some("writer"),
            CtldbError::CookieConflict => Some("check_cookie"),
            _ => None,
        }
    }
}

/// Whether a database error is a unique-key violation (duplicate family, race on create).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// Whether a DDL error says the table or column already exists (MySQL 1050/1060, SQLite and
/// PostgreSQL by message / SQLSTATE 42P07, 42701).
pub(crate) fn is_already_exists(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let msg = db.message().to_ascii_lowercase();
            matches!(code.as_ref(), "42P07" | "42701" | "42S01" | "42S21")
                || msg.contains("already exists")
                || msg.contains("duplicate column")
        }
        _ => false,
    }
}
