//! `GET /watch/{familyName}/{tableName}?after=SEQ&prefix=JSON`: the host's change feed
//! (docs/watch.md) as NDJSON. Lines:
//!
//! - `{"seq": N, "changes": [{"family", "table", "op", "key", "row"}]}`: one applied batch;
//! - `{"keepalive": true, "seq": N}` every 10 s without changes (N: the position so far);
//! - `{"error": "...", "since": S}`: `after` is no longer retained; the stream continues after S;
//! - `{"error": "..."}` then the end: the feed cannot be read (no `-change-feed`, LDB gone).
//!
//! `after` defaults to the LDB's current seq (only new changes). The feed is read on a blocking
//! thread (the reader is synchronous) and handed over through a small channel; the thread stops
//! when the client goes away.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ctlstore_reader::{Reader, feed_event_json};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::routes::AppState;

/// A keepalive line after this long without a batch.
pub const KEEPALIVE: Duration = Duration::from_secs(10);
/// How long one blocking wait on the feed lasts before the thread checks the client is there.
const WAIT: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
pub(crate) struct WatchQuery {
    after: Option<i64>,
    prefix: Option<String>,
}

fn line(value: Json) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

pub(crate) async fn watch(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    Query(query): Query<WatchQuery>,
) -> Response {
    let prefix: Vec<Json> = match query.prefix.as_deref().map(serde_json::from_str::<Json>) {
        None => Vec::new(),
        Some(Ok(Json::Array(values))) => values,
        Some(_) => {
            let body =
                json!({"error": "prefix must be a JSON array of key values", "field": "prefix"});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    let reader: Arc<Reader> = state.reader.clone();
    let after = match query.after {
        Some(after) => after,
        None => reader.last_sequence().unwrap_or(0),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    std::thread::spawn(move || follow(reader, family, table, prefix, after, tx));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(Lines(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn follow(
    reader: Arc<Reader>,
    family: String,
    table: String,
    prefix: Vec<Json>,
    mut after: i64,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut quiet_since = Instant::now();
    loop {
        let mut changes = reader
            .changes(after)
            .family(&family)
            .table(&table)
            .prefix(prefix.clone())
            .timeout(WAIT);
        for event in changes.by_ref() {
            let Some(out) = feed_event_json(&event) else {
                let error = event.err().map(|e| e.to_string()).unwrap_or_default();
                let _ = tx.blocking_send(line(json!({"error": error})));
                return;
            };
            quiet_since = Instant::now();
            if tx.blocking_send(line(out)).is_err() {
                return;
            }
        }
        after = changes.position();
        if tx.is_closed() {
            return;
        }
        if quiet_since.elapsed() >= KEEPALIVE {
            quiet_since = Instant::now();
            if tx
                .blocking_send(line(json!({"keepalive": true, "seq": after})))
                .is_err()
            {
                return;
            }
        }
    }
}

/// The channel as a body stream.
struct Lines(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Lines {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|line| line.map(Ok))
    }
}
