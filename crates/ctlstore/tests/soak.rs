//! Soak: the whole system as separate processes (executive on the embedded ctldb, a reflector,
//! the sidecar, a supervisor snapshotting, a heartbeat) under a steady mixed load: batched
//! writes through the executive and point reads through the sidecar. Every few seconds it
//! samples each process's private and file-backed memory (RssAnon, RssFile) and open file
//! descriptors; at the end it prints their slopes and the write and read latencies per window,
//! and checks that every acknowledged write reached the LDB.
//!
//! Short form (CI): 30 s. The 10-minute soak of docs/reliability.md:
//! `CTLSTORE_SOAK_SECS=600 cargo test --release -p ctlstore --test soak -- --nocapture`.
//! With 300 s or more, the slopes are also asserted (memory and descriptors must stay flat).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctlstore_testkit::{ExecutiveClient, SchemaDef, TableDef, free_port};
use serde_json::json;

const KEYS: i64 = 5_000;

struct Fleet(Vec<(&'static str, Child)>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Fleet {
    fn spawn(&mut self, name: &'static str, args: &[String]) {
        let child = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ctlstore");
        self.0.push((name, child));
    }
}

/// (RssAnon KiB, RssFile KiB, open descriptors) of a process, from /proc.
fn sample(pid: u32) -> Option<(f64, f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |field: &str| {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as f64;
    Some((kib("RssAnon:")?, kib("RssFile:")?, fds))
}

/// Least-squares slope of `ys` over `xs`, per minute when `xs` are seconds.
fn slope_per_minute(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if var == 0.0 { 0.0 } else { cov / var * 60.0 }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Latencies (ms) recorded with the second of the run they ended in.
#[derive(Default)]
struct Latencies(Vec<(f64, f64)>);

impl Latencies {
    fn windows(&self, run: f64, windows: usize) -> Vec<(f64, f64, usize)> {
        (0..windows)
            .map(|w| {
                let (from, to) = (
                    run * w as f64 / windows as f64,
                    run * (w + 1) as f64 / windows as f64,
                );
                let mut v: Vec<f64> = self
                    .0
                    .iter()
                    .filter(|(t, _)| *t >= from && *t < to)
                    .map(|(_, l)| *l)
                    .collect();
                v.sort_by(f64::total_cmp);
                (percentile(&v, 0.5), percentile(&v, 0.99), v.len())
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_load_keeps_memory_and_descriptors_flat() {
    let secs: u64 = std::env::var("CTLSTORE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let long = secs >= 300;
    let sample_every = Duration::from_secs(if long { 10 } else { 2 });
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |p: &str| dir.path().join(p).display().to_string();
    let (exec_port, side_port) = (free_port(), free_port());
    let executive_url = format!("http://127.0.0.1:{exec_port}");
    let mut fleet = Fleet(Vec::new());
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    fleet.spawn(
        "executive",
        &s(&[
            "executive",
            "-bind",
            &format!("127.0.0.1:{exec_port}"),
            "-ctldb",
            &format!("sqlite:{}", d("ctldb.db")),
            "-writer-limit",
            "1000000000",
        ]),
    );
    let executive = ExecutiveClient::new(&executive_url);
    executive.wait_until_healthy(Duration::from_secs(30)).await;
    let writer = executive
        .register(&SchemaDef {
            family: "soak",
            tables: &[TableDef {
                name: "items",
                fields: &[("id", "integer"), ("v", "string"), ("n", "integer")],
                keys: &["id"],
            }],
            writer: "soaker",
            secret: "soak-secret",
        })
        .await;
    fleet.spawn(
        "reflector",
        &s(&[
            "reflector",
            "-ldb-path",
            &d("ldb.db"),
            "-executive-url",
            &executive_url,
        ]),
    );
    fleet.spawn(
        "sidecar",
        &s(&[
            "sidecar",
            "-bind-addr",
            &format!("127.0.0.1:{side_port}"),
            "-ldb-path",
            &d("ldb.db"),
        ]),
    );
    let interval = if long { "60s" } else { "5s" };
    fleet.spawn(
        "supervisor",
        &s(&[
            "supervisor",
            "-snapshot-url",
            &format!("file://{}", d("snapshots/snapshot.db.zst")),
            "-snapshot-interval",
            interval,
            "-reflector.ldb-path",
            &d("supervisor.db"),
            "-reflector.executive-url",
            &executive_url,
        ]),
    );
    fleet.spawn(
        "heartbeat",
        &s(&[
            "heartbeat",
            "-executive-url",
            &executive_url,
            "-writer-secret",
            "hb",
            "-heartbeat-interval",
            "1s",
        ]),
    );
    let pids: Vec<(&'static str, u32)> = fleet.0.iter().map(|(n, c)| (*n, c.id())).collect();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let acknowledged: Arc<Mutex<HashMap<i64, i64>>> = Arc::default();
    let (write_lat, read_lat): (Arc<Mutex<Latencies>>, Arc<Mutex<Latencies>>) = Default::default();
    let server_errors = Arc::new(std::sync::atomic::AtomicU64::new(0));

    // Writes: batches of 10 upserts, ~20 batches a second.
    let writes = {
        let (acknowledged, lat, errors) = (
            acknowledged.clone(),
            write_lat.clone(),
            server_errors.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0i64;
            while Instant::now() < deadline {
                let batch: Vec<(i64, i64)> = (0..10)
                    .map(|i| ((n * 7919 + i * 104_729) % KEYS, n))
                    .collect();
                let mutations: Vec<_> = batch
                    .iter()
                    .map(|(id, n)| json!({"table": "items", "values": {"id": id, "v": format!("value {n}"), "n": n}}))
                    .collect();
                let t = Instant::now();
                let (status, _) = writer
                    .mutate("soak", &json!({"mutations": mutations}))
                    .await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if status.is_success() {
                    let mut a = acknowledged.lock().expect("lock");
                    for (id, n) in batch {
                        a.insert(id, n);
                    }
                    lat.lock()
                        .expect("lock")
                        .0
                        .push((started.elapsed().as_secs_f64(), ms));
                } else if status.is_server_error() {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // Reads through the sidecar: ~200 a second.
    let reads = {
        let (lat, errors) = (read_lat.clone(), server_errors.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let url = format!("http://127.0.0.1:{side_port}/get-row-by-key/soak/items");
            let mut i = 0i64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .json(&json!({"key": [{"value": (i * 31) % KEYS}]}))
                    .send()
                    .await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                match r {
                    Ok(r) if r.status().is_server_error() && r.status().as_u16() != 503 => {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {
                        lat.lock()
                            .expect("lock")
                            .0
                            .push((started.elapsed().as_secs_f64(), ms));
                    }
                    _ => {}
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Samples.
    let mut samples: HashMap<&str, Vec<(f64, f64, f64, f64)>> = HashMap::new();
    while Instant::now() < deadline {
        tokio::time::sleep(sample_every).await;
        let t = started.elapsed().as_secs_f64();
        for (name, pid) in &pids {
            let (anon, file, fds) =
                sample(*pid).unwrap_or_else(|| panic!("the {name} died during the soak"));
            samples.entry(name).or_default().push((t, anon, file, fds));
        }
    }
    writes.await.expect("writer");
    reads.await.expect("reader");

    // Every acknowledged write reached the host's LDB.
    let head = executive.head().await;
    let ldb = dir.path().join("ldb.db");
    let catch_up = Instant::now() + Duration::from_secs(30);
    while ldb_seq(&ldb) < head {
        assert!(
            Instant::now() < catch_up,
            "the reflector did not catch up to {head}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows: HashMap<i64, i64> =
        ctlstore_testkit::sqlite_rows(&ldb, "SELECT id, n FROM soak___items")
            .into_iter()
            .filter_map(|r| match (&r[0], &r[1]) {
                (ctlstore_schema::Value::Integer(id), ctlstore_schema::Value::Integer(n)) => {
                    Some((*id, *n))
                }
                _ => None,
            })
            .collect();
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert_eq!(
        rows, acknowledged,
        "the LDB holds exactly the last acknowledged value of every key"
    );

    // The report.
    let run = secs as f64;
    println!(
        "soak: {secs} s, {} acknowledged keys, ledger head {head}",
        acknowledged.len()
    );
    println!(
        "{:<11} {:>10} {:>10} {:>16} {:>16} {:>12}",
        "process", "RssAnon", "RssFile", "RssAnon KiB/min", "RssFile KiB/min", "fds/min"
    );
    let mut worst = (0.0f64, 0.0f64);
    for (name, _) in &pids {
        let s = &samples[name];
        // The first fifth is warm-up (caches filling, the first snapshot).
        let steady: Vec<_> = s.iter().skip(s.len() / 5).collect();
        let xs: Vec<f64> = steady.iter().map(|x| x.0).collect();
        let anon = slope_per_minute(&xs, &steady.iter().map(|x| x.1).collect::<Vec<_>>());
        let file = slope_per_minute(&xs, &steady.iter().map(|x| x.2).collect::<Vec<_>>());
        let fds = slope_per_minute(&xs, &steady.iter().map(|x| x.3).collect::<Vec<_>>());
        let last = s.last().copied().unwrap_or_default();
        println!(
            "{name:<11} {:>7.0} KiB {:>6.0} KiB {anon:>16.1} {file:>16.1} {fds:>12.2}",
            last.1, last.2
        );
        worst = (worst.0.max(anon), worst.1.max(fds));
    }
    let windows = if long { 10 } else { 3 };
    for (what, lat) in [("write", &write_lat), ("read", &read_lat)] {
        let w = lat.lock().expect("lock").windows(run, windows);
        let cells: Vec<String> = w
            .iter()
            .map(|(p50, p99, n)| format!("{p50:.2}/{p99:.2} ms (n={n})"))
            .collect();
        println!("{what} p50/p99 per window: {}", cells.join(", "));
    }
    let errors = server_errors.load(std::sync::atomic::Ordering::Relaxed);
    println!("server errors: {errors}");
    assert_eq!(errors, 0, "no 5xx under a steady load");
    if long {
        assert!(
            worst.0 < 1024.0,
            "a process's private memory grew {:.0} KiB/min",
            worst.0
        );
        assert!(
            worst.1 < 1.0,
            "a process's descriptors grew {:.2}/min",
            worst.1
        );
    }
}

fn ldb_seq(ldb: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()
        .and_then(|c| ctlstore_ldb_layout::read_seq(&c).ok())
        .unwrap_or(0)
}
