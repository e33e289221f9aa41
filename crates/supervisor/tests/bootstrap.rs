//! Supervisor → snapshot store → a new host bootstraps from it and follows the ledger; and a
//! corrupt snapshot makes the new host replay the ledger instead.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_reflector::{SourceConfig, Status};
use ctlstore_schema::{FamilyName, TableName};
use ctlstore_snapshot::S3Options;
use ctlstore_testkit::{
    Backend, Moto, SchemaDef, TableDef, TestDb, TestExecutive, WriterClient, s3_test, sqlite_rows,
};
use serde_json::json;

/// An executive on `url` with the family `fam`, its table `items` and the writer `writer1`.
async fn executive(url: &str) -> (TestExecutive, WriterClient) {
    let exec = TestExecutive::start_with(url, |c| c.writer_limit = 1_000_000).await;
    let items = TableDef {
        name: "items",
        fields: &[("id", "integer"), ("body", "text")],
        keys: &["id"],
    };
    let writer = exec
        .register(&SchemaDef {
            family: "fam",
            tables: &[items],
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    (exec, writer)
}

async fn write(writer: &WriterClient, from: i64, to: i64) {
    for i in from..to {
        let body = json!({"mutations": [{"table": "items", "values": {"id": i, "body": format!("row {i}")}}]});
        writer.mutate_ok("fam", &body).await;
    }
}

async fn wait_for(status: &Status, seq: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while status.applied_seq() < seq {
        assert!(
            Instant::now() < deadline,
            "stuck at {} of {seq}: {:?}",
            status.applied_seq(),
            status.report()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn items(path: &Path) -> Vec<Vec<ctlstore_schema::Value>> {
    sqlite_rows(path, r#"SELECT * FROM fam___items ORDER BY "id""#)
}

async fn bootstrap_then_follow(url: String, s3: S3Options) {
    let db = TestDb::create(Backend::Sqlite).await;
    let (exec, writer) = executive(&db.url).await;
    let base = exec.base.clone();
    write(&writer, 0, 40).await;
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    let head = ctldb.max_seq().await.expect("head");

    let dir = tempfile::tempdir().expect("tempdir");
    let private = dir.path().join("supervisor.db");
    let config = ctlstore_supervisor::Config {
        reflector: ctlstore_reflector::Config::new(&private, SourceConfig::feed(&base)),
        snapshot_urls: vec![url.clone()],
        interval: Duration::from_millis(300),
        keep: 2,
        s3: s3.clone(),
    };
    let supervisor_status = Arc::new(Status::new(Duration::from_secs(60)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let supervisor = tokio::spawn(ctlstore_supervisor::run(
        config.clone(),
        supervisor_status.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    wait_for(&supervisor_status, head).await;
    // Wait for a snapshot at `head` to be published, then stop the supervisor so the store holds
    // exactly that state.
    let location = ctlstore_snapshot::Location::parse(&url, &s3).expect("location");
    let deadline = Instant::now() + Duration::from_secs(30);
    let snapshot_seq = loop {
        let probe = dir.path().join("probe.db");
        let _ = std::fs::remove_file(&probe);
        if let Ok(r) = ctlstore_snapshot::restore(&location, &probe).await
            && r.seq >= head
        {
            break r.seq;
        }
        assert!(Instant::now() < deadline, "no snapshot at seq {head}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    supervisor.await.expect("task").expect("supervisor");
    let at_snapshot = items(&private);

    // A new host: its LDB comes from the snapshot, then it follows the ledger.
    write(&writer, 40, 60).await;
    let new_ldb = dir.path().join("new-host.db");
    let mut host = ctlstore_reflector::Config::new(&new_ldb, SourceConfig::feed(&base));
    host.bootstrap = Some((url, s3));
    host.ldb.change_feed = 100_000;
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let s = status.clone();
    let task = tokio::spawn(ctlstore_reflector::run(host, s, async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(30);
    while status.applied_seq() == 0 {
        assert!(Instant::now() < deadline, "never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        status.applied_seq() >= snapshot_seq,
        "it started from the snapshot, not from zero"
    );
    let final_head = ctldb.max_seq().await.expect("head");
    wait_for(&status, final_head).await;
    assert_eq!(
        items(&private),
        at_snapshot,
        "the supervisor's LDB as snapshotted"
    );
    let expected = ctldb
        .rows(
            &FamilyName::new("fam").expect("valid"),
            &TableName::new("items").expect("valid"),
        )
        .await
        .expect("rows");
    assert_eq!(
        items(&new_ldb),
        expected,
        "after bootstrap the host caught up with the ctldb"
    );
    assert_eq!(expected.len(), 60);
    feed_says_bootstrapped(&new_ldb, snapshot_seq);
    let _ = stop.send(());
    task.await.expect("task").expect("reflector");
    db.cleanup().await;
}

/// The host's change feed: a consumer from before the snapshot is told the rows came from it,
/// then gets the 20 writes after it; one from the snapshot on gets just the writes.
fn feed_says_bootstrapped(ldb: &Path, snapshot_seq: i64) {
    use ctlstore_reader::{FeedEvent, Reader};
    let reader = Reader::open(ldb).expect("reader");
    let ids = |events: &[FeedEvent]| -> Vec<i64> {
        events
            .iter()
            .filter_map(|e| match e {
                FeedEvent::Batch { changes, .. } => Some(changes),
                _ => None,
            })
            .flatten()
            .map(|c| {
                assert_eq!(c.op, "upsert");
                c.key[0].as_i64().expect("id")
            })
            .collect()
    };
    let from_before: Vec<FeedEvent> = reader
        .changes(0)
        .timeout(Duration::from_millis(300))
        .map(|e| e.expect("event"))
        .collect();
    assert_eq!(
        from_before.first(),
        Some(&FeedEvent::Bootstrap { seq: snapshot_seq }),
        "{from_before:?}"
    );
    assert_eq!(ids(&from_before[1..]), (40..60).collect::<Vec<_>>());
    let from_snapshot: Vec<FeedEvent> = reader
        .changes(snapshot_seq)
        .timeout(Duration::from_millis(300))
        .map(|e| e.expect("event"))
        .collect();
    assert!(
        from_snapshot
            .iter()
            .all(|e| matches!(e, FeedEvent::Batch { .. })),
        "{from_snapshot:?}"
    );
    assert_eq!(ids(&from_snapshot), (40..60).collect::<Vec<_>>());
    let retention = reader.feed_retention().expect("retention");
    assert_eq!(retention.since, snapshot_seq);
    assert_eq!(retention.bootstrapped, Some(snapshot_seq));
    assert_eq!(retention.changes, 20);
    assert!(retention.newest > snapshot_seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_snapshot_bootstrap_then_follow() {
    let store = tempfile::tempdir().expect("tempdir");
    bootstrap_then_follow(
        format!("file://{}/snapshot.db.zst", store.path().display()),
        S3Options::default(),
    )
    .await;
}

s3_test! {
    async fn s3_snapshot_bootstrap_then_follow() {
        let moto = Moto::start("ctlstore-snapshots");
        let s3 = moto.s3_options();
        bootstrap_then_follow("s3://ctlstore-snapshots/snapshot.db.gz".to_string(), s3).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_snapshot_falls_back_to_the_ledger() {
    let db = TestDb::create(Backend::Sqlite).await;
    let (exec, writer) = executive(&db.url).await;
    let base = exec.base.clone();
    write(&writer, 0, 10).await;
    let store = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        store.path().join("snapshot.db.gz"),
        b"this is not a gzip'd LDB",
    )
    .expect("garbage");
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let mut host = ctlstore_reflector::Config::new(&ldb, SourceConfig::feed(&base));
    host.bootstrap = Some((
        format!("file://{}/snapshot.db.gz", store.path().display()),
        S3Options::default(),
    ));
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    tokio::spawn(ctlstore_reflector::run(
        host,
        status.clone(),
        std::future::pending(),
    ));
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    wait_for(&status, ctldb.max_seq().await.expect("head")).await;
    assert_eq!(items(&ldb).len(), 10, "converged by replaying the ledger");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_whose_ldb_is_held_stops_with_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let private = dir.path().join("supervisor.db");
    // Nothing listens on port 9: the holder opens the LDB, then retries its source forever.
    let holder_status = Arc::new(Status::new(Duration::from_secs(60)));
    let holder = tokio::spawn(ctlstore_reflector::run(
        ctlstore_reflector::Config::new(&private, SourceConfig::feed("http://127.0.0.1:9")),
        holder_status.clone(),
        std::future::pending(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while holder_status.report().source_failures == 0 {
        assert!(Instant::now() < deadline, "the holder never opened its LDB");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let store = tempfile::tempdir().expect("tempdir");
    let config = ctlstore_supervisor::Config {
        reflector: ctlstore_reflector::Config::new(
            &private,
            SourceConfig::feed("http://127.0.0.1:9"),
        ),
        snapshot_urls: vec![format!("file://{}/snapshot.db.zst", store.path().display())],
        interval: Duration::from_millis(100),
        keep: 2,
        s3: S3Options::default(),
    };
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        ctlstore_supervisor::run(
            config,
            Arc::new(Status::new(Duration::from_secs(60))),
            std::future::pending(),
        ),
    )
    .await
    .expect("the supervisor stops instead of snapshotting an LDB it cannot apply to");
    let err = ended.expect_err("the LDB is held by another reflector");
    assert!(
        matches!(
            err,
            ctlstore_supervisor::SupervisorError::Reflector(
                ctlstore_reflector::ReflectorError::Ldb(_)
            )
        ) && err.to_string().contains("lock"),
        "{err}"
    );
    holder.abort();
}
