//! The change feed: every committed batch's changed rows, kept in the LDB itself, written in
//! the same SQLite transaction as the batch (docs/decisions/0010-change-feed.md).
//!
//! `_ctlstore_feed(seq, n, family, tbl, op, key, row)` holds, per applied batch (its last
//! ledger seq), one line per distinct changed row in the order first touched: `op` is `upsert`
//! with the row as it is after the batch (JSON), or `delete`. `key` is the primary key values
//! as a JSON array. `_ctlstore_feed_meta` holds `since`: the feed has every batch after that
//! seq (it moves forward as old batches are pruned, and starts at the LDB's seq when the feed
//! is first enabled, or when the file came from a snapshot). ctlstore's reader and tools ignore
//! both tables: they are not `family___table` tables.

use std::collections::HashSet;

use ctlstore_schema::parse_ldb_table_name;
use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde_json::Value as Json;

use crate::change_triggers::json_of;

/// The table of changes.
pub const FEED_TABLE: &str = "_ctlstore_feed";
/// The feed's bookkeeping: `since`.
pub const FEED_META_TABLE: &str = "_ctlstore_feed_meta";

/// Prune at most this often (in batches): pruning is one indexed DELETE.
const PRUNE_EVERY: u64 = 64;

pub(crate) struct Feed {
    /// Changes to keep, at least.
    retain: u64,
    /// Keys captured in the open batch: (LDB table, key values), in order.
    pub(crate) pending: Vec<(String, Vec<Value>)>,
    batches: u64,
}

impl Feed {
    /// Creates the tables when missing. A new feed starts at the LDB's seq: earlier changes
    /// were never recorded.
    pub fn install(conn: &Connection, retain: u64, seq: i64) -> rusqlite::Result<Feed> {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {FEED_TABLE} (seq INTEGER NOT NULL, n INTEGER NOT NULL, family TEXT NOT NULL, tbl TEXT NOT NULL, op TEXT NOT NULL, key TEXT NOT NULL, row TEXT, PRIMARY KEY (seq, n)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS {FEED_META_TABLE} (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        ))?;
        conn.execute(
            &format!("INSERT OR IGNORE INTO {FEED_META_TABLE} (name, value) VALUES ('since', ?1)"),
            [seq],
        )?;
        Ok(Feed {
            retain: retain.max(1),
            pending: Vec::new(),
            batches: 0,
        })
    }

    /// Writes the open batch's changes as batch `seq`, inside its transaction.
    pub fn write(
        &mut self,
        conn: &Connection,
        seq: i64,
        keys: &std::collections::HashMap<String, Vec<(String, String)>>,
    ) -> rusqlite::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let mut seen = HashSet::new();
        let mut n = 0i64;
        for (table, key) in pending {
            let Some(columns) = keys.get(&table) else {
                continue;
            };
            let Some((family, name)) = parse_ldb_table_name(&table) else {
                continue;
            };
            let key_json: Vec<Json> = key.iter().map(json_of).collect();
            let key_text = Json::Array(key_json).to_string();
            if !seen.insert((table.clone(), key_text.clone())) {
                continue;
            }
            let filter = columns
                .iter()
                .enumerate()
                .map(|(i, (c, _))| format!("{} = ?{}", quote(c), i + 1))
                .collect::<Vec<_>>()
                .join(" AND ");
            let mut statement = conn.prepare_cached(&format!(
                "SELECT * FROM main.{} WHERE {filter}",
                quote(&table)
            ))?;
            let names: Vec<String> = statement
                .column_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            let mut rows = statement.query(rusqlite::params_from_iter(key.iter()))?;
            let row = match rows.next()? {
                Some(r) => {
                    let mut object = serde_json::Map::new();
                    for (i, column) in names.iter().enumerate() {
                        object.insert(column.clone(), json_of(&r.get::<_, Value>(i)?));
                    }
                    Some(Json::Object(object).to_string())
                }
                None => None,
            };
            let op = if row.is_some() { "upsert" } else { "delete" };
            conn.prepare_cached(&format!("INSERT INTO {FEED_TABLE} (seq, n, family, tbl, op, key, row) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"))?
                .execute(params![seq, n, family.as_str(), name.as_str(), op, key_text, row])?;
            n += 1;
        }
        self.batches += 1;
        if self.batches.is_multiple_of(PRUNE_EVERY) {
            self.prune(conn)?;
        }
        Ok(())
    }

    /// Keeps the newest `retain` changes (whole batches), moving `since` past what goes.
    fn prune(&self, conn: &Connection) -> rusqlite::Result<()> {
        let cut: Option<i64> = conn
            .query_row(
                &format!(
                    "SELECT seq FROM {FEED_TABLE} ORDER BY seq DESC, n DESC LIMIT 1 OFFSET ?1"
                ),
                [self.retain as i64],
                |r| r.get(0),
            )
            .ok();
        if let Some(cut) = cut {
            conn.execute(&format!("DELETE FROM {FEED_TABLE} WHERE seq <= ?1"), [cut])?;
            conn.execute(
                &format!(
                    "UPDATE {FEED_META_TABLE} SET value = max(value, ?1) WHERE name = 'since'"
                ),
                [cut],
            )?;
        }
        Ok(())
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
