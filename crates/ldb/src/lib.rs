//! The LDB writer: the SQLite file on every host that holds a copy of every ctlstore table, and
//! the code that applies the ledger to it. (Snapshot restore is the one other writer: it
//! replaces the whole file before a reflector opens it; see `ctlstore-snapshot`.)
//!
//! The layout (user tables `family___table`, `_ldb_seq`, `_ldb_last_update`, WAL journal mode)
//! is ctlstore's and lives in `ctlstore-ldb-layout`, shared with the reader and snapshots; the
//! names most callers want are re-exported here.
//!
//! - [`Ldb`] (`ldb.rs`): the handle. [`Ldb::open`] creates the layout, installs the sandbox and
//!   holds `<ldb>.lock` (`lock.rs`) so a second writer is refused with [`LdbError::Locked`].
//! - [`Ldb::apply`] (`apply.rs`) applies ledger entries in order, exactly once: a `--- BEGIN` ..
//!   `--- COMMIT` batch is one SQLite transaction (it may span several calls), a statement
//!   outside markers is its own transaction, and `_ldb_seq` / `_ldb_last_update` are written in
//!   the same transaction as the rows, so a crash at any moment leaves the file at a batch
//!   boundary with the seq that matches it.
//! - `sandbox.rs`: ledger SQL runs under an authorizer that allows only DML and DDL on
//!   `family___table` tables: a compromised ctldb cannot `ATTACH`, `PRAGMA`, create triggers or
//!   views, or call functions (such as `load_extension`) on the hosts.
//! - `change_triggers.rs` + `changelog.rs`: ctlstore's changelog of changed keys; `feed.rs`:
//!   the change feed (each batch's changed rows, in the LDB, in the batch's transaction).
//! - [`LdbOptions`] (`options.rs`) and [`LdbError`] (`error.rs`).
//!
//! Architecture invariant: synchronous (rusqlite); no async runtime. The reflector calls it from
//! a blocking thread.

mod access;
mod apply;
mod change_triggers;
mod changelog;
mod error;
mod feed;
mod ldb;
mod lock;
mod options;
mod sandbox;

pub use access::{LDB_FILE_MODE, create_ldb_file, resolve_group, secure_ldb_file};
pub use apply::Applied;
pub use changelog::{Changelog, ChangelogError};
pub use ctlstore_ldb_layout::{
    DEFAULT_LDB_PATH, LAST_UPDATE_TABLE, SEQ_TABLE, go_timestamp, lock_path, parse_timestamp,
};
pub use error::LdbError;
pub use ldb::{Ldb, wal_path};
pub use lock::LdbLock;
pub use options::{CheckpointMode, LdbOptions};
