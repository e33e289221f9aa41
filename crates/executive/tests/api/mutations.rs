//! `POST /families/{family}/mutations`: what reaches the ledger, and what a refusal leaves
//! behind (nothing).

use ctlstore_testkit::{Backend, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_error, register_items, row};

backend_tests!(
    mutations_reach_the_ledger,
    refused_requests_leave_no_trace,
    numbers_reach_the_ledger_as_go_reads_them,
);

async fn mutations_reach_the_ledger(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    let start = s.head().await;
    let body = json!({"cookie": "AQI=", "check_cookie": null, "mutations": [row(1, "one"), row(2, "it's"), {"table": "items", "delete": true, "values": {"id": 1}}]});
    let got = w.mutate("fam", &body).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let entries = s.ledger(start).await;
    let statements: Vec<&str> = entries
        .iter()
        .map(|e| e["statement"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statements,
        [
            "--- BEGIN",
            r#"REPLACE INTO fam___items ("id","name","data","score") VALUES(1,'one',x'deadbeef',0.5)"#,
            r#"REPLACE INTO fam___items ("id","name","data","score") VALUES(2,'it''s',x'deadbeef',0.5)"#,
            r#"DELETE FROM fam___items WHERE "id" = 1"#,
            "--- COMMIT",
        ]
    );
    let seqs: Vec<i64> = entries.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(seqs, (start + 1..=start + 5).collect::<Vec<_>>());
    // The heartbeat's form: a null cookie and one mutation, a bare statement.
    let heartbeat = json!({"cookie": null, "mutations": [row(3, "three")]});
    assert_eq!(w.mutate("fam", &heartbeat).await.0, StatusCode::OK);
    let last = s.ledger(start + 5).await;
    assert_eq!(last.len(), 1);
    assert_eq!(
        w.cookie().await.1,
        [1u8, 2],
        "null cookie leaves the cookie"
    );
    s.stop().await;
    db.cleanup().await;
}

async fn refused_requests_leave_no_trace(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    w.request(Method::POST, "/cookie")
        .body("c1")
        .send()
        .await
        .expect("send");
    let head = s.head().await;
    let good = row(10, "good");
    let with = |m: Value| json!({"mutations": [good.clone(), m]});
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Value,
        StatusCode,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "unknown family",
            "writer1",
            "nofam",
            with(row(1, "x")),
            StatusCode::NOT_FOUND,
            Some("table"),
        ),
        (
            "unknown table",
            "writer1",
            "fam",
            with(json!({"table": "nosuch", "values": {}})),
            StatusCode::NOT_FOUND,
            Some("table"),
        ),
        (
            "unknown field",
            "writer1",
            "fam",
            with(
                json!({"table": "items", "values": {"id": 1, "name": "a", "data": null, "score": 1, "zzz": 1}}),
            ),
            StatusCode::BAD_REQUEST,
            Some("zzz"),
        ),
        (
            "wrong type",
            "writer1",
            "fam",
            with(
                json!({"table": "items", "values": {"id": "one", "name": "a", "data": null, "score": 1}}),
            ),
            StatusCode::BAD_REQUEST,
            Some("id"),
        ),
        (
            "null key",
            "writer1",
            "fam",
            with(
                json!({"table": "items", "values": {"id": null, "name": "a", "data": null, "score": 1}}),
            ),
            StatusCode::BAD_REQUEST,
            Some("id"),
        ),
        (
            "bad field name",
            "writer1",
            "fam",
            with(json!({"table": "items", "values": {"Bad-Name": 1}})),
            StatusCode::BAD_REQUEST,
            Some("field"),
        ),
        (
            "bad family name",
            "writer1",
            "bad__family",
            with(row(1, "x")),
            StatusCode::BAD_REQUEST,
            Some("family"),
        ),
        (
            "bad base64",
            "writer1",
            "fam",
            with(
                json!({"table": "items", "values": {"id": 1, "name": "a", "data": "%%%", "score": 1}}),
            ),
            StatusCode::BAD_REQUEST,
            Some("data"),
        ),
        (
            "oversized string",
            "writer1",
            "fam",
            with(
                json!({"table": "items", "values": {"id": 1, "name": "x".repeat(200), "data": null, "score": 1}}),
            ),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            "stale check_cookie",
            "writer1",
            "fam",
            json!({"check_cookie": "c3RhbGU=", "mutations": [good.clone()]}),
            StatusCode::CONFLICT,
            Some("check_cookie"),
        ),
        (
            "bad cookie base64",
            "writer1",
            "fam",
            json!({"cookie": "!!", "mutations": [good.clone()]}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "no mutations",
            "writer1",
            "fam",
            json!({"mutations": []}),
            StatusCode::BAD_REQUEST,
            Some("mutations"),
        ),
        (
            "unknown writer",
            "nobody",
            "fam",
            with(row(1, "x")),
            StatusCode::UNAUTHORIZED,
            Some("writer"),
        ),
    ];
    for (label, writer, family, body, status, field) in cases {
        assert_error(
            &s.writer(writer, "secret1").mutate(family, &body).await,
            status,
            field,
            label,
        );
    }
    assert_error(
        &s.writer("writer1", "wrong")
            .mutate("fam", &with(row(1, "x")))
            .await,
        StatusCode::UNAUTHORIZED,
        Some("writer"),
        "wrong secret",
    );
    let no_secret = s
        .request(Method::POST, "/families/fam/mutations")
        .header("ctlstore-writer", "writer1")
        .json(&with(row(1, "x")))
        .send()
        .await
        .expect("send");
    assert_eq!(no_secret.status(), StatusCode::UNAUTHORIZED);
    let malformed = w
        .request(Method::POST, "/families/fam/mutations")
        .body("{\"mutations\": [")
        .send()
        .await
        .expect("send");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let big = json!({"mutations": [{"table": "items", "values": {"id": 1, "name": "a", "data": null, "score": 1, "pad": "x".repeat(1_100_000)}}]});
    let too_large = w.mutate("fam", &big).await;
    assert_error(
        &too_large,
        StatusCode::EXPECTATION_FAILED,
        Some("body"),
        "body too large",
    );
    assert_eq!(
        s.head().await,
        head,
        "nothing of a refused batch reached the ledger"
    );
    let rows = s
        .statements(0)
        .await
        .iter()
        .filter(|t| t.contains("'good'"))
        .count();
    assert_eq!(rows, 0, "not even the good mutation riding with a bad one");
    assert_eq!(w.cookie().await.1, b"c1", "cookie untouched");
    s.stop().await;
    db.cleanup().await;
}

/// Go reads a JSON number into the nearest float64 and ctlstore writes that float's shortest
/// text: a decimal with 17 significant digits must come back digit for digit (a parser that is
/// one ULP off writes another number), and a number for a string field is written bare.
async fn numbers_reach_the_ledger_as_go_reads_them(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    let head = s.head().await;
    let body = r#"{"mutations": [{"table": "items", "values": {"id": 1, "name": 5, "data": null, "score": 124.40272515495377}}]}"#;
    let resp = w
        .request(Method::POST, "/families/fam/mutations")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        s.statements(head).await,
        [
            r#"REPLACE INTO fam___items ("id","name","data","score") VALUES(1,5,NULL,124.40272515495377)"#
        ]
    );
    s.stop().await;
    db.cleanup().await;
}
