//! Mutation JSON: a row's values as a writer sends them (`{"values": {...}}`), validated by
//! `Table::upsert_row` / `Table::delete_key` against a fixed table with a field of every type,
//! then rendered into ledger text and executed on SQLite.
//!
//! Invariants:
//! - an accepted row has every column, in column order, each value of its column's type and
//!   within ctlstore's size limits, and no NULL key;
//! - a row accepted for an upsert is accepted for a delete, and the delete key is the upsert
//!   row's key columns;
//! - re-encoding the accepted values as JSON (bytes as base64) is accepted again as the same
//!   values (validation is idempotent);
//! - the rendered `REPLACE INTO` runs on SQLite and every value stored with ctlstore's plain
//!   spelling reads back exactly (reals bit for bit, except the sign of zero); the rendered
//!   `DELETE` removes exactly that row.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ctlstore_schema::limits::{MAX_BYTESTRING_BYTES, MAX_FIELD_VALUE_BYTES, MAX_STRING_CHARS};
use ctlstore_schema::{Dialect, FieldType, FieldValue, Spelling, Table, Value};
use libfuzzer_sys::fuzz_target;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value as Json};

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let fields: Vec<(String, String)> = [
            ("id", "integer"),
            ("name", "string"),
            ("tag", "bytestring"),
            ("score", "decimal"),
            ("body", "text"),
            ("data", "binary"),
        ]
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
        let keys = ["id", "name", "tag"].map(String::from);
        Table::from_wire("fam", "every_type", &fields, &keys).expect("the fixed table is valid")
    })
}

/// The type a stored value must have in a column of `field_type`.
fn fits(value: &Value, field_type: FieldType) -> bool {
    match (value, field_type) {
        (Value::Null, _) => true,
        (Value::Integer(_), FieldType::Integer) => true,
        (Value::Real(f), FieldType::Decimal) => f.is_finite(),
        (Value::Text(_), FieldType::String | FieldType::Text) => true,
        (Value::Bytes(_), FieldType::Binary | FieldType::Bytestring) => true,
        _ => false,
    }
}

fn within_limits(value: &Value, field_type: FieldType) -> bool {
    match value {
        Value::Text(s) if field_type == FieldType::String => s.chars().count() <= MAX_STRING_CHARS,
        Value::Bytes(b) if field_type == FieldType::Bytestring => b.len() <= MAX_BYTESTRING_BYTES,
        Value::Text(s) => s.len() <= MAX_FIELD_VALUE_BYTES,
        Value::Bytes(b) => b.len() <= MAX_FIELD_VALUE_BYTES,
        _ => true,
    }
}

/// ctlstore's spellings: a JSON number for a text column, a boolean for a text or number column.
fn spelling_allowed(spelling: Spelling, field_type: FieldType) -> bool {
    match spelling {
        Spelling::Stored => true,
        Spelling::Number(f) => {
            f.is_finite() && matches!(field_type, FieldType::String | FieldType::Text)
        }
        Spelling::Bool(_) => matches!(
            field_type,
            FieldType::String | FieldType::Text | FieldType::Integer | FieldType::Decimal
        ),
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Integer(i) => Json::from(*i),
        Value::Real(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
    }
}

fn db() -> &'static std::sync::Mutex<rusqlite::Connection> {
    static DB: OnceLock<std::sync::Mutex<rusqlite::Connection>> = OnceLock::new();
    DB.get_or_init(|| {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
        conn.execute_batch(&ctlstore_ledger::create_table(table(), Dialect::Sqlite))
            .expect("the ledger's DDL runs on SQLite");
        std::sync::Mutex::new(conn)
    })
}

fn check_sqlite(t: &Table, row: &[FieldValue], key: &[FieldValue]) {
    let conn = db().lock().expect("db lock");
    conn.execute_batch("DELETE FROM fam___every_type")
        .expect("empty the table");
    let upsert = ctlstore_ledger::upsert_row(t, row);
    conn.execute_batch(&upsert)
        .unwrap_or_else(|e| panic!("rendered upsert fails on SQLite: {e}: {upsert}"));
    let columns: Vec<String> = t
        .fields
        .iter()
        .map(|f| format!("\"{}\"", f.name.as_str()))
        .collect();
    let select = format!("SELECT {} FROM fam___every_type", columns.join(","));
    let mut stmt = conn.prepare(&select).expect("select");
    let mut rows = stmt.query([]).expect("query");
    let stored = rows
        .next()
        .expect("step")
        .expect("the upserted row is there");
    for (i, (field, fv)) in t.fields.iter().zip(row).enumerate() {
        if fv.spelling != Spelling::Stored {
            continue; // written as ctlstore spells it; the column's affinity decides
        }
        let got = stored.get_ref(i).expect("column");
        let same = match (&fv.value, got) {
            (Value::Null, ValueRef::Null) => true,
            (Value::Integer(a), ValueRef::Integer(b)) => *a == b,
            (Value::Real(a), ValueRef::Real(b)) if *a == 0.0 => b == 0.0,
            (Value::Real(a), ValueRef::Real(b)) => a.to_bits() == b.to_bits(),
            (Value::Text(a), ValueRef::Text(b)) => a.as_bytes() == b,
            // A text containing NUL is written as a hex blob.
            (Value::Text(a), ValueRef::Blob(b)) => a.contains('\0') && a.as_bytes() == b,
            (Value::Bytes(a), ValueRef::Blob(b)) => a == b,
            _ => false,
        };
        assert!(
            same,
            "column {} stored {got:?} for {:?}: {upsert}",
            field.name.as_str(),
            fv.value
        );
    }
    drop(rows);
    drop(stmt);
    let delete = ctlstore_ledger::delete_row(t, key);
    let deleted = conn
        .execute(&delete, [])
        .unwrap_or_else(|e| panic!("rendered delete fails on SQLite: {e}: {delete}"));
    assert_eq!(deleted, 1, "the delete key must find the row: {delete}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    // The mutation form (`{"table": .., "values": {..}}`) or bare values.
    let values: &Map<String, Json> = match json.get("values").and_then(Json::as_object) {
        Some(v) => v,
        None => match json.as_object() {
            Some(v) => v,
            None => return,
        },
    };
    let t = table();
    let upsert = t.upsert_row(values);
    let delete = t.delete_key(values);
    let Ok(row) = upsert else {
        if let Err(e) = &upsert {
            assert!(!e.to_string().is_empty());
        }
        return;
    };
    assert_eq!(row.len(), t.fields.len(), "a row has every column");
    for (field, fv) in t.fields.iter().zip(&row) {
        let ty = field.field_type;
        assert!(fits(&fv.value, ty), "{:?} in a {ty} column", fv.value);
        assert!(within_limits(&fv.value, ty), "over the limit in {ty}");
        assert!(
            spelling_allowed(fv.spelling, ty),
            "{:?} for {ty}",
            fv.spelling
        );
        if t.is_key(&field.name) {
            assert!(!fv.value.is_null(), "NULL key {}", field.name.as_str());
        }
    }
    let key = delete.expect("a row accepted for an upsert is accepted for a delete");
    let expected_key: Vec<&FieldValue> = t
        .key_fields
        .iter()
        .map(|k| {
            let i = t.fields.iter().position(|f| &f.name == k).expect("key");
            &row[i]
        })
        .collect();
    assert_eq!(key.iter().collect::<Vec<_>>(), expected_key);

    // Idempotent: the accepted values, re-encoded, are accepted as the same values.
    let again: Map<String, Json> = t
        .fields
        .iter()
        .zip(&row)
        .map(|(f, fv)| (f.name.as_str().to_string(), to_json(&fv.value)))
        .collect();
    let row2 = t
        .upsert_row(&again)
        .unwrap_or_else(|e| panic!("re-encoded row refused: {e}: {again:?}"));
    let v1: Vec<&Value> = row.iter().map(|f| &f.value).collect();
    let v2: Vec<&Value> = row2.iter().map(|f| &f.value).collect();
    assert_eq!(v1, v2, "validation is idempotent");

    check_sqlite(t, &row, &key);
});
