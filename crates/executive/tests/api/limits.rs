//! Writer rate limits and table size limits: enforcement and the `/limits` routes.

use std::time::Duration;

use ctlstore_testkit::{Backend, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_error, register_items, row};

backend_tests!(writer_rate_limit, table_size_limit, limits_routes);

async fn writer_rate_limit(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start_with(&db.url, |c| {
        c.writer_limit = 3;
        c.writer_limit_period = Duration::from_secs(3600);
    })
    .await;
    let w = register_items(&s).await;
    let two = json!({"mutations": [row(1, "a"), row(2, "b")]});
    assert_eq!(w.mutate("fam", &two).await.0, StatusCode::OK);
    let head = s.head().await;
    let over = w.mutate("fam", &two).await;
    assert_error(
        &over,
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "over the rate limit",
    );
    assert_eq!(s.head().await, head);
    assert_eq!(
        w.mutate("fam", &json!({"mutations": [row(3, "c")]}))
            .await
            .0,
        StatusCode::OK,
        "the refused rows were not counted"
    );
    s.stop().await;
    db.cleanup().await;
}

async fn table_size_limit(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    assert_eq!(
        w.mutate("fam", &json!({"mutations": [row(1, "a")]}))
            .await
            .0,
        StatusCode::OK
    );
    let limit = json!({"max-size": 1, "warn-size": 1});
    assert_eq!(
        s.call(Method::POST, "/limits/tables/fam/items", Some(limit))
            .await
            .0,
        StatusCode::OK
    );
    let head = s.head().await;
    let full = w.mutate("fam", &json!({"mutations": [row(2, "b")]})).await;
    assert_error(
        &full,
        StatusCode::INSUFFICIENT_STORAGE,
        Some("table"),
        "table at its max size",
    );
    assert_eq!(s.head().await, head);
    let shrink = json!({"mutations": [{"table": "items", "delete": true, "values": {"id": 1}}]});
    assert_eq!(
        w.mutate("fam", &shrink).await.0,
        StatusCode::OK,
        "deletes still shrink a full table"
    );
    assert_eq!(
        s.call(Method::DELETE, "/limits/tables/fam/items", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        w.mutate("fam", &json!({"mutations": [row(2, "b")]}))
            .await
            .0,
        StatusCode::OK
    );
    s.stop().await;
    db.cleanup().await;
}

async fn limits_routes(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    register_items(&s).await;
    let (_, tables) = s.call(Method::GET, "/limits/tables", None).await;
    assert_eq!(
        tables,
        json!({"global": {"max-size": 104857600, "warn-size": 52428800}, "tables": null})
    );
    assert_eq!(
        s.call(
            Method::POST,
            "/limits/tables/fam/items",
            Some(json!({"max-size": 100, "warn-size": 5}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, tables) = s.call(Method::GET, "/limits/tables", None).await;
    assert_eq!(
        tables["tables"],
        json!([{"max-size": 100, "warn-size": 5, "family": "fam", "table": "items"}])
    );
    assert_error(
        &s.call(
            Method::POST,
            "/limits/tables/fam/nosuch",
            Some(json!({"max-size": 1, "warn-size": 1})),
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
        "limit on missing table",
    );
    assert_error(
        &s.call(
            Method::POST,
            "/limits/tables/my___family/mytable",
            Some(json!({"max-size": 1, "warn-size": 1})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("family"),
        "bad family",
    );
    assert_error(
        &s.call(Method::DELETE, "/limits/tables/fam/table9", None)
            .await,
        StatusCode::NOT_FOUND,
        None,
        "no limit to delete",
    );

    let (_, writers) = s.call(Method::GET, "/limits/writers", None).await;
    assert_eq!(
        writers,
        json!({"global": {"amount": 1000, "period": 60000000000i64}, "writers": null})
    );
    assert_eq!(
        s.call(
            Method::POST,
            "/limits/writers/writer1",
            Some(json!({"amount": 2, "period": "1s"}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, writers) = s.call(Method::GET, "/limits/writers", None).await;
    assert_eq!(
        writers["writers"],
        json!([{"writer": "writer1", "rate-limit": {"amount": 120, "period": 60000000000i64}}])
    );
    assert_eq!(
        s.call(
            Method::POST,
            "/limits/writers/writer1",
            Some(json!({"amount": 70.9, "period": 60000000000i64}))
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        s.call(Method::GET, "/limits/writers", None).await.1["writers"][0]["rate-limit"]["amount"],
        json!(70)
    );
    assert_error(
        &s.call(
            Method::POST,
            "/limits/writers/writer1",
            Some(json!({"amount": 1, "period": "a year"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("period"),
        "bad period",
    );
    assert_error(
        &s.call(
            Method::POST,
            "/limits/writers/no",
            Some(json!({"amount": 1, "period": "1m"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("writer"),
        "short writer",
    );
    assert_error(
        &s.call(
            Method::POST,
            "/limits/writers/nobody",
            Some(json!({"amount": 1, "period": "1m"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
        "unknown writer",
    );
    assert_eq!(
        s.call(Method::DELETE, "/limits/writers/writer1", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &s.call(Method::DELETE, "/limits/writers/writer1", None)
            .await,
        StatusCode::NOT_FOUND,
        None,
        "delete twice",
    );
    s.stop().await;
    db.cleanup().await;
}
