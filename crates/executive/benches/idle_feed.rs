//! The ledger feed holding thousands of idle long-polls: memory per waiting request, and the time
//! from one commit to every waiter's answer. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-executive --bench idle_feed        # BENCH_WAITERS=2000
//!
//! Client and server share this process (and `ulimit -n`, which must allow 2 x waiters).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ctlstore_executive::{Config, serve};
use ctlstore_testkit::{Backend, TestDb};
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let waiters: usize = std::env::var("BENCH_WAITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let db = TestDb::create(Backend::Sqlite).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(serve(listener, Config { ctldb_url: db.url.clone(), ..Config::default() }, std::future::pending()));
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        for _ in 0..100 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        client.post(format!("{base}/families/bench")).send().await.expect("family");
        let def = json!({"fields": [["id", "integer"]], "keyFields": ["id"]});
        client.post(format!("{base}/families/bench/tables/items")).json(&def).send().await.expect("table");
        client.post(format!("{base}/writers/bencher")).body("secret1").send().await.expect("writer");
        let page: serde_json::Value = client.get(format!("{base}/ledger?after=0")).send().await.expect("ledger").json().await.expect("json");
        let after = page["entries"].as_array().and_then(|e| e.last()).and_then(|e| e["seq"].as_i64()).unwrap_or(0);

        let before = rss_kib();
        let answered = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::with_capacity(waiters);
        for _ in 0..waiters {
            let (client, url, answered) = (client.clone(), format!("{base}/ledger?after={after}&wait=60s"), answered.clone());
            tasks.push(tokio::spawn(async move {
                let r = client.get(url).send().await.expect("long-poll");
                let page: serde_json::Value = r.json().await.expect("json");
                assert!(!page["entries"].as_array().is_none_or(|e| e.is_empty()));
                answered.fetch_add(1, Ordering::SeqCst);
                Instant::now()
            }));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let parked = rss_kib();
        assert_eq!(answered.load(Ordering::SeqCst), 0, "all waiting");
        let written = Instant::now();
        let r = client
            .post(format!("{base}/families/bench/mutations"))
            .header("ctlstore-writer", "bencher")
            .header("ctlstore-secret", "secret1")
            .json(&json!({"mutations": [{"table": "items", "values": {"id": 1}}]}))
            .send()
            .await
            .expect("write");
        assert!(r.status().is_success());
        let mut last = written;
        for t in tasks {
            last = last.max(t.await.expect("waiter"));
        }
        println!(
            "{waiters} idle long-polls: process RSS {} MiB -> {} MiB ({:.1} KiB per waiter, client and server together); one commit answered all in {:.0} ms",
            before / 1024,
            parked / 1024,
            (parked.saturating_sub(before)) as f64 / waiters as f64,
            last.duration_since(written).as_secs_f64() * 1e3
        );
        db.cleanup().await;
    });
}
