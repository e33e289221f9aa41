//! Snapshot creation and bootstrap of a large LDB: capture (VACUUM INTO + zstd) and publish to a
//! directory; then restore to a new path and open it with the reader until a row reads back
//! ("download → serving reads"). Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-snapshot --bench bootstrap        # BENCH_MB=1024

use std::time::Instant;

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use ctlstore_snapshot::{Location, S3Options, capture, publish, restore};

fn main() {
    let megabytes: u64 = std::env::var("BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir_in(
        std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .expect("tempdir");
    let source = dir.path().join("source.db");
    let started = Instant::now();
    let rows = megabytes * 1024; // ~1 KiB per row
    {
        let mut ldb = Ldb::open(&source, LdbOptions::default()).expect("open");
        ldb.apply(&[LedgerEntry {
            seq: 1,
            leader_ts: String::new(),
            statement: r#"CREATE TABLE bench___blobs ("id" INTEGER, "tag" VARCHAR(191), "body" TEXT, PRIMARY KEY("id"));"#.into(),
        }])
        .expect("create");
        let c = ldb.connection();
        c.execute_batch("BEGIN").expect("begin");
        {
            let mut insert = c
                .prepare("INSERT INTO bench___blobs VALUES (?1, ?2, ?3)")
                .expect("prepare");
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for i in 0..rows {
                // Half random hex, half repetitive: control data compresses, but not to nothing.
                let mut body = String::with_capacity(1000);
                for _ in 0..32 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    body.push_str(&format!("{state:016x}"));
                }
                body.push_str(&"enabled=true;".repeat(38));
                insert
                    .execute(rusqlite::params![
                        i as i64,
                        format!("tag-{}", i % 1000),
                        body
                    ])
                    .expect("insert");
            }
        }
        c.execute_batch("COMMIT").expect("commit");
        assert!(ctlstore_ldb_layout::advance_seq(c, 2).expect("seq"));
        ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
            .expect("checkpoint");
    }
    let size = std::fs::metadata(&source).map(|m| m.len()).unwrap_or(0);
    println!(
        "built a {} MiB LDB ({rows} rows) in {:.1} s",
        size >> 20,
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = dir.path().join("store");
    let location = Location::parse(
        &format!("file://{}/snapshot.db.zst", store.display()),
        &S3Options::default(),
    )
    .expect("location");
    let started = Instant::now();
    let captured = capture(&source, dir.path(), location.compression()).expect("capture");
    let captured_at = started.elapsed();
    runtime
        .block_on(publish(&location, &captured, 1))
        .expect("publish");
    println!(
        "snapshot: capture (VACUUM INTO + zstd) {:.1} s, publish {:.1} s; {} MiB -> {} MiB",
        captured_at.as_secs_f64(),
        (started.elapsed() - captured_at).as_secs_f64(),
        captured.manifest.ldb_bytes >> 20,
        captured.manifest.object_bytes >> 20
    );
    drop(captured);

    let target = dir.path().join("host").join("ldb.db");
    std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
    let started = Instant::now();
    let restored = runtime
        .block_on(restore(&location, &target))
        .expect("restore");
    let restored_at = started.elapsed();
    let reader = ctlstore_reader::Reader::open(&target).expect("reader");
    let row = reader
        .get_row(
            "bench",
            "blobs",
            &[ctlstore_reader::Key::from(rows as i64 / 2)],
        )
        .expect("read");
    assert!(row.is_some());
    println!(
        "bootstrap: download + verify + decompress + check + rename {:.1} s; serving reads after {:.1} s (seq {})",
        restored_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        restored.seq
    );
}
