//! The connection pool behind a [`crate::Reader`], and what each connection caches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_schema::{FamilyName, FieldType, TableName, ldb_table_name};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Key, ReaderError, Row, Value};

/// How often a connection looks at the file's identity and the schema version. Checking on
/// every read would cost a system call per read; once a second notices a replaced LDB quickly.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 32;

/// A file's identity: a replacement (rename over the path) changes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FileId(u64, u64);

fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| FileId(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path)
            .ok()
            .and_then(|m| m.modified().ok())
            .map(|t| {
                let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                FileId(d.as_secs(), u64::from(d.subsec_nanos()))
            })
    }
}

pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Conn>>,
    /// Bumped when the file at `path` is found to be a different file.
    generation: AtomicU64,
    identity: Mutex<Option<FileId>>,
}

impl Pool {
    pub fn open(path: &Path) -> Result<Pool, ReaderError> {
        let identity = file_id(path).ok_or_else(|| ReaderError::NotFound(path.to_path_buf()))?;
        let pool = Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            identity: Mutex::new(Some(identity)),
        };
        let first = pool.connect()?;
        pool.put_back(first);
        Ok(pool)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connect(&self) -> Result<Conn, ReaderError> {
        // Read before opening: if the file is replaced meanwhile, this connection is already
        // marked stale and retired, never kept on the old file.
        let generation = self.generation.load(Ordering::Acquire);
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| match file_id(&self.path) {
            None => ReaderError::NotFound(self.path.clone()),
            Some(_) => ReaderError::Sqlite(e),
        })?;
        // Readers never checkpoint: the reflector owns the WAL (ctlstore does the same).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
        // 64 MiB of page cache: the index and table pages of hot keys stay decoded.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Conn {
            conn,
            generation,
            tables: HashMap::new(),
            schema_version: None,
            checked: Instant::now(),
        })
    }

    fn put_back(&self, conn: Conn) {
        if conn.generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    /// Looks at the file: if it was replaced, every connection opened before is retired.
    fn check_file(&self) {
        let now = file_id(&self.path);
        if let Ok(mut known) = self.identity.lock()
            && now.is_some()
            && *known != now
        {
            *known = now;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Runs `f` on a pooled connection.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, ReaderError>,
    ) -> Result<T, ReaderError> {
        let idle = self.idle.lock().ok().and_then(|mut i| i.pop());
        let mut conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        if conn.checked.elapsed() >= CHECK_EVERY {
            self.check_file();
            conn.checked = Instant::now();
            conn.check_schema()?;
        }
        if conn.generation != self.generation.load(Ordering::Acquire) {
            conn = self.connect()?;
        }
        let result = f(&mut conn);
        self.put_back(conn);
        result
    }
}

/// A table's primary key as the reader needs it, with its queries built once.
struct TableMeta {
    name: String,
    /// Key columns in PRIMARY KEY order (ctlstore's reader: `ORDER BY pk`).
    keys: Vec<(String, FieldType)>,
    /// `SELECT * ... WHERE k1 = ? AND ... kn = ?` (ctlstore's point read).
    point_sql: String,
    /// Prefix scans by number of key fields given, in key order.
    prefix_sql: Vec<String>,
    /// Column names of `SELECT *`, refreshed when the column count changes (an added column).
    columns: std::sync::Mutex<Vec<String>>,
    /// Columns declared as bytes (`BLOB...`, `VARBINARY...`). Like ctlstore's reader, values are
    /// typed by the declared type: a blob in a text column (ctlstore writes strings containing
    /// NUL as blob literals) reads as text, text in a blob column as bytes.
    byte_columns: Vec<String>,
}

impl TableMeta {
    fn new(name: String, keys: Vec<(String, FieldType)>, byte_columns: Vec<String>) -> TableMeta {
        let select = format!("SELECT * FROM {}", quoted(&name));
        let filter = |n: usize| -> String {
            keys.iter()
                .take(n)
                .enumerate()
                .map(|(i, (k, _))| {
                    format!(
                        "{} {} = ?",
                        if i == 0 { " WHERE" } else { " AND" },
                        quoted(k)
                    )
                })
                .collect()
        };
        let order: Vec<String> = keys.iter().map(|(k, _)| quoted(k)).collect();
        let order = format!(" ORDER BY {}", order.join(", "));
        let point_sql = format!("{select}{}", filter(keys.len()));
        let prefix_sql = (0..=keys.len())
            .map(|n| format!("{select}{}{order}", filter(n)))
            .collect();
        TableMeta {
            name,
            keys,
            point_sql,
            prefix_sql,
            columns: std::sync::Mutex::new(Vec::new()),
            byte_columns,
        }
    }
}

pub(crate) struct Conn {
    conn: Connection,
    generation: u64,
    /// By family, then table, as the caller spelled them: a hit costs no allocation.
    tables: HashMap<String, HashMap<String, std::sync::Arc<TableMeta>>>,
    schema_version: Option<i64>,
    checked: Instant,
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

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Conn {
    /// Drops cached key metadata when the schema changed (a table dropped and re-created).
    fn check_schema(&mut self) -> Result<(), ReaderError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA schema_version", [], |r| r.get(0))?;
        if self.schema_version.is_some_and(|v| v != version) {
            self.tables.clear();
        }
        self.schema_version = Some(version);
        Ok(())
    }

    fn meta(
        &mut self,
        family: &str,
        table: &str,
    ) -> Result<std::sync::Arc<TableMeta>, ReaderError> {
        if let Some(m) = self.tables.get(family).and_then(|t| t.get(table)) {
            return Ok(m.clone());
        }
        let name = ldb_table_name(&FamilyName::new(family)?, &TableName::new(table)?);
        let keys: Vec<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT name, type FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
            )?
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            let exists: Option<i64> = self
                .conn
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [&name],
                    |r| r.get(0),
                )
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
        let byte_columns: Vec<String> = self
            .conn
            .prepare_cached("SELECT name, type FROM pragma_table_info(?1)")?
            .query_map([&name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .filter_map(Result::ok)
            .filter(|(_, t)| {
                let t = t.to_ascii_uppercase();
                t.starts_with("BLOB") || t.starts_with("VARBINARY")
            })
            .map(|(n, _)| n)
            .collect();
        let meta = std::sync::Arc::new(TableMeta::new(name, keys, byte_columns));
        self.tables
            .entry(family.to_string())
            .or_default()
            .insert(table.to_string(), meta.clone());
        Ok(meta)
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

    // PERFORMANCE-CRITICAL PATH: every read comes through here.
    fn query<T>(
        &mut self,
        family: &str,
        table: &str,
        key: &[Key],
        exact: bool,
        mut map: impl FnMut(&rusqlite::Row<'_>, &[String], &TableMeta) -> Result<T, ReaderError>,
    ) -> Result<Vec<T>, ReaderError> {
        let meta = self.meta(family, table)?;
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
                    let st: &rusqlite::Statement<'_> = row.as_ref();
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
                out.push(map(row, &names, &meta)?);
                if exact {
                    break;
                }
            }
            Ok(out)
        })();
        if result.is_err() {
            // The table may have changed under us: re-read its key next time (as ctlstore).
            self.tables.clear();
        }
        result
    }

    pub fn get_row_values(
        &mut self,
        family: &str,
        table: &str,
        key: &[Key],
        exact: bool,
    ) -> Result<Vec<Row>, ReaderError> {
        self.query(family, table, key, exact, |row, names, meta| {
            let mut out = Row::new();
            for (i, name) in names.iter().enumerate() {
                let bytes = meta.byte_columns.iter().any(|c| c == name);
                out.insert(name.clone(), value_of(row.get_ref(i)?, bytes));
            }
            Ok(out)
        })
    }

    pub fn last_update(&mut self) -> Result<Option<String>, ReaderError> {
        let ts = self
            .conn
            .prepare_cached("SELECT timestamp FROM _ldb_last_update WHERE name = 'ledger'")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, String>(0)).optional());
        match ts {
            Ok(t) => Ok(t),
            Err(e) if missing_table(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn last_sequence(&mut self) -> Result<i64, ReaderError> {
        let seq = self
            .conn
            .prepare_cached("SELECT seq FROM _ldb_seq WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)).optional());
        match seq {
            Ok(s) => Ok(s.unwrap_or(0)),
            Err(e) if missing_table(&e) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    pub fn has_sequence(&mut self) -> Result<bool, ReaderError> {
        Ok(self.last_sequence()? > 0)
    }
}

fn missing_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.contains("no such table"))
}

/// A column value, typed by the column's declared type as ctlstore's reader does.
fn value_of(v: rusqlite::types::ValueRef<'_>, byte_column: bool) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(b) | ValueRef::Blob(b) if byte_column => Value::Bytes(b.to_vec()),
        ValueRef::Text(t) | ValueRef::Blob(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_string()),
            Err(_) => Value::Bytes(t.to_vec()),
        },
    }
}
