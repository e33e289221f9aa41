//! The reader library: what an application links to read its host's LDB.
//!
//! Architecture invariant: no async runtime, no HTTP, no sqlx in this crate's dependency tree
//! (checked by `.ci/run`); an application gets rusqlite and serde, nothing heavier.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The LDB's default location, as ctlstore's (`/var/spool/ctlstore/ldb.db`).
pub const DEFAULT_LDB_PATH: &str = "/var/spool/ctlstore/ldb.db";

/// Errors of the reader.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("no LDB found at {0}")]
    NotFound(PathBuf),
    #[error("LDB error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A read-only handle on an LDB.
pub struct Reader {
    conn: Connection,
    path: PathBuf,
}

impl Reader {
    /// Opens the LDB at `path` read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, ReaderError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(ReaderError::NotFound(path));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        Ok(Reader { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last ledger sequence applied to this LDB (0 before the first).
    pub fn last_sequence(&self) -> Result<i64, ReaderError> {
        let seq = self
            .conn
            .query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional();
        match seq {
            Ok(s) => Ok(s.unwrap_or(0)),
            Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sequence_of_a_ctlstore_ldb() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ldb.db");
        assert!(matches!(Reader::open(&path), Err(ReaderError::NotFound(_))));
        let w = Connection::open(&path).expect("create");
        w.execute_batch("CREATE TABLE other (x INTEGER)")
            .expect("create");
        assert_eq!(
            Reader::open(&path)
                .expect("open")
                .last_sequence()
                .expect("seq"),
            0
        );
        w.execute_batch(
            "CREATE TABLE _ldb_seq (id INTEGER PRIMARY KEY NOT NULL, seq BIGINT NOT NULL);
             INSERT INTO _ldb_seq VALUES (1, 42);",
        )
        .expect("ctlstore's layout");
        assert_eq!(
            Reader::open(&path)
                .expect("open")
                .last_sequence()
                .expect("seq"),
            42
        );
    }
}
