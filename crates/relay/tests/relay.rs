//! The relay between an executive and hosts: reflectors follow it (and a relay following a
//! relay) to the same LDB as the executive's ledger; a long-poll is answered when an entry
//! commits; followers outside the window are redirected upstream with their query; bad queries
//! get the executive's 400s.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_reflector::{Config as ReflectorConfig, SourceConfig, Status, run};
use ctlstore_relay::{Config, serve};
use ctlstore_testkit::{Backend, TestDb, TestExecutive, WriterClient, sqlite_rows};
use serde_json::{Value, json};

async fn start_relay(upstream: &str, preload: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let mut config = Config::new(upstream);
    config.preload = preload;
    tokio::spawn(async move {
        serve(listener, config, std::future::pending())
            .await
            .expect("the relay runs");
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reqwest::get(format!("{base}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the relay did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    base
}

fn start_reflector(ldb: &Path, url: &str) -> Arc<Status> {
    let config = ReflectorConfig::new(ldb, SourceConfig::feed(url));
    let status = Arc::new(Status::new(Duration::from_secs(60)));
    let s = status.clone();
    tokio::spawn(async move {
        run(config, s, std::future::pending())
            .await
            .expect("reflector runs")
    });
    status
}

async fn wait_for(status: &Status, seq: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while status.applied_seq() < seq {
        assert!(
            Instant::now() < deadline,
            "reflector at {} of {seq}",
            status.applied_seq()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn write(writer: &WriterClient, id: i64) {
    writer
        .mutate_ok(
            "fam",
            &json!({"mutations": [{"table": "items", "values": {"id": id, "name": format!("n{id}")}}]}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_follow_a_relay_and_a_relay_of_a_relay() {
    let db = TestDb::create(Backend::Sqlite).await;
    let (exec, writer) = TestExecutive::with_table(&db.url, "items", ("name", "string")).await;
    for id in 0..20 {
        write(&writer, id).await;
    }
    let relay = start_relay(&exec.base, 5).await;
    let relay2 = start_relay(&relay, 5).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (direct, via_relay, via_two) = (
        dir.path().join("direct.db"),
        dir.path().join("relay.db"),
        dir.path().join("relay2.db"),
    );
    let hosts = [
        start_reflector(&direct, &exec.base),
        start_reflector(&via_relay, &relay),
        start_reflector(&via_two, &relay2),
    ];
    for id in 20..40 {
        write(&writer, id).await;
    }
    let head = exec.head().await;
    for host in &hosts {
        wait_for(host, head).await;
    }
    let rows = |p: &Path| sqlite_rows(p, "SELECT id, name FROM fam___items ORDER BY id");
    assert_eq!(rows(&direct).len(), 40);
    assert_eq!(rows(&via_relay), rows(&direct));
    assert_eq!(rows(&via_two), rows(&direct));

    // A waiting follower is answered when an entry commits.
    let http = reqwest::Client::new();
    let waiting = {
        let (http, url) = (
            http.clone(),
            format!("{relay}/ledger?after={head}&wait=10s"),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let page: Value = http
                .get(url)
                .send()
                .await
                .expect("long-poll")
                .json()
                .await
                .expect("a page");
            (page, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    write(&writer, 99).await;
    let (page, took) = waiting.await.expect("long-poll task");
    assert_eq!(page["entries"][0]["seq"], head + 1, "{page}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");

    // Outside the window (5 entries preloaded, 21 arrived since): redirected upstream, with
    // the query, and answered there.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = no_follow
        .get(format!("{relay}/ledger?after=0&limit=3"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), reqwest::StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        r.headers()["location"].to_str().expect("text"),
        format!("{}/ledger?after=0&limit=3", exec.base)
    );
    let page: Value = http
        .get(format!("{relay}/ledger?after=0&limit=3"))
        .send()
        .await
        .expect("followed")
        .json()
        .await
        .expect("a page");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(3));

    // The executive's 400s.
    for (query, field) in [
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("wait=soon", "wait"),
    ] {
        let r = http
            .get(format!("{relay}/ledger?{query}"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST, "{query}");
        let body: Value = r.json().await.expect("JSON");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let health: Value = http
        .get(format!("{relay}/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(
        health["window"]["through"].as_i64() > Some(head),
        "{health}"
    );
    exec.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_relay_without_an_upstream_does_not_start() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead = format!("http://127.0.0.1:{}", ctlstore_testkit::free_port());
    let started = serve(listener, Config::new(dead), std::future::pending()).await;
    assert!(
        started.is_err(),
        "a relay with no upstream must refuse to start"
    );
}
