//! Fault: SIGKILL. The executive, reflector, sidecar, supervisor and heartbeat run as separate
//! processes on each ctldb backend while a writer streams batches; one of them, chosen at
//! random, is killed at a random moment and restarted, round after round. Afterwards every
//! acknowledged batch is in the ctldb, in the ledger and in the host's LDB exactly once; a
//! reader watching the LDB throughout never saw half a batch; the supervisor's last snapshot
//! restores to a consistent LDB; the sidecar and the heartbeat work again.
//!
//! Short form (CI): 10 kills per backend. Soak: `CTLSTORE_FAULT_KILLS=200 cargo test -p ctlstore
//! --test faults_kill -- --nocapture`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_schema::{FamilyName, TableName, Value};
use ctlstore_testkit::{
    Backend, ExecutiveClient, SchemaDef, TableDef, TestDb, backend_tests, free_port, go_mysql_dsn,
};
use serde_json::json;

const ROWS_PER_BATCH: i64 = 3;

backend_tests!(killing_any_service_loses_and_repeats_nothing);

struct Service {
    name: &'static str,
    args: Vec<String>,
    child: Option<Child>,
}

impl Service {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
            .args(&self.args)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ctlstore");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// (seq, distinct batches among `current`, rows of `current`) in one read transaction.
fn observe(path: &Path) -> Option<(i64, i64, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.execute_batch("BEGIN").ok()?;
    let seq = ctlstore_ldb_layout::read_seq(&conn).ok()?;
    let (batches, rows) = conn
        .query_row(
            "SELECT COUNT(DISTINCT batch), COUNT(*) FROM fam___current",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()?;
    Some((seq, batches, rows))
}

fn assert_whole_batches(what: &str, o: (i64, i64, i64)) {
    assert!(
        o.1 <= 1,
        "{what}: torn batch at seq {}: {} batches mixed",
        o.0,
        o.1
    );
    assert!(
        o.2 == 0 || o.2 == ROWS_PER_BATCH,
        "{what}: half a batch at seq {}: {} rows",
        o.0,
        o.2
    );
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

async fn killing_any_service_loses_and_repeats_nothing(backend: Backend) {
    let kills: u64 = std::env::var("CTLSTORE_FAULT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let db = TestDb::create(backend).await;
    // MariaDB through ctlstore's own DSN form, as deployments give it.
    let ctldb_url = if backend == Backend::Mysql {
        go_mysql_dsn(&db.url)
    } else {
        db.url.clone()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |p: &str| dir.path().join(p).display().to_string();
    let (exec_port, side_port, health_port) = (free_port(), free_port(), free_port());
    let base = format!("http://127.0.0.1:{exec_port}");
    let snapshot_url = format!("file://{}", d("snapshots/snapshot.db"));
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut services = [
        Service {
            name: "executive",
            args: args(&[
                "executive",
                "-bind",
                &format!("127.0.0.1:{exec_port}"),
                "-ctldb",
                &ctldb_url,
                "-writer-limit",
                "1000000000",
            ]),
            child: None,
        },
        Service {
            name: "reflector",
            args: args(&[
                "reflector",
                "-ldb-path",
                &d("ldb.db"),
                "-executive-url",
                &base,
                "-metrics-bind",
                &format!("127.0.0.1:{health_port}"),
                "-gap-timeout",
                "200ms",
            ]),
            child: None,
        },
        Service {
            name: "sidecar",
            args: args(&[
                "sidecar",
                "-bind-addr",
                &format!("127.0.0.1:{side_port}"),
                "-ldb-path",
                &d("ldb.db"),
            ]),
            child: None,
        },
        Service {
            name: "supervisor",
            args: args(&[
                "supervisor",
                "-snapshot-url",
                &snapshot_url,
                "-snapshot-interval",
                "1s",
                "-reflector.ldb-path",
                &d("supervisor.db"),
                "-reflector.executive-url",
                &base,
                "-reflector.gap-timeout",
                "200ms",
            ]),
            child: None,
        },
        Service {
            name: "heartbeat",
            args: args(&[
                "heartbeat",
                "-executive-url",
                &base,
                "-writer-secret",
                "heartbeat",
                "-heartbeat-interval",
                "500ms",
            ]),
            child: None,
        },
    ];
    services[0].start();
    let executive = ExecutiveClient::new(&base);
    executive.wait_until_healthy(Duration::from_secs(30)).await;
    let fields = [("id", "integer"), ("batch", "integer"), ("val", "string")];
    let writer = executive
        .register(&SchemaDef {
            family: "fam",
            tables: &[
                TableDef {
                    name: "current",
                    fields: &fields,
                    keys: &["id"],
                },
                TableDef {
                    name: "history",
                    fields: &fields,
                    keys: &["id"],
                },
            ],
            writer: "writer1",
            secret: "secret1",
        })
        .await;
    for s in &mut services[1..] {
        s.start();
    }

    // The writer: batch b rewrites every row of `current` and adds row b to `history`.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<i64>>> = Arc::default();
    let writes = {
        let (stop, acknowledged, writer) = (stop.clone(), acknowledged.clone(), writer.clone());
        tokio::spawn(async move {
            let mut b = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let mut mutations: Vec<_> = (0..ROWS_PER_BATCH)
                    .map(|id| json!({"table": "current", "values": {"id": id, "batch": b, "val": format!("batch {b}")}}))
                    .collect();
                mutations
                    .push(json!({"table": "history", "values": {"id": b, "batch": b, "val": "x"}}));
                let sent = writer
                    .request(reqwest::Method::POST, "/families/fam/mutations")
                    .json(&json!({"mutations": mutations}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    acknowledged.lock().expect("lock").push(b);
                }
                b += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // The reader: the host's LDB, throughout.
    let watching = Arc::new(AtomicBool::new(true));
    let reader = {
        let (path, watching): (PathBuf, _) = (dir.path().join("ldb.db"), watching.clone());
        std::thread::spawn(move || {
            let (mut seen, mut last) = (0u64, 0i64);
            while watching.load(Ordering::SeqCst) {
                if let Some(o) = observe(&path) {
                    assert!(o.0 >= last, "seq went backwards: {} after {last}", o.0);
                    assert_whole_batches("the host's LDB", o);
                    (last, seen) = (o.0, seen + 1);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            seen
        })
    };

    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ kills;
    let mut killed: HashMap<&str, u64> = HashMap::new();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(100 + xorshift(&mut seed) % 500)).await;
        let s = &mut services[(xorshift(&mut seed) % 5) as usize];
        s.kill();
        *killed.entry(s.name).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(xorshift(&mut seed) % 300)).await;
        s.start();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    writes.await.expect("writer");

    // Converge, then compare.
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("ctldb");
    let head = ctldb.max_seq().await.expect("head");
    let deadline = Instant::now() + Duration::from_secs(90);
    while observe(&dir.path().join("ldb.db")).map_or(0, |o| o.0) < head {
        if Instant::now() >= deadline {
            // What the reflector says about itself, for diagnosis.
            let status = match reqwest::get(format!("http://127.0.0.1:{health_port}/status")).await
            {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(e) => format!("no status: {e}"),
            };
            panic!("the host did not converge to {head}; reflector /status: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watching.store(false, Ordering::SeqCst);
    let observations = reader.join().expect("the reader saw no violation");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let family = FamilyName::new("fam").expect("valid");
    for table in ["current", "history"] {
        let in_ctldb = ctldb
            .rows(&family, &TableName::new(table).expect("valid"))
            .await
            .expect("rows");
        let in_ldb = ctlstore_testkit::sqlite_rows(
            &dir.path().join("ldb.db"),
            &format!(r#"SELECT * FROM "fam___{table}" ORDER BY "id""#),
        );
        assert_eq!(in_ldb, in_ctldb, "{table}: the LDB equals the ctldb");
    }
    let history: BTreeSet<i64> =
        ctlstore_testkit::sqlite_rows(&dir.path().join("ldb.db"), "SELECT id FROM fam___history")
            .into_iter()
            .filter_map(|r| match r[0] {
                Value::Integer(i) => Some(i),
                _ => None,
            })
            .collect();
    for b in &acknowledged {
        assert!(history.contains(b), "acknowledged batch {b} lost");
    }
    // Exactly once in the ledger: each history row is written by one statement only.
    let mut per_batch: HashMap<i64, u32> = HashMap::new();
    let mut after = 0;
    loop {
        let page = ctldb.ledger_after(after, 1000).await.expect("ledger");
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            if let Some(rest) = e
                .statement
                .strip_prefix(r#"REPLACE INTO fam___history ("id","batch","val") VALUES("#)
            {
                let id: i64 = rest
                    .split(',')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("a batch id");
                *per_batch.entry(id).or_default() += 1;
            }
        }
    }
    assert!(
        per_batch.values().all(|n| *n == 1),
        "a batch appears twice in the ledger"
    );
    for b in &acknowledged {
        assert_eq!(
            per_batch.get(b),
            Some(&1),
            "acknowledged batch {b} in the ledger once"
        );
    }

    // The supervisor's last snapshot restores to a consistent LDB.
    let location =
        ctlstore_snapshot::Location::parse(&snapshot_url, &Default::default()).expect("location");
    let restored = dir.path().join("restored.db");
    ctlstore_snapshot::restore(&location, &restored)
        .await
        .expect("the last snapshot restores");
    let o = observe(&restored).expect("the snapshot is an LDB");
    assert_whole_batches("the snapshot", o);
    assert!(o.0 <= head);
    // The sidecar serves and the heartbeat writes again after their restarts.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let beat = client
            .post(format!(
                "http://127.0.0.1:{side_port}/get-row-by-key/ctlstore/heartbeats"
            ))
            .json(&json!({"key": [{"value": "heartbeat"}]}))
            .send()
            .await;
        if beat.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sidecar never served the heartbeat"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{backend:?}: {kills} kills {killed:?}; {} batches acknowledged, ledger head {head}, {observations} reader observations",
        acknowledged.len()
    );
    db.cleanup().await;
}
