//! The ctldb stopped hard under a steady write stream: a private PostgreSQL cluster (never the
//! shared test server) is killed with `pg_ctl stop -m immediate` while writers keep writing,
//! then started again. What must hold (DESIGN.md §1: writes are CP, nothing acknowledged is
//! ever lost):
//! - every write is answered within 2 s, outage or not; during the outage with 503, a JSON
//!   error naming the ctldb and `Retry-After`; so is every other route that needs the ctldb;
//! - `/healthz` says the ctldb is down during the outage, and is 200 again after it;
//! - writes succeed again by themselves once the database is back (no restart);
//! - every write acknowledged with 200 is in the ledger exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctlstore_testkit::{PgCluster, SchemaDef, TableDef, TestExecutive, postgres_test};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The contract being measured.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
const WRITERS: usize = 6;
const OUTAGE: Duration = Duration::from_secs(5);

/// One write and how it was answered.
struct Answer {
    id: i64,
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

/// `REPLACE INTO fam___items ("id","name") VALUES(42,'w')` → 42.
fn written_id(statement: &str) -> Option<i64> {
    let rest = statement.split_once("VALUES(")?.1;
    rest.split(',').next()?.parse().ok()
}

postgres_test! {
    async fn writes_answer_503_fast_while_the_ctldb_is_down_and_resume_after() {
        let cluster = Arc::new(blocking(PgCluster::start).await);
        let s = TestExecutive::start_with(&cluster.url, |c| c.writer_limit = 100_000_000).await;
        let w = s
            .register(&SchemaDef {
                family: "fam",
                tables: &[TableDef { name: "items", fields: &[("id", "integer"), ("name", "string")], keys: &["id"] }],
                writer: "writer1",
                secret: "secret1",
            })
            .await;

        let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let next_id = Arc::new(AtomicI64::new(1));
        let mut writers = tokio::task::JoinSet::new();
        for _ in 0..WRITERS {
            let (w, answers, stop, next_id) = (w.clone(), answers.clone(), stop.clone(), next_id.clone());
            writers.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let body = json!({"mutations": [{"table": "items", "values": {"id": id, "name": "w"}}]});
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
                            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
                            let body = r.json::<Value>().await.unwrap_or(Value::Null);
                            (Some(status), retry, body)
                        }
                        Err(e) => (None, None, json!(e.to_string())),
                    };
                    let latency = started.elapsed();
                    answers.lock().expect("answers").push(Answer { id, started, latency, status, retry_after, body });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }

        tokio::time::sleep(Duration::from_secs(1)).await;
        let c = cluster.clone();
        blocking(move || c.stop_hard()).await;
        let stopped_at = Instant::now();
        let mut health_down = Vec::new();
        while stopped_at.elapsed() < OUTAGE {
            let started = Instant::now();
            let (status, body) = s.call(Method::GET, "/healthz", None).await;
            health_down.push((started.elapsed(), status, body));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Every other route that needs the ctldb answers as fast: reads, the feed, DDL, limits.
        let mut routes_down = Vec::new();
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
            assert!(latency <= ANSWER_WITHIN, "{method} {path} answered after {latency:?}");
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}: {body}");
            assert!(retry_after && body["field"] == "ctldb", "{method} {path}: {body}");
            routes_down.push(latency);
        }
        let resuming_at = Instant::now();
        let c = cluster.clone();
        blocking(move || c.resume()).await;
        let resumed_at = Instant::now();
        // Writes must come back by themselves, on the same executive.
        let recovered = loop {
            let first_ok = answers.lock().expect("answers").iter()
                .filter(|a| a.started >= resumed_at && a.status == Some(StatusCode::OK))
                .map(|a| a.started + a.latency)
                .min();
            if let Some(at) = first_ok {
                break at.duration_since(resumed_at);
            }
            assert!(resumed_at.elapsed() < Duration::from_secs(30), "writes did not resume within 30 s of the ctldb's return");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        while writers.join_next().await.is_some() {}
        let (health_status, health) = s.call(Method::GET, "/healthz", None).await;
        assert_eq!(health_status, StatusCode::OK, "healthz after the outage: {health}");

        let answers = std::mem::take(&mut *answers.lock().expect("answers"));
        // Every write, whenever it was sent, answered within the bound with 200 or 503.
        for a in &answers {
            assert!(a.latency <= ANSWER_WITHIN, "write {} answered after {:?}: {:?} {}", a.id, a.latency, a.status, a.body);
            assert!(matches!(a.status, Some(StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE)), "write {}: {:?} {}", a.id, a.status, a.body);
        }
        // During the outage: 503 naming the ctldb, with Retry-After.
        let during: Vec<&Answer> = answers.iter()
            .filter(|a| a.started >= stopped_at && a.started + a.latency <= resuming_at)
            .collect();
        assert!(during.len() >= WRITERS * 2, "too few writes during the outage: {}", during.len());
        for a in &during {
            assert_eq!(a.status, Some(StatusCode::SERVICE_UNAVAILABLE), "write {} during the outage: {}", a.id, a.body);
            assert!(a.retry_after.as_deref().is_some_and(|r| r.parse::<u64>().is_ok()), "write {}: Retry-After {:?}", a.id, a.retry_after);
            assert_eq!(a.body["field"], "ctldb", "write {}: {}", a.id, a.body);
            assert!(a.body["error"].as_str().is_some_and(|e| e.contains("ctldb") && e.contains("unavailable")), "write {}: {}", a.id, a.body);
        }
        for (latency, status, body) in &health_down {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "healthz during the outage: {body}");
            assert_eq!(body["ctldb"], "down", "healthz during the outage: {body}");
            assert!(*latency <= ANSWER_WITHIN, "healthz answered after {latency:?}");
        }

        // Nothing acknowledged is lost, nothing is applied twice.
        let mut in_ledger: HashMap<i64, usize> = HashMap::new();
        let mut after = 0;
        loop {
            let page = s.ledger(after).await;
            let Some(last) = page.last().and_then(|e| e["seq"].as_i64()) else { break };
            for e in &page {
                if let Some(id) = e["statement"].as_str().and_then(written_id) {
                    *in_ledger.entry(id).or_default() += 1;
                }
            }
            after = last;
        }
        let acked: Vec<i64> = answers.iter().filter(|a| a.status == Some(StatusCode::OK)).map(|a| a.id).collect();
        for id in &acked {
            assert_eq!(in_ledger.get(id).copied(), Some(1), "acknowledged write {id} is in the ledger {:?} times", in_ledger.get(id));
        }
        assert!(in_ledger.values().all(|n| *n == 1), "a write is in the ledger twice");

        let mut outage: Vec<Duration> = during.iter().map(|a| a.latency).collect();
        outage.sort();
        let mut health: Vec<Duration> = health_down.iter().map(|h| h.0).collect();
        health.sort();
        routes_down.sort();
        eprintln!(
            "ctldb outage: {} writes during the outage answered 503 in p50 {:?} / max {:?}; healthz p50 {:?} / max {:?} ({} probes); other routes max {:?}; {} writes acknowledged, all in the ledger once; first write acknowledged {:?} after the ctldb returned; {} writes in all, max latency {:?}",
            outage.len(),
            percentile(&outage, 0.5),
            percentile(&outage, 1.0),
            percentile(&health, 0.5),
            percentile(&health, 1.0),
            health.len(),
            percentile(&routes_down, 1.0),
            acked.len(),
            recovered,
            answers.len(),
            answers.iter().map(|a| a.latency).max().unwrap_or_default(),
        );
        s.stop().await;
    }
}
