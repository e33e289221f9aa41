//! The three backends behind one enum, and the `on_pool!` macro that runs one body of sqlx code
//! against whichever pool is live. The body is compiled once per backend, so every query is
//! type-checked against each driver; dialect differences are decided by `Ctldb::dialect()`.

use std::time::Duration;

use sqlx::Connection;
use sqlx::Executor;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::classify::DbResult;
use crate::dsn::PgTargets;
use crate::{CtldbError, CtldbUrl, Dialect};

/// Connection settings. The timeouts are what make a ctldb outage answer fast: with the
/// defaults, every call fails with [`crate::CtldbError::Unavailable`] within about a second
/// and a half of the database going away, and works again as soon as it is back (dead pooled
/// connections are tested and replaced on the next acquire).
#[derive(Debug, Clone)]
pub struct CtldbOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a call waits for a connection, including opening one (a refused or
    /// unreachable server is retried until then). Default 1 s.
    pub acquire_timeout: Duration,
    /// How long a mutation batch waits for its group commit before answering `Unavailable`.
    /// Default 1.5 s: above `acquire_timeout`, so an outage is reported as the connection
    /// failure it is, and far above a healthy commit.
    pub commit_timeout: Duration,
    /// SQLite only: how long a statement waits for the database's write lock. Default 5 s.
    pub busy_timeout: Duration,
    /// Create or upgrade the schema on connect. Off for a reflector reading a replica, which
    /// must not (and often cannot) write.
    pub run_migrations: bool,
    /// The ledger table read by [`crate::Ctldb::ledger_after`] (ctlstore's
    /// `-upstream-ledger-table`). Appends always go to `ctlstore_dml_ledger`.
    pub ledger_table: String,
}

impl Default for CtldbOptions {
    fn default() -> Self {
        CtldbOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(1),
            commit_timeout: Duration::from_millis(1500),
            busy_timeout: Duration::from_secs(5),
            run_migrations: true,
            ledger_table: "ctlstore_dml_ledger".into(),
        }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Mysql(MySqlPool),
    Postgres(PgPool),
}

impl Pool {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Mysql(_) => Dialect::Mysql,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// Runs `$body` with `$p` bound to the live pool, whatever its backend.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::backend::Pool::Sqlite($p) => $body,
            $crate::backend::Pool::Mysql($p) => $body,
            $crate::backend::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The MySQL session every connection runs with. `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES` are
/// what ctlstore sets (its ledger text and DDL depend on them); strict mode makes the server
/// refuse what it would otherwise silently truncate; UTC makes `CURRENT_TIMESTAMP` (the
/// ledger's `leader_ts`) the UTC that ctlstore's reflector assumes.
const MYSQL_SESSION: &str = "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'";

/// SQLite's `cache_size` for each pooled connection: negative means KiB.
const SQLITE_CACHE_SIZE: &str = "-1024";

pub(crate) async fn connect(url: &CtldbUrl, options: &CtldbOptions) -> Result<Pool, CtldbError> {
    let pool = match url {
        CtldbUrl::Sqlite(path) => {
            let connect = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit acknowledged to a writer is on disk, so it survives an OS crash
                // too (one fsync per commit in WAL mode). Nothing acknowledged is ever lost.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(options.busy_timeout)
                // Caps each connection's page cache (SQLite's default is 2 MiB), so the pool's
                // memory has a fixed ceiling (16 connections x 1 MiB) instead of creeping up as a
                // growing ledger touches new pages; the OS page cache holds the rest.
                .pragma("cache_size", SQLITE_CACHE_SIZE);
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .db()?;
            Pool::Sqlite(pool)
        }
        CtldbUrl::Mysql(connect) => {
            let connect = connect.as_ref().clone().charset("utf8mb4");
            let pool = MySqlPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(MYSQL_SESSION).await?;
                        Ok(())
                    })
                })
                .connect_with(connect)
                .await
                .db()?;
            Pool::Mysql(pool)
        }
        CtldbUrl::Postgres(targets) => {
            // Several hosts: start on the first that will do (else the first, whose error the
            // connect below reports), and follow the primary from then on.
            let connect = match choose_pg_host(targets, options.acquire_timeout).await {
                Some(host) => host,
                None => targets.hosts[0].clone(),
            };
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("SET TIME ZONE 'UTC'").await?;
                        Ok(())
                    })
                })
                .connect_with(connect.clone())
                .await
                .db()?;
            if targets.hosts.len() > 1 {
                tokio::spawn(follow_pg_primary(
                    pool.clone(),
                    targets.clone(),
                    options.acquire_timeout,
                ));
            }
            Pool::Postgres(pool)
        }
    };
    Ok(pool)
}

/// How often a pool with several PostgreSQL hosts checks that its host still takes writes.
const PG_HOST_CHECK: Duration = Duration::from_millis(500);

/// The first host that answers within `timeout` (and, for `read-write`, accepts writes).
async fn choose_pg_host(targets: &PgTargets, timeout: Duration) -> Option<PgConnectOptions> {
    for host in &targets.hosts {
        let probe = async {
            let mut conn = PgConnection::connect_with(host).await.ok()?;
            let read_only: String = sqlx::query_scalar("SHOW transaction_read_only")
                .fetch_one(&mut conn)
                .await
                .ok()?;
            let _ = conn.close().await;
            Some(read_only == "off" || !targets.read_write)
        };
        if let Ok(Some(true)) = tokio::time::timeout(timeout, probe).await {
            return Some(host.clone());
        }
    }
    None
}

/// Keeps a multi-host pool on a host that takes writes: every [`PG_HOST_CHECK`] it asks its
/// host; when that fails or the host is read-only (a standby; the old primary after a
/// failover), new connections go to the first host that will do. Connections still open to the
/// old host fail and are dropped (each is tested before use).
async fn follow_pg_primary(pool: PgPool, targets: PgTargets, timeout: Duration) {
    let mut current: Option<(String, u16)> = None;
    while !pool.is_closed() {
        tokio::time::sleep(PG_HOST_CHECK).await;
        let check = tokio::time::timeout(
            timeout,
            sqlx::query_scalar::<_, String>("SHOW transaction_read_only").fetch_one(&pool),
        )
        .await;
        let fine = matches!(&check, Ok(Ok(ro)) if ro == "off" || !targets.read_write);
        if fine {
            continue;
        }
        if let Some(host) = choose_pg_host(&targets, timeout).await {
            let name = (host.get_host().to_string(), host.get_port());
            if current.as_ref() != Some(&name) {
                tracing::warn!(host = %name.0, port = name.1, "ctldb: PostgreSQL host changed: new connections go there");
                current = Some(name);
            }
            pool.set_connect_options(host);
        }
    }
}
