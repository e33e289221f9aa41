//! `ctlstore all-in-one`: the whole system on one machine.

use clap::Args;

use super::{CommonFlags, FlagError, positive};
use crate::goflags::GoDuration;

#[derive(Args, Debug)]
pub struct AllInOneArgs {
    /// Where the embedded ctldb (ctldb.db) and the LDB (ldb.db) live.
    #[arg(long, default_value = "ctlstore-data")]
    pub data_dir: std::path::PathBuf,
    /// The executive's address (writes, the ledger feed).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub bind: String,
    /// The sidecar's address (reads).
    #[arg(long, default_value = "127.0.0.1:1331")]
    pub sidecar_bind: String,
    /// The reflector's health and metrics address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub metrics_bind: String,
    /// How often the heartbeat row is written (Go duration).
    #[arg(long, default_value = "5s")]
    pub heartbeat_interval: GoDuration,
    /// How often the supervisor publishes a snapshot to `<data-dir>/snapshots` (Go duration).
    #[arg(long, default_value = "1m")]
    pub snapshot_interval: GoDuration,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl AllInOneArgs {
    pub fn heartbeat_interval(&self) -> Result<std::time::Duration, FlagError> {
        positive("heartbeat-interval", self.heartbeat_interval)
    }

    pub fn snapshot_interval(&self) -> Result<std::time::Duration, FlagError> {
        positive("snapshot-interval", self.snapshot_interval)
    }
}
