//! The ledger feed holding thousands of idle long-polls: memory per waiting request, and the time
//! from one commit to every waiter's answer. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-executive --bench idle_feed        # BENCH_WAITERS=2000
//!
//! Client and server share this process (and `ulimit -n`, which must allow 2 x waiters).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ctlstore_testkit::{Backend, SchemaDef, TableDef, TestDb, TestExecutive};
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
        let executive = TestExecutive::start(&db.url).await;
        let base = executive.base.clone();
        let items = TableDef { name: "items", fields: &[("id", "integer")], keys: &["id"] };
        let writer = executive
            .register(&SchemaDef { family: "bench", tables: &[items], writer: "bencher", secret: "secret1" })
            .await;
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        let after = executive.head().await;

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
        writer.mutate_ok("bench", &json!({"mutations": [{"table": "items", "values": {"id": 1}}]})).await;
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
        executive.stop().await;
        db.cleanup().await;
    });
}
