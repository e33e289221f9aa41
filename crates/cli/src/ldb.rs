//! `read-keys` and `read-seq`: reads of a local LDB with the reader library, no executive.

use std::path::Path;

use ctlstore_reader::{Key, Reader};

use crate::Failure;
use crate::output::{aligned, value};
use crate::schema::required;

/// `read-keys --family F --table T [-q] key...`: the row as a COLUMN/VALUE table sorted by
/// column name (the header left out with `-q`).
pub fn read_keys(
    ldb: &Path,
    family: &str,
    table: &str,
    quiet: bool,
    args: &[String],
) -> Result<String, Failure> {
    let family = required(family, "Family")?;
    let table = required(table, "Table")?;
    let keys = args
        .iter()
        .map(|a| key_of(a))
        .collect::<Result<Vec<_>, _>>()?;
    let reader = Reader::open(ldb).map_err(|e| Failure(format!("ldb reader for path: {e}")))?;
    let row = reader
        .get_row(family, table, &keys)
        .map_err(|e| Failure(format!("Could not read row: {e}")))?
        .ok_or_else(|| Failure("Not found".into()))?;
    let mut rows = Vec::with_capacity(row.len() + 2);
    if !quiet {
        rows.push(vec!["COLUMN".to_string(), "VALUE".to_string()]);
        rows.push(vec!["------".to_string(), "-----".to_string()]);
    }
    // A `Row` is a BTreeMap: its columns come sorted by name.
    rows.extend(row.iter().map(|(column, v)| vec![column.clone(), value(v)]));
    Ok(aligned(&rows))
}

/// `read-seq`: the last sequence applied to the LDB.
pub fn read_seq(ldb: &Path) -> Result<String, Failure> {
    let reader = Reader::open(ldb).map_err(|e| Failure(format!("Could not get reader: {e}")))?;
    let seq = reader
        .last_sequence()
        .map_err(|e| Failure(format!("Could not get sequence: {e}")))?;
    Ok(format!("{seq}\n"))
}

/// A key argument: `0x<hex>` (lowercase `0x`, hex digits of either case) is bytes, anything
/// else is text, which the reader also matches against integer keys.
fn key_of(arg: &str) -> Result<Key, Failure> {
    let Some(hex) = arg
        .strip_prefix("0x")
        .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
    else {
        return Ok(Key::Text(arg.to_string()));
    };
    if hex.len() % 2 != 0 {
        return Err(Failure(format!("could not parse '{hex}' as hex")));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| Failure(format!("could not parse '{hex}' as hex")))?;
    Ok(Key::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(arg: &str) -> Result<Key, String> {
        key_of(arg).map_err(|e| e.0)
    }

    #[test]
    fn keys_parse_as_ctlstore_cli_parses_them() {
        assert_eq!(key("foo"), Ok(Key::Text("foo".into())));
        assert_eq!(key("42"), Ok(Key::Text("42".into())));
        assert_eq!(key("0xabcd"), Ok(Key::Bytes(vec![0xab, 0xcd])));
        assert_eq!(key("0xABcD"), Ok(Key::Bytes(vec![0xab, 0xcd])));
        assert_eq!(key("0x"), Ok(Key::Bytes(vec![])));
        assert_eq!(key("0xzz"), Ok(Key::Text("0xzz".into())));
        assert_eq!(key("0xaz"), Ok(Key::Text("0xaz".into())));
        assert_eq!(key("0XAB"), Ok(Key::Text("0XAB".into())));
        assert_eq!(key("0xabc"), Err("could not parse 'abc' as hex".into()));
    }
}
