//! Secondary indexes on a table (issue 18): their names, their fields, and what may be indexed.
//!
//! An index `by_email` of `family.table` is the SQL index `family___table___by_email` in the
//! ctldb and in every LDB, so the catalog of either database says which indexes a table has
//! and no other bookkeeping is needed.

use serde::Serialize;

use crate::{FieldName, FieldType, IndexName, LDB_TABLE_DELIMITER, SchemaError, Table};

/// The longest SQL index name: PostgreSQL truncates identifiers at 63 bytes (MySQL refuses
/// more than 64), so `family___table___index` must fit in 63.
pub const MAX_INDEX_IDENTIFIER: usize = 63;

/// The most fields one index may have (SQLite allows 2000, MySQL 16, PostgreSQL 32).
pub const MAX_INDEX_FIELDS: usize = 16;

/// A secondary index of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: IndexName,
    pub fields: Vec<FieldName>,
    pub unique: bool,
}

impl Index {
    /// Checks an index definition against its table: 1–16 distinct fields of the table, each of
    /// a type a primary key may have (string, integer, bytestring: every backend indexes them
    /// whole, where MySQL could only index a prefix of `text` or `binary` and PostgreSQL
    /// refuses rows too large for its index; and readers look them up with the same typed keys
    /// as primary keys); the SQL name fits every backend.
    pub fn new(
        table: &Table,
        name: IndexName,
        fields: Vec<FieldName>,
        unique: bool,
    ) -> Result<Index, SchemaError> {
        if fields.is_empty() || fields.len() > MAX_INDEX_FIELDS {
            return Err(SchemaError::IndexFields(format!(
                "an index has 1 to {MAX_INDEX_FIELDS} fields, not {}",
                fields.len()
            )));
        }
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].contains(f) {
                return Err(SchemaError::DuplicateField(f.to_string()));
            }
            let field = table
                .field(f.as_str())
                .ok_or_else(|| SchemaError::UnknownField {
                    table: table.ldb_name(),
                    field: f.to_string(),
                })?;
            if !field.field_type.index_allowed() {
                return Err(SchemaError::IndexTypeNotAllowed {
                    field: f.to_string(),
                    field_type: field.field_type,
                });
            }
        }
        let sql_name = ldb_index_name(&table.ldb_name(), &name);
        if sql_name.len() > MAX_INDEX_IDENTIFIER {
            return Err(SchemaError::IndexNameTooLong {
                sql_name,
                max: MAX_INDEX_IDENTIFIER,
            });
        }
        Ok(Index {
            name,
            fields,
            unique,
        })
    }
}

/// `family___table___index`: the index's SQL name in the ctldb and the LDB.
pub fn ldb_index_name(ldb_table: &str, index: &IndexName) -> String {
    format!("{ldb_table}{LDB_TABLE_DELIMITER}{index}")
}

/// The index name in `sql_name` when it is one of `ldb_table`'s indexes as we name them;
/// `None` for any other index (a primary key's, or one made by hand).
pub fn parse_ldb_index_name(ldb_table: &str, sql_name: &str) -> Option<IndexName> {
    let rest = sql_name.strip_prefix(ldb_table)?;
    let name = rest.strip_prefix(LDB_TABLE_DELIMITER)?;
    let parsed = IndexName::new(name).ok()?;
    (parsed.as_str() == name).then_some(parsed)
}

impl FieldType {
    /// Whether a field of this type may be part of a secondary index: the key types.
    pub fn index_allowed(self) -> bool {
        self.info().key_allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FamilyName, Field, TableName};

    fn table() -> Table {
        let field = |n: &str, t| Field {
            name: FieldName::new(n).expect("name"),
            field_type: t,
        };
        Table::new(
            FamilyName::new("fam").expect("family"),
            TableName::new("users").expect("table"),
            vec![
                field("id", FieldType::Integer),
                field("email", FieldType::String),
                field("bio", FieldType::Text),
                field("score", FieldType::Decimal),
            ],
            vec![FieldName::new("id").expect("key")],
        )
        .expect("table")
    }

    fn fields(names: &[&str]) -> Vec<FieldName> {
        names
            .iter()
            .map(|n| FieldName::new(n).expect("name"))
            .collect()
    }

    #[test]
    fn definitions_are_checked_against_the_table() {
        let t = table();
        let name = IndexName::new("by_email").expect("name");
        assert!(Index::new(&t, name.clone(), fields(&["email", "id"]), true).is_ok());
        assert!(matches!(
            Index::new(&t, name.clone(), fields(&["score"]), false),
            Err(SchemaError::IndexTypeNotAllowed { .. })
        ));
        assert!(matches!(
            Index::new(&t, name.clone(), vec![], false),
            Err(SchemaError::IndexFields(_))
        ));
        assert!(matches!(
            Index::new(&t, name.clone(), fields(&["email", "email"]), false),
            Err(SchemaError::DuplicateField(_))
        ));
        assert!(matches!(
            Index::new(&t, name.clone(), fields(&["nope"]), false),
            Err(SchemaError::UnknownField { .. })
        ));
        assert!(matches!(
            Index::new(&t, name, fields(&["bio"]), false),
            Err(SchemaError::IndexTypeNotAllowed { .. })
        ));
        let long = IndexName::new(&"x".repeat(50)).expect("a valid name");
        assert!(matches!(
            Index::new(&t, long, fields(&["email"]), false),
            Err(SchemaError::IndexNameTooLong { .. })
        ));
        assert!(IndexName::new("by__email").is_err(), "no __, like tables");
        assert!(IndexName::new("ab").is_err());
    }

    #[test]
    fn sql_names_round_trip() {
        let name = IndexName::new("by_email").expect("name");
        let sql = ldb_index_name("fam___users", &name);
        assert_eq!(sql, "fam___users___by_email");
        assert_eq!(parse_ldb_index_name("fam___users", &sql), Some(name));
        assert_eq!(
            parse_ldb_index_name("fam___users", "sqlite_autoindex_x_1"),
            None
        );
        assert_eq!(parse_ldb_index_name("fam___use", &sql), None);
    }
}
