//! Reader latency on a 1M-row table, one thread: p50/p99 per `get_row_by_key` and reads/s,
//! uncached and through the row cache (`Reader::builder(..).cache_rows(..)`, hot keys), beside
//! raw rusqlite; and what each candidate change counter for the cache costs per check.
//! Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-reader --bench reads          # BENCH_ROWS=1000000 BENCH_READS=1000000
//!     BENCH_HOT_KEYS=10000 (keys the cached runs cycle through; all fit in the cache)

use std::time::{Duration, Instant};

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
    ctlstore_testkit::build_flags_ldb(&path, rows);
    println!(
        "built a {rows}-row LDB in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // A secondary index over the key's columns the other way round (issue 18), as the
    // executive's `POST .../indexes {"name": "by_id", "fields": ["id", "name"]}` makes it.
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(r#"CREATE INDEX bench___flags___by_id ON bench___flags ("id","name")"#)
        })
        .expect("create the index");
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
    {
        // The same rows found through the secondary index (id, name).
        let mut times = Vec::with_capacity(reads);
        let started = Instant::now();
        for i in 0..reads {
            let k = &keys[i % keys.len()];
            let values = [k[1].clone(), k[0].clone()];
            let t = Instant::now();
            let rows: Vec<Flag> = reader
                .rows_by_index("bench", "flags", "by_id", &values)
                .expect("read");
            times.push(t.elapsed());
            assert_eq!(rows.len(), 1);
        }
        report(
            "rows_by_index::<struct> (one row)",
            times,
            started.elapsed(),
        );
    }
    cached_reads(&path, &keys, reads);
    change_counters(&path, &raw);
}

/// The row cache on hot keys: every key fits, so after the first pass each read is a hit.
fn cached_reads(path: &std::path::Path, keys: &[[Key; 2]], reads: usize) {
    let hot = env_or("BENCH_HOT_KEYS", 10_000).min(keys.len()).max(1);
    let keys = &keys[..hot];
    let reader = Reader::builder(path)
        .cache_rows(hot * 2)
        .max_extra_staleness(ctlstore_reader::DEFAULT_MAX_EXTRA_STALENESS)
        .build()
        .expect("open with a cache");
    for k in keys {
        let _: Option<Flag> = reader.get_row_by_key("bench", "flags", k).expect("read");
    }
    for (label, typed) in [
        ("cached get_row_by_key::<struct>", true),
        ("cached get_row (column map)", false),
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
    // Throughput without the two clock reads per read that the latency loop adds.
    let started = Instant::now();
    let mut found = 0usize;
    for i in 0..reads {
        let k = &keys[i % keys.len()];
        found += usize::from(
            reader
                .get_row_by_key::<Flag>("bench", "flags", k)
                .expect("read")
                .is_some(),
        );
    }
    let took = started.elapsed();
    assert_eq!(found, reads);
    println!(
        "{:<34} {:>8.0} reads/s (1 thread, {reads} reads, no per-read clock)",
        "cached typed, throughput",
        reads as f64 / took.as_secs_f64()
    );
    if let Some(stats) = reader.cache_stats() {
        println!("cache after the runs: {stats:?} ({hot} hot keys)");
    }
}

/// The cost of one check of each change signal the cache could validate against
/// (docs/decisions/0009-reader-cache.md).
fn change_counters(path: &std::path::Path, raw: &rusqlite::Connection) {
    const CHECKS: u32 = 100_000;
    let time = |label: &str, check: &mut dyn FnMut() -> i64| {
        let started = Instant::now();
        let mut sum = 0i64;
        for _ in 0..CHECKS {
            sum = sum.wrapping_add(check());
        }
        let each = started.elapsed() / CHECKS;
        println!(
            "{label:<34} {:>6.2} µs per check (sum {sum})",
            each.as_secs_f64() * 1e6
        );
    };
    time("change counter: PRAGMA data_version", &mut || {
        raw.prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .expect("data_version")
    });
    time("change counter: _ldb_seq row", &mut || {
        raw.prepare_cached("SELECT seq FROM _ldb_seq WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .expect("_ldb_seq")
    });
    time("change counter: stat (dev, inode)", &mut || {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).expect("stat");
        (m.dev() ^ m.ino()) as i64
    });
    time("change counter: stat (mtime)", &mut || {
        let m = std::fs::metadata(path).expect("stat");
        m.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.subsec_nanos() as i64)
    });
}
