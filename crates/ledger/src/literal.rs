//! SQL literals, SQLite dialect, as ctlstore's `SQLQuote` writes them: strings single-quoted with
//! quotes doubled and nothing else escaped; a string containing NUL as a hex blob (a NUL cannot
//! live inside an SQLite string literal); bytes as `x'..'` in lower-case hex; integers in
//! decimal; reals in their shortest round-tripping form.

use ctlstore_schema::Value;

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
