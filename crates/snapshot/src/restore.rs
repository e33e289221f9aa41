//! Publishing snapshots with retention, and restoring (bootstrapping) an LDB from one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::capture::hex;
use crate::{Captured, Compression, Location, Manifest, SnapshotError, io};

const PART_BYTES: usize = 16 * 1024 * 1024;

/// Uploads `captured` as the newest version at `location`, then keeps the newest `keep`
/// versions. Older versions are deleted only after the new one and its manifest are complete.
pub async fn publish(
    location: &Location,
    captured: &Captured,
    keep: usize,
) -> Result<(), SnapshotError> {
    let m = &captured.manifest;
    let data = location.version_key(m.seq);
    let upload = location.store.put_multipart(&data).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut file = tokio::fs::File::open(captured.file.path())
        .await
        .map_err(io(captured.file.path()))?;
    let mut buf = vec![0u8; 4 * 1024 * 1024];
    let (mut sent, started) = (0u64, std::time::Instant::now());
    let bar = progress_bar("upload", m.object_bytes);
    loop {
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                // Leaves no unfinished multipart upload behind in the bucket.
                let _ = writer.abort().await;
                return Err(SnapshotError::Io {
                    path: captured.file.path().to_path_buf(),
                    source: e,
                });
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = writer.wait_for_capacity(4).await {
            let _ = writer.abort().await;
            return Err(e.into());
        }
        writer.write(&buf[..n]);
        sent += n as u64;
        bar.set_position(sent);
        progress("upload", sent, m.object_bytes, started);
    }
    writer.finish().await?;
    bar.finish_and_clear();
    let manifest =
        serde_json::to_vec_pretty(m).map_err(|e| SnapshotError::Worker(e.to_string()))?;
    location
        .store
        .put(&location.manifest_key(m.seq), PutPayload::from(manifest))
        .await?;
    // The plain key always holds the newest snapshot: what ctlstore's reflector downloads.
    location.store.copy(&data, &location.key).await?;
    tracing::info!(
        url = location.url(),
        seq = m.seq,
        bytes = m.object_bytes,
        "snapshot published"
    );
    let mut versions = manifest_seqs(location).await?;
    versions.sort_unstable_by(|a, b| b.cmp(a));
    for old in versions.into_iter().skip(keep.max(1)) {
        // Manifest first: a bootstrap never picks a version whose data is going away.
        location.store.delete(&location.manifest_key(old)).await?;
        location.store.delete(&location.version_key(old)).await?;
        tracing::info!(url = location.url(), seq = old, "old snapshot deleted");
    }
    // Data objects without a manifest (an upload that failed half way), older than this one.
    let with_manifest = manifest_seqs(location).await?;
    let prefix = location.versions_prefix();
    let mut listing = location.store.list(Some(&prefix));
    let mut orphans = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        if let Some(seq) = meta.location.filename().and_then(|f| f.parse::<i64>().ok())
            && seq < m.seq
            && !with_manifest.contains(&seq)
        {
            orphans.push(meta.location);
        }
    }
    for orphan in orphans {
        location.store.delete(&orphan).await?;
        tracing::info!(object = %orphan, "orphaned snapshot data deleted");
    }
    Ok(())
}

async fn manifest_seqs(location: &Location) -> Result<Vec<i64>, SnapshotError> {
    let prefix = location.versions_prefix();
    let mut listing = location.store.list(Some(&prefix));
    let mut seqs = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        if let Some(seq) = meta
            .location
            .filename()
            .and_then(|f| f.strip_suffix(".json"))
            .and_then(|s| s.parse().ok())
        {
            seqs.push(seq);
        }
    }
    Ok(seqs)
}

/// What a restore produced.
#[derive(Debug, Clone)]
pub struct Restored {
    pub seq: i64,
    /// `None` for a snapshot as ctlstore writes it (no manifest).
    pub manifest: Option<Manifest>,
}

/// A progress bar on a terminal; nothing otherwise (the log lines below carry the progress).
fn progress_bar(what: &str, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// Logs progress every 10 % (a terminal user sees it as it goes; logs get a line each step).
fn progress(what: &str, done: u64, total: u64, started: std::time::Instant) {
    if total == 0 {
        return;
    }
    let step = (total / 10).max(1);
    let before = done.saturating_sub(4 * 1024 * 1024);
    if done / step != before / step || done == total {
        tracing::info!(
            what,
            done_mib = done / (1024 * 1024),
            total_mib = total / (1024 * 1024),
            percent = done * 100 / total,
            seconds = started.elapsed().as_secs_f64(),
            "snapshot transfer"
        );
    }
}

/// Removes temporary files unless disarmed.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Restores the newest snapshot at `location` to `ldb`: download beside it, verify, decompress,
/// check, and rename into place. `ldb` is untouched unless everything checked out.
pub async fn restore(location: &Location, ldb: &Path) -> Result<Restored, SnapshotError> {
    let mut seqs = manifest_seqs(location).await?;
    seqs.sort_unstable();
    let (object, manifest) = match seqs.last() {
        Some(&seq) => {
            let key = location.manifest_key(seq);
            let raw = location.store.get(&key).await?.bytes().await?;
            let m: Manifest =
                serde_json::from_slice(&raw).map_err(|e| SnapshotError::Manifest {
                    object: key.to_string(),
                    why: e.to_string(),
                })?;
            if m.seq != seq {
                return Err(SnapshotError::Manifest {
                    object: key.to_string(),
                    why: format!("says seq {} but is named {seq}", m.seq),
                });
            }
            (location.version_key(seq), Some(m))
        }
        None => (location.key.clone(), None),
    };
    let download = sibling(ldb, ".snapshot-download");
    let staged = sibling(ldb, ".snapshot-restore");
    let mut cleanup = Cleanup(vec![download.clone(), staged.clone()]);
    let got = match location.store.get(&object).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(SnapshotError::NotFound(location.url().to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let total = got.meta.size;
    let mut stream = got.into_stream();
    let mut out = tokio::fs::File::create(&download)
        .await
        .map_err(io(&download))?;
    let (mut sha, mut received, started) = (Sha256::new(), 0u64, std::time::Instant::now());
    let bar = progress_bar("download", total);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        sha.update(&chunk);
        received += chunk.len() as u64;
        bar.set_position(received);
        tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
            .await
            .map_err(io(&download))?;
        progress("download", received, total, started);
    }
    tokio::io::AsyncWriteExt::flush(&mut out)
        .await
        .map_err(io(&download))?;
    drop(out);
    let compression = manifest.as_ref().map_or_else(
        || Compression::for_key(location.key.as_ref()),
        |m| m.compression,
    );
    if let Some(m) = &manifest {
        let actual = hex(&sha.finalize());
        if actual != m.sha256_object {
            return Err(SnapshotError::Checksum {
                object: object.to_string(),
                what: "object",
                expected: m.sha256_object.clone(),
                actual,
            });
        }
    }
    let (d, s, name, expect) = (
        download.clone(),
        staged.clone(),
        object.to_string(),
        manifest.clone(),
    );
    let seq =
        tokio::task::spawn_blocking(move || unpack(&d, &s, compression, &name, expect.as_ref()))
            .await
            .map_err(|e| SnapshotError::Worker(e.to_string()))??;
    // A WAL or journal left by an LDB that used to be at this path would be replayed onto the
    // restored file: remove them first.
    for suffix in ["-wal", "-shm", "-journal"] {
        let stale = sibling(ldb, suffix);
        match std::fs::remove_file(&stale) {
            Ok(()) => {
                tracing::info!(path = %stale.display(), "removed a stale SQLite side file before restoring")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(SnapshotError::Io {
                    path: stale,
                    source: e,
                });
            }
        }
    }
    // Durable, then atomic: the staged file is complete on disk before it takes the LDB's name.
    std::fs::rename(&staged, ldb).map_err(io(ldb))?;
    if let Some(dir) = ldb.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    cleanup.0.retain(|p| p != &staged);
    tracing::info!(
        url = location.url(),
        seq,
        bytes = total,
        seconds = started.elapsed().as_secs_f64(),
        "LDB restored from snapshot"
    );
    Ok(Restored { seq, manifest })
}

/// Decompresses `download` into `staged`, verifies it, and returns its `_ldb_seq`.
fn unpack(
    download: &Path,
    staged: &Path,
    compression: Compression,
    object: &str,
    manifest: Option<&Manifest>,
) -> Result<i64, SnapshotError> {
    let corrupt = |why: String| SnapshotError::Corrupt {
        object: object.to_string(),
        why,
    };
    let input = std::fs::File::open(download).map_err(io(download))?;
    let mut reader: Box<dyn Read> = match compression {
        Compression::Zstd => Box::new(zstd::Decoder::new(input).map_err(io(download))?),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(input)),
        Compression::None => Box::new(input),
    };
    let mut out = std::fs::File::create(staged).map_err(io(staged))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| corrupt(format!("decompress: {e}")))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io(staged))?;
    }
    out.sync_all().map_err(io(staged))?;
    drop(out);
    if let Some(m) = manifest {
        let actual = hex(&sha.finalize());
        if actual != m.sha256_ldb {
            return Err(SnapshotError::Checksum {
                object: object.to_string(),
                what: "LDB",
                expected: m.sha256_ldb.clone(),
                actual,
            });
        }
    }
    let conn =
        rusqlite::Connection::open_with_flags(staged, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| corrupt(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| corrupt(e.to_string()))?;
    if check != "ok" {
        return Err(corrupt(format!("quick_check: {check}")));
    }
    let seq: Option<i64> = conn
        .query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0))
        .optional()
        .map_err(|e| corrupt(format!("no _ldb_seq: {e}")))?;
    let seq = seq.unwrap_or(0);
    if let Some(m) = manifest
        && m.seq != seq
    {
        return Err(corrupt(format!(
            "holds seq {seq}, its manifest says {}",
            m.seq
        )));
    }
    // Readers open LDBs in WAL mode.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| corrupt(e.to_string()))?;
    drop(conn);
    Ok(seq)
}
