//! Clients with several executives (issue 20): `-executive-url` names a dead executive (nothing
//! listens), one that answers 503 to everything (an executive whose ctldb node is down), and a
//! live one. The reflector, the heartbeat and the operator CLI move past the first two within
//! 3 s and do their work on the live one.

use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use ctlstore_testkit::{Backend, TestDb, TestExecutive, free_port};
use tokio::process::Command;

fn ctlstore() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CTLSTORE_") {
            command.env_remove(name);
        }
    }
    command
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// An "executive" that answers every request 503 with `Retry-After`, as ours does when its
/// ctldb is unreachable.
async fn unavailable() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            r#"{"error":"the ctldb is unavailable","field":"ctldb"}"#,
        )
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_move_past_dead_and_unavailable_executives() {
    let db = TestDb::create(Backend::Sqlite).await;
    let live = TestExecutive::start(&db.url).await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let busy = unavailable().await;
    let urls = format!("{dead},{busy},{}", live.base);

    // The CLI: schema and a mutation, through the list.
    let cli = |args: &[&str]| {
        let mut c = ctlstore();
        c.args(args).args(["--executive-url", &urls]);
        c
    };
    for args in [
        &["family", "create", "failfam"][..],
        &[
            "table",
            "create",
            "failfam.items",
            "--field",
            "id:integer",
            "--field",
            "v:string",
            "--key",
            "id",
        ],
    ] {
        let out = cli(args).output().await.expect("run the CLI");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The heartbeat writes through the list.
    let _heartbeat = ctlstore()
        .args([
            "heartbeat",
            "-executive-url",
            &urls,
            "-family-name",
            "hbfam",
            "-table-name",
            "beats",
            "-writer-name",
            "hbwriter",
            "-writer-secret",
            "hbsecret",
            "-heartbeat-interval",
            "200ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the heartbeat");

    // A reflector follows the list.
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let _reflector = ctlstore()
        .args(["reflector", "-ldb-path"])
        .arg(&ldb)
        .args(["-executive-url", &urls, "-metrics-bind", ""])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reflector");

    let started = Instant::now();
    loop {
        let count = |sql: &str| {
            rusqlite::Connection::open_with_flags(&ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)))
                .unwrap_or(0)
        };
        let beats = count("SELECT COUNT(*) FROM hbfam___beats");
        let tables = count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'failfam___items'");
        if beats == 1 && tables == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the reflector and the heartbeat did not get through the list"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "reflector and heartbeat through a dead and a 503 executive in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    db.cleanup().await;
}
