//! The LDB handle: opening an LDB for writing (layout, journal mode, sandbox, lock file), what
//! it knows about its own state, and WAL checkpoints. Applying entries is in `apply.rs`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::change_triggers::ChangeTriggers;
use crate::lock::LdbLock;
use crate::sandbox::Sandbox;
use crate::{Changelog, CheckpointMode, LdbError, LdbOptions};

/// The LDB, opened for applying the ledger. One per file: [`Ldb::open`] holds `<ldb>.lock`
/// until the handle is dropped, so a second writer (in this or another process) is refused
/// with [`LdbError::Locked`] instead of fighting this one over `_ldb_seq`.
pub struct Ldb {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    pub(crate) sandbox: Sandbox,
    pub(crate) options: LdbOptions,
    /// Last committed seq.
    pub(crate) committed: i64,
    /// Seq of the last entry applied inside the open batch, if a batch is open.
    pub(crate) open_batch: Option<i64>,
    pub(crate) changes: Option<ChangeTriggers>,
    /// Declared last: dropped after the connection is closed, so the next writer never finds
    /// the lock free while this connection still has the file open. `None` only inside
    /// [`Ldb::replace_contents`], which hands it to the reopened handle.
    lock: Option<LdbLock>,
}

impl Ldb {
    /// Opens (creating if needed) the LDB at `path` with ctlstore's layout and WAL journaling.
    /// Fails with [`LdbError::Locked`] if another `Ldb` has it open.
    pub fn open(path: impl AsRef<Path>, options: LdbOptions) -> Result<Ldb, LdbError> {
        // Before SQLite touches the file: a refused second writer changes nothing.
        let lock = LdbLock::acquire(path.as_ref())?;
        Ldb::open_locked(path, options, lock)
    }

    /// [`Ldb::open`] with the lock already held: a reflector takes it before bootstrapping, so
    /// two reflectors starting at once cannot both restore a snapshot into place.
    pub fn open_locked(
        path: impl AsRef<Path>,
        options: LdbOptions,
        lock: LdbLock,
    ) -> Result<Ldb, LdbError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| LdbError::Open {
            path: path.clone(),
            source,
        };
        crate::create_ldb_file(&path, options.group).map_err(|source| LdbError::Create {
            path: path.clone(),
            source,
        })?;
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
        ctlstore_ldb_layout::create_bookkeeping(&conn).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        let sandbox = Sandbox::default();
        sandbox.install(&conn).map_err(open_err)?;
        let committed = ctlstore_ldb_layout::read_seq(&conn).map_err(open_err)?;
        let log = options
            .changelog
            .as_ref()
            .map(|(log, size)| Changelog::new(log, *size));
        let feed = match options.change_feed {
            0 => None,
            retain => Some(crate::feed::Feed::install(&conn, retain, committed).map_err(open_err)?),
        };
        let changes = if log.is_some() || feed.is_some() {
            Some(ChangeTriggers::install(&conn, log, feed).map_err(open_err)?)
        } else {
            None
        };
        Ok(Ldb {
            conn,
            path,
            sandbox,
            options,
            committed,
            open_batch: None,
            changes,
            lock: Some(lock),
        })
    }

    /// Replaces the whole LDB with the database at `from` (a restored snapshot), in place: one
    /// SQLite backup step, so readers see the old contents or the new, never a mix, and keep
    /// their connections (the file is the same; `PRAGMA data_version` tells them it changed).
    /// Then reopens this handle on the new contents and records the bootstrap for the change
    /// feed. A reflector below the ledger's pruning horizon does this to catch up.
    pub fn replace_contents(&mut self, from: &Path) -> Result<(), LdbError> {
        let err = |source| LdbError::Open {
            path: from.to_path_buf(),
            source,
        };
        let source =
            Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
        {
            let backup = rusqlite::backup::Backup::new(&source, &mut self.conn).map_err(err)?;
            // -1: every page in one step, one transaction on the destination.
            match backup.step(-1).map_err(err)? {
                rusqlite::backup::StepResult::Done => {}
                _ => {
                    return Err(LdbError::Invariant {
                        seq: self.committed,
                        what: "the snapshot copy did not finish in one step",
                    });
                }
            }
        }
        drop(source);
        let lock = self.lock.take().ok_or(LdbError::Invariant {
            seq: self.committed,
            what: "LDB handle without its lock",
        })?;
        let fresh = Ldb::open_locked(&self.path, self.options.clone(), lock)?;
        // The old handle (its connection, without the lock) closes here.
        drop(std::mem::replace(self, fresh));
        self.mark_bootstrapped()
    }

    /// Records, when the change feed is on, that this LDB was just restored from the snapshot at
    /// its current seq: the feed then tells consumers further behind to re-read the tables.
    pub fn mark_bootstrapped(&self) -> Result<(), LdbError> {
        if self.options.change_feed == 0 {
            return Ok(());
        }
        ctlstore_ldb_layout::mark_bootstrapped(&self.conn, self.committed).map_err(|source| {
            LdbError::Open {
                path: self.path.clone(),
                source,
            }
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that ledger entries up to `seq` were followed, though none of them was for
    /// this LDB (a filtered feed carried it past them): `_ldb_seq` keeps saying how far this
    /// host has followed the ledger. Nothing happens inside an open batch (its `--- COMMIT`
    /// will carry the seq) or when `seq` is not newer.
    pub fn carry_to(&mut self, seq: i64) -> Result<(), LdbError> {
        if self.in_batch() || seq <= self.committed {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        ctlstore_ldb_layout::advance_seq(&tx, seq)?;
        tx.commit()?;
        self.committed = seq;
        Ok(())
    }

    /// The families this LDB holds (`_ldb_families`), `None` for every family.
    pub fn families(&self) -> Result<Option<String>, LdbError> {
        Ok(ctlstore_ldb_layout::read_families(&self.conn)?)
    }

    /// Records the families this LDB holds.
    pub fn set_families(&self, scopes: &str) -> Result<(), LdbError> {
        Ok(ctlstore_ldb_layout::write_families(&self.conn, scopes)?)
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
        Ok(ctlstore_ldb_layout::read_last_update(&self.conn)?)
    }

    /// Checkpoints the WAL when it has grown past the threshold, so readers never face an
    /// unbounded WAL. Failure is logged, not fatal: the next call tries again.
    pub(crate) fn checkpoint_if_large(&self) {
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

/// The WAL file beside an LDB.
pub fn wal_path(path: &Path) -> PathBuf {
    ctlstore_ldb_layout::wal_path(path)
}
