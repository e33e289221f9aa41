//! The executive over real HTTP on an ephemeral port, against every ctldb backend: every route,
//! and the error paths (each a 4xx with a JSON body naming the problem, and nothing of a refused
//! batch in the ctldb or the ledger).

use std::time::{Duration, Instant};

use ctlstore_executive::{Config, serve};
use ctlstore_testkit::{Backend, TestDb, backend_tests};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

backend_tests!(
    families_and_tables,
    writers_and_cookies,
    mutations_reach_the_ledger,
    refused_requests_leave_no_trace,
    writer_rate_limit,
    table_size_limit,
    limits_routes,
    long_poll_answers_at_commit,
    stream_follows_the_ledger,
    destructive_routes,
    two_executives_one_ledger,
    admin_token_guards_schema_changes,
    health_and_metrics,
);

struct Server {
    base: String,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(url: &str, tweak: impl FnOnce(&mut Config)) -> Server {
        let mut config = Config {
            ctldb_url: url.to_string(),
            ledger_poll_interval: Duration::from_millis(50),
            ..Config::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(listener, config, async move {
                let _ = stopped.await;
            })
            .await
            .expect("executive runs");
        });
        let client = Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Server {
                    base,
                    client,
                    stop: Some(stop),
                    task,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("executive did not become healthy");
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn mutate(
        &self,
        writer: &str,
        secret: &str,
        family: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let resp = self
            .req(Method::POST, &format!("/families/{family}/mutations"))
            .header("ctlstore-writer", writer)
            .header("ctlstore-secret", secret)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ledger(&self, after: i64) -> Vec<Value> {
        let (status, page) = self
            .call(
                Method::GET,
                &format!("/ledger?after={after}&limit=10000"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["entries"].as_array().cloned().unwrap_or_default()
    }

    async fn head(&self) -> i64 {
        self.ledger(0)
            .await
            .last()
            .and_then(|e| e["seq"].as_i64())
            .unwrap_or(0)
    }

    /// A family `fam`, a table `fam.items` and a writer `writer1`/`secret1`.
    async fn fixture(&self) {
        assert_eq!(
            self.call(Method::POST, "/families/fam", None).await.0,
            StatusCode::OK
        );
        let table = json!({"fields": [["id", "integer"], ["name", "string"], ["data", "binary"], ["score", "decimal"]], "keyFields": ["id"]});
        let (status, body) = self
            .call(Method::POST, "/families/fam/tables/items", Some(table))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let resp = self
            .req(Method::POST, "/writers/writer1")
            .body("secret1")
            .send()
            .await
            .expect("register");
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

fn row(id: i64, name: &str) -> Value {
    json!({"table": "items", "values": {"id": id, "name": name, "data": "3q2+7w==", "score": 0.5}})
}

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

async fn families_and_tables(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
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
        .req(Method::POST, "/families/fam/tables/table2")
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

async fn writers_and_cookies(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    let register =
        |secret: &'static str| s.req(Method::POST, "/writers/writer1").body(secret).send();
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
        s.req(Method::POST, "/writers/ab")
            .body("secret1")
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.req(Method::POST, "/writers/writer2")
            .body("ab")
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::BAD_REQUEST
    );

    let cookie = |secret: &str| {
        s.req(Method::GET, "/cookie")
            .header("ctlstore-writer", "writer1")
            .header("ctlstore-secret", secret)
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
    let set = s
        .req(Method::POST, "/cookie")
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
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
    let too_long = s
        .req(Method::POST, "/cookie")
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
        .body(vec![7u8; 1025])
        .send()
        .await
        .expect("send");
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    s.stop().await;
    db.cleanup().await;
}

async fn mutations_reach_the_ledger(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
    let start = s.head().await;
    let body = json!({"cookie": "AQI=", "check_cookie": null, "mutations": [row(1, "one"), row(2, "it's"), {"table": "items", "delete": true, "values": {"id": 1}}]});
    let got = s.mutate("writer1", "secret1", "fam", body).await;
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
    assert_eq!(
        s.mutate("writer1", "secret1", "fam", heartbeat).await.0,
        StatusCode::OK
    );
    let last = s.ledger(start + 5).await;
    assert_eq!(last.len(), 1);
    let resp = s
        .req(Method::GET, "/cookie")
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        &[1u8, 2],
        "null cookie leaves the cookie"
    );
    s.stop().await;
    db.cleanup().await;
}

async fn refused_requests_leave_no_trace(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
    s.req(Method::POST, "/cookie")
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
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
            &s.mutate(writer, "secret1", family, body).await,
            status,
            field,
            label,
        );
    }
    assert_error(
        &s.mutate("writer1", "wrong", "fam", with(row(1, "x"))).await,
        StatusCode::UNAUTHORIZED,
        Some("writer"),
        "wrong secret",
    );
    let no_secret = s
        .req(Method::POST, "/families/fam/mutations")
        .header("ctlstore-writer", "writer1")
        .json(&with(row(1, "x")))
        .send()
        .await
        .expect("send");
    assert_eq!(no_secret.status(), StatusCode::UNAUTHORIZED);
    let malformed = s
        .req(Method::POST, "/families/fam/mutations")
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
        .body("{\"mutations\": [")
        .send()
        .await
        .expect("send");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let big = json!({"mutations": [{"table": "items", "values": {"id": 1, "name": "a", "data": null, "score": 1, "pad": "x".repeat(1_100_000)}}]});
    let too_large = s.mutate("writer1", "secret1", "fam", big).await;
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
    let (_, rows) = (
        0,
        s.ledger(0)
            .await
            .iter()
            .filter(|e| {
                e["statement"]
                    .as_str()
                    .is_some_and(|t| t.contains("'good'"))
            })
            .count(),
    );
    assert_eq!(rows, 0, "not even the good mutation riding with a bad one");
    let resp = s
        .req(Method::GET, "/cookie")
        .header("ctlstore-writer", "writer1")
        .header("ctlstore-secret", "secret1")
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        b"c1",
        "cookie untouched"
    );
    s.stop().await;
    db.cleanup().await;
}

async fn writer_rate_limit(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |c| {
        c.writer_limit = 3;
        c.writer_limit_period = Duration::from_secs(3600);
    })
    .await;
    s.fixture().await;
    let two = json!({"mutations": [row(1, "a"), row(2, "b")]});
    assert_eq!(
        s.mutate("writer1", "secret1", "fam", two.clone()).await.0,
        StatusCode::OK
    );
    let head = s.head().await;
    let over = s.mutate("writer1", "secret1", "fam", two).await;
    assert_error(
        &over,
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "over the rate limit",
    );
    assert_eq!(s.head().await, head);
    assert_eq!(
        s.mutate(
            "writer1",
            "secret1",
            "fam",
            json!({"mutations": [row(3, "c")]})
        )
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
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
    assert_eq!(
        s.mutate(
            "writer1",
            "secret1",
            "fam",
            json!({"mutations": [row(1, "a")]})
        )
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
    let full = s
        .mutate(
            "writer1",
            "secret1",
            "fam",
            json!({"mutations": [row(2, "b")]}),
        )
        .await;
    assert_error(
        &full,
        StatusCode::INSUFFICIENT_STORAGE,
        Some("table"),
        "table at its max size",
    );
    assert_eq!(s.head().await, head);
    let shrink = json!({"mutations": [{"table": "items", "delete": true, "values": {"id": 1}}]});
    assert_eq!(
        s.mutate("writer1", "secret1", "fam", shrink).await.0,
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
        s.mutate(
            "writer1",
            "secret1",
            "fam",
            json!({"mutations": [row(2, "b")]})
        )
        .await
        .0,
        StatusCode::OK
    );
    s.stop().await;
    db.cleanup().await;
}

async fn limits_routes(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
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

async fn long_poll_answers_at_commit(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
    let head = s.head().await;
    let (empty_status, empty) = s
        .call(
            Method::GET,
            &format!("/ledger?after={head}&wait=100ms"),
            None,
        )
        .await;
    assert_eq!(empty_status, StatusCode::OK);
    assert_eq!(
        empty["entries"],
        json!([]),
        "a wait that expires answers with no entries"
    );
    let poll = {
        let url = format!("{}/ledger?after={head}&wait=20s", s.base);
        let client = s.client.clone();
        tokio::spawn(async move {
            let resp = client.get(url).send().await.expect("poll");
            let page: Value = resp.json().await.expect("json");
            (Instant::now(), page)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = s
        .mutate(
            "writer1",
            "secret1",
            "fam",
            json!({"mutations": [row(7, "seven")]}),
        )
        .await;
    let acked = Instant::now();
    assert_eq!(written.0, StatusCode::OK);
    let (answered, page) = poll.await.expect("poll task");
    let delay = answered.saturating_duration_since(acked);
    assert!(
        delay < Duration::from_secs(2),
        "long-poll answered {delay:?} after the ack, not at its 20 s expiry"
    );
    assert_eq!(page["entries"][0]["seq"], json!(head + 1));
    assert!(
        page["entries"][0]["statement"]
            .as_str()
            .is_some_and(|t| t.contains("'seven'"))
    );
    assert_error(
        &s.call(Method::GET, "/ledger?wait=forever", None).await,
        StatusCode::BAD_REQUEST,
        Some("wait"),
        "bad wait",
    );
    assert_error(
        &s.call(Method::GET, "/ledger?limit=0", None).await,
        StatusCode::BAD_REQUEST,
        Some("limit"),
        "bad limit",
    );
    s.stop().await;
    db.cleanup().await;
}

async fn stream_follows_the_ledger(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
    let mut resp = s
        .req(Method::GET, "/ledger/stream?after=0")
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    let writer = {
        let (client, base) = (s.client.clone(), s.base.clone());
        tokio::spawn(async move {
            for i in 0..5 {
                let body = json!({"mutations": [row(100 + i, "streamed")]});
                client
                    .post(format!("{base}/families/fam/mutations"))
                    .header("ctlstore-writer", "writer1")
                    .header("ctlstore-secret", "secret1")
                    .json(&body)
                    .send()
                    .await
                    .expect("write");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < 6 && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("chunk in time")
            .expect("read");
        let Some(chunk) = chunk else { break };
        buffer.extend_from_slice(&chunk);
        while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=pos).collect();
            lines.push(serde_json::from_slice::<Value>(&line).expect("a JSON line"));
        }
    }
    writer.await.expect("writer");
    assert!(lines.len() >= 6, "CREATE TABLE and 5 rows: {lines:?}");
    let seqs: Vec<i64> = lines.iter().filter_map(|l| l["seq"].as_i64()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "in order, no gaps"
    );
    s.stop().await;
    db.cleanup().await;
}

async fn destructive_routes(backend: Backend) {
    let db = TestDb::create(backend).await;
    let safe = Server::start(&db.url, |_| {}).await;
    safe.fixture().await;
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
    let s = Server::start(&db.url, |c| c.enable_destructive_schema_changes = true).await;
    assert_eq!(
        s.mutate(
            "writer1",
            "secret1",
            "fam",
            json!({"mutations": [row(1, "a")]})
        )
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

async fn two_executives_one_ledger(backend: Backend) {
    let db = TestDb::create(backend).await;
    let a = Server::start(&db.url, |_| {}).await;
    let b = Server::start(&db.url, |_| {}).await;
    a.fixture().await;
    let start = a.head().await;
    let mut tasks = Vec::new();
    for (i, base) in [
        a.base.clone(),
        b.base.clone(),
        a.base.clone(),
        b.base.clone(),
    ]
    .into_iter()
    .enumerate()
    {
        let client = a.client.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10i64 {
                let id = i as i64 * 100 + j;
                let body = json!({"mutations": [row(id, &format!("w{i}")), row(id + 50, &format!("w{i}"))]});
                let resp = client.post(format!("{base}/families/fam/mutations")).header("ctlstore-writer", "writer1").header("ctlstore-secret", "secret1").json(&body).send().await.expect("write");
                assert_eq!(resp.status(), StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    for server in [&a, &b] {
        let entries = server.ledger(start).await;
        assert_eq!(entries.len(), 4 * 10 * 4, "BEGIN + 2 + COMMIT per request");
        let seqs: Vec<i64> = entries.iter().filter_map(|e| e["seq"].as_i64()).collect();
        assert_eq!(
            seqs,
            (start + 1..=start + 160).collect::<Vec<_>>(),
            "one gap-free order"
        );
        for batch in entries.chunks(4) {
            assert_eq!(batch[0]["statement"], "--- BEGIN");
            assert_eq!(batch[3]["statement"], "--- COMMIT");
        }
    }
    a.stop().await;
    b.stop().await;
    db.cleanup().await;
}

async fn admin_token_guards_schema_changes(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |c| c.admin_token = Some("t0ken".into())).await;
    assert_error(
        &s.call(Method::POST, "/families/fam", None).await,
        StatusCode::UNAUTHORIZED,
        Some("Authorization"),
        "no token",
    );
    let wrong = s
        .req(Method::POST, "/families/fam")
        .bearer_auth("nope")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = s
        .req(Method::POST, "/families/fam")
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

async fn health_and_metrics(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = Server::start(&db.url, |_| {}).await;
    s.fixture().await;
    assert_eq!(s.call(Method::GET, "/status", None).await.0, StatusCode::OK);
    let (status, health) = s.call(Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    s.mutate(
        "writer1",
        "secret1",
        "fam",
        json!({"mutations": [row(1, "a")]}),
    )
    .await;
    let metrics = s
        .req(Method::GET, "/metrics")
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
        .req(Method::GET, "/no/such/route")
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
    let s = Server::start(&db.url, |_| {}).await;
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
                    s.req(method.clone(), &concrete).send(),
                )
                .await
                .expect("headers")
                .expect("send")
            } else {
                s.req(method.clone(), &concrete).send().await.expect("send")
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
    assert_eq!(documented, 25, "the route table has 25 operations");
    s.stop().await;
    db.cleanup().await;
}
