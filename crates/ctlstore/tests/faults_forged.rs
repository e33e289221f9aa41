//! Fault: a ledger entry forged directly in the ctldb (not through the executive). Every
//! reflector, following the feed or polling the ctldb, must refuse it, halt, say why on
//! `/status` and `/healthz`, and leave its LDB as it was before the forged entry.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ctlstore_testkit::{Backend, TestDb, TestExecutive, free_port};
use serde_json::{Value, json};

/// What an attacker with write access to the ledger table might try.
const FORGED: &[&str] = &[
    "ATTACH DATABASE '/tmp/ctlstore-forged-attach.db' AS evil",
    "PRAGMA writable_schema = 1",
    "CREATE TRIGGER fam___things_wipe AFTER INSERT ON fam___things BEGIN DELETE FROM fam___things; END",
    "SELECT load_extension('/tmp/ctlstore-forged.so')",
    "UPDATE _ldb_seq SET seq = 999999",
    "REPLACE INTO _ldb_last_update (name, timestamp) VALUES ('ledger', '2099-01-01 00:00:00')",
    "DROP TABLE _ldb_seq",
    "DELETE FROM fam___things; VACUUM",
];

struct Reflector {
    child: Child,
    status_url: String,
}

impl Drop for Reflector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reflector process on `ldb`, following `source` (`-executive-url URL` or polling args).
fn reflector(ldb: &Path, source: &[&str]) -> Reflector {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args(["reflector", "-ldb-path"])
        .arg(ldb)
        .args(source)
        .args(["-metrics-bind", &format!("127.0.0.1:{port}")])
        .args(["-poll-interval", "50ms", "-gap-timeout", "100ms"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reflector");
    Reflector {
        child,
        status_url: format!("http://127.0.0.1:{port}"),
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let r = client.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

fn ldb_seq(ldb: &Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the LDB");
    ctlstore_ldb_layout::read_seq(&conn).expect("seq")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_ledger_entries_halt_every_reflector() {
    for forged in FORGED {
        let db = TestDb::create(Backend::Sqlite).await;
        let (executive, writer) =
            TestExecutive::with_table(&db.url, "things", ("v", "string")).await;
        let row = |id: i64| json!({"mutations": [{"table": "things", "values": {"id": id, "v": "good"}}]});
        writer.mutate_ok("fam", &row(1)).await;
        let good_head = executive.head().await;

        // The forgery, straight into the ctldb's ledger, then an honest write after it.
        let ctldb_path = db.url.trim_start_matches("sqlite:").to_string();
        {
            let c = rusqlite::Connection::open(&ctldb_path).expect("open the ctldb");
            c.busy_timeout(Duration::from_secs(5))
                .expect("busy timeout");
            c.execute(
                "INSERT INTO ctlstore_dml_ledger (statement) VALUES (?1)",
                [forged],
            )
            .expect("forge");
        }
        writer.mutate_ok("fam", &row(2)).await;

        let dir = tempfile::tempdir().expect("tempdir");
        let feed_ldb = dir.path().join("feed.db");
        let poll_ldb = dir.path().join("poll.db");
        let reflectors = [
            (
                reflector(&feed_ldb, &["-executive-url", &executive.base]),
                &feed_ldb,
            ),
            (
                reflector(
                    &poll_ldb,
                    &["-upstream-driver", "sqlite3", "-upstream-dsn", &ctldb_path],
                ),
                &poll_ldb,
            ),
        ];
        let client = reqwest::Client::new();
        for (r, ldb) in &reflectors {
            let deadline = Instant::now() + Duration::from_secs(30);
            let status = loop {
                if let Some((_, s)) = get_json(&client, &format!("{}/status", r.status_url)).await
                    && s["halted"].is_string()
                {
                    break s;
                }
                assert!(
                    Instant::now() < deadline,
                    "{forged}: the reflector did not halt"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let why = status["halted"].as_str().unwrap_or_default();
            assert!(
                why.contains(&format!("seq {}", good_head + 1)),
                "{forged}: {why}"
            );
            assert!(
                why.contains("refused") || why.contains("error"),
                "{forged}: {why}"
            );
            let (code, _) = get_json(&client, &format!("{}/healthz", r.status_url))
                .await
                .expect("healthz answers");
            assert_eq!(code, 503, "{forged}: a halted reflector is unhealthy");
            // Nothing of the forgery, nor anything after it, reached the LDB.
            assert_eq!(ldb_seq(ldb), good_head, "{forged}");
            let rows =
                ctlstore_testkit::sqlite_rows(ldb, "SELECT id FROM fam___things ORDER BY id");
            assert_eq!(
                rows,
                vec![vec![ctlstore_schema::Value::Integer(1)]],
                "{forged}"
            );
        }
        assert!(
            !Path::new("/tmp/ctlstore-forged-attach.db").exists(),
            "ATTACH created a file"
        );
        drop(reflectors);
        executive.stop().await;
    }
}
