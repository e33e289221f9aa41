//! Typed key values.

use ctlstore_schema::FieldType;

/// One key field's value. Convert with `From`: `Key::from(42)`, `Key::from("name")`,
/// `Key::from(vec![0u8, 1])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Key {
    fn from(v: i64) -> Key {
        Key::Int(v)
    }
}

impl From<i32> for Key {
    fn from(v: i32) -> Key {
        Key::Int(i64::from(v))
    }
}

impl From<&str> for Key {
    fn from(v: &str) -> Key {
        Key::Text(v.to_string())
    }
}

impl From<String> for Key {
    fn from(v: String) -> Key {
        Key::Text(v)
    }
}

impl From<Vec<u8>> for Key {
    fn from(v: Vec<u8>) -> Key {
        Key::Bytes(v)
    }
}

impl From<&[u8]> for Key {
    fn from(v: &[u8]) -> Key {
        Key::Bytes(v.to_vec())
    }
}

impl Key {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Key::Int(_) => "an integer",
            Key::Text(_) => "text",
            Key::Bytes(_) => "bytes",
        }
    }

    /// The SQLite value to bind for a key column of `field_type`, or `None` when the key does
    /// not fit. Text is accepted for `bytestring` keys (ctlstore converts it to bytes).
    pub(crate) fn bind_for(&self, field_type: FieldType) -> Option<rusqlite::types::Value> {
        use rusqlite::types::Value as V;
        Some(match (self, field_type) {
            (Key::Int(i), FieldType::Integer) => V::Integer(*i),
            (Key::Text(s), FieldType::String | FieldType::Text) => V::Text(s.clone()),
            (Key::Bytes(b), FieldType::String | FieldType::Text) => {
                V::Text(String::from_utf8(b.clone()).ok()?)
            }
            (Key::Bytes(b), FieldType::Bytestring | FieldType::Binary) => V::Blob(b.clone()),
            (Key::Text(s), FieldType::Bytestring | FieldType::Binary) => {
                V::Blob(s.as_bytes().to_vec())
            }
            _ => return None,
        })
    }
}
