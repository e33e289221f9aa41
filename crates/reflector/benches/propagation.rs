//! Reflector figures: catch-up rate (ledger statements applied per second from an empty LDB)
//! and propagation latency (executive acknowledges a write → the row is visible in the LDB),
//! through the ledger feed and through polling. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-reflector --bench propagation
//!
//! BENCH_ENTRIES (default 200000) sizes the catch-up ledger; BENCH_SAMPLES (default 500) the
//! latency runs. The ctldb is embedded SQLite.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions, Mutation, MutationRequest};
use ctlstore_reflector::{Config, SourceConfig, Status, run};
use ctlstore_schema::{FamilyName, Table, WriterName, WriterSecret};
use ctlstore_testkit::{Backend, TestDb, TestExecutive};
use serde_json::json;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn fixture(db: &TestDb) -> Ctldb {
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    ctldb
        .create_family(&FamilyName::new("bench").expect("valid"))
        .await
        .expect("family");
    let fields = [("id", "integer"), ("name", "string"), ("score", "decimal")]
        .map(|(a, b)| (a.to_string(), b.to_string()));
    ctldb
        .create_table(&Table::from_wire("bench", "items", &fields, &["id".into()]).expect("table"))
        .await
        .expect("create");
    let secret = WriterSecret::new("secret1").expect("valid");
    ctldb
        .register_writer(
            &WriterName::new("bencher").expect("valid"),
            &secret,
            Default::default(),
        )
        .await
        .expect("writer");
    ctldb
}

fn spawn(ldb: &Path, source: SourceConfig) -> (Arc<Status>, tokio::sync::oneshot::Sender<()>) {
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (s, config) = (status.clone(), Config::new(ldb, source));
    tokio::spawn(async move {
        run(config, s, async move {
            let _ = stopped.await;
        })
        .await
        .expect("reflector");
    });
    (status, stop)
}

/// An executive on the bench's ctldb, with no writer limit to speak of.
async fn start_executive(url: &str) -> TestExecutive {
    TestExecutive::start_with(url, |c| c.writer_limit = i64::MAX / 4).await
}

async fn catch_up(entries: usize) {
    let db = TestDb::create(Backend::Sqlite).await;
    let ctldb = fixture(&db).await;
    let batches = entries / 102;
    for b in 0..batches {
        let mutations = (0..100)
            .map(|i| Mutation {
                table: "items".into(),
                delete: false,
                values:
                    json!({"id": (b * 100 + i) as i64, "name": format!("row {i}"), "score": 0.5})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
            })
            .collect();
        let request = MutationRequest {
            family: FamilyName::new("bench").expect("valid"),
            writer: WriterName::new("bencher").expect("valid"),
            cookie: None,
            check_cookie: None,
            mutations,
            rate_limit: None,
        };
        ctldb.apply_mutations(&request).await.expect("apply");
    }
    let head = ctldb.max_seq().await.expect("head");
    let executive = start_executive(&db.url).await;
    for (label, source) in [
        ("feed", SourceConfig::feed(&executive.base)),
        ("poll", SourceConfig::poll(&db.url)),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let (status, stop) = spawn(&dir.path().join("ldb.db"), source);
        while status.applied_seq() < head {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "catch-up via {label}: {head} statements in {secs:.2} s = {:.0} statements/s",
            head as f64 / secs
        );
        let _ = stop.send(());
    }
    executive.stop().await;
    db.cleanup().await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn propagation(samples: usize) {
    let db = TestDb::create(Backend::Sqlite).await;
    let ctldb = fixture(&db).await;
    let executive = start_executive(&db.url).await;
    let writer = executive.writer("bencher", "secret1");
    let mut poll = SourceConfig::poll(&db.url);
    if let SourceConfig::Poll { interval, .. } = &mut poll {
        *interval = Duration::from_secs(1); // ctlstore's default
    }
    let runs = [
        ("feed", SourceConfig::feed(&executive.base), samples),
        ("poll (1 s interval)", poll, samples.min(40)),
    ];
    for (run_index, (label, source, n)) in runs.into_iter().enumerate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ldb.db");
        let (status, stop) = spawn(&path, source);
        let head = ctldb.max_seq().await.expect("head");
        while status.applied_seq() < head {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let reader = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("reader");
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            let id = 1_000_000 * (run_index as i64 + 1) + i as i64;
            let body = json!({"mutations": [{"table": "items", "values": {"id": id, "name": "probe", "score": 1.0}}]});
            writer.mutate_ok("bench", &body).await;
            let acked = Instant::now();
            loop {
                let seen: Option<i64> = reader
                    .query_row("SELECT id FROM bench___items WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .ok();
                if seen.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            latencies.push(acked.elapsed());
        }
        latencies.sort();
        println!(
            "propagation via {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({n} writes)",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
        );
        let _ = stop.send(());
    }
    executive.stop().await;
    db.cleanup().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        catch_up(env_or("BENCH_ENTRIES", 200_000)).await;
        propagation(env_or("BENCH_SAMPLES", 500)).await;
    });
}
