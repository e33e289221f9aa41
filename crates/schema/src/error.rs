//! The schema crate's error type.

use crate::{FieldType, NameError, ValueError};

/// Why a table definition or a row does not fit the schema. Every variant names the offending
/// family, table or field so that an HTTP layer can report it as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("table must have at least one key field")]
    NoKeyFields,
    #[error("Primary key field '{0}' not specified as a field")]
    KeyNotAField(String),
    #[error("Fields of type '{field_type}' cannot be a key field (field '{field}')")]
    KeyTypeNotAllowed {
        field: String,
        field_type: FieldType,
    },
    #[error("field '{0}' is listed more than once")]
    DuplicateField(String),
    #[error("key field '{0}' is listed more than once")]
    DuplicateKeyField(String),
    #[error("Type '{type_name}' unknown (field '{field}')")]
    UnknownType { field: String, type_name: String },
    #[error("table {table} has no field '{field}'")]
    UnknownField { table: String, field: String },
    #[error("Missing field {field}")]
    MissingField { field: String },
    #[error("{0}")]
    IndexFields(String),
    #[error("Fields of type '{field_type}' cannot be indexed (field '{field}')")]
    IndexTypeNotAllowed {
        field: String,
        field_type: FieldType,
    },
    #[error("index name {sql_name} is longer than {max} characters: choose a shorter index name")]
    IndexNameTooLong { sql_name: String, max: usize },
}

impl SchemaError {
    /// The name of the field (or name kind) the error is about, for error bodies.
    pub fn field(&self) -> Option<&str> {
        match self {
            SchemaError::Name(e) => Some(e.kind.as_str()),
            SchemaError::Value(e) => Some(e.field()),
            SchemaError::NoKeyFields => Some("keyFields"),
            SchemaError::KeyNotAField(f)
            | SchemaError::DuplicateField(f)
            | SchemaError::DuplicateKeyField(f)
            | SchemaError::MissingField { field: f }
            | SchemaError::UnknownField { field: f, .. }
            | SchemaError::UnknownType { field: f, .. }
            | SchemaError::KeyTypeNotAllowed { field: f, .. }
            | SchemaError::IndexTypeNotAllowed { field: f, .. } => Some(f),
            SchemaError::IndexFields(_) => Some("fields"),
            SchemaError::IndexNameTooLong { .. } => Some("name"),
        }
    }
}
