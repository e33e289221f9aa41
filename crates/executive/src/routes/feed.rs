//! The ledger feed for reflectors (new in our design; ctlstore's reflectors poll the ctldb).
//!
//! - `GET /ledger?after=SEQ&limit=N&wait=DURATION`: entries with `seq > after`, in order. When
//!   there are none it holds the request until one commits or `wait` passes (long-poll), so a
//!   host learns of a write within milliseconds. While it holds, the answer is already under
//!   way: status and headers at once, then one space every [`FEED_KEEPALIVE`] (JSON allows
//!   leading whitespace), then the page. A client can so tell a quiet feed from a dead
//!   connection (no FIN, no RST: a NAT timeout, a cut cable) by a read timeout of a few seconds.
//!   An error after the headers went out is sent as the body `{"error": ...}`.
//! - `GET /ledger/stream?after=SEQ`: the same entries as newline-delimited JSON on one long
//!   response, forever; an idle stream sends `{"head": N}` every [`FEED_KEEPALIVE`].
//!
//! Partial replication: a follower is sent only the entries of tables it may read (with an
//! ACL, its identity's read rules and the heartbeat's family; `families=a,b/t` narrows that
//! further), plus every batch marker. Such a page says `through`: the seq it carried the follower
//! to, past the entries it was not sent, so the follower neither waits on them as a gap nor
//! counts them as skipped. Sequence numbers stay global.
//!
//! A follower whose `after` is below the pruning horizon (`retention.rs`) is answered 410 Gone
//! with `{"error", "field": "after", "horizon": H, "snapshot": URL or null}`: the entries it
//! needs are gone, and it must bootstrap from a snapshot. It is never sent a page that skips
//! them.

use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use ctlstore_ledger::{LedgerEntry, Scopes};
use ctlstore_tls::PeerIdentity;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Inner};

/// Entries per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 1000;
/// The largest `limit`.
pub const MAX_LIMIT: i64 = 10_000;
/// How often a waiting feed answer sends a keepalive byte (long-poll) or line (stream).
/// Clients may treat a connection silent for 3 × this long as dead.
pub const FEED_KEEPALIVE: Duration = Duration::from_secs(1);

/// The feed's query, or a 400 in our JSON form naming the parameter (axum's own rejection is
/// plain text).
fn feed_query(query: Result<Query<FeedQuery>, QueryRejection>) -> ApiResult<FeedQuery> {
    query.map(|Query(q)| q).map_err(|rejection| {
        let text = rejection.body_text();
        let field = ["after", "limit", "wait", "families"]
            .into_iter()
            .find(|f| text.contains(&format!("{f}:")) || text.contains(&format!("`{f}`")))
            .unwrap_or("query");
        ApiError::bad_request(text).with_field(field)
    })
}

#[derive(Deserialize)]
pub struct FeedQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
    wait: Option<String>,
    /// `a,b/t`: only these families or tables (and the heartbeat's family).
    families: Option<String>,
}

#[derive(Serialize)]
struct FeedEntry<'a> {
    seq: i64,
    leader_ts: &'a str,
    statement: &'a str,
}

impl<'a> From<&'a LedgerEntry> for FeedEntry<'a> {
    fn from(e: &'a LedgerEntry) -> Self {
        FeedEntry {
            seq: e.seq,
            leader_ts: &e.leader_ts,
            statement: &e.statement,
        }
    }
}

#[derive(Serialize)]
struct FeedPage<'a> {
    entries: Vec<FeedEntry<'a>>,
    /// The newest seq this executive knows of.
    head: i64,
    /// On a filtered feed: the seq this page carries the follower to (entries up to it that are
    /// not in `entries` are not for this follower).
    #[serde(skip_serializing_if = "Option::is_none")]
    through: Option<i64>,
}

/// What this request's follower is sent: what its identity may read, narrowed by `families`
/// (to which the heartbeat's family is always added, so staleness stays measurable).
fn follower_scopes(
    s: &Inner,
    identity: Option<&PeerIdentity>,
    families: Option<&str>,
) -> ApiResult<Scopes> {
    let readable = super::readable(s, identity.map(PeerIdentity::as_str));
    let Some(list) = families.filter(|f| !f.trim().is_empty()) else {
        return Ok(readable);
    };
    let mut list = list.to_string();
    if let Some(heartbeat) = &s.config.heartbeat_family {
        list.push(',');
        list.push_str(heartbeat);
    }
    let asked = Scopes::parse_list(&list)
        .map_err(|e| ApiError::bad_request(format!("families: {e}")).with_field("families"))?;
    Ok(readable.intersect(&asked))
}

/// The entries of `read` this follower is sent, and how far they carry it (`None` when
/// nothing is filtered).
fn admitted(
    scopes: &Scopes,
    after: i64,
    read: Vec<LedgerEntry>,
) -> (Vec<LedgerEntry>, Option<i64>) {
    if scopes.is_all() {
        return (read, None);
    }
    let through = read.last().map_or(after, |e| e.seq);
    let entries = read.into_iter().filter(|e| scopes.admits(e)).collect();
    (entries, Some(through))
}

/// The seq through which the ledger is pruned, when a follower at `after` that read `entries`
/// is below it. The known horizon answers at once; a page that starts with a gap re-reads it
/// from the ctldb (another executive may have pruned since), after the page was read: pruning
/// records the horizon before it deletes, so a page missing pruned entries always sees it.
async fn below_horizon(
    s: &Inner,
    after: i64,
    entries: &[LedgerEntry],
) -> Result<Option<i64>, ctlstore_ctldb::CtldbError> {
    let known = s.feed.horizon();
    if after < known {
        return Ok(Some(known));
    }
    if entries.first().is_none_or(|e| e.seq <= after + 1) {
        return Ok(None);
    }
    let horizon = s.ctldb.ledger_horizon().await?;
    s.feed.publish_horizon(horizon);
    Ok((after < horizon).then_some(horizon))
}

/// Up to `limit` entries after `after`: from the window of recent entries when it reaches that
/// far back (every follower at the head), else from the ctldb. The window trails commits by
/// the moment its filler takes to read them, so only followers that wait use it (they are
/// woken when it fills); a plain read goes to the ctldb and sees every commit.
async fn read_entries(
    s: &Inner,
    after: i64,
    limit: i64,
) -> Result<Vec<LedgerEntry>, ctlstore_ctldb::CtldbError> {
    match s.feed.recent.after(after, limit as usize) {
        Some(entries) => Ok(entries),
        None => s.ctldb.ledger_after(after, limit).await,
    }
}

/// The body of a 410: what is gone and where the snapshots are.
fn gone_body(s: &Inner, after: i64, horizon: i64) -> serde_json::Value {
    serde_json::json!({
        "error": format!(
            "the ledger is pruned through seq {horizon}, above after={after}: bootstrap from a snapshot"
        ),
        "field": "after",
        "horizon": horizon,
        "snapshot": s.config.retention.as_ref().map(|r| r.snapshot_url.as_str()),
    })
}

fn gone(s: &Inner, after: i64, horizon: i64) -> Response {
    (StatusCode::GONE, Json(gone_body(s, after, horizon))).into_response()
}

fn parse_wait(raw: Option<&str>, max: Duration) -> ApiResult<Duration> {
    let Some(raw) = raw else {
        return Ok(Duration::ZERO);
    };
    let wait = match raw.parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => ctlstore_duration::parse(raw)
            .map_err(|e| ApiError::bad_request(e.to_string()).with_field("wait"))?,
    };
    Ok(wait.min(max))
}

fn parse_limit(limit: Option<i64>) -> ApiResult<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {n}"
        ))
        .with_field("limit")),
    }
}

// PERFORMANCE-CRITICAL PATH: every reflector parks here between writes.
pub async fn long_poll(
    State(state): State<AppState>,
    identity: Option<Extension<PeerIdentity>>,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = feed_query(query)?;
    let s = &state.0;
    if q.after < 0 {
        return Err(ApiError::bad_request("after must not be negative").with_field("after"));
    }
    let limit = parse_limit(q.limit)?;
    let scopes = follower_scopes(s, identity.as_deref(), q.families.as_deref())?;
    let deadline = Instant::now() + parse_wait(q.wait.as_deref(), s.config.max_ledger_wait)?;
    let mut head = s.feed.recent.subscribe();
    let shutdown = s.shutdown.subscribe();
    // Mark the window seen before reading, so an entry between the read and the wait wakes us.
    head.borrow_and_update();
    let waits = deadline > Instant::now();
    let read = if waits {
        read_entries(s, q.after, limit).await?
    } else {
        s.ctldb.ledger_after(q.after, limit).await?
    };
    if let Some(horizon) = below_horizon(s, q.after, &read).await? {
        return Ok(gone(s, q.after, horizon));
    }
    let (entries, through) = admitted(&scopes, q.after, read);
    if !entries.is_empty() || Instant::now() >= deadline || *shutdown.borrow() {
        return Ok(Json(page(&entries, s.feed.head(), through)).into_response());
    }
    // Filtered out so far: wait from where this read got to.
    let cursor = Arc::new(AtomicI64::new(through.unwrap_or(q.after)));
    let (after, app) = (q.after, state.clone());
    let scopes = Arc::new(scopes);
    let body =
        ctlstore_serve::waiting_body(head, shutdown, deadline, FEED_KEEPALIVE, move |finished| {
            let (app, scopes, cursor) = (app.clone(), scopes.clone(), cursor.clone());
            async move { waited_answer(&app.0, after, &cursor, limit, &scopes, finished).await }
        });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn page(entries: &[LedgerEntry], head: i64, through: Option<i64>) -> FeedPage<'_> {
    FeedPage {
        entries: entries.iter().map(FeedEntry::from).collect(),
        head,
        through,
    }
}

/// What a long-poll that waited answers: `None` while there is nothing for this follower and
/// time remains; the page; or, since the status went out with the headers, an error as the body
/// (pruned below the follower meanwhile: its next request gets the 410). `cursor` is how far
/// the reads have got (past entries filtered out), from `after`.
async fn waited_answer(
    s: &Inner,
    after: i64,
    cursor: &AtomicI64,
    limit: i64,
    scopes: &Scopes,
    finished: bool,
) -> Option<Vec<u8>> {
    let from = cursor.load(Ordering::Relaxed);
    let read = read_entries(s, from, limit).await;
    let pruned = match &read {
        Ok(entries) => below_horizon(s, from, entries).await.ok().flatten(),
        Err(_) => None,
    };
    let body = match read {
        Ok(_) if pruned.is_some() => {
            serde_json::to_vec(&gone_body(s, after, pruned.unwrap_or_default()))
        }
        Ok(read) => {
            let (entries, through) = admitted(scopes, from, read);
            if let Some(t) = through {
                cursor.store(t, Ordering::Relaxed);
            }
            if entries.is_empty() && !finished {
                return None;
            }
            serde_json::to_vec(&page(&entries, s.feed.head(), through))
        }
        Err(e) => serde_json::to_vec(&serde_json::json!({"error": e.to_string()})),
    };
    Some(body.unwrap_or_default())
}

struct StreamState {
    app: AppState,
    after: i64,
    scopes: Scopes,
    head: tokio::sync::watch::Receiver<i64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    failed: bool,
}

pub async fn stream(
    State(state): State<AppState>,
    identity: Option<Extension<PeerIdentity>>,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = feed_query(query)?;
    if q.after < 0 {
        return Err(ApiError::bad_request("after must not be negative").with_field("after"));
    }
    let scopes = follower_scopes(&state.0, identity.as_deref(), q.families.as_deref())?;
    let first = state.0.ctldb.ledger_after(q.after, 1).await?;
    if let Some(horizon) = below_horizon(&state.0, q.after, &first).await? {
        return Ok(gone(&state.0, q.after, horizon));
    }
    let start = StreamState {
        head: state.0.feed.recent.subscribe(),
        shutdown: state.0.shutdown.subscribe(),
        app: state,
        after: q.after,
        scopes,
        failed: false,
    };
    let body = futures_util::stream::unfold(start, |mut st| async move {
        if st.failed {
            return None;
        }
        loop {
            if *st.shutdown.borrow() {
                return None;
            }
            st.head.borrow_and_update();
            let read = read_entries(&st.app.0, st.after, DEFAULT_LIMIT).await;
            let pruned = match &read {
                Ok(entries) => below_horizon(&st.app.0, st.after, entries)
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            match read {
                Ok(_) if pruned.is_some() => {
                    st.failed = true;
                    let body = gone_body(&st.app.0, st.after, pruned.unwrap_or_default());
                    return Some((Ok(Bytes::from(format!("{body}\n"))), st));
                }
                Ok(entries) if !entries.is_empty() => {
                    st.after = entries.last().map(|e| e.seq).unwrap_or(st.after);
                    let mut chunk = Vec::new();
                    for e in entries.iter().filter(|e| st.scopes.admits(e)) {
                        if serde_json::to_writer(&mut chunk, &FeedEntry::from(e)).is_ok() {
                            chunk.push(b'\n');
                        }
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    return Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), st));
                }
                Ok(_) => {}
                Err(e) => {
                    st.failed = true;
                    let line = format!("{}\n", serde_json::json!({"error": e.to_string()}));
                    return Some((Ok(Bytes::from(line)), st));
                }
            }
            tokio::select! {
                _ = st.head.changed() => {}
                _ = st.shutdown.changed() => {}
                _ = tokio::time::sleep(FEED_KEEPALIVE) => {
                    let line = format!("{}\n", serde_json::json!({"head": st.app.0.feed.head()}));
                    return Some((Ok(Bytes::from(line)), st));
                }
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `GET /ledger/access`: who this client is and what the feed sends it (`"*"` for everything,
/// else the scopes). A reflector checks a snapshot against it before bootstrapping.
pub async fn access(
    State(state): State<AppState>,
    identity: Option<Extension<PeerIdentity>>,
) -> Response {
    let identity = identity.as_deref().map(PeerIdentity::as_str);
    let families = match super::readable(&state.0, identity) {
        Scopes::All => serde_json::json!("*"),
        Scopes::Only(set) => {
            serde_json::json!(set.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        }
    };
    Json(serde_json::json!({"identity": identity, "families": families})).into_response()
}
