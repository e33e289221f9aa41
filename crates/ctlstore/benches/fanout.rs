//! Fan-out from one executive (issue 21): N followers long-poll the ledger feed of one
//! `ctlstore executive` process (embedded SQLite ctldb) while a writer commits 10 batches a
//! second. Per write: the time from the writer's acknowledgement to each follower's answer
//! holding it (p50, p99 over every follower and write, and the max: every follower notified).
//! The executive's CPU over the run, and its memory per idle follower as RssAnon and RssFile
//! (from /proc, before and after the followers park). Followers are lightweight clients in this
//! process, so the figures are the executive's alone. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore --bench fanout      # BENCH_FOLLOWERS=1000,10000 BENCH_WRITES=50
//!
//! `BENCH_REFLECTORS` real `ctlstore reflector` processes (3 by default) follow the same feeds
//! for ground truth: ack → the row committed in their LDB.
//!
//! With `BENCH_RELAYS=R` the followers are spread over R `ctlstore relay` processes following
//! the executive (the fan-out tier, docs/decisions/0014-fan-out-relay.md), and the relays'
//! CPU and memory are reported too.
//!
//! With `BENCH_TLS=off,on` each follower count runs twice: plain HTTP, then mutual TLS (the
//! executive with `--tls-cert --tls-key --tls-client-ca`, every follower, reflector and relay
//! with a client certificate from a CA made for the run), for the cost of TLS per follower.
//!
//! `ulimit -n` must allow the followers' sockets in this process and in the executive's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ctlstore_testkit::pki::TestPki;
use ctlstore_testkit::{ExecutiveClient, free_port, spawn_service};
use serde_json::json;
use tokio::sync::Mutex;

/// (RssAnon, RssFile) of a process, in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

/// User + system CPU time of a process so far.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name, the
    // state being the first of those (clock ticks of 10 ms).
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((tick(11) + tick(12)) * 10)
}

/// The LDB's committed seq (0 until the reflector has created it).
fn ldb_seq(ldb: &std::path::Path) -> i64 {
    rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0)))
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Mutual TLS for one run: the flags each process gets, and a client for this process.
struct Tls {
    _pki: TestPki,
    server: Vec<String>,
    client: Vec<String>,
    http: ctlstore_tls::ClientTls,
}

impl Tls {
    fn new() -> Tls {
        let pki = TestPki::new("bench");
        let server = pki.server("server");
        let client = pki.client("client", "bench-client", None);
        let p = |f: &std::path::Path| f.to_string_lossy().into_owned();
        let http = ctlstore_tls::ClientTls::load(ctlstore_tls::ClientTlsFiles {
            ca: Some(pki.ca()),
            cert: Some(client.cert.clone()),
            key: Some(client.key.clone()),
        })
        .expect("client TLS");
        Tls {
            server: vec![
                "--tls-cert".into(),
                p(&server.cert),
                "--tls-key".into(),
                p(&server.key),
                "--tls-client-ca".into(),
                p(&pki.ca()),
            ],
            client: vec![
                "--tls-ca".into(),
                p(&pki.ca()),
                "--tls-client-cert".into(),
                p(&client.cert),
                "--tls-client-key".into(),
                p(&client.key),
            ],
            http,
            _pki: pki,
        }
    }
}

fn spawn(args: &[&str], extra: &[String]) -> ctlstore_testkit::KillOnDrop {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(extra.iter().map(String::as_str));
    spawn_service(env!("CARGO_BIN_EXE_ctlstore"), &all)
}

async fn run(followers: usize, writes: usize, relays: usize, tls: Option<Tls>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = if tls.is_some() {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let base = format!("{scheme}://{host}:{port}");
    let ctldb = format!("sqlite:{}", dir.path().join("ctldb.db").display());
    let (server_flags, client_flags) = match &tls {
        Some(t) => (t.server.clone(), t.client.clone()),
        None => (Vec::new(), Vec::new()),
    };
    let builder = || match &tls {
        Some(t) => t.http.apply(reqwest::Client::builder()),
        None => reqwest::Client::builder(),
    };
    let executive = spawn(
        &[
            "executive",
            "-bind",
            &format!("127.0.0.1:{port}"),
            "-ctldb",
            &ctldb,
        ],
        &server_flags,
    );
    let pid = executive.id();
    let admin = ExecutiveClient::with_client(base.clone(), builder().build().expect("client"));
    admin.wait_until_healthy(Duration::from_secs(30)).await;
    let writer = admin.register(&ctlstore_testkit::BENCH_SCHEMA).await;
    let start_seq = admin.head().await;
    let (anon_before, file_before) = rss(pid);
    // The relays, and the feed URL each follower uses.
    let mut relay_procs = Vec::new();
    let mut feeds = Vec::new();
    for _ in 0..relays {
        let port = free_port();
        let mut flags = server_flags.clone();
        flags.extend(client_flags.iter().cloned());
        relay_procs.push(spawn(
            &[
                "relay",
                "--upstream",
                &base,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ],
            &flags,
        ));
        let url = format!("{scheme}://{host}:{port}");
        ExecutiveClient::with_client(url.clone(), builder().build().expect("client"))
            .wait_until_healthy(Duration::from_secs(30))
            .await;
        feeds.push(url);
    }
    if feeds.is_empty() {
        feeds.push(base.clone());
    }
    let relay_rss_before: Vec<(u64, u64)> = relay_procs.iter().map(|r| rss(r.id())).collect();
    // Real reflectors, for ground truth.
    let reflector_count: usize = std::env::var("BENCH_REFLECTORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let ldbs: Vec<std::path::PathBuf> = (0..reflector_count)
        .map(|i| dir.path().join(format!("host{i}.db")))
        .collect();
    let _reflectors: Vec<_> = ldbs
        .iter()
        .enumerate()
        .map(|(i, ldb)| {
            spawn(
                &[
                    "reflector",
                    "-ldb-path",
                    &ldb.to_string_lossy(),
                    "-executive-url",
                    &feeds[i % feeds.len()],
                ],
                &client_flags,
            )
        })
        .collect();
    let reflected: Arc<Mutex<Vec<Duration>>> = Arc::default();

    // seq → when the writer's answer came back; (seq, received) for every follower answer.
    let acked: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let received: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let parked = Arc::new(AtomicUsize::new(0));
    let http = builder()
        .pool_max_idle_per_host(followers + 16)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let stop_at = Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX));
    let mut tasks = Vec::with_capacity(followers);
    for i in 0..followers {
        let (http, base, received, parked, stop_at) = (
            http.clone(),
            feeds[i % feeds.len()].clone(),
            received.clone(),
            parked.clone(),
            stop_at.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut after = start_seq;
            let mut first = true;
            while after < stop_at.load(Ordering::Relaxed) {
                let request = http
                    .get(format!("{base}/ledger?after={after}&wait=30s"))
                    .send();
                if first {
                    parked.fetch_add(1, Ordering::Relaxed);
                    first = false;
                }
                let Ok(response) = request.await else {
                    continue;
                };
                let Ok(page) = response.json::<serde_json::Value>().await else {
                    continue;
                };
                let at = Instant::now();
                let seqs: Vec<i64> = page["entries"]
                    .as_array()
                    .map(|e| e.iter().filter_map(|x| x["seq"].as_i64()).collect())
                    .unwrap_or_default();
                if let Some(&last) = seqs.last() {
                    let mut r = received.lock().await;
                    r.extend(seqs.iter().map(|&s| (s, at)));
                    after = last;
                }
            }
        }));
    }
    // Let every follower's long-poll reach the executive and park.
    while parked.load(Ordering::Relaxed) < followers {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (anon_idle, file_idle) = rss(pid);
    let relay_rss_idle: Vec<(u64, u64)> = relay_procs.iter().map(|r| rss(r.id())).collect();
    let relay_cpu_before: Vec<Duration> = relay_procs.iter().map(|r| cpu(r.id())).collect();
    let cpu_before = cpu(pid);
    let wall = Instant::now();

    // 10 writes a second, one row each.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_seq = start_seq;
    for i in 0..writes as i64 {
        tick.tick().await;
        let body = json!({"mutations": [{"table": "items", "values": {"id": i, "v": i}}]});
        let (status, _) = writer.mutate("bench", &body).await;
        let at = Instant::now();
        if status.is_success() {
            let head = admin.head().await;
            last_seq = head;
            acked.lock().await.push((head, at));
            for ldb in &ldbs {
                let (ldb, reflected) = (ldb.clone(), reflected.clone());
                tokio::spawn(async move {
                    let deadline = at + Duration::from_secs(30);
                    while Instant::now() < deadline {
                        if ldb_seq(&ldb) >= head {
                            reflected.lock().await.push(at.elapsed());
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
            }
        }
    }
    stop_at.store(last_seq, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(60);
    for t in tasks {
        let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), t).await;
    }
    let cpu_used = cpu(pid) - cpu_before;
    let relay_cpu: Duration = relay_procs
        .iter()
        .zip(&relay_cpu_before)
        .map(|(r, before)| cpu(r.id()).saturating_sub(*before))
        .sum();
    let elapsed = wall.elapsed();

    let acked = acked.lock().await.clone();
    let received = received.lock().await.clone();
    let mut all = Vec::new();
    let mut every = Vec::new();
    let mut missed = 0usize;
    for (seq, at) in &acked {
        let mut times: Vec<Duration> = received
            .iter()
            .filter(|(s, _)| s == seq)
            .map(|(_, r)| r.saturating_duration_since(*at))
            .collect();
        missed += followers.saturating_sub(times.len());
        times.sort();
        if let Some(max) = times.last() {
            every.push(*max);
        }
        all.extend(times);
    }
    all.sort();
    every.sort();
    let per_follower =
        |after: u64, before: u64| (after.saturating_sub(before)) as f64 / followers as f64;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut truth = reflected.lock().await.clone();
    truth.sort();
    let mut via = if relays > 0 {
        format!(" via {relays} relays")
    } else {
        String::new()
    };
    if tls.is_some() {
        via.push_str(" over mutual TLS");
    }
    println!(
        "{followers} followers{via}, {} writes at 10/s: ack → follower p50 {:.1} ms, p99 {:.1} ms; ack → every follower notified p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {missed} notifications missing",
        acked.len(),
        percentile(&all, 0.5).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
        percentile(&every, 0.5).as_secs_f64() * 1000.0,
        percentile(&every, 0.99).as_secs_f64() * 1000.0,
        every.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    println!(
        "  executive: CPU {:.0} % of one core while writing; idle followers cost {:.1} KiB RssAnon + {:.1} KiB RssFile each (RssAnon {} → {} KiB, RssFile {} → {} KiB)",
        100.0 * cpu_used.as_secs_f64() / elapsed.as_secs_f64(),
        per_follower(anon_idle, anon_before),
        per_follower(file_idle, file_before),
        anon_before,
        anon_idle,
        file_before,
        file_idle,
    );
    if !ldbs.is_empty() {
        println!(
            "  {} real reflectors: ack → row in the LDB p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} of {} seen)",
            ldbs.len(),
            percentile(&truth, 0.5).as_secs_f64() * 1000.0,
            percentile(&truth, 0.99).as_secs_f64() * 1000.0,
            truth.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            truth.len(),
            acked.len() * ldbs.len(),
        );
    }
    if relays > 0 {
        let grown = |pick: fn(&(u64, u64)) -> u64| {
            relay_rss_idle.iter().map(pick).sum::<u64>() as f64
                - relay_rss_before.iter().map(pick).sum::<u64>() as f64
        };
        println!(
            "  relays: CPU {:.0} % of one core in all while writing; idle followers cost {:.1} KiB RssAnon + {:.1} KiB RssFile each on their relay (relays' RssAnon {} → {} KiB in all)",
            100.0 * relay_cpu.as_secs_f64() / elapsed.as_secs_f64(),
            grown(|r| r.0) / followers as f64,
            grown(|r| r.1) / followers as f64,
            relay_rss_before.iter().map(|r| r.0).sum::<u64>(),
            relay_rss_idle.iter().map(|r| r.0).sum::<u64>(),
        );
    }
    drop(relay_procs);
    drop(executive);
}

fn main() {
    let followers: Vec<usize> = std::env::var("BENCH_FOLLOWERS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let writes: usize = std::env::var("BENCH_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let relays: usize = std::env::var("BENCH_RELAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let modes: Vec<bool> = std::env::var("BENCH_TLS")
        .unwrap_or_else(|_| "off".into())
        .split(',')
        .map(|m| m.trim() == "on")
        .collect();
    for n in followers {
        for &tls in &modes {
            runtime.block_on(run(n, writes, relays, tls.then(Tls::new)));
        }
    }
}
