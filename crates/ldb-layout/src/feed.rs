//! The change feed's tables (docs/decisions/0010-change-feed.md). The reflector writes them
//! (`ctlstore-ldb`), the reader follows them (`ctlstore-reader`).
//!
//! - [`FEED_TABLE`] `_ctlstore_feed(seq, n, family, tbl, op, key, row)`: per applied batch (its
//!   last ledger seq), one line per distinct changed row in the order first touched.
//! - [`FEED_META_TABLE`] `_ctlstore_feed_meta(name, value)`: [`META_SINCE`], the feed has every
//!   batch after that seq; [`META_BOOTSTRAPPED`], the seq of the snapshot this LDB was restored
//!   from, when it was (the rows up to it came from the snapshot, not from changes).
//!
//! ctlstore's reader and tools ignore both: they are not `family___table` tables.

use rusqlite::{Connection, OptionalExtension};

/// The table of changes.
pub const FEED_TABLE: &str = "_ctlstore_feed";
/// The feed's bookkeeping.
pub const FEED_META_TABLE: &str = "_ctlstore_feed_meta";
/// `since`: the feed holds every batch after this seq.
pub const META_SINCE: &str = "since";
/// `bootstrapped`: the seq of the snapshot the LDB was restored from.
pub const META_BOOTSTRAPPED: &str = "bootstrapped";

/// Creates the feed's tables when missing; a new feed starts at `seq` (earlier changes were
/// never recorded).
pub fn create_feed(conn: &Connection, seq: i64) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {FEED_TABLE} (seq INTEGER NOT NULL, n INTEGER NOT NULL, family TEXT NOT NULL, tbl TEXT NOT NULL, op TEXT NOT NULL, key TEXT NOT NULL, row TEXT, PRIMARY KEY (seq, n)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS {FEED_META_TABLE} (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    ))?;
    conn.execute(
        &format!("INSERT OR IGNORE INTO {FEED_META_TABLE} (name, value) VALUES (?1, ?2)"),
        rusqlite::params![META_SINCE, seq],
    )?;
    Ok(())
}

/// Records that the LDB now holds the snapshot of `seq`: the feed goes on from there (batches
/// the snapshot's own feed kept stay readable), and a consumer further behind is told to
/// re-read the tables instead of being handed changes that no longer add up.
pub fn mark_bootstrapped(conn: &Connection, seq: i64) -> rusqlite::Result<()> {
    create_feed(conn, seq)?;
    conn.execute(
        &format!("INSERT OR REPLACE INTO {FEED_META_TABLE} (name, value) VALUES (?1, ?2)"),
        rusqlite::params![META_BOOTSTRAPPED, seq],
    )?;
    Ok(())
}

/// A value of the feed's bookkeeping; `Err` when the LDB has no feed.
pub fn read_feed_meta(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        &format!("SELECT value FROM {FEED_META_TABLE} WHERE name = ?1"),
        [name],
        |r| r.get(0),
    )
    .optional()
}

/// What the feed holds now: [`read_feed_retention`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRetention {
    /// Every batch after this seq is held.
    pub since: i64,
    /// The newest batch held (`since` when none is).
    pub newest: i64,
    /// Changed rows held (the retention bound counts these).
    pub changes: i64,
    /// The snapshot's seq, when the LDB was restored from one.
    pub bootstrapped: Option<i64>,
}

/// The feed's retention; `Err` when the LDB has no feed.
pub fn read_feed_retention(conn: &Connection) -> rusqlite::Result<FeedRetention> {
    let since = read_feed_meta(conn, META_SINCE)?.unwrap_or_default();
    let bootstrapped = read_feed_meta(conn, META_BOOTSTRAPPED)?;
    let (newest, changes): (Option<i64>, i64) = conn.query_row(
        &format!("SELECT MAX(seq), COUNT(*) FROM {FEED_TABLE}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(FeedRetention {
        since,
        newest: newest.unwrap_or(since).max(since),
        changes,
        bootstrapped,
    })
}
