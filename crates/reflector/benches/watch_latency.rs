//! Watch latency: the executive acknowledges a write → a `Reader::changes` iterator on the
//! host yields it, through the ledger feed, a reflector with `change_feed` on, and the LDB's
//! change feed (polled every 1 ms). Also the catch-up cost of keeping the feed. Prints figures;
//! asserts nothing.
//!
//!     cargo bench -p ctlstore-reflector --bench watch_latency     # BENCH_SAMPLES=300

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ctlstore_reflector::{Config, SourceConfig, Status, run};
use ctlstore_testkit::{Backend, TestDb, TestExecutive};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn bench() {
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let db = TestDb::create(Backend::Sqlite).await;
    let executive = TestExecutive::start_with(&db.url, |c| c.writer_limit = i64::MAX / 4).await;
    let writer = executive.register(&ctlstore_testkit::BENCH_SCHEMA).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let mut config = Config::new(&ldb, SourceConfig::feed(&executive.base));
    config.ldb.change_feed = std::env::var("BENCH_FEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    tokio::spawn(run(config, status, std::future::pending::<()>()));
    while ctlstore_reader::Reader::open(&ldb)
        .map(|r| r.last_sequence().unwrap_or(0))
        .unwrap_or(0)
        == 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (tx, rx) = mpsc::channel::<(i64, Instant)>();
    let watched = ldb.clone();
    std::thread::spawn(move || {
        let reader = ctlstore_reader::Reader::open(&watched).expect("reader");
        let after = reader.last_sequence().unwrap_or(0);
        for event in reader
            .changes(after)
            .poll_interval(Duration::from_millis(1))
        {
            if let Ok(ctlstore_reader::FeedEvent::Batch { changes, .. }) = event {
                for c in changes {
                    if let Some(v) = c
                        .row
                        .as_ref()
                        .and_then(|r| r.get("v"))
                        .and_then(|v| v.as_i64())
                    {
                        let _ = tx.send((v, Instant::now()));
                    }
                }
            }
        }
    });
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples as i64 {
        writer
            .mutate_ok(
                "bench",
                &json!({"mutations": [{"table": "items", "values": {"id": i % 10, "v": i}}]}),
            )
            .await;
        let acked = Instant::now();
        loop {
            let (v, seen) =
                tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(10)))
                    .expect("the watch saw the write");
            if v == i {
                latencies.push(seen.saturating_duration_since(acked));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    latencies.sort();
    println!(
        "watch: write ack → Reader::changes event, {samples} writes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
