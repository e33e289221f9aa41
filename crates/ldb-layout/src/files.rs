//! The files beside an LDB: SQLite's own side files and the writer's lock file.

use std::path::{Path, PathBuf};

/// Suffixes of the files SQLite keeps beside a database (`ldb.db-wal`, ...). A leftover WAL or
/// journal would be replayed onto whatever file next takes the LDB's name.
pub const SQLITE_SIDE_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The WAL file beside an LDB: `ldb.db` → `ldb.db-wal`.
///
/// ```
/// use std::path::Path;
/// assert_eq!(ctlstore_ldb_layout::wal_path(Path::new("/x/ldb.db")), Path::new("/x/ldb.db-wal"));
/// ```
pub fn wal_path(ldb: &Path) -> PathBuf {
    beside(ldb, "-wal")
}

/// The lock file the LDB writer holds while it has the LDB open: `ldb.db` → `ldb.db.lock`.
/// It is a separate file (never the LDB itself) so that renaming a restored snapshot over the
/// LDB, and SQLite's own locking, are unaffected by it.
///
/// ```
/// use std::path::Path;
/// assert_eq!(ctlstore_ldb_layout::lock_path(Path::new("/x/ldb.db")), Path::new("/x/ldb.db.lock"));
/// ```
pub fn lock_path(ldb: &Path) -> PathBuf {
    beside(ldb, ".lock")
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}
