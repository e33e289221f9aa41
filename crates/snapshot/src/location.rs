//! Where snapshots live: a directory (`file:///dir/name`) or S3 (`s3://bucket/key`), both
//! through `object_store`. S3 settings come from the usual AWS environment variables
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL` or
//! `AWS_ENDPOINT` for S3-compatible stores), or from [`S3Options`], which take precedence.

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

use crate::{Compression, SnapshotError};

/// Explicit S3 settings (the ctlstore flag `-bootstrap-region`, tests).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Where the snapshots of a family set (a supervisor run with `--families`) go: the same
/// store, under `families-<list>/` beside the full snapshot's name (`s3://b/p/ldb.db` with
/// `alpha,beta/one` gives `s3://b/p/families-alpha,beta.one/ldb.db`), so every family set has
/// its own key and a host is never handed another set's snapshot by mistake.
pub fn family_set_url(url: &str, families: &str) -> String {
    let dir = format!("families-{}", families.replace('/', "."));
    match url.rsplit_once('/') {
        Some((parent, name)) if !name.is_empty() => format!("{parent}/{dir}/{name}"),
        _ => format!("{url}/{dir}"),
    }
}

/// A snapshot location: a store and the key of the newest snapshot in it.
#[derive(Clone)]
pub struct Location {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) key: ObjectPath,
    url: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Location {
    pub fn parse(url: &str, s3: &S3Options) -> Result<Location, SnapshotError> {
        let bad = |why: &str| SnapshotError::Url {
            url: url.to_string(),
            why: why.to_string(),
        };
        if let Some(path) = url.strip_prefix("file://") {
            let path = std::path::Path::new(path);
            let (dir, name) = match (path.parent(), path.file_name()) {
                (Some(d), Some(n)) if path.is_absolute() => (d, n),
                _ => return Err(bad("expected file:///absolute/dir/name")),
            };
            std::fs::create_dir_all(dir).map_err(crate::io(dir))?;
            let store = LocalFileSystem::new_with_prefix(dir)?;
            let key = ObjectPath::from(name.to_string_lossy().as_ref());
            return Ok(Location {
                store: Arc::new(store),
                key,
                url: url.to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| bad("expected s3://bucket/key"))?;
            if bucket.is_empty() || key.is_empty() {
                return Err(bad("expected s3://bucket/key"));
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            let endpoint = s3
                .endpoint
                .clone()
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                .or_else(|| std::env::var("AWS_ENDPOINT").ok());
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_endpoint(endpoint);
            }
            if let Some(region) = s3.region.clone().filter(|r| !r.is_empty()) {
                builder = builder.with_region(region);
            }
            if let Some(k) = &s3.access_key_id {
                builder = builder.with_access_key_id(k);
            }
            if let Some(s) = &s3.secret_access_key {
                builder = builder.with_secret_access_key(s);
            }
            return Ok(Location {
                store: Arc::new(builder.build()?),
                key: ObjectPath::from(key),
                url: url.to_string(),
            });
        }
        Err(bad(
            "unsupported scheme (use file:///dir/name or s3://bucket/key)",
        ))
    }

    /// The compression the URL asks for: its extension (`.gz`, `.zst`), zstd when it has none
    /// of those... except plain `.db`, which stays uncompressed (ctlstore's `file://` copies).
    pub fn compression(&self) -> Compression {
        Compression::for_key(self.key.as_ref())
    }

    pub(crate) fn versions_prefix(&self) -> ObjectPath {
        ObjectPath::from(format!("{}.d", self.key))
    }

    pub(crate) fn version_key(&self, seq: i64) -> ObjectPath {
        ObjectPath::from(format!("{}.d/{seq:020}", self.key))
    }

    pub(crate) fn manifest_key(&self, seq: i64) -> ObjectPath {
        ObjectPath::from(format!("{}.d/{seq:020}.json", self.key))
    }

    /// Whether this is an S3 location (object metadata is an S3 feature; a directory
    /// location refuses it).
    pub fn is_s3(&self) -> bool {
        self.url.starts_with("s3://")
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The seqs of the versions at this location that have a manifest (complete ones), in
    /// listing order. The executive's ledger retention keeps the ledger above the oldest.
    pub async fn manifest_seqs(&self) -> Result<Vec<i64>, SnapshotError> {
        let prefix = self.versions_prefix();
        let mut listing = self.store.list(Some(&prefix));
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
}
