//! Reads through the executive (issue 22): `GET /families`, `/families/{f}/tables`,
//! `/families/{f}/tables/{t}/rows` (by key, by page), `GET /writers`, `DELETE /writers/{w}`:
//! read-after-write, keyset pages over a composite key with bytes in it, the 400s naming each
//! bad parameter, the 404s, and the admin token.

use std::collections::BTreeSet;

use ctlstore_testkit::{Backend, SchemaDef, TableDef, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_error, register_items, row};

backend_tests!(
    families_tables_and_rows,
    pages_over_a_composite_key,
    writers_list_and_remove,
    reads_need_the_admin_token
);

/// Percent-encodes a query value (everything but unreserved characters), so `+` and `/` of
/// base64 and the JSON punctuation arrive intact.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn rows_path(family: &str, table: &str, query: &[(&str, String)]) -> String {
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("/families/{family}/tables/{table}/rows?{}", q.join("&"))
}

async fn families_tables_and_rows(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;

    let (status, families) = s.call(Method::GET, "/families", None).await;
    assert_eq!(status, StatusCode::OK, "{families}");
    assert_eq!(
        families,
        json!({"families": [{"name": "fam", "tables": 1}]})
    );

    let (status, tables) = s.call(Method::GET, "/families/fam/tables", None).await;
    assert_eq!(status, StatusCode::OK, "{tables}");
    assert_eq!(tables["family"], "fam");
    let items = &tables["tables"][0];
    assert_eq!(items["name"], "items");
    assert_eq!(
        items["fields"],
        json!([
            ["id", "integer"],
            ["name", "string"],
            ["data", "binary"],
            ["score", "decimal"]
        ])
    );
    assert_eq!(items["keyFields"], json!(["id"]));
    assert_eq!(items["maxSize"], 100 * 1024 * 1024);
    assert_eq!(items["warnSize"], 50 * 1024 * 1024);
    assert!(
        items["sizeBytes"].is_null() || items["sizeBytes"].is_i64(),
        "{items}"
    );
    let unknown = s.call(Method::GET, "/families/nofam/tables", None).await;
    assert_error(
        &unknown,
        StatusCode::NOT_FOUND,
        Some("family"),
        "unknown family",
    );
    let invalid = s.call(Method::GET, "/families/a__b/tables", None).await;
    assert_error(
        &invalid,
        StatusCode::BAD_REQUEST,
        Some("family"),
        "bad family",
    );

    // Read after write: each acknowledged mutation is seen by the next read.
    let by_key = |key: &str| rows_path("fam", "items", &[("key", key.to_string())]);
    w.mutate_ok("fam", &json!({"mutations": [row(1, "a")]}))
        .await;
    let (status, got) = s.call(Method::GET, &by_key("1"), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got,
        json!({"row": {"id": 1, "name": "a", "data": "3q2+7w==", "score": 0.5}})
    );
    w.mutate_ok("fam", &json!({"mutations": [row(1, "b")]}))
        .await;
    let (_, got) = s.call(Method::GET, &by_key("[1]"), None).await;
    assert_eq!(got["row"]["name"], "b");
    w.mutate_ok(
        "fam",
        &json!({"mutations": [{"table": "items", "delete": true, "values": {"id": 1}}]}),
    )
    .await;
    let gone = s.call(Method::GET, &by_key("1"), None).await;
    assert_error(&gone, StatusCode::NOT_FOUND, Some("key"), "deleted row");
    w.mutate_ok(
        "fam",
        &json!({"mutations": [{"table": "items", "values": {"id": 2, "name": null, "data": null, "score": null}}]}),
    )
    .await;
    let (_, nulls) = s.call(Method::GET, &by_key("2"), None).await;
    assert_eq!(
        nulls["row"],
        json!({"id": 2, "name": null, "data": null, "score": null})
    );

    let no_table = s
        .call(Method::GET, &rows_path("fam", "nothere", &[]), None)
        .await;
    assert_error(
        &no_table,
        StatusCode::NOT_FOUND,
        Some("table"),
        "unknown table",
    );
    let no_family = s
        .call(Method::GET, &rows_path("nofam", "items", &[]), None)
        .await;
    assert_error(
        &no_family,
        StatusCode::NOT_FOUND,
        Some("family"),
        "unknown family",
    );

    let bad: &[(&str, &str, &str)] = &[
        ("key", "{not json", "key"),
        ("key", "\"x\"", "key"),
        ("key", "[1, 2]", "key"),
        ("key", "[]", "key"),
        ("key", "null", "key"),
        ("prefix", "[1, 2]", "prefix"),
        ("prefix", "[\"x\"]", "prefix"),
        ("limit", "0", "limit"),
        ("limit", "1001", "limit"),
        ("limit", "ten", "limit"),
        ("after", "!!", "after"),
        ("after", "e30", "after"), // base64url of `{}`: not a key
    ];
    for (param, value, field) in bad {
        let got = s
            .call(
                Method::GET,
                &rows_path("fam", "items", &[(param, value.to_string())]),
                None,
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            Some(field),
            &format!("{param}={value}"),
        );
    }
    // A well-formed cursor of the right arity is accepted; one of another arity is not.
    let (status, _) = s
        .call(
            Method::GET,
            &rows_path("fam", "items", &[("after", "WzFd".into())]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let two = s
        .call(
            Method::GET,
            &rows_path("fam", "items", &[("after", "WzEsMl0".into())]),
            None,
        )
        .await;
    assert_error(&two, StatusCode::BAD_REQUEST, Some("after"), "cursor [1,2]");
    let mixed = s
        .call(
            Method::GET,
            &rows_path(
                "fam",
                "items",
                &[("key", "1".into()), ("limit", "5".into())],
            ),
            None,
        )
        .await;
    assert_error(
        &mixed,
        StatusCode::BAD_REQUEST,
        Some("limit"),
        "key with limit",
    );
    s.stop().await;
    db.cleanup().await;
}

const PAIRS: TableDef = TableDef {
    name: "pairs",
    fields: &[
        ("grp", "string"),
        ("n", "integer"),
        ("tag", "bytestring"),
        ("note", "text"),
    ],
    keys: &["grp", "n", "tag"],
};

/// The tags: base64 `+/8=` (0xfb 0xff: `+` and `/` must survive the query string) and `AA==`.
const TAGS: [&str; 2] = ["+/8=", "AA=="];

async fn pages_over_a_composite_key(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = s
        .register(&SchemaDef {
            family: "fam",
            tables: &[PAIRS],
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    let mut all = Vec::new();
    for grp in ["a", "b", "c"] {
        for n in 0..50 {
            for tag in TAGS {
                all.push(json!({"table": "pairs", "values": {"grp": grp, "n": n, "tag": tag, "note": format!("{grp}{n}")}}));
            }
        }
    }
    assert_eq!(all.len(), 300);
    for batch in all.chunks(100) {
        w.mutate_ok("fam", &json!({"mutations": batch})).await;
    }
    // The key order every backend must give: grp, n, then the tag's bytes.
    let key_of = |r: &Value| {
        let tag = match r["tag"].as_str() {
            Some("AA==") => 0u8,
            Some("+/8=") => 1,
            other => panic!("tag {other:?}"),
        };
        (
            r["grp"].as_str().unwrap_or_default().to_string(),
            r["n"].as_i64().unwrap_or(-1),
            tag,
        )
    };
    let pages = |query: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let mut rows = Vec::new();
            let mut after: Option<String> = None;
            let mut count = 0;
            loop {
                let mut q = query.clone();
                if let Some(a) = &after {
                    q.push(("after", a.clone()));
                }
                let (status, page) = s
                    .call(Method::GET, &rows_path("fam", "pairs", &q), None)
                    .await;
                assert_eq!(status, StatusCode::OK, "{page}");
                rows.extend(page["rows"].as_array().cloned().unwrap_or_default());
                count += 1;
                match page["next"].as_str() {
                    Some(next) => after = Some(next.to_string()),
                    None => {
                        assert!(page["next"].is_null(), "{page}");
                        return (rows, count);
                    }
                }
            }
        }
    };

    let (whole, count) = pages(vec![("limit", "7".into())]).await;
    assert_eq!(whole.len(), 300);
    assert_eq!(count, 43, "300 rows in pages of 7");
    let keys: Vec<_> = whole.iter().map(key_of).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "key order");
    assert_eq!(
        keys.iter().collect::<BTreeSet<_>>().len(),
        300,
        "no row twice"
    );

    let (b, _) = pages(vec![("prefix", "[\"b\"]".into()), ("limit", "13".into())]).await;
    assert_eq!(b.len(), 100);
    assert!(b.iter().all(|r| r["grp"] == "b"));
    let (b7, _) = pages(vec![("prefix", "[\"b\", 7]".into())]).await;
    assert_eq!(b7.len(), 2);
    assert_eq!(b7[0]["tag"], "AA==");
    assert_eq!(b7[1]["tag"], "+/8=");
    assert_eq!(b7[1]["note"], "b7");
    let (exact, _) = pages(vec![("prefix", "[\"b\", 7, \"+/8=\"]".into())]).await;
    assert_eq!(exact.len(), 1);

    // The default page is 100 rows.
    let (_, first) = s
        .call(Method::GET, &rows_path("fam", "pairs", &[]), None)
        .await;
    assert_eq!(first["rows"].as_array().map(Vec::len), Some(100));
    assert!(first["next"].is_string());

    // One row by its whole key, bytes as base64; a wrong arity names `key`.
    let (status, one) = s
        .call(
            Method::GET,
            &rows_path("fam", "pairs", &[("key", "[\"c\", 49, \"+/8=\"]".into())]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        one["row"],
        json!({"grp": "c", "n": 49, "tag": "+/8=", "note": "c49"})
    );
    let short = s
        .call(
            Method::GET,
            &rows_path("fam", "pairs", &[("key", "[\"c\", 49]".into())]),
            None,
        )
        .await;
    assert_error(
        &short,
        StatusCode::BAD_REQUEST,
        Some("key"),
        "key too short",
    );
    let bad_bytes = s
        .call(
            Method::GET,
            &rows_path(
                "fam",
                "pairs",
                &[("prefix", "[\"c\", 1, \"not base64!\"]".into())],
            ),
            None,
        )
        .await;
    assert_error(
        &bad_bytes,
        StatusCode::BAD_REQUEST,
        Some("prefix"),
        "bad base64",
    );

    // A row written between two pages shows up in a later page, none repeats.
    let (_, page1) = s
        .call(
            Method::GET,
            &rows_path("fam", "pairs", &[("limit", "250".into())]),
            None,
        )
        .await;
    w.mutate_ok(
        "fam",
        &json!({"mutations": [{"table": "pairs", "values": {"grp": "d", "n": 0, "tag": "AA==", "note": "late"}}]}),
    )
    .await;
    let next = page1["next"].as_str().expect("a next page").to_string();
    let (_, page2) = s
        .call(
            Method::GET,
            &rows_path("fam", "pairs", &[("limit", "250".into()), ("after", next)]),
            None,
        )
        .await;
    let rest = page2["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rest.len(), 51);
    assert_eq!(rest[50]["note"], "late");
    assert!(page2["next"].is_null());
    s.stop().await;
    db.cleanup().await;
}

async fn writers_list_and_remove(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    let (status, listed) = s.call(Method::GET, "/writers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!({"writers": [{"name": "writer1"}]}));
    let (status, _) = s
        .call(
            Method::POST,
            "/limits/writers/writer1",
            Some(json!({"amount": 10, "period": "1m"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    w.mutate_ok("fam", &json!({"mutations": [row(1, "a")]}))
        .await;
    let (status, body) = s.call(Method::DELETE, "/writers/writer1", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = s.call(Method::GET, "/writers", None).await;
    assert_eq!(listed, json!({"writers": []}));
    let (_, limits) = s.call(Method::GET, "/limits/writers", None).await;
    assert!(
        limits["writers"].is_null(),
        "the limit went with the writer: {limits}"
    );
    let (status, _) = w.mutate("fam", &json!({"mutations": [row(2, "b")]})).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a removed writer cannot write"
    );
    let again = s.call(Method::DELETE, "/writers/writer1", None).await;
    assert_error(
        &again,
        StatusCode::NOT_FOUND,
        Some("writer"),
        "removed twice",
    );
    let short = s.call(Method::DELETE, "/writers/ab", None).await;
    assert_error(
        &short,
        StatusCode::BAD_REQUEST,
        Some("writer"),
        "short name",
    );
    s.stop().await;
    db.cleanup().await;
}

async fn reads_need_the_admin_token(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start_with(&db.url, |c| c.admin_token = Some("tok-123".into())).await;
    let admin = |method: Method, path: &str| {
        s.request(method, path)
            .header("authorization", "Bearer tok-123")
            .send()
    };
    assert_eq!(
        admin(Method::POST, "/families/fam")
            .await
            .expect("send")
            .status(),
        StatusCode::OK
    );
    for (method, path) in [
        (Method::GET, "/families"),
        (Method::GET, "/families/fam/tables"),
        (Method::GET, "/families/fam/tables/items/rows"),
        (Method::GET, "/writers"),
        (Method::DELETE, "/writers/writer1"),
    ] {
        let refused = s.call(method.clone(), path, None).await;
        assert_error(
            &refused,
            StatusCode::UNAUTHORIZED,
            Some("Authorization"),
            &format!("{method} {path} without the token"),
        );
        let wrong = s
            .request(method.clone(), path)
            .header("authorization", "Bearer tok-124")
            .send()
            .await
            .expect("send");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let ok = admin(Method::GET, "/families").await.expect("send");
    assert_eq!(ok.status(), StatusCode::OK);
    let ok = admin(Method::GET, "/families/fam/tables/items/rows")
        .await
        .expect("send");
    assert_eq!(
        ok.status(),
        StatusCode::NOT_FOUND,
        "past the token: no such table"
    );
    s.stop().await;
    db.cleanup().await;
}
