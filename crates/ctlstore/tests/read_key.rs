//! `ctlstore ldb-read-key` on an LDB with ctlstore's layout.

use std::process::Command;

use ctlstore_testkit::ldb_with;
use serde_json::{Value, json};

/// Runs `ldb-read-key` with ctlstore's single-dash flags (`dashes` = "-") or ours ("--").
fn read_key(dashes: &str, ldb: &str, table: &str, key: &str) -> (i32, String, String) {
    let flag = |name: &str| format!("{dashes}{name}");
    let out = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .arg("ldb-read-key")
        .args([flag("ldb-path").as_str(), ldb, &flag("family"), "fam"])
        .args([flag("table").as_str(), table, &flag("key-json"), key])
        .output()
        .expect("run ctlstore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

#[test]
fn reads_a_row_by_its_key() {
    let (_dir, p) = ldb_with(&[
        r#"CREATE TABLE fam___things ("name" VARCHAR(191), "tag" BLOB(255), "n" INTEGER, PRIMARY KEY("name","tag"));"#,
        r#"REPLACE INTO fam___things ("name","tag","n") VALUES('a',x'deadbeef',7)"#,
    ]);
    let (code, out, _) = read_key("-", &p, "things", r#"["a", {"binary": "3q2+7w=="}]"#);
    assert_eq!(code, 0);
    assert_eq!(
        json_of(&out),
        json!({"name": "a", "tag": "3q2+7w==", "n": 7})
    );
    let (code, _, err) = read_key("--", &p, "things", r#"["b", {"binary": "AA=="}]"#);
    assert_eq!((code, err.trim()), (1, "not found"));
    let (code, _, err) = read_key("--", &p, "things", r#"["a"]"#);
    assert_ne!(code, 0);
    assert!(err.contains("key fields"), "{err}");
    let (code, _, err) = read_key("--", &p, "things", "not json");
    assert_ne!(code, 0);
    assert!(err.contains("--key-json"), "{err}");
}

/// `ldb-read-key` converts keys exactly as the sidecar does (one shared conversion):
/// `1`, `1.0`, `"1"` and `true` reach an integer key; `1.5` is refused.
#[test]
fn keys_are_converted_as_the_sidecar_converts_them() {
    let (_dir, p) = ldb_with(&[
        r#"CREATE TABLE fam___ids ("id" INTEGER, "v" VARCHAR(191), PRIMARY KEY("id"));"#,
        r#"REPLACE INTO fam___ids ("id","v") VALUES(1,'one')"#,
    ]);
    for key in ["[1]", "[1.0]", r#"["1"]"#, "[true]", r#"[{"value": 1.0}]"#] {
        let (code, out, err) = read_key("-", &p, "ids", key);
        assert_eq!(code, 0, "{key}: {err}");
        assert_eq!(json_of(&out), json!({"id": 1, "v": "one"}), "{key}");
    }
    let (code, _, err) = read_key("-", &p, "ids", "[1.5]");
    assert_ne!(code, 0);
    assert!(err.contains("key #0"), "{err}");
}
