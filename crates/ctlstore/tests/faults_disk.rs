//! Fault: the LDB's file system fills up. The reflector stops applying cleanly (retrying with
//! backoff, never halting on the entry), keeps the LDB consistent and readable, says so on
//! `/status` and `/healthz`, and applies everything once space returns.
//!
//! The file system is a small tmpfs mounted by the test, so it needs root (as CI runs here);
//! elsewhere set `CTLSTORE_TEST_NO_TMPFS=1` to skip it, which it then says.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctlstore_testkit::{Backend, KillOnDrop, TestDb, TestExecutive, free_port};
use serde_json::{Value, json};

/// A tmpfs of `size`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` with one file, until it refuses more.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).and_then(|()| f.sync_all()).is_ok() {}
    // Byte by byte, the last partial block too.
    while f.write_all(&[0u8; 512]).and_then(|()| f.sync_all()).is_ok() {}
}

async fn status(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    let code = health.status().as_u16();
    let status = client
        .get(format!("{base}/status"))
        .send()
        .await
        .expect("status");
    (code, status.json().await.expect("status json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ldb_disk_pauses_applying_and_resumes_when_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(fs) = Tmpfs::mount(&dir.path().join("fs"), "4m") else {
        if std::env::var("CTLSTORE_TEST_NO_TMPFS").is_ok_and(|v| v == "1") {
            eprintln!("skipped: cannot mount a tmpfs here (CTLSTORE_TEST_NO_TMPFS=1)");
            return;
        }
        panic!("cannot mount a tmpfs (needs root); set CTLSTORE_TEST_NO_TMPFS=1 to skip");
    };
    let db = TestDb::create(Backend::Sqlite).await;
    let (executive, writer) = TestExecutive::with_table(&db.url, "docs", ("body", "text")).await;
    let body = "x".repeat(60_000);
    let write =
        |id: i64| json!({"mutations": [{"table": "docs", "values": {"id": id, "body": body}}]});

    let ldb = fs.0.join("ldb.db");
    let port = free_port();
    let health = format!("http://127.0.0.1:{port}");
    let _reflector = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ctlstore"))
            .args(["reflector", "-ldb-path"])
            .arg(&ldb)
            .args([
                "-executive-url",
                &executive.base,
                "-metrics-bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["-wal-checkpoint-type", "TRUNCATE"])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reflector"),
    );
    let client = reqwest::Client::new();
    for id in 0..5 {
        writer.mutate_ok("fam", &write(id)).await;
    }
    let until = |what: &'static str, secs: u64| (what, Instant::now() + Duration::from_secs(secs));
    let (what, deadline) = until("the first rows applied", 30);
    while client.get(format!("{health}/status")).send().await.is_err()
        || status(&client, &health).await.1["seq"].as_i64() != Some(executive.head().await)
    {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The disk fills; writes keep being acknowledged by the executive (its ctldb is elsewhere).
    let filler = fs.0.join("filler");
    fill(&filler);
    for id in 5..40 {
        writer.mutate_ok("fam", &write(id)).await;
    }
    let head = executive.head().await;
    let (what, deadline) = until("the reflector to report the full disk", 30);
    let stalled = loop {
        let (code, s) = status(&client, &health).await;
        if code == 503 && s["apply_error"].is_string() {
            break s;
        }
        assert!(Instant::now() < deadline, "{what}: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let why = stalled["apply_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("full"),
        "the reason names the full disk: {why}"
    );
    assert!(
        stalled["halted"].is_null(),
        "a full disk never halts applying: {stalled}"
    );
    assert!(stalled["seq"].as_i64().unwrap_or(0) < head);

    // Meanwhile the LDB stays consistent and readable: whole batches only, at its seq.
    let reader = ctlstore_reader::Reader::open(&ldb).expect("the LDB opens for reading");
    let row = reader
        .get_row("fam", "docs", &[ctlstore_reader::Key::Int(0)])
        .expect("read during the outage");
    assert!(
        row.is_some(),
        "rows applied before the disk filled are served"
    );
    let seq = reader.last_sequence().expect("seq");
    let rows = ctlstore_testkit::sqlite_rows(&ldb, "SELECT COUNT(*) FROM fam___docs");
    // Each write is one entry (a single mutation: no batch markers) after the DDL.
    let applied_writes = seq - (head - 40);
    assert_eq!(
        rows,
        vec![vec![ctlstore_schema::Value::Integer(applied_writes)]]
    );

    // Space returns: everything is applied, and the reflector is healthy again.
    std::fs::remove_file(&filler).expect("free the space");
    let (what, deadline) = until("the reflector to resume", 60);
    loop {
        let (code, s) = status(&client, &health).await;
        if code == 200 && s["seq"].as_i64() == Some(head) {
            assert!(s["apply_error"].is_null(), "{s}");
            assert!(s["apply_failures"].as_u64().unwrap_or(0) > 0, "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "{what}: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows = ctlstore_testkit::sqlite_rows(&ldb, "SELECT COUNT(*) FROM fam___docs");
    assert_eq!(rows, vec![vec![ctlstore_schema::Value::Integer(40)]]);
    drop(reader);
    executive.stop().await;
}
