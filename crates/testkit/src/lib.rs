//! Test support shared by the crates' integration tests: a fresh, empty ctldb on each backend,
//! and [`backend_tests!`], which runs one async test body against SQLite, MariaDB/MySQL and
//! PostgreSQL. With the `executive` feature, `TestExecutive` serves an executive on such a ctldb,
//! and `ExecutiveClient` (for any executive, in-process or a `ctlstore` process) registers the
//! usual family, tables and writer and hands out a `WriterClient`.
//!
//! The MySQL and PostgreSQL suites run when `CTLSTORE_TEST_MYSQL_URL` /
//! `CTLSTORE_TEST_POSTGRES_URL` name a server (`mysql://root@127.0.0.1:3306`,
//! `postgres://postgres@127.0.0.1:5432`); otherwise they are reported as ignored, with the
//! variable to set. Each test gets its own database, created here and dropped by
//! [`TestDb::cleanup`]. Tests that take the database down start a private [`PgCluster`] or
//! [`MariaDbInstance`] instead (gated by [`postgres_test!`] / [`mysql_test!`]). With the
//! `executive` feature, `FaultProxy` breaks the network between a client and a server on command,
//! and `LdbWatcher` checks that no reader of an LDB ever sees half of a `batch_mutations` batch.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection};

#[cfg(feature = "executive")]
mod executive;
#[cfg(feature = "executive")]
mod executive_client;
#[cfg(feature = "executive")]
mod fault_proxy;
mod galera;
mod macros;
mod mariadb_instance;
mod moto;
mod pg_cluster;
#[cfg(feature = "pki")]
pub mod pki;
mod process;
mod tansu;
#[cfg(feature = "executive")]
mod torn_batches;

#[cfg(feature = "executive")]
pub use executive::{Config as ExecutiveConfig, TestExecutive};
#[cfg(feature = "executive")]
pub use executive_client::{BENCH_SCHEMA, ExecutiveClient, SchemaDef, TableDef, WriterClient};
#[cfg(feature = "executive")]
pub use fault_proxy::{Fault, FaultProxy, FaultStats};
pub use galera::GaleraCluster;
pub use mariadb_instance::MariaDbInstance;
pub use moto::Moto;
pub use pg_cluster::PgCluster;
pub use process::{KillOnDrop, Lcg, free_port, spawn_service};
pub use tansu::TansuBroker;
#[cfg(feature = "executive")]
pub use torn_batches::{
    BATCH_TABLES, LdbWatcher, ROWS_PER_BATCH, Watched, assert_ldb_matches_ctldb, batch_mutations,
};

/// Every row `sql` returns from an SQLite connection, as typed values: how tests compare an LDB
/// (or a replayed ledger) with the ctldb, by query rather than through the code under test.
pub fn rows_of(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<ctlstore_schema::Value>> {
    use ctlstore_schema::Value;
    use rusqlite::types::ValueRef;
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Integer(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                })
            })
            .collect()
    })
    .and_then(|rows| rows.collect())
    .unwrap_or_else(|e| panic!("query {sql}: {e}"))
}

/// [`rows_of`] on the SQLite file at `path`, opened read-only.
pub fn sqlite_rows(path: &std::path::Path, sql: &str) -> Vec<Vec<ctlstore_schema::Value>> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    rows_of(&conn, sql)
}

/// The benchmark LDB shared by the reader and sidecar benchmarks (so their figures compare):
/// `bench___flags` with ctlstore's layout, key `("name", "id")`, `rows` rows of four columns,
/// checkpointed. Keys are `("flag-{i / 10}", i % 10)` for `i` in `0..rows`.
pub fn build_flags_ldb(path: &std::path::Path, rows: usize) {
    let mut ldb = ctlstore_ldb::Ldb::open(path, Default::default()).expect("open the LDB");
    ldb.apply(&[ctlstore_ledger::LedgerEntry {
        seq: 1,
        leader_ts: String::new(),
        statement: r#"CREATE TABLE bench___flags ("name" VARCHAR(191), "id" INTEGER, "enabled" INTEGER, "payload" TEXT, PRIMARY KEY("name","id"));"#.into(),
    }])
    .expect("create the table");
    let c = ldb.connection();
    c.execute_batch("BEGIN").expect("begin");
    {
        let mut insert = c
            .prepare("INSERT INTO bench___flags VALUES (?1, ?2, ?3, ?4)")
            .expect("prepare");
        for i in 0..rows {
            insert
                .execute(rusqlite::params![
                    format!("flag-{}", i / 10),
                    (i % 10) as i64,
                    (i % 2) as i64,
                    "x".repeat(40)
                ])
                .expect("insert");
        }
    }
    c.execute_batch("COMMIT").expect("commit");
    ldb.checkpoint(ctlstore_ldb::CheckpointMode::Truncate)
        .expect("checkpoint");
}

/// A ctldb backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
    Postgres,
}

impl Backend {
    /// The server URL from the environment (none for SQLite).
    pub fn server_url(self) -> Option<String> {
        let var = match self {
            Backend::Sqlite => return None,
            Backend::Mysql => "CTLSTORE_TEST_MYSQL_URL",
            Backend::Postgres => "CTLSTORE_TEST_POSTGRES_URL",
        };
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }
}

/// A fresh database for one test.
pub struct TestDb {
    pub backend: Backend,
    /// The ctldb URL to hand to the code under test.
    pub url: String,
    name: String,
    server: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "ctlstore_t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `scheme://user@host:port/anything?query` → (`scheme://user@host:port`, `?query` or "").
fn split_server(url: &str) -> (String, String) {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    (base.to_string(), query)
}

impl TestDb {
    /// Creates an empty database. Panics with a clear message when the backend's server is not
    /// configured or not reachable: a test that asked for a backend must not pass without it.
    pub async fn create(backend: Backend) -> TestDb {
        let name = unique_name();
        if backend == Backend::Sqlite {
            let dir = tempfile::tempdir().expect("create a temporary directory");
            let path = dir.path().join("ctldb.db");
            return TestDb {
                backend,
                url: format!("sqlite:{}", path.display()),
                name,
                server: None,
                _dir: Some(dir),
            };
        }
        let server = backend.server_url().unwrap_or_else(|| {
            panic!("{backend:?} test run without its server URL in the environment")
        });
        let (base, query) = split_server(&server);
        let create = format!("CREATE DATABASE {name}");
        match backend {
            Backend::Mysql => {
                let mut c = sqlx::MySqlConnection::connect(&format!("{base}/mysql"))
                    .await
                    .unwrap_or_else(|e| panic!("connect to MySQL at {base}: {e}"));
                sqlx::query(AssertSqlSafe(create))
                    .execute(&mut c)
                    .await
                    .expect("create MySQL database");
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&format!("{base}/postgres"))
                    .await
                    .unwrap_or_else(|e| panic!("connect to PostgreSQL at {base}: {e}"));
                sqlx::query(AssertSqlSafe(create))
                    .execute(&mut c)
                    .await
                    .expect("create PostgreSQL database");
            }
            Backend::Sqlite => unreachable!("handled above"),
        }
        TestDb {
            backend,
            url: format!("{base}/{name}{query}"),
            name,
            server: Some(base),
            _dir: None,
        }
    }

    /// Runs `sql` (one statement) on the database behind the code under test, on a connection
    /// of its own: how a test plays an operator or another program changing the ctldb by hand.
    /// Panics on failure.
    pub async fn execute(&self, sql: &str) {
        let statement = AssertSqlSafe(sql.to_string());
        let result = match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite:");
                match sqlx::SqliteConnection::connect(&format!("sqlite:{path}")).await {
                    Ok(mut c) => sqlx::raw_sql(statement).execute(&mut c).await.map(|_| ()),
                    Err(e) => Err(e),
                }
            }
            Backend::Mysql => match sqlx::MySqlConnection::connect(&self.url).await {
                Ok(mut c) => sqlx::raw_sql(statement).execute(&mut c).await.map(|_| ()),
                Err(e) => Err(e),
            },
            Backend::Postgres => match sqlx::PgConnection::connect(&self.url).await {
                Ok(mut c) => sqlx::raw_sql(statement).execute(&mut c).await.map(|_| ()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            panic!("{:?}: {sql}: {e}", self.backend);
        }
    }

    /// Drops the database (SQLite: the temporary directory goes with `self`).
    pub async fn cleanup(self) {
        let Some(base) = &self.server else { return };
        let drop = format!("DROP DATABASE IF EXISTS {}", self.name);
        let result = match self.backend {
            Backend::Mysql => {
                match sqlx::MySqlConnection::connect(&format!("{base}/mysql")).await {
                    Ok(mut c) => sqlx::query(AssertSqlSafe(drop))
                        .execute(&mut c)
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e),
                }
            }
            Backend::Postgres => {
                match sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
                    Ok(mut c) => {
                        let drop = format!("{drop} WITH (FORCE)");
                        sqlx::query(AssertSqlSafe(drop))
                            .execute(&mut c)
                            .await
                            .map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
            Backend::Sqlite => Ok(()),
        };
        if let Err(e) = result {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// An LDB in a temporary directory holding `statements`, applied as seqs 1, 2, ... (closed
/// again, so another process may open it). Returns the directory (keep it alive) and the
/// LDB's path as text, for command lines.
pub fn ldb_with(statements: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let mut ldb =
        ctlstore_ldb::Ldb::open(&path, ctlstore_ldb::LdbOptions::default()).expect("open");
    let entries: Vec<ctlstore_ledger::LedgerEntry> = (1..)
        .zip(statements)
        .map(|(seq, s)| ctlstore_ledger::LedgerEntry {
            seq,
            leader_ts: String::new(),
            statement: s.to_string(),
        })
        .collect();
    ldb.apply(&entries).expect("apply");
    let path = path.to_str().expect("utf-8 path").to_string();
    (dir, path)
}

/// The Go DSN (`user:pass@tcp(host:port)/db?collation=...`) for a `mysql://` URL: what ctlstore's
/// command lines take.
pub fn go_mysql_dsn(url: &str) -> String {
    let rest = url.trim_start_matches("mysql://");
    let (credentials, rest) = rest.split_once('@').unwrap_or(("root", rest));
    let (host, db) = rest.split_once('/').unwrap_or((rest, ""));
    let db = db.split('?').next().unwrap_or(db);
    format!("{credentials}@tcp({host})/{db}?collation=utf8mb4_unicode_ci")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_split() {
        assert_eq!(
            split_server("mysql://root@h:3306"),
            ("mysql://root@h:3306".into(), String::new())
        );
        assert_eq!(
            split_server("mysql://root@h:3306/db?x=1"),
            ("mysql://root@h:3306".into(), "?x=1".into())
        );
    }
}
