//! Go's `time.Duration` text format, which ctlstore uses on its command lines (`-poll-interval
//! 1s`) and in its JSON (`"period": "1m"`): a sequence of decimal numbers with units `ns`, `us`
//! (`µs`), `ms`, `s`, `m`, `h`, optionally signed, e.g. `1h30m`, `1.5s`, `100ms`, `0`.
//!
//! Pure; no dependencies beyond thiserror.

use std::time::Duration;

/// The text is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{0}' (examples: 100ms, 1s, 5m, 1h30m)")]
pub struct DurationError(pub String);

/// Parses a Go duration, exactly as Go's `time.ParseDuration` does (integer arithmetic, so every
/// value Go can hold reads back to the nanosecond; a fraction below a nanosecond is dropped, as
/// Go drops it). Surrounding whitespace is ignored. Negative durations are refused: no ctlstore
/// setting takes one.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(text.to_string());
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(err());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let (nanos, after) = component(rest).ok_or_else(err)?;
        total = total.checked_add(nanos).ok_or_else(err)?;
        rest = after;
    }
    if total > GO_MAX_NANOS {
        return Err(err());
    }
    Ok(Duration::from_nanos(total))
}

/// The most nanoseconds a Go `time.Duration` holds (`1<<63 - 1`).
const GO_MAX_NANOS: u64 = i64::MAX as u64;

/// One `<number><unit>` at the start of `s`: its nanoseconds and what follows. `None` when it is
/// malformed or above Go's range.
fn component(s: &str) -> Option<(u64, &str)> {
    let (whole, rest) = leading_int(s)?;
    let had_whole = rest.len() != s.len();
    let (fraction, scale, rest, had_fraction) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let (f, scale, rest) = leading_fraction(after_dot);
            (f, scale, rest, rest.len() != after_dot.len())
        }
        None => (0, 1.0, rest, false),
    };
    if !had_whole && !had_fraction {
        return None; // no digits: "s", ".s"
    }
    let unit_len = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let unit: u64 = match &rest[..unit_len] {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    // Go allows each component up to 1<<63 and checks the total at the end.
    let limit = 1u64 << 63;
    if whole > limit / unit {
        return None;
    }
    let mut nanos = whole * unit;
    if fraction > 0 {
        // As Go: float64 is exact enough here (at most 3.6e12 ns per hour), truncated.
        nanos = nanos.checked_add((fraction as f64 * (unit as f64 / scale)) as u64)?;
        if nanos > limit {
            return None;
        }
    }
    Some((nanos, &rest[unit_len..]))
}

/// The leading decimal digits of `s` as an integer (0 when there are none) and what follows;
/// `None` when they overflow Go's range.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for b in s[..digits].bytes() {
        x = x.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if x > 1 << 63 {
            return None;
        }
    }
    Some((x, &s[digits..]))
}

/// The digits after a decimal point as `fraction / scale`; digits beyond what 63 bits hold are
/// dropped (Go's `leadingFraction`).
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1.0f64, false);
    for b in s[..digits].bytes() {
        if overflow {
            continue;
        }
        if x > GO_MAX_NANOS / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > 1 << 63 {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[digits..])
}

/// Formats like Go's `Duration.String()`: `1h30m0s`, `1.5s`, `100ms`, `0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos as f64 / 1e6));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let seconds = (nanos % 60_000_000_000) as f64 / 1e9;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", trim_fraction(seconds)));
    out
}

fn trim_fraction(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        for bad in ["", "1", "s", "1x", "-1s", "a year", "1.2.3s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by `fuzz/fuzz_targets/duration.rs`: parsing summed float64 nanoseconds, so a long
    /// duration came back a nanosecond off (`3596h55m35.555416063s` read as ...064s).
    #[test]
    fn every_go_duration_reads_back_to_the_nanosecond() {
        let cases = [
            (
                Duration::new(12_948_935, 555_416_063),
                "3596h55m35.555416063s",
            ),
            (
                Duration::from_nanos(i64::MAX as u64),
                "2562047h47m16.854775807s",
            ),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(999_999), "999.999µs"),
            (
                Duration::from_nanos(86_399_999_999_999),
                "23h59m59.999999999s",
            ),
        ];
        for (d, text) in cases {
            assert_eq!(format(d), text);
            assert_eq!(parse(text), Ok(d), "{text}");
        }
    }

    #[test]
    fn go_parse_edges() {
        // Go's range: up to 1<<63 - 1 ns.
        assert!(parse("2562047h47m16.854775808s").is_err());
        assert!(parse("9223372036854775808ns").is_err());
        assert!(parse("99999999999999999999h").is_err());
        assert_eq!(
            parse("9223372036854775807ns"),
            Ok(Duration::from_nanos(i64::MAX as u64))
        );
        // Sub-nanosecond fractions are dropped, as Go drops them; digits past 63 bits too.
        assert_eq!(parse("1.9ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse("0.1h"), Ok(Duration::from_secs(360)));
        assert_eq!(
            parse("1.00000000000000000000000000001s"),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5.s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1h1h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("3μs"), Ok(Duration::from_micros(3)));
        assert_eq!(parse(" +1m "), Ok(Duration::from_secs(60)));
        for bad in [".s", ".", "1.2.3s", "1e3s", "1sm", "s1", "١s", "-0"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(60)), "1m0s");
        assert_eq!(format(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(100)), "100ms");
        assert_eq!(format(Duration::ZERO), "0s");
        for d in ["1s", "100ms", "1h30m0s", "2m3.5s"] {
            assert_eq!(format(parse(d).expect("valid")), d);
        }
    }
}
