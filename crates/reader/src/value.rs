//! Column values as the reader returns them in a [`Row`]: typed by the column's declared type,
//! as ctlstore's reader does.

use rusqlite::types::ValueRef;

use crate::meta::TableMeta;
use crate::{ReaderError, Row, Value};

/// A result row as column → value, with `names` the statement's column names.
pub(crate) fn row_values(
    row: &rusqlite::Row<'_>,
    names: &[String],
    meta: &TableMeta,
) -> Result<Row, ReaderError> {
    let mut out = Row::new();
    for (i, name) in names.iter().enumerate() {
        out.insert(
            name.clone(),
            value_of(row.get_ref(i)?, meta.is_byte_column(name)),
        );
    }
    Ok(out)
}

/// A column value. In a byte column (`BLOB...`, `VARBINARY...`) anything reads as bytes; in any
/// other column a blob reads as text when it is UTF-8 (ctlstore writes strings containing NUL
/// as blob literals).
pub(crate) fn value_of(v: ValueRef<'_>, byte_column: bool) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(b) | ValueRef::Blob(b) if byte_column => Value::Bytes(b.to_vec()),
        ValueRef::Text(t) | ValueRef::Blob(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_string()),
            Err(_) => Value::Bytes(t.to_vec()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_declared_type() {
        assert_eq!(value_of(ValueRef::Null, false), Value::Null);
        assert_eq!(value_of(ValueRef::Integer(7), false), Value::Integer(7));
        assert_eq!(value_of(ValueRef::Real(0.5), false), Value::Real(0.5));
        assert_eq!(
            value_of(ValueRef::Blob(b"a\0b"), false),
            Value::Text("a\0b".into()),
            "a blob in a text column is text"
        );
        assert_eq!(
            value_of(ValueRef::Blob(&[0xff]), false),
            Value::Bytes(vec![0xff]),
            "unless it is not UTF-8"
        );
        assert_eq!(
            value_of(ValueRef::Text(b"ab"), true),
            Value::Bytes(b"ab".to_vec()),
            "text in a byte column is bytes"
        );
    }
}
