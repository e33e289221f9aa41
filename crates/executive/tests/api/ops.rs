//! Operations: `/status`, `/healthz`, `/metrics`, the no-route answers, and the OpenAPI document
//! against the route table.

use std::time::Duration;

use ctlstore_testkit::{Backend, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{register_items, row};

backend_tests!(health_and_metrics);

async fn health_and_metrics(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    // ctlstore's `/status`: 200 with an empty body (`HealthCheck` always succeeds).
    let status = s
        .request(Method::GET, "/status")
        .send()
        .await
        .expect("status");
    assert_eq!(status.status(), StatusCode::OK);
    assert_eq!(
        status.bytes().await.expect("body").as_ref(),
        b"",
        "/status body"
    );
    let (status, health) = s.call(Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    w.mutate_ok("fam", &json!({"mutations": [row(1, "a")]}))
        .await;
    let metrics = s
        .request(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for name in [
        "ctlstore_executive_requests_total",
        "ctlstore_executive_mutation_rows_total",
        "ctlstore_executive_ledger_seq",
        "ctlstore_executive_request_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let unknown = s
        .request(Method::GET, "/no/such/route")
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown
            .headers()
            .get("x-ctlstore-route")
            .map(|v| v.as_bytes()),
        Some(&b"none"[..])
    );
    s.stop().await;
    db.cleanup().await;
}

/// Every documented operation is served (never the no-route fallback), and every route in the
/// route table is documented.
#[tokio::test]
async fn openapi_matches_the_routes() {
    let db = TestDb::create(Backend::Sqlite).await;
    let s = TestExecutive::start(&db.url).await;
    let (_, spec) = s.call(Method::GET, "/openapi.json", None).await;
    let paths = spec["paths"].as_object().expect("paths");
    let mut documented = 0;
    for (path, ops) in paths {
        for method in ops.as_object().expect("operations").keys() {
            documented += 1;
            let concrete = path
                .replace("{familyName}", "fam")
                .replace("{tableName}", "items")
                .replace("{writerName}", "writer1");
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            let resp = if concrete == "/ledger/stream" {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    s.request(method.clone(), &concrete).send(),
                )
                .await
                .expect("headers")
                .expect("send")
            } else {
                s.request(method.clone(), &concrete)
                    .send()
                    .await
                    .expect("send")
            };
            assert!(
                resp.headers().get("x-ctlstore-route").is_none(),
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(
        documented,
        ctlstore_executive::openapi::document()["paths"]
            .as_object()
            .map(|p| p
                .values()
                .map(|o| o.as_object().map_or(0, |o| o.len()))
                .sum::<usize>())
            .unwrap_or(0)
    );
    assert_eq!(documented, 37, "the route table has 37 operations");
    s.stop().await;
    db.cleanup().await;
}
