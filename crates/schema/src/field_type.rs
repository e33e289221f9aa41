//! The six field types and, in one table, their SQL type in every dialect. Every other crate
//! reads types from [`TYPE_MAP`]; nothing else spells out `VARCHAR(191)`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Dialect;

/// A field type as named in ctlstore's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Integer,
    Decimal,
    Text,
    Binary,
    Bytestring,
}

/// One row of the type map.
#[derive(Debug, Clone, Copy)]
pub struct TypeInfo {
    pub field_type: FieldType,
    /// The name in the API (`"string"`).
    pub api_name: &'static str,
    /// Column type in the LDB and in ledger DDL (ctlstore's text exactly).
    pub sqlite: &'static str,
    /// Column type in a MySQL/MariaDB ctldb (ctlstore's text exactly).
    pub mysql: &'static str,
    /// Column type in a PostgreSQL ctldb. `bytestring` is a domain so that schema discovery can
    /// tell it from `binary` (both are `bytea` underneath).
    pub postgres: &'static str,
    /// Whether the type may be part of a primary key.
    pub key_allowed: bool,
}

/// The type map: the single source of truth for how each field type is stored.
pub const TYPE_MAP: [TypeInfo; 6] = [
    TypeInfo {
        field_type: FieldType::String,
        api_name: "string",
        sqlite: "VARCHAR(191)",
        mysql: "VARCHAR(191)",
        postgres: "VARCHAR(191)",
        key_allowed: true,
    },
    TypeInfo {
        field_type: FieldType::Integer,
        api_name: "integer",
        sqlite: "INTEGER",
        mysql: "BIGINT",
        postgres: "BIGINT",
        key_allowed: true,
    },
    TypeInfo {
        field_type: FieldType::Decimal,
        api_name: "decimal",
        sqlite: "REAL",
        mysql: "DOUBLE",
        postgres: "DOUBLE PRECISION",
        key_allowed: false,
    },
    TypeInfo {
        field_type: FieldType::Text,
        api_name: "text",
        sqlite: "TEXT",
        mysql: "MEDIUMTEXT",
        postgres: "TEXT",
        key_allowed: false,
    },
    TypeInfo {
        field_type: FieldType::Binary,
        api_name: "binary",
        sqlite: "BLOB",
        mysql: "MEDIUMBLOB",
        postgres: "BYTEA",
        key_allowed: false,
    },
    TypeInfo {
        field_type: FieldType::Bytestring,
        api_name: "bytestring",
        sqlite: "BLOB(255)",
        mysql: "VARBINARY(255)",
        postgres: "ctlstore_bytestring",
        key_allowed: true,
    },
];

/// The PostgreSQL domain behind `bytestring` (created by the ctldb migration).
pub const POSTGRES_BYTESTRING_DOMAIN: &str = "ctlstore_bytestring";

impl FieldType {
    pub const ALL: [FieldType; 6] = [
        FieldType::String,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::Text,
        FieldType::Binary,
        FieldType::Bytestring,
    ];

    pub fn info(self) -> &'static TypeInfo {
        // The map is ordered like the enum; the test below keeps it that way.
        &TYPE_MAP[self as usize]
    }

    pub fn api_name(self) -> &'static str {
        self.info().api_name
    }

    pub fn from_api_name(name: &str) -> Option<FieldType> {
        TYPE_MAP
            .iter()
            .find(|t| t.api_name == name)
            .map(|t| t.field_type)
    }

    pub fn sql_type(self, dialect: Dialect) -> &'static str {
        let info = self.info();
        match dialect {
            Dialect::Sqlite => info.sqlite,
            Dialect::Mysql => info.mysql,
            Dialect::Postgres => info.postgres,
        }
    }

    pub fn key_allowed(self) -> bool {
        self.info().key_allowed
    }

    pub fn is_bytes(self) -> bool {
        matches!(self, FieldType::Binary | FieldType::Bytestring)
    }

    /// Maps a column type read back from a database catalog to a field type. Accepts what
    /// ctlstore accepts (`_sqlTypesToFieldTypes`, case-insensitive): SQLite's declared text
    /// (`VARCHAR(191)`, `BLOB(255)`), MySQL's `information_schema.columns.data_type` (no
    /// length), PostgreSQL's `data_type`/domain name.
    pub fn from_catalog_type(catalog_type: &str) -> Option<FieldType> {
        let t = catalog_type.trim().to_ascii_lowercase();
        let field_type = match t.as_str() {
            "varchar" | "varchar(191)" | "char" | "character" | "character varying" => {
                FieldType::String
            }
            "text" | "mediumtext" | "longtext" => FieldType::Text,
            "integer" | "int" | "smallint" | "mediumint" | "bigint" => FieldType::Integer,
            "real" | "float" | "double" | "double precision" => FieldType::Decimal,
            "blob" | "mediumblob" | "longblob" | "bytea" => FieldType::Binary,
            "varbinary" | "blob(255)" | "varbinary(255)" | POSTGRES_BYTESTRING_DOMAIN => {
                FieldType::Bytestring
            }
            _ => return None,
        };
        Some(field_type)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_ordered_like_the_enum() {
        for (i, t) in FieldType::ALL.iter().enumerate() {
            assert_eq!(TYPE_MAP[i].field_type, *t);
        }
    }

    #[test]
    fn every_rendered_type_maps_back() {
        for t in FieldType::ALL {
            for d in [Dialect::Sqlite, Dialect::Postgres] {
                assert_eq!(
                    FieldType::from_catalog_type(t.sql_type(d)),
                    Some(t),
                    "{t} {d}"
                );
            }
            // MySQL's information_schema.data_type carries no length.
            let mysql = t.sql_type(Dialect::Mysql);
            let bare = mysql.split('(').next().unwrap_or(mysql);
            assert_eq!(FieldType::from_catalog_type(bare), Some(t), "{t} mysql");
            assert_eq!(FieldType::from_api_name(t.api_name()), Some(t));
        }
    }

    #[test]
    fn only_string_integer_bytestring_are_keys() {
        let keys: Vec<_> = FieldType::ALL
            .into_iter()
            .filter(|t| t.key_allowed())
            .collect();
        assert_eq!(
            keys,
            [FieldType::String, FieldType::Integer, FieldType::Bytestring]
        );
    }
}
