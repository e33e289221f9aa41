//! `ctlstore ldb-read-key` on an LDB with ctlstore's layout.

use std::process::Command;

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args(args)
        .output()
        .expect("run ctlstore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reads_a_row_by_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    let e = |seq: i64, s: &str| LedgerEntry {
        seq,
        leader_ts: String::new(),
        statement: s.into(),
    };
    ldb.apply(&[
        e(1, r#"CREATE TABLE fam___things ("name" VARCHAR(191), "tag" BLOB(255), "n" INTEGER, PRIMARY KEY("name","tag"));"#),
        e(2, r#"REPLACE INTO fam___things ("name","tag","n") VALUES('a',x'deadbeef',7)"#),
    ])
    .expect("apply");
    let p = path.to_str().expect("utf-8 path");
    let (code, out, _) = run(&[
        "ldb-read-key",
        "-ldb-path",
        p,
        "-family",
        "fam",
        "-table",
        "things",
        "-key-json",
        r#"["a", {"binary": "3q2+7w=="}]"#,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).expect("json"),
        serde_json::json!({"name": "a", "tag": "3q2+7w==", "n": 7})
    );
    let (code, _, err) = run(&[
        "ldb-read-key",
        "--ldb-path",
        p,
        "--family",
        "fam",
        "--table",
        "things",
        "--key-json",
        r#"["b", {"binary": "AA=="}]"#,
    ]);
    assert_eq!((code, err.trim()), (1, "not found"));
    let (code, _, err) = run(&[
        "ldb-read-key",
        "--ldb-path",
        p,
        "--family",
        "fam",
        "--table",
        "things",
        "--key-json",
        r#"["a"]"#,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("key fields"), "{err}");
    let (code, _, err) = run(&[
        "ldb-read-key",
        "--ldb-path",
        p,
        "--family",
        "fam",
        "--table",
        "things",
        "--key-json",
        "not json",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--key-json"), "{err}");
}
