//! The ledger feed (`GET /ledger?after=SEQ&limit=N&wait=DURATION`, see the executive's
//! `routes/feed.rs`) and the executive's health (`GET /healthz`).
//!
//! A long-poll answer starts at once and sends a space every second while it waits (JSON allows
//! leading whitespace), then the page; an error found after the answer started is sent as the
//! body `{"error": ...}` with status 200, and is returned here as [`ClientError::Api`] with
//! that status.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::error_body;
use crate::{Client, ClientError};

/// One ledger entry: its sequence, the leader's timestamp and the SQL statement hosts apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub seq: i64,
    pub leader_ts: String,
    pub statement: String,
}

/// A page of the feed: entries after the asked seq, in order, and the newest seq the
/// executive knows of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    pub head: i64,
}

/// `GET /healthz`, as answered with 200 (healthy) or 503 (not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` or `unhealthy`.
    pub status: String,
    /// `up` or `down`.
    pub ctldb: String,
    /// `sqlite`, `mysql` or `postgres`.
    pub dialect: String,
    pub ledger_head: i64,
    /// The background task that stopped, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.status == "ok"
    }
}

/// What `POST /ledger/prune` is asked: every setting defaults to the executive's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneRequest {
    /// Only say what would be deleted.
    pub dry_run: bool,
    /// A Go duration (`168h`) or a number of entries (`1000000`) to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    /// Where the snapshots are: the horizon stays below the oldest one there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_url: Option<String>,
    /// Entries kept below the oldest snapshot's seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<i64>,
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneOutcome {
    pub dry_run: bool,
    pub retention: String,
    pub snapshot_url: String,
    pub margin: i64,
    pub head: i64,
    /// The horizon before this prune.
    pub horizon_before: i64,
    /// The bound `retention` alone sets.
    pub keep_bound: i64,
    pub oldest_snapshot: Option<i64>,
    /// Every entry at or below this seq is (or would be) gone.
    pub through: i64,
    /// Entries deleted (or that would be).
    pub entries: i64,
    pub first_seq: Option<i64>,
}

/// A long-poll's answer may take `wait`; the request is given that much more than the usual.
const WAIT_MARGIN: Duration = Duration::from_secs(10);

impl Client {
    /// `GET /ledger?after=SEQ[&limit=N][&wait=MS]`: entries with `seq > after`. With `wait`,
    /// the executive holds the request until an entry commits or `wait` passes.
    pub async fn ledger(
        &self,
        after: i64,
        limit: Option<u32>,
        wait: Option<Duration>,
    ) -> Result<LedgerPage, ClientError> {
        let mut url = self.url(&["ledger"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("after", &after.to_string());
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(wait) = wait {
                query.append_pair("wait", &wait.as_millis().to_string());
            }
        }
        let mut request = self.request(Method::GET, url);
        if let Some(wait) = wait {
            request = request.timeout(wait + WAIT_MARGIN);
        }
        let response = self.send("read the ledger", request).await?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::transport("read the ledger", e))?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
                what: "read the ledger".into(),
                reason: e.to_string(),
            })?;
        if json.get("error").is_some() {
            let (message, field) = error_body(&String::from_utf8_lossy(&body), status);
            return Err(ClientError::Api {
                status,
                message,
                field,
                retry_after: None,
            });
        }
        serde_json::from_value(json).map_err(|e| ClientError::Protocol {
            what: "read the ledger".into(),
            reason: e.to_string(),
        })
    }

    /// `POST /ledger/prune` (admin): prune the ledger once, or say what would go.
    pub async fn prune_ledger(&self, request: &PruneRequest) -> Result<PruneOutcome, ClientError> {
        let url = self.url(&["ledger", "prune"]);
        let body = crate::schema::json_body(request)?;
        self.fetch("prune the ledger", self.json(Method::POST, url, body))
            .await
    }

    /// `GET /healthz`. An unhealthy executive (503 with its health body) is an `Ok` whose
    /// [`Health::is_healthy`] is false; only an executive that cannot be reached, or an answer
    /// that is not a health body, is an error.
    pub async fn healthz(&self) -> Result<Health, ClientError> {
        let what = "read health";
        let url = self.url(&["healthz"]);
        let response = self
            .request(Method::GET, url)
            .send()
            .await
            .map_err(|e| ClientError::transport(what, e))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE {
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ClientError::transport(what, e))?;
            if let Ok(health) = serde_json::from_slice::<Health>(&bytes) {
                return Ok(health);
            }
            let (message, field) = error_body(&String::from_utf8_lossy(&bytes), status.as_u16());
            return Err(ClientError::Api {
                status: status.as_u16(),
                message,
                field,
                retry_after: None,
            });
        }
        Err(ClientError::from_answer(what, response).await)
    }
}
