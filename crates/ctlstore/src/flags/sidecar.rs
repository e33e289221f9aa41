//! `ctlstore sidecar`.

use clap::Args;

use super::{CommonFlags, FlagError, TlsServerFlags, ldb_path_or_default, tls_flag_error};

#[derive(Args, Debug)]
pub struct SidecarArgs {
    /// Address to serve reads on.
    #[arg(long, default_value = "0.0.0.0:1331")]
    pub bind_addr: String,
    /// The LDB to read (default: $CTLSTORE_PATH/ldb.db, else /var/spool/ctlstore/ldb.db).
    #[arg(long, default_value = "")]
    pub ldb_path: String,
    /// Most rows a prefix read may return; more is answered with 416 (0: unlimited).
    #[arg(long, default_value_t = 0)]
    pub max_rows: usize,
    /// The application name, for logs.
    #[arg(long, default_value = "")]
    pub application: String,
    #[command(flatten)]
    pub tls: TlsServerFlags,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl SidecarArgs {
    pub fn ldb_path(&self) -> std::path::PathBuf {
        ldb_path_or_default(&self.ldb_path)
    }

    pub fn config(&self) -> Result<ctlstore_sidecar::Config, FlagError> {
        Ok(ctlstore_sidecar::Config {
            max_rows: self.max_rows,
            application: self.application.clone(),
            tls: self.tls.load().map_err(tls_flag_error)?,
        })
    }
}
