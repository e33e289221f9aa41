//! Decoding `COPY ... TO STDOUT` text format: one line per row, tab-separated, `\N` for NULL,
//! and backslash escapes for the bytes that would break the format. Pure.

use crate::{SourceError, Tuple, Value};

/// Decodes one line (without its newline) into values.
pub(crate) fn decode_line(line: &[u8]) -> Result<Tuple, SourceError> {
    line.split(|&b| b == b'\t').map(decode_field).collect()
}

fn decode_field(field: &[u8]) -> Result<Value, SourceError> {
    if field == b"\\N" {
        return Ok(Value::Null);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&escaped) = field.get(i) else {
            return Err(SourceError::protocol("COPY field ends in a lone backslash"));
        };
        i += 1;
        match escaped {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u32;
                for _ in 0..2 {
                    match field.get(i).and_then(|&d| char::from(d).to_digit(16)) {
                        Some(d) => {
                            value = value * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out)
        .map(Value::Text)
        .map_err(|_| SourceError::protocol("COPY value is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    #[test]
    fn splits_and_unescapes() {
        assert_eq!(
            decode_line(b"1\t\\N\ta\\tb\\nc\\\\d\t").expect("valid test input"),
            vec![text("1"), Value::Null, text("a\tb\nc\\d"), text("")]
        );
        assert_eq!(
            decode_line(b"\\x41\\101\\b\\f\\r\\v\\q").expect("valid test input"),
            vec![text("AA\x08\x0c\r\x0bq")]
        );
        // bytea's hex output keeps its backslash doubled in COPY.
        assert_eq!(
            decode_line(b"\\\\x00ff").expect("valid test input"),
            vec![text("\\x00ff")]
        );
        assert_eq!(
            decode_line("é\\N".as_bytes()).expect("valid test input"),
            vec![text("éN")]
        );
    }

    #[test]
    fn refuses_broken_fields() {
        assert!(decode_line(b"abc\\").is_err());
        assert!(decode_line(b"\\377").is_err(), "0xff alone is not UTF-8");
    }
}
