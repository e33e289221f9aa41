//! Reading rows of the ctldb's copy of a table, in key order: for operators, checks and tests
//! that compare the system of record with the LDBs.

use ctlstore_schema::{FamilyName, FieldType, TableName, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::{Ctldb, CtldbError, on_pool};

impl Ctldb {
    /// Every row of `family.table`, columns in column order, rows ordered by primary key.
    pub async fn rows(
        &self,
        family: &FamilyName,
        table: &TableName,
    ) -> Result<Vec<Vec<Value>>, CtldbError> {
        let t = self.table(family, table).await?;
        let quote = |s: &str| {
            let mut out = String::new();
            ctlstore_ledger::push_quoted_identifier(&mut out, s);
            out
        };
        let columns: Vec<String> = t.fields.iter().map(|f| quote(f.name.as_str())).collect();
        let order: Vec<String> = t.key_fields.iter().map(|k| quote(k.as_str())).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            columns.join(", "),
            quote(&t.ldb_name()),
            order.join(", ")
        );
        let types: Vec<FieldType> = t.fields.iter().map(|f| f.field_type).collect();
        Ok(on_pool!(self.pool(), p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).fetch_all(p).await.db()?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut values = Vec::with_capacity(types.len());
                for (i, field_type) in types.iter().enumerate() {
                    let value = match field_type {
                        FieldType::Integer => row.try_get::<Option<i64>, _>(i).db()?.map(Value::Integer),
                        FieldType::Decimal => row.try_get::<Option<f64>, _>(i).db()?.map(Value::Real),
                        FieldType::String | FieldType::Text => row.try_get::<Option<String>, _>(i).db()?.map(Value::Text),
                        FieldType::Binary | FieldType::Bytestring => row.try_get::<Option<Vec<u8>>, _>(i).db()?.map(Value::Bytes),
                    };
                    values.push(value.unwrap_or(Value::Null));
                }
                out.push(values);
            }
            out
        }))
    }
}
