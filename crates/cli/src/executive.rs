//! The executive over HTTP, as ctlstore-cli talks to it: one request per verb, the answer's
//! status and body handed back for the verb to judge.

use std::error::Error as _;
use std::time::Duration;

use reqwest::{Method, Url};

use crate::Failure;

/// ctlstore-cli gives a whole invocation 30 seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An executive at a base URL (`http://host:port`, without a trailing slash).
pub struct Executive {
    base: String,
    http: reqwest::Client,
}

/// The executive's answer: its status and its body as text.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn is_ok(&self) -> bool {
        self.status == 200
    }

    /// ctlstore-cli's message for an answer it did not expect:
    /// `<what>: server returned [<status>]: <message>`.
    pub fn rejected(&self, what: &str) -> Failure {
        Failure(format!(
            "{what}: server returned [{}]: {}",
            self.status,
            self.message()
        ))
    }

    /// The executive's message: the `error` member of this executive's JSON errors
    /// (`{"error": ..., "field": ...}`), else the body as is (ctlstore's executive answers
    /// errors as plain text).
    pub fn message(&self) -> String {
        let parsed = serde_json::from_str::<serde_json::Value>(&self.body);
        match parsed.as_ref().ok().and_then(|v| v.get("error")) {
            Some(serde_json::Value::String(message)) => message.clone(),
            _ => self.body.clone(),
        }
    }
}

impl Executive {
    /// The executive the `-e` flag (and the TLS flags) name.
    pub fn connect(args: &crate::args::Executive) -> Result<Executive, Failure> {
        let tls = args.tls.load().map_err(|e| Failure(e.to_string()))?;
        Executive::with_tls(&args.url, &tls)
    }

    /// The executive at `url` (a host, `host:port` or a URL; `http://` is added when missing).
    fn with_tls(url: &str, tls: &ctlstore_tls::ClientTls) -> Result<Executive, Failure> {
        let base = ctlstore_schema::executive_base_url(url);
        Url::parse(&base).map_err(|e| Failure(format!("invalid url: {e}")))?;
        let http = tls
            .apply(reqwest::Client::builder().timeout(REQUEST_TIMEOUT))
            .build()
            .map_err(|e| Failure(format!("could not create request: {}", chain(&e))))?;
        Ok(Executive { base, http })
    }

    /// Sends one request to `path` (which starts with `/`), with `body` as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Failure> {
        let url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Failure(format!("could not create request: {e}")))?;
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure(format!("could not make request: {}", chain(&e))))?;
        let status = response.status().as_u16();
        // A body that cannot be read is reported as empty, as ctlstore-cli does.
        let body = response.text().await.unwrap_or_default();
        Ok(Answer { status, body })
    }
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
