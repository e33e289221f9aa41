//! Reads through the executive (issue 22): families, tables with their sizes and limits, and
//! rows by key or by page. They read the ctldb itself, not a cache, so a read after an
//! acknowledged write sees it. Admin routes (behind the admin token when one is set).
//!
//! Key values travel as JSON in the query string, as in mutations: integers as numbers, strings
//! as strings, bytestrings as standard base64. A page's `next` cursor is the base64url of the
//! JSON array of the last row's key: opaque to clients, and checked like any key when it comes
//! back.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ctlstore_ctldb::{CtldbError, PageQuery};
use ctlstore_schema::{FamilyName, Table, TableName, Value, ldb_table_name};
use serde_json::{Value as Json_, json};

use super::path_name;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The most rows one page may hold, and how many a page holds when `limit` is not given.
pub(crate) const MAX_PAGE_ROWS: u32 = 1000;
pub(crate) const DEFAULT_PAGE_ROWS: u32 = 100;

/// `GET /families`: every family and how many tables it has, sorted by name.
pub async fn families(State(state): State<AppState>) -> ApiResult<Response> {
    let ctldb = &state.0.ctldb;
    let mut counts: BTreeMap<String, usize> = ctldb
        .families()
        .await?
        .into_iter()
        .map(|f| (f, 0))
        .collect();
    for (family, _) in ctldb.all_table_names().await? {
        if let Some(n) = counts.get_mut(family.as_str()) {
            *n += 1;
        }
    }
    let families: Vec<Json_> = counts
        .into_iter()
        .map(|(name, tables)| json!({"name": name, "tables": tables}))
        .collect();
    Ok(Json(json!({"families": families})).into_response())
}

fn family_not_found(family: &FamilyName) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("Family not found: {family}")).with_field("family")
}

/// `GET /families/{f}/tables`: each table's schema, last measured size and effective limits.
pub async fn tables(
    State(state): State<AppState>,
    Path(family): Path<String>,
) -> ApiResult<Response> {
    let family = path_name("family", &family, FamilyName::new)?;
    let ctldb = &state.0.ctldb;
    if !ctldb.family_exists(&family).await? {
        return Err(family_not_found(&family));
    }
    let tables: Vec<Json_> = ctldb
        .family_tables(&family)
        .await?
        .iter()
        .map(|t| {
            let (size, max, warn) = state.0.sizes.measurement(&t.ldb_name());
            let mut body = serde_json::to_value(t.as_ref()).unwrap_or(Json_::Null);
            body["sizeBytes"] = json!(size);
            body["maxSize"] = json!(max);
            body["warnSize"] = json!(warn);
            if let Some(o) = body.as_object_mut() {
                o.remove("family");
            }
            body
        })
        .collect();
    Ok(Json(json!({"family": family.as_str(), "tables": tables})).into_response())
}

/// The table of a rows request; an unknown table in an unknown family is the family's 404.
async fn table_of(state: &AppState, family: &str, table: &str) -> ApiResult<std::sync::Arc<Table>> {
    let family = path_name("family", family, FamilyName::new)?;
    let table = path_name("table", table, TableName::new)?;
    let ctldb = &state.0.ctldb;
    match ctldb.table(&family, &table).await {
        Ok(t) => Ok(t),
        Err(CtldbError::TableNotFound(_)) if !ctldb.family_exists(&family).await? => {
            Err(family_not_found(&family))
        }
        Err(CtldbError::TableNotFound(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Table not found: {}", ldb_table_name(&family, &table)),
        )
        .with_field("table")),
        Err(e) => Err(e.into()),
    }
}

fn bad(param: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("bad {param}: {message}")).with_field(param)
}

/// Typed key values from JSON: an array of values in key order (at most the key's length, or
/// exactly it when `whole`), or, for a whole one-column key, a bare value.
fn key_values(table: &Table, json: &Json_, param: &str, whole: bool) -> ApiResult<Vec<Value>> {
    let keys: Vec<_> = table.key_columns().collect();
    let items = match json {
        Json_::Array(items) => items.as_slice(),
        scalar => std::slice::from_ref(scalar),
    };
    let expected = keys.len();
    if items.len() > expected || (whole && items.len() != expected) {
        return Err(bad(
            param,
            format!(
                "the key of {}.{} is {} ({expected} values), got {} values",
                table.family,
                table.name,
                table
                    .key_fields
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                items.len()
            ),
        ));
    }
    items
        .iter()
        .zip(keys)
        .map(|(item, field)| Value::from_json(field, item, true).map_err(|e| bad(param, e)))
        .collect()
}

fn parse_json_param(raw: &str, param: &str) -> ApiResult<Json_> {
    serde_json::from_str(raw).map_err(|e| bad(param, format!("not JSON: {e}")))
}

/// A value as rows come back: bytes as standard base64, NULL as null.
fn value_json(value: &Value) -> Json_ {
    match value {
        Value::Null => Json_::Null,
        Value::Integer(i) => json!(i),
        Value::Real(f) => json!(f),
        Value::Text(s) => json!(s),
        Value::Bytes(b) => json!(STANDARD.encode(b)),
    }
}

fn row_json(table: &Table, row: &[Value]) -> Json_ {
    let object: serde_json::Map<String, Json_> = table
        .fields
        .iter()
        .zip(row)
        .map(|(f, v)| (f.name.as_str().to_string(), value_json(v)))
        .collect();
    Json_::Object(object)
}

/// The cursor after `row`: base64url of the JSON array of its key.
fn cursor(table: &Table, row: &[Value]) -> String {
    let key: Vec<Json_> = table
        .key_fields
        .iter()
        .filter_map(|k| table.fields.iter().position(|f| &f.name == k))
        .map(|i| row.get(i).map(value_json).unwrap_or(Json_::Null))
        .collect();
    URL_SAFE_NO_PAD.encode(Json_::Array(key).to_string())
}

fn decode_cursor(table: &Table, raw: &str) -> ApiResult<Vec<Value>> {
    let text = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad("after", "not a cursor from a previous page's `next`"))?;
    let json = parse_json_param(&text, "after")?;
    if !json.is_array() {
        return Err(bad("after", "not a cursor from a previous page's `next`"));
    }
    key_values(table, &json, "after", true)
}

/// `GET /families/{f}/tables/{t}/rows?key=JSON` (one row) or
/// `?prefix=JSON&limit=N&after=CURSOR` (a page).
pub async fn rows(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(params) = query.map_err(|r| bad("query", r.body_text()))?;
    let table = table_of(&state, &family, &table).await?;
    let ctldb = &state.0.ctldb;
    if let Some(raw) = params.get("key") {
        if let Some(other) = ["prefix", "after", "limit"]
            .into_iter()
            .find(|p| params.contains_key(*p))
        {
            return Err(bad(other, "cannot be combined with `key`"));
        }
        let key = key_values(&table, &parse_json_param(raw, "key")?, "key", true)?;
        return match ctldb.row_by_key(&table, &key).await? {
            Some(row) => Ok(Json(json!({"row": row_json(&table, &row)})).into_response()),
            None => {
                Err(ApiError::new(StatusCode::NOT_FOUND, "no row with that key").with_field("key"))
            }
        };
    }
    let prefix = match params.get("prefix") {
        Some(raw) => key_values(&table, &parse_json_param(raw, "prefix")?, "prefix", false)?,
        None => Vec::new(),
    };
    let limit = match params.get("limit") {
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_ROWS).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!("must be an integer from 1 to {MAX_PAGE_ROWS}, got '{raw}'"),
                )
            })?,
        None => DEFAULT_PAGE_ROWS,
    };
    let after = match params.get("after") {
        Some(raw) => Some(decode_cursor(&table, raw)?),
        None => None,
    };
    let page = ctldb
        .rows_page(
            &table,
            PageQuery {
                prefix: &prefix,
                after: after.as_deref(),
                limit,
            },
        )
        .await?;
    let next = match page.rows.last() {
        Some(last) if page.more => Json_::String(cursor(&table, last)),
        _ => Json_::Null,
    };
    let rows: Vec<Json_> = page.rows.iter().map(|r| row_json(&table, r)).collect();
    Ok(Json(json!({"rows": rows, "next": next})).into_response())
}
