//! `_ldb_families`: which families (and tables) a partially replicated LDB holds, as the
//! comma-separated scopes its reflector followed (`--families`). Absent in an LDB that holds
//! every family, as every LDB ctlstore makes. It travels inside snapshots, so a host that
//! bootstraps can check a snapshot holds nothing it may not read.

use rusqlite::{Connection, OptionalExtension};

/// The table whose row `id = 1` holds the scopes.
pub const FAMILIES_TABLE: &str = "_ldb_families";

const CREATE_FAMILIES: &str = "CREATE TABLE IF NOT EXISTS _ldb_families (id INTEGER PRIMARY KEY NOT NULL, scopes TEXT NOT NULL)";
const SELECT_FAMILIES: &str = "SELECT scopes FROM _ldb_families WHERE id = 1";
const SET_FAMILIES: &str = "REPLACE INTO _ldb_families (id, scopes) VALUES (1, ?1)";

/// The scopes recorded in this LDB; `None` when it holds every family (no table, or no row).
pub fn read_families(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [FAMILIES_TABLE],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(None);
    }
    conn.query_row(SELECT_FAMILIES, [], |r| r.get(0)).optional()
}

/// Records `scopes` as what this LDB holds.
pub fn write_families(conn: &Connection, scopes: &str) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE_FAMILIES)?;
    conn.execute(SET_FAMILIES, [scopes])?;
    Ok(())
}
