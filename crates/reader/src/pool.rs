//! The connection pool behind a [`crate::Reader`]: read-only connections opened with the
//! reader's pragmas, reused across calls, and retired when the LDB file is replaced.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::ReaderError;
use crate::conn::Conn;

/// How often a connection looks at the file's identity and the schema version. Checking on
/// every read would cost a system call per read; once a second notices a replaced LDB quickly.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 32;

/// A file's identity: a replacement (rename over the path) changes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FileId(u64, u64);

pub(crate) fn file_id(path: &Path) -> Option<FileId> {
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
        Ok(Conn::new(conn, generation))
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
    pub(crate) fn check_file(&self) {
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
