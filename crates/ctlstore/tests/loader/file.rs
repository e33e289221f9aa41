//! The file source: Debezium JSON lines, with and without the schema block.

use std::io::Write;
use std::time::Duration;

use ctlstore_reader::Value;
use serde_json::{Value as Json, json};

use crate::support::*;

fn items_schema(extra: &[Json]) -> Json {
    let mut fields = vec![
        json!({"field": "id", "type": "int32"}),
        json!({"field": "name", "type": "string", "optional": true}),
        json!({"field": "price", "type": "double", "optional": true}),
        json!({"field": "active", "type": "boolean", "optional": true}),
        json!({"field": "data", "type": "bytes", "optional": true}),
        json!({"field": "amount", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}, "optional": true}),
    ];
    fields.extend(extra.iter().cloned());
    json!({"type": "struct", "fields": [
        {"field": "before", "type": "struct", "optional": true, "fields": fields.clone()},
        {"field": "after", "type": "struct", "optional": true, "fields": fields},
    ]})
}

/// One line: key `{"id": id}`, a Debezium envelope with schema for table `items`.
fn item(op: &str, tx: u64, id: i64, row: Json, extra: &[Json]) -> String {
    let (before, after) = if op == "d" {
        (row, Json::Null)
    } else {
        (Json::Null, row)
    };
    json!({
        "key": {"schema": {"type": "struct"}, "payload": {"id": id}},
        "value": {"schema": items_schema(extra), "payload": {
            "before": before, "after": after, "op": op,
            "source": {"schema": "public", "table": "items", "txId": tx, "ts_ms": 1_700_000_000_000_u64},
        }},
    })
    .to_string()
}

fn row(id: i64, name: &str) -> Json {
    // 12345 with scale 2: 123.45.
    json!({"id": id, "name": name, "price": 1.5, "active": true, "data": "AAH/", "amount": "MDk="})
}

fn lines() -> Vec<String> {
    let note = [json!({"field": "note", "type": "string", "optional": true})];
    let mut with_note = row(3, "three");
    with_note["note"] = json!("añadido ✓");
    vec![
        item("c", 100, 1, row(1, "one"), &[]),
        item("c", 100, 2, row(2, "two"), &[]),
        item("u", 101, 1, json!({"id": 1, "name": "uno 𨅝", "price": null, "active": false, "data": null, "amount": null}), &[]),
        json!({"key": {"id": 1}, "value": null}).to_string(),
        String::new(),
        item("d", 102, 2, row(2, "two"), &[]),
        item("c", 103, 3, with_note, &note),
        item("c", 104, 4, row(4, "four"), &note),
        item("c", 104, 5, row(5, "five"), &note),
        item("c", 104, 6, row(6, "six"), &note),
        // Schemaless, key in the wrapper, no transaction id.
        json!({"key": {"uid": "u-1"}, "value": {"before": null, "after": {"uid": "u-1", "nick": "zoë", "age": 31}, "op": "r", "source": {"db": "crm", "table": "users"}}}).to_string(),
    ]
}

fn write_lines(file: &std::path::Path, lines: &[String], append: bool) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(file)
        .expect("open the replay file");
    for line in lines {
        writeln!(f, "{line}").expect("write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_a_file_exactly_once_in_transaction_batches() {
    let (_db, ex) = executive().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.jsonl");
    write_lines(&file, &lines(), false);
    let source = format!("file:{}", file.display());
    let args = [
        "--source",
        source.as_str(),
        "--batch-rows",
        "2",
        "--metrics-bind",
        "",
    ];
    let stderr = run_to_end(loader(&ex, &args), Duration::from_secs(60)).await;
    assert!(
        stderr.contains("split"),
        "the 3-row transaction is split and logged: {stderr}"
    );

    let host = host(&ex).await;
    let items = host.rows("items");
    let ids: Vec<&Value> = items.iter().map(|r| &r["id"]).collect();
    assert_eq!(
        ids,
        [
            &Value::Integer(1),
            &Value::Integer(3),
            &Value::Integer(4),
            &Value::Integer(5),
            &Value::Integer(6)
        ]
    );
    let one = &items[0];
    assert_eq!(one["name"], Value::Text("uno 𨅝".into()));
    assert_eq!(one["price"], Value::Null);
    assert_eq!(one["active"], Value::Integer(0));
    assert_eq!(
        one["note"],
        Value::Null,
        "the added column is null for older rows"
    );
    let three = &items[1];
    assert_eq!(three["data"], Value::Bytes(vec![0, 1, 255]));
    assert_eq!(three["amount"], Value::Real(123.45));
    assert_eq!(three["price"], Value::Real(1.5));
    assert_eq!(three["active"], Value::Integer(1));
    assert_eq!(three["note"], Value::Text("añadido ✓".into()));
    let users = host.rows("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["nick"], Value::Text("zoë".into()));
    assert_eq!(users[0]["age"], Value::Integer(31));

    // Transactions → batches with --batch-rows 2: 100 alone (full), 101 + 102 together, 103
    // alone (104 does not fit beside it), 104 split 2 + 1, and its last row with the users row.
    let sizes: Vec<usize> = batches(&ex).await.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1, 2, 2], "{:#?}", batches(&ex).await);

    // Again: the cookie says everything is applied, so nothing is.
    let head = ex.head().await;
    run_to_end(loader(&ex, &args), Duration::from_secs(60)).await;
    assert_eq!(
        ex.head().await,
        head,
        "a replay of applied lines applies nothing"
    );

    // New lines: only they are applied.
    write_lines(
        &file,
        &[item(
            "u",
            105,
            4,
            row(4, "cuatro"),
            &[json!({"field": "note", "type": "string", "optional": true})],
        )],
        true,
    );
    run_to_end(loader(&ex, &args), Duration::from_secs(60)).await;
    let all = batches(&ex).await;
    assert_eq!(all.len(), 6);
    assert!(all[5][0].contains("cuatro"), "{:?}", all[5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_halts_with_the_position_and_reports_it() {
    let (_db, ex) = executive().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.jsonl");
    // Line 2's key is 300 characters: no ctlstore string key holds it.
    let long = "k".repeat(300);
    let lines = [
        json!({"key": {"k": "a"}, "value": {"after": {"k": "a", "v": 1}, "op": "c", "source": {"table": "kvs"}}}).to_string(),
        json!({"key": {"k": long}, "value": {"after": {"k": long, "v": 2}, "op": "c", "source": {"table": "kvs"}}}).to_string(),
    ];
    write_lines(&file, &lines, false);
    let port = ctlstore_testkit::free_port();
    let bind = format!("127.0.0.1:{port}");
    let source = format!("file:{}", file.display());
    let mut child = spawn(loader(&ex, &["--source", &source, "--metrics-bind", &bind]));
    let http = reqwest::Client::new();
    let healthz = format!("http://{bind}/healthz");
    eventually(
        Duration::from_secs(30),
        "the loader to halt",
        async || matches!(http.get(&healthz).send().await, Ok(r) if r.status() == 503),
    )
    .await;
    let body: Json = http
        .get(&healthz)
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("JSON");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("line 2") && reason.contains("191"),
        "{body}"
    );
    let status: Json = http
        .get(format!("http://{bind}/status"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["phase"], "halted", "{status}");
    assert_eq!(status["applied_position"], "line 1", "{status}");
    let metrics = http
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("ctlstore_loader_halted 1"), "{metrics}");
    // Nothing of line 2 is in ctlstore; line 1 is.
    assert_eq!(batches(&ex).await.len(), 1);
    child.kill().await.expect("stop the loader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_exit_at_once_naming_the_flag() {
    let (_db, ex) = executive().await;
    for (args, message) in [
        (vec!["--source", "ftp://x"], "-source"),
        (vec!["--source", "-", "--batch-rows", "500"], "-batch-rows"),
        (vec!["--source", "-", "--family", "a"], "-family"),
    ] {
        let out = loader(&ex, &args).output().await.expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_gives_flags_and_table_mappings() {
    let (_db, ex) = executive().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.jsonl");
    write_lines(
        &file,
        &[json!({"key": {"id": 1}, "value": {"after": {"id": 1, "email": "a@example.com", "secret": "s3", "score": 2}, "op": "c", "source": {"schema": "public", "table": "users"}}}).to_string()],
        false,
    );
    let config = dir.path().join("loader.toml");
    std::fs::write(
        &config,
        format!(
            "source = \"file:{}\"\nmetrics-bind = \"\"\n\n[tables.\"public.users\"]\ntable = \"accounts\"\nexclude = [\"secret\"]\nrename = {{ email = \"mail\" }}\ntypes = {{ score = \"text\" }}\n",
            file.display()
        ),
    )
    .expect("write the config");
    let config = config.to_string_lossy().into_owned();
    run_to_end(loader(&ex, &["--config", &config]), Duration::from_secs(60)).await;
    let rows = host(&ex).await.rows("accounts");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["mail"], Value::Text("a@example.com".into()));
    assert_eq!(rows[0]["score"], Value::Text("2".into()));
    assert!(!rows[0].contains_key("secret"), "{:?}", rows[0]);

    // A mapping error names the file's problem and exits.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[tables.users]\ntypes = { a = \"float\" }\n",
    )
    .expect("write");
    let bad = dir.path().join("bad.toml").to_string_lossy().into_owned();
    let out = loader(&ex, &["--config", &bad, "--source", "-"])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a ctlstore type"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Answers cut off and connections reset between the loader and the executive: every batch is
/// retried until it is known to be applied, and none is applied twice (a lost answer is found
/// in the cookie).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_neither_lose_nor_repeat_a_batch() {
    let (_db, ex) = executive().await;
    let proxy = ctlstore_testkit::FaultProxy::start(&ex.base).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..300)
        .map(|i| json!({"key": {"id": i}, "value": {"after": {"id": i, "v": format!("row-{i:04}")}, "op": "c", "source": {"table": "flaky"}}}).to_string())
        .collect();
    write_lines(&file, &lines, false);
    // Faults are drawn when set: toggling keeps hitting the loader's pooled connection.
    let proxy = std::sync::Arc::new(proxy);
    let toggler = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            loop {
                proxy.set_fault(ctlstore_testkit::Fault::Truncate { max_bytes: 300 }, 0.5);
                tokio::time::sleep(Duration::from_millis(15)).await;
                proxy.set_fault(ctlstore_testkit::Fault::None, 0.0);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    let source = format!("file:{}", file.display());
    let mut command = loader(
        &ex,
        &[
            "--source",
            &source,
            "--batch-rows",
            "5",
            "--metrics-bind",
            "",
        ],
    );
    command.env("CTLSTORE_EXECUTIVE_URL", &proxy.url);
    run_to_end(command, Duration::from_secs(120)).await;
    toggler.abort();
    assert!(
        proxy.stats().truncations > 0,
        "the proxy cut some answers: {:?}",
        proxy.stats()
    );
    let batches = batches(&ex).await;
    let statements: Vec<&String> = batches.iter().flatten().collect();
    for i in 0..300 {
        let tag = format!("'row-{i:04}'");
        assert_eq!(
            statements.iter().filter(|s| s.contains(&tag)).count(),
            1,
            "row {i}"
        );
    }
    assert_eq!(batches.len(), 60, "300 rows in batches of 5");
}

/// The writer's rate limit (429) makes the loader wait and retry; every row still arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out() {
    let db = ctlstore_testkit::TestDb::create(ctlstore_testkit::Backend::Sqlite).await;
    let ex = ctlstore_testkit::TestExecutive::start_with(&db.url, |c| {
        c.writer_limit = 100;
        c.writer_limit_period = Duration::from_secs(1);
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..250)
        .map(|i| json!({"key": {"id": i}, "value": {"after": {"id": i, "v": format!("row-{i:04}")}, "op": "c", "source": {"table": "limited"}}}).to_string())
        .collect();
    write_lines(&file, &lines, false);
    let source = format!("file:{}", file.display());
    let stderr = run_to_end(
        loader(&ex, &["--source", &source, "--metrics-bind", ""]),
        Duration::from_secs(60),
    )
    .await;
    assert!(
        stderr.contains("retrying"),
        "the loader met the rate limit: {stderr}"
    );
    let statements: Vec<String> = batches(&ex).await.into_iter().flatten().collect();
    assert_eq!(statements.len(), 250);
    for i in 0..250 {
        assert_eq!(
            statements
                .iter()
                .filter(|s| s.contains(&format!("'row-{i:04}'")))
                .count(),
            1,
            "row {i}"
        );
    }
}
