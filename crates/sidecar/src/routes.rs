//! The sidecar's route table, its router, and the one mapping of reader errors to HTTP answers.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use ctlstore_reader::{Key, Reader, ReaderError, json};
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use crate::Config;

const HTTP: ctlstore_telemetry::HttpMetrics = ctlstore_telemetry::HttpMetrics {
    requests: "ctlstore_sidecar_requests_total",
    seconds: "ctlstore_sidecar_request_seconds",
};

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) reader: Arc<Reader>,
    max_rows: usize,
}

/// One route: its method and path, and the handler that serves it.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    serve: fn() -> MethodRouter<AppState>,
}

/// Every route of the sidecar. The router is built from this table and the OpenAPI document
/// (`openapi.rs`) is generated from it, so a route cannot be served without being documented;
/// a test checks each is served with its method.
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/get-row-by-key/{familyName}/{tableName}",
        serve: || post(get_row_by_key),
    },
    Route {
        method: "POST",
        path: "/get-rows-by-key-prefix/{familyName}/{tableName}",
        serve: || post(get_rows_by_key_prefix),
    },
    Route {
        method: "POST",
        path: "/get-rows-by-index/{familyName}/{tableName}/{indexName}",
        serve: || post(get_rows_by_index),
    },
    Route {
        method: "GET",
        path: "/feed",
        serve: || get(feed_retention),
    },
    Route {
        method: "GET",
        path: "/watch/{familyName}/{tableName}",
        serve: || get(crate::watch::watch),
    },
    Route {
        method: "GET",
        path: "/get-ledger-latency",
        serve: || get(ledger_latency),
    },
    Route {
        method: "GET",
        path: "/healthcheck",
        serve: || get(healthcheck),
    },
    Route {
        method: "GET",
        path: "/ping",
        serve: || get(healthcheck),
    },
    Route {
        method: "GET",
        path: "/healthz",
        serve: || get(healthcheck),
    },
    Route {
        method: "GET",
        path: "/metrics",
        serve: || get(ctlstore_telemetry::metrics_handler),
    },
    Route {
        method: "GET",
        path: "/openapi.json",
        serve: || get(openapi),
    },
    Route {
        method: "GET",
        path: ctlstore_apidocs::DOCS_PATH,
        serve: || get(ctlstore_apidocs::page),
    },
];

/// Marks answers that come from no route (`none`) or a route without that method (`method`), so
/// clients and tests can tell them from a handler's own 404 (an unknown table, say).
pub const NO_ROUTE_HEADER: &str = "x-ctlstore-route";

pub fn router(reader: Arc<Reader>, config: Config) -> Router {
    let _ = ctlstore_telemetry::prometheus();
    let routes = ROUTES.iter().fold(Router::new(), |r, route| {
        r.route(route.path, (route.serve)())
    });
    // Swagger UI's files under /docs/ (its page is a route of the table above).
    routes
        .merge(ctlstore_apidocs::assets())
        .fallback(|| async { unrouted(StatusCode::NOT_FOUND, "no such route", "none") })
        .method_not_allowed_fallback(|| async {
            unrouted(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
                "method",
            )
        })
        .layer(from_fn_with_state(HTTP, ctlstore_telemetry::track))
        .with_state(AppState {
            reader,
            max_rows: config.max_rows,
        })
}

fn unrouted(status: StatusCode, message: &str, why: &'static str) -> Response {
    let mut response = error(status, message.into(), None);
    response
        .headers_mut()
        .insert(NO_ROUTE_HEADER, HeaderValue::from_static(why));
    response
}

async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
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
        ReaderError::IndexNotFound(_) => error(StatusCode::NOT_FOUND, e.to_string(), Some("index")),
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
fn json_line(mut body: String) -> Response {
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
        Ok(Some(row)) => json_line(json::row_json(&row)),
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
        Ok(rows) => json_line(json::rows_json(&rows)),
        Err(e) => reader_error(e),
    }
}

/// The rows whose first fields of a secondary index equal the body's key parts (the body is
/// the key-prefix read's), in index order.
async fn get_rows_by_index(
    State(s): State<AppState>,
    Path((family, table, index)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let key = match keys(&body) {
        Ok(k) => k,
        Err(bad) => return bad.into_response(),
    };
    match s.reader.rows_by_index_values(&family, &table, &index, &key) {
        Ok(rows) if s.max_rows > 0 && rows.len() > s.max_rows => {
            StatusCode::RANGE_NOT_SATISFIABLE.into_response()
        }
        Ok(rows) => json_line(json::rows_json(&rows)),
        Err(e) => reader_error(e),
    }
}

/// What the change feed holds: `{"since", "newest", "changes", "bootstrapped"}`.
async fn feed_retention(State(s): State<AppState>) -> Response {
    match s.reader.feed_retention() {
        Ok(r) => Json(json!({
            "since": r.since,
            "newest": r.newest,
            "changes": r.changes,
            "bootstrapped": r.bootstrapped,
        }))
        .into_response(),
        Err(e @ ReaderError::FeedDisabled) => error(StatusCode::NOT_FOUND, e.to_string(), None),
        Err(e) => reader_error(e),
    }
}

async fn ledger_latency(State(s): State<AppState>) -> Response {
    match s.reader.ledger_latency() {
        // Go's field order (`unit`, `value`) and float text.
        Ok(latency) => json_line(format!(
            r#"{{"unit":"seconds","value":{}}}"#,
            json::go_json_float(latency.as_secs_f64())
        )),
        Err(e) => reader_error(e),
    }
}

async fn healthcheck(State(s): State<AppState>) -> Response {
    match s.reader.ledger_latency() {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => reader_error(e),
    }
}
