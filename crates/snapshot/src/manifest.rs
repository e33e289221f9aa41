//! What a published snapshot is: its manifest, and the compression formats. Reading a manifest
//! back ([`Manifest::from_json`]) is pure, so the checks restore relies on are tested (and
//! fuzzed: `fuzz/fuzz_targets/snapshot_manifest.rs`) without an object store.

use serde::{Deserialize, Serialize};

/// How a snapshot object is compressed; chosen by the URL's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Zstd,
    Gzip,
    None,
}

impl Compression {
    /// `.gz` → gzip (ctlstore's rule), `.zst` → zstd, anything else → none... unless the caller
    /// asked for the default, see [`Compression::for_key`].
    pub fn for_key(key: &str) -> Compression {
        if key.ends_with(".gz") {
            Compression::Gzip
        } else if key.ends_with(".zst") || key.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The manifest stored beside every snapshot version (`<key>.d/<seq>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// The LDB's `_ldb_seq` in the snapshot.
    pub seq: i64,
    /// The LDB's `_ldb_last_update` in the snapshot.
    pub leader_ts: Option<String>,
    pub created_unix: u64,
    pub compression: Compression,
    /// Size of the uncompressed LDB.
    pub ldb_bytes: u64,
    /// Size of the object as stored.
    pub object_bytes: u64,
    /// SHA-256 (hex) of the object as stored.
    pub sha256_object: String,
    /// SHA-256 (hex) of the uncompressed LDB.
    pub sha256_ldb: String,
    /// SHA-1 of the uncompressed LDB, base64: ctlstore's `checksum` metadata.
    pub sha1_ldb_base64: String,
}

pub const MANIFEST_FORMAT: u32 = 1;

impl Manifest {
    /// Reads the manifest stored as version `named_seq` and checks what restore relies on: the
    /// format is one this build writes, the seq is the one in its name, and the checksums have
    /// the form capture writes (restore compares them as text, so an upper-case or truncated
    /// digest would otherwise surface as a misleading checksum mismatch after the download).
    /// The error says why, for [`crate::SnapshotError::Manifest`].
    pub fn from_json(raw: &[u8], named_seq: i64) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        if m.format != MANIFEST_FORMAT {
            return Err(format!(
                "format {} is not one this build reads ({MANIFEST_FORMAT})",
                m.format
            ));
        }
        if m.seq != named_seq {
            return Err(format!("says seq {} but is named {named_seq}", m.seq));
        }
        for (what, digest) in [
            ("sha256_object", &m.sha256_object),
            ("sha256_ldb", &m.sha256_ldb),
        ] {
            if !is_sha256_hex(digest) {
                return Err(format!(
                    "{what} is not a SHA-256 in lower-case hex: {digest:?}"
                ));
            }
        }
        Ok(m)
    }
}

/// 64 lower-case hex digits, as capture writes a SHA-256.
fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            seq: 42,
            leader_ts: Some("2024-01-02 03:04:05".into()),
            created_unix: 1_700_000_000,
            compression: Compression::Zstd,
            ldb_bytes: 8192,
            object_bytes: 1234,
            sha256_object: "ab".repeat(32),
            sha256_ldb: "0123456789abcdef".repeat(4),
            sha1_ldb_base64: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        }
    }

    fn json(m: &Manifest) -> Vec<u8> {
        serde_json::to_vec(m).expect("serialise")
    }

    #[test]
    fn a_written_manifest_reads_back() {
        let m = manifest();
        assert_eq!(Manifest::from_json(&json(&m), 42), Ok(m));
    }

    #[test]
    fn what_restore_relies_on_is_checked() {
        let refused = |m: Manifest, named: i64| Manifest::from_json(&json(&m), named);
        assert!(refused(manifest(), 41).is_err_and(|e| e.contains("named 41")));
        let newer = Manifest {
            format: MANIFEST_FORMAT + 1,
            ..manifest()
        };
        assert!(refused(newer, 42).is_err_and(|e| e.contains("format 2")));
        let upper = Manifest {
            sha256_object: "AB".repeat(32),
            ..manifest()
        };
        assert!(refused(upper, 42).is_err_and(|e| e.contains("sha256_object")));
        let short = Manifest {
            sha256_ldb: "ab".into(),
            ..manifest()
        };
        assert!(refused(short, 42).is_err_and(|e| e.contains("sha256_ldb")));
        assert!(Manifest::from_json(b"{}", 42).is_err());
        assert!(Manifest::from_json(b"", 42).is_err());
    }
}
