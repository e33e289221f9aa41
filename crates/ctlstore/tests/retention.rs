//! Ledger retention (issue 21), with the real binaries on the embedded SQLite ctldb: an
//! executive pruning to `-ledger-retention 20000` under a supervisor publishing snapshots every
//! second, 200,000 ledger entries written, and three hosts:
//! - a new one (no LDB, `-bootstrap-url`): bootstraps at start and follows;
//! - one far behind (stopped early, restarted with `-bootstrap-url`): the feed answers 410,
//!   it restores the newest snapshot into its LDB in place and follows;
//! - one far behind without `-bootstrap-url`: reports unhealthy, naming the horizon.
//!
//! The ledger table stays bounded as configured (never fewer than 20,000 entries kept), and
//! every host ends with every acknowledged write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ctlstore_schema::Value;
use ctlstore_testkit::{
    ExecutiveClient, KillOnDrop, SchemaDef, TableDef, free_port, spawn_service, sqlite_rows,
};
use serde_json::json;

const KEEP: i64 = 20_000;
const KEYS: i64 = 5_000;
const ROWS_PER_BATCH: i64 = 100;
const ENTRIES: i64 = 200_000;

fn ctlstore(args: &[&str]) -> KillOnDrop {
    spawn_service(env!("CARGO_BIN_EXE_ctlstore"), args)
}

/// A reflector on `ldb` following `base`, with `extra` flags.
fn reflector(ldb: &Path, base: &str, extra: &[&str]) -> KillOnDrop {
    let ldb = ldb.to_string_lossy();
    let mut args = vec!["reflector", "-ldb-path", &ldb, "-executive-url", base];
    args.extend_from_slice(extra);
    ctlstore(&args)
}

/// The LDB's committed seq (0 while it does not exist or is being created).
fn ldb_seq(ldb: &Path) -> i64 {
    if !ldb.exists() {
        return 0;
    }
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        ldb,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return 0;
    };
    conn.query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0))
        .unwrap_or(0)
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (entries, lowest seq) of the ctldb's ledger table.
fn ledger_extent(ctldb: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open_with_flags(
        ctldb,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the ctldb");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn.query_row(
        "SELECT COUNT(*), COALESCE(MIN(seq), 0) FROM ctlstore_dml_ledger",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("count the ledger")
}

fn rows(ldb: &Path) -> BTreeMap<i64, i64> {
    sqlite_rows(ldb, "SELECT k, v FROM ret___kvs ORDER BY k")
        .into_iter()
        .map(|r| match (&r[0], &r[1]) {
            (Value::Integer(k), Value::Integer(v)) => (*k, *v),
            other => panic!("unexpected row {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_ledger_stays_bounded_and_every_host_converges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |name: &str| -> PathBuf { dir.path().join(name) };
    let snapshots = format!("file://{}", d("snapshots/ldb.db").display());
    let ctldb = d("ctldb.db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _executive = ctlstore(&[
        "executive",
        "-bind",
        &format!("127.0.0.1:{port}"),
        "-ctldb",
        &format!("sqlite:{}", ctldb.display()),
        "-writer-limit",
        "100000000",
        "-ledger-retention",
        &KEEP.to_string(),
        "-snapshot-url",
        &snapshots,
        "-ledger-retention-margin",
        "1000",
        "-ledger-prune-interval",
        "1s",
    ]);
    let client = ExecutiveClient::new(&base);
    client.wait_until_healthy(Duration::from_secs(20)).await;
    let writer = client
        .register(&SchemaDef {
            family: "ret",
            tables: &[TableDef {
                name: "kvs",
                fields: &[("k", "integer"), ("v", "integer")],
                keys: &["k"],
            }],
            writer: "retwriter",
            secret: "retsecret",
        })
        .await;
    // Key -> the last acknowledged value; `written` numbers the writes.
    let mut expected = BTreeMap::new();
    let mut written = 0i64;
    let write_batch = async |expected: &mut BTreeMap<i64, i64>, written: &mut i64, rows: i64| {
        let mutations: Vec<_> = (0..rows)
            .map(|i| {
                let v = *written + i;
                json!({"table": "kvs", "values": {"k": v % KEYS, "v": v}})
            })
            .collect();
        writer
            .mutate_ok("ret", &json!({ "mutations": mutations }))
            .await;
        for i in 0..rows {
            let v = *written + i;
            expected.insert(v % KEYS, v);
        }
        *written += rows;
    };

    // Host "behind": follows the first writes, then stops; a copy of its LDB is host "stuck".
    let behind = d("behind.db");
    {
        let _r = reflector(&behind, &base, &[]);
        for _ in 0..10 {
            write_batch(&mut expected, &mut written, ROWS_PER_BATCH).await;
        }
        let head = client.head().await;
        wait_for(
            "host behind follows the first writes",
            Duration::from_secs(20),
            || ldb_seq(&behind) >= head,
        )
        .await;
    }
    let behind_seq = ldb_seq(&behind);
    // A consistent copy (its newest pages may still be in the WAL, which a file copy misses).
    rusqlite::Connection::open(&behind)
        .and_then(|c| c.execute("VACUUM INTO ?1", [d("stuck.db").to_string_lossy()]))
        .expect("copy the LDB");

    let _supervisor = ctlstore(&[
        "supervisor",
        "-snapshot-url",
        &snapshots,
        "-snapshot-interval",
        "1s",
        "-snapshot-keep",
        "2",
        "-reflector.ldb-path",
        &d("supervisor.db").to_string_lossy(),
        "-reflector.executive-url",
        &base,
    ]);

    // 200,000 entries; the ledger table's size is sampled meanwhile.
    let mut largest = 0;
    while client.head().await < ENTRIES {
        write_batch(&mut expected, &mut written, ROWS_PER_BATCH).await;
        if written % (ROWS_PER_BATCH * 50) == 0 {
            largest = largest.max(ledger_extent(&ctldb).0);
        }
    }
    let head = client.head().await;
    println!("{head} entries written; the ledger table held at most {largest} (sampled)");

    // Small writes go on (a supervisor publishes only when something changed) until both
    // retained snapshots are recent and the pruner has caught up.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (count, lowest) = loop {
        write_batch(&mut expected, &mut written, 1).await;
        let (count, lowest) = ledger_extent(&ctldb);
        if count <= KEEP + 2_000 {
            break (count, lowest);
        }
        assert!(
            Instant::now() < deadline,
            "the ledger was not pruned to about {KEEP} entries: {count} left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let head = client.head().await;
    // Never more pruned than asked: every one of the newest KEEP entries is there.
    assert!(count >= KEEP, "only {count} entries kept, {KEEP} asked");
    assert!(
        lowest <= head - KEEP + 1,
        "lowest seq {lowest}, head {head}"
    );
    println!("pruned: {count} entries left, seqs {lowest}..={head}");

    // The feed tells a follower below the horizon, with the snapshot location.
    let gone = reqwest::get(format!("{base}/ledger?after={behind_seq}"))
        .await
        .expect("ledger request");
    assert_eq!(gone.status(), reqwest::StatusCode::GONE);
    let body: serde_json::Value = gone.json().await.expect("a JSON 410");
    assert_eq!(body["field"], "after");
    assert_eq!(body["snapshot"], snapshots.as_str());
    let horizon = body["horizon"].as_i64().expect("the horizon");
    assert!(horizon >= lowest - 1 && horizon > behind_seq, "{body}");

    // What ctlstore's own reflector would read from here (spec §5.3): its first statement
    // after a restart is not gap-checked, so it would go on from above the horizon and never
    // apply the pruned entries (docs/retention.md).
    let first_after = sqlite_rows(
        &ctldb,
        &format!("SELECT MIN(seq) FROM ctlstore_dml_ledger WHERE seq > {behind_seq}"),
    );
    assert!(
        matches!(first_after[0][0], Value::Integer(s) if s > horizon),
        "{first_after:?}"
    );

    // The operator's command: nothing more to prune, and it says where the horizon is.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ctlstore"))
            .args(["ledger", "prune"])
            .args(args)
            .args(["--executive-url", &base])
            .output()
            .expect("run ctlstore ledger prune")
    };
    let out = cli(&["--dry-run", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dry: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(dry["dryRun"], true);
    assert!(dry["through"].as_i64() >= Some(horizon), "{dry}");
    assert_eq!(dry["retention"], "20000 entries");
    let refused = cli(&[]);
    assert!(
        !refused.status.success(),
        "prune without --dry-run or --yes must refuse"
    );
    let out = cli(&["--yes", "--retention", "bogus"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retention"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The three hosts.
    let fresh = d("fresh.db");
    let stuck_health = free_port();
    let _fresh = reflector(&fresh, &base, &["-bootstrap-url", &snapshots]);
    let _behind = reflector(&behind, &base, &["-bootstrap-url", &snapshots]);
    let _stuck = reflector(
        &d("stuck.db"),
        &base,
        &["-metrics-bind", &format!("127.0.0.1:{stuck_health}")],
    );
    for (name, ldb) in [("new host", &fresh), ("host far behind", &behind)] {
        wait_for(
            &format!("{name} reaches the head"),
            Duration::from_secs(60),
            || ldb_seq(ldb) >= head,
        )
        .await;
    }
    let final_head = client.head().await;
    for (name, ldb) in [("new host", &fresh), ("host far behind", &behind)] {
        wait_for(
            &format!("{name} reaches the final head"),
            Duration::from_secs(30),
            || ldb_seq(ldb) >= final_head,
        )
        .await;
        assert_eq!(rows(ldb), expected, "{name} lost acknowledged writes");
    }

    // Host "stuck" cannot move and says why.
    let health_url = format!("http://127.0.0.1:{stuck_health}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(&health_url).await {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
                && text.contains("pruning horizon")
            {
                assert!(text.contains("-bootstrap-url"), "{text}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the stuck host did not report the horizon"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ldb_seq(&d("stuck.db")), behind_seq, "the stuck host moved");
}
