//! A typed async HTTP client for the executive: one method per route, answers as Rust types, and
//! every refusal as [`ClientError::Api`] carrying the executive's status, message and field.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ctlstore_client::ClientError> {
//! use ctlstore_client::{Client, TableDefinition, WriterCredentials, Mutation, MutationBatch};
//! let client = Client::new("127.0.0.1:3000")?.with_admin_token(Some("token".into()));
//! client.create_family("demo").await?;
//! client
//!     .create_table("demo", "flags", &TableDefinition::new(
//!         [("name", "string"), ("enabled", "integer")], ["name"]))
//!     .await?;
//! let writer = WriterCredentials::new("loader", "a-long-secret");
//! client.register_writer(&writer).await?;
//! let row = serde_json::json!({"name": "new-ui", "enabled": 1});
//! let batch = MutationBatch::new(vec![Mutation::upsert("flags", row)]);
//! client.mutate(&writer, "demo", &batch).await?;
//! # Ok(()) }
//! ```
//!
//! It exists so that the operator CLI (`ctlstore <noun> <verb>`), and later the heartbeat, the
//! loaders and test fixtures, speak the executive's API from one definition of its routes and
//! shapes instead of each building URLs and parsing JSON by hand.
//!
//! Architecture invariant: HTTP only (reqwest without default features); it never talks to a
//! ctldb or an LDB, and among our crates depends on `schema` only (for the URL rule).

mod error;
mod ledger;
mod limits;
mod reads;
mod schema;
mod writers;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;

pub use error::ClientError;
pub use ledger::{Health, LedgerEntry, LedgerPage, PruneOutcome, PruneRequest};
pub use limits::{RateLimit, SizeLimit, TableLimit, TableLimits, WriterLimit, WriterLimits};
pub use reads::RowsPage;
pub use schema::{
    FamilySummary, FamilyTables, IndexDefinition, TableDefinition, TableInfo, TableSchema,
};
pub use writers::{Mutation, MutationBatch, WriterCredentials, WriterSummary};

/// How long one request may take, unless the call says otherwise (a long-poll waits longer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may take: an executive host that does not answer at all is given up
/// within this, so a client with several executives moves on within 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A JSON object: a row, or the values of a mutation.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// An executive at a base URL (or several executives of one ctldb), optionally with the admin
/// token its admin routes need.
///
/// Several executives (`"http://e1:3000,http://e2:3000"`): a request goes to the one in use; when
/// it cannot be reached or answers 5xx the client moves to the next for good, and sends the
/// request there again unless that could apply it twice: a mutation without `check_cookie` that
/// reached an executive (which may have committed it before failing) is answered with the error,
/// and only the next request goes to the next executive. Everything else is safe to repeat:
/// reads, schema and admin changes (a repeat is a no-op or a 409), and mutations with
/// `check_cookie` (a repeat is refused by the cookie check).
#[derive(Clone)]
pub struct Client {
    bases: Vec<Url>,
    /// Index into `bases` of the executive in use, shared by clones.
    at: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    http: reqwest::Client,
    admin_token: Option<String>,
}

impl Client {
    /// The executive at `url`: a URL, `host:port` or a host (`http://` is added when the scheme
    /// is missing, as ctlstore does); or several, comma-separated.
    pub fn new(url: &str) -> Result<Client, ClientError> {
        Client::with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// [`Client::new`] with another per-request timeout.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<Client, ClientError> {
        Client::with_tls(url, timeout, &ctlstore_tls::ClientTls::default())
    }

    /// [`Client::with_timeout`] over TLS as `tls` says (`--tls-ca`, `--tls-client-cert`,
    /// `--tls-client-key`).
    pub fn with_tls(
        url: &str,
        timeout: Duration,
        tls: &ctlstore_tls::ClientTls,
    ) -> Result<Client, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let mut bases = Vec::new();
        for text in ctlstore_schema::executive_base_urls(url) {
            let base = Url::parse(&text).map_err(|e| invalid(e.to_string()))?;
            if base.cannot_be_a_base() {
                return Err(invalid("not a base URL".into()));
            }
            bases.push(base);
        }
        if bases.is_empty() {
            return Err(invalid("no URL".into()));
        }
        let http = tls
            .apply(
                reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(timeout),
            )
            .build()
            .map_err(|e| ClientError::transport("build an HTTP client", e))?;
        Ok(Client {
            bases,
            at: Default::default(),
            http,
            admin_token: None,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every request (the admin routes need it
    /// when the executive has a token; other routes ignore it).
    pub fn with_admin_token(mut self, token: Option<String>) -> Client {
        self.admin_token = token.filter(|t| !t.is_empty());
        self
    }

    /// The base URL of the executive in use, as completed (`http://127.0.0.1:3000/`).
    pub fn base_url(&self) -> &Url {
        let at = self.at.load(std::sync::atomic::Ordering::Relaxed);
        &self.bases[at % self.bases.len()]
    }

    /// The URL of the route made of `segments` (each percent-encoded as needed), on the first
    /// executive ([`Client::send`] moves it to the one in use).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.bases[0].clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A request with a JSON body.
    fn json(&self, method: Method, url: Url, body: String) -> RequestBuilder {
        self.request(method, url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// Sends a request; a non-2xx answer becomes [`ClientError::Api`]. The request is sent again
    /// to the next executive when one fails (see [`Client`]).
    async fn send(&self, what: &str, request: RequestBuilder) -> Result<Response, ClientError> {
        self.send_to_any(what, request, true).await
    }

    /// [`Client::send`]; `repeatable`: the request may be sent again after it reached an
    /// executive that failed (false for a mutation without `check_cookie`).
    async fn send_to_any(
        &self,
        what: &str,
        request: RequestBuilder,
        repeatable: bool,
    ) -> Result<Response, ClientError> {
        use std::sync::atomic::Ordering;
        let request = request
            .build()
            .map_err(|e| ClientError::transport(what, e))?;
        let n = self.bases.len();
        let mut last = None;
        for _ in 0..n {
            let at = self.at.load(Ordering::Relaxed) % n;
            let mut attempt = match request.try_clone() {
                Some(a) => a,
                None => return self.finish(what, self.http.execute(request).await).await,
            };
            *attempt.url_mut() = self.rebase(request.url(), at);
            let outcome = self.http.execute(attempt).await;
            let failed_here = match &outcome {
                Ok(r) => r.status().is_server_error(),
                Err(_) => true,
            };
            if !failed_here || n == 1 {
                return self.finish(what, outcome).await;
            }
            // This executive cannot take requests now: the next one from here on.
            let _ =
                self.at
                    .compare_exchange(at, (at + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
            let nothing_sent = matches!(&outcome, Err(e) if e.is_connect());
            let error = self.finish(what, outcome).await.err();
            if !(nothing_sent || repeatable) {
                return Err(error.unwrap_or_else(|| ClientError::Protocol {
                    what: what.to_string(),
                    reason: "failed".into(),
                }));
            }
            last = error;
        }
        Err(last.unwrap_or_else(|| ClientError::Protocol {
            what: what.to_string(),
            reason: "no executive answered".into(),
        }))
    }

    /// An outcome as this crate's answer.
    async fn finish(
        &self,
        what: &str,
        outcome: Result<Response, reqwest::Error>,
    ) -> Result<Response, ClientError> {
        let response = outcome.map_err(|e| ClientError::transport(what, e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(ClientError::from_answer(what, response).await)
    }

    /// `url` (built on the first executive) on executive `at`.
    fn rebase(&self, url: &Url, at: usize) -> Url {
        let first = self.bases[0].as_str();
        match url.as_str().strip_prefix(first) {
            Some(rest) if at > 0 => {
                let mut base = self.bases[at].as_str().to_string();
                if !base.ends_with('/') {
                    base.push('/');
                }
                Url::parse(&format!("{base}{rest}")).unwrap_or_else(|_| url.clone())
            }
            _ => url.clone(),
        }
    }

    /// Sends a request whose answer carries no body of interest.
    async fn call(&self, what: &str, request: RequestBuilder) -> Result<(), ClientError> {
        self.send(what, request).await.map(drop)
    }

    /// Sends a request and decodes its JSON answer.
    async fn fetch<T: DeserializeOwned>(
        &self,
        what: &str,
        request: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(what, request).await?;
        decode(what, response).await
    }
}

/// The body of a successful answer as `T`.
async fn decode<T: DeserializeOwned>(what: &str, response: Response) -> Result<T, ClientError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ClientError::transport(what, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Whether an error is the executive saying "no such thing" about `field`.
fn is_not_found(error: &ClientError, field: &str) -> bool {
    matches!(error, ClientError::Api { status, field: Some(f), .. }
        if *status == StatusCode::NOT_FOUND.as_u16() && f == field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_complete_the_scheme_and_encode_segments() {
        let client = Client::new("127.0.0.1:3000").expect("a client");
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:3000/");
        assert_eq!(
            client.url(&["families", "a b", "tables"]).as_str(),
            "http://127.0.0.1:3000/families/a%20b/tables"
        );
        let prefixed = Client::new("http://host:1/api/").expect("a client");
        assert_eq!(
            prefixed.url(&["healthz"]).as_str(),
            "http://host:1/api/healthz"
        );
    }

    #[test]
    fn a_url_that_cannot_be_parsed_is_refused() {
        assert!(matches!(
            Client::new("http://[::1"),
            Err(ClientError::InvalidUrl { .. })
        ));
    }
}
