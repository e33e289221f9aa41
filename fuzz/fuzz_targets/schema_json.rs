//! Schema JSON: a table definition as the executive receives it (`POST /tables` entries:
//! `{"family", "name", "fields": [[name, type], ...], "keyFields": [...]}`), unzipped the way
//! `crates/executive/src/routes/schema_admin.rs` unzips it (its body type is private to the
//! executive, so the few lines of unzipping are repeated here) and validated by the schema
//! crate's `Table::from_wire`, which is where every name and type rule lives.
//!
//! Invariants:
//! - an accepted table has valid, lower-case names; at least one key; keys are fields of a key
//!   type; no duplicate fields or keys;
//! - its JSON form (ctlstore's) parses back to the same table, and `family___table` splits back
//!   into the same family and table;
//! - the ledger's `CREATE TABLE` for it runs on SQLite, and SQLite's catalog gives back every
//!   field's type and the primary key, in order;
//! - name validation is idempotent (an accepted name is accepted again unchanged).
#![no_main]

use ctlstore_schema::{
    Dialect, FamilyName, FieldName, FieldType, Table, TableName, parse_ldb_table_name,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

/// `Some(pairs)` when every field is a `[name, type]` pair of strings (the executive answers 400
/// otherwise).
fn field_pairs(fields: &[Json]) -> Option<Vec<(String, String)>> {
    fields
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Json::String(name), Json::String(kind)]) => Some((name.clone(), kind.clone())),
            _ => None,
        })
        .collect()
}

fn strings(v: Option<&Json>) -> Option<Vec<String>> {
    match v {
        None | Some(Json::Null) => Some(Vec::new()),
        Some(Json::Array(a)) => a.iter().map(|s| s.as_str().map(String::from)).collect(),
        Some(_) => None,
    }
}

fn valid_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_names(raw: &str) {
    if let Ok(f) = FamilyName::new(raw) {
        assert!(valid_identifier(f.as_str()) && !f.as_str().contains("__"));
        assert!((3..=30).contains(&f.as_str().len()));
        assert_eq!(f.as_str(), raw.to_lowercase());
        assert_eq!(FamilyName::new(f.as_str()).as_ref(), Ok(&f));
    }
    if let Ok(t) = TableName::new(raw) {
        assert!(valid_identifier(t.as_str()) && !t.as_str().contains("__"));
        assert!((3..=50).contains(&t.as_str().len()));
        assert_eq!(TableName::new(t.as_str()).as_ref(), Ok(&t));
    }
    if let Ok(f) = FieldName::new(raw) {
        assert!(valid_identifier(f.as_str()));
        assert!((1..=64).contains(&f.as_str().len()));
        assert_eq!(FieldName::new(f.as_str()).as_ref(), Ok(&f));
    }
}

fn check_table(t: &Table) {
    assert!(!t.key_fields.is_empty(), "a table has a key");
    for (i, f) in t.fields.iter().enumerate() {
        assert!(valid_identifier(f.name.as_str()));
        assert!(
            t.fields[..i].iter().all(|g| g.name != f.name),
            "duplicate field"
        );
    }
    for (i, k) in t.key_fields.iter().enumerate() {
        assert!(!t.key_fields[..i].contains(k), "duplicate key");
        let field = t.field(k.as_str()).expect("a key is a field");
        assert!(field.field_type.key_allowed());
    }
    // ctlstore's JSON form parses back to the same table.
    let json = serde_json::to_value(t).expect("serialise");
    let pairs = field_pairs(json["fields"].as_array().expect("fields")).expect("pairs");
    let keys = strings(json.get("keyFields")).expect("keys");
    let again = Table::from_wire(
        json["family"].as_str().expect("family"),
        json["name"].as_str().expect("name"),
        &pairs,
        &keys,
    )
    .expect("the JSON form of an accepted table is accepted");
    assert_eq!(&again, t);
    assert_eq!(
        parse_ldb_table_name(&t.ldb_name()),
        Some((t.family.clone(), t.name.clone()))
    );
    check_on_sqlite(t);
}

fn check_on_sqlite(t: &Table) {
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    let ddl = ctlstore_ledger::create_table(t, Dialect::Sqlite);
    conn.execute_batch(&ddl)
        .unwrap_or_else(|e| panic!("ledger DDL fails on SQLite: {e}: {ddl}"));
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info(\"{}\")", t.ldb_name()))
        .expect("table_info");
    let columns: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("columns");
    assert_eq!(columns.len(), t.fields.len(), "{ddl}");
    for (field, (name, declared, pk)) in t.fields.iter().zip(&columns) {
        assert_eq!(field.name.as_str(), name);
        assert_eq!(
            FieldType::from_catalog_type(declared),
            Some(field.field_type),
            "{ddl}"
        );
        let key_pos = t.key_fields.iter().position(|k| k == &field.name);
        assert_eq!(key_pos.map_or(0, |p| p as i64 + 1), *pk, "{ddl}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_names(text);
    }
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    // `POST /tables` takes an array of definitions; `POST /families/f/tables/t` one body.
    let bodies: Vec<&Json> = match &json {
        Json::Array(items) => items.iter().take(8).collect(),
        other => vec![other],
    };
    for body in bodies {
        let family = body.get("family").and_then(Json::as_str).unwrap_or("fam");
        let name = body.get("name").and_then(Json::as_str).unwrap_or("tbl");
        let fields = match body.get("fields") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a.clone(),
            Some(_) => continue,
        };
        let Some(pairs) = field_pairs(&fields) else {
            continue;
        };
        let Some(keys) = strings(body.get("keyFields")) else {
            continue;
        };
        for (n, _) in &pairs {
            check_names(n);
        }
        match Table::from_wire(family, name, &pairs, &keys) {
            Ok(t) => check_table(&t),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
