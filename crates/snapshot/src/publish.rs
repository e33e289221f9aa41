//! Publishing a captured snapshot to a [`Location`]: the data object and its manifest under
//! `<key>.d/`, a copy at `<key>` itself (what ctlstore's reflector downloads), and retention.

use futures_util::StreamExt;
use object_store::{Attribute, ObjectStoreExt, PutMultipartOptions, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::progress::{progress, progress_bar};
use crate::{Captured, Location, SnapshotError, io};

const PART_BYTES: usize = 16 * 1024 * 1024;

/// ctlstore's object metadata: `checksum` = base64 of the SHA-1 of the uncompressed LDB (what
/// ctlstore's `download.sh` checks after `aws s3api head-object`). The copy to the plain key
/// keeps it (S3 copies metadata unless told otherwise).
pub const CHECKSUM_METADATA: &str = "checksum";

fn upload_options(location: &Location, m: &crate::Manifest) -> PutMultipartOptions {
    let mut options = PutMultipartOptions::default();
    if location.is_s3() {
        options.attributes.insert(
            Attribute::Metadata(CHECKSUM_METADATA.into()),
            m.sha1_ldb_base64.clone().into(),
        );
    }
    options
}

/// Uploads `captured` as the newest version at `location`, then keeps the newest `keep`
/// versions. Older versions are deleted only after the new one and its manifest are complete.
pub async fn publish(
    location: &Location,
    captured: &Captured,
    keep: usize,
) -> Result<(), SnapshotError> {
    let m = &captured.manifest;
    let data = location.version_key(m.seq);
    let upload = location
        .store
        .put_multipart_opts(&data, upload_options(location, m))
        .await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut file = tokio::fs::File::open(captured.file.path())
        .await
        .map_err(io(captured.file.path()))?;
    // Small reads: the multipart writer gathers them into parts anyway, and a large transient
    // buffer here raised the malloc high-water mark of every runtime thread that published.
    let mut buf = vec![0u8; 256 * 1024];
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
    let mut versions = location.manifest_seqs().await?;
    versions.sort_unstable_by(|a, b| b.cmp(a));
    for old in versions.into_iter().skip(keep.max(1)) {
        // Manifest first: a bootstrap never picks a version whose data is going away.
        location.store.delete(&location.manifest_key(old)).await?;
        location.store.delete(&location.version_key(old)).await?;
        tracing::info!(url = location.url(), seq = old, "old snapshot deleted");
    }
    // Data objects without a manifest (an upload that failed half way), older than this one.
    let with_manifest = location.manifest_seqs().await?;
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
