//! Write throughput of the executive over HTTP, per ctldb backend: single-row requests/s and
//! rows/s in 100-row batches, with several concurrent clients. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-executive --bench writes
//!
//! MariaDB and PostgreSQL run when CTLSTORE_TEST_MYSQL_URL / CTLSTORE_TEST_POSTGRES_URL are set.
//! BENCH_SECONDS (default 5) and BENCH_CLIENTS (default 16) tune the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_testkit::{Backend, SchemaDef, TableDef, TestDb, TestExecutive, WriterClient};
use serde_json::{Value, json};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn drive(writer: &WriterClient, clients: usize, seconds: u64, batch: usize) -> (f64, f64) {
    let requests = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (writer, requests) = (writer.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0i64;
            while Instant::now() < deadline {
                let mutations: Vec<Value> = (0..batch)
                    .map(|i| {
                        let id = (c as i64) * 1_000_000_000 + n * batch as i64 + i as i64;
                        json!({"table": "items", "values": {"id": id, "name": format!("row {id}"), "score": 1.5}})
                    })
                    .collect();
                writer
                    .mutate_ok("bench", &json!({"mutations": mutations}))
                    .await;
                requests.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = requests.load(Ordering::Relaxed) as f64;
    (done / elapsed, done * batch as f64 / elapsed)
}

async fn bench(backend: Backend, clients: usize, seconds: u64) {
    let db = TestDb::create(backend).await;
    let executive = TestExecutive::start_with(&db.url, |c| c.writer_limit = i64::MAX / 4).await;
    let items = TableDef {
        name: "items",
        fields: &[("id", "integer"), ("name", "string"), ("score", "decimal")],
        keys: &["id"],
    };
    let writer = executive
        .register(&SchemaDef {
            family: "bench",
            tables: &[items],
            writer: "bencher",
            secret: "secret1",
        })
        .await;

    let (single_rps, _) = drive(&writer, clients, seconds, 1).await;
    let (batch_rps, batch_rows) = drive(&writer, clients, seconds, 100).await;
    println!(
        "{:<10} single-row: {:>8.0} requests/s   batches of 100: {:>7.0} requests/s = {:>8.0} rows/s   ({clients} clients, {seconds} s each)",
        format!("{backend:?}"),
        single_rps,
        batch_rps,
        batch_rows
    );
    executive.stop().await;
    db.cleanup().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let seconds = env_or("BENCH_SECONDS", 5u64);
    let clients = env_or("BENCH_CLIENTS", 16usize);
    runtime.block_on(async {
        for backend in [Backend::Sqlite, Backend::Mysql, Backend::Postgres] {
            if backend != Backend::Sqlite && backend.server_url().is_none() {
                println!("{backend:?}: skipped (no server URL in the environment)");
                continue;
            }
            bench(backend, clients, seconds).await;
        }
    });
}
