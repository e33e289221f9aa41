//! The web console, served by the executive at `/ui/`.
//!
//! Its assets (`assets/`) are plain HTML, CSS and JavaScript written for this project and
//! compiled into the binary with `include_bytes!`, so the console needs no CDN, no npm and no
//! build step: it is exactly the files in `assets/`. It talks to the executive only through
//! its public HTTP API (the read routes, mutations, schema and limit routes, the ledger
//! long-poll), so it can do nothing a `curl` could not. Writer credentials and the admin token
//! are kept in the tab's memory (`sessionStorage`), never in cookies or `localStorage`.

use axum::Router;
use axum::http::header;
use axum::response::{Redirect, Response};
use axum::routing::get;
use ctlstore_apidocs::{Asset, serve_asset};

/// Where the console lives on the executive.
pub const CONSOLE_PATH: &str = "/ui";
/// Its page: where `/ui` and a browser asking for `/` are sent.
pub const CONSOLE_PAGE: &str = "/ui/";

const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../assets/index.html"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/console.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/console.css"),
    },
];

fn asset(name: &str) -> Response {
    serve_asset(
        ASSETS,
        name,
        "no such file under /ui/",
        &[
            // Revalidated every time: the files are small and an upgraded executive must never
            // be driven by yesterday's script.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Everything the console loads or calls is same-origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            ),
        ],
    )
}

/// `/ui` (redirected to `/ui/`), `/ui/` (the page) and `/ui/{file}`, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            CONSOLE_PATH,
            get(|| async { Redirect::permanent(CONSOLE_PAGE) }),
        )
        .route(CONSOLE_PAGE, get(|| async { asset("index.html") }))
        .route(
            &format!("{CONSOLE_PAGE}{{file}}"),
            get(|axum::extract::Path(file): axum::extract::Path<String>| async move { asset(&file) }),
        )
}

/// Every file the console serves, as (path, content type), for tests.
pub fn asset_paths() -> impl Iterator<Item = (String, &'static str)> {
    ASSETS
        .iter()
        .map(|a| (format!("{CONSOLE_PAGE}{}", a.name), a.content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        let a = ASSETS.iter().find(|a| a.name == name).expect("asset");
        std::str::from_utf8(a.bytes).expect("utf-8")
    }

    #[test]
    fn nothing_is_loaded_or_called_off_origin() {
        for a in ASSETS {
            let t = std::str::from_utf8(a.bytes).expect("utf-8");
            for bad in [
                "http://",
                "https://",
                "//cdn",
                "localStorage",
                "document.cookie",
            ] {
                assert!(!t.contains(bad), "{} contains {bad}", a.name);
            }
        }
    }

    #[test]
    fn the_page_loads_only_compiled_in_files() {
        let page = text("index.html");
        for attr in ["src=\"", "href=\""] {
            for (i, _) in page.match_indices(attr) {
                let rest = &page[i + attr.len()..];
                let target: String = rest.chars().take_while(|c| *c != '"').collect();
                if target.starts_with("../") {
                    continue; // the executive's own pages (Swagger UI at /docs)
                }
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "index.html loads {target}, which is not compiled in"
                );
            }
        }
    }

    #[test]
    fn data_reaches_the_page_as_text_only() {
        // Rows, names and errors come from users: the script must never parse them as HTML.
        let js = text("console.js");
        assert!(!js.contains("innerHTML"), "innerHTML in console.js");
        assert!(!js.contains("insertAdjacentHTML"));
        assert!(!js.contains("eval("));
    }
}
