//! `ctlstore relay` (ours): the fan-out tier between the executive and many hosts.

use clap::Args;

use super::{CommonFlags, FlagError, TlsClientFlags, TlsServerFlags, tls_flag_error};

#[derive(Args, Debug)]
pub struct RelayArgs {
    /// The executive (or relay) whose ledger feed to follow; several, comma-separated, are
    /// tried in turn.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Address to serve the feed on (reflectors use it as their -executive-url).
    #[arg(long, default_value = "127.0.0.1:3001")]
    pub bind: String,
    /// Ledger entries kept in memory; followers further behind are redirected upstream.
    #[arg(long, default_value_t = ctlstore_relay::DEFAULT_WINDOW)]
    pub window: usize,
    /// Newest entries loaded before serving (so hosts moving from another relay find theirs).
    #[arg(long, default_value_t = ctlstore_relay::DEFAULT_PRELOAD)]
    pub preload: usize,
    #[command(flatten)]
    pub tls: TlsServerFlags,
    #[command(flatten)]
    pub tls_client: TlsClientFlags,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl RelayArgs {
    pub fn config(&self) -> Result<ctlstore_relay::Config, FlagError> {
        if ctlstore_schema::executive_base_urls(&self.upstream).is_empty() {
            return Err(FlagError::new("upstream", "give the executive's URL"));
        }
        if self.window == 0 {
            return Err(FlagError::new("window", "must be at least 1"));
        }
        let mut config = ctlstore_relay::Config::new(self.upstream.clone());
        config.window = self.window;
        config.preload = self.preload.min(self.window);
        config.server_tls = self.tls.load().map_err(tls_flag_error)?;
        config.tls = self.tls_client.load().map_err(tls_flag_error)?;
        Ok(config)
    }
}
