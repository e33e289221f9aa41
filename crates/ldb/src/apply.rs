//! Applying ledger entries to the LDB.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ctlstore_ledger::{LedgerEntry, Statement};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::Changelog;
use crate::capture::ChangeCapture;
use crate::layout::{ADVANCE_SEQ, CREATE_BOOKKEEPING, SET_LAST_UPDATE, go_timestamp};
use crate::sandbox::Sandbox;

/// `PRAGMA wal_checkpoint` modes (ctlstore `-wal-checkpoint-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    Passive,
    Full,
    Restart,
    Truncate,
}

impl CheckpointMode {
    pub fn parse(text: &str) -> Option<CheckpointMode> {
        match text.to_ascii_uppercase().as_str() {
            "PASSIVE" => Some(CheckpointMode::Passive),
            "FULL" => Some(CheckpointMode::Full),
            "RESTART" => Some(CheckpointMode::Restart),
            "TRUNCATE" => Some(CheckpointMode::Truncate),
            _ => None,
        }
    }

    fn sql_name(self) -> &'static str {
        match self {
            CheckpointMode::Passive => "PASSIVE",
            CheckpointMode::Full => "FULL",
            CheckpointMode::Restart => "RESTART",
            CheckpointMode::Truncate => "TRUNCATE",
        }
    }
}

/// How the LDB is opened.
#[derive(Debug, Clone)]
pub struct LdbOptions {
    /// How long a write waits for a lock held by another connection (ctlstore `-busy-timeout-ms`).
    pub busy_timeout: Duration,
    /// Checkpoint the WAL once it is larger than this (ctlstore
    /// `-wal-checkpoint-threshold-size`); 0 leaves it to SQLite's automatic checkpoints.
    pub wal_checkpoint_threshold: u64,
    /// The checkpoint mode (ctlstore `-wal-checkpoint-type`).
    pub wal_checkpoint_mode: CheckpointMode,
    /// Write ctlstore's changelog of row changes: path and rotation size in bytes.
    pub changelog: Option<(PathBuf, u64)>,
}

impl Default for LdbOptions {
    fn default() -> Self {
        LdbOptions {
            busy_timeout: Duration::from_secs(5),
            wal_checkpoint_threshold: 8 * 1024 * 1024,
            wal_checkpoint_mode: CheckpointMode::Passive,
            changelog: None,
        }
    }
}

/// Why entries could not be applied. After any error the open batch (if any) is rolled back
/// and [`Ldb::seq`] is the last committed seq again: the caller refetches from there.
#[derive(Debug, thiserror::Error)]
pub enum LdbError {
    #[error("LDB {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
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

/// What one call to [`Ldb::apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries applied (markers included), committed or inside the open batch.
    pub entries: usize,
    /// The last committed seq.
    pub committed_seq: i64,
}

/// The LDB, opened for applying the ledger. One per file: a second writer would be refused
/// by the seq tracker anyway.
pub struct Ldb {
    conn: Connection,
    path: PathBuf,
    sandbox: Sandbox,
    options: LdbOptions,
    /// Last committed seq.
    committed: i64,
    /// Seq of the last entry applied inside the open batch, if a batch is open.
    open_batch: Option<i64>,
    changes: Option<ChangeCapture>,
}

impl Ldb {
    /// Opens (creating if needed) the LDB at `path` with ctlstore's layout and WAL journaling.
    pub fn open(path: impl AsRef<Path>, options: LdbOptions) -> Result<Ldb, LdbError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| LdbError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(options.busy_timeout).map_err(open_err)?;
        // WAL: readers never block on the reflector and never see a half-applied batch.
        // synchronous=NORMAL (ctlstore's go-sqlite3 build default in WAL mode): a commit survives
        // a process crash; after an OS crash the last commits may be lost, but the file stays
        // consistent and `_ldb_seq` says where to resume, so nothing is lost for good.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.execute_batch(CREATE_BOOKKEEPING).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        let sandbox = Sandbox::default();
        sandbox.install(&conn).map_err(open_err)?;
        let committed = read_seq(&conn).map_err(open_err)?;
        let changes = match &options.changelog {
            Some((log, size)) => {
                Some(ChangeCapture::install(&conn, Changelog::new(log, *size)).map_err(open_err)?)
            }
            None => None,
        };
        Ok(Ldb {
            conn,
            path,
            sandbox,
            options,
            committed,
            open_batch: None,
            changes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last committed ledger seq (0 for a new LDB).
    pub fn seq(&self) -> i64 {
        self.committed
    }

    /// Whether a `--- BEGIN` has been applied and its `--- COMMIT` not yet.
    pub fn in_batch(&self) -> bool {
        self.open_batch.is_some()
    }

    /// The seq of the last entry applied, including inside an open batch: where to fetch from.
    pub fn applied_seq(&self) -> i64 {
        self.open_batch.unwrap_or(self.committed)
    }

    /// The `_ldb_last_update` timestamp as stored.
    pub fn last_update(&self) -> Result<Option<String>, LdbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT timestamp FROM _ldb_last_update WHERE name = 'ledger'",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    // PERFORMANCE-CRITICAL PATH: catch-up applies every ledger entry through here.
    /// Applies `entries` (which must follow [`Ldb::applied_seq`] in seq order; gaps are allowed)
    /// and returns how far it got. On error nothing of the open batch remains.
    pub fn apply(&mut self, entries: &[LedgerEntry]) -> Result<Applied, LdbError> {
        let mut applied = 0;
        for entry in entries {
            if let Err(e) = self.apply_one(entry) {
                self.abandon_batch();
                return Err(e);
            }
            applied += 1;
        }
        self.checkpoint_if_large();
        Ok(Applied {
            entries: applied,
            committed_seq: self.committed,
        })
    }

    fn apply_one(&mut self, entry: &LedgerEntry) -> Result<(), LdbError> {
        let after = self.applied_seq();
        if entry.seq <= after {
            return Err(LdbError::Replay {
                seq: entry.seq,
                applied: after,
            });
        }
        match entry.kind() {
            Statement::Begin => {
                if self.in_batch() {
                    return Err(LdbError::Invariant {
                        seq: entry.seq,
                        what: "--- BEGIN inside a batch",
                    });
                }
                self.conn.execute_batch("BEGIN")?;
                self.track(entry)?;
                self.open_batch = Some(entry.seq);
            }
            Statement::Commit => {
                if !self.in_batch() {
                    return Err(LdbError::Invariant {
                        seq: entry.seq,
                        what: "--- COMMIT outside a batch",
                    });
                }
                self.track(entry)?;
                // Durable point of a batch: its rows, _ldb_seq and _ldb_last_update together.
                self.conn.execute_batch("COMMIT")?;
                self.open_batch = None;
                self.committed = entry.seq;
            }
            Statement::Sql(sql) => {
                let own_transaction = !self.in_batch();
                if own_transaction {
                    self.conn.execute_batch("BEGIN")?;
                }
                self.track(entry)?;
                if let Some(changes) = self.changes.as_mut()
                    && is_ddl(sql)
                {
                    changes.drop_triggers(&self.conn)?;
                }
                self.run_ledger_sql(entry.seq, sql)?;
                // ctlstore writes the changelog after each ledger row, even inside a batch.
                if let Some(changes) = self.changes.as_mut() {
                    changes.flush(&self.conn);
                    if is_ddl(sql) {
                        changes.rebuild_triggers(&self.conn)?;
                    }
                }
                if own_transaction {
                    self.conn.execute_batch("COMMIT")?;
                    self.committed = entry.seq;
                } else {
                    self.open_batch = Some(entry.seq);
                }
            }
        }
        Ok(())
    }

    /// Records the entry's seq and leader timestamp, in the entry's transaction.
    fn track(&self, entry: &LedgerEntry) -> Result<(), LdbError> {
        let changed = self
            .conn
            .prepare_cached(ADVANCE_SEQ)?
            .execute([entry.seq])?;
        if changed == 0 {
            return Err(LdbError::Replay {
                seq: entry.seq,
                applied: read_seq(&self.conn)?,
            });
        }
        self.conn
            .prepare_cached(SET_LAST_UPDATE)?
            .execute([go_timestamp(&entry.leader_ts)])?;
        Ok(())
    }

    fn run_ledger_sql(&self, seq: i64, sql: &str) -> Result<(), LdbError> {
        let (result, refusal) = self.sandbox.run(|| self.conn.execute_batch(sql));
        match (result, refusal) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(reason)) => Err(LdbError::Refused {
                seq,
                statement: sql.to_string(),
                reason,
            }),
            (Err(error), None) => Err(LdbError::Statement {
                seq,
                statement: sql.to_string(),
                error,
            }),
        }
    }

    fn abandon_batch(&mut self) {
        if let Some(changes) = &self.changes {
            changes.discard(&self.conn);
        }
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "roll back the open LDB transaction");
        }
        self.open_batch = None;
    }

    /// Checkpoints the WAL when it has grown past the threshold, so readers never face an
    /// unbounded WAL. Failure is logged, not fatal: the next call tries again.
    fn checkpoint_if_large(&self) {
        let threshold = self.options.wal_checkpoint_threshold;
        if threshold == 0 || self.in_batch() {
            return;
        }
        let wal = wal_path(&self.path);
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size > threshold {
            match self.checkpoint(self.options.wal_checkpoint_mode) {
                Ok((busy, log, done)) => {
                    tracing::debug!(wal_bytes = size, busy, log, done, "WAL checkpoint")
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint"),
            }
        }
    }

    /// Runs `PRAGMA wal_checkpoint(mode)`; returns (busy, WAL frames, frames checkpointed).
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<(i64, i64, i64), LdbError> {
        let name = mode.sql_name();
        Ok(self
            .conn
            .query_row(&format!("PRAGMA wal_checkpoint({name})"), [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?)
    }

    /// The connection, for read queries (tests, snapshots).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for Ldb {
    fn drop(&mut self) {
        self.abandon_batch();
    }
}

fn is_ddl(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
    matches!(head.as_str(), "CREATE" | "ALTER " | "DROP T" | "DROP I")
}

/// The WAL file beside an LDB.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

fn read_seq(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}
