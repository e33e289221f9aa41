//! The reader's row cache against real LDB files: cached reads equal uncached ones, stay within
//! `max_extra_staleness` of the LDB under a concurrent writer on another connection (as a
//! reflector writes), hold at most `cache_rows` rows, and follow an LDB renamed over the path.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ctlstore_reader::{Key, Reader, ReaderError, Row, Value};
use serde::Deserialize;

const CREATE_KV: &str = r#"CREATE TABLE fam___items ("k" INTEGER, "version" INTEGER, "body" TEXT, "data" BLOB, PRIMARY KEY("k"));"#;

#[derive(Debug, Deserialize, PartialEq, Clone)]
struct Kv {
    k: i64,
    version: i64,
    body: Option<String>,
    data: Option<Vec<u8>>,
}

/// xorshift: reproducible choices without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A writer on its own connection, the way the reflector writes (WAL, autocommit per statement).
fn writer(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).expect("open the writer connection");
    c.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    c
}

fn upsert(c: &rusqlite::Connection, k: i64, version: i64) {
    c.execute(
        r#"REPLACE INTO fam___items ("k","version","body","data") VALUES (?1, ?2, ?3, ?4)"#,
        rusqlite::params![
            k,
            version,
            format!("v{version}"),
            vec![k as u8, version as u8]
        ],
    )
    .expect("upsert");
}

fn delete(c: &rusqlite::Connection, k: i64) {
    c.execute(r#"DELETE FROM fam___items WHERE "k" = ?1"#, [k])
        .expect("delete");
}

fn cached(path: &Path, rows: usize, staleness: Duration) -> Reader {
    Reader::builder(path)
        .cache_rows(rows)
        .max_extra_staleness(staleness)
        .build()
        .expect("build a cached reader")
}

#[test]
fn cached_reads_equal_uncached_reads_and_errors_stay_errors() {
    let (_dir, path) = ctlstore_testkit::ldb_with(&[
        CREATE_KV,
        r#"REPLACE INTO fam___items ("k","version","body","data") VALUES (1, 7, 'it''s 𨅝', x'00ff')"#,
        r#"REPLACE INTO fam___items ("k","version","body","data") VALUES (2, 8, x'610062', NULL)"#,
        r#"REPLACE INTO fam___items ("k","version","body","data") VALUES (3, 9, NULL, 'text in a blob column')"#,
    ]);
    let plain = Reader::open(&path).expect("open");
    let cache = cached(Path::new(&path), 100, Duration::from_millis(1));
    assert!(plain.cache_stats().is_none(), "Reader::open has no cache");
    for round in 0..3 {
        for k in 0..5 {
            let key = [Key::from(k)];
            let want: Option<Kv> = plain.get_row_by_key("fam", "items", &key).expect("read");
            let got: Option<Kv> = cache.get_row_by_key("fam", "items", &key).expect("read");
            assert_eq!(got, want, "typed read of k={k}, round {round}");
            let want: Option<Row> = plain.get_row("fam", "items", &key).expect("read");
            let got: Option<Row> = cache.get_row("fam", "items", &key).expect("read");
            assert_eq!(got, want, "column map of k={k}, round {round}");
            // serde_json::Value asks for "any": the storage class decides, as uncached (a blob
            // is refused by serde_json either way, with the same message).
            let want = plain
                .get_row_by_key::<serde_json::Value>("fam", "items", &key)
                .map_err(|e| e.to_string());
            let got = cache
                .get_row_by_key::<serde_json::Value>("fam", "items", &key)
                .map_err(|e| e.to_string());
            assert_eq!(got, want, "untyped serde read of k={k}, round {round}");
        }
    }
    let row = cache
        .get_row("fam", "items", &[Key::from(3)])
        .expect("read")
        .expect("row 3");
    assert_eq!(
        row.get("data"),
        Some(&Value::Bytes(b"text in a blob column".to_vec()))
    );
    let stats = cache.cache_stats().expect("a cache");
    assert!(
        stats.hits >= 20,
        "rounds 2 and 3 come from memory: {stats:?}"
    );
    assert_eq!(stats.rows, 5, "three rows and two negative answers");
    // Bad calls are never cached answers: they fail every time, like uncached reads.
    for _ in 0..2 {
        assert!(matches!(
            cache.get_row_by_key::<Kv>("fam", "items", &[Key::from("one")]),
            Err(ReaderError::KeyType { .. })
        ));
        assert!(matches!(
            cache.get_row_by_key::<Kv>("fam", "items", &[]),
            Err(ReaderError::KeyArity { .. })
        ));
        assert!(matches!(
            cache.get_row_by_key::<Kv>("fam", "nothere", &[Key::from(1)]),
            Err(ReaderError::TableNotFound(_))
        ));
    }
    // A type the row does not fit is the same error from memory as from SQLite.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        body: i64,
    }
    let uncached = plain
        .get_row_by_key::<Wrong>("fam", "items", &[Key::from(1)])
        .expect_err("text is not an integer")
        .to_string();
    let from_memory = cache
        .get_row_by_key::<Wrong>("fam", "items", &[Key::from(1)])
        .expect_err("text is not an integer")
        .to_string();
    assert_eq!(from_memory, uncached);
}

#[test]
fn builder_without_rows_is_an_uncached_reader() {
    let (_dir, path) = ctlstore_testkit::ldb_with(&[CREATE_KV]);
    let r = Reader::builder(&path).build().expect("build");
    assert!(r.cache_stats().is_none());
    assert_eq!(
        r.get_row_by_key::<Kv>("fam", "items", &[Key::from(1)])
            .expect("read"),
        None
    );
    fn shared<T: Send + Sync>(_: &T) {}
    shared(&cached(Path::new(&path), 10, Duration::from_millis(1)));
}

#[test]
fn a_full_cache_evicts_and_holds_at_most_cache_rows() {
    let (_dir, path) = ctlstore_testkit::ldb_with(&[CREATE_KV]);
    let w = writer(Path::new(&path));
    w.execute_batch("BEGIN").expect("begin");
    for k in 0..1_000 {
        upsert(&w, k, k * 10);
    }
    w.execute_batch("COMMIT").expect("commit");
    drop(w);
    for capacity in [1, 7, 16, 50] {
        let cache = cached(Path::new(&path), capacity, Duration::from_secs(60));
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        // Many more keys than any shard holds, so every shard fills whatever the hash seed.
        for _ in 0..5_000 {
            let k = (next(&mut state) % 1_250) as i64; // 1,000 rows and 250 keys with no row
            let got: Option<Kv> = cache
                .get_row_by_key("fam", "items", &[Key::from(k)])
                .expect("read");
            assert_eq!(
                got.map(|r| r.version),
                (k < 1_000).then_some(k * 10),
                "k={k}"
            );
            let stats = cache.cache_stats().expect("a cache");
            assert!(
                stats.rows <= capacity,
                "{stats:?} holds more than {capacity}"
            );
        }
        let stats = cache.cache_stats().expect("a cache");
        assert_eq!(stats.rows, capacity, "a full cache stays full: {stats:?}");
        assert!(stats.evictions > 0, "{stats:?}");
        assert_eq!(stats.hits + stats.misses, 5_000, "{stats:?}");
    }
}

/// One key's history as the writer made it: (version or deleted, the instant the commit had
/// returned, `None` while it runs). Each write is recorded *before* it runs, so whatever a
/// reader sees is in the history; the LDB held each value from before its instant until the
/// next one's commit.
type History = Vec<(Option<i64>, Option<Instant>)>;

/// Whether a read that began at `began` and saw `seen` is provably staler than `staleness`:
/// every write that produced `seen` was superseded by a commit that had returned before
/// `began - staleness`.
fn provably_stale(
    history: &History,
    seen: Option<i64>,
    began: Instant,
    staleness: Duration,
) -> bool {
    let mut matched = false;
    for (i, (value, _)) in history.iter().enumerate() {
        if *value != seen {
            continue;
        }
        matched = true;
        match history.get(i + 1) {
            Some((_, Some(superseded))) if *superseded + staleness < began => {}
            _ => return false,
        }
    }
    matched
}

#[test]
fn cached_reads_stay_within_the_staleness_bound_under_a_concurrent_writer() {
    const KEYS: i64 = 40;
    const WRITES: u64 = 3_000;
    let staleness = Duration::from_millis(5);
    let (_dir, path) = ctlstore_testkit::ldb_with(&[CREATE_KV]);
    let path = Path::new(&path).to_path_buf();
    let reader = Arc::new(cached(&path, 25, staleness)); // fewer slots than keys: evictions too
    let plain = Reader::open(&path).expect("open");
    let histories: Arc<Mutex<HashMap<i64, History>>> = Arc::new(Mutex::new(
        (0..KEYS)
            .map(|k| (k, vec![(None, Some(Instant::now()))]))
            .collect(),
    ));
    let done = Arc::new(AtomicBool::new(false));
    let checked = Arc::new(AtomicU64::new(0));

    // Readers hammer the cache while the writer writes: every answer must be one the LDB held
    // no longer than `staleness` before the read began.
    let readers: Vec<_> = (0..2u64)
        .map(|t| {
            let (reader, histories, done, checked) = (
                reader.clone(),
                histories.clone(),
                done.clone(),
                checked.clone(),
            );
            thread::spawn(move || {
                let mut state = 0x2545_f491_4f6c_dd1d ^ (t + 1);
                while !done.load(Ordering::Acquire) {
                    let k = (next(&mut state) % KEYS as u64) as i64;
                    let began = Instant::now();
                    let got: Option<Kv> = reader
                        .get_row_by_key("fam", "items", &[Key::from(k)])
                        .expect("read");
                    if let Some(row) = &got {
                        assert_eq!(
                            row.body.as_deref(),
                            Some(format!("v{}", row.version).as_str())
                        );
                    }
                    let seen = got.map(|r| r.version);
                    let h = histories.lock().expect("histories");
                    assert!(
                        !provably_stale(&h[&k], seen, began, staleness),
                        "k={k}: read {seen:?} at {began:?}, history {:?}",
                        h[&k]
                    );
                    checked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let w = writer(&path);
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut model: HashMap<i64, i64> = HashMap::new();
    for version in 1..=WRITES as i64 {
        let k = (next(&mut state) % KEYS as u64) as i64;
        let value = (!next(&mut state).is_multiple_of(4)).then_some(version);
        histories
            .lock()
            .expect("histories")
            .get_mut(&k)
            .expect("a key of the table")
            .push((value, None));
        match value {
            Some(version) => {
                upsert(&w, k, version);
                model.insert(k, version);
            }
            None => {
                delete(&w, k);
                model.remove(&k);
            }
        }
        let returned = Instant::now();
        if let Some(last) = histories
            .lock()
            .expect("histories")
            .get_mut(&k)
            .and_then(|h| h.last_mut())
        {
            last.1 = Some(returned);
        }
        if version % 200 == 0 {
            // Quiet for twice the bound: now every cached read must equal the LDB exactly.
            thread::sleep(2 * staleness);
            for k in 0..KEYS {
                let key = [Key::from(k)];
                let got: Option<Kv> = reader.get_row_by_key("fam", "items", &key).expect("read");
                let want: Option<Kv> = plain.get_row_by_key("fam", "items", &key).expect("read");
                assert_eq!(got, want, "k={k} after write {version}");
                assert_eq!(got.map(|r| r.version), model.get(&k).copied(), "k={k}");
            }
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().expect("a reader thread panicked");
    }
    let stats = reader.cache_stats().expect("a cache");
    assert!(
        stats.invalidations > 10,
        "the writer's commits were seen: {stats:?}"
    );
    assert!(stats.hits > 0, "{stats:?}");
    assert!(
        checked.load(Ordering::Relaxed) > 1_000,
        "the readers ran alongside the writer"
    );
}

#[test]
fn an_ldb_renamed_over_the_path_is_picked_up() {
    let staleness = Duration::from_millis(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let build = |at: &Path, rows: &[(i64, i64)]| {
        let mut ldb = ctlstore_ldb::Ldb::open(at, Default::default()).expect("open");
        let mut entries = vec![ctlstore_ledger::LedgerEntry {
            seq: 1,
            leader_ts: String::new(),
            statement: CREATE_KV.into(),
        }];
        for (i, (k, v)) in rows.iter().enumerate() {
            entries.push(ctlstore_ledger::LedgerEntry {
                seq: i as i64 + 2,
                leader_ts: String::new(),
                statement: format!(
                    r#"REPLACE INTO fam___items ("k","version","body","data") VALUES ({k}, {v}, 'v{v}', NULL)"#
                ),
            });
        }
        ldb.apply(&entries).expect("apply");
        ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
            .expect("checkpoint");
    };
    build(&path, &[(1, 100), (2, 200)]);
    let reader = cached(&path, 100, staleness);
    let version = |k: i64| {
        reader
            .get_row_by_key::<Kv>("fam", "items", &[Key::from(k)])
            .expect("read")
            .map(|r| r.version)
    };
    for _ in 0..3 {
        assert_eq!(
            (version(1), version(2), version(3)),
            (Some(100), Some(200), None)
        );
    }
    // A new file, complete and closed, renamed over the path (a bootstrap from a snapshot).
    let next_path = dir.path().join("ldb.db.new");
    build(&next_path, &[(1, 101), (3, 301)]);
    std::fs::rename(&next_path, &path).expect("rename over the LDB");
    thread::sleep(2 * staleness);
    assert_eq!(
        (version(1), version(2), version(3)),
        (Some(101), None, Some(301)),
        "rows, removed rows and cached \"no row\" answers all follow the new file"
    );
    let stats = reader.cache_stats().expect("a cache");
    assert!(stats.invalidations >= 1, "{stats:?}");
    // And the replaced file keeps being followed as it changes.
    let w = writer(&path);
    upsert(&w, 2, 202);
    thread::sleep(2 * staleness);
    assert_eq!(version(2), Some(202));
}
