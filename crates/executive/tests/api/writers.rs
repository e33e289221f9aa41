//! Writers and cookies: registration, credentials, `GET`/`POST /cookie`.

use ctlstore_testkit::{Backend, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};

use super::assert_error;

backend_tests!(writers_and_cookies);

async fn writers_and_cookies(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let register = |secret: &'static str| {
        s.request(Method::POST, "/writers/writer1")
            .body(secret)
            .send()
    };
    assert_eq!(
        register("secret1").await.expect("send").status(),
        StatusCode::OK
    );
    assert_eq!(
        register("secret1").await.expect("send").status(),
        StatusCode::OK,
        "idempotent"
    );
    assert_eq!(
        register("other1").await.expect("send").status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.request(Method::POST, "/writers/ab")
            .body("secret1")
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.request(Method::POST, "/writers/writer2")
            .body("ab")
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::BAD_REQUEST
    );

    let cookie = |secret: &str| {
        s.writer("writer1", secret)
            .request(Method::GET, "/cookie")
            .send()
    };
    let resp = cookie("secret1").await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        b"d3JpdGVyMWvvyLhIjKvjOx0M5y3UgjITxDifKeSscYpRbLUKk7iS"
    );
    assert_eq!(
        cookie("wrong").await.expect("send").status(),
        StatusCode::UNAUTHORIZED
    );
    let no_headers = s.call(Method::GET, "/cookie", None).await;
    assert_error(
        &no_headers,
        StatusCode::UNAUTHORIZED,
        Some("ctlstore-writer"),
        "no credentials",
    );
    let w = s.writer("writer1", "secret1");
    let set = w
        .request(Method::POST, "/cookie")
        .body(vec![0u8, 1, 2, 255])
        .send()
        .await
        .expect("send");
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(
        cookie("secret1")
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body")
            .as_ref(),
        &[0u8, 1, 2, 255]
    );
    let too_long = w
        .request(Method::POST, "/cookie")
        .body(vec![7u8; 1025])
        .send()
        .await
        .expect("send");
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    s.stop().await;
    db.cleanup().await;
}
