//! The route table and the middleware around it.
//!
//! Layers, outermost first: request metrics; the body limit (`body_limit.rs`: a declared
//! `Content-Length` over the limit is ctlstore's 417 `Request too large`; a streamed body that
//! overflows is 413; either way the rest of the body is read before answering); for API routes
//! the handler timeout (503); for schema and limit changes the admin token. The ledger feed is
//! outside the timeout because a long-poll waits by design.

mod access;
mod body_limit;
mod feed;
mod limits;
mod mutations;
mod ops;
mod prune;
mod reads;
mod schema_admin;
mod web;
mod writers;

pub(crate) use access::readable;
pub use feed::{DEFAULT_LIMIT as FEED_DEFAULT_LIMIT, FEED_KEEPALIVE, MAX_LIMIT as FEED_MAX_LIMIT};
pub(crate) use web::cors_layer;
/// Query limits the OpenAPI document declares (one definition each, in the routes).
pub(crate) mod query_limits {
    pub(crate) use super::feed::{DEFAULT_LIMIT as LEDGER_DEFAULT, MAX_LIMIT as LEDGER_MAX};
    pub(crate) use super::reads::{DEFAULT_PAGE_ROWS as ROWS_DEFAULT, MAX_PAGE_ROWS as ROWS_MAX};
}

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use ctlstore_schema::WriterName;
use ctlstore_tls::PeerIdentity;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Every route of the executive: (method, path). The OpenAPI document is generated from the same
/// list (see [`crate::openapi`]) and a test checks that each is served.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/families/{familyName}"),
    ("POST", "/families/{familyName}/tables/{tableName}"),
    ("PUT", "/families/{familyName}/tables/{tableName}"),
    ("DELETE", "/families/{familyName}/tables/{tableName}"),
    ("POST", "/tables"),
    ("GET", "/families/{familyName}/tables/{tableName}/indexes"),
    ("POST", "/families/{familyName}/tables/{tableName}/indexes"),
    (
        "DELETE",
        "/families/{familyName}/tables/{tableName}/indexes/{indexName}",
    ),
    ("POST", "/families/{familyName}/mutations"),
    ("GET", "/cookie"),
    ("POST", "/cookie"),
    ("POST", "/writers/{writerName}"),
    ("GET", "/writers"),
    ("DELETE", "/writers/{writerName}"),
    ("GET", "/families"),
    ("GET", "/families/{familyName}/tables"),
    ("GET", "/families/{familyName}/tables/{tableName}/rows"),
    ("GET", "/schema/table/{familyName}/{tableName}"),
    ("GET", "/schema/family/{familyName}"),
    ("GET", "/limits/tables"),
    ("POST", "/limits/tables/{familyName}/{tableName}"),
    ("DELETE", "/limits/tables/{familyName}/{tableName}"),
    ("GET", "/limits/writers"),
    ("POST", "/limits/writers/{writerName}"),
    ("DELETE", "/limits/writers/{writerName}"),
    ("DELETE", "/clear-rows/families/{familyName}"),
    (
        "DELETE",
        "/clear-rows/families/{familyName}/tables/{tableName}",
    ),
    ("GET", "/status"),
    ("GET", "/ledger"),
    ("GET", "/ledger/stream"),
    ("GET", "/ledger/access"),
    ("POST", "/ledger/prune"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
    ("GET", "/docs"),
];

/// The whole HTTP application over `state`.
pub fn router(state: AppState) -> Router {
    let _ = crate::metrics::handle();
    let admin = Router::new()
        .route("/families/{familyName}", post(schema_admin::create_family))
        .route(
            "/families/{familyName}/tables/{tableName}",
            post(schema_admin::create_table)
                .put(schema_admin::add_fields)
                .delete(schema_admin::drop_table),
        )
        .route("/tables", post(schema_admin::create_tables))
        .route(
            "/families/{familyName}/tables/{tableName}/indexes",
            get(schema_admin::list_indexes).post(schema_admin::create_index),
        )
        .route(
            "/families/{familyName}/tables/{tableName}/indexes/{indexName}",
            delete(schema_admin::drop_index),
        )
        .route(
            "/limits/tables/{familyName}/{tableName}",
            post(limits::set_table_limit).delete(limits::delete_table_limit),
        )
        .route(
            "/limits/writers/{writerName}",
            post(limits::set_writer_limit).delete(limits::delete_writer_limit),
        )
        .route(
            "/clear-rows/families/{familyName}",
            delete(schema_admin::clear_family),
        )
        .route(
            "/clear-rows/families/{familyName}/tables/{tableName}",
            delete(schema_admin::clear_table),
        )
        // Reads through the executive (issue 22): operators' routes, so behind the token too.
        .route("/families", get(reads::families))
        .route("/families/{familyName}/tables", get(reads::tables))
        .route(
            "/families/{familyName}/tables/{tableName}/rows",
            get(reads::rows),
        )
        .route("/writers", get(writers::list))
        .route("/writers/{writerName}", delete(writers::remove));
    // Admin, but without the handler timeout: pruning a large ledger takes as long as it takes
    // (it logs its progress), and a timeout would stop it half way.
    let long_admin = Router::new()
        .route("/ledger/prune", post(prune::prune))
        .route_layer(from_fn_with_state(state.clone(), access::authorize));
    let api = Router::new()
        .merge(admin)
        .route("/families/{familyName}/mutations", post(mutations::mutate))
        .route(
            "/cookie",
            get(writers::get_cookie).post(writers::set_cookie),
        )
        .route("/writers/{writerName}", post(writers::register))
        .route(
            "/schema/table/{familyName}/{tableName}",
            get(schema_admin::table_schema),
        )
        .route(
            "/schema/family/{familyName}",
            get(schema_admin::family_schema),
        )
        .route("/limits/tables", get(limits::table_limits))
        .route("/limits/writers", get(limits::writer_limits))
        .route("/status", get(ops::status))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        // Who may call what: the admin token and the ACL (`access.rs`, one table for all).
        .route_layer(from_fn_with_state(state.clone(), access::authorize))
        .route_layer(from_fn_with_state(state.clone(), handler_timeout));
    let cors_origins = state.0.config.cors_origins.clone();
    let app = Router::new()
        .merge(api)
        .merge(long_admin)
        .route("/ledger", get(feed::long_poll))
        .route("/ledger/stream", get(feed::stream))
        .route("/ledger/access", get(feed::access))
        // The OpenAPI document for programs, the console for browsers; Swagger UI at /docs.
        .route("/", get(web::root))
        .route(ctlstore_apidocs::DOCS_PATH, get(ctlstore_apidocs::page))
        .merge(ctlstore_apidocs::assets())
        .merge(ctlstore_console::router())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), body_limit::limit_body))
        .layer(from_fn_with_state(
            crate::metrics::HTTP,
            ctlstore_telemetry::track,
        ))
        .with_state(state);
    // Outermost, so a preflight is answered before routing and every answer carries the CORS
    // headers. The origins were checked when the executive started (`Config::validate`).
    match cors_layer(&cors_origins) {
        Ok(Some(cors)) => app.layer(cors),
        _ => app,
    }
}

/// Marks answers that come from no route, so clients and tests can tell them from a handler's
/// own 404 (an unknown family, say).
const NO_ROUTE_HEADER: &str = "x-ctlstore-route";

async fn no_route(request: Request) -> Response {
    let message = format!("no route for {} {}", request.method(), request.uri().path());
    let mut response = ApiError::new(StatusCode::NOT_FOUND, message).into_response();
    response
        .headers_mut()
        .insert(NO_ROUTE_HEADER, HeaderValue::from_static("none"));
    response
}

async fn method_not_allowed(request: Request) -> Response {
    let message = format!(
        "method {} not allowed on {}",
        request.method(),
        request.uri().path()
    );
    let mut response = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message).into_response();
    response
        .headers_mut()
        .insert(NO_ROUTE_HEADER, HeaderValue::from_static("method"));
    response
}

async fn handler_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.0.config.handler_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError {
            retry_after: Some(crate::error::RETRY_AFTER_SECONDS),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "handler timed out")
        }
        .into_response(),
    }
}

/// The writer a request writes as: named by the `ctlstore-writer` / `ctlstore-secret` headers
/// when they are sent (ctlstore's way), else, on a mutual-TLS connection, the writer whose name
/// is the client certificate's identity (the certificate is the credential).
pub(crate) async fn authenticated_writer(
    state: &AppState,
    headers: &HeaderMap,
    identity: Option<&PeerIdentity>,
) -> ApiResult<WriterName> {
    let header_text = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(format!("missing {name} header")).with_field(name)
            })
    };
    if headers.get("ctlstore-writer").is_none()
        && headers.get("ctlstore-secret").is_none()
        && let Some(identity) = identity
        && let Ok(writer) = WriterName::new(identity.as_str())
    {
        // A registered writer of this name: its cookie row exists.
        return match state.0.ctldb.cookie(&writer).await {
            Ok(_) => Ok(writer),
            Err(ctlstore_ctldb::CtldbError::WriterNotFound) => Err(ApiError::unauthorized(
                format!(
                    "no ctlstore-writer header, and no writer is registered as the client certificate's identity '{}'",
                    identity.as_str()
                ),
            )
            .with_field("ctlstore-writer")),
            Err(e) => Err(e.into()),
        };
    }
    let writer = header_text("ctlstore-writer")?;
    let secret = header_text("ctlstore-secret")?;
    let writer = WriterName::new(writer)
        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("ctlstore-writer"))?;
    state.0.ctldb.authenticate(&writer, secret).await?;
    Ok(writer)
}

/// Parses a JSON body; a syntax or shape error is 400 naming the field serde names.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let field = message.split('`').nth(1).map(String::from);
        let error = ApiError::bad_request(format!("JSON Error: {message}"));
        match field {
            Some(f) => error.with_field(f),
            None => error.with_field("body"),
        }
    })
}

/// ctlstore's "sanitize family: ..." / "sanitize table: ..." prefix for names in paths.
pub(crate) fn path_name<T>(
    kind: &str,
    raw: &str,
    parse: fn(&str) -> Result<T, ctlstore_schema::NameError>,
) -> ApiResult<T> {
    parse(raw).map_err(|e| ApiError::bad_request(format!("sanitize {kind}: {e}")).with_field(kind))
}

/// The family and table of a `/{familyName}/{tableName}` path, each 400 naming itself when
/// invalid.
pub(crate) fn path_table(
    family: &str,
    table: &str,
) -> ApiResult<(ctlstore_schema::FamilyName, ctlstore_schema::TableName)> {
    Ok((
        path_name("family", family, ctlstore_schema::FamilyName::new)?,
        path_name("table", table, ctlstore_schema::TableName::new)?,
    ))
}

/// A writer name from a path, 400 naming `writer` when invalid.
pub(crate) fn writer_name(raw: &str) -> ApiResult<WriterName> {
    WriterName::new(raw).map_err(|e| ApiError::bad_request(e.to_string()).with_field("writer"))
}

/// An empty 200, ctlstore's success answer for writes.
pub(crate) fn ok() -> Response {
    StatusCode::OK.into_response()
}
