//! The reader library: what an application links to read its host's LDB in microseconds,
//! whether or not the executive, the ctldb or the network are up.
//!
//! ```no_run
//! use ctlstore_reader::{Key, Reader};
//!
//! #[derive(serde::Deserialize)]
//! struct Flag { name: String, enabled: i64 }
//!
//! let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
//! let flag: Option<Flag> = reader.get_row_by_key("demo", "flags", &[Key::from("new-ui")])?;
//! println!("stale by {:?}", reader.ledger_latency()?);
//! # Ok::<(), ctlstore_reader::ReaderError>(())
//! ```
//!
//! Threads: a [`Reader`] is `Send + Sync`; share one (in an `Arc`) across threads. Each call
//! borrows one of a small pool of read-only SQLite connections, so calls from many threads run
//! in parallel, and a read never blocks on the reflector's writes (WAL). Prepared statements and
//! primary-key metadata are cached per connection; the metadata is dropped when the LDB's schema
//! changes. When the LDB file is replaced (a bootstrap from a snapshot, a rotation), the reader
//! notices within a second and reopens, without failing reads. Replace an LDB by renaming a
//! complete file over it after the old file's writer has checkpointed its WAL (TRUNCATE) and
//! closed: a WAL left beside the path would otherwise be replayed onto the new file.
//!
//! Row cache (opt-in): `Reader::builder(path).cache_rows(n).build()` keeps point reads of hot
//! keys in memory (~0.2 µs a hit instead of ~5 µs), at most `max_extra_staleness` (1 ms by
//! default) staler than the LDB itself, across a replaced file too; see [`ReaderBuilder`].
//!
//! Architecture invariant: no async runtime, no HTTP, no sqlx in this crate's dependency tree
//! (checked by `.ci/run`); an application gets rusqlite and serde, nothing heavier.

mod builder;
mod cache;
mod conn;
mod de;
mod feed;
pub mod json;
mod key;
mod layouts;
mod meta;
mod pool;
mod sql;
mod value;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use builder::{DEFAULT_MAX_EXTRA_STALENESS, ReaderBuilder};
pub use cache::CacheStats;
pub use ctlstore_ldb_layout::DEFAULT_LDB_PATH;
pub use ctlstore_schema::Value;
/// The name rules a read is checked against ([`ReaderError::Name`] carries them), for callers
/// that describe them (the sidecar's OpenAPI document) without depending on the schema crate.
pub use ctlstore_schema::{NameError, NameKind};
pub use feed::{Change, Changes, DEFAULT_FEED_POLL, FeedEvent, FeedRetention, feed_event_json};
pub use key::Key;
pub use layouts::{ROTATION_PERIODS, RotatingReader, VersionedReader};
use pool::Pool;

/// ctlstore's environment variable for the LDB directory.
///
/// ```
/// assert_eq!(ctlstore_reader::CTLSTORE_PATH_ENV, "CTLSTORE_PATH");
/// ```
pub const CTLSTORE_PATH_ENV: &str = "CTLSTORE_PATH";

/// A row as column → value (bytes for `binary`/`bytestring`, text, integers, reals, NULL).
///
/// ```
/// let mut row = ctlstore_reader::Row::new();
/// row.insert("enabled".into(), ctlstore_reader::Value::Integer(1));
/// ```
pub type Row = std::collections::BTreeMap<String, Value>;

/// Errors of the reader. Every variant says what is wrong with the call or the file.
///
/// ```no_run
/// use ctlstore_reader::{Key, Reader, ReaderError};
/// let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
/// match reader.get_row("demo", "flags", &[Key::from(1)]) {
///     Err(ReaderError::KeyType { field, expected, .. }) => eprintln!("{field} wants {expected}"),
///     other => println!("{other:?}"),
/// }
/// # Ok::<(), ReaderError>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("no LDB found at {0}")]
    NotFound(PathBuf),
    #[error("invalid name: {0}")]
    Name(#[from] ctlstore_schema::NameError),
    #[error("Table not found: {0}")]
    TableNotFound(String),
    #[error("Index not found: {0}")]
    IndexNotFound(String),
    #[error("table {0} has no primary key")]
    NoPrimaryKey(String),
    #[error("table {table} has {expected} key fields, {got} given")]
    KeyArity {
        table: String,
        expected: usize,
        got: usize,
    },
    #[error("too many keys supplied for table {table}'s primary key ({got} > {expected})")]
    TooManyKeys {
        table: String,
        expected: usize,
        got: usize,
    },
    #[error("key field '{field}' of table {table} is {expected}, got {got}")]
    KeyType {
        table: String,
        field: String,
        expected: String,
        got: &'static str,
    },
    #[error("no ledger updates have been received yet")]
    NoLedgerUpdates,
    #[error("cannot deserialize a row of {table}: {message}")]
    Deserialize { table: String, message: String },
    #[error("LDB layout: {0}")]
    Layout(String),
    #[error("LDB error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The LDB has no change feed: its reflector runs without `-change-feed`.
    #[error("this LDB has no change feed: start its reflector with -change-feed N")]
    FeedDisabled,
    /// The feed does not hold the batches right after `after` (pruned, or before the feed
    /// started, or before a snapshot); it continues from `since`.
    #[error(
        "the change feed no longer holds the changes after seq {after}: it starts after seq {since} (older ones were pruned, or came from a snapshot)"
    )]
    FeedNotRetained { after: i64, since: i64 },
}

/// A read-only handle on an LDB. See the crate docs.
///
/// ```no_run
/// use std::sync::Arc;
/// let reader = Arc::new(ctlstore_reader::Reader::open("/var/spool/ctlstore/ldb.db")?);
/// let r = reader.clone();
/// std::thread::spawn(move || r.last_sequence());
/// # Ok::<(), ctlstore_reader::ReaderError>(())
/// ```
pub struct Reader {
    pool: Pool,
    /// The opt-in row cache ([`Reader::builder`]); `None` for [`Reader::open`].
    cache: Option<cache::RowCache>,
}

impl Reader {
    /// Opens the LDB at `path` read-only.
    ///
    /// ```no_run
    /// let reader = ctlstore_reader::Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, ReaderError> {
        Ok(Reader {
            pool: Pool::open(path.as_ref())?,
            cache: None,
        })
    }

    /// Opens the LDB where ctlstore's reader looks: `$CTLSTORE_PATH/ldb.db`, else
    /// `/var/spool/ctlstore/ldb.db`.
    ///
    /// ```no_run
    /// let reader = ctlstore_reader::Reader::open_default()?;
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn open_default() -> Result<Reader, ReaderError> {
        Reader::open(default_path())
    }

    /// The LDB file this reader reads.
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// println!("{}", reader.path().display());
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn path(&self) -> &Path {
        self.pool.path()
    }

    // PERFORMANCE-CRITICAL PATH: a point read.
    /// The row of `family.table` with primary key `key` (every key field, in key order),
    /// deserialized into `T` (a struct with fields named like the columns, a map, ...).
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// #[derive(serde::Deserialize)]
    /// struct Flag { name: String, enabled: i64 }
    /// let flag: Option<Flag> = reader.get_row_by_key("demo", "flags", &[Key::from("new-ui")])?;
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn get_row_by_key<T: serde::de::DeserializeOwned>(
        &self,
        family: &str,
        table: &str,
        key: &[Key],
    ) -> Result<Option<T>, ReaderError> {
        if let Some(cache) = &self.cache {
            return cache.get(
                &self.pool,
                family,
                table,
                key,
                cache::CachedRow::deserialize,
            );
        }
        self.pool.with(|c| {
            c.get_row(family, table, key, true)
                .map(|rows| rows.into_iter().next())
        })
    }

    /// The row as a column → value map.
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// if let Some(row) = reader.get_row("demo", "flags", &[Key::from("new-ui")])? {
    ///     println!("{:?}", row.get("enabled"));
    /// }
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn get_row(
        &self,
        family: &str,
        table: &str,
        key: &[Key],
    ) -> Result<Option<Row>, ReaderError> {
        if let Some(cache) = &self.cache {
            return cache.get(&self.pool, family, table, key, |row| Ok(row.to_row()));
        }
        self.pool.with(|c| {
            c.get_row_values(family, table, key, true)
                .map(|rows| rows.into_iter().next())
        })
    }

    /// Like [`Reader::rows_by_key_prefix`], as column → value maps.
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// let rows = reader.rows_by_key_prefix_values("demo", "settings", &[Key::from(42)])?;
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn rows_by_key_prefix_values(
        &self,
        family: &str,
        table: &str,
        prefix: &[Key],
    ) -> Result<Vec<Row>, ReaderError> {
        self.pool
            .with(|c| c.get_row_values(family, table, prefix, false))
    }

    /// Every row whose first `prefix.len()` key fields equal `prefix` (all rows for an empty
    /// prefix), in key order.
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// #[derive(serde::Deserialize)]
    /// struct Setting { customer: i64, name: String, value: String }
    /// for s in reader.rows_by_key_prefix::<Setting>("demo", "settings", &[Key::from(42)])? {
    ///     println!("{} = {}", s.name, s.value);
    /// }
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn rows_by_key_prefix<T: serde::de::DeserializeOwned>(
        &self,
        family: &str,
        table: &str,
        prefix: &[Key],
    ) -> Result<std::vec::IntoIter<T>, ReaderError> {
        self.pool
            .with(|c| c.get_row(family, table, prefix, false))
            .map(Vec::into_iter)
    }

    /// Every row whose first `values.len()` fields of the secondary index `index` equal
    /// `values` (prefix semantics, as for the primary key), ordered by the index then the key.
    /// The index is one the executive made (`POST /families/{f}/tables/{t}/indexes`).
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// #[derive(serde::Deserialize)]
    /// struct User { id: i64, email: String }
    /// let users: Vec<User> = reader.rows_by_index("demo", "users", "by_email", &[Key::from("a@b.c")])?;
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn rows_by_index<T: serde::de::DeserializeOwned>(
        &self,
        family: &str,
        table: &str,
        index: &str,
        values: &[Key],
    ) -> Result<Vec<T>, ReaderError> {
        self.pool.with(|c| {
            c.rows_by_index(family, table, index, values, |row, names, meta| {
                crate::de::from_row(row, names, &meta.name)
            })
        })
    }

    /// Like [`Reader::rows_by_index`], as column → value maps.
    pub fn rows_by_index_values(
        &self,
        family: &str,
        table: &str,
        index: &str,
        values: &[Key],
    ) -> Result<Vec<Row>, ReaderError> {
        self.pool
            .with(|c| c.rows_by_index(family, table, index, values, crate::value::row_values))
    }

    /// How stale this host is: now minus the leader timestamp of the last applied entry.
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// if reader.ledger_latency()? > std::time::Duration::from_secs(60) {
    ///     eprintln!("control data is more than a minute old");
    /// }
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn ledger_latency(&self) -> Result<Duration, ReaderError> {
        let ts = self
            .pool
            .with(|c| c.last_update())?
            .ok_or(ReaderError::NoLedgerUpdates)?;
        let at = ctlstore_ldb_layout::parse_timestamp(&ts).ok_or(ReaderError::NoLedgerUpdates)?;
        Ok(SystemTime::now().duration_since(at).unwrap_or_default())
    }

    /// The last ledger sequence applied to this LDB (0 before the first).
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// println!("at seq {}", reader.last_sequence()?);
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn last_sequence(&self) -> Result<i64, ReaderError> {
        self.pool.with(|c| c.last_sequence())
    }

    /// Whether the LDB has applied at least one entry (ctlstore's `Ping`).
    ///
    /// ```no_run
    /// # use ctlstore_reader::{Key, Reader};
    /// # let reader = Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// assert!(reader.ping());
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn ping(&self) -> bool {
        self.pool.with(|c| c.has_sequence()).unwrap_or(false)
    }
}

/// `$CTLSTORE_PATH/ldb.db`, else ctlstore's default.
///
/// ```
/// let path = ctlstore_reader::default_path();
/// assert!(path.ends_with("ldb.db"));
/// ```
pub fn default_path() -> PathBuf {
    default_path_for(std::env::var_os(CTLSTORE_PATH_ENV))
}

/// The default path for a given value of `CTLSTORE_PATH`.
///
/// ```
/// use std::path::Path;
/// assert_eq!(ctlstore_reader::default_path_for(Some("/srv/ctl".into())), Path::new("/srv/ctl/ldb.db"));
/// assert_eq!(ctlstore_reader::default_path_for(None), Path::new("/var/spool/ctlstore/ldb.db"));
/// ```
pub fn default_path_for(ctlstore_path: Option<std::ffi::OsString>) -> PathBuf {
    match ctlstore_path {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("ldb.db"),
        _ => PathBuf::from(DEFAULT_LDB_PATH),
    }
}
