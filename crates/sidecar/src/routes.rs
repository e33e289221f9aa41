//! The sidecar's routes and the one mapping of reader errors to HTTP answers.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ctlstore_reader::{Key, Reader, ReaderError, json};
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use crate::Config;

const HTTP: ctlstore_telemetry::HttpMetrics = ctlstore_telemetry::HttpMetrics {
    requests: "ctlstore_sidecar_requests_total",
    seconds: "ctlstore_sidecar_request_seconds",
};

#[derive(Clone)]
struct AppState {
    reader: Arc<Reader>,
    max_rows: usize,
}

pub fn router(reader: Arc<Reader>, config: Config) -> Router {
    let _ = ctlstore_telemetry::prometheus();
    Router::new()
        .route(
            "/get-row-by-key/{familyName}/{tableName}",
            post(get_row_by_key),
        )
        .route(
            "/get-rows-by-key-prefix/{familyName}/{tableName}",
            post(get_rows_by_key_prefix),
        )
        .route("/get-ledger-latency", get(ledger_latency))
        .route("/healthcheck", get(healthcheck))
        .route("/ping", get(healthcheck))
        .route("/healthz", get(healthcheck))
        .route("/metrics", get(ctlstore_telemetry::metrics_handler))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route".into(), None) })
        .layer(from_fn_with_state(HTTP, ctlstore_telemetry::track))
        .with_state(AppState {
            reader,
            max_rows: config.max_rows,
        })
}

fn error(status: StatusCode, message: String, field: Option<&str>) -> Response {
    let body = match field {
        Some(f) => json!({"error": message, "field": f}),
        None => json!({"error": message}),
    };
    (status, Json(body)).into_response()
}

fn reader_error(e: ReaderError) -> Response {
    match e {
        ReaderError::TableNotFound(_) => error(StatusCode::NOT_FOUND, e.to_string(), Some("table")),
        ReaderError::Name(n) => error(
            StatusCode::BAD_REQUEST,
            n.to_string(),
            Some(n.kind.as_str()),
        ),
        ReaderError::KeyArity { .. } | ReaderError::TooManyKeys { .. } => {
            error(StatusCode::BAD_REQUEST, e.to_string(), Some("key"))
        }
        ReaderError::KeyType { ref field, .. } => {
            let field = field.clone();
            error(StatusCode::BAD_REQUEST, e.to_string(), Some(&field))
        }
        ReaderError::NoLedgerUpdates | ReaderError::NotFound(_) => {
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None)
        }
        other => {
            tracing::error!(error = %other, "read the LDB");
            error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string(), None)
        }
    }
}

/// ctlstore's request body. Go clients send `Key`/`Value`/`Binary` (Go matches JSON names
/// case-insensitively), so both spellings are accepted.
#[derive(Deserialize)]
struct KeyBody {
    #[serde(default, alias = "Key", alias = "KEY")]
    key: Vec<KeyPart>,
}

#[derive(Deserialize)]
struct KeyPart {
    #[serde(default, alias = "Value", alias = "VALUE")]
    value: Option<Json_>,
    #[serde(default, alias = "Binary", alias = "BINARY")]
    binary: Option<String>,
}

/// A malformed key in a request body.
struct BadKey(String);

impl IntoResponse for BadKey {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.0, Some("key"))
    }
}

/// The key of a request body, converted as ctlstore converts it (`ctlstore_reader::json`).
/// A missing body is refused as ctlstore refuses it (`decode body: EOF`, there a 500): read as
/// an empty key, a prefix read would silently return the whole table.
fn keys(body: &Bytes) -> Result<Vec<Key>, BadKey> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BadKey(
            "decode body: EOF (send {\"key\": [...]}; an empty list reads the whole table)".into(),
        ));
    }
    let body: KeyBody =
        serde_json::from_slice(body).map_err(|e| BadKey(format!("decode body: {e}")))?;
    body.key
        .iter()
        .enumerate()
        .map(|(i, part)| json::key_part(i, part.value.as_ref(), part.binary.as_deref()))
        .collect::<Result<_, _>>()
        .map_err(|e| BadKey(e.to_string()))
}

/// JSON with a trailing newline, as Go's `json.Encoder` writes it.
fn json_line(value: &Json_) -> Response {
    let mut body = value.to_string();
    body.push('\n');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

// PERFORMANCE-CRITICAL PATH: a sidecar read.
async fn get_row_by_key(
    State(s): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let key = match keys(&body) {
        Ok(k) => k,
        Err(bad) => return bad.into_response(),
    };
    match s.reader.get_row(&family, &table, &key) {
        Ok(Some(row)) => json_line(&json::row_to_json(row)),
        Ok(None) => {
            let mut r = StatusCode::NOT_FOUND.into_response();
            r.headers_mut()
                .insert("X-Ctlstore", HeaderValue::from_static("Not Found"));
            r
        }
        Err(e) => reader_error(e),
    }
}

async fn get_rows_by_key_prefix(
    State(s): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let key = match keys(&body) {
        Ok(k) => k,
        Err(bad) => return bad.into_response(),
    };
    match s.reader.rows_by_key_prefix_values(&family, &table, &key) {
        Ok(rows) if s.max_rows > 0 && rows.len() > s.max_rows => {
            StatusCode::RANGE_NOT_SATISFIABLE.into_response()
        }
        Ok(rows) => json_line(&Json_::Array(
            rows.into_iter().map(json::row_to_json).collect(),
        )),
        Err(e) => reader_error(e),
    }
}

async fn ledger_latency(State(s): State<AppState>) -> Response {
    match s.reader.ledger_latency() {
        Ok(latency) => json_line(&json!({"value": latency.as_secs_f64(), "unit": "seconds"})),
        Err(e) => reader_error(e),
    }
}

async fn healthcheck(State(s): State<AppState>) -> Response {
    match s.reader.ledger_latency() {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => reader_error(e),
    }
}
