//! The reflector's HTTP endpoint (ctlstore's `-metrics-bind`): `/healthz` (200 or 503),
//! `/status` (JSON) and `/metrics` (Prometheus).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

use crate::Status;

pub fn health_router(status: Arc<Status>) -> Router {
    let _ = ctlstore_telemetry::prometheus();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(report))
        .route("/metrics", get(ctlstore_telemetry::metrics_handler))
        .with_state(status)
}

async fn healthz(State(status): State<Arc<Status>>) -> Response {
    let report = status.report();
    let code = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report)).into_response()
}

async fn report(State(status): State<Arc<Status>>) -> Response {
    Json(status.report()).into_response()
}
