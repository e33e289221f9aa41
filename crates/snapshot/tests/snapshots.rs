//! Snapshots to a directory and to S3 (moto): capture, publish, retention, restore; and every
//! way a snapshot can be bad, each refused without touching the LDB path.

use std::path::{Path, PathBuf};

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use ctlstore_snapshot::{
    Compression, Location, S3Options, SnapshotError, capture, publish, restore,
};
use ctlstore_testkit::{Moto, s3_test, sqlite_rows};

fn e(seq: i64, statement: &str) -> LedgerEntry {
    LedgerEntry {
        seq,
        leader_ts: "2026-11-25 10:00:00".into(),
        statement: statement.into(),
    }
}

/// An LDB with `rows` rows, at seq `rows + 1`.
fn ldb_with(dir: &Path, rows: i64) -> (PathBuf, Ldb) {
    let path = dir.join("source.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    let mut entries = vec![e(
        1,
        r#"CREATE TABLE fam___items ("id" INTEGER, "body" TEXT, PRIMARY KEY("id"));"#,
    )];
    for i in 0..rows {
        entries.push(e(
            i + 2,
            &format!(
                r#"REPLACE INTO fam___items ("id","body") VALUES({i},'row {i} {}')"#,
                "x".repeat(100)
            ),
        ));
    }
    ldb.apply(&entries).expect("apply");
    (path, ldb)
}

fn rows(path: &Path) -> Vec<Vec<ctlstore_schema::Value>> {
    sqlite_rows(path, r#"SELECT * FROM fam___items ORDER BY "id""#)
}

async fn snapshot(ldb: &Path, location: &Location, work: &Path, keep: usize) -> i64 {
    let (l, w, c) = (
        ldb.to_path_buf(),
        work.to_path_buf(),
        location.compression(),
    );
    let captured = tokio::task::spawn_blocking(move || capture(&l, &w, c))
        .await
        .expect("task")
        .expect("capture");
    publish(location, &captured, keep).await.expect("publish");
    captured.manifest.seq
}

async fn round_trip(
    url_of: impl Fn(&Path) -> String,
    s3: S3Options,
    keep_dir_listing: Option<&Path>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, mut ldb) = ldb_with(dir.path(), 50);
    let location = Location::parse(&url_of(dir.path()), &s3).expect("location");
    let first = snapshot(&source, &location, dir.path(), 2).await;
    if let Some(listing_dir) = keep_dir_listing {
        // A data object left by an upload whose manifest never landed.
        std::fs::write(listing_dir.join("00000000000000000007"), b"half an upload")
            .expect("orphan");
    }
    ldb.apply(&[e(
        100,
        r#"REPLACE INTO fam___items ("id","body") VALUES(1000,'later')"#,
    )])
    .expect("apply");
    let second = snapshot(&source, &location, dir.path(), 2).await;
    ldb.apply(&[e(101, r#"DELETE FROM fam___items WHERE "id" = 0"#)])
        .expect("apply");
    let third = snapshot(&source, &location, dir.path(), 2).await;
    assert_eq!((first, second, third), (51, 100, 101));
    if let Some(listing_dir) = keep_dir_listing {
        let versions: Vec<String> = std::fs::read_dir(listing_dir)
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            versions.len(),
            4,
            "two versions with manifests kept: {versions:?}"
        );
        assert!(
            !versions
                .iter()
                .any(|v| v.starts_with("00000000000000000051")),
            "the oldest was deleted: {versions:?}"
        );
        assert!(
            !versions
                .iter()
                .any(|v| v.starts_with("00000000000000000007")),
            "the orphan was collected: {versions:?}"
        );
    }
    let target = dir.path().join("restored.db");
    let restored = restore(&location, &target).await.expect("restore");
    assert_eq!(restored.seq, 101);
    assert_eq!(
        rows(&target),
        rows(&source),
        "the restored LDB equals the source at that seq"
    );
    // The restored file is a working LDB: the reflector carries on from it.
    let mut carried = Ldb::open(&target, LdbOptions::default()).expect("open restored");
    assert_eq!(carried.seq(), 101);
    carried
        .apply(&[e(
            102,
            r#"REPLACE INTO fam___items ("id","body") VALUES(2000,'after')"#,
        )])
        .expect("carry on");
}

#[tokio::test]
async fn directory_round_trip_with_retention_zstd() {
    let listing = tempfile::tempdir().expect("tempdir");
    let snaps = listing.path().to_path_buf();
    round_trip(
        move |_| format!("file://{}/snapshot.db.zst", snaps.display()),
        S3Options::default(),
        Some(&listing.path().join("snapshot.db.zst.d")),
    )
    .await;
}

#[tokio::test]
async fn gzip_snapshots_are_what_ctlstore_bootstraps_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, _ldb) = ldb_with(dir.path(), 10);
    let url = format!("file://{}/snaps/snapshot.db.gz", dir.path().display());
    let location = Location::parse(&url, &S3Options::default()).expect("location");
    assert_eq!(location.compression(), Compression::Gzip);
    snapshot(&source, &location, dir.path(), 3).await;
    // ctlstore's reflector: GET the key, gunzip because it ends in .gz, use it as the LDB.
    let gz =
        std::fs::File::open(dir.path().join("snaps/snapshot.db.gz")).expect("the plain key exists");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut plain).expect("gunzip");
    let as_ctlstore = dir.path().join("ctlstore.db");
    std::fs::write(&as_ctlstore, plain).expect("write");
    assert_eq!(rows(&as_ctlstore), rows(&source));
}

#[tokio::test]
async fn a_ctlstore_snapshot_without_manifest_restores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, ldb) = ldb_with(dir.path(), 5);
    ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
        .expect("checkpoint");
    // What ctlstore's supervisor leaves: one gzip'd LDB at the key, nothing else.
    std::fs::create_dir_all(dir.path().join("snaps")).expect("dir");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("snaps/snapshot.db.gz")).expect("create"),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut gz, &std::fs::read(&source).expect("read")).expect("gzip");
    gz.finish().expect("finish");
    let location = Location::parse(
        &format!("file://{}/snaps/snapshot.db.gz", dir.path().display()),
        &S3Options::default(),
    )
    .expect("location");
    let target = dir.path().join("restored.db");
    let restored = restore(&location, &target).await.expect("restore");
    assert_eq!((restored.seq, restored.manifest.is_none()), (6, true));
    assert_eq!(rows(&target), rows(&source));
}

/// Publishes one snapshot, damages it with `damage`, and checks the restore is refused with
/// nothing left at the LDB path or beside it.
async fn refused(damage: impl FnOnce(&Path), expect: impl FnOnce(&SnapshotError) -> bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, _ldb) = ldb_with(dir.path(), 200);
    let snaps = dir.path().join("snaps");
    let location = Location::parse(
        &format!("file://{}/snapshot.db.zst", snaps.display()),
        &S3Options::default(),
    )
    .expect("location");
    snapshot(&source, &location, dir.path(), 3).await;
    damage(&snaps);
    let target = dir.path().join("ldb").join("ldb.db");
    std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
    let err = restore(&location, &target)
        .await
        .expect_err("a bad snapshot is refused");
    assert!(expect(&err), "unexpected error: {err}");
    let left: Vec<_> = std::fs::read_dir(target.parent().expect("parent"))
        .expect("list")
        .collect();
    assert!(
        left.is_empty(),
        "no LDB and no temporary file left: {left:?}"
    );
}

fn version_file(snaps: &Path) -> PathBuf {
    std::fs::read_dir(snaps.join("snapshot.db.zst.d"))
        .expect("versions")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_none())
        .expect("a version")
}

#[tokio::test]
async fn a_flipped_byte_is_refused() {
    refused(
        |snaps| {
            let f = version_file(snaps);
            let mut bytes = std::fs::read(&f).expect("read");
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x40;
            std::fs::write(&f, bytes).expect("write");
        },
        |e| matches!(e, SnapshotError::Checksum { what: "object", .. }),
    )
    .await;
}

#[tokio::test]
async fn a_truncated_snapshot_is_refused() {
    refused(
        |snaps| {
            let f = version_file(snaps);
            let bytes = std::fs::read(&f).expect("read");
            std::fs::write(&f, &bytes[..bytes.len() / 3]).expect("write");
        },
        |e| matches!(e, SnapshotError::Checksum { .. }),
    )
    .await;
}

#[tokio::test]
async fn a_wrong_manifest_checksum_is_refused() {
    refused(
        |snaps| {
            let m = version_file(snaps).with_extension("json");
            let text = std::fs::read_to_string(&m).expect("read");
            let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
            v["sha256_ldb"] = serde_json::json!("00".repeat(32));
            std::fs::write(&m, v.to_string()).expect("write");
        },
        |e| matches!(e, SnapshotError::Checksum { what: "LDB", .. }),
    )
    .await;
}

#[tokio::test]
async fn a_missing_snapshot_is_not_found() {
    refused(
        |snaps| {
            std::fs::remove_dir_all(snaps.join("snapshot.db.zst.d")).expect("remove versions");
            std::fs::remove_file(snaps.join("snapshot.db.zst")).expect("remove key");
        },
        |e| matches!(e, SnapshotError::NotFound(_)),
    )
    .await;
}

#[tokio::test]
async fn a_garbled_manifest_is_refused() {
    refused(
        |snaps| {
            std::fs::write(version_file(snaps).with_extension("json"), "{not json").expect("write")
        },
        |e| matches!(e, SnapshotError::Manifest { .. }),
    )
    .await;
}

s3_test! {
    async fn s3_round_trip_with_retention() {
        let moto = Moto::start("snapshots");
        let s3 = moto.s3_options();
        round_trip(|_| "s3://snapshots/ctlstore/snapshot.db.gz".to_string(), s3, None).await;
    }
}

s3_test! {
    /// What ctlstore's reflector reads from our supervisor's bucket: a GetObject of the URL's
    /// key, gunzipped because the key ends in `.gz`, opened as an SQLite file; and what
    /// ctlstore's download.sh checks: `x-amz-meta-checksum`, base64 of the SHA-1 of the LDB.
    async fn the_s3_object_is_what_ctlstores_reflector_downloads() {
        use base64::Engine;
        use sha1::Digest;
        use std::io::Read;

        let moto = Moto::start("ctlstore-snapshots");
        let s3 = moto.s3_options();
        let dir = tempfile::tempdir().expect("tempdir");
        let (source, _ldb) = ldb_with(dir.path(), 30);
        let location = Location::parse("s3://ctlstore-snapshots/snapshot.db.gz", &s3).expect("location");
        snapshot(&source, &location, dir.path(), 3).await;

        // A signed GetObject of the URL's key, as ctlstore's reflector (aws-sdk-go) sends it.
        use object_store::ObjectStoreExt;
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&moto.endpoint)
            .with_allow_http(true)
            .with_region(s3.region.clone().unwrap_or_default())
            .with_access_key_id(s3.access_key_id.clone().unwrap_or_default())
            .with_secret_access_key(s3.secret_access_key.clone().unwrap_or_default())
            .with_bucket_name("ctlstore-snapshots")
            .build()
            .expect("client");
        let got = store
            .get(&object_store::path::Path::from("snapshot.db.gz"))
            .await
            .expect("GetObject");
        let checksum = got
            .attributes
            .get(&object_store::Attribute::Metadata(
                ctlstore_snapshot::CHECKSUM_METADATA.into(),
            ))
            .map(|v| v.to_string());
        let gz = got.bytes().await.expect("body");
        let mut ldb = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut ldb).expect("a gzip stream");
        let downloaded = dir.path().join("downloaded.db");
        std::fs::write(&downloaded, &ldb).expect("write");
        assert_eq!(rows(&downloaded), rows(&source));
        assert_eq!(
            sqlite_rows(&downloaded, "SELECT seq FROM _ldb_seq"),
            vec![vec![ctlstore_schema::Value::Integer(31)]]
        );

        let want = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&ldb));
        assert_eq!(checksum, Some(want));
    }
}

#[tokio::test]
async fn a_stale_wal_beside_the_target_is_not_replayed_onto_the_restore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, _ldb) = ldb_with(dir.path(), 20);
    let location = Location::parse(
        &format!("file://{}/snaps/snapshot.db.zst", dir.path().display()),
        &S3Options::default(),
    )
    .expect("location");
    snapshot(&source, &location, dir.path(), 3).await;
    // A crashed reflector's leftovers: an LDB whose WAL holds a row, then the LDB file removed.
    let host = dir.path().join("host");
    std::fs::create_dir_all(&host).expect("dir");
    let target = host.join("ldb.db");
    {
        let mut old = Ldb::open(
            &target,
            LdbOptions {
                wal_checkpoint_threshold: 0,
                ..Default::default()
            },
        )
        .expect("open");
        old.apply(&[
            e(
                1,
                r#"CREATE TABLE fam___items ("id" INTEGER, "body" TEXT, PRIMARY KEY("id"));"#,
            ),
            e(
                2,
                r#"REPLACE INTO fam___items ("id","body") VALUES(999,'stale')"#,
            ),
        ])
        .expect("apply");
        std::mem::forget(old); // no clean close: the WAL stays, as after a crash
    }
    assert!(
        host.join("ldb.db-wal").exists(),
        "the test needs a stale WAL"
    );
    std::fs::remove_file(&target).expect("the LDB is gone, its WAL is not");
    restore(&location, &target).await.expect("restore");
    assert_eq!(
        rows(&target),
        rows(&source),
        "nothing of the stale WAL got in"
    );
}
