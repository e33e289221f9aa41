//! Drop-in compatibility with ctlstore, on MariaDB: ctlstore's deployment command lines, a ctldb
//! that ctlstore initialised and used, and our ledger replayed the way ctlstore's reflector does.
//! docs/migrating-from-ctlstore.md runs the same command lines.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use ctlstore_testkit::{
    Backend, ExecutiveClient, SchemaDef, TableDef, TestDb, TestExecutive, free_port, go_mysql_dsn,
    mysql_test, sqlite_rows,
};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, Row};

/// Children killed when the test ends, however it ends.
struct Fleet(Vec<Child>);

impl Fleet {
    fn spawn(&mut self, args: &[&str], env: &[(&str, &str)]) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
        c.args(args).env("RUST_LOG", "warn").stdout(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        self.0.push(c.spawn().expect("start ctlstore"));
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn until<T>(what: &str, secs: u64, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

mysql_test! {
    /// ctlstore's docker-compose-example.yml, service by service, with hosts, ports and paths
    /// substituted: a write to the executive is read back from the sidecar.
    async fn a_ctlstore_style_deployment_on_mariadb() {
        let db = TestDb::create(Backend::Mysql).await;
        let dsn = go_mysql_dsn(&db.url);
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = dir.path().join("spool");
        std::fs::create_dir_all(&spool).expect("spool");
        let (exec_port, metrics_port, sidecar_port) = (free_port(), free_port(), free_port());
        let executive = format!("127.0.0.1:{exec_port}");
        let d = |p: &str| dir.path().join(p).display().to_string();
        let mut fleet = Fleet(Vec::new());
        fleet.spawn(&["executive", "-bind", &executive, "-ctldb", &dsn], &[]);
        let client = reqwest::Client::new();
        let base = format!("http://{executive}");
        until("the executive", 30, async || client.get(format!("{base}/status")).send().await.ok().filter(|r| r.status().is_success())).await;
        fleet.spawn(
            &["reflector", "-ldb-path", &format!("{}/ldb.db", spool.display()), "-changelog-path", &format!("{}/changelog", spool.display()),
              "-changelog-size", "1000000", "-upstream-driver", "mysql", "-upstream-dsn", &dsn, "-ledger-latency.disable",
              "-metrics-bind", &format!("127.0.0.1:{metrics_port}")],
            &[],
        );
        fleet.spawn(
            &["heartbeat", "-executive-url", &executive, "-heartbeat-interval", "1s", "-family-name", "ctlstore", "-table-name", "heartbeats",
              "-writer-name", "heartbeat", "-writer-secret", "heartbeat"],
            &[],
        );
        fleet.spawn(
            &["supervisor", "-snapshot-url", &format!("file://{}", d("snapshots/snapshot.db")), "-snapshot-interval", "60s",
              "-reflector.ldb-path", &d("supervisor-ldb.db"), "-reflector.upstream-driver", "mysql", "-reflector.upstream-dsn", &dsn],
            &[],
        );
        // The sidecar takes no flags in the example: its LDB is the default path under CTLSTORE_PATH.
        fleet.spawn(&["sidecar", "-bind-addr", &format!("127.0.0.1:{sidecar_port}")], &[("CTLSTORE_PATH", spool.to_str().expect("utf-8"))]);

        let flags = TableDef { name: "flags", fields: &[("name", "string"), ("enabled", "integer"), ("blob", "binary")], keys: &["name"] };
        let writer = ExecutiveClient::new(&base)
            .register(&SchemaDef { family: "demo", tables: &[flags], writer: "loader", secret: "s3cret" })
            .await;
        let write = json!({"cookie": "AQ==", "mutations": [{"table": "flags", "values": {"name": "new-ui", "enabled": 1, "blob": "3q2+7w=="}}]});
        writer.mutate_ok("demo", &write).await;
        let sidecar = format!("http://127.0.0.1:{sidecar_port}");
        let row: Value = until("the write at the sidecar", 30, async || {
            let r = client.post(format!("{sidecar}/get-row-by-key/demo/flags")).json(&json!({"key": [{"value": "new-ui"}]})).send().await.ok()?;
            if r.status().is_success() { r.json().await.ok() } else { None }
        })
        .await;
        assert_eq!(row, json!({"name": "new-ui", "enabled": 1, "blob": "3q2+7w=="}));
        let beat: Value = until("a heartbeat at the sidecar", 30, async || {
            let r = client.post(format!("{sidecar}/get-row-by-key/ctlstore/heartbeats")).json(&json!({"key": [{"value": "heartbeat"}]})).send().await.ok()?;
            if r.status().is_success() { r.json().await.ok() } else { None }
        })
        .await;
        assert!(beat["value"].as_i64().is_some_and(|ns| ns > 1_600_000_000_000_000_000), "{beat}");
        until("a healthy reflector", 30, async || client.get(format!("http://127.0.0.1:{metrics_port}/healthz")).send().await.ok().filter(|r| r.status().is_success())).await;
        let changelog = std::fs::read_to_string(spool.join("changelog")).unwrap_or_default();
        assert!(changelog.contains(r#""family":"demo","table":"flags","key":[{"name":"name","type":"VARCHAR(191)","value":"new-ui"}]"#), "{changelog}");
        until("the supervisor's LDB", 30, async || {
            let rows = std::panic::catch_unwind(|| sqlite_rows(Path::new(&d("supervisor-ldb.db")), "SELECT name FROM demo___flags")).ok()?;
            (!rows.is_empty()).then_some(())
        })
        .await;
        drop(fleet);
        db.cleanup().await;
    }
}

/// ctlstore's MySQL schema, as its `ctldb-schema` prints it (spec §1.1), and a ctldb filled the
/// way ctlstore's executive fills it.
const CTLSTORE_SCHEMA: &[&str] = &[
    "ALTER DATABASE CHARACTER SET = utf8mb4 COLLATE = utf8mb4_unicode_ci",
    "CREATE TABLE families (id INTEGER AUTO_INCREMENT PRIMARY KEY, name VARCHAR(191) NOT NULL, UNIQUE KEY name (name))",
    "CREATE TABLE mutators (writer VARCHAR(191) NOT NULL PRIMARY KEY, secret VARCHAR(255) NOT NULL, cookie BLOB(1024) NOT NULL, clock BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE ctlstore_dml_ledger (seq INTEGER AUTO_INCREMENT PRIMARY KEY, leader_ts DATETIME DEFAULT CURRENT_TIMESTAMP, statement MEDIUMTEXT NOT NULL)",
    "CREATE TABLE locks (id VARCHAR(191) NOT NULL PRIMARY KEY, clock BIGINT NOT NULL DEFAULT 0)",
    "INSERT INTO locks VALUES('ledger', 0)",
    "CREATE TABLE max_table_sizes (family_name VARCHAR(30) NOT NULL, table_name VARCHAR(50) NOT NULL, warn_size_bytes BIGINT NOT NULL DEFAULT 0, max_size_bytes BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (family_name, table_name))",
    "CREATE TABLE max_writer_rates (writer_name VARCHAR(50) NOT NULL, max_rows_per_minute BIGINT NOT NULL, PRIMARY KEY (writer_name))",
    "CREATE TABLE writer_usage (writer_name VARCHAR(50) NOT NULL, bucket BIGINT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (writer_name, bucket))",
];

mysql_test! {
    async fn our_executive_runs_on_a_ctldb_that_ctlstore_initialised() {
        let db = TestDb::create(Backend::Mysql).await;
        {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.expect("connect");
            c.execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'").await.expect("mode");
            for s in CTLSTORE_SCHEMA {
                c.execute(*s).await.expect(s);
            }
            let fill = [
                "INSERT INTO families (name) VALUES ('family1')",
                r#"CREATE TABLE family1___table1 ("field1" VARCHAR(191), "field2" BIGINT, "field3" DOUBLE, PRIMARY KEY("field1"));"#,
                r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES('a',1,1.5)"#,
                r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES('b''s',2,NULL)"#,
                "INSERT INTO mutators (writer, secret, cookie, clock) VALUES ('writer1', SHA2('secret1', 256), 'cookie-7', 3)",
            ];
            for s in fill {
                c.execute(s).await.expect(s);
            }
            for statement in [
                r#"CREATE TABLE family1___table1 ("field1" VARCHAR(191), "field2" INTEGER, "field3" REAL, PRIMARY KEY("field1"));"#,
                "--- BEGIN",
                r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES('a',1,1.5)"#,
                r#"REPLACE INTO family1___table1 ("field1","field2","field3") VALUES('b''s',2,NULL)"#,
                "--- COMMIT",
            ] {
                sqlx::query("INSERT INTO ctlstore_dml_ledger (statement) VALUES (?)").bind(statement).execute(&mut c).await.expect("ledger");
            }
            c.execute("UPDATE locks SET clock = 41 WHERE id = 'ledger'").await.expect("clock");
        }

        let executive = TestExecutive::start(&go_mysql_dsn(&db.url)).await;
        let (client, base) = (executive.client.clone(), executive.base.clone());

        // The old writer authenticates with its secret and sees its cookie.
        let cookie = client.get(format!("{base}/cookie")).header("ctlstore-writer", "writer1").header("ctlstore-secret", "secret1").send().await.expect("cookie");
        assert!(cookie.status().is_success());
        assert_eq!(cookie.bytes().await.expect("body").as_ref(), b"cookie-7");
        // The existing table is readable and writable; the existing family exists.
        let schema: Value = client.get(format!("{base}/schema/table/family1/table1")).send().await.expect("schema").json().await.expect("json");
        assert_eq!(schema["fields"], json!([["field1", "string"], ["field2", "integer"], ["field3", "decimal"]]));
        assert_eq!(client.post(format!("{base}/families/family1")).send().await.expect("family").status(), reqwest::StatusCode::CONFLICT);
        let check = base64::engine::general_purpose::STANDARD.encode("cookie-7");
        let body = json!({"cookie": base64::engine::general_purpose::STANDARD.encode("cookie-8"), "check_cookie": check,
                          "mutations": [{"table": "table1", "values": {"field1": "c", "field2": 3, "field3": 0.25}}, {"table": "table1", "delete": true, "values": {"field1": "a"}}]});
        executive.writer("writer1", "secret1").mutate_ok("family1", &body).await;
        // The sequence continues in the same ledger.
        let page: Value = client.get(format!("{base}/ledger?after=0")).send().await.expect("ledger").json().await.expect("json");
        let seqs: Vec<i64> = page["entries"].as_array().expect("entries").iter().filter_map(|e| e["seq"].as_i64()).collect();
        assert_eq!(seqs, (1..=9).collect::<Vec<_>>(), "5 of ctlstore's entries, then ours");
        // Nothing was rewritten: the old secret is still ctlstore's hex SHA-256, one lock row.
        let mut c = sqlx::MySqlConnection::connect(&db.url).await.expect("connect");
        let secret: String = sqlx::query("SELECT secret FROM mutators WHERE writer = 'writer1'").fetch_one(&mut c).await.expect("secret").get(0);
        assert_eq!(secret, hex_sha256("secret1"), "left as ctlstore stored it");
        let locks: i64 = sqlx::query("SELECT COUNT(*) FROM locks").fetch_one(&mut c).await.expect("locks").get(0);
        assert_eq!(locks, 1);

        // Our reflector follows the whole ledger, ctlstore's part included.
        let dir = tempfile::tempdir().expect("tempdir");
        let ldb = dir.path().join("ldb.db");
        let status = std::sync::Arc::new(ctlstore_reflector::Status::new(Duration::from_secs(60)));
        let config = ctlstore_reflector::Config::new(&ldb, ctlstore_reflector::SourceConfig::poll(go_mysql_dsn(&db.url)));
        tokio::spawn(ctlstore_reflector::run(config, status.clone(), std::future::pending()));
        until("the reflector", 30, async || (status.applied_seq() >= 9).then_some(())).await;
        let rows = sqlite_rows(&ldb, r#"SELECT * FROM family1___table1 ORDER BY "field1""#);
        use ctlstore_schema::Value as V;
        assert_eq!(rows, vec![vec![V::Text("b's".into()), V::Integer(2), V::Null], vec![V::Text("c".into()), V::Integer(3), V::Real(0.25)]]);
        db.cleanup().await;
    }
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

mysql_test! {
    /// Our MySQL ledger, replayed by ctlstore's reflector algorithm (spec §5.3-5.4): its query,
    /// `leader_ts` parsed with Go's layout, its marker handling. The result equals our LDB.
    async fn ctlstores_reflector_algorithm_replays_our_ledger() {
        let db = TestDb::create(Backend::Mysql).await;
        let executive = TestExecutive::start_with(&db.url, |c| c.enable_destructive_schema_changes = true).await;
        let (client, base) = (executive.client.clone(), executive.base.clone());
        let things = TableDef {
            name: "things",
            fields: &[("k", "string"), ("tag", "bytestring"), ("n", "integer"), ("d", "decimal"), ("body", "text"), ("data", "binary")],
            keys: &["k", "tag"],
        };
        let writer = executive.register(&SchemaDef { family: "fam", tables: &[things], writer: "writer1", secret: "secret1" }).await;
        let row = |k: &str, n: i64, body: &str| json!({"table": "things", "values": {"k": k, "tag": "AQ==", "n": n, "d": n as f64 / 3.0, "body": body, "data": "3q2+7w=="}});
        for body in [
            json!({"mutations": [row("a", 1, "one"), row("b", 2, "it's \\ fine"), row("c", 3, "a\u{0}b")]}),
            json!({"mutations": [row("d", 1 << 60, "𨅝")]}),
            json!({"mutations": [{"table": "things", "delete": true, "values": {"k": "a", "tag": "AQ=="}}, row("e", -5, "")]}),
        ] {
            writer.mutate_ok("fam", &body).await;
        }
        assert!(client.put(format!("{base}/families/fam/tables/things")).json(&json!({"fields": [["extra", "integer"]]})).send().await.expect("add").status().is_success());
        let more = json!({"mutations": [{"table": "things", "values": {"k": "f", "tag": "Ag==", "n": 6, "d": 1e300, "body": "x", "data": null, "extra": 7}}]});
        writer.mutate_ok("fam", &more).await;
        // Secondary indexes (issue 18): ctlstore's reflector applies them like any DDL.
        let indexes = format!("{base}/families/fam/tables/things/indexes");
        for body in [json!({"name": "by_n", "fields": ["n"], "unique": true}), json!({"name": "by_k_d", "fields": ["k", "tag"]})] {
            assert!(client.post(&indexes).json(&body).send().await.expect("index").status().is_success());
        }
        let dup = json!({"mutations": [{"table": "things", "values": {"k": "g", "tag": "Ag==", "n": 6, "d": 0.5, "body": "dup", "data": null, "extra": null}}]});
        assert_eq!(writer.mutate("fam", &dup).await.0, reqwest::StatusCode::CONFLICT, "n is unique");
        assert!(client.delete(format!("{indexes}/by_k_d")).send().await.expect("drop").status().is_success());
        let g = json!({"mutations": [{"table": "things", "values": {"k": "g", "tag": "Ag==", "n": 8, "d": 0.5, "body": "g", "data": null, "extra": null}}]});
        writer.mutate_ok("fam", &g).await;

        // Our reflector.
        let dir = tempfile::tempdir().expect("tempdir");
        let ours = dir.path().join("ours.db");
        let status = std::sync::Arc::new(ctlstore_reflector::Status::new(Duration::from_secs(60)));
        tokio::spawn(ctlstore_reflector::run(ctlstore_reflector::Config::new(&ours, ctlstore_reflector::SourceConfig::feed(&base)), status.clone(), std::future::pending()));

        // ctlstore's reflector, as its code does it.
        let theirs = dir.path().join("theirs.db");
        let ldb = rusqlite::Connection::open(&theirs).expect("ldb");
        ldb.execute_batch("CREATE TABLE IF NOT EXISTS _ldb_seq (id INTEGER PRIMARY KEY NOT NULL, seq BIGINT NOT NULL);
                           CREATE TABLE IF NOT EXISTS _ldb_last_update (name STRING PRIMARY KEY NOT NULL, timestamp DATETIME NOT NULL);").expect("ddl");
        let mut upstream = sqlx::MySqlConnection::connect(&db.url).await.expect("connect");
        let go_layout = |ts: &str| {
            let b = ts.as_bytes();
            b.len() == 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':'
                && ts.chars().enumerate().all(|(i, c)| [4, 7, 10, 13, 16].contains(&i) || c.is_ascii_digit())
        };
        let (mut last, mut in_tx, mut applied) = (0i64, false, 0);
        loop {
            // Unprepared, like go-sql-driver without parseTime: leader_ts arrives as text.
            let query = format!("SELECT seq, leader_ts, statement FROM ctlstore_dml_ledger WHERE seq > {last} ORDER BY seq LIMIT 100");
            let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(query)).fetch_all(&mut upstream).await.expect("poll");
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let seq: i64 = r.try_get::<i32, _>(0).map(i64::from).expect("seq");
                let ts: String = r.try_get_unchecked::<String, _>(1).expect("leader_ts as text");
                let statement: String = r.try_get(2).expect("statement");
                assert!(go_layout(&ts), "leader_ts {ts:?} does not parse with 2006-01-02 15:04:05");
                if statement == "--- BEGIN" {
                    assert!(!in_tx, "invariant violation");
                    ldb.execute_batch("BEGIN").expect("begin");
                    in_tx = true;
                } else if !in_tx {
                    ldb.execute_batch("BEGIN").expect("begin");
                }
                ldb.execute("REPLACE INTO _ldb_last_update (name, timestamp) VALUES ('ledger', ?1)", [&ts]).expect("last update");
                ldb.execute("INSERT OR REPLACE INTO _ldb_seq (id, seq) VALUES (1, ?1)", [seq]).expect("seq");
                match statement.as_str() {
                    "--- BEGIN" => {}
                    "--- COMMIT" => {
                        assert!(in_tx, "invariant violation");
                        ldb.execute_batch("COMMIT").expect("commit");
                        in_tx = false;
                    }
                    sql => {
                        ldb.execute_batch(sql).unwrap_or_else(|e| panic!("ctlstore's reflector cannot apply seq {seq}: {e}: {sql}"));
                        if !in_tx {
                            ldb.execute_batch("COMMIT").expect("commit");
                        }
                    }
                }
                last = seq;
                applied += 1;
            }
        }
        assert!(!in_tx);
        until("our reflector", 30, async || (status.applied_seq() >= last).then_some(())).await;
        let q = r#"SELECT * FROM fam___things ORDER BY "k", "tag""#;
        assert_eq!(sqlite_rows(&theirs, q), sqlite_rows(&ours, q), "ctlstore's algorithm and ours build the same LDB");
        assert_eq!(sqlite_rows(&theirs, q).len(), 6);
        let i = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name";
        assert_eq!(sqlite_rows(&theirs, i), sqlite_rows(&ours, i), "the same indexes");
        assert_eq!(sqlite_rows(&ours, i).len(), 1, "by_n, not the dropped by_k_d");
        assert!(applied >= 10);
        db.cleanup().await;
    }
}
