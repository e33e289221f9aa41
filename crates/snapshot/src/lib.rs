//! LDB snapshots, so a new host bootstraps in seconds instead of replaying the whole ledger.
//!
//! - [`capture`]: a consistent copy of a live LDB (`VACUUM INTO` on a second connection: one
//!   WAL snapshot, so the copy is at a batch boundary and its `_ldb_seq` matches its rows; the
//!   reflector keeps applying meanwhile), compressed (zstd by default, gzip for `.gz` URLs as
//!   ctlstore, none otherwise), with SHA-256 of both the object and the LDB, and a [`Manifest`].
//! - [`publish`]: uploads a capture to a [`Location`] (`file:///dir/name` or `s3://bucket/key`)
//!   as a version under `<key>.d/<seq>` with its manifest, copies it to `<key>` itself (the
//!   object ctlstore's reflector bootstraps from), and keeps the newest N versions, deleting
//!   older ones only after the new one is complete.
//! - [`restore`]: downloads the newest version, verifies both checksums and SQLite's
//!   `quick_check`, and renames it over the LDB path; a half-downloaded or corrupt file never
//!   becomes the LDB. Without versions it restores `<key>` as ctlstore wrote it (gzip if `.gz`).

mod capture;
mod location;
mod manifest;
mod progress;
mod publish;
mod restore;

pub use capture::{Captured, capture};
pub use location::{Location, S3Options, family_set_url};
pub use manifest::{Compression, Manifest};
pub use publish::{CHECKSUM_METADATA, publish};
pub use restore::{Restored, restore};

use std::path::PathBuf;

/// Why a snapshot could not be made, published or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("invalid snapshot URL '{url}': {why}")]
    Url { url: String, why: String },
    #[error("no snapshot at {0}")]
    NotFound(String),
    #[error("snapshot {object}: {what} checksum mismatch (expected {expected}, got {actual})")]
    Checksum {
        object: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error("snapshot {object} is not a usable LDB: {why}")]
    Corrupt { object: String, why: String },
    #[error("snapshot manifest {object}: {why}")]
    Manifest { object: String, why: String },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("LDB: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("snapshot worker: {0}")]
    Worker(String),
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let path = path.into();
    move |source| SnapshotError::Io { path, source }
}
