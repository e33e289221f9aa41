//! Versioned schema migrations of the ctldb.
//!
//! Version 1 is ctlstore's own schema (`pkg/ctldb/ctldb.go`), written with `IF NOT EXISTS`, so
//! on a database that ctlstore initialised it changes nothing; our additions come as later
//! versions. Applied versions are recorded in `ctlstore_schema_migrations`. Migrations run under a
//! database-wide lock (an advisory lock on PostgreSQL, `GET_LOCK` on MySQL, the write lock on
//! SQLite), so executives starting together apply each version once.

use sqlx::{Acquire, AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, Dialect, on_pool};

struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static [&'static str],
    mysql: &'static [&'static str],
    postgres: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "ctlstore schema",
    sqlite: &[
        "CREATE TABLE IF NOT EXISTS families (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(191) NOT NULL UNIQUE)",
        "CREATE TABLE IF NOT EXISTS mutators (writer VARCHAR(191) NOT NULL PRIMARY KEY, secret VARCHAR(255), cookie BLOB(1024) NOT NULL, clock INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS ctlstore_dml_ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, leader_ts DATETIME DEFAULT CURRENT_TIMESTAMP, statement TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS locks (id VARCHAR(191) NOT NULL PRIMARY KEY, clock INTEGER NOT NULL DEFAULT 0)",
        "INSERT OR IGNORE INTO locks VALUES('ledger', 0)",
        "CREATE TABLE IF NOT EXISTS max_table_sizes (family_name VARCHAR(30) NOT NULL, table_name VARCHAR(50) NOT NULL, warn_size_bytes BIGINT NOT NULL DEFAULT 0, max_size_bytes BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (family_name, table_name))",
        "CREATE TABLE IF NOT EXISTS max_writer_rates (writer_name VARCHAR(50) NOT NULL, max_rows_per_minute BIGINT NOT NULL, PRIMARY KEY (writer_name))",
        "CREATE TABLE IF NOT EXISTS writer_usage (writer_name VARCHAR(50) NOT NULL, bucket BIGINT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (writer_name, bucket))",
    ],
    mysql: &[
        "ALTER DATABASE CHARACTER SET = utf8mb4 COLLATE = utf8mb4_unicode_ci",
        "CREATE TABLE IF NOT EXISTS families (id INTEGER AUTO_INCREMENT PRIMARY KEY, name VARCHAR(191) NOT NULL, UNIQUE KEY name (name))",
        "CREATE TABLE IF NOT EXISTS mutators (writer VARCHAR(191) NOT NULL PRIMARY KEY, secret VARCHAR(255) NOT NULL, cookie BLOB(1024) NOT NULL, clock BIGINT NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS ctlstore_dml_ledger (seq INTEGER AUTO_INCREMENT PRIMARY KEY, leader_ts DATETIME DEFAULT CURRENT_TIMESTAMP, statement MEDIUMTEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS locks (id VARCHAR(191) NOT NULL PRIMARY KEY, clock BIGINT NOT NULL DEFAULT 0)",
        "INSERT IGNORE INTO locks VALUES('ledger', 0)",
        "CREATE TABLE IF NOT EXISTS max_table_sizes (family_name VARCHAR(30) NOT NULL, table_name VARCHAR(50) NOT NULL, warn_size_bytes BIGINT NOT NULL DEFAULT 0, max_size_bytes BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (family_name, table_name))",
        "CREATE TABLE IF NOT EXISTS max_writer_rates (writer_name VARCHAR(50) NOT NULL, max_rows_per_minute BIGINT NOT NULL, PRIMARY KEY (writer_name))",
        "CREATE TABLE IF NOT EXISTS writer_usage (writer_name VARCHAR(50) NOT NULL, bucket BIGINT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (writer_name, bucket))",
    ],
    postgres: &[
        "CREATE TABLE IF NOT EXISTS families (id BIGSERIAL PRIMARY KEY, name VARCHAR(191) NOT NULL UNIQUE)",
        "CREATE TABLE IF NOT EXISTS mutators (writer VARCHAR(191) NOT NULL PRIMARY KEY, secret VARCHAR(255) NOT NULL, cookie BYTEA NOT NULL, clock BIGINT NOT NULL DEFAULT 0)",
        // clock_timestamp(), not now(): now() is the transaction's start, and a transaction
        // may wait for the ledger lock, which would make leader_ts run backwards.
        "CREATE TABLE IF NOT EXISTS ctlstore_dml_ledger (seq BIGSERIAL PRIMARY KEY, leader_ts TIMESTAMP NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'UTC'), statement TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS locks (id VARCHAR(191) NOT NULL PRIMARY KEY, clock BIGINT NOT NULL DEFAULT 0)",
        "INSERT INTO locks VALUES('ledger', 0) ON CONFLICT DO NOTHING",
        "CREATE TABLE IF NOT EXISTS max_table_sizes (family_name VARCHAR(30) NOT NULL, table_name VARCHAR(50) NOT NULL, warn_size_bytes BIGINT NOT NULL DEFAULT 0, max_size_bytes BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (family_name, table_name))",
        "CREATE TABLE IF NOT EXISTS max_writer_rates (writer_name VARCHAR(50) NOT NULL, max_rows_per_minute BIGINT NOT NULL, PRIMARY KEY (writer_name))",
        "CREATE TABLE IF NOT EXISTS writer_usage (writer_name VARCHAR(50) NOT NULL, bucket BIGINT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (writer_name, bucket))",
        // bytestring and binary are both bytea; the domain lets schema discovery tell them apart.
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'ctlstore_bytestring') THEN CREATE DOMAIN ctlstore_bytestring AS BYTEA CHECK (octet_length(VALUE) <= 255); END IF; END $$",
    ],
}];

/// ctlstore's MySQL schema as `ctlstore ctldb-schema` prints it: migration 1, for MySQL.
pub fn mysql_schema() -> String {
    MIGRATIONS[0]
        .mysql
        .iter()
        .map(|s| format!("{s};\n"))
        .collect()
}

/// The newest schema version this binary knows.
pub const CURRENT_VERSION: i64 = 1;

pub(crate) async fn run(db: &Ctldb) -> Result<(), CtldbError> {
    let dialect = db.dialect();
    let create_versions = "CREATE TABLE IF NOT EXISTS ctlstore_schema_migrations (version BIGINT NOT NULL PRIMARY KEY, description VARCHAR(191) NOT NULL)";
    let record = db.sql(match dialect {
        Dialect::Sqlite => "INSERT OR IGNORE INTO ctlstore_schema_migrations (version, description) VALUES (?, ?)",
        Dialect::Mysql => "INSERT IGNORE INTO ctlstore_schema_migrations (version, description) VALUES (?, ?)",
        Dialect::Postgres => "INSERT INTO ctlstore_schema_migrations (version, description) VALUES (?, ?) ON CONFLICT DO NOTHING",
    });
    on_pool!(db.pool(), p => {
        let mut conn = p.acquire().await.db()?;
        let (lock, unlock) = match dialect {
            Dialect::Sqlite => ("BEGIN IMMEDIATE", "COMMIT"),
            Dialect::Mysql => ("SELECT GET_LOCK('ctlstore_migrate', 60)", "SELECT RELEASE_LOCK('ctlstore_migrate')"),
            Dialect::Postgres => ("SELECT pg_advisory_lock(4242424242)", "SELECT pg_advisory_unlock(4242424242)"),
        };
        sqlx::query(lock).execute(&mut *conn).await.db()?;
        let result: Result<(), CtldbError> = async {
            let c = conn.acquire().await.db()?;
            sqlx::query(create_versions).execute(&mut *c).await.db()?;
            let found: Option<i64> = sqlx::query("SELECT MAX(version) FROM ctlstore_schema_migrations")
                .fetch_one(&mut *c)
                .await.db()?
                .try_get(0).db()?;
            let found = found.unwrap_or(0);
            if found > CURRENT_VERSION {
                return Err(CtldbError::SchemaTooNew { found, known: CURRENT_VERSION });
            }
            for m in MIGRATIONS.iter().filter(|m| m.version > found) {
                let statements = match dialect {
                    Dialect::Sqlite => m.sqlite,
                    Dialect::Mysql => m.mysql,
                    Dialect::Postgres => m.postgres,
                };
                for statement in statements {
                    sqlx::query(AssertSqlSafe(*statement)).execute(&mut *c).await.db()?;
                }
                sqlx::query(AssertSqlSafe(record.as_str()))
                    .bind(m.version)
                    .bind(m.description)
                    .execute(&mut *c)
                    .await.db()?;
                tracing::info!(version = m.version, description = m.description, "ctldb migrated");
            }
            Ok(())
        }
        .await;
        // Released whatever happened, so a failed migration does not wedge the next start.
        let unlock = if dialect == Dialect::Sqlite && result.is_err() { "ROLLBACK" } else { unlock };
        let released = sqlx::query(unlock).execute(&mut *conn).await;
        result?;
        released.db()?;
    });
    Ok(())
}
