//! `ctlstore`: one binary, one subcommand per service. This file only parses arguments and
//! wires crates together; every behaviour lives in a library crate.

mod goflags;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ctlstore",
    version,
    about = "A distributed control-data store, compatible with Segment's ctlstore."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        #[arg(long, env = "CTLSTORE_CTLDB", default_value = "sqlite:ctldb.db")]
        ctldb: String,
    },
}

fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse_from(goflags::normalise(std::env::args()));
    match cli.command {
        Command::Version => println!("ctlstore {}", env!("CARGO_PKG_VERSION")),
        Command::CtldbSchema => print!("{}", ctlstore_ctldb::mysql_schema()),
        Command::CtldbInit { ctldb } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let db = ctlstore_ctldb::Ctldb::connect(&ctldb, Default::default()).await?;
                tracing::info!(dialect = %db.dialect(), "ctldb ready");
                db.close().await;
                anyhow::Ok(())
            })?;
        }
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
