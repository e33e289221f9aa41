//! What the loader reports: `/healthz` (200 while loading or caught up, 503 with the reason
//! once halted), `/status` (positions and lag, JSON) and `/metrics` (Prometheus).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::metrics;

/// The loader's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    /// The initial copy of a PostgreSQL publication.
    Copying,
    Streaming,
    /// Waiting for the source (unreachable, or held by another loader).
    Waiting,
    Halted,
    /// A file source was read to its end.
    Finished,
}

/// `/status`'s body.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub phase: Phase,
    /// The newest position read from the source.
    pub source_position: Option<String>,
    /// The position the writer's cookie holds: everything up to it is in ctlstore.
    pub applied_position: Option<String>,
    /// How long the oldest change read but not yet applied has waited (0 when caught up).
    pub lag_seconds: f64,
    /// Changes read from the source or known to be in it (Kafka, JetStream) and not yet
    /// applied.
    pub lag_entries: u64,
    pub rows_applied: u64,
    pub batches_applied: u64,
    pub transactions_split: u64,
    /// Why the loader halted or waits.
    pub reason: Option<String>,
}

/// Shared between the loader and the status server.
#[derive(Clone)]
pub struct Status {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    report: Report,
    /// Since when the oldest unapplied change has waited.
    pending_since: Option<Instant>,
}

impl Status {
    pub fn new(source: &str) -> Status {
        Status {
            inner: Arc::new(Mutex::new(Inner {
                report: Report {
                    source: source.to_string(),
                    phase: Phase::Starting,
                    source_position: None,
                    applied_position: None,
                    lag_seconds: 0.0,
                    lag_entries: 0,
                    rows_applied: 0,
                    batches_applied: 0,
                    transactions_split: 0,
                    reason: None,
                },
                pending_since: None,
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic elsewhere cannot leave the report half-written in a way that matters: take
        // it as it is.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner)
    }

    pub fn phase(&self, phase: Phase, reason: Option<String>) {
        metrics::halted(phase == Phase::Halted);
        self.with(|i| {
            i.report.phase = phase;
            i.report.reason = reason;
        });
    }

    /// A change was read from the source.
    pub fn read(&self, position: String, pending: u64) {
        self.with(|i| {
            i.report.source_position = Some(position);
            i.report.lag_entries = i.report.lag_entries.max(pending);
            i.pending_since.get_or_insert_with(Instant::now);
        });
    }

    /// How many entries the source holds beyond what was read (Kafka high watermarks,
    /// JetStream's last sequence).
    pub fn backlog(&self, entries: u64) {
        self.with(|i| i.report.lag_entries = entries);
    }

    /// A batch was applied; `pending` changes are still waiting.
    pub fn applied(
        &self,
        position: String,
        rows: usize,
        pending: u64,
        committed_at: Option<SystemTime>,
    ) {
        self.with(|i| {
            i.report.applied_position = Some(position);
            i.report.rows_applied += rows as u64;
            i.report.batches_applied += 1;
            i.report.lag_entries = pending;
            if pending == 0 {
                i.pending_since = None;
            }
            i.report.lag_seconds = committed_at
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
        });
    }

    pub fn position(&self, position: String) {
        self.with(|i| i.report.applied_position = Some(position));
    }

    pub fn split(&self) {
        self.with(|i| i.report.transactions_split += 1);
    }

    pub fn report(&self) -> Report {
        self.with(|i| {
            let mut report = i.report.clone();
            if let Some(since) = i.pending_since {
                report.lag_seconds = report.lag_seconds.max(since.elapsed().as_secs_f64());
            } else {
                report.lag_seconds = 0.0;
            }
            metrics::lag(report.lag_seconds, report.lag_entries);
            report
        })
    }
}

pub fn router(status: Status) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(report))
        .route("/metrics", get(metrics_text))
        .with_state(status)
}

async fn healthz(State(status): State<Status>) -> Response {
    let report = status.report();
    let body = serde_json::json!({"phase": report.phase, "reason": report.reason});
    let code = if report.phase == Phase::Halted {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

async fn report(State(status): State<Status>) -> Json<Report> {
    Json(status.report())
}

async fn metrics_text(State(status): State<Status>) -> Response {
    // Refreshes the lag gauges.
    status.report();
    match ctlstore_telemetry::render() {
        Some(text) => (
            [(header::CONTENT_TYPE, ctlstore_telemetry::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

/// Serves the status routes on `bind` until `shutdown`.
pub async fn serve(
    bind: SocketAddr,
    status: Status,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "loader status on /healthz, /status, /metrics");
    axum::serve(listener, router(status))
        .with_graceful_shutdown(shutdown)
        .await
}
