//! Ledger retention: deleting old ledger entries, and remembering how far that went.
//!
//! ctlstore's ledger grows forever. Ours may be pruned below a *horizon* (the executive decides
//! where: `ctlstore-executive`'s retention). The horizon is recorded in
//! `ctlstore_ledger_horizon` *before* any entry is deleted, so a reader that finds entries
//! missing after reading a page and then reading the horizon always learns that it fell below
//! it: a follower is never handed a page that silently skips pruned entries. Deleting goes in
//! small seq ranges, each its own short transaction, so writers (which append at the head and
//! never touch old rows) wait at most one batch. The table is ours, created at connect on every
//! backend; ctlstore ignores it, and a ctldb without it has never been pruned.

use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, Dialect, on_pool};

/// The pause between two delete batches. SQLite has one writer, and a writer that finds the
/// database locked sleeps in growing steps (1, 2, 5, 10 ms ...): back-to-back batches kept it
/// out for the whole prune (write p99 130 ms while 300,000 entries went). A pause several times
/// a batch's length lets every waiting writer in.
const PRUNE_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

const CREATE_HORIZON: &str = "CREATE TABLE IF NOT EXISTS ctlstore_ledger_horizon (id INTEGER NOT NULL PRIMARY KEY, pruned_through BIGINT NOT NULL)";

/// What a prune did, or (dry run) would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Entries deleted (or that would be).
    pub entries: i64,
    /// The oldest seq deleted, if any was.
    pub first: Option<i64>,
    /// Every entry at or below this seq is gone.
    pub through: i64,
}

impl Ctldb {
    pub(crate) async fn create_horizon_table(&self) -> Result<(), CtldbError> {
        let seed = match self.dialect() {
            Dialect::Sqlite => {
                "INSERT OR IGNORE INTO ctlstore_ledger_horizon (id, pruned_through) VALUES (1, 0)"
            }
            Dialect::Mysql => {
                "INSERT IGNORE INTO ctlstore_ledger_horizon (id, pruned_through) VALUES (1, 0)"
            }
            Dialect::Postgres => {
                "INSERT INTO ctlstore_ledger_horizon (id, pruned_through) VALUES (1, 0) ON CONFLICT DO NOTHING"
            }
        };
        on_pool!(self.pool(), p => {
            sqlx::query(CREATE_HORIZON).execute(p).await.db()?;
            sqlx::query(seed).execute(p).await.db()?;
        });
        Ok(())
    }

    /// The seq through which the ledger has been pruned: entries at or below it may be gone.
    /// 0 when it never was (also for a ctldb without our table, such as ctlstore's own).
    pub async fn ledger_horizon(&self) -> Result<i64, CtldbError> {
        let sql = "SELECT pruned_through FROM ctlstore_ledger_horizon WHERE id = 1";
        let found: Result<Option<i64>, CtldbError> = async {
            Ok(on_pool!(self.pool(), p => {
                match sqlx::query(sql).fetch_optional(p).await.db()? {
                    Some(row) => Some(row.try_get::<i64, _>(0).db()?),
                    None => None,
                }
            }))
        }
        .await;
        match found {
            Ok(seq) => Ok(seq.unwrap_or(0)),
            Err(e) if is_missing_table(&e) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The newest seq whose entry was committed more than `age` ago (None when there is none).
    pub async fn newest_seq_older_than(
        &self,
        age: std::time::Duration,
    ) -> Result<Option<i64>, CtldbError> {
        let table = &self.inner.ledger_table;
        let secs = age.as_secs() as i64;
        Ok(match self.pool() {
            crate::backend::Pool::Sqlite(p) => {
                let sql =
                    format!("SELECT MAX(seq) FROM {table} WHERE leader_ts < datetime('now', ?)");
                sqlx::query(AssertSqlSafe(sql))
                    .bind(format!("-{secs} seconds"))
                    .fetch_one(p)
                    .await
                    .db()?
                    .try_get(0)
                    .db()?
            }
            crate::backend::Pool::Mysql(p) => {
                // Sessions run in UTC (backend.rs), as leader_ts is written.
                let sql = format!(
                    "SELECT MAX(seq) FROM {table} WHERE leader_ts < NOW() - INTERVAL ? SECOND"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(secs)
                    .fetch_one(p)
                    .await
                    .db()?
                    .try_get(0)
                    .db()?
            }
            crate::backend::Pool::Postgres(p) => {
                let sql = format!(
                    "SELECT MAX(seq) FROM {table} WHERE leader_ts < (clock_timestamp() AT TIME ZONE 'UTC') - CAST($1 AS DOUBLE PRECISION) * INTERVAL '1 second'"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(secs as f64)
                    .fetch_one(p)
                    .await
                    .db()?
                    .try_get(0)
                    .db()?
            }
        })
    }

    /// How many entries a prune through `through` would delete, and the oldest of them.
    pub async fn prune_preview(&self, through: i64) -> Result<PruneReport, CtldbError> {
        let sql = self.sql(&format!(
            "SELECT COUNT(*), MIN(seq) FROM {} WHERE seq <= ?",
            self.inner.ledger_table
        ));
        let (entries, first): (i64, Option<i64>) = on_pool!(self.pool(), p => {
            let row = sqlx::query(AssertSqlSafe(sql.as_str())).bind(through).fetch_one(p).await.db()?;
            (row.try_get(0).db()?, row.try_get(1).db()?)
        });
        Ok(PruneReport {
            entries,
            first,
            through,
        })
    }

    /// Deletes every ledger entry at or below `through`, `batch` seqs per transaction, after
    /// recording the new horizon. `progress` hears (entries deleted so far, seq reached) after
    /// each batch. The horizon never moves back: a smaller `through` than a past prune's is a
    /// no-op for the record (and finds nothing to delete).
    pub async fn prune_ledger(
        &self,
        through: i64,
        batch: i64,
        mut progress: impl FnMut(i64, i64) + Send,
    ) -> Result<PruneReport, CtldbError> {
        let batch = batch.max(1);
        let record = self.sql(
            "UPDATE ctlstore_ledger_horizon SET pruned_through = ? WHERE id = 1 AND pruned_through < ?",
        );
        on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(record.as_str())).bind(through).bind(through).execute(p).await.db()?;
        });
        let preview = self.prune_preview(through).await?;
        let Some(first) = preview.first else {
            return Ok(preview);
        };
        let delete = self.sql(&format!(
            "DELETE FROM {} WHERE seq > ? AND seq <= ?",
            self.inner.ledger_table
        ));
        let (mut low, mut deleted) = (first - 1, 0i64);
        while low < through {
            let high = low.saturating_add(batch).min(through);
            let n = on_pool!(self.pool(), p => {
                sqlx::query(AssertSqlSafe(delete.as_str())).bind(low).bind(high).execute(p).await.db()?.rows_affected()
            });
            deleted += n as i64;
            low = high;
            progress(deleted, low);
            if low < through {
                tokio::time::sleep(PRUNE_PAUSE).await;
            }
        }
        Ok(PruneReport {
            entries: deleted,
            first: Some(first),
            through,
        })
    }
}

/// Whether `e` says the horizon table does not exist (each backend words it its own way).
fn is_missing_table(e: &CtldbError) -> bool {
    let text = e.to_string();
    text.contains("ctlstore_ledger_horizon")
        && (text.contains("no such table")
            || text.contains("doesn't exist")
            || text.contains("does not exist"))
}
