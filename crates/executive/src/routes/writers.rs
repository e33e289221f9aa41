//! Writers and their cookies: `POST /writers/{writer}` (the raw body is the secret) and
//! `GET`/`POST /cookie` (the raw body is the cookie); and, for operators, `GET /writers` and
//! `DELETE /writers/{writer}` (admin routes).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ctlstore_ctldb::CtldbError;
use ctlstore_schema::WriterSecret;

use ctlstore_tls::PeerIdentity;

use super::access::check_cookie;
use super::{authenticated_writer, ok, writer_name};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn register(
    State(state): State<AppState>,
    Path(writer): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let writer = writer_name(&writer)?;
    let secret = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the secret must be UTF-8 text").with_field("secret"))?;
    let secret = WriterSecret::new(secret)
        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("secret"))?;
    state
        .0
        .ctldb
        .register_writer(&writer, &secret, state.0.config.writer_secret_hash)
        .await?;
    Ok(ok())
}

pub async fn get_cookie(
    State(state): State<AppState>,
    identity: Option<Extension<PeerIdentity>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let writer = authenticated_writer(&state, &headers, identity.as_deref()).await?;
    if let Err(denied) = check_cookie(&state.0, writer.as_str()) {
        return Ok(denied.into_response());
    }
    let cookie = state.0.ctldb.cookie(&writer).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], cookie).into_response())
}

pub async fn set_cookie(
    State(state): State<AppState>,
    identity: Option<Extension<PeerIdentity>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let writer = authenticated_writer(&state, &headers, identity.as_deref()).await?;
    if let Err(denied) = check_cookie(&state.0, writer.as_str()) {
        return Ok(denied.into_response());
    }
    state.0.ctldb.set_cookie(&writer, &body).await?;
    Ok(ok())
}

/// `GET /writers`: every writer's name, sorted (never a secret).
pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    let writers: Vec<serde_json::Value> = state
        .0
        .ctldb
        .writers()
        .await?
        .into_iter()
        .map(|name| serde_json::json!({"name": name}))
        .collect();
    Ok(axum::Json(serde_json::json!({"writers": writers})).into_response())
}

/// `DELETE /writers/{w}`: removes the writer and its rate limit; 404 naming `writer` when
/// there is none.
pub async fn remove(
    State(state): State<AppState>,
    Path(writer): Path<String>,
) -> ApiResult<Response> {
    let writer = writer_name(&writer)?;
    match state.0.ctldb.delete_writer(&writer).await {
        Ok(()) => Ok(ok()),
        Err(CtldbError::WriterNotFound) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no writer with the name '{writer}' exists"),
        )
        .with_field("writer")),
        Err(e) => Err(e.into()),
    }
}
