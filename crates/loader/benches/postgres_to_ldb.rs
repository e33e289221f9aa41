//! Loader figures, PostgreSQL → a host's LDB, everything real and on this machine: a private
//! PostgreSQL cluster (`wal_level=logical`), the loader, an executive on an embedded SQLite
//! ctldb, and a reflector following its feed into an LDB. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-loader --bench postgres_to_ldb
//!
//! - Sustained rate: BENCH_ROWS (default 100000) rows committed at the origin in
//!   100-row transactions as fast as PostgreSQL takes them; rows/s until the last is in the LDB.
//! - Latency: BENCH_SAMPLES (default 200) one-row transactions, 20 per second; origin commit
//!   → the row visible in the LDB, at the default 50 ms batch window.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_loader::{Config, SourceSpec, TableMap};
use ctlstore_reflector::{SourceConfig, Status};
use ctlstore_source_postgres::{ConnectConfig, PgConnection};
use ctlstore_testkit::{Backend, PgCluster, TestDb, TestExecutive};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn count(ldb: &Path, table: &str) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap_or(0)
}

fn has(conn: &rusqlite::Connection, id: i64) -> bool {
    conn.query_row(
        "SELECT 1 FROM bench___events WHERE id = ?",
        [id],
        |_| Ok(()),
    )
    .is_ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn run() {
    let rows = env_or("BENCH_ROWS", 100_000);
    let samples = env_or("BENCH_SAMPLES", 200);
    let pg = tokio::task::spawn_blocking(|| {
        PgCluster::start_with(&[
            ("wal_level", "logical"),
            ("max_wal_senders", "10"),
            ("max_replication_slots", "10"),
        ])
    })
    .await
    .expect("cluster");
    let mut origin = PgConnection::connect(&ConnectConfig::from_url(&pg.url).expect("url"))
        .await
        .expect("connect");
    origin
        .simple_query("CREATE TABLE events (id int8 PRIMARY KEY, name text, score float8); CREATE PUBLICATION pub FOR TABLE events")
        .await
        .expect("schema");
    let db = TestDb::create(Backend::Sqlite).await;
    let executive = TestExecutive::start_with(&db.url, |c| c.writer_limit = i64::MAX / 2).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    let reflector = ctlstore_reflector::Config::new(&ldb, SourceConfig::feed(&executive.base));
    tokio::spawn(ctlstore_reflector::run(
        reflector,
        status,
        std::future::pending::<()>(),
    ));
    let config = Config {
        executive_url: executive.base.clone(),
        admin_token: None,
        writer_name: "bench-loader".into(),
        writer_secret: "bench-secret".into(),
        family: "bench".into(),
        source: SourceSpec::parse(&format!("{}?publication=pub&slot=bench", pg.url))
            .expect("source"),
        tables: TableMap::default(),
        batch_rows: ctlstore_loader::DEFAULT_BATCH_ROWS,
        batch_window: ctlstore_loader::DEFAULT_BATCH_WINDOW,
        create_tables: true,
        metrics_bind: None,
        metrics_tls: None,
        tls: Default::default(),
    };
    tokio::spawn(ctlstore_loader::run(config, std::future::pending::<()>()));
    // The table exists once the (empty) copy is done.
    let started = Instant::now();
    while rusqlite::Connection::open(&ldb)
        .ok()
        .and_then(|c| {
            c.query_row("SELECT count(*) FROM bench___events", [], |r| {
                r.get::<_, i64>(0)
            })
            .ok()
        })
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the loader never created the table"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Sustained rate.
    let started = Instant::now();
    for first in (0..rows).step_by(100) {
        let last = (first + 100).min(rows) - 1;
        origin
            .simple_query(&format!("INSERT INTO events SELECT i, 'name-' || i, i * 0.5 FROM generate_series({first}, {last}) i"))
            .await
            .expect("insert");
    }
    let committed = started.elapsed();
    while count(&ldb, "bench___events") < rows as i64 {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "rows never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    println!(
        "sustained: {rows} rows in 100-row transactions: origin committed in {:.2} s; all in the LDB after {:.2} s = {:.0} rows/s",
        committed.as_secs_f64(),
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );

    // Latency.
    let reader =
        rusqlite::Connection::open_with_flags(&ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("reader");
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = 10_000_000 + i as i64;
        origin
            .simple_query(&format!("INSERT INTO events VALUES ({id}, 'latency', 1)"))
            .await
            .expect("insert");
        let committed = Instant::now();
        while !has(&reader, id) {
            assert!(
                committed.elapsed() < Duration::from_secs(30),
                "row {id} never arrived"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(committed.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    println!(
        "latency: origin commit → visible in the LDB, {samples} one-row transactions, batch window 50 ms: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    drop(pg);
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
