//! `ctlstore get F.T KEY... [--prefix] [--index NAME] [--ldb PATH | --sidecar URL]`: rows by
//! key from this host's LDB (through `reader`), from a sidecar (`POST /get-row-by-key/{f}/{t}`,
//! `/get-rows-by-key-prefix/{f}/{t}`), or, by default, from the executive's read routes (the
//! ctldb itself, consistent with acknowledged writes). `--index NAME` reads by a secondary index
//! instead of the key (`Reader::rows_by_index`, `POST /get-rows-by-index/{f}/{t}/{index}`): a
//! host's copy only, the LDB or a sidecar.
//!
//! Key arguments follow ctlstore-cli's rule: `0x<hex>` is bytes, anything else text, converted
//! by the key column's type (an `integer` column takes decimal text, a `bytestring` column the
//! text's UTF-8 bytes). Rows print as JSON objects, bytes as base64, the same from all three.

use std::path::PathBuf;

use clap::Args;
use ctlstore_client::Client;
use ctlstore_reader::{Key, Reader};
use ctlstore_schema::FieldType;
use serde_json::{Map, Value as Json, json};

use crate::output::{Output, aligned, cell, rows_table};
use crate::target::TableRef;
use crate::{AdminError, Common};

/// Rows per page when reading a prefix through the executive (its maximum).
const PAGE_ROWS: u32 = 1000;

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    common: Common,
    /// FAMILY.TABLE
    table: TableRef,
    /// The key values in key order (`0x<hex>` for bytes); with --prefix, the leading ones.
    #[arg(value_name = "KEY", allow_negative_numbers = true)]
    keys: Vec<String>,
    /// Every row whose leading key values are KEY... (the whole table without KEY).
    #[arg(long)]
    prefix: bool,
    /// Read by this secondary index: every row whose leading index values are KEY..., in
    /// index order (needs --ldb or --sidecar).
    #[arg(long, value_name = "NAME")]
    index: Option<String>,
    /// Read this LDB file (this host's copy) instead of the executive.
    #[arg(long, value_name = "PATH", conflicts_with = "sidecar")]
    ldb: Option<PathBuf>,
    /// Read through this sidecar (`http://` added when missing) instead of the executive.
    #[arg(long, value_name = "URL")]
    sidecar: Option<String>,
}

type Row = Map<String, Json>;

/// A key argument: bytes for `0x<hex>`, else text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyArg {
    Text(String),
    Bytes(Vec<u8>),
}

fn key_arg(arg: &str) -> Result<KeyArg, AdminError> {
    let Some(hex) = arg
        .strip_prefix("0x")
        .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
    else {
        return Ok(KeyArg::Text(arg.to_string()));
    };
    if hex.len() % 2 != 0 {
        return Err(AdminError::Usage(format!(
            "key '{arg}': an odd number of hex digits"
        )));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| AdminError::Usage(format!("key '{arg}': not hex")))?;
    Ok(KeyArg::Bytes(bytes))
}

pub async fn run(args: GetArgs) -> Result<(), AdminError> {
    if args.index.is_some() && args.ldb.is_none() && args.sidecar.is_none() {
        return Err(AdminError::Usage(
            "--index reads a host's copy: give --ldb PATH or --sidecar URL".into(),
        ));
    }
    // An index read is a prefix read of the index.
    let prefix = args.prefix || args.index.is_some();
    if !prefix && args.keys.is_empty() {
        return Err(AdminError::Usage(
            "give the key values (or --prefix for a range)".into(),
        ));
    }
    let keys = args
        .keys
        .iter()
        .map(|k| key_arg(k))
        .collect::<Result<Vec<_>, _>>()?;
    let out = args.common.output();
    let by = match &args.index {
        Some(index) => By::Index(index),
        None if prefix => By::Prefix,
        None => By::Key,
    };
    let rows = if let Some(path) = &args.ldb {
        from_ldb(path, &args.table, &keys, by)?
    } else if let Some(url) = &args.sidecar {
        from_sidecar(&args.common.sidecar_http()?, url, &args.table, &keys, by).await?
    } else {
        from_executive(&args.common.client()?, &args.table, &keys, prefix).await?
    };
    if prefix {
        print_rows(out, &rows);
        return Ok(());
    }
    let Some(row) = rows.into_iter().next() else {
        return Err(AdminError::NotFound(format!(
            "no row of {} with key {}",
            args.table,
            args.keys.join(", ")
        )));
    };
    out.result(&Json::Object(row.clone()), || {
        let cells: Vec<Vec<String>> = row.iter().map(|(c, v)| vec![c.clone(), cell(v)]).collect();
        aligned(&["COLUMN", "VALUE"], &cells)
    });
    Ok(())
}

fn print_rows(out: Output, rows: &[Row]) {
    if out.json {
        for row in rows {
            out.record(&Json::Object(row.clone()), String::new);
        }
    } else if rows.is_empty() {
        out.result(&Json::Null, || "no rows".into());
    } else {
        out.result(&Json::Null, || rows_table(rows));
    }
}

/// What the key values select.
#[derive(Debug, Clone, Copy)]
enum By<'a> {
    /// The row with this whole primary key.
    Key,
    /// Rows by leading primary-key values.
    Prefix,
    /// Rows by leading values of this secondary index.
    Index(&'a str),
}

fn from_ldb(
    path: &std::path::Path,
    table: &TableRef,
    keys: &[KeyArg],
    by: By<'_>,
) -> Result<Vec<Row>, AdminError> {
    let reader_error = |source| AdminError::Reader {
        path: path.display().to_string(),
        source,
    };
    let reader = Reader::open(path).map_err(reader_error)?;
    let keys: Vec<Key> = keys
        .iter()
        .map(|k| match k {
            KeyArg::Text(t) => Key::Text(t.clone()),
            KeyArg::Bytes(b) => Key::Bytes(b.clone()),
        })
        .collect();
    let rows = match by {
        By::Index(index) => reader
            .rows_by_index_values(&table.family, &table.table, index, &keys)
            .map_err(reader_error)?,
        By::Prefix => reader
            .rows_by_key_prefix_values(&table.family, &table.table, &keys)
            .map_err(reader_error)?,
        By::Key => reader
            .get_row(&table.family, &table.table, &keys)
            .map_err(reader_error)?
            .into_iter()
            .collect(),
    };
    // The sidecar's conversion, so the LDB and the sidecar print the same rows.
    rows.iter()
        .map(
            |row| match serde_json::from_str(&ctlstore_reader::json::row_json(row)) {
                Ok(Json::Object(o)) => Ok(o),
                _ => Err(AdminError::Usage("a row could not be converted".into())),
            },
        )
        .collect()
}

async fn from_sidecar(
    http: &reqwest::Client,
    url: &str,
    table: &TableRef,
    keys: &[KeyArg],
    by: By<'_>,
) -> Result<Vec<Row>, AdminError> {
    let base = ctlstore_schema::executive_base_url(url);
    let (family, name) = (&table.family, &table.table);
    let address = match by {
        By::Key => format!("{base}/get-row-by-key/{family}/{name}"),
        By::Prefix => format!("{base}/get-rows-by-key-prefix/{family}/{name}"),
        By::Index(index) => format!("{base}/get-rows-by-index/{family}/{name}/{index}"),
    };
    let prefix = !matches!(by, By::Key);
    let key: Vec<Json> = keys
        .iter()
        .map(|k| match k {
            KeyArg::Text(t) => json!({ "value": t }),
            KeyArg::Bytes(b) => json!({ "binary": base64_of(b) }),
        })
        .collect();
    let failed = |message: String| AdminError::Sidecar {
        url: base.clone(),
        message,
    };
    let response = http
        .post(&address)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json!({ "key": key }).to_string())
        .send()
        .await
        .map_err(|e| failed(chain(&e)))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| failed(chain(&e)))?;
    if status == reqwest::StatusCode::NOT_FOUND && !prefix && body.trim().is_empty() {
        return Ok(Vec::new());
    }
    if !status.is_success() {
        let message = serde_json::from_str::<Json>(&body)
            .ok()
            .and_then(|j| j.get("error").and_then(Json::as_str).map(String::from))
            .unwrap_or_else(|| body.trim().to_string());
        let message = if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            "more rows than the sidecar returns at once (its --max-rows-per-request)".into()
        } else if message.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("{message} (HTTP {})", status.as_u16())
        };
        return Err(failed(message));
    }
    let rows = match serde_json::from_str::<Json>(&body) {
        Ok(Json::Object(row)) => vec![row],
        Ok(Json::Array(rows)) => rows
            .into_iter()
            .filter_map(|r| match r {
                Json::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => return Err(failed("the answer is not rows".into())),
    };
    Ok(rows)
}

pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn from_executive(
    client: &Client,
    table: &TableRef,
    keys: &[KeyArg],
    prefix: bool,
) -> Result<Vec<Row>, AdminError> {
    let schema = client.table_schema(&table.family, &table.table).await?;
    let key_types: Vec<(String, Option<FieldType>)> = schema
        .key_fields
        .iter()
        .map(|k| {
            let kind = schema
                .fields
                .iter()
                .find(|(name, _)| name == k)
                .and_then(|(_, t)| FieldType::from_api_name(t));
            (k.clone(), kind)
        })
        .collect();
    if keys.len() > key_types.len() || (!prefix && keys.len() != key_types.len()) {
        let names: Vec<&str> = key_types.iter().map(|(n, _)| n.as_str()).collect();
        return Err(AdminError::Usage(format!(
            "the key of {table} is {} ({} values), {} given",
            names.join(", "),
            names.len(),
            keys.len()
        )));
    }
    let values = keys
        .iter()
        .zip(&key_types)
        .map(|(arg, (name, kind))| {
            executive_key(arg, *kind).map_err(|e| format!("key {name}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(AdminError::Usage)?;
    if !prefix {
        let row = client.row(&table.family, &table.table, &values).await?;
        return Ok(row.into_iter().collect());
    }
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = client
            .rows_page(
                &table.family,
                &table.table,
                &values,
                Some(PAGE_ROWS),
                after.as_deref(),
            )
            .await?;
        rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// A key argument as the executive's JSON for a key column of `kind`: the conversions the
/// reader makes for an LDB read, so every source finds the same row.
fn executive_key(arg: &KeyArg, kind: Option<FieldType>) -> Result<Json, String> {
    match (arg, kind) {
        (KeyArg::Text(t), Some(FieldType::Integer)) => t
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| format!("'{t}' is not an integer")),
        (KeyArg::Bytes(_), Some(FieldType::Integer)) => {
            Err("bytes given for an integer key".into())
        }
        (KeyArg::Text(t), Some(FieldType::Bytestring | FieldType::Binary)) => {
            Ok(Json::String(base64_of(t.as_bytes())))
        }
        (KeyArg::Bytes(b), Some(FieldType::Bytestring | FieldType::Binary)) => {
            Ok(Json::String(base64_of(b)))
        }
        (KeyArg::Text(t), _) => Ok(Json::String(t.clone())),
        (KeyArg::Bytes(b), _) => String::from_utf8(b.clone())
            .map(Json::String)
            .map_err(|_| "the bytes are not UTF-8 text (a string key)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arguments_follow_ctlstore_cli() {
        assert_eq!(key_arg("abc").ok(), Some(KeyArg::Text("abc".into())));
        assert_eq!(
            key_arg("0xdead").ok(),
            Some(KeyArg::Bytes(vec![0xde, 0xad]))
        );
        assert_eq!(key_arg("0xzz").ok(), Some(KeyArg::Text("0xzz".into())));
        assert!(key_arg("0xabc").is_err());
    }

    #[test]
    fn keys_are_typed_by_their_column() {
        let text = |t: &str| KeyArg::Text(t.into());
        assert_eq!(
            executive_key(&text("42"), Some(FieldType::Integer)),
            Ok(json!(42))
        );
        assert!(executive_key(&text("x"), Some(FieldType::Integer)).is_err());
        assert_eq!(
            executive_key(&text("hi"), Some(FieldType::Bytestring)),
            Ok(json!("aGk="))
        );
        assert_eq!(
            executive_key(
                &KeyArg::Bytes(vec![0xde, 0xad]),
                Some(FieldType::Bytestring)
            ),
            Ok(json!("3q0="))
        );
        assert_eq!(
            executive_key(&text("42"), Some(FieldType::String)),
            Ok(json!("42"))
        );
        assert!(executive_key(&KeyArg::Bytes(vec![0xff]), Some(FieldType::String)).is_err());
    }
}
