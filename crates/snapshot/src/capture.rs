//! Capturing a consistent, compressed copy of a live LDB.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use rusqlite::Connection;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::manifest::MANIFEST_FORMAT;
use crate::{Compression, Manifest, SnapshotError, io};

/// A captured snapshot: the compressed object in a temporary file, and its manifest.
pub struct Captured {
    pub file: tempfile::NamedTempFile,
    pub manifest: Manifest,
}

/// Counts and hashes what passes through to the inner writer.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct LdbSums {
    sha256: Sha256,
    sha1: Sha1,
    bytes: u64,
}

/// Copies `input` into `out`, hashing what it reads.
fn pump(input: &mut File, out: &mut impl Write, sums: &mut LdbSums) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return out.flush();
        }
        sums.sha256.update(&buf[..n]);
        sums.sha1.update(&buf[..n]);
        sums.bytes += n as u64;
        out.write_all(&buf[..n])?;
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies the LDB at `ldb` (live: the reflector may keep writing) into `work_dir` and compresses
/// it. Blocking: run it on a blocking thread.
pub fn capture(
    ldb: &Path,
    work_dir: &Path,
    compression: Compression,
) -> Result<Captured, SnapshotError> {
    let scratch = tempfile::tempdir_in(work_dir).map_err(io(work_dir))?;
    let copy = scratch.path().join("snapshot.db");
    {
        let conn = Connection::open(ldb)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Keeps the WAL short; fine if readers hold it open (the copy reads through the WAL).
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        // One read transaction: the copy is one consistent state, at a batch boundary.
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])?;
    }
    let (seq, leader_ts) = {
        let c = Connection::open_with_flags(&copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        (
            ctlstore_ldb_layout::read_seq(&c)?,
            ctlstore_ldb_layout::read_last_update(&c)?,
        )
    };
    let out = tempfile::NamedTempFile::new_in(work_dir).map_err(io(work_dir))?;
    let mut sink = Hashing {
        inner: BufWriter::new(out.reopen().map_err(io(out.path()))?),
        sha: Sha256::new(),
        bytes: 0,
    };
    let mut sums = LdbSums {
        sha256: Sha256::new(),
        sha1: Sha1::new(),
        bytes: 0,
    };
    let mut input = File::open(&copy).map_err(io(&copy))?;
    let wrap = io(out.path());
    let pumped = match compression {
        Compression::Zstd => zstd::Encoder::new(&mut sink, 3).and_then(|mut e| {
            pump(&mut input, &mut e, &mut sums).and_then(|()| e.finish().map(drop))
        }),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(&mut sink, flate2::Compression::fast());
            pump(&mut input, &mut e, &mut sums).and_then(|()| e.finish().map(drop))
        }
        Compression::None => pump(&mut input, &mut sink, &mut sums),
    };
    pumped.map_err(wrap)?;
    let (sha_ldb, sha1_ldb, ldb_bytes) = (sums.sha256, sums.sha1, sums.bytes);
    sink.flush().map_err(io(out.path()))?;
    let Hashing {
        inner,
        sha: object_sha,
        bytes: object_bytes,
    } = sink;
    let file = inner.into_inner().map_err(|e| SnapshotError::Io {
        path: out.path().to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(out.path()))?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        seq,
        leader_ts,
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        compression,
        ldb_bytes,
        object_bytes,
        sha256_object: hex(&object_sha.finalize()),
        sha256_ldb: hex(&sha_ldb.finalize()),
        sha1_ldb_base64: base64::engine::general_purpose::STANDARD.encode(sha1_ldb.finalize()),
    };

    Ok(Captured {
        file: out,
        manifest,
    })
}
