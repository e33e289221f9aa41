//! What every loader test needs: an executive, the loader process, the host's LDB built from
//! the ledger, and the ledger's batches.

use std::process::Stdio;
use std::time::Duration;

use ctlstore_reader::{Reader, Row};
use ctlstore_testkit::{Backend, TestDb, TestExecutive, ldb_with};
use tokio::process::{Child, Command};

pub const FAMILY: &str = "shop";
pub const WRITER: &str = "loader1";
pub const SECRET: &str = "loader-secret";

/// An executive on an embedded SQLite ctldb, with destructive changes on and the writer rate
/// limit out of the way (a loader writes in bulk).
pub async fn executive() -> (TestDb, TestExecutive) {
    let db = TestDb::create(Backend::Sqlite).await;
    let executive = TestExecutive::start_with(&db.url, |c| {
        c.enable_destructive_schema_changes = true;
        c.writer_limit = 1_000_000;
    })
    .await;
    (db, executive)
}

/// `ctlstore loader` against `executive`, with `args` after the common flags.
pub fn loader(executive: &TestExecutive, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CTLSTORE_") {
            command.env_remove(name);
        }
    }
    command
        .arg("loader")
        .args(["--family", FAMILY, "--writer-name", WRITER])
        .args(args)
        .env("CTLSTORE_EXECUTIVE_URL", &executive.base)
        .env("CTLSTORE_WRITER_SECRET", SECRET)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs a loader to its end (a file source); returns its stderr. Fails the test on a non-zero
/// exit or after `within`.
pub async fn run_to_end(mut command: Command, within: Duration) -> String {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("start the loader");
    let out = tokio::time::timeout(within, child.wait_with_output())
        .await
        .expect("the loader finishes")
        .expect("run the loader");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "loader failed: {stderr}");
    stderr
}

pub fn spawn(mut command: Command) -> Child {
    command.stdout(Stdio::null()).stderr(Stdio::inherit());
    command.spawn().expect("start the loader")
}

/// The host's LDB: the whole ledger applied, as a reflector applies it.
pub struct Host {
    _dir: tempfile::TempDir,
    pub reader: Reader,
}

pub async fn host(executive: &TestExecutive) -> Host {
    let statements = executive.statements(0).await;
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    let (dir, path) = ldb_with(&refs);
    Host {
        _dir: dir,
        reader: Reader::open(&path).expect("open the LDB"),
    }
}

impl Host {
    /// Every row of `family.table`, in key order.
    pub fn rows(&self, table: &str) -> Vec<Row> {
        self.reader
            .rows_by_key_prefix_values(FAMILY, table, &[])
            .unwrap_or_else(|e| panic!("read {FAMILY}.{table}: {e}"))
    }
}

/// The ledger's row statements grouped into the batches that committed them (`--- BEGIN` …
/// `--- COMMIT`, or one statement alone).
pub async fn batches(executive: &TestExecutive) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut open: Option<Vec<String>> = None;
    for statement in executive.statements(0).await {
        match statement.as_str() {
            "--- BEGIN" => open = Some(Vec::new()),
            "--- COMMIT" => out.extend(open.take()),
            s if s.starts_with("REPLACE INTO") || s.starts_with("DELETE FROM") => match &mut open {
                Some(batch) => batch.push(statement),
                None => out.push(vec![statement]),
            },
            _ => {}
        }
    }
    out
}

/// Polls `check` until it holds, at most `within`.
pub async fn eventually(within: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
