//! A client for an executive at any base URL (served in this process by
//! [`crate::TestExecutive`], or a `ctlstore executive` process): the admin calls tests make,
//! [`ExecutiveClient::register`] for the usual family, tables and writer, and [`WriterClient`],
//! which sends a writer's credentials with every request.

use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// An executive's HTTP API at `base`, without credentials.
#[derive(Clone)]
pub struct ExecutiveClient {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    pub client: Client,
}

/// One table of a [`SchemaDef`]: `fields` as (name, API type) in column order, `keys` in
/// primary-key order.
pub struct TableDef<'a> {
    pub name: &'a str,
    pub fields: &'a [(&'a str, &'a str)],
    pub keys: &'a [&'a str],
}

/// What [`ExecutiveClient::register`] creates: a family, its tables and a writer.
pub struct SchemaDef<'a> {
    pub family: &'a str,
    pub tables: &'a [TableDef<'a>],
    pub writer: &'a str,
    pub secret: &'a str,
}

/// The schema the latency and fan-out benchmarks write to: `bench.items(id, v)`, key `id`,
/// written by `bencher` / `secret1`.
pub const BENCH_SCHEMA: SchemaDef<'static> = SchemaDef {
    family: "bench",
    tables: &[TableDef {
        name: "items",
        fields: &[("id", "integer"), ("v", "integer")],
        keys: &["id"],
    }],
    writer: "bencher",
    secret: "secret1",
};

impl ExecutiveClient {
    pub fn new(base: impl Into<String>) -> ExecutiveClient {
        ExecutiveClient::with_client(base, Client::new())
    }

    /// Through `client` (one configured for TLS, say).
    pub fn with_client(base: impl Into<String>, client: Client) -> ExecutiveClient {
        ExecutiveClient {
            base: base.into().trim_end_matches('/').to_string(),
            client,
        }
    }

    /// Waits until `/healthz` answers 200; panics after `within`.
    pub async fn wait_until_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let health = self.request(Method::GET, "/healthz").send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the executive at {} did not become healthy in {within:?}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path`, to add headers or a body to.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends `body` (as JSON, when given) to `path`: the status and the answer, parsed as JSON
    /// when it is JSON and as a JSON string otherwise.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("send the request")).await
    }

    /// Creates the family, its tables and the writer of `schema`, asserting each answer is 200,
    /// and returns the writer's client.
    pub async fn register(&self, schema: &SchemaDef<'_>) -> WriterClient {
        let family = schema.family;
        let (status, body) = self
            .call(Method::POST, &format!("/families/{family}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "create family {family}: {body}");
        for table in schema.tables {
            let fields: Vec<[&str; 2]> = table.fields.iter().map(|(n, t)| [*n, *t]).collect();
            let definition = json!({"fields": fields, "keyFields": table.keys});
            let path = format!("/families/{family}/tables/{}", table.name);
            let (status, body) = self.call(Method::POST, &path, Some(definition)).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "create table {}: {body}",
                table.name
            );
        }
        let registered = self
            .request(Method::POST, &format!("/writers/{}", schema.writer))
            .body(schema.secret.to_string())
            .send()
            .await
            .expect("register the writer");
        assert_eq!(
            registered.status(),
            StatusCode::OK,
            "register {}",
            schema.writer
        );
        self.writer(schema.writer, schema.secret)
    }

    /// A client sending `writer`'s credentials (registered or not).
    pub fn writer(&self, writer: &str, secret: &str) -> WriterClient {
        WriterClient {
            base: self.base.clone(),
            client: self.client.clone(),
            writer: writer.to_string(),
            secret: secret.to_string(),
        }
    }

    /// The ledger entries after `after` (`GET /ledger`), as JSON objects.
    pub async fn ledger(&self, after: i64) -> Vec<Value> {
        let path = format!("/ledger?after={after}&limit=10000");
        let (status, page) = self.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["entries"].as_array().cloned().unwrap_or_default()
    }

    /// The ledger statements after `after`, in seq order.
    pub async fn statements(&self, after: i64) -> Vec<String> {
        self.ledger(after)
            .await
            .iter()
            .map(|e| e["statement"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The seq of the last ledger entry (0 when empty): from the head the executive reports,
    /// then page after page past it (another executive's commits may not have reached this
    /// one's report yet). Never reads below the report, which a pruned ledger answers 410.
    pub async fn head(&self) -> i64 {
        let (status, page) = self
            .call(
                Method::GET,
                &format!("/ledger?after={}&limit=1", i64::MAX / 2),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut head = page["head"].as_i64().unwrap_or(0);
        loop {
            match self
                .ledger(head)
                .await
                .last()
                .and_then(|e| e["seq"].as_i64())
            {
                Some(seq) => head = seq,
                None => return head,
            }
        }
    }
}

/// Talks to an executive as one writer: every request carries `ctlstore-writer` and
/// `ctlstore-secret`.
#[derive(Clone)]
pub struct WriterClient {
    pub base: String,
    pub client: Client,
    pub writer: String,
    pub secret: String,
}

impl WriterClient {
    /// A request to `path` with the writer's headers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("ctlstore-writer", &self.writer)
            .header("ctlstore-secret", &self.secret)
    }

    /// `POST /families/{family}/mutations` with `body`: the status and the answer (see
    /// [`ExecutiveClient::call`]).
    pub async fn mutate(&self, family: &str, body: &Value) -> (StatusCode, Value) {
        let request = self
            .request(Method::POST, &format!("/families/{family}/mutations"))
            .json(body);
        answer(request.send().await.expect("send the mutation")).await
    }

    /// [`WriterClient::mutate`], asserting 200.
    pub async fn mutate_ok(&self, family: &str, body: &Value) {
        let (status, answer) = self.mutate(family, body).await;
        assert_eq!(status, StatusCode::OK, "mutation refused: {answer}");
    }

    /// The writer's cookie (`GET /cookie`): the status and the raw bytes.
    pub async fn cookie(&self) -> (StatusCode, Vec<u8>) {
        let response = self
            .request(Method::GET, "/cookie")
            .send()
            .await
            .expect("send the cookie request");
        let status = response.status();
        let bytes = response.bytes().await.expect("read the cookie");
        (status, bytes.to_vec())
    }
}

async fn answer(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("read the answer");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}
