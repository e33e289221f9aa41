//! The LDB: the SQLite file on every host that holds a copy of every ctlstore table, and the
//! only code that writes it.
//!
//! The layout is ctlstore's, so ctlstore's reader reads our LDBs and we read theirs: user tables
//! `family___table`, `_ldb_seq(id, seq)` with the row `id = 1` holding the last applied ledger
//! seq, `_ldb_last_update(name, timestamp)` with the row `'ledger'` holding that entry's
//! `leader_ts`, WAL journal mode.
//!
//! [`Ldb::apply`] applies ledger entries in order, exactly once: a `--- BEGIN` .. `--- COMMIT`
//! batch is one SQLite transaction (it may span several calls), a statement outside markers is
//! its own transaction, and `_ldb_seq` / `_ldb_last_update` are written in the same transaction
//! as the rows, so a crash at any moment leaves the file at a batch boundary with the seq that
//! matches it. Ledger SQL runs under an authorizer that allows only DML and DDL on
//! `family___table` tables: a compromised ctldb cannot `ATTACH`, `PRAGMA`, create triggers or
//! views, or call functions (such as `load_extension`) on the hosts.
//!
//! Architecture invariant: synchronous (rusqlite); no async runtime. The reflector calls it from
//! a blocking thread.

mod apply;
mod capture;
mod changelog;
mod layout;
mod sandbox;

pub use apply::{Applied, CheckpointMode, Ldb, LdbError, LdbOptions, wal_path};
pub use changelog::{Changelog, ChangelogError};
pub use layout::{DEFAULT_LDB_PATH, LAST_UPDATE_TABLE, SEQ_TABLE, go_timestamp, parse_timestamp};
