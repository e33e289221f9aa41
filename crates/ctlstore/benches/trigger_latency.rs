//! Trigger latency, with the real binaries: the executive acknowledges a write → the trigger's
//! command has started on the host (its first action records the time), through a reflector
//! with `-change-feed` and `ctlstore triggers`. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore --bench trigger_latency     # BENCH_SAMPLES=100

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ctlstore_testkit::{Backend, TestDb, TestExecutive};
use serde_json::json;

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

async fn bench() {
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let db = TestDb::create(Backend::Sqlite).await;
    let ex = TestExecutive::start_with(&db.url, |c| c.writer_limit = i64::MAX / 4).await;
    let writer = ex.register(&ctlstore_testkit::BENCH_SCHEMA).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let binary = env!("CARGO_BIN_EXE_ctlstore");
    let mut reflector = tokio::process::Command::new(binary)
        .args(["reflector", "-ldb-path"])
        .arg(&ldb)
        .args([
            "-executive-url",
            &ex.base,
            "-change-feed",
            "100000",
            "-metrics-bind",
            "",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("reflector");
    while ctlstore_reader::Reader::open(&ldb)
        .map(|r| r.last_sequence().unwrap_or(0))
        .unwrap_or(0)
        == 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let triggers = dir.path().join("triggers");
    std::fs::create_dir(&triggers).expect("mkdir");
    let log = dir.path().join("started.log");
    std::fs::write(
        triggers.join("items"),
        json!({"path": "bench/items", "command": format!("date +%s%N >> {}", log.display())})
            .to_string(),
    )
    .expect("trigger");
    let mut runner = tokio::process::Command::new(binary)
        .args(["triggers", "--ldb"])
        .arg(&ldb)
        .arg("--triggers-dir")
        .arg(&triggers)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("triggers");
    let lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // Its first run (a new trigger) happens at start.
    while lines() < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples as i64 {
        let before = lines();
        writer
            .mutate_ok(
                "bench",
                &json!({"mutations": [{"table": "items", "values": {"id": i, "v": i}}]}),
            )
            .await;
        let acked = now_ns();
        while lines() <= before {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let started: i128 = text
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(acked);
        latencies.push(Duration::from_nanos((started - acked).max(0) as u64));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
    };
    println!(
        "trigger: write ack → command started, {samples} writes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    runner.kill().await.ok();
    reflector.kill().await.ok();
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
