//! Secondary-index reads (issue 18) against an LDB written by the apply path: on random data,
//! every prefix read through an index returns exactly what a full scan filtered the same way
//! returns, in index order; and the errors name what is wrong.

use std::collections::BTreeMap;

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use ctlstore_reader::{Key, Reader, ReaderError, Value};
use ctlstore_testkit::Lcg;

fn entry(seq: i64, statement: &str) -> LedgerEntry {
    LedgerEntry {
        seq,
        leader_ts: "2026-01-01 00:00:00".into(),
        statement: statement.into(),
    }
}

/// A row: id → (grp, name, tag).
type Rows = BTreeMap<i64, (i64, String, Vec<u8>)>;

fn build(dir: &std::path::Path, rng: &mut Lcg) -> (Ldb, Rows) {
    let mut ldb = Ldb::open(dir.join("ldb.db"), LdbOptions::default()).expect("open");
    let mut statements = vec![
        r#"CREATE TABLE fam___users ("id" INTEGER, "grp" INTEGER, "name" VARCHAR(191), "tag" BLOB(255), "note" TEXT, PRIMARY KEY("id"));"#.to_string(),
        r#"CREATE INDEX fam___users___by_grp_name ON fam___users ("grp","name")"#.to_string(),
        r#"CREATE INDEX fam___users___by_tag ON fam___users ("tag")"#.to_string(),
    ];
    let mut rows = Rows::new();
    // Random upserts and deletes over a small key space, so values repeat and rows go away.
    for _ in 0..3_000 {
        let id = rng.below(400) as i64;
        if rng.below(5) == 0 {
            statements.push(format!(r#"DELETE FROM fam___users WHERE "id" = {id}"#));
            rows.remove(&id);
        } else {
            let grp = rng.below(7) as i64;
            let name = format!("n{}", rng.below(9));
            let tag = vec![rng.below(4) as u8];
            statements.push(format!(
                r#"REPLACE INTO fam___users ("id","grp","name","tag","note") VALUES({id},{grp},'{name}',x'{:02x}','row {id}')"#,
                tag[0]
            ));
            rows.insert(id, (grp, name, tag));
        }
    }
    let entries: Vec<LedgerEntry> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| entry(i as i64 + 1, s))
        .collect();
    ldb.apply(&entries).expect("apply");
    (ldb, rows)
}

fn ids(rows: &[BTreeMap<String, Value>]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r.get("id") {
            Some(Value::Integer(i)) => *i,
            other => panic!("id {other:?}"),
        })
        .collect()
}

#[test]
fn index_reads_equal_a_filtered_full_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Lcg(18);
    let (_ldb, rows) = build(dir.path(), &mut rng);
    let reader = Reader::open(dir.path().join("ldb.db")).expect("reader");
    let mut checked = 0;
    for grp in 0..8 {
        // One value: every row of the group, ordered by (grp, name, id).
        let got = reader
            .rows_by_index_values("fam", "users", "by_grp_name", &[Key::from(grp)])
            .expect("read");
        let mut want: Vec<(&String, i64)> = rows
            .iter()
            .filter(|(_, r)| r.0 == grp)
            .map(|(id, r)| (&r.1, *id))
            .collect();
        want.sort();
        assert_eq!(ids(&got), want.iter().map(|w| w.1).collect::<Vec<_>>());
        checked += got.len();
        for n in 0..10 {
            let name = format!("n{n}");
            let got = reader
                .rows_by_index_values(
                    "fam",
                    "users",
                    "by_grp_name",
                    &[Key::from(grp), Key::from(name.as_str())],
                )
                .expect("read");
            let want: Vec<i64> = rows
                .iter()
                .filter(|(_, r)| r.0 == grp && r.1 == name)
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(ids(&got), want, "grp {grp} name {name}");
        }
    }
    assert_eq!(checked, rows.len(), "every row is in exactly one group");
    for tag in 0..5u8 {
        let got = reader
            .rows_by_index_values("fam", "users", "by_tag", &[Key::from(vec![tag])])
            .expect("read");
        let want: Vec<i64> = rows
            .iter()
            .filter(|(_, r)| r.2 == [tag])
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(ids(&got), want, "tag {tag}");
    }
    // No values: the whole table in index order.
    let all = reader
        .rows_by_index_values("fam", "users", "by_tag", &[])
        .expect("read");
    assert_eq!(all.len(), rows.len());

    #[derive(serde::Deserialize)]
    struct User {
        id: i64,
        name: String,
    }
    let typed: Vec<User> = reader
        .rows_by_index(
            "fam",
            "users",
            "by_grp_name",
            &[Key::from(3), Key::from("n1")],
        )
        .expect("typed read");
    assert!(typed.iter().all(|u| u.name == "n1" && rows[&u.id].0 == 3));
}

#[test]
fn index_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_ldb, _) = build(dir.path(), &mut Lcg(1));
    let reader = Reader::open(dir.path().join("ldb.db")).expect("reader");
    let err = reader
        .rows_by_index_values("fam", "users", "by_nothing", &[])
        .expect_err("no such index");
    assert!(matches!(err, ReaderError::IndexNotFound(_)), "{err}");
    let err = reader
        .rows_by_index_values("fam", "users", "by_tag", &[Key::from(1), Key::from(2)])
        .expect_err("more values than the index has fields");
    assert!(matches!(err, ReaderError::TooManyKeys { .. }), "{err}");
    let err = reader
        .rows_by_index_values("fam", "users", "by_grp_name", &[Key::from("x")])
        .expect_err("a string for an integer field");
    assert!(matches!(err, ReaderError::KeyType { .. }), "{err}");
    let err = reader
        .rows_by_index_values("fam", "users", "bad__name", &[])
        .expect_err("an invalid index name");
    assert!(matches!(err, ReaderError::Name(_)), "{err}");
}
