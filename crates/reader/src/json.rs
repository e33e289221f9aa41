//! Keys from JSON and rows to JSON, the way ctlstore's sidecar reads and writes them. The one
//! conversion used by the sidecar and by `ctlstore ldb-read-key`, so the two cannot drift.
//!
//! A key part is a JSON value or `{"binary": "<base64>"}` (bytes). ctlstore's sidecar decodes
//! every JSON number as a float64 and binds it as an SQLite REAL, and binds strings as TEXT;
//! SQLite then compares them with the column's affinity. What that finds is kept here:
//! - an integral number (`1`, `1.0`) is the integer 1; a fractional one (`1.5`) matches no
//!   integer key and is refused;
//! - a string is text, which also reaches an `integer` key when it is a decimal integer (`"1"`:
//!   see [`crate::Key`]);
//! - `true`/`false` are 1 and 0 (Go's SQLite driver binds booleans as integers);
//! - `null`, arrays and objects are refused.
//!
//! Rows are JSON objects, column to value, with bytes as base64 (Go's `[]byte` encoding), written
//! byte for byte as Go's `json.Encoder` writes them ([`row_json`], [`rows_json`]): keys sorted,
//! floats in Go's form (`2`, `1e+21`, `1e-7`), and `<`, `>`, `&`, U+2028 and U+2029 escaped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json};

use crate::{Key, Row, Value};

/// A key part that is not a key, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key #{index}: {reason}")]
pub struct KeyJsonError {
    /// The part's position in the key, from 0.
    pub index: usize,
    pub reason: String,
}

/// One key part: `value`, or `binary` (base64 bytes), which wins when both are given, as in
/// ctlstore.
///
/// ```
/// use ctlstore_reader::{Key, json::key_part};
/// assert_eq!(key_part(0, Some(&serde_json::json!(1.0)), None), Ok(Key::Int(1)));
/// assert_eq!(key_part(0, None, Some("3q2+7w==")), Ok(Key::Bytes(vec![0xde, 0xad, 0xbe, 0xef])));
/// assert!(key_part(0, Some(&serde_json::json!(1.5)), None).is_err());
/// ```
pub fn key_part(
    index: usize,
    value: Option<&Json>,
    binary: Option<&str>,
) -> Result<Key, KeyJsonError> {
    let bad = |reason: String| KeyJsonError { index, reason };
    if let Some(b64) = binary {
        return STANDARD
            .decode(b64)
            .map(Key::Bytes)
            .map_err(|e| bad(format!("binary is not base64: {e}")));
    }
    match value {
        Some(Json::String(s)) => Ok(Key::Text(s.clone())),
        Some(Json::Number(n)) => integral(n).map(Key::Int).ok_or_else(|| {
            bad(format!(
                "{n} is not an integer (integer keys only take whole numbers)"
            ))
        }),
        Some(Json::Bool(b)) => Ok(Key::Int(i64::from(*b))),
        Some(Json::Null) | None => Err(bad("a key value cannot be null".into())),
        Some(other) => Err(bad(format!(
            "{other} is not a string, a number or a boolean"
        ))),
    }
}

/// A JSON number as an i64 when it is a whole number in range (`1`, `1.0`, `-3e2`).
fn integral(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // 2^63 is exactly representable; anything at or above it does not fit.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f);
    (f.fract() == 0.0 && in_range).then_some(f as i64)
}

/// A key given as a JSON array (`ldb-read-key --key-json`): each element is a value, or an
/// object with `value` or `binary`, as in the sidecar's body.
pub fn key_from_array(parts: &[Json]) -> Result<Vec<Key>, KeyJsonError> {
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match part {
            Json::Object(o) => {
                let binary = match o.get("binary").or_else(|| o.get("Binary")) {
                    Some(Json::String(b)) => Some(b.as_str()),
                    Some(Json::Null) | None => None,
                    Some(other) => {
                        return Err(KeyJsonError {
                            index: i,
                            reason: format!("binary must be a base64 string, got {other}"),
                        });
                    }
                };
                key_part(i, o.get("value").or_else(|| o.get("Value")), binary)
            }
            value => key_part(i, Some(value), None),
        })
        .collect()
}

/// A row as ctlstore's sidecar writes it, as text: what Go's `json.Encoder` writes for the
/// `map[string]interface{}` ctlstore builds (without the trailing newline).
///
/// ```
/// use ctlstore_reader::{Row, Value, json::row_json};
/// let mut row = Row::new();
/// row.insert("score".into(), Value::Real(2.0));
/// row.insert("name".into(), Value::Text("<a & b>".into()));
/// assert_eq!(row_json(&row), r#"{"name":"\u003ca \u0026 b\u003e","score":2}"#);
/// ```
pub fn row_json(row: &Row) -> String {
    let mut out = String::with_capacity(64);
    write_row(row, &mut out);
    out
}

/// Rows as a JSON array, as [`row_json`] writes each.
pub fn rows_json(rows: &[Row]) -> String {
    let mut out = String::from("[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_row(row, &mut out);
    }
    out.push(']');
    out
}

fn write_row(row: &Row, out: &mut String) {
    out.push('{');
    for (i, (column, value)) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_go_string(column, out);
        out.push(':');
        match value {
            Value::Null => out.push_str("null"),
            Value::Integer(n) => out.push_str(&n.to_string()),
            Value::Real(f) => out.push_str(&go_json_float(*f)),
            Value::Text(s) => write_go_string(s, out),
            Value::Bytes(b) => {
                out.push('"');
                out.push_str(&STANDARD.encode(b));
                out.push('"');
            }
        }
    }
    out.push('}');
}

/// A float as Go's `encoding/json` writes it: plain decimals for 1e-6 <= |f| < 1e21, otherwise
/// an exponent with a sign (`1e+21`, `1e-7`). NaN and infinities cannot be in JSON: `null`.
pub fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        // Rust's Display is Go's strconv 'f' with -1 precision (shortest round-trip digits).
        return f.to_string();
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => e,
    }
}

/// A string as Go's `json.Encoder` (HTML escaping on) writes it.
fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A row as a JSON value: column to value, bytes as base64.
pub fn row_to_json(row: Row) -> Json {
    let mut out = Map::with_capacity(row.len());
    for (column, value) in row {
        out.insert(column, value_to_json(value));
    }
    Json::Object(out)
}

fn value_to_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Integer(i) => Json::from(i),
        Value::Real(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_ctlstore_binds_them() {
        for (v, want) in [
            (json!(1), Some(1)),
            (json!(1.0), Some(1)),
            (json!(-300.0), Some(-300)),
            (json!(9_007_199_254_740_992.0), Some(9_007_199_254_740_992)),
            (json!(1.5), None),
            (json!(1e300), None),
            (json!(u64::MAX), None),
        ] {
            assert_eq!(key_part(0, Some(&v), None).ok(), want.map(Key::Int), "{v}");
        }
        assert_eq!(key_part(0, Some(&json!(true)), None), Ok(Key::Int(1)));
        assert_eq!(
            key_part(0, Some(&json!("1")), None),
            Ok(Key::Text("1".into()))
        );
        assert!(key_part(0, Some(&json!(null)), None).is_err());
        assert!(key_part(0, Some(&json!([1])), None).is_err());
        assert!(key_part(0, None, None).is_err());
        assert!(key_part(0, None, Some("not base64!")).is_err());
    }

    #[test]
    fn arrays_take_the_sidecar_forms_too() {
        let key = key_from_array(&[
            json!("a"),
            json!(2.0),
            json!({"binary": "AAE="}),
            json!({"value": 3}),
        ])
        .expect("key");
        assert_eq!(
            key,
            [
                Key::Text("a".into()),
                Key::Int(2),
                Key::Bytes(vec![0, 1]),
                Key::Int(3)
            ]
        );
        let e = key_from_array(&[json!("a"), json!(1.5)]).expect_err("fractional");
        assert_eq!(e.index, 1);
    }

    #[test]
    fn floats_as_go_writes_them() {
        for (f, go) in [
            (2.0, "2"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e16, "10000000000000000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e21, "1e+21"),
            (-2.5e300, "-2.5e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "null"),
        ] {
            assert_eq!(go_json_float(f), go, "{f}");
        }
    }

    #[test]
    fn strings_as_go_escapes_them() {
        let mut row = Row::new();
        row.insert(
            "s".into(),
            Value::Text("a\"b\\c\n\u{1}<>&\u{2028}é\u{8}".into()),
        );
        assert_eq!(
            row_json(&row),
            r#"{"s":"a\"b\\c\n\u0001\u003c\u003e\u0026\u2028é\b"}"#
        );
        assert_eq!(rows_json(&[row.clone(), row]).matches("\\u003c").count(), 2);
        assert_eq!(rows_json(&[]), "[]");
    }

    #[test]
    fn rows_as_the_sidecar_writes_them() {
        let mut row = Row::new();
        row.insert("b".into(), Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]));
        row.insert("i".into(), Value::Integer(7));
        row.insert("n".into(), Value::Null);
        assert_eq!(
            row_to_json(row),
            json!({"b": "3q2+7w==", "i": 7, "n": null})
        );
    }
}
