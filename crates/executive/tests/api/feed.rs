//! The ledger feed: long-poll, NDJSON stream, and two executives sharing one ledger.

use std::time::{Duration, Instant};

use ctlstore_executive::FEED_KEEPALIVE;
use ctlstore_testkit::{Backend, SchemaDef, TestDb, TestExecutive, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_error, register_items, row};

backend_tests!(
    malformed_feed_queries_are_json_errors,
    waiting_answers_send_keepalives,
    long_poll_answers_at_commit,
    stream_follows_the_ledger,
    two_executives_one_ledger,
    families_filter_the_feed_with_through,
);

/// A query that does not parse is a 400 with our JSON error naming the parameter, as every
/// other bad request (axum's own rejection is plain text).
async fn malformed_feed_queries_are_json_errors(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    for (query, field) in [
        ("after=&limit=", "query"),
        ("after=abc", "query"),
        ("limit=-x", "query"),
    ] {
        for route in ["/ledger", "/ledger/stream"] {
            let got = s.call(Method::GET, &format!("{route}?{query}"), None).await;
            assert_error(
                &got,
                StatusCode::BAD_REQUEST,
                None,
                &format!("{route}?{query}"),
            );
            assert!(
                got.1["field"].is_string(),
                "{route}?{query}: {} ({field})",
                got.1
            );
        }
    }
}

/// A waiting long-poll or stream is never silent for longer than the keepalive period (plus
/// scheduling slack), so a client can tell a dead connection from a quiet feed; the long-poll's
/// body is still one JSON document (leading whitespace is JSON).
async fn waiting_answers_send_keepalives(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let head = s.head().await;
    let slack = Duration::from_millis(500);

    let started = Instant::now();
    let mut resp = s
        .request(Method::GET, &format!("/ledger?after={head}&wait=3500ms"))
        .send()
        .await
        .expect("long-poll");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        started.elapsed() < slack,
        "headers at once, not at the end of the wait"
    );
    let mut body = Vec::new();
    let mut last = Instant::now();
    let mut longest_silence = Duration::ZERO;
    while let Some(chunk) = resp.chunk().await.expect("read the long-poll") {
        longest_silence = longest_silence.max(last.elapsed());
        last = Instant::now();
        body.extend_from_slice(&chunk);
    }
    assert!(
        longest_silence <= FEED_KEEPALIVE + slack,
        "the long-poll was silent for {longest_silence:?}"
    );
    let spaces = body.iter().take_while(|b| **b == b' ').count();
    assert!(spaces >= 3, "one space per second of waiting: {spaces}");
    let page: Value = serde_json::from_slice(&body).expect("the body is JSON");
    assert_eq!(page["entries"], json!([]));
    assert_eq!(page["head"], json!(head));

    let mut stream = s
        .request(Method::GET, &format!("/ledger/stream?after={head}"))
        .send()
        .await
        .expect("stream");
    let first = tokio::time::timeout(FEED_KEEPALIVE + slack, stream.chunk())
        .await
        .expect("an idle stream sends a keepalive line within the period")
        .expect("read the stream")
        .expect("a chunk");
    let line: Value = serde_json::from_slice(&first).expect("a JSON line");
    assert_eq!(line, json!({"head": head}));
    drop(stream);
    s.stop().await;
    db.cleanup().await;
}

async fn long_poll_answers_at_commit(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    let head = s.head().await;
    let (empty_status, empty) = s
        .call(
            Method::GET,
            &format!("/ledger?after={head}&wait=100ms"),
            None,
        )
        .await;
    assert_eq!(empty_status, StatusCode::OK);
    assert_eq!(
        empty["entries"],
        json!([]),
        "a wait that expires answers with no entries"
    );
    let poll = {
        let url = format!("{}/ledger?after={head}&wait=20s", s.base);
        let client = s.client.clone();
        tokio::spawn(async move {
            let resp = client.get(url).send().await.expect("poll");
            let page: Value = resp.json().await.expect("json");
            (Instant::now(), page)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = w
        .mutate("fam", &json!({"mutations": [row(7, "seven")]}))
        .await;
    let acked = Instant::now();
    assert_eq!(written.0, StatusCode::OK);
    let (answered, page) = poll.await.expect("poll task");
    let delay = answered.saturating_duration_since(acked);
    assert!(
        delay < Duration::from_secs(2),
        "long-poll answered {delay:?} after the ack, not at its 20 s expiry"
    );
    assert_eq!(page["entries"][0]["seq"], json!(head + 1));
    assert!(
        page["entries"][0]["statement"]
            .as_str()
            .is_some_and(|t| t.contains("'seven'"))
    );
    assert_error(
        &s.call(Method::GET, "/ledger?wait=forever", None).await,
        StatusCode::BAD_REQUEST,
        Some("wait"),
        "bad wait",
    );
    assert_error(
        &s.call(Method::GET, "/ledger?limit=0", None).await,
        StatusCode::BAD_REQUEST,
        Some("limit"),
        "bad limit",
    );
    s.stop().await;
    db.cleanup().await;
}

async fn stream_follows_the_ledger(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    let mut resp = s
        .request(Method::GET, "/ledger/stream?after=0")
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    let writer = tokio::spawn(async move {
        for i in 0..5 {
            w.mutate_ok("fam", &json!({"mutations": [row(100 + i, "streamed")]}))
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < 6 && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("chunk in time")
            .expect("read");
        let Some(chunk) = chunk else { break };
        buffer.extend_from_slice(&chunk);
        while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=pos).collect();
            lines.push(serde_json::from_slice::<Value>(&line).expect("a JSON line"));
        }
    }
    writer.await.expect("writer");
    assert!(lines.len() >= 6, "CREATE TABLE and 5 rows: {lines:?}");
    let seqs: Vec<i64> = lines.iter().filter_map(|l| l["seq"].as_i64()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "in order, no gaps"
    );
    s.stop().await;
    db.cleanup().await;
}

async fn two_executives_one_ledger(backend: Backend) {
    let db = TestDb::create(backend).await;
    let a = TestExecutive::start(&db.url).await;
    let b = TestExecutive::start(&db.url).await;
    let w = register_items(&a).await;
    let start = a.head().await;
    let mut tasks = Vec::new();
    for (i, base) in [
        a.base.clone(),
        b.base.clone(),
        a.base.clone(),
        b.base.clone(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut w = w.clone();
        w.base = base;
        tasks.push(tokio::spawn(async move {
            for j in 0..10i64 {
                let id = i as i64 * 100 + j;
                let body = json!({"mutations": [row(id, &format!("w{i}")), row(id + 50, &format!("w{i}"))]});
                w.mutate_ok("fam", &body).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    for server in [&a, &b] {
        let entries = server.ledger(start).await;
        assert_eq!(entries.len(), 4 * 10 * 4, "BEGIN + 2 + COMMIT per request");
        let seqs: Vec<i64> = entries.iter().filter_map(|e| e["seq"].as_i64()).collect();
        assert_eq!(
            seqs,
            (start + 1..=start + 160).collect::<Vec<_>>(),
            "one gap-free order"
        );
        for batch in entries.chunks(4) {
            assert_eq!(batch[0]["statement"], "--- BEGIN");
            assert_eq!(batch[3]["statement"], "--- COMMIT");
        }
    }
    a.stop().await;
    b.stop().await;
    db.cleanup().await;
}

/// `families=`: only those families' entries (and every batch marker), with `through` saying
/// how far the page carried the follower; a wait with nothing for it keeps waiting.
async fn families_filter_the_feed_with_through(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    let other = s
        .register(&SchemaDef {
            family: "other",
            tables: &[super::ITEMS],
            writer: "writer2",
            secret: "secret2",
        })
        .await;
    let start = s.head().await;
    assert_eq!(
        w.mutate("fam", &json!({"mutations": [row(1, "one"), row(2, "two")]}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        other
            .mutate("other", &json!({"mutations": [row(3, "hidden")]}))
            .await
            .0,
        StatusCode::OK
    );
    let head = s.head().await;
    let (status, page) = s
        .call(
            Method::GET,
            &format!("/ledger?after={start}&families=fam"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["through"], json!(head), "{page}");
    let statements: Vec<&str> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["statement"].as_str())
        .collect();
    assert_eq!(
        statements.len(),
        4,
        "a batch of two: markers and rows: {statements:?}"
    );
    assert!(
        statements.iter().all(|t| !t.contains("hidden")),
        "{statements:?}"
    );
    // Unfiltered pages carry no `through`.
    let (_, all) = s
        .call(Method::GET, &format!("/ledger?after={start}"), None)
        .await;
    assert!(all.get("through").is_none(), "{all}");
    // Nothing for this follower: the long-poll waits past other families' writes.
    let poll = {
        let url = format!("{}/ledger?after={head}&families=fam&wait=1500ms", s.base);
        let client = s.client.clone();
        tokio::spawn(async move {
            let page: Value = client
                .get(url)
                .send()
                .await
                .expect("poll")
                .json()
                .await
                .expect("json");
            (Instant::now(), page)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    other
        .mutate("other", &json!({"mutations": [row(4, "hidden")]}))
        .await;
    let (answered, page) = poll.await.expect("poll task");
    assert!(
        answered.duration_since(started) > Duration::from_millis(900),
        "answered early for another family's write: {page}"
    );
    assert_eq!(page["entries"], json!([]), "{page}");
    assert_eq!(page["through"], json!(head + 1), "{page}");
    assert_error(
        &s.call(Method::GET, "/ledger?families=Bad-Name", None).await,
        StatusCode::BAD_REQUEST,
        Some("families"),
        "bad families",
    );
    s.stop().await;
    db.cleanup().await;
}
