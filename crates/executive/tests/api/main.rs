//! The executive over real HTTP on an ephemeral port, against every ctldb backend: every route,
//! and the error paths (each a 4xx with a JSON body naming the problem, and nothing of a refused
//! batch in the ctldb or the ledger). One test binary, one module per group of routes.

mod body_limit;
mod constraints;
mod feed;
mod indexes;
mod limits;
mod mutations;
mod ops;
mod reads;
mod schema;
mod web;
mod writers;

use ctlstore_testkit::{SchemaDef, TableDef, TestExecutive, WriterClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The table most tests write to.
const ITEMS: TableDef = TableDef {
    name: "items",
    fields: &[
        ("id", "integer"),
        ("name", "string"),
        ("data", "binary"),
        ("score", "decimal"),
    ],
    keys: &["id"],
};

/// A family `fam`, the table `fam.items` and a writer `writer1`/`secret1`.
async fn register_items(s: &TestExecutive) -> WriterClient {
    s.register(&SchemaDef {
        family: "fam",
        tables: &[ITEMS],
        writer: "writer1",
        secret: "secret1",
    })
    .await
}

/// An upsert of one `items` row.
fn row(id: i64, name: &str) -> Value {
    json!({"table": "items", "values": {"id": id, "name": name, "data": "3q2+7w==", "score": 0.5}})
}

/// Asserts a refusal: `status`, a non-empty JSON `error` and, when given, the `field` it names.
fn assert_error(got: &(StatusCode, Value), status: StatusCode, field: Option<&str>, label: &str) {
    assert_eq!(got.0, status, "{label}: {}", got.1);
    assert!(
        got.1["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{label}: no JSON error: {}",
        got.1
    );
    if let Some(f) = field {
        assert_eq!(got.1["field"].as_str(), Some(f), "{label}: {}", got.1);
    }
}
