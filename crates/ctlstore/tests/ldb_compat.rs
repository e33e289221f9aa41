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

/// An LDB as ctlstore's reflector leaves it (its DDL, go-sqlite3's timestamp layout with
/// nanoseconds and a zone, ctlstore's column types), served by our reader, sidecar and
/// `ldb-read-key`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ldb_written_by_ctlstore_is_served_by_reader_sidecar_and_ldb_read_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    {
        let c = rusqlite::Connection::open(&path).expect("create");
        c.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS _ldb_seq (id INTEGER PRIMARY KEY NOT NULL, seq BIGINT NOT NULL);
             CREATE TABLE IF NOT EXISTS _ldb_last_update (name STRING PRIMARY KEY NOT NULL, timestamp DATETIME NOT NULL);
             CREATE TABLE family1___table1 (\"field1\" VARCHAR(191), \"field2\" BLOB(255), \"field3\" INTEGER, \"field4\" REAL, \"field5\" TEXT, \"field6\" BLOB, PRIMARY KEY(\"field1\",\"field2\"));
             REPLACE INTO family1___table1 (\"field1\",\"field2\",\"field3\",\"field4\",\"field5\",\"field6\") VALUES('hello',x'010203',123,1.5,x'610062',x'deadbeef');
             INSERT INTO _ldb_seq VALUES (1, 42);",
        )
        .expect("ctlstore's LDB");
        // go-sqlite3 binds a time.Time in this layout (local zone, nanoseconds).
        let local = std::time::SystemTime::now() - std::time::Duration::from_secs(3600 * 8);
        let utc = ctlstore_ldb_layout::format_timestamp(local);
        let ts = format!("{}.123456789-08:00", utc.trim_end_matches("+00:00"));
        c.execute("INSERT INTO _ldb_last_update VALUES ('ledger', ?1)", [&ts])
            .expect("timestamp");
    }
    let reader = ctlstore_reader::Reader::open(&path).expect("reader");
    let key = [
        ctlstore_reader::Key::from("hello"),
        ctlstore_reader::Key::from(vec![1u8, 2, 3]),
    ];
    let row = reader
        .get_row("family1", "table1", &key)
        .expect("read")
        .expect("found");
    assert_eq!(
        row.get("field3"),
        Some(&ctlstore_reader::Value::Integer(123))
    );
    assert_eq!(reader.last_sequence().expect("seq"), 42);
    let latency = reader
        .ledger_latency()
        .expect("latency from go-sqlite3's layout");
    assert!(latency < std::time::Duration::from_secs(60), "{latency:?}");

    let p = path.to_str().expect("utf-8");
    let out = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args([
            "ldb-read-key",
            "-ldb-path",
            p,
            "-family",
            "family1",
            "-table",
            "table1",
            "-key-json",
            r#"["hello", {"binary": "AQID"}]"#,
        ])
        .output()
        .expect("ldb-read-key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        printed["field5"], "a\u{0}b",
        "ctlstore's NUL string, stored as a blob, reads back as text"
    );
    assert_eq!(printed["field6"], "3q2+7w==");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut sidecar = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args([
            "sidecar",
            "-bind-addr",
            &format!("127.0.0.1:{port}"),
            "-ldb-path",
            p,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sidecar");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/get-row-by-key/family1/table1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        if let Ok(r) = client
            .post(&url)
            .json(&serde_json::json!({"key": [{"value": "hello"}, {"binary": "AQID"}]}))
            .send()
            .await
            && r.status().is_success()
        {
            break r.json::<serde_json::Value>().await.expect("json");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(body["field1"], "hello");
    assert_eq!(body["field2"], "AQID");
    assert_eq!(body["field4"], 1.5);
    let _ = sidecar.kill();
    let _ = sidecar.wait();
}
