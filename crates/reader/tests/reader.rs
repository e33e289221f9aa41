//! The reader against real LDB files written by the LDB apply path.
//!
//! One file over 400 lines on purpose: each test is short and independent, and they share the
//! fixtures at the top (an LDB with every column type, a writer thread); splitting would only
//! scatter those.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use ctlstore_reader::{Key, Reader, ReaderError, Value};
use serde::Deserialize;

fn entry(seq: i64, statement: &str) -> LedgerEntry {
    LedgerEntry {
        seq,
        leader_ts: "2026-01-01 00:00:00".into(),
        statement: statement.into(),
    }
}

/// An LDB with a table of every type and a composite key (string, integer, bytestring).
fn build(path: &Path) -> Ldb {
    let mut ldb = Ldb::open(path, LdbOptions::default()).expect("open");
    ldb.apply(&[
        entry(1, r#"CREATE TABLE fam___things ("name" VARCHAR(191), "id" INTEGER, "tag" BLOB(255), "body" TEXT, "data" BLOB, "score" REAL, PRIMARY KEY("name","id","tag"));"#),
        entry(2, "--- BEGIN"),
        entry(3, r#"REPLACE INTO fam___things ("name","id","tag","body","data","score") VALUES('a',1,x'01','hello 𨅝',x'deadbeef',1.5)"#),
        entry(4, r#"REPLACE INTO fam___things ("name","id","tag","body","data","score") VALUES('a',2,x'02',NULL,NULL,NULL)"#),
        entry(5, r#"REPLACE INTO fam___things ("name","id","tag","body","data","score") VALUES('a',2,x'03','it''s',x'',-0.25)"#),
        entry(6, r#"REPLACE INTO fam___things ("name","id","tag","body","data","score") VALUES('b',1,x'01',x'610062',NULL,10)"#),
        entry(7, "--- COMMIT"),
    ])
    .expect("apply");
    ldb
}

#[derive(Debug, Deserialize, PartialEq)]
struct Thing {
    name: String,
    id: i64,
    tag: Vec<u8>,
    body: Option<String>,
    data: Option<Vec<u8>>,
    score: Option<f64>,
}

fn key(name: &str, id: i64, tag: &[u8]) -> Vec<Key> {
    vec![Key::from(name), Key::from(id), Key::from(tag)]
}

#[test]
fn point_reads_of_every_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _ldb = build(&dir.path().join("ldb.db"));
    let r = Reader::open(dir.path().join("ldb.db")).expect("open");
    let t: Thing = r
        .get_row_by_key("fam", "things", &key("a", 1, &[1]))
        .expect("read")
        .expect("found");
    assert_eq!(
        t,
        Thing {
            name: "a".into(),
            id: 1,
            tag: vec![1],
            body: Some("hello 𨅝".into()),
            data: Some(vec![0xde, 0xad, 0xbe, 0xef]),
            score: Some(1.5)
        }
    );
    let nulls: Thing = r
        .get_row_by_key("fam", "things", &key("a", 2, &[2]))
        .expect("read")
        .expect("found");
    assert_eq!((nulls.body, nulls.data, nulls.score), (None, None, None));
    // A NUL-containing string travels as a blob (ctlstore's ledger rule) and reads back as text.
    let nul: Thing = r
        .get_row_by_key("fam", "things", &key("b", 1, &[1]))
        .expect("read")
        .expect("found");
    assert_eq!(nul.body.as_deref(), Some("a\0b"));
    assert_eq!(nul.score, Some(10.0), "an integral REAL reads as a float");
    // A bytestring key may be given as text (ctlstore converts it).
    let by_text: Option<Thing> = r
        .get_row_by_key(
            "fam",
            "things",
            &[Key::from("a"), Key::from(1), Key::from("\u{1}")],
        )
        .expect("read");
    assert!(by_text.is_some());
    // The dynamic form.
    let row = r
        .get_row("fam", "things", &key("a", 2, &[3]))
        .expect("read")
        .expect("found");
    assert_eq!(row.get("body"), Some(&Value::Text("it's".into())));
    assert_eq!(row.get("data"), Some(&Value::Bytes(vec![])));
    assert_eq!(row.get("score"), Some(&Value::Real(-0.25)));
    // Missing rows are None, not errors; names are normalised as ctlstore does.
    assert!(
        r.get_row_by_key::<Thing>("FAM", "Things", &key("z", 9, &[9]))
            .expect("read")
            .is_none()
    );
}

#[test]
fn bad_calls_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _ldb = build(&dir.path().join("ldb.db"));
    let r = Reader::open(dir.path().join("ldb.db")).expect("open");
    let arity = r.get_row("fam", "things", &[Key::from("a")]);
    assert!(
        matches!(
            arity,
            Err(ReaderError::KeyArity {
                expected: 3,
                got: 1,
                ..
            })
        ),
        "{arity:?}"
    );
    let wrong_type = r.get_row(
        "fam",
        "things",
        &[Key::from("a"), Key::from("one"), Key::from(vec![1u8])],
    );
    assert!(
        matches!(&wrong_type, Err(ReaderError::KeyType { field, .. }) if field == "id"),
        "{wrong_type:?}"
    );
    assert!(matches!(
        r.get_row("fam", "nosuch", &[Key::from(1)]),
        Err(ReaderError::TableNotFound(_))
    ));
    assert!(matches!(
        r.get_row("bad__fam", "things", &[]),
        Err(ReaderError::Name(_))
    ));
    let too_many = r.rows_by_key_prefix_values(
        "fam",
        "things",
        &[
            Key::from("a"),
            Key::from(1),
            Key::from(vec![1u8]),
            Key::from(4),
        ],
    );
    assert!(matches!(too_many, Err(ReaderError::TooManyKeys { .. })));
    assert!(matches!(
        Reader::open(dir.path().join("missing.db")),
        Err(ReaderError::NotFound(_))
    ));
    #[derive(Deserialize, Debug)]
    struct Wrong {
        #[allow(dead_code)]
        name: i64,
    }
    let bad = r.get_row_by_key::<Wrong>("fam", "things", &key("a", 1, &[1]));
    assert!(
        matches!(bad, Err(ReaderError::Deserialize { .. })),
        "{bad:?}"
    );
}

#[test]
fn prefix_scans_over_a_composite_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _ldb = build(&dir.path().join("ldb.db"));
    let r = Reader::open(dir.path().join("ldb.db")).expect("open");
    let ids = |prefix: &[Key]| -> Vec<(String, i64, Vec<u8>)> {
        r.rows_by_key_prefix::<Thing>("fam", "things", prefix)
            .expect("scan")
            .map(|t| (t.name, t.id, t.tag))
            .collect()
    };
    assert_eq!(ids(&[]).len(), 4);
    assert_eq!(
        ids(&[Key::from("a")]),
        vec![
            ("a".into(), 1, vec![1]),
            ("a".into(), 2, vec![2]),
            ("a".into(), 2, vec![3])
        ]
    );
    assert_eq!(ids(&[Key::from("a"), Key::from(2)]).len(), 2);
    assert_eq!(ids(&key("a", 2, &[3])).len(), 1);
    assert!(ids(&[Key::from("zzz")]).is_empty());
}

#[test]
fn sequence_and_ledger_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    let r = Reader::open(&path).expect("open");
    assert_eq!(r.last_sequence().expect("seq"), 0);
    assert!(!r.ping());
    assert!(matches!(
        r.ledger_latency(),
        Err(ReaderError::NoLedgerUpdates)
    ));
    // An empty leader_ts: the LDB records the current time.
    ldb.apply(&[LedgerEntry {
        seq: 7,
        leader_ts: String::new(),
        statement: "CREATE TABLE fam___xyz (\"k\" INTEGER, PRIMARY KEY(\"k\"));".into(),
    }])
    .expect("apply");
    assert_eq!(r.last_sequence().expect("seq"), 7);
    assert!(r.ping());
    let latency = r.ledger_latency().expect("latency");
    assert!(latency < Duration::from_secs(5), "{latency:?}");
}

#[test]
fn default_path_follows_ctlstore_path() {
    assert_eq!(
        ctlstore_reader::DEFAULT_LDB_PATH,
        "/var/spool/ctlstore/ldb.db"
    );
    assert_eq!(
        ctlstore_reader::default_path_for(None),
        Path::new("/var/spool/ctlstore/ldb.db")
    );
    assert_eq!(
        ctlstore_reader::default_path_for(Some("".into())),
        Path::new("/var/spool/ctlstore/ldb.db")
    );
    assert_eq!(
        ctlstore_reader::default_path_for(Some("/srv/ctl".into())),
        Path::new("/srv/ctl/ldb.db")
    );
}

#[test]
fn reads_never_see_half_a_batch_during_heavy_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    ldb.apply(&[entry(
        1,
        r#"CREATE TABLE fam___rows ("id" INTEGER, "batch" INTEGER, PRIMARY KEY("id"));"#,
    )])
    .expect("create");
    let reader = Arc::new(Reader::open(&path).expect("open"));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (reader, done) = (reader.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let rows = reader
                        .rows_by_key_prefix_values("fam", "rows", &[])
                        .expect("a read never fails");
                    let batches: std::collections::BTreeSet<String> = rows
                        .iter()
                        .map(|r| format!("{:?}", r.get("batch")))
                        .collect();
                    assert!(batches.len() <= 1, "torn batch: {batches:?}");
                    assert!(
                        rows.is_empty() || rows.len() == 20,
                        "half a batch: {} rows",
                        rows.len()
                    );
                    if let Some(first) = rows.first() {
                        let id = match first.get("id") {
                            Some(Value::Integer(i)) => *i,
                            _ => 0,
                        };
                        assert!(
                            reader
                                .get_row("fam", "rows", &[Key::from(id)])
                                .expect("point read")
                                .is_some()
                        );
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut seq = 1;
    let started = Instant::now();
    let mut b = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        let mut entries = vec![entry(seq + 1, "--- BEGIN")];
        seq += 1;
        for id in 0..20 {
            seq += 1;
            entries.push(entry(
                seq,
                &format!(r#"REPLACE INTO fam___rows ("id","batch") VALUES({id},{b})"#),
            ));
        }
        seq += 1;
        entries.push(entry(seq, "--- COMMIT"));
        ldb.apply(&entries).expect("apply");
        b += 1;
    }
    done.store(true, Ordering::Relaxed);
    let reads: u64 = readers
        .into_iter()
        .map(|t| t.join().expect("reader thread"))
        .sum();
    assert!(reads > 100 && b > 100, "{reads} reads during {b} batches");
}

#[test]
fn a_replaced_ldb_is_picked_up_without_failing_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut first = Ldb::open(&path, LdbOptions::default()).expect("open");
    first
        .apply(&[
            entry(
                1,
                r#"CREATE TABLE fam___kvs ("k" VARCHAR(191), "v" TEXT, PRIMARY KEY("k"));"#,
            ),
            entry(2, r#"REPLACE INTO fam___kvs ("k","v") VALUES('x','old')"#),
        ])
        .expect("apply");
    let reader = Reader::open(&path).expect("open");
    let read = || -> String {
        match reader
            .get_row("fam", "kvs", &[Key::from("x")])
            .expect("reads never fail")
            .and_then(|r| r.get("v").cloned())
        {
            Some(Value::Text(t)) => t,
            other => format!("{other:?}"),
        }
    };
    assert_eq!(read(), "old");
    // A bootstrap: a new file, renamed over the old one.
    let staged = dir.path().join("ldb.db.new");
    let mut second = Ldb::open(&staged, LdbOptions::default()).expect("open");
    second
        .apply(&[
            entry(
                100,
                r#"CREATE TABLE fam___kvs ("k" VARCHAR(191), "v" TEXT, PRIMARY KEY("k"));"#,
            ),
            entry(101, r#"REPLACE INTO fam___kvs ("k","v") VALUES('x','new')"#),
        ])
        .expect("apply");
    second
        .checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
        .expect("checkpoint");
    drop(second);
    // The replacement protocol: the old file's writer empties its WAL and closes (a stale WAL
    // beside the path would be replayed onto the new file), then the new file is renamed in.
    first
        .checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
        .expect("checkpoint");
    drop(first);
    std::fs::rename(&staged, &path).expect("replace");
    let deadline = Instant::now() + Duration::from_secs(5);
    while read() != "new" {
        assert!(
            Instant::now() < deadline,
            "the replacement was never noticed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(reader.last_sequence().expect("seq"), 101);
}

fn tiny_ldb(path: &Path, value: &str, seq: i64) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let mut ldb = Ldb::open(path, LdbOptions::default()).expect("open");
    ldb.apply(&[
        entry(
            seq,
            r#"CREATE TABLE fam___kvs ("k" VARCHAR(191), "v" TEXT, PRIMARY KEY("k"));"#,
        ),
        entry(
            seq + 1,
            &format!(r#"REPLACE INTO fam___kvs ("k","v") VALUES('x','{value}')"#),
        ),
    ])
    .expect("apply");
    ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
        .expect("checkpoint");
}

#[test]
fn versioned_directories_switch_only_to_newer_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = |ms: u64| {
        dir.path()
            .join("versioned")
            .join(format!("{ms:013}"))
            .join("ldb.db")
    };
    tiny_ldb(&version(1_700_000_000_000), "first", 1);
    let versioned = ctlstore_reader::VersionedReader::open(dir.path()).expect("open");
    let value = || match versioned
        .reader()
        .expect("reader")
        .get_row("fam", "kvs", &[Key::from("x")])
        .expect("read")
        .and_then(|r| r.get("v").cloned())
    {
        Some(Value::Text(t)) => t,
        other => format!("{other:?}"),
    };
    assert_eq!(value(), "first");
    tiny_ldb(&version(1_600_000_000_000), "older", 1);
    tiny_ldb(&version(1_800_000_000_000), "newer", 10);
    let deadline = Instant::now() + Duration::from_secs(5);
    while value() != "newer" {
        assert!(
            Instant::now() < deadline,
            "never switched to the newer version"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        versioned.version(),
        1_800_000_000_000,
        "the newest, never the older one"
    );
    assert!(matches!(
        ctlstore_reader::VersionedReader::open(dir.path().join("empty")),
        Err(ReaderError::NotFound(_))
    ));
}

#[test]
fn rotating_copies_follow_ctlstores_schedule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<_> = (0..6)
        .map(|i| {
            dir.path().join(if i == 0 {
                "ldb.db".to_string()
            } else {
                format!("ldb-{}.db", i + 1)
            })
        })
        .collect();
    for (i, p) in paths.iter().enumerate() {
        tiny_ldb(p, &format!("copy {i}"), 1);
    }
    let rotating =
        ctlstore_reader::RotatingReader::new(&paths, 6).expect("six copies every 6 minutes");
    // ctlstore's table (ldb_rotating_reader_test.go): minute -> copy.
    for (minute, copy) in [
        (1, 0),
        (8, 1),
        (17, 2),
        (21, 3),
        (24, 4),
        (32, 5),
        (41, 0),
        (42, 1),
        (53, 2),
        (59, 3),
    ] {
        assert_eq!(rotating.index_for_minute(minute), copy, "minute {minute}");
    }
    assert!(
        rotating
            .reader()
            .get_row("fam", "kvs", &[Key::from("x")])
            .expect("read")
            .is_some()
    );
    assert!(
        matches!(
            ctlstore_reader::RotatingReader::new(&paths[..1], 30),
            Err(ReaderError::Layout(_))
        ),
        "at least two copies"
    );
    assert!(
        matches!(
            ctlstore_reader::RotatingReader::new(&paths[..3], 30),
            Err(ReaderError::Layout(_))
        ),
        "at most 60/period copies"
    );
    assert!(
        matches!(
            ctlstore_reader::RotatingReader::new(&paths[..2], 7),
            Err(ReaderError::Layout(_))
        ),
        "ctlstore's periods only"
    );
}

#[test]
fn a_recreated_table_reads_with_its_new_column_names_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    ldb.apply(&[
        entry(
            1,
            r#"CREATE TABLE fam___kvs ("k" VARCHAR(191), "old_name" TEXT, PRIMARY KEY("k"));"#,
        ),
        entry(
            2,
            r#"REPLACE INTO fam___kvs ("k","old_name") VALUES('x','1')"#,
        ),
    ])
    .expect("apply");
    let reader = Reader::open(&path).expect("open");
    let row = reader
        .get_row("fam", "kvs", &[Key::from("x")])
        .expect("read")
        .expect("row");
    assert!(row.contains_key("old_name"));
    // Dropped and re-created with as many columns, other names, within the reader's 1 s check.
    ldb.apply(&[
        entry(3, "DROP TABLE IF EXISTS fam___kvs"),
        entry(
            4,
            r#"CREATE TABLE fam___kvs ("k" VARCHAR(191), "new_name" TEXT, PRIMARY KEY("k"));"#,
        ),
        entry(
            5,
            r#"REPLACE INTO fam___kvs ("k","new_name") VALUES('x','2')"#,
        ),
    ])
    .expect("apply");
    let row = reader
        .get_row("fam", "kvs", &[Key::from("x")])
        .expect("read")
        .expect("row");
    assert_eq!(
        row.get("new_name"),
        Some(&Value::Text("2".into())),
        "{row:?}"
    );
    assert!(!row.contains_key("old_name"));
}
