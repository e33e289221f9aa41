//! What ledger pruning costs writers (issue 21): single-row write latency from 4 clients with
//! no prune running, then while `POST /ledger/prune` deletes a large ledger below the horizon
//! (2,000 seqs per transaction). Per ctldb backend. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-executive --bench prune     # BENCH_ENTRIES=300000 BENCH_SECONDS=3
//!
//! The snapshot bound comes from a snapshot location holding one version at the head (an
//! empty manifest file named as the supervisor names it: only its seq is read for the horizon).
//! MariaDB and PostgreSQL run when CTLSTORE_TEST_MYSQL_URL / CTLSTORE_TEST_POSTGRES_URL are set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_testkit::{Backend, SchemaDef, TableDef, TestDb, TestExecutive, WriterClient};
use serde_json::json;
use tokio::sync::Mutex;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// Single-row writes from 4 clients until `until` completes; every latency.
async fn write_latencies(
    writer: &WriterClient,
    until: impl std::future::Future<Output = ()>,
) -> Vec<Duration> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..4i64 {
        let (writer, stop, latencies) = (writer.clone(), stop.clone(), latencies.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = 1_000_000_000 + c * 100_000_000 + n;
                let started = Instant::now();
                writer
                    .mutate_ok(
                        "bench",
                        &json!({"mutations": [{"table": "items", "values": {"id": id, "v": n}}]}),
                    )
                    .await;
                latencies.lock().await.push(started.elapsed());
                n += 1;
            }
        }));
    }
    until.await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let mut all = latencies.lock().await.clone();
    all.sort();
    all
}

fn line(what: &str, l: &[Duration]) -> String {
    format!(
        "{what}: {} writes, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.len(),
        percentile(l, 0.5),
        percentile(l, 0.99),
        l.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    )
}

async fn bench(backend: Backend, entries: i64, seconds: u64) {
    let db = TestDb::create(backend).await;
    let executive = TestExecutive::start_with(&db.url, |c| c.writer_limit = i64::MAX / 4).await;
    let writer = executive
        .register(&SchemaDef {
            family: "bench",
            tables: &[TableDef {
                name: "items",
                fields: &[("id", "integer"), ("v", "integer")],
                keys: &["id"],
            }],
            writer: "bencher",
            secret: "secret1",
        })
        .await;
    // The ledger: 100-row batches (102 entries each).
    let mut n = 0i64;
    while executive.head().await < entries {
        let mutations: Vec<_> = (0..100)
            .map(|i| json!({"table": "items", "values": {"id": n * 100 + i, "v": n}}))
            .collect();
        writer
            .mutate_ok("bench", &json!({"mutations": mutations}))
            .await;
        n += 1;
    }
    let head = executive.head().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let versions = dir.path().join("ldb.db.d");
    std::fs::create_dir_all(&versions).expect("snapshot dir");
    std::fs::write(versions.join(format!("{head:020}.json")), b"{}").expect("manifest");
    let snapshots = format!("file://{}", dir.path().join("ldb.db").display());

    let quiet = write_latencies(&writer, tokio::time::sleep(Duration::from_secs(seconds))).await;
    let prune = async {
        let started = Instant::now();
        let (status, body) = executive
            .call(
                reqwest::Method::POST,
                "/ledger/prune",
                Some(json!({"retention": "1000", "snapshotUrl": snapshots, "margin": 0})),
            )
            .await;
        assert!(status.is_success(), "prune: {body}");
        println!(
            "{backend:?}: pruned {} of {head} entries in {:.2} s",
            body["entries"],
            started.elapsed().as_secs_f64()
        );
    };
    let pruning = write_latencies(&writer, prune).await;
    println!("{backend:?}: {}", line("writes, no prune", &quiet));
    println!("{backend:?}: {}", line("writes while pruning", &pruning));
    executive.stop().await;
    db.cleanup().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let entries = env_or("BENCH_ENTRIES", 300_000i64);
    let seconds = env_or("BENCH_SECONDS", 3u64);
    runtime.block_on(async {
        for backend in [Backend::Sqlite, Backend::Mysql, Backend::Postgres] {
            if backend != Backend::Sqlite && backend.server_url().is_none() {
                println!("{backend:?}: skipped (no server URL in the environment)");
                continue;
            }
            bench(backend, entries, seconds).await;
        }
    });
}
