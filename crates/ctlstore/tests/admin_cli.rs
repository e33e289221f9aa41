//! The operator's CLI, `ctlstore <noun> <verb>` (crate `ctlstore-admin`), run as the built
//! binary against a real executive (served in-process on an ephemeral port, with an admin token
//! and destructive changes enabled). Output is checked in its `--json` form; errors must exit
//! non-zero with the executive's message; `mutate` must apply every row exactly once across a
//! SIGKILL.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ctlstore_testkit::{Backend, TestDb, TestExecutive, ldb_with};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const TOKEN: &str = "admin-token-for-tests";
const SECRET_VAR: &str = "CTLSTORE_TEST_WRITER_SECRET";
const SECRET: &str = "a-writer-secret";

/// What a run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout as one JSON document; fails the test (with stderr) if the run failed.
    fn json(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Stdout as JSON lines.
    fn json_lines(&self) -> Vec<Value> {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Asserts the run succeeded.
    fn ok(&self) {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
    }

    /// Asserts the run failed with `message` on stderr.
    fn fails_with(&self, message: &str) {
        assert_ne!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(message),
            "expected {message:?} in stderr: {}",
            self.stderr
        );
    }
}

/// The `ctlstore` binary pointed at `executive`, with the admin token and the writer secret in
/// its environment (and nothing else of ours inherited).
fn ctlstore(executive: &TestExecutive, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CTLSTORE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("CTLSTORE_EXECUTIVE_URL", &executive.base)
        .env("CTLSTORE_ADMIN_TOKEN", TOKEN)
        .env(SECRET_VAR, SECRET)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn run_with(mut command: Command, stdin: Option<&str>) -> Run {
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("start ctlstore");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.expect("write stdin");
    }
    let out = child.wait_with_output().await.expect("run ctlstore");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn run(executive: &TestExecutive, args: &[&str]) -> Run {
    run_with(ctlstore(executive, args), None).await
}

async fn start() -> (TestDb, TestExecutive) {
    let db = TestDb::create(Backend::Sqlite).await;
    let executive = TestExecutive::start_with(&db.url, |c| {
        c.admin_token = Some(TOKEN.into());
        c.enable_destructive_schema_changes = true;
    })
    .await;
    (db, executive)
}

/// The ledger's upserts into `family___table`.
async fn upserts(executive: &TestExecutive, ldb_table: &str) -> Vec<String> {
    let prefix = format!("REPLACE INTO {ldb_table} ");
    executive
        .statements(0)
        .await
        .into_iter()
        .filter(|s| s.starts_with(&prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_tables_and_their_errors() {
    let (_db, ex) = start().await;
    let created = run(&ex, &["family", "create", "demo", "--json"])
        .await
        .json();
    assert_eq!(created, json!({"family": "demo", "created": true}));
    run(&ex, &["family", "create", "demo"])
        .await
        .fails_with("Family already exists");
    run(&ex, &["family", "create", "Bad-Name"])
        .await
        .fails_with("HTTP 400");

    let create = [
        "table",
        "create",
        "demo.flags",
        "--field",
        "name:string",
        "--field",
        "enabled:integer",
        "--key",
        "name",
        "--json",
    ];
    assert_eq!(
        run(&ex, &create).await.json(),
        json!({"table": "demo.flags", "created": true})
    );
    run(&ex, &create).await.fails_with("Table already exists");
    run(
        &ex,
        &[
            "table",
            "create",
            "demo.nokey",
            "--field",
            "a:string",
            "--key",
            "b",
        ],
    )
    .await
    .fails_with("HTTP 400");
    run(
        &ex,
        &[
            "table", "create", "demo.x", "--field", "nocolon", "--key", "a",
        ],
    )
    .await
    .fails_with("is not NAME:TYPE");

    let added = run(
        &ex,
        &[
            "table",
            "add-fields",
            "demo.flags",
            "--field",
            "note:text",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(added["added"], json!([["note", "text"]]));

    let described = run(&ex, &["table", "describe", "demo.flags", "--json"])
        .await
        .json();
    assert_eq!(
        described["fields"],
        json!([["name", "string"], ["enabled", "integer"], ["note", "text"]])
    );
    assert_eq!(described["keyFields"], json!(["name"]));
    assert_eq!(described["maxSize"], json!(104_857_600));
    run(&ex, &["table", "describe", "demo.nope"])
        .await
        .fails_with("demo___nope: table does not exist");

    let families = run(&ex, &["family", "list", "--json"]).await.json();
    assert_eq!(
        families,
        json!({"families": [{"name": "demo", "tables": 1}]})
    );
    let tables = run(&ex, &["table", "list", "--json"]).await.json();
    assert_eq!(tables["tables"][0]["family"], "demo");
    assert_eq!(tables["tables"][0]["name"], "flags");
    let in_family = run(&ex, &["table", "list", "demo", "--json"]).await.json();
    assert_eq!(in_family, tables);
    run(&ex, &["table", "list", "nofamily"])
        .await
        .fails_with("Family not found: nofamily");

    // A table view for people (no --json), with the header.
    let human = run(&ex, &["table", "list"]).await;
    assert_eq!(human.code, 0);
    assert!(human.stdout.starts_with("TABLE"), "{}", human.stdout);
    assert!(human.stdout.contains("demo.flags"), "{}", human.stdout);

    let cleared = run(&ex, &["table", "clear", "demo.flags", "--json"])
        .await
        .json();
    assert_eq!(cleared["cleared"], true);
    let dropped = run(&ex, &["table", "drop", "demo.flags", "--json"])
        .await
        .json();
    assert_eq!(dropped["dropped"], true);
    run(&ex, &["table", "drop", "demo.flags"])
        .await
        .fails_with("not found (HTTP 404, field table)");

    // The admin token is needed, and the executive says so.
    let mut no_token = ctlstore(&ex, &["family", "list"]);
    no_token.env_remove("CTLSTORE_ADMIN_TOKEN");
    run_with(no_token, None)
        .await
        .fails_with("this route needs the admin token");
    // An executive that is not there is an error too, naming the URL.
    run(&ex, &["family", "list", "--executive-url", "127.0.0.1:9"])
        .await
        .fails_with("127.0.0.1:9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_and_limits() {
    let (_db, ex) = start().await;
    let added = run(
        &ex,
        &[
            "writer",
            "add",
            "loader",
            "--secret-env",
            SECRET_VAR,
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(added, json!({"writer": "loader", "added": true}));
    let stdin = run_with(
        ctlstore(&ex, &["writer", "add", "other", "--secret-stdin", "--json"]),
        Some("another-secret\n"),
    )
    .await
    .json();
    assert_eq!(stdin["added"], true);
    // Without a terminal and without a source, no secret: never from argv.
    run(&ex, &["writer", "add", "third"])
        .await
        .fails_with("no secret");
    run(
        &ex,
        &[
            "writer",
            "add",
            "loader",
            "--secret-env",
            "CTLSTORE_TEST_UNSET_VAR",
        ],
    )
    .await
    .fails_with("not set");
    let mut other_secret = ctlstore(
        &ex,
        &["writer", "add", "loader", "--secret-env", SECRET_VAR],
    );
    other_secret.env(SECRET_VAR, "a-different-secret");
    run_with(other_secret, None).await.fails_with("HTTP 409");

    let listed = run(&ex, &["writer", "list", "--json"]).await.json();
    assert_eq!(
        listed,
        json!({"writers": [{"name": "loader"}, {"name": "other"}]})
    );

    // Writer limits.
    let set = run(
        &ex,
        &[
            "limits", "writer", "set", "loader", "--amount", "50", "--period", "1m", "--json",
        ],
    )
    .await
    .json();
    assert_eq!(
        set["rate-limit"],
        json!({"amount": 50, "period": 60_000_000_000_i64})
    );
    let one = run(&ex, &["limits", "writer", "get", "loader", "--json"])
        .await
        .json();
    assert_eq!(one["rate-limit"]["amount"], 50);
    assert_eq!(one["default"], false);
    let all = run(&ex, &["limits", "writer", "get", "--json"])
        .await
        .json();
    assert_eq!(all["global"]["amount"], 1000);
    assert_eq!(all["writers"][0]["writer"], "loader");
    let other = run(&ex, &["limits", "writer", "get", "other", "--json"])
        .await
        .json();
    assert_eq!(other["default"], true);
    run(&ex, &["limits", "writer", "delete", "loader", "--json"])
        .await
        .json();
    let all = run(&ex, &["limits", "writer", "get", "--json"])
        .await
        .json();
    assert_eq!(all["writers"], json!([]));

    // Table limits.
    run(&ex, &["family", "create", "demo"]).await.ok();
    run(
        &ex,
        &[
            "table",
            "create",
            "demo.tab1",
            "--field",
            "id:integer",
            "--key",
            "id",
        ],
    )
    .await
    .ok();
    let set = run(
        &ex,
        &[
            "limits",
            "table",
            "set",
            "demo.tab1",
            "--max-size",
            "10MiB",
            "--warn-size",
            "1048576",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(set["max-size"], 10 * 1024 * 1024);
    assert_eq!(set["warn-size"], 1024 * 1024);
    let one = run(&ex, &["limits", "table", "get", "demo.tab1", "--json"])
        .await
        .json();
    assert_eq!(
        (one["max-size"].clone(), one["default"].clone()),
        (json!(10_485_760), json!(false))
    );
    run(
        &ex,
        &[
            "limits",
            "table",
            "set",
            "demo.tab1",
            "--max-size",
            "1",
            "--warn-size",
            "2",
        ],
    )
    .await
    .fails_with("warn-size must not exceed max-size");
    run(&ex, &["limits", "table", "delete", "demo.tab1", "--json"])
        .await
        .json();
    let all = run(&ex, &["limits", "table", "get", "--json"]).await.json();
    assert_eq!(all["tables"], json!([]));

    let removed = run(&ex, &["writer", "remove", "other", "--json"])
        .await
        .json();
    assert_eq!(removed, json!({"writer": "other", "removed": true}));
    run(&ex, &["writer", "remove", "other"])
        .await
        .fails_with("no writer with the name 'other' exists");
}

/// A family `demo`, a table `demo.things` (id integer key, name string, data bytestring) and
/// the writer `loader`.
async fn things(ex: &TestExecutive) {
    run(ex, &["family", "create", "demo"]).await.ok();
    let create = [
        "table",
        "create",
        "demo.things",
        "--field",
        "id:integer",
        "--field",
        "name:string",
        "--field",
        "data:bytestring",
        "--key",
        "id",
    ];
    run(ex, &create).await.ok();
    run(ex, &["writer", "add", "loader", "--secret-env", SECRET_VAR])
        .await
        .ok();
}

const WRITER: [&str; 4] = ["--writer-name", "loader", "--writer-secret-env", SECRET_VAR];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutate_reads_jsonl_and_csv_and_get_reads_back() {
    let (_db, ex) = start().await;
    things(&ex).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("rows.jsonl");
    let rows: String = (1..=250)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": i, "name": format!("n{i}"), "data": null})
            )
        })
        .collect();
    std::fs::write(&jsonl, &rows).expect("write");
    let jsonl = jsonl.to_str().expect("utf-8");

    // A dry run checks without a writer and writes nothing.
    let dry = run(
        &ex,
        &[
            "mutate",
            "demo.things",
            "--file",
            jsonl,
            "--dry-run",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(
        (dry["rows"].clone(), dry["invalid"].clone()),
        (json!(250), json!(0))
    );
    assert!(upserts(&ex, "demo___things").await.is_empty());

    let mut args = vec!["mutate", "demo.things", "--file", jsonl, "--json"];
    args.extend(WRITER);
    let loaded = run(&ex, &args).await.json();
    assert_eq!(loaded["rows"], 250);
    assert_eq!(loaded["batches"], 3, "100 + 100 + 50");
    assert_eq!(loaded["resumed"], false);
    assert_eq!(upserts(&ex, "demo___things").await.len(), 250);
    // The same file again: the cookie says it is loaded; nothing is applied twice.
    let again = run(&ex, &args).await.json();
    assert_eq!(
        (again["rows"].clone(), again["resumed"].clone()),
        (json!(0), json!(true))
    );
    assert_eq!(upserts(&ex, "demo___things").await.len(), 250);
    // --restart loads it again, on purpose.
    let mut restart = args.clone();
    restart.push("--restart");
    assert_eq!(run(&ex, &restart).await.json()["rows"], 250);

    // CSV from standard input, with quoting and bytes as base64; `--batch` small.
    let csv = "id,name,data\n1001,\"a, \"\"quoted\"\"\nname\",3q2+7w==\n1002,plain,\n";
    let mut args = vec![
        "mutate",
        "demo.things",
        "--file",
        "-",
        "--format",
        "csv",
        "--batch",
        "1",
        "--json",
    ];
    args.extend(WRITER);
    let loaded = run_with(ctlstore(&ex, &args), Some(csv)).await.json();
    assert_eq!(
        (loaded["rows"].clone(), loaded["batches"].clone()),
        (json!(2), json!(2))
    );

    // Reads through the executive, typed by the key column.
    let row = run(&ex, &["get", "demo.things", "1001", "--json"])
        .await
        .json();
    assert_eq!(
        row,
        json!({"id": 1001, "name": "a, \"quoted\"\nname", "data": "3q2+7w=="})
    );
    run(&ex, &["get", "demo.things", "999999"])
        .await
        .fails_with("no row of demo.things with key 999999");
    run(&ex, &["get", "demo.things", "abc"])
        .await
        .fails_with("'abc' is not an integer");
    let all = run(&ex, &["get", "demo.things", "--prefix", "--json"])
        .await
        .json_lines();
    assert_eq!(all.len(), 252, "every row, across pages");
    assert_eq!(all[0]["id"], 1);
    assert_eq!(all[251]["id"], 1002);

    // Invalid rows: listed with their lines, and nothing is written.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"id\": 5000, \"name\": \"ok\", \"data\": null}\n{\"id\": \"x\", \"name\": \"a\", \"data\": null}\nnot json\n",
    )
    .expect("write");
    let bad = bad.to_str().expect("utf-8");
    let dry = run(
        &ex,
        &[
            "mutate",
            "demo.things",
            "--file",
            bad,
            "--dry-run",
            "--json",
        ],
    )
    .await;
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    let report: Value = serde_json::from_str(dry.stdout.trim()).expect("JSON report");
    assert_eq!(report["invalid"], 2);
    assert_eq!(report["errors"][0]["line"], 2);
    assert_eq!(report["errors"][1]["line"], 3);
    let mut args = vec!["mutate", "demo.things", "--file", bad];
    args.extend(WRITER);
    run(&ex, &args).await.fails_with("nothing was written");
    run(&ex, &["get", "demo.things", "5000"])
        .await
        .fails_with("no row");

    // Deletes take the keys from the file.
    let del = dir.path().join("del.jsonl");
    std::fs::write(&del, "{\"id\": 1001}\n{\"id\": 1002}\n").expect("write");
    let mut args = vec![
        "mutate",
        "demo.things",
        "--delete",
        "--file",
        del.to_str().expect("utf-8"),
        "--json",
    ];
    args.extend(WRITER);
    assert_eq!(run(&ex, &args).await.json()["rows"], 2);
    run(&ex, &["get", "demo.things", "1001"])
        .await
        .fails_with("no row");

    // The executive's refusal of a writer is its own message.
    let mut args = vec!["mutate", "demo.things", "--file", jsonl];
    args.extend(["--writer-name", "nobody", "--writer-secret-env", SECRET_VAR]);
    run(&ex, &args).await.fails_with("HTTP 401");
}

/// `mutate` killed with SIGKILL mid-file, then run again: every row is applied exactly once.
/// The writer's rate limit holds the first run after 100 rows (it waits out the 429s), so it is
/// certainly killed before the end, whatever the machine's speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutate_resumes_after_sigkill_applying_every_row_once() {
    let (_db, ex) = start().await;
    things(&ex).await;
    run(
        &ex,
        &[
            "limits", "writer", "set", "loader", "--amount", "100", "--period", "1m",
        ],
    )
    .await
    .ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rows.jsonl");
    let total = 400;
    let rows: String = (1..=total)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": i, "name": format!("n{i}"), "data": null})
            )
        })
        .collect();
    std::fs::write(&file, rows).expect("write");
    let file = file.to_str().expect("utf-8");
    let mut args = vec![
        "mutate",
        "demo.things",
        "--file",
        file,
        "--batch",
        "10",
        "--json",
    ];
    args.extend(WRITER);

    let mut first = ctlstore(&ex, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mutate");
    // Wait (bounded) until part of the file is in.
    let mut applied = 0;
    for _ in 0..600 {
        applied = upserts(&ex, "demo___things").await.len();
        if applied >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(applied >= 50, "the first run applied only {applied} rows");
    first.start_kill().expect("SIGKILL");
    let status = first.wait().await.expect("reap");
    assert!(!status.success(), "killed, not finished: {status:?}");
    // A batch the killed run had sent may still be committing in the executive: wait until
    // the ledger stops moving before counting what the first run applied.
    let mut before = upserts(&ex, "demo___things").await.len();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = upserts(&ex, "demo___things").await.len();
        if now == before {
            break;
        }
        before = now;
    }
    assert!(
        before < total,
        "the rate limit holds the first run: {before}"
    );

    run(&ex, &["limits", "writer", "delete", "loader"])
        .await
        .ok();
    let second = run(&ex, &args).await.json();
    assert_eq!(second["resumed"], true);
    assert_eq!(
        second["rows_before"], before,
        "the cookie names exactly the rows applied"
    );
    assert_eq!(second["rows"], total - before);
    assert_eq!(second["total_rows"], total);

    let statements = upserts(&ex, "demo___things").await;
    assert_eq!(statements.len(), total, "every row once, none twice");
    let mut ids: Vec<String> = statements
        .iter()
        .filter_map(|s| s.split("VALUES(").nth(1))
        .filter_map(|v| v.split(',').next())
        .map(String::from)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ledger_and_status_from_ldb_sidecar_and_executive() {
    let (_db, ex) = start().await;
    things(&ex).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rows.jsonl");
    std::fs::write(
        &file,
        "{\"id\": 1, \"name\": \"one\", \"data\": \"3q2+7w==\"}\n{\"id\": 2, \"name\": \"two\", \"data\": null}\n",
    )
    .expect("write");
    let mut args = vec![
        "mutate",
        "demo.things",
        "--file",
        file.to_str().expect("utf-8"),
    ];
    args.extend(WRITER);
    run(&ex, &args).await.ok();
    // A secondary index (issue 18), made and listed with the CLI.
    for (name, field, unique) in [("by_name", "name", false), ("by_data", "data", true)] {
        let mut args = vec![
            "table",
            "index-create",
            "demo.things",
            name,
            "--field",
            field,
        ];
        if unique {
            args.push("--unique");
        }
        run(&ex, &args).await.ok();
    }
    run(
        &ex,
        &[
            "table",
            "index-create",
            "demo.things",
            "by_x",
            "--field",
            "nope",
        ],
    )
    .await
    .fails_with("nope");
    let listed = run(&ex, &["table", "indexes", "demo.things", "--json"])
        .await
        .json();
    assert_eq!(
        listed,
        json!([{"name": "by_data", "fields": ["data"], "unique": true},
               {"name": "by_name", "fields": ["name"], "unique": false}])
    );
    run(&ex, &["table", "index-drop", "demo.things", "by_data"])
        .await
        .ok();
    run(&ex, &["table", "index-drop", "demo.things", "by_data"])
        .await
        .fails_with("Index not found");

    // This host's LDB: the ledger applied, as a reflector would.
    let statements = ex.statements(0).await;
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    let (_ldb_dir, ldb) = ldb_with(&refs);
    let head = statements.len() as i64;

    // A sidecar over it.
    let reader = Arc::new(ctlstore_reader::Reader::open(&ldb).expect("open the LDB"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sidecar = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(ctlstore_sidecar::serve(
        listener,
        reader,
        ctlstore_sidecar::Config {
            max_rows: 0,
            application: "test".into(),
            ..Default::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let expected = json!({"id": 1, "name": "one", "data": "3q2+7w=="});
    for source in [
        vec!["--ldb", ldb.as_str()],
        vec!["--sidecar", sidecar.as_str()],
        vec![],
    ] {
        let mut args = vec!["get", "demo.things", "1", "--json"];
        args.extend(&source);
        assert_eq!(run(&ex, &args).await.json(), expected, "{source:?}");
        let mut prefix = vec!["get", "demo.things", "--prefix", "--json"];
        prefix.extend(&source);
        let rows = run(&ex, &prefix).await.json_lines();
        assert_eq!(rows.len(), 2, "{source:?}");
        let mut missing = vec!["get", "demo.things", "3"];
        missing.extend(&source);
        run(&ex, &missing).await.fails_with("no row");
    }
    run(&ex, &["get", "demo.nope", "1", "--sidecar", &sidecar])
        .await
        .fails_with("Table not found");
    // By the secondary index, from a host's copy.
    for source in [
        vec!["--ldb", ldb.as_str()],
        vec!["--sidecar", sidecar.as_str()],
    ] {
        let mut args = vec!["get", "demo.things", "--index", "by_name", "two", "--json"];
        args.extend(&source);
        let rows = run(&ex, &args).await.json_lines();
        assert_eq!(
            rows,
            [json!({"id": 2, "name": "two", "data": null})],
            "{source:?}"
        );
        let mut args = vec!["get", "demo.things", "--index", "by_nothing", "--json"];
        args.extend(&source);
        run(&ex, &args).await.fails_with("Index not found");
    }
    run(&ex, &["get", "demo.things", "--index", "by_name", "two"])
        .await
        .fails_with("--ldb PATH or --sidecar URL");

    // The ledger: tail, status.
    let tail = run(&ex, &["ledger", "tail", "--after", "0", "--json"])
        .await
        .json_lines();
    assert_eq!(tail.len() as i64, head);
    assert_eq!(tail[0]["seq"], 1);
    assert!(
        tail[0]["statement"]
            .as_str()
            .is_some_and(|s| s.starts_with("CREATE TABLE"))
    );
    let last = run(&ex, &["ledger", "tail", "-n", "2", "--json"])
        .await
        .json_lines();
    assert_eq!(last.len(), 2);
    assert_eq!(last[1]["seq"], head);
    let status = run(&ex, &["ledger", "status", "--json"]).await.json();
    assert_eq!(status["head"], head);
    assert_eq!(status["ctldb"], "up");
    assert!(status["newest_age_seconds"].as_f64().is_some(), "{status}");

    // One view: the executive, and this host's LDB (at the head) or sidecar.
    let view = run(&ex, &["status", "--ldb", &ldb, "--json"]).await.json();
    assert_eq!(view["executive"]["ctldb"], "up");
    assert_eq!(view["executive"]["dialect"], "sqlite");
    assert_eq!(view["executive"]["ledger_head"], head);
    assert_eq!(view["host"]["seq"], head);
    assert_eq!(view["host"]["behind"], 0);
    let view = run(&ex, &["status", "--sidecar", &sidecar, "--json"])
        .await
        .json();
    assert_eq!(view["host"]["source"], "sidecar");
    assert!(view["host"]["staleness_seconds"].is_number(), "{view}");
    assert_eq!(
        view["host"]["seq"],
        Value::Null,
        "a sidecar does not say its seq"
    );
    let down = run(&ex, &["status", "--executive-url", "127.0.0.1:9", "--json"]).await;
    assert_eq!(down.code, 1);
    let doc: Value = serde_json::from_str(down.stdout.trim()).expect("JSON view");
    assert_eq!(doc["executive"]["reachable"], false);

    // --follow prints entries as they commit.
    let mut follow = ctlstore(&ex, &["ledger", "tail", "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start tail --follow");
    let mut lines = BufReader::new(follow.stdout.take().expect("stdout")).lines();
    run(&ex, &["family", "create", "later"]).await.ok();
    run(
        &ex,
        &[
            "table",
            "create",
            "later.tab1",
            "--field",
            "id:integer",
            "--key",
            "id",
        ],
    )
    .await
    .ok();
    let mut seen_create = false;
    while let Some(line) = lines.next_line().await.expect("read tail") {
        let entry: Value = serde_json::from_str(&line).expect("JSON line");
        if entry["statement"]
            .as_str()
            .is_some_and(|s| s.contains("later___tab1"))
        {
            seen_create = true;
            break;
        }
    }
    assert!(seen_create, "tail --follow printed the new table");
    follow.start_kill().expect("stop tail");
    let _ = follow.wait().await;

    let _ = stop.send(());
    let _ = served.await;
}

#[test]
fn completions_and_man_pages_cover_the_operator_commands() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("ctlstore__table__add__fields") || script.contains("add-fields"));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .arg("man")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "ctlstore.1",
        "ctlstore-mutate.1",
        "ctlstore-table-create.1",
        "ctlstore-limits-writer-set.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_default();
        assert!(!text.is_empty(), "{page} written");
    }
    let mutate = std::fs::read_to_string(dir.path().join("ctlstore-mutate.1")).unwrap_or_default();
    assert!(mutate.contains("writer\\-secret\\-env"), "flags documented");
}
