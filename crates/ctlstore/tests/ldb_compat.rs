//! An LDB written by our reflector's apply path, read by the `sqlite3` command-line tool with the
//! queries ctlstore's Go reader issues (spec §7.2): no code of ours on the read side.

use std::process::Command;

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;

fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg("-readonly")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 command-line tool is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn ctlstores_reader_queries_work_on_our_ldb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    let e = |seq: i64, statement: &str| LedgerEntry {
        seq,
        leader_ts: "2026-11-25 10:00:00".into(),
        statement: statement.into(),
    };
    ldb.apply(&[
        e(1, r#"CREATE TABLE fam___items ("id" INTEGER, "name" VARCHAR(191), "data" BLOB, PRIMARY KEY("name","id"));"#),
        e(2, "--- BEGIN"),
        e(3, r#"REPLACE INTO fam___items ("id","name","data") VALUES(1,'a',x'deadbeef')"#),
        e(4, r#"REPLACE INTO fam___items ("id","name","data") VALUES(2,'a',NULL)"#),
        e(5, r#"REPLACE INTO fam___items ("id","name","data") VALUES(1,'b',x'00')"#),
        e(6, "--- COMMIT"),
    ])
    .expect("apply");
    drop(ldb);
    // Key discovery, in PRIMARY KEY declaration order.
    assert_eq!(
        sqlite3(
            &path,
            "SELECT name,type FROM pragma_table_info('fam___items') WHERE pk > 0 ORDER BY pk"
        ),
        "name|VARCHAR(191)\nid|INTEGER\n"
    );
    // Point lookup, as the Go reader builds it (unquoted columns).
    assert_eq!(
        sqlite3(
            &path,
            "SELECT id, name, hex(data) FROM fam___items WHERE name = 'a' AND id = 1"
        ),
        "1|a|DEADBEEF\n"
    );
    // Key-prefix scan with the first key column.
    assert_eq!(
        sqlite3(
            &path,
            "SELECT id FROM fam___items WHERE name = 'a' ORDER BY id"
        ),
        "1\n2\n"
    );
    assert_eq!(
        sqlite3(&path, "SELECT seq FROM _ldb_seq WHERE id = 1"),
        "6\n"
    );
    assert_eq!(
        sqlite3(
            &path,
            "select timestamp from _ldb_last_update where name='ledger'"
        ),
        "2026-11-25 10:00:00+00:00\n"
    );
    assert_eq!(sqlite3(&path, "PRAGMA journal_mode"), "wal\n");
}
