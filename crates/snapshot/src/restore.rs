//! Restoring (bootstrapping) an LDB from the newest snapshot: download beside the LDB, verify,
//! decompress, check, and rename into place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

use crate::capture::hex;
use crate::progress::{progress, progress_bar};
use crate::{Compression, Location, Manifest, SnapshotError, io};

/// What a restore produced.
#[derive(Debug, Clone)]
pub struct Restored {
    pub seq: i64,
    /// `None` for a snapshot as ctlstore writes it (no manifest).
    pub manifest: Option<Manifest>,
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
    let mut seqs = location.manifest_seqs().await?;
    seqs.sort_unstable();
    let (object, manifest) = match seqs.last() {
        Some(&seq) => {
            let key = location.manifest_key(seq);
            let raw = location.store.get(&key).await?.bytes().await?;
            let m = Manifest::from_json(&raw, seq).map_err(|why| SnapshotError::Manifest {
                object: key.to_string(),
                why,
            })?;
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
    install(&staged, ldb)?;
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

/// Puts the verified `staged` file at `ldb`: removes SQLite side files an earlier LDB left
/// there, renames, and fsyncs the directory.
fn install(staged: &Path, ldb: &Path) -> Result<(), SnapshotError> {
    // A WAL or journal left by an LDB that used to be at this path would be replayed onto the
    // restored file: remove them first.
    for suffix in ctlstore_ldb_layout::SQLITE_SIDE_SUFFIXES {
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
    // Durable, then atomic: the staged file was fsynced (in `unpack`) before it takes the LDB's
    // name, so the name never points at a partly written file.
    std::fs::rename(staged, ldb).map_err(io(ldb))?;
    // The directory fsync makes the rename itself (and the removals above) survive an OS crash.
    // If it fails, the error is logged, not returned: the rename has already happened, so every
    // process now sees the complete, checked LDB at the path, and an error would tell the caller
    // "not restored" about a path that was changed (the reflector would retry the download over
    // it, or report a failed bootstrap while running on the restored file). What is at risk is
    // only that an OS crash before the directory reaches the disk brings back what was at the
    // path before (nothing, or the old LDB, which `_ldb_seq` describes): a state a restore that
    // never ran also leaves, and one the reflector recovers from.
    if let Err(e) = sync_parent_dir(ldb) {
        tracing::error!(
            path = %ldb.display(),
            error = %e,
            "LDB restored, but fsyncing its directory failed: an OS crash may undo the restore"
        );
    }
    Ok(())
}

/// fsyncs the directory that holds `path` (where a rename happened).
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
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
    let seq = ctlstore_ldb_layout::read_seq(&conn)
        .map_err(|e| corrupt(format!("no {}: {e}", ctlstore_ldb_layout::SEQ_TABLE)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_of_a_path_is_synced_or_the_error_returned() {
        let dir = tempfile::tempdir().expect("tempdir");
        sync_parent_dir(&dir.path().join("ldb.db")).expect("an existing directory");
        sync_parent_dir(Path::new("ldb.db")).expect("a bare name is in the current directory");
        assert!(
            sync_parent_dir(&dir.path().join("gone").join("ldb.db")).is_err(),
            "a missing directory is an error, for `install` to log"
        );
    }
}
