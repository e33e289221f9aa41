//! `ctlstore mutate F.T --file PATH|- ...`: loads rows in batches, exactly once across crashes.
//!
//! 1. The table's schema is read (`GET /schema/table`) and the file hashed (its identity, see
//!    `resume.rs`).
//! 2. The writer's cookie is read. If it records a position in this same load, the load resumes
//!    after it; otherwise it starts at the first row (`--restart` always does).
//! 3. Every remaining row is checked against the schema first, so a file with a bad row writes
//!    nothing (`--dry-run` stops here, and needs no writer).
//! 4. Rows go out in batches of at most `--batch` (and under 1 MiB), each with `cookie` = the
//!    position after its last row and `check_cookie` = the cookie before it. The executive
//!    commits the rows and the cookie in one transaction, so the cookie always names exactly the
//!    rows applied, and a batch whose answer was lost is never applied twice: after an error
//!    without an answer, or a 409, the cookie is read to learn whether the batch landed.
//!    A 429 (rate limit) or 503 is waited out and the same batch retried.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use ctlstore_client::{Client, ClientError, Mutation, MutationBatch, WriterCredentials};
use ctlstore_schema::Table;
use serde_json::json;

use crate::input::{Format, InputFile, Rows};
use crate::resume::{LoadKind, Position, identity};
use crate::target::TableRef;
use crate::writer::secret_from_env;
use crate::{AdminError, Common};

/// The executive refuses bodies over 1 MiB; a batch stops short of it, with room to spare for
/// the cookies and the framing.
const MAX_BATCH_BYTES: usize = 900 * 1024;
/// Consecutive failures (other than rate limits, which are always waited out) before giving up.
const MAX_ATTEMPTS: u32 = 8;
/// How many invalid rows are listed.
const MAX_LISTED_ERRORS: usize = 20;

#[derive(Debug, Args)]
pub struct MutateArgs {
    #[command(flatten)]
    common: Common,
    /// FAMILY.TABLE
    table: TableRef,
    /// The input: a file, or `-` for standard input.
    #[arg(long, value_name = "PATH")]
    file: String,
    /// The input's format (default: csv for a `.csv` file, else jsonl).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Delete the rows whose keys the file holds, instead of upserting them.
    #[arg(long)]
    delete: bool,
    /// Rows per request, 1 to 100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=100))]
    batch: u16,
    /// The writer to write as.
    #[arg(long, value_name = "NAME", required_unless_present = "dry_run")]
    writer_name: Option<String>,
    /// The environment variable that holds the writer's secret.
    #[arg(long, value_name = "VAR", required_unless_present = "dry_run")]
    writer_secret_env: Option<String>,
    /// Check every row against the table's schema; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Start from the first row even if the writer's cookie says this load was done.
    #[arg(long)]
    restart: bool,
}

/// The result of checking rows against the schema.
struct Checked {
    rows: u64,
    invalid: u64,
    /// The first few invalid rows: (line, reason).
    errors: Vec<(u64, String)>,
}

pub async fn run(args: MutateArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let target = &args.table;
    let format = args.format.unwrap_or_else(|| Format::of_path(&args.file));
    let schema = client.table_schema(&target.family, &target.table).await?;
    let table = Table::from_wire(
        &schema.family,
        &schema.name,
        &schema.fields,
        &schema.key_fields,
    )
    .map_err(|e| AdminError::Usage(format!("the schema of {target} is not usable: {e}")))?;
    let input = InputFile::open(&args.file)?;
    let kind = LoadKind {
        family: &schema.family,
        table: &schema.name,
        delete: args.delete,
        format: format.name(),
    };
    let identity = identity(kind, &mut input.at(0)?)
        .map_err(|e| AdminError::io(format!("read {}", input.name), e))?;

    if args.dry_run {
        let checked = check(&input, format, &table, args.delete, None)?;
        return report_check(&args, &input, &checked);
    }
    let (Some(writer_name), Some(secret_var)) = (&args.writer_name, &args.writer_secret_env) else {
        return Err(AdminError::Usage(
            "--writer-name and --writer-secret-env are needed to write".into(),
        ));
    };
    let writer = WriterCredentials::new(
        writer_name,
        secret_from_env(secret_var, "--writer-secret-env")?,
    );
    let cookie = client.cookie(&writer).await?;
    let resumed = Position::decode(&cookie).filter(|p| p.identity == identity && !args.restart);
    let checked = check(
        &input,
        format,
        &table,
        args.delete,
        resumed.as_ref().map(|p| p.offset),
    )?;
    if checked.invalid > 0 {
        for (line, reason) in &checked.errors {
            eprintln!("{}: line {line}: {reason}", input.name);
        }
        return Err(AdminError::Usage(format!(
            "{} of {} rows are invalid; nothing was written",
            checked.invalid, checked.rows
        )));
    }
    let load = Load {
        client: &client,
        writer: &writer,
        family: &schema.family,
        table: &schema.name,
        identity,
        batch: usize::from(args.batch),
        delete: args.delete,
        progress: Progress::new(target, input.len, checked.rows),
    };
    let done = load
        .run(&input, format, &table, cookie, resumed.clone())
        .await?;
    report_load(&args, &input, format, &load, resumed.as_ref(), &done);
    Ok(())
}

/// Checks every row after `start` against the schema, as the executive will.
fn check(
    input: &InputFile,
    format: Format,
    table: &Table,
    delete: bool,
    start: Option<u64>,
) -> Result<Checked, AdminError> {
    let mut rows = Rows::open(input, format, table, start)?;
    let mut checked = Checked {
        rows: 0,
        invalid: 0,
        errors: Vec::new(),
    };
    loop {
        let row = match rows.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(checked),
            // A row that cannot be read (not JSON, a cell not of its column's type): the reader
            // has moved past it, so the check goes on and lists every bad row.
            Err(AdminError::Input { line, message, .. }) => {
                checked.rows += 1;
                checked.invalid += 1;
                if checked.errors.len() < MAX_LISTED_ERRORS {
                    checked.errors.push((line, message));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        checked.rows += 1;
        let result = if delete {
            table.delete_key(&row.values).map(drop)
        } else {
            table.upsert_row(&row.values).map(drop)
        };
        if let Err(e) = result {
            checked.invalid += 1;
            if checked.errors.len() < MAX_LISTED_ERRORS {
                checked.errors.push((row.line, e.to_string()));
            }
        }
    }
}

fn report_check(args: &MutateArgs, input: &InputFile, checked: &Checked) -> Result<(), AdminError> {
    let errors: Vec<serde_json::Value> = checked
        .errors
        .iter()
        .map(|(line, error)| json!({"line": line, "error": error}))
        .collect();
    let json = json!({
        "table": args.table.to_string(),
        "file": input.name,
        "dry_run": true,
        "rows": checked.rows,
        "invalid": checked.invalid,
        "errors": errors,
    });
    args.common.output().result(&json, || {
        let mut text = String::new();
        for (line, error) in &checked.errors {
            text.push_str(&format!("{}: line {line}: {error}\n", input.name));
        }
        text.push_str(&format!(
            "dry run: {} rows, {} invalid; nothing was written",
            checked.rows, checked.invalid
        ));
        text
    });
    if checked.invalid > 0 {
        return Err(AdminError::Usage(format!(
            "{} of {} rows are invalid",
            checked.invalid, checked.rows
        )));
    }
    Ok(())
}

/// One load in progress.
struct Load<'a> {
    client: &'a Client,
    writer: &'a WriterCredentials,
    family: &'a str,
    table: &'a str,
    identity: String,
    batch: usize,
    delete: bool,
    progress: Progress,
}

/// What a load did.
struct Done {
    rows: u64,
    batches: u64,
}

impl Load<'_> {
    async fn run(
        &self,
        input: &InputFile,
        format: Format,
        table: &Table,
        cookie: Vec<u8>,
        resumed: Option<Position>,
    ) -> Result<Done, AdminError> {
        let mut rows = Rows::open(input, format, table, resumed.as_ref().map(|p| p.offset))?;
        let mut cookie = cookie;
        let mut position = resumed.unwrap_or(Position {
            identity: self.identity.clone(),
            offset: 0,
            rows: 0,
        });
        let mut done = Done {
            rows: 0,
            batches: 0,
        };
        let mut pending: Vec<Mutation> = Vec::with_capacity(self.batch);
        let mut pending_bytes = 0usize;
        let mut pending_end = position.offset;
        loop {
            let row = rows.next_row()?;
            let mutation = row.as_ref().map(|r| Mutation {
                table: self.table.to_string(),
                delete: self.delete,
                values: r.values.clone(),
            });
            let size = match &mutation {
                Some(m) => serde_json::to_string(m).map(|s| s.len() + 1).unwrap_or(0),
                None => 0,
            };
            let full = pending.len() == self.batch || pending_bytes + size > MAX_BATCH_BYTES;
            if !pending.is_empty() && (mutation.is_none() || full) {
                position = Position {
                    identity: self.identity.clone(),
                    offset: pending_end,
                    rows: position.rows + pending.len() as u64,
                };
                let count = pending.len() as u64;
                cookie = self
                    .send(std::mem::take(&mut pending), &cookie, &position)
                    .await?;
                pending_bytes = 0;
                done.rows += count;
                done.batches += 1;
                self.progress.update(done.rows, position.offset);
            }
            let (Some(row), Some(mutation)) = (row, mutation) else {
                break;
            };
            pending.push(mutation);
            pending_bytes += size;
            pending_end = row.end;
        }
        self.progress.finish();
        Ok(done)
    }

    /// Sends one batch until it is known to be applied; returns the writer's new cookie.
    async fn send(
        &self,
        mutations: Vec<Mutation>,
        previous: &[u8],
        position: &Position,
    ) -> Result<Vec<u8>, AdminError> {
        let next = position.encode();
        let batch = MutationBatch {
            mutations,
            cookie: Some(next.clone()),
            // An empty cookie is stored as NULL by some writers' histories and would never
            // compare equal; such a batch goes without the check.
            check_cookie: (!previous.is_empty()).then(|| previous.to_vec()),
        };
        let body = batch.to_json()?;
        let mut failures = 0u32;
        loop {
            let error = match self
                .client
                .mutate_json(self.writer, self.family, body.clone())
                .await
            {
                Ok(()) => return Ok(next),
                Err(e) => e,
            };
            let conflict = error.status() == Some(409);
            if !conflict && !error.is_transient() {
                return Err(error.into());
            }
            // No answer, or the cookie was not the expected one: the cookie says whether this
            // batch is in (it is committed with the batch).
            match self.client.cookie(self.writer).await {
                Ok(now) if now == next => return Ok(next),
                Ok(now) if now == previous && !conflict => {}
                Ok(_) => {
                    return Err(AdminError::Conflict(format!(
                        "the cookie of writer {} changed during the load: another client writes \
                         as this writer ({} rows were applied; a re-run resumes after them)",
                        self.writer.name,
                        position.rows - batch.mutations.len() as u64
                    )));
                }
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e.into()),
            }
            let rate_limited = error.status() == Some(429);
            if !rate_limited {
                failures += 1;
                if failures >= MAX_ATTEMPTS {
                    return Err(error.into());
                }
            }
            let pause = pause_after(&error, failures);
            self.progress.note(&format!(
                "{}; retrying in {}",
                short(&error),
                ctlstore_duration::format(pause)
            ));
            tokio::time::sleep(pause).await;
        }
    }
}

/// How long to wait before retrying after `error`: the executive's `Retry-After`, else
/// exponential backoff from 500 ms, at most 10 s (a rate limit waits the longest).
fn pause_after(error: &ClientError, failures: u32) -> Duration {
    if let ClientError::Api {
        retry_after: Some(seconds),
        ..
    } = error
    {
        return Duration::from_secs((*seconds).clamp(1, 60));
    }
    if error.status() == Some(429) {
        return Duration::from_secs(5);
    }
    let millis = 500u64.saturating_mul(1 << failures.min(5));
    Duration::from_millis(millis.min(10_000))
}

fn short(error: &ClientError) -> String {
    match error {
        ClientError::Api {
            status: 429,
            message,
            ..
        } => format!("rate limited: {message}"),
        other => other.to_string(),
    }
}

fn report_load(
    args: &MutateArgs,
    input: &InputFile,
    format: Format,
    load: &Load<'_>,
    resumed: Option<&Position>,
    done: &Done,
) {
    let before = resumed.map(|p| p.rows).unwrap_or(0);
    let json = json!({
        "table": args.table.to_string(),
        "file": input.name,
        "format": format.name(),
        "delete": args.delete,
        "rows": done.rows,
        "batches": done.batches,
        "resumed": resumed.is_some(),
        "rows_before": before,
        "total_rows": before + done.rows,
        "identity": load.identity,
    });
    args.common.output().result(&json, || {
        let verb = if args.delete { "deleted" } else { "applied" };
        let mut text = if done.rows == 0 && resumed.is_some() {
            format!(
                "nothing to do: {} was already loaded into {} ({before} rows); --restart loads it again",
                input.name, args.table
            )
        } else {
            let batches = if done.batches == 1 { "batch" } else { "batches" };
            format!(
                "{verb} {} rows to {} in {} {batches}",
                done.rows, args.table, done.batches
            )
        };
        if resumed.is_some() && done.rows > 0 {
            text.push_str(&format!(
                " (resumed after {before} rows applied by an earlier run)"
            ));
        }
        text
    });
}

/// A progress line on stderr, only when stderr is a terminal.
struct Progress {
    enabled: bool,
    label: String,
    bytes: u64,
    rows: u64,
}

impl Progress {
    fn new(target: &TableRef, bytes: u64, rows: u64) -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            label: target.to_string(),
            bytes,
            rows,
        }
    }

    fn update(&self, rows: u64, offset: u64) {
        if !self.enabled {
            return;
        }
        let percent = offset
            .saturating_mul(100)
            .checked_div(self.bytes)
            .unwrap_or(100);
        eprint!(
            "\r{}: {rows}/{} rows, {percent}% of the file\x1b[K",
            self.label, self.rows
        );
    }

    fn note(&self, text: &str) {
        if self.enabled {
            eprint!("\r{}: {text}\x1b[K", self.label);
        } else {
            eprintln!("{}: {text}", self.label);
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_follow_the_answer() {
        let api = |status, retry_after| ClientError::Api {
            status,
            message: String::new(),
            field: None,
            retry_after,
        };
        assert_eq!(pause_after(&api(503, Some(1)), 1), Duration::from_secs(1));
        assert_eq!(pause_after(&api(429, None), 0), Duration::from_secs(5));
        assert_eq!(pause_after(&api(502, None), 1), Duration::from_secs(1));
        assert_eq!(pause_after(&api(502, None), 7), Duration::from_secs(10));
    }
}
