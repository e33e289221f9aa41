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
    /// The LDB file could not be created with its mode and group.
    #[error("create LDB {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
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
        match self {
            LdbError::Refused { .. } | LdbError::Invariant { .. } => true,
            // A statement that failed because of the host (a full disk, an I/O error, a lock)
            // is not the entry's fault: retried, never halted on.
            LdbError::Statement { error, .. } => !is_environmental(error),
            _ => false,
        }
    }
}

/// Errors that come from the machine, not from the statement: retrying can succeed once the
/// machine recovers (space freed, the disk back, a lock released).
fn is_environmental(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        error.sqlite_error_code(),
        Some(
            DiskFull
                | SystemIoFailure
                | DatabaseBusy
                | DatabaseLocked
                | OutOfMemory
                | CannotOpen
                | ReadOnly
                | FileLockingProtocolFailed
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement_error(code: std::ffi::c_int) -> LdbError {
        LdbError::Statement {
            seq: 7,
            statement: "REPLACE INTO fam___t VALUES(1)".into(),
            error: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
        }
    }

    #[test]
    fn a_full_disk_is_retried_a_bad_statement_halts() {
        assert!(!statement_error(rusqlite::ffi::SQLITE_FULL).is_poison());
        assert!(!statement_error(rusqlite::ffi::SQLITE_IOERR).is_poison());
        assert!(!statement_error(rusqlite::ffi::SQLITE_BUSY).is_poison());
        assert!(statement_error(rusqlite::ffi::SQLITE_CONSTRAINT).is_poison());
        assert!(statement_error(rusqlite::ffi::SQLITE_ERROR).is_poison());
    }
}
