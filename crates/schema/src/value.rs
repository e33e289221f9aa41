//! Typed field values and their conversion from JSON, checked against the field's type.
//!
//! ctlstore passes JSON values through Go's `interface{}` (every number a float64) and renders
//! whatever it gets. We convert into a typed [`Value`] first so that a wrong type, a NULL key or
//! an oversized value is a clear error naming the field, and integers above 2^53 keep every digit.
//! Where ctlstore's ledger spells a value differently from the literal of what the column stores
//! (a JSON number or boolean for a text column, a boolean for a number column), the
//! [`FieldValue`] carries that [`Spelling`] so the ledger can write ctlstore's text.

use base64::Engine;
use serde_json::Value as Json;

use crate::limits::{MAX_BYTESTRING_BYTES, MAX_FIELD_VALUE_BYTES, MAX_STRING_CHARS};
use crate::{Field, FieldType, FieldValue, Spelling, go_float_text};

/// A field value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// Why a JSON value does not fit a field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("field '{field}' is of type {expected}, got a JSON {got}")]
    TypeMismatch {
        field: String,
        expected: FieldType,
        got: &'static str,
    },
    #[error("field '{field}' is a key field and cannot be null")]
    NullKey { field: String },
    #[error("field '{field}' is too long: {len} {unit}, the limit is {limit}")]
    TooLong {
        field: String,
        len: usize,
        limit: usize,
        unit: &'static str,
    },
    #[error("field '{field}' must be standard base64: {reason}")]
    InvalidBase64 { field: String, reason: String },
    #[error("field '{field}' is not valid UTF-8")]
    InvalidUtf8 { field: String },
    #[error("field '{field}' must be an integer that fits in 64 bits, got {got}")]
    NotAnInteger { field: String, got: String },
    #[error("field '{field}' must be a finite number")]
    NotFinite { field: String },
}

impl ValueError {
    pub fn field(&self) -> &str {
        match self {
            ValueError::TypeMismatch { field, .. }
            | ValueError::NullKey { field }
            | ValueError::TooLong { field, .. }
            | ValueError::InvalidBase64 { field, .. }
            | ValueError::InvalidUtf8 { field }
            | ValueError::NotAnInteger { field, .. }
            | ValueError::NotFinite { field } => field,
        }
    }
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

impl FieldValue {
    /// Converts a JSON value for `field`. `is_key` forbids NULL.
    ///
    /// ctlstore accepts a number or a boolean for a `string` or `text` field and a boolean for an
    /// `integer` or `decimal` field, writes it bare into the ledger, and the column stores it in
    /// its own type: we do the same (see [`Spelling`]).
    pub fn from_json(field: &Field, json: &Json, is_key: bool) -> Result<FieldValue, ValueError> {
        let name = || field.name.as_str().to_string();
        let mismatch = || ValueError::TypeMismatch {
            field: name(),
            expected: field.field_type,
            got: json_kind(json),
        };
        if json.is_null() {
            return if is_key {
                Err(ValueError::NullKey { field: name() })
            } else {
                Ok(Value::Null.into())
            };
        }
        let finite = |n: &serde_json::Number| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| ValueError::NotFinite { field: name() })
        };
        let spelled = |value, spelling| FieldValue { value, spelling };
        let converted = match (field.field_type, json) {
            (FieldType::String | FieldType::Text, Json::String(s)) => Value::Text(s.clone()).into(),
            (FieldType::String | FieldType::Text, Json::Number(n)) => {
                let f = finite(n)?;
                // What MySQL and SQLite store for the literal in a text column (`-0` is the
                // integer 0 to both).
                let text = if f == 0.0 {
                    "0".into()
                } else {
                    go_float_text(f)
                };
                spelled(Value::Text(text), Spelling::Number(f))
            }
            (FieldType::String | FieldType::Text, Json::Bool(b)) => {
                spelled(Value::Text(u8::from(*b).to_string()), Spelling::Bool(*b))
            }
            (FieldType::Integer, Json::Number(n)) => {
                Value::Integer(integer_of(n).ok_or_else(|| ValueError::NotAnInteger {
                    field: name(),
                    got: n.to_string(),
                })?)
                .into()
            }
            (FieldType::Integer, Json::Bool(b)) => {
                spelled(Value::Integer(i64::from(*b)), Spelling::Bool(*b))
            }
            (FieldType::Decimal, Json::Number(n)) => Value::Real(finite(n)?).into(),
            (FieldType::Decimal, Json::Bool(b)) => {
                spelled(Value::Real(f64::from(u8::from(*b))), Spelling::Bool(*b))
            }
            (FieldType::Binary | FieldType::Bytestring, Json::String(s)) => Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| ValueError::InvalidBase64 {
                        field: name(),
                        reason: e.to_string(),
                    })?,
            )
            .into(),
            _ => return Err(mismatch()),
        };
        converted.value.check_size(field)?;
        Ok(converted)
    }
}

impl Value {
    /// Converts a JSON value for `field` (see [`FieldValue::from_json`]), keeping only what the
    /// column stores.
    pub fn from_json(field: &Field, json: &Json, is_key: bool) -> Result<Value, ValueError> {
        FieldValue::from_json(field, json, is_key).map(|v| v.value)
    }

    /// Builds a text value from raw bytes, refusing invalid UTF-8 (a ledger statement is text).
    pub fn text_from_bytes(field: &str, bytes: Vec<u8>) -> Result<Value, ValueError> {
        String::from_utf8(bytes)
            .map(Value::Text)
            .map_err(|_| ValueError::InvalidUtf8 {
                field: field.to_string(),
            })
    }

    /// Enforces the column's capacity, so the ctldb never truncates or rejects silently.
    pub fn check_size(&self, field: &Field) -> Result<(), ValueError> {
        let too_long = |len, limit, unit| {
            Err(ValueError::TooLong {
                field: field.name.as_str().to_string(),
                len,
                limit,
                unit,
            })
        };
        match (self, field.field_type) {
            (Value::Text(s), FieldType::String) if s.chars().count() > MAX_STRING_CHARS => {
                too_long(s.chars().count(), MAX_STRING_CHARS, "characters")
            }
            (Value::Bytes(b), FieldType::Bytestring) if b.len() > MAX_BYTESTRING_BYTES => {
                too_long(b.len(), MAX_BYTESTRING_BYTES, "bytes")
            }
            (Value::Text(s), _) if s.len() > MAX_FIELD_VALUE_BYTES => {
                too_long(s.len(), MAX_FIELD_VALUE_BYTES, "bytes")
            }
            (Value::Bytes(b), _) if b.len() > MAX_FIELD_VALUE_BYTES => {
                too_long(b.len(), MAX_FIELD_VALUE_BYTES, "bytes")
            }
            _ => Ok(()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// An integer from a JSON number: exact i64/u64 values, or floats with no fractional part
/// (Go clients marshal big integers as `1e+18`).
fn integer_of(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        return None; // above i64::MAX
    }
    let f = n.as_f64()?;
    // 2^63 is exactly representable; anything at or above it does not fit.
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        Some(f as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldName;
    use serde_json::json;

    fn field(t: FieldType) -> Field {
        Field {
            name: FieldName::new("f").expect("valid"),
            field_type: t,
        }
    }

    #[test]
    fn conversions() {
        let v = |t, j| Value::from_json(&field(t), &j, false);
        assert_eq!(
            v(FieldType::Integer, json!(9007199254740993i64)),
            Ok(Value::Integer(9007199254740993))
        );
        assert_eq!(v(FieldType::Integer, json!(1e3)), Ok(Value::Integer(1000)));
        assert!(matches!(
            v(FieldType::Integer, json!(1.5)),
            Err(ValueError::NotAnInteger { .. })
        ));
        assert!(matches!(
            v(FieldType::Integer, json!(u64::MAX)),
            Err(ValueError::NotAnInteger { .. })
        ));
        assert!(matches!(
            v(FieldType::Integer, json!("1")),
            Err(ValueError::TypeMismatch { .. })
        ));
        assert_eq!(
            v(FieldType::String, json!(42)),
            Ok(Value::Text("42".into()))
        );
        assert!(matches!(
            v(FieldType::String, json!([1])),
            Err(ValueError::TypeMismatch { .. })
        ));
        assert_eq!(
            v(FieldType::Binary, json!("3q2+7w==")),
            Ok(Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]))
        );
        assert!(matches!(
            v(FieldType::Binary, json!("!!")),
            Err(ValueError::InvalidBase64 { .. })
        ));
        assert_eq!(v(FieldType::Decimal, json!(1.25)), Ok(Value::Real(1.25)));
        assert_eq!(v(FieldType::Text, json!(null)), Ok(Value::Null));
        assert!(matches!(
            Value::from_json(&field(FieldType::String), &json!(null), true),
            Err(ValueError::NullKey { .. })
        ));
    }

    #[test]
    fn numbers_and_booleans_keep_ctlstores_spelling() {
        let v = |t, j| FieldValue::from_json(&field(t), &j, false).expect("accepted");
        let text = |s: &str| Value::Text(s.into());
        let cases = [
            (
                FieldType::String,
                json!(5),
                text("5"),
                Spelling::Number(5.0),
            ),
            (
                FieldType::Text,
                json!(5.5),
                text("5.5"),
                Spelling::Number(5.5),
            ),
            (
                FieldType::String,
                json!(1e21),
                text("1000000000000000000000"),
                Spelling::Number(1e21),
            ),
            (
                FieldType::Text,
                json!(-0.0),
                text("0"),
                Spelling::Number(-0.0),
            ),
            (
                FieldType::String,
                json!(true),
                text("1"),
                Spelling::Bool(true),
            ),
            (
                FieldType::Text,
                json!(false),
                text("0"),
                Spelling::Bool(false),
            ),
            (
                FieldType::Integer,
                json!(true),
                Value::Integer(1),
                Spelling::Bool(true),
            ),
            (
                FieldType::Decimal,
                json!(false),
                Value::Real(0.0),
                Spelling::Bool(false),
            ),
            (
                FieldType::Integer,
                json!(7),
                Value::Integer(7),
                Spelling::Stored,
            ),
            (FieldType::String, json!("5"), text("5"), Spelling::Stored),
        ];
        for (t, j, value, spelling) in cases {
            assert_eq!(v(t, j.clone()), FieldValue { value, spelling }, "{t:?} {j}");
        }
        assert!(matches!(
            FieldValue::from_json(&field(FieldType::Binary), &json!(true), false),
            Err(ValueError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn sizes() {
        let long = "é".repeat(192);
        let err = Value::from_json(&field(FieldType::String), &json!(long), false);
        assert!(
            matches!(
                err,
                Err(ValueError::TooLong {
                    len: 192,
                    limit: 191,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(
            Value::from_json(&field(FieldType::String), &json!("é".repeat(191)), false).is_ok()
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 256]);
        assert!(matches!(
            Value::from_json(&field(FieldType::Bytestring), &json!(b64), false),
            Err(ValueError::TooLong { .. })
        ));
        let big = "x".repeat(MAX_FIELD_VALUE_BYTES + 1);
        assert!(Value::from_json(&field(FieldType::Text), &json!(big), false).is_err());
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(
            Value::text_from_bytes("f", vec![0x61, 0xff]),
            Err(ValueError::InvalidUtf8 { field: "f".into() })
        );
    }
}
