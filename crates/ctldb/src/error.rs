//! The ctldb's error type. Each variant says what the caller can do: fix the request (names,
//! schema, values, sizes, and [`CtldbError::Rejected`]: a constraint of the database), retry
//! later ([`CtldbError::Unavailable`], cookie conflicts, rate limits), or report a fault
//! ([`CtldbError::Internal`]).
//!
//! Database errors are classified here, in the one crate that sees them (`classify.rs` reads
//! each backend's codes); the driver's error stays inside a [`DbFault`], reachable as the
//! `source()` chain but not as a type, so no caller ever matches on the driver.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
    #[error("Index already exists: {0}")]
    IndexExists(String),
    #[error("Index not found: {0}")]
    IndexNotFound(String),
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
    /// The ctldb cannot be reached or cannot take the work now: connection refused, reset or
    /// closed, no connection free in time, an operation over its deadline, the server shutting
    /// down, out of connections, a deadlock or lock timeout, an I/O error. Retry later. A write
    /// that failed this way was not acknowledged; it may or may not have committed (the
    /// connection can die during COMMIT), which is what the writer's cookie is for.
    #[error("the ctldb is unavailable: {source}")]
    Unavailable {
        #[source]
        source: DbFault,
    },
    /// The database aborted the transaction so that another could go on: a deadlock, a lock wait
    /// timeout, a Galera certification conflict, a serialization failure (MySQL 1213, 1205;
    /// PostgreSQL 40001, 40P01). Nothing of it committed; running it again is the documented
    /// remedy, and the group committer does, a few times, before answering with this.
    #[error(
        "the ctldb aborted the transaction after {attempts} attempts (deadlock, certification conflict or serialization failure): {source}"
    )]
    Aborted {
        attempts: u32,
        #[source]
        source: DbFault,
    },
    /// The ctldb refused the data: a constraint (unique or primary key, not null, check, foreign
    /// key) or a value the column cannot hold (too long, out of range). Fix the request.
    /// `field` is the column, when the database names one.
    #[error("the ctldb refused the data: {reason}")]
    Rejected {
        field: Option<String>,
        reason: String,
        #[source]
        source: DbFault,
    },
    /// The data would give two rows the same value of a unique index (issue 18's unique
    /// secondary indexes; a primary key is never violated, upserts replace). Fix the data or
    /// the other row. `field` is the first column, when the database names it.
    #[error("a unique index refuses the row: {reason}")]
    Duplicate {
        field: Option<String>,
        reason: String,
        #[source]
        source: DbFault,
    },
    /// Anything else the database or this crate reports: a fault to investigate, not the
    /// request's.
    #[error("ctldb error: {source}")]
    Internal {
        #[source]
        source: DbFault,
    },
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
            CtldbError::Rejected { field, .. } | CtldbError::Duplicate { field, .. } => {
                field.as_deref()
            }
            CtldbError::IndexExists(_) | CtldbError::IndexNotFound(_) => Some("index"),
            _ => None,
        }
    }

    /// Whether the ctldb is unreachable or overloaded (retrying later may succeed).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CtldbError::Unavailable { .. })
    }

    /// Whether the database aborted the transaction for another's sake (running it again is
    /// the remedy): [`CtldbError::Aborted`].
    pub fn is_aborted(&self) -> bool {
        matches!(self, CtldbError::Aborted { .. })
    }

    /// An operation that did not finish within `after`.
    pub(crate) fn timed_out(what: &'static str, after: Duration) -> CtldbError {
        CtldbError::Unavailable {
            source: DbFault::new(Cause::TimedOut { what, after }),
        }
    }

    /// A fault of this crate's own machinery (a task that stopped), not the database's.
    pub(crate) fn internal(what: impl Into<String>) -> CtldbError {
        CtldbError::Internal {
            source: DbFault::new(Cause::Other(what.into())),
        }
    }

    /// The driver's error behind a database failure, for this crate's own checks.
    pub(crate) fn driver(&self) -> Option<&sqlx::Error> {
        match self {
            CtldbError::Unavailable { source }
            | CtldbError::Aborted { source, .. }
            | CtldbError::Rejected { source, .. }
            | CtldbError::Internal { source } => match source.0.as_ref() {
                Cause::Driver(e) => Some(e),
                _ => None,
            },
            _ => None,
        }
    }

    /// An [`CtldbError::Aborted`] marked with the attempts made; anything else as it is.
    pub(crate) fn after_attempts(self, attempts: u32) -> CtldbError {
        match self {
            CtldbError::Aborted { source, .. } => CtldbError::Aborted { attempts, source },
            other => other,
        }
    }

    /// The same error again, for each batch of a group commit that failed as a whole. Only
    /// database failures are shared that way; anything else becomes `Internal` with its text.
    pub(crate) fn share(&self) -> CtldbError {
        match self {
            CtldbError::Unavailable { source } => CtldbError::Unavailable {
                source: source.clone(),
            },
            CtldbError::Rejected {
                field,
                reason,
                source,
            } => CtldbError::Rejected {
                field: field.clone(),
                reason: reason.clone(),
                source: source.clone(),
            },
            CtldbError::Internal { source } => CtldbError::Internal {
                source: source.clone(),
            },
            CtldbError::Aborted { attempts, source } => CtldbError::Aborted {
                attempts: *attempts,
                source: source.clone(),
            },
            other => CtldbError::internal(other.to_string()),
        }
    }
}

/// The failure behind [`CtldbError::Unavailable`], [`CtldbError::Rejected`] and
/// [`CtldbError::Internal`]: it displays the database's (or driver's) message, and its
/// `source()` is the driver's own cause (an I/O error, say). Cheap to clone: one failed group
/// commit answers every batch in it with the same fault.
#[derive(Clone)]
pub struct DbFault(Arc<Cause>);

pub(crate) enum Cause {
    /// The driver's error, kept whole.
    Driver(sqlx::Error),
    /// An operation that ran past its deadline.
    TimedOut { what: &'static str, after: Duration },
    /// A failure of our own machinery.
    Other(String),
}

impl DbFault {
    pub(crate) fn new(cause: Cause) -> DbFault {
        DbFault(Arc::new(cause))
    }
}

impl fmt::Display for DbFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_ref() {
            Cause::Driver(e) => write!(f, "{e}"),
            Cause::TimedOut { what, after } => write!(f, "{what} took longer than {after:?}"),
            Cause::Other(what) => f.write_str(what),
        }
    }
}

impl fmt::Debug for DbFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_ref() {
            Cause::Driver(e) => write!(f, "DbFault({e:?})"),
            _ => write!(f, "DbFault({self})"),
        }
    }
}

impl std::error::Error for DbFault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.0.as_ref() {
            Cause::Driver(e) => std::error::Error::source(e),
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
