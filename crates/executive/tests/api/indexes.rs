//! Secondary indexes (issue 18): create, list and drop them on every backend; the ledger gets
//! exactly the SQLite statements; a unique index refuses a duplicate with a 409 and nothing of
//! the refused batch lands; bad definitions are 4xx naming the field.

use ctlstore_testkit::{
    Backend, SchemaDef, TableDef, TestDb, TestExecutive, WriterClient, backend_tests,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::assert_error;

backend_tests!(
    indexes_are_created_listed_and_dropped,
    unique_indexes_refuse_duplicates
);

const USERS: TableDef = TableDef {
    name: "users",
    fields: &[
        ("id", "integer"),
        ("email", "string"),
        ("grp", "integer"),
        ("bio", "text"),
    ],
    keys: &["id"],
};

const PATH: &str = "/families/fam/tables/users/indexes";

/// An executive on a new database with `fam.users` and the writer `writer1`.
async fn start(backend: Backend) -> (TestDb, TestExecutive, WriterClient) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let writer = s
        .register(&SchemaDef {
            family: "fam",
            tables: &[USERS],
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    (db, s, writer)
}

async fn indexes_are_created_listed_and_dropped(backend: Backend) {
    let (db, s, _writer) = start(backend).await;
    let head = s.head().await;
    let create = |body: Value| s.call(Method::POST, PATH, Some(body));
    assert_eq!(
        create(json!({"name": "by_email", "fields": ["email"], "unique": true}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        create(json!({"name": "By_Grp", "fields": ["grp", "email"]}))
            .await
            .0,
        StatusCode::OK,
        "names are lower-cased like table names; unique defaults to false"
    );
    let (status, list) = s.call(Method::GET, PATH, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list,
        json!({"family": "fam", "table": "users", "indexes": [
            {"name": "by_email", "fields": ["email"], "unique": true},
            {"name": "by_grp", "fields": ["grp", "email"], "unique": false},
        ]})
    );
    assert_eq!(
        s.statements(head).await,
        [
            r#"CREATE UNIQUE INDEX fam___users___by_email ON fam___users ("email")"#,
            r#"CREATE INDEX fam___users___by_grp ON fam___users ("grp","email")"#,
        ]
    );
    for (body, status, field, label) in [
        (
            json!({"name": "by_email", "fields": ["grp"]}),
            StatusCode::CONFLICT,
            "index",
            "twice",
        ),
        (
            json!({"name": "by__x", "fields": ["grp"]}),
            StatusCode::BAD_REQUEST,
            "name",
            "bad name",
        ),
        (
            json!({"name": "ab", "fields": ["grp"]}),
            StatusCode::BAD_REQUEST,
            "name",
            "short name",
        ),
        (
            json!({"name": "by_x", "fields": []}),
            StatusCode::BAD_REQUEST,
            "fields",
            "no fields",
        ),
        (
            json!({"name": "by_x", "fields": ["nope"]}),
            StatusCode::BAD_REQUEST,
            "nope",
            "unknown field",
        ),
        (
            json!({"name": "by_x", "fields": ["grp", "grp"]}),
            StatusCode::BAD_REQUEST,
            "grp",
            "repeated field",
        ),
        (
            json!({"name": "by_x", "fields": ["bio"]}),
            StatusCode::BAD_REQUEST,
            "bio",
            "a text field",
        ),
        (
            json!({"name": "x".repeat(50), "fields": ["grp"]}),
            StatusCode::BAD_REQUEST,
            "name",
            "SQL name over 63",
        ),
    ] {
        assert_error(&create(body).await, status, Some(field), label);
    }
    assert_error(
        &s.call(
            Method::POST,
            PATH,
            Some(json!({"name": "by_x", "fields": ["grp"], "extra": 1})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        None,
        "unknown body field",
    );
    assert_error(
        &s.call(
            Method::POST,
            "/families/fam/tables/nope/indexes",
            Some(json!({"name": "by_x", "fields": ["grp"]})),
        )
        .await,
        StatusCode::NOT_FOUND,
        Some("table"),
        "no such table",
    );
    assert_error(
        &s.call(Method::GET, "/families/fam/tables/nope/indexes", None)
            .await,
        StatusCode::NOT_FOUND,
        Some("table"),
        "list of no such table",
    );
    let after_create = s.head().await;
    assert_eq!(
        s.call(Method::DELETE, &format!("{PATH}/by_grp"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &s.call(Method::DELETE, &format!("{PATH}/by_grp"), None)
            .await,
        StatusCode::NOT_FOUND,
        Some("index"),
        "drop twice",
    );
    assert_eq!(
        s.statements(after_create).await,
        ["DROP INDEX IF EXISTS fam___users___by_grp"]
    );
    let (_, list) = s.call(Method::GET, PATH, None).await;
    assert_eq!(list["indexes"].as_array().map(Vec::len), Some(1), "{list}");
    // Admin routes: the token guards them when one is set (tested for every admin route in
    // schema.rs); here, that an index survives a restart of the executive (the catalog is the
    // truth, nothing is cached).
    s.stop().await;
    let s = TestExecutive::start(&db.url).await;
    let (_, list) = s.call(Method::GET, PATH, None).await;
    assert_eq!(list["indexes"][0]["name"], "by_email");
    s.stop().await;
    db.cleanup().await;
}

async fn unique_indexes_refuse_duplicates(backend: Backend) {
    let (db, s, writer) = start(backend).await;
    let user = |id: i64, email: &str| json!({"table": "users", "values": {"id": id, "email": email, "grp": 1, "bio": "x"}});
    writer
        .mutate_ok(
            "fam",
            &json!({"mutations": [user(1, "a@x"), user(2, "a@x")]}),
        )
        .await;
    // The rows already break it: refused, nothing in the ledger.
    let head = s.head().await;
    assert_error(
        &s.call(
            Method::POST,
            PATH,
            Some(json!({"name": "by_email", "fields": ["email"], "unique": true})),
        )
        .await,
        StatusCode::CONFLICT,
        None,
        "unique index over duplicates",
    );
    assert_eq!(s.head().await, head, "nothing appended");
    writer
        .mutate_ok("fam", &json!({"mutations": [user(2, "b@x")]}))
        .await;
    assert_eq!(
        s.call(
            Method::POST,
            PATH,
            Some(json!({"name": "by_email", "fields": ["email"], "unique": true}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let head = s.head().await;
    // A write that would give two rows one email: 409, and nothing of its batch lands.
    let (status, body) = writer
        .mutate(
            "fam",
            &json!({"mutations": [user(3, "c@x"), user(4, "a@x")]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["field"], "email", "{body}");
    assert_eq!(
        s.head().await,
        head,
        "nothing of the refused batch in the ledger"
    );
    let (_, rows) = s
        .call(Method::GET, "/families/fam/tables/users/rows", None)
        .await;
    let ids: Vec<i64> = rows["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(ids, [1, 2], "row 1 kept, row 3 not written: {rows}");
    // Upserting a row with its own email, or moving emails in a valid order, is fine.
    writer
        .mutate_ok(
            "fam",
            &json!({"mutations": [user(1, "a@x"), user(2, "d@x"), user(1, "b@x")]}),
        )
        .await;
    s.stop().await;
    db.cleanup().await;
}
