//! Crash safety: a real `ctlstore reflector` process is killed with SIGKILL at random moments,
//! 50 times, while a stream of batches is written. A reader watching the LDB the whole time must
//! never see half a batch or the seq go backwards; at the end the LDB equals the ctldb.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_schema::{FamilyName, TableName, Value};
use ctlstore_testkit::{Backend, SchemaDef, TableDef, TestDb, TestExecutive};
use serde_json::json;

const KILLS: usize = 50;
const ROWS_PER_BATCH: i64 = 5;

fn spawn_reflector(ldb: &Path, executive: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args(["reflector", "-ldb-path"])
        .arg(ldb)
        .args(["-executive-url", executive, "-gap-timeout", "100ms"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reflector")
}

/// What a reader sees in the LDB at one moment.
struct Observation {
    seq: i64,
    /// Distinct `batch` values among the rows of `fam___current` (one batch rewrites all of them).
    distinct_batches: i64,
    rows: i64,
}

fn observe(path: &Path) -> Option<Observation> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    // One read transaction, so seq and rows come from the same snapshot.
    conn.execute_batch("BEGIN").ok()?;
    let seq = conn
        .query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0))
        .ok()?;
    let (distinct_batches, rows) = conn
        .query_row(
            "SELECT COUNT(DISTINCT batch), COUNT(*) FROM fam___current",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    Some(Observation {
        seq,
        distinct_batches,
        rows,
    })
}

fn ldb_rows(path: &Path, table: &str) -> Vec<Vec<Value>> {
    ctlstore_testkit::sqlite_rows(path, &format!(r#"SELECT * FROM "{table}" ORDER BY "id""#))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflector_killed_50_times_converges_without_torn_or_repeated_batches() {
    let db = TestDb::create(Backend::Sqlite).await;
    let executive = TestExecutive::start_with(&db.url, |c| c.writer_limit = i64::MAX / 4).await;
    let fields = [("id", "integer"), ("batch", "integer"), ("val", "string")];
    let table = |name| TableDef {
        name,
        fields: &fields,
        keys: &["id"],
    };
    let writer_client = executive
        .register(&SchemaDef {
            family: "fam",
            tables: &[table("current"), table("history")],
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    let base = executive.base.clone();

    // The writer: batch b rewrites every row of `current` with batch = b and appends row b to
    // `history`.
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let writer = {
        let (writer_client, stop, batches) = (writer_client.clone(), stop.clone(), batches.clone());
        tokio::spawn(async move {
            let mut b = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let mut mutations: Vec<serde_json::Value> = (0..ROWS_PER_BATCH)
                    .map(|id| json!({"table": "current", "values": {"id": id, "batch": b, "val": format!("batch {b}")}}))
                    .collect();
                mutations
                    .push(json!({"table": "history", "values": {"id": b, "batch": b, "val": "x"}}));
                writer_client
                    .mutate_ok("fam", &json!({"mutations": mutations}))
                    .await;
                b += 1;
                batches.store(b as u64, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let ldb: PathBuf = dir.path().join("ldb.db");
    // The reader: watches the LDB for the whole run.
    let watching = Arc::new(AtomicBool::new(true));
    let reader = {
        let (path, watching) = (ldb.clone(), watching.clone());
        std::thread::spawn(move || {
            let (mut observations, mut last_seq) = (0u64, 0i64);
            while watching.load(Ordering::SeqCst) {
                if let Some(o) = observe(&path) {
                    assert!(
                        o.seq >= last_seq,
                        "seq went backwards: {} after {last_seq}",
                        o.seq
                    );
                    assert!(
                        o.distinct_batches <= 1,
                        "torn batch visible at seq {}: {} batches mixed",
                        o.seq,
                        o.distinct_batches
                    );
                    assert!(
                        o.rows == 0 || o.rows == ROWS_PER_BATCH,
                        "half a batch visible at seq {}: {} rows",
                        o.seq,
                        o.rows
                    );
                    last_seq = o.seq;
                    observations += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            observations
        })
    };

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for kill in 0..KILLS {
        let mut child = spawn_reflector(&ldb, &base);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(20 + seed % 180)).await;
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        assert!(
            status.code().is_none(),
            "kill {kill}: the reflector had already exited: {status}"
        );
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");

    // A last, uninterrupted run catches up.
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    let head = ctldb.max_seq().await.expect("head");
    let mut child = spawn_reflector(&ldb, &base);
    let deadline = Instant::now() + Duration::from_secs(60);
    while observe(&ldb).map_or(0, |o| o.seq) < head {
        assert!(Instant::now() < deadline, "did not converge");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("stop");
    let _ = child.wait();
    watching.store(false, Ordering::SeqCst);
    let observations = reader.join().expect("the reader saw no violation");
    assert!(
        observations > 100,
        "the reader watched throughout ({observations} observations)"
    );

    let family = FamilyName::new("fam").expect("valid");
    for table in ["current", "history"] {
        let expected = ctldb
            .rows(&family, &TableName::new(table).expect("valid"))
            .await
            .expect("rows");
        assert_eq!(
            ldb_rows(&ldb, &format!("fam___{table}")),
            expected,
            "{table}"
        );
    }
    let written = batches.load(Ordering::SeqCst) as usize;
    assert_eq!(
        ldb_rows(&ldb, "fam___history").len(),
        written,
        "every batch applied exactly once"
    );
    eprintln!(
        "crash test: {KILLS} kills, {written} batches, {observations} observations, head seq {head}"
    );
    db.cleanup().await;
}
