//! MySQL's window between a schema change and its ledger row, closed (docs/reliability.md).
//!
//! MySQL commits DDL on its own, so an executive killed after running `CREATE TABLE` and before
//! committing the ledger row leaves the ctldb with the table and the ledger without it: writes
//! to the table are then accepted, and every host halts on them. So before the DDL runs, an
//! *intent* is recorded (`ctlstore_ddl_intents`: the ledger text, the ledger head then, and a
//! query that says whether the DDL took effect), and removed once the ledger row is committed.
//! [`Ctldb::recover_ddl_intents`] (at every connect, and right after a failed commit) settles
//! what is left, under the ledger lock: the DDL took effect and its row is not in the ledger
//! since then → append the row; otherwise drop the intent. The table is ours, created on MySQL
//! only and outside the versioned migrations (ctlstore ignores it).

use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::ddl::{INSERT_LEDGER, begin_ledger_tx};
use crate::{Ctldb, CtldbError};

const CREATE_INTENTS: &str = "CREATE TABLE IF NOT EXISTS ctlstore_ddl_intents (id BIGINT AUTO_INCREMENT PRIMARY KEY, after_seq BIGINT NOT NULL, statement MEDIUMTEXT NOT NULL, done_sql TEXT NOT NULL)";

/// What a schema change leaves in the catalog, to tell afterwards whether it ran.
pub(crate) enum Effect<'a> {
    /// The table exists (`present`) or not.
    Table {
        name: &'a str,
        present: bool,
    },
    Column {
        table: &'a str,
        column: &'a str,
    },
    Index {
        table: &'a str,
        index: &'a str,
        present: bool,
    },
}

impl Effect<'_> {
    /// A MySQL query answering 1 or more when the change took effect. The names are validated
    /// identifiers (lower-case letters, digits, `_`), so they are safe as literals.
    fn done_sql(&self) -> String {
        let count = |present: bool| if present { "COUNT(*)" } else { "1 - COUNT(*)" };
        match self {
            Effect::Table { name, present } => format!(
                "SELECT {} FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{name}'",
                count(*present)
            ),
            Effect::Column { table, column } => format!(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{table}' AND column_name = '{column}'"
            ),
            Effect::Index {
                table,
                index,
                present,
            } => format!(
                "SELECT {} FROM (SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '{table}' AND index_name = '{index}') i",
                count(*present)
            ),
        }
    }
}

impl Ctldb {
    /// Records the intent to append `ledger` and run DDL with `effect` (MySQL); its id.
    pub(crate) async fn record_ddl_intent(
        &self,
        ledger: &str,
        effect: &Effect<'_>,
    ) -> Result<Option<i64>, CtldbError> {
        let crate::backend::Pool::Mysql(p) = self.pool() else {
            return Ok(None);
        };
        let insert = format!(
            "INSERT INTO ctlstore_ddl_intents (after_seq, statement, done_sql) SELECT COALESCE(MAX(seq), 0), ?, ? FROM {}",
            self.inner.ledger_table
        );
        let done = sqlx::query(AssertSqlSafe(insert))
            .bind(ledger)
            .bind(effect.done_sql())
            .execute(p)
            .await
            .db()?;
        Ok(Some(done.last_insert_id() as i64))
    }

    /// Forgets an intent whose ledger row committed, or whose DDL never ran.
    pub(crate) async fn forget_ddl_intent(&self, id: Option<i64>) {
        if let (Some(id), crate::backend::Pool::Mysql(p)) = (id, self.pool()) {
            let _ = sqlx::query("DELETE FROM ctlstore_ddl_intents WHERE id = ?")
                .bind(id)
                .execute(p)
                .await;
        }
    }

    /// Creates the intents table when missing (MySQL; at connect: a DDL statement, which on
    /// Galera takes a cluster-wide lock, so never on a timer).
    pub(crate) async fn create_ddl_intents_table(&self) -> Result<(), CtldbError> {
        if let crate::backend::Pool::Mysql(pool) = self.pool() {
            sqlx::query(CREATE_INTENTS).execute(pool).await.db()?;
        }
        Ok(())
    }

    /// Settles every recorded intent (see the module docs); returns how many ledger rows it
    /// appended. MySQL only; elsewhere DDL and its ledger row commit together.
    pub async fn recover_ddl_intents(&self) -> Result<usize, CtldbError> {
        let dialect = self.dialect();
        let crate::backend::Pool::Mysql(pool) = self.pool() else {
            return Ok(0);
        };
        let intents: Vec<(i64, i64, String, String)> = sqlx::query(
            "SELECT id, after_seq, statement, done_sql FROM ctlstore_ddl_intents ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .db()?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<_, sqlx::Error>>()
        .db()?;
        let ledger_table = &self.inner.ledger_table;
        let in_ledger =
            format!("SELECT COUNT(*) FROM {ledger_table} WHERE seq > ? AND statement = ?");
        let insert = self.sql(INSERT_LEDGER);
        let mut appended = 0;
        for (id, after_seq, statement, done_sql) in intents {
            let p = pool;
            // Under the ledger lock: two executives recovering at once append at most once.
            let mut tx = begin_ledger_tx!(p, dialect);
            let found: i64 = sqlx::query(AssertSqlSafe(in_ledger.as_str()))
                .bind(after_seq)
                .bind(&statement)
                .fetch_one(&mut *tx)
                .await
                .db()?
                .try_get(0)
                .db()?;
            let done: i64 = sqlx::query(AssertSqlSafe(done_sql.as_str()))
                .fetch_one(&mut *tx)
                .await
                .db()?
                .try_get(0)
                .db()?;
            if found == 0 && done > 0 {
                sqlx::query(AssertSqlSafe(insert.as_str()))
                    .bind(&statement)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                tracing::warn!(
                    statement,
                    "a schema change ran without its ledger row (the executive stopped in between): appended it now"
                );
                appended += 1;
            }
            sqlx::query("DELETE FROM ctlstore_ddl_intents WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .db()?;
            tx.commit().await.db()?;
        }
        Ok(appended)
    }
}
