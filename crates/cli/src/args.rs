//! The command line: ctlstore-cli's verbs and flags, spelled as ctlstore spells them.
//!
//! Every long flag can also come from the environment as `CTLSTORE_CLI_<FLAG>` (upper snake
//! case), which is what segmentio/cli derives for a program named `ctlstore-cli`: the program
//! name, then the flag name. A flag given on the command line wins over the environment.

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};

/// ctlstore's executive host when none is given (`http://` is added).
pub const DEFAULT_EXECUTIVE: &str = "ctlstore-executive.segment.local";
/// ctlstore-cli's default table size limits (bytes).
pub const DEFAULT_MAX_SIZE: i64 = 104_857_600;
pub const DEFAULT_WARN_SIZE: i64 = 52_428_800;

#[derive(Debug, Parser)]
#[command(
    name = "ctlstore-cli",
    version,
    about = "Manage ctlstore families, tables and limits through the executive; read a local LDB."
)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create a new table family (`create-family foo`).
    CreateFamily {
        #[command(flatten)]
        executive: Executive,
        /// The family's name (exactly one).
        family: Vec<String>,
    },
    /// Create a new table (`create-table --family foo --field name:string --key-field name t`).
    CreateTable {
        #[command(flatten)]
        executive: Executive,
        #[command(flatten)]
        family: Family,
        #[command(flatten)]
        fields: Fields,
        /// A primary-key field, in key order (repeat the flag).
        #[arg(
            long = "key-field",
            value_name = "NAME",
            env = "CTLSTORE_CLI_KEY_FIELD"
        )]
        key_fields: Vec<String>,
        /// The table's name (the first argument; further ones are ignored, as in ctlstore).
        table: Vec<String>,
    },
    /// Add fields to an existing table (`add-fields --family foo --table bar --field n:string`).
    AddFields {
        #[command(flatten)]
        executive: Executive,
        #[command(flatten)]
        family: Family,
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        fields: Fields,
    },
    /// Read, update or delete table size limits.
    #[command(subcommand)]
    TableLimits(TableLimits),
    /// Read, update or delete writer rate limits.
    #[command(subcommand)]
    WriterLimits(WriterLimits),
    /// Read one row from a local LDB: `read-keys --family f --table t key1 key2 ...`.
    ///
    /// Keys are given in primary-key order; `0x<hex>` is a byte key. Prints the row as a
    /// COLUMN/VALUE table sorted by column name.
    ReadKeys {
        /// Print the rows without the header (`-q`, or `--quiet=true|false` as Go spells it).
        #[arg(
            short,
            long,
            env = "CTLSTORE_CLI_QUIET",
            action = ArgAction::Set,
            num_args = 0..=1,
            require_equals = true,
            default_value = "false",
            default_missing_value = "true",
            value_parser = BoolishValueParser::new()
        )]
        quiet: bool,
        #[command(flatten)]
        ldb: Ldb,
        #[command(flatten)]
        family: Family,
        #[command(flatten)]
        table: Table,
        /// The primary key's values, in key order.
        keys: Vec<String>,
    },
    /// Read the last ledger sequence applied to a local LDB.
    ReadSeq {
        #[command(flatten)]
        ldb: Ldb,
    },
}

#[derive(Debug, Subcommand)]
pub enum TableLimits {
    /// Read all table limits.
    Read {
        #[command(flatten)]
        executive: Executive,
    },
    /// Add or update a table limit.
    Update {
        #[command(flatten)]
        executive: Executive,
        #[command(flatten)]
        family: Family,
        #[command(flatten)]
        table: Table,
        /// The size (bytes) above which writes to the table are refused.
        #[arg(long, default_value_t = DEFAULT_MAX_SIZE, env = "CTLSTORE_CLI_MAX_SIZE")]
        max_size: i64,
        /// The size (bytes) above which the executive warns; at most --max-size.
        #[arg(long, default_value_t = DEFAULT_WARN_SIZE, env = "CTLSTORE_CLI_WARN_SIZE")]
        warn_size: i64,
    },
    /// Delete a table limit.
    Delete {
        #[command(flatten)]
        executive: Executive,
        #[command(flatten)]
        family: Family,
        #[command(flatten)]
        table: Table,
    },
}

#[derive(Debug, Subcommand)]
pub enum WriterLimits {
    /// Read all writer limits.
    Read {
        #[command(flatten)]
        executive: Executive,
    },
    /// Add or update a writer limit.
    Update {
        #[command(flatten)]
        executive: Executive,
        #[command(flatten)]
        writer: Writer,
        /// The writer's limit, in rows per minute.
        #[arg(long, env = "CTLSTORE_CLI_ROWS_PER_MINUTE")]
        rows_per_minute: i64,
    },
    /// Delete a writer limit.
    Delete {
        #[command(flatten)]
        executive: Executive,
        #[command(flatten)]
        writer: Writer,
    },
}

#[derive(Debug, Args)]
pub struct Executive {
    /// The executive's address (`http://` is added when missing).
    #[arg(
        short = 'e',
        id = "executive",
        long = "executive",
        value_name = "URL",
        env = "CTLSTORE_CLI_EXECUTIVE",
        default_value = DEFAULT_EXECUTIVE
    )]
    pub url: String,
    /// HTTPS to the executive (ours: `--tls-ca`, `--tls-client-cert`, `--tls-client-key`).
    #[command(flatten)]
    pub tls: ctlstore_tls::TlsClientFlags,
}

#[derive(Debug, Args)]
pub struct Family {
    /// The table family.
    #[arg(
        short = 'f',
        id = "family",
        long = "family",
        value_name = "FAMILY",
        env = "CTLSTORE_CLI_FAMILY"
    )]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct Table {
    /// The table.
    #[arg(
        short = 't',
        id = "table",
        long = "table",
        value_name = "TABLE",
        env = "CTLSTORE_CLI_TABLE"
    )]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct Fields {
    /// A field as `name:type` (repeat the flag).
    #[arg(
        id = "field",
        long = "field",
        value_name = "NAME:TYPE",
        env = "CTLSTORE_CLI_FIELD"
    )]
    pub specs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Writer {
    /// The writer (ctlstore-cli declares this flag but can never read it; here it works).
    #[arg(
        id = "writer",
        long = "writer",
        value_name = "WRITER",
        env = "CTLSTORE_CLI_WRITER"
    )]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct Ldb {
    /// The LDB file.
    #[arg(
        short = 'l',
        id = "ldb",
        long = "ldb",
        value_name = "PATH",
        env = "CTLSTORE_CLI_LDB",
        default_value = ctlstore_reader::DEFAULT_LDB_PATH
    )]
    pub path: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ctlstore_spellings_parse() {
        let cli = Cli::try_parse_from([
            "ctlstore-cli",
            "table-limits",
            "update",
            "-f",
            "fam",
            "-t",
            "tab",
            "--max-size=10",
            "--warn-size",
            "5",
            "-e",
            "localhost:1",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        let cli = Cli::try_parse_from([
            "ctlstore-cli",
            "read-keys",
            "-q",
            "--family",
            "f",
            "--table",
            "t",
            "-l",
            "x.db",
            "a",
            "0xff",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        for (flag, quiet) in [("-q", true), ("--quiet=true", true), ("-q=false", false)] {
            let cli = Cli::try_parse_from([
                "ctlstore-cli",
                "read-keys",
                flag,
                "-f",
                "fam",
                "-t",
                "tab",
                "key",
            ]);
            match cli.map(|c| c.verb) {
                Ok(Verb::ReadKeys { quiet: q, keys, .. }) => {
                    assert_eq!((q, keys), (quiet, vec!["key".to_string()]), "{flag}");
                }
                other => panic!("{flag}: {other:?}"),
            }
        }
    }
}
