//! Operations: `/status` (ctlstore's: always 200, empty body), `/healthz` (the ctldb answers),
//! `/metrics` (Prometheus text) and `/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// ctlstore's `/status`: 200 with an empty body while the process serves (its `HealthCheck` has
/// nothing to check). `/healthz` is the one that asks the ctldb.
pub async fn status() -> Response {
    StatusCode::OK.into_response()
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.0.ctldb.ping().await {
        Ok(()) => Json(json!({"status": "ok", "ctldb": state.0.ctldb.dialect().name(), "ledger_head": state.0.feed.head()}))
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unhealthy", "error": e.to_string()})))
            .into_response(),
    }
}

pub use ctlstore_telemetry::metrics_handler as metrics;

pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}
