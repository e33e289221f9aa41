//! The relay's HTTP API: the executive's feed routes, answered from the window, plus
//! `/healthz` and `/metrics`.

use std::sync::Arc;
use std::time::Instant as StdInstant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use ctlstore_executive::{FEED_DEFAULT_LIMIT, FEED_KEEPALIVE, FEED_MAX_LIMIT};
use ctlstore_ledger::LedgerEntry;
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{Shared, UNHEALTHY_AFTER, metric};

const HTTP: ctlstore_telemetry::HttpMetrics = ctlstore_telemetry::HttpMetrics {
    requests: metric::REQUESTS,
    seconds: metric::REQUEST_SECONDS,
};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let _ = ctlstore_telemetry::prometheus();
    Router::new()
        .route("/ledger", get(long_poll))
        .route("/ledger/stream", get(stream))
        .route("/healthz", get(healthz))
        .route("/metrics", get(ctlstore_telemetry::metrics_handler))
        .layer(from_fn_with_state(HTTP, ctlstore_telemetry::track))
        .with_state(shared)
}

/// A 400 in the executive's form, naming the parameter.
fn bad(field: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into(), "field": field})),
    )
        .into_response()
}

/// The feed's query, parsed by the executive's rules.
struct FeedQuery {
    after: i64,
    limit: usize,
    wait: std::time::Duration,
}

/// The query, or (parameter, reason) for a 400.
fn parse_query(
    raw: Option<&str>,
    max_wait: std::time::Duration,
) -> Result<FeedQuery, (&'static str, String)> {
    let mut q = FeedQuery {
        after: 0,
        limit: FEED_DEFAULT_LIMIT as usize,
        wait: std::time::Duration::ZERO,
    };
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "after" => match value.parse::<i64>() {
                Ok(n) if n >= 0 => q.after = n,
                Ok(_) => return Err(("after", "after must not be negative".into())),
                Err(e) => return Err(("after", format!("after: {e}"))),
            },
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=FEED_MAX_LIMIT).contains(&n) => q.limit = n as usize,
                _ => {
                    return Err((
                        "limit",
                        format!("limit must be between 1 and {FEED_MAX_LIMIT}, got {value}"),
                    ));
                }
            },
            "wait" => {
                let wait = match value.parse::<u64>() {
                    Ok(ms) => std::time::Duration::from_millis(ms),
                    Err(_) => {
                        ctlstore_duration::parse(value).map_err(|e| ("wait", e.to_string()))?
                    }
                };
                q.wait = wait.min(max_wait);
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Sends a follower the relay cannot serve to upstream, with its query.
fn redirect(s: &Shared, path: &str, raw: Option<&str>) -> Response {
    metrics::counter!(metric::REDIRECTS).increment(1);
    let base = s.upstream.first().map(String::as_str).unwrap_or("");
    let location = match raw {
        Some(q) if !q.is_empty() => format!("{base}{path}?{q}"),
        _ => format!("{base}{path}"),
    };
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[derive(Serialize)]
struct FeedEntry<'a> {
    seq: i64,
    leader_ts: &'a str,
    statement: &'a str,
}

fn page_json(entries: &[LedgerEntry], head: i64) -> Vec<u8> {
    let entries: Vec<FeedEntry<'_>> = entries
        .iter()
        .map(|e| FeedEntry {
            seq: e.seq,
            leader_ts: &e.leader_ts,
            statement: &e.statement,
        })
        .collect();
    serde_json::to_vec(&json!({"entries": entries, "head": head})).unwrap_or_default()
}

// PERFORMANCE-CRITICAL PATH: every host behind this relay parks here between writes.
async fn long_poll(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw.as_deref(), s.max_wait) {
        Ok(q) => q,
        Err((field, why)) => return bad(field, why),
    };
    let mut filled = s.filled.subscribe();
    filled.borrow_and_update();
    let Some(entries) = s.page(q.after, q.limit) else {
        return redirect(&s, "/ledger", raw.as_deref());
    };
    let deadline = Instant::now() + q.wait;
    if !entries.is_empty() || q.wait.is_zero() || *s.shutdown.borrow() {
        return json_response(page_json(&entries, s.head()));
    }
    let (after, limit, shutdown) = (q.after, q.limit, s.shutdown.subscribe());
    let body = ctlstore_serve::waiting_body(
        filled,
        shutdown,
        deadline,
        FEED_KEEPALIVE,
        move |finished| {
            let s = s.clone();
            async move {
                match s.page(after, limit) {
                Some(entries) if entries.is_empty() && !finished => None,
                Some(entries) => Some(page_json(&entries, s.head())),
                // The window restarted past this follower (upstream pruned): its next request
                // is redirected upstream.
                None => Some(
                    serde_json::to_vec(
                        &json!({"error": "the relay's window moved past this follower: ask again"}),
                    )
                    .unwrap_or_default(),
                ),
            }
            }
        },
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /ledger/stream?after=SEQ`: NDJSON entries from the window, `{"head": N}` when idle.
async fn stream(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw.as_deref(), s.max_wait) {
        Ok(q) => q,
        Err((field, why)) => return bad(field, why),
    };
    if s.page(q.after, 1).is_none() {
        return redirect(&s, "/ledger/stream", raw.as_deref());
    }
    struct Streaming {
        shared: Arc<Shared>,
        after: i64,
        filled: watch::Receiver<i64>,
        shutdown: watch::Receiver<bool>,
        ended: bool,
    }
    let start = Streaming {
        filled: s.filled.subscribe(),
        shutdown: s.shutdown.subscribe(),
        shared: s,
        after: q.after,
        ended: false,
    };
    let body = futures_util::stream::unfold(start, |mut st| async move {
        if st.ended || *st.shutdown.borrow() {
            return None;
        }
        loop {
            st.filled.borrow_and_update();
            match st.shared.page(st.after, FEED_DEFAULT_LIMIT as usize) {
                None => {
                    // Fell out of the window: the follower reconnects and is redirected.
                    st.ended = true;
                    let line = format!(
                        "{}\n",
                        json!({"error": "fell behind the relay's window: reconnect"})
                    );
                    return Some((Ok::<Bytes, std::io::Error>(Bytes::from(line)), st));
                }
                Some(entries) if !entries.is_empty() => {
                    let mut chunk = Vec::new();
                    for e in &entries {
                        let line = FeedEntry {
                            seq: e.seq,
                            leader_ts: &e.leader_ts,
                            statement: &e.statement,
                        };
                        if serde_json::to_writer(&mut chunk, &line).is_ok() {
                            chunk.push(b'\n');
                        }
                    }
                    st.after = entries.last().map_or(st.after, |e| e.seq);
                    return Some((Ok(Bytes::from(chunk)), st));
                }
                Some(_) => {}
            }
            tokio::select! {
                _ = st.filled.changed() => {}
                _ = st.shutdown.changed() => return None,
                _ = tokio::time::sleep(FEED_KEEPALIVE) => {
                    let line = format!("{}\n", json!({"head": st.shared.head()}));
                    return Some((Ok(Bytes::from(line)), st));
                }
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response()
}

/// 200 while upstream answered within [`UNHEALTHY_AFTER`]; 503 otherwise. Either way the
/// window's extent and upstream's head.
async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    let since = s
        .last_ok
        .lock()
        .ok()
        .and_then(|t| *t)
        .map(|t| StdInstant::now().duration_since(t));
    let healthy = since.is_some_and(|d| d <= UNHEALTHY_AFTER);
    let (after, through, entries) = s
        .window
        .read()
        .map(|w| (w.after(), w.through(), w.len()))
        .unwrap_or_default();
    let body = json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "upstream": s.upstream,
        "head": s.head(),
        "window": {"after": after, "through": through, "entries": entries},
        "upstream_silent_seconds": since.map(|d| d.as_secs_f64()),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
