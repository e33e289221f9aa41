//! The executive's browser-facing edges: `GET /` (the OpenAPI document for programs, as LeifDB
//! does; a redirect to the console for browsers) and CORS for pages served from other origins
//! (`--cors-origin`). Swagger UI itself (`/docs`) comes from the `ctlstore-apidocs` crate.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Where a browser asking for `/` is sent: the console.
pub const CONSOLE_PATH: &str = ctlstore_console::CONSOLE_PAGE;

/// `GET /`: `302 -> /ui/` when `Accept` names `text/html` (a browser), else the OpenAPI
/// document.
pub async fn root(headers: HeaderMap) -> Response {
    let browser = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    if browser {
        return (StatusCode::FOUND, [(header::LOCATION, CONSOLE_PATH)]).into_response();
    }
    Json(crate::openapi::document()).into_response()
}

/// The request headers a browser page may send: the writer's credentials, the admin token and
/// JSON bodies.
const ALLOWED_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    HeaderName::from_static("ctlstore-writer"),
    HeaderName::from_static("ctlstore-secret"),
];

/// The CORS layer for `origins` (`None` when there are none: no CORS headers at all). Each
/// origin is `scheme://host[:port]` as browsers send it, or `*` for any origin. Preflight
/// (`OPTIONS` with `Access-Control-Request-Method`) is answered by the layer, before routing.
pub fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let mut values = Vec::with_capacity(origins.len());
        for origin in origins {
            let well_formed = origin.split_once("://").is_some_and(|(scheme, host)| {
                !scheme.is_empty() && !host.is_empty() && !host.contains('/')
            });
            let value = HeaderValue::from_str(origin).ok().filter(|_| well_formed);
            let value = value.ok_or_else(|| {
                format!("'{origin}' is not an origin (scheme://host[:port], no path) or '*'")
            })?;
            values.push(value);
        }
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(ALLOWED_HEADERS)
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}
