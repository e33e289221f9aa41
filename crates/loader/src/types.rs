//! The type mapping: which ctlstore type a source column lands in, and how each value is
//! converted. The table in docs/loader.md ("Types") is this file in words; keep them together.
//!
//! Nothing is converted lossily without saying so: a value that does not fit its ctlstore type
//! (not a 64-bit integer, NaN, a key string over 191 characters) is an error that stops the
//! loader with the row's key, never a skipped row.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ctlstore_schema::FieldType;
use serde_json::Value as Json;

use crate::change::{Raw, SourceColumn, ValueKind};

/// The longest `string` (and `string` key) ctlstore stores: MySQL `VARCHAR(191)`.
pub const MAX_STRING_CHARS: usize = 191;

/// The ctlstore type a column lands in unless the configuration overrides it.
pub fn default_field_type(column: &SourceColumn, is_key: bool) -> FieldType {
    match column.kind {
        ValueKind::Integer | ValueKind::Boolean => FieldType::Integer,
        ValueKind::Float | ValueKind::ConnectDecimal { .. } => FieldType::Decimal,
        ValueKind::Bytes if is_key => FieldType::Bytestring,
        ValueKind::Bytes => FieldType::Binary,
        ValueKind::Text | ValueKind::Unknown if is_key => FieldType::String,
        ValueKind::Text => match column.max_chars {
            Some(n) if n as usize <= MAX_STRING_CHARS => FieldType::String,
            _ => FieldType::Text,
        },
        ValueKind::Json | ValueKind::Unknown => FieldType::Text,
    }
}

/// Whether ctlstore lets a field of this type be part of a key.
pub fn key_allowed(field_type: FieldType) -> bool {
    ctlstore_schema::TYPE_MAP
        .iter()
        .any(|t| t.field_type == field_type && t.key_allowed)
}

/// A source value as the JSON the executive takes for a field of type `target`. `Unchanged`
/// must be resolved by the caller (it needs the stored row).
pub fn convert(raw: &Raw, kind: ValueKind, target: FieldType) -> Result<Json, String> {
    match raw {
        Raw::Null => Ok(Json::Null),
        Raw::Unchanged => Err("an unchanged TOAST value was not resolved".to_string()),
        Raw::Text(text) => from_text(text, kind, target),
        Raw::Json(json) => from_json(json, kind, target),
    }
}

fn from_text(text: &str, kind: ValueKind, target: FieldType) -> Result<Json, String> {
    match target {
        FieldType::Integer => match (kind, text) {
            (ValueKind::Boolean, "t" | "true") => Ok(Json::from(1)),
            (ValueKind::Boolean, "f" | "false") => Ok(Json::from(0)),
            _ => text
                .parse::<i64>()
                .map(Json::from)
                .map_err(|_| format!("'{}' is not a 64-bit integer", clip(text))),
        },
        FieldType::Decimal => decimal(text),
        FieldType::String | FieldType::Text => Ok(Json::String(text.to_string())),
        FieldType::Binary | FieldType::Bytestring => {
            let bytes = match kind {
                ValueKind::Bytes => bytea_hex(text)?,
                _ => text.as_bytes().to_vec(),
            };
            Ok(Json::String(STANDARD.encode(bytes)))
        }
    }
}

fn from_json(json: &Json, kind: ValueKind, target: FieldType) -> Result<Json, String> {
    if json.is_null() {
        return Ok(Json::Null);
    }
    match target {
        FieldType::Integer => match json {
            Json::Bool(b) => Ok(Json::from(i64::from(*b))),
            Json::Number(n) => n
                .as_i64()
                .map(Json::from)
                .ok_or_else(|| format!("{n} is not a 64-bit integer")),
            Json::String(s) => from_text(s, kind, target),
            other => Err(format!("{} is not an integer", clip(&other.to_string()))),
        },
        FieldType::Decimal => match (json, kind) {
            (Json::String(s), ValueKind::ConnectDecimal { scale }) => connect_decimal(s, scale),
            (Json::Number(n), _) => n
                .as_f64()
                .map(Json::from)
                .ok_or_else(|| format!("{n} is not a number")),
            (Json::String(s), _) => decimal(s),
            (other, _) => Err(format!("{} is not a number", clip(&other.to_string()))),
        },
        FieldType::String | FieldType::Text => Ok(Json::String(match json {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })),
        FieldType::Binary | FieldType::Bytestring => match (json, kind) {
            // Debezium's JSON converter writes bytes as standard base64 already; decoding
            // checks it, so a bad value stops here rather than at the executive.
            (Json::String(s), ValueKind::Bytes) => STANDARD
                .decode(s)
                .map(|b| Json::String(STANDARD.encode(b)))
                .map_err(|e| format!("'{}' is not base64: {e}", clip(s))),
            (Json::String(s), _) => Ok(Json::String(STANDARD.encode(s.as_bytes()))),
            (other, _) => Ok(Json::String(STANDARD.encode(other.to_string()))),
        },
    }
}

fn decimal(text: &str) -> Result<Json, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{}' is not a number", clip(text)))?;
    finite(value, text)
}

fn finite(value: f64, text: &str) -> Result<Json, String> {
    serde_json::Number::from_f64(value)
        .map(Json::Number)
        .ok_or_else(|| {
            format!(
                "'{}' has no decimal value in ctlstore (NaN or infinite)",
                clip(text)
            )
        })
}

/// Kafka Connect `Decimal`: base64 of the two's-complement big-endian unscaled value.
fn connect_decimal(text: &str, scale: i32) -> Result<Json, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| format!("'{}' is not a Connect Decimal: {e}", clip(text)))?;
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(format!(
            "'{}' is not a Connect Decimal of at most 16 bytes",
            clip(text)
        ));
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut unscaled: i128 = if negative { -1 } else { 0 };
    for b in bytes {
        unscaled = (unscaled << 8) | i128::from(b);
    }
    let value = unscaled as f64 / 10f64.powi(scale);
    finite(value, text)
}

/// PostgreSQL's `bytea` text output (`\x0a0b`, the default hex format).
fn bytea_hex(text: &str) -> Result<Vec<u8>, String> {
    let hex = text.strip_prefix("\\x").ok_or_else(|| {
        format!(
            "'{}' is not bytea hex output (bytea_output must be hex)",
            clip(text)
        )
    })?;
    if hex.len() % 2 != 0 {
        return Err(format!("'{}' has an odd number of hex digits", clip(text)));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .map_err(|_| format!("'{}' is not hex", clip(text)))
        })
        .collect()
}

/// Long values are cut in messages.
fn clip(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The PostgreSQL type (by OID) → value kind and, for bounded text, its length.
pub fn postgres_kind(type_oid: u32, type_modifier: i32) -> (ValueKind, Option<u32>) {
    // OIDs from pg_type.dat; they are fixed for built-in types.
    match type_oid {
        16 => (ValueKind::Boolean, None),
        20 | 21 | 23 | 26 => (ValueKind::Integer, None),
        700 | 701 | 1700 => (ValueKind::Float, None),
        17 => (ValueKind::Bytes, None),
        // varchar(n) and char(n): the modifier is n + 4 (-1 when unbounded).
        1042 | 1043 => (
            ValueKind::Text,
            (type_modifier >= 4).then(|| (type_modifier - 4) as u32),
        ),
        // name is at most 63 bytes; uuid is 36 characters.
        19 => (ValueKind::Text, Some(63)),
        2950 => (ValueKind::Text, Some(36)),
        // Everything else (text, json, dates, times, arrays, enums, ...) by its text output.
        _ => (ValueKind::Text, None),
    }
}

/// A Debezium schema field (`{"type": "int32", "name": "...", "parameters": {...}}`) → kind.
pub fn debezium_kind(field: &Json) -> (ValueKind, String) {
    let ty = field.get("type").and_then(Json::as_str).unwrap_or("");
    let name = field.get("name").and_then(Json::as_str);
    let type_name = name.unwrap_or(ty).to_string();
    let kind = match (ty, name) {
        ("bytes", Some("org.apache.kafka.connect.data.Decimal")) => {
            let scale = field
                .get("parameters")
                .and_then(|p| p.get("scale"))
                .and_then(|s| match s {
                    Json::String(s) => s.parse().ok(),
                    Json::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
                    _ => None,
                })
                .unwrap_or(0);
            ValueKind::ConnectDecimal { scale }
        }
        ("int8" | "int16" | "int32" | "int64", _) => ValueKind::Integer,
        ("float" | "float32" | "float64" | "double", _) => ValueKind::Float,
        ("boolean", _) => ValueKind::Boolean,
        ("bytes", _) => ValueKind::Bytes,
        ("string", _) => ValueKind::Text,
        _ => ValueKind::Json,
    };
    (kind, type_name)
}

/// A schemaless JSON value → kind (Debezium without the `schema` block).
pub fn inferred_kind(value: &Json) -> ValueKind {
    match value {
        Json::Null => ValueKind::Unknown,
        Json::Bool(_) => ValueKind::Boolean,
        Json::Number(n) if n.is_i64() || n.is_u64() => ValueKind::Integer,
        Json::Number(_) => ValueKind::Float,
        Json::String(_) => ValueKind::Text,
        Json::Array(_) | Json::Object(_) => ValueKind::Json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> Raw {
        Raw::Text(s.to_string())
    }

    #[test]
    fn postgres_text_converts_per_type() {
        let c = |raw: Raw, kind, target| convert(&raw, kind, target);
        assert_eq!(
            c(text("t"), ValueKind::Boolean, FieldType::Integer),
            Ok(json!(1))
        );
        assert_eq!(
            c(text("-42"), ValueKind::Integer, FieldType::Integer),
            Ok(json!(-42))
        );
        assert_eq!(
            c(text("1.5"), ValueKind::Float, FieldType::Decimal),
            Ok(json!(1.5))
        );
        assert!(c(text("NaN"), ValueKind::Float, FieldType::Decimal).is_err());
        assert_eq!(
            c(text("\\x00ff"), ValueKind::Bytes, FieldType::Binary),
            Ok(json!("AP8="))
        );
        assert_eq!(
            c(text("é"), ValueKind::Text, FieldType::Text),
            Ok(json!("é"))
        );
        assert_eq!(
            c(Raw::Null, ValueKind::Text, FieldType::Text),
            Ok(Json::Null)
        );
        assert!(
            c(
                text("12345678901234567890"),
                ValueKind::Integer,
                FieldType::Integer
            )
            .is_err()
        );
    }

    #[test]
    fn debezium_json_converts_per_type() {
        let c = |v: Json, kind, target| convert(&Raw::Json(v), kind, target);
        assert_eq!(
            c(json!(true), ValueKind::Boolean, FieldType::Integer),
            Ok(json!(1))
        );
        assert_eq!(
            c(json!("AP8="), ValueKind::Bytes, FieldType::Binary),
            Ok(json!("AP8="))
        );
        assert!(c(json!("%%"), ValueKind::Bytes, FieldType::Binary).is_err());
        // 12345 with scale 2 is 123.45; -1 (0xff) with scale 1 is -0.1.
        assert_eq!(
            c(
                json!(STANDARD.encode([0x30, 0x39])),
                ValueKind::ConnectDecimal { scale: 2 },
                FieldType::Decimal
            ),
            Ok(json!(123.45))
        );
        assert_eq!(
            c(
                json!("/w=="),
                ValueKind::ConnectDecimal { scale: 1 },
                FieldType::Decimal
            ),
            Ok(json!(-0.1))
        );
        assert_eq!(
            c(json!({"a": 1}), ValueKind::Json, FieldType::Text),
            Ok(json!("{\"a\":1}"))
        );
        assert_eq!(
            c(json!(7), ValueKind::Integer, FieldType::Text),
            Ok(json!("7"))
        );
    }

    #[test]
    fn default_types_follow_the_documented_table() {
        let col = |kind, max_chars| SourceColumn {
            name: "c".into(),
            kind,
            max_chars,
            type_name: String::new(),
            is_key: false,
        };
        assert_eq!(
            default_field_type(&col(ValueKind::Text, Some(20)), false),
            FieldType::String
        );
        assert_eq!(
            default_field_type(&col(ValueKind::Text, Some(500)), false),
            FieldType::Text
        );
        assert_eq!(
            default_field_type(&col(ValueKind::Text, None), true),
            FieldType::String
        );
        assert_eq!(
            default_field_type(&col(ValueKind::Bytes, None), true),
            FieldType::Bytestring
        );
        assert_eq!(
            default_field_type(&col(ValueKind::Boolean, None), false),
            FieldType::Integer
        );
        assert!(!key_allowed(FieldType::Decimal));
        assert!(key_allowed(FieldType::Bytestring));
        assert_eq!(postgres_kind(1043, 24), (ValueKind::Text, Some(20)));
        assert_eq!(postgres_kind(1043, -1), (ValueKind::Text, None));
    }
}
