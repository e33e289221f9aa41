//! One pooled read-only connection and the reads it runs: key checks, binding, stepping, and
//! handing each row to a mapping (serde or [`crate::Row`]).

use std::sync::Arc;
use std::time::Instant;

use rusqlite::Connection;

use crate::meta::{MetaCache, TableMeta};
use crate::{Key, ReaderError, Row};

pub(crate) struct Conn {
    conn: Connection,
    /// The pool generation this connection was opened in; stale once the file is replaced.
    pub generation: u64,
    /// When this connection last looked at the file and the schema version.
    pub checked: Instant,
    meta: MetaCache,
}

impl Conn {
    pub fn new(conn: Connection, generation: u64) -> Conn {
        Conn {
            conn,
            generation,
            checked: Instant::now(),
            meta: MetaCache::default(),
        }
    }

    /// Drops cached table metadata if the schema changed.
    pub fn check_schema(&mut self) -> Result<(), ReaderError> {
        self.meta.check_schema(&self.conn)
    }

    /// Rows matching `key` on the first `key.len()` key columns; `exact` demands every column.
    pub fn get_row<T: serde::de::DeserializeOwned>(
        &mut self,
        family: &str,
        table: &str,
        key: &[Key],
        exact: bool,
    ) -> Result<Vec<T>, ReaderError> {
        self.query(family, table, key, exact, |row, names, meta| {
            crate::de::from_row(row, names, &meta.name)
        })
    }

    /// Like [`Conn::get_row`], as column → value maps.
    pub fn get_row_values(
        &mut self,
        family: &str,
        table: &str,
        key: &[Key],
        exact: bool,
    ) -> Result<Vec<Row>, ReaderError> {
        self.query(family, table, key, exact, crate::value::row_values)
    }

    /// Rows whose first `values.len()` columns of the secondary index `index` equal `values`,
    /// in index order.
    pub fn rows_by_index<T>(
        &mut self,
        family: &str,
        table: &str,
        index: &str,
        values: &[Key],
        map: impl FnMut(&rusqlite::Row<'_>, &[String], &TableMeta) -> Result<T, ReaderError>,
    ) -> Result<Vec<T>, ReaderError> {
        let meta = self.meta.get_index(&self.conn, family, table, index)?;
        self.run(meta, values, false, map)
    }

    // PERFORMANCE-CRITICAL PATH: every read comes through here.
    fn query<T>(
        &mut self,
        family: &str,
        table: &str,
        key: &[Key],
        exact: bool,
        map: impl FnMut(&rusqlite::Row<'_>, &[String], &TableMeta) -> Result<T, ReaderError>,
    ) -> Result<Vec<T>, ReaderError> {
        let meta = self.meta.get(&self.conn, family, table)?;
        self.run(meta, key, exact, map)
    }

    fn run<T>(
        &mut self,
        meta: Arc<TableMeta>,
        key: &[Key],
        exact: bool,
        mut map: impl FnMut(&rusqlite::Row<'_>, &[String], &TableMeta) -> Result<T, ReaderError>,
    ) -> Result<Vec<T>, ReaderError> {
        check_key(&meta, key, exact)?;
        let sql = if exact {
            &meta.point_sql
        } else {
            &meta.prefix_sql[key.len()]
        };
        let result = (|| {
            let mut stmt = self.conn.prepare_cached(sql)?;
            for (i, (k, (_, field_type))) in key.iter().zip(&meta.keys).enumerate() {
                k.bind(&mut stmt, i + 1, *field_type)?;
            }
            let mut names = match meta.columns.lock() {
                Ok(n) => n,
                Err(poisoned) => poisoned.into_inner(),
            };
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                // Checked after stepping, when SQLite has re-prepared the statement for a changed
                // schema: the names must be the statement's own, or values land under the wrong ones.
                if out.is_empty() {
                    refresh_names(&mut names, row.as_ref());
                }
                out.push(map(row, &names, &meta)?);
                if exact {
                    break;
                }
            }
            Ok(out)
        })();
        if result.is_err() {
            // The table may have changed under us: re-read its key next time (as ctlstore).
            self.meta.clear();
        }
        result
    }

    /// The row at the full key `key`, copied out of SQLite for the row cache.
    pub fn get_cached_row(
        &mut self,
        family: &str,
        table: &str,
        key: &[Key],
    ) -> Result<Option<crate::cache::CachedRow>, ReaderError> {
        self.query(
            family,
            table,
            key,
            true,
            crate::cache::CachedRow::from_sqlite,
        )
        .map(|rows| rows.into_iter().next())
    }

    pub fn last_update(&mut self) -> Result<Option<String>, ReaderError> {
        match ctlstore_ldb_layout::read_last_update(&self.conn) {
            Ok(t) => Ok(t),
            Err(e) if missing_table(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn last_sequence(&mut self) -> Result<i64, ReaderError> {
        match ctlstore_ldb_layout::read_seq(&self.conn) {
            Ok(s) => Ok(s),
            Err(e) if missing_table(&e) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    pub fn has_sequence(&mut self) -> Result<bool, ReaderError> {
        Ok(self.last_sequence()? > 0)
    }
}

/// Checks the number and types of the key fields given against the table's key.
fn check_key(meta: &Arc<TableMeta>, key: &[Key], exact: bool) -> Result<(), ReaderError> {
    let expected = meta.keys.len();
    if exact && key.len() != expected {
        return Err(ReaderError::KeyArity {
            table: meta.name.clone(),
            expected,
            got: key.len(),
        });
    }
    if key.len() > expected {
        return Err(ReaderError::TooManyKeys {
            table: meta.name.clone(),
            expected,
            got: key.len(),
        });
    }
    for (k, (field, field_type)) in key.iter().zip(&meta.keys) {
        if !k.fits(*field_type) {
            return Err(ReaderError::KeyType {
                table: meta.name.clone(),
                field: field.clone(),
                expected: field_type.api_name().to_string(),
                got: k.kind(),
            });
        }
    }
    Ok(())
}

/// Makes `names` the statement's column names, allocating only when they changed.
fn refresh_names(names: &mut Vec<String>, st: &rusqlite::Statement<'_>) {
    let count = st.column_count();
    let same = names.len() == count
        && names
            .iter()
            .enumerate()
            .all(|(i, n)| st.column_name(i).is_ok_and(|c| c == n));
    if !same {
        *names = (0..count)
            .filter_map(|i| st.column_name(i).ok().map(String::from))
            .collect();
    }
}

/// An LDB without the bookkeeping tables (not written yet) reads as "nothing applied".
fn missing_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.contains("no such table"))
}
