//! What can go wrong opening an LDB or applying entries to it, and what the caller can do.

use std::path::PathBuf;

/// Why the LDB could not be opened or entries could not be applied. After an apply error the
/// open batch (if any) is rolled back and [`crate::Ldb::seq`] is the last committed seq again:
/// the caller refetches from there.
#[derive(Debug, thiserror::Error)]
pub enum LdbError {
    #[error("LDB {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// Another `Ldb` (another reflector, in this or another process) has this LDB open. Fatal
    /// at startup: stop the other writer, or point this one at a different LDB.
    #[error(
        "LDB {ldb} is in use: another process{} holds its lock file {lock}; \
         only one reflector may write an LDB",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked {
        ldb: PathBuf,
        lock: PathBuf,
        /// The process id the holder wrote into the lock file, if readable.
        holder: Option<u32>,
    },
    /// The lock file beside the LDB could not be created or locked (permissions, a read-only
    /// directory, a file system without locks).
    #[error("LDB lock file {path}: {source}")]
    LockFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("LDB error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The authorizer refused a ledger statement. Never skipped: the reflector halts on it.
    #[error("ledger seq {seq}: statement refused by the LDB sandbox ({reason}): {statement}")]
    Refused {
        seq: i64,
        statement: String,
        reason: String,
    },
    /// SQLite could not execute a ledger statement.
    #[error("ledger seq {seq}: exec dml statement error: {error}: {statement}")]
    Statement {
        seq: i64,
        statement: String,
        error: rusqlite::Error,
    },
    /// An entry at or below the applied seq.
    #[error("update seq tracker replay detected: seq {seq} is not after {applied}")]
    Replay { seq: i64, applied: i64 },
    /// Markers out of place (`--- BEGIN` inside a batch, `--- COMMIT` outside one).
    #[error("invariant violation at ledger seq {seq}: {what}")]
    Invariant { seq: i64, what: &'static str },
}

impl LdbError {
    /// Errors that a retry cannot fix: the same entry will fail the same way.
    pub fn is_poison(&self) -> bool {
        matches!(
            self,
            LdbError::Refused { .. } | LdbError::Statement { .. } | LdbError::Invariant { .. }
        )
    }
}
