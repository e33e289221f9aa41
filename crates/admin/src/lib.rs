//! The operator's CLI, `ctlstore <noun> <verb>`: the clap [`Command`] enum (flattened into the
//! `ctlstore` binary's subcommands) and [`run`]. Families, tables, writers and limits are thin
//! calls through `ctlstore-client`; `mutate` loads a JSON-lines or CSV file in batches that
//! resume exactly once after a crash (`mutate.rs`, `resume.rs`); `get` reads a row from an LDB,
//! a sidecar or the executive; `ledger` and `status` show where the ledger and this host are.
//!
//! Output: a table for people, or with `--json` one JSON document (JSON lines for streams:
//! `ledger tail`, `get --prefix`); see `output.rs`. Errors go to stderr as `error: <message>`
//! (the executive's own message when it refused) and the exit status is 1 (130 after Ctrl-C).
//!
//! Architecture invariant: talks to the executive and sidecars over HTTP only and reads LDBs
//! only through `reader`; never opens a ctldb.

mod error;
mod family;
mod get;
mod input;
mod ledger;
mod limits;
mod mutate;
mod output;
mod resume;
mod status;
mod table;
mod target;
mod writer;

use clap::{Args, Subcommand};

pub use error::AdminError;

/// The default executive URL (an all-in-one or a local executive).
pub const DEFAULT_EXECUTIVE_URL: &str = "http://127.0.0.1:3000";

/// The operator's nouns; each has its verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Families: create, list.
    Family(family::FamilyArgs),
    /// Tables: create, describe, list, add-fields, drop, clear.
    Table(table::TableArgs),
    /// Writers: add (the secret from a variable or a prompt), list, remove.
    Writer(writer::WriterArgs),
    /// Table size limits and writer rate limits: get, set, delete.
    Limits(limits::LimitsArgs),
    /// Load rows from a JSON-lines or CSV file, in batches, exactly once across crashes.
    Mutate(Box<mutate::MutateArgs>),
    /// Read rows by key from an LDB, a sidecar or the executive.
    Get(get::GetArgs),
    /// The ledger: tail it (optionally following), or show its head.
    Ledger(ledger::LedgerArgs),
    /// The executive, its ctldb and, given --ldb or --sidecar, this host, in one view.
    Status(status::StatusArgs),
}

/// Flags every noun takes (global: they may come after the verb too).
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The executive's URL (`http://` is added when the scheme is missing).
    #[arg(
        long,
        global = true,
        env = "CTLSTORE_EXECUTIVE_URL",
        default_value = DEFAULT_EXECUTIVE_URL,
        value_name = "URL"
    )]
    pub executive_url: String,
    /// The executive's admin token, sent as `Authorization: Bearer ...` (needed for schema,
    /// limit, writer and read routes when the executive has one).
    #[arg(
        long,
        global = true,
        env = "CTLSTORE_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
    /// Print JSON for scripts (one document; JSON lines for streams) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub tls: ctlstore_tls::TlsClientFlags,
}

impl Common {
    /// TLS for the executive and sidecars these flags name.
    pub(crate) fn tls(&self) -> Result<ctlstore_tls::ClientTls, AdminError> {
        self.tls
            .load()
            .map_err(|e| AdminError::Usage(e.to_string()))
    }

    /// A reqwest client for a sidecar, with these flags' TLS.
    pub(crate) fn sidecar_http(&self) -> Result<reqwest::Client, AdminError> {
        self.tls()?
            .apply(reqwest::Client::builder().timeout(ctlstore_client::DEFAULT_TIMEOUT))
            .build()
            .map_err(|e| AdminError::Usage(format!("an HTTP client: {e}")))
    }

    /// A client for the executive these flags name.
    pub(crate) fn client(&self) -> Result<ctlstore_client::Client, AdminError> {
        let tls = self.tls()?;
        Ok(ctlstore_client::Client::with_tls(
            &self.executive_url,
            ctlstore_client::DEFAULT_TIMEOUT,
            &tls,
        )?
        .with_admin_token(self.admin_token.clone()))
    }

    pub(crate) fn output(&self) -> output::Output {
        output::Output::new(self.json)
    }
}

/// Runs one operator command: prints its result on stdout, or its error on stderr. Returns the
/// process exit status: 0, 1 on any error, 130 when interrupted (Ctrl-C or SIGTERM; a `mutate`
/// stopped so resumes from its cookie).
pub async fn run(command: Command) -> i32 {
    let result = tokio::select! {
        result = dispatch(command) => result,
        () = interrupted() => Err(AdminError::Interrupted),
    };
    output::flush();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_status()
        }
    }
}

async fn dispatch(command: Command) -> Result<(), AdminError> {
    match command {
        Command::Family(args) => family::run(args).await,
        Command::Table(args) => table::run(args).await,
        Command::Writer(args) => writer::run(args).await,
        Command::Limits(args) => limits::run(args).await,
        Command::Mutate(args) => mutate::run(*args).await,
        Command::Get(args) => get::run(args).await,
        Command::Ledger(args) => ledger::run(args).await,
        Command::Status(args) => status::run(args).await,
    }
}

/// Completes on Ctrl-C or SIGTERM. The `ctlstore` binary installs its own handlers before any
/// command runs, which replaces the default "die on signal", so an operator command must stop
/// itself.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No way to hear a signal: never complete, so the command runs to its end.
        std::future::pending::<()>().await;
    }
}
