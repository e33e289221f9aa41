//! End to end: a real executive over HTTP, reflectors following it (feed) and its ctldb
//! (polling), each on its own LDB file; the LDBs are compared with the ctldb by query.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_reflector::{Config, SourceConfig, Status, run};
use ctlstore_schema::{FamilyName, TableName, Value};
use ctlstore_testkit::{Backend, TestDb, backend_tests};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

backend_tests!(
    two_reflectors_converge_on_the_ctldb,
    a_hostile_entry_halts_without_harm
);

struct Executive {
    base: String,
    stop: oneshot::Sender<()>,
}

async fn start_executive(url: &str) -> Executive {
    let config = ctlstore_executive::Config {
        ctldb_url: url.to_string(),
        writer_limit: 1_000_000,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(ctlstore_executive::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Executive { base, stop };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("executive did not start");
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
    let exec = start_executive(&db.url).await;
    let client = reqwest::Client::new();
    let base = exec.base.clone();
    client
        .post(format!("{base}/families/fam"))
        .send()
        .await
        .expect("family");
    for t in TABLES {
        let def = json!({"fields": [["id", "integer"], ["name", "string"], ["blob", "binary"], ["score", "decimal"], ["n", "integer"]], "keyFields": ["id"]});
        let r = client
            .post(format!("{base}/families/fam/tables/{t}"))
            .json(&def)
            .send()
            .await
            .expect("table");
        assert!(r.status().is_success());
    }
    client
        .post(format!("{base}/writers/writer1"))
        .body("secret1")
        .send()
        .await
        .expect("writer");
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
        let r = client
            .post(format!("{base}/families/fam/mutations"))
            .header("ctlstore-writer", "writer1")
            .header("ctlstore-secret", "secret1")
            .json(&json!({"mutations": mutations}))
            .send()
            .await
            .expect("mutate");
        assert!(
            r.status().is_success(),
            "{}",
            r.text().await.unwrap_or_default()
        );
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
    let _ = exec.stop.send(());
    db.cleanup().await;
}

async fn a_hostile_entry_halts_without_harm(backend: Backend) {
    let db = TestDb::create(backend).await;
    let exec = start_executive(&db.url).await;
    let client = reqwest::Client::new();
    let base = exec.base.clone();
    client
        .post(format!("{base}/families/fam"))
        .send()
        .await
        .expect("family");
    let def = json!({"fields": [["id", "integer"]], "keyFields": ["id"]});
    client
        .post(format!("{base}/families/fam/tables/alpha"))
        .json(&def)
        .send()
        .await
        .expect("table");
    client
        .post(format!("{base}/writers/writer1"))
        .body("secret1")
        .send()
        .await
        .expect("writer");
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
    let r = client
        .post(format!("{base}/families/fam/mutations"))
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
        .json(&json!({"mutations": [{"table": "alpha", "values": {"id": 1}}]}))
        .send()
        .await
        .expect("mutate");
    assert!(r.status().is_success());
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
    let _ = exec.stop.send(());
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

#[tokio::test]
async fn a_gap_is_waited_on_then_skipped() {
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
    // A rolled-back append leaves a hole: seqs 2..=4 never commit.
    let path = db.url.trim_start_matches("sqlite:").to_string();
    let raw = rusqlite::Connection::open(&path).expect("open the ctldb file");
    raw.execute(r#"INSERT INTO ctlstore_dml_ledger (seq, statement) VALUES (5, 'REPLACE INTO fam___alpha ("id") VALUES(1)')"#, [])
        .expect("insert after a gap");
    drop(raw);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut source = SourceConfig::poll(&db.url);
    if let SourceConfig::Poll { interval, .. } = &mut source {
        *interval = Duration::from_millis(20);
    }
    let reflector = start_reflector(&dir.path().join("ldb.db"), source);
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
