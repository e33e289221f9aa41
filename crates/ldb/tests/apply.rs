//! Applying ledger entries: order, batch atomicity, exactly-once, the sandbox.

use ctlstore_ldb::{Ldb, LdbError, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use rusqlite::{Connection, OpenFlags};

fn entry(seq: i64, statement: &str) -> LedgerEntry {
    LedgerEntry {
        seq,
        leader_ts: "2024-02-07 22:04:32".into(),
        statement: statement.into(),
    }
}

fn setup() -> (tempfile::TempDir, Ldb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = Ldb::open(dir.path().join("ldb.db"), LdbOptions::default()).expect("open");
    (dir, ldb)
}

fn reader(ldb: &Ldb) -> Connection {
    Connection::open_with_flags(ldb.path(), OpenFlags::SQLITE_OPEN_READ_ONLY).expect("reader")
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn seq_of(conn: &Connection) -> i64 {
    ctlstore_ldb_layout::read_seq(conn).expect("_ldb_seq")
}

const CREATE: &str = r#"CREATE TABLE family1___table1 ("field1" INTEGER, "field2" VARCHAR(191), PRIMARY KEY("field1"));"#;

/// Spelled out here on purpose, not read from `ctlstore-ldb-layout`: this is the check that
/// the layout there is ctlstore's.
#[test]
fn layout_is_ctlstores() {
    let (_dir, ldb) = setup();
    let c = reader(&ldb);
    let ddl: Vec<String> = c
        .prepare("SELECT sql FROM sqlite_master WHERE name IN ('_ldb_seq', '_ldb_last_update') ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        ddl[0].contains("name STRING PRIMARY KEY NOT NULL")
            && ddl[0].contains("timestamp DATETIME NOT NULL"),
        "{ddl:?}"
    );
    assert!(
        ddl[1].contains("id INTEGER PRIMARY KEY NOT NULL")
            && ddl[1].contains("seq BIGINT NOT NULL"),
        "{ddl:?}"
    );
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    assert_eq!(ldb.seq(), 0);
}

#[test]
fn entries_apply_in_order_with_bookkeeping() {
    let (_dir, mut ldb) = setup();
    let applied = ldb
        .apply(&[
            entry(1, CREATE),
            entry(2, r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1,'a''b')"#),
            entry(3, "--- BEGIN"),
            entry(4, r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(2,x'610062')"#),
            entry(5, r#"DELETE FROM family1___table1 WHERE "field1" = 1"#),
            entry(6, "--- COMMIT"),
            entry(9, r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(3,(-3.0/4294967296.0))"#),
        ])
        .expect("apply");
    assert_eq!(applied.entries, 7);
    assert_eq!(
        applied.committed_seq, 9,
        "a gap (7, 8) is not the LDB's business"
    );
    let c = reader(&ldb);
    assert_eq!(count(&c, "family1___table1"), 2);
    assert_eq!(seq_of(&c), 9);
    let ts = ctlstore_ldb_layout::read_last_update(&c).expect("ts");
    assert_eq!(
        ts.as_deref(),
        Some("2024-02-07 22:04:32+00:00"),
        "go-sqlite3's layout"
    );
    // ctlstore's other statement forms.
    ldb.apply(&[
        entry(10, "DELETE FROM family1___table1"),
        entry(11, "DROP TABLE IF EXISTS family1___table1"),
        entry(
            12,
            "CREATE TABLE family1___table1234 (field1 INTEGER PRIMARY KEY, field2 VARCHAR);",
        ),
        entry(
            13,
            r#"ALTER TABLE family1___table1234 ADD COLUMN "field3" BLOB(255)"#,
        ),
    ])
    .expect("ctlstore's DDL");
    assert_eq!(ldb.seq(), 13);
}

#[test]
fn a_batch_is_invisible_until_its_commit_even_across_calls() {
    let (_dir, mut ldb) = setup();
    ldb.apply(&[entry(1, CREATE)]).expect("create");
    let c = reader(&ldb);
    ldb.apply(&[
        entry(2, "--- BEGIN"),
        entry(
            3,
            r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1,'x')"#,
        ),
    ])
    .expect("first half");
    assert!(ldb.in_batch());
    assert_eq!(ldb.applied_seq(), 3);
    assert_eq!(
        count(&c, "family1___table1"),
        0,
        "half a batch is invisible"
    );
    assert_eq!(seq_of(&c), 1);
    ldb.apply(&[
        entry(
            4,
            r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(2,'y')"#,
        ),
        entry(5, "--- COMMIT"),
    ])
    .expect("second half");
    assert_eq!(count(&c, "family1___table1"), 2);
    assert_eq!(seq_of(&c), 5);
}

#[test]
fn restart_resumes_and_replays_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    {
        let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
        ldb.apply(&[
            entry(1, CREATE),
            entry(2, "--- BEGIN"),
            entry(
                3,
                r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1,'x')"#,
            ),
        ])
        .expect("apply");
        // Dropped with the batch open: as after a crash, the batch is gone.
    }
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("reopen");
    assert_eq!(ldb.seq(), 1, "resumes after the last committed entry");
    assert_eq!(count(&reader(&ldb), "family1___table1"), 0);
    let replay = ldb.apply(&[entry(1, CREATE)]);
    assert!(
        matches!(replay, Err(LdbError::Replay { seq: 1, applied: 1 })),
        "{replay:?}"
    );
    ldb.apply(&[
        entry(2, "--- BEGIN"),
        entry(
            3,
            r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1,'x')"#,
        ),
        entry(4, "--- COMMIT"),
    ])
    .expect("the batch again, whole");
    assert_eq!(count(&reader(&ldb), "family1___table1"), 1);
}

#[test]
fn misplaced_markers_are_invariant_violations() {
    let (_dir, mut ldb) = setup();
    assert!(matches!(
        ldb.apply(&[entry(1, "--- COMMIT")]),
        Err(LdbError::Invariant { seq: 1, .. })
    ));
    assert!(matches!(
        ldb.apply(&[entry(1, "--- BEGIN"), entry(2, "--- BEGIN")]),
        Err(LdbError::Invariant { seq: 2, .. })
    ));
    assert_eq!(ldb.seq(), 0);
    assert!(!ldb.in_batch(), "the open batch was rolled back");
}

#[test]
fn the_sandbox_refuses_anything_but_family_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ldb = Ldb::open(dir.path().join("ldb.db"), LdbOptions::default()).expect("open");
    ldb.apply(&[entry(1, CREATE)]).expect("create");
    let outside = dir.path().join("stolen.db");
    let hostile = [
        format!("ATTACH DATABASE '{}' AS stolen", outside.display()),
        "PRAGMA journal_mode = DELETE".to_string(),
        "PRAGMA writable_schema = ON".to_string(),
        "CREATE TRIGGER t AFTER INSERT ON family1___table1 BEGIN DELETE FROM family1___table1; END"
            .to_string(),
        "CREATE VIEW family1___view1 AS SELECT 1".to_string(),
        "SELECT load_extension('/tmp/evil.so')".to_string(),
        r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(9, random())"#.to_string(),
        r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1, readfile('/etc/passwd'))"#
            .to_string(),
        "INSERT INTO _ldb_seq VALUES (1, 999999)".to_string(),
        "CREATE TABLE notafamilytable (x INTEGER)".to_string(),
        "CREATE TEMP TABLE family1___tmp (x INTEGER)".to_string(),
        "COMMIT".to_string(),
        format!("VACUUM INTO '{}'", outside.display()),
        r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(5,'fine'); ATTACH 'x.db' AS x"#
            .to_string(),
    ];
    for statement in hostile {
        let err = ldb.apply(&[entry(2, &statement)]).expect_err(&statement);
        assert!(err.is_poison(), "{statement}: {err}");
        assert!(
            matches!(
                err,
                LdbError::Refused { seq: 2, .. } | LdbError::Statement { seq: 2, .. }
            ),
            "{statement}: {err}"
        );
        assert_eq!(ldb.seq(), 1, "{statement}: the seq did not move");
    }
    assert!(!outside.exists(), "nothing on disk outside the LDB");
    assert!(!dir.path().join("x.db").exists());
    let c = reader(&ldb);
    assert_eq!(
        count(&c, "family1___table1"),
        0,
        "not even the statement before a refused one in the same entry"
    );
    assert_eq!(seq_of(&c), 1);
    // Our own statements are not affected by the sandbox.
    ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
        .expect("checkpoint");
    ldb.apply(&[entry(
        2,
        r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1,'ok')"#,
    )])
    .expect("normal entries still apply");
}

/// Secondary indexes (issue 18): the executive's `family___table___index` statements apply,
/// and no other index does.
#[test]
fn the_sandbox_allows_exactly_the_executives_indexes() {
    let (_dir, mut ldb) = setup();
    ldb.apply(&[entry(1, CREATE)]).expect("create");
    let hostile = [
        r#"CREATE INDEX evil ON family1___table1 ("field2")"#,
        r#"CREATE INDEX family1___table2___by_f ON family1___table1 ("field2")"#,
        r#"CREATE INDEX family1___table1___by_f ON family1___table1 (readfile('/etc/passwd'))"#,
        r#"CREATE INDEX family1___table1___by_f ON family1___table1 ("field2") WHERE random() > 0"#,
        r#"CREATE INDEX family1___table1___by__f ON family1___table1 ("field2")"#,
    ];
    for statement in hostile {
        let err = ldb.apply(&[entry(2, statement)]).expect_err(statement);
        assert!(err.is_poison(), "{statement}: {err}");
        assert_eq!(ldb.seq(), 1, "{statement}");
    }
    ldb.apply(&[
        entry(
            2,
            r#"CREATE UNIQUE INDEX family1___table1___by_f ON family1___table1 ("field2")"#,
        ),
        entry(
            3,
            r#"REPLACE INTO family1___table1 ("field1","field2") VALUES(1,'a')"#,
        ),
        entry(
            4,
            r#"CREATE INDEX family1___table1___pair ON family1___table1 ("field2","field1")"#,
        ),
        entry(5, "DROP INDEX IF EXISTS family1___table1___pair"),
    ])
    .expect("the executive's index statements");
    let c = reader(&ldb);
    let indexes: Vec<String> = c
        .prepare("SELECT name FROM pragma_index_list('family1___table1') WHERE origin = 'c' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(indexes, ["family1___table1___by_f"]);
}

/// Found by fuzzing (`fuzz/fuzz_targets/schema_json.rs`): a family name may end with `_`, and
/// its tables (`abc____tbl`) were not recognised as family tables, so the sandbox refused the
/// ledger's own statements for them and the reflector halted.
#[test]
fn a_family_ending_with_an_underscore_is_a_family() {
    let (_dir, mut ldb) = setup();
    ldb.apply(&[
        entry(
            1,
            r#"CREATE TABLE abc____tbl ("id" INTEGER, PRIMARY KEY("id"));"#,
        ),
        entry(2, r#"REPLACE INTO abc____tbl ("id") VALUES(1)"#),
        entry(
            3,
            r#"ALTER TABLE abc____tbl ADD COLUMN "name" VARCHAR(191)"#,
        ),
        entry(4, r#"DELETE FROM abc____tbl WHERE "id" = 1"#),
        entry(5, "DROP TABLE IF EXISTS abc____tbl"),
    ])
    .expect("the ledger's statements for family abc_, table tbl");
    assert_eq!(ldb.seq(), 5);
}

#[test]
fn the_wal_is_checkpointed_past_its_threshold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = LdbOptions {
        wal_checkpoint_threshold: 64 * 1024,
        wal_checkpoint_mode: ctlstore_ldb::CheckpointMode::Truncate,
        ..Default::default()
    };
    let mut ldb = Ldb::open(dir.path().join("ldb.db"), options).expect("open");
    ldb.apply(&[entry(1, CREATE)]).expect("create");
    let big = "x".repeat(150);
    let mut seq = 1;
    for i in 0..2000 {
        seq += 1;
        ldb.apply(&[entry(
            seq,
            &format!(r#"REPLACE INTO family1___table1 ("field1","field2") VALUES({i},'{big}')"#),
        )])
        .expect("apply");
    }
    let wal = std::fs::metadata(ctlstore_ldb::wal_path(ldb.path()))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        wal < 4 * 64 * 1024,
        "WAL kept near its threshold, is {wal} bytes"
    );
}

#[test]
fn the_changelog_records_every_changed_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("changelog");
    let options = LdbOptions {
        changelog: Some((log.clone(), 1 << 20)),
        ..Default::default()
    };
    let mut ldb = Ldb::open(dir.path().join("ldb.db"), options).expect("open");
    ldb.apply(&[
        entry(
            1,
            "CREATE TABLE family1___table1234 (field1 INTEGER PRIMARY KEY, field2 VARCHAR);",
        ),
        entry(2, "INSERT INTO family1___table1234 VALUES (1234, 'x')"),
        entry(3, "--- BEGIN"),
        entry(4, "REPLACE INTO family1___table1234 VALUES (1234, 'y')"),
        entry(5, "DELETE FROM family1___table1234 WHERE field1 = 1234"),
        entry(6, "--- COMMIT"),
        entry(
            7,
            r#"CREATE TABLE family1___blobs ("k" BLOB(255), PRIMARY KEY("k"));"#,
        ),
        entry(
            8,
            r#"REPLACE INTO family1___blobs ("k") VALUES(x'deadbeef')"#,
        ),
    ])
    .expect("apply");
    let text = std::fs::read_to_string(&log).expect("changelog");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"seq":1,"family":"family1","table":"table1234","key":[{"name":"field1","type":"INTEGER","value":1234}]}"#
    );
    assert_eq!(
        lines.len(),
        5,
        "insert; replace = delete + insert; delete; blob insert: {text}"
    );
    assert!(
        lines[4].contains(r#""type":"BLOB(255)","value":"3q2+7w=="#),
        "{}",
        lines[4]
    );
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| l.starts_with(&format!("{{\"seq\":{},", i + 1)))
    );
}

#[test]
fn we_carry_on_from_an_ldb_written_by_ctlstore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    {
        // What ctlstore's reflector leaves behind: its DDL, its seq, go-sqlite3's timestamp.
        let c = Connection::open(&path).expect("create");
        c.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE _ldb_seq (id INTEGER PRIMARY KEY NOT NULL, seq BIGINT NOT NULL);
             CREATE TABLE _ldb_last_update (name STRING PRIMARY KEY NOT NULL, timestamp DATETIME NOT NULL);
             INSERT INTO _ldb_seq VALUES (1, 41);
             INSERT INTO _ldb_last_update VALUES ('ledger', '2024-02-07 14:04:32.123456789-08:00');
             CREATE TABLE family1___table1 (field1 INTEGER PRIMARY KEY, field2 VARCHAR);
             INSERT INTO family1___table1 VALUES (1, 'from ctlstore');",
        )
        .expect("ctlstore's LDB");
    }
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open ctlstore's LDB");
    assert_eq!(ldb.seq(), 41);
    assert!(matches!(
        ldb.apply(&[entry(41, "DELETE FROM family1___table1")]),
        Err(LdbError::Replay { .. })
    ));
    ldb.apply(&[entry(
        42,
        "REPLACE INTO family1___table1 VALUES (2, 'from us')",
    )])
    .expect("carry on");
    let c = reader(&ldb);
    assert_eq!(count(&c, "family1___table1"), 2);
    assert_eq!(seq_of(&c), 42);
}
