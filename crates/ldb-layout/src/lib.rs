//! ctlstore's LDB layout, in one place: what an LDB file holds besides the user tables, how to
//! read and write it, and which files live beside it. The writer (`ctlstore-ldb`), the reader
//! (`ctlstore-reader`) and snapshots (`ctlstore-snapshot`) all take these facts from here.
//!
//! The layout is ctlstore's (`pkg/ldb/ldbs.go`), so ctlstore's reader reads our LDBs and we read
//! theirs:
//! - user tables `family___table`;
//! - [`SEQ_TABLE`] `_ldb_seq(id, seq)`: the row `id = 1` holds the last applied ledger seq
//!   ([`read_seq`], [`advance_seq`]);
//! - [`LAST_UPDATE_TABLE`] `_ldb_last_update(name, timestamp)`: the row `'ledger'` holds that
//!   entry's `leader_ts` in go-sqlite3's layout ([`read_last_update`], [`set_last_update`],
//!   [`go_timestamp`], [`parse_timestamp`]);
//! - WAL journal mode, so the WAL ([`wal_path`]) and shared-memory files sit beside the LDB,
//!   and the writer's lock file ([`lock_path`]);
//! - our change feed's tables, which ctlstore ignores (`feed.rs`).
//!
//! Architecture invariant: depends on rusqlite only, so the reader can use it without pulling
//! in the LDB writer.

mod bookkeeping;
mod families;
mod feed;
mod files;
mod timestamp;

pub use bookkeeping::{
    CREATE_BOOKKEEPING, LAST_UPDATE_TABLE, SEQ_TABLE, advance_seq, create_bookkeeping,
    read_last_update, read_seq, set_last_update,
};
pub use families::{FAMILIES_TABLE, read_families, write_families};
pub use feed::{
    FEED_META_TABLE, FEED_TABLE, FeedRetention, META_BOOTSTRAPPED, META_SINCE, create_feed,
    mark_bootstrapped, read_feed_meta, read_feed_retention,
};
pub use files::{SQLITE_SIDE_SUFFIXES, lock_path, wal_path};
pub use timestamp::{bounded_timestamp, format_timestamp, go_timestamp, parse_timestamp};

/// Where ctlstore keeps the LDB.
pub const DEFAULT_LDB_PATH: &str = "/var/spool/ctlstore/ldb.db";
