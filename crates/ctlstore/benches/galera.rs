//! Writes on a 3-node MariaDB Galera cluster (issue 20), with the real binaries: throughput with
//! 1, 2 and 3 executives (one per node, one writer per executive, 3-row batches, flat out), and
//! write acknowledged → visible on a host (a reflector following executive 1 through the feed;
//! one write at a time, from a writer on executive 2, so every write crosses the cluster).
//! Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore --bench galera     # BENCH_SECONDS=5 BENCH_SAMPLES=200

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_testkit::{ExecutiveClient, GaleraCluster, KillOnDrop, free_port};
use serde_json::json;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ctlstore(args: &[&str]) -> KillOnDrop {
    ctlstore_testkit::spawn_service(env!("CARGO_BIN_EXE_ctlstore"), args)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn post(http: &reqwest::Client, base: &str, body: &serde_json::Value) -> bool {
    http.post(format!("{base}/families/bench/mutations"))
        .header("ctlstore-writer", "bencher")
        .header("ctlstore-secret", "secret1")
        .json(body)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn bench() {
    let seconds = env("BENCH_SECONDS", 5);
    let samples = env("BENCH_SAMPLES", 200) as usize;
    let cluster = tokio::task::spawn_blocking(GaleraCluster::start)
        .await
        .expect("task");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut executives = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        executives.push(ctlstore(&[
            "executive",
            "-bind",
            &format!("127.0.0.1:{port}"),
            "-ctldb",
            &cluster.url(i),
            "-writer-limit",
            "1000000000",
        ]));
        ExecutiveClient::new(bases[i].clone())
            .wait_until_healthy(Duration::from_secs(60))
            .await;
    }
    ExecutiveClient::new(bases[0].clone())
        .register(&ctlstore_testkit::BENCH_SCHEMA)
        .await;
    let http = reqwest::Client::new();

    println!(
        "Galera, 3 nodes on this machine; one writer per executive, 3-row batches, {seconds} s each:"
    );
    for n in 1..=3usize {
        let stop = Arc::new(AtomicBool::new(false));
        let (acked, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let writers: Vec<_> = (0..n)
            .map(|w| {
                let (stop, acked, failed, http, base) =
                    (stop.clone(), acked.clone(), failed.clone(), http.clone(), bases[w].clone());
                tokio::spawn(async move {
                    let mut i = 0i64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let id = (n as i64 * 10 + w as i64) * 10_000_000 + i * 3;
                        let body = json!({"mutations": (0..3).map(|k| json!({"table": "items", "values": {"id": id + k, "v": i}})).collect::<Vec<_>>()});
                        if post(&http, &base, &body).await {
                            acked.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.await;
        }
        let done = acked.load(Ordering::Relaxed);
        println!(
            "  {n} executive(s): {:.0} batches/s ({:.0} rows/s), {} refused",
            done as f64 / seconds as f64,
            3.0 * done as f64 / seconds as f64,
            failed.load(Ordering::Relaxed)
        );
    }

    // Ack → visible on a host following executive 1; writes through executive 2.
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let _reflector = ctlstore(&[
        "reflector",
        "-ldb-path",
        &ldb.display().to_string(),
        "-executive-url",
        &bases[0],
        "-metrics-bind",
        "",
    ]);
    let reader = loop {
        if let Ok(r) = ctlstore_reader::Reader::open(&ldb)
            && r.get_row("bench", "items", &[ctlstore_reader::Key::from(1)])
                .is_ok()
        {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut times = Vec::with_capacity(samples);
    for s in 0..samples as i64 {
        let id = 90_000_000 + s;
        let body = json!({"mutations": [{"table": "items", "values": {"id": id, "v": s}}]});
        if !post(&http, &bases[1], &body).await {
            continue;
        }
        let acked = Instant::now();
        let key = [ctlstore_reader::Key::from(id)];
        while reader
            .get_row("bench", "items", &key)
            .ok()
            .flatten()
            .is_none()
        {
            if acked.elapsed() > Duration::from_secs(10) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(acked.elapsed());
    }
    times.sort();
    if !times.is_empty() {
        println!(
            "ack (via executive 2) → visible on a host following executive 1: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} writes)",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
            times.len()
        );
    }
    drop(executives);
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
