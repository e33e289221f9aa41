//! Reading the ledger: the entries after a sequence, in order.

use ctlstore_ledger::LedgerEntry;
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, Dialect, on_pool};

impl Ctldb {
    /// Up to `limit` ledger entries with `seq > after`, in seq order (ctlstore's reflector query).
    /// `leader_ts` comes back as `YYYY-MM-DD HH:MM:SS`, UTC, whatever the backend stores.
    pub async fn ledger_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LedgerEntry>, CtldbError> {
        let ts = match self.dialect() {
            Dialect::Sqlite => "strftime('%Y-%m-%d %H:%M:%S', leader_ts)",
            Dialect::Mysql => "CAST(DATE_FORMAT(leader_ts, '%Y-%m-%d %H:%i:%s') AS CHAR)",
            Dialect::Postgres => "to_char(leader_ts, 'YYYY-MM-DD HH24:MI:SS')",
        };
        let sql = self.sql(&format!(
            "SELECT seq, {ts}, statement FROM {} WHERE seq > ? ORDER BY seq LIMIT ?",
            self.inner.ledger_table
        ));
        Ok(on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(after)
                .bind(limit)
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| {
                    Ok(LedgerEntry {
                        seq: r.try_get(0)?,
                        leader_ts: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                        statement: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>().db()?
        }))
    }

    /// The highest seq in the ledger (0 when it is empty).
    pub async fn max_seq(&self) -> Result<i64, CtldbError> {
        let sql = format!("SELECT MAX(seq) FROM {}", self.inner.ledger_table);
        let seq: Option<i64> = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).fetch_one(p).await.db()?.try_get(0).db()?
        });
        Ok(seq.unwrap_or(0))
    }
}

impl Ctldb {
    /// Appends `statement` to the ledger as it is, with no validation: only for tests that play
    /// a compromised or foreign ctldb (hostile statements, ctlstore's own text).
    #[doc(hidden)]
    pub async fn append_raw_ledger_for_tests(&self, statement: &str) -> Result<i64, CtldbError> {
        let sql = self.sql(crate::ddl::INSERT_LEDGER);
        on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(statement).execute(p).await.db()?;
        });
        self.max_seq().await
    }
}
