//! Memory of every process, reported honestly (issue 21): RssAnon (private memory) and RssFile
//! (mapped files: mostly the LDB, shared with the OS page cache and with every other reader of
//! the file), sampled from /proc every 250 ms. VmRSS is their sum (plus shared memory) and
//! overstates what a host pays for an LDB that the page cache holds anyway.
//!
//! The whole system on one machine, as real processes: an executive (embedded SQLite ctldb),
//! the loader loading BENCH_ROWS rows from a file, a reflector, a sidecar answering reads at
//! full speed from 4 clients for BENCH_SECONDS, a supervisor taking snapshots, a heartbeat, and
//! a relay. Prints each process's peak and final RssAnon and RssFile, and with
//! `BENCH_MEMORY_CSV=path` every sample (ms, process, RssAnon KiB, RssFile KiB) for plots.
//! Asserts nothing.
//!
//!     cargo bench -p ctlstore --bench memory      # BENCH_ROWS=200000 BENCH_SECONDS=10

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_testkit::{ExecutiveClient, KillOnDrop, Lcg, free_port, spawn_service};
use serde_json::json;
use tokio::sync::Mutex;

/// (RssAnon, RssFile) of a process in KiB; None once it has exited.
fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
    };
    Some((field("RssAnon:")?, field("RssFile:")?))
}

/// (ms since the start, process, RssAnon KiB, RssFile KiB).
type Sample = (u64, &'static str, u64, u64);

fn ctlstore(args: &[&str]) -> KillOnDrop {
    spawn_service(env!("CARGO_BIN_EXE_ctlstore"), args)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() {
    let rows: u64 = env_or("BENCH_ROWS", 200_000);
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (exec_port, side_port, relay_port) = (free_port(), free_port(), free_port());
    let base = format!("http://127.0.0.1:{exec_port}");
    let sidecar = format!("http://127.0.0.1:{side_port}");

    let mut procs: Vec<(&str, KillOnDrop)> = vec![(
        "executive",
        ctlstore(&[
            "executive",
            "-bind",
            &format!("127.0.0.1:{exec_port}"),
            "-ctldb",
            &format!("sqlite:{}", d("ctldb.db")),
            "-writer-limit",
            "1000000000",
        ]),
    )];
    ExecutiveClient::new(base.clone())
        .wait_until_healthy(Duration::from_secs(30))
        .await;
    procs.push((
        "reflector",
        ctlstore(&[
            "reflector",
            "-ldb-path",
            &d("ldb.db"),
            "-executive-url",
            &base,
        ]),
    ));
    procs.push((
        "sidecar",
        ctlstore(&[
            "sidecar",
            "-bind-addr",
            &format!("127.0.0.1:{side_port}"),
            "-ldb-path",
            &d("ldb.db"),
        ]),
    ));
    procs.push((
        "supervisor",
        ctlstore(&[
            "supervisor",
            "-snapshot-url",
            &format!("file://{}", d("snapshots/ldb.db")),
            "-snapshot-interval",
            "5s",
            "-reflector.ldb-path",
            &d("supervisor.db"),
            "-reflector.executive-url",
            &base,
        ]),
    ));
    procs.push((
        "heartbeat",
        ctlstore(&[
            "heartbeat",
            "-executive-url",
            &base,
            "-writer-secret",
            "heartbeat",
            "-heartbeat-interval",
            "1s",
        ]),
    ));
    procs.push((
        "relay",
        ctlstore(&[
            "relay",
            "--upstream",
            &base,
            "--bind",
            &format!("127.0.0.1:{relay_port}"),
        ]),
    ));
    let source = d("rows.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&source).expect("source file"));
        for i in 0..rows {
            let line = json!({"key": {"k": format!("key-{i:07}")}, "value": {"after": {"k": format!("key-{i:07}"), "v": i}, "op": "c", "source": {"table": "kvs"}}});
            writeln!(f, "{line}").expect("write the source file");
        }
    }
    procs.push((
        "loader",
        ctlstore(&[
            "loader",
            "--executive-url",
            &base,
            "--writer-name",
            "memloader",
            "--writer-secret",
            "memsecret",
            "--family",
            "mem",
            "--source",
            &format!("file:{source}"),
            "--metrics-bind",
            "",
        ]),
    ));

    // Samples every 250 ms until told to stop.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let pids: Vec<(&'static str, u32)> = procs.iter().map(|(n, p)| (*n, p.id())).collect();
    let sampler = {
        let (samples, stop) = (samples.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ms = started.elapsed().as_millis() as u64;
                let mut s = samples.lock().await;
                for (name, pid) in &pids {
                    if let Some((anon, file)) = rss(*pid) {
                        s.push((ms, name, anon, file));
                    }
                }
                drop(s);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    // Loaded when the sidecar serves the last row.
    let http = reqwest::Client::new();
    let last = format!("key-{:07}", rows - 1);
    let load_deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let r = http
            .post(format!("{sidecar}/get-row-by-key/mem/kvs"))
            .json(&json!({"key": [{"value": last}]}))
            .send()
            .await;
        if r.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < load_deadline, "the rows did not arrive");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let loaded = started.elapsed();

    // Reads at full speed.
    let reads = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for c in 0..4u64 {
        let (http, sidecar, reads) = (http.clone(), sidecar.clone(), reads.clone());
        clients.push(tokio::spawn(async move {
            let mut rng = Lcg(c + 1);
            while Instant::now() < until {
                let key = format!("key-{:07}", rng.below(rows));
                if http
                    .post(format!("{sidecar}/get-row-by-key/mem/kvs"))
                    .json(&json!({"key": [{"value": key}]}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for c in clients {
        let _ = c.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;

    let samples = samples.lock().await.clone();
    println!(
        "{rows} rows loaded in {:.1} s, then {} sidecar reads in {seconds} s ({:.0}/s); LDB {:.1} MiB",
        loaded.as_secs_f64(),
        reads.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed) as f64 / seconds as f64,
        std::fs::metadata(d("ldb.db")).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0,
    );
    let mut by: BTreeMap<&str, (u64, u64, u64, u64)> = BTreeMap::new();
    for (_, name, anon, file) in &samples {
        let e = by.entry(name).or_default();
        e.0 = e.0.max(*anon);
        e.1 = e.1.max(*file);
        (e.2, e.3) = (*anon, *file);
    }
    println!("memory per process (KiB): peak RssAnon, peak RssFile, last RssAnon, last RssFile");
    for (name, _) in &procs {
        if let Some((pa, pf, la, lf)) = by.get(name) {
            println!(
                "  {name:<10} RssAnon peak {pa} KiB ({:.1} MiB), RssFile peak {pf} KiB ({:.1} MiB); last {la} / {lf} KiB",
                *pa as f64 / 1024.0,
                *pf as f64 / 1024.0
            );
        }
    }
    if let Ok(path) = std::env::var("BENCH_MEMORY_CSV") {
        let mut f = std::fs::File::create(&path).expect("the CSV file");
        let _ = writeln!(f, "ms,process,rss_anon_kib,rss_file_kib");
        for (ms, name, anon, file) in &samples {
            let _ = writeln!(f, "{ms},{name},{anon},{file}");
        }
    }
    drop(procs);
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
