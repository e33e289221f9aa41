//! The heartbeat: every interval it upserts one row through the executive, so the ledger always
//! has a recent entry and a reader's `ledger_latency()` is a true bound on how stale its host is
//! (without writes, latency would grow forever on a healthy host).
//!
//! Requests are ctlstore's, in its order: `POST /writers/{writer}` (the secret as the body),
//! `POST /families/{family}` (200 or 409), `POST /families/{family}/tables/{table}` with
//! `{"fields":[["name","string"],["value","integer"]],"keyFields":["name"]}` (200 or 409), then
//! immediately and every interval `POST /families/{family}/mutations` with
//! `{"cookie":null,"mutations":[{"table":T,"delete":false,"values":{"name":"heartbeat","value":<unix ns>}}]}`.
//! Unlike ctlstore (which exits when setup fails) every step is retried with capped backoff,
//! logging while the executive is unreachable. The executive URL may omit its scheme (`http://`
//! is added, as ctlstore does: `ctlstore_schema::executive_base_url`), and may name several
//! executives, comma-separated: a request that one cannot take (unreachable, 5xx) goes to the
//! next at once.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// ctlstore's heartbeat settings and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub executive_url: String,
    pub family: String,
    pub table: String,
    pub writer: String,
    pub secret: String,
    pub interval: Duration,
    /// TLS to the executive (`--tls-ca`, `--tls-client-cert`, `--tls-client-key`).
    pub tls: ctlstore_tls::ClientTls,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            executive_url: "ctlstore-executive.segment.local".into(),
            family: ctlstore_schema::DEFAULT_HEARTBEAT_FAMILY.into(),
            table: "heartbeats".into(),
            writer: "heartbeat".into(),
            secret: String::new(),
            interval: Duration::from_secs(15),
            tls: ctlstore_tls::ClientTls::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{step}: the executive answered {status}: {body}")]
    Refused {
        step: &'static str,
        status: u16,
        body: String,
    },
}

impl HeartbeatError {
    /// The executive could not take the request (unreachable, or a 5xx): another may.
    fn is_unavailable(&self) -> bool {
        match self {
            HeartbeatError::Http(_) => true,
            HeartbeatError::Refused { status, .. } => *status >= 500,
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

struct Client {
    http: reqwest::Client,
    /// Every executive named (`-executive-url a,b,c`).
    bases: Vec<String>,
    /// The one in use: a request that fails on it (down, 5xx) goes to the next at once.
    at: std::sync::atomic::AtomicUsize,
    config: Config,
}

impl Client {
    /// `post_to` the executive in use, then each other one while they fail (transport errors and
    /// 5xx); the last failure is returned. A heartbeat or a setup step sent twice is harmless.
    async fn post(
        &self,
        step: &'static str,
        path: &str,
        body: String,
        json: bool,
        ok_conflict: bool,
    ) -> Result<(), HeartbeatError> {
        use std::sync::atomic::Ordering;
        let mut last = None;
        for _ in 0..self.bases.len().max(1) {
            let at = self.at.load(Ordering::Relaxed) % self.bases.len().max(1);
            let Some(base) = self.bases.get(at) else {
                break;
            };
            match self
                .post_to(base, step, path, body.clone(), json, ok_conflict)
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) if e.is_unavailable() => {
                    self.at.store(at + 1, Ordering::Relaxed);
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(HeartbeatError::Refused {
            step,
            status: 0,
            body: "no executive URL".into(),
        }))
    }

    async fn post_to(
        &self,
        base: &str,
        step: &'static str,
        path: &str,
        body: String,
        json: bool,
        ok_conflict: bool,
    ) -> Result<(), HeartbeatError> {
        let mut request = self.http.post(format!("{base}{path}")).body(body);
        request = if json {
            request.header("Content-Type", "application/json")
        } else {
            request.header("Content-Type", "text/plain")
        };
        if path.ends_with("/mutations") {
            request = request
                .header("ctlstore-writer", &self.config.writer)
                .header("ctlstore-secret", &self.config.secret);
        }
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() || (ok_conflict && status.as_u16() == 409) {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(HeartbeatError::Refused {
            step,
            status: status.as_u16(),
            body,
        })
    }

    async fn setup(&self) -> Result<(), HeartbeatError> {
        let c = &self.config;
        self.post(
            "register writer",
            &format!("/writers/{}", c.writer),
            c.secret.clone(),
            false,
            false,
        )
        .await?;
        self.post(
            "create family",
            &format!("/families/{}", c.family),
            String::new(),
            false,
            true,
        )
        .await?;
        let table =
            json!({"fields": [["name", "string"], ["value", "integer"]], "keyFields": ["name"]});
        self.post(
            "create table",
            &format!("/families/{}/tables/{}", c.family, c.table),
            table.to_string(),
            true,
            true,
        )
        .await
    }

    async fn beat(&self) -> Result<(), HeartbeatError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let body = json!({"cookie": null, "mutations": [{"table": self.config.table, "delete": false, "values": {"name": "heartbeat", "value": nanos}}]});
        self.post(
            "heartbeat",
            &format!("/families/{}/mutations", self.config.family),
            body.to_string(),
            true,
            false,
        )
        .await
    }
}

/// Runs until `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HeartbeatError> {
    let bases = ctlstore_schema::executive_base_urls(&config.executive_url);
    let http = config
        .tls
        .apply(
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(10)),
        )
        .build()?;
    let client = Client {
        http,
        bases,
        at: std::sync::atomic::AtomicUsize::new(0),
        config,
    };
    tokio::select! {
        _ = beat_forever(&client) => Ok(()),
        _ = shutdown => Ok(()),
    }
}

async fn beat_forever(client: &Client) {
    let mut backoff = Duration::from_millis(250);
    while let Err(e) = client.setup().await {
        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "heartbeat setup");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    tracing::info!(family = %client.config.family, table = %client.config.table, interval_ms = client.config.interval.as_millis() as u64, "heartbeat running");
    let mut tick = tokio::time::interval(client.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = client.beat().await {
            tracing::warn!(error = %e, "heartbeat not written");
        }
    }
}
