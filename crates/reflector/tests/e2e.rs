//! End to end: a real executive over HTTP, reflectors following it (feed) and its ctldb
//! (polling), each on its own LDB file; the LDBs are compared with the ctldb by query.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_reflector::{Config, SourceConfig, Status, run};
use ctlstore_schema::{FamilyName, TableName, Value};
use ctlstore_testkit::{
    Backend, SchemaDef, TableDef, TestDb, TestExecutive, WriterClient, backend_tests,
};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

backend_tests!(
    two_reflectors_converge_on_the_ctldb,
    a_hostile_entry_halts_without_harm
);

/// An executive on `url` and the writer `writer1`, with the family `fam` and `tables` (each an
/// `id` integer key plus `fields`).
async fn start_executive(
    url: &str,
    tables: &[&str],
    fields: &[(&str, &str)],
) -> (TestExecutive, WriterClient) {
    let exec = TestExecutive::start_with(url, |c| c.writer_limit = 1_000_000).await;
    let fields: Vec<(&str, &str)> = [("id", "integer")]
        .into_iter()
        .chain(fields.iter().copied())
        .collect();
    let tables: Vec<TableDef> = tables
        .iter()
        .map(|name| TableDef {
            name,
            fields: &fields,
            keys: &["id"],
        })
        .collect();
    let writer = exec
        .register(&SchemaDef {
            family: "fam",
            tables: &tables,
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    (exec, writer)
}

struct Reflector {
    status: Arc<Status>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start_reflector(ldb: &Path, source: SourceConfig) -> Reflector {
    let mut config = Config::new(ldb, source);
    config.gap_timeout = Duration::from_millis(200);
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    let (stop, stopped) = oneshot::channel::<()>();
    let s = status.clone();
    let task = tokio::spawn(async move {
        run(config, s, async move {
            let _ = stopped.await;
        })
        .await
        .expect("reflector runs");
    });
    Reflector { status, stop, task }
}

impl Reflector {
    async fn wait_for(&self, seq: i64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.status.applied_seq() < seq {
            assert!(
                Instant::now() < deadline,
                "reflector stuck at {} of {seq}: {:?}",
                self.status.applied_seq(),
                self.status.report()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// A tiny deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TABLES: [&str; 3] = ["alpha", "beta", "gamma"];

fn random_value(rng: &mut Rng, kind: &str) -> Json {
    match kind {
        "integer" => json!(rng.next() as i64 >> rng.below(60)),
        "decimal" => json!((rng.next() as f64) / 7.0e9 - 1.0e9),
        "string" => json!(format!(
            "s'{}-é-{}",
            rng.below(1000),
            "x".repeat(rng.below(20) as usize)
        )),
        "binary" => json!(["AAE=", "3q2+7w==", "", "/w=="][rng.below(4) as usize]),
        _ => json!(null),
    }
}

fn ldb_rows(path: &Path, table: &str) -> Vec<Vec<Value>> {
    ctlstore_testkit::sqlite_rows(path, &format!(r#"SELECT * FROM "{table}" ORDER BY "id""#))
}

async fn two_reflectors_converge_on_the_ctldb(backend: Backend) {
    let db = TestDb::create(backend).await;
    let (exec, writer) = start_executive(
        &db.url,
        &TABLES,
        &[
            ("name", "string"),
            ("blob", "binary"),
            ("score", "decimal"),
            ("n", "integer"),
        ],
    )
    .await;
    let base = exec.base.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let feed_ldb = dir.path().join("feed.db");
    let poll_ldb = dir.path().join("poll.db");
    let by_feed = start_reflector(&feed_ldb, SourceConfig::feed(&base));
    let mut poll = SourceConfig::poll(&db.url);
    if let SourceConfig::Poll { interval, .. } = &mut poll {
        *interval = Duration::from_millis(50);
    }
    let by_poll = start_reflector(&poll_ldb, poll);

    let mut rng = Rng(0x5eed_1234_abcd_0042);
    for _ in 0..60 {
        let n = 1 + rng.below(6);
        let mutations: Vec<Json> = (0..n)
            .map(|_| {
                let table = TABLES[rng.below(3) as usize];
                let id = rng.below(40) as i64;
                if rng.below(4) == 0 {
                    json!({"table": table, "delete": true, "values": {"id": id}})
                } else {
                    json!({"table": table, "values": {
                        "id": id, "name": random_value(&mut rng, "string"), "blob": random_value(&mut rng, "binary"),
                        "score": random_value(&mut rng, "decimal"), "n": random_value(&mut rng, "integer")}})
                }
            })
            .collect();
        writer
            .mutate_ok("fam", &json!({"mutations": mutations}))
            .await;
    }
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    let head = ctldb.max_seq().await.expect("head");
    by_feed.wait_for(head).await;
    by_poll.wait_for(head).await;
    let family = FamilyName::new("fam").expect("valid");
    for t in TABLES {
        let expected = ctldb
            .rows(&family, &TableName::new(t).expect("valid"))
            .await
            .expect("ctldb rows");
        assert!(!expected.is_empty(), "the random writes reached {t}");
        for ldb in [&feed_ldb, &poll_ldb] {
            assert_eq!(
                ldb_rows(ldb, &format!("fam___{t}")),
                expected,
                "{} vs ctldb, table {t}",
                ldb.display()
            );
        }
    }
    assert!(by_feed.status.report().healthy);
    by_feed.stop().await;
    by_poll.stop().await;
    exec.stop().await;
    db.cleanup().await;
}

async fn a_hostile_entry_halts_without_harm(backend: Backend) {
    let db = TestDb::create(backend).await;
    let (exec, writer) = start_executive(&db.url, &["alpha"], &[]).await;
    let base = exec.base.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = dir.path().join("exfiltrated.db");
    // A compromised ctldb: hand-crafted ledger rows, straight into the table.
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    ctldb
        .append_raw_ledger_for_tests(&format!("ATTACH DATABASE '{}' AS x", outside.display()))
        .await
        .expect("inject");
    let poisoned_at = ctldb.max_seq().await.expect("head");
    writer
        .mutate_ok(
            "fam",
            &json!({"mutations": [{"table": "alpha", "values": {"id": 1}}]}),
        )
        .await;
    let ldb = dir.path().join("ldb.db");
    let reflector = start_reflector(&ldb, SourceConfig::feed(&base));
    let deadline = Instant::now() + Duration::from_secs(20);
    while reflector.status.halted().is_none() {
        assert!(
            Instant::now() < deadline,
            "never halted: {:?}",
            reflector.status.report()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = reflector.status.report();
    assert!(!report.healthy);
    assert!(
        report.reason.contains(&format!("seq {poisoned_at}")) && report.reason.contains("ATTACH"),
        "{}",
        report.reason
    );
    assert_eq!(
        report.seq,
        poisoned_at - 1,
        "everything before the hostile entry applied, nothing after"
    );
    assert!(!outside.exists(), "nothing created outside the LDB");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !reflector.task.is_finished(),
        "a halted reflector stays up to report it"
    );
    assert_eq!(
        ldb_rows(&ldb, "fam___alpha"),
        Vec::<Vec<Value>>::new(),
        "the LDB still serves what it has"
    );
    reflector.stop().await;
    exec.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_dead_source_is_retried_with_backoff_not_a_busy_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing listens on port 9 of localhost.
    let reflector = start_reflector(
        &dir.path().join("ldb.db"),
        SourceConfig::feed("http://127.0.0.1:9"),
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let report = reflector.status.report();
    assert!(report.source_error.is_some(), "{report:?}");
    assert!(
        (2..=8).contains(&report.source_failures),
        "backoff: {} attempts in 1.6 s",
        report.source_failures
    );
    assert!(
        !report.healthy,
        "a reflector that cannot reach its source is not healthy"
    );
    reflector.stop().await;
}

/// A ctldb whose ledger has seq 1, then a hole (seqs 2..=4 never commit, as after rolled-back
/// appends), then seq 5.
async fn ledger_with_a_gap() -> TestDb {
    let db = TestDb::create(Backend::Sqlite).await;
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    ctldb
        .append_raw_ledger_for_tests(
            r#"CREATE TABLE fam___alpha ("id" INTEGER, PRIMARY KEY("id"));"#,
        )
        .await
        .expect("entry");
    let path = db.url.trim_start_matches("sqlite:").to_string();
    let raw = rusqlite::Connection::open(&path).expect("open the ctldb file");
    raw.execute(r#"INSERT INTO ctlstore_dml_ledger (seq, statement) VALUES (5, 'REPLACE INTO fam___alpha ("id") VALUES(1)')"#, [])
        .expect("insert after a gap");
    db
}

fn fast_poll(url: &str) -> SourceConfig {
    let mut source = SourceConfig::poll(url);
    if let SourceConfig::Poll { interval, .. } = &mut source {
        *interval = Duration::from_millis(20);
    }
    source
}

/// Polling a ctldb directly, a gap is waited on first (ctlstore's rule: its own executive can
/// commit a lower seq later), then skipped.
#[tokio::test]
async fn a_gap_is_waited_on_then_skipped() {
    let db = ledger_with_a_gap().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let reflector = start_reflector(&dir.path().join("ldb.db"), fast_poll(&db.url));
    reflector.wait_for(1).await;
    let started = Instant::now();
    reflector.wait_for(5).await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the gap was waited on for its timeout"
    );
    assert_eq!(reflector.status.report().skipped_seqs, 3);
    reflector.stop().await;
    db.cleanup().await;
}

/// Gaps below a committed entry are final (docs/decisions/0011-ledger-gaps-are-final.md): the
/// feed's default, and `-gap-policy final` when polling. Skipped at once, never waited on.
#[tokio::test]
async fn final_gaps_are_skipped_at_once() {
    let db = ledger_with_a_gap().await;
    let exec = TestExecutive::start(&db.url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut polling = Config::new(dir.path().join("poll.db"), fast_poll(&db.url));
    polling.gap_policy = Some(ctlstore_reflector::GapPolicy::Final);
    for (label, mut config) in [
        (
            "feed",
            Config::new(dir.path().join("feed.db"), SourceConfig::feed(&exec.base)),
        ),
        ("poll, final", polling),
    ] {
        // Long enough that waiting on the gap would show.
        config.gap_timeout = Duration::from_secs(5);
        let status = Arc::new(Status::new(Duration::from_secs(60)));
        let started = Instant::now();
        let task = tokio::spawn(run(config, status.clone(), std::future::pending::<()>()));
        while status.applied_seq() < 5 {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{label}: waited on a final gap: {:?}",
                status.report()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(status.report().skipped_seqs, 3, "{label}");
        task.abort();
    }
    exec.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_second_reflector_on_the_same_ldb_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    // The first one opens the LDB, then keeps retrying a dead source: it holds the LDB.
    let first = start_reflector(&ldb, SourceConfig::feed("http://127.0.0.1:9"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while first.status.report().source_failures == 0 {
        assert!(
            Instant::now() < deadline,
            "the first reflector never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        run(
            Config::new(&ldb, SourceConfig::feed("http://127.0.0.1:9")),
            Arc::new(Status::new(Duration::from_secs(60))),
            std::future::pending::<()>(),
        ),
    )
    .await
    .expect("the second reflector stops at once instead of retrying");
    match second {
        Err(ctlstore_reflector::ReflectorError::Ldb(ctlstore_ldb::LdbError::Locked {
            ldb: locked,
            ..
        })) => assert_eq!(locked, ldb),
        other => panic!("expected the LDB-locked error, got {other:?}"),
    }
    first.stop().await;
    // Once the first has stopped, the LDB is free again.
    let third = start_reflector(&ldb, SourceConfig::feed("http://127.0.0.1:9"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while third.status.report().source_failures == 0 {
        assert!(Instant::now() < deadline, "the LDB was not released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    third.stop().await;
}
