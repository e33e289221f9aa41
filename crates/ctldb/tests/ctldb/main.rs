//! The ctldb suite: every test body runs against SQLite, MariaDB and PostgreSQL. One test
//! binary, one module per concern; the helpers here are shared.

mod errors;
mod limits;
mod mutations;
mod order;
mod retention;
mod retries;
mod scalars;
mod schema;
mod writers;

use std::collections::HashSet;

use ctlstore_ctldb::{
    Ctldb, CtldbError, CtldbOptions, Mutation, MutationRequest, SecretHashScheme, WriterOverride,
};
use ctlstore_ledger::{BEGIN_MARKER, COMMIT_MARKER, LedgerEntry};
use ctlstore_schema::{
    FamilyName, Field, FieldName, FieldType, SchemaError, Table, TableName, Value, WriterName,
    WriterSecret,
};
use ctlstore_testkit::{Backend, TestDb, backend_tests};
use serde_json::{Value as Json, json};

fn family() -> FamilyName {
    FamilyName::new("family1").expect("valid")
}

fn name(t: &str) -> TableName {
    TableName::new(t).expect("valid")
}

fn all_types_table(t: &str) -> Table {
    let fields: Vec<(String, String)> = [
        ("id", "integer"),
        ("name", "string"),
        ("body", "text"),
        ("data", "binary"),
        ("tag", "bytestring"),
        ("score", "decimal"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    Table::from_wire("family1", t, &fields, &["id".into(), "name".into()]).expect("valid table")
}

async fn setup(backend: Backend) -> (TestDb, Ctldb) {
    let db = TestDb::create(backend).await;
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("connect to the ctldb");
    ctldb.create_family(&family()).await.expect("create family");
    (db, ctldb)
}

fn writer() -> WriterName {
    WriterName::new("writer1").expect("valid")
}

async fn register(ctldb: &Ctldb) {
    let secret = WriterSecret::new("secret1").expect("valid");
    ctldb
        .register_writer(&writer(), &secret, SecretHashScheme::Sha256Hex)
        .await
        .expect("register");
}

/// [`setup`], the writer registered, and `table1` (every type) created: most tests' start.
async fn setup_with_table1(backend: Backend) -> (TestDb, Ctldb) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
    (db, ctldb)
}

fn upsert(table: &str, values: Json) -> Mutation {
    Mutation {
        table: table.into(),
        delete: false,
        values: values.as_object().cloned().expect("object"),
    }
}

fn delete(table: &str, values: Json) -> Mutation {
    Mutation {
        table: table.into(),
        delete: true,
        values: values.as_object().cloned().expect("object"),
    }
}

fn request(mutations: Vec<Mutation>) -> MutationRequest {
    MutationRequest {
        family: family(),
        writer: writer(),
        cookie: None,
        check_cookie: None,
        mutations,
        rate_limit: None,
    }
}

async fn whole_ledger(ctldb: &Ctldb) -> Vec<LedgerEntry> {
    ctldb.ledger_after(0, 1_000_000).await.expect("read ledger")
}

/// Applies the ledger's SQLite text to a fresh in-memory SQLite database, the way a reflector
/// would, and returns the rows of `table` ordered by its key. Independent of the ctldb code.
fn replay(ledger: &[LedgerEntry], table: &str, order_by: &str) -> Vec<Vec<Value>> {
    let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
    let mut in_batch = false;
    for entry in ledger {
        match entry.statement.as_str() {
            BEGIN_MARKER => {
                assert!(!in_batch, "nested BEGIN at seq {}", entry.seq);
                conn.execute_batch("BEGIN").expect("begin");
                in_batch = true;
            }
            COMMIT_MARKER => {
                assert!(in_batch, "COMMIT without BEGIN at seq {}", entry.seq);
                conn.execute_batch("COMMIT").expect("commit");
                in_batch = false;
            }
            sql => conn
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("seq {}: {e}: {sql}", entry.seq)),
        }
    }
    assert!(!in_batch, "ledger ends inside a batch");
    ctlstore_testkit::rows_of(&conn, &format!("SELECT * FROM {table} ORDER BY {order_by}"))
}
