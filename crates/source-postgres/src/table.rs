//! The shape of replicated data: tables, columns and tuple values, as both the catalog
//! queries and the pgoutput `Relation` message describe them.

/// One column of a published table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// `pg_type.oid` of the column's type.
    pub type_oid: u32,
    /// `format_type(atttypid, atttypmod)`, e.g. `character varying(20)`. From a pgoutput
    /// `Relation` message it is the bare type name from [`builtin_type_name`], or empty for
    /// types not listed there (the caller can look those up by `type_oid`).
    pub type_name: String,
    /// `atttypmod` (-1 when the type has none).
    pub type_modifier: i32,
    /// Part of the key: the primary key from the catalog, or (pgoutput) the replica identity.
    pub is_key: bool,
}

/// A published table: its columns in `attnum` order, dropped and generated columns excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `pg_class.oid`: pgoutput refers to tables by it.
    pub oid: u32,
    /// Schema (namespace) name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<Column>,
}

impl Table {
    /// `"schema"."name"`, quoted for SQL.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// One column's value in text format: the same text a `SELECT` returns in text mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A TOASTed value the update did not change; pgoutput does not resend it. The consumer
    /// keeps the value it already has.
    UnchangedToast,
    /// The value's text representation.
    Text(String),
}

impl Value {
    /// The text, if this is [`Value::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// A row: one value per column, in column order.
pub type Tuple = Vec<Value>;

/// The names of common built-in types, by OID (fixed in PostgreSQL's catalog since 7.x). The
/// one place this crate maps type OIDs to names.
pub fn builtin_type_name(oid: u32) -> Option<&'static str> {
    Some(match oid {
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        26 => "oid",
        114 => "json",
        700 => "real",
        701 => "double precision",
        1042 => "character",
        1043 => "character varying",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        1266 => "time with time zone",
        1700 => "numeric",
        2950 => "uuid",
        3802 => "jsonb",
        _ => return None,
    })
}

/// What `format_type(oid, typmod)` prints, for the built-in types [`builtin_type_name`] knows;
/// empty for others. Lets a pgoutput `Relation` describe columns the way the catalog does.
pub fn format_builtin_type(oid: u32, typmod: i32) -> String {
    let Some(name) = builtin_type_name(oid) else {
        return String::new();
    };
    // varchar, bpchar and numeric keep 4 bytes of header (VARHDRSZ) in the typmod.
    let modifier = if typmod >= 4 { Some(typmod - 4) } else { None };
    match (oid, modifier) {
        (1042, None) if typmod == -1 => "bpchar".to_owned(),
        (1042 | 1043, Some(len)) => format!("{name}({len})"),
        (1700, Some(m)) => format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff),
        (1083 | 1114 | 1184 | 1266, _) if typmod >= 0 => {
            let (base, zone) = name.split_once(' ').unwrap_or((name, ""));
            format!("{base}({typmod}) {zone}")
        }
        _ => name.to_owned(),
    }
}

/// Quotes an identifier for SQL (and for the replication grammar): always double-quoted, with
/// embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal so it means the same whatever `standard_conforming_strings` says.
pub fn quote_literal(text: &str) -> String {
    if text.contains('\\') {
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b'"), "E'a\\\\b'''");
    }

    #[test]
    fn formats_types_like_format_type() {
        assert_eq!(format_builtin_type(1043, 24), "character varying(20)");
        assert_eq!(format_builtin_type(1043, -1), "character varying");
        assert_eq!(format_builtin_type(1042, 9), "character(5)");
        assert_eq!(format_builtin_type(1042, -1), "bpchar");
        assert_eq!(
            format_builtin_type(1700, (12 << 16) + 2 + 4),
            "numeric(12,2)"
        );
        assert_eq!(format_builtin_type(1700, -1), "numeric");
        assert_eq!(format_builtin_type(1184, 3), "timestamp(3) with time zone");
        assert_eq!(format_builtin_type(1184, -1), "timestamp with time zone");
        assert_eq!(format_builtin_type(23, -1), "integer");
        assert_eq!(format_builtin_type(99999, -1), "");
    }
}
