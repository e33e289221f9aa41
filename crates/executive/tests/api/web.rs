//! The browser-facing edges: `GET /` (the document, or a redirect to the console), Swagger UI
//! at `/docs` with only same-origin assets, all served, and CORS (`cors_origins`).

use ctlstore_testkit::{Backend, TestDb, TestExecutive};
use reqwest::{Method, StatusCode, header};

#[tokio::test]
async fn root_answers_programs_and_browsers() {
    let db = TestDb::create(Backend::Sqlite).await;
    let s = TestExecutive::start(&db.url).await;
    let (status, doc) = s.call(Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc, ctlstore_executive::openapi::document());
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let browser = no_redirects
        .get(s.url("/"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("send");
    assert_eq!(browser.status(), StatusCode::FOUND);
    assert_eq!(
        browser
            .headers()
            .get(header::LOCATION)
            .map(|v| v.as_bytes()),
        Some(&b"/ui/"[..])
    );
    s.stop().await;
    db.cleanup().await;
}

/// The `src` and `href` attribute values of an HTML page.
fn referenced(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            urls.push(rest[..rest.find('"').unwrap_or(rest.len())].to_string());
        }
    }
    urls
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let db = TestDb::create(Backend::Sqlite).await;
    let s = TestExecutive::start(&db.url).await;
    for page in ["/docs", "/docs/"] {
        let resp = s.request(Method::GET, page).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{page}");
        let content_type = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .to_string();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let html = resp.text().await.expect("html");
        let urls = referenced(&html);
        assert!(urls.len() >= 3, "{urls:?}");
        for url in urls {
            assert!(
                url.starts_with('/') && !url.starts_with("//"),
                "{url}: not same-origin"
            );
            let asset = s.request(Method::GET, &url).send().await.expect("send");
            assert_eq!(asset.status(), StatusCode::OK, "{url}");
            let kind = asset.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .to_string();
            let expected = if url.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(kind.starts_with(expected), "{url}: {kind}");
            assert!(asset.bytes().await.expect("body").len() > 100, "{url}");
        }
    }
    let init = s
        .request(Method::GET, "/docs/swagger-initializer.js")
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(init.contains("\"/openapi.json\""), "{init}");
    let license = s
        .request(Method::GET, "/docs/LICENSE")
        .send()
        .await
        .expect("send");
    assert_eq!(license.status(), StatusCode::OK);
    let missing = s
        .request(Method::GET, "/docs/nope.js")
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    s.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let db = TestDb::create(Backend::Sqlite).await;
    let origin = "https://console.example.com";
    let s = TestExecutive::start_with(&db.url, |c| {
        c.cors_origins = vec![origin.into(), "http://localhost:8080".into()]
    })
    .await;
    let preflight = s
        .request(Method::OPTIONS, "/families/fam/mutations")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,ctlstore-writer,ctlstore-secret",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(preflight.status(), StatusCode::OK);
    let h = preflight.headers();
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
    let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap_or("")
        .to_string();
    for name in [
        "ctlstore-writer",
        "ctlstore-secret",
        "content-type",
        "authorization",
    ] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(
        h[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap_or("")
            .contains("POST")
    );
    let simple = s
        .request(Method::GET, "/status")
        .header(header::ORIGIN, origin)
        .send()
        .await
        .expect("send");
    assert_eq!(
        simple.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        origin
    );
    let other = s
        .request(Method::GET, "/status")
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .expect("send");
    assert!(
        other
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    s.stop().await;

    // Without origins configured, no CORS headers at all.
    let plain = TestExecutive::start(&db.url).await;
    let resp = plain
        .request(Method::GET, "/status")
        .header(header::ORIGIN, origin)
        .send()
        .await
        .expect("send");
    assert!(
        resp.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    plain.stop().await;
    db.cleanup().await;
}

#[test]
fn a_malformed_origin_is_refused_at_start() {
    for bad in [
        "console.example.com",
        "https://x.example/path",
        "https://bad\norigin",
    ] {
        let config = ctlstore_executive::Config {
            cors_origins: vec![bad.into()],
            ..Default::default()
        };
        let err = config.validate().expect_err(bad).to_string();
        assert!(err.contains("cors_origins"), "{err}");
    }
    let star = ctlstore_executive::Config {
        cors_origins: vec!["*".into()],
        ..Default::default()
    };
    assert!(star.validate().is_ok());
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_every_asset() {
    let db = TestDb::create(Backend::Sqlite).await;
    let s = TestExecutive::start(&db.url).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let bare = no_redirects.get(s.url("/ui")).send().await.expect("send");
    assert!(bare.status().is_redirection(), "{}", bare.status());
    assert_eq!(bare.headers()[header::LOCATION].as_bytes(), b"/ui/");

    let page = s.request(Method::GET, "/ui/").send().await.expect("send");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.expect("body");
    let loaded = referenced(&html);
    assert!(loaded.iter().any(|u| u == "console.js"), "{loaded:?}");
    for (path, content_type) in ctlstore_console::asset_paths() {
        let resp = s.request(Method::GET, &path).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], content_type, "{path}");
        // Revalidated on every load, so an upgraded executive never runs yesterday's script.
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        let body = resp.text().await.expect("body");
        assert!(!body.is_empty(), "{path}");
        for off_origin in ["https://", "http://"] {
            assert!(
                !body.contains(off_origin),
                "{path} names an off-origin URL ({off_origin})"
            );
        }
    }
    // Every relative reference of the page resolves to a served asset (`../docs` is Swagger UI).
    for target in loaded.iter().filter(|u| !u.starts_with("..")) {
        let resp = s
            .request(Method::GET, &format!("/ui/{target}"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{target}");
    }
    let missing = s
        .request(Method::GET, "/ui/nope.js")
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    s.stop().await;
    db.cleanup().await;
}
