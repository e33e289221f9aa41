//! How ctlstore's ledger spells a field's value, where that differs from the literal of what
//! the column stores: ctlstore's `SQLQuote` renders the JSON value as Go decoded it (a number as
//! a float64, a boolean as `true`/`false`), whatever the column's type.

use crate::Value;

/// How the ledger writes a field's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spelling {
    /// The literal of the stored [`Value`] (`'text'`, `42`, `x'..'`, `NULL`).
    Stored,
    /// A JSON number, written bare as Go formats the float64 it decodes to
    /// (`strconv.FormatFloat(v, 'f', -1, 64)`: `5`, `5.5`, `1000000000000000000000`).
    Number(f64),
    /// A JSON boolean, written bare: `true` / `false`.
    Bool(bool),
}

/// A field's value from a mutation: what the ctldb stores, and how the ledger spells it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldValue {
    pub value: Value,
    pub spelling: Spelling,
}

impl From<Value> for FieldValue {
    fn from(value: Value) -> FieldValue {
        FieldValue {
            value,
            spelling: Spelling::Stored,
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that read back as `f`, never
/// an exponent. Rust's `Display` for `f64` writes the same text (shortest round-trip digits,
/// plain decimal notation).
pub fn go_float_text(f: f64) -> String {
    f.to_string()
}

#[cfg(test)]
mod tests {
    use super::go_float_text;

    #[test]
    fn go_formats_floats_this_way() {
        assert_eq!(go_float_text(5.0), "5");
        assert_eq!(go_float_text(0.0000001), "0.0000001");
        assert_eq!(go_float_text(1e21), "1000000000000000000000");
        assert_eq!(go_float_text(-0.0), "-0");
        assert_eq!(go_float_text(123456789.125), "123456789.125");
        assert_eq!(go_float_text(0.1 + 0.2), "0.30000000000000004");
    }
}
