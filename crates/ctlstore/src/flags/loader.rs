//! `ctlstore loader`: change data capture into ctlstore (docs/loader.md).

use std::net::SocketAddr;

use clap::Args;

use super::{
    CommonFlags, FlagError, TlsClientFlags, TlsServerFlags, http_urls, positive, tls_flag_error,
};
use crate::goflags::{GoDuration, go_bool};

#[derive(Args, Debug)]
pub struct LoaderArgs {
    /// The executive to write through.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub executive_url: String,
    /// The writer the loader applies as (registered if it does not exist); its cookie holds
    /// the source position.
    #[arg(long, default_value = "")]
    pub writer_name: String,
    #[arg(long, default_value = "")]
    pub writer_secret: String,
    /// The executive's admin token, when it has one (creating tables and reading rows need it).
    #[arg(long)]
    pub admin_token: Option<String>,
    /// The family the source's tables land in (created if missing).
    #[arg(long, default_value = "")]
    pub family: String,
    /// postgres://user@host:port/db?publication=P&slot=S, kafka://host:port/TOPIC[,TOPIC]?group=G,
    /// nats://host:port/STREAM?subject=S&durable=D, file:PATH, or - for stdin.
    #[arg(long, default_value = "")]
    pub source: String,
    /// Rows per batch (ctlstore's per-request maximum is 100).
    #[arg(long, default_value_t = ctlstore_loader::DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
    /// How long a batch waits for more source transactions.
    #[arg(long, default_value_t = GoDuration(ctlstore_loader::DEFAULT_BATCH_WINDOW))]
    pub batch_window: GoDuration,
    /// Create tables from the source schema and add fields for new columns.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
    pub create_tables: bool,
    /// Where to serve /healthz, /status and /metrics (empty: nowhere).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub metrics_bind: String,
    /// TLS for --metrics-bind.
    #[command(flatten)]
    pub tls: TlsServerFlags,
    /// TLS to the executive.
    #[command(flatten)]
    pub tls_client: TlsClientFlags,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl LoaderArgs {
    /// The loader's configuration; `config_file` is the `--config` file, whose `[tables.*]`
    /// sections map source tables.
    pub fn config(
        &self,
        config_file: Option<&std::path::Path>,
    ) -> Result<ctlstore_loader::Config, FlagError> {
        let required = |flag: &str, value: &str| {
            if value.is_empty() {
                Err(FlagError::new(flag, "is required"))
            } else {
                Ok(value.to_string())
            }
        };
        let source = required("source", &self.source)?;
        let source =
            ctlstore_loader::SourceSpec::parse(&source).map_err(|e| FlagError::new("source", e))?;
        let family = required("family", &self.family)?;
        ctlstore_schema::FamilyName::new(&family)
            .map_err(|e| FlagError::new("family", e.to_string()))?;
        let writer_name = required("writer-name", &self.writer_name)?;
        ctlstore_schema::WriterName::new(&writer_name)
            .map_err(|e| FlagError::new("writer-name", e.to_string()))?;
        let writer_secret = required("writer-secret", &self.writer_secret)?;
        ctlstore_schema::WriterSecret::new(&writer_secret)
            .map_err(|e| FlagError::new("writer-secret", e.to_string()))?;
        if self.batch_rows == 0 || self.batch_rows > ctlstore_loader::DEFAULT_BATCH_ROWS {
            return Err(FlagError::new(
                "batch-rows",
                format!(
                    "must be between 1 and {} (the executive's per-request maximum)",
                    ctlstore_loader::DEFAULT_BATCH_ROWS
                ),
            ));
        }
        let metrics_bind = match self.metrics_bind.as_str() {
            "" => None,
            bind => Some(
                bind.parse::<SocketAddr>()
                    .map_err(|e| FlagError::new("metrics-bind", format!("'{bind}': {e}")))?,
            ),
        };
        let tables = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| FlagError::new("config", format!("{}: {e}", path.display())))?;
                ctlstore_loader::TableMap::from_toml(&text)
                    .map_err(|e| FlagError::new("config", format!("{}: {e}", path.display())))?
            }
            None => ctlstore_loader::TableMap::default(),
        };
        Ok(ctlstore_loader::Config {
            executive_url: http_urls("executive-url", &self.executive_url)?,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            writer_name,
            writer_secret,
            family,
            source,
            tables,
            batch_rows: self.batch_rows,
            batch_window: positive("batch-window", self.batch_window)?,
            create_tables: self.create_tables,
            metrics_bind,
            metrics_tls: self.tls.load().map_err(tls_flag_error)?,
            tls: self.tls_client.load().map_err(tls_flag_error)?,
        })
    }
}
