//! What a published snapshot is: its manifest, and the compression formats.

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
