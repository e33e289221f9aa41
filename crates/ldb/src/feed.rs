//! The change feed: every committed batch's changed rows, kept in the LDB itself, written in
//! the same SQLite transaction as the batch (docs/decisions/0010-change-feed.md).
//!
//! The tables and their meaning are `ctlstore-ldb-layout`'s `feed.rs`.

use std::collections::HashSet;

use ctlstore_schema::parse_ldb_table_name;
use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde_json::Value as Json;

use crate::change_triggers::json_of;
use ctlstore_ldb_layout::{FEED_META_TABLE, FEED_TABLE, META_SINCE};

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
        ctlstore_ldb_layout::create_feed(conn, seq)?;
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
                &format!("UPDATE {FEED_META_TABLE} SET value = max(value, ?1) WHERE name = ?2"),
                params![cut, META_SINCE],
            )?;
        }
        Ok(())
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
