//! The ctldb: ctlstore's central database, the system of record for families, tables, rows,
//! writers and the ledger. One interface, three backends: embedded SQLite (the default, a file),
//! MySQL/MariaDB and PostgreSQL.
//!
//! The central guarantee lives in [`Ctldb::apply_mutations`]: a batch of row mutations is applied
//! to the ctldb's own copy of the tables, appended to `ctlstore_dml_ledger` as SQLite-dialect text
//! between `--- BEGIN` / `--- COMMIT` markers, and the writer's cookie is compared-and-set, all in
//! ONE database transaction that is rolled back whole on any failure. Every ledger append first
//! takes the ledger lock (`UPDATE locks SET clock = clock + 1 WHERE id = 'ledger'`, as ctlstore
//! does), so appends are serialized and commit order equals sequence order: a reader tailing
//! `seq > last` never sees a higher seq before a lower one commits.
//!
//! The schema of the ctldb is ctlstore's, so this crate opens a MySQL database that ctlstore
//! initialised and keeps using it; our additions come as versioned migrations.
//!
//! Architecture invariant: the only crate that talks to the central database.

mod backend;
mod catalog;
mod classify;
mod commit;
mod ddl;
mod ddl_intents;
mod dsn;
mod error;
mod go_dsn;
mod ledger;
mod limits;
mod migrate;
mod mutate;
mod retention;
mod rows;
mod writers;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use backend::CtldbOptions;
pub use ctlstore_schema::Dialect;
pub use dsn::{CtldbUrl, PgTargets, parse_ctldb_url};
pub use error::{CtldbError, DbFault};
pub use limits::{TableLimit, WriterOverride, WriterRateLimit, rows_per_minute};
pub use migrate::mysql_schema;
pub use mutate::{AppliedBatch, Mutation, MutationRequest};
pub use retention::PruneReport;
pub use rows::{PageQuery, RowPage};
pub use writers::{SecretHashScheme, initial_cookie};

use backend::Pool;
pub(crate) use backend::on_pool;
use classify::DbResult;
use ctlstore_schema::Table;
pub(crate) use ddl::begin_ledger_tx;

/// A handle on the ctldb. Cheap to clone; all clones share one connection pool and one schema
/// cache.
#[derive(Clone)]
pub struct Ctldb {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    committer: commit::Committer,
    ledger_table: String,
    /// Table schemas by `family___table`. Filled on first use, dropped on our own DDL, and
    /// refreshed when a request names a field the cached schema lacks (another executive may
    /// have added it).
    schemas: RwLock<HashMap<String, Arc<Table>>>,
    /// Writers whose secret was verified, with the SHA-256 of that secret: argon2 verification
    /// costs milliseconds, and a writer sends its secret with every request.
    verified_writers: RwLock<HashMap<String, [u8; 32]>>,
}

impl Ctldb {
    /// Opens the ctldb at `url` (see [`parse_ctldb_url`] for the accepted forms) and brings its
    /// schema up to date.
    pub async fn connect(url: &str, options: CtldbOptions) -> Result<Ctldb, CtldbError> {
        let parsed = parse_ctldb_url(url)?;
        let valid_table =
            |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_table(&options.ledger_table) {
            return Err(CtldbError::InvalidUrl(format!(
                "invalid ledger table name '{}'",
                options.ledger_table
            )));
        }
        let pool = backend::connect(&parsed, &options).await?;
        let run_migrations = options.run_migrations;
        let db = Ctldb {
            inner: Arc::new(Inner {
                committer: commit::Committer::start(pool.clone(), options.commit_timeout),
                pool,
                ledger_table: options.ledger_table,
                schemas: RwLock::new(HashMap::new()),
                verified_writers: RwLock::new(HashMap::new()),
            }),
        };
        if run_migrations {
            migrate::run(&db).await?;
            // A schema change a killed executive left without its ledger row, before anything
            // else can write to its table.
            db.create_ddl_intents_table().await?;
            db.recover_ddl_intents().await?;
            db.create_horizon_table().await?;
        }
        Ok(db)
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.pool.dialect()
    }

    /// Checks that the database answers (for health endpoints).
    pub async fn ping(&self) -> Result<(), CtldbError> {
        on_pool!(&self.inner.pool, p => {
            sqlx::query("SELECT 1").execute(p).await.db()?;
        });
        Ok(())
    }

    /// Completes if the group committer, the task every mutation batch goes through, ends (it
    /// only does by panicking): from then on every write fails, and a service should say so
    /// and stop.
    pub async fn committer_stopped(&self) {
        self.inner.committer.stopped().await
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        on_pool!(&self.inner.pool, p => p.close().await)
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Rewrites `?` placeholders for PostgreSQL (`$1`, `$2`, ...). Our own queries never contain
    /// `?` inside a literal.
    pub(crate) fn sql(&self, query: &str) -> String {
        if self.dialect() != Dialect::Postgres {
            return query.to_string();
        }
        let mut out = String::with_capacity(query.len() + 8);
        let mut n = 0;
        for c in query.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }
}
