//! [`ReaderBuilder`]: a [`Reader`] with options, today the opt-in row cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache::{CacheConfig, CacheStats, RowCache};
use crate::pool::Pool;
use crate::{Reader, ReaderError};

/// The default `max_extra_staleness`: the LDB is looked at no more than once a millisecond.
pub const DEFAULT_MAX_EXTRA_STALENESS: Duration = Duration::from_millis(1);

/// Options for a [`Reader`]; [`Reader::builder`] makes one.
///
/// ```no_run
/// use std::time::Duration;
/// let reader = ctlstore_reader::Reader::builder("/var/spool/ctlstore/ldb.db")
///     .cache_rows(100_000)
///     .max_extra_staleness(Duration::from_millis(5))
///     .build()?;
/// # Ok::<(), ctlstore_reader::ReaderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReaderBuilder {
    path: PathBuf,
    cache_rows: usize,
    max_extra_staleness: Duration,
}

impl ReaderBuilder {
    /// Keeps up to `rows` point reads (rows, and "no such row" answers) of
    /// [`Reader::get_row_by_key`] and [`Reader::get_row`] in memory. 0 (the default) caches
    /// nothing: the reader is the same as [`Reader::open`]'s.
    pub fn cache_rows(mut self, rows: usize) -> ReaderBuilder {
        self.cache_rows = rows;
        self
    }

    /// How much staler than the LDB a cached read may be (default 1 ms): a cached read that
    /// begins at time `t` returns the row as the LDB held it at some instant no earlier than
    /// `t - staleness`.
    /// The LDB's change counter is read at most this often (once per period, by whichever
    /// reading thread comes first). Zero checks on every read.
    pub fn max_extra_staleness(mut self, staleness: Duration) -> ReaderBuilder {
        self.max_extra_staleness = staleness;
        self
    }

    /// Opens the LDB read-only, as [`Reader::open`] does.
    pub fn build(self) -> Result<Reader, ReaderError> {
        let pool = Pool::open(&self.path)?;
        let cache = match self.cache_rows {
            0 => None,
            rows => Some(RowCache::new(
                &self.path,
                CacheConfig {
                    rows,
                    max_extra_staleness: self.max_extra_staleness,
                },
            )?),
        };
        Ok(Reader { pool, cache })
    }
}

impl Reader {
    /// A builder for a reader of the LDB at `path`, with options (the row cache).
    ///
    /// ```no_run
    /// let reader = ctlstore_reader::Reader::builder("/var/spool/ctlstore/ldb.db")
    ///     .cache_rows(10_000)
    ///     .build()?;
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> ReaderBuilder {
        ReaderBuilder {
            path: path.as_ref().to_path_buf(),
            cache_rows: 0,
            max_extra_staleness: DEFAULT_MAX_EXTRA_STALENESS,
        }
    }

    /// The row cache's counters, or `None` when this reader has no cache.
    ///
    /// ```no_run
    /// let reader = ctlstore_reader::Reader::open("/var/spool/ctlstore/ldb.db")?;
    /// assert!(reader.cache_stats().is_none());
    /// # Ok::<(), ctlstore_reader::ReaderError>(())
    /// ```
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(RowCache::stats)
    }
}
