//! Captures row changes for the changelog with temporary triggers on the LDB connection.
//!
//! ctlstore uses SQLite's pre-update hook, which needs a SQLite built with it and bindgen at
//! build time. Triggers give the same information with the stock build: for every
//! `family___table`, `AFTER INSERT/UPDATE/DELETE` triggers (in the connection's `temp` schema,
//! so the LDB file never sees them) copy the key of each changed row into
//! `temp._ctlstore_changes`, one row per key column. With `recursive_triggers` on, a `REPLACE`
//! that overwrites a row reports a delete and an insert, as the hook does. After each applied
//! ledger entry the captured keys become changelog lines and the table is emptied.

use base64::Engine;
use ctlstore_schema::parse_ldb_table_name;
use rusqlite::Connection;
use rusqlite::types::Value;
use serde_json::Value as Json;

use crate::Changelog;

/// Triggers are named with this prefix; the sandbox lets their statements through.
pub(crate) const TRIGGER_PREFIX: &str = "_ctlstore_changelog_";

/// Key columns of a table: (name, declared type), in column order (ctlstore's).
type KeyColumns = Vec<(String, String)>;

pub(crate) struct ChangeTriggers {
    /// ctlstore's changelog file, when configured.
    log: Option<Changelog>,
    /// The change feed, when enabled: captured keys are kept for the batch's feed lines.
    pub(crate) feed: Option<crate::feed::Feed>,
    pub(crate) keys: std::collections::HashMap<String, KeyColumns>,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl ChangeTriggers {
    pub fn install(
        conn: &Connection,
        log: Option<Changelog>,
        feed: Option<crate::feed::Feed>,
    ) -> rusqlite::Result<ChangeTriggers> {
        conn.execute_batch(
            "PRAGMA recursive_triggers = ON;
             CREATE TEMP TABLE IF NOT EXISTS _ctlstore_changes (tbl TEXT NOT NULL, pos INTEGER NOT NULL, v);",
        )?;
        let mut triggers = ChangeTriggers {
            log,
            feed,
            keys: Default::default(),
        };
        triggers.rebuild_triggers(conn)?;
        Ok(triggers)
    }

    /// Drops every capture trigger. Done before a DDL ledger statement runs: SQLite drops a
    /// table's triggers with it, and that would ask the sandbox to let a ledger statement touch
    /// the `temp` schema. `rebuild_triggers` puts them back afterwards.
    pub fn drop_triggers(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let old: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for name in old.iter().filter(|n| n.starts_with(TRIGGER_PREFIX)) {
            conn.execute_batch(&format!("DROP TRIGGER IF EXISTS temp.{}", quote(name)))?;
        }
        self.keys.clear();
        Ok(())
    }

    /// (Re)creates the triggers for every family table; after DDL the set or the keys changed.
    pub fn rebuild_triggers(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.drop_triggers(conn)?;
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for table in tables
            .into_iter()
            .filter(|t| parse_ldb_table_name(t).is_some())
        {
            let keys: KeyColumns = conn
                .prepare("SELECT name, type FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY cid")?
                .query_map([&table], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                continue;
            }
            let rows = |row: &str| -> String {
                keys.iter()
                    .enumerate()
                    .map(|(i, (k, _))| format!("('{table}', {i}, {row}.{})", quote(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let insert = |values: String| {
                format!("INSERT INTO _ctlstore_changes (tbl, pos, v) VALUES {values};")
            };
            let trigger = |event: &str, body: String| {
                format!(
                    "CREATE TEMP TRIGGER {} AFTER {event} ON main.{} BEGIN {body} END;",
                    quote(&format!(
                        "{TRIGGER_PREFIX}{}_{table}",
                        event.to_ascii_lowercase()
                    )),
                    quote(&table)
                )
            };
            conn.execute_batch(&trigger("INSERT", insert(rows("NEW"))))?;
            conn.execute_batch(&trigger("DELETE", insert(rows("OLD"))))?;
            conn.execute_batch(&trigger(
                "UPDATE",
                format!("{} {}", insert(rows("OLD")), insert(rows("NEW"))),
            ))?;
            self.keys.insert(table, keys);
        }
        Ok(())
    }

    /// Drops what was captured (the statement that made it rolled back) and the open batch's
    /// feed lines.
    pub fn discard_batch(&mut self, conn: &Connection) {
        if let Some(feed) = &mut self.feed {
            feed.pending.clear();
        }
        self.discard(conn);
    }

    /// Writes the open batch's feed lines (inside its transaction) as batch `seq`.
    pub fn write_feed(&mut self, conn: &Connection, seq: i64) -> rusqlite::Result<()> {
        match &mut self.feed {
            Some(feed) => feed.write(conn, seq, &self.keys),
            None => Ok(()),
        }
    }

    /// Drops what was captured (the statement that made it rolled back).
    pub fn discard(&self, conn: &Connection) {
        if let Err(e) = conn.execute_batch("DELETE FROM temp._ctlstore_changes") {
            tracing::warn!(error = %e, "changelog: clear captured changes");
        }
    }

    /// Writes one line per changed key, then forgets what it wrote.
    pub fn flush(&mut self, conn: &Connection) {
        let captured: rusqlite::Result<Vec<(String, Value)>> = conn
            .prepare_cached("SELECT tbl, v FROM temp._ctlstore_changes ORDER BY rowid")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
        let captured = match captured {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "changelog: read captured changes");
                return;
            }
        };
        self.discard(conn);
        // A trigger writes one row per key column, in key order: chunk them back into keys.
        let mut i = 0;
        while i < captured.len() {
            let table = &captured[i].0;
            let Some(columns) = self.keys.get(table) else {
                i += 1;
                continue;
            };
            let Some((family, name)) = parse_ldb_table_name(table) else {
                i += 1;
                continue;
            };
            let end = (i + columns.len()).min(captured.len());
            if let Some(feed) = &mut self.feed {
                let values = captured[i..end].iter().map(|(_, v)| v.clone()).collect();
                feed.pending.push((table.clone(), values));
            }
            if let Some(log) = &mut self.log {
                let key: Vec<(String, String, Json)> = columns
                    .iter()
                    .zip(&captured[i..end])
                    .map(|((n, t), (_, v))| (n.clone(), t.clone(), json_of(v)))
                    .collect();
                if let Err(e) = log.record(family.as_str(), name.as_str(), &key) {
                    tracing::warn!(error = %e, "changelog write");
                }
            }
            i = end;
        }
    }
}

/// ctlstore's value encoding: integers and reals as numbers, text as strings, bytes as base64.
pub(crate) fn json_of(v: &Value) -> Json {
    match v {
        Value::Integer(i) => Json::from(*i),
        Value::Real(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s.clone()),
        Value::Blob(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Null => Json::Null,
    }
}
