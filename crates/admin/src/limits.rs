//! `ctlstore limits table|writer get|set|delete`, mirroring the executive's `/limits` routes:
//! table size limits (`--max-size`, `--warn-size`, bytes or `100MiB`) and writer rate limits
//! (`--amount` rows per `--period`, a Go duration). `get` without a name shows the default and
//! every override; with one, that table's or writer's effective limit and where it comes from.

use std::time::Duration;

use clap::{Args, Subcommand};
use ctlstore_client::{Client, RateLimit, SizeLimit};
use serde_json::json;

use crate::output::{Output, aligned, bytes};
use crate::target::{Size, TableRef};
use crate::{AdminError, Common};

#[derive(Debug, Args)]
pub struct LimitsArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    kind: LimitsKind,
}

#[derive(Debug, Subcommand)]
enum LimitsKind {
    /// Table size limits.
    Table {
        #[command(subcommand)]
        verb: TableLimitVerb,
    },
    /// Writer rate limits.
    Writer {
        #[command(subcommand)]
        verb: WriterLimitVerb,
    },
}

#[derive(Debug, Subcommand)]
enum TableLimitVerb {
    /// Show the default and every table's own limit, or one table's effective limit.
    Get {
        /// FAMILY.TABLE
        table: Option<TableRef>,
    },
    /// Give a table its own limit.
    Set {
        /// FAMILY.TABLE
        table: TableRef,
        /// Writes are refused (507) once the table is larger than this (bytes, or 100MiB).
        #[arg(long, value_name = "SIZE")]
        max_size: Size,
        /// The size reported as a warning (bytes, or 50MiB); at most --max-size.
        #[arg(long, value_name = "SIZE")]
        warn_size: Size,
    },
    /// Remove a table's own limit (the default applies again).
    Delete {
        /// FAMILY.TABLE
        table: TableRef,
    },
}

#[derive(Debug, Subcommand)]
enum WriterLimitVerb {
    /// Show the default and every writer's own limit, or one writer's effective limit.
    Get {
        /// The writer's name.
        writer: Option<String>,
    },
    /// Give a writer its own rate limit.
    Set {
        /// The writer's name.
        writer: String,
        /// Rows the writer may write per period.
        #[arg(long)]
        amount: i64,
        /// The period, a Go duration (1m, 30s, 1h).
        #[arg(long, default_value = "1m", value_parser = go_duration)]
        period: Duration,
    },
    /// Remove a writer's own limit (the default applies again).
    Delete {
        /// The writer's name.
        writer: String,
    },
}

fn go_duration(text: &str) -> Result<Duration, String> {
    ctlstore_duration::parse(text).map_err(|e| e.to_string())
}

pub async fn run(args: LimitsArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let out = args.common.output();
    match args.kind {
        LimitsKind::Table { verb } => table(&client, out, verb).await,
        LimitsKind::Writer { verb } => writer(&client, out, verb).await,
    }
}

fn size_row(name: String, limit: &SizeLimit) -> Vec<String> {
    vec![name, bytes(limit.max_size), bytes(limit.warn_size)]
}

async fn table(client: &Client, out: Output, verb: TableLimitVerb) -> Result<(), AdminError> {
    match verb {
        TableLimitVerb::Get { table: None } => {
            let limits = client.table_limits().await?;
            out.result(&serde_json::to_value(&limits).unwrap_or_default(), || {
                let mut rows = vec![size_row("(default)".into(), &limits.global)];
                rows.extend(
                    limits
                        .tables
                        .iter()
                        .map(|t| size_row(format!("{}.{}", t.family, t.table), &t.limit)),
                );
                aligned(&["TABLE", "MAX-SIZE", "WARN-SIZE"], &rows)
            });
        }
        TableLimitVerb::Get { table: Some(table) } => {
            let limits = client.table_limits().await?;
            let own = limits
                .tables
                .iter()
                .find(|t| t.family == table.family && t.table == table.table);
            let limit = own.map(|t| t.limit).unwrap_or(limits.global);
            let json = json!({
                "family": table.family,
                "table": table.table,
                "max-size": limit.max_size,
                "warn-size": limit.warn_size,
                "default": own.is_none(),
            });
            out.result(&json, || {
                let name = if own.is_some() {
                    table.to_string()
                } else {
                    format!("{table} (default)")
                };
                aligned(
                    &["TABLE", "MAX-SIZE", "WARN-SIZE"],
                    &[size_row(name, &limit)],
                )
            });
        }
        TableLimitVerb::Set {
            table,
            max_size,
            warn_size,
        } => {
            let limit = SizeLimit {
                max_size: max_size.0,
                warn_size: warn_size.0,
            };
            client
                .set_table_limit(&table.family, &table.table, limit)
                .await?;
            let json = json!({"family": table.family, "table": table.table,
                "max-size": limit.max_size, "warn-size": limit.warn_size});
            out.result(&json, || {
                format!(
                    "table {table}: max {} warn {}",
                    bytes(limit.max_size),
                    bytes(limit.warn_size)
                )
            });
        }
        TableLimitVerb::Delete { table } => {
            client
                .delete_table_limit(&table.family, &table.table)
                .await?;
            let json = json!({"family": table.family, "table": table.table, "deleted": true});
            out.result(&json, || {
                format!("table {table}: back to the default limit")
            });
        }
    }
    Ok(())
}

fn rate(limit: &RateLimit) -> String {
    format!(
        "{}/{}",
        limit.amount,
        ctlstore_duration::format(limit.period())
    )
}

async fn writer(client: &Client, out: Output, verb: WriterLimitVerb) -> Result<(), AdminError> {
    match verb {
        WriterLimitVerb::Get { writer: None } => {
            let limits = client.writer_limits().await?;
            out.result(&serde_json::to_value(&limits).unwrap_or_default(), || {
                let mut rows = vec![vec!["(default)".to_string(), rate(&limits.global)]];
                rows.extend(
                    limits
                        .writers
                        .iter()
                        .map(|w| vec![w.writer.clone(), rate(&w.rate_limit)]),
                );
                aligned(&["WRITER", "RATE"], &rows)
            });
        }
        WriterLimitVerb::Get {
            writer: Some(writer),
        } => {
            let limits = client.writer_limits().await?;
            let own = limits.writers.iter().find(|w| w.writer == writer);
            let limit = own.map(|w| w.rate_limit).unwrap_or(limits.global);
            let json = json!({
                "writer": writer,
                "rate-limit": limit,
                "default": own.is_none(),
            });
            out.result(&json, || {
                let name = if own.is_some() {
                    writer.clone()
                } else {
                    format!("{writer} (default)")
                };
                aligned(&["WRITER", "RATE"], &[vec![name, rate(&limit)]])
            });
        }
        WriterLimitVerb::Set {
            writer,
            amount,
            period,
        } => {
            client.set_writer_limit(&writer, amount, period).await?;
            let nanos = i64::try_from(period.as_nanos()).unwrap_or(i64::MAX);
            let json = json!({"writer": writer, "rate-limit": {"amount": amount, "period": nanos}});
            out.result(&json, || {
                format!(
                    "writer {writer}: {amount} rows per {}",
                    ctlstore_duration::format(period)
                )
            });
        }
        WriterLimitVerb::Delete { writer } => {
            client.delete_writer_limit(&writer).await?;
            let json = json!({"writer": writer, "deleted": true});
            out.result(&json, || {
                format!("writer {writer}: back to the default limit")
            });
        }
    }
    Ok(())
}
