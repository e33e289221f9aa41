//! What ctlstore-cli prints, as pure functions: aligned tables (Go's `tabwriter` with one space
//! of padding), values as Go's `%v` prints them, rate limits as `<amount>/<Go duration>`.

use std::fmt::Write;
use std::time::Duration;

use ctlstore_schema::Value;

/// Rows of cells laid out as Go's `tabwriter.NewWriter(w, 0, 0, 1, ' ', ...)` lays out
/// `"a\tb\tc\n"` lines: every cell but the last of a row is padded to its column's widest cell
/// plus one space; the last cell is written as is. Every row has the same number of cells.
pub fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            match widths.get(c) {
                Some(width) if c + 1 < row.len() => {
                    let _ = write!(out, "{cell:<w$}", w = width + 1);
                }
                _ => out.push_str(cell),
            }
        }
        out.push('\n');
    }
    out
}

/// A column value as ctlstore-cli's `read-keys` prints it: bytes as `0x` and lowercase hex,
/// NULL as Go's `<nil>`, reals as Go's `%v`.
pub fn value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => go_float(*f),
        Value::Text(s) => s.clone(),
        Value::Bytes(b) => {
            let mut hex = String::with_capacity(2 + 2 * b.len());
            hex.push_str("0x");
            for byte in b {
                let _ = write!(hex, "{byte:02x}");
            }
            hex
        }
    }
}

/// A float64 as Go's `fmt` prints it with `%v` (`%g`, shortest digits): the exponent form
/// (`1e+06`, `1e-05`) when the decimal exponent is below -4 or at least 6, else plain decimals.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: "-1.2345e6", "0e0".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{esign}{:02}", exp.abs());
    }
    let body = if exp >= 0 {
        let int_len = usize::try_from(exp).unwrap_or(0) + 1;
        if digits.len() <= int_len {
            format!("{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            let (int, frac) = digits.split_at(int_len);
            format!("{int}.{frac}")
        }
    } else {
        let zeros = usize::try_from(-exp - 1).unwrap_or(0);
        format!("0.{}{digits}", "0".repeat(zeros))
    };
    format!("{sign}{body}")
}

/// A rate limit as Go's `RateLimit.String()` prints it: `1000/1m0s`.
pub fn rate_limit(amount: i64, period_nanos: i64) -> String {
    let period = ctlstore_duration::format(Duration::from_nanos(period_nanos.unsigned_abs()));
    let minus = if period_nanos < 0 { "-" } else { "" };
    format!("{amount}/{minus}{period}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_like_tabwriter() {
        let rows = vec![
            vec!["COLUMN".to_string(), "VALUE".to_string()],
            vec!["------".to_string(), "-----".to_string()],
            vec!["a_long_name".to_string(), "1".to_string()],
        ];
        assert_eq!(
            aligned(&rows),
            "COLUMN      VALUE\n------      -----\na_long_name 1\n"
        );
        let rows = vec![vec!["é".to_string(), "x".to_string(), "y".to_string()]];
        assert_eq!(aligned(&rows), "é x y\n");
        assert_eq!(aligned(&[]), "");
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        for (f, go) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (3.25, "3.25"),
            (0.1, "0.1"),
            (1e-300, "1e-300"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(f), go, "{f}");
        }
    }

    #[test]
    fn values_print_as_ctlstore_cli_prints_them() {
        assert_eq!(value(&Value::Bytes(vec![0xde, 0xad, 0x0b])), "0xdead0b");
        assert_eq!(value(&Value::Bytes(vec![])), "0x");
        assert_eq!(value(&Value::Null), "<nil>");
        assert_eq!(value(&Value::Integer(-7)), "-7");
        assert_eq!(value(&Value::Text("a b".into())), "a b");
    }

    #[test]
    fn rate_limits_print_as_go_prints_them() {
        assert_eq!(rate_limit(1000, 60_000_000_000), "1000/1m0s");
        assert_eq!(rate_limit(10, 5_000_000_000), "10/5s");
        assert_eq!(rate_limit(1, 3_600_000_000_000), "1/1h0m0s");
    }
}
