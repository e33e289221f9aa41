//! `/limits/tables[...]` and `/limits/writers[...]`, with ctlstore's JSON: table limits as
//! `{"max-size", "warn-size"}` bytes, writer limits as `{"amount", "period"}` with the period in
//! nanoseconds (Go's `time.Duration`) or as Go duration text.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use super::{ok, parse_json, path_table, writer_name};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const NANOS_PER_MINUTE: i64 = 60_000_000_000;

pub async fn table_limits(State(state): State<AppState>) -> ApiResult<Response> {
    let (max, warn) = state.0.sizes.defaults();
    let tables: Vec<Json_> = state
        .0
        .ctldb
        .table_limits()
        .await?
        .into_iter()
        .map(|l| json!({"max-size": l.max_size_bytes, "warn-size": l.warn_size_bytes, "family": l.family, "table": l.table}))
        .collect();
    let tables = if tables.is_empty() {
        Json_::Null
    } else {
        Json_::Array(tables)
    };
    Ok(
        Json(json!({"global": {"max-size": max, "warn-size": warn}, "tables": tables}))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct TableLimitBody {
    #[serde(rename = "max-size")]
    max_size: i64,
    #[serde(rename = "warn-size")]
    warn_size: i64,
}

pub async fn set_table_limit(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (family, table) = path_table(&family, &table)?;
    let body: TableLimitBody = parse_json(&body)?;
    if body.max_size < 0 || body.warn_size < 0 {
        return Err(ApiError::bad_request("sizes must not be negative").with_field("max-size"));
    }
    if body.warn_size > body.max_size {
        return Err(
            ApiError::bad_request("warn-size must not exceed max-size").with_field("warn-size")
        );
    }
    state
        .0
        .ctldb
        .set_table_limit(&family, &table, body.warn_size, body.max_size)
        .await?;
    refresh_sizes(&state).await;
    Ok(ok())
}

pub async fn delete_table_limit(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (family, table) = path_table(&family, &table)?;
    state.0.ctldb.delete_table_limit(&family, &table).await?;
    refresh_sizes(&state).await;
    Ok(ok())
}

async fn refresh_sizes(state: &AppState) {
    if let Err(e) = state.0.sizes.refresh(&state.0.ctldb).await {
        tracing::warn!(error = %e, "measure table sizes");
    }
}

pub async fn writer_limits(State(state): State<AppState>) -> ApiResult<Response> {
    let c = &state.0.config;
    let writers: Vec<Json_> = state
        .0
        .ctldb
        .writer_limits()
        .await?
        .into_iter()
        .map(|(w, per_minute)| json!({"writer": w, "rate-limit": {"amount": per_minute, "period": NANOS_PER_MINUTE}}))
        .collect();
    let writers = if writers.is_empty() {
        Json_::Null
    } else {
        Json_::Array(writers)
    };
    let period = c.writer_limit_period.as_nanos() as i64;
    Ok(
        Json(json!({"global": {"amount": c.writer_limit, "period": period}, "writers": writers}))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct RateLimitBody {
    amount: Json_,
    period: Json_,
}

/// ctlstore's `RateLimit.UnmarshalJSON`: a numeric amount (fractions truncated) and a period as
/// Go duration text or nanoseconds.
fn parse_rate_limit(body: &RateLimitBody) -> ApiResult<(i64, f64)> {
    let amount = body
        .amount
        .as_f64()
        .filter(|a| a.is_finite() && *a >= 0.0)
        .ok_or_else(|| {
            ApiError::bad_request(format!("invalid amount: '{}'", body.amount)).with_field("amount")
        })?
        .trunc() as i64;
    let bad_period =
        || ApiError::bad_request(format!("invalid period: '{}'", body.period)).with_field("period");
    let seconds = match &body.period {
        Json_::String(s) => ctlstore_duration::parse(s)
            .map_err(|_| bad_period())?
            .as_secs_f64(),
        Json_::Number(n) => n.as_f64().ok_or_else(bad_period)? / 1e9,
        _ => return Err(bad_period()),
    };
    if seconds <= 0.0 {
        return Err(bad_period());
    }
    Ok((amount, seconds))
}

pub async fn set_writer_limit(
    State(state): State<AppState>,
    Path(writer): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let writer = writer_name(&writer)?;
    let body: RateLimitBody = parse_json(&body)?;
    let (amount, seconds) = parse_rate_limit(&body)?;
    let per_minute = ctlstore_ctldb::rows_per_minute(amount, seconds);
    state.0.ctldb.set_writer_limit(&writer, per_minute).await?;
    state.0.writer_overrides.refresh(&state.0.ctldb).await;
    Ok(ok())
}

pub async fn delete_writer_limit(
    State(state): State<AppState>,
    Path(writer): Path<String>,
) -> ApiResult<Response> {
    let writer = writer_name(&writer)?;
    state.0.ctldb.delete_writer_limit(&writer).await?;
    state.0.writer_overrides.refresh(&state.0.ctldb).await;
    Ok(ok())
}
