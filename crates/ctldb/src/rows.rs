//! Reading rows of the ctldb's copy of a table, in key order: every row (for checks and tests
//! that compare the system of record with the LDBs), one row by its key, and pages of rows by a
//! key prefix (the executive's read API, so a read after an acknowledged write sees it).
//!
//! Values always travel as bound parameters; only quoted identifiers from a validated schema are
//! spliced into the SQL. Pages use keyset pagination (the next page starts after the last key
//! seen), so a page costs the same at the end of a large table as at its start, and rows written
//! between two pages neither repeat nor shift the later pages.

use ctlstore_schema::{FamilyName, FieldType, Table, TableName, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, on_pool};

/// A page of rows, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPage {
    /// Each row's values in column order.
    pub rows: Vec<Vec<Value>>,
    /// Whether more rows follow the last one (with the same prefix).
    pub more: bool,
}

/// Which rows a page holds: those whose key starts with `prefix`, after the key `after`, at most
/// `limit` of them.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery<'a> {
    /// The leading key values, in key order; empty for the whole table.
    pub prefix: &'a [Value],
    /// The full key of the last row of the previous page.
    pub after: Option<&'a [Value]>,
    pub limit: u32,
}

fn quote(s: &str) -> String {
    let mut out = String::new();
    ctlstore_ledger::push_quoted_identifier(&mut out, s);
    out
}

/// `SELECT <every column> FROM <table>`.
fn select_all(t: &Table) -> String {
    let columns: Vec<String> = t.fields.iter().map(|f| quote(f.name.as_str())).collect();
    format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        quote(&t.ldb_name())
    )
}

/// ` ORDER BY <key columns>`.
fn order_by_key(t: &Table) -> String {
    let order: Vec<String> = t.key_fields.iter().map(|k| quote(k.as_str())).collect();
    format!(" ORDER BY {}", order.join(", "))
}

/// "After this key" over the key columns `columns`, as nested comparisons led by a `>=` on the
/// first column: `c1 >= ? AND (c1 > ? OR (c1 = ? AND c2 > ?))`. Equivalent to the row-value
/// `(c1, c2) > (?, ?)`, but every backend can use the primary key's index for the leading bound
/// (MariaDB does not for row values). Returns the SQL and, for each `?` in order, the index into
/// `columns` (and so into the key values) it binds.
fn after_condition(columns: &[String]) -> (String, Vec<usize>) {
    let Some(first) = columns.first() else {
        return ("1 = 0".into(), Vec::new());
    };
    let mut sql = String::new();
    let mut binds = Vec::new();
    let last = columns.len() - 1;
    for (i, column) in columns.iter().enumerate() {
        if i == last {
            sql.push_str(&format!("{column} > ?"));
            binds.push(i);
        } else {
            sql.push_str(&format!("({column} > ? OR ({column} = ? AND "));
            binds.extend([i, i]);
        }
    }
    sql.push_str(&"))".repeat(last));
    binds.insert(0, 0);
    (format!("{first} >= ? AND ({sql})"), binds)
}

/// Binds each of `$values` (typed [`Value`]s) to `$query` in order.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                Value::Null => query.bind(None::<i64>),
                Value::Integer(i) => query.bind(*i),
                Value::Real(f) => query.bind(*f),
                Value::Text(s) => query.bind(s.as_str()),
                Value::Bytes(b) => query.bind(b.as_slice()),
            };
        }
        query
    }};
}

/// Decodes fetched rows into values of `$types` (column order).
macro_rules! decode_rows {
    ($rows:expr, $types:expr) => {{
        let mut out = Vec::with_capacity($rows.len());
        for row in &$rows {
            let mut values = Vec::with_capacity($types.len());
            for (i, field_type) in $types.iter().enumerate() {
                let value = match field_type {
                    FieldType::Integer => {
                        row.try_get::<Option<i64>, _>(i).db()?.map(Value::Integer)
                    }
                    FieldType::Decimal => row.try_get::<Option<f64>, _>(i).db()?.map(Value::Real),
                    FieldType::String | FieldType::Text => {
                        row.try_get::<Option<String>, _>(i).db()?.map(Value::Text)
                    }
                    FieldType::Binary | FieldType::Bytestring => {
                        row.try_get::<Option<Vec<u8>>, _>(i).db()?.map(Value::Bytes)
                    }
                };
                values.push(value.unwrap_or(Value::Null));
            }
            out.push(values);
        }
        out
    }};
}

impl Ctldb {
    /// Every row of `family.table`, columns in column order, rows ordered by primary key.
    pub async fn rows(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<Vec<Vec<Value>>, CtldbError> {
        let t = self.table(family, table).await?;
        let sql = format!("{}{}", select_all(&t), order_by_key(&t));
        let types: Vec<FieldType> = t.fields.iter().map(|f| f.field_type).collect();
        Ok(on_pool!(self.pool(), p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).fetch_all(p).await.db()?;
            decode_rows!(rows, types)
        }))
    }

    /// The row of `table` whose key is `key` (values in key order, typed for the key columns),
    /// columns in column order; `None` when there is none.
    pub async fn row_by_key(
        &self,
        table: &Table,
        key: &[Value],
    ) -> Result<Option<Vec<Value>>, CtldbError> {
        if key.len() != table.key_fields.len() {
            return Err(CtldbError::Unsupported {
                field: "key".into(),
                reason: format!(
                    "the key of {}.{} has {} values, got {}",
                    table.family,
                    table.name,
                    table.key_fields.len(),
                    key.len()
                ),
            });
        }
        let conditions: Vec<String> = table
            .key_fields
            .iter()
            .map(|k| format!("{} = ?", quote(k.as_str())))
            .collect();
        let sql = self.sql(&format!(
            "{} WHERE {}",
            select_all(table),
            conditions.join(" AND ")
        ));
        let types: Vec<FieldType> = table.fields.iter().map(|f| f.field_type).collect();
        let mut rows = on_pool!(self.pool(), p => {
            let query = bind_values!(sqlx::query(AssertSqlSafe(sql.as_str())), key);
            let rows = query.fetch_all(p).await.db()?;
            decode_rows!(rows, types)
        });
        Ok(rows.pop())
    }

    /// A page of the rows of `table` (see [`PageQuery`]), in key order.
    pub async fn rows_page(
        &self,
        table: &Table,
        page: PageQuery<'_>,
    ) -> Result<RowPage, CtldbError> {
        let keys = table.key_fields.len();
        if page.prefix.len() > keys {
            return Err(CtldbError::Unsupported {
                field: "prefix".into(),
                reason: format!(
                    "the key has {keys} values, the prefix {}",
                    page.prefix.len()
                ),
            });
        }
        if page.after.is_some_and(|a| a.len() != keys) {
            return Err(CtldbError::Unsupported {
                field: "after".into(),
                reason: format!("the cursor does not hold a key of {keys} values"),
            });
        }
        let key_columns: Vec<String> = table.key_fields.iter().map(|k| quote(k.as_str())).collect();
        let mut conditions: Vec<String> = key_columns[..page.prefix.len()]
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect();
        let mut binds: Vec<&Value> = page.prefix.iter().collect();
        // Within a prefix the leading key columns are fixed, so "after" only compares the rest.
        if let Some(after) = page.after {
            let tail = &after[page.prefix.len()..];
            let (condition, order) = after_condition(&key_columns[page.prefix.len()..]);
            conditions.push(condition);
            binds.extend(order.iter().map(|&i| &tail[i]));
        }
        let mut sql = select_all(table);
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(&order_by_key(table));
        sql.push_str(" LIMIT ?");
        let sql = self.sql(&sql);
        // One more than asked, to know whether another page follows.
        let fetch = i64::from(page.limit) + 1;
        let types: Vec<FieldType> = table.fields.iter().map(|f| f.field_type).collect();
        let mut rows = on_pool!(self.pool(), p => {
            let query = bind_values!(sqlx::query(AssertSqlSafe(sql.as_str())), binds.iter().copied());
            let rows = query.bind(fetch).fetch_all(p).await.db()?;
            decode_rows!(rows, types)
        });
        let more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        Ok(RowPage { rows, more })
    }
}

#[cfg(test)]
mod tests {
    use super::after_condition;

    #[test]
    fn after_condition_nests_one_level_per_key_column() {
        let cols = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            after_condition(&cols(&["a"])),
            ("a >= ? AND (a > ?)".into(), vec![0, 0])
        );
        assert_eq!(
            after_condition(&cols(&["a", "b", "c"])),
            (
                "a >= ? AND ((a > ? OR (a = ? AND (b > ? OR (b = ? AND c > ?)))))".into(),
                vec![0, 0, 0, 1, 1, 2]
            )
        );
        assert_eq!(after_condition(&[]).0, "1 = 0");
    }
}
