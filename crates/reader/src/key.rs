//! Typed key values.

use ctlstore_schema::FieldType;

/// One key field's value, typed: a key of the wrong type for its column is an error, never an
/// empty answer.
///
/// ```
/// use ctlstore_reader::Key;
/// assert_eq!(Key::from(42), Key::Int(42));
/// assert_eq!(Key::from("name"), Key::Text("name".into()));
/// assert_eq!(Key::from(vec![0u8, 1]), Key::Bytes(vec![0, 1]));
/// ```
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

    /// Whether this key fits a key column of `field_type`. Text is accepted for `bytestring`
    /// keys (ctlstore converts it to bytes), UTF-8 bytes for `string` keys, and decimal text
    /// for `integer` keys (SQLite compares `'1'` with an INTEGER column as `1`, so ctlstore's
    /// readers find the row for an ID sent as a string).
    pub(crate) fn fits(&self, field_type: FieldType) -> bool {
        match (self, field_type) {
            (Key::Int(_), FieldType::Integer) => true,
            (Key::Text(s), FieldType::Integer) => s.parse::<i64>().is_ok(),
            (
                Key::Text(_),
                FieldType::String | FieldType::Text | FieldType::Bytestring | FieldType::Binary,
            ) => true,
            (Key::Bytes(b), FieldType::String | FieldType::Text) => std::str::from_utf8(b).is_ok(),
            (Key::Bytes(_), FieldType::Bytestring | FieldType::Binary) => true,
            _ => false,
        }
    }

    /// Binds this key (already checked with [`Key::fits`]) as parameter `index`, by reference.
    pub(crate) fn bind(
        &self,
        stmt: &mut rusqlite::Statement<'_>,
        index: usize,
        field_type: FieldType,
    ) -> rusqlite::Result<()> {
        match (self, field_type) {
            (Key::Int(i), _) => stmt.raw_bind_parameter(index, i),
            (Key::Text(s), FieldType::Integer) => {
                stmt.raw_bind_parameter(index, s.parse::<i64>().unwrap_or_default())
            }
            (Key::Text(s), FieldType::Bytestring | FieldType::Binary) => {
                stmt.raw_bind_parameter(index, s.as_bytes())
            }
            (Key::Text(s), _) => stmt.raw_bind_parameter(index, s.as_str()),
            (Key::Bytes(b), FieldType::String | FieldType::Text) => {
                stmt.raw_bind_parameter(index, std::str::from_utf8(b).unwrap_or_default())
            }
            (Key::Bytes(b), _) => stmt.raw_bind_parameter(index, b.as_slice()),
        }
    }
}
