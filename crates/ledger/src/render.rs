//! Statements: DDL and DML in ctlstore's exact text.
//!
//! The ledger always gets [`ctlstore_schema::Dialect::Sqlite`] text. DDL can also be rendered for a
//! MySQL ctldb (ctlstore's own form: the same text with MySQL types, which works because the
//! session runs with `ANSI_QUOTES`) and for PostgreSQL (table name quoted, no trailing `;`).

use ctlstore_schema::limits::MAX_DML_BYTES;
use ctlstore_schema::{Dialect, Field, Index, IndexName, Table, ldb_index_name};

use crate::literal::{Literal, push_quoted_identifier};

/// `CREATE TABLE family___table ("f1" VARCHAR(191), ..., PRIMARY KEY("f1"));`
pub fn create_table(table: &Table, dialect: Dialect) -> String {
    let mut s = String::from("CREATE TABLE ");
    push_table_name(&mut s, &table.ldb_name(), dialect);
    s.push_str(" (");
    for field in &table.fields {
        push_quoted_identifier(&mut s, field.name.as_str());
        s.push(' ');
        s.push_str(field.field_type.sql_type(dialect));
        s.push_str(", ");
    }
    s.push_str("PRIMARY KEY(");
    for (i, key) in table.key_fields.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_quoted_identifier(&mut s, key.as_str());
    }
    s.push(')');
    s.push(')');
    if dialect != Dialect::Postgres {
        s.push(';');
    }
    s
}

/// `ALTER TABLE family___table ADD COLUMN "f" TYPE`
pub fn add_column(ldb_name: &str, field: &Field, dialect: Dialect) -> String {
    let mut s = String::from("ALTER TABLE ");
    push_table_name(&mut s, ldb_name, dialect);
    s.push_str(" ADD COLUMN ");
    push_quoted_identifier(&mut s, field.name.as_str());
    s.push(' ');
    s.push_str(field.field_type.sql_type(dialect));
    s
}

/// `DROP TABLE IF EXISTS family___table`
pub fn drop_table(ldb_name: &str, dialect: Dialect) -> String {
    let mut s = String::from("DROP TABLE IF EXISTS ");
    push_table_name(&mut s, ldb_name, dialect);
    s
}

/// `CREATE [UNIQUE] INDEX family___table___index ON family___table ("f1","f2")` (issue 18's
/// secondary indexes; ctlstore's reflector applies it like any DDL).
pub fn create_index(ldb_name: &str, index: &Index, dialect: Dialect) -> String {
    let mut s = String::from(if index.unique {
        "CREATE UNIQUE INDEX "
    } else {
        "CREATE INDEX "
    });
    push_table_name(&mut s, &ldb_index_name(ldb_name, &index.name), dialect);
    s.push_str(" ON ");
    push_table_name(&mut s, ldb_name, dialect);
    s.push_str(" (");
    for (i, field) in index.fields.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_quoted_identifier(&mut s, field.as_str());
    }
    s.push(')');
    s
}

/// `DROP INDEX IF EXISTS family___table___index` (MySQL: `DROP INDEX ... ON family___table`,
/// which has no `IF EXISTS` before MariaDB 10.1.4 and not at all in MySQL 8).
pub fn drop_index(ldb_name: &str, index: &IndexName, dialect: Dialect) -> String {
    let sql_name = ldb_index_name(ldb_name, index);
    let mut s = String::new();
    match dialect {
        Dialect::Mysql => {
            s.push_str("DROP INDEX ");
            push_table_name(&mut s, &sql_name, dialect);
            s.push_str(" ON ");
            push_table_name(&mut s, ldb_name, dialect);
        }
        Dialect::Sqlite | Dialect::Postgres => {
            s.push_str("DROP INDEX IF EXISTS ");
            push_table_name(&mut s, &sql_name, dialect);
        }
    }
    s
}

/// `DELETE FROM family___table` (ctlstore's "clear rows").
pub fn clear_table(ldb_name: &str, dialect: Dialect) -> String {
    let mut s = String::from("DELETE FROM ");
    push_table_name(&mut s, ldb_name, dialect);
    s
}

/// `REPLACE INTO family___table ("c1","c2") VALUES(v1,v2)`: `row` holds every column of
/// `table`, in column order.
pub fn upsert_row<V: Literal>(table: &Table, row: &[V]) -> String {
    debug_assert_eq!(row.len(), table.fields.len());
    let mut s = String::from("REPLACE INTO ");
    s.push_str(&table.ldb_name());
    s.push_str(" (");
    for (i, field) in table.fields.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_quoted_identifier(&mut s, field.name.as_str());
    }
    s.push_str(") VALUES(");
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        value.push_literal_to(&mut s);
    }
    s.push(')');
    s
}

/// `DELETE FROM family___table WHERE "k1" = v1 AND "k2" = v2`: `key` in primary-key order.
pub fn delete_row<V: Literal>(table: &Table, key: &[V]) -> String {
    debug_assert_eq!(key.len(), table.key_fields.len());
    let mut s = String::from("DELETE FROM ");
    s.push_str(&table.ldb_name());
    s.push_str(" WHERE ");
    for (i, (name, value)) in table.key_fields.iter().zip(key).enumerate() {
        if i > 0 {
            s.push_str(" AND ");
        }
        push_quoted_identifier(&mut s, name.as_str());
        s.push_str(" = ");
        value.push_literal_to(&mut s);
    }
    s
}

/// Whether a rendered statement exceeds ctlstore's 768 KiB DML limit.
pub fn statement_too_large(statement: &str) -> bool {
    statement.len() > MAX_DML_BYTES
}

fn push_table_name(s: &mut String, ldb_name: &str, dialect: Dialect) {
    match dialect {
        // ctlstore writes the table name bare; ctlstore's reflector and ours both accept it.
        Dialect::Sqlite | Dialect::Mysql => s.push_str(ldb_name),
        Dialect::Postgres => push_quoted_identifier(s, ldb_name),
    }
}
