//! `ctlstore heartbeat`.

use clap::Args;

use super::{CommonFlags, FlagError, TlsClientFlags, http_urls, positive, tls_flag_error};
use crate::goflags::GoDuration;

/// Every default is the heartbeat library's own.
fn defaults() -> ctlstore_heartbeat::Config {
    ctlstore_heartbeat::Config::default()
}

#[derive(Args, Debug)]
pub struct HeartbeatArgs {
    #[arg(long, default_value_t = defaults().executive_url)]
    pub executive_url: String,
    #[arg(long, default_value_t = defaults().family)]
    pub family_name: String,
    #[arg(long, default_value_t = defaults().table)]
    pub table_name: String,
    #[arg(long, default_value_t = defaults().writer)]
    pub writer_name: String,
    /// The heartbeat writer's secret (required).
    #[arg(long, default_value = "")]
    pub writer_secret: String,
    #[arg(long, default_value_t = GoDuration(defaults().interval))]
    pub heartbeat_interval: GoDuration,
    #[command(flatten)]
    pub tls_client: TlsClientFlags,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl HeartbeatArgs {
    pub fn config(&self) -> Result<ctlstore_heartbeat::Config, FlagError> {
        if self.writer_secret.is_empty() {
            return Err(FlagError::new("writer-secret", "is required"));
        }
        Ok(ctlstore_heartbeat::Config {
            executive_url: http_urls("executive-url", &self.executive_url)?,
            family: self.family_name.clone(),
            table: self.table_name.clone(),
            writer: self.writer_name.clone(),
            secret: self.writer_secret.clone(),
            interval: positive("heartbeat-interval", self.heartbeat_interval)?,
            tls: self.tls_client.load().map_err(tls_flag_error)?,
        })
    }
}
