//! `ctlstore ldb-read-key`.

use clap::Args;

use super::ldb_path_or_default;

#[derive(Args, Debug)]
pub struct LdbReadKeyArgs {
    /// The LDB to read (default: $CTLSTORE_PATH/ldb.db, else /var/spool/ctlstore/ldb.db).
    #[arg(long, default_value = "")]
    pub ldb_path: String,
    #[arg(long)]
    pub family: String,
    #[arg(long)]
    pub table: String,
    /// The key as a JSON array: strings, numbers, and {"binary": "<base64>"} for bytes (the
    /// sidecar's key rules: see docs/reader.md).
    #[arg(long)]
    pub key_json: String,
}

impl LdbReadKeyArgs {
    pub fn ldb_path(&self) -> std::path::PathBuf {
        ldb_path_or_default(&self.ldb_path)
    }
}
