//! The ctlstore data model, shared by every other crate: validated names (families, tables,
//! fields, writers), the six field types with their SQL type in each dialect, table schemas,
//! and typed values converted from JSON (with the spelling ctlstore's ledger gives them). Also
//! [`executive_base_url`], the one rule for completing an executive URL (see its module for why
//! it lives here).
//!
//! Everything here is pure: no I/O, no database, no async runtime. The rules are ctlstore's
//! (segmentio/ctlstore `pkg/schema`), so that names and types accepted here are accepted there
//! and the other way round.
//!
//! Architecture invariant: this crate depends on nothing heavier than serde.

mod dialect;
mod error;
mod executive_url;
mod field_type;
mod index;
pub mod limits;
mod names;
mod spelling;
mod table;
mod value;

/// The heartbeat's default family (ctlstore's heartbeat `-family-name`). With partial
/// replication every host follows it too, so staleness stays measurable.
pub const DEFAULT_HEARTBEAT_FAMILY: &str = "ctlstore";

pub use dialect::Dialect;
pub use error::SchemaError;
pub use executive_url::{executive_base_url, executive_base_urls};
pub use field_type::{FieldType, POSTGRES_BYTESTRING_DOMAIN, TYPE_MAP, TypeInfo};
pub use index::{
    Index, MAX_INDEX_FIELDS, MAX_INDEX_IDENTIFIER, ldb_index_name, parse_ldb_index_name,
};
pub use names::{
    FamilyName, FieldName, IndexName, LDB_TABLE_DELIMITER, NameError, NameKind, NameProblem,
    TableName, WriterName, WriterSecret, ldb_table_name, parse_ldb_table_name,
};
pub use spelling::{FieldValue, Spelling, go_float_text};
pub use table::{Field, Table, parse_fields};
pub use value::{Value, ValueError};
