//! Families and schema changes. Every schema change is a ledger entry: it is appended under the
//! ledger lock in the same transaction that changes the ctldb, so reflectors see it in order with
//! the rows.
//!
//! MySQL commits implicitly on DDL, so there (as ctlstore does, PR #63) the ledger row is
//! inserted first in a transaction that holds the ledger lock, the DDL runs on another
//! connection, and the transaction commits only if the DDL succeeded. SQLite and PostgreSQL have
//! transactional DDL and do it all in one transaction. What MySQL leaves when the DDL ran but the
//! ledger row did not commit is described at [`Ctldb::append_ddl`] and in docs/durability.md.

use ctlstore_ledger as render;
use ctlstore_schema::{
    FamilyName, Field, FieldName, Index, IndexName, Table, TableName, ldb_table_name,
};
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::commit::{ATTEMPTS, aborted_pause};
use crate::ddl_intents::Effect;
use crate::error::{is_already_exists, is_unique_violation};
use crate::{Ctldb, CtldbError, Dialect, on_pool};

/// Takes the ledger lock: every ledger writer updates this one row first, so appends are
/// serialized and commit order equals sequence order (ctlstore's `locks` table).
pub(crate) const LOCK_LEDGER: &str = "UPDATE locks SET clock = clock + 1 WHERE id = 'ledger'";
pub(crate) const INSERT_LEDGER: &str = "INSERT INTO ctlstore_dml_ledger (statement) VALUES (?)";
pub(crate) const LAST_SEQ: &str = "SELECT MAX(seq) FROM ctlstore_dml_ledger";

/// Begins a transaction that holds the ledger lock. On SQLite `BEGIN IMMEDIATE` takes the
/// database write lock up front, so two writers never deadlock upgrading a read lock.
macro_rules! begin_ledger_tx {
    ($p:expr, $dialect:expr) => {{
        let mut tx = if $dialect == $crate::Dialect::Sqlite {
            $p.begin_with("BEGIN IMMEDIATE").await.db()?
        } else {
            $p.begin().await.db()?
        };
        sqlx::query($crate::ddl::LOCK_LEDGER)
            .execute(&mut *tx)
            .await
            .db()?;
        tx
    }};
}
pub(crate) use begin_ledger_tx;

impl Ctldb {
    /// Creates a family. Families gate table creation; they are not replicated.
    pub async fn create_family(&self, family: &FamilyName) -> Result<(), CtldbError> {
        let sql = self.sql("INSERT INTO families (name) VALUES (?)");
        let result = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(family.as_str()).execute(p).await.map(|_| ())
        });
        match result {
            Err(e) if is_unique_violation(&e) => Err(CtldbError::FamilyExists),
            other => Ok(other.db()?),
        }
    }

    pub async fn family_exists(&self, family: &FamilyName) -> Result<bool, CtldbError> {
        let sql = self.sql("SELECT COUNT(*) FROM families WHERE name = ?");
        let count: i64 = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(family.as_str()).fetch_one(p).await.db()?.try_get(0).db()?
        });
        Ok(count > 0)
    }

    /// All family names, ordered.
    pub async fn families(&self) -> Result<Vec<String>, CtldbError> {
        Ok(on_pool!(self.pool(), p => {
            sqlx::query("SELECT name FROM families ORDER BY name")
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>().db()?
        }))
    }

    /// Creates a table; appends its SQLite DDL to the ledger. Returns the ledger seq.
    pub async fn create_table(&self, table: &Table) -> Result<i64, CtldbError> {
        if !self.family_exists(&table.family).await? {
            return Err(CtldbError::FamilyNotFound(table.family.to_string()));
        }
        let name = table.ldb_name();
        self.forget_table(&name);
        if self.reload_table(&table.family, &table.name).await.is_ok() {
            return Err(CtldbError::TableExists);
        }
        let ledger = render::create_table(table, Dialect::Sqlite);
        let ddl = render::create_table(table, self.dialect());
        let effect = Effect::Table {
            name: &name,
            present: true,
        };
        let seq = self
            .append_ddl(&ledger, &ddl, effect)
            .await
            .map_err(|e| match e {
                e if e.driver().is_some_and(is_already_exists) => CtldbError::TableExists,
                e => e,
            });
        self.forget_table(&name);
        seq
    }

    /// Adds columns to a table, one ledger entry per column (as ctlstore). Fails before changing
    /// anything if a column already exists.
    pub async fn add_fields(
        &self,
        family: &FamilyName,
        table: &TableName,
        fields: &[Field],
    ) -> Result<i64, CtldbError> {
        if !self.family_exists(family).await? {
            return Err(CtldbError::FamilyNotFound(family.to_string()));
        }
        let current = self.reload_table(family, table).await?;
        for (i, f) in fields.iter().enumerate() {
            if current.field(f.name.as_str()).is_some()
                || fields[..i].iter().any(|g| g.name == f.name)
            {
                return Err(CtldbError::ColumnExists(f.name.to_string()));
            }
        }
        let name = current.ldb_name();
        let mut last = 0;
        for field in fields {
            let ledger = render::add_column(&name, field, Dialect::Sqlite);
            let ddl = render::add_column(&name, field, self.dialect());
            let effect = Effect::Column {
                table: &name,
                column: field.name.as_str(),
            };
            let result = self.append_ddl(&ledger, &ddl, effect).await;
            self.forget_table(&name);
            last = result.map_err(|e| match e {
                e if e.driver().is_some_and(is_already_exists) => {
                    CtldbError::ColumnExists(field.name.to_string())
                }
                e => e,
            })?;
        }
        Ok(last)
    }

    /// Drops a table (`DROP TABLE IF EXISTS` in the ledger).
    pub async fn drop_table(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<i64, CtldbError> {
        let current = self.reload_table(family, table).await?;
        let name = current.ldb_name();
        let result = self
            .append_ddl(
                &render::drop_table(&name, Dialect::Sqlite),
                &render::drop_table(&name, self.dialect()),
                Effect::Table {
                    name: &name,
                    present: false,
                },
            )
            .await;
        self.forget_table(&name);
        result
    }

    /// Creates a secondary index of a table; appends its SQLite DDL to the ledger. A unique
    /// index the table's rows already break is refused ([`CtldbError::Duplicate`]) and
    /// appends nothing.
    pub async fn create_index(
        &self,
        family: &FamilyName,
        table: &TableName,
        name: &IndexName,
        fields: Vec<FieldName>,
        unique: bool,
    ) -> Result<i64, CtldbError> {
        let current = self.reload_table(family, table).await?;
        let index = Index::new(&current, name.clone(), fields, unique)?;
        if self
            .indexes(family, table)
            .await?
            .iter()
            .any(|i| &i.name == name)
        {
            return Err(CtldbError::IndexExists(name.to_string()));
        }
        let ldb_name = current.ldb_name();
        let result = self
            .append_ddl(
                &render::create_index(&ldb_name, &index, Dialect::Sqlite),
                &render::create_index(&ldb_name, &index, self.dialect()),
                Effect::Index {
                    table: &ldb_name,
                    index: &ctlstore_schema::ldb_index_name(&ldb_name, name),
                    present: true,
                },
            )
            .await;
        self.forget_table(&ldb_name);
        result.map_err(|e| match e {
            e if e.driver().is_some_and(is_already_exists) => {
                CtldbError::IndexExists(name.to_string())
            }
            e => e,
        })
    }

    /// Drops a secondary index (`DROP INDEX IF EXISTS` in the ledger).
    pub async fn drop_index(
        &self,
        family: &FamilyName,
        table: &TableName,
        name: &IndexName,
    ) -> Result<i64, CtldbError> {
        let current = self.reload_table(family, table).await?;
        if !self
            .indexes(family, table)
            .await?
            .iter()
            .any(|i| &i.name == name)
        {
            return Err(CtldbError::IndexNotFound(format!(
                "{family}.{table}.{name}"
            )));
        }
        let ldb_name = current.ldb_name();
        let result = self
            .append_ddl(
                &render::drop_index(&ldb_name, name, Dialect::Sqlite),
                &render::drop_index(&ldb_name, name, self.dialect()),
                Effect::Index {
                    table: &ldb_name,
                    index: &ctlstore_schema::ldb_index_name(&ldb_name, name),
                    present: false,
                },
            )
            .await;
        self.forget_table(&ldb_name);
        result
    }

    /// Deletes every row of a table (`DELETE FROM family___table` in the ledger).
    pub async fn clear_table(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<i64, CtldbError> {
        let current = self.table(family, table).await?;
        let name = ldb_table_name(family, table);
        let ledger = render::clear_table(&name, Dialect::Sqlite);
        let dml = render::clear_table(&current.ldb_name(), self.dialect());
        let insert = self.sql(INSERT_LEDGER);
        let dialect = self.dialect();
        retry_aborted(|| async {
            Ok(on_pool!(self.pool(), p => {
                let mut tx = begin_ledger_tx!(p, dialect);
                sqlx::query(AssertSqlSafe(dml.as_str())).execute(&mut *tx).await.db()?;
                sqlx::query(AssertSqlSafe(insert.as_str())).bind(ledger.as_str()).execute(&mut *tx).await.db()?;
                let seq: Option<i64> = sqlx::query(LAST_SEQ).fetch_one(&mut *tx).await.db()?.try_get(0).db()?;
                // Durable once this commit returns: the rows are gone and the ledger says so.
                tx.commit().await.db()?;
                seq.unwrap_or(0)
            }))
        })
        .await
    }

    /// Appends `ledger` and runs `ddl` on the ctldb, atomically where the database allows it.
    ///
    /// It runs in a task of its own: a caller that gives up (the executive's handler timeout
    /// drops the request while an ALTER waits for a lock) does not abandon it halfway. On MySQL
    /// a DDL statement, once sent, runs to its end on the server whatever the client does; if
    /// the transaction holding its ledger row were dropped then, the ctldb would have the change
    /// and the ledger not (tests/ctldb/schema.rs shows it).
    ///
    /// MySQL, DDL done but the ledger commit failed (connection or server lost between the two,
    /// or this process killed; ctlstore has the same window): an intent recorded before the DDL
    /// (`ddl_intents.rs`) lets this call, or the next executive start, append the missing row.
    async fn append_ddl(
        &self,
        ledger: &str,
        ddl: &str,
        effect: Effect<'_>,
    ) -> Result<i64, CtldbError> {
        // MySQL: recorded first, so a stop between the DDL and its ledger row is repaired
        // (`ddl_intents.rs`).
        let intent = self.record_ddl_intent(ledger, &effect).await?;
        let this = self.clone();
        let (ledger, ddl) = (ledger.to_string(), ddl.to_string());
        tokio::spawn(async move {
            let (result, ddl_done) = this.append_ddl_to_the_end(&ledger, &ddl).await;
            match result {
                Ok(seq) => {
                    this.forget_ddl_intent(intent).await;
                    Ok(seq)
                }
                // The DDL ran, its ledger row did not commit: append it now.
                Err(e) if ddl_done => match this.recover_ddl_intents().await {
                    Ok(n) if n > 0 => this.max_seq().await,
                    _ => Err(e),
                },
                Err(e) => {
                    this.forget_ddl_intent(intent).await;
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| CtldbError::internal(format!("the schema change task failed: {e}")))?
    }

    /// [`Ctldb::append_ddl`]'s body, run again while the database aborts its transaction (a
    /// Galera certification conflict on the ledger lock). On MySQL the DDL has committed on its
    /// own by then, so a later attempt appends only the ledger row.
    /// Also says whether the DDL ran (MySQL: it commits on its own).
    async fn append_ddl_to_the_end(
        &self,
        ledger: &str,
        ddl: &str,
    ) -> (Result<i64, CtldbError>, bool) {
        let mut ddl_done = false;
        let mut attempt = 1;
        loop {
            match self.append_ddl_once(ledger, ddl, &mut ddl_done).await {
                Err(e) if e.is_aborted() && attempt < ATTEMPTS => {
                    aborted_pause(attempt).await;
                    attempt += 1;
                }
                other => return (other.map_err(|e| e.after_attempts(attempt)), ddl_done),
            }
        }
    }

    async fn append_ddl_once(
        &self,
        ledger: &str,
        ddl: &str,
        ddl_done: &mut bool,
    ) -> Result<i64, CtldbError> {
        let insert = self.sql(INSERT_LEDGER);
        let dialect = self.dialect();
        Ok(on_pool!(self.pool(), p => {
            // MySQL: the DDL's own connection is taken before the ledger lock, so writers queued
            // on the lock cannot exhaust the pool while we wait for it.
            let mut ddl_conn = if dialect == Dialect::Mysql && !*ddl_done { Some(p.acquire().await.db()?) } else { None };
            let mut tx = begin_ledger_tx!(p, dialect);
            sqlx::query(AssertSqlSafe(insert.as_str())).bind(ledger).execute(&mut *tx).await.db()?;
            if let Some(conn) = ddl_conn.as_mut() {
                // DDL would commit our transaction: run it elsewhere while we hold the lock,
                // and commit the ledger row only if it worked.
                sqlx::query(AssertSqlSafe(ddl)).execute(&mut **conn).await.db()?;
                *ddl_done = true;
            } else if dialect != Dialect::Mysql {
                sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await.db()?;
            }
            let seq: Option<i64> = sqlx::query(LAST_SEQ).fetch_one(&mut *tx).await.db()?.try_get(0).db()?;
            // Durable once this commit returns: the ledger row (and, except on MySQL, the DDL
            // with it; MySQL's DDL committed on its own when it ran).
            tx.commit().await.db()?;
            seq.unwrap_or(0)
        }))
    }
}

/// Runs `attempt` again while the database aborts its transaction (deadlock, certification
/// conflict, serialization failure): at most [`ATTEMPTS`] times, pausing between.
async fn retry_aborted<T, F, Fut>(mut attempt: F) -> Result<T, CtldbError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CtldbError>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_aborted() && n < ATTEMPTS => {
                aborted_pause(n).await;
                n += 1;
            }
            other => return other.map_err(|e| e.after_attempts(n)),
        }
    }
}
