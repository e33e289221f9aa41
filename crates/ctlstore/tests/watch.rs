//! The change feed with real processes: a reflector (`-change-feed`) SIGKILLed three times
//! while 1,000 random batches are written; `ctlstore watch` must print every batch in order,
//! exactly once, each with the rows as the batch left them; `ctlstore triggers`, restarted
//! half-way, must see every changed key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ctlstore_testkit::{Backend, Lcg, SchemaDef, TableDef, TestDb, TestExecutive};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn ctlstore() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CTLSTORE_") {
            command.env_remove(name);
        }
    }
    command
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

fn reflector(ldb: &Path, executive: &str) -> Child {
    ctlstore()
        .args(["reflector", "-ldb-path"])
        .arg(ldb)
        .args([
            "-executive-url",
            executive,
            "-change-feed",
            "1000000",
            "-metrics-bind",
            "",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reflector")
}

/// A batch as the feed should show it: id → the row's `v` after the batch, or None if deleted.
type Effect = BTreeMap<i64, Option<i64>>;

/// A printed batch line as an [`Effect`].
fn effect_of(event: &Value) -> Effect {
    let mut effect = Effect::new();
    for c in event["changes"].as_array().expect("changes") {
        let id = c["key"][0].as_i64().expect("key");
        match c["op"].as_str() {
            Some("upsert") => effect.insert(id, c["row"]["v"].as_i64()),
            _ => effect.insert(id, None),
        };
    }
    effect
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_every_batch_once_in_order_across_reflector_kills() {
    let db = TestDb::create(Backend::Sqlite).await;
    let ex = TestExecutive::start_with(&db.url, |c| c.writer_limit = 1_000_000).await;
    let writer = ex
        .register(&SchemaDef {
            family: "wfam",
            tables: &[TableDef {
                name: "items",
                fields: &[("id", "integer"), ("v", "integer")],
                keys: &["id"],
            }],
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let mut refl = reflector(&ldb, &ex.base);
    // The LDB and its feed exist once the reflector has applied the schema.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ctlstore_reader::Reader::open(&ldb)
        .map(|r| r.last_sequence().unwrap_or(0))
        .unwrap_or(0)
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reflector never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ldb_text = ldb.to_string_lossy().into_owned();
    let mut watch = ctlstore()
        .args([
            "watch",
            "wfam.items",
            "--after",
            "0",
            "--ldb",
            ldb_text.as_str(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();

    // Triggers on the same LDB, restarted half-way.
    let triggers = dir.path().join("triggers");
    std::fs::create_dir(&triggers).expect("mkdir");
    let log = dir.path().join("trigger.log");
    std::fs::write(
        triggers.join("items"),
        json!({"path": "wfam/items", "command": format!("cat >> {}", log.display())}).to_string(),
    )
    .expect("write");
    let triggers_text = triggers.to_string_lossy().into_owned();
    let start_triggers = || {
        ctlstore()
            .args([
                "triggers",
                "--ldb",
                ldb_text.as_str(),
                "--triggers-dir",
                triggers_text.as_str(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start triggers")
    };
    let mut trig = start_triggers();

    let mut rng = Lcg(0x5eed_1234);
    let mut expected: Vec<Effect> = Vec::new();
    // The table as the ledger leaves it: a delete of an absent row changes nothing, so it is
    // not in the feed (and a batch of only such deletes is not either).
    let mut table: BTreeMap<i64, i64> = BTreeMap::new();
    let mut touched = BTreeSet::new();
    for b in 0..1000i64 {
        let mut effect = Effect::new();
        let mut mutations = Vec::new();
        for _ in 0..=rng.below(4) {
            let id = rng.below(50) as i64;
            if rng.below(4) == 0 {
                if table.remove(&id).is_some() || effect.contains_key(&id) {
                    effect.insert(id, None);
                }
                mutations.push(json!({"table": "items", "delete": true, "values": {"id": id}}));
            } else {
                table.insert(id, b);
                effect.insert(id, Some(b));
                mutations.push(json!({"table": "items", "values": {"id": id, "v": b}}));
            }
        }
        writer
            .mutate_ok("wfam", &json!({"mutations": mutations}))
            .await;
        touched.extend(effect.keys().copied());
        if !effect.is_empty() {
            expected.push(effect);
        }
        if b % 250 == 125 {
            refl.kill().await.expect("SIGKILL the reflector");
            refl = reflector(&ldb, &ex.base);
        }
        if b == 500 {
            trig.kill().await.expect("SIGKILL triggers");
            trig = start_triggers();
        }
    }

    let mut got: Vec<Effect> = Vec::new();
    let mut last_seq = 0;
    while got.len() < expected.len() {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("watch printed {} of {} batches", got.len(), expected.len()))
            .expect("read")
            .expect("a line");
        let event: Value = serde_json::from_str(&line).expect("JSON");
        let seq = event["seq"].as_i64().expect("seq");
        assert!(seq > last_seq, "in order: {seq} after {last_seq}");
        last_seq = seq;
        got.push(effect_of(&event));
    }
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "batch {i}");
    }
    // The same through a sidecar's /watch stream and `ctlstore watch --sidecar`.
    let reader = std::sync::Arc::new(ctlstore_reader::Reader::open(&ldb).expect("open the LDB"));
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
    let out = ctlstore()
        .args([
            "watch",
            "wfam.items",
            "--after",
            "0",
            "--sidecar",
            sidecar.as_str(),
            "--timeout",
            "2s",
        ])
        .output()
        .await
        .expect("watch --sidecar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via_sidecar: Vec<Effect> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| effect_of(&serde_json::from_str(l).expect("JSON")))
        .collect();
    assert_eq!(via_sidecar, expected, "the sidecar's stream");
    let bad = reqwest::get(format!("{sidecar}/watch/wfam/items?prefix=nope"))
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
    // The retention, reported: every batch since the feed started (nothing pruned at 1,000,000).
    let retention: Value = reqwest::get(format!("{sidecar}/feed"))
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let changes: usize = expected.iter().map(|e| e.len()).sum();
    assert_eq!(retention["changes"], json!(changes), "{retention}");
    assert_eq!(retention["bootstrapped"], Value::Null, "{retention}");
    assert!(
        retention["newest"].as_i64() > retention["since"].as_i64(),
        "{retention}"
    );

    // Nothing more: no batch twice.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), lines.next_line())
            .await
            .is_err(),
        "an extra line"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen: BTreeSet<i64> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["key"][0].as_i64())
            .collect();
        if seen == touched {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "triggers saw {} of {} keys",
            seen.len(),
            touched.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watch.kill().await.expect("stop");
    trig.kill().await.expect("stop");
    refl.kill().await.expect("stop");
}
