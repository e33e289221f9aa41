//! SQL literals, SQLite dialect, as ctlstore's `SQLQuote` writes them: strings single-quoted with
//! quotes doubled and nothing else escaped; a string containing NUL as a hex blob (a NUL cannot
//! live inside an SQLite string literal); bytes as `x'..'` in lower-case hex; integers in
//! decimal; reals in their shortest round-tripping form. A [`FieldValue`] from a mutation may
//! carry ctlstore's spelling instead (a JSON number or boolean written bare): see [`Literal`].

use ctlstore_schema::{FieldValue, Spelling, Value, go_float_text};

/// A value the ledger can write as an SQL literal: a stored [`Value`], or a [`FieldValue`] from a
/// mutation, which may be spelled as ctlstore spells it rather than as what its column stores.
pub trait Literal {
    fn push_literal_to(&self, out: &mut String);
}

impl Literal for Value {
    fn push_literal_to(&self, out: &mut String) {
        push_literal(out, self);
    }
}

impl Literal for FieldValue {
    fn push_literal_to(&self, out: &mut String) {
        match self.spelling {
            Spelling::Stored => push_literal(out, &self.value),
            // ctlstore's `SQLQuote` of a float64, bare at every magnitude: only ever for a text
            // column, whose affinity turns it into text, so SQLite's reading of large or tiny
            // decimals (see `push_real`) does not matter.
            Spelling::Number(f) => out.push_str(&go_float_text(f)),
            Spelling::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        }
    }
}

/// Appends the literal for `value` to `out`.
pub fn push_literal(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::Real(f) => push_real(out, *f),
        Value::Text(s) if s.contains('\0') => push_hex(out, s.as_bytes()),
        Value::Text(s) => {
            out.reserve(s.len() + 2);
            out.push('\'');
            for c in s.chars() {
                if c == '\'' {
                    out.push('\'');
                }
                out.push(c);
            }
            out.push('\'');
        }
        Value::Bytes(b) => push_hex(out, b),
    }
}

/// The literal for `value` as a new string.
pub fn sql_literal(value: &Value) -> String {
    let mut s = String::new();
    push_literal(&mut s, value);
    s
}

/// Go's `FormatFloat(v, 'f', -1, 64)` (the shortest text that reads back as the same double)
/// inside the range where SQLite's text-to-double conversion is exact; outside it, an exact
/// expression.
///
/// Why: SQLite's parser is off by one ULP for a large share of values below ~1e-80 and above
/// ~1e100 (measured on 3.51 with 200k random doubles; see docs/decisions/0002-exact-reals.md),
/// so the same text would give hosts a different double than the writer sent. `M * 2^E` with
/// `M` a 53-bit integer is written as `(M.0*4294967296.0*...)` or `(M.0/4294967296.0/...)`:
/// multiplying or dividing by a power of two is exact in IEEE arithmetic, and every literal in
/// it is an integer SQLite reads exactly.
fn push_real(out: &mut String, f: f64) {
    let magnitude = f.abs();
    if f == 0.0 || (SQLITE_EXACT_MIN..SQLITE_EXACT_MAX).contains(&magnitude) {
        out.push_str(&f.to_string());
    } else {
        push_exact_real(out, f);
    }
}

/// Below this magnitude SQLite may misread the shortest decimal form.
const SQLITE_EXACT_MIN: f64 = 1e-60;
/// From this magnitude up SQLite may misread the shortest decimal form.
const SQLITE_EXACT_MAX: f64 = 1e80;

fn push_exact_real(out: &mut String, f: f64) {
    let bits = f.to_bits();
    let negative = bits >> 63 == 1;
    let biased_exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mut mantissa, mut exponent) = if biased_exponent == 0 {
        (fraction, -1074) // subnormal
    } else {
        (fraction | (1u64 << 52), biased_exponent - 1075)
    };
    let zeros = mantissa.trailing_zeros().min(52);
    mantissa >>= zeros;
    exponent += zeros as i32;
    out.push('(');
    if negative {
        out.push('-');
    }
    out.push_str(&mantissa.to_string());
    out.push_str(".0");
    let (op, mut steps) = if exponent >= 0 {
        ('*', exponent)
    } else {
        ('/', -exponent)
    };
    while steps >= 32 {
        out.push(op);
        out.push_str("4294967296.0");
        steps -= 32;
    }
    if steps > 0 {
        out.push(op);
        out.push_str(&(1u64 << steps).to_string());
        out.push_str(".0");
    }
    out.push(')');
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2 + 3);
    out.push_str("x'");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out.push('\'');
}

/// Appends `"name"` with embedded double quotes doubled. Our names never contain quotes (they
/// are validated), but quoting must be correct on its own.
pub fn push_quoted_identifier(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctlstores_spelling_of_numbers_and_booleans() {
        let spelled = |value, spelling| {
            let mut out = String::new();
            FieldValue { value, spelling }.push_literal_to(&mut out);
            out
        };
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(spelled(text("5"), Spelling::Number(5.0)), "5");
        assert_eq!(spelled(text("5.5"), Spelling::Number(5.5)), "5.5");
        assert_eq!(
            spelled(text("1000000000000000000000"), Spelling::Number(1e21)),
            "1000000000000000000000"
        );
        assert_eq!(spelled(text("0"), Spelling::Number(-0.0)), "-0");
        assert_eq!(
            spelled(text("x"), Spelling::Number(1e100)),
            format!("1{}", "0".repeat(100)),
            "no exact-expression form for a text column"
        );
        assert_eq!(spelled(text("1"), Spelling::Bool(true)), "true");
        assert_eq!(spelled(Value::Real(0.0), Spelling::Bool(false)), "false");
        assert_eq!(spelled(text("5"), Spelling::Stored), "'5'");
    }

    #[test]
    fn ctlstores_sqlquote_cases() {
        assert_eq!(sql_literal(&Value::Integer(1)), "1");
        assert_eq!(sql_literal(&Value::Real(1.01)), "1.01");
        assert_eq!(sql_literal(&Value::Real(10.0)), "10");
        assert_eq!(
            sql_literal(&Value::Text("hello rick's µ".into())),
            "'hello rick''s µ'"
        );
        assert_eq!(
            sql_literal(&Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])),
            "x'deadbeef'"
        );
        assert_eq!(sql_literal(&Value::Text("a\0b".into())), "x'610062'");
        assert_eq!(sql_literal(&Value::Text("\\d".into())), "'\\d'");
        assert_eq!(sql_literal(&Value::Null), "NULL");
        assert_eq!(sql_literal(&Value::Real(1e21)), "1000000000000000000000");
        assert_eq!(
            sql_literal(&Value::Real(2f64.powi(300))),
            format!("(1.0{})", "*4294967296.0".repeat(9) + "*4096.0")
        );
        assert_eq!(
            sql_literal(&Value::Real(-3.0 * 2f64.powi(-300))),
            "(-3.0/4294967296.0/4294967296.0/4294967296.0/4294967296.0/4294967296.0/4294967296.0/4294967296.0/4294967296.0/4294967296.0/4096.0)"
        );
        assert_eq!(
            sql_literal(&Value::Integer(i64::MIN)),
            "-9223372036854775808"
        );
    }
}
