//! The sidecar over real HTTP: every route, and every error.
//!
//! (Over 400 lines on purpose: one test per route and per error class, sharing one fixture LDB
//! and one served sidecar; split, each file would repeat the fixture.)

use std::sync::Arc;
use std::time::Duration;

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ledger::LedgerEntry;
use ctlstore_reader::Reader;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Sidecar {
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _ldb: Ldb,
}

fn e(seq: i64, statement: &str) -> LedgerEntry {
    LedgerEntry {
        seq,
        leader_ts: String::new(),
        statement: statement.into(),
    }
}

async fn start(max_rows: usize, with_data: bool) -> Sidecar {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    if with_data {
        ldb.apply(&[
            e(1, r#"CREATE TABLE fam___things ("name" VARCHAR(191), "id" INTEGER, "data" BLOB, "score" REAL, PRIMARY KEY("name","id"));"#),
            e(2, r#"REPLACE INTO fam___things ("name","id","data","score") VALUES('a',1,x'deadbeef',1.5)"#),
            e(3, r#"REPLACE INTO fam___things ("name","id","data","score") VALUES('a',2,NULL,NULL)"#),
            e(4, r#"REPLACE INTO fam___things ("name","id","data","score") VALUES('b',1,x'00',2)"#),
            e(5, r#"CREATE TABLE fam___blobkeys ("key" BLOB(255), "value" VARCHAR(191), PRIMARY KEY("key"));"#),
            e(6, r#"REPLACE INTO fam___blobkeys ("key","value") VALUES(x'deadbeef','test-value')"#),
            e(7, r#"CREATE INDEX fam___things___by_id ON fam___things ("id")"#),
        ])
        .expect("apply");
    }
    let reader = Arc::new(Reader::open(&path).expect("reader"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = ctlstore_sidecar::Config {
        max_rows,
        application: "test".into(),
        ..Default::default()
    };
    tokio::spawn(ctlstore_sidecar::serve(
        listener,
        reader,
        config,
        std::future::pending(),
    ));
    Sidecar {
        base,
        client: reqwest::Client::new(),
        _dir: dir,
        _ldb: ldb,
    }
}

impl Sidecar {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Option<String>, String) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("send");
        let header = r
            .headers()
            .get("X-Ctlstore")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        (r.status(), header, r.text().await.expect("body"))
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("send");
        (r.status(), r.text().await.expect("body"))
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn row_by_key() {
    let s = start(0, true).await;
    let (status, _, body) = s
        .post(
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": "a"}, {"value": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with('\n'), "a JSON line, as Go's encoder writes");
    assert_eq!(
        json(&body),
        json!({"data": "3q2+7w==", "id": 1, "name": "a", "score": 1.5})
    );
    // Byte for byte what Go's json.Encoder writes: a whole REAL as `2`, not `2.0`.
    let (status, _, body) = s
        .post(
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": "b"}, {"value": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "{\"data\":\"AA==\",\"id\":1,\"name\":\"b\",\"score\":2}\n"
    );
    // Go clients capitalise the field names.
    let (status, _, body) = s
        .post(
            "/get-row-by-key/fam/things",
            json!({"Key": [{"Value": "a"}, {"Value": 2}]}),
        )
        .await;
    assert_eq!(
        (status, json(&body)),
        (
            StatusCode::OK,
            json!({"data": null, "id": 2, "name": "a", "score": null})
        )
    );
    let (status, header, body) = s
        .post(
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": "zz"}, {"value": 1}]}),
        )
        .await;
    assert_eq!(
        (status, header.as_deref(), body.as_str()),
        (StatusCode::NOT_FOUND, Some("Not Found"), "")
    );
    // A binary key, by base64.
    let (status, _, body) = s
        .post(
            "/get-row-by-key/fam/blobkeys",
            json!({"key": [{"binary": "3q2+7w=="}]}),
        )
        .await;
    assert_eq!(
        (status, json(&body)),
        (
            StatusCode::OK,
            json!({"key": "3q2+7w==", "value": "test-value"})
        )
    );
}

#[tokio::test]
async fn rows_by_key_prefix() {
    let s = start(0, true).await;
    let (status, _, body) = s
        .post(
            "/get-rows-by-key-prefix/fam/things",
            json!({"key": [{"value": "a"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<Value> = json(&body)
        .as_array()
        .map(|a| a.iter().map(|r| r["id"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![json!(1), json!(2)]);
    let (_, _, all) = s
        .post("/get-rows-by-key-prefix/fam/things", json!({"key": []}))
        .await;
    assert_eq!(json(&all).as_array().map(Vec::len), Some(3));
    let (status, _, none) = s
        .post(
            "/get-rows-by-key-prefix/fam/things",
            json!({"key": [{"value": "zz"}]}),
        )
        .await;
    assert_eq!((status, none.trim()), (StatusCode::OK, "[]"));
    let limited = start(2, true).await;
    let (status, _, body) = limited
        .post("/get-rows-by-key-prefix/fam/things", json!({"key": []}))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::RANGE_NOT_SATISFIABLE, ""),
        "more than max-rows"
    );
    let (status, _, _) = limited
        .post(
            "/get-rows-by-key-prefix/fam/things",
            json!({"key": [{"value": "a"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "at max-rows is fine");
}

#[tokio::test]
async fn rows_by_index() {
    let s = start(0, true).await;
    let ids = |body: &str| -> Vec<(Value, Value)> {
        json(body)
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| (r["name"].clone(), r["id"].clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (status, _, body) = s
        .post(
            "/get-rows-by-index/fam/things/by_id",
            json!({"key": [{"value": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), [(json!("a"), json!(1)), (json!("b"), json!(1))]);
    let (_, _, all) = s
        .post("/get-rows-by-index/fam/things/by_id", json!({"key": []}))
        .await;
    assert_eq!(
        ids(&all),
        [
            (json!("a"), json!(1)),
            (json!("b"), json!(1)),
            (json!("a"), json!(2))
        ],
        "index order (id), then the primary key (name, id)"
    );
    let (status, _, none) = s
        .post(
            "/get-rows-by-index/fam/things/by_id",
            json!({"key": [{"value": 7}]}),
        )
        .await;
    assert_eq!((status, none.trim()), (StatusCode::OK, "[]"));
    for (path, body, status, field) in [
        (
            "/get-rows-by-index/fam/things/by_nothing",
            json!({"key": []}),
            StatusCode::NOT_FOUND,
            "index",
        ),
        (
            "/get-rows-by-index/fam/nosuch/by_score",
            json!({"key": []}),
            StatusCode::NOT_FOUND,
            "table",
        ),
        (
            "/get-rows-by-index/fam/things/bad__index",
            json!({"key": []}),
            StatusCode::BAD_REQUEST,
            "index",
        ),
        (
            "/get-rows-by-index/fam/things/by_id",
            json!({"key": [{"value": 1}, {"value": "a"}]}),
            StatusCode::BAD_REQUEST,
            "key",
        ),
        (
            "/get-rows-by-index/fam/things/by_id",
            json!({"key": [{"value": "one"}]}),
            StatusCode::BAD_REQUEST,
            "id",
        ),
    ] {
        let (got, _, text) = s.post(path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {text}");
        assert_eq!(json(&text)["field"], json!(field), "{path} {body}: {text}");
    }
    let limited = start(2, true).await;
    let (status, _, _) = limited
        .post("/get-rows-by-index/fam/things/by_id", json!({"key": []}))
        .await;
    assert_eq!(
        status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "more than max-rows"
    );
}

#[tokio::test]
async fn errors() {
    let s = start(0, true).await;
    let cases = [
        (
            "/get-row-by-key/fam/nosuch",
            json!({"key": [{"value": 1}]}),
            StatusCode::NOT_FOUND,
            "table",
        ),
        (
            "/get-row-by-key/nofam/things",
            json!({"key": [{"value": 1}]}),
            StatusCode::NOT_FOUND,
            "table",
        ),
        (
            "/get-row-by-key/bad__fam/things",
            json!({"key": []}),
            StatusCode::BAD_REQUEST,
            "family",
        ),
        (
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": "a"}]}),
            StatusCode::BAD_REQUEST,
            "key",
        ),
        (
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": "a"}, {"value": "one"}]}),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": "a"}, {"value": 1.5}]}),
            StatusCode::BAD_REQUEST,
            "key",
        ),
        (
            "/get-row-by-key/fam/things",
            json!({"key": [{"value": null}, {"value": 1}]}),
            StatusCode::BAD_REQUEST,
            "key",
        ),
        (
            "/get-row-by-key/fam/blobkeys",
            json!({"key": [{"binary": "%%%"}]}),
            StatusCode::BAD_REQUEST,
            "key",
        ),
        (
            "/get-rows-by-key-prefix/fam/things",
            json!({"key": [{"value": "a"}, {"value": 1}, {"value": 3}]}),
            StatusCode::BAD_REQUEST,
            "key",
        ),
    ];
    for (path, body, status, field) in cases {
        let (got, _, text) = s.post(path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {text}");
        assert_eq!(json(&text)["field"], json!(field), "{path} {body}: {text}");
    }
    let r = s
        .client
        .post(format!("{}/get-row-by-key/fam/things", s.base))
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.get("/no-such-route").await.0, StatusCode::NOT_FOUND);
}

/// Keys coerced as ctlstore's sidecar coerces them: clients send `1.0` (Python's
/// `json.dumps(1.0)`, JavaScript numbers) or `"1"` for an integer key and get the row.
#[tokio::test]
async fn keys_are_coerced_as_ctlstore_coerces_them() {
    let s = start(0, true).await;
    let want = json!({"name": "a", "id": 1, "data": "3q2+7w==", "score": 1.5});
    for id in [json!(1), json!(1.0), json!("1"), json!(true)] {
        let (status, _, text) = s
            .post(
                "/get-row-by-key/fam/things",
                json!({"key": [{"value": "plain"}, {"value": id}]}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {text}");
        let (status, _, text) = s
            .post(
                "/get-row-by-key/fam/things",
                json!({"key": [{"value": "a"}, {"value": id}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{id}: {text}");
        assert_eq!(json(&text), want, "{id}");
        let (status, _, text) = s
            .post(
                "/get-rows-by-key-prefix/fam/things",
                json!({"key": [{"value": "a"}, {"Value": id}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{id}: {text}");
        assert_eq!(json(&text), json!([want]), "{id}");
    }
    // What ctlstore cannot answer either stays refused, naming the key.
    for id in [json!(1.5), json!("1.5"), json!("one")] {
        let (status, _, text) = s
            .post(
                "/get-row-by-key/fam/things",
                json!({"key": [{"value": "a"}, {"value": id}]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {text}");
    }
}

/// A read without a body is refused (ctlstore: `decode body: EOF`), never read as the empty
/// key, which for a prefix read is the whole table.
#[tokio::test]
async fn a_missing_body_is_refused() {
    let s = start(0, true).await;
    for route in [
        "/get-rows-by-key-prefix/fam/things",
        "/get-row-by-key/fam/things",
    ] {
        for body in ["", " \n"] {
            let r = s
                .client
                .post(format!("{}{route}", s.base))
                .body(body)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{route}");
            let text = r.text().await.expect("body");
            assert!(text.contains("decode body: EOF"), "{route}: {text}");
            assert_eq!(json(&text)["field"], json!("key"));
        }
    }
}

#[tokio::test]
async fn latency_health_and_metrics() {
    let empty = start(0, false).await;
    assert_eq!(
        empty.get("/get-ledger-latency").await.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "no ledger updates yet"
    );
    assert_eq!(
        empty.get("/healthcheck").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(empty.get("/ping").await.0, StatusCode::SERVICE_UNAVAILABLE);
    let s = start(0, true).await;
    let (status, body) = s.get("/get-ledger-latency").await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["unit"], "seconds");
    assert!(
        v["value"].as_f64().is_some_and(|l| (0.0..5.0).contains(&l)),
        "{body}"
    );
    assert_eq!(s.get("/healthcheck").await.0, StatusCode::OK);
    assert_eq!(s.get("/ping").await.0, StatusCode::OK);
    s.post(
        "/get-row-by-key/fam/things",
        json!({"key": [{"value": "a"}, {"value": 1}]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (status, metrics) = s.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("ctlstore_sidecar_requests_total"),
        "{metrics}"
    );
}

/// Every documented operation is served with its method (never the no-route fallback), the
/// other method is 405, and the document has exactly the route table's operations (the router
/// is built from that table, so every served route is documented).
#[tokio::test]
async fn openapi_matches_the_routes() {
    let s = start(0, true).await;
    let (status, text) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let spec = json(&text);
    assert_eq!(spec, ctlstore_sidecar::openapi::document());
    assert_eq!(spec["openapi"], "3.0.3");
    let mut documented = 0;
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            documented += 1;
            let concrete = path
                .replace("{familyName}", "fam")
                .replace("{tableName}", "things");
            let url = format!("{}{concrete}", s.base);
            let (served, other) = match method.as_str() {
                "get" => (s.client.get(&url), s.client.post(&url)),
                "post" => (
                    s.client.post(&url).json(&json!({"key": [{"value": "a"}]})),
                    s.client.get(&url),
                ),
                m => panic!("unexpected method {m}"),
            };
            let r = served.send().await.expect("send");
            assert!(
                r.headers().get(ctlstore_sidecar::NO_ROUTE_HEADER).is_none(),
                "{method} {path} is documented but not routed"
            );
            let r = other.send().await.expect("send");
            assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert_eq!(
                r.headers()
                    .get(ctlstore_sidecar::NO_ROUTE_HEADER)
                    .map(|v| v.as_bytes()),
                Some(&b"method"[..])
            );
        }
    }
    assert_eq!(documented, ctlstore_sidecar::ROUTES.len());
    assert_eq!(documented, 12, "the sidecar has 12 operations");
    let r = s
        .client
        .get(format!("{}/no-such-route", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.headers()
            .get(ctlstore_sidecar::NO_ROUTE_HEADER)
            .map(|v| v.as_bytes()),
        Some(&b"none"[..])
    );
}

/// Swagger UI at `/docs`, from the binary: every file the page loads is same-origin and served.
#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let s = start(0, false).await;
    let (status, html) = s.get("/docs").await;
    assert_eq!(status, StatusCode::OK);
    let mut urls = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            urls.push(rest[..rest.find('"').unwrap_or(rest.len())].to_string());
        }
    }
    assert!(urls.len() >= 3, "{urls:?}");
    for url in urls {
        assert!(url.starts_with('/') && !url.starts_with("//"), "{url}");
        let (status, body) = s.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(body.len() > 100, "{url}");
    }
    let (status, init) = s.get("/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(init.contains("\"/openapi.json\""), "{init}");
}
