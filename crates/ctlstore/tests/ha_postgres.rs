//! PostgreSQL failover (issue 20), with real processes: a private primary and a synchronous
//! streaming standby (`pg_basebackup`, `synchronous_standby_names`), an executive reaching them
//! through a multi-host URL (`postgres://h1,h2/db?target_session_attrs=read-write`), a writer
//! streaming batches and a host following the executive. Half-way the primary is killed (every
//! server process at once, `pg_ctl stop -m immediate`) and the standby promoted by hand.
//!
//! Afterwards: every acknowledged batch is in the new primary's ledger exactly once and on the
//! host (synchronous replication: nothing acknowledged is lost), writes go on against the new
//! primary without restarting anything, and the write outage is printed.

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctlstore_testkit::{ExecutiveClient, KillOnDrop, PgCluster, SchemaDef, TableDef, free_port};
use serde_json::json;

fn ctlstore(args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ctlstore"))
            .args(args)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ctlstore"),
    )
}

/// `REPLACE INTO pgfam___items ("id","batch") VALUES(i,n)` → i (the batch's id).
fn item(statement: &str) -> Option<i64> {
    let values = statement
        .strip_prefix("REPLACE INTO pgfam___items")?
        .split("VALUES(")
        .nth(1)?;
    values.split(',').next()?.parse().ok()
}

ctlstore_testkit::postgres_test! {
    async fn a_promoted_standby_takes_over_and_nothing_acknowledged_is_lost() {
        let primary = tokio::task::spawn_blocking(|| {
            PgCluster::start_with(&[("synchronous_standby_names", "standby1"), ("synchronous_commit", "on")])
        })
        .await
        .expect("task");
        let primary_port = primary.port();
        let standby = tokio::task::spawn_blocking(move || PgCluster::standby_of_port(primary_port, "standby1"))
        .await
        .expect("task");
        let url = format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
            primary.port(),
            standby.port()
        );
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let _executive = ctlstore(&["executive", "-bind", &format!("127.0.0.1:{port}"), "-ctldb", &url, "-writer-limit", "100000000"]);
        let client = ExecutiveClient::new(base.clone());
        client.wait_until_healthy(Duration::from_secs(60)).await;
        let items = TableDef { name: "items", fields: &[("id", "integer"), ("batch", "integer")], keys: &["id"] };
        client.register(&SchemaDef { family: "pgfam", tables: &[items], writer: "writer1", secret: "secret1" }).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let ldb = dir.path().join("ldb.db");
        let _reflector = ctlstore(&["reflector", "-ldb-path", &ldb.display().to_string(), "-executive-url", &base, "-metrics-bind", ""]);

        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        let mut acked = BTreeSet::new();
        let (mut id, mut killed_at, mut first_after) = (0i64, None::<Instant>, None::<Instant>);
        let started = Instant::now();
        while acked.len() < 400 || first_after.is_none() || acked.iter().filter(|&&i| i > 200).count() < 100 {
            assert!(started.elapsed() < Duration::from_secs(120), "writes never resumed after the promotion");
            id += 1;
            let body = json!({"mutations": [{"table": "items", "values": {"id": id, "batch": id}}]});
            let answer = http
                .post(format!("{base}/families/pgfam/mutations"))
                .header("ctlstore-writer", "writer1")
                .header("ctlstore-secret", "secret1")
                .json(&body)
                .send()
                .await;
            let ok = matches!(&answer, Ok(r) if r.status().is_success());
            if ok {
                acked.insert(id);
                if killed_at.is_some() && first_after.is_none() {
                    first_after = Some(Instant::now());
                }
            } else if let Ok(r) = answer {
                assert_eq!(r.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE, "only 503 while the primary is gone");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if id == 200 {
                // The primary dies; the standby is promoted by hand.
                killed_at = Some(Instant::now());
                tokio::task::block_in_place(|| primary.stop_hard());
                tokio::task::block_in_place(|| standby.promote());
                // Its configuration came from the primary: it would wait for a standby of its
                // own. Alone now, it commits without one (the runbook's step after a promotion).
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&standby.url).await.expect("connect to the new primary");
for statement in ["ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()"] {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                        .execute(&mut conn)
                        .await
                        .expect("turn synchronous replication off");
                }
            }
        }
        let outage = first_after.zip(killed_at).map(|(a, k)| a - k).unwrap_or_default();
        println!("{} batches acknowledged; write outage at the promotion {:.2} s", acked.len(), outage.as_secs_f64());

        // The new primary's ledger: every acknowledged batch exactly once.
        let ledger = {
            use sqlx::{Connection, Row};
            let mut conn = sqlx::PgConnection::connect(&standby.url).await.expect("connect to the new primary");
            sqlx::query("SELECT seq, statement FROM ctlstore_dml_ledger ORDER BY seq")
                .fetch_all(&mut conn)
                .await
                .expect("read the ledger")
                .iter()
                .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
                .collect::<Vec<_>>()
        };
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for (_, statement) in &ledger {
            if let Some(i) = item(statement) {
                *counts.entry(i).or_default() += 1;
            }
        }
        assert!(counts.values().all(|&c| c == 1), "a batch applied twice");
        let lost: Vec<_> = acked.iter().filter(|i| !counts.contains_key(i)).collect();
        assert!(lost.is_empty(), "acknowledged before the failover but lost: {lost:?}");

        // The host follows through the failover.
        let head = ledger.last().map(|e| e.0).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seq = rusqlite::Connection::open_with_flags(&ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()
                .and_then(|c| ctlstore_ldb_layout::read_seq(&c).ok())
                .unwrap_or(0);
            if seq >= head {
                break;
            }
            assert!(Instant::now() < deadline, "the host is stuck at {seq} of {head}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let on_host = ctlstore_testkit::sqlite_rows(&ldb, "SELECT id FROM pgfam___items");
        assert!(on_host.len() >= acked.len(), "every acknowledged batch is on the host");
    }
}
