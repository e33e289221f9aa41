//! `ctlstore store` and `ctlstore materialize` as the built binary: a directory uploaded as
//! rows, materialized back from the LDB and through a sidecar, kept equal to the table across
//! random upserts and deletes, and never written outside its directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ctlstore_testkit::{Backend, Lcg, TestDb, TestExecutive, ldb_with};
use serde_json::json;
use tokio::process::Command;

fn ctlstore(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CTLSTORE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn ok(mut command: Command) -> String {
    let out = command.output().await.expect("run ctlstore");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every regular file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// The host's LDB at `path`, replaced atomically with the whole ledger applied.
async fn publish_ldb(ex: &TestExecutive, path: &Path) {
    let statements = ex.statements(0).await;
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    let (_dir, built) = ldb_with(&refs);
    let tmp = path.with_extension("new");
    std::fs::copy(&built, &tmp).expect("copy the LDB");
    std::fs::rename(&tmp, path).expect("replace the LDB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_then_materialize_and_follow_random_changes() {
    let db = TestDb::create(Backend::Sqlite).await;
    let ex = TestExecutive::start_with(&db.url, |c| c.writer_limit = 1_000_000).await;
    ex.call(reqwest::Method::POST, "/families/cfg", None).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let local = tmp.path().join("local");
    std::fs::create_dir_all(local.join("svc/a")).expect("mkdir");
    std::fs::write(local.join("top.conf"), "x = 1\n").expect("write");
    std::fs::write(local.join("svc/a/key.bin"), [0u8, 1, 2, 255]).expect("write");
    std::fs::write(local.join("svc/ünï.txt"), "ünïcødé").expect("write");
    let writer = [
        "--executive-url",
        ex.base.as_str(),
        "--writer-name",
        "storer",
        "--writer-secret",
        "storer-secret",
    ];
    let local_text = local.to_string_lossy().into_owned();
    let mut args = vec![
        "store",
        local_text.as_str(),
        "cfg.files",
        "--path-field",
        "path",
        "--content-field",
        "body",
    ];
    args.extend(writer);
    let stored: serde_json::Value = serde_json::from_str(&ok(ctlstore(&args)).await).expect("JSON");
    assert_eq!(stored, json!({"upserted": 3, "deleted": 0}));

    // Rows the store did not write, with paths that must never leave the directory.
    let out = tmp.path().join("out");
    let outside = tmp.path().join("escaped");
    let evil = [
        "../escaped",
        "/tmp/ctlstore-escaped",
        "svc/../../escaped",
        "a//b",
        ".ctlstore-tmp-1",
    ];
    let mutations: Vec<_> = evil
        .iter()
        .map(|p| json!({"table": "files", "values": {"path": p, "body": "cHduZWQ="}}))
        .collect();
    let as_writer = ctlstore_testkit::WriterClient {
        base: ex.base.clone(),
        client: reqwest::Client::new(),
        writer: "storer".into(),
        secret: "storer-secret".into(),
    };
    as_writer
        .mutate_ok("cfg", &json!({"mutations": mutations}))
        .await;

    let ldb = tmp.path().join("ldb.db");
    publish_ldb(&ex, &ldb).await;
    let ldb_text = ldb.to_string_lossy().into_owned();
    let out_text = out.to_string_lossy().into_owned();
    let once = [
        "materialize",
        "cfg.files",
        "--dir",
        out_text.as_str(),
        "--path-field",
        "path",
        "--content-field",
        "body",
        "--ldb",
        ldb_text.as_str(),
        "--once",
    ];
    let first: serde_json::Value = serde_json::from_str(&ok(ctlstore(&once)).await).expect("JSON");
    assert_eq!(first["written"], 3);
    assert_eq!(first["refused"], 5);
    assert_eq!(tree(&out), tree(&local));
    assert!(
        !outside.exists() && !Path::new("/tmp/ctlstore-escaped").exists(),
        "nothing escapes"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(out.join("top.conf"))
            .expect("meta")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Long-running: random upserts and deletes, the LDB replaced each round; the directory
    // follows.
    // A trigger on the materialized tree's d1/ directory.
    let triggers = tmp.path().join("triggers");
    std::fs::create_dir(&triggers).expect("mkdir");
    let trigger_log = tmp.path().join("trigger.log");
    std::fs::write(
        triggers.join("d1"),
        json!({"path": "cfg/files/d1", "command": format!("cat >> {}", trigger_log.display())})
            .to_string(),
    )
    .expect("write the trigger");
    let triggers_text = triggers.to_string_lossy().into_owned();
    let mut follow = ctlstore(&[
        "materialize",
        "cfg.files",
        "--dir",
        out_text.as_str(),
        "--path-field",
        "path",
        "--content-field",
        "body",
        "--ldb",
        ldb_text.as_str(),
        "--poll-interval",
        "50ms",
        "--triggers-dir",
        triggers_text.as_str(),
    ]);
    follow.stderr(Stdio::null());
    let mut child = follow.spawn().expect("start materialize");
    let mut rng = Lcg(42);
    let mut expected: BTreeMap<String, Vec<u8>> = tree(&local);
    let mut touched_d1: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for round in 0..8 {
        let before_round = expected.clone();
        let mut batch = Vec::new();
        for _ in 0..10 {
            let path = format!("d{}/f{}.txt", rng.below(3), rng.below(6));
            if rng.below(3) == 0 {
                expected.remove(&path);
                batch.push(json!({"table": "files", "delete": true, "values": {"path": path}}));
            } else {
                let body = format!("round {round} {}", rng.below(1000));
                expected.insert(path.clone(), body.clone().into_bytes());
                batch.push(json!({"table": "files", "values": {"path": path, "body": base64(body.as_bytes())}}));
            }
        }
        // Later mutations of a path win, as in the batch.
        as_writer
            .mutate_ok("cfg", &json!({"mutations": batch}))
            .await;
        publish_ldb(&ex, &ldb).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tree(&out) != expected {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the directory never matched"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for path in before_round.keys().chain(expected.keys()) {
            if path.starts_with("d1/") && before_round.get(path) != expected.get(path) {
                touched_d1.insert(path.clone());
            }
        }
    }
    // The trigger saw every changed file under d1/, and nothing else.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&trigger_log).unwrap_or_default();
        let seen: std::collections::BTreeSet<String> = log
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                assert_eq!(v["key"][0], "d1", "{l}");
                format!(
                    "{}/{}",
                    v["key"][0].as_str().unwrap_or_default(),
                    v["key"][1].as_str().unwrap_or_default()
                )
            })
            .collect();
        if touched_d1.iter().all(|p| seen.contains(p)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trigger saw {seen:?}, changed {touched_d1:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!touched_d1.is_empty());
    child.kill().await.expect("stop");

    // Through a sidecar over the same LDB.
    let reader = Arc::new(ctlstore_reader::Reader::open(&ldb).expect("open the LDB"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sidecar = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(ctlstore_sidecar::serve(
        listener,
        reader,
        ctlstore_sidecar::Config {
            max_rows: 0,
            application: "test".into(),
            ..Default::default()
        },
        std::future::pending::<()>(),
    ));
    let via = tmp.path().join("via-sidecar");
    let via_text = via.to_string_lossy().into_owned();
    ok(ctlstore(&[
        "materialize",
        "cfg.files",
        "--dir",
        via_text.as_str(),
        "--path-field",
        "path",
        "--content-field",
        "body",
        "--sidecar",
        sidecar.as_str(),
        "--base64",
        "--once",
        "--mode",
        "0640",
    ]))
    .await;
    assert_eq!(tree(&via), expected);

    // `store --delete`: the table ends with exactly the local files.
    let mut args = vec![
        "store",
        local_text.as_str(),
        "cfg.files",
        "--path-field",
        "path",
        "--content-field",
        "body",
        "--delete",
    ];
    args.extend(writer);
    let stored: serde_json::Value = serde_json::from_str(&ok(ctlstore(&args)).await).expect("JSON");
    let local_files = tree(&local);
    let stale = expected
        .keys()
        .filter(|k| !local_files.contains_key(*k))
        .count()
        + evil.len();
    assert_eq!(stored, json!({"upserted": 3, "deleted": stale}));
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_with_a_message() {
    for (args, message) in [
        (
            vec![
                "materialize",
                "nodot",
                "--dir",
                "/tmp/x",
                "--path-field",
                "p",
                "--content-field",
                "c",
                "--ldb",
                "/nope",
            ],
            "FAMILY.TABLE",
        ),
        (
            vec![
                "materialize",
                "a.b",
                "--dir",
                "/tmp/x",
                "--path-field",
                "p",
                "--content-field",
                "c",
                "--ldb",
                "/nope",
                "--mode",
                "999",
            ],
            "octal",
        ),
        (
            vec![
                "store",
                "/tmp",
                "a.b",
                "--path-field",
                "p",
                "--content-field",
                "c",
            ],
            "writer-name",
        ),
    ] {
        let out = ctlstore(&args).output().await.expect("run");
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = PathBuf::new();
}
