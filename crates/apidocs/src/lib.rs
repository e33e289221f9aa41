//! Swagger UI at `/docs` for a server's own `/openapi.json`, served from the binary: the page,
//! its script and stylesheet are compiled in (`include_bytes!`), so the docs work offline, behind
//! a firewall and without a CDN, and `cargo build` needs neither npm nor the network.
//!
//! The assets are swagger-ui-dist's (Apache-2.0, `assets/LICENSE`, `assets/NOTICE`), vendored
//! from the npm package: docs/decisions/0005-swagger-ui-assets.md says why (the crates.io crates
//! download at build time or bring more than they serve) and how to update them.
//!
//! Used by the executive and the sidecar alike: [`page`] answers `GET /docs` (a route of their
//! route tables, so it is in their OpenAPI documents), [`assets`] serves `/docs/` and the files
//! under it. Every URL the page loads is same-origin and under `/docs/`, except the document
//! itself, `/openapi.json`.
//!
//! Architecture invariant: no state, no I/O; depends on axum only.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The swagger-ui-dist release the assets come from.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// Where the page is served.
pub const DOCS_PATH: &str = "/docs";

/// The document the page shows (each server serves its own there).
pub const OPENAPI_PATH: &str = "/openapi.json";

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>ctlstore API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"#;

/// One compiled-in file: its name under its directory, content type and bytes. Shared with the
/// console (`ctlstore-console`), which serves its own files the same way.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

/// The file `name` of `assets` with its content type and the given extra headers, or a 404
/// saying `missing`.
pub fn serve_asset(
    assets: &[Asset],
    name: &str,
    missing: &'static str,
    headers: &[(header::HeaderName, &'static str)],
) -> Response {
    let Some(a) = assets.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, missing).into_response();
    };
    let mut response = a.bytes.into_response();
    let map = response.headers_mut();
    map.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    for (name, value) in headers {
        map.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/swagger-ui-bundle.js"),
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/swagger-ui.css"),
    },
    Asset {
        name: "swagger-initializer.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/swagger-initializer.js"),
    },
    Asset {
        name: "LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/LICENSE"),
    },
    Asset {
        name: "NOTICE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/NOTICE"),
    },
    Asset {
        name: "swagger-ui-bundle.js.LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/swagger-ui-bundle.js.LICENSE.txt"),
    },
];

/// The Swagger UI page (`GET /docs`).
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page is tiny and names the asset paths; the assets are what is worth caching.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

fn asset(name: &str) -> Response {
    // A day: an upgrade that changes the assets is picked up by tomorrow at the latest (the
    // version is in the page's script, so a stale mix shows as an old UI, never a broken one).
    serve_asset(
        ASSETS,
        name,
        "no such file under /docs/",
        &[(header::CACHE_CONTROL, "public, max-age=86400")],
    )
}

/// `/docs/` (the page again) and the files under `/docs/`, for any router state.
pub fn assets<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/docs/", get(page)).route(
        "/docs/{file}",
        get(|axum::extract::Path(file): axum::extract::Path<String>| async move { asset(&file) }),
    )
}

/// The paths of every file the page loads, for tests: all same-origin.
pub fn asset_paths() -> impl Iterator<Item = String> {
    ASSETS.iter().map(|a| format!("{DOCS_PATH}/{}", a.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_compiled_in_files() {
        let mut referenced = 0;
        for attr in ["src=\"", "href=\""] {
            for (i, _) in PAGE.match_indices(attr) {
                let rest = &PAGE[i + attr.len()..];
                let url = &rest[..rest.find('"').unwrap_or(rest.len())];
                let name = url
                    .strip_prefix("/docs/")
                    .unwrap_or_else(|| panic!("{url} is not under /docs/"));
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{url} is not compiled in"
                );
                referenced += 1;
            }
        }
        assert_eq!(referenced, 3);
        let init = String::from_utf8_lossy(include_bytes!("../assets/swagger-initializer.js"));
        assert!(init.contains(&format!("url: \"{OPENAPI_PATH}\"")));
    }
}
