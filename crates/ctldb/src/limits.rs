//! Limits kept in the ctldb, so every executive enforces the same budget: per-writer rate limits
//! (`max_writer_rates`, rows per minute, and usage counters in `writer_usage`, one row per writer
//! and time bucket) and per-table size limits (`max_table_sizes`). The tables are ctlstore's.

use std::collections::HashMap;

use ctlstore_schema::{FamilyName, TableName, WriterName, ldb_table_name};
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, Dialect, on_pool};

/// A writer's budget for one mutation request, checked inside the mutation transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterRateLimit {
    /// Length of a bucket, in seconds (ctlstore's `-writer-limit-period`).
    pub period_seconds: i64,
    /// Rows per bucket for writers without an override (ctlstore's `-writer-limit`).
    pub default_rows: i64,
    /// The current time, Unix seconds.
    pub now_unix: i64,
    /// Where the writer's own limit comes from.
    pub writer_override: WriterOverride,
}

/// A writer's own limit (rows per minute, from `max_writer_rates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterOverride {
    /// Read it inside the mutation transaction.
    ReadInTransaction,
    /// The caller knows it (the executive caches overrides, refreshed every minute as ctlstore
    /// does); `None` means the writer has none.
    Cached(Option<i64>),
}

impl WriterRateLimit {
    /// The bucket `now` falls in: the start of the period, as ctlstore's `now.Truncate(period)`.
    pub fn bucket(&self) -> i64 {
        let period = self.period_seconds.max(1);
        self.now_unix - self.now_unix.rem_euclid(period)
    }

    /// A per-minute override rescaled to this period, rounded half to even (ctlstore's rule).
    pub fn rows_for(&self, rows_per_minute: i64) -> i64 {
        round_half_even(rows_per_minute as f64 * self.period_seconds as f64 / 60.0)
    }
}

/// Converts `amount` rows per `period_seconds` to rows per minute, rounded half to even
/// (ctlstore's `AdjustAmount`: 2/s → 120/min, 70/min per second → 1).
pub fn rows_per_minute(amount: i64, period_seconds: f64) -> i64 {
    round_half_even(amount as f64 / (period_seconds / 60.0))
}

fn round_half_even(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && (r as i64) % 2 != 0 {
        (r - x.signum()) as i64
    } else {
        r as i64
    }
}

/// A per-table size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLimit {
    pub family: String,
    pub table: String,
    pub warn_size_bytes: i64,
    pub max_size_bytes: i64,
}

impl Ctldb {
    /// Table size overrides, ordered by family and table.
    pub async fn table_limits(&self) -> Result<Vec<TableLimit>, CtldbError> {
        Ok(on_pool!(self.pool(), p => {
            sqlx::query("SELECT family_name, table_name, warn_size_bytes, max_size_bytes FROM max_table_sizes ORDER BY family_name, table_name")
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| Ok(TableLimit { family: r.try_get(0)?, table: r.try_get(1)?, warn_size_bytes: r.try_get(2)?, max_size_bytes: r.try_get(3)? }))
                .collect::<Result<Vec<_>, sqlx::Error>>().db()?
        }))
    }

    /// Sets a table's size limits; the table must exist.
    pub async fn set_table_limit(
        &self,
        family: &FamilyName,
        table: &TableName,
        warn: i64,
        max: i64,
    ) -> Result<(), CtldbError> {
        self.reload_table(family, table).await?;
        let sql = self.sql(match self.dialect() {
            Dialect::Postgres => "INSERT INTO max_table_sizes (family_name, table_name, warn_size_bytes, max_size_bytes) VALUES (?, ?, ?, ?) \
                ON CONFLICT (family_name, table_name) DO UPDATE SET warn_size_bytes = EXCLUDED.warn_size_bytes, max_size_bytes = EXCLUDED.max_size_bytes",
            _ => "REPLACE INTO max_table_sizes (family_name, table_name, warn_size_bytes, max_size_bytes) VALUES (?, ?, ?, ?)",
        });
        on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(family.as_str()).bind(table.as_str()).bind(warn).bind(max).execute(p).await.db()?;
        });
        Ok(())
    }

    /// Removes a table's size limits. `LimitNotFound` when there were none.
    pub async fn delete_table_limit(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<(), CtldbError> {
        let sql = self.sql("DELETE FROM max_table_sizes WHERE family_name = ? AND table_name = ?");
        let deleted = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(family.as_str()).bind(table.as_str()).execute(p).await.db()?.rows_affected()
        });
        if deleted == 0 {
            return Err(CtldbError::LimitNotFound(format!(
                "could not find table limit for {}",
                ldb_table_name(family, table)
            )));
        }
        Ok(())
    }

    /// Per-writer overrides, rows per minute, ordered by writer.
    pub async fn writer_limits(&self) -> Result<Vec<(String, i64)>, CtldbError> {
        Ok(on_pool!(self.pool(), p => {
            sqlx::query("SELECT writer_name, max_rows_per_minute FROM max_writer_rates ORDER BY writer_name")
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>().db()?
        }))
    }

    /// Sets a writer's override; the writer must exist.
    pub async fn set_writer_limit(
        &self,
        writer: &WriterName,
        rows_per_minute: i64,
    ) -> Result<(), CtldbError> {
        self.cookie(writer).await.map_err(|e| match e {
            CtldbError::WriterNotFound => {
                CtldbError::LimitNotFound(format!("no writer with the name '{writer}' exists"))
            }
            e => e,
        })?;
        let sql = self.sql(match self.dialect() {
            Dialect::Postgres => "INSERT INTO max_writer_rates (writer_name, max_rows_per_minute) VALUES (?, ?) \
                ON CONFLICT (writer_name) DO UPDATE SET max_rows_per_minute = EXCLUDED.max_rows_per_minute",
            _ => "REPLACE INTO max_writer_rates (writer_name, max_rows_per_minute) VALUES (?, ?)",
        });
        on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(writer.as_str()).bind(rows_per_minute).execute(p).await.db()?;
        });
        Ok(())
    }

    /// Removes a writer's override. `LimitNotFound` when there was none.
    pub async fn delete_writer_limit(&self, writer: &WriterName) -> Result<(), CtldbError> {
        let sql = self.sql("DELETE FROM max_writer_rates WHERE writer_name = ?");
        let deleted = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(writer.as_str()).execute(p).await.db()?.rows_affected()
        });
        if deleted == 0 {
            return Err(CtldbError::LimitNotFound(format!(
                "no writer limit for the writer '{writer}' was found"
            )));
        }
        Ok(())
    }

    /// Deletes usage counters older than `before_bucket` (ctlstore keeps 24 hours).
    pub async fn delete_writer_usage_before(&self, before_bucket: i64) -> Result<u64, CtldbError> {
        let sql = self.sql("DELETE FROM writer_usage WHERE bucket < ?");
        Ok(on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(before_bucket).execute(p).await.db()?.rows_affected()
        }))
    }

    /// On-disk size in bytes of every ctlstore table, by `family___table`: MySQL's
    /// `data_length + index_length` (as ctlstore), PostgreSQL's `pg_total_relation_size`, SQLite's
    /// pages from `dbstat`.
    pub async fn table_sizes(&self) -> Result<HashMap<String, i64>, CtldbError> {
        let sql = match self.dialect() {
            Dialect::Mysql => {
                "SELECT CAST(table_name AS CHAR), CAST(data_length + index_length AS SIGNED) FROM information_schema.tables WHERE table_schema = DATABASE()"
            }
            Dialect::Postgres => {
                "SELECT c.relname::text, pg_total_relation_size(c.oid)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            }
            Dialect::Sqlite => {
                "SELECT name, CAST(SUM(pgsize) AS INTEGER) FROM dbstat GROUP BY name"
            }
        };
        let rows: Vec<(String, Option<i64>)> = on_pool!(self.pool(), p => {
            sqlx::query(sql)
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>().db()?
        });
        Ok(rows
            .into_iter()
            .filter(|(name, _)| ctlstore_schema::parse_ldb_table_name(name).is_some())
            .map(|(name, size)| (name, size.unwrap_or(0)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctlstores_adjust_amount_table() {
        assert_eq!(rows_per_minute(1, 1.0), 60);
        assert_eq!(rows_per_minute(2, 1.0), 120);
        assert_eq!(rows_per_minute(1000, 60.0), 1000);
        let five_seconds = WriterRateLimit {
            period_seconds: 5,
            default_rows: 5,
            writer_override: WriterOverride::ReadInTransaction,
            now_unix: 1000,
        };
        assert_eq!(five_seconds.rows_for(120), 10);
        assert_eq!(five_seconds.bucket(), 1000);
        let minute = WriterRateLimit {
            period_seconds: 60,
            default_rows: 5,
            writer_override: WriterOverride::ReadInTransaction,
            now_unix: 1000,
        };
        assert_eq!(minute.bucket(), 960);
        let second = WriterRateLimit {
            period_seconds: 1,
            default_rows: 1,
            writer_override: WriterOverride::ReadInTransaction,
            now_unix: 1000,
        };
        assert_eq!(second.rows_for(70), 1, "70/min is 1.1667/s");
        assert_eq!(second.rows_for(90), 2, "1.5 rounds to even");
        assert_eq!(second.rows_for(150), 2, "2.5 rounds to even");
        assert_eq!(
            WriterRateLimit {
                period_seconds: 5,
                default_rows: 1,
                writer_override: WriterOverride::ReadInTransaction,
                now_unix: 1005
            }
            .bucket(),
            1005
        );
        assert_eq!(
            WriterRateLimit {
                period_seconds: 5,
                default_rows: 1,
                writer_override: WriterOverride::ReadInTransaction,
                now_unix: 1001
            }
            .bucket(),
            1000
        );
    }
}
