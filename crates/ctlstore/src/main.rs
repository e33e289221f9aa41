//! `ctlstore`: one binary, one subcommand per service. This file declares the subcommands and
//! dispatches; flags live in `flags/`, the command-line conventions in `goflags.rs` and
//! `nested.rs`, running a service in `services.rs`, the whole system in one process in
//! `all_in_one.rs`. Every behaviour lives in a library crate.

mod all_in_one;
mod check_args;
mod config_file;
mod feed_commands;
mod flags;
mod goflags;
mod nested;
mod services;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ctlstore",
    version,
    about = "A distributed control-data store, compatible with Segment's ctlstore."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// A TOML file of flag values for the service (keys are its long flag names; a
    /// `[service]` table applies to that service only). Precedence: flags, then environment,
    /// then this file, then defaults. Unknown keys are an error.
    #[arg(long, global = true, env = "CTLSTORE_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Log lines as text (ANSI colour only on a terminal) or as JSON objects, for log shippers.
    #[arg(long, global = true, env = "CTLSTORE_LOG_FORMAT", value_enum, default_value_t = services::LogFormat::Text)]
    log_format: services::LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version.
    Version,
    /// Print ctlstore's ctldb schema for MySQL (what the ctldb migration creates).
    CtldbSchema,
    /// Create or upgrade a ctldb's schema and exit.
    CtldbInit {
        /// The ctldb: sqlite:PATH (default), mysql://..., postgres://... or a Go MySQL DSN.
        #[arg(long, default_value = "sqlite:ctldb.db")]
        ctldb: String,
    },
    /// Run the executive: the write API and the ledger feed.
    Executive(Box<flags::ExecutiveArgs>),
    /// Run a reflector: follow the ledger into this host's LDB.
    Reflector(Box<flags::ReflectorArgs>),
    /// Run one reflector per LDB copy (ctlstore's multi-reflector).
    MultiReflector(Box<flags::MultiReflectorArgs>),
    /// Serve ctlstore's HTTP read API over this host's LDB.
    Sidecar(Box<flags::SidecarArgs>),
    /// Relay the ledger feed to many hosts: follow an executive (or relay), serve the same feed
    /// from memory (the fan-out tier, docs/relay.md).
    Relay(Box<flags::RelayArgs>),
    /// Read one row from an LDB and print it as JSON (exit status 1 when there is none).
    LdbReadKey(flags::LdbReadKeyArgs),
    /// Run a private reflector and publish snapshots of its LDB every interval.
    Supervisor(Box<flags::SupervisorArgs>),
    /// Write a heartbeat row through the executive on a timer.
    Heartbeat(Box<flags::HeartbeatArgs>),
    /// Load changes from PostgreSQL, Kafka, NATS JetStream or a file into ctlstore, exactly
    /// once (docs/loader.md).
    Loader(Box<flags::LoaderArgs>),
    /// Print this host's changes to a table as JSON lines, from the LDB's change feed.
    Watch(feed_commands::WatchArgs),
    /// Run commands when rows change (replds-style triggers directory).
    Triggers(feed_commands::TriggersArgs),
    /// Keep a directory equal to a table's rows: one file per row (docs/files.md).
    Materialize(Box<flags::MaterializeArgs>),
    /// Upload a local directory as rows, one per file (docs/files.md).
    Store(Box<flags::StoreArgs>),
    /// Everything on one machine: executive (embedded SQLite ctldb), reflector, sidecar,
    /// supervisor and heartbeat. For a laptop, a demo or a single host. Short name: `up`.
    #[command(visible_alias = "up")]
    AllInOne(flags::AllInOneArgs),
    /// The operator's commands (`family`, `table`, `writer`, `limits`, `mutate`, `get`,
    /// `ledger`, `status`), from `ctlstore-admin`.
    #[command(flatten)]
    Admin(ctlstore_admin::Command),
    /// Print a shell completion script for the whole `ctlstore` command.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write man pages for `ctlstore` and every subcommand into DIR.
    Man {
        /// The directory to write `ctlstore.1`, `ctlstore-table-create.1`, ... into.
        dir: std::path::PathBuf,
    },
}

/// Parses a command line in either spelling (ctlstore's `-flag value` or `--flag value`),
/// with every flag's `CTLSTORE_*` variable.
/// `--config FILE` supplies defaults (see `config_file.rs`).
fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, clap::Error> {
    let args = goflags::normalise(args);
    let command = config_file::apply(goflags::with_env_vars(Cli::command()), &args)
        .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n")))?;
    let matches = command.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn main() -> anyhow::Result<()> {
    let cli = parse(std::env::args()).unwrap_or_else(|e| e.exit());
    // Packaging tests check command lines with this (check_args.rs); nothing starts.
    if check_args::requested() {
        return check_args::run(&cli.command, cli.config.as_deref());
    }
    services::set_log_format(cli.log_format);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async { services::listen_for_signals() });
    match cli.command {
        Command::Version => println!("ctlstore {}", env!("CARGO_PKG_VERSION")),
        Command::CtldbSchema => print!("{}", ctlstore_ctldb::mysql_schema()),
        Command::CtldbInit { ctldb } => {
            services::init_tracing(false);
            runtime.block_on(services::ctldb_init(&ctldb))?;
        }
        Command::Executive(args) => {
            services::init_tracing(args.common.debug);
            args.common.ignored.log();
            let config = args.config()?;
            runtime.block_on(services::executive(&args.bind, config))?;
        }
        Command::Relay(args) => {
            services::init_tracing(args.common.debug);
            args.common.ignored.log();
            let config = args.config()?;
            runtime.block_on(services::relay(&args.bind, config))?;
        }
        Command::Reflector(args) => {
            services::init_tracing(args.common.debug);
            args.log_ignored();
            let config = args.config()?;
            let metrics_tls = args.metrics_tls()?;
            runtime.block_on(services::reflector(config, &args.metrics_bind, metrics_tls))?;
        }
        Command::MultiReflector(args) => {
            services::init_tracing(args.reflector.common.debug);
            args.reflector.log_ignored();
            let configs = args.configs()?;
            let metrics_tls = args.reflector.metrics_tls()?;
            runtime.block_on(services::multi_reflector(
                configs,
                &args.reflector.metrics_bind,
                metrics_tls,
            ))?;
        }
        Command::Sidecar(args) => {
            services::init_tracing(args.common.debug);
            args.common.ignored.log();
            runtime.block_on(services::sidecar(
                &args.bind_addr,
                &args.ldb_path(),
                args.config()?,
                services::shutdown_signal(),
            ))?;
        }
        Command::LdbReadKey(args) => return services::ldb_read_key(&args),
        Command::Supervisor(args) => {
            services::init_tracing(args.debug());
            args.log_ignored();
            let config = args.config()?;
            let metrics_bind = &args.reflector.inner.metrics_bind;
            let metrics_tls = args.reflector.inner.metrics_tls()?;
            runtime.block_on(services::supervisor(config, metrics_bind, metrics_tls))?;
        }
        Command::Heartbeat(args) => {
            services::init_tracing(args.common.debug);
            args.common.ignored.log();
            let config = args.config()?;
            runtime.block_on(ctlstore_heartbeat::run(config, services::shutdown_signal()))?;
        }
        Command::Loader(args) => {
            services::init_tracing(args.common.debug);
            args.common.ignored.log();
            let config = args.config(cli.config.as_deref())?;
            runtime.block_on(ctlstore_loader::run(config, services::shutdown_signal()))?;
        }
        Command::Watch(args) => {
            services::init_tracing(false);
            feed_commands::watch(&args, &runtime)?;
        }
        Command::Triggers(args) => {
            services::init_tracing(false);
            runtime.block_on(feed_commands::triggers(&args, services::shutdown_signal()))?;
        }
        Command::Materialize(args) => {
            services::init_tracing(false);
            let (options, source) = args.config()?;
            if args.once {
                let rows = runtime.block_on(source.rows(&options))?;
                let outcome =
                    ctlstore_files::materialize::reconcile(&options.dir, &rows, options.mode)?;
                println!(
                    "{}",
                    serde_json::json!({"written": outcome.written, "removed": outcome.removed, "unchanged": outcome.unchanged, "refused": outcome.refused})
                );
            } else if let Some(triggers) = &args.triggers_dir {
                runtime.block_on(ctlstore_files::materialize::run_with_triggers(
                    &options,
                    &source,
                    args.poll_interval.0,
                    triggers,
                    services::shutdown_signal(),
                ))?;
            } else {
                runtime.block_on(ctlstore_files::materialize::run(
                    &options,
                    &source,
                    args.poll_interval.0,
                    services::shutdown_signal(),
                    |_| {},
                ))?;
            }
        }
        Command::Store(args) => {
            services::init_tracing(false);
            let (url, token, writer, secret, options) = args.config()?;
            let client = ctlstore_client::Client::new(&url)?.with_admin_token(token);
            let writer = ctlstore_client::WriterCredentials::new(writer, secret);
            let stored = runtime.block_on(async {
                client.register_writer(&writer).await?;
                Ok::<_, anyhow::Error>(
                    ctlstore_files::store::store(&client, &writer, &options).await?,
                )
            })?;
            println!(
                "{}",
                serde_json::json!({"upserted": stored.upserted, "deleted": stored.deleted})
            );
        }
        Command::AllInOne(args) => {
            services::init_tracing(args.common.debug);
            runtime.block_on(all_in_one::run(&args))?;
        }
        Command::Admin(command) => {
            let status = runtime.block_on(ctlstore_admin::run(command));
            drop(runtime);
            std::process::exit(status);
        }
        Command::Completions { shell } => {
            let mut command = goflags::with_env_vars(Cli::command());
            // Into a buffer first: clap_complete panics on a write error (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "ctlstore", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
        }
        Command::Man { dir } => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(goflags::with_env_vars(Cli::command()), &dir)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
