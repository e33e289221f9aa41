//! With the heartbeat running, a reader's ledger latency stays below the interval plus a margin;
//! after it stops, the latency grows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_testkit::{Backend, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_latency_is_bounded_while_the_heartbeat_runs() {
    let db = TestDb::create(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = ctlstore_executive::Config {
        ctldb_url: db.url.clone(),
        ..Default::default()
    };
    tokio::spawn(ctlstore_executive::serve(
        listener,
        config,
        std::future::pending(),
    ));

    // Started before the executive answers: the heartbeat retries its setup.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let heartbeat = ctlstore_heartbeat::Config {
        executive_url: base.clone(),
        secret: "hb-secret".into(),
        interval: Duration::from_secs(1),
        ..Default::default()
    };
    let beating = tokio::spawn(ctlstore_heartbeat::run(heartbeat, async move {
        let _ = stopped.await;
    }));

    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let status = Arc::new(ctlstore_reflector::Status::new(Duration::from_secs(60)));
    let config =
        ctlstore_reflector::Config::new(&ldb, ctlstore_reflector::SourceConfig::feed(&base));
    tokio::spawn(ctlstore_reflector::run(
        config,
        status.clone(),
        std::future::pending(),
    ));

    let deadline = Instant::now() + Duration::from_secs(20);
    while status.applied_seq() < 3 {
        assert!(
            Instant::now() < deadline,
            "heartbeats never reached the LDB: {:?}",
            status.report()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reader = ctlstore_reader::Reader::open(&ldb).expect("reader");
    let mut worst = Duration::ZERO;
    for _ in 0..12 {
        worst = worst.max(reader.ledger_latency().expect("latency"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // leader_ts has one-second resolution, so the bound is interval + 1 s + propagation.
    assert!(
        worst < Duration::from_millis(2500),
        "latency {worst:?} with a 1 s heartbeat"
    );
    let row: Option<ctlstore_reader::Row> = reader
        .get_row(
            "ctlstore",
            "heartbeats",
            &[ctlstore_reader::Key::from("heartbeat")],
        )
        .expect("read");
    assert!(row.is_some(), "ctlstore's heartbeat row");

    let _ = stop.send(());
    beating.await.expect("task").expect("heartbeat");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after = reader.ledger_latency().expect("latency");
    assert!(
        after > Duration::from_secs(3),
        "without heartbeats the latency grows: {after:?}"
    );
    db.cleanup().await;
}
