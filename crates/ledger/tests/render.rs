//! Rendering: ctlstore's exact text, and property tests that every value survives
//! render -> execute on SQLite -> read back.

use ctlstore_ledger::{add_column, clear_table, create_table, delete_row, drop_table, upsert_row};
use ctlstore_schema::{Dialect, Table, Value};
use proptest::prelude::*;
use rusqlite::types::ValueRef;

fn table(family: &str, name: &str, fields: &[(&str, &str)], keys: &[&str]) -> Table {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    Table::from_wire(family, name, &fields, &keys).expect("valid table")
}

#[test]
fn ctlstore_ddl_text() {
    let t = table(
        "family1",
        "table1",
        &[
            ("field1", "string"),
            ("field2", "integer"),
            ("field3", "decimal"),
        ],
        &["field1"],
    );
    assert_eq!(
        create_table(&t, Dialect::Sqlite),
        r#"CREATE TABLE family1___table1 ("field1" VARCHAR(191), "field2" INTEGER, "field3" REAL, PRIMARY KEY("field1"));"#
    );
    assert_eq!(
        create_table(&t, Dialect::Mysql),
        r#"CREATE TABLE family1___table1 ("field1" VARCHAR(191), "field2" BIGINT, "field3" DOUBLE, PRIMARY KEY("field1"));"#
    );
    assert_eq!(
        create_table(&t, Dialect::Postgres),
        r#"CREATE TABLE "family1___table1" ("field1" VARCHAR(191), "field2" BIGINT, "field3" DOUBLE PRECISION, PRIMARY KEY("field1"))"#
    );
    let f2 = &t.fields[1];
    assert_eq!(
        add_column("family1___table1", f2, Dialect::Sqlite),
        r#"ALTER TABLE family1___table1 ADD COLUMN "field2" INTEGER"#
    );
    assert_eq!(
        drop_table("family1___table1", Dialect::Sqlite),
        "DROP TABLE IF EXISTS family1___table1"
    );
    assert_eq!(
        clear_table("family1___table1", Dialect::Sqlite),
        "DELETE FROM family1___table1"
    );
}

#[test]
fn ctlstore_dml_text() {
    let t = table(
        "family1",
        "table1",
        &[
            ("field1", "integer"),
            ("field2", "string"),
            ("field3", "integer"),
        ],
        &["field1"],
    );
    let row = |v: Value| vec![Value::Integer(1), v, Value::Integer(10)];
    assert_eq!(
        upsert_row(&t, &row(Value::Text("bar".into()))),
        r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES(1,'bar',10)"#
    );
    assert_eq!(
        upsert_row(&t, &row(Value::Text("𨅝".into()))),
        r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES(1,'𨅝',10)"#
    );
    assert_eq!(
        upsert_row(&t, &row(Value::Null)),
        r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES(1,NULL,10)"#
    );
    assert_eq!(
        upsert_row(
            &t,
            &[
                Value::Integer(1),
                Value::Text("a\0b".into()),
                Value::Integer(42)
            ]
        ),
        r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES(1,x'610062',42)"#
    );
    assert_eq!(
        delete_row(&t, &[Value::Integer(1)]),
        r#"DELETE FROM family1___table1 WHERE "field1" = 1"#
    );
    let t2 = table(
        "family1",
        "table1",
        &[("field1", "string"), ("field2", "bytestring")],
        &["field1", "field2"],
    );
    assert_eq!(
        delete_row(
            &t2,
            &[Value::Text("hello".into()), Value::Bytes(vec![1, 2, 3])]
        ),
        r#"DELETE FROM family1___table1 WHERE "field1" = 'hello' AND "field2" = x'010203'"#
    );
}

/// A table with one column of every type, created in an in-memory SQLite database by the very
/// DDL text the ledger carries.
fn all_types() -> (Table, rusqlite::Connection) {
    let t = table(
        "fam",
        "all_types",
        &[
            ("k", "integer"),
            ("s", "string"),
            ("t", "text"),
            ("b", "binary"),
            ("bs", "bytestring"),
            ("d", "decimal"),
        ],
        &["k"],
    );
    let conn = rusqlite::Connection::open_in_memory().expect("open sqlite");
    conn.execute_batch(&create_table(&t, Dialect::Sqlite))
        .expect("ledger DDL runs on SQLite");
    (t, conn)
}

/// What SQLite holds in a column, as bytes / numbers, to compare exactly.
#[derive(Debug, PartialEq)]
enum Stored {
    Null,
    Int(i64),
    Real(f64),
    Bytes(Vec<u8>),
}

fn read_back(conn: &rusqlite::Connection, column: &str, key: i64) -> Stored {
    let sql = format!(r#"SELECT "{column}" FROM fam___all_types WHERE "k" = ?"#);
    conn.query_row(&sql, [key], |r| {
        Ok(match r.get_ref(0)? {
            ValueRef::Null => Stored::Null,
            ValueRef::Integer(i) => Stored::Int(i),
            ValueRef::Real(f) => Stored::Real(f),
            ValueRef::Text(t) | ValueRef::Blob(t) => Stored::Bytes(t.to_vec()),
        })
    })
    .expect("row is there")
}

fn expected(v: &Value) -> Stored {
    match v {
        Value::Null => Stored::Null,
        Value::Integer(i) => Stored::Int(*i),
        Value::Real(f) => Stored::Real(*f),
        Value::Text(s) => Stored::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => Stored::Bytes(b.clone()),
    }
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(f64::from_bits(1)), // smallest subnormal
        Just(-0.0),
        Just(1.9948460875175132e282), // SQLite misreads its shortest decimal form
        -1e6f64..1e6,
        Just(0.1),
        Just(1e21),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn every_value_round_trips_through_sqlite(
        key in any::<i64>(),
        s in "\\PC{0,40}",
        t in any::<String>(),
        b in proptest::collection::vec(any::<u8>(), 0..300),
        bs in proptest::collection::vec(any::<u8>(), 0..255),
        d in finite_f64(),
    ) {
        let (table, conn) = all_types();
        let row = vec![
            Value::Integer(key),
            Value::Text(s.clone()),
            Value::Text(t.clone()),
            Value::Bytes(b.clone()),
            Value::Bytes(bs.clone()),
            Value::Real(d),
        ];
        let sql = upsert_row(&table, &row);
        conn.execute(&sql, []).map_err(|e| TestCaseError::fail(format!("{e}: {sql}")))?;
        for (field, value) in table.fields.iter().zip(&row) {
            let stored = read_back(&conn, field.name.as_str(), key);
            match (&stored, expected(value)) {
                // Bit-exact for every double; SQLite keeps no sign on a zero in a REAL column.
                (Stored::Real(got), Stored::Real(0.0)) => prop_assert_eq!(*got, 0.0),
                (Stored::Real(got), Stored::Real(want)) => {
                    prop_assert_eq!(got.to_bits(), want.to_bits(), "{} vs {}: {}", got, want, sql)
                }
                (_, want) => prop_assert_eq!(stored, want, "{}", sql),
            }
        }
        // A second upsert replaces, and a delete by the rendered key removes the row.
        conn.execute(&upsert_row(&table, &row), []).expect("replace");
        let deleted = conn.execute(&delete_row(&table, &[Value::Integer(key)]), []).expect("delete");
        prop_assert_eq!(deleted, 1);
    }

    #[test]
    fn string_keys_with_quotes_and_nul_delete_exactly(s in "[a'\\x00\"é𨅝\\\\]{1,12}") {
        let t = table("fam", "strkeys", &[("k", "string"), ("v", "integer")], &["k"]);
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(&create_table(&t, Dialect::Sqlite)).expect("ddl");
        let key = Value::Text(s.clone());
        conn.execute(&upsert_row(&t, &[key.clone(), Value::Integer(1)]), []).expect("upsert");
        conn.execute(&upsert_row(&t, &[Value::Text(format!("{s}x")), Value::Integer(2)]), []).expect("other");
        let deleted = conn.execute(&delete_row(&t, &[key]), []).expect("delete");
        prop_assert_eq!(deleted, 1);
        let left: i64 = conn.query_row("SELECT count(*) FROM fam___strkeys", [], |r| r.get(0)).expect("count");
        prop_assert_eq!(left, 1);
    }
}

#[test]
fn invalid_utf8_never_reaches_a_statement() {
    let err = Value::text_from_bytes("s", vec![b'a', 0xc3]).expect_err("invalid utf-8");
    assert_eq!(err.to_string(), "field 's' is not valid UTF-8");
}
