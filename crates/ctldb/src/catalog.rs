//! Schema discovery. ctlstore keeps no table catalogue: a table's schema is what the database
//! catalog says (`pragma_table_info`, `information_schema`). We do the same, so tables created by
//! ctlstore are ours without any import, and cache the result in memory.

use std::sync::Arc;

use ctlstore_schema::{
    FamilyName, Field, FieldName, FieldType, Index, Table, TableName, ldb_table_name,
    parse_ldb_index_name, parse_ldb_table_name,
};
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, Dialect, on_pool};

impl Ctldb {
    /// The schema of `family.table`, from the cache or the database.
    pub async fn table(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<Arc<Table>, CtldbError> {
        let name = ldb_table_name(family, table);
        if let Some(t) = self.cached(&name) {
            return Ok(t);
        }
        self.reload_table(family, table).await
    }

    /// Reads the schema of `family.table` from the database, replacing any cached copy.
    pub async fn reload_table(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<Arc<Table>, CtldbError> {
        let name = ldb_table_name(family, table);
        let discovered = self
            .discover(family, table)
            .await?
            .ok_or_else(|| CtldbError::TableNotFound(format!("{family}.{table}")))?;
        let discovered = Arc::new(discovered);
        if let Ok(mut cache) = self.inner.schemas.write() {
            cache.insert(name, discovered.clone());
        }
        Ok(discovered)
    }

    /// Every table of `family`, ordered by name.
    pub async fn family_tables(&self, family: &FamilyName) -> Result<Vec<Arc<Table>>, CtldbError> {
        let mut tables = Vec::new();
        for (f, t) in self.all_table_names().await? {
            if &f == family {
                tables.push(self.reload_table(&f, &t).await?);
            }
        }
        Ok(tables)
    }

    /// Every ctlstore table (`family___table`) in the database, ordered by name.
    pub async fn all_table_names(&self) -> Result<Vec<(FamilyName, TableName)>, CtldbError> {
        let query = match self.dialect() {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            Dialect::Mysql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
            Dialect::Postgres => {
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
            }
        };
        let names: Vec<String> = on_pool!(self.pool(), p => {
            sqlx::query(query)
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>().db()?
        });
        let mut tables: Vec<_> = names
            .iter()
            .filter_map(|n| parse_ldb_table_name(n))
            .collect();
        tables.sort();
        Ok(tables)
    }

    /// The secondary indexes of `family.table` we made (`family___table___index`), by name,
    /// from the database's catalog (never cached: a unique index another executive made must
    /// be seen at once).
    pub async fn indexes(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<Vec<Index>, CtldbError> {
        let name = ldb_table_name(family, table);
        let query = match self.dialect() {
            Dialect::Sqlite => {
                r#"SELECT il.name, il."unique", ii.name FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii ORDER BY il.name, ii.seqno"#
            }
            Dialect::Mysql => {
                "SELECT CAST(index_name AS CHAR), CAST(1 - non_unique AS SIGNED), CAST(column_name AS CHAR) \
                 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? \
                 AND index_name <> 'PRIMARY' ORDER BY index_name, seq_in_index"
            }
            Dialect::Postgres => {
                "SELECT i.relname::text, (CASE WHEN ix.indisunique THEN 1 ELSE 0 END)::bigint, a.attname::text \
                 FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 WHERE n.nspname = current_schema() AND t.relname = ? AND NOT ix.indisprimary \
                 ORDER BY 1, k.ord"
            }
        };
        let query = self.sql(query);
        let rows: Vec<(String, i64, String)> = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(query.as_str()))
                .bind(name.as_str())
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<String, _>(2)?)))
                .collect::<Result<_, sqlx::Error>>().db()?
        });
        let mut indexes: Vec<Index> = Vec::new();
        for (sql_name, unique, column) in rows {
            let Some(index) = parse_ldb_index_name(&name, &sql_name) else {
                continue;
            };
            let field = FieldName::new(&column)?;
            match indexes.last_mut() {
                Some(last) if last.name == index => last.fields.push(field),
                _ => indexes.push(Index {
                    name: index,
                    fields: vec![field],
                    unique: unique != 0,
                }),
            }
        }
        Ok(indexes)
    }

    pub(crate) fn cached(&self, name: &str) -> Option<Arc<Table>> {
        self.inner
            .schemas
            .read()
            .ok()
            .and_then(|c| c.get(name).cloned())
    }

    pub(crate) fn forget_table(&self, name: &str) {
        if let Ok(mut cache) = self.inner.schemas.write() {
            cache.remove(name);
        }
    }

    /// Reads columns (in column order) and primary-key columns (in key order) from the catalog.
    async fn discover(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<Option<Table>, CtldbError> {
        let name = ldb_table_name(family, table);
        let (columns_sql, keys_sql) = match self.dialect() {
            Dialect::Sqlite => (
                "SELECT name, type FROM pragma_table_info(?) ORDER BY cid",
                "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
            ),
            Dialect::Mysql => (
                "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                "SELECT CAST(column_name AS CHAR) FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = ? AND index_name = 'PRIMARY' ORDER BY seq_in_index",
            ),
            Dialect::Postgres => (
                "SELECT column_name::text, COALESCE(domain_name, data_type)::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                "SELECT kcu.column_name::text FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name \
                 AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name \
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() \
                 AND tc.table_name = ? ORDER BY kcu.ordinal_position",
            ),
        };
        let (columns_sql, keys_sql) = (self.sql(columns_sql), self.sql(keys_sql));
        let (columns, keys): (Vec<(String, String)>, Vec<String>) = on_pool!(self.pool(), p => {
            let columns = sqlx::query(AssertSqlSafe(columns_sql.as_str()))
                .bind(name.as_str())
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                .collect::<Result<_, sqlx::Error>>().db()?;
            let keys = sqlx::query(AssertSqlSafe(keys_sql.as_str()))
                .bind(name.as_str())
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, sqlx::Error>>().db()?;
            (columns, keys)
        });
        if columns.is_empty() {
            return Ok(None);
        }
        let fields = columns
            .into_iter()
            .map(|(column, sql_type)| {
                let field_type = FieldType::from_catalog_type(&sql_type).ok_or_else(|| {
                    ctlstore_schema::SchemaError::UnknownType {
                        field: column.clone(),
                        type_name: sql_type,
                    }
                })?;
                Ok(Field {
                    name: FieldName::new(&column)?,
                    field_type,
                })
            })
            .collect::<Result<Vec<_>, CtldbError>>()?;
        let keys = keys
            .iter()
            .map(|k| FieldName::new(k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Table::new(
            family.clone(),
            table.clone(),
            fields,
            keys,
        )?))
    }
}
