//! Families, tables, schemas, the destructive routes and the admin token.

use ctlstore_testkit::{Backend, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_error, register_items, row};

backend_tests!(
    families_and_tables,
    destructive_routes,
    admin_token_guards_schema_changes,
);

async fn families_and_tables(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    assert_eq!(
        s.call(Method::POST, "/families/fam", None).await.0,
        StatusCode::OK
    );
    assert_error(
        &s.call(Method::POST, "/families/fam", None).await,
        StatusCode::CONFLICT,
        Some("family"),
        "family twice",
    );
    assert_error(
        &s.call(Method::POST, "/families/a__b", None).await,
        StatusCode::BAD_REQUEST,
        Some("family"),
        "bad family name",
    );
    let def = json!({"fields": [["field1", "string"], ["field2", "integer"], ["field6", "bytestring"]], "keyFields": ["field1", "field6"]});
    assert_eq!(
        s.call(
            Method::POST,
            "/families/fam/tables/table1",
            Some(def.clone())
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_error(
        &s.call(
            Method::POST,
            "/families/fam/tables/table1",
            Some(def.clone()),
        )
        .await,
        StatusCode::CONFLICT,
        Some("table"),
        "table twice",
    );
    assert_error(
        &s.call(
            Method::POST,
            "/families/nofam/tables/table1",
            Some(def.clone()),
        )
        .await,
        StatusCode::NOT_FOUND,
        Some("family"),
        "unknown family",
    );
    let decimal_key = json!({"fields": [["f", "decimal"]], "keyFields": ["f"]});
    assert_error(
        &s.call(
            Method::POST,
            "/families/fam/tables/table2",
            Some(decimal_key),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("f"),
        "decimal key",
    );
    let no_key = json!({"fields": [["f", "string"]], "keyFields": []});
    assert_error(
        &s.call(Method::POST, "/families/fam/tables/table2", Some(no_key))
            .await,
        StatusCode::BAD_REQUEST,
        Some("keyFields"),
        "no key",
    );
    let bad_type = json!({"fields": [["f", "uuid"]], "keyFields": ["f"]});
    assert_error(
        &s.call(Method::POST, "/families/fam/tables/table2", Some(bad_type))
            .await,
        StatusCode::BAD_REQUEST,
        Some("f"),
        "unknown type",
    );
    let malformed = json!({"fields": [["f"]], "keyFields": ["f"]});
    assert_error(
        &s.call(Method::POST, "/families/fam/tables/table2", Some(malformed))
            .await,
        StatusCode::BAD_REQUEST,
        Some("fields"),
        "malformed pair",
    );
    let resp = s
        .request(Method::POST, "/families/fam/tables/table2")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.expect("body").contains("JSON Error"));

    let more = json!({"fields": [["field7", "string"], ["field8", "text"]]});
    assert_eq!(
        s.call(
            Method::PUT,
            "/families/fam/tables/table1",
            Some(more.clone())
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_error(
        &s.call(Method::PUT, "/families/fam/tables/table1", Some(more))
            .await,
        StatusCode::CONFLICT,
        Some("field7"),
        "column twice",
    );
    let (status, schema) = s.call(Method::GET, "/schema/table/fam/table1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        schema,
        json!({"family": "fam", "name": "table1",
               "fields": [["field1", "string"], ["field2", "integer"], ["field6", "bytestring"], ["field7", "string"], ["field8", "text"]],
               "keyFields": ["field1", "field6"]})
    );
    assert_error(
        &s.call(Method::GET, "/schema/table/fam/nosuch", None).await,
        StatusCode::NOT_FOUND,
        Some("table"),
        "schema of a missing table",
    );
    // The family schema is postable to /tables (ctlstore's copy-between-environments).
    let (_, family) = s.call(Method::GET, "/schema/family/fam", None).await;
    assert_eq!(family, json!([schema]));
    assert_eq!(
        s.call(Method::GET, "/schema/family/other", None).await.1,
        Value::Null
    );
    assert_eq!(
        s.call(Method::POST, "/families/other", None).await.0,
        StatusCode::OK
    );
    let mut copy = family.clone();
    copy[0]["family"] = json!("other");
    assert_eq!(
        s.call(Method::POST, "/tables", Some(copy.clone())).await.0,
        StatusCode::OK
    );
    let again = s.call(Method::POST, "/tables", Some(copy)).await;
    assert_error(&again, StatusCode::CONFLICT, None, "tables again");
    assert!(
        again.1["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("creating table for family \"other\" table \"table1\""))
    );
    let ddl: Vec<String> = s
        .ledger(0)
        .await
        .iter()
        .map(|e| e["statement"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ddl.len(), 4, "{ddl:?}");
    assert_eq!(
        ddl[0],
        r#"CREATE TABLE fam___table1 ("field1" VARCHAR(191), "field2" INTEGER, "field6" BLOB(255), PRIMARY KEY("field1","field6"));"#
    );
    s.stop().await;
    db.cleanup().await;
}

async fn destructive_routes(backend: Backend) {
    let db = TestDb::create(backend).await;
    let safe = TestExecutive::start(&db.url).await;
    register_items(&safe).await;
    assert_error(
        &safe
            .call(Method::DELETE, "/families/fam/tables/items", None)
            .await,
        StatusCode::BAD_REQUEST,
        None,
        "drop disabled",
    );
    assert_error(
        &safe
            .call(Method::DELETE, "/clear-rows/families/fam", None)
            .await,
        StatusCode::BAD_REQUEST,
        None,
        "clear disabled",
    );
    safe.stop().await;
    let s =
        TestExecutive::start_with(&db.url, |c| c.enable_destructive_schema_changes = true).await;
    let w = s.writer("writer1", "secret1");
    assert_eq!(
        w.mutate("fam", &json!({"mutations": [row(1, "a")]}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(
            Method::DELETE,
            "/clear-rows/families/fam/tables/items",
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(Method::DELETE, "/clear-rows/families/fam", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &s.call(Method::DELETE, "/clear-rows/families/nofam", None)
            .await,
        StatusCode::NOT_FOUND,
        None,
        "clear unknown family",
    );
    assert_eq!(
        s.call(Method::DELETE, "/families/fam/tables/items", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &s.call(Method::DELETE, "/families/fam/tables/items", None)
            .await,
        StatusCode::NOT_FOUND,
        None,
        "drop twice",
    );
    // ctlstore's text for a missing table on both routes (family and table run together, no
    // `___`: `errs.NotFound("table %q not found", famName+tblName)`).
    for path in [
        "/families/fam/tables/nosuch",
        "/clear-rows/families/fam/tables/nosuch",
    ] {
        let missing = s.call(Method::DELETE, path, None).await;
        assert_error(&missing, StatusCode::NOT_FOUND, Some("table"), path);
        assert_eq!(
            missing.1["error"], r#"table "famnosuch" not found"#,
            "DELETE {path}"
        );
    }
    let tail: Vec<String> = s
        .ledger(0)
        .await
        .iter()
        .rev()
        .take(3)
        .map(|e| e["statement"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        tail,
        [
            "DROP TABLE IF EXISTS fam___items",
            "DELETE FROM fam___items",
            "DELETE FROM fam___items"
        ]
    );
    s.stop().await;
    db.cleanup().await;
}

async fn admin_token_guards_schema_changes(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start_with(&db.url, |c| c.admin_token = Some("t0ken".into())).await;
    assert_error(
        &s.call(Method::POST, "/families/fam", None).await,
        StatusCode::UNAUTHORIZED,
        Some("Authorization"),
        "no token",
    );
    let wrong = s
        .request(Method::POST, "/families/fam")
        .bearer_auth("nope")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = s
        .request(Method::POST, "/families/fam")
        .bearer_auth("t0ken")
        .send()
        .await
        .expect("send");
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        s.call(Method::GET, "/schema/family/fam", None).await.0,
        StatusCode::OK,
        "reads need no token"
    );
    assert_eq!(
        s.call(Method::GET, "/limits/tables", None).await.0,
        StatusCode::OK
    );
    s.stop().await;
    db.cleanup().await;
}
