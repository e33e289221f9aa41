//! The per-connection cache of table metadata: each table's key columns and their types, its
//! byte columns, and its queries, read from the catalog on first use and dropped when the
//! schema changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ctlstore_schema::{
    FamilyName, FieldType, IndexName, TableName, ldb_index_name, ldb_table_name,
};
use rusqlite::{Connection, OptionalExtension};

use crate::ReaderError;
use crate::sql;

/// A table's primary key as the reader needs it, with its queries built once.
pub(crate) struct TableMeta {
    /// The LDB table name, `family___table`.
    pub name: String,
    /// Key columns in PRIMARY KEY order.
    pub keys: Vec<(String, FieldType)>,
    /// The point read on every key column.
    pub point_sql: String,
    /// Prefix scans by number of key fields given, in key order.
    pub prefix_sql: Vec<String>,
    /// Column names of `SELECT *`, refreshed when the statement's columns change (an added
    /// column). Only this connection uses it, so the lock is never contended.
    pub columns: Mutex<Vec<String>>,
    /// Columns declared as bytes (`BLOB...`, `VARBINARY...`). Like ctlstore's reader, values are
    /// typed by the declared type: a blob in a text column (ctlstore writes strings containing
    /// NUL as blob literals) reads as text, text in a blob column as bytes.
    byte_columns: Vec<String>,
}

impl TableMeta {
    fn new(name: String, keys: Vec<(String, FieldType)>, byte_columns: Vec<String>) -> TableMeta {
        TableMeta {
            point_sql: sql::point_select(&name, &keys),
            prefix_sql: sql::prefix_selects(&name, &keys),
            name,
            keys,
            columns: Mutex::new(Vec::new()),
            byte_columns,
        }
    }

    /// A secondary index of `table` read like a key: `keys` are the index's columns and
    /// `prefix_sql` its scans.
    fn for_index(table: &TableMeta, index: &str, columns: Vec<(String, FieldType)>) -> TableMeta {
        let prefix_sql = sql::index_selects(&table.name, index, &columns, &table.keys);
        TableMeta {
            point_sql: prefix_sql[columns.len()].clone(),
            prefix_sql,
            name: table.name.clone(),
            keys: columns,
            columns: Mutex::new(Vec::new()),
            byte_columns: table.byte_columns.clone(),
        }
    }

    pub fn is_byte_column(&self, name: &str) -> bool {
        self.byte_columns.iter().any(|c| c == name)
    }
}

/// Table metadata by family, then table, as the caller spelled them: a hit costs two hash
/// lookups and no allocation.
#[derive(Default)]
pub(crate) struct MetaCache {
    tables: HashMap<String, HashMap<String, Arc<TableMeta>>>,
    /// Secondary indexes by their SQL name (`family___table___index`).
    indexes: HashMap<String, Arc<TableMeta>>,
    schema_version: Option<i64>,
}

impl MetaCache {
    /// Forgets everything (a query failed: the table may have changed under us).
    pub fn clear(&mut self) {
        self.tables.clear();
        self.indexes.clear();
    }

    /// Drops cached metadata when the schema changed (a table dropped and re-created).
    pub fn check_schema(&mut self, conn: &Connection) -> Result<(), ReaderError> {
        let version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
        if self.schema_version.is_some_and(|v| v != version) {
            self.clear();
        }
        self.schema_version = Some(version);
        Ok(())
    }

    /// The metadata of `family.table`, from the cache or else the catalog.
    pub fn get(
        &mut self,
        conn: &Connection,
        family: &str,
        table: &str,
    ) -> Result<Arc<TableMeta>, ReaderError> {
        if let Some(m) = self.tables.get(family).and_then(|t| t.get(table)) {
            return Ok(m.clone());
        }
        let meta = Arc::new(load(conn, family, table)?);
        self.tables
            .entry(family.to_string())
            .or_default()
            .insert(table.to_string(), meta.clone());
        Ok(meta)
    }
}

impl MetaCache {
    /// The index `index` of `family.table` as a [`TableMeta`] whose keys are the index's
    /// columns, from the cache or else the catalog.
    pub fn get_index(
        &mut self,
        conn: &Connection,
        family: &str,
        table: &str,
        index: &str,
    ) -> Result<Arc<TableMeta>, ReaderError> {
        let table_meta = self.get(conn, family, table)?;
        let sql_name = ldb_index_name(&table_meta.name, &IndexName::new(index)?);
        if let Some(m) = self.indexes.get(&sql_name) {
            return Ok(m.clone());
        }
        let owner: Option<String> = conn
            .query_row(sql::INDEX_TABLE, [&sql_name], |r| r.get(0))
            .optional()?;
        if owner.as_deref() != Some(table_meta.name.as_str()) {
            return Err(ReaderError::IndexNotFound(format!(
                "{family}.{table}.{index}"
            )));
        }
        let names: Vec<String> = conn
            .prepare_cached(sql::INDEX_COLUMNS)?
            .query_map([&sql_name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let types: Vec<(String, String)> = conn
            .prepare_cached(sql::ALL_COLUMNS)?
            .query_map([&table_meta.name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let columns = names
            .into_iter()
            .map(|n| {
                let declared = types
                    .iter()
                    .find(|(c, _)| *c == n)
                    .map(|(_, t)| t.as_str())
                    .unwrap_or_default();
                let field_type = field_type_of(declared);
                (n, field_type)
            })
            .collect();
        let meta = Arc::new(TableMeta::for_index(&table_meta, &sql_name, columns));
        self.indexes.insert(sql_name, meta.clone());
        Ok(meta)
    }
}

/// Reads a table's metadata from the catalog.
fn load(conn: &Connection, family: &str, table: &str) -> Result<TableMeta, ReaderError> {
    let name = ldb_table_name(&FamilyName::new(family)?, &TableName::new(table)?);
    let keys: Vec<(String, String)> = conn
        .prepare_cached(sql::KEY_COLUMNS)?
        .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        let exists: Option<i64> = conn
            .query_row(sql::TABLE_EXISTS, [&name], |r| r.get(0))
            .optional()?;
        return Err(match exists {
            Some(_) => ReaderError::NoPrimaryKey(name),
            None => ReaderError::TableNotFound(name),
        });
    }
    let keys = keys
        .into_iter()
        .map(|(n, t)| (n, field_type_of(&t)))
        .collect();
    let byte_columns: Vec<String> = conn
        .prepare_cached(sql::ALL_COLUMNS)?
        .query_map([&name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .filter_map(Result::ok)
        .filter(|(_, t)| is_byte_type(t))
        .map(|(n, _)| n)
        .collect();
    Ok(TableMeta::new(name, keys, byte_columns))
}

fn is_byte_type(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    t.starts_with("BLOB") || t.starts_with("VARBINARY")
}

/// The field type of a declared SQLite column type: ctlstore's names first, SQLite's affinity
/// rules for anything else (ctlstore's own tests declare plain `VARCHAR`).
fn field_type_of(declared: &str) -> FieldType {
    if let Some(t) = FieldType::from_catalog_type(declared) {
        return t;
    }
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        FieldType::Integer
    } else if d.contains("BLOB") || d.contains("BINARY") {
        FieldType::Bytestring
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        FieldType::Decimal
    } else {
        FieldType::String
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_types_follow_sqlite_affinity() {
        assert_eq!(field_type_of("BIGINT"), FieldType::Integer);
        assert_eq!(field_type_of("VARCHAR"), FieldType::String);
        assert_eq!(field_type_of("DOUBLE PRECISION"), FieldType::Decimal);
        assert!(is_byte_type("varbinary(10)") && is_byte_type("BLOB"));
        assert!(!is_byte_type("TEXT"));
    }

    #[test]
    fn a_table_without_a_key_or_at_all_is_told_apart() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE fam___nokey (a INTEGER)")
            .expect("create");
        let mut cache = MetaCache::default();
        assert!(matches!(
            cache.get(&conn, "fam", "nokey"),
            Err(ReaderError::NoPrimaryKey(_))
        ));
        assert!(matches!(
            cache.get(&conn, "fam", "absent"),
            Err(ReaderError::TableNotFound(_))
        ));
    }
}
