//! The two bookkeeping tables: their DDL, and the only SQL that reads or writes them.
//!
//! Every function prepares through the connection's statement cache, so the reader's and the
//! writer's per-call cost is a cache lookup, not a parse.

use rusqlite::{Connection, OptionalExtension};

/// The table whose row `id = 1` holds the last applied ledger seq.
pub const SEQ_TABLE: &str = "_ldb_seq";
/// The table whose row `name = 'ledger'` holds the last applied entry's leader timestamp.
pub const LAST_UPDATE_TABLE: &str = "_ldb_last_update";

/// ctlstore's DDL, verbatim (`pkg/ldb/ldbs.go`): the text in `sqlite_master` is the same as in
/// an LDB ctlstore created.
pub const CREATE_BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS _ldb_seq (
	id INTEGER PRIMARY KEY NOT NULL,
	seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS _ldb_last_update (
	name STRING PRIMARY KEY NOT NULL,
	timestamp DATETIME NOT NULL
);";

const SELECT_SEQ: &str = "SELECT seq FROM _ldb_seq WHERE id = 1";
const SELECT_LAST_UPDATE: &str = "SELECT timestamp FROM _ldb_last_update WHERE name = 'ledger'";
/// ctlstore's monotonic seq update: affects no row when `seq` is not newer (a replay).
const ADVANCE_SEQ: &str = "INSERT OR REPLACE INTO _ldb_seq (id, seq) SELECT 1, ?1 WHERE \
    (NOT EXISTS (SELECT * FROM _ldb_seq WHERE id = 1)) OR ((SELECT seq FROM _ldb_seq WHERE id = 1) < ?1)";
const SET_LAST_UPDATE: &str =
    "REPLACE INTO _ldb_last_update (name, timestamp) VALUES ('ledger', ?1)";

/// Creates the bookkeeping tables if they are missing.
pub fn create_bookkeeping(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE_BOOKKEEPING)
}

/// The last applied ledger seq; 0 when none was applied. Fails if [`SEQ_TABLE`] is missing
/// (not an LDB, or one not yet created): callers decide what that means for them.
pub fn read_seq(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached(SELECT_SEQ)?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The last applied entry's leader timestamp as stored (go-sqlite3's layout; see
/// [`crate::parse_timestamp`]); `None` before the first entry. Fails if [`LAST_UPDATE_TABLE`]
/// is missing.
pub fn read_last_update(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(SELECT_LAST_UPDATE)?
        .query_row([], |r| r.get(0))
        .optional()
}

/// Records `seq` as applied if it is newer than the recorded one. Returns `false`, changing
/// nothing, when it is not (a replay). Run it in the transaction of the entry it describes.
pub fn advance_seq(conn: &Connection, seq: i64) -> rusqlite::Result<bool> {
    Ok(conn.prepare_cached(ADVANCE_SEQ)?.execute([seq])? > 0)
}

/// Records the applied entry's leader timestamp, already in go-sqlite3's layout (see
/// [`crate::go_timestamp`]). Run it in the transaction of the entry it describes.
pub fn set_last_update(conn: &Connection, timestamp: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(SET_LAST_UPDATE)?.execute([timestamp])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        create_bookkeeping(&conn).expect("create");
        conn
    }

    #[test]
    fn the_ddl_creates_the_named_tables() {
        let conn = fresh();
        let mut names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("names");
        names.sort();
        assert_eq!(names, [LAST_UPDATE_TABLE, SEQ_TABLE]);
        create_bookkeeping(&conn).expect("creating twice is harmless");
    }

    #[test]
    fn a_fresh_ldb_is_at_seq_0_with_no_update() {
        let conn = fresh();
        assert_eq!(read_seq(&conn).expect("seq"), 0);
        assert_eq!(read_last_update(&conn).expect("last update"), None);
    }

    #[test]
    fn the_seq_only_moves_forward() {
        let conn = fresh();
        assert!(advance_seq(&conn, 5).expect("advance"));
        assert!(
            !advance_seq(&conn, 5).expect("replay"),
            "a replay changes nothing"
        );
        assert!(
            !advance_seq(&conn, 3).expect("older"),
            "an older seq changes nothing"
        );
        assert_eq!(read_seq(&conn).expect("seq"), 5);
        assert!(advance_seq(&conn, 9).expect("advance"));
        assert_eq!(read_seq(&conn).expect("seq"), 9);
    }

    #[test]
    fn the_last_update_is_replaced() {
        let conn = fresh();
        set_last_update(&conn, "2024-02-07 22:04:32+00:00").expect("set");
        set_last_update(&conn, "2024-02-07 22:04:33+00:00").expect("set");
        assert_eq!(
            read_last_update(&conn).expect("read").as_deref(),
            Some("2024-02-07 22:04:33+00:00")
        );
    }

    #[test]
    fn a_file_without_the_layout_is_an_error() {
        let conn = Connection::open_in_memory().expect("open");
        assert!(read_seq(&conn).is_err());
        assert!(read_last_update(&conn).is_err());
    }
}
