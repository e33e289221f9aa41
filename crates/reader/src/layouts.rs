//! ctlstore's other LDB layouts: versioned directories (`<dir>/versioned/<ms>/ldb.db`, switching
//! to a strictly newer version as it appears) and rotating copies (`ldb.db`, `ldb-2.db`, ...,
//! each in service for its share of the hour).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{Reader, ReaderError};

/// How often a versioned reader looks for a newer version (ctlstore: every second).
const VERSION_POLL: Duration = Duration::from_secs(1);

/// A reader over ctlstore's versioned layout: opens the newest `<dir>/versioned/<timestamp>/ldb.db`
/// and moves to a newer one when it appears, never to an older one.
///
/// ```no_run
/// let versioned = ctlstore_reader::VersionedReader::open("/var/spool/ctlstore")?;
/// let seq = versioned.reader()?.last_sequence()?;
/// # Ok::<(), ctlstore_reader::ReaderError>(())
/// ```
pub struct VersionedReader {
    dir: PathBuf,
    current: Mutex<(u64, Arc<Reader>, Instant)>,
}

fn newest_version(dir: &Path) -> Option<(u64, PathBuf)> {
    std::fs::read_dir(dir.join("versioned"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: u64 = name.parse().ok()?;
            let ldb = e.path().join("ldb.db");
            ldb.exists().then_some((version, ldb))
        })
        .max_by_key(|(v, _)| *v)
}

impl VersionedReader {
    pub fn open(dir: impl AsRef<Path>) -> Result<VersionedReader, ReaderError> {
        let dir = dir.as_ref().to_path_buf();
        let (version, path) =
            newest_version(&dir).ok_or_else(|| ReaderError::NotFound(dir.join("versioned")))?;
        let reader = Arc::new(Reader::open(path)?);
        Ok(VersionedReader {
            dir,
            current: Mutex::new((version, reader, Instant::now())),
        })
    }

    /// The reader for the newest version (checked at most once a second).
    pub fn reader(&self) -> Result<Arc<Reader>, ReaderError> {
        let mut current = match self.current.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.2.elapsed() >= VERSION_POLL {
            current.2 = Instant::now();
            if let Some((version, path)) = newest_version(&self.dir)
                && version > current.0
            {
                current.1 = Arc::new(Reader::open(path)?);
                current.0 = version;
            }
        }
        Ok(current.1.clone())
    }

    /// The version (a millisecond timestamp) in use.
    pub fn version(&self) -> u64 {
        self.current.lock().map(|c| c.0).unwrap_or(0)
    }
}

/// A reader over ctlstore's rotating copies: with copies `p0..pn` and a period of `m` minutes,
/// minute `t` of the hour reads `p[(t / m) % n]`, so every copy rests part of each hour (while a
/// refresh job replaces it).
///
/// ```no_run
/// let rotating = ctlstore_reader::RotatingReader::new(
///     &["/var/spool/ctlstore/ldb.db", "/var/spool/ctlstore/ldb-2.db"], 30)?;
/// let seq = rotating.reader().last_sequence()?;
/// # Ok::<(), ctlstore_reader::ReaderError>(())
/// ```
pub struct RotatingReader {
    readers: Vec<Reader>,
    minutes_per_rotation: u64,
}

/// The rotation periods ctlstore offers (`Every6` .. `Every30`).
pub const ROTATION_PERIODS: [u64; 5] = [6, 10, 15, 20, 30];

impl RotatingReader {
    pub fn new(
        paths: &[impl AsRef<Path>],
        minutes_per_rotation: u64,
    ) -> Result<RotatingReader, ReaderError> {
        if !ROTATION_PERIODS.contains(&minutes_per_rotation) {
            return Err(ReaderError::Layout(format!(
                "rotation period must be one of {ROTATION_PERIODS:?} minutes"
            )));
        }
        if paths.len() < 2 || paths.len() as u64 > 60 / minutes_per_rotation {
            return Err(ReaderError::Layout(format!(
                "{} copies cannot rotate every {minutes_per_rotation} minutes (2 to {})",
                paths.len(),
                60 / minutes_per_rotation
            )));
        }
        let readers = paths
            .iter()
            .map(Reader::open)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RotatingReader {
            readers,
            minutes_per_rotation,
        })
    }

    /// Which copy serves minute `minute` of the hour.
    pub fn index_for_minute(&self, minute: u64) -> usize {
        ((minute / self.minutes_per_rotation) % self.readers.len() as u64) as usize
    }

    /// The copy in service now.
    pub fn reader(&self) -> &Reader {
        let minute = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() / 60 % 60)
            .unwrap_or(0);
        &self.readers[self.index_for_minute(minute)]
    }
}
