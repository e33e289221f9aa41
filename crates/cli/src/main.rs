//! `ctlstore-cli`: a drop-in for ctlstore's command-line tool. Schema and limit verbs talk to
//! the executive over HTTP; `read-keys` and `read-seq` read a local LDB with the reader library.
//!
//! This file only parses the command line and wires the verbs together. A verb returns what to
//! print on stdout, or a [`Failure`] whose message goes to stderr with exit status 1 (usage
//! errors exit 1 too, as with ctlstore-cli's argument parser). See `docs/cli.md`.

mod args;
mod executive;
mod ldb;
mod limits;
mod output;
mod schema;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, TableLimits, Verb, WriterLimits};
use executive::Executive;

/// Why a verb failed: the message ctlstore-cli prints on stderr before exiting with status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let outcome = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli.verb)),
        Err(e) => Err(Failure(format!("could not start: {e}"))),
    };
    match outcome {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run(verb: Verb) -> Result<String, Failure> {
    match verb {
        Verb::CreateFamily { executive, family } => {
            schema::create_family(&Executive::connect(&executive)?, &family).await
        }
        Verb::CreateTable {
            executive,
            family,
            fields,
            key_fields,
            table,
        } => {
            let executive = Executive::connect(&executive)?;
            schema::create_table(&executive, &family.name, &fields.specs, &key_fields, &table).await
        }
        Verb::AddFields {
            executive,
            family,
            table,
            fields,
        } => {
            let executive = Executive::connect(&executive)?;
            schema::add_fields(&executive, &family.name, &table.name, &fields.specs).await
        }
        Verb::TableLimits(action) => table_limits(action).await,
        Verb::WriterLimits(action) => writer_limits(action).await,
        Verb::ReadKeys {
            quiet,
            ldb,
            family,
            table,
            keys,
        } => ldb::read_keys(&ldb.path, &family.name, &table.name, quiet, &keys),
        Verb::ReadSeq { ldb } => ldb::read_seq(&ldb.path),
    }
}

async fn table_limits(action: TableLimits) -> Result<String, Failure> {
    match action {
        TableLimits::Read { executive } => {
            limits::read_table_limits(&Executive::connect(&executive)?).await
        }
        TableLimits::Update {
            executive,
            family,
            table,
            max_size,
            warn_size,
        } => {
            let executive = Executive::connect(&executive)?;
            limits::update_table_limit(&executive, &family.name, &table.name, max_size, warn_size)
                .await
        }
        TableLimits::Delete {
            executive,
            family,
            table,
        } => {
            let executive = Executive::connect(&executive)?;
            limits::delete_table_limit(&executive, &family.name, &table.name).await
        }
    }
}

async fn writer_limits(action: WriterLimits) -> Result<String, Failure> {
    match action {
        WriterLimits::Read { executive } => {
            limits::read_writer_limits(&Executive::connect(&executive)?).await
        }
        WriterLimits::Update {
            executive,
            writer,
            rows_per_minute,
        } => {
            let executive = Executive::connect(&executive)?;
            limits::update_writer_limit(&executive, &writer.name, rows_per_minute).await
        }
        WriterLimits::Delete { executive, writer } => {
            limits::delete_writer_limit(&Executive::connect(&executive)?, &writer.name).await
        }
    }
}
