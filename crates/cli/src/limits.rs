//! `table-limits` and `writer-limits`: read, update and delete the executive's limits.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::Failure;
use crate::executive::Executive;
use crate::output::{aligned, rate_limit};
use crate::schema::required;

/// One minute in nanoseconds: the period of every writer limit ctlstore-cli sets.
const MINUTE_NANOS: i64 = 60_000_000_000;

#[derive(Deserialize)]
struct SizeLimits {
    #[serde(rename = "max-size")]
    max_size: i64,
    #[serde(rename = "warn-size")]
    warn_size: i64,
}

#[derive(Deserialize)]
struct TableSizeLimit {
    #[serde(rename = "max-size")]
    max_size: i64,
    #[serde(rename = "warn-size")]
    warn_size: i64,
    family: String,
    table: String,
}

#[derive(Deserialize)]
struct TableSizeLimits {
    global: SizeLimits,
    tables: Option<Vec<TableSizeLimit>>,
}

/// `table-limits read`: the global limits, then a FAMILY/TABLE/WARN/MAX table when any table
/// has its own.
pub async fn read_table_limits(executive: &Executive) -> Result<String, Failure> {
    let answer = executive.send(Method::GET, "/limits/tables", None).await?;
    if !answer.is_ok() {
        return Err(answer.rejected("could not read limits"));
    }
    let limits: TableSizeLimits = serde_json::from_str(&answer.body)
        .map_err(|e| Failure(format!("could not decode response: {e}")))?;
    Ok(table_limits_text(&limits))
}

fn table_limits_text(limits: &TableSizeLimits) -> String {
    let mut out = format!(
        "warn: {} bytes\nmax : {} bytes\n",
        limits.global.warn_size, limits.global.max_size
    );
    let tables = limits.tables.as_deref().unwrap_or_default();
    if tables.is_empty() {
        return out;
    }
    let mut rows = vec![cells(&["FAMILY", "TABLE", "WARN", "MAX"])];
    rows.push(cells(&["------", "-----", "----", "---"]));
    for t in tables {
        rows.push(vec![
            t.family.clone(),
            t.table.clone(),
            t.warn_size.to_string(),
            t.max_size.to_string(),
        ]);
    }
    out.push('\n');
    out.push_str(&aligned(&rows));
    out
}

/// `table-limits update`: sizes are checked here first, with ctlstore-cli's messages.
pub async fn update_table_limit(
    executive: &Executive,
    family: &str,
    table: &str,
    max_size: i64,
    warn_size: i64,
) -> Result<String, Failure> {
    let family = required(family, "Family")?;
    let table = required(table, "Table")?;
    check_size(max_size, "Max")?;
    check_size(warn_size, "Warn")?;
    if warn_size > max_size {
        return Err(Failure("warnSize must be <= maxSize".into()));
    }
    let body = json!({"max-size": max_size, "warn-size": warn_size});
    let path = format!("/limits/tables/{family}/{table}");
    let answer = executive.send(Method::POST, &path, Some(&body)).await?;
    if !answer.is_ok() {
        return Err(answer.rejected("could not update table limit"));
    }
    Ok(String::new())
}

fn check_size(size: i64, what: &str) -> Result<(), Failure> {
    match size {
        ..0 => Err(Failure(format!("{what} size cannot be negative"))),
        0 => Err(Failure(format!("{what} size required"))),
        _ => Ok(()),
    }
}

/// `table-limits delete`.
pub async fn delete_table_limit(
    executive: &Executive,
    family: &str,
    table: &str,
) -> Result<String, Failure> {
    let family = required(family, "Family")?;
    let table = required(table, "Table")?;
    let path = format!("/limits/tables/{family}/{table}");
    let answer = executive.send(Method::DELETE, &path, None).await?;
    if !answer.is_ok() {
        return Err(answer.rejected("could not delete table limit"));
    }
    Ok(String::new())
}

/// `writer-limits read`: `default: <amount>/<period>`, then a WRITER/LIMIT table when any
/// writer has its own limit.
pub async fn read_writer_limits(executive: &Executive) -> Result<String, Failure> {
    let answer = executive.send(Method::GET, "/limits/writers", None).await?;
    if !answer.is_ok() {
        return Err(answer.rejected("could not read limits"));
    }
    let decode = |e: String| Failure(format!("could not decode response: {e}"));
    let limits: Json = serde_json::from_str(&answer.body).map_err(|e| decode(e.to_string()))?;
    let global = rate_limit_of(&limits["global"]).map_err(decode)?;
    let mut out = format!("default: {global}\n");
    let writers = match &limits["writers"] {
        Json::Array(writers) if !writers.is_empty() => writers,
        _ => return Ok(out),
    };
    let mut rows = vec![cells(&["WRITER", "LIMIT"]), cells(&["------", "-----"])];
    for w in writers {
        let name = w["writer"].as_str().unwrap_or_default().to_string();
        rows.push(vec![name, rate_limit_of(&w["rate-limit"]).map_err(decode)?]);
    }
    out.push('\n');
    out.push_str(&aligned(&rows));
    Ok(out)
}

/// A rate limit as ctlstore decodes it (`amount` any number, truncated; `period` nanoseconds or
/// a Go duration string), printed as `<amount>/<period>`.
fn rate_limit_of(limit: &Json) -> Result<String, String> {
    let amount = match &limit["amount"] {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
    .ok_or_else(|| format!("invalid amount: '{}'", limit["amount"]))?;
    let period = match &limit["period"] {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => ctlstore_duration::parse(s)
            .ok()
            .and_then(|d| i64::try_from(d.as_nanos()).ok()),
        _ => None,
    }
    .ok_or_else(|| format!("invalid period: '{}'", limit["period"]))?;
    Ok(rate_limit(amount, period))
}

/// `writer-limits update --writer W --rows-per-minute N`.
pub async fn update_writer_limit(
    executive: &Executive,
    writer: &str,
    rows_per_minute: i64,
) -> Result<String, Failure> {
    let writer = required(writer, "Writer")?;
    let body = json!({"amount": rows_per_minute, "period": MINUTE_NANOS});
    let path = format!("/limits/writers/{writer}");
    let answer = executive.send(Method::POST, &path, Some(&body)).await?;
    if !answer.is_ok() {
        return Err(answer.rejected("could not update writer limit"));
    }
    Ok(String::new())
}

/// `writer-limits delete --writer W`.
pub async fn delete_writer_limit(executive: &Executive, writer: &str) -> Result<String, Failure> {
    let writer = required(writer, "Writer")?;
    let path = format!("/limits/writers/{writer}");
    let answer = executive.send(Method::DELETE, &path, None).await?;
    if !answer.is_ok() {
        return Err(answer.rejected("could not delete writer limit"));
    }
    Ok(String::new())
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_limits_print_as_ctlstore_cli_prints_them() {
        let limits: TableSizeLimits = serde_json::from_str(
            r#"{"global":{"max-size":104857600,"warn-size":52428800},
                "tables":[{"max-size":1024,"warn-size":528,"family":"loadfamily","table":"t"}]}"#,
        )
        .expect("json");
        assert_eq!(
            table_limits_text(&limits),
            "warn: 52428800 bytes\nmax : 104857600 bytes\n\n\
             FAMILY     TABLE WARN MAX\n\
             ------     ----- ---- ---\n\
             loadfamily t     528  1024\n"
        );
        let none: TableSizeLimits =
            serde_json::from_str(r#"{"global":{"max-size":2,"warn-size":1},"tables":null}"#)
                .expect("json");
        assert_eq!(table_limits_text(&none), "warn: 1 bytes\nmax : 2 bytes\n");
    }

    #[test]
    fn rate_limits_decode_as_ctlstore_decodes_them() {
        assert_eq!(
            rate_limit_of(&json!({"amount": 1000, "period": 60_000_000_000_i64})),
            Ok("1000/1m0s".into())
        );
        assert_eq!(
            rate_limit_of(&json!({"amount": 2.9, "period": "1s"})),
            Ok("2/1s".into())
        );
        assert!(rate_limit_of(&json!({"amount": "x", "period": 1})).is_err());
    }

    #[test]
    fn sizes_must_be_positive() {
        assert_eq!(
            check_size(-1, "Max").map_err(|e| e.0),
            Err("Max size cannot be negative".into())
        );
        assert_eq!(
            check_size(0, "Warn").map_err(|e| e.0),
            Err("Warn size required".into())
        );
        assert!(check_size(1, "Max").is_ok());
    }
}
