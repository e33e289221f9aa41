//! Writers and what they write: registration (`POST /writers/{w}`, the raw body is the secret),
//! the operators' listing and removal (`GET /writers`, `DELETE /writers/{w}`), mutations
//! (`POST /families/{f}/mutations` with the `ctlstore-writer` / `ctlstore-secret` headers) and
//! the writer's cookie (`GET`/`POST /cookie`, raw bytes).
//!
//! A cookie is the writer's own bookmark, stored in the ctldb and committed in the same
//! transaction as the batch that sets it; `check_cookie` makes a batch apply only if the cookie
//! is still the one the writer last saw. Together they give a writer exactly-once batches across
//! its own crashes (see `ctlstore mutate`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize, Serializer};

use crate::schema::json_body;
use crate::{Client, ClientError, Row};

/// A writer's name and secret, sent as the `ctlstore-writer` / `ctlstore-secret` headers.
#[derive(Clone)]
pub struct WriterCredentials {
    pub name: String,
    secret: String,
}

impl WriterCredentials {
    pub fn new(name: impl Into<String>, secret: impl Into<String>) -> WriterCredentials {
        WriterCredentials {
            name: name.into(),
            secret: secret.into(),
        }
    }
}

/// Never prints the secret.
impl std::fmt::Debug for WriterCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterCredentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One writer of `GET /writers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterSummary {
    pub name: String,
}

#[derive(Deserialize)]
struct Writers {
    writers: Vec<WriterSummary>,
}

/// One mutation: an upsert of a whole row, or a delete by key (`values` holds at least the key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mutation {
    pub table: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete: bool,
    pub values: Row,
}

impl Mutation {
    /// An upsert of `values` (a JSON object; anything else is sent as an empty row, which the
    /// executive refuses naming the missing fields).
    pub fn upsert(table: impl Into<String>, values: serde_json::Value) -> Mutation {
        Mutation {
            table: table.into(),
            delete: false,
            values: into_row(values),
        }
    }

    /// A delete of the row whose key is in `values`.
    pub fn delete(table: impl Into<String>, values: serde_json::Value) -> Mutation {
        Mutation {
            table: table.into(),
            delete: true,
            values: into_row(values),
        }
    }
}

fn into_row(values: serde_json::Value) -> Row {
    match values {
        serde_json::Value::Object(row) => row,
        _ => Row::new(),
    }
}

/// The body of `POST /families/{f}/mutations`: up to 100 mutations applied in one transaction,
/// optionally setting the writer's cookie, and applied only if the cookie is `check_cookie`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MutationBatch {
    pub mutations: Vec<Mutation>,
    #[serde(
        serialize_with = "base64_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub cookie: Option<Vec<u8>>,
    #[serde(
        serialize_with = "base64_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub check_cookie: Option<Vec<u8>>,
}

impl MutationBatch {
    pub fn new(mutations: Vec<Mutation>) -> MutationBatch {
        MutationBatch {
            mutations,
            ..MutationBatch::default()
        }
    }

    /// The batch as the JSON text that is sent (for checking its size before sending).
    pub fn to_json(&self) -> Result<String, ClientError> {
        json_body(self)
    }
}

/// Cookies travel as Go encodes `[]byte`: standard base64.
fn base64_bytes<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_str(&STANDARD.encode(b)),
        None => s.serialize_none(),
    }
}

impl Client {
    fn as_writer(&self, request: RequestBuilder, writer: &WriterCredentials) -> RequestBuilder {
        request
            .header("ctlstore-writer", &writer.name)
            .header("ctlstore-secret", &writer.secret)
    }

    /// `POST /writers/{w}`: registers a writer (idempotent for the same secret; another secret
    /// is a 409).
    pub async fn register_writer(&self, writer: &WriterCredentials) -> Result<(), ClientError> {
        let url = self.url(&["writers", &writer.name]);
        let request = self.request(Method::POST, url).body(writer.secret.clone());
        self.call("register writer", request).await
    }

    /// `GET /writers`: every writer's name, sorted.
    pub async fn writers(&self) -> Result<Vec<WriterSummary>, ClientError> {
        let url = self.url(&["writers"]);
        let answer: Writers = self
            .fetch("list writers", self.request(Method::GET, url))
            .await?;
        Ok(answer.writers)
    }

    /// `DELETE /writers/{w}`: removes a writer and its rate limit.
    pub async fn remove_writer(&self, writer: &str) -> Result<(), ClientError> {
        let url = self.url(&["writers", writer]);
        self.call("remove writer", self.request(Method::DELETE, url))
            .await
    }

    /// `POST /families/{f}/mutations`: applies `batch` as `writer`, all or nothing.
    pub async fn mutate(
        &self,
        writer: &WriterCredentials,
        family: &str,
        batch: &MutationBatch,
    ) -> Result<(), ClientError> {
        let body = batch.to_json()?;
        self.mutate_json(writer, family, body).await
    }

    /// [`Client::mutate`] with the body already encoded (see [`MutationBatch::to_json`]).
    pub async fn mutate_json(
        &self,
        writer: &WriterCredentials,
        family: &str,
        body: String,
    ) -> Result<(), ClientError> {
        // With `check_cookie` a repeat cannot apply twice, so it may go to another executive.
        let checked = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .is_some_and(|b| b.get("check_cookie").is_some_and(|c| !c.is_null()));
        let url = self.url(&["families", family, "mutations"]);
        let request = self.as_writer(self.json(Method::POST, url, body), writer);
        self.send_to_any("mutate", request, checked).await.map(drop)
    }

    /// `GET /cookie`: the writer's cookie.
    pub async fn cookie(&self, writer: &WriterCredentials) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&["cookie"]);
        let request = self.as_writer(self.request(Method::GET, url), writer);
        let response = self.send("read cookie", request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::transport("read cookie", e))?;
        Ok(bytes.to_vec())
    }

    /// `POST /cookie`: sets the writer's cookie unconditionally.
    pub async fn set_cookie(
        &self,
        writer: &WriterCredentials,
        cookie: &[u8],
    ) -> Result<(), ClientError> {
        let url = self.url(&["cookie"]);
        let request = self.as_writer(self.request(Method::POST, url), writer);
        self.call("set cookie", request.body(cookie.to_vec())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_encode_as_ctlstore_reads_them() {
        let mut batch = MutationBatch::new(vec![
            Mutation::upsert("flags", json!({"name": "a", "enabled": 1})),
            Mutation::delete("flags", json!({"name": "b"})),
        ]);
        batch.cookie = Some(b"after".to_vec());
        batch.check_cookie = Some(b"before".to_vec());
        let sent: serde_json::Value =
            serde_json::from_str(&batch.to_json().expect("encodes")).expect("JSON");
        assert_eq!(
            sent,
            json!({
                "mutations": [
                    {"table": "flags", "values": {"name": "a", "enabled": 1}},
                    {"table": "flags", "delete": true, "values": {"name": "b"}},
                ],
                "cookie": "YWZ0ZXI=",
                "check_cookie": "YmVmb3Jl",
            })
        );
    }

    #[test]
    fn credentials_never_print_the_secret() {
        let text = format!("{:?}", WriterCredentials::new("w", "hunter2hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
