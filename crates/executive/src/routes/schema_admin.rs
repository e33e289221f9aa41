//! Families, tables and their schemas: ctlstore's schema routes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ctlstore_ctldb::CtldbError;
use ctlstore_schema::{FamilyName, FieldName, IndexName, Table, TableName, parse_fields};
use serde::Deserialize;
use serde_json::Value as Json_;

use super::{ok, parse_json, path_name, path_table};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `{"fields": [["name", "type"], ...], "keyFields": [...]}`
#[derive(Deserialize)]
struct TableBody {
    #[serde(default)]
    fields: Vec<Vec<Json_>>,
    #[serde(default, rename = "keyFields")]
    key_fields: Vec<String>,
}

/// One entry of `POST /tables`: ctlstore's `schema.Table`.
#[derive(Deserialize)]
struct NamedTableBody {
    family: String,
    name: String,
    #[serde(flatten)]
    body: TableBody,
}

/// Unzips `[name, type]` pairs with ctlstore's messages.
fn field_pairs(fields: &[Vec<Json_>]) -> ApiResult<Vec<(String, String)>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            let malformed = || {
                ApiError::bad_request(format!(
                    "Error unzipping fields: Field #{i} is malformed: expected 2 strings, got {}",
                    Json_::Array(pair.clone())
                ))
                .with_field("fields")
            };
            match pair.as_slice() {
                [Json_::String(name), Json_::String(kind)] => Ok((name.clone(), kind.clone())),
                _ => Err(malformed()),
            }
        })
        .collect()
}

fn build_table(family: &str, table: &str, body: &TableBody) -> ApiResult<Table> {
    let fields = field_pairs(&body.fields)?;
    Ok(Table::from_wire(family, table, &fields, &body.key_fields).map_err(CtldbError::from)?)
}

pub async fn create_family(
    State(state): State<AppState>,
    Path(family): Path<String>,
) -> ApiResult<Response> {
    let family = path_name("family", &family, FamilyName::new)?;
    state.0.ctldb.create_family(&family).await?;
    Ok(ok())
}

pub async fn create_table(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: TableBody = parse_json(&body)?;
    let table = build_table(&family, &table, &body)?;
    let seq = state.0.ctldb.create_table(&table).await?;
    state.0.feed.publish(seq);
    Ok(ok())
}

pub async fn create_tables(State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let tables: Vec<NamedTableBody> = parse_json(&body)?;
    for t in &tables {
        let created = match build_table(&t.family, &t.name, &t.body) {
            Ok(table) => state
                .0
                .ctldb
                .create_table(&table)
                .await
                .map_err(ApiError::from),
            Err(e) => Err(e),
        };
        match created {
            Ok(seq) => state.0.feed.publish(seq),
            Err(mut e) => {
                e.message = format!(
                    "creating table for family {:?} table {:?}: {}",
                    t.family, t.name, e.message
                );
                return Err(e);
            }
        }
    }
    Ok(ok())
}

pub async fn add_fields(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: TableBody = parse_json(&body)?;
    let (family, table) = path_table(&family, &table)?;
    let fields = parse_fields(&field_pairs(&body.fields)?).map_err(CtldbError::from)?;
    if fields.is_empty() {
        return Err(ApiError::bad_request("no fields to add").with_field("fields"));
    }
    let seq = state.0.ctldb.add_fields(&family, &table, &fields).await?;
    state.0.feed.publish(seq);
    Ok(ok())
}

/// `{"name": "by_email", "fields": ["email"], "unique": false}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexBody {
    name: String,
    fields: Vec<String>,
    #[serde(default)]
    unique: bool,
}

pub async fn create_index(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (family, table) = path_table(&family, &table)?;
    let body: IndexBody = parse_json(&body)?;
    let name = IndexName::new(&body.name)
        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("name"))?;
    let fields = body
        .fields
        .iter()
        .map(|f| FieldName::new(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("fields"))?;
    let seq = state
        .0
        .ctldb
        .create_index(&family, &table, &name, fields, body.unique)
        .await?;
    state.0.feed.publish(seq);
    Ok(ok())
}

pub async fn list_indexes(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (family, table) = path_table(&family, &table)?;
    // 404 for a table that does not exist, not an empty list.
    state.0.ctldb.table(&family, &table).await?;
    let indexes = state.0.ctldb.indexes(&family, &table).await?;
    Ok(Json(serde_json::json!({
        "family": family.as_str(),
        "table": table.as_str(),
        "indexes": indexes,
    }))
    .into_response())
}

pub async fn drop_index(
    State(state): State<AppState>,
    Path((family, table, index)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (family, table) = path_table(&family, &table)?;
    let index = path_name("index", &index, IndexName::new)?;
    let seq = state.0.ctldb.drop_index(&family, &table, &index).await?;
    state.0.feed.publish(seq);
    Ok(ok())
}

pub async fn drop_table(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !state.0.config.enable_destructive_schema_changes {
        return Err(ApiError::bad_request("Dropping tables is not enabled."));
    }
    let (family, table) = path_table(&family, &table)?;
    let seq = state
        .0
        .ctldb
        .drop_table(&family, &table)
        .await
        .map_err(|e| missing_table(e, &family, &table))?;
    state.0.feed.publish(seq);
    Ok(ok())
}

pub async fn clear_table(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !state.0.config.enable_destructive_schema_changes {
        return Err(ApiError::bad_request("Clearing tables is not enabled."));
    }
    let (family, table) = path_table(&family, &table)?;
    let seq = state
        .0
        .ctldb
        .clear_table(&family, &table)
        .await
        .map_err(|e| missing_table(e, &family, &table))?;
    state.0.feed.publish(seq);
    Ok(ok())
}

/// ctlstore's 404 for dropping or clearing a table that does not exist: `table "famtbl" not
/// found`, family and table run together without `___` (`errs.NotFound("table %q not found",
/// famName+tblName)`).
fn missing_table(e: CtldbError, family: &FamilyName, table: &TableName) -> ApiError {
    match e {
        CtldbError::TableNotFound(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("table \"{family}{table}\" not found"),
        )
        .with_field("table"),
        e => e.into(),
    }
}

pub async fn clear_family(
    State(state): State<AppState>,
    Path(family): Path<String>,
) -> ApiResult<Response> {
    if !state.0.config.enable_destructive_schema_changes {
        return Err(ApiError::bad_request("Clearing tables is not enabled."));
    }
    let family = path_name("family", &family, FamilyName::new)?;
    if !state.0.ctldb.family_exists(&family).await? {
        return Err(CtldbError::FamilyNotFound(family.to_string()).into());
    }
    for (f, t) in state.0.ctldb.all_table_names().await? {
        if f == family {
            let seq = state.0.ctldb.clear_table(&f, &t).await?;
            state.0.feed.publish(seq);
        }
    }
    Ok(ok())
}

pub async fn table_schema(
    State(state): State<AppState>,
    Path((family, table)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (family, table) = path_table(&family, &table)?;
    match state.0.ctldb.reload_table(&family, &table).await {
        Ok(t) => Ok(Json(t.as_ref().clone()).into_response()),
        Err(CtldbError::TableNotFound(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{family}___{table}: table does not exist"),
        )
        .with_field("table")),
        Err(e) => Err(e.into()),
    }
}

pub async fn family_schema(
    State(state): State<AppState>,
    Path(family): Path<String>,
) -> ApiResult<Response> {
    let family = path_name("family", &family, FamilyName::new)?;
    let tables: Vec<Table> = state
        .0
        .ctldb
        .family_tables(&family)
        .await?
        .iter()
        .map(|t| t.as_ref().clone())
        .collect();
    // ctlstore answers `null` for a family without tables.
    let body = if tables.is_empty() {
        Json_::Null
    } else {
        serde_json::to_value(tables).unwrap_or(Json_::Null)
    };
    Ok(Json(body).into_response())
}
