//! The ctldb stopped hard under a steady write stream, on PostgreSQL and on MariaDB: a private
//! server (never the shared test server) is killed (`pg_ctl stop -m immediate`; SIGKILL to
//! `mariadbd`) while writers keep writing, then started again on the same data directory. A
//! reflector follows the executive's feed throughout. What must hold (DESIGN.md §1: writes are
//! CP, nothing acknowledged is ever lost):
//! - every write is answered within 2 s, outage or not; during the outage with 503, a JSON
//!   error naming the ctldb and `Retry-After`; so is every other route that needs the ctldb;
//! - `/healthz` says the ctldb is down during the outage, and is 200 again after it;
//! - writes succeed again by themselves once the database is back (no restart);
//! - every write acknowledged with 200 is in the ledger exactly once;
//! - the reflector catches up by itself, its LDB then holds exactly the ctldb's rows, and a
//!   reader watching the LDB throughout never saw half a batch (`testkit::batch_mutations`).
//!
//! Short form: one outage per backend. Soak: `CTLSTORE_FAULT_ROUNDS=10` (outages per run).
//!
//! (Over 400 lines on purpose: one outage scenario run on two backends, with its writers,
//! reflector, watcher and checks; splitting it would scatter one story.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_reflector::{Config as ReflectorConfig, SourceConfig, Status};
use ctlstore_schema::Value as Cell;
use ctlstore_testkit::{
    BATCH_TABLES, LdbWatcher, MariaDbInstance, PgCluster, SchemaDef, TableDef, TestExecutive,
    batch_mutations, mysql_test, postgres_test,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The contract being measured.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
const WRITERS: usize = 6;
const OUTAGE: Duration = Duration::from_secs(5);
/// The reflector's bound on catching up after the ctldb returns (its backoff is at most 10 s).
const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

/// A private ctldb server the test can kill and start again.
trait Server: Send + Sync + 'static {
    fn url(&self) -> String;
    fn stop_hard(&self);
    fn resume(&self);
}

impl Server for PgCluster {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn stop_hard(&self) {
        PgCluster::stop_hard(self)
    }
    fn resume(&self) {
        PgCluster::resume(self)
    }
}

impl Server for MariaDbInstance {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn stop_hard(&self) {
        MariaDbInstance::stop_hard(self)
    }
    fn resume(&self) {
        MariaDbInstance::resume(self)
    }
}

/// Outages per run (`CTLSTORE_FAULT_ROUNDS`, default 1).
fn rounds() -> usize {
    std::env::var("CTLSTORE_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// One write and how it was answered.
struct Answer {
    /// `items` id, or batch number for `batch`.
    id: i64,
    batch: bool,
    started: Instant,
    latency: Duration,
    status: Option<StatusCode>,
    retry_after: Option<String>,
    body: Value,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("the blocking task ran")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `REPLACE INTO fam___items ("id","name") VALUES(42,'w')` → (`fam___items`, 42).
fn written(statement: &str) -> Option<(&str, i64)> {
    let table = statement.strip_prefix("REPLACE INTO ")?.split(' ').next()?;
    let rest = statement.split_once("VALUES(")?.1;
    Some((table, rest.split(',').next()?.parse().ok()?))
}

/// Sends one write and records how it was answered.
async fn send(
    w: &ctlstore_testkit::WriterClient,
    id: i64,
    batch: bool,
    body: Value,
    answers: &Mutex<Vec<Answer>>,
) -> Option<StatusCode> {
    let started = Instant::now();
    let sent = w
        .request(Method::POST, "/families/fam/mutations")
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let (status, retry_after, body) = match sent {
        Ok(r) => {
            let status = r.status();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = r.json::<Value>().await.unwrap_or(Value::Null);
            (Some(status), retry, body)
        }
        Err(e) => (None, None, json!(e.to_string())),
    };
    let latency = started.elapsed();
    answers.lock().expect("answers").push(Answer {
        id,
        batch,
        started,
        latency,
        status,
        retry_after,
        body,
    });
    status
}

postgres_test! {
    async fn writes_answer_503_fast_while_the_ctldb_is_down_and_resume_after() {
        let cluster = Arc::new(blocking(PgCluster::start).await);
        outage("PostgreSQL", cluster).await;
    }
}

mysql_test! {
    async fn writes_answer_503_fast_while_mariadb_is_killed_and_resume_after() {
        let server = Arc::new(blocking(MariaDbInstance::start).await);
        outage("MariaDB", server).await;
    }
}

async fn outage(name: &str, server: Arc<dyn Server>) {
    let url = server.url();
    let s = TestExecutive::start_with(&url, |c| c.writer_limit = 100_000_000).await;
    let items = TableDef {
        name: "items",
        fields: &[("id", "integer"), ("name", "string")],
        keys: &["id"],
    };
    let [current, history] = BATCH_TABLES;
    let w = s
        .register(&SchemaDef {
            family: "fam",
            tables: &[items, current, history],
            writer: "writer1",
            secret: "secret1",
        })
        .await;

    // A host: a reflector following the executive's feed, and a reader watching its LDB.
    let dir = tempfile::tempdir().expect("temporary directory");
    let ldb = dir.path().join("ldb.db");
    let watcher = LdbWatcher::start(&ldb, "fam");
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    let (stop_reflector, reflector_stopped) = tokio::sync::oneshot::channel::<()>();
    let reflector = {
        let config = ReflectorConfig::new(&ldb, SourceConfig::feed(&s.base));
        let status = status.clone();
        tokio::spawn(async move {
            ctlstore_reflector::run(config, status, async move {
                let _ = reflector_stopped.await;
            })
            .await
            .expect("the reflector runs");
        })
    };

    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicI64::new(1));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (w, answers, stop, next_id) =
            (w.clone(), answers.clone(), stop.clone(), next_id.clone());
        writers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let body =
                    json!({"mutations": [{"table": "items", "values": {"id": id, "name": "w"}}]});
                send(&w, id, false, body, &answers).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    // One more writer: batches, one after the other. A batch answered 503 is not sent again
    // (it may have committed all the same: then it is in the ledger once, not twice).
    {
        let (w, answers, stop) = (w.clone(), answers.clone(), stop.clone());
        writers.spawn(async move {
            let mut b = 0;
            while !stop.load(Ordering::Relaxed) {
                send(&w, b, true, batch_mutations(b), &answers).await;
                b += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    // The test's own look at the ctldb (it fails during the outages, like everyone's).
    let ctldb = Ctldb::connect(&url, CtldbOptions::default())
        .await
        .expect("the ctldb");
    let mut windows = Vec::new();
    let mut recoveries = Vec::new();
    let mut host_recoveries = Vec::new();
    let mut health_down = Vec::new();
    let mut routes_down = Vec::new();
    for round in 1..=rounds() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let c = server.clone();
        blocking(move || c.stop_hard()).await;
        let stopped_at = Instant::now();
        while stopped_at.elapsed() < OUTAGE {
            let started = Instant::now();
            let (status, body) = s.call(Method::GET, "/healthz", None).await;
            health_down.push((started.elapsed(), status, body));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Every other route that needs the ctldb answers as fast: reads, the feed, DDL, limits.
        for (method, path) in [
            (Method::GET, "/cookie"),
            (Method::GET, "/ledger?after=0"),
            (Method::GET, "/ledger?after=1000000&wait=10s"),
            (Method::GET, "/limits/tables"),
            (Method::GET, "/limits/writers"),
            (Method::POST, "/families/another"),
        ] {
            let started = Instant::now();
            let r = w.request(method.clone(), path).send().await.expect("send");
            let latency = started.elapsed();
            let retry_after = r.headers().get("retry-after").is_some();
            let status = r.status();
            let body = r.json::<Value>().await.unwrap_or(Value::Null);
            assert!(
                latency <= ANSWER_WITHIN,
                "{name}, round {round}: {method} {path} answered after {latency:?}"
            );
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{name}, round {round}: {method} {path}: {body}"
            );
            assert!(
                retry_after && body["field"] == "ctldb",
                "{name}, round {round}: {method} {path}: {body}"
            );
            routes_down.push(latency);
        }
        let resuming_at = Instant::now();
        windows.push((stopped_at, resuming_at));
        let c = server.clone();
        blocking(move || c.resume()).await;
        let resumed_at = Instant::now();
        // Writes must come back by themselves, on the same executive.
        let recovered = loop {
            let first_ok = answers
                .lock()
                .expect("answers")
                .iter()
                .filter(|a| a.started >= resumed_at && a.status == Some(StatusCode::OK))
                .map(|a| a.started + a.latency)
                .min();
            if let Some(at) = first_ok {
                break at.duration_since(resumed_at);
            }
            assert!(
                resumed_at.elapsed() < Duration::from_secs(30),
                "{name}, round {round}: writes did not resume within 30 s of the ctldb's return"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        recoveries.push(recovered);
        // The host follows by itself: the reflector, which saw the feed answer 503 and backed
        // off, applies what was written since the return.
        let head = ctldb.max_seq().await.expect("the ledger's head");
        while status.applied_seq() < head {
            assert!(
                resumed_at.elapsed() < CONVERGE_WITHIN,
                "{name}, round {round}: the reflector did not reach seq {head}: {:?}",
                status.report()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        host_recoveries.push(resumed_at.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    while writers.join_next().await.is_some() {}
    let (health_status, health) = s.call(Method::GET, "/healthz", None).await;
    assert_eq!(
        health_status,
        StatusCode::OK,
        "{name}: healthz after the outage: {health}"
    );

    let answers = std::mem::take(&mut *answers.lock().expect("answers"));
    // Every write, whenever it was sent, answered within the bound with 200 or 503.
    for a in &answers {
        assert!(
            a.latency <= ANSWER_WITHIN,
            "{name}: write {} answered after {:?}: {:?} {}",
            a.id,
            a.latency,
            a.status,
            a.body
        );
        assert!(
            matches!(
                a.status,
                Some(StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE)
            ),
            "{name}: write {}: {:?} {}",
            a.id,
            a.status,
            a.body
        );
    }
    // During the outages: 503 naming the ctldb, with Retry-After.
    let during: Vec<&Answer> = answers
        .iter()
        .filter(|a| {
            windows
                .iter()
                .any(|(from, to)| a.started >= *from && a.started + a.latency <= *to)
        })
        .collect();
    assert!(
        during.len() >= WRITERS * 2 * windows.len(),
        "{name}: too few writes during the outages: {}",
        during.len()
    );
    for a in &during {
        assert_eq!(
            a.status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "{name}: write {} during the outage: {}",
            a.id,
            a.body
        );
        assert!(
            a.retry_after
                .as_deref()
                .is_some_and(|r| r.parse::<u64>().is_ok()),
            "{name}: write {}: Retry-After {:?}",
            a.id,
            a.retry_after
        );
        assert_eq!(
            a.body["field"], "ctldb",
            "{name}: write {}: {}",
            a.id, a.body
        );
        assert!(
            a.body["error"]
                .as_str()
                .is_some_and(|e| e.contains("ctldb") && e.contains("unavailable")),
            "{name}: write {}: {}",
            a.id,
            a.body
        );
    }
    for (latency, status, body) in &health_down {
        assert_eq!(
            *status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{name}: healthz during the outage: {body}"
        );
        assert_eq!(
            body["ctldb"], "down",
            "{name}: healthz during the outage: {body}"
        );
        assert!(
            *latency <= ANSWER_WITHIN,
            "{name}: healthz answered after {latency:?}"
        );
    }

    // Nothing acknowledged is lost, nothing is applied twice: in the ledger...
    let mut in_ledger: HashMap<(String, i64), usize> = HashMap::new();
    let mut after = 0;
    loop {
        let page = s.ledger(after).await;
        let Some(last) = page.last().and_then(|e| e["seq"].as_i64()) else {
            break;
        };
        for e in &page {
            if let Some((table, id)) = e["statement"].as_str().and_then(written)
                && table != "fam___current"
            {
                *in_ledger.entry((table.to_string(), id)).or_default() += 1;
            }
        }
        after = last;
    }
    let key = |a: &Answer| {
        let table = if a.batch {
            "fam___history"
        } else {
            "fam___items"
        };
        (table.to_string(), a.id)
    };
    let acked: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == Some(StatusCode::OK))
        .collect();
    for a in &acked {
        assert_eq!(
            in_ledger.get(&key(a)).copied(),
            Some(1),
            "{name}: acknowledged write {:?} is in the ledger {:?} times",
            key(a),
            in_ledger.get(&key(a))
        );
    }
    assert!(
        in_ledger.values().all(|n| *n == 1),
        "{name}: a write is in the ledger twice"
    );

    // ... and in the LDB, once the reflector has caught up by itself.
    let head = after;
    let converging = Instant::now();
    while status.applied_seq() < head {
        assert!(
            converging.elapsed() < CONVERGE_WITHIN,
            "{name}: the reflector did not reach seq {head}: {:?}",
            status.report()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let caught_up = converging.elapsed();
    let report = status.report();
    let watched = watcher.finish();
    let _ = stop_reflector.send(());
    let _ = reflector.await;
    assert_eq!(report.halted, None, "{name}: the reflector halted");
    assert!(
        watched.violations.is_empty(),
        "{name}: a reader saw {} inconsistent snapshots of the LDB, first: {:#?}",
        watched.violation_count,
        watched.violations
    );
    let ldb_rows = ctlstore_testkit::assert_ldb_matches_ctldb(
        &ctldb,
        &ldb,
        &["items", "current", "history"],
        name,
    )
    .await;
    let in_history: std::collections::HashSet<i64> =
        ctlstore_testkit::sqlite_rows(&ldb, r#"SELECT "id" FROM "fam___history""#)
            .iter()
            .filter_map(|r| match r.first() {
                Some(Cell::Integer(i)) => Some(*i),
                _ => None,
            })
            .collect();
    for a in acked.iter().filter(|a| a.batch) {
        assert!(
            in_history.contains(&a.id),
            "{name}: acknowledged batch {} is not in the LDB",
            a.id
        );
    }
    ctldb.close().await;

    let mut outage: Vec<Duration> = during.iter().map(|a| a.latency).collect();
    outage.sort();
    let mut health: Vec<Duration> = health_down.iter().map(|h| h.0).collect();
    health.sort();
    routes_down.sort();
    recoveries.sort();
    host_recoveries.sort();
    let batches = acked.iter().filter(|a| a.batch).count();
    eprintln!(
        "{name} ctldb outage x{}: {} writes during the outages answered 503 in p50 {:?} / max {:?}; healthz p50 {:?} / max {:?} ({} probes); other routes max {:?}; {} writes acknowledged ({batches} of them batches), all in the ledger once; first write acknowledged {:?} (max) after the ctldb returned, and applied on the host {:?} (p50) / {:?} (max) after; {} writes in all, max latency {:?}; reflector: {} failed fetches retried, never halted, caught up {caught_up:?} after the writers stopped, LDB = ctldb ({ldb_rows} rows), reader: {} snapshots, none torn",
        windows.len(),
        outage.len(),
        percentile(&outage, 0.5),
        percentile(&outage, 1.0),
        percentile(&health, 0.5),
        percentile(&health, 1.0),
        health.len(),
        percentile(&routes_down, 1.0),
        acked.len(),
        percentile(&recoveries, 1.0),
        percentile(&host_recoveries, 0.5),
        percentile(&host_recoveries, 1.0),
        answers.len(),
        answers.iter().map(|a| a.latency).max().unwrap_or_default(),
        report.source_failures,
        watched.observations,
    );
    s.stop().await;
}
