//! Running the built `ctlstore-cli` against an executive served in the test.

#![allow(dead_code)]

use std::process::Command;

pub use ctlstore_testkit::TestExecutive;
use ctlstore_testkit::{Backend, TestDb};
use reqwest::Method;
use serde_json::Value;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `ctlstore-cli args...` with `env` set (and no inherited `CTLSTORE_CLI_*` variables), off
/// the async runtime so the in-process executive keeps serving.
pub async fn cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ctlstore-cli"));
        for (key, _) in std::env::vars() {
            if key.starts_with("CTLSTORE_CLI_") {
                command.env_remove(key);
            }
        }
        let out = command
            .args(&args)
            .envs(env)
            .output()
            .expect("run ctlstore-cli");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("the run finishes")
}

/// `ctlstore-cli <args> -e <executive>`.
pub async fn cli_at(executive: &TestExecutive, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["-e", executive.base.as_str()]);
    cli(&all, &[]).await
}

/// A fresh SQLite ctldb and an executive on it (keep the `TestDb` alive for the test).
pub async fn executive() -> (TestDb, TestExecutive) {
    let db = TestDb::create(Backend::Sqlite).await;
    let executive = TestExecutive::start(&db.url).await;
    (db, executive)
}

/// `GET path` on the executive, as JSON.
pub async fn get(executive: &TestExecutive, path: &str) -> Value {
    let (status, body) = executive.call(Method::GET, path, None).await;
    assert_eq!(status.as_u16(), 200, "GET {path}: {body}");
    body
}

/// Asserts a run succeeded, printing nothing.
pub fn assert_quiet_success(run: &Run) {
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "{run:?}"
    );
}

/// `create-family fam` and `create-table -f fam --field id:integer --key-field id tbl`, each
/// asserted to succeed quietly: the table most tests start from.
pub async fn create_fam_tbl(executive: &TestExecutive) {
    assert_quiet_success(&cli_at(executive, &["create-family", "fam"]).await);
    let create = [
        "create-table",
        "-f",
        "fam",
        "--field",
        "id:integer",
        "--key-field",
        "id",
        "tbl",
    ];
    assert_quiet_success(&cli_at(executive, &create).await);
}
