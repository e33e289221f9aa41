//! Noticing that files changed: checked lazily, when the configuration is next used (a new
//! connection, an ACL decision), at most once per [`RELOAD_CHECK_INTERVAL`], and at once after
//! SIGHUP. No task polls in the background, so a process with nothing to serve does nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

/// How often files are looked at while they are in use (one `stat` each).
pub const RELOAD_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

static SIGHUPS: AtomicU64 = AtomicU64::new(0);
static LISTENING: std::sync::Once = std::sync::Once::new();

/// How many SIGHUPs this process has had.
pub fn sighup_generation() -> u64 {
    SIGHUPS.load(Ordering::Relaxed)
}

/// Counts SIGHUPs from now on (once per process; needs a tokio runtime, else does nothing).
/// SIGHUP then means "reload certificates and ACLs now" instead of ending the process.
pub fn listen_for_sighup() {
    #[cfg(unix)]
    if tokio::runtime::Handle::try_current().is_ok() {
        LISTENING.call_once(|| {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::hangup()) {
                Ok(mut hangups) => {
                    tokio::spawn(async move {
                        while hangups.recv().await.is_some() {
                            SIGHUPS.fetch_add(1, Ordering::Relaxed);
                            tracing::info!("SIGHUP: reloading certificates and ACLs");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP"),
            }
        });
    }
}

type Stamp = Option<(SystemTime, u64)>;

/// A set of files and what they looked like when last loaded.
#[derive(Debug)]
pub(crate) struct Watched {
    paths: Vec<PathBuf>,
    state: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    stamps: Vec<Stamp>,
    checked: Instant,
    generation: u64,
}

fn stamp(path: &std::path::Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Watched {
    /// Watches `paths` as they are now (call right after loading them).
    pub(crate) fn new(paths: Vec<PathBuf>) -> Watched {
        let stamps = paths.iter().map(|p| stamp(p)).collect();
        Watched {
            paths,
            state: Mutex::new(WatchState {
                stamps,
                checked: Instant::now(),
                generation: sighup_generation(),
            }),
        }
    }

    /// Whether the files should be loaded again: one of them changed (modification time or
    /// size) since the last load, or SIGHUP arrived. Looks at most once per
    /// [`RELOAD_CHECK_INTERVAL`] unless there was a SIGHUP. A `true` counts as loaded: a reload
    /// that fails is not retried until the files change again (the old configuration stays).
    pub(crate) fn changed(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let generation = sighup_generation();
        let hup = generation != state.generation;
        if !hup && state.checked.elapsed() < RELOAD_CHECK_INTERVAL {
            return false;
        }
        state.checked = Instant::now();
        state.generation = generation;
        let now: Vec<Stamp> = self.paths.iter().map(|p| stamp(p)).collect();
        let moved = now != state.stamps;
        state.stamps = now;
        moved || hup
    }
}

/// A value loaded from files, loaded again when they change: the one reload rule for
/// certificates, CAs and ACLs. A load that fails is logged and the previous value stays.
pub struct Reloading<T> {
    watched: Watched,
    current: RwLock<Arc<T>>,
}

impl<T> std::fmt::Debug for Reloading<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("paths", &self.watched.paths)
            .finish_non_exhaustive()
    }
}

impl<T> Reloading<T> {
    /// `initial`, just loaded from `paths`.
    pub fn new(paths: Vec<PathBuf>, initial: T) -> Reloading<T> {
        listen_for_sighup();
        Reloading {
            watched: Watched::new(paths),
            current: RwLock::new(Arc::new(initial)),
        }
    }

    /// The value in force, after `load` (called only when the files changed or SIGHUP came)
    /// replaced it. `what` names it in the log.
    pub fn get<E: std::fmt::Display>(
        &self,
        what: &str,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Arc<T> {
        if self.watched.changed() {
            match load() {
                Ok(value) => {
                    if let Ok(mut slot) = self.current.write() {
                        *slot = Arc::new(value);
                    }
                    tracing::info!(what, "reloaded");
                }
                Err(e) => {
                    tracing::error!(what, error = %e, "reload refused: the previous one stays in force")
                }
            }
        }
        match self.current.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
