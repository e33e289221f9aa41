//! The lock file that keeps a second writer off an LDB.
//!
//! SQLite's own locks let two writers take turns on one file, and two reflectors doing so would
//! fight over `_ldb_seq` (one refusing the other's entries as replays) forever. So [`LdbLock`]
//! holds an exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows, through std's
//! `File::try_lock`) on `<ldb>.lock` for as long as the `Ldb` lives; the operating system drops
//! it when the file is closed, including when the process dies, so a crash never leaves a stale
//! lock. The file itself stays (removing it would race with a process about to lock it); it
//! holds the pid of the last holder, for the error message.
//!
//! `Ldb::open` takes it; a reflector takes it first ([`LdbLock::acquire`], then
//! `Ldb::open_locked`) when it bootstraps, so the restore happens under it too. Readers and
//! snapshot captures (a second, plain SQLite connection) do not.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

use crate::LdbError;

/// An exclusive lock on an LDB's lock file; released when dropped.
#[derive(Debug)]
pub struct LdbLock {
    _file: File,
}

impl LdbLock {
    /// Locks `<ldb>.lock`, creating it if needed; fails at once with [`LdbError::Locked`] if
    /// another handle holds it.
    pub fn acquire(ldb: &Path) -> Result<LdbLock, LdbError> {
        let lock = ctlstore_ldb_layout::lock_path(ldb);
        let failed = |source| LdbError::LockFile {
            path: lock.clone(),
            source,
        };
        // A new host's spool directory may not exist yet (the LDB is about to be made there).
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LdbError::Locked {
                    ldb: ldb.to_path_buf(),
                    holder: holder(&lock),
                    lock,
                });
            }
            Err(TryLockError::Error(source)) => return Err(failed(source)),
        }
        // Only a diagnostic: the lock, not the file's content, is what excludes other writers.
        if let Err(e) = write_pid(&mut file) {
            tracing::debug!(path = %lock.display(), error = %e, "write pid into the LDB lock file");
        }
        Ok(LdbLock { _file: file })
    }
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())
}

fn holder(lock: &Path) -> Option<u32> {
    std::fs::read_to_string(lock).ok()?.trim().parse().ok()
}
