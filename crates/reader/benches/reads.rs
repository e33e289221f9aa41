//! Reader latency on a 1M-row table, one thread: p50/p99 per `get_row_by_key` and reads/s.
//! Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-reader --bench reads          # BENCH_ROWS=1000000 BENCH_READS=1000000

use std::time::{Duration, Instant};

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use ctlstore_reader::{Key, Reader};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Flag {
    name: String,
    id: i64,
    enabled: i64,
    payload: String,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut times: Vec<Duration>, total: Duration) {
    let n = times.len();
    times.sort();
    println!(
        "{label:<34} p50 {:>5.2} µs   p99 {:>5.2} µs   {:>8.0} reads/s (1 thread, {n} reads)",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        n as f64 / total.as_secs_f64()
    );
}

/// xorshift: cheap, reproducible key choice.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn main() {
    let rows = env_or("BENCH_ROWS", 1_000_000);
    let reads = env_or("BENCH_READS", 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let started = Instant::now();
    {
        let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
        ldb.apply(&[LedgerEntry {
            seq: 1,
            leader_ts: String::new(),
            statement: r#"CREATE TABLE bench___flags ("name" VARCHAR(191), "id" INTEGER, "enabled" INTEGER, "payload" TEXT, PRIMARY KEY("name","id"));"#.into(),
        }])
        .expect("create");
        let c = ldb.connection();
        c.execute_batch("BEGIN").expect("begin");
        {
            let mut insert = c
                .prepare(r#"INSERT INTO bench___flags VALUES (?1, ?2, ?3, ?4)"#)
                .expect("prepare");
            for i in 0..rows {
                insert
                    .execute(rusqlite::params![
                        format!("flag-{}", i / 10),
                        (i % 10) as i64,
                        (i % 2) as i64,
                        "x".repeat(40)
                    ])
                    .expect("insert");
            }
        }
        c.execute_batch("COMMIT").expect("commit");
        ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
            .expect("checkpoint");
    }
    println!(
        "built a {rows}-row LDB in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let reader = Reader::open(&path).expect("open");
    let raw = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("raw");
    raw.pragma_update(None, "mmap_size", 256 * 1024 * 1024)
        .expect("mmap");
    raw.pragma_update(None, "cache_size", -65536)
        .expect("cache");
    let groups = (rows / 10).max(1) as u64;
    let keys: Vec<[Key; 2]> = {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..reads.min(100_000))
            .map(|_| {
                let i = next(&mut state) % (groups * 10);
                [
                    Key::from(format!("flag-{}", i / 10)),
                    Key::from((i % 10) as i64),
                ]
            })
            .collect()
    };
    // Warm the page cache and the statement cache.
    for k in keys.iter().take(10_000) {
        let _: Option<Flag> = reader.get_row_by_key("bench", "flags", k).expect("read");
    }
    {
        // The floor: the same point query on one rusqlite connection, values borrowed.
        let mut times = Vec::with_capacity(reads);
        let started = Instant::now();
        for i in 0..reads {
            let k = &keys[i % keys.len()];
            let (Key::Text(name), Key::Int(id)) = (&k[0], &k[1]) else {
                unreachable!("built above")
            };
            let t = Instant::now();
            let mut stmt = raw
                .prepare_cached(r#"SELECT * FROM "bench___flags" WHERE "name" = ? AND "id" = ?"#)
                .expect("prepare");
            let len: usize = stmt
                .query_row(rusqlite::params![name, id], |r| {
                    Ok(r.get_ref(3)?.as_str()?.len())
                })
                .expect("row");
            times.push(t.elapsed());
            assert!(len > 0);
        }
        report("raw rusqlite (floor)", times, started.elapsed());
    }
    for (label, typed) in [
        ("get_row_by_key::<struct>", true),
        ("get_row (column map)", false),
    ] {
        let mut times = Vec::with_capacity(reads);
        let started = Instant::now();
        for i in 0..reads {
            let k = &keys[i % keys.len()];
            let t = Instant::now();
            let found = if typed {
                reader
                    .get_row_by_key::<Flag>("bench", "flags", k)
                    .expect("read")
                    .is_some()
            } else {
                reader.get_row("bench", "flags", k).expect("read").is_some()
            };
            times.push(t.elapsed());
            assert!(found);
        }
        report(label, times, started.elapsed());
    }
}
