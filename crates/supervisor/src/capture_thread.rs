//! One long-lived thread for every capture of the process.
//!
//! A capture allocates megabytes for a moment (SQLite's pages for `VACUUM INTO`, the
//! compressor's tables, copy buffers). On tokio's blocking pool each capture ran on whatever
//! thread was free, often a new one (idle pool threads exit after 10 s and captures are
//! minutes apart), and glibc gives threads their own malloc arenas: every arena kept its own
//! high-water mark, so the supervisor's private memory crept up for many snapshots before it
//! levelled off (the soak measured +1.2 MiB/min over ten one-minute snapshots). On one thread,
//! every capture reuses the memory the previous one freed.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;

use ctlstore_snapshot::{Captured, Compression, SnapshotError};

type Job = (
    PathBuf,
    PathBuf,
    Compression,
    tokio::sync::oneshot::Sender<Result<Captured, SnapshotError>>,
);

static JOBS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();

fn jobs() -> Result<mpsc::Sender<Job>, SnapshotError> {
    if let Some(jobs) = JOBS.get() {
        return Ok(jobs.clone());
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("snapshot-capture".into())
        .spawn(move || {
            for (ldb, work, codec, reply) in rx {
                let _ = reply.send(ctlstore_snapshot::capture(&ldb, &work, codec));
            }
        })
        .map_err(|e| SnapshotError::Worker(format!("start the capture thread: {e}")))?;
    // Two callers racing here would start two threads; the loser's thread ends when its
    // sender is dropped, so the race costs nothing.
    Ok(JOBS.get_or_init(|| tx).clone())
}

/// [`ctlstore_snapshot::capture`] on the capture thread.
pub(crate) async fn capture(
    ldb: PathBuf,
    work: PathBuf,
    codec: Compression,
) -> Result<Captured, SnapshotError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    jobs()?
        .send((ldb, work, codec, reply))
        .map_err(|_| SnapshotError::Worker("the capture thread has stopped".into()))?;
    answer
        .await
        .map_err(|_| SnapshotError::Worker("the capture thread dropped the job".into()))?
}
