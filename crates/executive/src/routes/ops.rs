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

/// `/healthz`: 200 `{"status": "ok", "ctldb": "up", ...}` while the ctldb answers and every
/// background task runs; otherwise 503 with `"ctldb": "down"` and the database's error, or with
/// the background task that stopped (`stopped_task`). Answered within the ctldb's acquire
/// timeout (about a second) even when the ctldb is unreachable.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let s = &state.0;
    let ping = s.ctldb.ping().await;
    let mut body = json!({
        "status": "ok",
        "ctldb": if ping.is_ok() { "up" } else { "down" },
        "dialect": s.ctldb.dialect().name(),
        "ledger_head": s.feed.head(),
    });
    let mut errors = Vec::new();
    if let Err(e) = &ping {
        errors.push(e.to_string());
    }
    if let Some(failure) = state.failure() {
        body["stopped_task"] = json!(failure.task);
        errors.push(failure.to_string());
    }
    if errors.is_empty() {
        return Json(body).into_response();
    }
    body["status"] = json!("unhealthy");
    body["error"] = json!(errors.join("; "));
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

pub use ctlstore_telemetry::metrics_handler as metrics;

pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::TaskFailure;

    async fn health_of(state: &AppState) -> (StatusCode, serde_json::Value) {
        let response = healthz(State(state.clone())).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("read the body");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn healthz_names_a_stopped_background_task() {
        let dir = std::env::temp_dir().join(format!("ctlstore-healthz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a directory");
        let url = format!("sqlite:{}", dir.join("ctldb.db").display());
        let ctldb = ctlstore_ctldb::Ctldb::connect(&url, Default::default())
            .await
            .expect("open the ctldb");
        let state = AppState::new(ctldb.clone(), crate::Config::default(), None);
        let (status, body) = health_of(&state).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["ctldb"], "up");

        state.record_failure(&TaskFailure {
            task: "table sizer",
            reason: "it returned".into(),
        });
        let (status, body) = health_of(&state).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["stopped_task"], "table sizer");
        assert_eq!(body["ctldb"], "up", "the ctldb itself is fine: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("table sizer")),
            "{body}"
        );
        ctldb.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
